//! Pipeline files (`pipelines/*.toml`) and the resolved settings a run uses.
//!
//! A pipeline file has one section per stage; each section is one struct
//! with `deny_unknown_fields`, so a typo is an error naming the key and the
//! line instead of a silently ignored setting. Command-line flags override
//! the file; [`Settings`] is the result, and the only thing stages read.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Environment variable naming the model file when `--model` is not given.
pub const MODEL_ENV: &str = "CALLSIFT_MODEL";

/// A whole pipeline file. Every section is optional and has defaults.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct PipelineFile {
    /// Personal data masked in every transcript before anything is
    /// written (`card`, `phone`, `iban`, `email`, `pesel`; see `redact`).
    pub redact: Vec<crate::redact::RedactKind>,
    /// Outside do-not-call lists (one number per line); relative paths are
    /// relative to the pipeline file.
    pub dnc_lists: Vec<PathBuf>,
    /// ISO 3166 country of numbers written without `+` (`PL`), for the
    /// do-not-call list's E.164 numbers.
    pub default_country: Option<toml::Spanned<String>>,
    /// Days a call is kept (by `call_start`): when set, `run` purges older
    /// calls at the end of each run that was not interrupted (as
    /// `callsift purge --older-than Nd`). Unset: nothing is purged.
    pub retention_days: Option<std::num::NonZeroU32>,
    pub model: ModelSection,
    pub input: InputSection,
    pub speakers: SpeakerSection,
    pub vad: VadSettings,
    pub whisper: WhisperSettings,
    pub guards: GuardSettings,
    pub metadata: crate::metadata::MetadataSettings,
    pub metrics: crate::analyze::MetricsSettings,
    /// Phrases that raise a hit wherever said (`docs/rules.md`).
    pub watchlist: Vec<crate::rules::spec::WatchlistSpec>,
    /// What a customer says to be taken off the calling list.
    pub do_not_call: Vec<crate::rules::spec::DoNotCallSpec>,
    /// Weighted QA forms.
    pub scorecard: Vec<crate::rules::spec::ScorecardSpec>,
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct ModelSection {
    /// Path of the ggml model; relative paths are relative to the pipeline file.
    pub path: Option<PathBuf>,
}

/// Which files of the input folders a run takes.
#[derive(Debug, Clone, Default, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct InputSection {
    /// Files modified more recently than this are still being written and
    /// left for a later run (`0`, `90s`, `2m`, `1h`); `--min-age` overrides.
    pub min_age: crate::min_age::MinAge,
}

/// Who speaks on which channel.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct SpeakerSection {
    /// Speaker name per channel index of a multi-channel recording.
    pub channels: Vec<String>,
    /// Speaker name of a mono recording.
    pub mono: String,
}

impl Default for SpeakerSection {
    fn default() -> Self {
        Self {
            channels: vec!["agent".into(), "customer".into()],
            mono: "mixed".into(),
        }
    }
}

impl SpeakerSection {
    /// The speaker of `channel` in a recording with `channel_count` channels.
    pub fn speaker(&self, channel: usize, channel_count: usize) -> String {
        if channel_count <= 1 {
            return self.mono.clone();
        }
        self.channels
            .get(channel)
            .cloned()
            .unwrap_or_else(|| format!("channel{channel}"))
    }
}

/// Voice activity detection and window packing.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct VadSettings {
    /// Speech probability (0–1) above which a 16 ms frame counts as speech.
    pub threshold: f32,
    /// Frames quieter than this (RMS, dBFS) are silence whatever the model says:
    /// faint line noise never reaches whisper.
    pub energy_floor_dbfs: f32,
    /// Speech shorter than this is dropped (clicks, breaths).
    pub min_speech_ms: u64,
    /// Pauses shorter than this do not split speech.
    pub min_silence_ms: u64,
    /// Audio kept on each side of a speech span so word onsets are not clipped.
    pub pad_ms: u64,
    /// Longest window sent to whisper in one call (whisper's context is 30 s).
    pub max_window_ms: u64,
}

impl Default for VadSettings {
    fn default() -> Self {
        Self {
            threshold: 0.5,
            energy_floor_dbfs: -50.0,
            min_speech_ms: 250,
            min_silence_ms: 400,
            pad_ms: 200,
            max_window_ms: 30_000,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum SearchStrategy {
    Greedy,
    Beam,
}

/// How whisper decodes.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct WhisperSettings {
    /// `auto` (detect once per channel) or an ISO 639-1 code such as `pl`.
    pub language: String,
    /// With `language = "auto"`: the languages detection may choose from
    /// (the ones your calls are in). Empty: any of whisper's 99. Short or
    /// noisy turns are often misdetected as an unrelated language; a call
    /// center knows which languages it serves.
    pub languages: Vec<String>,
    pub strategy: SearchStrategy,
    /// Candidates kept by greedy search with temperature > 0.
    pub best_of: u32,
    pub beam_size: u32,
    /// First temperature; on failure whisper retries at `+ temperature_increment`
    /// up to 1.0 (temperature fallback). 0 increment disables the fallback.
    pub temperature: f32,
    pub temperature_increment: f32,
    /// Domain vocabulary given to the decoder as previous text.
    pub initial_prompt: String,
    /// A segment whose no-speech probability exceeds this and whose average
    /// log-probability is below `logprob_threshold` is treated as silence.
    pub no_speech_threshold: f32,
    pub logprob_threshold: f32,
    /// Compression-ratio-like entropy limit that triggers temperature fallback
    /// on repetitive output.
    pub entropy_threshold: f32,
    /// Encode each window with an encoder context fitted to its length
    /// instead of whisper's fixed 30 s, and decode it without timestamp
    /// tokens (segment times come from the window's pieces and DTW token
    /// times). A window whose decode loops or runs out of tokens is decoded
    /// again the usual way. Only for models with known alignment heads, base
    /// or larger (tiny loses accuracy with it); off: whisper's usual full
    /// context with timestamps.
    pub fitted_context: bool,
    /// With `fitted_context`: the longest window, shorter than `[vad]
    /// max_window_ms` because without timestamps one decode must hold the
    /// whole window's text within whisper's 224-token limit.
    pub fitted_max_window_ms: u64,
    /// With `language = "auto"`: how much of a channel's first window
    /// language detection encodes (at most 30000, whisper's context).
    /// Shorter is cheaper (the encoder's cost follows its context) and less
    /// sure on short or unclear speech.
    pub detect_ms: u64,
}

impl Default for WhisperSettings {
    fn default() -> Self {
        Self {
            language: "auto".into(),
            languages: Vec::new(),
            strategy: SearchStrategy::Greedy,
            best_of: 5,
            beam_size: 5,
            temperature: 0.0,
            temperature_increment: 0.2,
            initial_prompt: String::new(),
            no_speech_threshold: 0.6,
            logprob_threshold: -1.0,
            entropy_threshold: 2.4,
            fitted_context: true,
            fitted_max_window_ms: 20000,
            detect_ms: 10000,
        }
    }
}

/// Guards against whisper's known failures on call audio.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct GuardSettings {
    /// Segments whose whole text (case and punctuation ignored) is one of
    /// these are dropped: whisper invents them on silence and noise.
    pub hallucinations: Vec<String>,
    /// A phrase repeated more than this many times in a row is collapsed.
    pub max_repeats: usize,
    /// Segments with a lower average token log-probability are dropped.
    pub min_avg_logprob: f32,
}

impl Default for GuardSettings {
    fn default() -> Self {
        Self {
            hallucinations: default_hallucinations(),
            max_repeats: 2,
            min_avg_logprob: -1.5,
        }
    }
}

/// Phrases whisper is known to produce on silence (subtitle credits from its
/// training data). The pipeline file can replace the list.
pub fn default_hallucinations() -> Vec<String> {
    [
        // English
        "Thank you for watching",
        "Thanks for watching",
        "Thank you for watching!",
        "Thank you very much for watching",
        "Please subscribe",
        "Subscribe to my channel",
        "Like and subscribe",
        // A lone "you" is whisper's classic output on noise; a lone "Thank
        // you" is not listed because callers really say it.
        "you",
        "Subtitles by the Amara.org community",
        // Polish
        "Napisy stworzone przez społeczność Amara.org",
        "Napisy wykonane przez społeczność Amara.org",
        "Dziękuję za obejrzenie",
        "Dzięki za obejrzenie",
        "Subskrybuj kanał",
        "Zapraszam do subskrypcji",
        // Russian
        "Продолжение следует...",
        "Продолжение следует…",
        "Спасибо за просмотр",
        "Субтитры сделал DimaTorzok",
        "Субтитры создавались при помощи сообщества Amara.org",
        "Редактор субтитров А.Синецкая Корректор А.Егорова",
        "Подписывайтесь на канал",
        // Hebrew
        "תודה שצפיתם",
        "תודה רבה שצפיתם",
        "תרגום: עמית",
        "כתוביות: עמית",
        "הירשמו לערוץ",
    ]
    .into_iter()
    .map(String::from)
    .collect()
}

impl PipelineFile {
    /// Reads and validates a pipeline file; errors name the file, key and line.
    pub fn load(path: &Path) -> Result<Self> {
        let text = fs_err::read_to_string(path)?;
        Self::parse(&text, path)
    }

    pub fn parse(text: &str, path: &Path) -> Result<Self> {
        let mut file: PipelineFile = toml::from_str(text).map_err(|e| Error::Config {
            path: path.to_path_buf(),
            message: describe_toml_error(text, &e),
        })?;
        if let Some(model) = &file.model.path
            && model.is_relative()
            && let Some(dir) = path.parent()
        {
            file.model.path = Some(dir.join(model));
        }
        if let Some(dir) = path.parent() {
            file.metadata.resolve_paths(dir);
            for list in &mut file.dnc_lists {
                if list.is_relative() {
                    *list = dir.join(&*list);
                }
            }
        }
        file.validate().map_err(|message| Error::Config {
            path: path.to_path_buf(),
            message,
        })?;
        let problems = file.rule_problems(text);
        if !problems.is_empty() {
            return Err(Error::Config {
                path: path.to_path_buf(),
                message: problems.join("; "),
            });
        }
        Ok(file)
    }

    /// Every problem of the rule sections, each naming its key and line.
    pub fn rule_problems(&self, text: &str) -> Vec<String> {
        let mut speakers = self.speakers.channels.clone();
        speakers.push(self.speakers.mono.clone());
        let sections = crate::rules::spec::RuleSections {
            watchlists: &self.watchlist,
            do_not_call: &self.do_not_call,
            scorecards: &self.scorecard,
            default_country: self.default_country.as_ref(),
            speakers,
        };
        crate::rules::spec::check(&sections)
            .iter()
            .map(|e| e.describe(text))
            .collect()
    }

    /// Whether the file defines any rule or redaction (else the rules stage is skipped).
    pub fn has_rules(&self) -> bool {
        !(self.watchlist.is_empty()
            && self.do_not_call.is_empty()
            && self.scorecard.is_empty()
            && self.dnc_lists.is_empty()
            && self.redact.is_empty())
    }

    fn validate(&self) -> std::result::Result<(), String> {
        let v = &self.vad;
        if !(0.0..=1.0).contains(&v.threshold) {
            return Err(format!(
                "vad.threshold must be between 0 and 1, got {}",
                v.threshold
            ));
        }
        within_30s("vad.max_window_ms", v.max_window_ms)?;
        if 2 * v.pad_ms >= v.max_window_ms {
            return Err("vad.pad_ms is too large for vad.max_window_ms".into());
        }
        let w = &self.whisper;
        within_30s("whisper.fitted_max_window_ms", w.fitted_max_window_ms)?;
        within_30s("whisper.detect_ms", w.detect_ms)?;
        crate::model::validate_language(&w.language)
            .map_err(|e| format!("whisper.language: {e}"))?;
        for lang in &w.languages {
            if lang == "auto" {
                return Err(
                    "whisper.languages lists codes such as pl, ru; `auto` is not one".into(),
                );
            }
            crate::model::validate_language(lang).map_err(|e| format!("whisper.languages: {e}"))?;
        }
        if !(0.0..=1.0).contains(&w.temperature) {
            return Err(format!(
                "whisper.temperature must be between 0 and 1, got {}",
                w.temperature
            ));
        }
        if w.strategy == SearchStrategy::Beam && w.beam_size < 2 {
            return Err("whisper.beam_size must be at least 2 for beam search".into());
        }
        self.metadata.validate()?;
        if self.speakers.mono.trim().is_empty() {
            return Err("speakers.mono must not be empty".into());
        }
        if self.speakers.channels.iter().any(|s| s.trim().is_empty()) {
            return Err("speakers.channels must not contain empty names".into());
        }
        Ok(())
    }
}

/// `toml`'s message already names the line, column and key; keep it on one
/// line so it reads well after the path.
fn describe_toml_error(_text: &str, e: &toml::de::Error) -> String {
    let msg = e.to_string();
    msg.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && *l != "|")
        .collect::<Vec<_>>()
        .join(" ")
        .replace("TOML parse error", "invalid pipeline file")
}

/// Everything a run needs, resolved from flags, environment and pipeline file.
#[derive(Debug, Clone)]
pub struct Settings {
    pub model_path: PathBuf,
    pub out_dir: PathBuf,
    pub inputs: Vec<PathBuf>,
    pub workers: usize,
    pub threads: usize,
    /// The GPU whisper runs on; `None`: the CPU.
    pub gpu: Option<i32>,
    pub pipeline: PipelineFile,
}

/// Checks a duration setting that whisper's 30 s context bounds.
fn within_30s(key: &str, ms: u64) -> std::result::Result<(), String> {
    if (1_000..=30_000).contains(&ms) {
        Ok(())
    } else {
        Err(format!(
            "{key} must be between 1000 and 30000 (whisper's context), got {ms}"
        ))
    }
}

/// Picks the model path: `--model`, else `CALLSIFT_MODEL`, else the pipeline file.
pub fn resolve_model_path(
    flag: Option<&Path>,
    env: Option<&std::ffi::OsStr>,
    pipeline: &PipelineFile,
) -> Result<PathBuf> {
    let chosen = flag
        .map(Path::to_path_buf)
        .or_else(|| env.filter(|v| !v.is_empty()).map(PathBuf::from))
        .or_else(|| pipeline.model.path.clone());
    let Some(path) = chosen else {
        return Err(Error::no_model(format!(
            "no model given (--model, {MODEL_ENV} or [model] path in the pipeline file)"
        )));
    };
    if !path.is_file() {
        return Err(Error::no_model(format!(
            "model file {} not found",
            path.display()
        )));
    }
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn defaults_parse_from_empty_file() {
        let p = PipelineFile::parse("", Path::new("x.toml")).unwrap();
        assert_eq!(p, PipelineFile::default());
        assert_eq!(p.speakers.speaker(0, 2), "agent");
        assert_eq!(p.speakers.speaker(1, 2), "customer");
        assert_eq!(p.speakers.speaker(0, 1), "mixed");
        assert_eq!(p.speakers.speaker(3, 4), "channel3");
    }

    #[test]
    fn unknown_key_names_key_and_line() {
        let text = "[vad]\nthreshold = 0.4\nmin_speach_ms = 100\n";
        let err = PipelineFile::parse(text, Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.starts_with("p.toml: "), "{err}");
        assert!(err.contains("min_speach_ms"), "{err}");
        assert!(err.contains("line 3"), "{err}");
    }

    #[test]
    fn bad_value_is_rejected() {
        let err = PipelineFile::parse("[vad]\nthreshold = 3.0\n", Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("vad.threshold"), "{err}");
        let err = PipelineFile::parse("[whisper]\nlanguage = \"klingon\"\n", Path::new("p.toml"))
            .unwrap_err()
            .to_string();
        assert!(err.contains("whisper.language"), "{err}");
    }

    #[test]
    fn speakers_are_remappable() {
        let p = PipelineFile::parse(
            "[speakers]\nchannels = [\"customer\", \"agent\"]\n",
            Path::new("p.toml"),
        )
        .unwrap();
        assert_eq!(p.speakers.speaker(0, 2), "customer");
    }

    #[test]
    fn model_path_precedence() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.bin");
        let b = dir.path().join("b.bin");
        std::fs::write(&a, b"x").unwrap();
        std::fs::write(&b, b"x").unwrap();
        let mut p = PipelineFile::default();
        p.model.path = Some(b.clone());
        assert_eq!(
            resolve_model_path(Some(&a), Some(b.as_os_str()), &p).unwrap(),
            a
        );
        assert_eq!(
            resolve_model_path(None, Some(a.as_os_str()), &p).unwrap(),
            a
        );
        assert_eq!(resolve_model_path(None, None, &p).unwrap(), b);
        let err = resolve_model_path(None, None, &PipelineFile::default()).unwrap_err();
        assert!(err.to_string().contains("models fetch"), "{err}");
    }
}

/// Checks a `--language` flag.
pub fn validate_language_flag(lang: &str) -> Result<()> {
    crate::model::validate_language(lang).map_err(|e| Error::Usage(format!("--language: {e}")))
}

#[cfg(test)]
mod pipeline_files {
    use super::*;

    /// Every shipped pipeline file parses, and the default one states the defaults.
    #[test]
    fn shipped_pipelines_parse() {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
        let mut n = 0;
        for entry in std::fs::read_dir(&dir).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "toml") {
                PipelineFile::load(&path).unwrap();
                n += 1;
            }
        }
        assert!(n >= 1);
        let default = PipelineFile::load(&dir.join("default.toml")).unwrap();
        assert_eq!(default, PipelineFile::default());
    }
}
