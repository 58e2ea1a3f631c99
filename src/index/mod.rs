//! The search index `OUT/index/` (Tantivy; the only module naming it):
//! its schema, the documents a transcript becomes, the index sink with its
//! commit protocol, `index rebuild`, the query language and search.
//!
//! The index is derived data: everything in it comes from
//! `OUT/transcripts/`, and [`rebuild`] makes it again from those alone.
//! Text analysis is not here but in [`crate::text::analyze`], shared with
//! rules and `eval`, so "the same word" means one thing everywhere.

pub mod call_index;
pub mod docs;
pub mod merge;
pub mod query;
pub mod schema;
pub mod search;
pub mod writer;

use std::path::{Path, PathBuf};

use crate::error::Error;

pub use call_index::CallIndex;
pub use search::SearchIndex;
pub use writer::{IndexSink, IndexWriterHandle, RebuildReport, WriterOptions, rebuild};

/// Where the index lives under an output folder.
pub fn index_dir(out_dir: &Path) -> PathBuf {
    out_dir.join("index")
}

/// A Tantivy error as ours, naming the index folder.
fn tantivy_error(dir: &Path, e: impl std::fmt::Display) -> Error {
    Error::Other(format!("{}: index: {e}", dir.display()))
}
