//! Writing `OUT/index/`: the index sink of `run` and `import`, and
//! `index rebuild`.
//!
//! Commit protocol. A call's documents replace the call's old ones (delete
//! by `call_id`, then add) in the same commit. Commits are batched: every
//! [`COMMIT_EVERY_CALLS`] calls or [`COMMIT_EVERY`], and when the run ends.
//! A Tantivy commit is atomic (its `meta.json` is replaced whole), so a
//! crash or SIGKILL leaves the index as of the last commit, which opens.
//! The calls accepted since then are listed in `OUT/index.pending` (one
//! call id per line, appended before the call's documents are added,
//! emptied after each commit); the next open re-indexes them from their
//! transcripts, together with any transcript whose call has no documents
//! (a crash between writing the transcript and listing it).

use std::collections::BTreeSet;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use tantivy::{Index, IndexWriter, Term};

use super::docs::{self, IndexDoc};
use super::schema::{Fields, INDEX_SCHEMA, KIND_CALL};
use super::{index_dir, tantivy_error};
use crate::error::{Error, Result};
use crate::model::Transcript;
use crate::sink::Sink;
use crate::sink::transcript_json::{read_transcript, transcript_path, transcripts_dir};

/// Calls between two commits.
pub const COMMIT_EVERY_CALLS: usize = 256;
/// Longest time between two commits while calls keep coming.
pub const COMMIT_EVERY: Duration = Duration::from_secs(60);

/// How the writer is set up.
#[derive(Debug, Clone)]
pub struct WriterOptions {
    /// Tantivy indexing threads (1 during a run: whisper has the cores).
    pub threads: usize,
    /// Memory budget for all indexing threads together.
    pub memory_bytes: usize,
}

impl Default for WriterOptions {
    fn default() -> Self {
        WriterOptions {
            threads: 1,
            memory_bytes: 64 << 20,
        }
    }
}

/// The version file beside Tantivy's own files.
fn version_path(dir: &Path) -> PathBuf {
    dir.join("callsift-index.json")
}

/// `OUT/index.pending`: calls accepted since the last commit.
pub(crate) fn pending_path(out_dir: &Path) -> PathBuf {
    out_dir.join("index.pending")
}

fn open_pending(out_dir: &Path) -> Result<fs_err::File> {
    crate::sink::open_pending_list(&pending_path(out_dir))
}

/// Opens `OUT/index/`, creating it when there is none. An index of another
/// schema version is an error that says to rebuild.
pub fn open_or_create(out_dir: &Path) -> Result<(Index, Fields)> {
    let dir = index_dir(out_dir);
    let fields = Fields::new();
    if !dir.exists() {
        // The index holds what was said in calls: 0750, like every output.
        crate::atomic::create_dir_all(&dir)?;
    }
    let has_meta = dir.join("meta.json").is_file();
    if has_meta {
        check_version(&dir)?;
        let index = Index::open_in_dir(&dir).map_err(|e| tantivy_error(&dir, e))?;
        if index.schema() != fields.schema {
            return Err(Error::Other(format!(
                "{}: the index has another schema; rebuild it with `callsift index rebuild --out {}`",
                dir.display(),
                out_dir.display()
            )));
        }
        return Ok((index, fields));
    }
    let index =
        Index::create_in_dir(&dir, fields.schema.clone()).map_err(|e| tantivy_error(&dir, e))?;
    crate::atomic::write(
        &version_path(&dir),
        format!("{{\"schema\": \"{INDEX_SCHEMA}\"}}\n").as_bytes(),
        crate::atomic::Access::Private,
    )?;
    restrict_modes(&dir)?;
    Ok((index, fields))
}

/// Finishes an index folder made outside the writer (`merge`): its schema
/// version file and the access modes of every output.
pub(crate) fn finish_new_index(dir: &Path) -> Result<()> {
    crate::atomic::write(
        &version_path(dir),
        format!("{{\"schema\": \"{INDEX_SCHEMA}\"}}\n").as_bytes(),
        crate::atomic::Access::Private,
    )?;
    restrict_modes(dir)
}

/// Gives every file in the index folder [`crate::atomic::FILE_MODE`] and
/// the folder [`crate::atomic::DIR_MODE`]: Tantivy writes `meta.json` and
/// `.managed.json` 0600 on every commit and its segments with the umask.
/// A file a merge removes meanwhile is skipped.
fn restrict_modes(dir: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use crate::atomic::{DIR_MODE, FILE_MODE};
        use std::os::unix::fs::PermissionsExt;
        let mode_of = |m: &std::fs::Metadata| m.permissions().mode() & 0o7777;
        if std::fs::metadata(dir).is_ok_and(|m| mode_of(&m) != DIR_MODE) {
            crate::atomic::set_mode(dir, DIR_MODE)?;
        }
        for entry in fs_err::read_dir(dir)?.flatten() {
            let Ok(meta) = entry.metadata() else { continue };
            let want = if meta.is_dir() { DIR_MODE } else { FILE_MODE };
            if mode_of(&meta) == want {
                continue;
            }
            let path = entry.path();
            if let Err(e) = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(want))
                && e.kind() != std::io::ErrorKind::NotFound
            {
                return Err(Error::Io(std::io::Error::new(
                    e.kind(),
                    format!("{}: cannot set mode {want:o}: {e}", path.display()),
                )));
            }
        }
    }
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

pub(crate) fn check_version(dir: &Path) -> Result<()> {
    let path = version_path(dir);
    let found = fs_err::read_to_string(&path)
        .ok()
        .and_then(|s| serde_json::from_str::<serde_json::Value>(&s).ok())
        .and_then(|v| v.get("schema").and_then(|s| s.as_str()).map(str::to_owned));
    match found.as_deref() {
        Some(INDEX_SCHEMA) => Ok(()),
        other => Err(Error::Other(format!(
            "{}: index schema {} is not {INDEX_SCHEMA}; rebuild it with `callsift index rebuild`",
            dir.display(),
            other.unwrap_or("unknown")
        ))),
    }
}

/// Adds and replaces calls in the index; the single writer of `OUT/index/`.
pub struct IndexWriterHandle {
    out_dir: PathBuf,
    fields: Fields,
    writer: IndexWriter<IndexDoc>,
    uncommitted: usize,
    last_commit: Instant,
    pending: fs_err::File,
}

impl IndexWriterHandle {
    /// Opens (or creates) the index for writing and catches up on what a
    /// crash left out (see the module docs).
    pub fn open(out_dir: &Path, options: &WriterOptions) -> Result<Self> {
        Self::open_with(out_dir, options, true)
    }

    fn open_with(out_dir: &Path, options: &WriterOptions, catch_up: bool) -> Result<Self> {
        let (index, fields) = open_or_create(out_dir)?;
        let dir = index_dir(out_dir);
        let writer = index
            .writer_with_num_threads(options.threads.max(1), options.memory_bytes.max(16 << 20))
            .map_err(|e| match e {
                tantivy::TantivyError::LockFailure(..) => Error::Other(format!(
                    "{}: another callsift process is writing this index",
                    dir.display()
                )),
                e => tantivy_error(&dir, e),
            })?;
        let pending = open_pending(out_dir)?;
        let mut handle = IndexWriterHandle {
            out_dir: out_dir.to_path_buf(),
            fields,
            writer,
            uncommitted: 0,
            last_commit: Instant::now(),
            pending,
        };
        if catch_up {
            handle.catch_up(&index)?;
        }
        Ok(handle)
    }

    /// Re-indexes the calls listed as pending and the transcripts whose
    /// call has no documents.
    fn catch_up(&mut self, index: &Index) -> Result<()> {
        let mut todo: BTreeSet<String> = fs_err::read_to_string(pending_path(&self.out_dir))?
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty())
            .map(str::to_owned)
            .collect();
        let reader = index
            .reader()
            .map_err(|e| tantivy_error(&self.out_dir, e))?;
        let searcher = reader.searcher();
        for call_id in transcript_ids(&self.out_dir)? {
            let term = Term::from_field_text(self.fields.call_id, &call_id);
            let indexed = searcher
                .doc_freq(&term)
                .map_err(|e| tantivy_error(&self.out_dir, e))?
                > 0;
            if !indexed {
                todo.insert(call_id);
            }
        }
        if todo.is_empty() {
            return Ok(());
        }
        let mut caught_up = 0;
        for call_id in &todo {
            let path = transcript_path(&self.out_dir, call_id);
            if !path.is_file() {
                continue;
            }
            match read_transcript(&path) {
                Ok(t) => {
                    self.replace(&t)?;
                    caught_up += 1;
                }
                Err(e) => tracing::warn!("index catch-up: {e}"),
            }
        }
        self.commit()?;
        tracing::info!("index: caught up on {caught_up} calls from their transcripts");
        Ok(())
    }

    /// Replaces the documents of one call (not yet committed).
    pub fn replace(&mut self, t: &Transcript) -> Result<()> {
        self.writer
            .delete_term(Term::from_field_text(self.fields.call_id, &t.call_id));
        for doc in docs::call_documents(&self.fields, t) {
            self.add(doc)?;
        }
        self.uncommitted += 1;
        Ok(())
    }

    fn add(&mut self, doc: IndexDoc) -> Result<()> {
        self.writer
            .add_document(doc)
            .map(|_| ())
            .map_err(|e| tantivy_error(&self.out_dir, e))
    }

    /// Lists `call_id` as pending, replaces its documents and commits when
    /// the batch is full.
    pub fn accept(&mut self, t: &Transcript) -> Result<()> {
        // No fsync per call: what a killed process wrote is still in the
        // page cache and reaches the file; after a power cut the catch-up's
        // check for transcripts without documents covers new calls.
        writeln!(self.pending, "{}", t.call_id)?;
        self.replace(t)?;
        if self.uncommitted >= COMMIT_EVERY_CALLS || self.last_commit.elapsed() >= COMMIT_EVERY {
            self.commit()?;
        }
        Ok(())
    }

    /// Commits, then empties the pending list.
    pub fn commit(&mut self) -> Result<()> {
        self.writer
            .commit()
            .map_err(|e| tantivy_error(&self.out_dir, e))?;
        restrict_modes(&index_dir(&self.out_dir))?;
        self.pending.set_len(0)?;
        self.pending.sync_data()?;
        self.uncommitted = 0;
        self.last_commit = Instant::now();
        Ok(())
    }

    /// Deletes every document of these calls (committed by the next
    /// commit): every document of a call carries its `call_id` term, the
    /// call marker and pair documents as much as the segments.
    pub fn remove_calls<'a>(&mut self, call_ids: impl IntoIterator<Item = &'a str>) {
        for id in call_ids {
            self.writer
                .delete_term(Term::from_field_text(self.fields.call_id, id));
        }
    }

    /// Deletes every document (committed by the next commit).
    pub fn delete_all(&mut self) -> Result<()> {
        self.writer
            .delete_all_documents()
            .map(|_| ())
            .map_err(|e| tantivy_error(&self.out_dir, e))
    }

    /// Waits for background merges so the folder is left tidy.
    pub fn close(self) -> Result<()> {
        self.writer
            .wait_merging_threads()
            .map_err(|e| tantivy_error(&self.out_dir, e))?;
        // A merge's own commit rewrote meta.json.
        restrict_modes(&index_dir(&self.out_dir))
    }

    pub fn fields(&self) -> &Fields {
        &self.fields
    }
}

/// The call ids of `OUT/transcripts/*.json`, sorted.
pub fn transcript_ids(out_dir: &Path) -> Result<Vec<String>> {
    let dir = transcripts_dir(out_dir);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut ids: Vec<String> = fs_err::read_dir(&dir)?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let id = name.strip_suffix(".json")?;
            (!id.is_empty() && id.chars().all(|c| c.is_ascii_hexdigit())).then(|| id.to_string())
        })
        .collect();
    ids.sort();
    Ok(ids)
}

/// The index as a [`Sink`] of `run` and `import`.
pub struct IndexSink {
    writer: Option<IndexWriterHandle>,
}

impl IndexSink {
    /// Opens the index for a run. An index made by an older callsift (another
    /// schema version) is rebuilt from the transcripts first: it is derived
    /// data, and a nightly run should not stop on an upgrade.
    pub fn open(out_dir: &Path, options: &WriterOptions) -> Result<Self> {
        let dir = index_dir(out_dir);
        if dir.join("meta.json").is_file() && check_version(&dir).is_err() {
            tracing::warn!(
                "{}: made by another callsift version (not {INDEX_SCHEMA}); rebuilding it from the transcripts",
                dir.display()
            );
            // Removed, not moved aside: it holds what was said in calls,
            // and everything in it is in the transcripts.
            fs_err::remove_dir_all(&dir)?;
            let r = rebuild(out_dir, options)?;
            tracing::info!("index rebuilt: {} calls", r.calls);
        }
        Ok(IndexSink {
            writer: Some(IndexWriterHandle::open(out_dir, options)?),
        })
    }
}

impl Sink for IndexSink {
    fn name(&self) -> &str {
        "index"
    }

    fn accept(&mut self, transcript: &Transcript) -> Result<()> {
        self.writer
            .as_mut()
            .expect("index sink used after finish")
            .accept(transcript)
    }

    fn finish(&mut self) -> Result<()> {
        if let Some(mut w) = self.writer.take() {
            w.commit()?;
            w.close()?;
        }
        Ok(())
    }
}

/// What `index rebuild` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RebuildReport {
    pub calls: usize,
    pub segments: usize,
    /// Transcripts that could not be read: `path: reason`.
    pub failed: Vec<String>,
}

/// Rebuilds `OUT/index/` from `OUT/transcripts/` alone, in one commit: a
/// reader sees the old index until the new one is whole. An index that no
/// longer opens is moved aside first (`index.broken-<time>`).
pub fn rebuild(out_dir: &Path, options: &WriterOptions) -> Result<RebuildReport> {
    let dir = index_dir(out_dir);
    if dir.exists() && open_or_create(out_dir).is_err() {
        let aside = out_dir.join(format!(
            "index.broken-{}",
            jiff::Timestamp::now().strftime("%Y%m%dT%H%M%SZ")
        ));
        tracing::warn!(
            "{} does not open; moved aside to {}",
            dir.display(),
            aside.display()
        );
        fs_err::rename(&dir, &aside)?;
    }
    // The pending list is moot: every call is re-indexed.
    let _ = fs_err::remove_file(pending_path(out_dir));
    let mut w = IndexWriterHandle::open_with(out_dir, options, false)?;
    w.delete_all()?;
    let mut report = RebuildReport::default();
    for call_id in transcript_ids(out_dir)? {
        let path = transcript_path(out_dir, &call_id);
        match read_transcript(&path) {
            Ok(t) => {
                report.calls += 1;
                report.segments += t.segments.len();
                w.replace(&t)?;
            }
            Err(e) => report.failed.push(e.to_string()),
        }
    }
    w.commit()?;
    w.close()?;
    Ok(report)
}

/// Counts of what an index holds, for `index stats` and tests.
pub fn kind_count(index: &Index, fields: &Fields, kind: &str) -> Result<usize> {
    let searcher = index
        .reader()
        .map_err(|e| Error::Other(format!("index: {e}")))?
        .searcher();
    let q = tantivy::query::TermQuery::new(
        Term::from_field_text(fields.kind, kind),
        tantivy::schema::IndexRecordOption::Basic,
    );
    searcher
        .search(&q, &tantivy::collector::Count)
        .map_err(|e| Error::Other(format!("index: {e}")))
}

/// Calls in the index.
pub fn call_count(index: &Index, fields: &Fields) -> Result<usize> {
    kind_count(index, fields, KIND_CALL)
}
