//! `callsift tables rebuild`: every table (`calls`, `segments`, `hits`,
//! `scores`) made again from `OUT/transcripts/` alone and swapped in whole.

use std::path::{Path, PathBuf};

use super::sink::pending_path;
use super::writer::TablesWriter;
use super::{CallRows, TablesOptions};
use crate::analyze::MetricsSettings;
use crate::error::Result;
use crate::index::writer::transcript_ids;
use crate::sink::transcript_json::{read_transcript, transcript_path};

/// A transcript `rebuild` skipped.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FailedTranscript {
    pub path: PathBuf,
    pub reason: String,
}

impl std::fmt::Display for FailedTranscript {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.path.display(), self.reason)
    }
}

/// What `tables rebuild` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebuildReport {
    pub calls: usize,
    pub segments: usize,
    pub hits: usize,
    pub scores: usize,
    /// Part files written (all tables).
    pub files: usize,
    pub failed: Vec<FailedTranscript>,
}

/// Rebuilds `OUT/parquet` from `OUT/transcripts/` with the default options.
pub fn rebuild(out_dir: &Path, settings: &MetricsSettings) -> Result<RebuildReport> {
    rebuild_with(out_dir, settings, &TablesOptions::default())
}

/// Rebuilds `OUT/parquet` from `OUT/transcripts/`: a transcript that does
/// not read is reported and skipped. Readers see the old tables until the
/// new ones are swapped in whole.
pub fn rebuild_with(
    out_dir: &Path,
    settings: &MetricsSettings,
    options: &TablesOptions,
) -> Result<RebuildReport> {
    let mut writer = TablesWriter::open(out_dir, options.clone())?;
    rebuild_in(&mut writer, settings)
}

/// [`rebuild_with`] through a writer already open.
pub(crate) fn rebuild_in(
    writer: &mut TablesWriter,
    settings: &MetricsSettings,
) -> Result<RebuildReport> {
    let out_dir = writer.out_dir().to_path_buf();
    let out_dir = out_dir.as_path();
    let mut failed = Vec::new();
    let ids = transcript_ids(out_dir)?;
    let rows = ids.iter().filter_map(|id| {
        let path = transcript_path(out_dir, id);
        match read_transcript(&path) {
            Ok(t) => Some(CallRows::of(&t, settings)),
            Err(e) => {
                let msg = e.to_string();
                let prefix = format!("{}: ", path.display());
                let reason = msg.strip_prefix(&prefix).unwrap_or(&msg).to_string();
                failed.push(FailedTranscript { path, reason });
                None
            }
        }
    });
    let commit = writer.rebuild_from(rows)?;
    // Every call listed as pending has been rebuilt from its transcript.
    let pending = pending_path(out_dir);
    if pending.exists() {
        fs_err::OpenOptions::new()
            .write(true)
            .open(&pending)?
            .set_len(0)?;
    }
    Ok(RebuildReport {
        calls: commit.calls,
        segments: commit.segments,
        hits: commit.hits,
        scores: commit.scores,
        files: commit.files,
        failed,
    })
}
