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
    format!(
        "{total} files: {} ok, {} failed, {} skipped; {} of audio in {}{speed}",
        report.ok,
        report.failed,
        report.skipped,
        human_duration(report.audio_ms),
        human_duration(report.wall_ms),
    )
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
