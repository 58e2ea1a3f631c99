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
    if !dir.is_dir() {
        return Err(Error::Other(format!(
            "--out {}: no transcripts/ folder (no run or import wrote there)",
            out_dir.display()
        )));
    }
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
/// `started 2026-11-20T09:12:04Z  agent anna.k  customer +44…  inbound …`:
/// what the call metadata stage found, when it found anything.
fn who_and_when(t: &Transcript) -> Option<String> {
    let mut parts = Vec::new();
    if let Some(start) = t.call_start {
        parts.push(format!("started {start}"));
    }
    for (key, label) in [
        ("agent_id", "agent"),
        ("customer_number", "customer"),
        ("direction", ""),
        ("queue", "queue"),
        ("campaign", "campaign"),
    ] {
        if let Some(v) = t.metadata.get(key).filter(|v| !v.is_empty()) {
            let v = v.replace(char::is_control, "?");
            parts.push(if label.is_empty() {
                v
            } else {
                format!("{label} {v}")
            });
        }
    }
    (!parts.is_empty()).then(|| parts.join("  "))
}

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
    if let Some(line) = who_and_when(t) {
        let _ = writeln!(out, "{line}");
    }
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

/// Segments shown on each side of the one at `--at`, by default.
pub const DEFAULT_CONTEXT: usize = 3;

/// Parses `hh:mm:ss`, `mm:ss` or seconds (each with optional `.fff`) into ms.
pub fn parse_clock(s: &str) -> Result<u64> {
    let bad = || {
        Error::Usage(format!(
            "--at `{s}`: give a time in the call as hh:mm:ss, mm:ss or seconds"
        ))
    };
    let parts: Vec<&str> = s.trim().split(':').collect();
    if parts.is_empty() || parts.len() > 3 || parts.iter().any(|p| p.is_empty()) {
        return Err(bad());
    }
    let (last, whole) = parts.split_last().expect("non-empty");
    let seconds: f64 = last.parse().map_err(|_| bad())?;
    if !seconds.is_finite() || seconds < 0.0 || (parts.len() > 1 && seconds >= 60.0) {
        return Err(bad());
    }
    let mut total_ms = (seconds * 1000.0).round() as u64;
    for (i, p) in whole.iter().rev().enumerate() {
        let v: u64 = p.parse().map_err(|_| bad())?;
        if i == 0 && whole.len() == 2 && v >= 60 {
            return Err(bad());
        }
        total_ms += v * if i == 0 { 60_000 } else { 3_600_000 };
    }
    Ok(total_ms)
}

/// The segment a moment falls in: the last one starting at or before it
/// (the first segment when the moment is before all of them).
pub fn segment_at(t: &Transcript, at_ms: u64) -> Option<usize> {
    if t.segments.is_empty() {
        return None;
    }
    Some(
        t.segments
            .iter()
            .rposition(|s| s.start_ms <= at_ms)
            .unwrap_or(0),
    )
}

/// The dialogue around `at_ms`: `context` segments either side of the one
/// at that moment, which is marked with `>`. Returns the text and how many
/// lines of dialogue it shows.
pub fn render_around(t: &Transcript, at_ms: u64, context: usize) -> (String, usize) {
    let mut out = String::new();
    let _ = writeln!(out, "call {}  {}", t.call_id, t.source_path);
    let _ = writeln!(out, "at {} of {}", clock(at_ms), clock(t.duration_ms));
    let _ = writeln!(out);
    let Some(hit) = segment_at(t, at_ms) else {
        let _ = writeln!(out, "(no speech)");
        return (out, 0);
    };
    let from = hit.saturating_sub(context);
    let to = (hit + context + 1).min(t.segments.len());
    if from > 0 {
        let _ = writeln!(out, "  … {from} earlier lines");
    }
    for (i, s) in t.segments.iter().enumerate().take(to).skip(from) {
        let mark = if i == hit { '>' } else { ' ' };
        let _ = writeln!(
            out,
            "{mark} [{}] {}: {}",
            clock(s.start_ms),
            s.speaker,
            s.text
        );
    }
    if to < t.segments.len() {
        let _ = writeln!(out, "  … {} later lines", t.segments.len() - to);
    }
    (out, to - from)
}

/// Reads the transcript of `call_id` (or of a unique prefix of one).
pub fn load(out_dir: &Path, call_id: &str) -> Result<Transcript> {
    read_transcript(&find_transcript(out_dir, call_id)?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clock_parses() {
        assert_eq!(parse_clock("00:01:23").unwrap(), 83_000);
        assert_eq!(parse_clock("1:02:03").unwrap(), 3_723_000);
        assert_eq!(parse_clock("01:23").unwrap(), 83_000);
        assert_eq!(parse_clock("83.5").unwrap(), 83_500);
        assert_eq!(parse_clock("00:00:07.250").unwrap(), 7_250);
        for bad in ["", "1:", "a:b", "00:61", "00:75:00", "-3", "1:2:3:4"] {
            assert!(parse_clock(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn clock_formats() {
        assert_eq!(clock(0), "00:00:00");
        assert_eq!(clock(83_999), "00:01:23");
        assert_eq!(clock(3_723_000), "01:02:03");
    }
}
