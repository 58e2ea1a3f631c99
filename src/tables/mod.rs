//! The Parquet analytics tables under `OUT/parquet/` (the only module that
//! names `arrow` or `parquet`): their schema, the tables sink of `run` and
//! `import`, `tables rebuild`, and [`read_calls`], [`read_hits`] and
//! [`read_scores`] for `callsift report`.
//!
//! # Layout
//!
//! ```text
//! OUT/parquet/calls/date=YYYY-MM-DD/part-<commit id>-<n>.parquet
//! OUT/parquet/segments/date=YYYY-MM-DD/part-<commit id>-<n>.parquet
//! OUT/parquet/hits/date=YYYY-MM-DD/part-<commit id>-<n>.parquet
//! OUT/parquet/scores/date=YYYY-MM-DD/part-<commit id>-<n>.parquet
//! OUT/tables.pending          calls accepted since the last commit
//! OUT/tables.lock             held (flock) by the one writer
//! OUT/.tables-staging/<commit id>/…   a commit being made
//! ```
//!
//! Hive partitions by the UTC date of `call_start`
//! (`date=__HIVE_DEFAULT_PARTITION__` when a call has none); the partition
//! column is not inside the files. A call's segments, hits and scores
//! always live in the partition of its call row (they are staged and
//! swapped with it, so a call that moves takes them along). `hits` and
//! `scores` come from the transcript's `analysis` block: a call without
//! one has no rows there, and a partition without any has no part in
//! them (the table's folder still exists). Each partition holds one part
//! file per table (more only above [`TablesOptions::max_rows_per_file`]
//! rows), sorted by `(call_start, call_id[, seg_no])` (hits by `start_ms,
//! rule` after the call, scores by `scorecard, criterion_no`),
//! zstd-compressed. Columns are in
//! [`schema`]. Timestamps are stored to the microsecond; unsigned values
//! above the signed maximum (absurd for times and counts) are clamped.
//! `OUT/parquet/` belongs to callsift: a file put into a partition by hand
//! is deleted by the next commit of that partition.
//!
//! # Commit protocol
//!
//! The sink buffers rows and commits every
//! [`TablesOptions::commit_every_calls`] calls or
//! [`TablesOptions::commit_every`], and at `finish`. A commit:
//!
//! 1. finds which partitions hold the batch's call ids (only the `call_id`
//!    column of the calls parts is read, and a part already read is not
//!    read again: part names are unique and parts never change);
//! 2. for every affected partition (where a call was and where it goes)
//!    builds the partition's complete new content of every table (old
//!    rows minus the batch's call ids, plus the new rows, sorted) in
//!    `OUT/.tables-staging/<commit id>/<table>/<partition>/`, outside
//!    `OUT/parquet/` so no reader's glob sees it, and fsyncs files and dirs.
//!    Rewriting whole partitions is what keeps one part per partition: a
//!    run of 10,000 calls leaves a file per table per date, not 10,000;
//! 3. writes the journal `COMMIT.json` (temp, fsync, rename) listing each
//!    partition swap and the exact new file names;
//! 4. swaps each partition directory into place with
//!    `renameat2(RENAME_EXCHANGE)` (a new partition is a plain rename; an
//!    emptied one is renamed away), partitions that only lose calls first,
//!    then fsyncs the table dirs;
//! 5. deletes the journal, then the staging dir (now holding the old
//!    contents).
//!
//! [`TablesWriter::open`] rolls an interrupted commit forward from its
//! journal; a swap is done when its target holds exactly the journal's
//! file names, so rolling forward twice is harmless. A staging dir without
//! a (complete) journal is deleted: the old rows stay. A commit that failed
//! (an I/O error) is finished or discarded the same way before the same
//! writer's next commit, so no commit builds on a half-swapped state. The
//! calls of an interrupted or discarded commit are still in
//! `OUT/tables.pending` (it is emptied only after a commit), and the sink's
//! open commits them again from their transcripts, together with any
//! transcript whose call has no row (a crash before the call id reached the
//! pending list); a backlog of more than a batch is caught up by one
//! rebuild instead, which writes each partition once.
//!
//! One writer at a time: [`TablesWriter`] holds an exclusive `flock` on
//! `OUT/tables.lock` (two writers would undo each other's commits, and
//! one's open would discard the other's staging). Readers take no lock.
//! Staging and `OUT/parquet` must be on one file system (renames), so
//! `OUT/parquet` cannot be a mount point or a symlink to another disk.
//!
//! What a reader sees: each partition directory of each table is replaced
//! by one atomic exchange, so a file it opens is always whole and a
//! partition shows its old rows or its new ones. Swapping the calls,
//! segments, hits and scores partitions of one date are four renames, and a commit
//! touching several dates swaps them one after another: for that moment a
//! reader can see new calls beside old segments or hits, or a call that moved to
//! another date in neither partition (never in both when that is the only
//! change, since losing partitions go first). A reader that listed the
//! files just before a swap may find an old part deleted when it opens it
//! and should list again ([`read_calls`] does).
//!
//! Where `RENAME_EXCHANGE` is not supported (`EINVAL`/`ENOTSUP`: some
//! network file systems; any system but Linux), a swap is two renames: the
//! old directory away, then the new one in. Between them the partition is
//! missing and a reader sees no rows of that date; a crash between them is
//! rolled forward like any other.
//!
//! `tables rebuild` ([`rebuild`]) builds every table from
//! `OUT/transcripts/` alone into `OUT/.tables-staging/<id>/parquet/`
//! (spilling to staging above [`TablesOptions::rebuild_buffer_rows`] and
//! merging per partition at the end) and swaps the whole `OUT/parquet`
//! directory with the same journal: readers see the old tables or the new
//! ones (with the fallback, briefly none).
//!
//! Cost: a commit rewrites every partition it touches, all four tables. Calls
//! that arrive roughly in date order (a run over a dated archive) touch one
//! or two partitions per batch; calls in random date order touch most of
//! them, so each batch rewrites most of the table. For such bulk loads one
//! `tables rebuild` afterwards writes each partition once (`benches/tables.rs`
//! measures both). Directory fsyncs are best effort, as in
//! [`crate::atomic`]: some file systems refuse them.

mod journal;
mod parts;
mod rebuild;
pub mod schema;
mod sink;
pub(crate) use sink::pending_path;
mod writer;

use std::path::{Path, PathBuf};
use std::time::Duration;

use crate::analyze::MetricsSettings;
use crate::error::{Error, Result};
use crate::model::{CallRow, HitRow, ScoreRow, SegmentRow, Transcript};

pub use rebuild::{FailedTranscript, RebuildReport, rebuild, rebuild_with};
pub use sink::TablesSink;
pub use writer::{CommitReport, TablesWriter};

/// Partition of calls without a `call_start` (Hive's name for a null key).
pub const DEFAULT_PARTITION: &str = "date=__HIVE_DEFAULT_PARTITION__";

/// One call's rows of every table.
#[derive(Debug, Clone, PartialEq)]
pub struct CallRows {
    pub call: CallRow,
    pub segments: Vec<SegmentRow>,
    /// From the transcript's `analysis`; empty without one.
    pub hits: Vec<HitRow>,
    pub scores: Vec<ScoreRow>,
}

impl CallRows {
    /// The rows of a transcript (through [`crate::analyze`]).
    pub fn of(t: &Transcript, settings: &MetricsSettings) -> Self {
        let (call, segments) = crate::analyze::rows(t, settings);
        CallRows {
            call,
            segments,
            hits: crate::analyze::hit_rows(t),
            scores: crate::analyze::score_rows(t),
        }
    }
}

/// How the tables are written.
#[derive(Debug, Clone)]
pub struct TablesOptions {
    /// Calls the sink buffers before it commits.
    pub commit_every_calls: usize,
    /// Longest time between two commits while calls keep coming.
    pub commit_every: Duration,
    /// A partition's table is split into several part files above this.
    pub max_rows_per_file: usize,
    /// Rows per Parquet row group.
    pub row_group_rows: usize,
    pub zstd_level: i32,
    /// Rows (of all tables) `rebuild` holds in memory before it
    /// spills them to staging and merges them per partition at the end.
    pub rebuild_buffer_rows: usize,
    /// Test hook: never try `RENAME_EXCHANGE`, always the two-rename fallback.
    #[doc(hidden)]
    pub no_exchange: bool,
    /// Test hook: stop a commit at this point with an error, as a kill would.
    #[doc(hidden)]
    pub fail_point: Option<FailPoint>,
}

impl Default for TablesOptions {
    fn default() -> Self {
        TablesOptions {
            commit_every_calls: 500,
            commit_every: Duration::from_secs(60),
            max_rows_per_file: 1_000_000,
            row_group_rows: 128 * 1024,
            zstd_level: 3,
            rebuild_buffer_rows: 2_000_000,
            no_exchange: false,
            fail_point: None,
        }
    }
}

/// Where a commit stops when [`TablesOptions::fail_point`] says so.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailPoint {
    /// Staged and synced, no journal yet.
    BeforeJournal,
    /// Journal written, nothing swapped.
    AfterJournal,
    /// After this many swaps.
    AfterSwaps(usize),
}

/// `OUT/parquet`.
pub fn tables_dir(out_dir: &Path) -> PathBuf {
    out_dir.join("parquet")
}

/// `OUT/parquet/<table>`.
pub fn table_dir(out_dir: &Path, table: &str) -> PathBuf {
    tables_dir(out_dir).join(table)
}

/// The partition directory name of a call: `date=YYYY-MM-DD` (UTC).
pub fn partition_of(call_start: Option<jiff::Timestamp>) -> String {
    match call_start {
        Some(ts) => ts.strftime("date=%Y-%m-%d").to_string(),
        None => DEFAULT_PARTITION.to_string(),
    }
}

/// Every row of `OUT/parquet/calls`, by date, then as sorted in the files.
pub fn read_calls(out_dir: &Path) -> Result<Vec<CallRow>> {
    parts::read_table::<CallRow>(out_dir)
}

/// Every row of `OUT/parquet/segments`, by date, then as sorted in the files.
pub fn read_segments(out_dir: &Path) -> Result<Vec<SegmentRow>> {
    parts::read_table::<SegmentRow>(out_dir)
}

/// Every row of `OUT/parquet/hits`, by date, then as sorted in the files.
/// Empty when no call has hits, also for tables written before `hits`
/// existed (calls there, no `hits` folder yet).
pub fn read_hits(out_dir: &Path) -> Result<Vec<HitRow>> {
    parts::read_table::<HitRow>(out_dir)
}

/// Every row of `OUT/parquet/scores`, by date, then as sorted in the files;
/// empty as for [`read_hits`].
pub fn read_scores(out_dir: &Path) -> Result<Vec<ScoreRow>> {
    parts::read_table::<ScoreRow>(out_dir)
}

/// Replaces the tables of `out_dir` with the rows of the shards' tables
/// (`callsift merge`): each call's rows come from the one shard that owns
/// it (`owned`); rows are copied as stored, nothing is derived again from
/// the transcripts. Every shard is read before anything is written, so a
/// shard whose tables do not read leaves the merged tables as they were.
pub fn merge_into(
    out_dir: &Path,
    shards: &[(&Path, &std::collections::HashSet<String>)],
) -> Result<CommitReport> {
    let mut rows: Vec<CallRows> = Vec::new();
    for (shard, owned) in shards {
        rows.extend(shard_rows(shard, owned)?);
    }
    let mut writer = TablesWriter::open(out_dir, TablesOptions::default())?;
    writer.rebuild_from(rows)
}

/// One shard's rows of the calls it owns, grouped by call.
fn shard_rows(shard: &Path, owned: &std::collections::HashSet<String>) -> Result<Vec<CallRows>> {
    use std::collections::BTreeMap;
    // A shard whose slice had no recordings never wrote tables.
    if !table_dir(shard, "calls").is_dir() {
        return Ok(Vec::new());
    }
    let mut by_call: BTreeMap<String, CallRows> = BTreeMap::new();
    for call in read_calls(shard)? {
        if owned.contains(&call.call_id) {
            by_call.insert(
                call.call_id.clone(),
                CallRows {
                    call,
                    segments: Vec::new(),
                    hits: Vec::new(),
                    scores: Vec::new(),
                },
            );
        }
    }
    for s in read_segments(shard)? {
        if let Some(c) = by_call.get_mut(&s.call_id) {
            c.segments.push(s);
        }
    }
    for h in read_hits(shard)? {
        if let Some(c) = by_call.get_mut(&h.call_id) {
            c.hits.push(h);
        }
    }
    for s in read_scores(shard)? {
        if let Some(c) = by_call.get_mut(&s.call_id) {
            c.scores.push(s);
        }
    }
    Ok(by_call.into_values().collect())
}

/// A Parquet or Arrow error as ours, naming the file.
fn parquet_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Other(format!("{}: parquet: {e}", path.display()))
}

/// An I/O error as ours, naming the path and what was being done.
fn io_error(path: &Path, what: &str, e: std::io::Error) -> Error {
    Error::Io(std::io::Error::new(
        e.kind(),
        format!("{}: {what}: {e}", path.display()),
    ))
}

/// Creates a directory and its parents, each exactly
/// [`crate::atomic::DIR_MODE`] (0750: personal data).
fn create_private_dir_all(dir: &Path) -> Result<()> {
    crate::atomic::create_dir_all(dir)
}

/// Flushes a directory's entries (renames, new files) to disk. Best
/// effort, like [`crate::atomic`]: not every file system syncs directories.
fn sync_dir(dir: &Path) {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
}
