//! The random-weight test model (`callsift::models::testmodel`) is a real
//! ggml whisper model: whisper.cpp loads it, and `full()` runs on it, as is
//! and quantized. Other tests rely on this to exercise the transcription
//! path without a downloaded model.

use std::path::Path;

use callsift::models::ggml::GgmlFile;
use callsift::models::quantize::{QuantType, quantize_file};
use callsift::models::testmodel::{TestModelSpec, write_random_model};
use whisper_rs::{FullParams, SamplingStrategy, WhisperContext, WhisperContextParameters};

/// 2 s of deterministic white noise at 16 kHz, amplitude ±0.1.
fn noise() -> Vec<f32> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..32_000)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            ((state >> 40) as f32 / (1u64 << 24) as f32 - 0.5) * 0.2
        })
        .collect()
}

/// What whisper.cpp made of a model and of 2 s of noise.
struct Run {
    n_vocab: i32,
    multilingual: bool,
    n_audio_state: i32,
    ftype: i32,
    /// Detected (or given) language id.
    lang_id: i32,
    /// Each segment's start and end (centiseconds) and text.
    segments: Vec<(i64, i64, String)>,
}

/// Loads `path` in whisper.cpp and transcribes the noise (the text is
/// noise too, so only its shape is checked).
fn load_and_run(path: &Path, language: &str) -> Run {
    // Route whisper.cpp's log lines into `tracing` (no subscriber here, so
    // they are dropped) instead of the test output.
    static HOOKS: std::sync::Once = std::sync::Once::new();
    HOOKS.call_once(whisper_rs::install_logging_hooks);
    let ctx = WhisperContext::new_with_params(
        path.to_str().unwrap(),
        WhisperContextParameters::default(),
    )
    .unwrap_or_else(|e| panic!("whisper.cpp rejected {}: {e}", path.display()));
    let mut state = ctx.create_state().expect("state");
    let mut params = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
    params.set_language(Some(language));
    params.set_n_threads(2);
    params.set_print_progress(false);
    params.set_print_realtime(false);
    params.set_print_special(false);
    params.set_print_timestamps(false);
    state
        .full(params, &noise())
        .expect("full() runs on the test model");
    let segments: Vec<(i64, i64, String)> = state
        .as_iter()
        .map(|s| {
            let bytes = s.to_bytes().unwrap_or_else(|e| panic!("{s:?}: {e}"));
            (
                s.start_timestamp(),
                s.end_timestamp(),
                String::from_utf8_lossy(bytes).into_owned(),
            )
        })
        .collect();
    assert_eq!(segments.len(), state.full_n_segments() as usize);
    // A well-formed result, whatever the (meaningless) words: every segment
    // has text, starts no earlier than the one before, does not end before
    // it starts, and lies inside the one (padded) 30 s window 2 s of audio
    // make; a segment that starts must start inside the audio.
    let mut previous_start = 0;
    for (start, end, text) in &segments {
        assert!(!text.is_empty(), "{segments:?}");
        assert!(
            previous_start <= *start && start <= end && *end <= 3000,
            "{segments:?}"
        );
        assert!(
            *start < 200,
            "a segment starts after the audio: {segments:?}"
        );
        previous_start = *start;
    }
    Run {
        n_vocab: ctx.n_vocab(),
        multilingual: ctx.is_multilingual(),
        n_audio_state: ctx.model_n_audio_state(),
        ftype: ctx.model_ftype(),
        lang_id: state.full_lang_id_from_state(),
        segments,
    }
}

#[test]
fn random_english_model_loads_and_transcribes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ggml-test.en.bin");
    write_random_model(&path, &TestModelSpec::default()).unwrap();
    let r = load_and_run(&path, "en");
    assert_eq!(r.n_vocab, 51_864);
    assert!(!r.multilingual);
    assert_eq!(r.n_audio_state, 64);
    assert_eq!(r.ftype, 1);
    assert_eq!(r.lang_id, 0, "English");
    // The seeded weights read the noise as words, so the checks in
    // `load_and_run` had segments to check; and the same model on the same
    // audio says the same again.
    assert!(!r.segments.is_empty(), "no segment");
    assert_eq!(load_and_run(&path, "en").segments, r.segments);
}

#[test]
fn random_multilingual_model_detects_a_language_and_transcribes() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("ggml-test.bin");
    write_random_model(
        &path,
        &TestModelSpec {
            multilingual: true,
            seed: 11,
        },
    )
    .unwrap();
    let r = load_and_run(&path, "auto");
    assert_eq!(r.n_vocab, 51_865);
    assert!(r.multilingual);
    // Some language out of whisper.cpp's 99 was detected, and transcribed in.
    assert!((0..99).contains(&r.lang_id), "{}", r.lang_id);
    assert!(!r.segments.is_empty(), "no segment");
    // Detection and decoding are deterministic.
    let again = load_and_run(&path, "auto");
    assert_eq!((again.lang_id, &again.segments), (r.lang_id, &r.segments));
}

#[test]
fn quantized_random_models_load_and_transcribe() {
    let dir = tempfile::tempdir().unwrap();
    let f16 = dir.path().join("ggml-test.bin");
    write_random_model(&f16, &TestModelSpec::default()).unwrap();
    for q in [QuantType::Q8_0, QuantType::Q5_1, QuantType::Q4_0] {
        let out = dir.path().join(format!("ggml-test-{q}.bin"));
        quantize_file(&f16, &out, q).unwrap();
        let g = GgmlFile::open(&out).unwrap();
        assert_eq!(g.hparams.ftype, q.hparams_ftype());
        assert_eq!(
            g.tensor("encoder.blocks.0.attn.query.weight")
                .unwrap()
                .ttype,
            q.ggml_type()
        );
        let r = load_and_run(&out, "en");
        assert_eq!(r.n_vocab, 51_864);
        assert!(!r.segments.is_empty(), "{q}: no segment");
        // whisper.cpp strips the quantization version off the ftype.
        assert_eq!(r.ftype, q.ggml_ftype());
    }
}
