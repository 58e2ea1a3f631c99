//! An output folder that cannot be written, and one that fills up (issue
//! 19, item 5). A folder `run` cannot write is found before any recording
//! is decoded; a write that fails for lack of room (here the process's
//! `RLIMIT_FSIZE`, which fails a write as a full disk does) stops the run
//! with exit code 1 and leaves no temp file or partial output, and the
//! next run, given room, completes. These tests run as root on CI, where
//! `chmod` does not stop a write: a file in the folder's place and a
//! kernel folder (`/sys/kernel`) stand in for a read-only one there.

mod common;

use std::os::unix::fs::PermissionsExt;
use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use common::{manifest_dir, noise, random_model, write_wav_s16};

/// Runs callsift with `args`; with `fsize`, no file it writes may grow past
/// that many bytes (SIGXFSZ ignored, so the write fails with EFBIG instead
/// of killing the process). Returns the exit code and stderr.
fn callsift(args: &[&std::ffi::OsStr], fsize: Option<u64>) -> (i32, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_callsift"));
    cmd.args(args).env("CALLSIFT_LOG", "info");
    if let Some(limit) = fsize {
        // SAFETY: signal and setrlimit are async-signal-safe and use only
        // the stack.
        unsafe {
            cmd.pre_exec(move || {
                libc::signal(libc::SIGXFSZ, libc::SIG_IGN);
                let rlim = libc::rlimit {
                    rlim_cur: limit as libc::rlim_t,
                    rlim_max: limit as libc::rlim_t,
                };
                if libc::setrlimit(libc::RLIMIT_FSIZE, &rlim) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
                Ok(())
            });
        }
    }
    let out = cmd.output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    (out.status.code().unwrap_or(-1), stderr)
}

fn os(s: &str) -> &std::ffi::OsStr {
    s.as_ref()
}

/// `callsift run` of `input` into `out` with the random-weight model.
fn run(input: &Path, out: &Path, fsize: Option<u64>) -> (i32, String) {
    let model = random_model();
    callsift(
        &[
            os("run"),
            os("--min-age"),
            os("0"),
            os("--language"),
            os("en"),
            os("--input"),
            input.as_os_str(),
            os("--out"),
            out.as_os_str(),
            os("--model"),
            model.as_os_str(),
        ],
        fsize,
    )
}

/// Two short stereo recordings in `dir/in`.
fn recordings(dir: &Path) -> PathBuf {
    let input = dir.join("in");
    std::fs::create_dir_all(&input).unwrap();
    for (i, seed) in [1u64, 2].into_iter().enumerate() {
        write_wav_s16(
            &input.join(format!("call{i}.wav")),
            8000,
            &[noise(16_000, 0.1, seed), noise(16_000, 0.1, seed + 10)],
        );
    }
    input
}

/// Every file under `dir`, relative paths.
fn files_under(dir: &Path) -> Vec<String> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| e.path().strip_prefix(dir).unwrap().display().to_string())
        .collect()
}

/// Temp files our atomic writes use (`.<name>.<random>.part`).
fn temps(dir: &Path) -> Vec<String> {
    files_under(dir)
        .into_iter()
        .filter(|f| {
            let name = Path::new(f).file_name().unwrap().to_string_lossy();
            name.starts_with('.') && name.ends_with(".part")
        })
        .collect()
}

fn transcript_count(out: &Path) -> usize {
    std::fs::read_dir(out.join("transcripts")).map_or(0, |d| d.count())
}

/// The unwritable outputs to try: (what, OUT, the path the error names).
fn unwritable(work: &Path) -> Vec<(&'static str, PathBuf, PathBuf)> {
    let mut cases = Vec::new();
    let file_out = work.join("out-is-a-file");
    std::fs::write(&file_out, b"not a folder").unwrap();
    cases.push(("OUT is a file", file_out.clone(), file_out));
    // Found only after transcription before the check: the run summary
    // went last into OUT/runs.
    let runs_blocked = work.join("runs-blocked");
    std::fs::create_dir_all(&runs_blocked).unwrap();
    std::fs::write(runs_blocked.join("runs"), b"not a folder").unwrap();
    cases.push((
        "OUT/runs is a file",
        runs_blocked.clone(),
        runs_blocked.join("runs"),
    ));
    let read_only = work.join("read-only");
    std::fs::create_dir_all(&read_only).unwrap();
    std::fs::set_permissions(&read_only, std::fs::Permissions::from_mode(0o555)).unwrap();
    let denied = std::fs::write(read_only.join("probe"), b"x").is_err();
    if denied {
        cases.push(("read-only OUT", read_only.clone(), read_only));
    } else if Path::new("/sys/kernel").is_dir() {
        // Root writes through 0555; not into the kernel's folders.
        let sys = PathBuf::from("/sys/kernel");
        cases.push(("read-only OUT (/sys/kernel, as root)", sys.clone(), sys));
    } else {
        eprintln!("no read-only folder available to root here: that case is left out");
    }
    cases
}

#[test]
fn an_unwritable_output_folder_fails_before_any_recording_is_decoded() {
    let work = tempfile::tempdir().unwrap();
    let input = recordings(work.path());
    for (what, out, named) in unwritable(work.path()) {
        let (code, stderr) = run(&input, &out, None);
        assert_eq!(code, 1, "{what}: {stderr}");
        let error = stderr
            .lines()
            .find(|l| l.starts_with("error:"))
            .unwrap_or_else(|| panic!("{what}: no error line: {stderr}"));
        assert!(error.contains("--out"), "{what}: {error}");
        assert!(
            error.contains(&named.display().to_string()),
            "{what}: {error}"
        );
        let before = &stderr[..stderr.find("error:").unwrap()].to_lowercase();
        assert!(
            !before.contains("decod")
                && !before.contains("transcrib")
                && !before.contains("segments, call"),
            "{what}: work was done before the error:\n{stderr}"
        );
        if out.is_dir() && out.starts_with(work.path()) {
            assert_eq!(
                transcript_count(&out),
                0,
                "{what}: transcripts were written"
            );
        }
    }
    // Leave the folder removable.
    let ro = work.path().join("read-only");
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn a_full_disk_at_run_start_is_exit_1_and_the_next_run_completes() {
    let work = tempfile::tempdir().unwrap();
    let input = recordings(work.path());
    let out = work.path().join("out");
    // Room for the small files, not for the manifest database.
    let (code, stderr) = run(&input, &out, Some(64 << 10));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("File too large"), "{stderr}");
    assert!(temps(&out).is_empty(), "{:?}", temps(&out));
    assert_eq!(transcript_count(&out), 0);

    // A killed writer's temp file is cleared by the next run.
    let stale = out.join("transcripts/.0123abcd.json.Xy12Zq.part");
    std::fs::write(&stale, b"{\"half").unwrap();
    let (code, stderr) = run(&input, &out, None);
    assert_eq!(code, 0, "{stderr}");
    assert!(!stale.exists(), "the stale temp file is left");
    assert!(temps(&out).is_empty(), "{:?}", temps(&out));
    assert_eq!(transcript_count(&out), 2);
    let status = Command::new(env!("CARGO_BIN_EXE_callsift"))
        .args([os("status"), os("--out"), out.as_os_str()])
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&status.stdout);
    assert!(text.starts_with("2 calls done"), "{text}");
    let (code, stderr) = callsift(&[os("search"), os("--out"), out.as_os_str(), os("x")], None);
    assert_eq!(code, 0, "search after the completed run: {stderr}");
}

/// Three callsift transcripts to import; the middle one (300 segments)
/// is too big for the file size limit the test sets, the others fit.
fn transcripts_to_import(dir: &Path) -> Vec<PathBuf> {
    let fixture = manifest_dir().join("tests/fixtures/import/callsift.json");
    let base: serde_json::Value = serde_json::from_slice(&std::fs::read(fixture).unwrap()).unwrap();
    (0..3)
        .map(|i| {
            let mut t = base.clone();
            t["call_id"] = format!("disk{i}").into();
            t["segments"][0]["text"] = format!("Dzień dobry, zamówienie numer {i}").into();
            if i == 1 {
                let seg = t["segments"][0].clone();
                let many: Vec<_> = (0..300u64)
                    .map(|k| {
                        let mut s = seg.clone();
                        s["start_ms"] = (k * 1000).into();
                        s["end_ms"] = (k * 1000 + 900).into();
                        s["text"] = format!("zdanie {k} o zamówieniu numer {i}").into();
                        s
                    })
                    .collect();
                t["segments"] = many.into();
                t["duration_ms"] = 301_000u64.into();
            }
            let path = dir.join(format!("call{i}.json"));
            std::fs::write(&path, serde_json::to_vec_pretty(&t).unwrap()).unwrap();
            path
        })
        .collect()
}

fn import(out: &Path, files: &[PathBuf], fsize: Option<u64>) -> (i32, String) {
    let mut args = vec![
        os("import"),
        os("--language"),
        os("pl"),
        os("--out"),
        out.as_os_str(),
    ];
    args.extend(files.iter().map(|f| f.as_os_str()));
    callsift(&args, fsize)
}

#[test]
fn a_disk_full_mid_import_stops_with_exit_1_leaves_nothing_half_written_and_the_next_run_completes()
{
    let work = tempfile::tempdir().unwrap();
    let files = transcripts_to_import(work.path());
    let out = work.path().join("out");
    let (code, stderr) = import(&out, &files, Some(20_000));
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("the output folder is full"), "{stderr}");
    assert!(temps(&out).is_empty(), "temp files left: {:?}", temps(&out));
    // The first call was stored whole; the one that hit the limit not at all.
    assert_eq!(transcript_count(&out), 1, "{:?}", files_under(&out));
    for f in files_under(&out.join("transcripts")) {
        let text = std::fs::read(out.join("transcripts").join(&f)).unwrap();
        serde_json::from_slice::<serde_json::Value>(&text)
            .unwrap_or_else(|e| panic!("{f} is not whole: {e}"));
    }
    assert!(
        !stderr.contains("3 files"),
        "no summary claims the run finished: {stderr}"
    );

    let (code, stderr) = import(&out, &files, None);
    assert_eq!(code, 0, "{stderr}");
    assert!(temps(&out).is_empty(), "{:?}", temps(&out));
    assert_eq!(transcript_count(&out), 3);
    let calls = callsift::tables::read_calls(&out).unwrap();
    let mut ids: Vec<_> = calls.iter().map(|c| c.call_id.clone()).collect();
    ids.sort();
    assert_eq!(
        ids,
        ["disk0", "disk1", "disk2"],
        "each call once in the tables"
    );
    let found = Command::new(env!("CARGO_BIN_EXE_callsift"))
        .args([
            os("search"),
            os("--out"),
            out.as_os_str(),
            os("--format"),
            os("json"),
            os("numer"),
        ])
        .output()
        .unwrap();
    assert!(
        found.status.success(),
        "{}",
        String::from_utf8_lossy(&found.stderr)
    );
    let text = String::from_utf8_lossy(&found.stdout);
    for id in ["disk0", "disk1", "disk2"] {
        assert!(text.contains(id), "search misses {id}: {text}");
    }
}
