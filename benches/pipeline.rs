//! `cargo bench --bench pipeline`: callsift's pipeline (VAD, speech windows,
//! per channel) against plain whisper.cpp (mono mix, whole file, no VAD) on
//! the same model, the same machine, the same call, in one run.
//!
//! The call is built from the human telephony prompts in
//! `../shared/audio/prompts/en` (8 kHz): the agent and the customer take
//! turns on their own channels, with pauses, like a PBX stereo recording.
//! Prints wall time, audio seconds per wall second and WER of both, and the
//! speed ratio. Model: `$CALLSIFT_BENCH_MODEL`, else `models/ggml-tiny.en.bin`.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Instant;

#[path = "../tests/common/mod.rs"]
mod common;

use callsift::config::PipelineFile;
use callsift::pipeline::{self, Engine};
use callsift::transcribe::whisper::{LoadOptions, WhisperTranscriber};

fn main() {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let prompts = root.join("../shared/audio/prompts");
    let model = std::env::var_os("CALLSIFT_BENCH_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("models/ggml-tiny.en.bin"));
    if !prompts.is_dir() || !model.is_file() {
        eprintln!(
            "bench needs ../shared/audio/prompts and a model ({}); fetch one with `callsift models fetch tiny.en`",
            model.display()
        );
        std::process::exit(1);
    }
    let threads = std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(4);
    let (call, reference) = build_call(&prompts, 20);
    let tmp = tempfile::tempdir().unwrap();
    let path = tmp.path().join("bench-call.wav");
    common::write_wav_mulaw(&path, 8000, &call);
    let audio_s = call[0].len() as f64 / 8000.0;

    let mut settings = PipelineFile::default();
    settings.whisper.language = "en".into();
    let transcriber = Arc::new(
        WhisperTranscriber::load(
            &model,
            &settings.whisper,
            &LoadOptions {
                use_gpu: false,
                threads,
                token_times: true,
            },
        )
        .unwrap(),
    );
    // The baseline is whisper.cpp as people run it: no DTW token times.
    let plain_transcriber = WhisperTranscriber::load(
        &model,
        &settings.whisper,
        &LoadOptions {
            use_gpu: false,
            threads,
            token_times: false,
        },
    )
    .unwrap();
    let engine = Engine::new(transcriber.clone(), settings, "bench").unwrap();
    let hash = pipeline::content_hash(&path).unwrap();

    let t0 = Instant::now();
    let transcript = pipeline::process_file(&path, &hash, &engine).unwrap();
    let ours_s = t0.elapsed().as_secs_f64();
    let ours_text: String = transcript
        .segments
        .iter()
        .map(|s| s.text.as_str())
        .collect::<Vec<_>>()
        .join(" ");

    let t0 = Instant::now();
    let plain = pipeline::transcribe_plain(&path, &plain_transcriber).unwrap();
    let plain_s = t0.elapsed().as_secs_f64();

    let ours_wer = callsift::eval::wer(&reference, &ours_text, Some("en")).rate();
    let plain_wer = callsift::eval::wer(&reference, &plain.text, Some("en")).rate();
    println!(
        "call: {audio_s:.0} s stereo 8 kHz µ-law, model {}, {threads} threads",
        model.display()
    );
    println!(
        "{:<34} {:>8} {:>12} {:>8}",
        "system", "wall s", "audio s/s", "WER"
    );
    println!(
        "{:<34} {:>8.1} {:>12.1} {:>7.1}%",
        "callsift (VAD windows, per channel)",
        ours_s,
        audio_s / ours_s,
        ours_wer * 100.0
    );
    println!(
        "{:<34} {:>8.1} {:>12.1} {:>7.1}%",
        "whisper.cpp plain (mono, whole)",
        plain_s,
        audio_s / plain_s,
        plain_wer * 100.0
    );
    println!("speed ratio callsift / plain: {:.2}x", plain_s / ours_s);
    if std::env::var_os("CALLSIFT_BENCH_TEXT").is_some() {
        println!("\nreference: {reference}\n\nplain: {}\n", plain.text);
        print!("{}", callsift::show::render_dialogue(&transcript));
        for s in &transcript.segments {
            println!("{} {} {}", s.start_ms, s.end_ms, s.text);
        }
        println!("{:?}", transcript.speech);
    }
}

/// Alternating turns from the English prompts: agent on channel 0, customer
/// on channel 1, 0.7–1.5 s pauses between turns. Returns the two channels
/// and the reference text in speaking order.
fn build_call(prompts: &Path, turns: usize) -> ([Vec<f32>; 2], String) {
    let manifest = std::fs::read_to_string(prompts.join("MANIFEST.tsv")).unwrap();
    let clips: Vec<(PathBuf, String)> = manifest
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (lang, file, text) = (f.next()?, f.next()?, f.next()?);
            (lang == "en").then(|| (prompts.join(file), text.to_string()))
        })
        .collect();
    let mut channels = [Vec::new(), Vec::new()];
    let mut reference = Vec::new();
    for turn in 0..turns {
        let (path, text) = &clips[turn % clips.len()];
        let decoded = callsift::decode::decode_file(path).unwrap();
        assert_eq!(decoded.sample_rate_hz, 8000);
        let speaker = turn % 2;
        let pause = 5600 + (turn * 1733) % 6400;
        for ch in &mut channels {
            ch.extend(std::iter::repeat_n(0.0, pause));
        }
        let clip = &decoded.channels[0];
        channels[speaker].extend_from_slice(clip);
        channels[1 - speaker].extend(std::iter::repeat_n(0.0, clip.len()));
        reference.push(text.clone());
    }
    (channels, reference.join(" "))
}
