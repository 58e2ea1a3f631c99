//! Transcription of speech windows, and the guards against whisper's known
//! failures on call audio.
//!
//! [`Transcriber`] is the seam: [`whisper::WhisperTranscriber`] runs the
//! real whisper.cpp (the only place whisper-rs is named);
//! [`scripted::ScriptedTranscriber`] returns known text for tests of the
//! stages after transcription and says so in its model name.

pub mod guards;
pub mod scripted;
pub mod whisper;

use crate::error::Result;
use crate::model::{Window, WindowTranscript};

/// Turns one window of 16 kHz speech into text segments with window-relative
/// times. Implementations are shared between worker threads (`Sync`); any
/// per-call scratch state is theirs to pool.
pub trait Transcriber: Send + Sync {
    /// File name of the model, written into every transcript.
    fn model_name(&self) -> &str;

    /// Transcribes a window. `language` is an ISO 639-1 code, or `None` to
    /// let the model detect it (the detected code is returned).
    fn transcribe(&self, window: &Window, language: Option<&str>) -> Result<WindowTranscript>;

    /// Detects the language spoken in a window, choosing among `allowed`
    /// (ISO 639-1 codes; empty: any language the model knows).
    fn detect_language(&self, window: &Window, allowed: &[String]) -> Result<String>;

    /// The longest window this transcriber wants, when it is shorter than
    /// the pipeline's `[vad] max_window_ms` (whisper decoding without
    /// timestamp tokens must hold a window's text in one decode).
    fn max_window_ms(&self) -> Option<u64> {
        None
    }
}

/// The language policy: the language given for every window, or `None`
/// when it is detected once per channel (on the channel's first window,
/// among `languages` when set) and then given for all its windows, so one
/// speaker keeps one language for the call and short turns are not left to
/// guess on their own.
pub fn given_language(settings: &crate::config::WhisperSettings) -> Option<String> {
    (settings.language != "auto").then(|| settings.language.clone())
}
