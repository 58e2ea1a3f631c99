//! `OUT/manifest.redb`: the recordings a run has finished, so the next
//! night's run does only what is new (the only module naming `redb`).
//!
//! Two tables. `paths`: a recording's path → its size, mtime and call id
//! when it was done, so an unchanged file is known from `stat` alone,
//! without reading it. `calls`: a call id (the content hash) → the model
//! and settings fingerprint it was transcribed with, so a renamed or copied
//! recording is recognised by its content, and a call made with another
//! model or other settings is "stale".
//!
//! The manifest is the last sink ([`ManifestSink`]): a call enters it only
//! after its transcript is written and every derived output accepted it
//! (the index and tables catch up from the transcripts on their next open
//! if they had not committed it yet), in commits of [`RECORD_EVERY`] calls,
//! so a killed run leaves at most that many finished calls out of the
//! manifest (done again next time, which replaces their outputs), never a
//! call in it without its outputs. redb commits are atomic and durable
//! (fsync), so the file is whole after any crash.
//!
//! A third table, `purged`: a call id → when retention purged it
//! ([`PurgedEntry`], written by [`crate::purge`]), so a purged recording
//! that reappears on the share is skipped (not transcribed again) unless
//! `--force`. An entry is written before anything of the call is removed
//! (`finished: false`) and finished after, so a killed purge is completed
//! by the next one.

use std::path::{Path, PathBuf};

use redb::{Database, ReadableTable, TableDefinition};
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

const PATHS: TableDefinition<&str, &[u8]> = TableDefinition::new("paths");
const CALLS: TableDefinition<&str, &[u8]> = TableDefinition::new("calls");
const PURGED: TableDefinition<&str, &[u8]> = TableDefinition::new("purged");

/// `OUT/manifest.redb`.
pub fn manifest_path(out_dir: &Path) -> PathBuf {
    out_dir.join("manifest.redb")
}

/// What a path looked like when its call was done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PathEntry {
    pub size: u64,
    /// Modification time, nanoseconds since the epoch.
    pub mtime_ns: i128,
    pub call_id: String,
}

/// How a call was made.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CallEntry {
    pub model: String,
    /// [`fingerprint`] of the settings it was transcribed with.
    pub fingerprint: String,
    pub processed_at: jiff::Timestamp,
    /// The path it was first done from.
    pub path: String,
}

/// A call retention purged (or is purging).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PurgedEntry {
    pub purged_at: jiff::Timestamp,
    pub call_start: Option<jiff::Timestamp>,
    /// The recording it was made from, for `--delete-recordings`.
    pub source_path: String,
    /// Whether the purge was asked to delete the recording too (a later
    /// purge finishing this one does what this one was asked).
    pub delete_recording: bool,
    /// Every output of the call is gone and its done entries removed.
    pub finished: bool,
}

/// A file's size and mtime, the cheap part of "is it unchanged?".
pub fn stat(path: &Path) -> Result<(u64, i128)> {
    let meta = fs_err::metadata(path)?;
    let mtime = meta
        .modified()
        .ok()
        .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
        .map_or(0, |d| d.as_nanos() as i128);
    Ok((meta.len(), mtime))
}

/// The settings that change a transcript (speakers, VAD, decoding,
/// guards, metadata), as one hash: another value makes a call stale.
pub fn fingerprint(p: &crate::config::PipelineFile) -> String {
    let parts = serde_json::json!({
        "speakers": p.speakers,
        "vad": p.vad,
        "whisper": p.whisper,
        "guards": p.guards,
        "metadata": p.metadata,
    });
    let hash = blake3::hash(parts.to_string().as_bytes());
    hash.to_hex()[..16].to_string()
}

/// The open manifest of an output folder.
pub struct Manifest {
    db: Database,
    path: PathBuf,
    /// Whether any call is known (else an unknown path need not be hashed).
    knows_calls: bool,
}

fn db_error(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Other(format!("{}: manifest: {e}", path.display()))
}

impl Manifest {
    /// Opens (or creates) `OUT/manifest.redb`.
    pub fn open(out_dir: &Path) -> Result<Self> {
        let path = manifest_path(out_dir);
        let db = Database::create(&path).map_err(|e| db_error(&path, e))?;
        // redb creates the file with the umask's mode.
        crate::atomic::set_mode(&path, crate::atomic::FILE_MODE)?;
        let mut m = Manifest {
            db,
            path,
            knows_calls: false,
        };
        // Both tables exist from the start, so reads never meet a missing one.
        let tx = m.db.begin_write().map_err(|e| m.err(e))?;
        tx.open_table(PATHS).map_err(|e| m.err(e))?;
        tx.open_table(CALLS).map_err(|e| m.err(e))?;
        tx.open_table(PURGED).map_err(|e| m.err(e))?;
        tx.commit().map_err(|e| m.err(e))?;
        let tx = m.db.begin_read().map_err(|e| m.err(e))?;
        let calls = tx.open_table(CALLS).map_err(|e| m.err(e))?;
        let purged = tx.open_table(PURGED).map_err(|e| m.err(e))?;
        // A purged call is known too: its recording must be recognised by content.
        m.knows_calls = !redb::ReadableTableMetadata::is_empty(&calls).map_err(|e| m.err(e))?
            || !redb::ReadableTableMetadata::is_empty(&purged).map_err(|e| m.err(e))?;
        drop(calls);
        drop(purged);
        drop(tx);
        Ok(m)
    }

    /// Opens an existing manifest read-only in effect (`status`); `None` if there is none.
    pub fn open_existing(out_dir: &Path) -> Result<Option<Self>> {
        if !manifest_path(out_dir).is_file() {
            return Ok(None);
        }
        Self::open(out_dir).map(Some)
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        db_error(&self.path, e)
    }

    fn get<T: for<'de> Deserialize<'de>>(
        &self,
        table: TableDefinition<&str, &[u8]>,
        key: &str,
    ) -> Result<Option<T>> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = tx.open_table(table).map_err(|e| self.err(e))?;
        let Some(v) = t.get(key).map_err(|e| self.err(e))? else {
            return Ok(None);
        };
        serde_json::from_slice(v.value())
            .map(Some)
            .map_err(|e| self.err(format!("entry {key}: {e}")))
    }

    pub fn path_entry(&self, path: &str) -> Result<Option<PathEntry>> {
        self.get(PATHS, path)
    }

    pub fn call_entry(&self, call_id: &str) -> Result<Option<CallEntry>> {
        self.get(CALLS, call_id)
    }

    pub fn purged_entry(&self, call_id: &str) -> Result<Option<PurgedEntry>> {
        self.get(PURGED, call_id)
    }

    /// Records finished calls in one commit: `(path, path entry, call entry)`.
    pub fn record(&self, done: &[(String, PathEntry, CallEntry)]) -> Result<()> {
        if done.is_empty() {
            return Ok(());
        }
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut paths = tx.open_table(PATHS).map_err(|e| self.err(e))?;
            let mut calls = tx.open_table(CALLS).map_err(|e| self.err(e))?;
            let mut purged = tx.open_table(PURGED).map_err(|e| self.err(e))?;
            for (path, p, c) in done {
                let pv = serde_json::to_vec(p).map_err(|e| self.err(e))?;
                paths
                    .insert(path.as_str(), pv.as_slice())
                    .map_err(|e| self.err(e))?;
                let cv = serde_json::to_vec(c).map_err(|e| self.err(e))?;
                calls
                    .insert(p.call_id.as_str(), cv.as_slice())
                    .map_err(|e| self.err(e))?;
                // Transcribed again (`--force`): no longer purged.
                purged.remove(p.call_id.as_str()).map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// Records that `path` holds an already known call (a renamed or copied recording).
    pub fn record_path(&self, path: &str, entry: &PathEntry) -> Result<()> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut paths = tx.open_table(PATHS).map_err(|e| self.err(e))?;
            let v = serde_json::to_vec(entry).map_err(|e| self.err(e))?;
            paths.insert(path, v.as_slice()).map_err(|e| self.err(e))?;
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// The calls some recording's path holds now (not those whose file
    /// changed since), for `status`.
    pub fn live_calls(&self) -> Result<Vec<(String, CallEntry)>> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let paths = tx.open_table(PATHS).map_err(|e| self.err(e))?;
        let mut ids = std::collections::BTreeSet::new();
        for item in paths.iter().map_err(|e| self.err(e))? {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let entry: PathEntry = serde_json::from_slice(v.value())
                .map_err(|e| self.err(format!("entry {}: {e}", k.value())))?;
            ids.insert(entry.call_id);
        }
        let mut out = Vec::new();
        for id in ids {
            if let Some(c) = self.call_entry(&id)? {
                out.push((id, c));
            }
        }
        Ok(out)
    }
}

impl Manifest {
    /// Step 1 of a purge: records the calls about to be purged
    /// (`finished: false`), in one commit, before any output is touched.
    pub fn begin_purge(&self, entries: &[(String, PurgedEntry)]) -> Result<()> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut purged = tx.open_table(PURGED).map_err(|e| self.err(e))?;
            for (id, entry) in entries {
                let v = serde_json::to_vec(entry).map_err(|e| self.err(e))?;
                purged
                    .insert(id.as_str(), v.as_slice())
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }

    /// The calls a killed purge left unfinished (their outputs may be partly there).
    pub fn unfinished_purges(&self) -> Result<Vec<(String, PurgedEntry)>> {
        unfinished_in(&self.db, &self.path)
    }

    /// The last step of a purge: the calls' done entries (by call and every
    /// path holding them) go, and their purged entries are finished, in one
    /// commit.
    pub fn finish_purge(&self, ids: &std::collections::BTreeSet<String>) -> Result<()> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        {
            let mut paths = tx.open_table(PATHS).map_err(|e| self.err(e))?;
            let mut gone = Vec::new();
            for item in paths.iter().map_err(|e| self.err(e))? {
                let (k, v) = item.map_err(|e| self.err(e))?;
                let entry: PathEntry = serde_json::from_slice(v.value())
                    .map_err(|e| self.err(format!("entry {}: {e}", k.value())))?;
                if ids.contains(&entry.call_id) {
                    gone.push(k.value().to_string());
                }
            }
            for path in gone {
                paths.remove(path.as_str()).map_err(|e| self.err(e))?;
            }
            let mut calls = tx.open_table(CALLS).map_err(|e| self.err(e))?;
            let mut purged = tx.open_table(PURGED).map_err(|e| self.err(e))?;
            for id in ids {
                calls.remove(id.as_str()).map_err(|e| self.err(e))?;
                let entry = match purged.get(id.as_str()).map_err(|e| self.err(e))? {
                    Some(v) => serde_json::from_slice::<PurgedEntry>(v.value())
                        .map_err(|e| self.err(format!("entry {id}: {e}")))?,
                    None => continue,
                };
                let v = serde_json::to_vec(&PurgedEntry {
                    finished: true,
                    ..entry
                })
                .map_err(|e| self.err(e))?;
                purged
                    .insert(id.as_str(), v.as_slice())
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }
}

/// [`Manifest::unfinished_purges`] without writing anything (a dry run):
/// no manifest, or one without the purged table, has none.
pub fn unfinished_purges_in(out_dir: &Path) -> Result<Vec<(String, PurgedEntry)>> {
    let path = manifest_path(out_dir);
    if !path.is_file() {
        return Ok(Vec::new());
    }
    let db = Database::open(&path).map_err(|e| db_error(&path, e))?;
    unfinished_in(&db, &path)
}

fn unfinished_in(db: &Database, path: &Path) -> Result<Vec<(String, PurgedEntry)>> {
    let tx = db.begin_read().map_err(|e| db_error(path, e))?;
    let purged = match tx.open_table(PURGED) {
        Ok(t) => t,
        Err(redb::TableError::TableDoesNotExist(_)) => return Ok(Vec::new()),
        Err(e) => return Err(db_error(path, e)),
    };
    let mut out = Vec::new();
    for item in purged.iter().map_err(|e| db_error(path, e))? {
        let (k, v) = item.map_err(|e| db_error(path, e))?;
        let entry: PurgedEntry = serde_json::from_slice(v.value())
            .map_err(|e| db_error(path, format!("entry {}: {e}", k.value())))?;
        if !entry.finished {
            out.push((k.value().to_string(), entry));
        }
    }
    Ok(out)
}

/// What to do with one input file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Plan {
    /// New, changed, stale, or `--force`: transcribe it.
    Process,
    /// Same size and mtime as when its call was done, with the same model and settings.
    Unchanged { call_id: String },
    /// Content already done under another path (renamed or copied).
    Known { call_id: String, as_path: String },
    /// Done with another model or other settings (and not `--reprocess-stale`).
    Stale { call_id: String },
    /// Purged by retention (and not `--force`).
    Purged { call_id: String },
}

/// How a run treats what the manifest knows.
#[derive(Debug, Clone, Default)]
pub struct PlanOptions {
    pub force: bool,
    pub reprocess_stale: bool,
    pub model: String,
    pub fingerprint: String,
}

impl Manifest {
    /// Decides for one file. A file unknown by path is hashed (read once
    /// here, then again by the decoder, from the page cache) only when the
    /// manifest knows calls, so a renamed recording is not transcribed again.
    pub fn plan(&self, path: &Path, options: &PlanOptions) -> Result<(Plan, u64, i128)> {
        let (size, mtime) = stat(path)?;
        if options.force {
            return Ok((Plan::Process, size, mtime));
        }
        let key = path.display().to_string();
        let call_id = match self.path_entry(&key)? {
            Some(p) if p.size == size && p.mtime_ns == mtime => Some((p.call_id, false)),
            _ => {
                if !self.knows_calls {
                    None
                } else {
                    let hash = crate::pipeline::content_hash(path)?;
                    Some((crate::pipeline::call_id_of(&hash), true))
                }
            }
        };
        let Some((call_id, by_content)) = call_id else {
            return Ok((Plan::Process, size, mtime));
        };
        if self.purged_entry(&call_id)?.is_some() {
            return Ok((Plan::Purged { call_id }, size, mtime));
        }
        let Some(call) = self.call_entry(&call_id)? else {
            return Ok((Plan::Process, size, mtime));
        };
        let stale = call.model != options.model || call.fingerprint != options.fingerprint;
        let plan = match (stale, by_content) {
            (true, _) if options.reprocess_stale => Plan::Process,
            (true, _) => Plan::Stale { call_id },
            (false, false) => Plan::Unchanged { call_id },
            (false, true) => Plan::Known {
                call_id,
                as_path: call.path,
            },
        };
        Ok((plan, size, mtime))
    }
}

/// The inputs of a run sorted by what the manifest says.
#[derive(Debug, Default)]
pub struct Planned {
    /// To transcribe, in input order.
    pub todo: Vec<PathBuf>,
    /// Size and mtime of each file to transcribe, as seen before it was read.
    pub stats: std::collections::HashMap<PathBuf, (u64, i128)>,
    /// The report lines of the inputs not transcribed (unchanged, known
    /// content, stale, or unreadable).
    pub reports: Vec<crate::model::InputReport>,
    /// Input order, for the merged report.
    pub order: Vec<PathBuf>,
}

fn skipped(path: &Path, call_id: Option<String>, why: String) -> crate::model::InputReport {
    crate::model::InputReport {
        path: path.display().to_string(),
        status: crate::model::InputStatus::Skipped,
        call_id,
        error: Some(why),
        warnings: Vec::new(),
        audio_ms: 0,
        segments: 0,
        hits: Vec::new(),
    }
}

impl Manifest {
    /// Plans every audio input of a run.
    pub fn plan_all(&self, audio: &[PathBuf], options: &PlanOptions) -> Planned {
        let mut planned = Planned {
            order: audio.to_vec(),
            ..Planned::default()
        };
        let mut known_paths = Vec::new();
        for path in audio {
            match self.plan(path, options) {
                Ok((Plan::Process, size, mtime)) => {
                    planned.todo.push(path.clone());
                    planned.stats.insert(path.clone(), (size, mtime));
                }
                Ok((Plan::Unchanged { call_id }, ..)) => planned.reports.push(skipped(
                    path,
                    Some(call_id),
                    "unchanged since it was done (--force does it again)".into(),
                )),
                Ok((Plan::Known { call_id, as_path }, size, mtime)) => {
                    known_paths.push((path.clone(), call_id.clone(), size, mtime));
                    planned.reports.push(skipped(
                        path,
                        Some(call_id),
                        format!("same content as {as_path}, already done"),
                    ));
                }
                Ok((Plan::Stale { call_id }, ..)) => planned.reports.push(skipped(
                    path,
                    Some(call_id),
                    "stale: done with another model or other settings (--reprocess-stale does it again)".into(),
                )),
                Ok((Plan::Purged { call_id }, ..)) => planned.reports.push(skipped(
                    path,
                    Some(call_id),
                    "purged (retention); --force transcribes it again".into(),
                )),
                Err(e) => planned.reports.push(crate::pipeline::failed(path, &e)),
            }
        }
        // A renamed recording is known by its path from now on.
        for (path, call_id, size, mtime) in known_paths {
            let entry = PathEntry {
                size,
                mtime_ns: mtime,
                call_id,
            };
            if let Err(e) = self.record_path(&path.display().to_string(), &entry) {
                tracing::warn!("{e}");
            }
        }
        planned
    }
}

/// Calls recorded per manifest commit: a killed run redoes at most this many.
const RECORD_EVERY: usize = 64;

/// The manifest as the last of a run's sinks: a call is recorded once every
/// sink before it accepted it. The index and the tables may not have
/// committed it yet, but they catch up from `OUT/transcripts/` when next
/// opened (their pending lists), so the call is whole without being done
/// again.
pub struct ManifestSink {
    manifest: Manifest,
    stats: std::collections::HashMap<String, (u64, i128)>,
    options: PlanOptions,
    pending: Vec<(String, PathEntry, CallEntry)>,
}

impl ManifestSink {
    pub fn new(manifest: Manifest, planned: &Planned, options: PlanOptions) -> Self {
        ManifestSink {
            manifest,
            stats: planned
                .stats
                .iter()
                .map(|(p, s)| (p.display().to_string(), *s))
                .collect(),
            options,
            pending: Vec::new(),
        }
    }

    fn flush(&mut self) -> Result<()> {
        self.manifest.record(&self.pending)?;
        self.pending.clear();
        Ok(())
    }
}

impl crate::sink::Sink for ManifestSink {
    fn name(&self) -> &str {
        "manifest"
    }

    fn accept(&mut self, t: &crate::model::Transcript) -> Result<()> {
        let Some(&(size, mtime_ns)) = self.stats.get(&t.source_path) else {
            return Ok(());
        };
        self.pending.push((
            t.source_path.clone(),
            PathEntry {
                size,
                mtime_ns,
                call_id: t.call_id.clone(),
            },
            CallEntry {
                model: self.options.model.clone(),
                fingerprint: self.options.fingerprint.clone(),
                processed_at: jiff::Timestamp::now(),
                path: t.source_path.clone(),
            },
        ));
        if self.pending.len() >= RECORD_EVERY {
            self.flush()?;
        }
        Ok(())
    }

    fn finish(&mut self) -> Result<()> {
        self.flush()
    }
}

/// Adds the planned-out inputs to a run's report, in input order, and
/// counts them.
pub fn merge_report(report: &mut crate::model::RunReport, planned: Planned) {
    use crate::model::InputStatus;
    report.inputs.extend(planned.reports);
    let position: std::collections::HashMap<String, usize> = planned
        .order
        .iter()
        .enumerate()
        .map(|(i, p)| (p.display().to_string(), i))
        .collect();
    report
        .inputs
        .sort_by_key(|i| position.get(&i.path).copied().unwrap_or(usize::MAX));
    let count = |s: InputStatus| report.inputs.iter().filter(|r| r.status == s).count();
    report.ok = count(InputStatus::Ok);
    report.failed = count(InputStatus::Failed);
    report.skipped = count(InputStatus::Skipped);
}

/// Everything a manifest holds, for `callsift merge`.
#[derive(Debug, Clone, Default)]
pub struct ManifestSnapshot {
    pub paths: Vec<(String, PathEntry)>,
    pub calls: Vec<(String, CallEntry)>,
    pub purged: Vec<(String, PurgedEntry)>,
}

impl Manifest {
    fn all<T: for<'de> Deserialize<'de>>(
        &self,
        table: TableDefinition<&str, &[u8]>,
    ) -> Result<Vec<(String, T)>> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = tx.open_table(table).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for item in t.iter().map_err(|e| self.err(e))? {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let entry = serde_json::from_slice(v.value())
                .map_err(|e| self.err(format!("entry {}: {e}", k.value())))?;
            out.push((k.value().to_string(), entry));
        }
        Ok(out)
    }

    /// Every entry, in key order.
    pub fn snapshot(&self) -> Result<ManifestSnapshot> {
        Ok(ManifestSnapshot {
            paths: self.all(PATHS)?,
            calls: self.all(CALLS)?,
            purged: self.all(PURGED)?,
        })
    }

    /// Replaces every entry with `snap`'s, in one commit.
    pub fn replace_all(&self, snap: &ManifestSnapshot) -> Result<()> {
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        for table in [PATHS, CALLS, PURGED] {
            tx.delete_table(table).map_err(|e| self.err(e))?;
        }
        {
            let mut paths = tx.open_table(PATHS).map_err(|e| self.err(e))?;
            for (k, v) in &snap.paths {
                let bytes = serde_json::to_vec(v).map_err(|e| self.err(e))?;
                paths
                    .insert(k.as_str(), bytes.as_slice())
                    .map_err(|e| self.err(e))?;
            }
            let mut calls = tx.open_table(CALLS).map_err(|e| self.err(e))?;
            for (k, v) in &snap.calls {
                let bytes = serde_json::to_vec(v).map_err(|e| self.err(e))?;
                calls
                    .insert(k.as_str(), bytes.as_slice())
                    .map_err(|e| self.err(e))?;
            }
            let mut purged = tx.open_table(PURGED).map_err(|e| self.err(e))?;
            for (k, v) in &snap.purged {
                let bytes = serde_json::to_vec(v).map_err(|e| self.err(e))?;
                purged
                    .insert(k.as_str(), bytes.as_slice())
                    .map_err(|e| self.err(e))?;
            }
        }
        tx.commit().map_err(|e| self.err(e))
    }
}
