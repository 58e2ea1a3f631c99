//! Carries out each subcommand: resolves arguments, environment and the
//! pipeline file into settings, builds the stages, calls the library, and
//! returns the process exit code. `main` only parses and maps errors.

use std::path::Path;
use std::sync::Arc;

use crate::cli::{
    AuditArgs, Cli, Command, DateRangeArgs, EvalArgs, ExportArgs, GroupByArg, ImportArgs,
    IndexCommand, MergeArgs, ModelsCommand, ReportArgs, RescoreArgs, RulesCommand, RunArgs,
    SearchArgs, SearchFormat, ServeArgs, ShowArgs, SortArg, StatusArgs, TablesCommand,
    TranscribeArgs, UsersCommand,
};
use crate::config::{self, PipelineFile, Settings};
use crate::error::{Error, Result};
use crate::pipeline::{self, Engine, RunOptions};
use crate::report;
use crate::sink;
use crate::transcribe::whisper::{LoadOptions, WhisperTranscriber};

/// Every recording processed.
pub const EXIT_OK: u8 = 0;
/// Fatal error.
pub const EXIT_FATAL: u8 = 1;
/// Usage error.
pub const EXIT_USAGE: u8 = 2;
/// The run finished, some recordings failed.
pub const EXIT_SOME_FAILED: u8 = 3;
/// Another callsift process is writing the output folder.
pub const EXIT_LOCKED: u8 = 4;
/// `run` stopped by SIGINT/SIGTERM after committing the calls it finished.
pub const EXIT_INTERRUPTED: u8 = 5;

/// Runs the parsed command line; the returned code is the process's.
pub fn dispatch(cli: Cli) -> Result<u8> {
    // Models are shared with other users; everything else writes OUT
    // (at least its audit log), where third-party writers must not create
    // files wider than 0640.
    if !matches!(cli.command, Command::Models(_)) {
        crate::atomic::restrict_umask();
    }
    match cli.command {
        Command::Run(args) => run(args),
        Command::Show(args) => show(args),
        Command::Search(args) => search(args),
        Command::Import(args) => import(args),
        Command::Index(cmd) => index(cmd),
        Command::Tables(cmd) => tables(cmd),
        Command::Report(args) => report_calls(args),
        Command::Rescore(args) => rescore(args),
        Command::Rules(cmd) => rules(cmd),
        Command::Audit(args) => audit_trail(args),
        Command::Status(args) => status(args),
        Command::Purge(args) => purge(args),
        Command::Merge(args) => merge(args),
        Command::Export(args) => export(args),
        Command::Serve(args) => serve(args),
        Command::Users(cmd) => users(cmd),
        Command::Models(cmd) => models(cmd),
        Command::Eval(args) => eval(args),
    }
}

/// Maps a library error to the exit code `main` should return.
pub fn exit_code_for(error: &Error) -> u8 {
    match error {
        Error::Usage(_) | Error::Config { .. } | Error::Query { .. } => EXIT_USAGE,
        Error::Locked { .. } => EXIT_LOCKED,
        _ => EXIT_FATAL,
    }
}

/// One thread per whisper worker: the window queue keeps a worker per core
/// busy, and whisper.cpp's threads of one call spin while they wait for
/// each other, which wastes the cores when the machine is busy (README,
/// "Throughput").
fn default_threads() -> usize {
    1
}

/// Whisper states per GPU by default: one state leaves a GPU mostly idle
/// with small models (measured: 4 states 2.6× one, README "GPU").
const GPU_WORKERS: usize = 4;

fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, usize::from)
}

/// Loads a pipeline file, or the defaults without one.
fn load_pipeline_file(path: Option<&Path>) -> Result<PipelineFile> {
    match path {
        Some(path) => PipelineFile::load(path).map_err(|e| match e {
            Error::Io(io) => Error::Usage(format!("pipeline file: {io}")),
            other => other,
        }),
        None => Ok(PipelineFile::default()),
    }
}

/// Loads the pipeline file (or defaults) and applies flag overrides.
fn load_pipeline(args: &TranscribeArgs) -> Result<PipelineFile> {
    let mut pipeline = load_pipeline_file(args.pipeline.as_deref())?;
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
    if args.gpu_device.is_some_and(|d| d < 0) {
        return Err(Error::Usage("--gpu-device must be 0 or more".into()));
    }
    if (args.gpu || args.gpu_device.is_some()) && !cfg!(feature = "cuda") {
        return Err(Error::Usage(
            "--gpu: this callsift was built without GPU support; build it with \
             `cargo build --release --features cuda` (docs/gpu.md)"
                .into(),
        ));
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

/// The name transcripts record for the pipeline: the file's stem, or
/// `default` when none was given.
fn pipeline_name(args: &TranscribeArgs) -> String {
    pipeline_name_of(args.pipeline.as_deref())
}

/// A pipeline file's stem (`security` for `pipelines/security.toml`), `default` without one.
fn pipeline_name_of(path: Option<&Path>) -> String {
    path.and_then(Path::file_stem).map_or_else(
        || "default".to_string(),
        |s| s.to_string_lossy().into_owned(),
    )
}

/// Resolves flags, environment and pipeline file into [`Settings`].
pub fn resolve_run_settings(args: &RunArgs) -> Result<Settings> {
    if args.workers == Some(0) {
        return Err(Error::Usage("--workers must be at least 1".into()));
    }
    let (pipeline, model_path, threads) = resolve_transcribe(&args.transcribe)?;
    let gpu = gpu_of(&args.transcribe);
    let workers = args.workers.unwrap_or_else(|| match gpu {
        Some(_) => GPU_WORKERS,
        None => (cores() / threads).max(1),
    });
    Ok(Settings {
        model_path,
        out_dir: args.out.clone(),
        inputs: args.input.clone(),
        workers,
        threads,
        gpu,
        pipeline,
    })
}

/// Loads the model. `token_times` is on for the pipeline (it splits
/// segments at turns) and off for the plain whisper.cpp baseline.
/// The GPU asked for: `--gpu-device N`, or `--gpu` (device 0).
fn gpu_of(args: &TranscribeArgs) -> Option<i32> {
    args.gpu_device.or(args.gpu.then_some(0))
}

fn load_transcriber(
    model_path: &Path,
    pipeline: &PipelineFile,
    threads: usize,
    token_times: bool,
    gpu: Option<i32>,
) -> Result<WhisperTranscriber> {
    let started = std::time::Instant::now();
    let t = WhisperTranscriber::load(
        model_path,
        &pipeline.whisper,
        &LoadOptions {
            use_gpu: gpu.is_some(),
            gpu_device: gpu.unwrap_or(0),
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

/// `--shard I/N`, else the batch job's variables (the one place they are read).
fn shard_of(flag: Option<&str>) -> Result<Option<crate::shard::Shard>> {
    crate::shard::Shard::resolve(flag, |k| std::env::var(k).ok())
}

fn run(args: RunArgs) -> Result<u8> {
    let settings = resolve_run_settings(&args)?;
    let shard = shard_of(args.shard.as_deref())?;
    // Check the inputs and the lock before the (slow) model load.
    let (audio, not_audio) = pipeline::collect_inputs(&settings.inputs)?;
    // Before the manifest hashes anything: a file still being written is
    // not read at all.
    let min_age = args.min_age.unwrap_or(settings.pipeline.input.min_age);
    let (audio, fresh) = crate::min_age::split_fresh(audio, min_age, std::time::SystemTime::now());
    // A folder that cannot be written fails now, not after transcription.
    sink::check_out_dir(&settings.out_dir)?;
    let _lock = crate::run_lock::acquire(&settings.out_dir, "run")?;
    // Under the lock no other writer is mid-write: any temp file is stale.
    let stale = crate::atomic::remove_stale_temps(&settings.out_dir)?;
    if stale > 0 {
        tracing::info!("removed {stale} temporary files a killed run left");
    }
    // Before the manifest plans: other shards' recordings are not this run's.
    let mut ownerless = not_audio;
    ownerless.extend(fresh);
    let slice = crate::shard::slice_run_inputs(shard, audio, ownerless);
    let manifest = crate::manifest::Manifest::open(&settings.out_dir)?;
    let plan_options = crate::manifest::PlanOptions {
        force: args.force,
        reprocess_stale: args.reprocess_stale,
        model: settings
            .model_path
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_default(),
        fingerprint: crate::manifest::fingerprint(&settings.pipeline),
    };
    // From here on a first SIGINT/SIGTERM ends the run cleanly.
    let stop = crate::interrupt::StopFlag::on_signals()?;
    let mut planned = manifest.plan_all(&slice.audio, &plan_options);
    planned.reports.extend(slice.ownerless);
    let transcriber = load_transcriber(
        &settings.model_path,
        &settings.pipeline,
        settings.threads,
        true,
        settings.gpu,
    )?;
    let engine = Engine::new(
        Arc::new(transcriber),
        settings.pipeline.clone(),
        &pipeline_name(&args.transcribe),
    )?;
    let mut sinks = sink::output_sinks(
        &settings.out_dir,
        &settings.pipeline,
        &pipeline_name(&args.transcribe),
    )?;
    // Last: a call enters the manifest once every other sink took it.
    sinks.push(Box::new(crate::manifest::ManifestSink::new(
        manifest,
        &planned,
        plan_options,
    )));
    let mut run_report = pipeline::run(
        &planned.todo,
        &engine,
        &mut sinks,
        &RunOptions {
            workers: settings.workers,
            threads: settings.threads,
            progress: true,
            stop: stop.clone(),
        },
    )?;
    crate::manifest::merge_report(&mut run_report, planned);
    run_report.shard = slice.report;
    // The sinks (the manifest, index and tables writers among them) are
    // closed before a retention purge opens them again.
    drop(sinks);
    let saved = report::save(&run_report, &settings.out_dir)?;
    if args.json {
        println!("{}", report::to_json(&run_report)?);
    }
    eprintln!("{}", report::summary_line(&run_report));
    alerts(&run_report, &settings.pipeline, &settings.out_dir)?;
    tracing::info!("run summary saved to {}", saved.display());
    // After the run's own commits and its saved report; never after an
    // interrupted run, which is to end quickly.
    if let Some(days) = settings.pipeline.retention_days
        && !run_report.interrupted
    {
        purge_after_run(&settings.out_dir, days)?;
    }
    Ok(if run_report.interrupted {
        EXIT_INTERRUPTED
    } else if run_report.failed > 0 {
        EXIT_SOME_FAILED
    } else {
        EXIT_OK
    })
}

fn show(args: ShowArgs) -> Result<u8> {
    use crate::show;
    let t = show::load(&args.out, &args.call_id)?;
    let (text, lines, at) = match &args.at {
        Some(at) => {
            let at_ms = show::parse_clock(at)?;
            let (text, lines) = show::render_around(&t, at_ms, args.context);
            (text, lines, Some(at.as_str()))
        }
        None => (show::render_dialogue(&t), t.segments.len(), None),
    };
    audit(
        &args.out,
        "show",
        None,
        serde_json::json!({ "call": t.call_id, "at": at }),
        lines,
    )?;
    print!("{text}");
    Ok(EXIT_OK)
}

fn audit(
    out_dir: &Path,
    command: &str,
    query: Option<&str>,
    filters: serde_json::Value,
    hits: usize,
) -> Result<()> {
    crate::audit::append(
        out_dir,
        &crate::audit::AuditEntry {
            time: jiff::Timestamp::now(),
            user: crate::audit::os_user(),
            command,
            query,
            filters,
            hits,
        },
    )
}

/// `--from`/`--to`: a date is a whole local day, a moment is RFC 3339.
pub(crate) fn parse_date_bound(flag: &str, value: &str, end: bool) -> Result<jiff::Timestamp> {
    let tz = jiff::tz::TimeZone::system();
    if let Ok(date) = value.parse::<jiff::civil::Date>() {
        let day = if end {
            date.tomorrow()
                .map_err(|e| Error::Usage(format!("{flag} {value}: {e}")))?
        } else {
            date
        };
        return day
            .to_zoned(tz)
            .map(|z| z.timestamp())
            .map_err(|e| Error::Usage(format!("{flag} {value}: {e}")));
    }
    value.parse::<jiff::Timestamp>().map_err(|_| {
        Error::Usage(format!(
            "{flag} `{value}`: give a date (2026-11-20) or a moment (2026-11-20T14:30:00Z)"
        ))
    })
}

/// `--from` (inclusive) and `--to` (through that whole day) as moments.
fn date_range(dates: &DateRangeArgs) -> Result<(Option<jiff::Timestamp>, Option<jiff::Timestamp>)> {
    let bound = |flag: &str, value: &Option<String>, end: bool| {
        value
            .as_deref()
            .map(|v| parse_date_bound(flag, v, end))
            .transpose()
    };
    Ok((
        bound("--from", &dates.from, false)?,
        bound("--to", &dates.to, true)?,
    ))
}

fn search(args: SearchArgs) -> Result<u8> {
    use crate::model::{SearchFilters, SearchRequest, SearchSort};
    use crate::search_output;
    let (from, to) = date_range(&args.dates)?;
    let filters = SearchFilters {
        from,
        to,
        speaker: args.speaker.clone(),
        agent: args.agent.clone(),
        language: args.language.clone(),
        call: args.call.clone(),
        rule: args.rule.clone(),
    };
    let request = SearchRequest {
        query: args.query.clone(),
        exact: args.exact,
        filters,
        sort: match args.sort {
            SortArg::Score => SearchSort::Score,
            SortArg::Date => SearchSort::Date,
        },
        limit: if args.count { 0 } else { args.limit },
        offset: args.offset,
    };
    let index = crate::index::SearchIndex::open(&args.out)?;
    let results = index.search(&request)?;
    audit(
        &args.out,
        "search",
        Some(&args.query),
        serde_json::json!({
            "from": args.dates.from, "to": args.dates.to, "speaker": args.speaker, "agent": args.agent,
            "language": args.language, "call": args.call, "exact": args.exact,
        }),
        results.total,
    )?;
    let out = if args.count {
        format!("{}\n", results.total)
    } else {
        match args.format {
            SearchFormat::Table => {
                let color = std::io::IsTerminal::is_terminal(&std::io::stdout());
                search_output::render_table(&results, color, &jiff::tz::TimeZone::system())
            }
            SearchFormat::Json => search_output::render_json(&results)?,
            SearchFormat::Csv => search_output::render_csv(&results)?,
        }
    };
    print!("{out}");
    Ok(EXIT_OK)
}

fn merge(args: MergeArgs) -> Result<u8> {
    let report = crate::merge::merge(&args.shards, &args.out)?;
    eprintln!(
        "merged {} shards into {}: {} calls ({} in several shards), {} transcripts written, {} removed, {} index documents, {} table rows, {} do-not-call numbers, {} run reports copied",
        report.shards.len(),
        args.out.display(),
        report.calls,
        report.in_several_shards,
        report.transcripts_written,
        report.transcripts_removed,
        report.index_docs,
        report.table_calls + report.table_segments + report.table_hits + report.table_scores,
        report.do_not_call,
        report.run_reports,
    );
    if args.json {
        let json = serde_json::to_string_pretty(&report)
            .map_err(|e| Error::Other(format!("merge report: {e}")))?;
        println!("{json}");
    }
    Ok(EXIT_OK)
}

fn export(args: ExportArgs) -> Result<u8> {
    use crate::export::{self, ExportOptions};
    let (from, to) = date_range(&args.dates)?;
    let ids = export::call_ids(&args.out)?;
    // Recorded before the first line leaves, like search and show: an
    // export that cannot be audited prints nothing.
    audit(
        &args.out,
        "export",
        None,
        serde_json::json!({ "from": args.dates.from, "to": args.dates.to, "format": "ndjson" }),
        ids.len(),
    )?;
    let stdout = std::io::stdout();
    let mut w = std::io::BufWriter::with_capacity(1 << 16, stdout.lock());
    let report = match args.format {
        crate::cli::ExportFormat::Ndjson => {
            export::export_ndjson(&args.out, &ids, &ExportOptions { from, to }, &mut w)?
        }
    };
    for line in export::summary_lines(&report) {
        eprintln!("{line}");
    }
    Ok(if report.failed.is_empty() {
        EXIT_OK
    } else {
        EXIT_SOME_FAILED
    })
}

fn serve(args: ServeArgs) -> Result<u8> {
    let settings =
        crate::serve::ServeSettings::resolve(&args.out, &args.bind, args.users.as_deref())?;
    crate::serve::serve(settings)?;
    Ok(EXIT_OK)
}

fn users(cmd: UsersCommand) -> Result<u8> {
    use crate::users::{Role, Users, check_name, read_new_password};
    match cmd {
        UsersCommand::Add { name, users, role } => {
            let role = match role {
                crate::cli::RoleArg::Viewer => Role::Viewer,
                crate::cli::RoleArg::Reviewer => Role::Reviewer,
            };
            // Name and file first: no password is asked for a bad one.
            check_name(&name)?;
            let mut list = Users::load_or_empty(&users)?;
            let password = read_new_password(&name)?;
            let replaced = list.add(&name, role, &password)?;
            list.save()?;
            let (verb, prep) = if replaced {
                ("updated", "in")
            } else {
                ("added", "to")
            };
            eprintln!("{verb} user {name} ({role}) {prep} {}", users.display());
        }
        UsersCommand::Remove { name, users } => {
            let mut list = Users::load(&users)?;
            if !list.remove(&name) {
                return Err(Error::UsersFile {
                    path: users,
                    message: format!("no user {name}"),
                    source: None,
                });
            }
            list.save()?;
            eprintln!("removed user {name} from {}", users.display());
        }
        UsersCommand::List { users } => {
            let mut out = String::new();
            for user in Users::load(&users)?.list() {
                out.push_str(&format!("{}\t{}\n", user.name, user.role.as_str()));
            }
            print!("{out}");
        }
    }
    Ok(EXIT_OK)
}

fn index(cmd: IndexCommand) -> Result<u8> {
    match cmd {
        IndexCommand::Rebuild { out } => {
            if !crate::sink::transcript_json::transcripts_dir(&out).is_dir() {
                return Err(Error::Usage(format!(
                    "--out {}: no transcripts/ folder to rebuild the index from",
                    out.display()
                )));
            }
            let _lock = crate::run_lock::acquire(&out, "index rebuild")?;
            let threads = std::thread::available_parallelism()
                .map_or(1, usize::from)
                .min(4);
            let report = crate::index::rebuild(
                &out,
                &crate::index::WriterOptions {
                    threads,
                    memory_bytes: 256 << 20,
                },
            )?;
            Ok(rebuilt(
                "index",
                report.calls,
                report.segments,
                &report.failed,
            ))
        }
    }
}

/// Prints what a rebuild did (each failed transcript, then one summary
/// line) and returns the exit code: 3 when a transcript failed.
fn rebuilt(what: &str, calls: usize, segments: usize, failed: &[impl std::fmt::Display]) -> u8 {
    for f in failed {
        eprintln!("error: {f}");
    }
    let failures = if failed.is_empty() {
        String::new()
    } else {
        format!(", {} transcripts failed", failed.len())
    };
    eprintln!("{what} rebuilt: {calls} calls, {segments} segments{failures}");
    if failed.is_empty() {
        EXIT_OK
    } else {
        EXIT_SOME_FAILED
    }
}

/// A run with rules: `OUT/runs/<run_id>/alerts.{json,csv}` and the line cron mails.
fn alerts(run: &crate::model::RunReport, pipeline: &PipelineFile, out: &Path) -> Result<()> {
    if !pipeline.has_rules() {
        return Ok(());
    }
    let dir = report::save_alerts(run, out)?;
    match report::alerts_line(run) {
        Some(line) => eprintln!("alerts: {line} (see {})", dir.join("alerts.csv").display()),
        None => eprintln!("alerts: no rule fired"),
    }
    Ok(())
}

fn rescore(args: RescoreArgs) -> Result<u8> {
    if !crate::sink::transcript_json::transcripts_dir(&args.out).is_dir() {
        return Err(Error::Usage(format!(
            "--out {}: no transcripts/ folder to rescore",
            args.out.display()
        )));
    }
    let pipeline = load_pipeline_file(Some(&args.pipeline))?;
    let name = pipeline_name_of(Some(&args.pipeline));
    let shard = shard_of(args.shard.as_deref())?;
    let _lock = crate::run_lock::acquire(&args.out, "rescore")?;
    let r = crate::rescore::rescore_shard(&args.out, &pipeline, &name, shard)?;
    if args.json {
        let json = serde_json::to_string_pretty(&r)
            .map_err(|e| Error::Other(format!("cannot serialise the summary: {e}")))?;
        println!("{json}");
    }
    eprintln!(
        "{}rescored {} calls with {}: {} changed; {} hits ({} high severity), {} do-not-call requests, {} numbers on the do-not-call export, {} scorecards{}",
        r.shard.map_or(String::new(), |s| format!(
            "shard {}/{} ({} calls are the other shards'): ",
            s.index, s.count, s.other_shards
        )),
        r.calls,
        args.pipeline.display(),
        r.changed,
        r.hits,
        r.high_severity_hits,
        r.dnc_requests,
        r.dnc_listed_numbers,
        r.scorecards,
        if r.failed.is_empty() {
            String::new()
        } else {
            format!("; {} transcripts failed", r.failed.len())
        }
    );
    for f in &r.failed {
        eprintln!("error: {f}");
    }
    Ok(if r.failed.is_empty() {
        EXIT_OK
    } else {
        EXIT_SOME_FAILED
    })
}

fn rules(cmd: RulesCommand) -> Result<u8> {
    match cmd {
        RulesCommand::Check { file } => {
            let p = load_pipeline_file(Some(&file))?;
            println!(
                "{}: ok: {} watchlists, {} do-not-call rules, {} scorecards ({} criteria){}{}",
                file.display(),
                p.watchlist.len(),
                p.do_not_call.len(),
                p.scorecard.len(),
                p.scorecard.iter().map(|c| c.criterion.len()).sum::<usize>(),
                if p.redact.is_empty() {
                    String::new()
                } else {
                    format!(
                        "; redacts {}",
                        p.redact
                            .iter()
                            .map(|k| k.as_str())
                            .collect::<Vec<_>>()
                            .join(", ")
                    )
                },
                if p.dnc_lists.is_empty() {
                    String::new()
                } else {
                    format!("; {} outside do-not-call lists", p.dnc_lists.len())
                }
            );
            for list in &p.dnc_lists {
                if !list.is_file() {
                    return Err(Error::Config {
                        path: file.clone(),
                        message: format!("dnc_lists: {} not found", list.display()),
                    });
                }
            }
            Ok(EXIT_OK)
        }
        RulesCommand::Test {
            file,
            transcript,
            out,
            json,
        } => {
            let p = load_pipeline_file(Some(&file))?;
            let name = pipeline_name_of(Some(&file));
            let mut t = crate::sink::transcript_json::read_transcript(&transcript)?;
            let scratch;
            let out_dir = match &out {
                Some(o) => o.as_path(),
                None => {
                    // No OUT: an empty do-not-call list (nothing is written there).
                    scratch = tempfile::tempdir()?;
                    scratch.path()
                }
            };
            let Some(mut stage) = crate::rules::RulesStage::open(&p, &name, out_dir)? else {
                println!("{}: no rules", file.display());
                return Ok(EXIT_OK);
            };
            stage.redact(&mut t);
            let judgement = stage.judge(&t)?;
            if json {
                let json = serde_json::to_string_pretty(&judgement.analysis)
                    .map_err(|e| Error::Other(format!("cannot serialise: {e}")))?;
                println!("{json}");
            } else {
                print!("{}", crate::rules::explain::render(&t, &judgement));
            }
            Ok(EXIT_OK)
        }
    }
}

fn status(args: StatusArgs) -> Result<u8> {
    let Some(manifest) = crate::manifest::Manifest::open_existing(&args.out)? else {
        println!(
            "{}: no manifest yet (no `callsift run` has finished there)",
            args.out.display()
        );
        return Ok(EXIT_OK);
    };
    let pipeline = load_pipeline_file(args.pipeline.as_deref())?;
    let fingerprint = crate::manifest::fingerprint(&pipeline);
    let model = args
        .model
        .clone()
        .or_else(|| std::env::var_os(config::MODEL_ENV).map(std::path::PathBuf::from))
        .or_else(|| pipeline.model.path.clone())
        .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
    let calls = manifest.live_calls()?;
    let other_model = calls
        .iter()
        .filter(|(_, c)| model.as_ref().is_some_and(|m| *m != c.model))
        .count();
    let other_settings = calls
        .iter()
        .filter(|(_, c)| c.fingerprint != fingerprint)
        .count();
    let stale = calls
        .iter()
        .filter(|(_, c)| {
            c.fingerprint != fingerprint || model.as_ref().is_some_and(|m| *m != c.model)
        })
        .count();
    println!("{} calls done in {}", calls.len(), args.out.display());
    println!(
        "{stale} stale for model {} and pipeline {}: {other_model} made with another model, {other_settings} with other settings",
        model.as_deref().unwrap_or("(not given: not compared)"),
        args.pipeline
            .as_deref()
            .map_or("default".to_string(), |p| p.display().to_string())
    );
    if stale > 0 {
        println!("`callsift run --reprocess-stale …` with that model and pipeline does them again");
    }
    Ok(EXIT_OK)
}

/// `callsift purge`: under the run lock, audited, summary on stderr (JSON on stdout).
fn purge(args: crate::cli::PurgeArgs) -> Result<u8> {
    if !args.out.is_dir() {
        return Err(Error::Other(format!(
            "--out {}: no such output folder",
            args.out.display()
        )));
    }
    let _lock = crate::run_lock::acquire(&args.out, "purge")?;
    let options = crate::purge::PurgeOptions {
        cutoff: crate::purge::cutoff(jiff::Timestamp::now(), args.older_than)?,
        dry_run: args.dry_run,
        delete_recordings: args.delete_recordings,
    };
    let report = crate::purge::purge(&args.out, &options)?;
    audit(
        &args.out,
        "purge",
        None,
        serde_json::json!({
            "older_than": format!("{:#}", args.older_than),
            "cutoff": report.cutoff,
            "dry_run": args.dry_run,
            "delete_recordings": args.delete_recordings,
        }),
        report.calls.len(),
    )?;
    print_purge(&report, args.json)?;
    Ok(EXIT_OK)
}

/// What a purge removed: a line per call and the summary on stderr, or the JSON on stdout.
fn print_purge(report: &crate::purge::PurgeReport, json: bool) -> Result<()> {
    if json {
        let text = serde_json::to_string_pretty(report)
            .map_err(|e| Error::Other(format!("cannot serialise the purge summary: {e}")))?;
        println!("{text}");
    } else {
        for c in &report.calls {
            let start = c.call_start.map_or("?".into(), |t| t.to_string());
            println!("{}  {start}  {}", c.call_id, c.source_path);
        }
    }
    let line = crate::purge::summary_line(report);
    tracing::info!("{line}");
    eprintln!("{line}");
    Ok(())
}

/// `retention_days` of the pipeline: the purge at the end of a run (the
/// caller holds the run lock, and every sink has committed and closed).
fn purge_after_run(out_dir: &Path, days: std::num::NonZeroU32) -> Result<()> {
    let options = crate::purge::PurgeOptions {
        cutoff: crate::purge::retention_cutoff(jiff::Timestamp::now(), days.get())?,
        dry_run: false,
        delete_recordings: false,
    };
    let report = crate::purge::purge(out_dir, &options)?;
    audit(
        out_dir,
        "purge",
        None,
        serde_json::json!({ "retention_days": days.get(), "cutoff": report.cutoff, "by": "run" }),
        report.calls.len(),
    )?;
    let line = format!(
        "retention ({} days): {}",
        days,
        crate::purge::summary_line(&report)
    );
    tracing::info!("{line}");
    eprintln!("{line}");
    Ok(())
}

fn audit_trail(args: AuditArgs) -> Result<u8> {
    let (from, to) = date_range(&DateRangeArgs {
        from: args.from.clone(),
        to: args.to.clone(),
    })?;
    let trail = crate::audit::read(
        &args.out,
        &crate::audit::AuditFilter {
            from,
            to,
            user: args.user.clone(),
        },
    )?;
    for bad in &trail.bad_lines {
        eprintln!("warning: {bad}");
    }
    if args.json {
        for r in &trail.records {
            let line = serde_json::to_string(r)
                .map_err(|e| Error::Other(format!("cannot serialise: {e}")))?;
            println!("{line}");
        }
    } else {
        print!("{}", crate::audit::render(&trail.records));
    }
    eprintln!("{} entries", trail.records.len());
    Ok(EXIT_OK)
}

fn tables(cmd: TablesCommand) -> Result<u8> {
    match cmd {
        TablesCommand::Rebuild { out, pipeline } => {
            if !crate::sink::transcript_json::transcripts_dir(&out).is_dir() {
                return Err(Error::Usage(format!(
                    "--out {}: no transcripts/ folder to rebuild the tables from",
                    out.display()
                )));
            }
            let pipeline = load_pipeline_file(pipeline.as_deref())?;
            let _lock = crate::run_lock::acquire(&out, "tables rebuild")?;
            let report = crate::tables::rebuild(&out, &pipeline.metrics)?;
            Ok(rebuilt(
                "tables",
                report.calls,
                report.segments,
                &report.failed,
            ))
        }
    }
}

/// `callsift report`: the calls table, summarised for a terminal (and a page).
fn report_calls(args: ReportArgs) -> Result<u8> {
    use crate::call_report::{self, GroupBy};
    let (from, to) = date_range(&args.dates)?;
    let rows = crate::tables::read_calls(&args.out)?;
    let rows = call_report::filter_dates(rows, from, to);
    let by = match args.by {
        GroupByArg::Agent => GroupBy::Agent,
        GroupByArg::Day => GroupBy::Day,
        GroupByArg::Direction => GroupBy::Direction,
    };
    let tz = jiff::tz::TimeZone::system();
    let mut summary = call_report::summarize(&rows, by, &tz);
    // The same range as the calls, by the call's start repeated in each row.
    let hits = call_report::filter_dates(crate::tables::read_hits(&args.out)?, from, to);
    let scores = call_report::filter_dates(crate::tables::read_scores(&args.out)?, from, to);
    summary.findings = call_report::summarize_findings(&hits, &scores, &tz);
    audit(
        &args.out,
        "report",
        None,
        serde_json::json!({ "from": args.dates.from, "to": args.dates.to, "by": format!("{:?}", args.by).to_lowercase() }),
        rows.len(),
    )?;
    print!("{}", call_report::render_text(&summary));
    if let Some(path) = &args.html {
        let title = format!("callsift report: {}", args.out.display());
        crate::atomic::write(
            path,
            call_report::render_html(&summary, &title).as_bytes(),
            crate::atomic::Access::Private,
        )?;
        eprintln!("wrote {}", path.display());
    }
    Ok(EXIT_OK)
}

fn import(args: ImportArgs) -> Result<u8> {
    use crate::import::{self, ImportFormat, ImportOptions};
    use crate::model::{InputStatus, RUN_SCHEMA, RunReport};
    let format: ImportFormat = args
        .format
        .parse()
        .map_err(|e| Error::Usage(format!("--format: {e}")))?;
    if let Some(lang) = &args.language {
        config::validate_language_flag(lang)?;
    }
    for f in &args.files {
        if !f.is_file() {
            return Err(Error::Usage(format!("{}: no such file", f.display())));
        }
    }
    let options = ImportOptions {
        language: args.language.clone(),
    };
    let pipeline = load_pipeline_file(args.pipeline.as_deref())?;
    let resolver = crate::metadata::MetadataResolver::new(&pipeline.metadata)?;
    let shard = shard_of(args.shard.as_deref())?;
    sink::check_out_dir(&args.out)?;
    let _lock = crate::run_lock::acquire(&args.out, "import")?;
    let started_at = jiff::Timestamp::now();
    let clock = std::time::Instant::now();
    let mut sinks = sink::output_sinks(
        &args.out,
        &pipeline,
        &pipeline_name_of(args.pipeline.as_deref()),
    )?;
    let mut inputs = Vec::new();
    let mut other_shards = 0;
    for path in &args.files {
        let imported = import::import_file(path, format, &options);
        // The call id is the import's own; a file that does not import has none.
        if let Some(shard) = shard {
            let mine = imported
                .as_ref()
                .map_or(shard.reports_ownerless(), |t| shard.owns_call(&t.call_id));
            if !mine {
                other_shards += 1;
                continue;
            }
        }
        let imported = imported.map(|mut t| {
            import::apply_metadata(&mut t, path, &resolver);
            t.processed_at.get_or_insert_with(jiff::Timestamp::now);
            t
        });
        let result = imported.and_then(|t| sink::feed(&mut sinks, t));
        inputs.push(match result {
            Ok(t) => crate::pipeline::ok_report(path, &t),
            // Not this file's fault, and every later one would fail too.
            Err(e) if sink::is_disk_full(&e) => {
                sink::finish_after_error(&mut sinks);
                return Err(sink::disk_full_error(&e));
            }
            Err(e) => {
                eprintln!("error: {e}");
                crate::pipeline::failed(path, &e)
            }
        });
    }
    for sink in sinks.iter_mut() {
        sink.finish()?;
    }
    let count = |s: InputStatus| inputs.iter().filter(|r| r.status == s).count();
    let run = RunReport {
        schema: RUN_SCHEMA.to_string(),
        run_id: crate::pipeline::run_id(started_at),
        started_at,
        finished_at: jiff::Timestamp::now(),
        model: "import".to_string(),
        workers: 1,
        threads: 1,
        ok: count(InputStatus::Ok),
        failed: count(InputStatus::Failed),
        skipped: 0,
        audio_ms: inputs.iter().map(|r| r.audio_ms).sum(),
        wall_ms: clock.elapsed().as_millis() as u64,
        stages: Default::default(),
        inputs,
        interrupted: false,
        shard: shard.map(|s| s.report(other_shards)),
    };
    report::save(&run, &args.out)?;
    if args.json {
        println!("{}", report::to_json(&run)?);
    }
    eprintln!("{}", report::summary_line(&run));
    alerts(&run, &pipeline, &args.out)?;
    Ok(if run.failed > 0 {
        EXIT_SOME_FAILED
    } else {
        EXIT_OK
    })
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
    let gpu = gpu_of(&args.transcribe);
    let transcriber = Arc::new(load_transcriber(
        &model_path,
        &pipeline,
        threads,
        true,
        gpu,
    )?);
    let model_name = crate::transcribe::Transcriber::model_name(transcriber.as_ref()).to_string();
    let engine = Engine::new(transcriber, pipeline, &pipeline_name(&args.transcribe))?;
    // The pipeline runs the references as one batch, as `run` would, so
    // its time is the batch's; the plain baseline goes file by file.
    let workers = match gpu {
        Some(_) => GPU_WORKERS,
        None => (cores() / threads).max(1),
    };
    let paths: Vec<std::path::PathBuf> = refs.iter().map(|e| e.path.clone()).collect();
    let mut batch = None;
    let mut systems = vec![eval::evaluate("pipeline", &refs, &mut |entry| {
        let results = batch.get_or_insert_with(|| {
            pipeline::transcribe_files(&paths, &engine, workers)
                .0
                .into_iter()
        });
        let _ = entry;
        let t = results.next().expect("one result per reference")?;
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
        // ... on every core, the way whisper.cpp's own tools run.
        let transcriber = load_transcriber(&model_path, &settings, cores(), false, gpu)?;
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
