//! `callsift import`, `search`, `show --at` and `index rebuild` as a user
//! runs them: every output format parsed back, invalid queries, the audit
//! trail, re-import replacing, a folder without an index.

mod common;

use std::path::{Path, PathBuf};

use common::bin;

fn fixture(name: &str) -> PathBuf {
    common::manifest_dir()
        .join("tests/fixtures/import")
        .join(name)
}

/// Imports the good fixtures into a fresh folder.
fn imported() -> tempfile::TempDir {
    let out = tempfile::tempdir().unwrap();
    let files = [
        "whisperx.json",
        "call.vtt",
        "aws_call_analytics.json",
        "aws_standard.json",
        "whisper_cpp.json",
    ];
    let mut cmd = bin();
    cmd.arg("import").arg("--out").arg(out.path());
    for f in files {
        cmd.arg(fixture(f));
    }
    cmd.assert().success();
    // SRT says no language: given on the command line.
    bin()
        .args(["import", "--language", "pl", "--out"])
        .arg(out.path())
        .arg(fixture("call.srt"))
        .assert()
        .success();
    out
}

fn search(out: &Path, args: &[&str]) -> std::process::Output {
    bin()
        .arg("search")
        .args(args)
        .arg("--out")
        .arg(out)
        .output()
        .unwrap()
}

fn stdout(o: &std::process::Output) -> String {
    String::from_utf8(o.stdout.clone()).unwrap()
}

fn json_hits(out: &Path, args: &[&str]) -> Vec<serde_json::Value> {
    let o = search(out, &[args, &["--format", "json"]].concat());
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    serde_json::from_slice::<Vec<serde_json::Value>>(&o.stdout).unwrap()
}

fn count(out: &Path, query: &str) -> usize {
    let o = search(out, &[query, "--count"]);
    assert_eq!(
        o.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&o.stderr)
    );
    stdout(&o).trim().parse().unwrap()
}

#[test]
fn imported_transcripts_are_searchable_in_every_format() {
    let out = imported();
    // SRT (Polish), inflected: "zamówienie" finds "zamówienia", no diacritics.
    let hits = json_hits(out.path(), &["zamowienie"]);
    assert_eq!(hits.len(), 1, "{hits:?}");
    let h = &hits[0];
    assert_eq!(h["speaker"], "customer");
    assert_eq!(h["start_ms"], 5120);
    // "zamówienia" is about half way into the 5.12–8.00 s cue.
    let at = h["at_ms"].as_u64().unwrap();
    assert!((6_000..7_000).contains(&at), "{h}");
    assert_eq!(h["time"], "00:00:06");
    assert!(
        h["snippet"].as_str().unwrap().contains("<b>zamówienia</b>"),
        "{h}"
    );
    for key in [
        "call_id",
        "source_path",
        "end_ms",
        "language",
        "text",
        "score",
    ] {
        assert!(!h[key].is_null(), "{key} missing in {h}");
    }
    // The table: time in the call, speaker, call id, snippet, recording path.
    let o = search(out.path(), &["zamowienie"]);
    let table = stdout(&o);
    assert!(
        table.contains("00:00:06") && table.contains("customer"),
        "{table}"
    );
    assert!(
        table.contains("[zamówienia]") && table.contains("call.srt"),
        "{table}"
    );
    assert!(table.contains(h["call_id"].as_str().unwrap()), "{table}");
    // CSV parses back with its header.
    let o = search(out.path(), &["zamowienie", "--format", "csv"]);
    let mut rdr = csv::Reader::from_reader(o.stdout.as_slice());
    let header: Vec<String> = rdr.headers().unwrap().iter().map(str::to_owned).collect();
    assert_eq!(header, callsift::search_output::CSV_HEADER);
    let rows: Vec<csv::StringRecord> = rdr.records().map(Result::unwrap).collect();
    assert_eq!(rows.len(), 1);
    assert_eq!(&rows[0][3], "5120");
    assert_eq!(&rows[0][5], at.to_string());
    assert!(rows[0][12].contains("[zamówienia]"));
}

#[test]
fn reimport_replaces_and_a_bad_file_fails_alone() {
    let out = imported();
    let before = count(out.path(), "dzień OR שלום OR the");
    assert!(before > 0);
    // The same files again, plus broken ones: the good are replaced (same
    // counts), the bad are reported, exit 3.
    let o = bin()
        .arg("import")
        .arg("--out")
        .arg(out.path())
        .args(["--language", "pl"])
        .args([
            fixture("whisperx.json"),
            fixture("call.srt"),
            fixture("bad_times.srt"),
            fixture("garbage.json"),
        ])
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(3));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("bad_times.srt") && err.contains("garbage.json"),
        "{err}"
    );
    assert_eq!(count(out.path(), "dzień OR שלום OR the"), before);
}

#[test]
fn invalid_queries_exit_2_and_point_at_the_problem() {
    let out = imported();
    for (query, needle, caret_at) in [
        ("\"personal mobile", "never closed", 0),
        ("mobile foo:bar", "unknown field `foo`", 7),
        ("(a OR b", "never closed", 0),
    ] {
        let o = search(out.path(), &[query]);
        assert_eq!(o.status.code(), Some(2), "{query}");
        let err = String::from_utf8_lossy(&o.stderr).into_owned();
        assert!(err.contains(needle), "{query}: {err}");
        let caret_line = err
            .lines()
            .find(|l| l.trim() == "^")
            .unwrap_or_else(|| panic!("{err}"));
        assert_eq!(caret_line.find('^').unwrap(), 2 + caret_at, "{err}");
    }
}

#[test]
fn bad_dates_and_times_are_usage_errors() {
    let out = imported();
    let o = search(out.path(), &["dzień", "--from", "yesterday"]);
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--from `yesterday`"));
    let id = json_hits(out.path(), &["zamowienie"])[0]["call_id"]
        .as_str()
        .unwrap()
        .to_string();
    let o = bin()
        .args(["show", &id, "--at", "1:75", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&o.stderr).contains("--at `1:75`"));
}

#[test]
fn a_folder_without_an_index_says_how_to_make_one() {
    let out = tempfile::tempdir().unwrap();
    let o = search(out.path(), &["mobile"]);
    assert_eq!(o.status.code(), Some(1));
    let err = String::from_utf8_lossy(&o.stderr);
    assert!(
        err.contains("no search index") && err.contains("callsift index rebuild"),
        "{err}"
    );
}

#[test]
fn search_and_show_append_audit_lines() {
    let out = imported();
    json_hits(out.path(), &["zamowienie", "--speaker", "customer"]);
    let id = json_hits(out.path(), &["zamowienie"])[0]["call_id"]
        .as_str()
        .unwrap()
        .to_string();
    let shown = bin()
        .args([
            "show",
            &id[..8],
            "--at",
            "00:00:06",
            "--context",
            "1",
            "--out",
        ])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(shown.status.success());
    let text = stdout(&shown);
    assert!(
        text.contains("> [00:00:05] customer: Dzwonię w sprawie zamówienia numer 4471."),
        "{text}"
    );
    assert!(
        text.contains("  [00:00:01] agent:") && text.contains("  [00:00:08] agent:"),
        "{text}"
    );
    assert!(
        !text.contains("Dziękuję"),
        "context 1 shows one line either side: {text}"
    );

    let log_path = out.path().join("audit.log");
    let log = std::fs::read_to_string(&log_path).unwrap();
    let lines: Vec<serde_json::Value> = log
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(lines.len(), 3, "{log}");
    assert_eq!(lines[0]["command"], "search");
    assert_eq!(lines[0]["query"], "zamowienie");
    assert_eq!(lines[0]["filters"]["speaker"], "customer");
    assert_eq!(lines[0]["hits"], 1);
    assert_eq!(lines[2]["command"], "show");
    assert_eq!(lines[2]["filters"]["call"], id.as_str());
    assert!(
        lines
            .iter()
            .all(|l| l["user"].as_str().is_some_and(|u| !u.is_empty()))
    );
    assert!(lines[0]["time"].as_str().unwrap().ends_with('Z'));
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&log_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o640);
    }
    // Appended, never rewritten.
    json_hits(out.path(), &["dzień"]);
    let again = std::fs::read_to_string(&log_path).unwrap();
    assert!(again.starts_with(&log) && again.lines().count() == 4);
}

#[test]
fn index_rebuild_gives_the_same_hits() {
    let out = imported();
    let queries = [
        "zamowienie",
        "\"w czym mogę pomóc\"",
        "שלום",
        "dzie*",
        "the",
    ];
    let hits_of = |q: &str| -> Vec<(String, u64)> {
        let mut v: Vec<(String, u64)> = json_hits(out.path(), &[q, "--limit", "1000"])
            .iter()
            .map(|h| {
                (
                    h["call_id"].as_str().unwrap().to_string(),
                    h["start_ms"].as_u64().unwrap(),
                )
            })
            .collect();
        v.sort();
        v
    };
    let before: Vec<_> = queries.iter().map(|q| hits_of(q)).collect();
    assert!(before.iter().all(|h| !h.is_empty()), "{before:?}");
    std::fs::remove_dir_all(out.path().join("index")).unwrap();
    let o = bin()
        .args(["index", "rebuild", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert!(o.status.success(), "{}", String::from_utf8_lossy(&o.stderr));
    assert!(String::from_utf8_lossy(&o.stderr).contains("index rebuilt: 6 calls"));
    let after: Vec<_> = queries.iter().map(|q| hits_of(q)).collect();
    assert_eq!(before, after);
}

/// Writes `calls` generated transcripts of 20 segments each straight into
/// `OUT/transcripts/`.
fn many_transcripts(out: &Path, calls: usize) {
    use callsift::model::{Segment, TRANSCRIPT_SCHEMA, Transcript};
    let dir = out.join("transcripts");
    std::fs::create_dir_all(&dir).unwrap();
    for c in 0..calls {
        let call_id = format!("{c:020x}");
        let t = Transcript {
            schema: TRANSCRIPT_SCHEMA.into(),
            call_id: call_id.clone(),
            source_path: format!("/rec/{c}.wav"),
            content_hash: format!("blake3:{call_id}"),
            call_start: None,
            duration_ms: 100_000,
            channels: 2,
            sample_rate_hz: 8000,
            codec: "pcm_mulaw".into(),
            metadata: Default::default(),
            model: "scripted".into(),
            languages: Default::default(),
            segments: (0..20)
                .map(|i| Segment {
                    start_ms: i * 5_000,
                    end_ms: i * 5_000 + 4_000,
                    channel: (i % 2) as usize,
                    speaker: if i % 2 == 0 { "agent" } else { "customer" }.into(),
                    language: "pl".into(),
                    text: format!(
                        "zadzwonię z prywatnej komórki numer {c} linia {i} dobrze dziękuję"
                    ),
                    avg_logprob: -0.1,
                    no_speech_prob: 0.0,
                })
                .collect(),
            speech: Vec::new(),
            warnings: Vec::new(),
            metadata_source: Default::default(),
            pipeline: "test".into(),
            processed_at: None,
            processing_ms: None,
            analysis: None,
        };
        std::fs::write(
            dir.join(format!("{call_id}.json")),
            serde_json::to_vec(&t).unwrap(),
        )
        .unwrap();
    }
}

#[test]
fn a_writer_killed_mid_rebuild_leaves_the_last_commit() {
    let out = tempfile::tempdir().unwrap();
    many_transcripts(out.path(), 1500);
    bin()
        .args(["index", "rebuild", "--out"])
        .arg(out.path())
        .assert()
        .success();
    assert_eq!(count(out.path(), "komorka"), 30_000);
    // A second rebuild (one commit at its end) is killed with SIGKILL while
    // it indexes: the index still opens and still holds the first build.
    let mut child = std::process::Command::new(assert_cmd::cargo::cargo_bin("callsift"))
        .args(["index", "rebuild", "--out"])
        .arg(out.path())
        .spawn()
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(700));
    let still_running = child.try_wait().unwrap().is_none();
    child.kill().unwrap();
    child.wait().unwrap();
    assert!(
        still_running,
        "the rebuild ended before it could be killed: make the corpus bigger"
    );
    assert_eq!(count(out.path(), "komorka"), 30_000);
    // The dead writer's lock does not block the next one.
    bin()
        .args(["index", "rebuild", "--out"])
        .arg(out.path())
        .assert()
        .success();
    assert_eq!(count(out.path(), "\"prywatnej komórki\""), 30_000);
}

/// Every stored call's segments, as `call_id:segment`, in call-id order.
fn stored_segments(out: &Path) -> Vec<(String, String)> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(out.join("transcripts"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    let mut segments = Vec::new();
    for f in files {
        let t: callsift::model::Transcript =
            serde_json::from_slice(&std::fs::read(&f).unwrap()).unwrap();
        for (i, s) in t.segments.iter().enumerate() {
            segments.push((format!("{}:{i}", t.call_id), s.text.clone()));
        }
    }
    segments
}

#[test]
fn export_prints_one_document_per_segment_and_logs_only_on_stderr() {
    let out = imported();
    let expected = stored_segments(out.path());
    assert!(expected.len() > 5, "{expected:?}");
    let o = bin()
        .args(["export", "--format", "ndjson", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr).to_string();
    assert_eq!(o.status.code(), Some(0), "{stderr}");
    let docs: Vec<serde_json::Value> = stdout(&o)
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    let got: Vec<(String, String)> = docs
        .iter()
        .map(|d| {
            (
                d["doc_id"].as_str().unwrap().to_string(),
                d["text"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    assert_eq!(got, expected);
    for d in &docs {
        for field in [
            "call_id", "segment", "start_ms", "end_ms", "speaker", "language",
        ] {
            assert!(d.get(field).is_some(), "{field} missing in {d}");
        }
    }
    // stderr: the summary, never a segment's words.
    assert!(
        stderr.contains(&format!("exported {} documents", expected.len())),
        "{stderr}"
    );
    for (_, text) in &expected {
        assert!(!stderr.contains(text.trim()), "data on stderr: {stderr}");
    }
    let audit = std::fs::read_to_string(out.path().join("audit.log")).unwrap();
    assert!(audit.contains("\"command\":\"export\""), "{audit}");
}

#[test]
fn export_dates_and_a_bad_transcript_exit_3_after_the_rest() {
    let out = imported();
    let all = stored_segments(out.path()).len();
    // Far in the future: nothing.
    let o = bin()
        .args(["export", "--from", "2999-01-01", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(0));
    assert!(o.stdout.is_empty());
    let o = bin()
        .args(["export", "--from", "someday", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    assert_eq!(o.status.code(), Some(2));

    let bad = out.path().join("transcripts/0badbad0.json");
    std::fs::write(&bad, b"{ truncated").unwrap();
    let o = bin()
        .args(["export", "--out"])
        .arg(out.path())
        .output()
        .unwrap();
    let stderr = String::from_utf8_lossy(&o.stderr);
    assert_eq!(o.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains("0badbad0.json"), "{stderr}");
    assert_eq!(stdout(&o).lines().count(), all, "the others are exported");
}
