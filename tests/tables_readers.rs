//! The Parquet tables as analysts read them: an output folder built through
//! the library (pipeline run with the scripted transcriber, plus imports),
//! then `tests/py/check_tables.py` runs every `pipelines/queries/*.sql`
//! with DuckDB, reads every table with pandas and Polars, and checks the
//! designed call of `src/analyze/tests.rs` against its hand-computed
//! metrics, and its rule hits and scores (an `analysis` block,
//! `tests/fixtures/tables/designed-analysis.json`) in `hits` and `scores`.
//! Running and importing again must replace calls, never add them twice,
//! and a call imported again with fewer hits must lose the others.
//!
//! Needs a Python with duckdb, pyarrow, polars and pandas: `$CALLSIFT_PYTHON`,
//! else `target/pyenv/bin/python` (`.ci/install-deps` makes it). Without one
//! the test skips, or fails under `CI=true`.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use callsift::config::PipelineFile;
use callsift::import::{ImportFormat, ImportOptions, import_file};
use callsift::model::InputStatus;
use callsift::pipeline::{self, Engine, RunOptions};
use callsift::sink::{Sink, output_sinks};
use callsift::transcribe::scripted::ScriptedTranscriber;
use serde_json::{Value, json};

const DESIGNED_ID: &str = "0123456789abcdef0123";
/// A copy of the designed call without a start (and without talk spans):
/// it lands in `date=__HIVE_DEFAULT_PARTITION__` with segment-time metrics.
const UNDATED_ID: &str = "0123456789abcdef0124";

/// A sample recording copied under an Asterisk (FreePBX) file name, and what
/// the metadata stage should read from that name.
struct Recording {
    sample: &'static str,
    name: &'static str,
    direction: &'static str,
    agent_id: Option<&'static str>,
    customer_number: Option<&'static str>,
    queue: Option<&'static str>,
    /// Local wall-clock start written in the name.
    wall_start: &'static str,
}

const RECORDINGS: &[Recording] = &[
    // out-<dialled number>-<agent extension>-<date>-<time>-<unique id>
    Recording {
        sample: "call-pl-sales.wav",
        name: "out-48221234567-101-20261120-101500-1700000000.1.wav",
        direction: "outbound",
        agent_id: Some("101"),
        customer_number: Some("48221234567"),
        queue: None,
        wall_start: "2026-11-20T10:15:00",
    },
    // in-<DID dialled>-<caller>-…: a DID of 2 to 6 digits is the agent's
    // extension.
    Recording {
        sample: "call-en-support.wav",
        name: "in-102-48601112233-20261120-143000-1700000100.2.wav",
        direction: "inbound",
        agent_id: Some("102"),
        customer_number: Some("48601112233"),
        queue: None,
        wall_start: "2026-11-20T14:30:00",
    },
    // q-<queue>-<caller>-…: the agent who answered is not in the name.
    Recording {
        sample: "call-ru-bank.wav",
        name: "q-sales-48501234567-20261121-090500-1700000200.3.wav",
        direction: "inbound",
        agent_id: None,
        customer_number: Some("48501234567"),
        queue: Some("sales"),
        wall_start: "2026-11-21T09:05:00",
    },
    Recording {
        sample: "call-he-delivery.wav",
        name: "out-48731234567-103-20261122-233000-1700000300.4.wav",
        direction: "outbound",
        agent_id: Some("103"),
        customer_number: Some("48731234567"),
        queue: None,
        wall_start: "2026-11-22T23:30:00",
    },
];

fn crate_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// `$CALLSIFT_PYTHON`, else the venv `.ci/install-deps` makes.
fn python() -> PathBuf {
    std::env::var_os("CALLSIFT_PYTHON")
        .map(PathBuf::from)
        .unwrap_or_else(|| crate_dir().join("target/pyenv/bin/python"))
}

/// The Python with the readers, or why there is none.
fn python_with_readers() -> Result<PathBuf, String> {
    let py = python();
    let probe = Command::new(&py)
        .args(["-c", "import duckdb, pyarrow, polars, pandas"])
        .output();
    match probe {
        Err(e) => Err(format!("cannot run {}: {e}", py.display())),
        Ok(o) if !o.status.success() => {
            let stderr = String::from_utf8_lossy(&o.stderr);
            // The last line of a traceback: "ModuleNotFoundError: No module named 'polars'".
            let why = stderr.trim().lines().last().unwrap_or("").to_string();
            Err(format!(
                "{} cannot import duckdb, pyarrow, polars and pandas ({})",
                py.display(),
                if why.is_empty() {
                    o.status.to_string()
                } else {
                    why
                }
            ))
        }
        Ok(_) => Ok(py),
    }
}

/// The scripted transcriber (known text, no model): the tables' metrics
/// come from the VAD and the text only has to be there.
fn engine() -> Engine {
    Engine::new(
        Arc::new(ScriptedTranscriber::new(
            vec![
                "Dzień dobry, w czym mogę pomóc?".into(),
                "Chciałbym zmienić taryfę.".into(),
                "Proszę podać numer klienta.".into(),
            ],
            "pl",
        )),
        PipelineFile::default(),
        "default",
    )
    .unwrap()
}

/// The sinks `run` and `import` use, which must include the tables.
fn sinks(out: &Path) -> Vec<Box<dyn Sink>> {
    let sinks = output_sinks(out, &Default::default(), "test").unwrap();
    let names: Vec<&str> = sinks.iter().map(|s| s.name()).collect();
    assert!(
        names.contains(&"tables"),
        "callsift::sink::output_sinks has no tables sink (only {names:?}): nothing writes OUT/parquet"
    );
    sinks
}

fn run_pipeline(inputs: &[PathBuf], out: &Path) {
    let mut sinks = sinks(out);
    let report = pipeline::run(
        inputs,
        &engine(),
        &mut sinks,
        &RunOptions {
            workers: 2,
            threads: 1,
            progress: false,
            stop: Default::default(),
        },
    )
    .unwrap();
    assert_eq!(report.failed, 0, "{report:?}");
    assert!(
        report.inputs.iter().all(|r| r.status == InputStatus::Ok),
        "{report:?}"
    );
}

fn import(files: &[PathBuf], out: &Path) {
    let mut sinks = sinks(out);
    for file in files {
        let t = import_file(file, ImportFormat::Auto, &ImportOptions::default()).unwrap();
        for sink in sinks.iter_mut() {
            sink.accept(&t).unwrap();
        }
    }
    for sink in sinks.iter_mut() {
        sink.finish().unwrap();
    }
}

/// The designed call with the rules' findings of
/// `tests/fixtures/tables/designed-analysis.json` (no rules run in this
/// test: an imported callsift transcript keeps its `analysis`), so the
/// `hits` and `scores` tables have rows to query.
fn write_analysed(designed: &Path, to: &Path) {
    let mut t: Value = serde_json::from_str(&std::fs::read_to_string(designed).unwrap()).unwrap();
    let analysis = crate_dir().join("tests/fixtures/tables/designed-analysis.json");
    t["analysis"] = serde_json::from_str(&std::fs::read_to_string(analysis).unwrap()).unwrap();
    std::fs::write(to, serde_json::to_string_pretty(&t).unwrap()).unwrap();
}

/// The designed call without `call_start` and talk spans, with `campaign`,
/// keeping only the hits of the rules in `hit_rules`.
fn write_undated(designed: &Path, to: &Path, campaign: &str, hit_rules: &[&str]) {
    let mut t: Value = serde_json::from_str(&std::fs::read_to_string(designed).unwrap()).unwrap();
    t["call_id"] = json!(UNDATED_ID);
    t["call_start"] = Value::Null;
    t["source_path"] = json!("/rec/undated-call.wav");
    t["metadata"]["campaign"] = json!(campaign);
    for channel in t["speech"].as_array_mut().unwrap() {
        channel.as_object_mut().unwrap().remove("talk");
    }
    t["analysis"]["hits"]
        .as_array_mut()
        .unwrap()
        .retain(|h| hit_rules.contains(&h["rule"].as_str().unwrap()));
    std::fs::write(to, serde_json::to_string_pretty(&t).unwrap()).unwrap();
}

fn check_tables(
    py: &Path,
    out: &Path,
    scratch: &Path,
    undated_campaign: &str,
    undated_hit_rules: &[&str],
) {
    let recordings: Vec<Value> = RECORDINGS
        .iter()
        .map(|r| {
            json!({
                "file": r.name,
                "direction": r.direction,
                "agent_id": r.agent_id,
                "customer_number": r.customer_number,
                "queue": r.queue,
                "wall_start": r.wall_start,
            })
        })
        .collect();
    let expect = json!({
        // the four recordings, the designed call and its undated copy
        "calls": RECORDINGS.len() + 2,
        "designed_call_id": DESIGNED_ID,
        "undated_call_id": UNDATED_ID,
        "undated_campaign": undated_campaign,
        "undated_hit_rules": undated_hit_rules,
        "recordings": recordings,
    });
    let expect_path = scratch.join("expect.json");
    std::fs::write(&expect_path, expect.to_string()).unwrap();
    let output = Command::new(py)
        .arg(crate_dir().join("tests/py/check_tables.py"))
        .arg("--out")
        .arg(out)
        .arg("--queries")
        .arg(crate_dir().join("pipelines/queries"))
        .arg("--expect")
        .arg(&expect_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    eprintln!("{stdout}");
    assert!(
        output.status.success(),
        "tests/py/check_tables.py failed ({}):\n{stdout}\n{stderr}",
        output.status
    );
}

#[test]
fn queries_pandas_and_polars_read_the_tables() {
    let py = match python_with_readers() {
        Ok(py) => py,
        Err(why) if common::on_ci() => panic!(
            "{why}. CI=true: failing instead of skipping; `.ci/install-deps` makes \
             target/pyenv (or set CALLSIFT_PYTHON)"
        ),
        Err(why) => {
            eprintln!(
                "SKIPPED: {why} (run .ci/install-deps to make target/pyenv, or set \
                 CALLSIFT_PYTHON; CI=true makes this a failure)"
            );
            return;
        }
    };
    let tmp = tempfile::tempdir().unwrap();
    let recordings = tmp.path().join("recordings");
    let out = tmp.path().join("out");
    std::fs::create_dir_all(&recordings).unwrap();
    for r in RECORDINGS {
        std::fs::copy(
            crate_dir().join("samples").join(r.sample),
            recordings.join(r.name),
        )
        .unwrap();
    }
    let designed = tmp.path().join("designed.json");
    write_analysed(
        &crate_dir().join("tests/fixtures/tables/designed.json"),
        &designed,
    );
    let undated = tmp.path().join("undated.json");
    let every_rule = ["recording-notice", "card-offer", "dnc-list"];
    write_undated(&designed, &undated, "cards", &every_rule);

    // (a) + (b): the pipeline over the recordings, then the imports.
    run_pipeline(std::slice::from_ref(&recordings), &out);
    import(&[designed.clone(), undated.clone()], &out);
    check_tables(&py, &out, tmp.path(), "cards", &every_rule);

    // Again: the same designed call, the undated one changed (its row must
    // be replaced, not kept or doubled, and its dropped hit must go), and
    // one recording run again.
    write_undated(&designed, &undated, "retention", &["dnc-list"]);
    import(&[designed, undated], &out);
    run_pipeline(&[recordings.join(RECORDINGS[0].name)], &out);
    check_tables(&py, &out, tmp.path(), "retention", &["dnc-list"]);
}
