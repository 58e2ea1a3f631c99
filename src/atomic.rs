//! Whole-file writes: every output (transcripts, run reports, models) is
//! written to a temporary file beside its destination, synced, and renamed
//! into place, so a reader or a crash sees the old file or the new one,
//! never a part. One implementation for every writer.
//!
//! It also owns the access modes of the output folder: every directory
//! callsift creates under `OUT` is [`DIR_MODE`] and every file
//! [`FILE_MODE`], set exactly, whatever the umask.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Every file callsift writes under `OUT`: owner read-write, the group
/// (the analysts) read, nobody else: transcripts are personal data.
pub const FILE_MODE: u32 = 0o640;
/// Every directory callsift creates under `OUT` (group may list and enter).
pub const DIR_MODE: u32 = 0o750;
/// Models: world-readable, other users and services load them.
const SHARED_MODE: u32 = 0o644;
/// The umask of a subcommand writing `OUT`, so files and directories that
/// other libraries create there (Tantivy's segments, redb) get the same
/// modes as ours.
const OUT_UMASK: u32 = 0o027;

/// Who may read the finished file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// [`FILE_MODE`] (0640): transcripts, tables, reports about calls.
    Private,
    /// 0644: models other users and services load.
    Shared,
}

impl Access {
    fn mode(self) -> u32 {
        match self {
            Access::Private => FILE_MODE,
            Access::Shared => SHARED_MODE,
        }
    }
}

/// Sets the process umask to 027 for a subcommand that writes `OUT`:
/// what third-party writers create is then at most 0640/0750. Our own
/// writers set their modes exactly and do not depend on it.
pub fn restrict_umask() {
    #[cfg(unix)]
    rustix::process::umask(rustix::fs::Mode::from_raw_mode(OUT_UMASK as _));
}

/// Sets `path`'s permission bits to exactly `mode` (no umask applies).
pub fn set_mode(path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).map_err(|e| {
            io_error(
                e.kind(),
                format!("{}: cannot set mode {mode:o}: {e}", path.display()),
            )
        })?;
    }
    #[cfg(not(unix))]
    let _ = (path, mode);
    Ok(())
}

/// Gives an open file (`path`) exactly [`FILE_MODE`], if it has another:
/// a mode given at `open` is filtered by the umask, and ignored for a file
/// that already existed (an older callsift made them 0600).
pub fn set_file_mode(file: &std::fs::File, path: &Path) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = file
            .metadata()
            .map(|m| m.permissions().mode() & 0o7777)
            .unwrap_or(0);
        if mode != FILE_MODE {
            set_exact_mode(file, path, FILE_MODE)?;
        }
    }
    #[cfg(not(unix))]
    let _ = (file, path);
    Ok(())
}

/// Creates `dir` and its missing parents, each one it creates exactly
/// [`DIR_MODE`]; directories that exist keep their mode (`OUT` may be the
/// operator's own).
pub fn create_dir_all(dir: &Path) -> Result<()> {
    if dir.as_os_str().is_empty() || dir.is_dir() {
        return Ok(());
    }
    if let Some(parent) = dir.parent() {
        create_dir_all(parent)?;
    }
    let mut builder = std::fs::DirBuilder::new();
    #[cfg(unix)]
    std::os::unix::fs::DirBuilderExt::mode(&mut builder, DIR_MODE);
    match builder.create(dir) {
        Ok(()) => set_mode(dir, DIR_MODE),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists && dir.is_dir() => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => Err(io_error(
            e.kind(),
            format!(
                "{}: cannot create directory: a file is in the way",
                dir.display()
            ),
        )),
        Err(e) => Err(io_error(
            e.kind(),
            format!("{}: cannot create directory: {e}", dir.display()),
        )),
    }
}

/// Is `name` one of our temporary files (`.<target>.<random>.part`)?
fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.ends_with(".part") && name.len() > ".x.part".len()
}

/// Deletes the temporary files a killed writer left anywhere under
/// `out_dir` (a finished write has renamed its own away). Call it only
/// while holding the output folder's run lock: a live writer's temp file
/// looks the same. Returns how many it removed.
pub fn remove_stale_temps(out_dir: &Path) -> Result<usize> {
    let mut removed = 0;
    for entry in walkdir::WalkDir::new(out_dir).follow_links(false) {
        let Ok(entry) = entry else { continue };
        let stale =
            entry.file_type().is_file() && entry.file_name().to_str().is_some_and(is_temp_name);
        if !stale {
            continue;
        }
        match std::fs::remove_file(entry.path()) {
            Ok(()) => removed += 1,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                return Err(io_error(
                    e.kind(),
                    format!(
                        "{}: cannot remove a stale temporary file: {e}",
                        entry.path().display()
                    ),
                ));
            }
        }
    }
    Ok(removed)
}

/// Checks that `dir` (created if missing) takes a new file: creates,
/// writes, syncs and removes a probe file in it. Finds a read-only or full
/// folder, or a file where the folder should be, before any work is done.
pub fn check_writable(dir: &Path) -> Result<()> {
    create_dir_all(dir)?;
    let fail = |what: &str, e: std::io::Error| {
        io_error(e.kind(), format!("{}: {what}: {e}", dir.display()))
    };
    // Not named like a temp file: [`remove_stale_temps`] of a run holding
    // the lock must not take a probe of a run still checking.
    let mut probe = tempfile::Builder::new()
        .prefix(".callsift-write-check.")
        .tempfile_in(dir)
        .map_err(|e| fail("cannot create a file", e))?;
    probe
        .write_all(b"callsift write check\n")
        .and_then(|()| probe.as_file().sync_all())
        .map_err(|e| fail("cannot write a file", e))?;
    probe.close().map_err(|e| fail("cannot remove a file", e))
}

fn io_error(kind: std::io::ErrorKind, message: String) -> Error {
    Error::Io(std::io::Error::new(kind, message))
}

/// A temporary file in `dest`'s directory (so the final rename stays on one
/// file system), and a handle to write it through `fs_err` (errors name the
/// path). The file is deleted if dropped before [`persist`].
pub fn temp_beside(dest: &Path, access: Access) -> Result<(tempfile::TempPath, fs_err::File)> {
    let dir = match dest.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "file".into());
    let prefix = format!(".{name}.");
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix).suffix(".part");
    let tmp = builder.tempfile_in(dir).map_err(|e| {
        io_error(
            e.kind(),
            format!("{}: cannot create a temporary file: {e}", dir.display()),
        )
    })?;
    // tempfile creates 0600; set the final mode on the open file (no
    // umask applies to that), and the rename keeps it.
    set_exact_mode(tmp.as_file(), tmp.path(), access.mode())?;
    let (file, path) = tmp.into_parts();
    let file = fs_err::File::from_parts(file, path.to_path_buf());
    Ok((path, file))
}

fn set_exact_mode(file: &std::fs::File, path: &Path, mode: u32) -> Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        file.set_permissions(std::fs::Permissions::from_mode(mode))
            .map_err(|e| {
                io_error(
                    e.kind(),
                    format!("{}: cannot set mode {mode:o}: {e}", path.display()),
                )
            })?;
    }
    #[cfg(not(unix))]
    let _ = (file, path, mode);
    Ok(())
}

/// Renames a finished temporary file to `dest` and syncs the directory so
/// the rename itself survives a crash.
pub fn persist(tmp: tempfile::TempPath, dest: &Path) -> Result<()> {
    let from = tmp.to_path_buf();
    tmp.persist(dest).map_err(|e| {
        io_error(
            e.error.kind(),
            format!(
                "{}: cannot rename {} into place: {}",
                dest.display(),
                from.display(),
                e.error
            ),
        )
    })?;
    if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        // Best effort: not every file system lets a directory be synced.
        if let Ok(d) = std::fs::File::open(dir) {
            let _ = d.sync_all();
        }
    }
    Ok(())
}

/// Syncs a directory, so renames in it survive a crash (best effort: not
/// every file system lets a directory be synced).
pub fn sync_dir(dir: &Path) -> Result<()> {
    if let Ok(d) = std::fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Writes `bytes` to `dest` (creating its directory, [`DIR_MODE`]): temp
/// file, fsync, rename.
pub fn write(dest: &Path, bytes: &[u8], access: Access) -> Result<()> {
    if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        create_dir_all(dir)?;
    }
    let (tmp, mut file) = temp_beside(dest, access)?;
    file.write_all(bytes)?;
    file.sync_all()?;
    drop(file);
    persist(tmp, dest)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(unix)]
    fn mode(path: &Path) -> u32 {
        use std::os::unix::fs::PermissionsExt;
        std::fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    #[test]
    fn writes_whole_files_and_leaves_no_temp_behind() {
        let dir = tempfile::tempdir().unwrap();
        let dest = dir.path().join("a/b/out.json");
        write(&dest, b"one", Access::Private).unwrap();
        write(&dest, b"two", Access::Private).unwrap();
        assert_eq!(std::fs::read(&dest).unwrap(), b"two");
        let names: Vec<_> = std::fs::read_dir(dest.parent().unwrap()).unwrap().collect();
        assert_eq!(names.len(), 1);
        #[cfg(unix)]
        {
            assert_eq!(mode(&dest), FILE_MODE);
            assert_eq!(mode(&dir.path().join("a")), DIR_MODE);
            assert_eq!(mode(&dir.path().join("a/b")), DIR_MODE);
            write(&dest, b"model", Access::Shared).unwrap();
            assert_eq!(mode(&dest), 0o644);
        }
    }

    #[test]
    fn existing_directories_keep_their_mode() {
        let dir = tempfile::tempdir().unwrap();
        #[cfg(unix)]
        set_mode(dir.path(), 0o711).unwrap();
        create_dir_all(&dir.path().join("x/y")).unwrap();
        #[cfg(unix)]
        {
            assert_eq!(mode(dir.path()), 0o711);
            assert_eq!(mode(&dir.path().join("x/y")), DIR_MODE);
        }
    }

    #[test]
    fn stale_temps_are_removed_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let sub = dir.path().join("transcripts");
        create_dir_all(&sub).unwrap();
        let keep = ["a.json", "notes.part", ".part", ".callsift-write-check.x1"];
        for name in keep {
            std::fs::write(sub.join(name), b"x").unwrap();
        }
        std::fs::write(sub.join(".a.json.Xk3p.part"), b"half").unwrap();
        std::fs::write(dir.path().join(".manifest.abc.part"), b"half").unwrap();
        assert_eq!(remove_stale_temps(dir.path()).unwrap(), 2);
        let mut left: Vec<_> = std::fs::read_dir(&sub)
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        left.sort();
        let mut want: Vec<_> = keep.iter().map(|s| s.to_string()).collect();
        want.sort();
        assert_eq!(left, want);
        assert!(!dir.path().join(".manifest.abc.part").exists());
    }

    #[test]
    fn a_file_where_the_folder_should_be_is_not_writable() {
        let dir = tempfile::tempdir().unwrap();
        let blocked = dir.path().join("out");
        std::fs::write(&blocked, b"not a folder").unwrap();
        let err = check_writable(&blocked.join("transcripts")).unwrap_err();
        assert!(err.to_string().contains("out"), "{err}");
        check_writable(&dir.path().join("fine")).unwrap();
        let left: Vec<_> = std::fs::read_dir(dir.path().join("fine"))
            .unwrap()
            .collect();
        assert!(left.is_empty(), "the probe is removed");
    }
}
