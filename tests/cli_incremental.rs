//! Incremental runs over `OUT/manifest.redb`, as cron runs them: a rerun
//! skips what is done (known by size and mtime, without reading it), picks
//! up new files, does changed ones again, recognises a renamed or copied
//! recording by its content, `--force` redoes everything, and a changed
//! pipeline makes calls stale (`callsift status`, `--reprocess-stale`).
//! Real whisper.cpp with the random-weight model: the text does not matter.

mod common;

use std::path::Path;

use callsift::model::{InputStatus, RunReport};
use common::*;

fn run(input: &Path, out: &Path, pipeline: &Path, extra: &[&str]) -> RunReport {
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
    serde_json::from_slice(&o.get_output().stdout).unwrap()
}

/// (file name, status, reason) of every input.
fn outcomes(r: &RunReport) -> Vec<(String, InputStatus, String)> {
    r.inputs
        .iter()
        .map(|i| {
            (
                Path::new(&i.path)
                    .file_name()
                    .unwrap()
                    .to_string_lossy()
                    .into_owned(),
                i.status,
                i.error.clone().unwrap_or_default(),
            )
        })
        .collect()
}

fn tone(path: &Path, seconds: usize, seed: u64) {
    write_wav_s16(
        path,
        8000,
        &[
            noise(8000 * seconds, 0.3, seed),
            noise(8000 * seconds, 0.3, seed + 1),
        ],
    );
}

#[test]
fn reruns_do_only_what_is_new_changed_or_stale() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    tone(&input.join("a.wav"), 2, 1);
    tone(&input.join("b.wav"), 2, 3);
    let out = tmp.path().join("out");
    let pipeline = tmp.path().join("p.toml");
    // The language in the file, not as --language: `status` compares the
    // settings of the file, and a flag is a setting too.
    std::fs::write(
        &pipeline,
        "[vad]\nthreshold = 0.5\n[whisper]\nlanguage = \"en\"\n",
    )
    .unwrap();

    let first = run(&input, &out, &pipeline, &[]);
    assert_eq!((first.ok, first.skipped), (2, 0), "{:?}", outcomes(&first));

    let again = run(&input, &out, &pipeline, &[]);
    assert_eq!((again.ok, again.skipped), (0, 2), "{:?}", outcomes(&again));
    let line = callsift::report::summary_line(&again);
    assert!(
        line.starts_with("2 files: 0 ok, 0 failed, 2 skipped (2 unchanged);"),
        "{line}"
    );
    assert!(
        outcomes(&again)
            .iter()
            .all(|o| o.2.starts_with("unchanged"))
    );

    // New, renamed (same bytes under another name), changed.
    tone(&input.join("c.wav"), 2, 5);
    std::fs::rename(input.join("b.wav"), input.join("b-renamed.wav")).unwrap();
    std::thread::sleep(std::time::Duration::from_millis(20));
    tone(&input.join("a.wav"), 3, 7);
    let third = run(&input, &out, &pipeline, &[]);
    let o = outcomes(&third);
    assert_eq!(o[0].0, "a.wav");
    assert_eq!(o[0].1, InputStatus::Ok, "changed content: {o:?}");
    assert_eq!(o[1].0, "b-renamed.wav");
    assert_eq!(o[1].1, InputStatus::Skipped);
    assert!(
        o[1].2.contains("same content as") && o[1].2.contains("b.wav"),
        "{o:?}"
    );
    assert_eq!(o[2].0, "c.wav");
    assert_eq!(o[2].1, InputStatus::Ok, "new: {o:?}");
    // The renamed file is now known by its path.
    let fourth = run(&input, &out, &pipeline, &[]);
    assert_eq!(
        (fourth.ok, fourth.skipped),
        (0, 3),
        "{:?}",
        outcomes(&fourth)
    );

    let forced = run(&input, &out, &pipeline, &["--force"]);
    assert_eq!(forced.ok, 3, "{:?}", outcomes(&forced));

    // Other settings: every call is stale; status says so; a plain run skips them.
    let changed = tmp.path().join("changed.toml");
    std::fs::write(
        &changed,
        "[vad]\nthreshold = 0.6\n[whisper]\nlanguage = \"en\"\n",
    )
    .unwrap();
    let status = |p: &Path| -> String {
        let o = bin()
            .args(["status", "--out"])
            .arg(&out)
            .arg("--pipeline")
            .arg(p)
            .arg("--model")
            .arg(random_model())
            .assert()
            .success();
        String::from_utf8_lossy(&o.get_output().stdout).into_owned()
    };
    assert!(
        status(&pipeline).contains("0 stale"),
        "{}",
        status(&pipeline)
    );
    let s = status(&changed);
    assert!(
        s.contains("3 stale") && s.contains("3 with other settings"),
        "{s}"
    );
    let stale = run(&input, &out, &changed, &[]);
    assert_eq!((stale.ok, stale.skipped), (0, 3), "{:?}", outcomes(&stale));
    let line = callsift::report::summary_line(&stale);
    assert!(line.contains("3 skipped (3 stale)"), "{line}");
    assert!(outcomes(&stale).iter().all(|o| o.2.starts_with("stale")));
    let redone = run(&input, &out, &changed, &["--reprocess-stale"]);
    assert_eq!(redone.ok, 3, "{:?}", outcomes(&redone));
    assert!(status(&changed).contains("0 stale"));
}
