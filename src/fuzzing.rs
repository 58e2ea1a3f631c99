//! Entry points for the fuzzers (`fuzz/`) and their CI smoke run
//! (`tests/fuzz_smoke.rs`): bytes in, nothing out, and never a panic.
//!
//! Each one drives a whole path hostile bytes take in production, so a
//! crash found here is a crash a recording on the share could cause:
//! [`decode_bytes`] is decode (probe, every block, the hash) and the
//! resampler behind it; [`import_bytes`] is `callsift import` in every
//! format, sniffed and forced.

use std::path::{Path, PathBuf};

use crate::decode::DecodeStream;
use crate::import::{ImportFormat, ImportOptions};
use crate::resample::Resampler16k;

/// Blocks (of at most a second) decoded per input: enough to reach the
/// end of any seed, short enough that a header promising hours stays fast.
const MAX_BLOCKS: usize = 120;

thread_local! {
    /// The decoder reads files (it hashes as it reads), so each input is
    /// written to one scratch file per thread; a scratch file, not an
    /// output, so no atomic write.
    static SCRATCH: Option<(tempfile::TempDir, PathBuf)> = tempfile::tempdir()
        .ok()
        .map(|dir| {
            let path = dir.path().join("fuzz-input.wav");
            (dir, path)
        });
}

/// Decodes `data` as a file named `*.wav` and resamples it to 16 kHz.
/// Errors are the expected outcome for most inputs; only a panic (or an
/// endless loop, or unbounded memory) is a bug.
pub fn decode_bytes(data: &[u8]) {
    SCRATCH.with(|scratch| {
        let Some((_, path)) = scratch else { return };
        if std::fs::write(path, data).is_ok() {
            decode_path(path);
        }
    });
}

fn decode_path(path: &Path) {
    let Ok(mut stream) = DecodeStream::open(path) else {
        return;
    };
    let info = stream.info().clone();
    let mut resamplers: Vec<Option<Resampler16k>> = (0..info.channels)
        .map(|_| Resampler16k::new(info.sample_rate_hz).ok())
        .collect();
    let mut block = vec![Vec::new(); info.channels];
    let mut out = Vec::new();
    for _ in 0..MAX_BLOCKS {
        match stream.next_block(&mut block) {
            Ok(true) => {}
            Ok(false) | Err(_) => break,
        }
        for (r, samples) in resamplers.iter_mut().zip(&block) {
            assert!(samples.iter().all(|s| s.is_finite() && s.abs() <= 1.0));
            if let Some(r) = r {
                out.clear();
                let _ = r.push(samples, &mut out);
            }
        }
    }
    for r in resamplers.iter_mut().flatten() {
        out.clear();
        let _ = r.finish(&mut out);
    }
    let _ = stream.finish();
}

/// Imports `data` as a foreign transcript: sniffed, then as every format.
pub fn import_bytes(data: &[u8]) {
    let path = Path::new("fuzz-input.json");
    let options = ImportOptions::default();
    for format in [
        ImportFormat::Auto,
        ImportFormat::Callsift,
        ImportFormat::WhisperJson,
        ImportFormat::Whisperx,
        ImportFormat::Aws,
        ImportFormat::Srt,
        ImportFormat::Vtt,
    ] {
        let _ = crate::import::import_bytes(path, data, format, &options);
    }
}
