//! `callsift search` output: a table for people, JSON and CSV for programs.
//!
//! The table shows, per hit: the call's date, the time in the call
//! (`hh:mm:ss` of the first matched word, estimated within its segment),
//! the speaker, the call id, the snippet with the matched
//! words highlighted (bold on a terminal, `[…]` elsewhere) and the
//! recording's path.

use std::fmt::Write;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::{SearchHit, SearchResults};
use crate::show::clock;

/// Output formats of `search`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Table,
    Json,
    Csv,
}

/// Longest snippet in the table, in characters.
const TABLE_SNIPPET_CHARS: usize = 90;

/// The call's start as a local date and time, `-` when unknown.
fn date_of(hit: &SearchHit, tz: &jiff::tz::TimeZone) -> String {
    hit.call_start
        .map(|t| {
            t.to_zoned(tz.clone())
                .strftime("%Y-%m-%d %H:%M")
                .to_string()
        })
        .unwrap_or_else(|| "-".to_string())
}

/// The hit's text with its highlights marked by `open`/`close`, cut to
/// about `max` characters around the first highlight.
pub fn marked_text(hit: &SearchHit, open: &str, close: &str, max: usize) -> String {
    let text = &hit.text;
    let first = hit.highlights.first().map_or(0, |h| h.0);
    let chars_before = text[..first].chars().count();
    // Keep some context before the first match.
    let skip_chars = chars_before.saturating_sub(max / 3);
    let start = text
        .char_indices()
        .nth(skip_chars)
        .map_or(text.len(), |(i, _)| i);
    let mut out = String::new();
    if start > 0 {
        out.push('…');
    }
    let mut at = start;
    let mut shown = 0;
    for &(from, to) in hit.highlights.iter().filter(|h| h.0 >= start) {
        shown += text[at..from].chars().count();
        out.push_str(&text[at..from]);
        out.push_str(open);
        out.push_str(&text[from..to]);
        out.push_str(close);
        at = to;
        if shown > max {
            break;
        }
    }
    let rest: String = text[at..].chars().take(max.saturating_sub(shown)).collect();
    let cut = rest.len() < text[at..].len();
    out.push_str(&rest);
    if cut {
        out.push('…');
    }
    out
}

/// The table; `color` uses bold for the matched words.
pub fn render_table(results: &SearchResults, color: bool, tz: &jiff::tz::TimeZone) -> String {
    let (open, close) = if color {
        ("\x1b[1;31m", "\x1b[0m")
    } else {
        ("[", "]")
    };
    let mut out = String::new();
    if results.hits.is_empty() {
        let _ = writeln!(out, "no hits");
        return out;
    }
    let _ = writeln!(
        out,
        "{:<16}  {:<8}  {:<8}  {:<20}  TEXT  |  RECORDING",
        "DATE", "TIME", "SPEAKER", "CALL"
    );
    for hit in &results.hits {
        let _ = writeln!(
            out,
            "{:<16}  {:<8}  {:<8}  {:<20}  {}  |  {}",
            date_of(hit, tz),
            clock(hit.at_ms),
            hit.speaker,
            hit.call_id,
            marked_text(hit, open, close, TABLE_SNIPPET_CHARS),
            hit.source_path
        );
    }
    let shown = results.hits.len();
    if shown < results.total {
        let _ = writeln!(
            out,
            "({shown} of {} hits; --limit and --offset for more)",
            results.total
        );
    } else {
        let _ = writeln!(out, "({} hits)", results.total);
    }
    out
}

/// The JSON form of a hit (what `--format json` prints, one array).
#[derive(Debug, Serialize)]
struct JsonHit<'a> {
    call_id: &'a str,
    source_path: &'a str,
    start_ms: u64,
    end_ms: u64,
    at_ms: u64,
    time: String,
    speaker: &'a str,
    channel: usize,
    language: &'a str,
    segment: usize,
    call_start: Option<jiff::Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    agent_id: Option<&'a str>,
    text: &'a str,
    snippet: &'a str,
    highlights: &'a [(usize, usize)],
    score: f32,
    across_segments: bool,
}

pub fn render_json(results: &SearchResults) -> Result<String> {
    let hits: Vec<JsonHit> = results
        .hits
        .iter()
        .map(|h| JsonHit {
            call_id: &h.call_id,
            source_path: &h.source_path,
            start_ms: h.start_ms,
            end_ms: h.end_ms,
            at_ms: h.at_ms,
            time: clock(h.at_ms),
            speaker: &h.speaker,
            channel: h.channel,
            language: &h.language,
            segment: h.segment,
            call_start: h.call_start,
            agent_id: h.agent_id.as_deref(),
            text: &h.text,
            snippet: &h.snippet,
            highlights: &h.highlights,
            score: h.score,
            across_segments: h.across_segments,
        })
        .collect();
    let mut s = serde_json::to_string_pretty(&hits)
        .map_err(|e| Error::Other(format!("cannot serialise hits: {e}")))?;
    s.push('\n');
    Ok(s)
}

pub const CSV_HEADER: [&str; 13] = [
    "call_id",
    "call_start",
    "time",
    "start_ms",
    "end_ms",
    "at_ms",
    "speaker",
    "language",
    "agent_id",
    "score",
    "source_path",
    "text",
    "snippet",
];

/// RFC 4180 CSV with a header; the snippet marks matches with `[…]`.
pub fn render_csv(results: &SearchResults) -> Result<String> {
    let mut w = csv::Writer::from_writer(Vec::new());
    let err = |e: csv::Error| Error::Other(format!("cannot write csv: {e}"));
    w.write_record(CSV_HEADER).map_err(err)?;
    for h in &results.hits {
        w.write_record([
            h.call_id.clone(),
            h.call_start.map(|t| t.to_string()).unwrap_or_default(),
            clock(h.at_ms),
            h.start_ms.to_string(),
            h.end_ms.to_string(),
            h.at_ms.to_string(),
            h.speaker.clone(),
            h.language.clone(),
            h.agent_id.clone().unwrap_or_default(),
            format!("{:.4}", h.score),
            h.source_path.clone(),
            h.text.clone(),
            marked_text(h, "[", "]", usize::MAX / 4),
        ])
        .map_err(err)?;
    }
    let bytes = w
        .into_inner()
        .map_err(|e| Error::Other(format!("cannot write csv: {e}")))?;
    String::from_utf8(bytes).map_err(|e| Error::Other(format!("csv: {e}")))
}
