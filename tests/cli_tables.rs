//! `callsift import`, `report` and `tables rebuild` as a user runs them:
//! the metadata stage on an imported file's name, the report's numbers for
//! the designed call, the HTML page, date filters, a rebuild that matches
//! the incremental tables, and clear errors.

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
    let out = tempfile::tempdir().unwrap();
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
        .arg(fixture("tables", "designed.json"))
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
    let out = imported();
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
