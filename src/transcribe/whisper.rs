//! whisper.cpp through whisper-rs: one model loaded once and shared, one
//! `WhisperState` per concurrent caller, kept in a pool.

use std::path::Path;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};
use std::sync::{Mutex, Once};
use std::time::{Duration, Instant};

use whisper_rs::{
    DtwMode, DtwModelPreset, DtwParameters, FullParams, SamplingStrategy, WhisperContext,
    WhisperContextParameters, WhisperState,
};

use crate::config::{SearchStrategy, WhisperSettings};
use crate::error::{Error, Result};
use crate::model::{
    Window, WindowPiece, WindowSegment, WindowStats, WindowToken, WindowTranscript,
};
use crate::models::ggml::Hparams;
use crate::transcribe::Transcriber;

/// The four bytes every ggml whisper model starts with ("ggml" as a
/// little-endian u32).
const GGML_MAGIC: [u8; 4] = 0x6767_6d6c_u32.to_le_bytes();

/// How the model is loaded.
#[derive(Debug, Clone, Default)]
pub struct LoadOptions {
    /// Offload to a GPU when whisper.cpp was built with one (feature `cuda`).
    pub use_gpu: bool,
    /// Which GPU, with `use_gpu`.
    pub gpu_device: i32,
    /// Threads per whisper call.
    pub threads: usize,
    /// Have whisper.cpp compute DTW token times (for models of a known
    /// shape), which the pipeline needs to split a segment that runs across
    /// two turns. Costs about 6% of transcription time with base; off for
    /// the plain whisper.cpp baseline of `eval --plain` and the bench.
    pub token_times: bool,
}

/// The real transcriber.
pub struct WhisperTranscriber {
    context: WhisperContext,
    model_name: String,
    settings: WhisperSettings,
    threads: usize,
    /// Idle states; a caller takes one (or makes one) and puts it back, so
    /// there are as many states as concurrent callers and no more.
    states: Mutex<Vec<WhisperState>>,
    /// States kept for language detection only. whisper.cpp encodes a
    /// detection with the context of the state's last `whisper_full`, so
    /// these are primed once with the detection context and never used for
    /// anything else: detection is then the same whichever state runs it.
    detectors: Mutex<Vec<WhisperState>>,
    /// Whether whisper.cpp computes DTW token times for this model.
    token_times: bool,
    /// The model's encoder context (1500 positions: 30 s).
    n_audio_ctx: i32,
    /// Whether windows may be decoded with a fitted encoder context: the
    /// setting, a model with token times, and one large enough. tiny.en
    /// with a fitted context turned 8 kHz Churchill's "that is" into "then
    /// he's" throughout (tests/whisper_real.rs), where base matched
    /// faster-whisper's English WER (README "Throughput"); so the tiny models
    /// (4 encoder layers) keep the full context.
    fitted: bool,
}

/// Whether whisper.cpp's CPU backend has ggml's llamafile GEMM kernels
/// (`GGML_LLAMAFILE`, off in whisper.cpp's own build, on in ours through
/// `.cargo/config.toml`). They multiply a whole window's frames by a weight
/// matrix in cache-sized tiles where ggml otherwise takes one dot product
/// per row: on the 2-core AVX2 machine the encoder took 33 CPU-seconds
/// instead of 57 on the throughput bench, with identical text.
pub fn has_llamafile_gemm() -> bool {
    whisper_rs::print_system_info().contains("LLAMAFILE = 1")
}

impl WhisperTranscriber {
    /// Loads a ggml model. A missing file, a file that is not a ggml model
    /// or one whisper.cpp rejects is an error that says how to get a model.
    pub fn load(path: &Path, settings: &WhisperSettings, options: &LoadOptions) -> Result<Self> {
        let hparams = check_model_file(path)?;
        install_log_hooks();
        let mut params = WhisperContextParameters::default();
        params.use_gpu(options.use_gpu);
        params.gpu_device(options.gpu_device);
        // Token times from DTW over the alignment heads let a segment that
        // runs across two turns be split at the turn (align::split_at_pieces).
        // Only models of a known shape have known alignment heads.
        let dtw_preset = dtw_preset(&hparams).filter(|_| options.token_times);
        let token_times = dtw_preset.is_some();
        let fitted = settings.fitted_context && token_times && hparams.n_audio_layer >= 6;
        if let Some(preset) = dtw_preset {
            params.dtw_parameters(DtwParameters {
                mode: DtwMode::ModelPreset {
                    model_preset: preset,
                },
                ..DtwParameters::default()
            });
        }
        let path_str = path.to_str().ok_or_else(|| {
            Error::no_model(format!("model path {} is not UTF-8", path.display()))
        })?;
        let context = WhisperContext::new_with_params(path_str, params).map_err(|e| {
            Error::no_model(format!(
                "whisper.cpp could not load model {} ({e}); the file may be damaged or not a whisper model",
                path.display()
            ))
        })?;
        if !options.use_gpu && !has_llamafile_gemm() {
            static WARN: Once = Once::new();
            WARN.call_once(|| {
                tracing::warn!(
                    "whisper.cpp was built without GGML_LLAMAFILE (its tiled matrix kernels): the encoder runs about 1.7x slower; \
                     `.cargo/config.toml` turns it on, `cargo clean -p whisper-rs-sys` makes an older build pick it up"
                );
                tracing::debug!(info = whisper_rs::print_system_info(), "whisper.cpp system info");
            });
        }
        let model_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Self {
            n_audio_ctx: context.n_audio_ctx(),
            context,
            model_name,
            settings: settings.clone(),
            threads: options.threads.max(1),
            states: Mutex::new(Vec::new()),
            detectors: Mutex::new(Vec::new()),
            token_times,
            fitted,
        })
    }

    pub fn is_multilingual(&self) -> bool {
        self.context.is_multilingual()
    }

    fn take_state(&self) -> Result<WhisperState> {
        if let Some(state) = self.states.lock().expect("state pool poisoned").pop() {
            return Ok(state);
        }
        self.context
            .create_state()
            .map_err(|e| Error::Whisper(format!("cannot create a whisper state: {e}")))
    }

    fn give_back(&self, state: WhisperState) {
        self.states.lock().expect("state pool poisoned").push(state);
    }

    fn params<'a>(&self, language: Option<&'a str>, mode: Mode) -> FullParams<'a, 'a> {
        let s = &self.settings;
        let strategy = match s.strategy {
            SearchStrategy::Greedy => SamplingStrategy::Greedy {
                best_of: s.best_of as i32,
            },
            SearchStrategy::Beam => SamplingStrategy::BeamSearch {
                beam_size: s.beam_size as i32,
                patience: -1.0,
            },
        };
        let mut p = FullParams::new(strategy);
        p.set_n_threads(self.threads as i32);
        p.set_print_progress(false);
        p.set_print_realtime(false);
        p.set_print_special(false);
        p.set_print_timestamps(false);
        // Windows are independent cuts of speech: carrying text over from
        // the previous window spreads one window's hallucination to the next.
        p.set_no_context(true);
        // Suppress non-speech tokens ("[Music]", "♪") that whisper emits on noise.
        p.set_suppress_nst(true);
        p.set_temperature(s.temperature);
        p.set_temperature_inc(s.temperature_increment);
        p.set_entropy_thold(s.entropy_threshold);
        p.set_logprob_thold(s.logprob_threshold);
        p.set_no_speech_thold(s.no_speech_threshold);
        if !s.initial_prompt.is_empty() {
            p.set_initial_prompt(&s.initial_prompt);
        }
        match language {
            Some(lang) => p.set_language(Some(lang)),
            None => p.set_language(Some("auto")),
        }
        if let Mode::Fitted { audio_ctx } = mode {
            // The encoder's cost grows with its context: encoding 8 s of
            // speech in a 30 s context wastes most of the encoder's work.
            p.set_audio_ctx(audio_ctx);
            // One segment for the window; times come from the pieces and
            // the DTW token times (align::segments_from_tokens).
            p.set_no_timestamps(true);
            p.set_single_segment(true);
        }
        p
    }

    /// The encoder context fitted to a window: its frames (one per 320
    /// samples) plus a margin, as whisper.cpp's own streaming example does,
    /// capped at the model's 30 s.
    fn fitted_ctx(&self, samples: usize) -> i32 {
        let n = (samples / 320 + FITTED_CTX_MARGIN) as i32;
        n.min(self.n_audio_ctx)
    }

    /// Transcribes one window: first the fast way (fitted context, no
    /// timestamps) where the model allows it, and the usual way when that
    /// decode loops or runs out of tokens, or is not possible.
    fn run(
        &self,
        state: &mut WhisperState,
        window: &Window,
        language: Option<&str>,
    ) -> Result<WindowTranscript> {
        let language = if self.is_multilingual() {
            language
        } else {
            Some("en")
        };
        let mut stats = WindowStats::default();
        let fitted = self.fitted && language.is_some();
        if fitted {
            let mode = Mode::Fitted {
                audio_ctx: self.fitted_ctx(window.samples.len()),
            };
            match self.full(state, window, language, mode, &mut stats)? {
                Outcome::Done => {
                    let mut t = self.collect(state, language, stats, false)?;
                    self.decode_dropped_tail(state, window, language, &mut t)?;
                    return Ok(t);
                }
                Outcome::Stopped(stop) => {
                    tracing::debug!(
                        channel = window.channel,
                        ?stop,
                        "fitted decode stopped; decoding the window again"
                    );
                    stats.retried = true;
                }
            }
        }
        match self.full(state, window, language, Mode::Full, &mut stats)? {
            Outcome::Done => self.collect(state, language, stats, true),
            Outcome::Stopped(stop) => {
                tracing::debug!(channel = window.channel, ?stop, "decode did not converge");
                stats.gave_up = true;
                Ok(WindowTranscript {
                    language: language.unwrap_or("und").to_string(),
                    segments: Vec::new(),
                    timed_segments: true,
                    stats,
                })
            }
        }
    }

    /// A decode without timestamps may end (emit its end token) at a pause
    /// before the window's last pieces, as if the speech were over: a short
    /// turn after a gap then has no text at all. When the DTW times put the
    /// last token before a tail of pieces holding at least
    /// [`MIN_DROPPED_TAIL_MS`] of audio, that tail is decoded on its own
    /// (fitted, like the window) and its segments appended, shifted to the
    /// window's time. A tail whose decode stops (loop, budget) adds nothing.
    fn decode_dropped_tail(
        &self,
        state: &mut WhisperState,
        window: &Window,
        language: Option<&str>,
        t: &mut WindowTranscript,
    ) -> Result<()> {
        let Some(first) = dropped_tail(window, &t.segments) else {
            return Ok(());
        };
        let offset_ms = window.pieces[first].window_start_ms;
        let offset = (offset_ms as usize * 16).min(window.samples.len());
        let tail = Window {
            channel: window.channel,
            pieces: window.pieces[first..]
                .iter()
                .map(|p| WindowPiece {
                    window_start_ms: p.window_start_ms - offset_ms,
                    ..*p
                })
                .collect(),
            samples: window.samples[offset..].to_vec(),
        };
        tracing::debug!(
            channel = window.channel,
            pieces = tail.pieces.len(),
            tail_ms = tail.samples.len() / 16,
            "decode ended before the window's last pieces; decoding them on their own"
        );
        t.stats.tails_redecoded = true;
        let mode = Mode::Fitted {
            audio_ctx: self.fitted_ctx(tail.samples.len()),
        };
        if let Outcome::Done = self.full(state, &tail, language, mode, &mut t.stats)? {
            let more = self.collect(state, language, WindowStats::default(), false)?;
            // Token times can be off: a tail whose words the window's text
            // already ends with was not dropped, and is not added twice.
            let had = words(t.segments.iter().map(|s| s.text.as_str()));
            let new = words(more.segments.iter().map(|s| s.text.as_str()));
            if !ends_with_run(&had, &new) {
                t.segments
                    .extend(more.segments.into_iter().map(|s| shift(s, offset_ms)));
            }
        }
        Ok(())
    }

    /// One `whisper_full` over the window under the watch of the loop
    /// detector, the token budget and the phase clock.
    fn full(
        &self,
        state: &mut WhisperState,
        window: &Window,
        language: Option<&str>,
        mode: Mode,
        stats: &mut WindowStats,
    ) -> Result<Outcome> {
        let mut params = self.params(language, mode);
        let audio_s = window.samples.len() as f64 / 16_000.0;
        let watch = Box::new(Watch::new(self.context.token_eot(), mode, audio_s));
        let watch_ptr = &*watch as *const Watch as *mut std::ffi::c_void;
        // SAFETY: the callbacks only read `Watch` through a shared pointer
        // (its mutable parts are atomics and a mutex), and `watch` outlives
        // the `full` call below, after which whisper.cpp keeps no pointer.
        unsafe {
            params.set_filter_logits_callback(Some(watch_logits));
            params.set_filter_logits_callback_user_data(watch_ptr);
            params.set_start_encoder_callback(Some(watch_encoder_begin));
            params.set_start_encoder_callback_user_data(watch_ptr);
            params.set_abort_callback(Some(watch_abort));
            params.set_abort_callback_user_data(watch_ptr);
        }
        let result = state.full(params, &window.samples);
        watch.finish(stats);
        match watch.stopped() {
            Some(stop) => {
                if stop == Stop::Loop {
                    stats.looped = true;
                }
                Ok(Outcome::Stopped(stop))
            }
            None => {
                result.map_err(|e| Error::Whisper(format!("transcription failed: {e}")))?;
                Ok(Outcome::Done)
            }
        }
    }

    /// Reads the segments of the last `full` out of the state.
    fn collect(
        &self,
        state: &WhisperState,
        language: Option<&str>,
        stats: WindowStats,
        timed_segments: bool,
    ) -> Result<WindowTranscript> {
        let lang_id = state.full_lang_id_from_state();
        let detected = whisper_rs::get_lang_str(lang_id)
            .map(str::to_string)
            .or_else(|| language.map(str::to_string))
            .unwrap_or_else(|| "und".to_string());
        let eot = self.context.token_eot();
        let mut segments = Vec::new();
        for segment in state.as_iter() {
            let text = segment
                .to_str_lossy()
                .map_err(|e| Error::Whisper(format!("cannot read segment text: {e}")))?
                .trim()
                .to_string();
            let mut sum = 0f32;
            let mut n = 0u32;
            let mut tokens = Vec::new();
            let mut all_timed = self.token_times;
            for i in 0..segment.n_tokens() {
                if let Some(token) = segment.get_token(i) {
                    let data = token.token_data();
                    // Special tokens (timestamps, end of text) carry no text.
                    if data.id < eot {
                        sum += data.plog;
                        n += 1;
                        if all_timed {
                            // DTW times are in 10 ms units; -1 when missing.
                            all_timed = data.t_dtw >= 0;
                            tokens.push(WindowToken {
                                bytes: token.to_bytes().unwrap_or_default().to_vec(),
                                window_ms: data.t_dtw.max(0) as u64 * 10,
                                logprob: data.plog,
                            });
                        }
                    }
                }
            }
            if !all_timed {
                tokens.clear();
            }
            // whisper timestamps are in 10 ms units. A single segment
            // without timestamps spans the window; its times come from the
            // tokens (align).
            let start = segment.start_timestamp().max(0) as u64 * 10;
            let end = segment.end_timestamp().max(0) as u64 * 10;
            segments.push(WindowSegment {
                start_window_ms: start,
                end_window_ms: end.max(start),
                text,
                avg_logprob: if n == 0 {
                    f32::NEG_INFINITY
                } else {
                    sum / n as f32
                },
                no_speech_prob: segment.no_speech_probability(),
                tokens,
            });
        }
        Ok(WindowTranscript {
            language: detected,
            segments,
            timed_segments,
            stats,
        })
    }
}

/// Audio a tail of pieces after a decode's last token must hold before it
/// is decoded again on its own: less is a breath or a click the VAD let
/// through, not a dropped turn.
const MIN_DROPPED_TAIL_MS: u64 = 1000;
/// DTW puts a token up to a few hundred ms off the audio it stands for.
const TOKEN_TIME_SLACK_MS: u64 = 500;

/// The first of the window's pieces that start after the decode's last
/// word token (plus [`TOKEN_TIME_SLACK_MS`]) when those pieces hold at least
/// [`MIN_DROPPED_TAIL_MS`]; `None` when the text reaches the end, or when
/// there are no token times to tell (or no text at all: a window of noise).
fn dropped_tail(window: &Window, segments: &[WindowSegment]) -> Option<usize> {
    // Punctuation is left out: DTW puts a closing "." where the next sound
    // begins, which may be the next piece.
    let last = segments
        .iter()
        .flat_map(|s| s.tokens.iter())
        .filter(|t| {
            t.bytes
                .iter()
                .any(|&b| b.is_ascii_alphanumeric() || b >= 0x80)
        })
        .map(|t| t.window_ms)
        .max()?;
    let first = window
        .pieces
        .iter()
        .position(|p| p.window_start_ms > last + TOKEN_TIME_SLACK_MS)?;
    let tail_ms: u64 = window.pieces[first..].iter().map(|p| p.duration_ms).sum();
    (tail_ms >= MIN_DROPPED_TAIL_MS).then_some(first)
}

/// Lowercased words of some texts, punctuation dropped.
fn words<'a>(texts: impl Iterator<Item = &'a str>) -> Vec<String> {
    texts
        .flat_map(str::split_whitespace)
        .map(|w| {
            w.chars()
                .filter(|c| c.is_alphanumeric())
                .flat_map(char::to_lowercase)
                .collect::<String>()
        })
        .filter(|w| !w.is_empty())
        .collect()
}

/// Whether `run` (non-empty) occurs among the last `2 × run.len()` words
/// of `text`.
fn ends_with_run(text: &[String], run: &[String]) -> bool {
    if run.is_empty() {
        return true;
    }
    let from = text.len().saturating_sub(2 * run.len());
    text[from..].windows(run.len()).any(|w| w == run)
}

/// A tail's segment moved to the time of the window it was cut from.
fn shift(mut s: WindowSegment, offset_ms: u64) -> WindowSegment {
    s.start_window_ms += offset_ms;
    s.end_window_ms += offset_ms;
    for t in &mut s.tokens {
        t.window_ms += offset_ms;
    }
    s
}

/// Encoder positions added to a window's own frames when the context is
/// fitted (whisper.cpp's stream example uses the same kind of margin).
const FITTED_CTX_MARGIN: usize = 64;
/// Text tokens a fitted decode may produce per second of window audio
/// (fast Russian or Hebrew speech is ~10), plus a floor for short windows.
const TOKENS_PER_SECOND: f64 = 14.0;
const TOKEN_FLOOR: f64 = 24.0;
/// whisper.cpp stops a segment at n_text_ctx/2 - 4 = 220 tokens and counts
/// a decode without an end as failed: a fitted decode that gets near it
/// cannot end well and is stopped early.
const FITTED_TOKEN_LIMIT: usize = 210;
/// Decoder steps the usual decode may take over all its temperature
/// fallbacks and seeks, per second of window audio (the worst case bound).
/// (Counted per decoder and step: with temperature fallback whisper.cpp
/// runs `best_of` decoders side by side.)
const STEPS_PER_SECOND: f64 = 200.0;
const STEP_FLOOR: f64 = 1000.0;

/// How a window is decoded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Encoder context fitted to the window, no timestamp tokens.
    Fitted { audio_ctx: i32 },
    /// whisper's usual way: 30 s context, timestamps, seeking.
    Full,
}

/// Why a decode was stopped.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Stop {
    /// The same tokens over and over.
    Loop,
    /// More text than the window's length can hold.
    Budget,
    /// The usual decode went past its step bound.
    Steps,
}

enum Outcome {
    Done,
    Stopped(Stop),
}

/// Watches one `whisper_full` call from whisper.cpp's callbacks: stops a
/// repeating or overlong decode, and clocks the mel, encoder and decoder
/// phases. Shared with whisper.cpp's decoder threads, hence atomics.
struct Watch {
    eot: i32,
    mode: Mode,
    /// Text tokens one fitted decode may produce.
    budget: usize,
    /// Decoder steps the whole call may take.
    max_steps: usize,
    steps: AtomicUsize,
    /// 0 running, else a `Stop` + 1.
    stop: AtomicU8,
    clock: Mutex<PhaseClock>,
}

struct PhaseClock {
    started: Instant,
    mark: Instant,
    in_encoder: bool,
    seen_encoder: bool,
    mel: Duration,
    encoder: Duration,
    decoder: Duration,
}

impl Watch {
    fn new(eot: i32, mode: Mode, audio_s: f64) -> Self {
        let now = Instant::now();
        let budget = ((TOKEN_FLOOR + TOKENS_PER_SECOND * audio_s) as usize).min(FITTED_TOKEN_LIMIT);
        Self {
            eot,
            mode,
            budget,
            max_steps: (STEP_FLOOR + STEPS_PER_SECOND * audio_s) as usize,
            steps: AtomicUsize::new(0),
            stop: AtomicU8::new(0),
            clock: Mutex::new(PhaseClock {
                started: now,
                mark: now,
                in_encoder: false,
                seen_encoder: false,
                mel: Duration::ZERO,
                encoder: Duration::ZERO,
                decoder: Duration::ZERO,
            }),
        }
    }

    fn stopped(&self) -> Option<Stop> {
        match self.stop.load(Ordering::Relaxed) {
            1 => Some(Stop::Loop),
            2 => Some(Stop::Budget),
            3 => Some(Stop::Steps),
            _ => None,
        }
    }

    fn set_stop(&self, stop: Stop) {
        let code = match stop {
            Stop::Loop => 1,
            Stop::Budget => 2,
            Stop::Steps => 3,
        };
        let _ = self
            .stop
            .compare_exchange(0, code, Ordering::Relaxed, Ordering::Relaxed);
    }

    fn encoder_begins(&self) {
        let mut c = self.clock.lock().expect("phase clock poisoned");
        let now = Instant::now();
        let since = now - c.mark;
        if c.seen_encoder {
            c.decoder += since;
        } else {
            // Everything before the first encoder pass: the spectrogram.
            c.mel += since;
        }
        c.seen_encoder = true;
        c.in_encoder = true;
        c.mark = now;
    }

    fn decoder_step(&self) {
        let mut c = self.clock.lock().expect("phase clock poisoned");
        if c.in_encoder {
            let now = Instant::now();
            let since = now - c.mark;
            c.encoder += since;
            c.mark = now;
            c.in_encoder = false;
        }
    }

    fn finish(&self, stats: &mut WindowStats) {
        let c = self.clock.lock().expect("phase clock poisoned");
        let rest = c.mark.elapsed();
        let (mut mel, mut encoder, mut decoder) = (c.mel, c.encoder, c.decoder);
        match (c.seen_encoder, c.in_encoder) {
            (false, _) => mel += rest,
            (true, true) => encoder += rest,
            (true, false) => decoder += rest,
        }
        let _ = c.started;
        stats.mel_ms += mel.as_millis() as u64;
        stats.encoder_ms += encoder.as_millis() as u64;
        stats.decoder_ms += decoder.as_millis() as u64;
    }

    /// Looks at one decoder's tokens so far; returns whether to force the
    /// end of text now.
    fn check(&self, tokens: &[i32]) -> bool {
        let steps = self.steps.fetch_add(1, Ordering::Relaxed) + 1;
        let text: Vec<i32> = tokens.iter().copied().filter(|&t| t < self.eot).collect();
        match self.mode {
            Mode::Fitted { .. } => {
                if repeats(&text) {
                    self.set_stop(Stop::Loop);
                } else if text.len() >= self.budget {
                    self.set_stop(Stop::Budget);
                }
                self.stopped().is_some()
            }
            Mode::Full => {
                if steps > self.max_steps {
                    self.set_stop(Stop::Steps);
                    return true;
                }
                // In the usual decode a loop ends the segment; the guards
                // cut what repeated before the detector saw it.
                repeats(&text)
            }
        }
    }
}

/// Whether a token sequence ends in a loop: its last `max(3p, 24)` tokens
/// repeat with some period p ≤ 40 (a phrase said three times over, or a
/// short one many times). Dictated digits ("5 5 5 5") are shorter than that.
pub fn repeats(tokens: &[i32]) -> bool {
    const MIN_SPAN: usize = 24;
    const MAX_PERIOD: usize = 40;
    let n = tokens.len();
    (1..=MAX_PERIOD).any(|p| {
        let span = (3 * p).max(MIN_SPAN);
        span <= n && {
            let tail = &tokens[n - span..];
            tail.iter().skip(p).zip(tail).all(|(a, b)| a == b)
        }
    })
}

unsafe extern "C" fn watch_logits(
    _ctx: *mut whisper_rs::WhisperSysContext,
    _state: *mut whisper_rs::WhisperSysState,
    tokens: *const whisper_rs::WhisperTokenData,
    n_tokens: std::os::raw::c_int,
    logits: *mut f32,
    user_data: *mut std::ffi::c_void,
) {
    // SAFETY: `user_data` is the `Watch` set in `full`, alive during the call;
    // `tokens` holds `n_tokens` entries and `logits` one per vocabulary entry.
    let watch = unsafe { &*(user_data as *const Watch) };
    watch.decoder_step();
    let ids: Vec<i32> = if tokens.is_null() || n_tokens <= 0 {
        Vec::new()
    } else {
        unsafe { std::slice::from_raw_parts(tokens, n_tokens as usize) }
            .iter()
            .map(|t| t.id)
            .collect()
    };
    if watch.check(&ids) && !logits.is_null() {
        // Only the end of text is left to choose.
        let eot = watch.eot as usize;
        let n_vocab = eot + 1;
        let logits = unsafe { std::slice::from_raw_parts_mut(logits, n_vocab) };
        for l in &mut logits[..eot] {
            *l = f32::NEG_INFINITY;
        }
        logits[eot] = 0.0;
    }
}

unsafe extern "C" fn watch_encoder_begin(
    _ctx: *mut whisper_rs::WhisperSysContext,
    _state: *mut whisper_rs::WhisperSysState,
    user_data: *mut std::ffi::c_void,
) -> bool {
    // SAFETY: as in `watch_logits`.
    let watch = unsafe { &*(user_data as *const Watch) };
    watch.encoder_begins();
    true
}

unsafe extern "C" fn watch_abort(user_data: *mut std::ffi::c_void) -> bool {
    // SAFETY: as in `watch_logits`.
    let watch = unsafe { &*(user_data as *const Watch) };
    // A fitted decode that was stopped is thrown away: abort at once
    // rather than let whisper.cpp try its other temperatures.
    matches!(watch.mode, Mode::Fitted { .. }) && watch.stopped().is_some()
}

impl Transcriber for WhisperTranscriber {
    fn model_name(&self) -> &str {
        &self.model_name
    }

    fn max_window_ms(&self) -> Option<u64> {
        self.fitted.then_some(self.settings.fitted_max_window_ms)
    }

    fn transcribe(&self, window: &Window, language: Option<&str>) -> Result<WindowTranscript> {
        if window.samples.is_empty() {
            return Ok(WindowTranscript {
                language: language.unwrap_or("und").to_string(),
                segments: Vec::new(),
                timed_segments: true,
                stats: WindowStats::default(),
            });
        }
        let mut state = self.take_state()?;
        let result = self.run(&mut state, window, language);
        self.give_back(state);
        result
    }

    fn detect_language(&self, window: &Window, allowed: &[String]) -> Result<String> {
        if !self.is_multilingual() {
            return Ok("en".into());
        }
        let mut state = self.take_detector()?;
        let result = self.detect(&mut state, window, allowed);
        self.detectors
            .lock()
            .expect("state pool poisoned")
            .push(state);
        result
    }
}

impl WhisperTranscriber {
    /// Samples of a window that language detection encodes (`detect_ms`).
    fn detect_samples(&self) -> usize {
        self.settings.detect_ms as usize * 16
    }

    fn detect_ctx(&self) -> i32 {
        self.fitted_ctx(self.detect_samples())
    }

    /// A detection state, primed so that its encoder context is the
    /// detection context (see `detectors`).
    fn take_detector(&self) -> Result<WhisperState> {
        if let Some(state) = self.detectors.lock().expect("state pool poisoned").pop() {
            return Ok(state);
        }
        let mut state = self
            .context
            .create_state()
            .map_err(|e| Error::Whisper(format!("cannot create a whisper state: {e}")))?;
        let mut p = FullParams::new(SamplingStrategy::Greedy { best_of: 1 });
        p.set_n_threads(self.threads as i32);
        p.set_print_progress(false);
        p.set_print_realtime(false);
        p.set_language(Some("en"));
        p.set_audio_ctx(self.detect_ctx());
        p.set_no_timestamps(true);
        p.set_single_segment(true);
        p.set_max_tokens(1);
        p.set_temperature_inc(0.0);
        let quiet = vec![0.0f32; 16_000];
        state
            .full(p, &quiet)
            .map_err(|e| Error::Whisper(format!("cannot prepare language detection: {e}")))?;
        Ok(state)
    }

    /// One encoder pass over the first seconds of the window, then the most
    /// probable language among `allowed`.
    fn detect(
        &self,
        state: &mut WhisperState,
        window: &Window,
        allowed: &[String],
    ) -> Result<String> {
        let head = &window.samples[..window.samples.len().min(self.detect_samples())];
        state
            .pcm_to_mel(head, self.threads)
            .map_err(|e| Error::Whisper(format!("cannot compute the spectrogram: {e}")))?;
        let (best, probs) = state
            .lang_detect(0, self.threads)
            .map_err(|e| Error::Whisper(format!("language detection failed: {e}")))?;
        if tracing::enabled!(tracing::Level::DEBUG) {
            let mut top: Vec<(usize, f32)> = probs.iter().copied().enumerate().collect();
            top.sort_by(|a, b| b.1.total_cmp(&a.1));
            let top: Vec<String> = top
                .iter()
                .take(5)
                .filter_map(|&(id, p)| {
                    Some(format!("{}={p:.2}", whisper_rs::get_lang_str(id as i32)?))
                })
                .collect();
            tracing::debug!(
                channel = window.channel,
                "language probabilities: {}",
                top.join(" ")
            );
        }
        let chosen = if allowed.is_empty() {
            best
        } else {
            allowed
                .iter()
                .filter_map(|code| whisper_rs::get_lang_id(code))
                .max_by(|a, b| probs[*a as usize].total_cmp(&probs[*b as usize]))
                .unwrap_or(best)
        };
        whisper_rs::get_lang_str(chosen)
            .map(str::to_string)
            .ok_or_else(|| {
                Error::Whisper(format!(
                    "language detection returned an unknown id {chosen}"
                ))
            })
    }
}

/// Fails early, with a useful message, on a path that cannot be a ggml
/// model; returns the model's hyperparameters.
pub fn check_model_file(path: &Path) -> Result<Hparams> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)
        .map_err(|e| Error::no_model(format!("cannot open model {}: {e}", path.display())))?;
    let mut header = [0u8; 48];
    if file.read_exact(&mut header).is_err() || header[..4] != GGML_MAGIC {
        return Err(Error::no_model(format!(
            "{} is not a ggml whisper model (bad magic); a faster-whisper/CTranslate2 \
             directory can be converted with `callsift models import DIR`",
            path.display()
        )));
    }
    let mut values = [0i32; 11];
    for (v, b) in values.iter_mut().zip(header[4..].chunks_exact(4)) {
        *v = i32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
    Ok(Hparams::from_array(values))
}

/// whisper.cpp's alignment-head preset for a model, recognised by its shape
/// (the OpenAI sizes; quantized files have the same shape). `None` for any
/// other shape, e.g. the random-weight test models.
pub fn dtw_preset(h: &Hparams) -> Option<DtwModelPreset> {
    let english_only = !h.is_multilingual();
    let preset = match (h.n_text_layer, h.n_text_state, h.n_audio_layer, h.n_mels) {
        (4, 384, 4, 80) if english_only => DtwModelPreset::TinyEn,
        (4, 384, 4, 80) => DtwModelPreset::Tiny,
        (6, 512, 6, 80) if english_only => DtwModelPreset::BaseEn,
        (6, 512, 6, 80) => DtwModelPreset::Base,
        (12, 768, 12, 80) if english_only => DtwModelPreset::SmallEn,
        (12, 768, 12, 80) => DtwModelPreset::Small,
        (24, 1024, 24, 80) if english_only => DtwModelPreset::MediumEn,
        (24, 1024, 24, 80) => DtwModelPreset::Medium,
        // large-v1 and v2 share a shape; v2's heads are the ones people run.
        (32, 1280, 32, 80) => DtwModelPreset::LargeV2,
        (32, 1280, 32, 128) => DtwModelPreset::LargeV3,
        (4, 1280, 32, 128) => DtwModelPreset::LargeV3Turbo,
        _ => return None,
    };
    Some(preset)
}

/// Sends whisper.cpp's and ggml's own logging to `tracing` instead of stderr.
fn install_log_hooks() {
    static ONCE: Once = Once::new();
    ONCE.call_once(whisper_rs::install_logging_hooks);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn window(pieces: &[(u64, u64)]) -> Window {
        Window {
            channel: 1,
            pieces: pieces
                .iter()
                .map(|&(at, len)| WindowPiece {
                    window_start_ms: at,
                    source_start_ms: 100_000 + at,
                    duration_ms: len,
                })
                .collect(),
            samples: vec![0.0; 16 * pieces.last().map_or(0, |&(at, len)| (at + len) as usize)],
        }
    }

    fn segment(tokens: &[(&str, u64)]) -> WindowSegment {
        crate::align::tests::timed_segment(0, 0, tokens)
    }

    /// The bench's Russian call: the decode's words end in the first
    /// piece, its closing "." is timed at the second piece's start, and the
    /// 2.6 s second piece got no text.
    #[test]
    fn a_tail_after_the_last_word_is_found() {
        let w = window(&[(0, 5792), (6592, 2592)]);
        let s = segment(&[(" почты", 5600), (".", 6760)]);
        assert_eq!(dropped_tail(&w, &[s]), Some(1));
    }

    #[test]
    fn no_tail_when_the_words_reach_the_last_piece() {
        let w = window(&[(0, 5792), (6592, 2592)]);
        let s = segment(&[(" почты", 5600), (" Бук", 6800), ("вы", 7000)]);
        assert_eq!(dropped_tail(&w, &[s]), None);
        // Within the slack of the piece's start: DTW may be early.
        let s = segment(&[(" почты", 6200)]);
        assert_eq!(dropped_tail(&w, &[s]), None);
    }

    #[test]
    fn no_tail_for_a_click_or_a_window_without_words() {
        let w = window(&[(0, 5792), (6592, 900)]);
        let s = segment(&[(" почты", 5600)]);
        assert_eq!(dropped_tail(&w, &[s]), None);
        let w = window(&[(0, 5792), (6592, 2592)]);
        assert_eq!(dropped_tail(&w, &[]), None);
        assert_eq!(dropped_tail(&w, &[segment(&[(".", 100)])]), None);
    }

    #[test]
    fn a_tail_decode_is_shifted_to_window_time() {
        let s = shift(segment(&[(" Буквы", 380), (" из", 700)]), 6592);
        assert_eq!(
            s.tokens.iter().map(|t| t.window_ms).collect::<Vec<_>>(),
            vec![6972, 7292]
        );
        assert_eq!((s.start_window_ms, s.end_window_ms), (6592, 6592));
    }

    #[test]
    fn a_tail_the_text_already_ends_with_is_not_added_twice() {
        let had = words(["Вы не можете ответить. Буквы из имени, вашего абонента."].into_iter());
        let dup = words(["буквы из имени вашего абонента"].into_iter());
        let new = words(["Нажмите решетку."].into_iter());
        assert!(ends_with_run(&had, &dup));
        assert!(!ends_with_run(&had, &new));
        // Far from the end it is new text (the same words said again).
        let early = words(["Вы не можете"].into_iter());
        assert!(!ends_with_run(&had, &early));
    }

    /// The build has the GEMM kernels the throughput figures rely on (a
    /// checkout whose whisper-rs-sys was built before `.cargo/config.toml`
    /// set GGML_LLAMAFILE keeps the slow kernels until it is rebuilt).
    #[test]
    fn whisper_cpp_is_built_with_llamafile_gemm() {
        assert!(
            has_llamafile_gemm(),
            "whisper.cpp's system info lacks LLAMAFILE = 1: {}",
            whisper_rs::print_system_info()
        );
    }

    /// The language list settings are checked against is whisper.cpp's.
    #[test]
    fn language_list_is_whispers() {
        let ours: Vec<String> = crate::model::WHISPER_LANGUAGES
            .iter()
            .map(|s| s.to_string())
            .collect();
        let theirs: Vec<String> = (0..=whisper_rs::get_lang_max_id())
            .filter_map(|id| whisper_rs::get_lang_str(id).map(str::to_string))
            .collect();
        assert_eq!(ours, theirs);
    }

    #[test]
    fn loops_are_repeated_phrases_not_repeated_digits() {
        // "5 5 5 5" dictated: a short run of one token is not a loop.
        assert!(!repeats(&[7; 12]));
        assert!(repeats(&[7; 24]));
        // A three-token phrase said eight times over.
        let phrase: Vec<i32> = [1, 2, 3].repeat(8);
        assert!(repeats(&phrase));
        // ... but only its tail counts: a loop must be at the end.
        let mut broken = phrase.clone();
        broken.push(9);
        assert!(!repeats(&broken));
        // A 20-token sentence three times over is a loop; twice is not.
        let sentence: Vec<i32> = (100..120).collect();
        assert!(repeats(&sentence.repeat(3)));
        assert!(!repeats(&sentence.repeat(2)));
        // Ordinary text.
        assert!(!repeats(&(0..200).collect::<Vec<_>>()));
    }
}
