//! The library's error type. Messages are lowercase, carry no trailing
//! period and name the file they are about, so `main` can print them as is.

use std::path::PathBuf;

pub type Result<T, E = Error> = std::result::Result<T, E>;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// An I/O error; `fs-err` already puts the path in the message.
    #[error(transparent)]
    Io(#[from] std::io::Error),

    /// A recording that cannot be decoded (unsupported codec, empty,
    /// truncated before any audio, not audio at all).
    #[error("{}: {reason}", path.display())]
    Decode { path: PathBuf, reason: String },

    /// A transcript made elsewhere that cannot be imported (unreadable, not a
    /// known format, or a format whose content does not validate).
    #[error("{}: {reason}", path.display())]
    Import { path: PathBuf, reason: String },

    /// A pipeline file that does not parse or validate.
    #[error("{}: {message}", path.display())]
    Config { path: PathBuf, message: String },

    /// A model that is missing, unreadable or rejected by whisper.cpp.
    #[error("{message}")]
    Model { message: String },

    /// whisper.cpp failed while transcribing.
    #[error("whisper: {0}")]
    Whisper(String),

    /// Resampling failed (a bug or an absurd sample rate).
    #[error("resample: {0}")]
    Resample(String),

    /// Model conversion, fetch or import failed.
    #[error("{0}")]
    Convert(String),

    /// Bad command-line usage that clap could not catch.
    #[error("{0}")]
    Usage(String),

    /// A search query that does not parse; the message points at the problem.
    #[error("{}", error.render(query))]
    Query {
        query: String,
        error: crate::index::query::QueryError,
    },

    /// Another callsift process writes this output folder (exit code 4).
    #[error(
        "{out}: another callsift is writing this output folder ({holder}); it holds {lock}. Wait for it to finish, or give another --out",
        out = out_dir.display(),
        lock = out_dir.join("run.lock").display(),
        holder = if holder.is_empty() { "holder unknown" } else { holder.as_str() }
    )]
    Locked { out_dir: PathBuf, holder: String },

    /// `search` on an output folder without an index.
    #[error(
        "no search index in {idx}: it is made by `callsift run --out {out}` (or `callsift import … --out {out}`); for transcripts already there, `callsift index rebuild --out {out}`",
        idx = index_path(out_dir), out = out_dir.display()
    )]
    NoIndex { out_dir: PathBuf },

    /// An output folder (or one of its subfolders) that cannot be written,
    /// found before any recording is read.
    #[error("--out {}: cannot write {}: {reason}", out_dir.display(), path.display())]
    OutNotWritable {
        out_dir: PathBuf,
        path: PathBuf,
        reason: String,
    },

    /// A users file (`callsift users`, `serve --users`) that cannot be
    /// read or does not validate (exit 1: serve cannot start without it).
    #[error("{}: {message}", path.display())]
    UsersFile {
        path: PathBuf,
        message: String,
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },

    #[error("{0}")]
    Other(String),
}

fn index_path(out_dir: &std::path::Path) -> String {
    out_dir.join("index").display().to_string()
}

impl Error {
    pub fn decode(path: impl Into<PathBuf>, reason: impl Into<String>) -> Self {
        Self::Decode {
            path: path.into(),
            reason: reason.into(),
        }
    }

    /// The missing-model error, with the commands that get one.
    pub fn no_model(detail: impl std::fmt::Display) -> Self {
        Self::Model {
            message: format!(
                "{detail}; get a model with `callsift models fetch base` \
                 (or `models/download.sh base`), then pass --model models/ggml-base.bin \
                 or set CALLSIFT_MODEL"
            ),
        }
    }
}
