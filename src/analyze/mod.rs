//! Talk metrics of a call (talk time, silence, overlap, interruptions,
//! monologues, words per minute) and the table rows built from a
//! transcript (`calls` and `segments` here, `hits` and `scores` from its
//! `analysis` block in [`rules_rows`]). Pure functions of a [`Transcript`]: no I/O, so the tables
//! can always be rebuilt from `OUT/transcripts/` alone.
//!
//! Metrics come from the VAD's unpadded speech spans
//! ([`crate::model::ChannelSpeech::talk`]), not from the padded spans cut
//! for whisper: those carry ~200 ms of audio on each side and would invent
//! overlap at every quick hand-over. Transcripts without talk spans
//! (imported, or made before the field existed) fall back to segment
//! times, and the row says so (`metrics_source`). `docs/tables.md` defines
//! every metric; the definitions are repeated on the functions below.

pub mod rules_rows;
pub mod spans;

pub use rules_rows::{hit_rows, score_rows};

use std::collections::{BTreeMap, BTreeSet};

use serde::{Deserialize, Serialize};

use crate::model::{
    CallMetrics, CallRow, MetricsSource, SegmentRow, SpeechSpan, TABLES_SCHEMA_VERSION, Transcript,
};
use spans::{Spans, total_ms};

/// Speaker name of the agent side (see `[speakers]` in the pipeline file).
pub const AGENT: &str = "agent";
/// Speaker name of the customer side.
pub const CUSTOMER: &str = "customer";

/// `[metrics]` in the pipeline file.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetricsSettings {
    /// One speaker starting while the other speaks counts as an
    /// interruption when both then speak together at least this long.
    pub interruption_min_overlap_ms: u64,
    /// A speaker's pauses shorter than this, with the other silent, do not
    /// end a monologue.
    pub monologue_max_pause_ms: u64,
}

impl Default for MetricsSettings {
    fn default() -> Self {
        Self {
            interruption_min_overlap_ms: 300,
            monologue_max_pause_ms: 1500,
        }
    }
}

/// Each speaker's speech, sorted and merged, and where it came from.
fn speech_by_speaker(t: &Transcript) -> (MetricsSource, BTreeMap<String, Spans>) {
    let from_vad = !t.speech.is_empty() && t.speech.iter().all(|c| c.talk.is_some());
    let mut by: BTreeMap<String, Vec<SpeechSpan>> = BTreeMap::new();
    for c in &t.speech {
        let entry = by.entry(c.speaker.clone()).or_default();
        if from_vad {
            entry.extend(c.talk.iter().flatten().copied());
        }
    }
    if !from_vad {
        for s in &t.segments {
            by.entry(s.speaker.clone()).or_default().push(SpeechSpan {
                start_ms: s.start_ms,
                end_ms: s.end_ms.max(s.start_ms),
            });
        }
    }
    let source = if from_vad {
        MetricsSource::Vad
    } else {
        MetricsSource::Segments
    };
    let merged = by
        .into_iter()
        .map(|(speaker, v)| (speaker, Spans::new(v)))
        .collect();
    (source, merged)
}

/// The talk metrics of one call; see `docs/tables.md` for each definition.
pub fn call_metrics(t: &Transcript, settings: &MetricsSettings) -> CallMetrics {
    metrics_with(t, settings, &word_counts(t))
}

/// Words of each segment, counted once: the word counts are the costly
/// part (the shared normalization), and the metrics and both rows use them.
fn word_counts(t: &Transcript) -> Vec<usize> {
    t.segments
        .iter()
        .map(|s| word_count(&s.text, &s.language))
        .collect()
}

fn metrics_with(t: &Transcript, settings: &MetricsSettings, counts: &[usize]) -> CallMetrics {
    let (source, speech) = speech_by_speaker(t);
    let all = Spans::new(speech.values().flat_map(|s| s.iter().copied()).collect());
    let talk_ms = total_ms(all.iter());
    let duration_ms = t.duration_ms.max(all.end_ms());
    let agent = speech.get(AGENT);
    let customer = speech.get(CUSTOMER);
    let words_of = |speaker: &str| -> u64 {
        t.segments
            .iter()
            .zip(counts)
            .filter(|(s, _)| s.speaker == speaker)
            .map(|(_, &n)| n as u64)
            .sum()
    };
    let talk = |s: Option<&Spans>| s.map(|s| total_ms(s.iter()));
    let words_agent = agent.map(|_| words_of(AGENT));
    let words_customer = customer.map(|_| words_of(CUSTOMER));
    let (talk_agent, talk_customer) = (talk(agent), talk(customer));
    let both = agent.zip(customer);
    CallMetrics {
        source,
        talk_ms,
        talk_ms_agent: talk_agent,
        talk_ms_customer: talk_customer,
        silence_ms: duration_ms.saturating_sub(talk_ms),
        overlap_ms: both.map(|(a, c)| a.overlap_ms(c)),
        interruptions_agent: both
            .map(|(a, c)| a.interruptions_of(c, settings.interruption_min_overlap_ms)),
        interruptions_customer: both
            .map(|(a, c)| c.interruptions_of(a, settings.interruption_min_overlap_ms)),
        longest_monologue_ms_agent: agent
            .map(|a| a.longest_monologue_ms(customer, settings.monologue_max_pause_ms)),
        longest_monologue_ms_customer: customer
            .map(|c| c.longest_monologue_ms(agent, settings.monologue_max_pause_ms)),
        words: counts.iter().map(|&n| n as u64).sum(),
        words_agent,
        words_customer,
        wpm_agent: wpm(words_agent, talk_agent),
        wpm_customer: wpm(words_customer, talk_customer),
        talk_ratio_agent: match (talk_agent, talk_customer) {
            (Some(a), Some(c)) if a + c > 0 => Some(round4(a as f64 / (a + c) as f64)),
            _ => None,
        },
        mean_avg_logprob: mean_avg_logprob(t),
    }
}

/// Words per minute of talk; unknown below one second of talk, where one
/// word would read as an absurd rate.
fn wpm(words: Option<u64>, talk_ms: Option<u64>) -> Option<f64> {
    let (words, talk_ms) = (words?, talk_ms?);
    (talk_ms >= 1000).then(|| round4(words as f64 * 60_000.0 / talk_ms as f64))
}

fn mean_avg_logprob(t: &Transcript) -> Option<f64> {
    if t.segments.is_empty() {
        return None;
    }
    let sum: f64 = t.segments.iter().map(|s| f64::from(s.avg_logprob)).sum();
    Some(round4(sum / t.segments.len() as f64))
}

/// Words as search and eval count them (the shared normalization).
fn word_count(text: &str, language: &str) -> usize {
    let language = (!language.is_empty()).then_some(language);
    crate::text::words(text, language).len()
}

/// Four decimals: enough for ratios and rates, and stable in CSV and JSON.
fn round4(x: f64) -> f64 {
    (x * 10_000.0).round() / 10_000.0
}

/// A standard metadata value (under its key or an older alias), if not empty.
fn meta(t: &Transcript, name: &str) -> Option<String> {
    t.standard_metadata(name)
        .filter(|v| !v.is_empty())
        .map(str::to_string)
}

/// The `calls` row and the `segments` rows of a transcript.
pub fn rows(t: &Transcript, settings: &MetricsSettings) -> (CallRow, Vec<SegmentRow>) {
    let counts = word_counts(t);
    (
        call_row_with(t, settings, &counts),
        segment_rows_with(t, &counts),
    )
}

/// The `calls` row of a transcript.
pub fn call_row(t: &Transcript, settings: &MetricsSettings) -> CallRow {
    call_row_with(t, settings, &word_counts(t))
}

fn call_row_with(t: &Transcript, settings: &MetricsSettings, counts: &[usize]) -> CallRow {
    let languages: BTreeSet<String> = t
        .languages
        .values()
        .cloned()
        .chain(t.segments.iter().map(|s| s.language.clone()))
        .filter(|l| !l.is_empty())
        .collect();
    CallRow {
        call_id: t.call_id.clone(),
        source_path: t.source_path.clone(),
        content_hash: t.content_hash.clone(),
        call_start: t.call_start,
        duration_ms: t.duration_ms,
        channels: t.channels as u32,
        sample_rate_hz: t.sample_rate_hz,
        codec: t.codec.clone(),
        agent_id: meta(t, "agent_id"),
        customer_number: meta(t, "customer_number"),
        direction: meta(t, "direction"),
        campaign: meta(t, "campaign"),
        queue: meta(t, "queue"),
        languages: languages.into_iter().collect(),
        language_agent: t.languages.get(AGENT).cloned(),
        language_customer: t.languages.get(CUSTOMER).cloned(),
        metrics: metrics_with(t, settings, counts),
        segments: t.segments.len() as u32,
        model: t.model.clone(),
        pipeline: t.pipeline.clone(),
        processed_at: t.processed_at,
        processing_ms: t.processing_ms,
        metadata_json: serde_json::to_string(&t.metadata).unwrap_or_else(|_| "{}".into()),
        metadata_source_json: serde_json::to_string(&t.metadata_source)
            .unwrap_or_else(|_| "{}".into()),
        warnings: t.warnings.len() as u32,
        schema_version: TABLES_SCHEMA_VERSION,
    }
}

/// The `segments` rows of a transcript, in transcript order.
pub fn segment_rows(t: &Transcript) -> Vec<SegmentRow> {
    segment_rows_with(t, &word_counts(t))
}

fn segment_rows_with(t: &Transcript, counts: &[usize]) -> Vec<SegmentRow> {
    t.segments
        .iter()
        .zip(counts)
        .enumerate()
        .map(|(i, (s, &words))| SegmentRow {
            call_id: t.call_id.clone(),
            call_start: t.call_start,
            seg_no: i as u32,
            speaker: s.speaker.clone(),
            channel: s.channel as u32,
            start_ms: s.start_ms,
            end_ms: s.end_ms,
            language: s.language.clone(),
            text: s.text.clone(),
            avg_logprob: s.avg_logprob,
            no_speech_prob: s.no_speech_prob,
            words: words as u32,
        })
        .collect()
}

#[cfg(test)]
mod tests;
