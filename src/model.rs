//! Plain data passed between pipeline stages. No I/O lives here.
//!
//! Every arrow of the data flow in `ARCHITECTURE.md` carries one of these
//! types, so a stage depends on this module and never on another stage.
//! Times are integer milliseconds on the original recording's timeline
//! unless a name says otherwise (`*_window_ms`).

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// Version tag written into every transcript JSON file.
pub const TRANSCRIPT_SCHEMA: &str = "callsift.transcript/1";
/// Version of the Parquet tables' layout (`schema_version` column, see
/// `docs/tables.md`); bumped on any change of columns or their meaning.
pub const TABLES_SCHEMA_VERSION: u32 = 1;
/// Version tag of the run summary JSON.
pub const RUN_SCHEMA: &str = "callsift.run/1";
/// Sample rate whisper.cpp expects.
pub const WHISPER_SAMPLE_RATE_HZ: u32 = 16_000;

/// One input file found by the walker, before anything is read.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Recording {
    pub path: PathBuf,
}

/// A recording decoded to planar `f32` samples in `[-1, 1]` at its own rate.
#[derive(Debug, Clone)]
pub struct DecodedAudio {
    /// Codec name as written into the transcript (`pcm_s16le`, `pcm_mulaw`, `mp3`, …).
    pub codec: String,
    pub sample_rate_hz: u32,
    /// One vector per channel, all the same length.
    pub channels: Vec<Vec<f32>>,
    /// Set when the file broke off mid-stream and only the audio before the
    /// break was decoded; the text says why.
    pub truncated: Option<String>,
}

impl DecodedAudio {
    pub fn frames(&self) -> usize {
        self.channels.first().map_or(0, Vec::len)
    }

    pub fn duration_ms(&self) -> u64 {
        if self.sample_rate_hz == 0 {
            return 0;
        }
        (self.frames() as u64 * 1000) / u64::from(self.sample_rate_hz)
    }
}

/// One channel of mono audio at exactly 16 kHz.
///
/// Only [`crate::resample`] builds these (through [`Pcm16k::from_16k`]), so
/// holding one is proof that the rate is right.
#[derive(Debug, Clone, PartialEq)]
pub struct Pcm16k {
    samples: Vec<f32>,
}

impl Pcm16k {
    /// Wraps samples that are already at 16 kHz. Callers outside `resample`
    /// (tests, benches) use it for audio they synthesised at 16 kHz.
    pub fn from_16k(samples: Vec<f32>) -> Self {
        Self { samples }
    }

    pub fn samples(&self) -> &[f32] {
        &self.samples
    }

    pub fn into_samples(self) -> Vec<f32> {
        self.samples
    }

    pub fn duration_ms(&self) -> u64 {
        self.samples.len() as u64 * 1000 / u64::from(WHISPER_SAMPLE_RATE_HZ)
    }
}

/// A stretch of detected speech on one channel's timeline, half-open `[start_ms, end_ms)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct SpeechSpan {
    pub start_ms: u64,
    pub end_ms: u64,
}

impl SpeechSpan {
    pub fn duration_ms(&self) -> u64 {
        self.end_ms.saturating_sub(self.start_ms)
    }
}

/// All speech on one channel, sorted, non-overlapping.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SpeechSpans {
    /// Padded by `vad.pad_ms` and merged: what whisper is given.
    pub spans: Vec<SpeechSpan>,
    /// The same speech without padding: what talk metrics are computed from.
    pub talk: Vec<SpeechSpan>,
}

/// What a streaming speech detector ([`crate::vad::StreamingVad`]) has
/// made final after a chunk of audio, for the window packer
/// ([`crate::windows::WindowPacker`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SettledSpeech {
    /// Padded speech spans that no later audio can change, in time order,
    /// each after every span returned before.
    pub spans: Vec<SpeechSpan>,
    /// Every span not returned yet starts at or after this time: the
    /// packer may drop the audio before it (once it has cut `spans`).
    /// `u64::MAX` once the channel is finished.
    pub settled_ms: u64,
}

/// A part of a [`Window`]: `duration_ms` of audio that starts at
/// `window_start_ms` inside the window and at `source_start_ms` on the channel.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowPiece {
    pub window_start_ms: u64,
    pub source_start_ms: u64,
    pub duration_ms: u64,
}

/// Speech cut from one channel and packed into at most 30 s for one whisper call.
#[derive(Debug, Clone, PartialEq)]
pub struct Window {
    pub channel: usize,
    /// Sorted by `window_start_ms`, contiguous in window time.
    pub pieces: Vec<WindowPiece>,
    /// 16 kHz samples of the pieces, back to back.
    pub samples: Vec<f32>,
}

/// What a transcriber returns for one window: times relative to the window.
#[derive(Debug, Clone, PartialEq)]
pub struct WindowSegment {
    pub start_window_ms: u64,
    pub end_window_ms: u64,
    pub text: String,
    /// Mean log-probability of the segment's text tokens.
    pub avg_logprob: f32,
    pub no_speech_prob: f32,
    /// The segment's text tokens with their aligned times, in order; empty
    /// when the transcriber has no token times. They let
    /// [`crate::align::split_at_pieces`] cut a segment that runs across two
    /// pieces (two turns of one speaker) back into one segment per piece,
    /// and [`crate::align::segments_from_tokens`] cut a window decoded
    /// without timestamp tokens into segments.
    pub tokens: Vec<WindowToken>,
}

/// One text token of a [`WindowSegment`] at the time whisper.cpp's DTW
/// alignment puts it (window-relative).
#[derive(Debug, Clone, PartialEq)]
pub struct WindowToken {
    /// The token's bytes: a token may hold only part of a UTF-8 character.
    pub bytes: Vec<u8>,
    pub window_ms: u64,
    pub logprob: f32,
}

/// Transcriber output for one window.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct WindowTranscript {
    /// Language whisper decoded in (ISO 639-1), detected or given.
    pub language: String,
    pub segments: Vec<WindowSegment>,
    /// Whether the segments carry whisper's own timestamps; `false`: one
    /// segment for the whole window (decoded without timestamp tokens),
    /// to be cut by its tokens' DTW times (`align::segments_from_tokens`).
    pub timed_segments: bool,
    /// What decoding this window cost and how it went.
    pub stats: WindowStats,
}

/// The cost of one window's transcription, for the run summary's
/// [`StageTimes`] and the bound on the worst case.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct WindowStats {
    pub mel_ms: u64,
    pub encoder_ms: u64,
    pub decoder_ms: u64,
    /// Decoded a second time, with timestamps and the full context.
    pub retried: bool,
    /// The loop detector stopped a decode of this window.
    pub looped: bool,
    /// The decode ended before the window's last pieces, which were then
    /// decoded on their own.
    pub tails_redecoded: bool,
    /// Even the second decode did not finish within its bound: the window
    /// has no text (the call gets a warning).
    pub gave_up: bool,
}

/// One line of a transcript, on the recording's timeline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Segment {
    pub start_ms: u64,
    pub end_ms: u64,
    pub channel: usize,
    pub speaker: String,
    pub language: String,
    pub text: String,
    pub avg_logprob: f32,
    pub no_speech_prob: f32,
}

/// Detected speech of one channel, kept in the transcript because talk time,
/// silence and overlap metrics come from it, not from the text.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ChannelSpeech {
    pub channel: usize,
    pub speaker: String,
    /// Speech as cut for whisper: padded by `vad.pad_ms` on each side and
    /// merged where the padding meets.
    pub spans: Vec<SpeechSpan>,
    /// Speech as detected, without padding (short pauses joined, clicks
    /// dropped): talk time, silence, overlap and interruptions come from
    /// these. `None` in transcripts made before this field existed and in
    /// imported ones; metrics then fall back to segment times.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub talk: Option<Vec<SpeechSpan>>,
}

/// The finished transcript of one call: `OUT/transcripts/<call_id>.json`,
/// schema [`TRANSCRIPT_SCHEMA`]. This is the source of truth every later
/// output (index, tables, rule hits) is rebuilt from.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Transcript {
    pub schema: String,
    pub call_id: String,
    pub source_path: String,
    /// `blake3:` followed by the hex BLAKE3 hash of the file's bytes.
    pub content_hash: String,
    /// When the call started (UTC), from the call metadata stage; `None`
    /// only for imported calls nothing says anything about.
    pub call_start: Option<jiff::Timestamp>,
    pub duration_ms: u64,
    pub channels: usize,
    pub sample_rate_hz: u32,
    pub codec: String,
    /// PBX metadata: `agent_id`, `customer_number`, `direction`,
    /// `campaign`, `queue`, `unique_id` and whatever else a pattern,
    /// sidecar or CDR gives.
    pub metadata: BTreeMap<String, String>,
    /// Where each metadata value (and `call_start`) came from, e.g.
    /// `filename:asterisk`, `sidecar:call.wav.json`, `cdr:Master.csv`, `mtime`.
    #[serde(default)]
    pub metadata_source: BTreeMap<String, String>,
    /// File name of the ggml model used.
    pub model: String,
    /// Language per speaker, detected or given.
    pub languages: BTreeMap<String, String>,
    pub segments: Vec<Segment>,
    pub speech: Vec<ChannelSpeech>,
    /// Non-fatal problems met while processing (e.g. a truncated file).
    #[serde(default)]
    pub warnings: Vec<String>,
    /// Name of the pipeline file the call was processed with (`default`
    /// without one; `import:<format>` for imported calls).
    #[serde(default)]
    pub pipeline: String,
    /// When the transcript was made.
    #[serde(default)]
    pub processed_at: Option<jiff::Timestamp>,
    /// Wall time spent on this call (decode to transcript).
    #[serde(default)]
    pub processing_ms: Option<u64>,
    /// What the pipeline's rules found (watchlist and do-not-call hits,
    /// scorecards) and what redaction masked; `None` when no rules ran.
    /// `callsift rescore` replaces it; the hits and scores tables, the
    /// do-not-call export and the index's rule names are rebuilt from it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub analysis: Option<CallAnalysis>,
}

/// How serious a rule's hit is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Low,
    Medium,
    High,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Low => "low",
            Severity::Medium => "medium",
            Severity::High => "high",
        }
    }
}

/// Which kind of rule a hit came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum HitKind {
    /// A `[[watchlist]]` phrase or query was said.
    Watchlist,
    /// The customer asked not to be called again (`[[do_not_call]]`).
    DncRequest,
    /// The call was placed to a number on the do-not-call list after it was listed.
    DncListed,
}

impl HitKind {
    pub fn as_str(self) -> &'static str {
        match self {
            HitKind::Watchlist => "watchlist",
            HitKind::DncRequest => "dnc_request",
            HitKind::DncListed => "dnc_listed",
        }
    }
}

/// One rule that fired in a call, with where and on what words.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RuleHit {
    pub rule: String,
    pub kind: HitKind,
    pub severity: Severity,
    /// Speaker of the matched segment (`""` for a listed-number hit).
    pub speaker: String,
    /// Index of the matched segment in `segments`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub segment: Option<usize>,
    /// The moment of the first matched word (estimated within its segment).
    pub start_ms: u64,
    /// End of the matched segment (of the second one for a match across two).
    pub end_ms: u64,
    /// The words that matched, as said.
    pub matched: String,
    /// The phrase or query of the rule that matched (the number, for a listed-number hit).
    pub phrase: String,
}

/// One criterion of a scorecard, judged on one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CriterionResult {
    pub section: String,
    pub criterion: String,
    pub weight: f64,
    pub critical: bool,
    /// `false` when the criterion's `applies_if`/`direction` condition did not hold.
    pub applicable: bool,
    pub passed: bool,
    /// Why it passed or failed, in words (`rules test` prints it).
    pub reason: String,
    /// The segment, moment and words that decided it: the phrase found for
    /// `any`/`query`, the forbidden phrase found for `none`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_segment: Option<usize>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_ms: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub evidence_text: Option<String>,
}

/// A scorecard judged on one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScorecardResult {
    pub scorecard: String,
    /// 0–100: the weighted share of applicable criteria met, 0 when a
    /// critical criterion failed; `None` when no criterion applied.
    pub score: Option<f64>,
    /// Names of the critical criteria that failed (they zero the score).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub critical_failed: Vec<String>,
    pub criteria: Vec<CriterionResult>,
}

/// The rules stage's findings for one call (`analysis` in the transcript).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct CallAnalysis {
    /// Name of the pipeline file whose rules were applied.
    pub pipeline: String,
    #[serde(default)]
    pub hits: Vec<RuleHit>,
    #[serde(default)]
    pub scorecards: Vec<ScorecardResult>,
    /// What redaction masked, by kind (`card`, `phone`, …): counts only,
    /// the masked values are never kept.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub redacted: BTreeMap<String, u32>,
}

impl CallAnalysis {
    /// Distinct names of the rules that fired, sorted (the index's `rule` field).
    pub fn fired_rules(&self) -> Vec<String> {
        let mut names: Vec<String> = self.hits.iter().map(|h| h.rule.clone()).collect();
        names.sort();
        names.dedup();
        names
    }
}

/// The metadata keys with a meaning of their own downstream (index fields,
/// table columns), each with the older aliases it is also read under.
pub const STANDARD_METADATA: [(&str, &[&str]); 5] = [
    ("agent_id", &["agent_id", "agent"]),
    ("customer_number", &["customer_number", "customer"]),
    ("direction", &["direction"]),
    ("campaign", &["campaign"]),
    ("queue", &["queue"]),
];

impl Transcript {
    /// The value of a [`STANDARD_METADATA`] key, under its name or an alias.
    pub fn standard_metadata(&self, name: &str) -> Option<&str> {
        let (_, keys) = STANDARD_METADATA.iter().find(|(n, _)| *n == name)?;
        keys.iter()
            .find_map(|k| self.metadata.get(*k))
            .map(String::as_str)
    }
}

/// What the call metadata stage found for one recording.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CallMetadata {
    /// UTC; `None` when nothing (not even the file's mtime) gave a time.
    pub call_start: Option<jiff::Timestamp>,
    pub values: BTreeMap<String, String>,
    /// Where each value of `values`, and `call_start`, came from.
    pub sources: BTreeMap<String, String>,
    /// Values that did not parse: warnings on the call, never failures.
    pub warnings: Vec<String>,
}

/// Where a call's talk metrics were computed from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum MetricsSource {
    /// The VAD's unpadded speech spans ([`ChannelSpeech::talk`]).
    Vad,
    /// Segment times (imported or older transcripts without talk spans).
    Segments,
}

impl MetricsSource {
    pub fn as_str(self) -> &'static str {
        match self {
            MetricsSource::Vad => "vad",
            MetricsSource::Segments => "segments",
        }
    }
}

/// Talk metrics of one call. Per-speaker values are `None` when the call
/// has no such speaker (a mono call has neither agent nor customer).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallMetrics {
    pub source: MetricsSource,
    /// Time anyone speaks (union of every speaker's speech).
    pub talk_ms: u64,
    pub talk_ms_agent: Option<u64>,
    pub talk_ms_customer: Option<u64>,
    /// Time nobody speaks.
    pub silence_ms: u64,
    /// Time agent and customer speak at once (`None` unless both exist).
    pub overlap_ms: Option<u64>,
    pub interruptions_agent: Option<u32>,
    pub interruptions_customer: Option<u32>,
    pub longest_monologue_ms_agent: Option<u64>,
    pub longest_monologue_ms_customer: Option<u64>,
    pub words: u64,
    pub words_agent: Option<u64>,
    pub words_customer: Option<u64>,
    pub wpm_agent: Option<f64>,
    pub wpm_customer: Option<f64>,
    /// Agent's share of agent + customer talk time (0–1).
    pub talk_ratio_agent: Option<f64>,
    pub mean_avg_logprob: Option<f64>,
}

/// One row of the `calls` table (see `docs/tables.md`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CallRow {
    pub call_id: String,
    pub source_path: String,
    pub content_hash: String,
    pub call_start: Option<jiff::Timestamp>,
    pub duration_ms: u64,
    pub channels: u32,
    pub sample_rate_hz: u32,
    pub codec: String,
    pub agent_id: Option<String>,
    pub customer_number: Option<String>,
    pub direction: Option<String>,
    pub campaign: Option<String>,
    pub queue: Option<String>,
    /// Distinct languages of the call, sorted.
    pub languages: Vec<String>,
    pub language_agent: Option<String>,
    pub language_customer: Option<String>,
    pub metrics: CallMetrics,
    pub segments: u32,
    pub model: String,
    pub pipeline: String,
    pub processed_at: Option<jiff::Timestamp>,
    pub processing_ms: Option<u64>,
    /// Every metadata value as a JSON object (the named columns included).
    pub metadata_json: String,
    /// Where each metadata value came from, as a JSON object.
    pub metadata_source_json: String,
    pub warnings: u32,
    pub schema_version: u32,
}

/// One row of the `hits` table: a rule that fired in a call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct HitRow {
    pub call_id: String,
    pub call_start: Option<jiff::Timestamp>,
    pub agent_id: Option<String>,
    pub customer_number: Option<String>,
    pub rule: String,
    /// `watchlist`, `dnc_request` or `dnc_listed`.
    pub kind: String,
    /// `low`, `medium` or `high`.
    pub severity: String,
    pub speaker: String,
    pub seg_no: Option<u32>,
    pub start_ms: u64,
    pub end_ms: u64,
    pub matched_text: String,
    pub phrase: String,
}

/// One row of the `scores` table: one criterion of one scorecard on one call.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ScoreRow {
    pub call_id: String,
    pub call_start: Option<jiff::Timestamp>,
    pub agent_id: Option<String>,
    pub scorecard: String,
    /// The card's score for the call (the same on every row of the card).
    pub score: Option<f64>,
    /// 0-based place of the criterion in its card, so the rows of a card
    /// keep the card's order (names need not sort that way).
    pub criterion_no: u32,
    pub section: String,
    pub criterion: String,
    pub weight: f64,
    pub critical: bool,
    pub applicable: bool,
    pub passed: bool,
    pub evidence_ms: Option<u64>,
    pub evidence_text: Option<String>,
}

/// One row of the `segments` table.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SegmentRow {
    pub call_id: String,
    pub call_start: Option<jiff::Timestamp>,
    pub seg_no: u32,
    pub speaker: String,
    pub channel: u32,
    pub start_ms: u64,
    pub end_ms: u64,
    pub language: String,
    pub text: String,
    pub avg_logprob: f32,
    pub no_speech_prob: f32,
    pub words: u32,
}

/// How one input of a run ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum InputStatus {
    Ok,
    Failed,
    Skipped,
}

/// One line of the run summary.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InputReport {
    pub path: String,
    pub status: InputStatus,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub call_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warnings: Vec<String>,
    #[serde(default)]
    pub audio_ms: u64,
    #[serde(default)]
    pub segments: usize,
    /// What the rules found in the call (the run's alerts are these).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub hits: Vec<RuleHit>,
}

/// The summary of one `callsift run`, printed with `--json` and saved as
/// `OUT/runs/<run_id>.json`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct RunReport {
    pub schema: String,
    pub run_id: String,
    pub started_at: jiff::Timestamp,
    pub finished_at: jiff::Timestamp,
    pub model: String,
    pub workers: usize,
    pub threads: usize,
    pub ok: usize,
    pub failed: usize,
    pub skipped: usize,
    pub audio_ms: u64,
    pub wall_ms: u64,
    /// Where the time went (absent in summaries written before it existed).
    #[serde(default)]
    pub stages: StageTimes,
    pub inputs: Vec<InputReport>,
    /// The run was asked to stop (SIGINT/SIGTERM) and left recordings for
    /// the next run.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub interrupted: bool,
    /// The slice of the inputs this task took (`--shard I/N`, or the
    /// batch job's variables); absent when the run was not sharded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub shard: Option<ShardReport>,
}

/// A sharded task's slice: `index`/`count` as in `--shard index/count`, and
/// how many inputs it left to the other shards (not listed in `inputs`).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ShardReport {
    pub index: u32,
    pub count: u32,
    pub other_shards: usize,
}

/// Where a run's time went. Times are summed over the threads that did the
/// work, so together they can exceed the run's wall time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct StageTimes {
    /// Reading and decoding the files (symphonia), hashing included.
    pub decode_ms: u64,
    /// Resampling to 16 kHz.
    pub resample_ms: u64,
    /// Speech detection and cutting windows.
    pub vad_ms: u64,
    /// Language detection (one short encoder pass per channel).
    pub language_ms: u64,
    /// whisper.cpp's log-mel spectrogram.
    pub mel_ms: u64,
    /// whisper.cpp's encoder.
    pub encoder_ms: u64,
    /// whisper.cpp's decoder (every temperature and retry), token times included.
    pub decoder_ms: u64,
    /// Speech windows transcribed.
    pub windows: u64,
    /// Audio in those windows.
    pub window_audio_ms: u64,
    /// Windows decoded a second time with timestamps and the full context,
    /// after a repetition loop or running out of tokens.
    pub retries: u64,
    /// Decodes the loop detector stopped.
    pub loops: u64,
    /// Windows whose decode ended before their last pieces (a short turn
    /// after a pause), those pieces decoded again on their own.
    #[serde(default)]
    pub tails: u64,
    /// The slowest window: whisper milliseconds per second of its audio.
    pub slowest_window_ms_per_s: f64,
}

/// Filters of a search, besides the query itself.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilters {
    /// Calls that started at or after this moment.
    pub from: Option<jiff::Timestamp>,
    /// Calls that started before this moment.
    pub to: Option<jiff::Timestamp>,
    pub speaker: Option<String>,
    pub agent: Option<String>,
    pub language: Option<String>,
    /// A call id, or a prefix of one.
    pub call: Option<String>,
    /// Calls in which this rule (a watchlist or do-not-call rule's name) fired.
    pub rule: Option<String>,
}

/// How search hits are ordered.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchSort {
    /// Best match first.
    #[default]
    Score,
    /// Newest call first, then by time in the call.
    Date,
}

/// One search request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchRequest {
    pub query: String,
    /// Every word and phrase matches its exact (normalized) form only.
    pub exact: bool,
    pub filters: SearchFilters,
    pub sort: SearchSort,
    pub limit: usize,
    pub offset: usize,
}

/// One place where a query matched: a segment (or a phrase that starts in
/// it and runs into the same speaker's next segment).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchHit {
    pub call_id: String,
    pub source_path: String,
    /// Number of the segment in the transcript (0-based).
    pub segment: usize,
    /// Where the segment starts and ends (a phrase across a boundary: the
    /// first segment's start, the second's end).
    pub start_ms: u64,
    pub end_ms: u64,
    /// The first matched word's moment, estimated from its place in the
    /// segment's text (transcripts have segment times, not word times).
    pub at_ms: u64,
    pub speaker: String,
    pub channel: usize,
    pub language: String,
    pub call_start: Option<jiff::Timestamp>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub agent_id: Option<String>,
    /// The segment's text (both segments' for a phrase across a boundary).
    pub text: String,
    /// `text` with the matched words in `<b>…</b>`, HTML-escaped.
    pub snippet: String,
    /// Byte ranges of the matched words in `text`.
    pub highlights: Vec<(usize, usize)>,
    pub score: f32,
    /// The phrase runs from this segment into the speaker's next one.
    pub across_segments: bool,
}

/// A page of hits and how many there are in all.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SearchResults {
    pub total: usize,
    pub hits: Vec<SearchHit>,
}

/// The languages Whisper knows, by ISO 639-1 code (`haw`, `yue`: 639-3), in
/// whisper's own order. Settings are checked against this list without
/// loading whisper; `transcribe::whisper` tests that it matches whisper.cpp.
pub const WHISPER_LANGUAGES: &[&str] = &[
    "en", "zh", "de", "es", "ru", "ko", "fr", "ja", "pt", "tr", "pl", "ca", "nl", "ar", "sv", "it",
    "id", "hi", "fi", "vi", "he", "uk", "el", "ms", "cs", "ro", "da", "hu", "ta", "no", "th", "ur",
    "hr", "bg", "lt", "la", "mi", "ml", "cy", "sk", "te", "fa", "lv", "bn", "sr", "az", "sl", "kn",
    "et", "mk", "br", "eu", "is", "hy", "ne", "mn", "bs", "kk", "sq", "sw", "gl", "mr", "pa", "si",
    "km", "sn", "yo", "so", "af", "oc", "ka", "be", "tg", "sd", "gu", "am", "yi", "lo", "uz", "fo",
    "ht", "ps", "tk", "nn", "mt", "sa", "lb", "my", "bo", "tl", "mg", "as", "tt", "haw", "ln",
    "ha", "ba", "jw", "su", "yue",
];

/// Checks a language setting: `auto` or a code whisper knows.
pub fn validate_language(lang: &str) -> std::result::Result<(), String> {
    if lang == "auto" || WHISPER_LANGUAGES.contains(&lang) {
        Ok(())
    } else {
        Err(format!(
            "unknown language `{lang}` (use auto or a code such as pl, ru, he, en)"
        ))
    }
}
