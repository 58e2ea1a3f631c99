//! One writer per output folder: a second `import`/`run`/`rescore` on a
//! folder another callsift is writing exits at once with code 4 and says
//! who holds `OUT/run.lock`; readers keep working meanwhile; a lock left by
//! a killed process never blocks the next writer.

mod common;

use std::time::{Duration, Instant};

use common::written_call;

fn transcript_file(dir: &std::path::Path, id: &str) -> std::path::PathBuf {
    let t = written_call(
        id,
        "pl",
        Some("2026-11-02T09:00:00Z"),
        &[],
        &[(1_000, 3_000, 0, "Dzień dobry, mówi Anna.")],
    );
    let path = dir.join(format!("{id}.json"));
    std::fs::write(&path, serde_json::to_vec(&t).unwrap()).unwrap();
    path
}

#[test]
fn a_second_writer_exits_with_code_4_and_readers_keep_working() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let first = transcript_file(work.path(), "aaaa0000000000000001");
    common::bin()
        .arg("import")
        .arg("--out")
        .arg(&out)
        .arg(&first)
        .assert()
        .success();
    // This test process is "the run in progress".
    let held = callsift::run_lock::acquire(&out, "run").unwrap();
    let second = transcript_file(work.path(), "aaaa0000000000000002");
    let started = Instant::now();
    for args in [
        vec!["import".to_string()],
        vec!["index".into(), "rebuild".into()],
        vec!["tables".into(), "rebuild".into()],
    ] {
        let mut cmd = common::bin();
        cmd.args(&args).arg("--out").arg(&out);
        if args[0] == "import" {
            cmd.arg(&second);
        }
        let o = cmd.assert().code(4);
        let err = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
        assert!(err.contains("run.lock") && err.contains("--out"), "{err}");
        assert!(err.contains("callsift run"), "who holds it: {err}");
    }
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "refused at once"
    );
    // Readers take no lock.
    common::bin()
        .args(["search", "--out"])
        .arg(&out)
        .arg("dzień")
        .assert()
        .success()
        .stdout(predicates::str::contains("aaaa0000000000000001"));
    drop(held);
    common::bin()
        .arg("import")
        .arg("--out")
        .arg(&out)
        .arg(&second)
        .assert()
        .success();
}

#[test]
fn a_lock_left_by_a_killed_process_does_not_block() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    std::fs::create_dir_all(&out).unwrap();
    // util-linux flock(1) holds the lock as a running callsift would (`-o`:
    // itself, not the `sleep` it starts, so killing it is killing the holder).
    let Ok(mut holder) = std::process::Command::new("flock")
        .arg("-o")
        .arg(out.join("run.lock"))
        .args(["sleep", "60"])
        .spawn()
    else {
        assert!(!common::on_ci(), "flock(1) is missing");
        eprintln!("skipped: no flock(1)");
        return;
    };
    let file = transcript_file(work.path(), "aaaa0000000000000003");
    let deadline = Instant::now() + Duration::from_secs(5);
    // Wait until the holder has the lock (import refused with 4).
    loop {
        let code = common::bin()
            .arg("import")
            .arg("--out")
            .arg(&out)
            .arg(&file)
            .output()
            .unwrap()
            .status
            .code();
        if code == Some(4) {
            break;
        }
        assert!(Instant::now() < deadline, "flock(1) never took the lock");
        std::thread::sleep(Duration::from_millis(100));
        // It imported before the holder got the lock: start afresh.
        let _ = std::fs::remove_dir_all(out.join("transcripts"));
    }
    holder.kill().unwrap();
    holder.wait().unwrap();
    common::bin()
        .arg("import")
        .arg("--out")
        .arg(&out)
        .arg(&file)
        .assert()
        .success();
}
