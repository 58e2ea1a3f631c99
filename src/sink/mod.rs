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
/// appending; owner only, since call ids are about calls.
pub fn open_pending_list(path: &Path) -> Result<fs_err::File> {
    let mut options = fs_err::OpenOptions::new();
    options.create(true).append(true).read(true);
    #[cfg(unix)]
    fs_err::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
    Ok(options.open(path)?)
}

/// Writes an output file whole (temp file, fsync, rename; owner-only, since
/// it is about calls). See [`crate::atomic`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::atomic::write(path, bytes, crate::atomic::Access::Private)
}
