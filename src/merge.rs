//! `callsift merge SHARD_DIRS… --out DIR`: the output folders of shard
//! tasks (`run --shard I/N`, one folder each) become one output folder, as
//! if one run had made it: transcripts copied, index segments merged
//! (no text analyzed again), table rows copied, do-not-call exports
//! united (deduplicated by number), manifests united, run reports copied.
//!
//! A call found in several shards (the shard count changed between runs)
//! is taken from the first shard given that holds it, in every output.
//! The merged folder is a function of the shards: merging again gives the
//! same folder (a call gone from every shard, purged there, leaves it).
//! Every shard's `run.lock` is held for the whole merge, so a shard task
//! cannot start writing mid-merge, and one still running is an error.

use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};
use crate::index::writer::transcript_ids;
use crate::sink::transcript_json::{read_transcript, transcript_path, transcripts_dir};

/// What a merge did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct MergeReport {
    pub shards: Vec<String>,
    /// Calls in the merged folder.
    pub calls: usize,
    /// Calls held by more than one shard (taken from the first).
    pub in_several_shards: usize,
    /// Transcripts written (new or changed) and removed (gone from every shard).
    pub transcripts_written: usize,
    pub transcripts_removed: usize,
    /// Documents of the merged index.
    pub index_docs: u64,
    pub table_calls: usize,
    pub table_segments: usize,
    pub table_hits: usize,
    pub table_scores: usize,
    /// Numbers in the merged do-not-call export.
    pub do_not_call: usize,
    /// Run reports copied (new ones only).
    pub run_reports: usize,
}

/// One shard folder, checked and locked.
struct Shard {
    dir: PathBuf,
    ids: Vec<String>,
    _lock: crate::run_lock::RunLock,
}

/// Merges `shards` into `out`; see the module documentation.
pub fn merge(shards: &[PathBuf], out: &Path) -> Result<MergeReport> {
    check_list(shards, out)?;
    let shards: Vec<Shard> = shards
        .iter()
        .map(|d| open_shard(d))
        .collect::<Result<_>>()?;
    crate::atomic::create_dir_all(out)?;
    crate::atomic::check_writable(out)?;
    let _lock = crate::run_lock::acquire(out, "merge")?;
    let owners = owners(&shards);
    let owned: Vec<HashSet<String>> = shards
        .iter()
        .enumerate()
        .map(|(k, s)| {
            s.ids
                .iter()
                .filter(|id| owners[*id] == k)
                .cloned()
                .collect()
        })
        .collect();
    let mut report = MergeReport {
        shards: shards.iter().map(|s| s.dir.display().to_string()).collect(),
        calls: owners.len(),
        in_several_shards: shards.iter().map(|s| s.ids.len()).sum::<usize>() - owners.len(),
        ..MergeReport::default()
    };
    // Transcripts first: every other output can be rebuilt from them.
    (report.transcripts_written, report.transcripts_removed) =
        copy_transcripts(&shards, &owners, out)?;
    let index_shards: Vec<crate::index::merge::ShardIndex> = shards
        .iter()
        .zip(&owned)
        .map(|(s, owned)| crate::index::merge::ShardIndex {
            out_dir: &s.dir,
            owned,
        })
        .collect();
    report.index_docs = crate::index::merge::merge_into(out, &index_shards)?;
    let table_shards: Vec<(&Path, &HashSet<String>)> = shards
        .iter()
        .zip(&owned)
        .map(|(s, o)| (s.dir.as_path(), o))
        .collect();
    let tables = crate::tables::merge_into(out, &table_shards)?;
    (
        report.table_calls,
        report.table_segments,
        report.table_hits,
        report.table_scores,
    ) = (tables.calls, tables.segments, tables.hits, tables.scores);
    report.do_not_call = merge_do_not_call(&shards, out)?;
    report.run_reports = copy_run_reports(&shards, out)?;
    // Last, as in a run: the manifest says what the folder holds.
    merge_manifests(&shards, &owners, out)?;
    Ok(report)
}

fn check_list(shards: &[PathBuf], out: &Path) -> Result<()> {
    if shards.is_empty() {
        return Err(Error::Usage("merge: no shard folders given".into()));
    }
    let out_real = out.canonicalize().ok();
    let mut seen = HashSet::new();
    for dir in shards {
        if !dir.is_dir() {
            return Err(Error::Usage(format!(
                "shard folder {}: no such folder",
                dir.display()
            )));
        }
        let real = dir.canonicalize()?;
        if Some(&real) == out_real.as_ref() {
            return Err(Error::Usage(format!(
                "shard folder {} is the output folder --out {}",
                dir.display(),
                out.display()
            )));
        }
        if !seen.insert(real) {
            return Err(Error::Usage(format!(
                "shard folder {} is given twice",
                dir.display()
            )));
        }
    }
    Ok(())
}

/// Locks a shard and checks it is complete and of this version: no calls
/// waiting for the index or tables, no unfinished purge, an index of this
/// schema, transcripts that read.
fn open_shard(dir: &Path) -> Result<Shard> {
    if !transcripts_dir(dir).is_dir() {
        return Err(Error::Usage(format!(
            "shard folder {}: no transcripts/ (not an output folder of `callsift run`)",
            dir.display()
        )));
    }
    let lock = crate::run_lock::acquire(dir, "merge")?;
    for pending in [
        crate::index::writer::pending_path(dir),
        crate::tables::pending_path(dir),
    ] {
        if fs_err::metadata(&pending).is_ok_and(|m| m.len() > 0) {
            return Err(Error::Other(format!(
                "shard folder {}: {} lists calls not yet committed (a run was stopped); run \
                 `callsift run` there again to finish them before merging",
                dir.display(),
                pending.display()
            )));
        }
    }
    if !crate::manifest::unfinished_purges_in(dir)?.is_empty() {
        return Err(Error::Other(format!(
            "shard folder {}: a purge was stopped midway; run `callsift purge` there again first",
            dir.display()
        )));
    }
    crate::index::merge::check_shard(dir)?;
    let ids = transcript_ids(dir)?;
    for id in &ids {
        // The schema tag is checked here: a shard of another version is refused whole.
        read_transcript(&transcript_path(dir, id))?;
    }
    Ok(Shard {
        dir: dir.to_path_buf(),
        ids,
        _lock: lock,
    })
}

/// Call id → the first shard (by position) that holds it.
fn owners(shards: &[Shard]) -> BTreeMap<String, usize> {
    let mut owners = BTreeMap::new();
    for (k, s) in shards.iter().enumerate() {
        for id in &s.ids {
            owners.entry(id.clone()).or_insert(k);
        }
    }
    owners
}

/// Copies each call's transcript from its owner (skipping identical ones)
/// and removes transcripts no shard holds any more.
fn copy_transcripts(
    shards: &[Shard],
    owners: &BTreeMap<String, usize>,
    out: &Path,
) -> Result<(usize, usize)> {
    crate::atomic::create_dir_all(&transcripts_dir(out))?;
    let mut written = 0;
    for (id, &k) in owners {
        let bytes = fs_err::read(transcript_path(&shards[k].dir, id))?;
        let dest = transcript_path(out, id);
        if fs_err::read(&dest).is_ok_and(|old| old == bytes) {
            continue;
        }
        crate::sink::write_atomic(&dest, &bytes)?;
        written += 1;
    }
    let mut removed = 0;
    for id in transcript_ids(out)? {
        if !owners.contains_key(&id) {
            fs_err::remove_file(transcript_path(out, &id))?;
            removed += 1;
        }
    }
    Ok((written, removed))
}

/// The do-not-call export of every shard, united (the earliest request of
/// a number wins, as in one folder). The merged export never loses an
/// entry it held.
fn merge_do_not_call(shards: &[Shard], out: &Path) -> Result<usize> {
    let mut list = crate::rules::dnc::DncList::load_export(out)?;
    for s in shards {
        for entry in crate::rules::dnc::DncList::load_export(&s.dir)?.requests() {
            list.add(entry.clone());
        }
    }
    if list.is_empty() {
        return Ok(0);
    }
    list.write_export(out)?;
    Ok(list.requests().count())
}

/// Copies `OUT/runs/*` of every shard (run reports and their alert files);
/// one already there with the same content is skipped, one with the same
/// name and other content gets the shard's number appended.
fn copy_run_reports(shards: &[Shard], out: &Path) -> Result<usize> {
    let mut copied = 0;
    for (k, s) in shards.iter().enumerate() {
        let runs = s.dir.join("runs");
        if !runs.is_dir() {
            continue;
        }
        for entry in walkdir::WalkDir::new(&runs).sort_by_file_name() {
            let entry = entry.map_err(|e| Error::Other(format!("{}: {e}", runs.display())))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let rel = entry.path().strip_prefix(&runs).unwrap_or(entry.path());
            let bytes = fs_err::read(entry.path())?;
            let mut dest = out.join("runs").join(rel);
            if fs_err::read(&dest).is_ok_and(|old| old == bytes) {
                continue;
            }
            if dest.exists() {
                let name = dest
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default();
                dest.set_file_name(format!("shard{k}-{name}"));
                if fs_err::read(&dest).is_ok_and(|old| old == bytes) {
                    continue;
                }
            }
            crate::sink::write_atomic(&dest, &bytes)?;
            copied += 1;
        }
    }
    Ok(copied)
}

/// The manifests united: the calls each shard owns, every path entry
/// naming one of them, every purged entry.
fn merge_manifests(shards: &[Shard], owners: &BTreeMap<String, usize>, out: &Path) -> Result<()> {
    let mut merged = crate::manifest::ManifestSnapshot::default();
    let mut paths = BTreeMap::new();
    let mut purged = BTreeMap::new();
    for (k, s) in shards.iter().enumerate() {
        let Some(m) = crate::manifest::Manifest::open_existing(&s.dir)? else {
            continue;
        };
        let snap = m.snapshot()?;
        for (path, entry) in snap.paths {
            if owners.contains_key(&entry.call_id) {
                paths.entry(path).or_insert(entry);
            }
        }
        merged.calls.extend(
            snap.calls
                .into_iter()
                .filter(|(id, _)| owners.get(id) == Some(&k)),
        );
        for (id, entry) in snap.purged {
            purged.entry(id).or_insert(entry);
        }
    }
    merged.calls.sort_by(|a, b| a.0.cmp(&b.0));
    merged.paths = paths.into_iter().collect();
    merged.purged = purged.into_iter().collect();
    crate::manifest::Manifest::open(out)?.replace_all(&merged)
}
