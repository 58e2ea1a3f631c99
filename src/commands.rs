//! Carries out each subcommand: resolves arguments, environment and the
//! pipeline file into settings, builds the stages, calls the library, and
//! returns the process exit code. `main` only parses and maps errors.

use std::path::Path;
use std::sync::Arc;

use crate::cli::{Cli, Command, EvalArgs, ModelsCommand, RunArgs, ShowArgs, TranscribeArgs};
use crate::config::{self, PipelineFile, Settings};
use crate::error::{Error, Result};
use crate::pipeline::{self, Engine, RunOptions};
use crate::report;
use crate::sink::{Sink, TranscriptJsonSink};
use crate::transcribe::whisper::{LoadOptions, WhisperTranscriber};

/// Every recording processed.
pub const EXIT_OK: u8 = 0;
/// Fatal error.
pub const EXIT_FATAL: u8 = 1;
/// Usage error.
pub const EXIT_USAGE: u8 = 2;
/// The run finished, some recordings failed.
pub const EXIT_SOME_FAILED: u8 = 3;

/// Runs the parsed command line; the returned code is the process's.
pub fn dispatch(cli: Cli) -> Result<u8> {
    match cli.command {
        Command::Run(args) => run(args),
        Command::Show(args) => show(args),
        Command::Models(cmd) => models(cmd),
        Command::Eval(args) => eval(args),
    }
}

/// Maps a library error to the exit code `main` should return.
pub fn exit_code_for(error: &Error) -> u8 {
    match error {
        Error::Usage(_) | Error::Config { .. } => EXIT_USAGE,
        _ => EXIT_FATAL,
    }
}

fn default_threads() -> usize {
    std::thread::available_parallelism()
        .map_or(1, usize::from)
        .min(4)
}

/// Loads the pipeline file (or defaults) and applies flag overrides.
fn load_pipeline(args: &TranscribeArgs) -> Result<PipelineFile> {
    let mut pipeline = match &args.pipeline {
        Some(path) => PipelineFile::load(path).map_err(|e| match e {
            Error::Io(io) => Error::Usage(format!("pipeline file: {io}")),
            other => other,
        })?,
        None => PipelineFile::default(),
    };
    if let Some(lang) = &args.language {
        config::validate_language_flag(lang)?;
        pipeline.whisper.language = lang.clone();
    }
    Ok(pipeline)
}

/// What every transcribing command resolves the same way: the pipeline
/// file with flag overrides, the model path (flag > environment > file) and
/// the threads per whisper call.
fn resolve_transcribe(args: &TranscribeArgs) -> Result<(PipelineFile, std::path::PathBuf, usize)> {
    if args.threads == Some(0) {
        return Err(Error::Usage("--threads must be at least 1".into()));
    }
    let pipeline = load_pipeline(args)?;
    let model_path = config::resolve_model_path(
        args.model.as_deref(),
        std::env::var_os(config::MODEL_ENV).as_deref(),
        &pipeline,
    )?;
    let threads = args.threads.unwrap_or_else(default_threads);
    Ok((pipeline, model_path, threads))
}

/// Resolves flags, environment and pipeline file into [`Settings`].
pub fn resolve_run_settings(args: &RunArgs) -> Result<Settings> {
    if args.workers == Some(0) {
        return Err(Error::Usage("--workers must be at least 1".into()));
    }
    let (pipeline, model_path, threads) = resolve_transcribe(&args.transcribe)?;
    let cores = std::thread::available_parallelism().map_or(1, usize::from);
    let workers = args.workers.unwrap_or_else(|| (cores / threads).max(1));
    Ok(Settings {
        model_path,
        out_dir: args.out.clone(),
        inputs: args.input.clone(),
        workers,
        threads,
        pipeline,
    })
}

/// Loads the model. `token_times` is on for the pipeline (it splits
/// segments at turns) and off for the plain whisper.cpp baseline.
fn load_transcriber(
    model_path: &Path,
    pipeline: &PipelineFile,
    threads: usize,
    token_times: bool,
) -> Result<WhisperTranscriber> {
    let started = std::time::Instant::now();
    let t = WhisperTranscriber::load(
        model_path,
        &pipeline.whisper,
        &LoadOptions {
            use_gpu: cfg!(feature = "cuda"),
            threads,
            token_times,
        },
    )?;
    tracing::info!(
        "loaded model {} in {:.1}s",
        model_path.display(),
        started.elapsed().as_secs_f32()
    );
    Ok(t)
}

fn run(args: RunArgs) -> Result<u8> {
    let settings = resolve_run_settings(&args)?;
    // Check the inputs before the (slow) model load.
    pipeline::collect_inputs(&settings.inputs)?;
    fs_err::create_dir_all(&settings.out_dir)?;
    let transcriber = load_transcriber(
        &settings.model_path,
        &settings.pipeline,
        settings.threads,
        true,
    )?;
    let engine = Engine {
        transcriber: Arc::new(transcriber),
        pipeline: settings.pipeline.clone(),
    };
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(TranscriptJsonSink::new(&settings.out_dir)?)];
    let run_report = pipeline::run(
        &settings.inputs,
        &engine,
        &mut sinks,
        &RunOptions {
            workers: settings.workers,
            threads: settings.threads,
            progress: true,
        },
    )?;
    let saved = report::save(&run_report, &settings.out_dir)?;
    if args.json {
        println!("{}", report::to_json(&run_report)?);
    }
    eprintln!("{}", report::summary_line(&run_report));
    tracing::info!("run summary saved to {}", saved.display());
    Ok(if run_report.failed > 0 {
        EXIT_SOME_FAILED
    } else {
        EXIT_OK
    })
}

fn show(args: ShowArgs) -> Result<u8> {
    print!("{}", crate::show::show(&args.out, &args.call_id)?);
    Ok(EXIT_OK)
}

fn models(cmd: ModelsCommand) -> Result<u8> {
    use crate::models::{convert, fetch, registry};
    let dir_or_default = |dir: Option<std::path::PathBuf>| dir.unwrap_or_else(registry::models_dir);
    match cmd {
        ModelsCommand::List { dir } => {
            let dir = dir_or_default(dir);
            print!("{}", registry::render_list_table(&registry::list(&dir)));
            println!("models folder: {}", dir.display());
        }
        ModelsCommand::Fetch { name, dir } => {
            let opts = fetch::FetchOptions::new(dir_or_default(dir));
            let path = fetch::fetch(&name, &opts)?;
            println!("{}", path.display());
        }
        ModelsCommand::Import {
            source,
            name,
            quantize,
            dir,
        } => {
            let quantize = quantize
                .map(|q| {
                    q.parse()
                        .map_err(|e| Error::Usage(format!("--quantize: {e}")))
                })
                .transpose()?;
            let name = match name {
                Some(n) => n,
                None => import_name(&source, quantize)?,
            };
            if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
                return Err(Error::Usage(format!(
                    "--name `{name}` is not a usable model name"
                )));
            }
            let dir = dir_or_default(dir);
            fs_err::create_dir_all(&dir)?;
            let out = dir.join(format!("ggml-{name}.bin"));
            let summary =
                convert::import_ct2_dir(&source, &out, &convert::ImportOptions { quantize })?;
            eprintln!(
                "wrote {} ({}, {} tensors, {}{})",
                summary.out_path.display(),
                registry::human_size(summary.bytes),
                summary.n_tensors,
                if summary.multilingual {
                    "multilingual"
                } else {
                    "english only"
                },
                summary
                    .quantized
                    .map(|q| format!(", {q}"))
                    .unwrap_or_default(),
            );
            println!("{}", summary.out_path.display());
        }
    }
    Ok(EXIT_OK)
}

/// The default name of an imported model: the directory's name, plus the
/// quantization (`whisper-pl-q8_0`).
fn import_name(
    source: &Path,
    quantize: Option<crate::models::quantize::QuantType>,
) -> Result<String> {
    let base = source
        .canonicalize()
        .ok()
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
        .ok_or_else(|| {
            Error::Usage(format!(
                "{}: give the model a name with --name",
                source.display()
            ))
        })?;
    Ok(match quantize {
        Some(q) => format!("{base}-{q}"),
        None => base,
    })
}

fn eval(args: EvalArgs) -> Result<u8> {
    use crate::eval::{self, EvalReport, Hypothesis};
    let (pipeline, model_path, threads) = resolve_transcribe(&args.transcribe)?;
    let refs = eval::read_refs(&args.refs)?;
    let transcriber = Arc::new(load_transcriber(&model_path, &pipeline, threads, true)?);
    let model_name = crate::transcribe::Transcriber::model_name(transcriber.as_ref()).to_string();
    let engine = Engine {
        transcriber,
        pipeline,
    };
    let mut systems = vec![eval::evaluate("pipeline", &refs, &mut |entry| {
        let hash = pipeline::content_hash(&entry.path)?;
        let t = pipeline::process_file(&entry.path, &hash, &engine)?;
        Ok(Hypothesis {
            text: t
                .segments
                .iter()
                .map(|s| s.text.as_str())
                .collect::<Vec<_>>()
                .join(" "),
            audio_ms: t.duration_ms,
            language: t.languages.values().next().cloned(),
        })
    })];
    if args.plain {
        // Plain whisper.cpp as people run it: no DTW token times either.
        // The pipeline's model is freed before the baseline's is loaded.
        let Engine {
            pipeline: settings, ..
        } = engine;
        let transcriber = load_transcriber(&model_path, &settings, threads, false)?;
        systems.push(eval::evaluate("plain", &refs, &mut |entry| {
            let plain = pipeline::transcribe_plain(&entry.path, &transcriber)?;
            Ok(Hypothesis {
                text: plain.text,
                audio_ms: plain.audio_ms,
                language: Some(plain.language),
            })
        }));
    }
    let report = EvalReport::new(&model_name, systems);
    if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::Other(format!("cannot serialise eval report: {e}")))?;
        println!("{json}");
    } else {
        print!("{}", eval::render_table(&report));
    }
    let failed = report.systems.iter().any(|s| s.overall.failed > 0);
    Ok(if failed { EXIT_SOME_FAILED } else { EXIT_OK })
}
