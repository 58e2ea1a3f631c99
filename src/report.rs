//! The run summary: a one-line human summary on stderr, the JSON report on
//! stdout with `--json`, and the same JSON saved as `OUT/runs/<run_id>.json`.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::RunReport;
use crate::sink::write_atomic;

/// `12 files: 10 ok, 1 failed, 1 skipped; 3h02m of audio in 25m10s (7.2× real time)`
pub fn summary_line(report: &RunReport) -> String {
    let total = report.ok + report.failed + report.skipped;
    let speed = if report.wall_ms > 0 {
        format!(
            " ({:.1}× real time)",
            report.audio_ms as f64 / report.wall_ms as f64
        )
    } else {
        String::new()
    };
    let stopped = if report.interrupted {
        "interrupted by SIGINT/SIGTERM, the rest is left for the next run: "
    } else {
        ""
    };
    let shard = report.shard.map_or(String::new(), |s| {
        format!(
            "shard {}/{} ({} inputs are the other shards'): ",
            s.index, s.count, s.other_shards
        )
    });
    format!(
        "{stopped}{shard}{total} files: {} ok, {} failed, {} skipped{}; {} of audio in {}{speed}",
        report.ok,
        report.failed,
        report.skipped,
        skip_reasons(report),
        human_duration(report.audio_ms),
        human_duration(report.wall_ms),
    )
}

/// ` (9 unchanged, 1 stale, 2 not audio)`: why inputs were skipped, for the
/// one line cron mails (the reasons are the report's own `error` texts).
fn skip_reasons(report: &RunReport) -> String {
    let mut counts: std::collections::BTreeMap<usize, (&str, usize)> = Default::default();
    for i in report
        .inputs
        .iter()
        .filter(|i| i.status == crate::model::InputStatus::Skipped)
    {
        let why = i.error.as_deref().unwrap_or_default();
        let (order, name) = if why.starts_with("unchanged") {
            (0, "unchanged")
        } else if why.starts_with("same content as") {
            (1, "same content as another")
        } else if why.starts_with("stale") {
            (2, "stale")
        } else if why.starts_with("not an audio") {
            (3, "not audio")
        } else if why.starts_with("still being written") {
            (4, "still being written")
        } else if why.starts_with("interrupted") {
            (5, "interrupted")
        } else {
            (9, "other")
        };
        counts.entry(order).or_insert((name, 0)).1 += 1;
    }
    if counts.is_empty() {
        return String::new();
    }
    let parts: Vec<String> = counts
        .values()
        .map(|(name, n)| format!("{n} {name}"))
        .collect();
    format!(" ({})", parts.join(", "))
}

/// `1h02m03s`, `4m05s`, `6.2s`.
pub fn human_duration(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{:.1}s", ms as f64 / 1000.0),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m{:02}s", s / 3600, (s / 60) % 60, s % 60),
    }
}

pub fn to_json(report: &RunReport) -> Result<String> {
    serde_json::to_string_pretty(report)
        .map_err(|e| Error::Other(format!("cannot serialise run report: {e}")))
}

/// The line cron mails: `3 high-severity hits in 2 calls; 1 do-not-call
/// request`; `None` when the rules found nothing.
pub fn alerts_line(report: &RunReport) -> Option<String> {
    use crate::model::{HitKind, Severity};
    let hits: Vec<(&str, &crate::model::RuleHit)> = report
        .inputs
        .iter()
        .flat_map(|i| i.hits.iter().map(move |h| (i.path.as_str(), h)))
        .collect();
    if hits.is_empty() {
        return None;
    }
    let plural =
        |n: usize, one: &str, many: &str| format!("{n} {}", if n == 1 { one } else { many });
    let high: Vec<&str> = hits
        .iter()
        .filter(|(_, h)| h.severity == Severity::High)
        .map(|(p, _)| *p)
        .collect();
    let mut high_calls = high.clone();
    high_calls.sort();
    high_calls.dedup();
    let mut parts = Vec::new();
    if !high.is_empty() {
        parts.push(format!(
            "{} in {}",
            plural(high.len(), "high-severity hit", "high-severity hits"),
            plural(high_calls.len(), "call", "calls")
        ));
    }
    let other = hits.len() - high.len();
    if other > 0 {
        parts.push(plural(other, "other hit", "other hits"));
    }
    let requests = hits
        .iter()
        .filter(|(_, h)| h.kind == HitKind::DncRequest)
        .count();
    if requests > 0 {
        parts.push(plural(
            requests,
            "do-not-call request",
            "do-not-call requests",
        ));
    }
    let listed = hits
        .iter()
        .filter(|(_, h)| h.kind == HitKind::DncListed)
        .count();
    if listed > 0 {
        parts.push(plural(
            listed,
            "call to a listed number",
            "calls to listed numbers",
        ));
    }
    Some(parts.join("; "))
}

/// One line of a run's alerts file.
#[derive(Debug, Clone, serde::Serialize)]
struct Alert<'a> {
    path: &'a str,
    call_id: &'a str,
    at: String,
    #[serde(flatten)]
    hit: &'a crate::model::RuleHit,
}

/// Writes `OUT/runs/<run_id>/alerts.json` and `alerts.csv`: every rule hit
/// of the run, high severity first, then in input order.
pub fn save_alerts(report: &RunReport, out_dir: &Path) -> Result<PathBuf> {
    let dir = out_dir.join("runs").join(&report.run_id);
    let mut alerts: Vec<Alert> = report
        .inputs
        .iter()
        .flat_map(|i| {
            i.hits.iter().map(move |h| Alert {
                path: &i.path,
                call_id: i.call_id.as_deref().unwrap_or_default(),
                at: crate::rules::clock(h.start_ms),
                hit: h,
            })
        })
        .collect();
    alerts.sort_by_key(|a| std::cmp::Reverse(a.hit.severity));
    let mut json = serde_json::to_vec_pretty(&alerts)
        .map_err(|e| Error::Other(format!("cannot serialise alerts: {e}")))?;
    json.push(b'\n');
    write_atomic(&dir.join("alerts.json"), &json)?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    let csv_err = |e: csv::Error| Error::Other(format!("cannot write alerts: {e}"));
    csv.write_record([
        "severity", "rule", "kind", "call_id", "path", "at", "speaker", "start_ms", "end_ms",
        "matched", "phrase",
    ])
    .map_err(csv_err)?;
    for a in &alerts {
        let h = a.hit;
        csv.write_record([
            h.severity.as_str(),
            &h.rule,
            h.kind.as_str(),
            a.call_id,
            a.path,
            &a.at,
            &h.speaker,
            &h.start_ms.to_string(),
            &h.end_ms.to_string(),
            &h.matched,
            &h.phrase,
        ])
        .map_err(csv_err)?;
    }
    let bytes = csv
        .into_inner()
        .map_err(|e| Error::Other(format!("cannot write alerts: {e}")))?;
    write_atomic(&dir.join("alerts.csv"), &bytes)?;
    Ok(dir)
}

/// Saves the report under `OUT/runs/` and returns its path.
pub fn save(report: &RunReport, out_dir: &Path) -> Result<PathBuf> {
    let path = out_dir.join("runs").join(format!("{}.json", report.run_id));
    let mut bytes = to_json(report)?.into_bytes();
    bytes.push(b'\n');
    write_atomic(&path, &bytes)?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_read_well() {
        assert_eq!(human_duration(6_200), "6.2s");
        assert_eq!(human_duration(245_000), "4m05s");
        assert_eq!(human_duration(3_723_000), "1h02m03s");
    }
}
