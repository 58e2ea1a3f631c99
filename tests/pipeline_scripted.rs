//! The stages after transcription, with the scripted transcriber (known
//! text, no model): speakers by channel, time remapping onto the call's
//! timeline, merging by time, sinks, and identical output at 1 or N workers.
//! Nothing here claims to test whisper.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use callsift::config::PipelineFile;
use callsift::model::{InputStatus, Transcript};
use callsift::pipeline::{self, Engine, RunOptions};
use callsift::transcribe::scripted::ScriptedTranscriber;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn engine() -> Engine {
    Engine::new(
        Arc::new(ScriptedTranscriber::new(
            vec!["hello".into(), "line two".into(), "third line".into()],
            "en",
        )),
        PipelineFile::default(),
        "default",
    )
    .unwrap()
}

#[test]
fn stereo_call_is_two_speakers_on_the_call_timeline() {
    let path = samples().join("call-en-support.wav");
    let hash = pipeline::content_hash(&path).unwrap();
    let t = pipeline::process_file(&path, &engine()).unwrap();
    assert_eq!(t.content_hash, format!("blake3:{}", hash.to_hex()));
    assert_eq!(t.channels, 2);
    assert_eq!(t.model, "scripted (test transcriber, no model)");
    assert_eq!(t.call_id.len(), 20);
    let speakers: std::collections::BTreeSet<_> =
        t.segments.iter().map(|s| s.speaker.as_str()).collect();
    assert_eq!(speakers, ["agent", "customer"].into());
    // Turns alternate in the sample: the agent speaks first.
    assert_eq!(t.segments[0].speaker, "agent");
    assert!(
        t.segments
            .windows(2)
            .all(|w| w[0].start_ms <= w[1].start_ms)
    );
    // The scripted transcriber returns one segment per speech piece, so
    // after remapping each segment must be exactly a detected span.
    for s in &t.segments {
        let spans = &t.speech[s.channel].spans;
        assert!(
            spans
                .iter()
                .any(|sp| sp.start_ms <= s.start_ms && s.end_ms <= sp.end_ms),
            "{s:?} not inside {spans:?}"
        );
        assert_eq!(s.channel, if s.speaker == "agent" { 0 } else { 1 });
    }
    eprintln!("speech: {:?}", t.speech);
    let n_spans: usize = t.speech.iter().map(|c| c.spans.len()).sum();
    assert!(
        n_spans >= 4,
        "a two-party call has several turns: {:?}",
        t.speech
    );
    assert!(t.duration_ms > 3_000);
}

#[test]
fn remapped_speakers_follow_the_pipeline_file() {
    let path = samples().join("call-en-support.wav");
    let hash = pipeline::content_hash(&path).unwrap();
    let mut engine = engine();
    engine.pipeline = PipelineFile::parse(
        "[speakers]\nchannels = [\"customer\", \"agent\"]\n",
        Path::new("p.toml"),
    )
    .unwrap();
    let t = pipeline::process_file(&path, &engine).unwrap();
    assert_eq!(t.content_hash, format!("blake3:{}", hash.to_hex()));
    assert!(
        t.segments
            .iter()
            .all(|s| (s.channel == 0) == (s.speaker == "customer"))
    );
    assert_eq!(t.speech[0].speaker, "customer");
}

/// Runs the samples through every sink; returns the transcripts and the
/// calls table, with the two run facts (when, how long) blanked: they are
/// the only fields that may differ between runs.
fn run_with_workers(
    workers: usize,
    out: &Path,
) -> (Vec<Transcript>, Vec<callsift::model::CallRow>) {
    let mut sinks = callsift::sink::output_sinks(out, &Default::default(), "test").unwrap();
    let report = pipeline::run(
        &[samples()],
        &engine(),
        &mut sinks,
        &RunOptions {
            workers,
            threads: 1,
            progress: false,
            stop: Default::default(),
        },
    )
    .unwrap();
    assert_eq!(report.failed, 0, "{report:?}");
    let transcripts = report
        .inputs
        .iter()
        .filter(|r| r.status == InputStatus::Ok)
        .map(|r| {
            let p = out
                .join("transcripts")
                .join(format!("{}.json", r.call_id.as_deref().unwrap()));
            let mut t: Transcript =
                serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap();
            assert!(t.processed_at.is_some() && t.processing_ms.is_some());
            (t.processed_at, t.processing_ms) = (None, None);
            t
        })
        .collect();
    let mut calls = callsift::tables::read_calls(out).unwrap();
    calls.sort_by(|a, b| a.call_id.cmp(&b.call_id));
    for c in &mut calls {
        (c.processed_at, c.processing_ms) = (None, None);
    }
    (transcripts, calls)
}

#[test]
fn output_is_identical_at_one_or_many_workers() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let one = run_with_workers(1, a.path());
    let three = run_with_workers(3, b.path());
    assert!(one.0.len() >= 4, "every sample call is transcribed");
    assert_eq!(one.1.len(), one.0.len(), "every call has a row");
    assert_eq!(one, three);
}

/// Answers from its `fail_from`-th call on the way a full disk does
/// (ENOSPC). A stand-in for the disk at the sink seam; the real writers
/// under a file-size limit are in tests/cli_disk.rs.
struct FullFrom {
    seen: usize,
    fail_from: usize,
}

impl callsift::sink::Sink for FullFrom {
    fn name(&self) -> &str {
        "full-disk stand-in"
    }

    fn accept(&mut self, _t: &Transcript) -> callsift::error::Result<()> {
        self.seen += 1;
        if self.seen >= self.fail_from {
            return Err(std::io::Error::new(
                std::io::ErrorKind::StorageFull,
                "No space left on device",
            )
            .into());
        }
        Ok(())
    }
}

/// (transcripts, calls in the index, rows of the calls table, temp files).
fn stored(out: &Path) -> (usize, usize, usize, usize) {
    let transcripts = std::fs::read_dir(out.join("transcripts")).unwrap().count();
    let (index, fields) = callsift::index::writer::open_or_create(out).unwrap();
    let indexed = callsift::index::writer::call_count(&index, &fields).unwrap();
    let rows = callsift::tables::read_calls(out).unwrap().len();
    let temps = walkdir::WalkDir::new(out)
        .into_iter()
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".part"))
        })
        .count();
    (transcripts, indexed, rows, temps)
}

#[test]
fn a_full_output_folder_mid_run_stops_the_run_and_the_next_run_completes() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("out");
    let options = RunOptions {
        workers: 1,
        threads: 1,
        progress: false,
        stop: Default::default(),
    };
    let mut sinks: Vec<Box<dyn callsift::sink::Sink>> = vec![Box::new(FullFrom {
        seen: 0,
        fail_from: 2,
    })];
    sinks.extend(callsift::sink::output_sinks(&out, &Default::default(), "test").unwrap());
    let err = pipeline::run(&[samples()], &engine(), &mut sinks, &options).unwrap_err();
    assert!(err.to_string().contains("full"), "{err}");
    drop(sinks);
    // The call stored before the disk filled is committed in every output;
    // the one that hit it and the rest left nothing, not even a temp file.
    assert_eq!(stored(&out), (1, 1, 1, 0));

    // Space again: the next run (a new process, so a new stop flag) stores
    // every call, each once.
    let options = RunOptions {
        stop: Default::default(),
        ..options
    };
    let mut sinks = callsift::sink::output_sinks(&out, &Default::default(), "test").unwrap();
    let report = pipeline::run(&[samples()], &engine(), &mut sinks, &options).unwrap();
    drop(sinks);
    let calls = report.ok;
    assert!(calls >= 3, "{report:?}");
    assert_eq!(stored(&out), (calls, calls, calls, 0));
}

/// A stop asked for before the run starts (a SIGTERM during the model
/// load) leaves every call for the next run, none failed.
#[test]
fn a_stop_before_the_first_call_leaves_every_call_for_the_next_run() {
    let stop = callsift::interrupt::StopFlag::new();
    stop.stop();
    let report = pipeline::run(
        &[samples()],
        &engine(),
        &mut [],
        &RunOptions {
            workers: 2,
            threads: 1,
            progress: false,
            stop,
        },
    )
    .unwrap();
    assert!(report.interrupted);
    assert_eq!((report.ok, report.failed), (0, 0), "{report:?}");
    let left = report
        .inputs
        .iter()
        .filter(|i| i.error.as_deref() == Some(pipeline::INTERRUPTED_REASON))
        .count();
    assert_eq!(left, 4, "{report:?}");
}
