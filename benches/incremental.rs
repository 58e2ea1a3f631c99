//! `cargo bench --bench incremental`: the nightly rerun over a share where
//! nothing changed. `CALLSIFT_BENCH_FILES` (default 10,000) one-second
//! stereo 8 kHz recordings of faint noise (the VAD finds no speech, so the
//! first run's cost is reading, deciding and writing, not whisper) are run
//! once with the release binary and the random-weight test model, then
//! again: the second run must skip every file from its size and mtime
//! alone (no file read, no hash), and the printed figures say how long that
//! took against the first run. Then one file is touched with new content
//! and the run done a third time: exactly one file is transcribed.
//! Work folder `target/bench-incremental/`, removed at the end.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

use callsift::model::RunReport;

fn binary(root: &Path) -> PathBuf {
    let status = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()))
        .args(["build", "--release", "--bin", "callsift"])
        .current_dir(root)
        .status()
        .expect("cargo build --release");
    assert!(status.success(), "cargo build --release failed");
    root.join("target/release/callsift")
}

/// A one-second stereo 8 kHz 16-bit WAV of faint noise, different per seed.
fn write_wav(path: &Path, seed: u64) {
    let frames = 8000usize;
    let mut bytes = Vec::with_capacity(44 + frames * 4);
    let data_len = (frames * 4) as u32;
    bytes.extend_from_slice(b"RIFF");
    bytes.extend_from_slice(&(36 + data_len).to_le_bytes());
    bytes.extend_from_slice(b"WAVEfmt ");
    bytes.extend_from_slice(&16u32.to_le_bytes());
    bytes.extend_from_slice(&1u16.to_le_bytes());
    bytes.extend_from_slice(&2u16.to_le_bytes());
    bytes.extend_from_slice(&8000u32.to_le_bytes());
    bytes.extend_from_slice(&(8000u32 * 4).to_le_bytes());
    bytes.extend_from_slice(&4u16.to_le_bytes());
    bytes.extend_from_slice(&16u16.to_le_bytes());
    bytes.extend_from_slice(b"data");
    bytes.extend_from_slice(&data_len.to_le_bytes());
    let mut x = seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1;
    for _ in 0..frames * 2 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        let v = ((x >> 40) as i32 % 40 - 20) as i16;
        bytes.extend_from_slice(&v.to_le_bytes());
    }
    std::fs::write(path, bytes).expect("write wav");
}

fn run(bin: &Path, input: &Path, out: &Path, model: &Path) -> (f64, RunReport) {
    let started = Instant::now();
    let o = Command::new(bin)
        .args([
            "run",
            "--json",
            "--min-age",
            "0",
            "--language",
            "en",
            "--input",
        ])
        .arg(input)
        .arg("--out")
        .arg(out)
        .arg("--model")
        .arg(model)
        .output()
        .expect("callsift run");
    let wall = started.elapsed().as_secs_f64();
    assert!(
        o.status.success(),
        "callsift run failed: {}",
        String::from_utf8_lossy(&o.stderr)
    );
    (
        wall,
        serde_json::from_slice(&o.stdout).expect("run summary"),
    )
}

fn main() {
    let files: usize = std::env::var("CALLSIFT_BENCH_FILES")
        .ok()
        .and_then(|v| v.replace('_', "").parse().ok())
        .unwrap_or(10_000);
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR"));
    let work = root.join("target/bench-incremental");
    let _ = std::fs::remove_dir_all(&work);
    let input = work.join("share");
    std::fs::create_dir_all(&input).expect("work folder");
    let model = work.join("ggml-random-test.bin");
    callsift::models::testmodel::write_random_model(
        &model,
        &callsift::models::testmodel::TestModelSpec {
            multilingual: true,
            seed: 7,
        },
    )
    .expect("random model");
    for i in 0..files {
        let dir = input.join(format!("{:03}", i / 1000));
        std::fs::create_dir_all(&dir).expect("share dir");
        write_wav(&dir.join(format!("call-{i:05}.wav")), i as u64 + 1);
    }
    let bin = binary(&root);
    let out = work.join("out");
    let (first, r1) = run(&bin, &input, &out, &model);
    let (second, r2) = run(&bin, &input, &out, &model);
    write_wav(&input.join("000/call-00000.wav"), 999_999);
    let (third, r3) = run(&bin, &input, &out, &model);
    println!("incremental bench: {files} recordings (1 s stereo 8 kHz, no speech), release binary");
    println!(
        "  first run   {first:>8.1} s   {} ok, {} skipped, {} failed",
        r1.ok, r1.skipped, r1.failed
    );
    println!(
        "  rerun       {second:>8.1} s   {} ok, {} skipped   ({:.0} files/s; {:.1}% of the first run)",
        r2.ok,
        r2.skipped,
        files as f64 / second,
        100.0 * second / first
    );
    println!(
        "  one changed {third:>8.1} s   {} ok, {} skipped",
        r3.ok, r3.skipped
    );
    let pass = r1.ok == files && r2.ok == 0 && r2.skipped == files && r3.ok == 1;
    println!(
        "  {}: the rerun transcribes nothing and the changed file alone is redone; target: the rerun in seconds",
        if pass { "PASS" } else { "FAIL" }
    );
    let _ = std::fs::remove_dir_all(&work);
}
