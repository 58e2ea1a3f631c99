//! Access modes of what callsift writes under `OUT` (issue 19, item 7):
//! every directory it creates is 0750 and every file 0640, whatever the
//! umask of the shell or cron job that starts it. `run` (random-weight
//! model), `import` with the compliance rules (so hits, scores and the
//! do-not-call export exist) and `search` (the audit log) are run under
//! umask 000, 077 and 022, then every path under `OUT` is checked.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{manifest_dir, noise, random_model, write_wav_s16};

/// The callsift binary under `mask`; stderr is returned for messages.
fn callsift(mask: libc::mode_t, args: &[&std::ffi::OsStr]) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callsift"));
    cmd.args(args);
    // SAFETY: umask is async-signal-safe and touches no memory.
    unsafe {
        cmd.pre_exec(move || {
            libc::umask(mask);
            Ok(())
        });
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), stderr)
}

/// A customer asking not to be called again: a `do_not_call` hit and the
/// export, on top of the scorecard every call gets.
fn dnc_transcript(dir: &Path) -> PathBuf {
    let fixture = manifest_dir().join("tests/fixtures/import/callsift.json");
    let mut t: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    t["segments"][1]["text"] = "Proszę do mnie więcej nie dzwonić.".into();
    t["metadata"]["customer_number"] = "48601234567".into();
    let path = dir.join("dnc-call.json");
    std::fs::write(&path, serde_json::to_vec(&t).unwrap()).unwrap();
    path
}

/// Writes everything callsift writes into `out`, under `mask`.
fn fill(mask: libc::mode_t, work: &Path, out: &Path) {
    let wav = work.join("call.wav");
    write_wav_s16(&wav, 8000, &[noise(16_000, 0.1, 3), noise(16_000, 0.1, 4)]);
    let model = random_model();
    let (code, stderr) = callsift(
        mask,
        &[
            "run".as_ref(),
            "--min-age".as_ref(),
            "0".as_ref(),
            "--language".as_ref(),
            "en".as_ref(),
            "--input".as_ref(),
            wav.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            "--model".as_ref(),
            model.as_os_str(),
        ],
    );
    assert_eq!(code, 0, "run under umask {mask:03o}: {stderr}");
    let compliance = manifest_dir().join("pipelines/compliance.toml");
    let dnc = dnc_transcript(work);
    let srt = work.join("agent207_48600100200_2026-11-21_10-15-00.srt");
    std::fs::copy(manifest_dir().join("tests/fixtures/import/call.srt"), &srt).unwrap();
    let (code, stderr) = callsift(
        mask,
        &[
            "import".as_ref(),
            "--language".as_ref(),
            "pl".as_ref(),
            "--pipeline".as_ref(),
            compliance.as_os_str(),
            "--out".as_ref(),
            out.as_os_str(),
            dnc.as_os_str(),
            srt.as_os_str(),
        ],
    );
    assert_eq!(code, 0, "import under umask {mask:03o}: {stderr}");
    let (code, stderr) = callsift(
        mask,
        &[
            "search".as_ref(),
            "--out".as_ref(),
            out.as_os_str(),
            "dzień".as_ref(),
        ],
    );
    assert_eq!(code, 0, "search under umask {mask:03o}: {stderr}");
}

/// Every path under `out` (itself included) whose mode is not 0750 for a
/// directory or 0640 for a file, as `mode path` lines.
fn offenders(out: &Path) -> Vec<String> {
    walkdir::WalkDir::new(out)
        .into_iter()
        .map(|e| e.unwrap())
        .filter_map(|e| {
            let meta = e.metadata().unwrap();
            let mode = meta.permissions().mode() & 0o7777;
            let want = if meta.is_dir() { 0o750 } else { 0o640 };
            (mode != want).then(|| format!("{mode:04o} {}", e.path().display()))
        })
        .collect()
}

/// The outputs the check must have seen, so a missing one cannot pass it.
fn assert_every_output_exists(out: &Path) {
    for rel in [
        "transcripts",
        "index/meta.json",
        "index/.managed.json",
        "parquet/calls",
        "parquet/hits",
        "parquet/scores",
        "exports/do-not-call.csv",
        "runs",
        "manifest.redb",
        "audit.log",
        "run.lock",
    ] {
        assert!(
            out.join(rel).exists(),
            "{rel} missing under {}",
            out.display()
        );
    }
    let parts = |table: &str| {
        walkdir::WalkDir::new(out.join("parquet").join(table))
            .into_iter()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .path()
                    .extension()
                    .is_some_and(|x| x == "parquet")
            })
            .count()
    };
    assert!(parts("hits") > 0, "no hits part file");
    assert!(parts("scores") > 0, "no scores part file");
}

#[test]
fn outputs_are_0750_and_0640_whatever_the_umask() {
    for mask in [0o000, 0o077, 0o022] {
        let work = tempfile::tempdir().unwrap();
        let out = work.path().join("out");
        fill(mask, work.path(), &out);
        assert_every_output_exists(&out);
        let bad = offenders(&out);
        assert!(
            bad.is_empty(),
            "under umask {mask:03o}, not 0750 (dirs) / 0640 (files):\n{}",
            bad.join("\n")
        );
    }
}
