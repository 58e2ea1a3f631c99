//! `callsift merge`: three `run --shard I/3` tasks and a merge give the
//! output of one run (transcripts, search hits, table rows, manifest);
//! merging again changes nothing; a missing, locked or other-version shard
//! is a clear error; do-not-call exports are united by number.
//!
//! Real transcription (the trained tiny.en over real human telephony
//! prompts), so the hits and rows compared carry words.

mod common;

use std::path::{Path, PathBuf};

use callsift::model::{SearchFilters, SearchRequest, SearchSort};
use common::{bin, shared_prompts, tiny_en_model};

const PIPELINE: &str = r#"
[[watchlist]]
name = "menu_talk"
severity = "medium"
speaker = "any"
phrases = ["press", "please hold"]

[[scorecard]]
name = "politeness"

[[scorecard.criterion]]
section = "manners"
name = "thanks"
weight = 1
speaker = "agent"
any = ["thank you"]
"#;

const PROMPTS: &[&str] = &[
    "en/priv-introsaved.wav",
    "en/vm-options.wav",
    "en/vm-opts-full.wav",
    "en/dictate_enter_filename.wav",
    "en/auth-incorrect.wav",
    "en/all-circuits-busy-now.wav",
    "en/conf-userswilljoin.wav",
];

fn run(input: &Path, out: &Path, model: &Path, pipeline: &Path, shard: Option<&str>) {
    let mut cmd = bin();
    cmd.args(["run", "--min-age", "0", "--language", "en", "--input"])
        .arg(input)
        .arg("--out")
        .arg(out)
        .arg("--model")
        .arg(model)
        .arg("--pipeline")
        .arg(pipeline);
    if let Some(shard) = shard {
        cmd.args(["--shard", shard]);
    }
    cmd.env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .assert()
        .success();
}

fn merge(shards: &[PathBuf], out: &Path) -> serde_json::Value {
    let assert = bin()
        .arg("merge")
        .args(shards)
        .arg("--out")
        .arg(out)
        .arg("--json")
        .assert()
        .success();
    serde_json::from_slice(&assert.get_output().stdout).unwrap()
}

/// Every transcript, without what differs between two runs of the same
/// call (when and how long it took).
fn transcripts(out: &Path) -> Vec<serde_json::Value> {
    let mut ids: Vec<PathBuf> = std::fs::read_dir(out.join("transcripts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    ids.sort();
    ids.iter()
        .map(|p| {
            let mut v: serde_json::Value =
                serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap();
            let o = v.as_object_mut().unwrap();
            o.remove("processed_at");
            o.remove("processing_ms");
            v
        })
        .collect()
}

fn hits(out: &Path, query: &str) -> Vec<(String, usize, u64, String)> {
    let index = callsift::index::SearchIndex::open(out).unwrap();
    let r = index
        .search(&SearchRequest {
            query: query.into(),
            exact: false,
            filters: SearchFilters::default(),
            sort: SearchSort::Score,
            limit: 1000,
            offset: 0,
        })
        .unwrap();
    let mut hits: Vec<_> = r
        .hits
        .into_iter()
        .map(|h| (h.call_id, h.segment, h.at_ms, h.text))
        .collect();
    hits.sort();
    hits
}

/// The table rows as JSON lines, sorted, without per-run fields.
fn table_rows(out: &Path) -> Vec<String> {
    let mut rows: Vec<String> = Vec::new();
    for mut c in callsift::tables::read_calls(out).unwrap() {
        c.processed_at = None;
        c.processing_ms = None;
        rows.push(serde_json::to_string(&c).unwrap());
    }
    rows.extend(
        callsift::tables::read_segments(out)
            .unwrap()
            .iter()
            .map(|r| serde_json::to_string(r).unwrap()),
    );
    rows.extend(
        callsift::tables::read_hits(out)
            .unwrap()
            .iter()
            .map(|r| serde_json::to_string(r).unwrap()),
    );
    rows.extend(
        callsift::tables::read_scores(out)
            .unwrap()
            .iter()
            .map(|r| serde_json::to_string(r).unwrap()),
    );
    rows.sort();
    rows
}

#[test]
fn three_shards_merged_equal_one_run() {
    let Some(model) = tiny_en_model() else { return };
    let Some(prompts) = shared_prompts() else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    for p in PROMPTS {
        std::fs::copy(
            prompts.join(p),
            input.join(Path::new(p).file_name().unwrap()),
        )
        .unwrap();
    }
    let pipeline = tmp.path().join("pipeline.toml");
    std::fs::write(&pipeline, PIPELINE).unwrap();
    let single = tmp.path().join("single");
    run(&input, &single, &model, &pipeline, None);
    let shards: Vec<PathBuf> = (0..3)
        .map(|i| tmp.path().join(format!("shard{i}")))
        .collect();
    for (i, dir) in shards.iter().enumerate() {
        run(&input, dir, &model, &pipeline, Some(&format!("{i}/3")));
    }
    // Every shard took a part, none took all.
    let counts: Vec<usize> = shards
        .iter()
        .map(|d| std::fs::read_dir(d.join("transcripts")).unwrap().count())
        .collect();
    assert_eq!(counts.iter().sum::<usize>(), PROMPTS.len(), "{counts:?}");
    assert!(counts.iter().all(|&c| c < PROMPTS.len()), "{counts:?}");

    let merged = tmp.path().join("merged");
    let report = merge(&shards, &merged);
    assert_eq!(report["calls"], PROMPTS.len());
    assert_eq!(report["in_several_shards"], 0);

    let want = transcripts(&single);
    assert_eq!(want.len(), PROMPTS.len());
    assert_eq!(transcripts(&merged), want, "same transcripts");
    for query in [
        "press",
        "\"please hold\"",
        "message",
        "password",
        "mailbox OR conference",
    ] {
        let expected = hits(&single, query);
        assert!(!expected.is_empty(), "the single run finds {query}");
        assert_eq!(hits(&merged, query), expected, "hits of {query}");
    }
    // Rule hits live in the transcripts' analysis, the index's rule names and the tables.
    let rule = hits(&merged, "press rule:menu_talk");
    assert_eq!(rule, hits(&single, "press rule:menu_talk"));
    assert!(!rule.is_empty());
    let rows = table_rows(&single);
    assert!(rows.iter().any(|r| r.contains("menu_talk")), "hits rows");
    assert!(rows.iter().any(|r| r.contains("politeness")), "score rows");
    assert_eq!(table_rows(&merged), rows, "same table rows");
    // The manifest knows every call, so `run` over the same inputs into the
    // merged folder has nothing to do.
    let status = bin()
        .args(["status", "--out"])
        .arg(&merged)
        .assert()
        .success();
    let status = String::from_utf8_lossy(&status.get_output().stdout).to_string();
    assert!(
        status.starts_with(&format!("{} calls done", PROMPTS.len())),
        "{status}"
    );
    let rerun = bin()
        .args([
            "run",
            "--json",
            "--min-age",
            "0",
            "--language",
            "en",
            "--input",
        ])
        .arg(&input)
        .arg("--out")
        .arg(&merged)
        .arg("--model")
        .arg(&model)
        .arg("--pipeline")
        .arg(&pipeline)
        .env_remove("JOB_COMPLETION_INDEX")
        .env_remove("SLURM_ARRAY_TASK_ID")
        .assert()
        .success();
    let rerun: serde_json::Value = serde_json::from_slice(&rerun.get_output().stdout).unwrap();
    let inputs = rerun["inputs"].as_array().unwrap();
    assert_eq!(inputs.len(), PROMPTS.len());
    assert!(inputs.iter().all(|i| i["status"] == "skipped"), "{rerun}");

    // Merging again is idempotent.
    let again = merge(&shards, &merged);
    assert_eq!(again["transcripts_written"], 0, "{again}");
    assert_eq!(again["run_reports"], 0, "{again}");
    assert_eq!(transcripts(&merged), want);
    assert_eq!(table_rows(&merged), rows);
    assert_eq!(hits(&merged, "press"), hits(&single, "press"));

    // A shard given twice, or a call in two shards, is taken once.
    let twice = tmp.path().join("twice");
    copy_dir(&shards[0], &twice);
    let mut with_copy = shards.clone();
    with_copy.push(twice.clone());
    let doubled = tmp.path().join("doubled");
    let r = merge(&with_copy, &doubled);
    assert_eq!(r["calls"], PROMPTS.len());
    assert_eq!(r["in_several_shards"], counts[0]);
    assert_eq!(
        r["index_docs"], report["index_docs"],
        "no doubled index documents"
    );
    assert_eq!(
        hits(&doubled, "press"),
        hits(&single, "press"),
        "no doubled hits"
    );
    assert_eq!(table_rows(&doubled), rows, "no doubled rows");

    refusals(&shards, &merged, tmp.path());
}

/// A missing shard, a locked one and one of another version are refused,
/// naming the folder or file, and leave the merged folder as it was.
fn refusals(shards: &[PathBuf], merged: &Path, tmp: &Path) {
    let before = transcripts(merged);
    let missing = tmp.join("no-such-shard");
    let out = bin()
        .arg("merge")
        .arg(&shards[0])
        .arg(&missing)
        .arg("--out")
        .arg(merged)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("no-such-shard"), "{err}");

    // A shard task still running holds its lock.
    let lock = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open(shards[1].join("run.lock"))
        .unwrap();
    use std::os::fd::AsRawFd;
    assert_eq!(
        unsafe { libc::flock(lock.as_raw_fd(), libc::LOCK_EX | libc::LOCK_NB) },
        0
    );
    let out = bin()
        .arg("merge")
        .args(shards)
        .arg("--out")
        .arg(merged)
        .assert()
        .code(4);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("shard1"), "{err}");
    drop(lock);

    let old = tmp.join("old-version");
    copy_dir(&shards[2], &old);
    let t = std::fs::read_dir(old.join("transcripts"))
        .unwrap()
        .next()
        .unwrap()
        .unwrap()
        .path();
    let text = std::fs::read_to_string(&t).unwrap();
    std::fs::write(
        &t,
        text.replace("callsift.transcript/1", "callsift.transcript/9"),
    )
    .unwrap();
    let out = bin()
        .arg("merge")
        .arg(&shards[0])
        .arg(&old)
        .arg("--out")
        .arg(merged)
        .assert()
        .failure();
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains(&t.display().to_string()), "{err}");
    assert_eq!(
        transcripts(merged),
        before,
        "a refused merge changes nothing"
    );
}

fn copy_dir(from: &Path, to: &Path) {
    for entry in walkdir::WalkDir::new(from) {
        let entry = entry.unwrap();
        let rel = entry.path().strip_prefix(from).unwrap();
        let dest = to.join(rel);
        if entry.file_type().is_dir() {
            std::fs::create_dir_all(&dest).unwrap();
        } else if entry.file_name() != "run.lock" {
            std::fs::copy(entry.path(), &dest).unwrap();
        }
    }
}

#[test]
fn do_not_call_exports_are_united_by_number() {
    let tmp = tempfile::tempdir().unwrap();
    let header = "number,listed_at,call_id,speaker,phrase,at_ms,source\n";
    let a = tmp.path().join("a");
    let b = tmp.path().join("b");
    for (dir, rows) in [
        (
            &a,
            "+48221234567,2026-11-02T10:00:00Z,aa,customer,nie dzwońcie,1000,call\n\
             +442079460123,2026-11-03T10:00:00Z,ab,customer,stop calling,2000,call\n",
        ),
        (
            &b,
            "+48221234567,2026-11-01T09:00:00Z,ba,customer,proszę nie dzwonić,500,call\n\
             +79161234567,2026-11-04T10:00:00Z,bb,customer,не звоните,700,call\n",
        ),
    ] {
        std::fs::create_dir_all(dir.join("transcripts")).unwrap();
        std::fs::create_dir_all(dir.join("exports")).unwrap();
        std::fs::write(
            dir.join("exports/do-not-call.csv"),
            format!("{header}{rows}"),
        )
        .unwrap();
    }
    let out = tmp.path().join("out");
    let report = merge(&[a.clone(), b.clone()], &out);
    assert_eq!(report["do_not_call"], 3, "{report}");
    let csv = std::fs::read_to_string(out.join("exports/do-not-call.csv")).unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(lines.len(), 4, "{csv}");
    // The earliest request of a number wins.
    assert!(
        csv.contains("+48221234567,2026-11-01T09:00:00Z,ba"),
        "{csv}"
    );
    assert!(!csv.contains(",aa,"), "{csv}");
    // Again: the same file.
    merge(&[a, b], &out);
    assert_eq!(
        std::fs::read_to_string(out.join("exports/do-not-call.csv")).unwrap(),
        csv
    );
}
