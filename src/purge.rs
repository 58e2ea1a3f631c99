//! Retention: `callsift purge --older-than 90d` and the pipeline's
//! `retention_days` remove every call whose `call_start` is older than a
//! cutoff from every output: the run reports' hits and alerts, the search
//! index, the Parquet tables, the recording (when asked), the transcript and
//! the manifest's done entries. The do-not-call export is kept on purpose:
//! a customer's request must outlive the call it was made in.
//!
//! The caller holds `OUT/run.lock`. A purge can be killed at any moment and
//! a later one finishes it; the order makes that so:
//!
//! 1. the manifest records the calls being purged (`purged`, unfinished),
//!    so from now on a run skips their recordings, and the next purge
//!    knows them even after their transcripts are gone;
//! 2. run reports (`OUT/runs/`: hits, alerts) are rewritten without them;
//! 3. the index, then the tables, lose them (both would re-add a call from
//!    its transcript on their next open, so these go before the transcript);
//! 4. the recordings, when asked (only a file that still has the call's
//!    content), then the transcripts;
//! 5. the manifest drops their done entries and finishes the purged ones.
//!
//! Calls without a `call_start` (imported calls nothing dates) are kept:
//! their age is unknown.

use std::collections::{BTreeMap, BTreeSet, HashSet};
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::manifest::{Manifest, PurgedEntry};
use crate::sink::transcript_json::{transcript_path, transcripts_dir};

/// Schema tag of the `--json` summary.
pub const PURGE_SCHEMA: &str = "callsift.purge/1";

/// What a purge removes and how.
#[derive(Debug, Clone)]
pub struct PurgeOptions {
    /// Calls that started before this go.
    pub cutoff: jiff::Timestamp,
    /// List what would go; change nothing.
    pub dry_run: bool,
    /// Also delete each call's source recording.
    pub delete_recordings: bool,
}

/// One purged call.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PurgedCall {
    pub call_id: String,
    pub call_start: Option<jiff::Timestamp>,
    pub source_path: String,
    /// The recording was deleted (`--delete-recordings`).
    pub recording_deleted: bool,
}

/// What a purge did (or, dry, would do): the `--json` summary.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PurgeReport {
    pub schema: &'static str,
    pub cutoff: jiff::Timestamp,
    pub dry_run: bool,
    /// In call id order.
    pub calls: Vec<PurgedCall>,
    /// Calls kept: newer than the cutoff, or without a `call_start`.
    pub kept: usize,
    pub kept_without_call_start: usize,
    pub transcripts_removed: usize,
    /// Calls rows removed from the tables.
    pub table_calls_removed: usize,
    /// Run reports rewritten without the calls' hits.
    pub run_reports_rewritten: usize,
    pub recordings_deleted: usize,
}

/// Parses `--older-than`: a number and a unit, `s`, `m` (minutes), `h`,
/// `d` or `w` (`90d`, `12h`, `2w`). A bare number or zero is refused: the
/// unit must be meant, and "older than 0" would purge everything.
pub fn parse_age(text: &str) -> std::result::Result<jiff::SignedDuration, String> {
    let t = text.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: i64 = digits
        .parse()
        .map_err(|_| format!("age {text:?}: expected a number and a unit, e.g. 90d, 12h, 2w"))?;
    let secs = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "w" => 7 * 86_400,
        "" => {
            return Err(format!(
                "age {text:?}: give a unit (s, m, h, d or w), e.g. 90d"
            ));
        }
        _ => {
            return Err(format!(
                "age {text:?}: unknown unit {unit:?} (s, m, h, d or w)"
            ));
        }
    };
    if n == 0 {
        return Err(format!("age {text:?}: must be more than zero"));
    }
    n.checked_mul(secs)
        .map(jiff::SignedDuration::from_secs)
        .ok_or_else(|| format!("age {text:?} is too large"))
}

/// The cutoff `age` before `now`.
pub fn cutoff(now: jiff::Timestamp, age: jiff::SignedDuration) -> Result<jiff::Timestamp> {
    now.checked_sub(age)
        .map_err(|e| Error::Usage(format!("age {age:?} reaches before any date: {e}")))
}

/// The cutoff of `retention_days = N`.
pub fn retention_cutoff(now: jiff::Timestamp, days: u32) -> Result<jiff::Timestamp> {
    cutoff(
        now,
        jiff::SignedDuration::from_secs(i64::from(days) * 86_400),
    )
}

/// The few transcript fields a purge needs (the rest is not parsed).
#[derive(Deserialize)]
struct TranscriptHead {
    call_id: String,
    source_path: String,
    call_start: Option<jiff::Timestamp>,
}

/// A call to purge, as the manifest will record it.
type Doomed = BTreeMap<String, PurgedEntry>;

/// Purges the expired calls of `out_dir` (see the module docs for the
/// order). The caller holds the run lock.
pub fn purge(out_dir: &Path, options: &PurgeOptions) -> Result<PurgeReport> {
    // A dry run writes nothing, not even a new manifest.
    let manifest = match options.dry_run {
        true => None,
        false => Some(Manifest::open(out_dir)?),
    };
    let unfinished = match &manifest {
        Some(m) => m.unfinished_purges()?,
        None => crate::manifest::unfinished_purges_in(out_dir)?,
    };
    let (doomed, kept, undated) = expired(out_dir, unfinished, options)?;
    let mut report = PurgeReport {
        schema: PURGE_SCHEMA,
        cutoff: options.cutoff,
        dry_run: options.dry_run,
        calls: Vec::new(),
        kept,
        kept_without_call_start: undated,
        transcripts_removed: 0,
        table_calls_removed: 0,
        run_reports_rewritten: 0,
        recordings_deleted: 0,
    };
    if options.dry_run {
        report.calls = doomed
            .into_iter()
            .map(|(call_id, e)| PurgedCall {
                call_id,
                call_start: e.call_start,
                source_path: e.source_path,
                recording_deleted: false,
            })
            .collect();
    } else if let Some(manifest) = manifest
        && !doomed.is_empty()
    {
        remove(out_dir, &manifest, &doomed, &mut report)?;
    }
    Ok(report)
}

/// The calls to purge: every transcript older than the cutoff, and every
/// call an earlier (killed) purge left unfinished. Also how many are kept,
/// and how many of those have no `call_start`.
fn expired(
    out_dir: &Path,
    unfinished: Vec<(String, PurgedEntry)>,
    options: &PurgeOptions,
) -> Result<(Doomed, usize, usize)> {
    let now = jiff::Timestamp::now();
    let mut doomed: Doomed = unfinished.into_iter().collect();
    let (mut kept, mut undated) = (0, 0);
    for head in transcript_heads(out_dir)? {
        match head.call_start {
            Some(start) if start < options.cutoff => {
                doomed.entry(head.call_id).or_insert(PurgedEntry {
                    purged_at: now,
                    call_start: Some(start),
                    source_path: head.source_path,
                    delete_recording: options.delete_recordings,
                    finished: false,
                });
            }
            Some(_) => kept += 1,
            None => {
                kept += 1;
                undated += 1;
            }
        }
    }
    if options.delete_recordings {
        for entry in doomed.values_mut() {
            entry.delete_recording = true;
        }
    }
    Ok((doomed, kept, undated))
}

/// Every readable transcript's head; one that does not read is logged and kept.
fn transcript_heads(out_dir: &Path) -> Result<Vec<TranscriptHead>> {
    let mut heads = Vec::new();
    for id in crate::index::writer::transcript_ids(out_dir)? {
        let path = transcript_path(out_dir, &id);
        let text = match fs_err::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("purge: {e}");
                continue;
            }
        };
        match serde_json::from_str::<TranscriptHead>(&text) {
            Ok(h) => heads.push(h),
            Err(e) => tracing::warn!("purge: {}: not a callsift transcript: {e}", path.display()),
        }
    }
    Ok(heads)
}

/// Steps 1 to 5 of the module docs.
fn remove(
    out_dir: &Path,
    manifest: &Manifest,
    doomed: &Doomed,
    report: &mut PurgeReport,
) -> Result<()> {
    let entries: Vec<(String, PurgedEntry)> =
        doomed.iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    manifest.begin_purge(&entries)?;
    let ids: HashSet<String> = doomed.keys().cloned().collect();
    report.run_reports_rewritten = scrub_run_reports(out_dir, &ids)?;
    remove_from_index(out_dir, &ids)?;
    report.table_calls_removed = remove_from_tables(out_dir, &ids)?;
    for (id, entry) in doomed {
        let deleted = entry.delete_recording && delete_recording(id, &entry.source_path)?;
        report.recordings_deleted += usize::from(deleted);
        report.calls.push(PurgedCall {
            call_id: id.clone(),
            call_start: entry.call_start,
            source_path: entry.source_path.clone(),
            recording_deleted: deleted,
        });
    }
    report.transcripts_removed = remove_transcripts(out_dir, &ids)?;
    let done: BTreeSet<String> = ids.into_iter().collect();
    manifest.finish_purge(&done)?;
    for c in &report.calls {
        tracing::info!(
            "purged call {} (started {}, from {}{})",
            c.call_id,
            c.call_start.map_or("?".into(), |t| t.to_string()),
            c.source_path,
            if c.recording_deleted {
                ", recording deleted"
            } else {
                ""
            }
        );
    }
    Ok(())
}

/// Clears the purged calls' hits from every saved run report naming them,
/// and rewrites that run's alerts files. A report that does not read is
/// left alone (logged).
fn scrub_run_reports(out_dir: &Path, ids: &HashSet<String>) -> Result<usize> {
    let dir = out_dir.join("runs");
    if !dir.is_dir() {
        return Ok(0);
    }
    let mut rewritten = 0;
    for entry in fs_err::read_dir(&dir)? {
        let path = entry?.path();
        if path.extension().is_none_or(|e| e != "json") || !path.is_file() {
            continue;
        }
        let text = fs_err::read_to_string(&path)?;
        let mut run: crate::model::RunReport = match serde_json::from_str(&text) {
            Ok(r) => r,
            Err(e) => {
                tracing::warn!(
                    "purge: {}: not a run report, left as is: {e}",
                    path.display()
                );
                continue;
            }
        };
        let mut changed = false;
        for input in &mut run.inputs {
            let named = input.call_id.as_ref().is_some_and(|id| ids.contains(id));
            if named && !input.hits.is_empty() {
                input.hits.clear();
                changed = true;
            }
        }
        if !changed {
            continue;
        }
        crate::report::save(&run, out_dir)?;
        if dir.join(&run.run_id).join("alerts.json").is_file() {
            crate::report::save_alerts(&run, out_dir)?;
        }
        rewritten += 1;
    }
    Ok(rewritten)
}

/// Deletes the calls' documents and commits (no index: nothing to do).
fn remove_from_index(out_dir: &Path, ids: &HashSet<String>) -> Result<()> {
    if !crate::index::index_dir(out_dir).is_dir() {
        return Ok(());
    }
    let mut writer =
        crate::index::IndexWriterHandle::open(out_dir, &crate::index::WriterOptions::default())?;
    writer.remove_calls(ids.iter().map(String::as_str));
    writer.commit()?;
    writer.close()
}

/// Rewrites the partitions holding the calls (no tables: nothing to do).
fn remove_from_tables(out_dir: &Path, ids: &HashSet<String>) -> Result<usize> {
    if !crate::tables::tables_dir(out_dir).is_dir() {
        return Ok(0);
    }
    let mut writer =
        crate::tables::TablesWriter::open(out_dir, crate::tables::TablesOptions::default())?;
    Ok(writer.remove_calls(ids)?.calls)
}

/// Deletes the recording at `path` if it still holds the call's content
/// (a path may have been reused for another recording since).
fn delete_recording(call_id: &str, path: &str) -> Result<bool> {
    let path = Path::new(path);
    if !path.is_file() {
        return Ok(false);
    }
    let hash = crate::pipeline::content_hash(path)?;
    if crate::pipeline::call_id_of(&hash) != call_id {
        tracing::warn!(
            "purge: {} now holds another recording, not deleted",
            path.display()
        );
        return Ok(false);
    }
    fs_err::remove_file(path)?;
    Ok(true)
}

/// Deletes the transcripts (one already gone is fine: a killed purge).
fn remove_transcripts(out_dir: &Path, ids: &HashSet<String>) -> Result<usize> {
    let mut removed = 0;
    for id in ids {
        let path = transcript_path(out_dir, id);
        match std::fs::remove_file(&path) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(Error::Io(std::io::Error::new(
                    e.kind(),
                    format!("{}: cannot remove: {e}", path.display()),
                )));
            }
        }
    }
    if let Ok(d) = std::fs::File::open(transcripts_dir(out_dir)) {
        let _ = d.sync_all();
    }
    Ok(removed)
}

/// The summary line for stderr.
pub fn summary_line(report: &PurgeReport) -> String {
    let verb = if report.dry_run {
        "would purge"
    } else {
        "purged"
    };
    let mut line = format!(
        "{verb} {} call{} that started before {} ({} kept",
        report.calls.len(),
        if report.calls.len() == 1 { "" } else { "s" },
        report.cutoff.strftime("%Y-%m-%d %H:%M:%S UTC"),
        report.kept
    );
    if report.kept_without_call_start > 0 {
        line.push_str(&format!(
            ", {} of them without a call start",
            report.kept_without_call_start
        ));
    }
    line.push(')');
    if report.recordings_deleted > 0 {
        line.push_str(&format!(
            "; {} recordings deleted",
            report.recordings_deleted
        ));
    }
    line
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_need_a_unit_and_read_weeks_days_and_hours() {
        assert_eq!(parse_age("90d").unwrap().as_secs(), 90 * 86_400);
        assert_eq!(parse_age("12h").unwrap().as_secs(), 12 * 3600);
        assert_eq!(parse_age("2w").unwrap().as_secs(), 14 * 86_400);
        assert_eq!(parse_age("30m").unwrap().as_secs(), 1800);
        assert!(parse_age("90").unwrap_err().contains("give a unit"));
        assert!(parse_age("0d").unwrap_err().contains("more than zero"));
        assert!(parse_age("3y").unwrap_err().contains("unknown unit"));
        assert!(parse_age("d").is_err());
    }

    #[test]
    fn retention_days_is_a_top_level_key_of_at_least_one_day() {
        let path = Path::new("p.toml");
        let parse = |text: &str| crate::config::PipelineFile::parse(text, path);
        let days = parse("retention_days = 90\n[vad]\n")
            .unwrap()
            .retention_days;
        assert_eq!(days.map(|d| d.get()), Some(90));
        assert_eq!(parse("").unwrap().retention_days, None);
        assert!(parse("retention_days = 0\n").is_err());
        // Below a section it belongs to that section: an unknown key there.
        let err = parse("[vad]\nretention_days = 90\n")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("retention_days") && err.contains("line 2"),
            "{err}"
        );
    }

    #[test]
    fn the_retention_cutoff_is_whole_days_back() {
        let now: jiff::Timestamp = "2026-12-02T12:00:00Z".parse().unwrap();
        assert_eq!(
            retention_cutoff(now, 90).unwrap().to_string(),
            "2026-09-03T12:00:00Z"
        );
    }
}
