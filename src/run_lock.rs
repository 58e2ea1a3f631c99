//! One writer at a time per output folder: `OUT/run.lock`, held with
//! `flock` by `run`, `import`, `rescore` and the rebuilds for as long as
//! they write. The kernel drops a `flock` when its process dies, so a lock
//! left by a killed run never blocks the next one; a second writer gets
//! [`Error::Locked`] (exit code 4) at once, naming who holds the lock.
//! Readers (`search`, `show`, `report`) take no lock.

use std::io::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};

/// Held while the value lives.
#[derive(Debug)]
pub struct RunLock {
    _file: std::fs::File,
    path: PathBuf,
}

impl RunLock {
    pub fn path(&self) -> &Path {
        &self.path
    }
}

/// `OUT/run.lock`.
pub fn lock_path(out_dir: &Path) -> PathBuf {
    out_dir.join("run.lock")
}

/// Takes the output folder's lock for `command` (`run`, `import`, …), or
/// fails at once with [`Error::Locked`].
pub fn acquire(out_dir: &Path, command: &str) -> Result<RunLock> {
    crate::atomic::create_dir_all(out_dir)?;
    let path = lock_path(out_dir);
    let mut options = std::fs::OpenOptions::new();
    options.create(true).truncate(false).read(true).write(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut options, crate::atomic::FILE_MODE);
    let mut file = options
        .open(&path)
        .map_err(|e| Error::Other(format!("{}: cannot open the lock: {e}", path.display())))?;
    crate::atomic::set_file_mode(&file, &path)?;
    #[cfg(unix)]
    if let Err(e) = rustix::fs::flock(&file, rustix::fs::FlockOperation::NonBlockingLockExclusive) {
        if e == rustix::io::Errno::WOULDBLOCK {
            let holder = std::fs::read_to_string(&path).unwrap_or_default();
            return Err(Error::Locked {
                out_dir: out_dir.to_path_buf(),
                holder: holder.trim().replace('\n', ", "),
            });
        }
        return Err(Error::Other(format!(
            "{}: cannot lock: {e}",
            path.display()
        )));
    }
    // Who holds it, for the message a second process prints.
    file.set_len(0)?;
    writeln!(
        file,
        "pid {}, callsift {command}, since {}",
        std::process::id(),
        jiff::Timestamp::now().strftime("%Y-%m-%d %H:%M:%S UTC")
    )?;
    Ok(RunLock { _file: file, path })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_writer_is_refused_until_the_first_lets_go() {
        let dir = tempfile::tempdir().unwrap();
        let first = acquire(dir.path(), "run").unwrap();
        let err = acquire(dir.path(), "import").unwrap_err();
        let msg = err.to_string();
        assert!(matches!(err, Error::Locked { .. }), "{msg}");
        assert!(msg.contains("callsift run"), "{msg}");
        assert!(msg.contains(&std::process::id().to_string()), "{msg}");
        drop(first);
        let again = acquire(dir.path(), "import").unwrap();
        assert!(again.path().ends_with("run.lock"));
    }
}
