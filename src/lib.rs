//! callsift: offline speech analytics for stored call recordings.
//!
//! A recording goes through the stages below, in this order; each stage is
//! one module behind a narrow function or trait, and the types passed between
//! them live in [`model`]:
//!
//! ```text
//! path ─decode→ DecodedAudio ─resample→ Pcm16k (per channel) ─vad→ SpeechSpans → Window
//!      ─transcribe→ WindowTranscript ─(remap, guards)→ Transcript ─sinks→ OUT/transcripts/, OUT/index/
//! foreign transcript ─import→ Transcript ─the same sinks
//! OUT/index/ ─index::search→ SearchResults ─search_output→ table | JSON | CSV
//! ```
//!
//! [`text`] holds the one definition of "the same word" (normalization and
//! the per-language analyzers) that [`index`], [`eval`] and rules share.
//! [`pipeline`] is the only module that knows about threads. [`models`]
//! gets, converts and quantizes whisper models; [`eval`] measures how well a
//! model and pipeline transcribe recordings with known texts.

pub mod analyze;
pub mod atomic;
pub mod audit;
pub mod call_report;
pub mod cli;
pub mod commands;
pub mod config;
pub mod decode;
pub mod error;
pub mod eval;
pub mod import;
pub mod index;
pub mod metadata;
pub mod model;
pub mod models;
pub mod pipeline;
pub mod report;
pub mod resample;
pub mod search_output;
pub mod show;
pub mod sink;
pub mod tables;
pub mod text;
pub mod transcribe;
pub mod vad;

pub use error::{Error, Result};
