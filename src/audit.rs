//! `OUT/audit.log`: one JSON line per `search` and `show` (who looked at
//! what, when), for the people accountable for call recordings.
//!
//! The file is only ever appended to (`O_APPEND`, one `write` per line, so
//! lines from concurrent processes do not interleave) and is readable by
//! owner and group only (0640), whatever the umask.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::Result;

/// Where the audit trail lives under an output folder.
pub fn audit_path(out_dir: &Path) -> PathBuf {
    out_dir.join("audit.log")
}

/// One line of the audit trail.
#[derive(Debug, Clone, Serialize)]
pub struct AuditEntry<'a> {
    /// UTC, RFC 3339.
    pub time: jiff::Timestamp,
    /// The OS user running the command.
    pub user: String,
    pub command: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub query: Option<&'a str>,
    /// The filters and options given (name → value).
    pub filters: serde_json::Value,
    /// Hits found (search), lines shown (show).
    pub hits: usize,
}

/// The OS user name (from the password database, not the environment).
pub fn os_user() -> String {
    whoami::username().unwrap_or_else(|_| "unknown".to_string())
}

/// Appends one entry.
pub fn append(out_dir: &Path, entry: &AuditEntry) -> Result<()> {
    let path = audit_path(out_dir);
    let mut line = serde_json::to_vec(entry).map_err(|e| {
        crate::Error::Other(format!(
            "{}: cannot serialise audit entry: {e}",
            path.display()
        ))
    })?;
    line.push(b'\n');
    let mut file = open_append(&path)?;
    file.write_all(&line)?;
    file.sync_data()?;
    Ok(())
}

#[cfg(unix)]
fn open_append(path: &Path) -> Result<fs_err::File> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    use std::os::unix::fs::PermissionsExt;
    let file = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(0o640)
        .open(path)?;
    // The mode above is filtered by the umask and ignored for a file that
    // already exists: set it for certain.
    let mode = file.metadata()?.permissions().mode() & 0o777;
    if mode != 0o640 {
        fs_err::set_permissions(path, std::fs::Permissions::from_mode(0o640))?;
    }
    Ok(file)
}

#[cfg(not(unix))]
fn open_append(path: &Path) -> Result<fs_err::File> {
    Ok(fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?)
}
