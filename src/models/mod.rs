//! Whisper models: the catalogue of known models and their sources, fetching
//! with checksum verification, conversion of CTranslate2 (faster-whisper)
//! models to ggml, quantization, and a random-weight model for tests.

pub mod convert;
pub mod ct2;
pub mod fetch;
pub mod ggml;
pub mod quantize;
pub mod registry;
pub mod testmodel;

use std::io::Read;
use std::path::Path;

use crate::error::Error;

/// A conversion error about `path`: `path: why`.
pub(crate) fn bad(path: &Path, why: impl std::fmt::Display) -> Error {
    Error::Convert(format!("{}: {why}", path.display()))
}

/// Counts bytes read, so offsets in a model file are known while streaming
/// through it without asking the OS.
pub(crate) struct Counting<R> {
    pub(crate) inner: R,
    pub(crate) pos: u64,
}

impl<R: Read> Read for Counting<R> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let n = self.inner.read(buf)?;
        self.pos += n as u64;
        Ok(n)
    }
}
