//! The stages after transcription, with the scripted transcriber (known
//! text, no model): speakers by channel, time remapping onto the call's
//! timeline, merging by time, sinks, and identical output at 1 or N workers.
//! Nothing here claims to test whisper.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use callsift::config::PipelineFile;
use callsift::model::{InputStatus, Transcript};
use callsift::pipeline::{self, Engine, RunOptions};
use callsift::sink::{Sink, TranscriptJsonSink};
use callsift::transcribe::scripted::ScriptedTranscriber;

fn samples() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("samples")
}

fn engine() -> Engine {
    Engine {
        transcriber: Arc::new(ScriptedTranscriber::new(
            vec!["hello".into(), "line two".into(), "third line".into()],
            "en",
        )),
        pipeline: PipelineFile::default(),
    }
}

#[test]
fn stereo_call_is_two_speakers_on_the_call_timeline() {
    let path = samples().join("call-en-support.wav");
    let hash = pipeline::content_hash(&path).unwrap();
    let t = pipeline::process_file(&path, &hash, &engine()).unwrap();
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
    let t = pipeline::process_file(&path, &hash, &engine).unwrap();
    assert!(
        t.segments
            .iter()
            .all(|s| (s.channel == 0) == (s.speaker == "customer"))
    );
    assert_eq!(t.speech[0].speaker, "customer");
}

fn run_with_workers(workers: usize, out: &Path) -> Vec<Transcript> {
    let mut sinks: Vec<Box<dyn Sink>> = vec![Box::new(TranscriptJsonSink::new(out).unwrap())];
    let report = pipeline::run(
        &[samples()],
        &engine(),
        &mut sinks,
        &RunOptions {
            workers,
            threads: 1,
            progress: false,
        },
    )
    .unwrap();
    assert_eq!(report.failed, 0, "{report:?}");
    report
        .inputs
        .iter()
        .filter(|r| r.status == InputStatus::Ok)
        .map(|r| {
            let p = out
                .join("transcripts")
                .join(format!("{}.json", r.call_id.as_deref().unwrap()));
            serde_json::from_str(&std::fs::read_to_string(p).unwrap()).unwrap()
        })
        .collect()
}

#[test]
fn output_is_identical_at_one_or_many_workers() {
    let a = tempfile::tempdir().unwrap();
    let b = tempfile::tempdir().unwrap();
    let one = run_with_workers(1, a.path());
    let three = run_with_workers(3, b.path());
    assert!(one.len() >= 4, "every sample call is transcribed");
    assert_eq!(one, three);
}
