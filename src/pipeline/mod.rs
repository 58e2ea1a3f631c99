//! Schedules recordings through the stages; the only module that starts
//! threads.
//!
//! ```text
//! decoder thread: for each input in order: decode → resample → VAD → windows ─┐
//!                                                                             ▼
//!                         window queue (earliest call first, bounded audio)
//!                                                                             │
//! whisper workers (N threads, one whisper state each): detect / transcribe ◄──┘
//!                                                                             │
//! calling thread: collect each call's windows → assemble → sinks → report ◄───┘
//! ```
//!
//! The unit of whisper work is a speech window, and windows of both
//! channels of many calls share one queue, so every worker stays busy to
//! the end of a batch. A transcript depends only on its recording and the
//! settings (windows are cut the same way however the audio arrives, and
//! each window is decoded alone), so output is the same at 1 or N workers.

mod prepare;
pub mod queue;

use std::collections::{BTreeMap, HashMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::{Duration, Instant};

use crate::assemble::{self, ChannelParts};
use crate::config::PipelineFile;
use crate::decode;
use crate::error::{Error, Result};
use crate::metadata::MetadataResolver;
use crate::model::{
    InputReport, InputStatus, RUN_SCHEMA, RunReport, StageTimes, TRANSCRIPT_SCHEMA, Transcript,
    Window, WindowPiece, WindowTranscript,
};
use crate::resample;
use crate::sink::Sink;
use crate::transcribe::Transcriber;
use queue::{Task, WindowQueue};

/// Hex characters of the BLAKE3 hash used as the call id (80 bits).
const CALL_ID_HEX_LEN: usize = 20;

/// What every recording is processed with: one shared transcriber (the
/// model is loaded once) and the pipeline settings.
#[derive(Clone)]
pub struct Engine {
    pub transcriber: Arc<dyn Transcriber>,
    pub pipeline: PipelineFile,
    /// Name written into each transcript's `pipeline` field.
    pub pipeline_name: String,
    /// The call metadata stage (its CDR file loaded once per run).
    pub metadata: Arc<MetadataResolver>,
}

impl Engine {
    /// An engine with the pipeline's metadata stage built; `pipeline_name`
    /// is the pipeline file's name (`default` without one).
    pub fn new(
        transcriber: Arc<dyn Transcriber>,
        pipeline: PipelineFile,
        pipeline_name: &str,
    ) -> Result<Self> {
        let metadata = Arc::new(MetadataResolver::new(&pipeline.metadata)?);
        Ok(Self {
            transcriber,
            pipeline,
            pipeline_name: pipeline_name.to_string(),
            metadata,
        })
    }
}

/// The BLAKE3 hash of a file's bytes, streamed.
pub fn content_hash(path: &Path) -> Result<blake3::Hash> {
    let mut hasher = blake3::Hasher::new();
    let file = fs_err::File::open(path)?;
    hasher.update_reader(file).map_err(|e| {
        Error::Io(std::io::Error::new(
            e.kind(),
            format!("cannot read {}: {e}", path.display()),
        ))
    })?;
    Ok(hasher.finalize())
}

/// The call id: the first 20 hex characters of the content hash, so the
/// same recording gets the same id wherever and whenever it is processed.
pub fn call_id_of(hash: &blake3::Hash) -> String {
    hash.to_hex()[..CALL_ID_HEX_LEN].to_string()
}

/// Result of the plain way of running whisper, for `eval --plain`.
#[derive(Debug, Clone)]
pub struct PlainTranscript {
    pub text: String,
    pub language: String,
    pub audio_ms: u64,
}

/// Transcribes a file the plain way: channels mixed to mono, the whole
/// file in one whisper call (whisper seeks through it in 30 s steps), no
/// VAD, no guards, language detected by whisper.
pub fn transcribe_plain(path: &Path, transcriber: &dyn Transcriber) -> Result<PlainTranscript> {
    let decoded = decode::decode_file(path)?;
    let mono = crate::channels::mix_mono(&decoded.channels);
    let pcm = resample::to_16k(&mono, decoded.sample_rate_hz)?;
    let duration_ms = pcm.duration_ms();
    let window = Window {
        channel: 0,
        pieces: vec![WindowPiece {
            window_start_ms: 0,
            source_start_ms: 0,
            duration_ms,
        }],
        samples: pcm.into_samples(),
    };
    let out = transcriber.transcribe(&window, None)?;
    let text = out
        .segments
        .iter()
        .map(|s| s.text.trim())
        .filter(|t| !t.is_empty())
        .collect::<Vec<_>>()
        .join(" ");
    Ok(PlainTranscript {
        text,
        language: out.language,
        audio_ms: decoded.duration_ms(),
    })
}

/// Expands inputs (files and folders, walked recursively in name order)
/// into the recordings to process and the files skipped. A file named
/// directly is always tried; in folders only audio extensions are.
pub fn collect_inputs(inputs: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<InputReport>)> {
    let mut audio = Vec::new();
    let mut skipped = Vec::new();
    for input in inputs {
        let meta = fs_err::metadata(input)
            .map_err(|e| Error::Usage(format!("input {}: {}", input.display(), io_reason(&e))))?;
        if meta.is_file() {
            audio.push(input.clone());
            continue;
        }
        walk(input, &mut audio, &mut skipped);
    }
    let mut seen = std::collections::HashSet::new();
    audio.retain(|p| seen.insert(p.clone()));
    Ok((audio, skipped))
}

/// [`collect_inputs`] over a list planned earlier: a recording gone since
/// (deleted or moved by the recorder while the model loaded) fails alone
/// when it is read, instead of ending the run as a missing `--input` does.
fn collect_planned(inputs: &[PathBuf]) -> Result<(Vec<PathBuf>, Vec<InputReport>)> {
    let (mut audio, mut skipped) = (Vec::new(), Vec::new());
    for input in inputs {
        if std::fs::metadata(input).is_err() {
            audio.push(input.clone());
            continue;
        }
        let (a, s) = collect_inputs(std::slice::from_ref(input))?;
        audio.extend(a);
        skipped.extend(s);
    }
    let mut seen = std::collections::HashSet::new();
    audio.retain(|p| seen.insert(p.clone()));
    Ok((audio, skipped))
}

/// Walks one folder. A bad entry (symlink loop, dangling link, unreadable
/// folder, a folder or pipe named like a recording) becomes that entry's
/// report line and the walk goes on: one odd file must not cost the night.
fn walk(dir: &Path, audio: &mut Vec<PathBuf>, skipped: &mut Vec<InputReport>) {
    for entry in walkdir::WalkDir::new(dir)
        .follow_links(true)
        .sort_by_file_name()
    {
        let entry = match entry {
            Ok(entry) => entry,
            Err(e) => {
                skipped.push(walk_error_report(dir, &e));
                continue;
            }
        };
        let kind = entry.file_type();
        let path = entry.into_path();
        let named_audio = decode::is_audio_path(&path);
        if kind.is_dir() {
            if named_audio && path != dir {
                skipped.push(skipped_report(
                    &path,
                    "a folder named like a recording, not a file".into(),
                ));
            }
            continue;
        }
        let hidden = path
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with('.'));
        if hidden {
            continue;
        }
        if !kind.is_file() {
            // Opening a FIFO named x.wav would block the run forever.
            if named_audio {
                skipped.push(skipped_report(
                    &path,
                    "not a regular file (a pipe, socket or device)".into(),
                ));
            }
        } else if named_audio {
            audio.push(path);
        } else {
            skipped.push(skipped_report(&path, "not an audio file extension".into()));
        }
    }
}

/// The report line of an entry the walk could not follow. A loop back to a
/// folder already walked loses nothing (skipped); a link or folder that
/// cannot be read may hide a recording (failed, when it could be one).
fn walk_error_report(dir: &Path, e: &walkdir::Error) -> InputReport {
    let path = e.path().unwrap_or(dir);
    if let Some(ancestor) = e.loop_ancestor() {
        return skipped_report(
            path,
            format!(
                "symlink loop: points back to {}, not followed",
                ancestor.display()
            ),
        );
    }
    let io = e.io_error();
    let reason = match io {
        Some(io) if io.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            "symlink loop: the link leads back to itself".to_string()
        }
        Some(io) if io.kind() == std::io::ErrorKind::NotFound => {
            "dangling symlink or vanished while listed: no such file".to_string()
        }
        Some(io) if io.kind() == std::io::ErrorKind::PermissionDenied => {
            "cannot read: permission denied".to_string()
        }
        _ => format!("cannot walk: {e}"),
    };
    let denied = io.is_some_and(|io| io.kind() == std::io::ErrorKind::PermissionDenied);
    if decode::is_audio_path(path) || denied {
        tracing::error!("{}: {reason}", path.display());
        InputReport {
            status: InputStatus::Failed,
            ..skipped_report(path, reason)
        }
    } else {
        skipped_report(path, reason)
    }
}

fn io_reason(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        _ => e.to_string(),
    }
}

/// How a run is carried out.
#[derive(Debug, Clone)]
pub struct RunOptions {
    pub workers: usize,
    pub threads: usize,
    pub progress: bool,
    /// Set by SIGINT/SIGTERM: no recording is started after it, the ones in
    /// flight are finished (see [`crate::interrupt`]).
    pub stop: crate::interrupt::StopFlag,
}

/// The report of a call a sink could not store. A full output folder
/// (see [`crate::sink::is_disk_full`]) also stops the run, keeping the
/// first such error in `disk_full`: no later call could be stored either.
fn sink_failed(
    path: &Path,
    e: &Error,
    disk_full: &mut Option<Error>,
    stop: &crate::interrupt::StopFlag,
) -> InputReport {
    tracing::error!("{e}");
    if disk_full.is_none() && crate::sink::is_disk_full(e) {
        *disk_full = Some(crate::sink::disk_full_error(e));
        stop.stop();
    }
    failed(path, e)
}

/// Processes every input and feeds finished calls to the sinks. One bad
/// recording is recorded in the report and never stops the batch.
pub fn run(
    inputs: &[PathBuf],
    engine: &Engine,
    sinks: &mut [Box<dyn Sink>],
    options: &RunOptions,
) -> Result<RunReport> {
    let started_at = jiff::Timestamp::now();
    let clock = Instant::now();
    let (audio, skipped) = collect_planned(inputs)?;
    let bar = progress_bar(options.progress, audio.len() as u64);
    let mut reports: Vec<Option<InputReport>> = vec![None; audio.len()];
    let stop = &options.stop;
    // A full output folder stops the run: every later call would fail too.
    let mut disk_full: Option<Error> = None;
    let stages = schedule(
        &audio,
        engine,
        options.workers,
        stop,
        &mut |call, outcome| {
            let path = &audio[call];
            let report = match outcome {
                CallOutcome::Done(t) => match crate::sink::feed(sinks, *t) {
                    Ok(t) => {
                        tracing::info!(
                            "{}: {} segments, call {}",
                            path.display(),
                            t.segments.len(),
                            t.call_id
                        );
                        ok_report(path, &t)
                    }
                    Err(e) => sink_failed(path, &e, &mut disk_full, stop),
                },
                CallOutcome::Failed(e) => {
                    tracing::error!("{e}");
                    failed(path, &e)
                }
                CallOutcome::Duplicate { of, call_id } => InputReport {
                    call_id: Some(call_id),
                    ..skipped_report(path, format!("same content as {}", audio[of].display()))
                },
                CallOutcome::Interrupted => skipped_report(path, INTERRUPTED_REASON.to_string()),
            };
            reports[call] = Some(report);
            if let Some(bar) = &bar {
                bar.inc(1);
                bar.set_message(short_name(path));
            }
        },
    );
    if let Some(bar) = bar {
        bar.finish_and_clear();
    }
    if let Some(e) = disk_full {
        crate::sink::finish_after_error(sinks);
        return Err(e);
    }
    for sink in sinks.iter_mut() {
        sink.finish()?;
    }

    let mut inputs: Vec<InputReport> = reports
        .into_iter()
        .map(|r| r.expect("every input reported"))
        .collect();
    inputs.extend(skipped);
    let count = |s: InputStatus| inputs.iter().filter(|r| r.status == s).count();
    let finished_at = jiff::Timestamp::now();
    Ok(RunReport {
        schema: RUN_SCHEMA.to_string(),
        run_id: run_id(started_at),
        started_at,
        finished_at,
        model: engine.transcriber.model_name().to_string(),
        workers: options.workers,
        threads: options.threads,
        ok: count(InputStatus::Ok),
        failed: count(InputStatus::Failed),
        skipped: count(InputStatus::Skipped),
        audio_ms: inputs.iter().map(|r| r.audio_ms).sum(),
        wall_ms: clock.elapsed().as_millis() as u64,
        stages,
        inputs,
        interrupted: stop.is_stopped(),
        shard: None,
    })
}

/// Why a recording a stopped run left is skipped.
pub const INTERRUPTED_REASON: &str =
    "interrupted (SIGINT/SIGTERM) before it was finished; the next run does it";

/// How often the collector looks at the stop flag while no event comes.
const STOP_POLL: Duration = Duration::from_millis(100);

fn skipped_report(path: &Path, why: String) -> InputReport {
    InputReport {
        path: path.display().to_string(),
        status: InputStatus::Skipped,
        call_id: None,
        error: Some(why),
        warnings: Vec::new(),
        audio_ms: 0,
        segments: 0,
        hits: Vec::new(),
    }
}

/// Transcribes recordings without sinks (for `eval`, tests and benches):
/// one result per path, in order. A path given twice is transcribed once
/// and both get the transcript.
pub fn transcribe_files(
    paths: &[PathBuf],
    engine: &Engine,
    workers: usize,
) -> (Vec<Result<Transcript>>, StageTimes) {
    let mut out: Vec<Option<Result<Transcript>>> = (0..paths.len()).map(|_| None).collect();
    let mut duplicates = Vec::new();
    let never = crate::interrupt::StopFlag::new();
    let stages = schedule(paths, engine, workers, &never, &mut |call, outcome| {
        out[call] = Some(match outcome {
            CallOutcome::Done(t) => Ok(*t),
            CallOutcome::Failed(e) => Err(e),
            CallOutcome::Duplicate { of, .. } => {
                duplicates.push((call, of));
                Err(Error::Other("duplicate".into()))
            }
            CallOutcome::Interrupted => Err(Error::Other(INTERRUPTED_REASON.into())),
        });
    });
    for (call, of) in duplicates {
        out[call] = Some(match &out[of] {
            Some(Ok(t)) => Ok(t.clone()),
            _ => Err(Error::Other(format!(
                "{}: same content as {}, which failed",
                paths[call].display(),
                paths[of].display()
            ))),
        });
    }
    let results = out
        .into_iter()
        .map(|r| r.expect("every path has an outcome"))
        .collect();
    (results, stages)
}

/// Decodes, transcribes and assembles the transcript of one recording,
/// with one whisper worker.
pub fn process_file(path: &Path, engine: &Engine) -> Result<Transcript> {
    let (mut results, _) = transcribe_files(&[path.to_path_buf()], engine, 1);
    results.pop().expect("one result")
}

/// What became of one input.
enum CallOutcome {
    Done(Box<Transcript>),
    Failed(Error),
    /// The same bytes as the earlier input `of`.
    Duplicate {
        of: usize,
        call_id: String,
    },
    /// Not started: a stop was asked for first.
    Interrupted,
}

/// What the decoder thread and the workers tell the calling thread.
enum Event {
    Prepared {
        call: usize,
        prepared: Box<prepare::Prepared>,
        started: Instant,
    },
    Failed {
        call: usize,
        error: Error,
    },
    Duplicate {
        call: usize,
        of: usize,
        call_id: String,
    },
    Language {
        call: usize,
        elapsed: Duration,
        result: Result<String>,
    },
    Window {
        call: usize,
        channel: usize,
        index: usize,
        /// The window's pieces (its samples are dropped once transcribed).
        window: Window,
        language: String,
        audio_ms: u64,
        result: Result<WindowTranscript>,
    },
}

/// Audio the window queue may hold: a few full windows per worker, so the
/// workers never wait for the decoder while memory stays bounded.
fn queue_capacity(workers: usize) -> usize {
    (3 * workers).max(4) * 30 * 16_000
}

/// Runs the decoder thread, `workers` whisper workers and the collector
/// (on the calling thread, which alone calls `on_call`).
fn schedule(
    audio: &[PathBuf],
    engine: &Engine,
    workers: usize,
    stop: &crate::interrupt::StopFlag,
    on_call: &mut dyn FnMut(usize, CallOutcome),
) -> StageTimes {
    let queue = WindowQueue::new(queue_capacity(workers.max(1)));
    let language = crate::transcribe::given_language(&engine.pipeline.whisper);
    let (tx, rx) = mpsc::channel::<Event>();
    let mut collector = Collector::new(audio, engine, &queue);
    std::thread::scope(|scope| {
        let queue = &queue;
        let tx_decoder = tx.clone();
        std::thread::Builder::new()
            .name("callsift-decoder".into())
            .spawn_scoped(scope, move || {
                decoder_thread(audio, engine, queue, language, stop, &tx_decoder)
            })
            .expect("cannot start the decoder thread");
        for i in 0..workers.max(1) {
            let tx = tx.clone();
            std::thread::Builder::new()
                .name(format!("callsift-worker-{i}"))
                .spawn_scoped(scope, move || worker(queue, engine, &tx))
                .expect("cannot start a worker thread");
        }
        drop(tx);
        // Polled so a stop reaches the queue even while no event comes.
        let mut stopping = false;
        loop {
            match rx.recv_timeout(STOP_POLL) {
                Ok(event) => collector.handle(event, on_call),
                Err(mpsc::RecvTimeoutError::Timeout) => {}
                Err(mpsc::RecvTimeoutError::Disconnected) => break,
            }
            if !stopping && stop.is_stopped() {
                stopping = true;
                tracing::warn!(
                    "stop asked for: finishing the calls whisper began, leaving the rest for the next run"
                );
                queue.stop();
            }
        }
        // A stop before the first poll (during the model load, say) ended
        // the threads before the loop saw it.
        collector.finish(stopping || stop.is_stopped(), on_call);
    });
    collector.stages
}

/// Prepares the inputs in order, queueing their windows; drops a
/// recording whose bytes an earlier input already had. Once `stop` is set
/// it starts no more recordings (one being read is read to its end: its
/// windows are kept if whisper began on it, dropped by the queue if not).
fn decoder_thread(
    audio: &[PathBuf],
    engine: &Engine,
    queue: &WindowQueue,
    language: Option<String>,
    stop: &crate::interrupt::StopFlag,
    tx: &mpsc::Sender<Event>,
) {
    let mut seen: HashMap<blake3::Hash, usize> = HashMap::new();
    for (call, path) in audio.iter().enumerate() {
        if stop.is_stopped() {
            break;
        }
        tracing::debug!("{}: start", path.display());
        let started = Instant::now();
        let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            prepare::prepare(call, path, engine, queue, language.clone())
        }))
        .unwrap_or_else(|_| {
            Err(Error::decode(
                path,
                "internal error while decoding (a bug: please report it)",
            ))
        });
        let event = match result {
            Ok(prepared) => match seen.get(&prepared.end.hash) {
                Some(&of) => {
                    queue.cancel(call);
                    Event::Duplicate {
                        call,
                        of,
                        call_id: call_id_of(&prepared.end.hash),
                    }
                }
                None => {
                    seen.insert(prepared.end.hash, call);
                    Event::Prepared {
                        call,
                        prepared: Box::new(prepared),
                        started,
                    }
                }
            },
            Err(error) => {
                queue.cancel(call);
                Event::Failed { call, error }
            }
        };
        if tx.send(event).is_err() {
            break;
        }
    }
    queue.close();
}

/// A whisper worker: takes jobs until the queue is done. A panic inside
/// whisper fails the window's call, not the run.
fn worker(queue: &WindowQueue, engine: &Engine, tx: &mpsc::Sender<Event>) {
    let transcriber = engine.transcriber.as_ref();
    let allowed = &engine.pipeline.whisper.languages;
    while let Some(job) = queue.take() {
        let event = match &job.task {
            Task::Detect => {
                let clock = Instant::now();
                let result = guarded(|| transcriber.detect_language(&job.window, allowed));
                if let Ok(lang) = &result {
                    tracing::debug!(call = job.call, channel = job.channel, "language {lang}");
                    queue.set_language(job.call, job.channel, lang);
                }
                Event::Language {
                    call: job.call,
                    elapsed: clock.elapsed(),
                    result,
                }
            }
            Task::Transcribe { language } => Event::Window {
                call: job.call,
                channel: job.channel,
                index: job.index,
                window: Window {
                    channel: job.window.channel,
                    pieces: job.window.pieces.clone(),
                    samples: Vec::new(),
                },
                language: language.clone(),
                audio_ms: job.window.samples.len() as u64 / 16,
                result: guarded(|| transcriber.transcribe(&job.window, Some(language))),
            },
        };
        drop(job);
        let _ = tx.send(event);
        queue.done();
    }
}

/// Runs a whisper call, turning a panic into the window's error.
fn guarded<T>(f: impl FnOnce() -> Result<T>) -> Result<T> {
    std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).unwrap_or_else(|_| {
        Err(Error::Whisper(
            "whisper crashed on a window (a bug: please report it)".into(),
        ))
    })
}

/// The calling thread's view of the calls in flight.
struct Collector<'a> {
    audio: &'a [PathBuf],
    engine: &'a Engine,
    queue: &'a WindowQueue,
    calls: BTreeMap<usize, InFlight>,
    finished: HashSet<usize>,
    stages: StageTimes,
}

#[derive(Default)]
struct InFlight {
    prepared: Option<(Box<prepare::Prepared>, Instant)>,
    windows: BTreeMap<(usize, usize), (Window, String, WindowTranscript)>,
}

impl<'a> Collector<'a> {
    fn new(audio: &'a [PathBuf], engine: &'a Engine, queue: &'a WindowQueue) -> Self {
        Self {
            audio,
            engine,
            queue,
            calls: BTreeMap::new(),
            finished: HashSet::new(),
            stages: StageTimes::default(),
        }
    }

    fn handle(&mut self, event: Event, on_call: &mut dyn FnMut(usize, CallOutcome)) {
        let call = match &event {
            Event::Prepared { call, .. }
            | Event::Failed { call, .. }
            | Event::Duplicate { call, .. }
            | Event::Language { call, .. }
            | Event::Window { call, .. } => *call,
        };
        if let Event::Language { elapsed, .. } = &event {
            self.stages.language_ms += elapsed.as_millis() as u64;
        }
        if let Event::Prepared { prepared, .. } = &event {
            self.stages.decode_ms += prepared.decode.as_millis() as u64;
            self.stages.resample_ms += prepared.resample.as_millis() as u64;
            self.stages.vad_ms += prepared.vad.as_millis() as u64;
        }
        if let Event::Window {
            result: Ok(t),
            audio_ms,
            ..
        } = &event
        {
            self.count_window(t, *audio_ms);
        }
        if self.finished.contains(&call) {
            return;
        }
        match event {
            Event::Prepared {
                prepared, started, ..
            } => self.calls.entry(call).or_default().prepared = Some((prepared, started)),
            Event::Failed { error, .. } => return self.fail(call, error, on_call),
            Event::Language { result, .. } => {
                if let Err(e) = result {
                    return self.fail(call, e, on_call);
                }
            }
            Event::Duplicate { of, call_id, .. } => {
                self.calls.remove(&call);
                self.finished.insert(call);
                return on_call(call, CallOutcome::Duplicate { of, call_id });
            }
            Event::Window {
                channel,
                index,
                window,
                language,
                result,
                ..
            } => match result {
                Ok(t) => {
                    let entry = self.calls.entry(call).or_default();
                    entry
                        .windows
                        .insert((channel, index), (window, language, t));
                }
                Err(e) => return self.fail(call, e, on_call),
            },
        }
        self.complete_if_done(call, on_call);
    }

    fn count_window(&mut self, t: &WindowTranscript, audio_ms: u64) {
        let s = &mut self.stages;
        let st = &t.stats;
        s.mel_ms += st.mel_ms;
        s.encoder_ms += st.encoder_ms;
        s.decoder_ms += st.decoder_ms;
        s.windows += 1;
        s.window_audio_ms += audio_ms;
        s.retries += u64::from(st.retried);
        s.loops += u64::from(st.looped);
        s.tails += u64::from(st.tails_redecoded);
        if audio_ms > 0 {
            let per_s =
                (st.mel_ms + st.encoder_ms + st.decoder_ms) as f64 * 1000.0 / audio_ms as f64;
            s.slowest_window_ms_per_s =
                s.slowest_window_ms_per_s.max((per_s * 10.0).round() / 10.0);
        }
    }

    fn fail(&mut self, call: usize, error: Error, on_call: &mut dyn FnMut(usize, CallOutcome)) {
        self.queue.cancel(call);
        self.calls.remove(&call);
        self.finished.insert(call);
        let path = &self.audio[call];
        let error = match error {
            Error::Whisper(m) | Error::Resample(m) => Error::decode(path, m),
            other => other,
        };
        on_call(call, CallOutcome::Failed(error));
    }

    fn complete_if_done(&mut self, call: usize, on_call: &mut dyn FnMut(usize, CallOutcome)) {
        let Some(entry) = self.calls.get(&call) else {
            return;
        };
        let Some((prepared, _)) = &entry.prepared else {
            return;
        };
        let expected: usize = prepared.channels.iter().map(|c| c.windows).sum();
        if entry.windows.len() < expected {
            return;
        }
        let entry = self.calls.remove(&call).expect("call in flight");
        self.finished.insert(call);
        self.queue.forget(call);
        let transcript = build_transcript(&self.audio[call], entry, self.engine);
        on_call(call, CallOutcome::Done(Box::new(transcript)));
    }

    /// Calls still open when every thread is done were left by a stop,
    /// or else lost a window to a bug (they fail rather than vanish from
    /// the report).
    fn finish(&mut self, stopped: bool, on_call: &mut dyn FnMut(usize, CallOutcome)) {
        for call in 0..self.audio.len() {
            if stopped && !self.finished.contains(&call) {
                self.calls.remove(&call);
                self.finished.insert(call);
                on_call(call, CallOutcome::Interrupted);
            } else if !self.finished.contains(&call) {
                let e = Error::decode(
                    &self.audio[call],
                    "internal error: the call was not finished (a bug: please report it)",
                );
                self.fail(call, e, on_call);
            }
        }
    }
}

/// A finished call's transcript.
fn build_transcript(path: &Path, entry: InFlight, engine: &Engine) -> Transcript {
    let (prepared, started) = entry.prepared.expect("prepared call");
    let prepare::Prepared {
        info,
        end,
        metadata,
        channels,
        ..
    } = *prepared;
    let mut warnings = metadata.warnings;
    for w in &warnings {
        tracing::warn!("{}: {w}", path.display());
    }
    if let Some(reason) = &end.truncated {
        tracing::warn!(
            "{}: {reason}; transcribing the audio before the break",
            path.display()
        );
        warnings.push(reason.clone());
    }
    let count = channels.len();
    let mut windows = entry.windows;
    let parts = channels
        .into_iter()
        .map(|c| {
            let mut language = None;
            let mut own = Vec::with_capacity(c.windows);
            for index in 0..c.windows {
                let (window, lang, t) = windows.remove(&(c.channel, index)).expect("window done");
                if t.stats.gave_up {
                    let at = window.pieces.first().map_or(0, |p| p.source_start_ms);
                    let msg = format!(
                        "channel {} at {}: whisper did not finish decoding a window; its text is missing",
                        c.channel,
                        crate::show::clock(at)
                    );
                    tracing::warn!("{}: {msg}", path.display());
                    warnings.push(msg);
                }
                language.get_or_insert(lang);
                own.push((window, t));
            }
            ChannelParts {
                channel: c.channel,
                speaker: engine.pipeline.speakers.speaker(c.channel, count),
                speech: c.speech,
                language,
                windows: own,
            }
        })
        .collect();
    let assembled = assemble::assemble(parts, &engine.pipeline);
    let rate = u64::from(info.sample_rate_hz.max(1));
    Transcript {
        schema: TRANSCRIPT_SCHEMA.to_string(),
        call_id: call_id_of(&end.hash),
        source_path: path.display().to_string(),
        content_hash: format!("blake3:{}", end.hash.to_hex()),
        call_start: metadata.call_start,
        duration_ms: end.frames * 1000 / rate,
        channels: info.channels,
        sample_rate_hz: info.sample_rate_hz,
        codec: info.codec,
        metadata: metadata.values,
        metadata_source: metadata.sources,
        model: engine.transcriber.model_name().to_string(),
        languages: assembled.languages,
        segments: assembled.segments,
        speech: assembled.speech,
        warnings,
        pipeline: engine.pipeline_name.clone(),
        processed_at: Some(jiff::Timestamp::now()),
        processing_ms: Some(started.elapsed().as_millis() as u64),
        analysis: None,
    }
}

/// The report line of a call that went through.
pub fn ok_report(path: &Path, t: &Transcript) -> InputReport {
    InputReport {
        path: path.display().to_string(),
        status: InputStatus::Ok,
        call_id: Some(t.call_id.clone()),
        error: None,
        warnings: t.warnings.clone(),
        audio_ms: t.duration_ms,
        segments: t.segments.len(),
        hits: t
            .analysis
            .as_ref()
            .map(|a| a.hits.clone())
            .unwrap_or_default(),
    }
}

/// The report line of an input that failed.
pub fn failed(path: &Path, error: &Error) -> InputReport {
    let message = error.to_string();
    // Decode errors already start with the path; keep the summary's error
    // field to the reason.
    let prefix = format!("{}: ", path.display());
    let reason = message
        .strip_prefix(&prefix)
        .unwrap_or(&message)
        .to_string();
    InputReport {
        path: path.display().to_string(),
        status: InputStatus::Failed,
        call_id: None,
        error: Some(reason),
        warnings: Vec::new(),
        audio_ms: 0,
        segments: 0,
        hits: Vec::new(),
    }
}

fn short_name(path: &Path) -> String {
    path.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

/// `20261123T101500Z-1a2b`: sortable by time, unique per process.
pub fn run_id(started_at: jiff::Timestamp) -> String {
    let nanos = started_at.subsec_nanosecond() as u32;
    format!(
        "{}-{:04x}",
        started_at.strftime("%Y%m%dT%H%M%SZ"),
        (std::process::id() ^ nanos) & 0xffff
    )
}

fn progress_bar(enabled: bool, len: u64) -> Option<indicatif::ProgressBar> {
    use std::io::IsTerminal;
    if !enabled || !std::io::stderr().is_terminal() {
        return None;
    }
    let bar = indicatif::ProgressBar::new(len);
    bar.set_style(
        indicatif::ProgressStyle::with_template(
            "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} recordings (eta {eta}) {msg}",
        )
        .expect("valid template"),
    );
    bar.enable_steady_tick(std::time::Duration::from_millis(200));
    Some(bar)
}
