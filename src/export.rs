//! `callsift export --format ndjson`: the stored segments as documents for
//! another search engine (Quickwit, `deploy/quickwit/`), one JSON object per
//! segment and line, with the search index's field names and values
//! (`docs/search-index.md`) so a query means the same field there.
//!
//! Everything comes from `OUT/transcripts/` (the source of truth), read in
//! call-id order, so the same folder always gives the same bytes. Each
//! document carries a stable `doc_id` (`<call_id>:<segment>`): engines such
//! as Quickwit do not de-duplicate, and the id is what an operator deletes
//! by, or checks, before ingesting a call again.
//!
//! The index's analyzed fields (`t_pl`, `t_ru`, `t_en`, `t_he`) are made by
//! [`crate::text::analyze`], which outside engines do not have (Quickwit has
//! no stemmer filter at all); `text_stems` carries that analysis as words
//! separated by spaces, so stemmed search stays possible there.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;

use serde::Serialize;

use crate::error::{Error, Result};
use crate::model::{STANDARD_METADATA, Transcript};
use crate::sink::transcript_json::{read_transcript, transcript_path, transcripts_dir};
use crate::text::analyze::{self, Lang};

/// Which calls an export takes, by `call_start`: `from` inclusive, `to`
/// exclusive (as `search --from/--to`). With either bound set, a call
/// without a `call_start` is left out.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct ExportOptions {
    pub from: Option<jiff::Timestamp>,
    pub to: Option<jiff::Timestamp>,
}

impl ExportOptions {
    /// Does a call that started at `call_start` belong to the export?
    pub fn takes(&self, call_start: Option<jiff::Timestamp>) -> bool {
        if self.from.is_none() && self.to.is_none() {
            return true;
        }
        let Some(start) = call_start else {
            return false;
        };
        self.from.is_none_or(|from| start >= from) && self.to.is_none_or(|to| start < to)
    }
}

/// What an export did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExportReport {
    /// Calls exported (those without segments included: they give no line).
    pub calls: usize,
    /// Documents (lines) written: one per segment.
    pub documents: usize,
    /// Bytes written, newlines included.
    pub bytes: u64,
    /// Calls left out by `from`/`to`.
    pub outside_range: usize,
    /// Exported calls without a `call_start` (an index whose timestamp
    /// field is `call_start` rejects their documents).
    pub undated: usize,
    /// Transcripts that did not read: `path: reason`, in call-id order.
    pub failed: Vec<String>,
}

/// The documents' format version, for the README and whoever parses them;
/// a change of a field's name or meaning is a new version.
pub const EXPORT_SCHEMA: &str = "callsift.export/1";

/// One segment as a document. Fields absent from the call (no
/// `call_start`, no metadata value, no rule fired, no stems) are left out
/// rather than written as `null`, which Quickwit ignores anyway.
#[derive(Debug, Serialize)]
pub struct SegmentDoc<'a> {
    /// `<call_id>:<segment>`: the same for the same segment on every export.
    pub doc_id: String,
    pub call_id: &'a str,
    /// The segment's number in the transcript (from 0).
    pub segment: usize,
    pub start_ms: u64,
    pub end_ms: u64,
    pub speaker: &'a str,
    pub channel: usize,
    pub language: &'a str,
    pub text: &'a str,
    /// What the index's language field holds, space-separated in word
    /// order: folded Snowball stems for pl/ru/en; for Hebrew each word
    /// followed by its prefix-stripped variants.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub text_stems: String,
    /// RFC 3339, UTC.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_start: Option<jiff::Timestamp>,
    pub call_duration_ms: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub customer_number: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub direction: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub campaign: Option<&'a str>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub queue: Option<&'a str>,
    /// Every metadata key of the call.
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub metadata: &'a BTreeMap<String, String>,
    /// The rules that fired in the call, sorted, on every segment of it.
    #[serde(skip_serializing_if = "<[String]>::is_empty")]
    pub rule: &'a [String],
    pub source_path: &'a str,
    pub model: &'a str,
    pub pipeline: &'a str,
}

/// The calls of `OUT/transcripts/`, in call-id order; an error when the
/// folder has none (`run` and `import` make it).
pub fn call_ids(out_dir: &Path) -> Result<Vec<String>> {
    let dir = transcripts_dir(out_dir);
    if !dir.is_dir() {
        return Err(Error::Other(format!(
            "{}: no transcripts folder to export (made by `run` and `import`)",
            dir.display()
        )));
    }
    crate::index::writer::transcript_ids(out_dir)
}

/// The rules that fired in a call, sorted (the index's `rule` values).
fn fired_rules(t: &Transcript) -> Vec<String> {
    t.analysis
        .as_ref()
        .map(|a| a.fired_rules())
        .unwrap_or_default()
}

/// The index's language-field tokens of `text`, space-separated.
pub fn stems_of(text: &str, language: &str) -> String {
    let analyzed = analyze::analyze(text, Lang::from_code(language));
    let Some((_, tokens)) = analyzed.lang else {
        return String::new();
    };
    let mut out = String::with_capacity(text.len());
    for token in tokens {
        if !out.is_empty() {
            out.push(' ');
        }
        out.push_str(&token.text);
    }
    out
}

/// The documents of one call, in segment order.
pub fn segment_docs<'a>(t: &'a Transcript, rules: &'a [String]) -> Vec<SegmentDoc<'a>> {
    let meta = |name: &str| {
        debug_assert!(STANDARD_METADATA.iter().any(|(n, _)| *n == name));
        t.standard_metadata(name)
    };
    t.segments
        .iter()
        .enumerate()
        .map(|(i, s)| SegmentDoc {
            doc_id: format!("{}:{i}", t.call_id),
            call_id: &t.call_id,
            segment: i,
            start_ms: s.start_ms,
            end_ms: s.end_ms,
            speaker: &s.speaker,
            channel: s.channel,
            language: &s.language,
            text: &s.text,
            text_stems: stems_of(&s.text, &s.language),
            call_start: t.call_start,
            call_duration_ms: t.duration_ms,
            agent_id: meta("agent_id"),
            customer_number: meta("customer_number"),
            direction: meta("direction"),
            campaign: meta("campaign"),
            queue: meta("queue"),
            metadata: &t.metadata,
            rule: rules,
            source_path: &t.source_path,
            model: &t.model,
            pipeline: &t.pipeline,
        })
        .collect()
}

/// Writes the lines of one call to `w`; the bytes written.
pub fn write_call(t: &Transcript, w: &mut impl Write) -> Result<u64> {
    let rules = fired_rules(t);
    let mut line = Vec::with_capacity(1024);
    let mut bytes = 0;
    for doc in segment_docs(t, &rules) {
        line.clear();
        serde_json::to_writer(&mut line, &doc)
            .map_err(|e| Error::Other(format!("{}: cannot serialise segment: {e}", doc.doc_id)))?;
        line.push(b'\n');
        w.write_all(&line)?;
        bytes += line.len() as u64;
    }
    Ok(bytes)
}

/// Exports the calls `call_ids` of `out_dir` within `options` to `w` as
/// NDJSON (see [`call_ids`] for the list). A transcript that does not read
/// is logged (a warning naming it) and counted in `failed`, and the export
/// goes on; an error writing `w` stops it.
pub fn export_ndjson(
    out_dir: &Path,
    call_ids: &[String],
    options: &ExportOptions,
    w: &mut impl Write,
) -> Result<ExportReport> {
    let mut report = ExportReport::default();
    for call_id in call_ids {
        let path = transcript_path(out_dir, call_id);
        let t = match read_transcript(&path) {
            Ok(t) => t,
            Err(e) => {
                tracing::warn!("{e}; left out of the export");
                report.failed.push(e.to_string());
                continue;
            }
        };
        if !options.takes(t.call_start) {
            report.outside_range += 1;
            continue;
        }
        report.bytes += write_call(&t, w)?;
        report.calls += 1;
        report.documents += t.segments.len();
        if t.call_start.is_none() {
            report.undated += 1;
        }
    }
    w.flush()?;
    Ok(report)
}

/// What `callsift export` says on stderr after the last line: the counts,
/// then a warning when some calls have no `call_start` (Quickwit's index in
/// `deploy/quickwit/` uses it as its timestamp field and rejects documents
/// without one).
pub fn summary_lines(report: &ExportReport) -> Vec<String> {
    let mut summary = format!(
        "exported {} documents of {} calls ({} bytes)",
        report.documents, report.calls, report.bytes
    );
    if report.outside_range > 0 {
        summary.push_str(&format!(
            "; {} calls outside --from/--to",
            report.outside_range
        ));
    }
    if !report.failed.is_empty() {
        summary.push_str(&format!(
            "; {} transcripts failed (see the warnings)",
            report.failed.len()
        ));
    }
    let mut lines = vec![summary];
    if report.undated > 0 {
        lines.push(format!(
            "warning: {} exported calls have no call_start; an index whose timestamp field is \
             call_start (deploy/quickwit/) rejects their documents",
            report.undated
        ));
    }
    lines
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallAnalysis, HitKind, RuleHit, Segment, Severity, TRANSCRIPT_SCHEMA};
    use crate::sink::{Sink, TranscriptJsonSink};

    fn call(call_id: &str, call_start: Option<&str>, texts: &[(&str, &str)]) -> Transcript {
        Transcript {
            schema: TRANSCRIPT_SCHEMA.into(),
            call_id: call_id.into(),
            source_path: format!("/rec/{call_id}.wav"),
            content_hash: format!("blake3:{call_id}"),
            call_start: call_start.map(|s| s.parse().expect("timestamp")),
            duration_ms: 60_000,
            channels: 2,
            sample_rate_hz: 8000,
            codec: "pcm_mulaw".into(),
            metadata: [("agent", "104"), ("queue", "sales"), ("unique_id", "1.5")]
                .into_iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect(),
            metadata_source: Default::default(),
            model: "scripted".into(),
            languages: Default::default(),
            segments: texts
                .iter()
                .enumerate()
                .map(|(i, (lang, text))| Segment {
                    start_ms: i as u64 * 5_000,
                    end_ms: i as u64 * 5_000 + 4_000,
                    channel: i % 2,
                    speaker: if i % 2 == 0 { "agent" } else { "customer" }.into(),
                    language: (*lang).into(),
                    text: (*text).into(),
                    avg_logprob: -0.2,
                    no_speech_prob: 0.01,
                })
                .collect(),
            speech: Vec::new(),
            warnings: Vec::new(),
            pipeline: "test".into(),
            processed_at: None,
            processing_ms: None,
            analysis: None,
        }
    }

    fn write(out: &Path, t: &Transcript) {
        TranscriptJsonSink::new(out)
            .expect("sink")
            .accept(t)
            .expect("write");
    }

    fn export(out: &Path, options: &ExportOptions) -> (ExportReport, Vec<serde_json::Value>) {
        let ids = call_ids(out).expect("ids");
        let mut buf = Vec::new();
        let report = export_ndjson(out, &ids, options, &mut buf).expect("export");
        assert_eq!(report.bytes, buf.len() as u64);
        let text = String::from_utf8(buf).expect("utf-8");
        let lines = text
            .lines()
            .map(|l| serde_json::from_str(l).expect("a JSON object per line"))
            .collect();
        (report, lines)
    }

    fn range(from: Option<&str>, to: Option<&str>) -> ExportOptions {
        ExportOptions {
            from: from.map(|s| s.parse().expect("timestamp")),
            to: to.map(|s| s.parse().expect("timestamp")),
        }
    }

    #[test]
    fn every_segment_is_a_line_with_the_index_fields() {
        let out = tempfile::tempdir().expect("tempdir");
        let mut t = call(
            "aa01",
            Some("2026-11-20T14:30:00Z"),
            &[
                ("pl", "Zadzwonię z prywatnej komórki."),
                ("pl", "Dobrze, dziękuję."),
                ("he", "והסוד נשמר"),
            ],
        );
        let hit = |rule: &str| RuleHit {
            rule: rule.into(),
            kind: HitKind::Watchlist,
            severity: Severity::High,
            speaker: "agent".into(),
            segment: Some(0),
            start_ms: 0,
            end_ms: 4_000,
            matched: "prywatnej komórki".into(),
            phrase: "prywatna komórka".into(),
        };
        let analysis = CallAnalysis {
            pipeline: "security".into(),
            hits: vec![hit("private-phone"), hit("private-phone"), hit("a-rule")],
            ..CallAnalysis::default()
        };
        t.analysis = Some(analysis);
        write(out.path(), &t);
        let (report, lines) = export(out.path(), &ExportOptions::default());
        assert_eq!((report.calls, report.documents), (1, 3));
        assert_eq!(lines.len(), 3);
        let first = &lines[0];
        assert_eq!(first["doc_id"], "aa01:0");
        assert_eq!(first["call_id"], "aa01");
        assert_eq!(first["segment"], 0);
        assert_eq!(first["start_ms"], 0);
        assert_eq!(first["end_ms"], 4000);
        assert_eq!(first["speaker"], "agent");
        assert_eq!(first["channel"], 0);
        assert_eq!(first["language"], "pl");
        assert_eq!(first["text"], "Zadzwonię z prywatnej komórki.");
        assert_eq!(
            first["text_stems"],
            stems_of("Zadzwonię z prywatnej komórki.", "pl")
        );
        assert!(
            first["text_stems"]
                .as_str()
                .expect("stems")
                .contains("komork")
        );
        assert_eq!(first["call_start"], "2026-11-20T14:30:00Z");
        assert_eq!(first["call_duration_ms"], 60_000);
        assert_eq!(first["agent_id"], "104", "the `agent` alias");
        assert_eq!(first["queue"], "sales");
        assert!(first.get("direction").is_none(), "absent, not null");
        assert_eq!(first["metadata"]["unique_id"], "1.5");
        assert_eq!(
            first["rule"],
            serde_json::json!(["a-rule", "private-phone"])
        );
        assert_eq!(first["source_path"], "/rec/aa01.wav");
        assert_eq!(first["model"], "scripted");
        assert_eq!(lines[1]["doc_id"], "aa01:1");
        assert_eq!(lines[1]["channel"], 1);
        assert_eq!(
            lines[1]["rule"], first["rule"],
            "the call's rules on every segment"
        );
        let hebrew = lines[2]["text_stems"].as_str().expect("stems");
        assert!(hebrew.split(' ').any(|w| w == "סוד"), "{hebrew}");
    }

    #[test]
    fn dates_filter_by_call_start_and_undated_calls_go_with_a_filter() {
        let out = tempfile::tempdir().expect("tempdir");
        write(
            out.path(),
            &call("b1", Some("2026-11-19T23:59:59Z"), &[("en", "a")]),
        );
        write(
            out.path(),
            &call("b2", Some("2026-11-20T00:00:00Z"), &[("en", "b")]),
        );
        write(
            out.path(),
            &call("b3", Some("2026-11-21T00:00:00Z"), &[("en", "c")]),
        );
        write(out.path(), &call("b4", None, &[("en", "d")]));
        let ids = |lines: &[serde_json::Value]| -> Vec<String> {
            lines
                .iter()
                .map(|l| l["call_id"].as_str().expect("id").to_string())
                .collect()
        };
        let (report, lines) = export(out.path(), &ExportOptions::default());
        assert_eq!(ids(&lines), ["b1", "b2", "b3", "b4"]);
        assert_eq!(report.undated, 1);
        assert!(lines[3].get("call_start").is_none());

        let day = range(Some("2026-11-20T00:00:00Z"), Some("2026-11-21T00:00:00Z"));
        let (report, lines) = export(out.path(), &day);
        assert_eq!(ids(&lines), ["b2"], "from inclusive, to exclusive");
        assert_eq!((report.outside_range, report.undated), (3, 0));

        let (_, lines) = export(out.path(), &range(Some("2026-11-20T00:00:00Z"), None));
        assert_eq!(ids(&lines), ["b2", "b3"]);
        let (_, lines) = export(out.path(), &range(None, Some("2026-11-20T00:00:00Z")));
        assert_eq!(ids(&lines), ["b1"]);
    }

    #[test]
    fn the_same_folder_gives_the_same_bytes_in_call_id_order() {
        let out = tempfile::tempdir().expect("tempdir");
        // Written in another order than their ids sort.
        for id in ["c3", "c1", "c2"] {
            write(
                out.path(),
                &call(
                    id,
                    Some("2026-11-20T10:00:00Z"),
                    &[("ru", "Позвоню позже"), ("ru", "да")],
                ),
            );
        }
        let run = || {
            let ids = call_ids(out.path()).expect("ids");
            let mut buf = Vec::new();
            export_ndjson(out.path(), &ids, &ExportOptions::default(), &mut buf).expect("export");
            buf
        };
        let first = run();
        assert_eq!(first, run());
        let order: Vec<String> = String::from_utf8(first)
            .expect("utf-8")
            .lines()
            .map(|l| {
                let v: serde_json::Value = serde_json::from_str(l).expect("json");
                v["doc_id"].as_str().expect("doc_id").to_string()
            })
            .collect();
        assert_eq!(order, ["c1:0", "c1:1", "c2:0", "c2:1", "c3:0", "c3:1"]);
    }

    #[test]
    fn a_bad_transcript_is_counted_and_the_others_exported() {
        let out = tempfile::tempdir().expect("tempdir");
        write(
            out.path(),
            &call("d1", None, &[("en", "one"), ("en", "two")]),
        );
        write(out.path(), &call("d3", None, &[("en", "three")]));
        let bad = transcript_path(out.path(), "d2");
        std::fs::write(&bad, b"{ not json").expect("write");
        let (report, lines) = export(out.path(), &ExportOptions::default());
        assert_eq!(report.failed.len(), 1, "{:?}", report.failed);
        assert!(
            report.failed[0].contains(&bad.display().to_string()),
            "{:?}",
            report.failed
        );
        assert_eq!((report.calls, report.documents, lines.len()), (2, 3, 3));
    }

    #[test]
    fn a_folder_without_transcripts_is_an_error_naming_it() {
        let out = tempfile::tempdir().expect("tempdir");
        let e = call_ids(out.path()).expect_err("no transcripts");
        assert!(e.to_string().contains("transcripts"), "{e}");
    }
}
