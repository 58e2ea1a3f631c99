//! Transcripts made elsewhere → callsift's [`Transcript`].
//!
//! Calls transcribed before callsift existed, or by another engine, should
//! feed the same index, tables and rules as our own transcripts. Each format
//! has one submodule that turns the file into a list of timed, optionally
//! labelled lines ([`Parsed`]); this module sniffs the format, and builds
//! the [`Transcript`] the same way for every foreign format, so speakers,
//! channels, languages and the call id follow one set of rules (described in
//! `docs/import.md`).
//!
//! The call id of an imported file is the hash of the transcript file's bytes
//! (there may be no audio to hash), so importing the same file again replaces
//! the earlier import downstream instead of duplicating it.

mod aws;
mod callsift;
mod subtitles;
mod whisper_json;
mod whisperx;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::metadata::MetadataResolver;
use crate::model::{ChannelSpeech, Segment, SpeechSpan, TRANSCRIPT_SCHEMA, Transcript};

/// The formats `import_file` reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ImportFormat {
    /// Sniff the format from the content ([`detect`]).
    Auto,
    /// Our own `callsift.transcript/1` JSON, kept as it is.
    Callsift,
    /// whisper.cpp `-oj` / `-ojf` output.
    WhisperJson,
    /// WhisperX, faster-whisper or openai-whisper JSON (`segments` in seconds).
    Whisperx,
    /// Amazon Transcribe: Call Analytics or standard job output.
    Aws,
    /// SubRip subtitles.
    Srt,
    /// WebVTT subtitles.
    Vtt,
}

const ALL_FORMATS: [ImportFormat; 7] = [
    ImportFormat::Auto,
    ImportFormat::Callsift,
    ImportFormat::WhisperJson,
    ImportFormat::Whisperx,
    ImportFormat::Aws,
    ImportFormat::Srt,
    ImportFormat::Vtt,
];

impl ImportFormat {
    /// The name used on the command line and in `metadata.imported_from`.
    pub fn name(self) -> &'static str {
        match self {
            Self::Auto => "auto",
            Self::Callsift => "callsift",
            Self::WhisperJson => "whisper-json",
            Self::Whisperx => "whisperx",
            Self::Aws => "aws",
            Self::Srt => "srt",
            Self::Vtt => "vtt",
        }
    }
}

impl std::fmt::Display for ImportFormat {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for ImportFormat {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        ALL_FORMATS
            .into_iter()
            .find(|f| f.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| {
                let names: Vec<&str> = ALL_FORMATS.iter().map(|f| f.name()).collect();
                format!(
                    "unknown import format `{s}` (expected one of: {})",
                    names.join(", ")
                )
            })
    }
}

/// Settings for an import.
#[derive(Debug, Clone, Default)]
pub struct ImportOptions {
    /// Language for formats (or files) that carry none; any code or name
    /// [`normalize_language`] knows. Without it such segments get `und`.
    pub language: Option<String>,
}

/// Reason given when auto-detection finds no known format.
pub const UNKNOWN_FORMAT: &str = "not a known transcript format (callsift, whisper.cpp JSON, \
     WhisperX/faster-whisper JSON, Amazon Transcribe JSON, SRT, WebVTT)";

/// Longest time accepted anywhere in a file: no call lasts two days, so a
/// later time is a unit mistake (ms read as s) or corruption.
const MAX_TIME_MS: u64 = 48 * 3600 * 1000;

/// Reads one file; errors name the file and the reason (lowercase, no
/// trailing period), e.g.
/// "x.srt: cue 3: end 00:00:01,000 is before start 00:00:04,500".
pub fn import_file(
    path: &Path,
    format: ImportFormat,
    options: &ImportOptions,
) -> Result<Transcript> {
    let fail = |reason: String| Error::Import {
        path: path.to_path_buf(),
        reason,
    };
    let bytes = fs_err::read(path).map_err(|e| fail(format!("cannot read: {}", e.kind())))?;
    import_bytes(path, &bytes, format, options)
}

/// [`import_file`] over bytes already read; `path` names them in errors and
/// the transcript (the fuzz target calls this without a file).
pub fn import_bytes(
    path: &Path,
    bytes: &[u8],
    format: ImportFormat,
    options: &ImportOptions,
) -> Result<Transcript> {
    let fail = |reason: String| Error::Import {
        path: path.to_path_buf(),
        reason,
    };
    let text = std::str::from_utf8(bytes).map_err(|e| fail(format!("not utf-8 text: {e}")))?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let format = match format {
        ImportFormat::Auto => detect(bytes).ok_or_else(|| fail(undetected_reason(text)))?,
        explicit => explicit,
    };
    let parsed = match format {
        ImportFormat::Callsift => return callsift::parse(text).map_err(fail),
        ImportFormat::WhisperJson => whisper_json::parse(text),
        ImportFormat::Whisperx => whisperx::parse(text),
        ImportFormat::Aws => aws::parse(text),
        ImportFormat::Srt => subtitles::parse_srt(text),
        ImportFormat::Vtt => subtitles::parse_vtt(text),
        ImportFormat::Auto => unreachable!("auto was resolved above"),
    }
    .map_err(fail)?;
    Ok(build(path, bytes, format, parsed, options))
}

/// Why auto-detection failed, as specific as the content allows: a file
/// that looks like JSON gets the JSON parser's complaint or its keys.
fn undetected_reason(text: &str) -> String {
    let trimmed = text.trim_start();
    if trimmed.is_empty() {
        return "empty file".to_string();
    }
    if !(trimmed.starts_with('{') || trimmed.starts_with('[')) {
        return UNKNOWN_FORMAT.to_string();
    }
    match serde_json::from_str::<Value>(text) {
        Err(e) => format!("invalid json: {e}"),
        Ok(Value::Object(map)) => {
            let keys: Vec<String> = map.keys().take(8).map(|k| format!("`{k}`")).collect();
            format!(
                "{UNKNOWN_FORMAT}: json object with keys {}",
                keys.join(", ")
            )
        }
        Ok(_) => format!("{UNKNOWN_FORMAT}: json that is not an object"),
    }
}

/// Sniffs the format from the content (not the extension); `None` when no
/// known format matches, including JSON that does not parse.
pub fn detect(bytes: &[u8]) -> Option<ImportFormat> {
    let text = std::str::from_utf8(bytes).ok()?;
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') || trimmed.starts_with('[') {
        return detect_json(&serde_json::from_str(trimmed).ok()?);
    }
    if subtitles::looks_like_vtt(text) {
        Some(ImportFormat::Vtt)
    } else if subtitles::looks_like_srt(text) {
        Some(ImportFormat::Srt)
    } else {
        None
    }
}

/// Tells the JSON formats apart by their top-level keys. The callsift schema
/// tag is checked first because our transcripts also have `segments`.
fn detect_json(value: &Value) -> Option<ImportFormat> {
    if let Value::Array(items) = value {
        return whisperx::is_bare_segment_list(items).then_some(ImportFormat::Whisperx);
    }
    let schema = value.get("schema").and_then(Value::as_str);
    if schema.is_some_and(|s| s.starts_with("callsift.transcript/")) {
        Some(ImportFormat::Callsift)
    } else if value.get("transcription").is_some_and(Value::is_array) {
        Some(ImportFormat::WhisperJson)
    } else if aws::looks_like_aws(value) {
        Some(ImportFormat::Aws)
    } else if value.get("segments").is_some_and(Value::is_array) {
        Some(ImportFormat::Whisperx)
    } else {
        None
    }
}

/// What a format parser gives back: lines in file order, times validated.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct Parsed {
    pub segments: Vec<RawSegment>,
    /// The file-wide language as written (`en-US`, `english`, `pl`, …).
    pub language: Option<String>,
    /// The model file name, when the file names one.
    pub model: Option<String>,
}

/// One line of a foreign transcript before speakers become channels.
#[derive(Debug, Clone, Default, PartialEq)]
pub(crate) struct RawSegment {
    pub start_ms: u64,
    pub end_ms: u64,
    /// The speaker label as written, if any.
    pub speaker: Option<String>,
    /// A channel the file states outright (Amazon's `ch_1`).
    pub channel: Option<usize>,
    /// This line's own language as written, if the file has one per line.
    pub language: Option<String>,
    pub text: String,
    pub avg_logprob: Option<f32>,
    pub no_speech_prob: Option<f32>,
}

/// Builds the transcript of a foreign file from its parsed lines.
fn build(
    path: &Path,
    bytes: &[u8],
    format: ImportFormat,
    parsed: Parsed,
    options: &ImportOptions,
) -> Transcript {
    let hash = blake3::hash(bytes);
    let fallback = options.language.as_deref().and_then(normalize_language);
    let file_language = parsed.language.as_deref().and_then(normalize_language);
    let segments = finish_segments(parsed.segments, file_language.or(fallback));
    let speech = speech_of(&segments);
    let mut languages = BTreeMap::new();
    for s in &segments {
        languages
            .entry(s.speaker.clone())
            .or_insert_with(|| s.language.clone());
    }
    let metadata = BTreeMap::from([
        ("imported_from".to_string(), format.name().to_string()),
        ("transcript_path".to_string(), path.display().to_string()),
    ]);
    Transcript {
        schema: TRANSCRIPT_SCHEMA.to_string(),
        call_id: crate::pipeline::call_id_of(&hash),
        source_path: sibling_audio(path)
            .unwrap_or(path.to_path_buf())
            .display()
            .to_string(),
        content_hash: format!("blake3:{}", hash.to_hex()),
        call_start: None,
        duration_ms: segments.iter().map(|s| s.end_ms).max().unwrap_or(0),
        channels: speech.len(),
        sample_rate_hz: 0,
        codec: String::new(),
        metadata,
        model: parsed
            .model
            .unwrap_or_else(|| format!("imported:{}", format.name())),
        languages,
        segments,
        speech,
        warnings: Vec::new(),
        metadata_source: BTreeMap::new(),
        pipeline: format!("import:{}", format.name()),
        // Set by the caller (`callsift import`): reading a file stays a
        // pure function of its bytes.
        processed_at: None,
        processing_ms: None,
        analysis: None,
    }
}

/// Drops empty lines, names speakers, assigns channels and languages, and
/// sorts the way the pipeline does.
fn finish_segments(raw: Vec<RawSegment>, default_language: Option<String>) -> Vec<Segment> {
    let raw: Vec<RawSegment> = raw
        .into_iter()
        .filter(|s| !s.text.trim().is_empty())
        .collect();
    let speakers: Vec<String> = raw
        .iter()
        .map(|s| {
            s.speaker
                .as_deref()
                .map_or("mixed".to_string(), canonical_speaker)
        })
        .collect();
    let channels = assign_channels(&raw, &speakers);
    let default_language = default_language.unwrap_or_else(|| "und".to_string());
    let mut segments: Vec<Segment> = raw
        .into_iter()
        .zip(speakers)
        .map(|(s, speaker)| Segment {
            start_ms: s.start_ms,
            end_ms: s.end_ms,
            channel: s.channel.unwrap_or_else(|| channels[&speaker]),
            language: s
                .language
                .as_deref()
                .and_then(normalize_language)
                .unwrap_or_else(|| default_language.clone()),
            speaker,
            text: collapse_whitespace(&s.text),
            avg_logprob: s.avg_logprob.unwrap_or(0.0),
            no_speech_prob: s.no_speech_prob.unwrap_or(0.0),
        })
        .collect();
    segments.sort_by_key(|s| (s.start_ms, s.channel, s.end_ms));
    segments
}

/// Channel per speaker: `agent` 0 and `customer` 1 as in a stereo
/// recording, channels the file states kept, and every other label the
/// lowest free channel in order of first appearance.
fn assign_channels(raw: &[RawSegment], speakers: &[String]) -> BTreeMap<String, usize> {
    let mut channels = BTreeMap::new();
    for (s, speaker) in raw.iter().zip(speakers) {
        let fixed = match speaker.as_str() {
            _ if s.channel.is_some() => s.channel,
            "agent" => Some(0),
            "customer" => Some(1),
            _ => None,
        };
        if let Some(c) = fixed {
            channels.entry(speaker.clone()).or_insert(c);
        }
    }
    for speaker in speakers {
        if !channels.contains_key(speaker) {
            let used: Vec<usize> = channels.values().copied().collect();
            let free = (0..).find(|c| !used.contains(c)).unwrap_or(0);
            channels.insert(speaker.clone(), free);
        }
    }
    channels
}

/// Speech per channel: the segment spans, merged where they touch or
/// overlap. At least one channel, so an empty call still has one speaker.
fn speech_of(segments: &[Segment]) -> Vec<ChannelSpeech> {
    let mut by_channel: BTreeMap<usize, ChannelSpeech> = BTreeMap::new();
    for s in segments {
        let entry = by_channel
            .entry(s.channel)
            .or_insert_with(|| ChannelSpeech {
                channel: s.channel,
                speaker: s.speaker.clone(),
                spans: Vec::new(),
                talk: None,
            });
        if s.end_ms > s.start_ms {
            entry.spans.push(SpeechSpan {
                start_ms: s.start_ms,
                end_ms: s.end_ms,
            });
        }
    }
    if by_channel.is_empty() {
        by_channel.insert(
            0,
            ChannelSpeech {
                channel: 0,
                speaker: "mixed".to_string(),
                spans: Vec::new(),
                talk: None,
            },
        );
    }
    let mut speech: Vec<ChannelSpeech> = by_channel.into_values().collect();
    for c in &mut speech {
        c.spans = merge_spans(std::mem::take(&mut c.spans));
    }
    speech
}

fn merge_spans(mut spans: Vec<SpeechSpan>) -> Vec<SpeechSpan> {
    spans.sort_by_key(|s| (s.start_ms, s.end_ms));
    let mut merged: Vec<SpeechSpan> = Vec::with_capacity(spans.len());
    for span in spans {
        match merged.last_mut() {
            Some(last) if span.start_ms <= last.end_ms => {
                last.end_ms = last.end_ms.max(span.end_ms)
            }
            _ => merged.push(span),
        }
    }
    merged
}

/// The audio a transcript was made from: a file beside it with the same
/// stem and an audio extension (`call7.wav` for `call7.json`), or the stem
/// itself when the transcript doubles the extension (`call7.wav.json`).
/// Runs the call metadata stage for an imported transcript: on the
/// recording beside it when there is one, else on the transcript file
/// itself (its name, its sidecar, its modification time). What the imported
/// file already says wins; the stage fills only what is missing.
pub fn apply_metadata(t: &mut Transcript, transcript_path: &Path, resolver: &MetadataResolver) {
    let audio = Path::new(&t.source_path);
    let target = if audio != transcript_path && audio.is_file() {
        audio
    } else {
        transcript_path
    };
    let found = resolver.resolve(target);
    if t.call_start.is_none() && found.call_start.is_some() {
        t.call_start = found.call_start;
        if let Some(source) = found.sources.get("call_start") {
            t.metadata_source
                .insert("call_start".into(), source.clone());
        }
    }
    for (key, value) in found.values {
        if let std::collections::btree_map::Entry::Vacant(slot) = t.metadata.entry(key.clone()) {
            slot.insert(value);
            if let Some(source) = found.sources.get(&key) {
                t.metadata_source.insert(key, source.clone());
            }
        }
    }
    t.warnings.extend(found.warnings);
}

fn sibling_audio(path: &Path) -> Option<PathBuf> {
    let stem = path.file_stem()?;
    let doubled = path.with_file_name(stem);
    if crate::decode::is_audio_path(&doubled) && doubled.is_file() {
        return Some(doubled);
    }
    // Probing each extension costs a few stat calls; listing the folder
    // would cost a full read per file when thousands are imported at once.
    crate::decode::AUDIO_EXTENSIONS
        .iter()
        .flat_map(|ext| [ext.to_string(), ext.to_ascii_uppercase()])
        .map(|ext| path.with_extension(ext))
        .find(|candidate| candidate != path && candidate.is_file())
}

/// Maps a speaker label onto callsift's roles, case-insensitively:
/// `AGENT`, `spk agent` → `agent`; `customer`, `caller`, `client` →
/// `customer`; any other label is kept as written (`SPEAKER_00`, `spk_0`).
pub(crate) fn canonical_speaker(label: &str) -> String {
    let label = label.trim();
    let lower = label.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| c.is_whitespace() || c == '_' || c == '-')
        .filter(|w| !w.is_empty())
        .collect();
    let role = match words.as_slice() {
        ["spk" | "speaker", rest] | [rest] => *rest,
        _ => "",
    };
    match role {
        "agent" => "agent".to_string(),
        "customer" | "caller" | "client" => "customer".to_string(),
        _ => label.to_string(),
    }
}

/// Trims and turns every run of whitespace (newlines included) into one space.
pub(crate) fn collapse_whitespace(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Normalizes a language code or name to ISO 639-1 (whisper's codes):
/// `en-US` → `en`, `english` → `en`, `Russian` → `ru`, `pol` → `pl`, `iw` →
/// `he`. `None` for `auto`, empty or unknown values.
pub fn normalize_language(value: &str) -> Option<String> {
    let lower = value.trim().to_lowercase();
    if let Some((code, _)) = WHISPER_LANGUAGES.iter().find(|(_, name)| *name == lower) {
        return Some(code.to_string());
    }
    let primary = lower.split(['-', '_']).next().unwrap_or("");
    let code = match primary {
        "iw" => "he",
        "in" => "id",
        "ji" => "yi",
        p if p.len() == 2 && p.chars().all(|c| c.is_ascii_alphabetic()) => p,
        p if WHISPER_LANGUAGES.iter().any(|(code, _)| *code == p) => p,
        p => ISO_639_2.iter().find(|(three, _)| *three == p)?.1,
    };
    Some(code.to_string())
}

/// ISO 639-2 codes (bibliographic and terminology) of common call languages.
#[rustfmt::skip]
const ISO_639_2: &[(&str, &str)] = &[
    ("eng", "en"), ("pol", "pl"), ("rus", "ru"), ("heb", "he"), ("ukr", "uk"),
    ("deu", "de"), ("ger", "de"), ("fra", "fr"), ("fre", "fr"), ("spa", "es"),
    ("ita", "it"), ("por", "pt"), ("nld", "nl"), ("dut", "nl"), ("ces", "cs"),
    ("cze", "cs"), ("slk", "sk"), ("slo", "sk"), ("ara", "ar"), ("zho", "zh"),
    ("chi", "zh"), ("jpn", "ja"), ("kor", "ko"), ("tur", "tr"), ("swe", "sv"),
    ("fin", "fi"), ("dan", "da"), ("nor", "no"), ("hun", "hu"), ("ron", "ro"),
    ("rum", "ro"), ("bul", "bg"), ("ell", "el"), ("gre", "el"), ("hin", "hi"),
    ("yid", "yi"), ("bel", "be"), ("lit", "lt"), ("lav", "lv"), ("est", "et"),
    ("slv", "sl"), ("hrv", "hr"), ("srp", "sr"),
];

/// whisper's languages, code and English name, as whisper and its JSON
/// outputs write them.
#[rustfmt::skip]
const WHISPER_LANGUAGES: &[(&str, &str)] = &[
    ("en", "english"), ("zh", "chinese"), ("de", "german"), ("es", "spanish"),
    ("ru", "russian"), ("ko", "korean"), ("fr", "french"), ("ja", "japanese"),
    ("pt", "portuguese"), ("tr", "turkish"), ("pl", "polish"), ("ca", "catalan"),
    ("nl", "dutch"), ("ar", "arabic"), ("sv", "swedish"), ("it", "italian"),
    ("id", "indonesian"), ("hi", "hindi"), ("fi", "finnish"), ("vi", "vietnamese"),
    ("he", "hebrew"), ("uk", "ukrainian"), ("el", "greek"), ("ms", "malay"),
    ("cs", "czech"), ("ro", "romanian"), ("da", "danish"), ("hu", "hungarian"),
    ("ta", "tamil"), ("no", "norwegian"), ("th", "thai"), ("ur", "urdu"),
    ("hr", "croatian"), ("bg", "bulgarian"), ("lt", "lithuanian"), ("la", "latin"),
    ("mi", "maori"), ("ml", "malayalam"), ("cy", "welsh"), ("sk", "slovak"),
    ("te", "telugu"), ("fa", "persian"), ("lv", "latvian"), ("bn", "bengali"),
    ("sr", "serbian"), ("az", "azerbaijani"), ("sl", "slovenian"), ("kn", "kannada"),
    ("et", "estonian"), ("mk", "macedonian"), ("br", "breton"), ("eu", "basque"),
    ("is", "icelandic"), ("hy", "armenian"), ("ne", "nepali"), ("mn", "mongolian"),
    ("bs", "bosnian"), ("kk", "kazakh"), ("sq", "albanian"), ("sw", "swahili"),
    ("gl", "galician"), ("mr", "marathi"), ("pa", "punjabi"), ("si", "sinhala"),
    ("km", "khmer"), ("sn", "shona"), ("yo", "yoruba"), ("so", "somali"),
    ("af", "afrikaans"), ("oc", "occitan"), ("ka", "georgian"), ("be", "belarusian"),
    ("tg", "tajik"), ("sd", "sindhi"), ("gu", "gujarati"), ("am", "amharic"),
    ("yi", "yiddish"), ("lo", "lao"), ("uz", "uzbek"), ("fo", "faroese"),
    ("ht", "haitian creole"), ("ps", "pashto"), ("tk", "turkmen"), ("nn", "nynorsk"),
    ("mt", "maltese"), ("sa", "sanskrit"), ("lb", "luxembourgish"), ("my", "myanmar"),
    ("bo", "tibetan"), ("tl", "tagalog"), ("mg", "malagasy"), ("as", "assamese"),
    ("tt", "tatar"), ("haw", "hawaiian"), ("ln", "lingala"), ("ha", "hausa"),
    ("ba", "bashkir"), ("jw", "javanese"), ("su", "sundanese"), ("yue", "cantonese"),
];

/// A time in seconds from JSON (a number, or a string of one as Amazon
/// writes them) → ms, rejecting what no recording has.
pub(crate) fn seconds_value(value: Option<&Value>, what: &str) -> std::result::Result<u64, String> {
    let value = value.ok_or_else(|| format!("no {what} time"))?;
    let seconds = match value {
        Value::Number(n) => n.as_f64(),
        Value::String(s) => s.trim().parse::<f64>().ok(),
        _ => None,
    }
    .ok_or_else(|| format!("{what} {value} is not a time in seconds"))?;
    checked_ms(seconds * 1000.0, &format!("{what} {value}"))
}

/// A time in milliseconds from JSON (a number).
pub(crate) fn millis_value(value: Option<&Value>, what: &str) -> std::result::Result<u64, String> {
    let value = value.ok_or_else(|| format!("no {what} time"))?;
    let ms = value
        .as_f64()
        .ok_or_else(|| format!("{what} {value} is not a time in milliseconds"))?;
    checked_ms(ms, &format!("{what} {value}"))
}

/// Rounds a time to whole ms after checking it is finite, not negative and
/// within [`MAX_TIME_MS`]; `shown` is the time as the file wrote it.
fn checked_ms(ms: f64, shown: &str) -> std::result::Result<u64, String> {
    if !ms.is_finite() {
        Err(format!("{shown} is not a finite number"))
    } else if ms < 0.0 {
        Err(format!("{shown} is negative"))
    } else if ms > MAX_TIME_MS as f64 {
        Err(format!("{shown} is beyond 48 h"))
    } else {
        Ok(ms.round() as u64)
    }
}

/// A clock time `[HH:]MM:SS[,.]fff` (SRT, WebVTT, whisper.cpp) → ms. The
/// fraction is a decimal fraction, so `,5` is 500 ms.
pub(crate) fn parse_clock(s: &str) -> Option<u64> {
    let (clock, fraction) = match s.find([',', '.']) {
        Some(i) => (&s[..i], &s[i + 1..]),
        None => (s, ""),
    };
    let number = |p: &str| -> Option<u64> {
        (!p.is_empty() && p.bytes().all(|b| b.is_ascii_digit())).then(|| p.parse().ok())?
    };
    let parts: Vec<&str> = clock.split(':').collect();
    let (h, m, sec) = match parts.as_slice() {
        [h, m, s] => (number(h)?, number(m)?, number(s)?),
        [m, s] => (0, number(m)?, number(s)?),
        _ => return None,
    };
    if m >= 60 || sec >= 60 || fraction.len() > 3 {
        return None;
    }
    let ms = if fraction.is_empty() {
        0
    } else {
        number(fraction)? * 10u64.pow(3 - fraction.len() as u32)
    };
    // Checked: an hour field of twenty digits must not overflow.
    h.checked_mul(3_600_000)?
        .checked_add((m * 60 + sec) * 1000 + ms)
}

/// [`parse_clock`] with the 48 h limit and a message naming `what`.
pub(crate) fn clock_value(s: &str, what: &str) -> std::result::Result<u64, String> {
    let ms = parse_clock(s).ok_or_else(|| format!("{what} `{s}` is not a time"))?;
    if ms > MAX_TIME_MS {
        return Err(format!("{what} {s} is beyond 48 h"));
    }
    Ok(ms)
}

/// Parses JSON text, with the parser's own position in the message.
pub(crate) fn parse_json(text: &str) -> std::result::Result<Value, String> {
    serde_json::from_str(text).map_err(|e| format!("invalid json: {e}"))
}

/// A string field of a JSON object, if present and a string.
pub(crate) fn str_field<'a>(value: &'a Value, key: &str) -> Option<&'a str> {
    value.get(key).and_then(Value::as_str)
}

/// A number field as `f32` (log-probabilities and the like).
pub(crate) fn f32_field(value: &Value, key: &str) -> Option<f32> {
    value.get(key).and_then(Value::as_f64).map(|v| v as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_names_round_trip() {
        for f in ALL_FORMATS {
            assert_eq!(f.name().parse::<ImportFormat>().unwrap(), f);
        }
        let err = "json".parse::<ImportFormat>().unwrap_err();
        assert!(
            err.contains("auto, callsift, whisper-json, whisperx, aws, srt, vtt"),
            "{err}"
        );
    }

    #[test]
    fn languages_normalize() {
        for (input, want) in [
            ("en-US", "en"),
            ("english", "en"),
            ("Russian", "ru"),
            ("polish", "pl"),
            ("hebrew", "he"),
            ("he-IL", "he"),
            ("iw", "he"),
            ("pol", "pl"),
            ("PL", "pl"),
            ("zh_CN", "zh"),
            ("yue", "yue"),
            ("haitian creole", "ht"),
        ] {
            assert_eq!(normalize_language(input).as_deref(), Some(want), "{input}");
        }
        for unknown in ["auto", "", "klingon", "x1", "abcd"] {
            assert_eq!(normalize_language(unknown), None, "{unknown}");
        }
    }

    #[test]
    fn speakers_map_to_roles() {
        for (label, want) in [
            ("agent", "agent"),
            ("AGENT", "agent"),
            ("spk agent", "agent"),
            ("Speaker_Agent", "agent"),
            ("Customer", "customer"),
            ("caller", "customer"),
            ("CLIENT", "customer"),
            ("SPEAKER_00", "SPEAKER_00"),
            ("spk_0", "spk_0"),
            (" Anna Nowak ", "Anna Nowak"),
            ("agent smith", "agent smith"),
        ] {
            assert_eq!(canonical_speaker(label), want, "{label}");
        }
    }

    fn raw(
        start_ms: u64,
        end_ms: u64,
        speaker: Option<&str>,
        channel: Option<usize>,
    ) -> RawSegment {
        RawSegment {
            start_ms,
            end_ms,
            speaker: speaker.map(str::to_string),
            channel,
            text: "x".to_string(),
            ..RawSegment::default()
        }
    }

    #[test]
    fn channels_follow_roles_then_first_appearance() {
        let segs = vec![
            raw(0, 1, Some("SPEAKER_01"), None),
            raw(1, 2, Some("Customer"), None),
            raw(2, 3, Some("SPEAKER_00"), None),
            raw(3, 4, Some("agent"), None),
        ];
        let out = finish_segments(segs, None);
        let got: Vec<(&str, usize)> = out
            .iter()
            .map(|s| (s.speaker.as_str(), s.channel))
            .collect();
        assert_eq!(
            got,
            [
                ("SPEAKER_01", 2),
                ("customer", 1),
                ("SPEAKER_00", 3),
                ("agent", 0)
            ]
        );
        let plain = finish_segments(
            vec![raw(0, 1, Some("B"), None), raw(1, 2, Some("A"), None)],
            None,
        );
        assert_eq!((plain[0].channel, plain[1].channel), (0, 1));
        let stated = finish_segments(
            vec![raw(0, 1, Some("x"), None), raw(1, 2, Some("ch_0"), Some(0))],
            None,
        );
        assert_eq!((stated[0].channel, stated[1].channel), (1, 0));
    }

    #[test]
    fn no_speaker_is_mixed_and_empty_text_dropped() {
        let mut empty = raw(5, 6, None, None);
        empty.text = "  \n ".to_string();
        let out = finish_segments(vec![raw(0, 1, None, None), empty], Some("pl".into()));
        assert_eq!(out.len(), 1);
        assert_eq!(
            (
                out[0].speaker.as_str(),
                out[0].channel,
                out[0].language.as_str()
            ),
            ("mixed", 0, "pl")
        );
        assert_eq!(
            finish_segments(vec![raw(0, 1, None, None)], None)[0].language,
            "und"
        );
    }

    #[test]
    fn speech_merges_touching_and_overlapping_spans() {
        let spans = |v: &[(u64, u64)]| {
            v.iter()
                .map(|&(start_ms, end_ms)| SpeechSpan { start_ms, end_ms })
                .collect()
        };
        assert_eq!(
            merge_spans(spans(&[
                (5000, 6000),
                (0, 1000),
                (1000, 2000),
                (1500, 1800),
                (3000, 4000)
            ])),
            spans(&[(0, 2000), (3000, 4000), (5000, 6000)]) as Vec<SpeechSpan>
        );
        let empty = speech_of(&[]);
        assert_eq!((empty.len(), empty[0].speaker.as_str()), (1, "mixed"));
    }

    #[test]
    fn clock_times() {
        assert_eq!(parse_clock("00:00:01,000"), Some(1000));
        assert_eq!(parse_clock("01:02:03.456"), Some(3_723_456));
        assert_eq!(parse_clock("00:01.000"), Some(1000));
        assert_eq!(parse_clock("12:34.5"), Some(754_500));
        assert_eq!(parse_clock("00:00:07"), Some(7000));
        for bad in [
            "",
            "1",
            "00:61.000",
            "00:00:01,0000",
            "aa:00:01,000",
            "00:-1:00,000",
            "1:2:3:4",
        ] {
            assert_eq!(parse_clock(bad), None, "{bad}");
        }
        assert_eq!(
            clock_value("48:00:00,001", "end").unwrap_err(),
            "end 48:00:00,001 is beyond 48 h"
        );
        assert_eq!(
            clock_value("99999999999999999:00:00,000", "end").unwrap_err(),
            "end `99999999999999999:00:00,000` is not a time"
        );
    }

    #[test]
    fn json_times_are_validated() {
        let v = |s: &str| serde_json::from_str::<Value>(s).unwrap();
        assert_eq!(seconds_value(Some(&v("2.5")), "start"), Ok(2500));
        assert_eq!(seconds_value(Some(&v("\"0.125\"")), "start"), Ok(125));
        assert_eq!(
            seconds_value(Some(&v("\"abc\"")), "start").unwrap_err(),
            "start \"abc\" is not a time in seconds"
        );
        assert_eq!(
            seconds_value(Some(&v("-1.5")), "end").unwrap_err(),
            "end -1.5 is negative"
        );
        assert_eq!(
            seconds_value(Some(&v("\"NaN\"")), "end").unwrap_err(),
            "end \"NaN\" is not a finite number"
        );
        assert_eq!(
            seconds_value(Some(&v("172801")), "end").unwrap_err(),
            "end 172801 is beyond 48 h"
        );
        assert_eq!(seconds_value(None, "start").unwrap_err(), "no start time");
        assert_eq!(millis_value(Some(&v("1200")), "end"), Ok(1200));
        assert!(millis_value(Some(&v("null")), "end").is_err());
    }

    #[test]
    fn detect_needs_content_not_extension() {
        assert_eq!(
            detect(b"\xef\xbb\xbfWEBVTT\n\n00:01.000 --> 00:02.000\nhi\n"),
            Some(ImportFormat::Vtt)
        );
        assert_eq!(
            detect(b"1\n00:00:01,000 --> 00:00:02,000\nhi\n"),
            Some(ImportFormat::Srt)
        );
        assert_eq!(detect(br#"{"segments":[]}"#), Some(ImportFormat::Whisperx));
        assert_eq!(
            detect(br#"{"schema":"callsift.transcript/1","segments":[]}"#),
            Some(ImportFormat::Callsift)
        );
        assert_eq!(
            detect(br#"{"transcription":[]}"#),
            Some(ImportFormat::WhisperJson)
        );
        assert_eq!(
            detect(br#"{"results":{"items":[]}}"#),
            Some(ImportFormat::Aws)
        );
        assert_eq!(detect(br#"{"Transcript":[]}"#), Some(ImportFormat::Aws));
        assert_eq!(
            detect(br#"[{"start":0,"end":1,"text":"a"}]"#),
            Some(ImportFormat::Whisperx)
        );
        for none in [
            &b"{\"a\":1}"[..],
            b"{\"segments\":",
            b"hello",
            b"",
            b"\xff\xfe",
        ] {
            assert_eq!(detect(none), None);
        }
    }
}
