//! One call's transcript as a small index in memory, searched with exactly
//! the code of `callsift search` (the same documents, analyzers, query
//! building, boundary pairs and highlighting). Rules match through it, so a
//! phrase that `callsift search` finds in a call, the rule finds in that
//! call, and the reverse, by construction rather than by a second
//! implementation that could drift.

use tantivy::Index;
use tantivy::directory::RamDirectory;

use super::docs::call_documents;
use super::query::Node;
use super::schema::Fields;
use super::search::SearchIndex;
use crate::error::{Error, Result};
use crate::model::{SearchRequest, SearchResults, Transcript};

/// Tantivy's smallest indexing arena; a call's documents are far below it.
const MEMORY_BUDGET: usize = 15_000_000;

/// A searchable copy of one call.
pub struct CallIndex {
    search: SearchIndex,
}

impl CallIndex {
    /// Indexes `t` in memory (a single segment, no threads, nothing on disk).
    pub fn build(t: &Transcript) -> Result<Self> {
        let what = format!("call {}", t.call_id);
        let err = |e: tantivy::TantivyError| Error::Other(format!("{what}: index: {e}"));
        let fields = Fields::new();
        let mut writer = Index::builder()
            .schema(fields.schema.clone())
            .single_segment_index_writer(RamDirectory::create(), MEMORY_BUDGET)
            .map_err(err)?;
        for doc in call_documents(&fields, t) {
            writer.add_document(doc).map_err(err)?;
        }
        let index = writer.finalize().map_err(err)?;
        Ok(CallIndex {
            search: SearchIndex::from_index(&index, &what)?,
        })
    }

    /// Searches the call; `req.query` must parse (see [`super::query::parse`]).
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResults> {
        self.search.search(req)
    }

    /// Searches the call with an already parsed query.
    pub fn search_node(&self, node: &Node, req: &SearchRequest) -> Result<SearchResults> {
        self.search.search_node(node, req)
    }
}
