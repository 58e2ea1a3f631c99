//! Sinks receive each finished call, in the order calls finish, on one
//! thread (single writer): transcript JSON files first, the source of truth
//! every later output is rebuilt from, then the search index
//! ([`crate::index`]) and the Parquet tables ([`crate::tables`]). A new
//! output is a new [`Sink`], not a change to the pipeline.

pub mod transcript_json;

use std::path::Path;

use crate::error::Result;
use crate::model::Transcript;

pub use transcript_json::TranscriptJsonSink;

/// A consumer of finished transcripts.
pub trait Sink {
    /// Short name for logs.
    fn name(&self) -> &str;
    /// Changes the call before any sink stores it (redaction, the rules'
    /// findings); called on every sink, in order, before the first `accept`.
    fn prepare(&mut self, _transcript: &mut Transcript) -> Result<()> {
        Ok(())
    }
    /// Stores one call. An error fails that call only.
    fn accept(&mut self, transcript: &Transcript) -> Result<()>;
    /// Called once after the last call (commit batched work here).
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// The sinks every finished call goes to, in order: the transcript first
/// (the source of truth), then the outputs derived from it (search index,
/// Parquet tables), so a call whose transcript is written can always be
/// caught up or rebuilt into the others.
pub fn output_sinks(
    out_dir: &Path,
    pipeline: &crate::config::PipelineFile,
    pipeline_name: &str,
) -> Result<Vec<Box<dyn Sink>>> {
    let metrics = &pipeline.metrics;
    let mut sinks: Vec<Box<dyn Sink>> = Vec::new();
    if let Some(rules) = crate::rules::RulesStage::open(pipeline, pipeline_name, out_dir)? {
        for w in &rules.warnings {
            tracing::warn!("{w}");
        }
        sinks.push(Box::new(rules));
    }
    sinks.extend([
        Box::new(TranscriptJsonSink::new(out_dir)?) as Box<dyn Sink>,
        Box::new(crate::index::IndexSink::open(
            out_dir,
            &crate::index::WriterOptions::default(),
        )?),
        Box::new(crate::tables::TablesSink::open(out_dir, metrics.clone())?),
    ]);
    Ok(sinks)
}

/// The folders under `OUT` every run writes into.
fn output_dirs(out_dir: &Path) -> Vec<std::path::PathBuf> {
    vec![
        out_dir.to_path_buf(),
        transcript_json::transcripts_dir(out_dir),
        crate::index::index_dir(out_dir),
        crate::tables::tables_dir(out_dir),
        out_dir.join("runs"),
    ]
}

/// Creates `OUT` and the folders a run writes, and writes and removes a
/// probe file in each (and in `OUT/exports/` if there is one), so a
/// read-only, full or misplaced output folder is found before any
/// recording is decoded, not after the work is done.
pub fn check_out_dir(out_dir: &Path) -> Result<()> {
    let mut dirs = output_dirs(out_dir);
    let exports = out_dir.join("exports");
    if exports.exists() {
        dirs.push(exports);
    }
    for dir in dirs {
        crate::atomic::check_writable(&dir).map_err(|e| {
            let msg = e.to_string();
            let own = format!("{}: ", dir.display());
            crate::Error::OutNotWritable {
                out_dir: out_dir.to_path_buf(),
                reason: msg.strip_prefix(&own).unwrap_or(&msg).to_string(),
                path: dir,
            }
        })?;
    }
    Ok(())
}

/// Is `e` the output folder running out of room (no space, over the
/// quota, over the process's file size limit)? Such an error is not the
/// call's fault: every later call would fail the same way, so the run
/// stops. Sinks that wrap another library's error keep only its text, so
/// the OS's words are looked for too.
pub fn is_disk_full(e: &crate::Error) -> bool {
    use std::io::ErrorKind::{FileTooLarge, QuotaExceeded, StorageFull};
    if let crate::Error::Io(io) = e
        && matches!(io.kind(), StorageFull | QuotaExceeded | FileTooLarge)
    {
        return true;
    }
    let text = e.to_string();
    [
        "No space left on device",
        "Disk quota exceeded",
        "File too large",
    ]
    .iter()
    .any(|words| text.contains(words))
}

/// The run's error after a sink found the output folder full: what the
/// calls before wrote is kept (and caught up by the next run), the call
/// that hit it left nothing (every write is atomic).
pub fn disk_full_error(e: &crate::Error) -> crate::Error {
    crate::Error::Other(format!(
        "{e}; the output folder is full: the run stopped, calls finished before it are kept; \
         free space and run again (the rest is done then)"
    ))
}

/// Calls every sink's `finish` after a fatal error, so the calls already
/// taken are committed where room is left; a sink that fails is logged
/// (its pending list makes the next run catch it up).
pub fn finish_after_error(sinks: &mut [Box<dyn Sink>]) {
    for sink in sinks.iter_mut() {
        if let Err(e) = sink.finish() {
            tracing::warn!("sink {}: {e}", sink.name());
        }
    }
}

/// Runs every sink's `prepare`, then every sink's `accept`, on one call;
/// the call as the sinks stored it.
pub fn feed(sinks: &mut [Box<dyn Sink>], mut transcript: Transcript) -> Result<Transcript> {
    let fail = |sink: &dyn Sink, t: &Transcript, e: crate::Error| {
        crate::Error::Other(format!(
            "{}: sink {} failed: {e}",
            t.source_path,
            sink.name()
        ))
    };
    for sink in sinks.iter_mut() {
        if let Err(e) = sink.prepare(&mut transcript) {
            return Err(fail(sink.as_ref(), &transcript, e));
        }
    }
    for sink in sinks.iter_mut() {
        if let Err(e) = sink.accept(&transcript) {
            return Err(fail(sink.as_ref(), &transcript, e));
        }
    }
    Ok(transcript)
}

/// Opens a derived output's pending list (`OUT/index.pending`,
/// `OUT/tables.pending`: the calls accepted since its last commit) for
/// appending; 0640 like every output, since call ids are about calls.
pub fn open_pending_list(path: &Path) -> Result<fs_err::File> {
    let mut options = fs_err::OpenOptions::new();
    options.create(true).append(true).read(true);
    #[cfg(unix)]
    fs_err::os::unix::fs::OpenOptionsExt::mode(&mut options, crate::atomic::FILE_MODE);
    let file = options.open(path)?;
    crate::atomic::set_file_mode(file.file(), path)?;
    Ok(file)
}

/// Writes an output file whole (temp file, fsync, rename; 0640, since it
/// is about calls). See [`crate::atomic`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::atomic::write(path, bytes, crate::atomic::Access::Private)
}
