//! Runs recordings through the stages. The only module that knows about
//! threads: recordings are processed in parallel on a rayon pool of
//! `workers` threads, each whisper call using `threads` threads, and the
//! results come back to one thread that feeds the sinks and the report in
//! the order calls finish. The report lists inputs in input order, and a
//! transcript depends only on its recording, so output is the same at 1 or
//! N workers.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::mpsc;
use std::time::Instant;

use rayon::prelude::*;

use crate::config::PipelineFile;
use crate::decode;
use crate::error::{Error, Result};
use crate::metadata::MetadataResolver;
use crate::model::{
    ChannelSpeech, DecodedAudio, InputReport, InputStatus, RUN_SCHEMA, RunReport, Segment,
    TRANSCRIPT_SCHEMA, Transcript, Window, WindowPiece,
};
use crate::resample;
use crate::sink::Sink;
use crate::transcribe::{Transcriber, guards};
use crate::vad::{self, EarshotDetector};

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

/// Decodes, transcribes and assembles the transcript of one recording.
pub fn process_file(path: &Path, hash: &blake3::Hash, engine: &Engine) -> Result<Transcript> {
    let clock = Instant::now();
    // Metadata first: it only reads names, a sidecar and the CDR, and a
    // value that does not parse is a warning, never a failure.
    let metadata = engine.metadata.resolve(path);
    let decoded = decode::decode_file(path)?;
    let mut warnings = metadata.warnings;
    for w in &warnings {
        tracing::warn!("{}: {w}", path.display());
    }
    if let Some(reason) = &decoded.truncated {
        tracing::warn!(
            "{}: {reason}; transcribing the audio before the break",
            path.display()
        );
        warnings.push(reason.clone());
    }
    let duration_ms = decoded.duration_ms();
    let (segments, speech, languages) =
        transcribe_audio(&decoded, engine).map_err(|e| match e {
            Error::Whisper(m) | Error::Resample(m) => Error::decode(path, m),
            other => other,
        })?;
    Ok(Transcript {
        schema: TRANSCRIPT_SCHEMA.to_string(),
        call_id: call_id_of(hash),
        source_path: path.display().to_string(),
        content_hash: format!("blake3:{}", hash.to_hex()),
        call_start: metadata.call_start,
        duration_ms,
        channels: decoded.channels.len(),
        sample_rate_hz: decoded.sample_rate_hz,
        codec: decoded.codec.clone(),
        metadata: metadata.values,
        metadata_source: metadata.sources,
        model: engine.transcriber.model_name().to_string(),
        languages,
        segments,
        speech,
        warnings,
        pipeline: engine.pipeline_name.clone(),
        processed_at: Some(jiff::Timestamp::now()),
        processing_ms: Some(clock.elapsed().as_millis() as u64),
    })
}

type ChannelResults = (Vec<Segment>, Vec<ChannelSpeech>, BTreeMap<String, String>);

/// Transcribes every speaker channel and merges the segments by time.
pub fn transcribe_audio(decoded: &DecodedAudio, engine: &Engine) -> Result<ChannelResults> {
    let pipeline = &engine.pipeline;
    let channels = speaker_channels(decoded);
    let channel_count = channels.len();
    let mut segments = Vec::new();
    let mut speech = Vec::new();
    let mut languages = BTreeMap::new();
    for (channel, samples) in channels.iter().enumerate() {
        let speaker = pipeline.speakers.speaker(channel, channel_count);
        let pcm = resample::to_16k(samples, decoded.sample_rate_hz)?;
        let spans = vad::detect_speech(&mut EarshotDetector::default(), &pcm, &pipeline.vad);
        let windows = vad::pack_windows(channel, &pcm, &spans, pipeline.vad.max_window_ms);
        drop(pcm);
        let (language, channel_segments) = transcribe_windows(&windows, engine)?;
        if let Some(language) = language {
            languages.insert(speaker.clone(), language);
        }
        segments.extend(channel_segments.into_iter().map(|(lang, s, window)| {
            let (start_ms, end_ms) = vad::map_segment(window, s.start_window_ms, s.end_window_ms);
            Segment {
                start_ms,
                end_ms,
                channel,
                speaker: speaker.clone(),
                language: lang,
                text: s.text,
                avg_logprob: round3(s.avg_logprob),
                no_speech_prob: round3(s.no_speech_prob),
            }
        }));
        speech.push(ChannelSpeech {
            channel,
            speaker,
            spans: spans.spans,
            talk: Some(spans.talk),
        });
    }
    segments.sort_by_key(|s| (s.start_ms, s.channel, s.end_ms));
    Ok((segments, speech, languages))
}

type TaggedSegment<'w> = (String, crate::model::WindowSegment, &'w Window);

/// Transcribes a channel's windows. With `language = "auto"` the language
/// is detected once, on the channel's longest window (among
/// `whisper.languages` when that is set), and given for every window: one
/// speaker keeps one language for the call, and short turns are not left
/// to guess on their own.
fn transcribe_windows<'w>(
    windows: &'w [Window],
    engine: &Engine,
) -> Result<(Option<String>, Vec<TaggedSegment<'w>>)> {
    let settings = &engine.pipeline;
    let Some(longest) = windows
        .iter()
        .enumerate()
        .max_by_key(|(i, w)| (w.samples.len(), std::cmp::Reverse(*i)))
        .map(|(_, w)| w)
    else {
        return Ok((None, Vec::new()));
    };
    let language = if settings.whisper.language == "auto" {
        engine
            .transcriber
            .detect_language(longest, &settings.whisper.languages)?
    } else {
        settings.whisper.language.clone()
    };
    let mut raw: Vec<Vec<crate::model::WindowSegment>> = Vec::with_capacity(windows.len());
    for window in windows {
        raw.push(
            engine
                .transcriber
                .transcribe(window, Some(&language))?
                .segments,
        );
    }
    let mut tagged = Vec::new();
    for (window, segs) in windows.iter().zip(raw) {
        for s in &segs {
            tracing::trace!(
                channel = window.channel,
                start = s.start_window_ms,
                end = s.end_window_ms,
                pieces = ?window.pieces,
                "raw segment: {}",
                s.text
            );
        }
        let segs: Vec<_> = segs
            .into_iter()
            .flat_map(|s| vad::split_at_pieces(window, s))
            .collect();
        let (kept, counts) = guards::apply(segs, &settings.guards, &settings.whisper);
        if counts != guards::GuardCounts::default() {
            tracing::debug!(?counts, channel = window.channel, "guards removed segments");
        }
        tagged.extend(kept.into_iter().map(|s| (language.clone(), s, window)));
    }
    Ok((Some(language), tagged))
}

/// The channels that carry distinct speakers. A "stereo" file whose two
/// channels are the same signal (a mono mix saved as stereo) is one speaker.
fn speaker_channels(decoded: &DecodedAudio) -> Vec<&[f32]> {
    let channels: Vec<&[f32]> = decoded.channels.iter().map(Vec::as_slice).collect();
    if channels.len() == 2 && channels_identical(channels[0], channels[1]) {
        return vec![channels[0]];
    }
    channels
}

fn channels_identical(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4)
}

fn round3(x: f32) -> f32 {
    if x.is_finite() {
        (x * 1000.0).round() / 1000.0
    } else {
        -99.0
    }
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
    let n = decoded.frames();
    let scale = 1.0 / decoded.channels.len().max(1) as f32;
    let mono: Vec<f32> = (0..n)
        .map(|i| decoded.channels.iter().map(|c| c[i]).sum::<f32>() * scale)
        .collect();
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
        for entry in walkdir::WalkDir::new(input)
            .follow_links(true)
            .sort_by_file_name()
        {
            let entry =
                entry.map_err(|e| Error::Other(format!("cannot walk {}: {e}", input.display())))?;
            if !entry.file_type().is_file() {
                continue;
            }
            let path = entry.into_path();
            let hidden = path
                .file_name()
                .is_some_and(|n| n.to_string_lossy().starts_with('.'));
            if hidden {
                continue;
            }
            if decode::is_audio_path(&path) {
                audio.push(path);
            } else {
                skipped.push(InputReport {
                    path: path.display().to_string(),
                    status: InputStatus::Skipped,
                    call_id: None,
                    error: Some("not an audio file extension".into()),
                    warnings: Vec::new(),
                    audio_ms: 0,
                    segments: 0,
                });
            }
        }
    }
    let mut seen = std::collections::HashSet::new();
    audio.retain(|p| seen.insert(p.clone()));
    Ok((audio, skipped))
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
    let (audio, skipped) = collect_inputs(inputs)?;
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(options.workers.max(1))
        .thread_name(|i| format!("callsift-worker-{i}"))
        .build()
        .map_err(|e| Error::Other(format!("cannot start worker threads: {e}")))?;

    // Hash first: the same recording given twice (copies, two paths) is
    // transcribed once.
    let hashes: Vec<Result<blake3::Hash>> =
        pool.install(|| audio.par_iter().map(|p| content_hash(p)).collect());
    let mut first_with_hash: BTreeMap<String, usize> = BTreeMap::new();
    let mut reports: Vec<Option<InputReport>> = vec![None; audio.len()];
    let mut jobs: Vec<(usize, blake3::Hash)> = Vec::new();
    for (i, hash) in hashes.into_iter().enumerate() {
        match hash {
            Err(e) => reports[i] = Some(failed(&audio[i], &e)),
            Ok(h) => {
                let id = call_id_of(&h);
                if let Some(&first) = first_with_hash.get(&id) {
                    reports[i] = Some(InputReport {
                        path: audio[i].display().to_string(),
                        status: InputStatus::Skipped,
                        call_id: Some(id),
                        error: Some(format!("same content as {}", audio[first].display())),
                        warnings: Vec::new(),
                        audio_ms: 0,
                        segments: 0,
                    });
                } else {
                    first_with_hash.insert(id, i);
                    jobs.push((i, h));
                }
            }
        }
    }

    let bar = progress_bar(options.progress, jobs.len() as u64);
    let (tx, rx) = mpsc::channel::<(usize, Result<Transcript>)>();
    std::thread::scope(|scope| -> Result<()> {
        let audio = &audio;
        let jobs = &jobs;
        let pool = &pool;
        scope.spawn(move || {
            pool.install(|| {
                jobs.par_iter().for_each_with(tx, |tx, &(i, hash)| {
                    let path = &audio[i];
                    tracing::debug!("{}: start", path.display());
                    let result = process_file(path, &hash, engine);
                    let _ = tx.send((i, result));
                });
            });
        });
        for (i, result) in rx {
            let path = &audio[i];
            let report = match result.and_then(|t| feed_sinks(sinks, &t).map(|()| t)) {
                Ok(t) => {
                    tracing::info!(
                        "{}: {} segments, call {}",
                        path.display(),
                        t.segments.len(),
                        t.call_id
                    );
                    ok_report(path, &t)
                }
                Err(e) => {
                    tracing::error!("{e}");
                    failed(path, &e)
                }
            };
            reports[i] = Some(report);
            if let Some(bar) = &bar {
                bar.inc(1);
                bar.set_message(short_name(path));
            }
        }
        Ok(())
    })?;
    if let Some(bar) = bar {
        bar.finish_and_clear();
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
        stages: Default::default(),
        inputs,
    })
}

fn feed_sinks(sinks: &mut [Box<dyn Sink>], transcript: &Transcript) -> Result<()> {
    for sink in sinks.iter_mut() {
        sink.accept(transcript).map_err(|e| {
            Error::Other(format!(
                "{}: sink {} failed: {e}",
                transcript.source_path,
                sink.name()
            ))
        })?;
    }
    Ok(())
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
