//! The hits inbox of `callsift serve`: the watchlist and do-not-call hits of
//! the `hits` table, most severe and newest first, each with its "reviewed"
//! mark from `OUT/reviews.jsonl`.
//!
//! Marks are appended, one JSON line each (`O_APPEND`, one `write` per
//! line, as the audit log), never rewritten: the latest line for a hit wins,
//! so a mark survives restarts, and a crash mid-write loses at most that
//! mark (a torn last line is skipped with a warning). A mark names its hit by
//! [`hit_key`], which depends only on what the rule found where, so the same
//! hit found again by `rescore` keeps its mark.

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::HitRow;

/// Where the marks live under an output folder.
pub fn reviews_path(out_dir: &Path) -> PathBuf {
    out_dir.join("reviews.jsonl")
}

/// A hit's stable name: call, rule, segment and moment.
pub fn hit_key(hit: &HitRow) -> String {
    let seg = hit.seg_no.map_or("-".to_string(), |s| s.to_string());
    format!("{}:{}:{}:{}", hit.call_id, hit.rule, seg, hit.start_ms)
}

/// One line of `OUT/reviews.jsonl`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReviewMark {
    pub key: String,
    pub call_id: String,
    /// `true`: reviewed; `false`: the mark was taken back.
    pub reviewed: bool,
    pub user: String,
    pub at: jiff::Timestamp,
}

/// The latest mark of every hit that has one.
pub fn read_marks(out_dir: &Path) -> Result<HashMap<String, ReviewMark>> {
    let path = reviews_path(out_dir);
    let text = match fs_err::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(HashMap::new()),
        Err(e) => return Err(e.into()),
    };
    let mut marks = HashMap::new();
    for (no, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<ReviewMark>(line) {
            Ok(mark) => {
                marks.insert(mark.key.clone(), mark);
            }
            Err(e) => tracing::warn!("{}:{}: skipped: {e}", path.display(), no + 1),
        }
    }
    Ok(marks)
}

/// Appends a mark.
pub fn append_mark(out_dir: &Path, mark: &ReviewMark) -> Result<()> {
    let path = reviews_path(out_dir);
    let mut line = serde_json::to_vec(mark)
        .map_err(|e| Error::Other(format!("{}: cannot serialise mark: {e}", path.display())))?;
    line.push(b'\n');
    let mut file = crate::audit::open_append(&path)?;
    file.write_all(&line)?;
    file.sync_data()?;
    Ok(())
}

/// One hit in the inbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InboxItem {
    pub key: String,
    #[serde(flatten)]
    pub hit: HitRow,
    pub review: Option<ReviewMark>,
}

/// A page of the inbox.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Inbox {
    pub total: usize,
    pub unreviewed: usize,
    pub items: Vec<InboxItem>,
}

/// Which part of the inbox to show.
#[derive(Debug, Clone, Default)]
pub struct InboxRequest {
    /// Hide hits already reviewed.
    pub unreviewed_only: bool,
    pub offset: usize,
    pub limit: usize,
}

/// The inbox: every hit of the `hits` table with its mark, high severity
/// first, then the newest call, then by time in the call.
pub fn inbox(out_dir: &Path, req: &InboxRequest) -> Result<Inbox> {
    let hits = crate::tables::read_hits(out_dir)?;
    let marks = read_marks(out_dir)?;
    Ok(assemble(hits, &marks, req))
}

fn severity_rank(s: &str) -> u8 {
    match s {
        "high" => 0,
        "medium" => 1,
        "low" => 2,
        _ => 3,
    }
}

/// The inbox from rows and marks (pure).
pub fn assemble(
    mut hits: Vec<HitRow>,
    marks: &HashMap<String, ReviewMark>,
    req: &InboxRequest,
) -> Inbox {
    hits.sort_by(|a, b| {
        severity_rank(&a.severity)
            .cmp(&severity_rank(&b.severity))
            .then_with(|| b.call_start.cmp(&a.call_start))
            .then_with(|| a.call_id.cmp(&b.call_id))
            .then_with(|| a.start_ms.cmp(&b.start_ms))
            .then_with(|| a.rule.cmp(&b.rule))
    });
    let items: Vec<InboxItem> = hits
        .into_iter()
        .map(|hit| {
            let key = hit_key(&hit);
            let review = marks.get(&key).filter(|m| m.reviewed).cloned();
            InboxItem { key, hit, review }
        })
        .collect();
    let total = items.len();
    let unreviewed = items.iter().filter(|i| i.review.is_none()).count();
    let items = items
        .into_iter()
        .filter(|i| !req.unreviewed_only || i.review.is_none())
        .skip(req.offset)
        .take(req.limit)
        .collect();
    Inbox {
        total,
        unreviewed,
        items,
    }
}

/// Whether `key` names a hit in the table now (a mark for anything else is refused).
pub fn find_hit(out_dir: &Path, key: &str) -> Result<Option<HitRow>> {
    Ok(crate::tables::read_hits(out_dir)?
        .into_iter()
        .find(|h| hit_key(h) == key))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hit(call: &str, rule: &str, severity: &str, start: &str, at: u64) -> HitRow {
        HitRow {
            call_id: call.into(),
            call_start: Some(start.parse().unwrap()),
            agent_id: None,
            customer_number: None,
            rule: rule.into(),
            kind: "watchlist".into(),
            severity: severity.into(),
            speaker: "agent".into(),
            seg_no: Some(1),
            start_ms: at,
            end_ms: at + 1000,
            matched_text: "x".into(),
            phrase: "x".into(),
        }
    }

    #[test]
    fn severity_then_newest_then_time() {
        let hits = vec![
            hit("a", "r", "low", "2026-11-01T10:00:00Z", 5),
            hit("b", "r", "high", "2026-11-01T10:00:00Z", 9),
            hit("c", "r", "high", "2026-11-02T10:00:00Z", 3),
            hit("b", "r", "high", "2026-11-01T10:00:00Z", 1),
        ];
        let inbox = assemble(
            hits,
            &HashMap::new(),
            &InboxRequest {
                limit: 10,
                ..Default::default()
            },
        );
        let order: Vec<(&str, u64)> = inbox
            .items
            .iter()
            .map(|i| (i.hit.call_id.as_str(), i.hit.start_ms))
            .collect();
        assert_eq!(order, [("c", 3), ("b", 1), ("b", 9), ("a", 5)]);
        assert_eq!((inbox.total, inbox.unreviewed), (4, 4));
    }

    #[test]
    fn marks_round_trip_and_latest_wins() {
        let dir = tempfile::tempdir().unwrap();
        let h = hit("abc", "leak", "high", "2026-11-01T10:00:00Z", 1500);
        let key = hit_key(&h);
        assert_eq!(key, "abc:leak:1:1500");
        let mark = |reviewed, user: &str| ReviewMark {
            key: key.clone(),
            call_id: "abc".into(),
            reviewed,
            user: user.into(),
            at: "2026-11-03T08:00:00Z".parse().unwrap(),
        };
        append_mark(dir.path(), &mark(true, "anna")).unwrap();
        append_mark(dir.path(), &mark(false, "anna")).unwrap();
        append_mark(dir.path(), &mark(true, "piotr")).unwrap();
        // A torn last line (a crash mid-write) is skipped, the rest read.
        let mut f = fs_err::OpenOptions::new()
            .append(true)
            .open(reviews_path(dir.path()))
            .unwrap();
        f.write_all(b"{\"key\":\"abc:le").unwrap();
        let marks = read_marks(dir.path()).unwrap();
        assert_eq!(marks[&key].user, "piotr");
        let req = InboxRequest {
            limit: 10,
            ..Default::default()
        };
        let inbox = assemble(vec![h.clone()], &marks, &req);
        assert_eq!(inbox.items[0].review.as_ref().unwrap().user, "piotr");
        assert_eq!(inbox.unreviewed, 0);
        let only = InboxRequest {
            unreviewed_only: true,
            ..req
        };
        assert!(assemble(vec![h], &marks, &only).items.is_empty());
    }
}
