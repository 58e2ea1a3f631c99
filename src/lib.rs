//! callsift: offline speech analytics for stored call recordings.
//!
//! A recording goes through the stages below, in this order; each stage is
//! one module behind a narrow function or trait, and the types passed between
//! them live in [`model`]:
//!
//! ```text
//! path ─decode (streamed)→ blocks ─resample→ 16 kHz ─vad→ settled spans ─windows→ Window
//!      ─window queue→ transcribe (N workers)→ WindowTranscript ─align, guards (assemble)→ Transcript
//!      ─sinks→ OUT/transcripts/, OUT/index/, OUT/parquet/
//! foreign transcript ─import→ Transcript ─the same sinks
//! OUT/index/ ─index::search→ SearchResults ─search_output→ table | JSON | CSV
//! ```
//!
//! [`text`] holds the one definition of "the same word" (normalization and
//! the per-language analyzers) that [`index`], [`eval`] and rules share.
//! [`pipeline`] is the only module that knows about threads. [`models`]
//! gets, converts and quantizes whisper models; [`eval`] measures how well a
//! model and pipeline transcribe recordings with known texts.

pub mod align;
pub mod analyze;
pub mod assemble;
pub mod atomic;
pub mod audit;
pub mod call_report;
pub mod channels;
pub mod cli;
pub mod commands;
pub mod config;
pub mod decode;
pub mod error;
pub mod eval;
pub mod export;
pub mod fuzzing;
pub mod import;
pub mod index;
pub mod interrupt;
pub mod manifest;
pub mod merge;
pub mod metadata;
pub mod min_age;
pub mod model;
pub mod models;
pub mod pipeline;
pub mod purge;
pub mod redact;
pub mod report;
pub mod resample;
pub mod rescore;
pub mod reviews;
pub mod rules;
pub mod run_lock;
pub mod search_output;
pub mod serve;
pub mod shard;
pub mod show;
pub mod sink;
pub mod tables;
#[cfg(test)]
mod test_rng;
pub mod text;
pub mod transcribe;
pub mod users;
pub mod vad;
pub mod windows;

pub use error::{Error, Result};
