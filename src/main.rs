//! The `callsift` binary: parse arguments, set up logging, call the library,
//! map the outcome to an exit code (see `callsift --help`).

use std::process::ExitCode;

use clap::Parser;

use callsift::cli::Cli;
use callsift::commands;

// glibc's malloc serialises Tantivy's indexing threads on its arena locks
// (a third of indexing time in `perf`); mimalloc has per-thread heaps.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            let _ = e.print();
            // clap: 0 for --help/--version, 2 for usage errors.
            return ExitCode::from(e.exit_code() as u8);
        }
    };
    if let Err(e) = init_logging(cli.verbose, cli.quiet, cli.log_file.as_deref()) {
        eprintln!("error: {e}");
        return ExitCode::from(commands::EXIT_USAGE);
    }
    match commands::dispatch(cli) {
        Ok(code) => ExitCode::from(code),
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::from(commands::exit_code_for(&e))
        }
    }
}

fn init_logging(
    verbose: u8,
    quiet: bool,
    log_file: Option<&std::path::Path>,
) -> Result<(), String> {
    use tracing_subscriber::EnvFilter;
    // symphonia logs what it met while probing a bad file; callsift reports
    // the same failure itself, with the path, so those lines only repeat it.
    // whisper.cpp's own lines (routed through whisper-rs's hooks) are for
    // debugging it; cron mail at the default level carries only ours.
    let default = match (quiet, verbose) {
        (true, _) => "error,symphonia=off,whisper_rs=off",
        (false, 0) => "warn,symphonia=off,whisper_rs=off",
        (false, 1) => "info,symphonia=off,whisper_rs=warn",
        (false, _) => "debug",
    };
    let filter =
        EnvFilter::try_from_env("CALLSIFT_LOG").unwrap_or_else(|_| EnvFilter::new(default));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false);
    match log_file {
        None => builder
            .with_writer(std::io::stderr)
            .with_ansi(std::io::IsTerminal::is_terminal(&std::io::stderr()))
            .init(),
        Some(path) => {
            let file = std::fs::OpenOptions::new()
                .create(true)
                .append(true)
                .open(path)
                .map_err(|e| format!("--log-file {}: {e}", path.display()))?;
            builder
                .with_writer(std::sync::Mutex::new(file))
                .with_ansi(false)
                .init()
        }
    }
    Ok(())
}
