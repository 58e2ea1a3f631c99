//! Retention as an operator uses it: `callsift purge --older-than` over
//! imported calls with chosen dates (dry run, search, tables, transcripts,
//! manifest, run reports, the do-not-call export kept, the run lock), and
//! `retention_days` in a pipeline file with real whisper.cpp runs (the
//! random-weight model: the text does not matter), where a purged recording
//! that reappears is skipped unless `--force`.

mod common;

use std::path::{Path, PathBuf};

use callsift::model::{InputStatus, RunReport};
use common::*;

/// A rule pipeline: a watchlist (hits, alerts) and a do-not-call request.
const RULES: &str = r#"
default_country = "PL"

[[watchlist]]
name = "zebra_talk"
phrases = ["zebra"]

[[do_not_call]]
name = "dnc_request"
phrases = ["don't call me again"]
"#;

/// An SRT whose agent says `agent` and customer says `customer`.
fn srt(agent: &str, customer: &str) -> String {
    format!(
        "1\n00:00:01,000 --> 00:00:03,000\nAgent: {agent}\n\n\
         2\n00:00:04,000 --> 00:00:06,000\nCustomer: {customer}\n"
    )
}

/// An old call (2020, says zebra, asks not to be called), a second old one
/// and a call started an hour ago, imported with [`RULES`] into `OUT`.
fn imported(tmp: &Path) -> PathBuf {
    let out = tmp.join("out");
    let files = tmp.join("files");
    std::fs::create_dir_all(&files).unwrap();
    let recent = jiff::Timestamp::now() - jiff::SignedDuration::from_hours(1);
    let recent = recent.strftime("%Y-%m-%d_%H-%M-%S").to_string();
    let calls = [
        (
            "agent1_48600100200_2020-01-15_10-00-00.srt".to_string(),
            srt("the zebra offer", "don't call me again"),
        ),
        (
            "agent2_48600100300_2020-02-01_09-00-00.srt".to_string(),
            srt("hello giraffe", "thanks zebra"),
        ),
        (
            format!("agent3_48600100400_{recent}.srt"),
            srt("the zebra offer again", "sounds good"),
        ),
    ];
    let pipeline = tmp.join("rules.toml");
    std::fs::write(&pipeline, RULES).unwrap();
    let mut cmd = bin();
    cmd.args(["import", "--language", "en", "--pipeline"])
        .arg(&pipeline)
        .arg("--out")
        .arg(&out);
    for (name, text) in calls {
        let path = files.join(name);
        std::fs::write(&path, text).unwrap();
        cmd.arg(path);
    }
    cmd.assert().success();
    out
}

fn purge(out: &Path, extra: &[&str]) -> serde_json::Value {
    let o = bin()
        .args(["purge", "--json", "--older-than", "90d", "--out"])
        .arg(out)
        .args(extra)
        .assert()
        .success();
    serde_json::from_slice(&o.get_output().stdout).unwrap()
}

/// Agents of the calls `callsift search` finds for `query`.
fn found_agents(out: &Path, query: &str) -> Vec<String> {
    let o = bin()
        .args(["search", "--format", "json", "--out"])
        .arg(out)
        .arg(query)
        .assert()
        .success();
    let hits: serde_json::Value = serde_json::from_slice(&o.get_output().stdout).unwrap();
    let mut agents: Vec<String> = hits
        .as_array()
        .expect("search JSON is a list of hits")
        .iter()
        .map(|h| h["agent_id"].as_str().unwrap_or("?").to_string())
        .collect();
    agents.sort();
    agents.dedup();
    agents
}

/// Every file under `dir` with its bytes (the audit log aside: purges are audited).
fn snapshot(dir: &Path) -> Vec<(PathBuf, Vec<u8>)> {
    let mut files = Vec::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else if p.file_name().unwrap() != "audit.log" && p.file_name().unwrap() != "run.lock"
            {
                files.push((p.clone(), std::fs::read(&p).unwrap()));
            }
        }
    }
    files.sort();
    files
}

fn transcripts(out: &Path) -> usize {
    std::fs::read_dir(out.join("transcripts")).unwrap().count()
}

#[test]
fn purge_removes_old_calls_everywhere_and_keeps_new_ones_and_the_dnc_list() {
    let tmp = tempfile::tempdir().unwrap();
    let out = imported(tmp.path());
    assert_eq!(found_agents(&out, "zebra"), ["agent1", "agent2", "agent3"]);
    let export_before = std::fs::read_to_string(out.join("exports/do-not-call.csv")).unwrap();
    assert!(export_before.contains("48600100200"), "{export_before}");

    // A dry run lists the two old calls and changes nothing.
    let before = snapshot(&out);
    let dry = purge(&out, &["--dry-run"]);
    assert_eq!(dry["dry_run"], true);
    assert_eq!(dry["calls"].as_array().unwrap().len(), 2, "{dry}");
    assert_eq!(dry["kept"], 1);
    assert!(before == snapshot(&out), "a dry run changed OUT");

    let done = purge(&out, &[]);
    assert_eq!(done["calls"].as_array().unwrap().len(), 2, "{done}");
    assert_eq!(done["transcripts_removed"], 2);
    assert_eq!(done["table_calls_removed"], 2);
    assert_eq!(done["run_reports_rewritten"], 1);
    let gone: Vec<&str> = done["calls"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["call_id"].as_str().unwrap())
        .collect();

    // Search, every table and the transcripts keep only the new call.
    assert_eq!(found_agents(&out, "zebra"), ["agent3"]);
    let calls = callsift::tables::read_calls(&out).unwrap();
    assert_eq!(calls.len(), 1);
    assert_eq!(calls[0].agent_id.as_deref(), Some("agent3"));
    let segments = callsift::tables::read_segments(&out).unwrap();
    assert!(segments.iter().all(|s| s.call_id == calls[0].call_id));
    assert!(!segments.is_empty());
    let hits = callsift::tables::read_hits(&out).unwrap();
    assert!(
        hits.iter().all(|h| h.call_id == calls[0].call_id),
        "{hits:?}"
    );
    assert!(!hits.is_empty());
    // The 2020 partitions are dropped, not left empty.
    for table in ["calls", "segments", "hits"] {
        let dates: Vec<String> = std::fs::read_dir(out.join("parquet").join(table))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert!(
            dates.iter().all(|d| !d.starts_with("date=2020")),
            "{table}: {dates:?}"
        );
    }
    assert_eq!(transcripts(&out), 1);
    // The run report and its alerts no longer name the old calls' hits.
    for entry in std::fs::read_dir(out.join("runs")).unwrap() {
        let p = entry.unwrap().path();
        let files = if p.is_dir() {
            vec![p.join("alerts.json"), p.join("alerts.csv")]
        } else {
            vec![p]
        };
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap();
            if f.extension().unwrap() == "json" && !f.ends_with("alerts.json") {
                let run: RunReport = serde_json::from_str(&text).unwrap();
                for i in &run.inputs {
                    if gone.contains(&i.call_id.as_deref().unwrap_or_default()) {
                        assert!(i.hits.is_empty(), "{}: {:?}", f.display(), i.hits);
                    }
                }
            } else {
                for id in &gone {
                    assert!(!text.contains(id), "{}: names {id}", f.display());
                }
            }
        }
    }
    // The do-not-call request outlives its call.
    let export_after = std::fs::read_to_string(out.join("exports/do-not-call.csv")).unwrap();
    assert_eq!(export_after, export_before);
    // The manifest knows the purged calls.
    let manifest = callsift::manifest::Manifest::open(&out).unwrap();
    for id in &gone {
        let entry = manifest.purged_entry(id).unwrap().expect("a purged entry");
        assert!(entry.finished);
    }
    drop(manifest);
    // The audit trail names the purge and who ran it.
    let audit = std::fs::read_to_string(out.join("audit.log")).unwrap();
    let purges: Vec<&str> = audit.lines().filter(|l| l.contains("\"purge\"")).collect();
    assert_eq!(purges.len(), 2, "{audit}");
    assert!(purges[1].contains(&callsift::audit::os_user()), "{audit}");

    // Nothing left to purge: a second purge is a no-op.
    let again = purge(&out, &[]);
    assert_eq!(again["calls"].as_array().unwrap().len(), 0);
    assert_eq!(found_agents(&out, "zebra"), ["agent3"]);
}

#[test]
fn a_purge_while_a_run_holds_the_lock_exits_4() {
    let tmp = tempfile::tempdir().unwrap();
    let out = imported(tmp.path());
    let lock = callsift::run_lock::acquire(&out, "run").unwrap();
    let o = bin()
        .args(["purge", "--older-than", "90d", "--out"])
        .arg(&out)
        .assert()
        .code(4);
    let stderr = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    assert!(stderr.contains("callsift run"), "{stderr}");
    assert_eq!(transcripts(&out), 3);
    drop(lock);
}

#[test]
fn older_than_needs_a_unit() {
    let tmp = tempfile::tempdir().unwrap();
    bin()
        .args(["purge", "--older-than", "90", "--out"])
        .arg(tmp.path())
        .assert()
        .code(2);
}

fn run(input: &Path, out: &Path, pipeline: &Path, extra: &[&str]) -> (RunReport, String) {
    let o = bin()
        .args(["run", "--json", "--min-age", "0", "--input"])
        .arg(input)
        .arg("--out")
        .arg(out)
        .arg("--model")
        .arg(random_model())
        .arg("--pipeline")
        .arg(pipeline)
        .args(extra)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    (
        serde_json::from_slice(&o.get_output().stdout).unwrap(),
        stderr,
    )
}

fn status_of<'a>(r: &'a RunReport, name: &str) -> (InputStatus, &'a str) {
    let i = r
        .inputs
        .iter()
        .find(|i| i.path.ends_with(name))
        .unwrap_or_else(|| panic!("{name} not in the report"));
    (i.status, i.error.as_deref().unwrap_or_default())
}

#[test]
fn retention_days_purges_at_the_end_of_a_run_and_a_purged_recording_stays_purged() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    let old = "agent1_48600100200_2020-01-15_10-00-00.wav";
    let tone = |name: &str, seed: u64| {
        write_wav_s16(
            &input.join(name),
            8000,
            &[noise(8000 * 2, 0.3, seed), noise(8000 * 2, 0.3, seed + 1)],
        )
    };
    tone(old, 1);
    // No date in the name: its call_start is its mtime, now.
    tone("new.wav", 3);
    let out = tmp.path().join("out");
    let pipeline = tmp.path().join("p.toml");
    std::fs::write(
        &pipeline,
        "retention_days = 90\n[whisper]\nlanguage = \"en\"\n",
    )
    .unwrap();

    let (first, stderr) = run(&input, &out, &pipeline, &[]);
    assert_eq!(first.ok, 2, "{stderr}");
    assert!(
        stderr.contains("retention (90 days): purged 1 call that"),
        "{stderr}"
    );
    assert_eq!(transcripts(&out), 1);
    let calls = callsift::tables::read_calls(&out).unwrap();
    assert_eq!(calls.len(), 1);
    assert!(calls[0].source_path.ends_with("new.wav"));

    // The purged recording is still on the share: skipped, with the reason.
    let (again, stderr) = run(&input, &out, &pipeline, &[]);
    assert_eq!(again.ok, 0, "{stderr}");
    let (status, why) = status_of(&again, old);
    assert_eq!(status, InputStatus::Skipped);
    assert_eq!(why, "purged (retention); --force transcribes it again");
    // Renamed (it reappears under another name): still known by content.
    std::fs::rename(input.join(old), input.join("moved.wav")).unwrap();
    let (moved, _) = run(&input, &out, &pipeline, &[]);
    assert_eq!(status_of(&moved, "moved.wav").1, why);

    // --force transcribes it again (and this pipeline purges nothing now:
    // moved.wav has no date in its name, so its call_start is its mtime).
    let (forced, stderr) = run(&input, &out, &pipeline, &["--force"]);
    assert_eq!(
        status_of(&forced, "moved.wav").0,
        InputStatus::Ok,
        "{stderr}"
    );
    assert_eq!(transcripts(&out), 2);
    let manifest = callsift::manifest::Manifest::open(&out).unwrap();
    assert_eq!(status_of(&first, old).0, InputStatus::Ok);
    let old_id = first
        .inputs
        .iter()
        .find(|i| i.path.ends_with(old))
        .and_then(|i| i.call_id.clone())
        .unwrap();
    assert!(manifest.purged_entry(&old_id).unwrap().is_none());
}

#[test]
fn delete_recordings_removes_the_source_file_and_a_killed_purge_is_finished() {
    let tmp = tempfile::tempdir().unwrap();
    let out = imported(tmp.path());
    let old = tmp
        .path()
        .join("files/agent1_48600100200_2020-01-15_10-00-00.srt");
    assert!(old.is_file());
    // A purge killed right after its first step: the manifest lists the
    // calls, nothing else was removed yet.
    let doomed: Vec<(String, callsift::manifest::PurgedEntry)> = callsift::tables::read_calls(&out)
        .unwrap()
        .into_iter()
        .filter(|c| c.agent_id.as_deref() == Some("agent1"))
        .map(|c| {
            (
                c.call_id,
                callsift::manifest::PurgedEntry {
                    purged_at: jiff::Timestamp::now(),
                    call_start: c.call_start,
                    source_path: old.display().to_string(),
                    delete_recording: true,
                    finished: false,
                },
            )
        })
        .collect();
    assert_eq!(doomed.len(), 1);
    let manifest = callsift::manifest::Manifest::open(&out).unwrap();
    manifest.begin_purge(&doomed).unwrap();
    drop(manifest);
    // A later purge with a cutoff that spares every call still finishes it,
    // recording included, as the killed one was asked.
    let o = bin()
        .args(["purge", "--json", "--older-than", "5000w", "--out"])
        .arg(&out)
        .assert()
        .success();
    let done: serde_json::Value = serde_json::from_slice(&o.get_output().stdout).unwrap();
    assert_eq!(done["calls"].as_array().unwrap().len(), 1, "{done}");
    assert_eq!(done["recordings_deleted"], 1);
    assert!(!old.exists());
    assert_eq!(transcripts(&out), 2);
    assert_eq!(found_agents(&out, "zebra"), ["agent2", "agent3"]);
}
