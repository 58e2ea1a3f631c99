//! [`TablesWriter`]: the single writer of `OUT/parquet/`. It holds
//! `OUT/tables.lock`, finishes interrupted commits when it opens, and
//! commits batches of calls (replacing earlier rows of the same calls) or
//! a whole new set of tables (rebuild).

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::path::{Path, PathBuf};

use super::journal::{self, Stage, Swap};
use super::parts::{self, part_names, partitions, read_ids, read_part, write_parts};
use super::schema::{CALLS, HITS, SCORES, SEGMENTS, TABLES, TableRow};
use super::{CallRows, TablesOptions, create_private_dir_all, io_error, partition_of, table_dir};
use crate::error::{Error, Result};
use crate::model::{CallRow, HitRow, ScoreRow, SegmentRow};

/// What one commit wrote.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CommitReport {
    /// Empty when there was nothing to commit.
    pub commit_id: String,
    /// Calls, segments, hits and scores rows committed (new or replacing).
    pub calls: usize,
    pub segments: usize,
    pub hits: usize,
    pub scores: usize,
    /// Partition directories swapped (of all tables).
    pub partitions: usize,
    /// Part files written.
    pub files: usize,
}

/// The call ids in one calls partition, and the parts they were read from.
struct CachedPartition {
    parts: BTreeSet<String>,
    ids: HashSet<String>,
}

/// Rows of every table for one partition.
#[derive(Default)]
struct PartitionRows {
    calls: Vec<CallRow>,
    segments: Vec<SegmentRow>,
    hits: Vec<HitRow>,
    scores: Vec<ScoreRow>,
}

impl PartitionRows {
    /// Adds one call's rows (all of them go to the call row's partition).
    fn push(&mut self, rows: CallRows) {
        self.calls.push(rows.call);
        self.segments.extend(rows.segments);
        self.hits.extend(rows.hits);
        self.scores.extend(rows.scores);
    }
}

/// The single writer of `OUT/parquet/`.
pub struct TablesWriter {
    out_dir: PathBuf,
    options: TablesOptions,
    /// The partition of every committed call, by calls partition.
    cache: BTreeMap<String, CachedPartition>,
    /// Holds the `flock` on `OUT/tables.lock` while the writer lives.
    _lock: std::fs::File,
}

/// `OUT/tables.lock`.
fn lock_path(out_dir: &Path) -> PathBuf {
    out_dir.join("tables.lock")
}

/// Takes the writer's lock, or says who holds it. Two writers would undo
/// each other's commits, and one's open would discard the other's staging.
fn lock(out_dir: &Path) -> Result<std::fs::File> {
    let path = lock_path(out_dir);
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, crate::atomic::FILE_MODE);
    let file = options
        .open(&path)
        .map_err(|e| io_error(&path, "cannot open", e))?;
    crate::atomic::set_file_mode(&file, &path)?;
    #[cfg(unix)]
    rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive).map_err(
        |e| match e {
            rustix::io::Errno::WOULDBLOCK => Error::Other(format!(
                "{}: another callsift process is writing the tables",
                path.display()
            )),
            e => io_error(&path, "cannot lock", e.into()),
        },
    )?;
    Ok(file)
}

impl TablesWriter {
    /// Takes the lock, finishes or discards what an interrupted commit left
    /// in `OUT/.tables-staging/`, and creates the table dirs (0750).
    pub fn open(out_dir: &Path, options: TablesOptions) -> Result<Self> {
        crate::atomic::create_dir_all(out_dir)?;
        let lock = lock(out_dir)?;
        journal::recover(out_dir, &options)?;
        for table in TABLES {
            create_private_dir_all(&table_dir(out_dir, table))?;
        }
        Ok(TablesWriter {
            out_dir: out_dir.to_path_buf(),
            options,
            cache: BTreeMap::new(),
            _lock: lock,
        })
    }

    pub fn out_dir(&self) -> &Path {
        &self.out_dir
    }

    pub fn options(&self) -> &TablesOptions {
        &self.options
    }

    /// Test hook: change the options (a fail point) of an open writer.
    #[doc(hidden)]
    pub fn options_mut(&mut self) -> &mut TablesOptions {
        &mut self.options
    }

    /// Every call id in the calls table.
    pub fn call_ids(&mut self) -> Result<HashSet<String>> {
        self.refresh_cache()?;
        Ok(self
            .cache
            .values()
            .flat_map(|p| p.ids.iter().cloned())
            .collect())
    }

    /// Finishes (journal) or discards (no journal) what an earlier commit of
    /// this writer left in staging when it failed, so the next commit never
    /// builds on a half-swapped state, and a later open never replays an
    /// old journal over newer rows. Usually one empty directory listing.
    fn finish_failed(&mut self) -> Result<()> {
        let options = TablesOptions {
            fail_point: None,
            ..self.options.clone()
        };
        journal::recover(&self.out_dir, &options).map(|_| ())
    }

    /// Brings the id cache up to date with the calls partitions on disk,
    /// reading the `call_id` column of parts not seen before only.
    fn refresh_cache(&mut self) -> Result<()> {
        let dir = table_dir(&self.out_dir, CALLS);
        let on_disk = partitions(&dir)?;
        self.cache.retain(|p, _| on_disk.contains(p));
        for p in on_disk {
            let pdir = dir.join(&p);
            let names = part_names(&pdir)?;
            if self.cache.get(&p).is_some_and(|c| c.parts == names) {
                continue;
            }
            let mut ids = HashSet::new();
            for name in &names {
                ids.extend(read_ids(&pdir.join(name))?);
            }
            self.cache.insert(p, CachedPartition { parts: names, ids });
        }
        Ok(())
    }

    /// Commits a batch: each call's rows replace any earlier rows of the
    /// same call id, wherever they are (a later duplicate in the batch
    /// wins). See the module docs for the protocol.
    pub fn commit(&mut self, batch: &[CallRows]) -> Result<CommitReport> {
        let mut by_id: HashMap<&str, &CallRows> = HashMap::with_capacity(batch.len());
        for rows in batch {
            by_id.insert(&rows.call.call_id, rows);
        }
        if by_id.is_empty() {
            return Ok(CommitReport::default());
        }
        self.finish_failed()?;
        self.refresh_cache()?;
        let ids: HashSet<String> = by_id.keys().map(|id| id.to_string()).collect();
        let mut report = CommitReport {
            calls: by_id.len(),
            ..CommitReport::default()
        };
        let mut by_partition: BTreeMap<String, PartitionRows> = BTreeMap::new();
        for (_, rows) in by_id {
            report.segments += rows.segments.len();
            report.hits += rows.hits.len();
            report.scores += rows.scores.len();
            by_partition
                .entry(partition_of(rows.call.call_start))
                .or_default()
                .push(rows.clone());
        }
        // Partitions that only lose calls: swapped first, so a call moving
        // to another date is briefly in neither, never in both.
        let losing: Vec<String> = self
            .cache
            .iter()
            .filter(|(p, c)| {
                !by_partition.contains_key(*p) && ids.iter().any(|id| c.ids.contains(id))
            })
            .map(|(p, _)| p.clone())
            .collect();
        let stage = Stage::create(&self.out_dir)?;
        let mut swaps = Vec::new();
        let order = losing.into_iter().map(|p| (p, PartitionRows::default()));
        // Every table of a partition is staged, even one the batch has no
        // rows for: a replaced call's old hits and scores must go too.
        for (p, rows) in order.chain(by_partition) {
            swaps.extend(self.stage_table(&stage, &p, rows.calls, &ids)?);
            swaps.extend(self.stage_table(&stage, &p, rows.segments, &ids)?);
            swaps.extend(self.stage_table(&stage, &p, rows.hits, &ids)?);
            swaps.extend(self.stage_table(&stage, &p, rows.scores, &ids)?);
        }
        report.commit_id = stage.id.clone();
        report.partitions = swaps.len();
        report.files = swaps.iter().map(|s| s.files.len()).sum();
        journal::commit(&self.out_dir, &stage, swaps, &self.options)?;
        Ok(report)
    }

    /// Removes every row of these calls from every table (retention): each
    /// partition holding one is rewritten without them, one left empty is
    /// dropped, with the same journaled swaps as [`TablesWriter::commit`].
    pub fn remove_calls(&mut self, ids: &HashSet<String>) -> Result<CommitReport> {
        if ids.is_empty() {
            return Ok(CommitReport::default());
        }
        self.finish_failed()?;
        self.refresh_cache()?;
        let losing: Vec<String> = self
            .cache
            .iter()
            .filter(|(_, c)| ids.iter().any(|id| c.ids.contains(id)))
            .map(|(p, _)| p.clone())
            .collect();
        if losing.is_empty() {
            return Ok(CommitReport::default());
        }
        let stage = Stage::create(&self.out_dir)?;
        let mut swaps = Vec::new();
        for p in &losing {
            swaps.extend(self.stage_table::<CallRow>(&stage, p, Vec::new(), ids)?);
            swaps.extend(self.stage_table::<SegmentRow>(&stage, p, Vec::new(), ids)?);
            swaps.extend(self.stage_table::<HitRow>(&stage, p, Vec::new(), ids)?);
            swaps.extend(self.stage_table::<ScoreRow>(&stage, p, Vec::new(), ids)?);
        }
        let report = CommitReport {
            commit_id: stage.id.clone(),
            calls: losing
                .iter()
                .map(|p| {
                    ids.iter()
                        .filter(|id| self.cache[p].ids.contains(*id))
                        .count()
                })
                .sum(),
            partitions: swaps.len(),
            files: swaps.iter().map(|s| s.files.len()).sum(),
            ..CommitReport::default()
        };
        journal::commit(&self.out_dir, &stage, swaps, &self.options)?;
        Ok(report)
    }

    /// Stages one table's new content of one partition: its old rows minus
    /// `replaced` call ids, plus `new_rows`. `None` when there is nothing
    /// to swap (no old rows, no new ones).
    fn stage_table<R: TableRow>(
        &self,
        stage: &Stage,
        partition: &str,
        mut rows: Vec<R>,
        replaced: &HashSet<String>,
    ) -> Result<Option<Swap>> {
        let target = format!("parquet/{}/{partition}", R::TABLE);
        let target_dir = self.out_dir.join(&target);
        let old = part_names(&target_dir)?;
        for name in &old {
            let kept = read_part::<R>(&target_dir.join(name))?;
            rows.extend(kept.into_iter().filter(|r| !replaced.contains(r.call_id())));
        }
        if rows.is_empty() {
            return Ok((!old.is_empty()).then(|| Swap {
                target,
                staged: None,
                files: Vec::new(),
            }));
        }
        let staged = format!("{}/{partition}", R::TABLE);
        let prefix = format!("part-{}", stage.id);
        let files = write_parts(&stage.dir.join(&staged), &prefix, rows, &self.options)?;
        Ok(Some(Swap {
            target,
            staged: Some(staged),
            files,
        }))
    }

    /// Replaces every table whole with `rows` (call ids must be unique),
    /// swapping `OUT/parquet` in one exchange. Rows beyond
    /// [`TablesOptions::rebuild_buffer_rows`] are spilled to staging and
    /// merged per partition at the end, so memory stays bounded by one
    /// partition plus the buffer.
    pub fn rebuild_from(
        &mut self,
        rows: impl IntoIterator<Item = CallRows>,
    ) -> Result<CommitReport> {
        self.finish_failed()?;
        let stage = Stage::create(&self.out_dir)?;
        let mut spill = Spill::new(stage.dir.join("spill"));
        let mut report = CommitReport {
            commit_id: stage.id.clone(),
            ..CommitReport::default()
        };
        let mut buffered = 0;
        for r in rows {
            report.calls += 1;
            report.segments += r.segments.len();
            report.hits += r.hits.len();
            report.scores += r.scores.len();
            buffered += 1 + r.segments.len() + r.hits.len() + r.scores.len();
            spill
                .buffer
                .entry(partition_of(r.call.call_start))
                .or_default()
                .push(r);
            if buffered >= self.options.rebuild_buffer_rows {
                spill.spill(&self.options)?;
                buffered = 0;
            }
        }
        let files = spill.finish(&stage, &self.options)?;
        report.partitions = 1;
        report.files = files.len();
        let swap = Swap {
            target: "parquet".into(),
            staged: Some("parquet".into()),
            files,
        };
        journal::commit(&self.out_dir, &stage, vec![swap], &self.options)?;
        self.cache.clear();
        Ok(report)
    }
}

/// Rebuild's buffer, and the spill parts written when it fills.
struct Spill {
    dir: PathBuf,
    buffer: BTreeMap<String, PartitionRows>,
    /// Spill part paths by (table, partition).
    parts: BTreeMap<(&'static str, String), Vec<PathBuf>>,
    next: usize,
}

impl Spill {
    fn new(dir: PathBuf) -> Self {
        Spill {
            dir,
            buffer: BTreeMap::new(),
            parts: BTreeMap::new(),
            next: 0,
        }
    }

    fn spill(&mut self, options: &TablesOptions) -> Result<()> {
        for (p, rows) in std::mem::take(&mut self.buffer) {
            self.spill_table(&p, rows.calls, options)?;
            self.spill_table(&p, rows.segments, options)?;
            self.spill_table(&p, rows.hits, options)?;
            self.spill_table(&p, rows.scores, options)?;
        }
        Ok(())
    }

    fn spill_table<R: TableRow>(
        &mut self,
        p: &str,
        rows: Vec<R>,
        options: &TablesOptions,
    ) -> Result<()> {
        let dir = self.dir.join(R::TABLE).join(p);
        let prefix = format!("spill-{}", self.next);
        self.next += 1;
        let names = write_parts(&dir, &prefix, rows, options)?;
        let list = self.parts.entry((R::TABLE, p.to_string())).or_default();
        list.extend(names.into_iter().map(|n| dir.join(n)));
        Ok(())
    }

    /// Writes the final parts of every partition into `<stage>/parquet/`,
    /// deletes the spill, and returns the parts relative to that dir.
    fn finish(mut self, stage: &Stage, options: &TablesOptions) -> Result<Vec<String>> {
        let root = stage.dir.join("parquet");
        for table in TABLES {
            create_private_dir_all(&root.join(table))?;
        }
        let mut names: BTreeSet<String> = self.buffer.keys().cloned().collect();
        names.extend(self.parts.keys().map(|(_, p)| p.clone()));
        let prefix = format!("part-{}", stage.id);
        let mut files = Vec::new();
        for p in names {
            let rows = self.buffer.remove(&p).unwrap_or_default();
            for (table, written) in [
                (CALLS, self.merge(&root, &p, &prefix, rows.calls, options)?),
                (
                    SEGMENTS,
                    self.merge(&root, &p, &prefix, rows.segments, options)?,
                ),
                (HITS, self.merge(&root, &p, &prefix, rows.hits, options)?),
                (
                    SCORES,
                    self.merge(&root, &p, &prefix, rows.scores, options)?,
                ),
            ] {
                files.extend(written.into_iter().map(|n| format!("{table}/{p}/{n}")));
            }
        }
        if self.dir.exists() {
            std::fs::remove_dir_all(&self.dir)
                .map_err(|e| io_error(&self.dir, "cannot remove", e))?;
        }
        Ok(files)
    }

    fn merge<R: TableRow>(
        &mut self,
        root: &Path,
        p: &str,
        prefix: &str,
        mut rows: Vec<R>,
        options: &TablesOptions,
    ) -> Result<Vec<String>> {
        for path in self
            .parts
            .remove(&(R::TABLE, p.to_string()))
            .unwrap_or_default()
        {
            rows.extend(parts::read_part::<R>(&path)?);
            std::fs::remove_file(&path).map_err(|e| io_error(&path, "cannot remove", e))?;
        }
        write_parts(&root.join(R::TABLE).join(p), prefix, rows, options)
    }
}
