//! `callsift show`: a transcript as people read it, one line per turn:
//! `[00:01:23] agent: …`.

use std::fmt::Write;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::model::Transcript;
use crate::sink::transcript_json::{read_transcript, transcript_path, transcripts_dir};

/// Finds a transcript by call id or by a unique prefix of one.
pub fn find_transcript(out_dir: &Path, call_id: &str) -> Result<PathBuf> {
    if call_id.is_empty() || !call_id.chars().all(|c| c.is_ascii_hexdigit()) {
        return Err(Error::Usage(format!(
            "`{call_id}` is not a call id (hex digits)"
        )));
    }
    let exact = transcript_path(out_dir, call_id);
    if exact.is_file() {
        return Ok(exact);
    }
    let dir = transcripts_dir(out_dir);
    let mut matches: Vec<PathBuf> = fs_err::read_dir(&dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .filter(|p| {
            p.extension().is_some_and(|e| e == "json")
                && p.file_stem()
                    .is_some_and(|s| s.to_string_lossy().starts_with(call_id))
        })
        .collect();
    matches.sort();
    match matches.len() {
        1 => Ok(matches.remove(0)),
        0 => Err(Error::Usage(format!(
            "no call {call_id} in {}",
            dir.display()
        ))),
        n => Err(Error::Usage(format!(
            "call id prefix {call_id} matches {n} calls; give more digits"
        ))),
    }
}

/// `hh:mm:ss` of a time in milliseconds.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    format!("{:02}:{:02}:{:02}", s / 3600, (s / 60) % 60, s % 60)
}

/// The dialogue, with a short header. Consecutive segments of one speaker
/// stay separate lines so every line keeps its own time.
pub fn render_dialogue(t: &Transcript) -> String {
    let mut out = String::new();
    let langs = t
        .languages
        .iter()
        .map(|(speaker, lang)| format!("{speaker}={lang}"))
        .collect::<Vec<_>>()
        .join(", ");
    let _ = writeln!(out, "call {}  {}", t.call_id, t.source_path);
    let _ = writeln!(
        out,
        "duration {}  channels {}  {} Hz {}  model {}  languages {}",
        clock(t.duration_ms),
        t.channels,
        t.sample_rate_hz,
        t.codec,
        t.model,
        if langs.is_empty() { "-".into() } else { langs }
    );
    for w in &t.warnings {
        let _ = writeln!(out, "warning: {w}");
    }
    let _ = writeln!(out);
    if t.segments.is_empty() {
        let _ = writeln!(out, "(no speech)");
    }
    for s in &t.segments {
        let _ = writeln!(out, "[{}] {}: {}", clock(s.start_ms), s.speaker, s.text);
    }
    out
}

/// Reads and renders the transcript of `call_id`.
pub fn show(out_dir: &Path, call_id: &str) -> Result<String> {
    let path = find_transcript(out_dir, call_id)?;
    Ok(render_dialogue(&read_transcript(&path)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_formats() {
        assert_eq!(clock(0), "00:00:00");
        assert_eq!(clock(83_999), "00:01:23");
        assert_eq!(clock(3_723_000), "01:02:03");
    }
}
