//! `OUT/audit.log`: one JSON line per `search`, `show`, `report`, `export`
//! and each search, playback, review and sign-in of `serve` (who
//! looked at what, when), for the people accountable for call recordings;
//! [`read`] is `callsift audit`.
//!
//! The file is only ever appended to (`O_APPEND`, one `write` per line, so
//! lines from concurrent processes do not interleave) and is readable by
//! owner and group only (0640), whatever the umask.

use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::error::{Error, Result};

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

/// One line of the audit trail as read back.
#[derive(Debug, Clone, PartialEq, serde::Deserialize, Serialize)]
pub struct AuditRecord {
    pub time: jiff::Timestamp,
    pub user: String,
    pub command: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub query: Option<String>,
    #[serde(default)]
    pub filters: serde_json::Value,
    #[serde(default)]
    pub hits: usize,
}

/// The trail, filtered, and the lines that did not read (`path:line: reason`).
#[derive(Debug, Clone, Default)]
pub struct AuditTrail {
    pub records: Vec<AuditRecord>,
    pub bad_lines: Vec<String>,
}

/// Which entries `callsift audit` shows.
#[derive(Debug, Clone, Default)]
pub struct AuditFilter {
    pub from: Option<jiff::Timestamp>,
    pub to: Option<jiff::Timestamp>,
    pub user: Option<String>,
}

/// Reads `OUT/audit.log` (no file: nothing was searched yet, an empty
/// trail). A line that does not parse is reported, never dropped silently,
/// and the rest is read.
pub fn read(out_dir: &Path, filter: &AuditFilter) -> Result<AuditTrail> {
    if !out_dir.is_dir() {
        return Err(Error::Other(format!(
            "--out {}: no such output folder",
            out_dir.display()
        )));
    }
    let path = audit_path(out_dir);
    let text = match fs_err::read_to_string(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(AuditTrail::default()),
        Err(e) => return Err(e.into()),
    };
    let mut trail = AuditTrail::default();
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        match serde_json::from_str::<AuditRecord>(line) {
            Ok(r) => {
                let keep = filter.from.is_none_or(|f| r.time >= f)
                    && filter.to.is_none_or(|t| r.time < t)
                    && filter.user.as_ref().is_none_or(|u| *u == r.user);
                if keep {
                    trail.records.push(r);
                }
            }
            Err(e) => trail
                .bad_lines
                .push(format!("{}:{}: {e}", path.display(), i + 1)),
        }
    }
    Ok(trail)
}

/// The trail as a table for a terminal: time (UTC), user, command, hits, what.
pub fn render(records: &[AuditRecord]) -> String {
    let mut out = String::from("time (UTC)           user        command  hits  query / filters\n");
    for r in records {
        let filters = match &r.filters {
            serde_json::Value::Object(m) => m
                .iter()
                .filter(|(_, v)| !v.is_null())
                .map(|(k, v)| match v {
                    serde_json::Value::String(s) => format!("{k}={s}"),
                    v => format!("{k}={v}"),
                })
                .collect::<Vec<_>>()
                .join(" "),
            _ => String::new(),
        };
        let what = match &r.query {
            Some(q) if filters.is_empty() => q.clone(),
            Some(q) => format!("{q}  [{filters}]"),
            None => filters,
        };
        // Whatever was typed or stored goes to a terminal: no control characters.
        let what: String = what.chars().filter(|c| !c.is_control()).collect();
        out.push_str(&format!(
            "{:<20} {:<11} {:<8} {:>5}  {what}\n",
            r.time.strftime("%Y-%m-%d %H:%M:%S"),
            r.user,
            r.command,
            r.hits
        ));
    }
    out
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
pub(crate) fn open_append(path: &Path) -> Result<fs_err::File> {
    use fs_err::os::unix::fs::OpenOptionsExt;
    let file = fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .mode(crate::atomic::FILE_MODE)
        .open(path)?;
    // The mode above is filtered by the umask and ignored for a file that
    // already exists: set it for certain.
    crate::atomic::set_file_mode(file.file(), path)?;
    Ok(file)
}

#[cfg(not(unix))]
pub(crate) fn open_append(path: &Path) -> Result<fs_err::File> {
    Ok(fs_err::OpenOptions::new()
        .create(true)
        .append(true)
        .open(path)?)
}
