//! Tests of `callsift::import`: every format's hand-made fixture in
//! `tests/fixtures/import/` is detected from its content and imported, with
//! exact times, speakers, channels, languages and texts; the call id is the
//! hash of the file's bytes; a sibling audio file becomes the source path;
//! broken files fail with an error naming the file and the reason.

mod common;

use std::path::{Path, PathBuf};

use callsift::import::{ImportFormat, ImportOptions, detect, import_file};
use callsift::model::{SpeechSpan, Transcript};

fn fixture(name: &str) -> PathBuf {
    common::manifest_dir()
        .join("tests/fixtures/import")
        .join(name)
}

fn import(name: &str, format: ImportFormat) -> Transcript {
    import_file(&fixture(name), format, &ImportOptions::default())
        .unwrap_or_else(|e| panic!("{name} as {format}: {e}"))
}

/// Imports with `Auto` and with the explicit format, checks both agree and
/// that `detect` names the format, and returns the transcript.
fn import_both(name: &str, format: ImportFormat) -> Transcript {
    let bytes = std::fs::read(fixture(name)).unwrap();
    assert_eq!(detect(&bytes), Some(format), "{name}");
    let auto = import(name, ImportFormat::Auto);
    assert_eq!(
        auto,
        import(name, format),
        "{name}: auto and explicit differ"
    );
    auto
}

/// `(start_ms, end_ms, channel, speaker, language, text)` of every segment.
type Row<'a> = (u64, u64, usize, &'a str, &'a str, &'a str);

fn rows(t: &Transcript) -> Vec<Row<'_>> {
    t.segments
        .iter()
        .map(|s| {
            (
                s.start_ms,
                s.end_ms,
                s.channel,
                s.speaker.as_str(),
                s.language.as_str(),
                s.text.as_str(),
            )
        })
        .collect()
}

fn spans(t: &Transcript, channel: usize) -> Vec<(u64, u64)> {
    let c = t.speech.iter().find(|c| c.channel == channel).unwrap();
    c.spans
        .iter()
        .map(|s: &SpeechSpan| (s.start_ms, s.end_ms))
        .collect()
}

fn languages(t: &Transcript) -> Vec<(&str, &str)> {
    t.languages
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect()
}

/// The fields every foreign import sets the same way.
fn check_common(t: &Transcript, name: &str, format: &str, model: &str) {
    let bytes = std::fs::read(fixture(name)).unwrap();
    let hash = blake3::hash(&bytes);
    assert_eq!(t.schema, "callsift.transcript/1");
    assert_eq!(t.call_id, hash.to_hex()[..20]);
    assert_eq!(t.content_hash, format!("blake3:{}", hash.to_hex()));
    assert_eq!(t.source_path, fixture(name).display().to_string());
    assert_eq!(t.metadata["imported_from"], format);
    assert_eq!(
        t.metadata["transcript_path"],
        fixture(name).display().to_string()
    );
    assert_eq!(t.metadata.len(), 2);
    assert_eq!(t.model, model);
    assert_eq!(t.call_start, None);
    assert_eq!((t.sample_rate_hz, t.codec.as_str()), (0, ""));
    assert_eq!(
        t.duration_ms,
        t.segments.iter().map(|s| s.end_ms).max().unwrap_or(0)
    );
    assert_eq!(t.channels, t.speech.len());
    assert!(t.warnings.is_empty());
}

#[test]
fn whisper_cpp_json() {
    let t = import_both("whisper_cpp.json", ImportFormat::WhisperJson);
    check_common(&t, "whisper_cpp.json", "whisper-json", "ggml-base.en.bin");
    let text1 = "Thank you for calling Northwind support, this is Dana.";
    let text2 = "Hi, my router keeps dropping the connection every evening.";
    let text3 = "I'm sorry to hear that. Can I have your account number?";
    assert_eq!(
        rows(&t),
        [
            (0, 3240, 0, "mixed", "en", text1),
            (3240, 7900, 0, "mixed", "en", text2),
            (8000, 11520, 0, "mixed", "en", text3),
        ]
    );
    assert_eq!((t.duration_ms, t.channels), (11520, 1));
    assert_eq!(spans(&t, 0), [(0, 7900), (8000, 11520)]);
    assert_eq!(languages(&t), [("mixed", "en")]);
    assert!(
        t.segments
            .iter()
            .all(|s| s.avg_logprob == 0.0 && s.no_speech_prob == 0.0)
    );
}

#[test]
fn whisper_cpp_full_json_with_tokens() {
    let t = import_both("whisper_cpp_full.json", ImportFormat::WhisperJson);
    check_common(
        &t,
        "whisper_cpp_full.json",
        "whisper-json",
        "ggml-small.bin",
    );
    assert_eq!(
        rows(&t),
        [
            (500, 2800, 0, "mixed", "ru", "Здравствуйте, банк слушает."),
            (3100, 6050, 0, "mixed", "ru", "У меня заблокировали карту."),
        ]
    );
    // Mean ln(p) of the text tokens: ln 0.9, 0.8, 0.7, 0.6, 0.95 → -0.249.
    assert_eq!(t.segments[0].avg_logprob, -0.249);
    assert_eq!(t.segments[1].avg_logprob, 0.0);
}

#[test]
fn whisperx_json() {
    let t = import_both("whisperx.json", ImportFormat::Whisperx);
    check_common(&t, "whisperx.json", "whisperx", "imported:whisperx");
    let a = "Dzień dobry, nazywam się Anna Nowak.";
    let b = "Dzień dobry, dzwonię w sprawie faktury za październik.";
    assert_eq!(
        rows(&t),
        [
            (31, 2500, 0, "SPEAKER_00", "pl", a),
            (2900, 6750, 1, "SPEAKER_01", "pl", b),
            (
                7120,
                9004,
                0,
                "SPEAKER_00",
                "pl",
                "Rozumiem, już sprawdzam."
            ),
        ]
    );
    assert_eq!(t.channels, 2);
    assert_eq!(spans(&t, 0), [(31, 2500), (7120, 9004)]);
    assert_eq!(spans(&t, 1), [(2900, 6750)]);
    assert_eq!(languages(&t), [("SPEAKER_00", "pl"), ("SPEAKER_01", "pl")]);
}

#[test]
fn faster_whisper_json_keeps_logprobs() {
    let t = import_both("faster_whisper.json", ImportFormat::Whisperx);
    check_common(&t, "faster_whisper.json", "whisperx", "imported:whisperx");
    assert_eq!(
        rows(&t),
        [
            (0, 2200, 0, "mixed", "he", "שלום, במה אפשר לעזור?"),
            (2200, 5000, 0, "mixed", "he", "אני רוצה לבטל את המנוי."),
        ]
    );
    let probs: Vec<(f32, f32)> = t
        .segments
        .iter()
        .map(|s| (s.avg_logprob, s.no_speech_prob))
        .collect();
    assert_eq!(probs, [(-0.2875, 0.0123), (-0.4012, 0.0456)]);
    assert_eq!(spans(&t, 0), [(0, 5000)]);
}

#[test]
fn aws_call_analytics() {
    let t = import_both("aws_call_analytics.json", ImportFormat::Aws);
    check_common(&t, "aws_call_analytics.json", "aws", "imported:aws");
    let a1 = "Hi, thank you for calling Contoso Bank, my name is Sam.";
    let c1 = "Hello, I'd like to dispute a charge on my card.";
    assert_eq!(
        rows(&t),
        [
            (450, 3890, 0, "agent", "en", a1),
            (4210, 8020, 1, "customer", "en", c1),
            (8100, 9800, 0, "agent", "en", "Sure, I can help with that."),
            (9500, 10400, 1, "customer", "en", "Thanks."),
        ]
    );
    assert_eq!((t.channels, t.duration_ms), (2, 10400));
    assert_eq!(t.speech[0].speaker, "agent");
    assert_eq!(t.speech[1].speaker, "customer");
    assert_eq!(spans(&t, 1), [(4210, 8020), (9500, 10400)]);
    assert_eq!(languages(&t), [("agent", "en"), ("customer", "en")]);
}

#[test]
fn aws_standard_audio_segments() {
    let t = import_both("aws_standard.json", ImportFormat::Aws);
    check_common(&t, "aws_standard.json", "aws", "imported:aws");
    assert_eq!(
        rows(&t),
        [
            (500, 2600, 0, "spk_0", "ru", "Алло, добрый день."),
            (3040, 4250, 1, "spk_1", "ru", "Да, слушаю."),
        ]
    );
}

#[test]
fn aws_standard_items_only() {
    let t = import_both("aws_items.json", ImportFormat::Aws);
    check_common(&t, "aws_items.json", "aws", "imported:aws");
    assert_eq!(
        rows(&t),
        [
            (250, 1100, 0, "ch_0", "und", "Dzień dobry."),
            (1400, 2000, 1, "ch_1", "und", "Słucham?"),
            (2300, 3800, 0, "ch_0", "und", "Chodzi o przesyłkę."),
        ]
    );
    // A language given for files that carry none, as a name or a code.
    let options = ImportOptions {
        language: Some("Polish".to_string()),
    };
    let t = import_file(&fixture("aws_items.json"), ImportFormat::Auto, &options).unwrap();
    assert!(t.segments.iter().all(|s| s.language == "pl"));
    assert_eq!(languages(&t), [("ch_0", "pl"), ("ch_1", "pl")]);
}

#[test]
fn srt_with_speaker_prefixes() {
    let t = import_both("call.srt", ImportFormat::Srt);
    check_common(&t, "call.srt", "srt", "imported:srt");
    let a = "Dzień dobry, mówi Anna Nowak, w czym mogę pomóc?";
    let c = "Dzwonię w sprawie zamówienia numer 4471.";
    assert_eq!(
        rows(&t),
        [
            (1000, 4500, 0, "agent", "und", a),
            (5120, 8000, 1, "customer", "und", c),
            (8400, 10050, 0, "agent", "und", "Już sprawdzam."),
            (10050, 12300, 1, "customer", "und", "Dziękuję bardzo."),
        ]
    );
    assert_eq!(spans(&t, 0), [(1000, 4500), (8400, 10050)]);
    let options = ImportOptions {
        language: Some("pl-PL".to_string()),
    };
    let t = import_file(&fixture("call.srt"), ImportFormat::Srt, &options).unwrap();
    assert_eq!(languages(&t), [("agent", "pl"), ("customer", "pl")]);
}

#[test]
fn vtt_with_voices_and_notes() {
    let t = import_both("call.vtt", ImportFormat::Vtt);
    check_common(&t, "call.vtt", "vtt", "imported:vtt");
    assert_eq!(
        rows(&t),
        [
            (500, 3200, 0, "agent", "he", "שלום, כאן מוקד השירות."),
            (3600, 7250, 1, "customer", "he", "אני רוצה לבטל את המנוי"),
            (7800, 9000, 0, "agent", "he", "בסדר, אני בודק & חוזר אליך."),
        ]
    );
    assert_eq!(t.duration_ms, 9000);
}

#[test]
fn callsift_transcript_round_trips_unchanged() {
    let path = fixture("callsift.json");
    let t = import_both("callsift.json", ImportFormat::Callsift);
    let original: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    let again: serde_json::Value =
        serde_json::from_str(&serde_json::to_string(&t).unwrap()).unwrap();
    assert_eq!(again, original);
    assert_eq!(t.call_id, original["call_id"].as_str().unwrap());
    assert_eq!(t.metadata.get("imported_from"), None);

    // A file written before the optional fields existed still imports.
    let mut older = original.clone();
    for key in [
        "metadata_source",
        "pipeline",
        "processed_at",
        "processing_ms",
    ] {
        older.as_object_mut().unwrap().remove(key).unwrap();
    }
    let dir = tempfile::tempdir().unwrap();
    let old_path = dir.path().join("older.json");
    std::fs::write(&old_path, older.to_string()).unwrap();
    let t = import_file(&old_path, ImportFormat::Callsift, &ImportOptions::default()).unwrap();
    assert!(t.metadata_source.is_empty() && t.processed_at.is_none());
    assert_eq!(t.segments.len(), 3);
}

#[test]
fn same_bytes_give_the_same_call_id() {
    let dir = tempfile::tempdir().unwrap();
    let copy = dir.path().join("elsewhere.json");
    std::fs::copy(fixture("whisperx.json"), &copy).unwrap();
    let first = import("whisperx.json", ImportFormat::Auto);
    let second = import("whisperx.json", ImportFormat::Auto);
    let moved = import_file(&copy, ImportFormat::Auto, &ImportOptions::default()).unwrap();
    assert_eq!(first, second);
    assert_eq!(first.call_id, moved.call_id);
    assert_eq!(first.content_hash, moved.content_hash);
    assert_ne!(
        first.call_id,
        import("call.srt", ImportFormat::Auto).call_id
    );
}

#[test]
fn sibling_audio_becomes_the_source_path() {
    let dir = tempfile::tempdir().unwrap();
    let tone: Vec<f32> = (0..800).map(|i| (i as f32 * 0.1).sin() * 0.2).collect();
    let srt = dir.path().join("call7.srt");
    std::fs::copy(fixture("call.srt"), &srt).unwrap();
    let options = ImportOptions::default();
    let alone = import_file(&srt, ImportFormat::Auto, &options).unwrap();
    assert_eq!(alone.source_path, srt.display().to_string());

    common::write_wav_s16(
        &dir.path().join("call7.wav"),
        8000,
        std::slice::from_ref(&tone),
    );
    let t = import_file(&srt, ImportFormat::Auto, &options).unwrap();
    assert_eq!(
        t.source_path,
        dir.path().join("call7.wav").display().to_string()
    );
    assert_eq!(t.metadata["transcript_path"], srt.display().to_string());
    assert_eq!(
        t.call_id, alone.call_id,
        "the id hashes the transcript, not the audio"
    );

    let doubled = dir.path().join("call8.mp3.json");
    std::fs::copy(fixture("whisperx.json"), &doubled).unwrap();
    std::fs::write(dir.path().join("call8.mp3"), b"not checked").unwrap();
    common::write_wav_s16(&dir.path().join("call8.wav"), 8000, &[tone]);
    let t = import_file(&doubled, ImportFormat::Auto, &options).unwrap();
    assert_eq!(
        t.source_path,
        dir.path().join("call8.mp3").display().to_string()
    );
}

/// The error message of importing `path` as `format`.
fn error_of(path: &Path, format: ImportFormat) -> String {
    match import_file(path, format, &ImportOptions::default()) {
        Ok(_) => panic!("{} imported as {format}", path.display()),
        Err(e) => e.to_string(),
    }
}

fn assert_error(name: &str, format: ImportFormat, reason: &str) {
    let path = fixture(name);
    let message = error_of(&path, format);
    assert_eq!(message, format!("{}: {reason}", path.display()));
    assert!(matches!(
        import_file(&path, format, &ImportOptions::default()),
        Err(callsift::Error::Import { .. })
    ));
}

const UNKNOWN: &str = "not a known transcript format (callsift, whisper.cpp JSON, \
     WhisperX/faster-whisper JSON, Amazon Transcribe JSON, SRT, WebVTT)";

#[test]
fn broken_fixtures_fail_with_specific_reasons() {
    let bad_times = "cue 3: end 00:00:01,000 is before start 00:00:04,500";
    assert_error("bad_times.srt", ImportFormat::Auto, bad_times);
    assert_error("bad_times.srt", ImportFormat::Srt, bad_times);
    let garbage = format!("{UNKNOWN}: json object with keys `calls`, `name`, `owner`, `tags`");
    assert_error("garbage.json", ImportFormat::Auto, &garbage);
    assert_error("not_a_transcript.txt", ImportFormat::Auto, UNKNOWN);
    assert_error("no_cues.vtt", ImportFormat::Auto, "no cues");
    let nan = "segments[1]: start \"abc\" is not a time in seconds";
    assert_error("nan_time.json", ImportFormat::Auto, nan);
    assert_error("nan_time.json", ImportFormat::Whisperx, nan);
    for format in [ImportFormat::Auto, ImportFormat::Whisperx] {
        let message = error_of(&fixture("truncated.json"), format);
        assert!(
            message.starts_with(&format!(
                "{}: invalid json: EOF while parsing",
                fixture("truncated.json").display()
            )),
            "{message}"
        );
    }
}

#[test]
fn explicit_format_gives_its_own_parse_error() {
    let cases = [
        (
            "whisperx.json",
            ImportFormat::WhisperJson,
            "no `transcription` array (not whisper.cpp json)",
        ),
        (
            "whisper_cpp.json",
            ImportFormat::Whisperx,
            "no `segments` array (not whisperx/faster-whisper json)",
        ),
        (
            "whisperx.json",
            ImportFormat::Aws,
            "no `Transcript` (call analytics) or `results` (transcribe job): not amazon transcribe json",
        ),
        (
            "whisperx.json",
            ImportFormat::Callsift,
            "not a callsift transcript: no `schema` field",
        ),
        ("call.srt", ImportFormat::Vtt, "missing `WEBVTT` header"),
        (
            "call.vtt",
            ImportFormat::Srt,
            "line 1: expected a cue timing line like `00:00:01,000 --> 00:00:04,500`, found `WEBVTT - support call 2291`",
        ),
        (
            "call.srt",
            ImportFormat::Whisperx,
            "invalid json: trailing characters at line 2 column 1",
        ),
    ];
    for (name, format, reason) in cases {
        assert_error(name, format, reason);
    }
}

#[test]
fn unreadable_empty_and_non_utf8_files() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.srt");
    assert_eq!(
        error_of(&missing, ImportFormat::Auto),
        format!("{}: cannot read: entity not found", missing.display())
    );
    let empty = dir.path().join("empty.json");
    std::fs::write(&empty, b"  \n").unwrap();
    assert_eq!(
        error_of(&empty, ImportFormat::Auto),
        format!("{}: empty file", empty.display())
    );
    let latin1 = dir.path().join("latin1.srt");
    std::fs::write(
        &latin1,
        b"1\n00:00:01,000 --> 00:00:02,000\nZa\xbf\xf3\xb3\xe6\n",
    )
    .unwrap();
    let message = error_of(&latin1, ImportFormat::Srt);
    assert!(
        message.starts_with(&format!(
            "{}: not utf-8 text: invalid utf-8",
            latin1.display()
        )),
        "{message}"
    );
    let empty_json = dir.path().join("silent.json");
    std::fs::write(&empty_json, br#"{"segments":[],"language":"pl"}"#).unwrap();
    let t = import_file(&empty_json, ImportFormat::Auto, &ImportOptions::default()).unwrap();
    assert_eq!((t.segments.len(), t.duration_ms, t.channels), (0, 0, 1));
    assert_eq!(t.speech[0].speaker, "mixed");
}

#[test]
fn format_names_parse() {
    for (name, format) in [
        ("auto", ImportFormat::Auto),
        ("callsift", ImportFormat::Callsift),
        ("whisper-json", ImportFormat::WhisperJson),
        ("whisperx", ImportFormat::Whisperx),
        ("aws", ImportFormat::Aws),
        ("srt", ImportFormat::Srt),
        ("vtt", ImportFormat::Vtt),
    ] {
        assert_eq!(name.parse::<ImportFormat>(), Ok(format));
        assert_eq!(format.name(), name);
    }
    let err = "json".parse::<ImportFormat>().unwrap_err();
    assert_eq!(
        err,
        "unknown import format `json` (expected one of: auto, callsift, whisper-json, whisperx, aws, srt, vtt)"
    );
}
