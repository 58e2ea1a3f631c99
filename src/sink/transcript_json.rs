//! `OUT/transcripts/<call_id>.json`: one pretty-printed JSON file per call
//! (schema `callsift.transcript/1`, documented in `docs/transcript-schema.md`).

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::Transcript;
use crate::sink::{Sink, write_atomic};

pub struct TranscriptJsonSink {
    dir: PathBuf,
}

impl TranscriptJsonSink {
    pub fn new(out_dir: &Path) -> Result<Self> {
        let dir = transcripts_dir(out_dir);
        crate::atomic::create_dir_all(&dir)?;
        Ok(Self { dir })
    }
}

/// Where transcripts live under an output folder.
pub fn transcripts_dir(out_dir: &Path) -> PathBuf {
    out_dir.join("transcripts")
}

/// The transcript file of `call_id`.
pub fn transcript_path(out_dir: &Path, call_id: &str) -> PathBuf {
    transcripts_dir(out_dir).join(format!("{call_id}.json"))
}

/// Reads a transcript back, checking its schema tag.
pub fn read_transcript(path: &Path) -> Result<Transcript> {
    let text = fs_err::read_to_string(path)?;
    let t: Transcript = serde_json::from_str(&text).map_err(|e| {
        Error::Other(format!(
            "{}: not a callsift transcript: {e}",
            path.display()
        ))
    })?;
    if t.schema != crate::model::TRANSCRIPT_SCHEMA {
        return Err(Error::Other(format!(
            "{}: unsupported transcript schema `{}`",
            path.display(),
            t.schema
        )));
    }
    Ok(t)
}

impl Sink for TranscriptJsonSink {
    fn name(&self) -> &str {
        "transcripts"
    }

    fn accept(&mut self, transcript: &Transcript) -> Result<()> {
        let mut bytes = serde_json::to_vec_pretty(transcript)
            .map_err(|e| Error::Other(format!("cannot serialise transcript: {e}")))?;
        bytes.push(b'\n');
        write_atomic(
            &self.dir.join(format!("{}.json", transcript.call_id)),
            &bytes,
        )
    }
}
