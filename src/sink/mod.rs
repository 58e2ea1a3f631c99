//! Sinks receive each finished call, in the order calls finish, on one
//! thread (single writer). Today there is one: transcript JSON files, the
//! source of truth later outputs (search index, Parquet tables) are rebuilt
//! from. A new output is a new [`Sink`], not a change to the pipeline.

pub mod transcript_json;

use std::path::Path;

use crate::error::Result;
use crate::model::Transcript;

pub use transcript_json::TranscriptJsonSink;

/// A consumer of finished transcripts.
pub trait Sink {
    /// Short name for logs.
    fn name(&self) -> &str;
    /// Stores one call. An error fails that call only.
    fn accept(&mut self, transcript: &Transcript) -> Result<()>;
    /// Called once after the last call (commit batched work here).
    fn finish(&mut self) -> Result<()> {
        Ok(())
    }
}

/// Writes an output file whole (temp file, fsync, rename; owner-only, since
/// it is about calls). See [`crate::atomic`].
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<()> {
    crate::atomic::write(path, bytes, crate::atomic::Access::Private)
}
