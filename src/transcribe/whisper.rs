//! whisper.cpp through whisper-rs: one model loaded once and shared, one
//! `WhisperState` per concurrent caller, kept in a pool.

use std::path::Path;
use std::sync::{Mutex, Once};

use whisper_rs::{
    DtwMode, DtwModelPreset, DtwParameters, FullParams, SamplingStrategy, WhisperContext,
    WhisperContextParameters, WhisperState,
};

use crate::config::{SearchStrategy, WhisperSettings};
use crate::error::{Error, Result};
use crate::model::{Window, WindowSegment, WindowToken, WindowTranscript};
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
    /// Whether whisper.cpp computes DTW token times for this model.
    token_times: bool,
}

impl WhisperTranscriber {
    /// Loads a ggml model. A missing file, a file that is not a ggml model
    /// or one whisper.cpp rejects is an error that says how to get a model.
    pub fn load(path: &Path, settings: &WhisperSettings, options: &LoadOptions) -> Result<Self> {
        let hparams = check_model_file(path)?;
        install_log_hooks();
        let mut params = WhisperContextParameters::default();
        params.use_gpu(options.use_gpu);
        // Token times from DTW over the alignment heads let a segment that
        // runs across two turns be split at the turn (vad::split_at_pieces).
        // Only models of a known shape have known alignment heads.
        let dtw_preset = dtw_preset(&hparams).filter(|_| options.token_times);
        let token_times = dtw_preset.is_some();
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
        let model_name = path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default();
        Ok(Self {
            context,
            model_name,
            settings: settings.clone(),
            threads: options.threads.max(1),
            states: Mutex::new(Vec::new()),
            token_times,
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

    fn params<'a>(&self, language: Option<&'a str>) -> FullParams<'a, 'a> {
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
        p
    }

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
        let params = self.params(language);
        state
            .full(params, &window.samples)
            .map_err(|e| Error::Whisper(format!("transcription failed: {e}")))?;
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
            // whisper timestamps are in 10 ms units.
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
        })
    }
}

impl Transcriber for WhisperTranscriber {
    fn model_name(&self) -> &str {
        &self.model_name
    }

    fn transcribe(&self, window: &Window, language: Option<&str>) -> Result<WindowTranscript> {
        if window.samples.is_empty() {
            return Ok(WindowTranscript {
                language: language.unwrap_or("und").to_string(),
                segments: Vec::new(),
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
        let mut state = self.take_state()?;
        let result = self.detect(&mut state, window, allowed);
        self.give_back(state);
        result
    }
}

impl WhisperTranscriber {
    /// One encoder pass over (the first 30 s of) the window, then the most
    /// probable language among `allowed`.
    fn detect(
        &self,
        state: &mut WhisperState,
        window: &Window,
        allowed: &[String],
    ) -> Result<String> {
        state
            .pcm_to_mel(&window.samples, self.threads)
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
