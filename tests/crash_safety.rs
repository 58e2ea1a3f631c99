//! A run killed at any moment loses and duplicates nothing: `callsift run`
//! (the trained tiny.en, real English speech, watchlist, scorecard and
//! do-not-call rules) is killed with SIGKILL at random moments, during
//! decoding, whisper, and right when every transcript is written (the
//! index, Parquet, do-not-call export and manifest commits follow at
//! once), on fresh output and on `--force` over complete output, and run
//! again. After every completed rerun the transcripts, the index, every
//! table, the do-not-call export and the manifest hold exactly what one
//! uninterrupted run wrote. SIGTERM finishes the calls in flight, commits
//! them and exits 5; the next run does the rest.
//!
//! The kill moments come from a seed printed at the start
//! (`CALLSIFT_CRASH_SEED=N` repeats a run's moments).

mod common;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use callsift::model::RunReport;
use common::*;

/// Calls in the batch: enough that kills land between and inside calls.
const CALLS: usize = 3;
/// Prompts longer than this are left out, to keep the calls short.
const MAX_TURN_S: usize = 5;
/// SIGKILLs the test delivers (the issue asks for at least 20).
const KILLS: usize = 21;

const PIPELINE: &str = r#"
default_country = "PL"

[whisper]
language = "en"

[[watchlist]]
name = "password_talk"
severity = "high"
phrases = ["password"]

[[do_not_call]]
name = "removal"
phrases = ["removed from the blacklist"]

[[scorecard]]
name = "service"
[[scorecard.criterion]]
section = "menu"
name = "offers_options"
weight = 1
any = ["press"]
"#;

struct Fixture {
    _tmp: tempfile::TempDir,
    root: PathBuf,
    input: PathBuf,
    pipeline: PathBuf,
    model: PathBuf,
}

/// Three stereo 8 kHz µ-law calls of about 10–15 s built from the short
/// English prompts, each with a sidecar giving its customer number and
/// start; the customer of calls 0 and 2 asks to be "removed from the
/// blacklist".
fn fixture() -> Option<Fixture> {
    let prompts = shared_prompts()?;
    let model = tiny_en_model()?;
    let tmp = tempfile::tempdir().unwrap();
    let root = tmp.path().to_path_buf();
    let input = root.join("in");
    std::fs::create_dir_all(&input).unwrap();
    let en: Vec<_> = prompt_manifest(&prompts)
        .into_iter()
        .filter(|p| p.lang == "en")
        .collect();
    let clips: Vec<(String, Vec<f32>)> = en
        .iter()
        .map(|p| (p.file.clone(), load_mono_at(&prompts.join(&p.file), 8000)))
        .filter(|(_, c)| c.len() <= MAX_TURN_S * 8000)
        .collect();
    let removal = clips
        .iter()
        .find(|(f, _)| f.ends_with("entr-num-rmv-blklist.wav"))
        .expect("the blacklist prompt")
        .1
        .clone();
    let short: Vec<_> = clips
        .iter()
        .filter(|(f, _)| !f.ends_with("entr-num-rmv-blklist.wav"))
        .collect();
    for call in 0..CALLS {
        let mut turns: Vec<Vec<f32>> = (0..3)
            .map(|k| short[(call * 3 + k) % short.len()].1.clone())
            .collect();
        if call % 2 == 0 {
            turns.push(removal.clone());
        }
        let channels = alternating_call(&turns, 4000, &[6000, 9600, 4800]);
        let wav = input.join(format!("call-{call}.wav"));
        write_wav_mulaw(&wav, 8000, &channels);
        let sidecar = serde_json::json!({
            "customer_number": format!("+4860123456{call}"),
            "agent": format!("10{call}"),
            "call_start": format!("2026-11-{:02}T09:{call:02}:00Z", 10 + call),
        });
        std::fs::write(
            input.join(format!("call-{call}.wav.json")),
            sidecar.to_string(),
        )
        .unwrap();
    }
    let pipeline = root.join("crash.toml");
    std::fs::write(&pipeline, PIPELINE).unwrap();
    Some(Fixture {
        _tmp: tmp,
        root,
        input,
        pipeline,
        model,
    })
}

impl Fixture {
    fn command(&self, out: &Path, extra: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_callsift"));
        cmd.args([
            "run",
            "--json",
            "--min-age",
            "0",
            "--workers",
            "2",
            "--threads",
            "1",
        ])
        .arg("--input")
        .arg(&self.input)
        .arg("--out")
        .arg(out)
        .arg("--model")
        .arg(&self.model)
        .arg("--pipeline")
        .arg(&self.pipeline)
        .args(extra)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
        cmd
    }

    /// Runs to the end; the run's summary.
    fn run(&self, out: &Path, extra: &[&str]) -> RunReport {
        let o = self.command(out, extra).output().unwrap();
        assert_eq!(
            o.status.code(),
            Some(0),
            "run failed: {}",
            String::from_utf8_lossy(&o.stderr)
        );
        serde_json::from_slice(&o.stdout).unwrap()
    }
}

/// Everything a run leaves in OUT that must not depend on how it got
/// there, as comparable text.
#[derive(Debug, PartialEq)]
struct State {
    transcripts: BTreeMap<String, serde_json::Value>,
    index_calls: usize,
    index_segments: usize,
    found: Vec<String>,
    calls: Vec<String>,
    segments: Vec<String>,
    hits: Vec<String>,
    scores: Vec<String>,
    dnc: Vec<String>,
    manifest_calls: Vec<String>,
    manifest_paths: Vec<String>,
}

fn state(out: &Path, input: &Path) -> State {
    let mut transcripts = BTreeMap::new();
    for e in std::fs::read_dir(out.join("transcripts")).unwrap() {
        let path = e.unwrap().path();
        let mut v: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        // The run facts: when and how long, not what.
        let o = v.as_object_mut().unwrap();
        o.remove("processed_at");
        o.remove("processing_ms");
        transcripts.insert(path.file_name().unwrap().to_string_lossy().into(), v);
    }
    let (index, fields) = callsift::index::writer::open_or_create(out).unwrap();
    let count = |kind| callsift::index::writer::kind_count(&index, &fields, kind).unwrap();
    let searcher = callsift::index::search::SearchIndex::open(out).unwrap();
    let mut found = Vec::new();
    for query in ["password", "press", "conference", "removed blacklist"] {
        let r = searcher
            .search(&callsift::model::SearchRequest {
                query: query.into(),
                exact: false,
                filters: Default::default(),
                sort: Default::default(),
                limit: 1000,
                offset: 0,
            })
            .unwrap();
        let mut hits: Vec<String> = r
            .hits
            .iter()
            .map(|h| format!("{query}: {} #{} at {}", h.call_id, h.segment, h.at_ms))
            .collect();
        hits.sort();
        found.push(format!("{query}: {} total", r.total));
        found.extend(hits);
    }
    let sorted = |mut v: Vec<String>| {
        v.sort();
        v
    };
    let calls = callsift::tables::read_calls(out)
        .unwrap()
        .into_iter()
        .map(|mut c| {
            c.processed_at = None;
            c.processing_ms = None;
            format!("{c:?}")
        })
        .collect();
    let rows = |v: Vec<String>| sorted(v);
    let manifest = callsift::manifest::Manifest::open_existing(out)
        .unwrap()
        .expect("a manifest");
    let manifest_calls = manifest
        .live_calls()
        .unwrap()
        .into_iter()
        .map(|(id, c)| format!("{id} {} {} {}", c.model, c.fingerprint, c.path))
        .collect();
    let mut manifest_paths = Vec::new();
    for call in 0..CALLS {
        let path = input.join(format!("call-{call}.wav"));
        let entry = manifest
            .path_entry(&path.display().to_string())
            .unwrap()
            .unwrap_or_else(|| panic!("{} not in the manifest", path.display()));
        manifest_paths.push(format!("{} {}", path.display(), entry.call_id));
    }
    let dnc_path = callsift::rules::dnc::export_path(out);
    let dnc = std::fs::read_to_string(&dnc_path)
        .unwrap_or_else(|e| panic!("{}: {e}", dnc_path.display()))
        .lines()
        .map(str::to_owned)
        .collect();
    State {
        transcripts,
        index_calls: count(callsift::index::schema::KIND_CALL),
        index_segments: count(callsift::index::schema::KIND_SEGMENT),
        found,
        calls: sorted(calls),
        segments: rows(
            callsift::tables::read_segments(out)
                .unwrap()
                .iter()
                .map(|r| format!("{r:?}"))
                .collect(),
        ),
        hits: rows(
            callsift::tables::read_hits(out)
                .unwrap()
                .iter()
                .map(|r| format!("{r:?}"))
                .collect(),
        ),
        scores: rows(
            callsift::tables::read_scores(out)
                .unwrap()
                .iter()
                .map(|r| format!("{r:?}"))
                .collect(),
        ),
        dnc: sorted(dnc),
        manifest_calls: sorted(manifest_calls),
        manifest_paths,
    }
}

/// Temp files a writer leaves when killed mid-write must not outlive the
/// next completed run.
fn leftovers(out: &Path) -> Vec<String> {
    walkdir::WalkDir::new(out)
        .into_iter()
        .map(|e| e.unwrap())
        .filter(|e| {
            let name = e.file_name().to_string_lossy();
            name.starts_with('.') && name.ends_with(".part")
        })
        .map(|e| e.path().display().to_string())
        .collect()
}

/// The uninterrupted run every interrupted one is compared with; it must
/// have found something for every kind of output, or the comparison
/// would prove little.
fn baseline(f: &Fixture) -> (State, Duration) {
    let out = f.root.join("baseline");
    let started = Instant::now();
    let report = f.run(&out, &[]);
    let took = started.elapsed();
    assert_eq!((report.ok, report.failed), (CALLS, 0), "{report:?}");
    let s = state(&out, &f.input);
    assert_eq!(s.transcripts.len(), CALLS);
    assert_eq!(s.index_calls, CALLS);
    assert!(!s.hits.is_empty(), "no rule hits: {:?}", s.found);
    assert!(s.scores.len() >= CALLS, "{:?}", s.scores);
    assert!(
        s.dnc.len() >= 2,
        "no do-not-call request heard: {:?}",
        s.dnc
    );
    eprintln!(
        "baseline: {CALLS} calls in {:.1} s, {} segments, {} hits, {} do-not-call rows",
        took.as_secs_f64(),
        s.index_segments,
        s.hits.len(),
        s.dnc.len() - 1
    );
    (s, took)
}

/// The fixture and its baseline, made once for the tests of this file
/// (each writes output folders of its own beside them).
fn shared() -> Option<&'static (Fixture, State, Duration)> {
    static SHARED: std::sync::OnceLock<Option<(Fixture, State, Duration)>> =
        std::sync::OnceLock::new();
    SHARED
        .get_or_init(|| {
            let f = fixture()?;
            let (state, took) = baseline(&f);
            Some((f, state, took))
        })
        .as_ref()
}

/// xorshift64*: the kill moments, repeatable from the printed seed.
struct Rng(u64);

impl Rng {
    fn unit(&mut self) -> f64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        (self.0.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Transcripts written since `since` (the outputs' commits follow once
/// all are written).
fn transcripts_since(out: &Path, since: std::time::SystemTime) -> usize {
    std::fs::read_dir(out.join("transcripts")).map_or(0, |d| {
        d.filter_map(|e| e.ok())
            .filter(|e| {
                e.file_name().to_string_lossy().ends_with(".json")
                    && e.metadata()
                        .and_then(|m| m.modified())
                        .is_ok_and(|m| m >= since)
            })
            .count()
    })
}

/// How a kill picks its moment.
#[derive(Debug, Clone, Copy)]
enum Moment {
    /// At a random point of the run's expected length.
    Random(Duration),
    /// Once every call's transcript is written, plus a random delay up to
    /// this: the index, tables, export and manifest commits.
    AtCommit(Duration),
}

/// Starts a run and kills it at `moment`; whether it was still running.
fn kill_run(f: &Fixture, out: &Path, extra: &[&str], moment: Moment) -> bool {
    let since = std::time::SystemTime::now() - Duration::from_millis(10);
    let mut child: Child = f.command(out, extra).spawn().unwrap();
    let started = Instant::now();
    match moment {
        Moment::Random(at) => {
            while started.elapsed() < at {
                if child.try_wait().unwrap().is_some() {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(2));
            }
        }
        Moment::AtCommit(after) => {
            while transcripts_since(out, since) < CALLS {
                if child.try_wait().unwrap().is_some() {
                    return false;
                }
                std::thread::sleep(Duration::from_millis(1));
            }
            std::thread::sleep(after);
        }
    }
    if child.try_wait().unwrap().is_some() {
        return false;
    }
    child.kill().unwrap();
    let status = child.wait().unwrap();
    match std::os::unix::process::ExitStatusExt::signal(&status) {
        Some(libc::SIGKILL) => true,
        // The run ended on its own between the last look and the kill (a
        // zombie takes the signal without effect): a finished run, which
        // must have succeeded.
        None => {
            assert!(status.success(), "run exited before the kill: {status}");
            false
        }
        Some(other) => panic!("run died of signal {other}, not SIGKILL"),
    }
}

#[test]
fn sigkill_at_any_moment_loses_and_duplicates_nothing() {
    let Some((f, want, took)) = shared() else {
        return;
    };
    let seed = std::env::var("CALLSIFT_CRASH_SEED")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or_else(|| {
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .unwrap()
                .as_nanos() as u64
                | 1
        });
    eprintln!("kill moments from CALLSIFT_CRASH_SEED={seed}");
    let mut rng = Rng(seed);
    let mut kills = 0;
    let mut chains = 0;
    let mut log = Vec::new();
    while kills < KILLS {
        // Odd chains redo complete output with --force (every output
        // replaced, not only added to); even ones start from nothing.
        let force = chains % 2 == 1;
        let out = f.root.join(format!("out-{}", chains / 2));
        let extra: &[&str] = if force { &["--force"] } else { &[] };
        if !force {
            let _ = std::fs::remove_dir_all(&out);
        }
        // Up to four kills per chain, each at a moment of its own. Every
        // other chain's first kill waits for the commits (only a chain's
        // first run writes every transcript); the others fall anywhere in
        // what is left to do, which shrinks as the chain goes on.
        for k in 0..4 {
            let moment = if k == 0 && chains % 4 >= 2 {
                Moment::AtCommit(took.mul_f64(0.1 * rng.unit()))
            } else {
                let left = 0.6f64.powi(k);
                Moment::Random(took.mul_f64((0.05 + 0.9 * rng.unit()) * left))
            };
            let killed = kill_run(f, &out, if k == 0 { extra } else { &[] }, moment);
            log.push(format!("chain {chains} {moment:?}: killed {killed}"));
            if killed {
                kills += 1;
            } else {
                break;
            }
        }
        let last = f.run(&out, &[]);
        assert_eq!(last.failed, 0, "{last:?}");
        let got = state(&out, &f.input);
        assert!(
            got == *want,
            "after {log:#?}\noutputs differ from an uninterrupted run's:\n{}",
            diff(want, &got)
        );
        assert_eq!(leftovers(&out), Vec::<String>::new(), "after {log:#?}");
        chains += 1;
    }
    eprintln!("{kills} kills over {chains} reruns: {log:#?}");
}

/// The fields of two states that differ, for the failure message.
fn diff(want: &State, got: &State) -> String {
    let w = format!("{want:#?}");
    let g = format!("{got:#?}");
    let (w, g): (Vec<_>, Vec<_>) = (w.lines().collect(), g.lines().collect());
    let mut out = String::new();
    for l in g.iter().filter(|l| !w.contains(l)).take(40) {
        out += &format!("+ {l}\n");
    }
    for l in w.iter().filter(|l| !g.contains(l)).take(40) {
        out += &format!("- {l}\n");
    }
    out
}

#[test]
fn sigterm_finishes_the_calls_in_flight_commits_and_exits_5() {
    let Some((f, want, _)) = shared() else {
        return;
    };
    let out = f.root.join("out-term");
    let since = std::time::SystemTime::now() - Duration::from_millis(10);
    let child = f.command(&out, &[]).spawn().unwrap();
    while transcripts_since(&out, since) < 1 {
        std::thread::sleep(Duration::from_millis(2));
    }
    unsafe { libc::kill(child.id() as i32, libc::SIGTERM) };
    let o = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(5), "{stderr}");
    assert!(stderr.contains("interrupted by SIGINT/SIGTERM"), "{stderr}");
    let report: RunReport = serde_json::from_slice(&o.stdout).unwrap();
    assert!(report.interrupted);
    assert!(report.ok >= 1 && report.ok < CALLS, "{report:?}");
    let left = report
        .inputs
        .iter()
        .filter(|i| i.error.as_deref() == Some(callsift::pipeline::INTERRUPTED_REASON))
        .count();
    assert_eq!(report.ok + left, CALLS, "{report:?}");
    // What it finished is committed everywhere: searchable, in the tables
    // and the manifest, so the next run skips it.
    let partial = state_counts(&out);
    assert_eq!(partial, (report.ok, report.ok, report.ok), "{stderr}");
    let rest = f.run(&out, &[]);
    let done = rest
        .inputs
        .iter()
        .filter(|i| {
            i.error
                .as_deref()
                .is_some_and(|e| e.starts_with("unchanged"))
        })
        .count();
    assert_eq!((rest.ok, done), (left, report.ok), "{rest:?}");
    let got = state(&out, &f.input);
    assert!(got == *want, "{}", diff(want, &got));
}

/// (transcripts, calls in the index, rows of the calls table).
fn state_counts(out: &Path) -> (usize, usize, usize) {
    let transcripts = std::fs::read_dir(out.join("transcripts")).unwrap().count();
    let (index, fields) = callsift::index::writer::open_or_create(out).unwrap();
    let calls = callsift::index::writer::call_count(&index, &fields).unwrap();
    let rows = callsift::tables::read_calls(out).unwrap().len();
    (transcripts, calls, rows)
}

#[test]
fn a_second_sigint_exits_at_once() {
    let Some((f, _, _)) = shared() else {
        return;
    };
    let out = f.root.join("out-int");
    let child = f.command(&out, &[]).spawn().unwrap();
    // Past the model load: the handlers are in place once the lock is.
    while !out.join("run.lock").exists() {
        std::thread::sleep(Duration::from_millis(2));
    }
    std::thread::sleep(Duration::from_millis(300));
    for _ in 0..2 {
        unsafe { libc::kill(child.id() as i32, libc::SIGINT) };
        std::thread::sleep(Duration::from_millis(50));
    }
    let o = child.wait_with_output().unwrap();
    assert_eq!(
        o.status.code(),
        Some(128 + libc::SIGINT),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    // Nothing it left behind stops the next run.
    let report = f.run(&out, &[]);
    assert_eq!(report.failed, 0, "{report:?}");
    assert_eq!(state_counts(&out), (CALLS, CALLS, CALLS));
}
