//! `--shard I/N` on `run` and `import` as a batch job uses them: each shard
//! into its own output folder, every call in exactly one of them, the
//! union the same as one unsharded run, the Kubernetes variables the same
//! as the flag, and a bad value a usage error. With the random-weight
//! model (fast, meaningless words: the calls are processed all the same).

mod common;

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use callsift::model::{InputStatus, RunReport};
use common::*;

/// The variables `--shard` defaults from: removed from every command, so a
/// test run inside a batch job is not sharded by its own job.
const SHARD_VARS: [&str; 6] = [
    "JOB_COMPLETION_INDEX",
    "JOB_COMPLETIONS",
    "SLURM_ARRAY_TASK_ID",
    "SLURM_ARRAY_TASK_COUNT",
    "SLURM_ARRAY_TASK_MIN",
    "SLURM_ARRAY_TASK_STEP",
];

fn callsift() -> assert_cmd::Command {
    let mut cmd = bin();
    for var in SHARD_VARS {
        cmd.env_remove(var);
    }
    cmd
}

/// Six short recordings of different content, and a file that is not audio.
fn recordings(dir: &Path) -> usize {
    std::fs::create_dir_all(dir).unwrap();
    for i in 0..6u64 {
        let rate = 8000;
        let len = rate as usize; // 1 s
        let tone: Vec<f32> = (0..len)
            .map(|n| (n as f32 * (0.05 + 0.03 * i as f32)).sin() * 0.3)
            .collect();
        let channels = if i % 2 == 0 {
            vec![tone]
        } else {
            vec![noise(len, 0.3, 100 + i), tone]
        };
        write_wav_s16(&dir.join(format!("call-{i}.wav")), rate, &channels);
    }
    std::fs::write(dir.join("notes.txt"), b"not a recording").unwrap();
    7
}

/// `callsift run` over `input` into `out`; the summary and the exit code.
fn run(input: &Path, out: &Path, shard: Option<&str>, env: &[(&str, &str)]) -> (RunReport, i32) {
    let mut cmd = callsift();
    cmd.args(["run", "--json", "--min-age", "0", "--threads", "1"])
        .args(["--workers", "2", "--language", "en", "--input"])
        .arg(input)
        .arg("--out")
        .arg(out)
        .arg("--model")
        .arg(random_model());
    if let Some(shard) = shard {
        cmd.args(["--shard", shard]);
    }
    for (k, v) in env {
        cmd.env(k, v);
    }
    let output = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: RunReport = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "no run summary ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (report, output.status.code().unwrap())
}

/// The call ids of `OUT/transcripts/`.
fn stored_calls(out: &Path) -> BTreeSet<String> {
    let Ok(dir) = std::fs::read_dir(out.join("transcripts")) else {
        return BTreeSet::new();
    };
    dir.map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|x| x == "json"))
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect()
}

fn listed(report: &RunReport) -> usize {
    report.ok + report.failed + report.skipped
}

#[test]
fn run_shards_partition_the_calls_of_one_run() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    let inputs = recordings(&input);

    let whole = tmp.path().join("whole");
    let (report, code) = run(&input, &whole, None, &[]);
    assert_eq!(code, 0, "{report:?}");
    assert_eq!(report.shard, None);
    assert_eq!((report.ok, report.skipped), (6, 1), "{report:?}");
    let all = stored_calls(&whole);
    assert_eq!(all.len(), 6, "{all:?}");

    let mut union = BTreeSet::new();
    let mut owned = Vec::new();
    for index in 0..3u32 {
        let out = tmp.path().join(format!("shard-{index}"));
        let label = format!("{index}/3");
        let (report, code) = run(&input, &out, Some(&label), &[]);
        assert_eq!(code, 0, "{label}: {report:?}");
        let shard = report.shard.expect("a sharded run records its shard");
        assert_eq!((shard.index, shard.count), (index, 3));
        // Each input is listed by one task or counted as the others'.
        assert_eq!(listed(&report) + shard.other_shards, inputs, "{report:?}");
        // The file that is not audio has no call id: shard 0 reports it.
        let notes = report.inputs.iter().any(|i| i.path.ends_with("notes.txt"));
        assert_eq!(notes, index == 0, "{label}: {report:?}");
        assert!(
            report
                .inputs
                .iter()
                .all(|i| i.status != InputStatus::Failed)
        );
        let calls = stored_calls(&out);
        // The run's own calls are the ones stored, and the shard owns each.
        let reported: BTreeSet<String> = report
            .inputs
            .iter()
            .filter_map(|i| i.call_id.clone())
            .collect();
        assert_eq!(reported, calls, "{label}");
        for id in &calls {
            let slot = u64::from_str_radix(&id[..16], 16).unwrap() % 3;
            assert_eq!(slot, u64::from(index), "{label}: {id}");
            assert!(union.insert(id.clone()), "{id} in two shards");
        }
        owned.push(calls);
    }
    assert_eq!(union, all);
    // Six random ids over three shards: at least two shards get some.
    assert!(owned.iter().filter(|c| !c.is_empty()).count() >= 2);

    // A Kubernetes Indexed Job's variables take the same slice as the flag.
    let by_env = tmp.path().join("by-env");
    let k8s = [("JOB_COMPLETION_INDEX", "1"), ("JOB_COMPLETIONS", "3")];
    let (report, code) = run(&input, &by_env, None, &k8s);
    assert_eq!(code, 0, "{report:?}");
    assert_eq!(report.shard.map(|s| (s.index, s.count)), Some((1, 3)));
    assert_eq!(stored_calls(&by_env), owned[1]);
}

#[test]
fn bad_shards_are_usage_errors_naming_them() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    recordings(&input);
    let out = tmp.path().join("out");
    let base = |cmd: &mut assert_cmd::Command| {
        cmd.args(["run", "--min-age", "0", "--input"])
            .arg(&input)
            .arg("--out")
            .arg(&out)
            .arg("--model")
            .arg(random_model());
    };
    for bad in ["3/3", "a/b", "0/0", "1"] {
        let mut cmd = callsift();
        base(&mut cmd);
        let assert = cmd.args(["--shard", bad]).assert().code(2);
        let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
        assert!(stderr.contains(&format!("--shard `{bad}`")), "{stderr}");
    }
    // Half a pair of variables would run everything in every task.
    let mut cmd = callsift();
    base(&mut cmd);
    let assert = cmd.env("JOB_COMPLETION_INDEX", "2").assert().code(2);
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(stderr.contains("JOB_COMPLETIONS is not"), "{stderr}");
    // Nothing was written for any of them.
    assert!(stored_calls(&out).is_empty());
}

/// Transcripts to import: SubRip files (call id: the hash of the file) and
/// callsift transcripts (their own call ids), and one that does not import.
fn transcripts(dir: &Path) -> (Vec<PathBuf>, PathBuf) {
    std::fs::create_dir_all(dir).unwrap();
    let mut files = Vec::new();
    for i in 0..6 {
        let path = dir.join(format!("call-{i}.srt"));
        let text = format!("1\n00:00:00,000 --> 00:00:02,000\nAgent: call number {i}\n");
        std::fs::write(&path, text).unwrap();
        files.push(path);
    }
    let template = manifest_dir().join("tests/fixtures/import/callsift.json");
    let mut value: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(template).unwrap()).unwrap();
    // Slots 2 and 0 of 3 (the first 16 hex digits mod 3).
    for id in ["00000000000000050000", "0000000000000006ffff"] {
        value["call_id"] = id.into();
        let path = dir.join(format!("{id}.json"));
        std::fs::write(&path, value.to_string()).unwrap();
        files.push(path);
    }
    let broken = dir.join("broken.srt");
    std::fs::write(&broken, "not a subtitle file").unwrap();
    files.push(broken.clone());
    (files, broken)
}

fn import(files: &[PathBuf], out: &Path, shard: Option<&str>) -> (RunReport, i32) {
    let mut cmd = callsift();
    cmd.args(["import", "--json", "--out"]).arg(out).args(files);
    if let Some(shard) = shard {
        cmd.args(["--shard", shard]);
    }
    let output = cmd.output().unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    let report: RunReport = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "no import summary ({e}): {stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        )
    });
    (report, output.status.code().unwrap())
}

#[test]
fn import_shards_partition_by_the_imported_call_id() {
    let tmp = tempfile::tempdir().unwrap();
    let (files, broken) = transcripts(&tmp.path().join("in"));
    let whole = tmp.path().join("whole");
    let (report, code) = import(&files, &whole, None);
    assert_eq!((report.ok, report.failed, code), (8, 1, 3), "{report:?}");
    let all = stored_calls(&whole);
    assert_eq!(all.len(), 8);

    let mut union = BTreeSet::new();
    for index in 0..3u32 {
        let out = tmp.path().join(format!("shard-{index}"));
        let (report, code) = import(&files, &out, Some(&format!("{index}/3")));
        let shard = report.shard.expect("shard in the summary");
        assert_eq!(listed(&report) + shard.other_shards, files.len());
        // The file that does not import is reported by shard 0 alone.
        let reports_broken = report
            .inputs
            .iter()
            .any(|i| Path::new(&i.path) == broken.as_path());
        assert_eq!(reports_broken, index == 0, "{report:?}");
        assert_eq!(code, if index == 0 { 3 } else { 0 });
        let calls = stored_calls(&out);
        // A callsift transcript goes by the call id it carries.
        assert_eq!(calls.contains("00000000000000050000"), index == 2);
        assert_eq!(calls.contains("0000000000000006ffff"), index == 0);
        for id in calls {
            assert!(union.insert(id.clone()), "{id} in two shards");
        }
    }
    assert_eq!(union, all);
}

/// Rescore of a folder one shard at a time: each task judges its own calls
/// against the do-not-call requests of every call, and the three together
/// leave the same transcripts and export as one unsharded rescore.
#[test]
fn rescore_shards_judge_their_calls_against_every_request() {
    let tmp = tempfile::tempdir().unwrap();
    let input = tmp.path().join("in");
    std::fs::create_dir_all(&input).unwrap();
    // Slots of 3: ...6 → 0, ...4 → 1, ...5 → 2 (the first 16 hex digits mod 3).
    let calls = [
        // The request, in shard 0.
        (
            "0000000000000006ffff",
            "2026-11-02T09:00:00Z",
            "outbound",
            "Proszę do mnie więcej nie dzwonić!",
        ),
        // A watchlist phrase, in shard 1.
        (
            "0000000000000004aaaa",
            "2026-11-02T10:00:00Z",
            "inbound",
            "Chodzi o przelew.",
        ),
        // Called again after the request, in shard 2.
        (
            "00000000000000050000",
            "2026-11-03T09:00:00Z",
            "outbound",
            "Słucham?",
        ),
    ];
    for (id, start, direction, text) in calls {
        let mut t = written_call(
            id,
            "pl",
            Some(start),
            &[("customer_number", "601 234 567"), ("direction", direction)],
            &[(1_000, 3_000, 0, "Dzień dobry."), (4_000, 7_000, 1, text)],
        );
        t.processed_at = Some("2026-11-10T00:00:00Z".parse().unwrap());
        std::fs::write(
            input.join(format!("{id}.json")),
            serde_json::to_string(&t).unwrap(),
        )
        .unwrap();
    }
    let files: Vec<PathBuf> = calls
        .iter()
        .map(|c| input.join(format!("{}.json", c.0)))
        .collect();
    let pipeline = tmp.path().join("compliance.toml");
    std::fs::write(
        &pipeline,
        "default_country = \"PL\"\n\n[[do_not_call]]\nname = \"dnc_request\"\n\
         phrases = [\"proszę do mnie więcej nie dzwonić\"]\n\n\
         [[watchlist]]\nname = \"money\"\nphrases = [\"przelew\"]\n",
    )
    .unwrap();
    let (whole, sharded) = (tmp.path().join("whole"), tmp.path().join("sharded"));
    for out in [&whole, &sharded] {
        assert_eq!(import(&files, out, None).1, 0);
    }
    let rescore = |out: &Path, shard: Option<&str>| -> serde_json::Value {
        let mut cmd = callsift();
        cmd.args(["rescore", "--json", "--pipeline"])
            .arg(&pipeline)
            .arg("--out")
            .arg(out);
        if let Some(shard) = shard {
            cmd.args(["--shard", shard]);
        }
        let assert = cmd.assert().success();
        serde_json::from_slice(&assert.get_output().stdout).unwrap()
    };
    let transcript = |out: &Path, id: &str| -> serde_json::Value {
        let path = out.join("transcripts").join(format!("{id}.json"));
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap()
    };
    let hit_kinds = |t: &serde_json::Value| -> Vec<String> {
        t["analysis"]["hits"]
            .as_array()
            .map(|hits| hits.iter().map(|h| h["kind"].to_string()).collect())
            .unwrap_or_default()
    };
    rescore(&whole, None);

    // Shard 2 alone: its call is found listed by the request in shard 0's
    // call, which it does not judge (nor shard 1's).
    let r = rescore(&sharded, Some("2/3"));
    assert_eq!(r["calls"], 1, "{r}");
    assert_eq!(r["shard"]["other_shards"], 2, "{r}");
    assert_eq!(r["dnc_listed_numbers"], 1, "{r}");
    let later = transcript(&sharded, "00000000000000050000");
    assert_eq!(hit_kinds(&later), ["\"dnc_listed\""], "{later}");
    assert!(transcript(&sharded, "0000000000000006ffff")["analysis"].is_null());
    assert!(transcript(&sharded, "0000000000000004aaaa")["analysis"].is_null());

    // The other two shards: the same as one unsharded rescore.
    rescore(&sharded, Some("0/3"));
    rescore(&sharded, Some("1/3"));
    for (id, ..) in calls {
        assert_eq!(transcript(&sharded, id), transcript(&whole, id), "{id}");
    }
    let export = |out: &Path| std::fs::read(out.join("exports/do-not-call.csv")).unwrap();
    assert_eq!(export(&sharded), export(&whole));
    assert_eq!(
        hit_kinds(&transcript(&whole, "0000000000000004aaaa")),
        ["\"watchlist\""]
    );
}
