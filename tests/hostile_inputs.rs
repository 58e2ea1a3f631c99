//! Hostile inputs on the nightly share: every odd file (empty, truncated,
//! corrupt, lying header, wrong extension, unreadable, vanished, symlink
//! loops, a folder named x.wav, a pipe) gets its own line with a reason in
//! the run summary, and the batch goes on to transcribe the good call.
//! Also `--min-age`: a file still being written waits for a later run.

mod common;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use callsift::model::{InputReport, InputStatus, RunReport};
use common::*;

fn fixture(name: &str) -> PathBuf {
    manifest_dir().join("tests/fixtures/audio").join(name)
}

/// A PCM WAV header with whatever the fields claim, then `data`.
fn wav(channels: u16, rate: u32, data_len: u32, data: &[u8]) -> Vec<u8> {
    let bits = 16u16;
    let align = channels.wrapping_mul(bits / 8);
    let mut v = Vec::new();
    v.extend_from_slice(b"RIFF");
    v.extend_from_slice(&data_len.saturating_add(36).to_le_bytes());
    v.extend_from_slice(b"WAVEfmt ");
    v.extend_from_slice(&16u32.to_le_bytes());
    v.extend_from_slice(&1u16.to_le_bytes());
    v.extend_from_slice(&channels.to_le_bytes());
    v.extend_from_slice(&rate.to_le_bytes());
    v.extend_from_slice(&rate.wrapping_mul(u32::from(align)).to_le_bytes());
    v.extend_from_slice(&align.to_le_bytes());
    v.extend_from_slice(&bits.to_le_bytes());
    v.extend_from_slice(b"data");
    v.extend_from_slice(&data_len.to_le_bytes());
    v.extend_from_slice(data);
    v
}

/// A second of 8 kHz mono noise as s16 bytes.
fn noise_bytes(frames: usize) -> Vec<u8> {
    noise(frames, 0.3, 5)
        .iter()
        .flat_map(|s| ((s * 32767.0) as i16).to_le_bytes())
        .collect()
}

fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions and cannot fail.
    unsafe { libc::geteuid() == 0 }
}

/// Makes a child run without root's power to read any file
/// (CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH dropped from its bounding set,
/// so they are gone after exec too), so chmod 000 stops it as it stops
/// any other user. The test process keeps them.
fn without_read_override(cmd: &mut std::process::Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: prctl is async-signal-safe; nothing else runs between fork
    // and exec.
    unsafe {
        cmd.pre_exec(|| {
            // linux/capability.h: CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH.
            const CAP_DAC_OVERRIDE: libc::c_ulong = 1;
            const CAP_DAC_READ_SEARCH: libc::c_ulong = 2;
            for cap in [CAP_DAC_OVERRIDE, CAP_DAC_READ_SEARCH] {
                if libc::prctl(libc::PR_CAPBSET_DROP, cap, 0, 0, 0) != 0 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
}

/// Whether [`without_read_override`] works here (it needs CAP_SETPCAP).
fn can_drop_read_override() -> bool {
    let mut probe = std::process::Command::new("true");
    without_read_override(&mut probe);
    probe.status().is_ok_and(|s| s.success())
}

/// Writes the hostile files into `input`; returns, per file name, the
/// status it must get and a word its reason must hold.
fn write_hostile(input: &Path) -> Vec<(&'static str, InputStatus, &'static str)> {
    let mut cases = vec![
        ("zero-byte.wav", InputStatus::Failed, "empty file"),
        ("truncated-header.wav", InputStatus::Failed, "truncated"),
        ("truncated-mid.wav", InputStatus::Ok, "truncated"),
        (
            "corrupt.wav",
            InputStatus::Failed,
            "not a recognised audio file",
        ),
        ("corrupt-fmt.wav", InputStatus::Failed, "fmt"),
        ("huge-data.wav", InputStatus::Ok, "truncated"),
        ("huge-channels.wav", InputStatus::Failed, "channels"),
        ("huge-rate.wav", InputStatus::Failed, "sample rate"),
        ("zero-rate.wav", InputStatus::Failed, "sample rate"),
        // Decoded by its content: MP3 whatever the name says.
        ("mp3-named.wav", InputStatus::Ok, ""),
        (
            "text-named.wav",
            InputStatus::Failed,
            "not a recognised audio file",
        ),
        ("dangling.wav", InputStatus::Failed, "no such file"),
        ("self-link.wav", InputStatus::Failed, "symlink loop"),
        ("back", InputStatus::Skipped, "symlink loop"),
        ("folder.wav", InputStatus::Skipped, "folder"),
        ("pipe.wav", InputStatus::Skipped, "not a regular file"),
    ];
    let w = |name: &str, bytes: &[u8]| std::fs::write(input.join(name), bytes).unwrap();
    w("zero-byte.wav", b"");
    std::fs::copy(
        fixture("truncated_header_only.wav"),
        input.join("truncated-header.wav"),
    )
    .unwrap();
    std::fs::copy(
        fixture("truncated_mid.wav"),
        input.join("truncated-mid.wav"),
    )
    .unwrap();
    w(
        "corrupt.wav",
        &std::fs::read(fixture("random.mp3")).unwrap(),
    );
    // A RIFF/WAVE whose fmt chunk is 4 bytes: no format in it.
    w(
        "corrupt-fmt.wav",
        b"RIFF\x1c\x00\x00\x00WAVEfmt \x04\x00\x00\x00\x01\x00\x01\x00data\x04\x00\x00\x00\x00\x00\x00\x00",
    );
    // 4 GB of data promised, a second there.
    w(
        "huge-data.wav",
        &wav(1, 8000, 0xFFFF_FF00, &noise_bytes(8000)),
    );
    w(
        "huge-channels.wav",
        &wav(65535, 8000, 262_140, &[0; 262_140]),
    );
    w(
        "huge-rate.wav",
        &wav(1, u32::MAX, 16_000, &noise_bytes(8000)),
    );
    w("zero-rate.wav", &wav(1, 0, 16_000, &noise_bytes(8000)));
    std::fs::copy(fixture("mp3_32k_mono.mp3"), input.join("mp3-named.wav")).unwrap();
    w(
        "text-named.wav",
        b"call notes: customer asked to be called back\n",
    );
    std::os::unix::fs::symlink(input.join("gone.wav"), input.join("dangling.wav")).unwrap();
    std::os::unix::fs::symlink(input.join("self-link.wav"), input.join("self-link.wav")).unwrap();
    std::fs::create_dir(input.join("loop")).unwrap();
    std::os::unix::fs::symlink(input, input.join("loop/back")).unwrap();
    std::fs::create_dir(input.join("folder.wav")).unwrap();
    let fifo = std::ffi::CString::new(input.join("pipe.wav").to_str().unwrap()).unwrap();
    // SAFETY: a valid NUL-terminated path; mkfifo only creates a node.
    assert_eq!(unsafe { libc::mkfifo(fifo.as_ptr(), 0o644) }, 0);
    if is_root() && !can_drop_read_override() {
        eprintln!(
            "unreadable.wav: not tested: running as root without CAP_SETPCAP, so chmod 000 cannot stop this run"
        );
    } else {
        use std::os::unix::fs::PermissionsExt;
        std::fs::copy(
            fixture("wav_s16_8k_stereo.wav"),
            input.join("unreadable.wav"),
        )
        .unwrap();
        let none = std::fs::Permissions::from_mode(0o000);
        std::fs::set_permissions(input.join("unreadable.wav"), none).unwrap();
        cases.push(("unreadable.wav", InputStatus::Failed, "permission denied"));
    }
    cases
}

/// Keeps the random model's words (see tests/cli_run.rs).
fn keep_words(dir: &Path) -> PathBuf {
    let pipeline = dir.join("keep-random-words.toml");
    std::fs::write(
        &pipeline,
        "[whisper]\nno_speech_threshold = 1.0\n\n[guards]\nmin_avg_logprob = -1000.0\n",
    )
    .unwrap();
    pipeline
}

fn line<'a>(report: &'a RunReport, name: &str) -> &'a InputReport {
    let hits: Vec<_> = report
        .inputs
        .iter()
        .filter(|r| Path::new(&r.path).file_name().is_some_and(|n| n == name))
        .collect();
    assert_eq!(hits.len(), 1, "{name}: one line each: {:#?}", report.inputs);
    hits[0]
}

#[test]
fn every_hostile_file_gets_its_own_line_and_the_good_call_is_done() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    std::fs::copy(
        manifest_dir().join("samples/call-en-support.wav"),
        input.join("good.wav"),
    )
    .unwrap();
    let cases = write_hostile(&input);
    let out = tmp.path().join("out");
    let started = std::time::Instant::now();
    let mut cmd = std::process::Command::new(env!("CARGO_BIN_EXE_callsift"));
    if is_root() {
        without_read_override(&mut cmd);
    }
    let assert = assert_cmd::Command::from_std(cmd)
        .args(["run", "--json", "--min-age", "0", "--threads", "2"])
        .args(["--language", "en", "--input"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .arg("--model")
        .arg(random_model())
        .arg("--pipeline")
        .arg(keep_words(tmp.path()))
        .timeout(std::time::Duration::from_secs(300))
        .assert()
        .code(3);
    eprintln!("run took {:?}", started.elapsed());
    let stdout = String::from_utf8_lossy(&assert.get_output().stdout).into_owned();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    let report: RunReport = serde_json::from_str(&stdout).expect("summary JSON");
    let good = line(&report, "good.wav");
    assert_eq!(good.status, InputStatus::Ok, "{good:?}");
    assert!(good.segments > 0, "the good call is transcribed: {good:?}");
    for (name, status, word) in &cases {
        let l = line(&report, name);
        assert_eq!(&l.status, status, "{name}: {l:?}");
        let said = format!(
            "{} {}",
            l.error.as_deref().unwrap_or(""),
            l.warnings.join(" ")
        );
        assert!(
            said.to_lowercase().contains(word),
            "{name}: reason should say {word:?}: {l:?}"
        );
        if *status == InputStatus::Failed {
            assert!(stderr.contains(name), "{name} named on stderr: {stderr}");
        }
    }
    // The saved report under OUT/runs/ says the same.
    let runs: Vec<_> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    let saved: RunReport =
        serde_json::from_str(&std::fs::read_to_string(&runs[0]).unwrap()).unwrap();
    assert_eq!(saved.inputs, report.inputs);
}

/// A recording listed for the run and gone before it is decoded (the
/// recorder moved it away) fails alone; the rest of the batch is done.
#[test]
fn a_recording_that_vanishes_after_listing_fails_alone() {
    use callsift::pipeline::{self, Engine, RunOptions};
    let tmp = tempfile::tempdir().unwrap();
    let good = tmp.path().join("good.wav");
    let gone = tmp.path().join("gone.wav");
    std::fs::copy(manifest_dir().join("samples/call-en-support.wav"), &good).unwrap();
    std::fs::copy(&good, &gone).unwrap();
    let (listed, _) = pipeline::collect_inputs(&[tmp.path().to_path_buf()]).unwrap();
    assert_eq!(listed.len(), 2);
    std::fs::remove_file(&gone).unwrap();
    let engine = Engine::new(
        Arc::new(callsift::transcribe::scripted::ScriptedTranscriber::new(
            vec!["hello".into()],
            "en",
        )),
        callsift::config::PipelineFile::default(),
        "default",
    )
    .unwrap();
    let report = pipeline::run(
        &listed,
        &engine,
        &mut [],
        &RunOptions {
            workers: 1,
            threads: 1,
            progress: false,
            stop: callsift::interrupt::StopFlag::new(),
        },
    )
    .expect("the run goes on");
    assert_eq!(line(&report, "good.wav").status, InputStatus::Ok);
    let l = line(&report, "gone.wav");
    assert_eq!(l.status, InputStatus::Failed);
    assert!(l.error.as_deref().unwrap().contains("vanished"), "{l:?}");
}

/// A file modified within `--min-age` is skipped with its age, and taken
/// by a later run; the flag overrides `[input] min_age`.
#[test]
fn a_file_still_being_written_waits_for_a_later_run() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir(&input).unwrap();
    write_wav_s16(&input.join("fresh.wav"), 8000, &[noise(8000, 0.001, 3)]);
    let file_says_0 = tmp.path().join("min-age-0.toml");
    std::fs::write(&file_says_0, "[input]\nmin_age = \"0\"\n").unwrap();
    let out = tmp.path().join("out");
    let run = |extra: &[&str]| -> (RunReport, Option<i32>) {
        let o = bin()
            .args(["run", "--json", "--language", "en", "--input"])
            .arg(&input)
            .arg("--out")
            .arg(&out)
            .arg("--model")
            .arg(random_model())
            .args(extra)
            .output()
            .unwrap();
        (serde_json::from_slice(&o.stdout).unwrap(), o.status.code())
    };
    // The default, 2 minutes.
    let (report, code) = run(&[]);
    assert_eq!(code, Some(0));
    let l = line(&report, "fresh.wav");
    assert_eq!(l.status, InputStatus::Skipped);
    let why = l.error.as_deref().unwrap();
    assert!(
        why.starts_with("still being written (modified ") && why.contains(" s ago, --min-age 2m)"),
        "{why}"
    );
    // The flag beats the pipeline file.
    let pipeline = file_says_0.to_str().unwrap();
    let (report, _) = run(&["--pipeline", pipeline, "--min-age", "1h"]);
    let why = line(&report, "fresh.wav").error.clone().unwrap();
    assert!(why.contains("--min-age 1h"), "{why}");
    // The file's own setting, and the next run takes the file.
    let (report, code) = run(&["--pipeline", pipeline]);
    assert_eq!(code, Some(0));
    assert_eq!(line(&report, "fresh.wav").status, InputStatus::Ok);
    // A bad value is a usage error naming the flag.
    let o = bin()
        .args(["run", "--min-age", "2", "--input"])
        .arg(&input)
        .arg("--out")
        .arg(&out)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    assert!(err.contains("--min-age") && err.contains("unit"), "{err}");
}
