//! `callsift audit` reads back who searched, showed and reported what
//! (`OUT/audit.log`), filtered by user and date, reporting a damaged line
//! without losing the others; `--log-file` sends logs to a file while the
//! summary line stays on stderr; errors about a missing output folder
//! name `--out`.

mod common;

use common::{bin, manifest_dir, written_call};

#[test]
fn audit_lists_searches_shows_and_reports_by_user_and_date() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let t = written_call(
        "abab0000000000000001",
        "pl",
        Some("2026-11-02T09:00:00Z"),
        &[("agent_id", "anna")],
        &[(1_000, 3_000, 0, "Dzień dobry, mówi Anna.")],
    );
    let file = work.path().join("call.json");
    std::fs::write(&file, serde_json::to_vec(&t).unwrap()).unwrap();
    let log = work.path().join("run.log");
    let o = common::bin()
        .arg("-vv")
        .arg("--log-file")
        .arg(&log)
        .arg("import")
        .arg("--out")
        .arg(&out)
        .arg(&file)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    assert!(
        stderr.contains("1 files: 1 ok"),
        "the summary stays on stderr: {stderr}"
    );
    assert!(
        !stderr.contains("DEBUG") && !stderr.contains("INFO"),
        "logs go to the file: {stderr}"
    );
    let logged = std::fs::read_to_string(&log).unwrap();
    assert!(logged.contains("DEBUG"), "{logged}");

    for args in [
        vec!["search", "dzień"],
        vec!["search", "\"mówi anna\""],
        vec!["show", "abab0000000000000001"],
        vec!["report"],
    ] {
        common::bin()
            .args(&args)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
    }
    // A damaged line (a disk that filled up mid-write) is reported, not fatal.
    let audit = out.join("audit.log");
    let mut text = std::fs::read_to_string(&audit).unwrap();
    text.push_str("{\"time\": \"not a time\"\n");
    std::fs::write(&audit, text).unwrap();

    let run = |extra: &[&str]| -> (String, String) {
        let o = common::bin()
            .arg("audit")
            .arg("--out")
            .arg(&out)
            .args(extra)
            .assert()
            .success();
        let out = o.get_output();
        (
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (table, err) = run(&[]);
    assert!(err.contains("audit.log:5:"), "{err}");
    assert!(err.contains("4 entries"), "{err}");
    for what in ["search", "show", "report", "\"mówi anna\""] {
        assert!(table.contains(what), "{what} missing from:\n{table}");
    }
    let user = callsift::audit::os_user();
    let (json, _) = run(&["--json", "--user", &user]);
    let records: Vec<serde_json::Value> = json
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect();
    assert_eq!(records.len(), 4);
    assert!(records.iter().all(|r| r["user"] == user.as_str()));
    let (_, err) = run(&["--user", "somebody-else"]);
    assert!(err.contains("0 entries"), "{err}");
    let (_, err) = run(&["--to", "2020-01-01"]);
    assert!(err.contains("0 entries"), "{err}");
}

/// Every error about a missing output folder names `--out`, and a command
/// that only reads or rebuilds it does not create it.
#[test]
fn errors_about_a_missing_output_folder_name_out() {
    let tmp = tempfile::tempdir().unwrap();
    let out = tmp.path().join("nowhere");
    let o = out.to_str().unwrap();
    let compliance = manifest_dir().join("pipelines/compliance.toml");
    let p = compliance.to_str().unwrap();
    let commands: [&[&str]; 8] = [
        &["show", "--out", o, "abc"],
        &["audit", "--out", o],
        &["search", "--out", o, "hello"],
        &["report", "--out", o],
        &["index", "rebuild", "--out", o],
        &["tables", "rebuild", "--out", o],
        &["rescore", "--pipeline", p, "--out", o],
        &["purge", "--older-than", "90d", "--out", o],
    ];
    for args in commands {
        let assert = bin().args(args).assert().failure();
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(
            stderr.contains(&format!("--out {o}")),
            "{args:?}: the error names --out: {stderr}"
        );
        assert!(!out.exists(), "{args:?} created {o}");
    }
}
