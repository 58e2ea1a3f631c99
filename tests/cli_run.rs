//! `callsift run` as a user runs it: the binary over a folder of good,
//! silent, unsupported and broken files, with a random-weight ggml model
//! (real whisper.cpp, real format, meaningless text). Checks the outputs,
//! the run summary and the exit codes.

mod common;

use std::path::Path;

use callsift::model::{RunReport, Transcript};
use common::*;

fn fixture(name: &str) -> std::path::PathBuf {
    manifest_dir().join("tests/fixtures/audio").join(name)
}

fn read_transcript(out: &Path, call_id: &str) -> Transcript {
    let text =
        std::fs::read_to_string(out.join("transcripts").join(format!("{call_id}.json"))).unwrap();
    serde_json::from_str(&text).unwrap()
}

#[test]
fn batch_with_bad_files_finishes_and_exits_3() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(input.join("nested")).unwrap();
    // Good: a synthetic stereo µ-law call and an mp3.
    std::fs::copy(
        manifest_dir().join("samples/call-en-support.wav"),
        input.join("good-call.wav"),
    )
    .unwrap();
    std::fs::copy(fixture("mp3_32k_mono.mp3"), input.join("nested/good.mp3")).unwrap();
    // Silent: 4 s of faint line noise (about -60 dBFS), 8 kHz stereo.
    write_wav_s16(
        &input.join("silent.wav"),
        8000,
        &[noise(32_000, 0.0015, 1), noise(32_000, 0.0015, 2)],
    );
    // Truncated mid-stream: transcribed up to the break, with a warning.
    std::fs::copy(fixture("truncated_mid.wav"), input.join("truncated.wav")).unwrap();
    // Unsupported codec, broken files, and a file that is not audio by extension.
    std::fs::copy(fixture("gsm_8k.wav"), input.join("unsupported-gsm.wav")).unwrap();
    std::fs::write(input.join("broken.wav"), b"this is not a wav file at all").unwrap();
    std::fs::write(input.join("empty.mp3"), b"").unwrap();
    std::fs::write(input.join("notes.txt"), b"call notes").unwrap();

    // The random model's words are meaningless and have a very low
    // log-probability: the default guards drop every one of them, and the
    // good call would have no segment to check. This pipeline keeps them.
    let pipeline = tmp.path().join("keep-random-words.toml");
    std::fs::write(
        &pipeline,
        "[whisper]\nno_speech_threshold = 1.0\n\n[guards]\nmin_avg_logprob = -1000.0\n",
    )
    .unwrap();

    let out = tmp.path().join("out");
    let assert = bin()
        .args([
            "run",
            "--json",
            "--min-age",
            "0",
            "--threads",
            "2",
            "--language",
            "en",
            "--input",
        ])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .arg("--model")
        .arg(random_model())
        .arg("--pipeline")
        .arg(&pipeline)
        .assert()
        .code(3);
    let stdout = String::from_utf8(assert.get_output().stdout.clone()).unwrap();
    let stderr = String::from_utf8(assert.get_output().stderr.clone()).unwrap();
    let report: RunReport = serde_json::from_str(&stdout).expect("run summary JSON on stdout");
    assert_eq!(report.schema, "callsift.run/1");
    assert!(
        stderr.contains("8 files: 4 ok, 3 failed, 1 skipped"),
        "{stderr}"
    );
    assert_eq!(
        (report.ok, report.failed, report.skipped),
        (4, 3, 1),
        "{stdout}"
    );

    let by_name = |name: &str| {
        report
            .inputs
            .iter()
            .find(|r| r.path.ends_with(name))
            .unwrap_or_else(|| panic!("{name} not in the summary: {stdout}"))
    };
    for failed in ["unsupported-gsm.wav", "broken.wav", "empty.mp3"] {
        let r = by_name(failed);
        assert_eq!(r.status, callsift::model::InputStatus::Failed, "{failed}");
        assert!(
            r.error.as_deref().is_some_and(|e| !e.is_empty()),
            "{failed}"
        );
    }
    assert!(
        by_name("unsupported-gsm.wav")
            .error
            .as_deref()
            .unwrap()
            .contains("unsupported codec")
    );
    assert!(
        by_name("empty.mp3")
            .error
            .as_deref()
            .unwrap()
            .contains("empty")
    );
    assert_eq!(
        by_name("notes.txt").status,
        callsift::model::InputStatus::Skipped
    );
    // Every failure is named with its path on stderr.
    assert!(stderr.contains("broken.wav: "), "{stderr}");

    // The summary is saved under OUT/runs/ too.
    let runs: Vec<_> = std::fs::read_dir(out.join("runs")).unwrap().collect();
    assert_eq!(runs.len(), 1);
    let saved: RunReport =
        serde_json::from_str(&std::fs::read_to_string(runs[0].as_ref().unwrap().path()).unwrap())
            .unwrap();
    assert_eq!(saved, report);

    // Good call: stereo, two speakers, transcript fields as documented.
    let call = by_name("good-call.wav");
    let t = read_transcript(&out, call.call_id.as_deref().unwrap());
    assert_eq!(t.schema, "callsift.transcript/1");
    assert_eq!(t.channels, 2);
    assert_eq!(t.sample_rate_hz, 8000);
    assert_eq!(t.codec, "pcm_mulaw");
    assert_eq!(t.model, "ggml-random-test.bin");
    assert!(t.content_hash.starts_with("blake3:"));
    assert!(t.content_hash[7..].starts_with(&t.call_id));
    assert_eq!(t.speech.len(), 2);
    assert_eq!(t.speech[0].speaker, "agent");
    assert_eq!(t.speech[1].speaker, "customer");
    assert!(!t.speech[0].spans.is_empty() && !t.speech[1].spans.is_empty());
    // Both speakers were transcribed, each on their own channel (so the loop
    // below checks segments of both).
    for (channel, speaker) in [(0, "agent"), (1, "customer")] {
        assert!(
            t.segments
                .iter()
                .any(|s| s.channel == channel && s.speaker == speaker),
            "no {speaker} segment on channel {channel}: {:?}",
            t.segments
        );
    }
    assert!(t.segments.iter().all(|s| s.channel < 2), "{:?}", t.segments);
    // The language was given (--language en), so there is nothing detected
    // to check here (detection is tested with trained models in
    // whisper_real.rs); what can go wrong is the bookkeeping: one language per
    // speaker, and every segment in its speaker's language.
    assert_eq!(
        t.languages.keys().map(String::as_str).collect::<Vec<_>>(),
        ["agent", "customer"],
        "{:?}",
        t.languages
    );
    for s in &t.segments {
        assert_eq!(Some(&s.language), t.languages.get(&s.speaker), "{s:?}");
    }
    // Segment times are on the call's timeline: each segment starts and ends
    // inside (±0.3 s) its channel's detected speech. (Not necessarily inside
    // one span: the random model's one-word segment can cover two of a
    // speaker's turns packed into one window, and one word cannot be split.)
    let inside = |spans: &[callsift::model::SpeechSpan], ms: u64| {
        spans
            .iter()
            .any(|sp| ms + 300 >= sp.start_ms && ms <= sp.end_ms + 300)
    };
    for s in &t.segments {
        let spans = &t.speech[s.channel].spans;
        assert!(
            s.start_ms < s.end_ms && inside(spans, s.start_ms) && inside(spans, s.end_ms),
            "segment {s:?} outside speech {spans:?}"
        );
    }
    assert!(
        t.segments
            .windows(2)
            .all(|w| w[0].start_ms <= w[1].start_ms)
    );

    // Truncated file: ok, with the warning in the summary and the transcript.
    let truncated = by_name("truncated.wav");
    assert_eq!(truncated.status, callsift::model::InputStatus::Ok);
    assert!(
        truncated
            .warnings
            .iter()
            .any(|w| w.starts_with("truncated after")),
        "{truncated:?}"
    );
    let t = read_transcript(&out, truncated.call_id.as_deref().unwrap());
    assert_eq!(t.warnings, truncated.warnings);
    assert!(t.duration_ms > 0);

    // Silent file: processed fine, zero segments, no speech.
    let silent = by_name("silent.wav");
    assert_eq!(silent.status, callsift::model::InputStatus::Ok);
    let t = read_transcript(&out, silent.call_id.as_deref().unwrap());
    assert!(t.segments.is_empty(), "{:?}", t.segments);
    assert!(t.speech.iter().all(|c| c.spans.is_empty()));

    // show prints the dialogue by call id (or a prefix of it).
    let id = call.call_id.as_deref().unwrap();
    let shown = bin()
        .args(["show", &id[..8], "--out"])
        .arg(&out)
        .assert()
        .success();
    let text = String::from_utf8(shown.get_output().stdout.clone()).unwrap();
    assert!(text.contains(id), "{text}");
}

#[test]
fn same_content_is_the_same_call_id() {
    let tmp = tempfile::tempdir().unwrap();
    let a = tmp.path().join("a.wav");
    let b = tmp.path().join("b-copy.wav");
    write_wav_s16(&a, 8000, &[noise(8000, 0.001, 3)]);
    std::fs::copy(&a, &b).unwrap();
    let out = tmp.path().join("out");
    let assert = bin()
        .args(["run", "--json", "--min-age", "0", "--input"])
        .arg(&a)
        .arg("--input")
        .arg(&b)
        .arg("--out")
        .arg(&out)
        .arg("--model")
        .arg(random_model())
        .assert()
        .success();
    let report: RunReport = serde_json::from_slice(&assert.get_output().stdout).unwrap();
    assert_eq!(report.inputs[0].status, callsift::model::InputStatus::Ok);
    assert_eq!(
        report.inputs[1].status,
        callsift::model::InputStatus::Skipped
    );
    assert_eq!(report.inputs[0].call_id, report.inputs[1].call_id);
    assert!(
        report.inputs[1]
            .error
            .as_deref()
            .unwrap()
            .contains("same content")
    );
}

#[test]
fn usage_errors_exit_2_and_missing_model_says_how_to_get_one() {
    let tmp = tempfile::tempdir().unwrap();
    // Unknown flag.
    bin().args(["run", "--bogus"]).assert().code(2);
    // Missing input.
    let out = bin()
        .args([
            "run",
            "--min-age",
            "0",
            "--input",
            "/nonexistent/x.wav",
            "--out",
        ])
        .arg(tmp.path())
        .arg("--model")
        .arg(random_model())
        .assert()
        .code(2);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("/nonexistent/x.wav"));
    // Bad pipeline file: names the file, key and line.
    let pipeline = tmp.path().join("p.toml");
    std::fs::write(&pipeline, "[vad]\nthreshhold = 0.3\n").unwrap();
    let out = bin()
        .args(["run", "--min-age", "0", "--input"])
        .arg(tmp.path())
        .arg("--out")
        .arg(tmp.path().join("o"))
        .arg("--pipeline")
        .arg(&pipeline)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("p.toml") && err.contains("threshhold") && err.contains("line 2"),
        "{err}"
    );
    // No model anywhere: fatal, and the message says how to get one.
    let out = bin()
        .env_remove("CALLSIFT_MODEL")
        .args(["run", "--min-age", "0", "--input"])
        .arg(tmp.path())
        .arg("--out")
        .arg(tmp.path().join("o"))
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(
        err.contains("models fetch") && err.contains("download.sh"),
        "{err}"
    );
    // A file that is not a model.
    let fake = tmp.path().join("ggml-fake.bin");
    std::fs::write(&fake, b"not a model").unwrap();
    let out = bin()
        .args(["run", "--min-age", "0", "--input"])
        .arg(tmp.path())
        .arg("--out")
        .arg(tmp.path().join("o"))
        .arg("--model")
        .arg(&fake)
        .assert()
        .code(1);
    assert!(String::from_utf8_lossy(&out.get_output().stderr).contains("not a ggml whisper model"));
}

#[test]
fn help_documents_exit_codes() {
    let out = bin().args(["run", "--help"]).assert().success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for needle in [
        "Exit codes",
        "3  the run finished but some recordings failed",
        "--workers",
        "--threads",
        "--json",
    ] {
        assert!(
            text.contains(needle),
            "{needle} missing from --help:\n{text}"
        );
    }
}
