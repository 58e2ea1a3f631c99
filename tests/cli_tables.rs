//! `callsift import`, `report` and `tables rebuild` as a user runs them:
//! the metadata stage on an imported file's name, the report's numbers for
//! the designed call and its scores and rule hits, the HTML page, date
//! filters, a rebuild that matches the incremental tables, clear errors,
//! and an import killed with SIGKILL at eight moments leaving every call
//! once.

mod common;

use std::path::{Path, PathBuf};

use common::bin;

fn fixture(dir: &str, name: &str) -> PathBuf {
    common::manifest_dir()
        .join("tests/fixtures")
        .join(dir)
        .join(name)
}

fn stdout_of(args: &[&str], out: &Path) -> String {
    let output = bin().args(args).arg("--out").arg(out).output().unwrap();
    assert!(
        output.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    String::from_utf8(output.stdout).unwrap()
}

/// The designed call (agent 101, 2026-11-20) and an SRT named the generic
/// `<agent>_<number>_<date>` way (agent 207, 2026-11-21 in Warsaw).
fn imported() -> tempfile::TempDir {
    imported_with(false)
}

/// As [`imported`]; with `analysis`, the designed call carries the rules'
/// findings of `tests/fixtures/tables/designed-analysis.json` (an imported
/// callsift transcript keeps its `analysis`: this pipeline has no rules),
/// so `hits` and `scores` have rows.
fn imported_with(analysis: bool) -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let mut designed = fixture("tables", "designed.json");
    if analysis {
        let mut t: serde_json::Value =
            serde_json::from_slice(&std::fs::read(&designed).unwrap()).unwrap();
        let findings = std::fs::read(fixture("tables", "designed-analysis.json")).unwrap();
        t["analysis"] = serde_json::from_slice(&findings).unwrap();
        designed = out.path().join("designed-analysed.json");
        std::fs::write(&designed, serde_json::to_vec(&t).unwrap()).unwrap();
    }
    let named = out
        .path()
        .join("agent207_48600100200_2026-11-21_10-15-00.srt");
    std::fs::copy(fixture("import", "call.srt"), &named).unwrap();
    let pipeline = out.path().join("warsaw.toml");
    std::fs::write(&pipeline, "[metadata]\ntime_zone = \"Europe/Warsaw\"\n").unwrap();
    bin()
        .args(["import", "--language", "pl", "--pipeline"])
        .arg(&pipeline)
        .arg("--out")
        .arg(out.path())
        .arg(&designed)
        .arg(&named)
        .assert()
        .success();
    out
}

#[test]
fn import_fills_metadata_from_the_file_name() {
    let out = imported();
    let calls = callsift::tables::read_calls(out.path()).unwrap();
    let srt = calls
        .iter()
        .find(|c| c.agent_id.as_deref() == Some("agent207"))
        .expect("the SRT's agent from its file name");
    assert_eq!(srt.customer_number.as_deref(), Some("48600100200"));
    // 10:15 in Warsaw in November (CET, UTC+1) is 09:15 UTC.
    assert_eq!(srt.call_start.unwrap().to_string(), "2026-11-21T09:15:00Z");
    assert!(
        srt.metadata_source_json
            .contains("filename:agent-number-datetime"),
        "{}",
        srt.metadata_source_json
    );
    // `show` says who and when in its header.
    let shown = stdout_of(&["show", &srt.call_id], out.path());
    let header: Vec<&str> = shown.lines().take(3).collect();
    assert_eq!(
        header[2], "started 2026-11-21T09:15:00Z  agent agent207  customer 48600100200",
        "{shown}"
    );
}

#[test]
fn report_shows_the_designed_call_by_agent_and_day() {
    let out = imported_with(true);
    let text = stdout_of(&["report", "--by", "agent"], out.path());
    // Agent 101: talk 26.2 s of 35.2 s agent + customer = 74.4 %; silence
    // 7.5 s of 40 s = 18.8 %; 1 and 2 interruptions; 20 s monologue.
    let line = text
        .lines()
        .find(|l| l.starts_with("101 "))
        .unwrap_or_else(|| panic!("no line for agent 101:\n{text}"));
    let cells: Vec<&str> = line.split_whitespace().collect();
    assert_eq!(
        cells,
        [
            "101", "1", "0.0", "74.4", "18.8", "1.00", "2.00", "30", "20s"
        ],
        "{text}"
    );
    let by_day = stdout_of(&["report", "--by", "day"], out.path());
    assert!(
        by_day.lines().any(|l| l.starts_with("2026-11-20 ")),
        "{by_day}"
    );
    let later = stdout_of(&["report", "--from", "2026-11-22"], out.path());
    assert!(later.contains("no calls"), "{later}");
    // The date filter applies to the rules' findings too.
    assert!(!later.contains("Rule hits by day"), "{later}");
}

/// The findings of `designed-analysis.json`, worked out by hand: one
/// `sales-basics` card scored 60 (`thanks` failed, `retention-offer` did
/// not apply), a `collections` card nothing applied to, three hits on the
/// call's day (any time zone from UTC−9 to UTC+14 keeps 09:15 UTC on it).
#[test]
fn report_shows_scores_and_rule_hits() {
    let out = imported_with(true);
    let text = stdout_of(&["report"], out.path());
    let section = |title: &str| -> Vec<Vec<String>> {
        let lines: Vec<&str> = text.lines().collect();
        let start = lines
            .iter()
            .position(|l| *l == title)
            .unwrap_or_else(|| panic!("no section {title}:\n{text}"));
        // The header, then rows up to the legend (which has `=` in it).
        lines[start + 2..]
            .iter()
            .take_while(|l| !l.contains('='))
            .map(|l| l.split_whitespace().map(str::to_string).collect())
            .collect()
    };
    assert_eq!(
        section("Scores by agent"),
        [
            ["101", "collections", "1", "1", "-", "0"],
            ["101", "sales-basics", "1", "0", "60.0", "0"],
        ],
        "{text}"
    );
    assert_eq!(
        section("Criteria most often failed"),
        [["sales-basics", "thanks", "1", "1", "100.0"]],
        "{text}"
    );
    assert_eq!(
        section("Rule hits by day"),
        [
            ["2026-11-20", "card-offer", "watchlist", "high", "1", "1"],
            ["2026-11-20", "dnc-list", "dnc_listed", "high", "1", "1"],
            [
                "2026-11-20",
                "recording-notice",
                "watchlist",
                "low",
                "1",
                "1"
            ],
        ],
        "{text}"
    );
    let page = out.path().join("report.html");
    bin()
        .args(["report", "--out"])
        .arg(out.path())
        .arg("--html")
        .arg(&page)
        .assert()
        .success();
    let html = std::fs::read_to_string(&page).unwrap();
    for h2 in [
        "Scores by agent",
        "Criteria most often failed",
        "Rule hits by day",
    ] {
        assert!(html.contains(&format!("<h2>{h2}</h2>")), "no {h2}");
    }
    assert!(html.contains("<td class=\"t\">recording-notice</td>"));
    // Without rules the sections are not there at all.
    let plain = stdout_of(&["report"], imported().path());
    assert!(!plain.contains("Scores by agent"), "{plain}");
    assert!(!plain.contains("Rule hits by day"), "{plain}");
}

#[test]
fn report_writes_a_self_contained_page() {
    let out = imported();
    let page = out.path().join("report.html");
    bin()
        .args(["report", "--by", "day", "--out"])
        .arg(out.path())
        .arg("--html")
        .arg(&page)
        .assert()
        .success();
    let html = std::fs::read_to_string(&page).unwrap();
    assert!(html.contains("<svg"), "no plot");
    assert!(
        html.contains("agent207"),
        "the per-agent plot names the agents"
    );
    assert!(!html.contains("http://") && !html.contains("https://"));
}

#[test]
fn rebuild_equals_the_incremental_tables() {
    let out = imported();
    let sorted = |out: &Path| {
        let mut rows = callsift::tables::read_calls(out).unwrap();
        rows.sort_by(|a, b| a.call_id.cmp(&b.call_id));
        rows
    };
    let before = sorted(out.path());
    let segments_before = callsift::tables::read_segments(out.path()).unwrap().len();
    std::fs::remove_dir_all(out.path().join("parquet")).unwrap();
    bin()
        .args(["tables", "rebuild", "--out"])
        .arg(out.path())
        .assert()
        .success()
        .stderr(predicates::str::contains("tables rebuilt: 2 calls"));
    assert_eq!(sorted(out.path()), before);
    assert_eq!(
        callsift::tables::read_segments(out.path()).unwrap().len(),
        segments_before
    );
}

#[test]
fn a_broken_transcript_fails_alone_in_a_rebuild() {
    let out = imported();
    std::fs::write(
        out.path().join("transcripts/ffffffffffffffffffff.json"),
        "{ not json",
    )
    .unwrap();
    bin()
        .args(["tables", "rebuild", "--out"])
        .arg(out.path())
        .assert()
        .code(3)
        .stderr(predicates::str::contains("ffffffffffffffffffff.json"));
    assert_eq!(callsift::tables::read_calls(out.path()).unwrap().len(), 2);
}

#[test]
fn report_without_tables_says_how_to_make_them() {
    let out = tempfile::tempdir().unwrap();
    bin()
        .args(["report", "--out"])
        .arg(out.path())
        .assert()
        .code(1)
        .stderr(predicates::str::contains("tables rebuild"));
}

/// Writes `calls` callsift transcripts (10 segments each) into `dir`, the
/// call `c` starting on day `c % 5` plus `shift_days`.
fn dated_transcripts(dir: &Path, calls: usize, shift_days: i64) -> Vec<PathBuf> {
    use callsift::model::{Segment, TRANSCRIPT_SCHEMA, Transcript};
    std::fs::create_dir_all(dir).unwrap();
    (0..calls)
        .map(|c| {
            let call_id = format!("{c:020x}");
            let day = 1_795_000_000 + 86_400 * ((c % 5) as i64 + shift_days);
            let t = Transcript {
                schema: TRANSCRIPT_SCHEMA.into(),
                call_id: call_id.clone(),
                source_path: format!("/rec/{c}.wav"),
                content_hash: format!("blake3:{call_id}"),
                call_start: Some(jiff::Timestamp::from_second(day).unwrap()),
                duration_ms: 60_000,
                channels: 2,
                sample_rate_hz: 8000,
                codec: "pcm_mulaw".into(),
                metadata: Default::default(),
                metadata_source: Default::default(),
                model: "scripted".into(),
                languages: Default::default(),
                segments: (0..10)
                    .map(|i| Segment {
                        start_ms: i * 5_000,
                        end_ms: i * 5_000 + 4_000,
                        channel: (i % 2) as usize,
                        speaker: if i % 2 == 0 { "agent" } else { "customer" }.into(),
                        language: "pl".into(),
                        text: format!("rozmowa {c} linia {i}"),
                        avg_logprob: -0.1,
                        no_speech_prob: 0.0,
                    })
                    .collect(),
                speech: Vec::new(),
                warnings: Vec::new(),
                pipeline: "test".into(),
                processed_at: None,
                processing_ms: None,
                analysis: None,
            };
            let path = dir.join(format!("{call_id}.json"));
            std::fs::write(&path, serde_json::to_vec(&t).unwrap()).unwrap();
            path
        })
        .collect()
}

/// Call id → UTC date of every calls row, after the next writer's open has
/// finished or discarded an interrupted commit; no call may appear twice,
/// and every call's segments sit with it.
fn rows_by_call(out: &Path) -> std::collections::BTreeMap<String, String> {
    drop(callsift::tables::TablesWriter::open(out, Default::default()).unwrap());
    let mut by_call = std::collections::BTreeMap::new();
    for row in callsift::tables::read_calls(out).unwrap() {
        let date = callsift::tables::partition_of(row.call_start);
        let twice = by_call.insert(row.call_id.clone(), date);
        assert!(twice.is_none(), "{} appears twice", row.call_id);
    }
    let segments = callsift::tables::read_segments(out).unwrap();
    assert_eq!(
        segments.len(),
        10 * by_call.len(),
        "segments follow their calls"
    );
    by_call
}

#[test]
fn an_import_killed_at_any_moment_leaves_old_or_new_rows() {
    const CALLS: usize = 1500;
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let import = |files: &[PathBuf]| {
        let mut cmd = std::process::Command::new(assert_cmd::cargo::cargo_bin("callsift"));
        cmd.args(["-q", "import", "--format", "callsift", "--out"])
            .arg(&out)
            .args(files)
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null());
        cmd
    };
    let old = dated_transcripts(&work.path().join("old"), CALLS, 0);
    assert!(import(&old).status().unwrap().success());
    let old_dates = rows_by_call(&out);
    assert_eq!(old_dates.len(), CALLS);
    // The same calls again, each one day later: every commit moves calls
    // between partitions. Killed with SIGKILL at different moments, the
    // tables hold each call once, on its old or its new date.
    let new = dated_transcripts(&work.path().join("new"), CALLS, 1);
    let mut killed_while_running = 0;
    for delay_ms in [150, 400, 650, 900, 1200, 1600, 2100, 2700] {
        let mut child = import(&new).spawn().unwrap();
        std::thread::sleep(std::time::Duration::from_millis(delay_ms));
        if child.try_wait().unwrap().is_none() {
            killed_while_running += 1;
        }
        child.kill().unwrap();
        child.wait().unwrap();
        let dates = rows_by_call(&out);
        assert_eq!(
            dates.len(),
            CALLS,
            "killed after {delay_ms} ms: a call is missing"
        );
        let moved = dates.iter().filter(|(id, d)| old_dates[*id] != **d).count();
        eprintln!("killed after {delay_ms} ms: {moved} of {CALLS} calls on their new date");
    }
    assert!(
        killed_while_running >= 4,
        "the import ended before most kills: make it bigger"
    );
    assert!(import(&new).status().unwrap().success());
    let dates = rows_by_call(&out);
    assert!(
        dates.iter().all(|(id, d)| old_dates[id] != *d),
        "after a whole run every call is on its new date"
    );
}
