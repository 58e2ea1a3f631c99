//! Staging directories and the commit journal: how new partition
//! directories are swapped into `OUT/parquet/` atomically, and how an
//! interrupted commit is rolled forward (protocol in the module docs of
//! [`crate::tables`]).

use std::collections::BTreeSet;
use std::io::ErrorKind;
use std::path::{Component, Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::parts::part_files_under;
use super::{FailPoint, TablesOptions, create_private_dir_all, io_error, sync_dir};
use crate::error::{Error, Result};

/// Schema tag of `COMMIT.json`.
pub(crate) const JOURNAL_SCHEMA: &str = "callsift.tables-commit/1";
const JOURNAL_NAME: &str = "COMMIT.json";

/// `OUT/.tables-staging`.
pub(crate) fn staging_root(out_dir: &Path) -> PathBuf {
    out_dir.join(".tables-staging")
}

/// One directory to put in place.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Swap {
    /// The directory to replace, relative to `OUT`.
    pub target: String,
    /// The new directory, relative to the commit's staging dir; `None`
    /// when the target is to be emptied (renamed away).
    pub staged: Option<String>,
    /// The part files the target holds once swapped, relative to it.
    pub files: Vec<String>,
}

/// `OUT/.tables-staging/<commit id>/COMMIT.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub(crate) struct Journal {
    pub schema: String,
    pub commit_id: String,
    pub swaps: Vec<Swap>,
}

/// A commit's staging directory.
pub(crate) struct Stage {
    pub id: String,
    pub dir: PathBuf,
}

impl Stage {
    /// Creates `OUT/.tables-staging/<new commit id>/` (0700). Ids start
    /// with the UTC time, so they sort by age and say when a part was
    /// written; the random tail keeps them unique.
    pub fn create(out_dir: &Path) -> Result<Stage> {
        let root = staging_root(out_dir);
        create_private_dir_all(&root)?;
        for attempt in 0u32.. {
            let now = jiff::Timestamp::now();
            let seed = format!("{} {} {attempt}", now.as_nanosecond(), std::process::id());
            let tail = &blake3::hash(seed.as_bytes()).to_hex()[..8];
            let id = format!(
                "{}{:03}Z-{tail}",
                now.strftime("%Y%m%dT%H%M%S"),
                now.subsec_millisecond()
            );
            let dir = root.join(&id);
            let mut builder = std::fs::DirBuilder::new();
            #[cfg(unix)]
            std::os::unix::fs::DirBuilderExt::mode(&mut builder, crate::atomic::DIR_MODE);
            match builder.create(&dir) {
                Ok(()) => {
                    crate::atomic::set_mode(&dir, crate::atomic::DIR_MODE)?;
                    return Ok(Stage { id, dir });
                }
                Err(e) if e.kind() == ErrorKind::AlreadyExists && attempt < 100 => continue,
                Err(e) => return Err(io_error(&dir, "cannot create directory", e)),
            }
        }
        unreachable!("the loop returns")
    }

    /// Syncs every directory under the stage (children first), the stage
    /// and its entry in the staging root, so what the journal names is on
    /// disk before the journal exists.
    pub fn sync_all(&self) -> Result<()> {
        let mut dirs: Vec<PathBuf> = walkdir::WalkDir::new(&self.dir)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_dir())
            .map(|e| e.into_path())
            .collect();
        dirs.sort_by_key(|d| std::cmp::Reverse(d.components().count()));
        for d in &dirs {
            sync_dir(d);
        }
        if let Some(root) = self.dir.parent() {
            sync_dir(root);
        }
        Ok(())
    }
}

/// Writes the journal (temp, fsync, rename, fsync dir), then swaps.
pub(crate) fn commit(
    out_dir: &Path,
    stage: &Stage,
    swaps: Vec<Swap>,
    options: &TablesOptions,
) -> Result<()> {
    stage.sync_all()?;
    if options.fail_point == Some(FailPoint::BeforeJournal) {
        return Err(Error::Other(
            "tables: stopped before the journal (test hook)".into(),
        ));
    }
    let journal = Journal {
        schema: JOURNAL_SCHEMA.into(),
        commit_id: stage.id.clone(),
        swaps,
    };
    let bytes = serde_json::to_vec_pretty(&journal)
        .map_err(|e| Error::Other(format!("tables: cannot serialise the commit journal: {e}")))?;
    crate::atomic::write(
        &stage.dir.join(JOURNAL_NAME),
        &bytes,
        crate::atomic::Access::Private,
    )?;
    if options.fail_point == Some(FailPoint::AfterJournal) {
        return Err(Error::Other(
            "tables: stopped after the journal (test hook)".into(),
        ));
    }
    apply(out_dir, &stage.dir, &journal, options)
}

/// Rolls forward or discards what an interrupted commit left in staging.
/// Returns the ids of the commits rolled forward.
pub(crate) fn recover(out_dir: &Path, options: &TablesOptions) -> Result<Vec<String>> {
    let root = staging_root(out_dir);
    let entries = match std::fs::read_dir(&root) {
        Ok(e) => e,
        Err(e) if e.kind() == ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_error(&root, "cannot list", e)),
    };
    let mut dirs: Vec<PathBuf> = entries
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect();
    dirs.sort();
    let mut rolled = Vec::new();
    for dir in dirs {
        match load(&dir) {
            Some(journal) => {
                apply(
                    out_dir,
                    &dir,
                    &journal,
                    &TablesOptions {
                        fail_point: None,
                        ..options.clone()
                    },
                )?;
                tracing::info!(
                    "tables: finished the interrupted commit {}",
                    journal.commit_id
                );
                rolled.push(journal.commit_id);
            }
            None => {
                tracing::warn!("tables: discarding the unfinished commit {}", dir.display());
                remove_dir_all(&dir)?;
            }
        }
    }
    Ok(rolled)
}

/// The journal of a staging dir, if it has a complete and valid one.
fn load(dir: &Path) -> Option<Journal> {
    let path = dir.join(JOURNAL_NAME);
    let bytes = std::fs::read(&path).ok()?;
    let journal: Journal = match serde_json::from_slice(&bytes) {
        Ok(j) => j,
        Err(e) => {
            tracing::warn!("{}: unreadable commit journal: {e}", path.display());
            return None;
        }
    };
    let valid = journal.schema == JOURNAL_SCHEMA
        && journal.swaps.iter().all(|s| {
            is_relative_inside(&s.target)
                && s.staged.as_deref().is_none_or(is_relative_inside)
                && s.files.iter().all(|f| is_relative_inside(f))
        });
    if !valid {
        tracing::warn!("{}: not a valid commit journal", path.display());
    }
    valid.then_some(journal)
}

/// A journal path may only point inside its base (no `..`, not absolute).
fn is_relative_inside(p: &str) -> bool {
    !p.is_empty()
        && Path::new(p)
            .components()
            .all(|c| matches!(c, Component::Normal(_)))
}

/// Performs the swaps not yet done, syncs the targets' parents, then
/// deletes the journal and the staging dir (which then holds old contents).
fn apply(
    out_dir: &Path,
    commit_dir: &Path,
    journal: &Journal,
    options: &TablesOptions,
) -> Result<()> {
    let mut parents = BTreeSet::new();
    for (n, swap) in journal.swaps.iter().enumerate() {
        if options.fail_point == Some(FailPoint::AfterSwaps(n)) {
            return Err(Error::Other(format!(
                "tables: stopped after {n} swaps (test hook)"
            )));
        }
        let target = out_dir.join(&swap.target);
        let aside = commit_dir.join("old").join(n.to_string());
        swap_one(&target, commit_dir, swap, &aside, options)?;
        if let Some(parent) = target.parent() {
            parents.insert(parent.to_path_buf());
        }
    }
    for parent in &parents {
        sync_dir(parent);
    }
    // The journal goes first: a staging dir without one is deleted whole
    // by the next open, which is right once every swap is done.
    let journal_path = commit_dir.join(JOURNAL_NAME);
    std::fs::remove_file(&journal_path).map_err(|e| io_error(&journal_path, "cannot remove", e))?;
    sync_dir(commit_dir);
    remove_dir_all(commit_dir)
}

/// One swap, skipped when its target already holds exactly the new files.
fn swap_one(
    target: &Path,
    commit_dir: &Path,
    swap: &Swap,
    aside: &Path,
    options: &TablesOptions,
) -> Result<()> {
    let have = part_files_under(target)?;
    let Some(staged) = &swap.staged else {
        // Emptied: the partition goes away (a reader sees no rows of it).
        if !have.is_empty() {
            rename(target, aside)?;
        } else if target.is_dir() {
            let _ = std::fs::remove_dir(target);
        }
        return Ok(());
    };
    let want: BTreeSet<String> = swap.files.iter().cloned().collect();
    if target.is_dir() && have == want {
        return Ok(());
    }
    let staged = commit_dir.join(staged);
    if !staged.is_dir() {
        return Err(Error::Other(format!(
            "{}: cannot finish commit: {} is missing and {} does not hold the new files; \
             remove {} to keep the old rows",
            commit_dir.display(),
            staged.display(),
            target.display(),
            commit_dir.display()
        )));
    }
    if !target.exists() {
        if let Some(parent) = target.parent() {
            create_private_dir_all(parent)?;
        }
        return rename(&staged, target);
    }
    if !options.no_exchange && exchange(&staged, target)? {
        return Ok(());
    }
    // No atomic exchange here: old away, new in (the partition is missing
    // in between; a crash in between is rolled forward: target missing).
    if aside.exists() {
        remove_dir_all(aside)?;
    }
    rename(target, aside)?;
    rename(&staged, target)
}

fn rename(from: &Path, to: &Path) -> Result<()> {
    if let Some(parent) = to.parent() {
        create_private_dir_all(parent)?;
    }
    std::fs::rename(from, to)
        .map_err(|e| io_error(from, &format!("cannot rename to {}", to.display()), e))
}

fn remove_dir_all(dir: &Path) -> Result<()> {
    match std::fs::remove_dir_all(dir) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        Err(e) => Err(io_error(dir, "cannot remove", e)),
    }
}

/// Atomically exchanges two directories; `false` where the file system
/// or OS cannot (the caller falls back to two renames).
#[cfg(any(target_os = "linux", target_os = "android"))]
fn exchange(a: &Path, b: &Path) -> Result<bool> {
    use rustix::fs::{CWD, RenameFlags, renameat_with};
    use rustix::io::Errno;
    match renameat_with(CWD, a, CWD, b, RenameFlags::EXCHANGE) {
        Ok(()) => Ok(true),
        Err(e) if [Errno::INVAL, Errno::NOTSUP, Errno::OPNOTSUPP, Errno::NOSYS].contains(&e) => {
            tracing::debug!("tables: no RENAME_EXCHANGE on {}: {e}", b.display());
            Ok(false)
        }
        Err(e) => Err(io_error(
            a,
            &format!("cannot exchange with {}", b.display()),
            e.into(),
        )),
    }
}

#[cfg(not(any(target_os = "linux", target_os = "android")))]
fn exchange(_a: &Path, _b: &Path) -> Result<bool> {
    Ok(false)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn journal_paths_must_stay_inside() {
        assert!(is_relative_inside("parquet/calls/date=2026-11-02"));
        assert!(!is_relative_inside("../etc"));
        assert!(!is_relative_inside("/etc"));
        assert!(!is_relative_inside("a/../../b"));
        assert!(!is_relative_inside(""));
    }

    #[test]
    fn exchange_swaps_two_directories() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (tmp.path().join("a"), tmp.path().join("b"));
        std::fs::create_dir(&a).unwrap();
        std::fs::create_dir(&b).unwrap();
        std::fs::write(a.join("x"), "a").unwrap();
        std::fs::write(b.join("x"), "b").unwrap();
        if exchange(&a, &b).unwrap() {
            assert_eq!(std::fs::read_to_string(a.join("x")).unwrap(), "b");
            assert_eq!(std::fs::read_to_string(b.join("x")).unwrap(), "a");
        }
    }
}
