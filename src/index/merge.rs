//! Merging shard indexes for `callsift merge`: the segments of every
//! shard's `OUT/index/` are merged into one new index (Tantivy's segment
//! merge: postings, stored documents and fast fields are copied, no text is
//! analyzed again), keeping each call's documents from the one shard that
//! owns the call. The new index is built beside the target and swapped in
//! by renames, so a reader sees the old merged index or the new one.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use tantivy::directory::MmapDirectory;
use tantivy::directory::OwnedBytes;
use tantivy::fastfield::{AliveBitSet, write_alive_bitset};
use tantivy::schema::IndexRecordOption;
use tantivy::{BitSet, DocSet, Index, Segment, TERMINATED};

use super::schema::{Fields, INDEX_SCHEMA};
use super::{index_dir, tantivy_error};
use crate::error::{Error, Result};

/// One shard's index and the calls it owns in the merged output.
pub struct ShardIndex<'a> {
    pub out_dir: &'a Path,
    pub owned: &'a HashSet<String>,
}

/// Checks that a shard's index can be merged: it exists (or the shard has
/// no transcripts), is of this callsift's schema, and has no calls waiting
/// to be indexed.
pub fn check_shard(out_dir: &Path) -> Result<()> {
    let dir = index_dir(out_dir);
    if !dir.join("meta.json").is_file() {
        return Ok(());
    }
    super::writer::check_version(&dir)?;
    let index = Index::open_in_dir(&dir).map_err(|e| tantivy_error(&dir, e))?;
    if index.schema() != Fields::new().schema {
        return Err(Error::Other(format!(
            "{}: index of another schema version (not {INDEX_SCHEMA}); rebuild it there with \
             `callsift index rebuild --out {}` before merging",
            dir.display(),
            out_dir.display()
        )));
    }
    Ok(())
}

/// Merges the shards' indexes into `OUT/index/`, replacing it. Returns the
/// number of documents of the merged index.
pub fn merge_into(out_dir: &Path, shards: &[ShardIndex]) -> Result<u64> {
    let fields = Fields::new();
    let mut segments: Vec<Segment> = Vec::new();
    let mut alive: Vec<Option<AliveBitSet>> = Vec::new();
    for shard in shards {
        let dir = index_dir(shard.out_dir);
        if !dir.join("meta.json").is_file() {
            continue;
        }
        let index = Index::open_in_dir(&dir).map_err(|e| tantivy_error(&dir, e))?;
        for segment in index
            .searchable_segments()
            .map_err(|e| tantivy_error(&dir, e))?
        {
            let bits =
                owned_docs(&segment, &fields, shard.owned).map_err(|e| tantivy_error(&dir, e))?;
            segments.push(segment);
            alive.push(bits);
        }
    }
    let target = index_dir(out_dir);
    let staging = out_dir.join(format!("index.merging-{}", std::process::id()));
    if staging.exists() {
        fs_err::remove_dir_all(&staging)?;
    }
    crate::atomic::create_dir_all(&staging)?;
    let docs = if segments.is_empty() {
        Index::create_in_dir(&staging, fields.schema.clone())
            .map_err(|e| tantivy_error(&staging, e))?;
        0
    } else {
        let directory = MmapDirectory::open(&staging).map_err(|e| tantivy_error(&staging, e))?;
        let settings = segments[0].index().settings().clone();
        let merged =
            tantivy::indexer::merge_filtered_segments(&segments, settings, alive, directory)
                .map_err(|e| tantivy_error(&staging, e))?;
        let reader = merged.reader().map_err(|e| tantivy_error(&staging, e))?;
        reader.searcher().num_docs()
    };
    super::writer::finish_new_index(&staging)?;
    swap_in(&staging, &target)?;
    // Nothing is waiting to be indexed in the merged output.
    let _ = fs_err::remove_file(super::writer::pending_path(out_dir));
    Ok(docs)
}

/// The documents of `segment` whose call the shard owns, as an alive set;
/// `None` when it owns every call of the segment.
fn owned_docs(
    segment: &Segment,
    fields: &Fields,
    owned: &HashSet<String>,
) -> tantivy::Result<Option<AliveBitSet>> {
    let reader = segment.index().reader()?;
    let searcher = reader.searcher();
    let Some(seg_reader) = searcher
        .segment_readers()
        .iter()
        .find(|r| r.segment_id() == segment.id())
    else {
        return Ok(None);
    };
    let inverted = seg_reader.inverted_index(fields.call_id)?;
    let mut bits = BitSet::with_max_value_and_full(seg_reader.max_doc());
    let mut dropped = false;
    let mut terms = inverted.terms().stream()?;
    while terms.advance() {
        let call_id = String::from_utf8_lossy(terms.key()).into_owned();
        if owned.contains(&call_id) {
            continue;
        }
        let term = tantivy::Term::from_field_text(fields.call_id, &call_id);
        if let Some(mut postings) = inverted.read_postings(&term, IndexRecordOption::Basic)? {
            let mut doc = postings.doc();
            while doc != TERMINATED {
                bits.remove(doc);
                dropped = true;
                doc = postings.advance();
            }
        }
    }
    if !dropped {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    write_alive_bitset(&bits, &mut bytes)?;
    Ok(Some(AliveBitSet::open(OwnedBytes::new(bytes))))
}

/// Puts the staged index at `target`: the old one is renamed aside, the new
/// one renamed in, then the old one removed.
fn swap_in(staging: &Path, target: &Path) -> Result<()> {
    let aside: Option<PathBuf> = if target.exists() {
        let aside = target.with_file_name(format!("index.replaced-{}", std::process::id()));
        if aside.exists() {
            fs_err::remove_dir_all(&aside)?;
        }
        fs_err::rename(target, &aside)?;
        Some(aside)
    } else {
        None
    };
    fs_err::rename(staging, target)?;
    if let Some(parent) = target.parent() {
        crate::atomic::sync_dir(parent)?;
    }
    if let Some(aside) = aside {
        fs_err::remove_dir_all(&aside)?;
    }
    Ok(())
}
