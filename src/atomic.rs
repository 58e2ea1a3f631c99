//! Whole-file writes: every output (transcripts, run reports, models) is
//! written to a temporary file beside its destination, synced, and renamed
//! into place, so a reader or a crash sees the old file or the new one,
//! never a part. One implementation for every writer.

use std::io::Write;
use std::path::Path;

use crate::error::{Error, Result};

/// Who may read the finished file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Access {
    /// Owner only (0600): transcripts and reports about calls.
    Private,
    /// 0666 less the umask, like any ordinary file: models other users and
    /// services load.
    Shared,
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
    // tempfile creates 0600; the rename keeps the mode.
    #[cfg(unix)]
    if access == Access::Shared {
        builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    }
    #[cfg(not(unix))]
    let _ = access;
    let tmp = builder.tempfile_in(dir).map_err(|e| {
        io_error(
            e.kind(),
            format!("{}: cannot create a temporary file: {e}", dir.display()),
        )
    })?;
    let (file, path) = tmp.into_parts();
    let file = fs_err::File::from_parts(file, path.to_path_buf());
    Ok((path, file))
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

/// Writes `bytes` to `dest` (creating its directory): temp file, fsync, rename.
pub fn write(dest: &Path, bytes: &[u8], access: Access) -> Result<()> {
    if let Some(dir) = dest.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs_err::create_dir_all(dir)?;
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
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&dest).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600);
        }
    }
}
