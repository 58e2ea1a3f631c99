//! A scripted transcriber: returns known text instead of running a model.
//!
//! For tests of the stages *after* transcription (remapping, merging,
//! sinks, reports). Its model name says `scripted`, so a transcript it made
//! can never pass for whisper's.

use crate::error::Result;
use crate::model::{Window, WindowSegment, WindowTranscript};
use crate::transcribe::Transcriber;

/// Returns one segment per window piece, covering the piece exactly. The
/// line is chosen by the piece's channel and position in the call, not by
/// call order, so output is the same at any number of workers.
pub struct ScriptedTranscriber {
    lines: Vec<String>,
    language: String,
}

impl ScriptedTranscriber {
    pub fn new(lines: Vec<String>, language: &str) -> Self {
        Self {
            lines,
            language: language.to_string(),
        }
    }
}

impl Transcriber for ScriptedTranscriber {
    fn model_name(&self) -> &str {
        "scripted (test transcriber, no model)"
    }

    fn transcribe(&self, window: &Window, language: Option<&str>) -> Result<WindowTranscript> {
        let segments = window
            .pieces
            .iter()
            .map(|piece| {
                let i = window.channel + (piece.source_start_ms / 100) as usize;
                WindowSegment {
                    start_window_ms: piece.window_start_ms,
                    end_window_ms: piece.window_start_ms + piece.duration_ms,
                    text: self.lines[i % self.lines.len().max(1)].clone(),
                    avg_logprob: -0.1,
                    no_speech_prob: 0.01,
                    tokens: Vec::new(),
                }
            })
            .collect();
        Ok(WindowTranscript {
            language: language.unwrap_or(&self.language).to_string(),
            segments,
            timed_segments: true,
            stats: Default::default(),
        })
    }

    fn detect_language(&self, _window: &Window, _allowed: &[String]) -> Result<String> {
        Ok(self.language.clone())
    }
}
