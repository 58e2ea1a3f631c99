//! The deployment files under `deploy/`, checked without a cluster: every
//! Kubernetes manifest against the Kubernetes schemas (`kubernetes-validate
//! --strict` from `target/pyenv`, offline), the shell scripts and the shell
//! inside the manifests with `bash -n` / `sh -n`, the ConfigMap's pipeline
//! with `callsift rules check`, the number of shards the same in the shard
//! and merge Jobs, and every flag given to a `callsift` subcommand anywhere
//! under `deploy/` (scripts, manifests, units, README) one that the
//! subcommand's `--help` lists.

mod common;

use std::collections::{BTreeSet, HashMap};
use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn deploy_dir() -> PathBuf {
    common::manifest_dir().join("deploy")
}

/// Files under `deploy/` whose name passes `keep`, sorted.
fn deploy_files(keep: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = walkdir::WalkDir::new(deploy_dir())
        .into_iter()
        .map(|e| e.unwrap().into_path())
        .filter(|p| p.is_file() && keep(p))
        .collect();
    files.sort();
    files
}

fn has_ext(path: &Path, exts: &[&str]) -> bool {
    path.extension()
        .and_then(|e| e.to_str())
        .is_some_and(|e| exts.contains(&e))
}

/// The Kubernetes manifests: every YAML under deploy/k8s/ (deploy/quickwit/
/// holds a Quickwit index config, not a Kubernetes object).
fn manifests() -> Vec<PathBuf> {
    let k8s = deploy_dir().join("k8s");
    let files = deploy_files(|p| has_ext(p, &["yaml", "yml"]) && p.starts_with(&k8s));
    for name in [
        "indexed-job.yaml",
        "merge-job.yaml",
        "volumes.yaml",
        "toolbox.yaml",
    ] {
        assert!(
            files
                .iter()
                .any(|f| f.ends_with(Path::new("k8s").join(name))),
            "deploy/k8s/{name} is missing"
        );
    }
    files
}

/// A program in `target/pyenv/bin` (made by `.ci/install-deps`): `None`
/// locally when missing, a panic on CI.
fn pyenv_bin(name: &str) -> Option<PathBuf> {
    let path = common::manifest_dir().join("target/pyenv/bin").join(name);
    common::require(
        &format!("target/pyenv/bin/{name} (run .ci/install-deps)"),
        path.is_file().then_some(path),
    )
}

/// The oldest Kubernetes the manifests are for (deploy/README.md): Jobs got
/// `backoffLimitPerIndex` and the `FailIndex` action in 1.29.
const OLDEST_KUBERNETES: &str = "1.29.0";

/// `kubernetes-validate --strict` (unknown fields are errors) on one file,
/// against the given Kubernetes version or else the newest it bundles:
/// whether it passed, and what it said.
fn validate(validator: &Path, file: &Path, version: Option<&str>) -> (bool, String) {
    let out = Command::new(validator)
        .arg("--strict")
        .args(
            version
                .map(|v| ["--kubernetes-version", v])
                .into_iter()
                .flatten(),
        )
        .arg(file)
        .output()
        .unwrap();
    let said = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), said)
}

#[test]
fn every_manifest_passes_the_kubernetes_schemas() {
    let Some(validator) = pyenv_bin("kubernetes-validate") else {
        return;
    };
    for file in manifests() {
        for version in [None, Some(OLDEST_KUBERNETES)] {
            let (ok, said) = validate(&validator, &file, version);
            assert!(ok, "{} ({version:?}):\n{said}", file.display());
            assert!(said.contains("passed"), "{}:\n{said}", file.display());
        }
    }
}

/// The check can fail: a copy of the shard Job with a misspelled field, and
/// one with a number where a string belongs, are both rejected.
#[test]
fn a_manifest_with_a_bad_field_fails_the_check() {
    let Some(validator) = pyenv_bin("kubernetes-validate") else {
        return;
    };
    let good = std::fs::read_to_string(deploy_dir().join("k8s/indexed-job.yaml")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let bad_edits = [
        ("backoffLimitPerIndex:", "backoffLimitPerIndx:"),
        ("completionMode: Indexed", "completionMode: 7"),
    ];
    for (i, (from, to)) in bad_edits.into_iter().enumerate() {
        assert!(good.contains(from), "indexed-job.yaml has no {from:?}");
        let bad = dir.path().join(format!("bad-{i}.yaml"));
        std::fs::write(&bad, good.replacen(from, to, 1)).unwrap();
        let (ok, said) = validate(&validator, &bad, None);
        assert!(!ok, "{to:?} passed the check:\n{said}");
    }
}

/// What the Python script below found in each YAML document.
fn manifest_facts() -> Option<Vec<Value>> {
    let python = pyenv_bin("python")?;
    let out = Command::new(python)
        .arg("-c")
        .arg(FACTS_PY)
        .args(manifests())
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let facts: Value = serde_json::from_slice(&out.stdout).unwrap();
    Some(facts.as_array().unwrap().clone())
}

/// For each document: kind, name, the shell scripts of `sh -c` containers,
/// the `.toml` entries of a ConfigMap, images, literal env values and a
/// Job's completions.
const FACTS_PY: &str = r#"
import json, sys, yaml
out = []
for path in sys.argv[1:]:
    with open(path) as f:
        docs = [d for d in yaml.safe_load_all(f) if d]
    for doc in docs:
        spec = doc.get("spec") or {}
        item = {"file": path, "kind": doc["kind"], "name": doc["metadata"]["name"],
                "scripts": [], "tomls": {}, "images": [], "env": {},
                "completions": spec.get("completions"), "parallelism": spec.get("parallelism")}
        if doc["kind"] == "ConfigMap":
            item["tomls"] = {k: v for k, v in (doc.get("data") or {}).items() if k.endswith(".toml")}
        pod = spec["template"]["spec"] if doc["kind"] == "Job" else spec if doc["kind"] == "Pod" else {}
        for c in pod.get("containers", []) + pod.get("initContainers", []):
            item["images"].append(c["image"])
            cmd = (c.get("command") or []) + (c.get("args") or [])
            if len(cmd) >= 3 and cmd[0] in ("sh", "/bin/sh", "bash", "/bin/bash") and cmd[1] == "-c":
                item["scripts"].append(cmd[2])
            for e in c.get("env", []):
                if "value" in e:
                    item["env"][e["name"]] = e["value"]
        out.append(item)
json.dump(out, sys.stdout)
"#;

fn find<'a>(facts: &'a [Value], kind: &str, name: &str) -> &'a Value {
    facts
        .iter()
        .find(|f| f["kind"] == kind && f["name"] == name)
        .unwrap_or_else(|| panic!("no {kind} {name} under deploy/k8s"))
}

#[test]
fn shard_and_merge_jobs_agree_on_n_and_the_image() {
    let Some(facts) = manifest_facts() else {
        return;
    };
    let shards = find(&facts, "Job", "callsift-shards");
    let merge = find(&facts, "Job", "callsift-merge");
    let n = shards["completions"].as_u64().unwrap();
    let parallelism = shards["parallelism"].as_u64().unwrap();
    assert!(
        parallelism >= 1 && parallelism <= n,
        "parallelism {parallelism}, N {n}"
    );
    assert_eq!(
        shards["env"]["JOB_COMPLETIONS"],
        n.to_string(),
        "JOB_COMPLETIONS"
    );
    assert_eq!(
        merge["env"]["SHARDS"],
        n.to_string(),
        "merge-job.yaml SHARDS"
    );
    assert_eq!(shards["env"]["SHARDS_DIR"], merge["env"]["SHARDS_DIR"]);

    let images: BTreeSet<&str> = facts
        .iter()
        .flat_map(|f| f["images"].as_array().unwrap())
        .map(|i| i.as_str().unwrap())
        .collect();
    assert_eq!(images.len(), 1, "one image for every pod: {images:?}");
}

#[test]
fn the_configmap_pipeline_is_a_valid_pipeline_file() {
    let Some(facts) = manifest_facts() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let config = find(&facts, "ConfigMap", "callsift-pipeline");
    let tomls = config["tomls"].as_object().unwrap();
    assert!(!tomls.is_empty(), "callsift-pipeline has no .toml entry");
    for (key, text) in tomls {
        let path = dir.path().join(key);
        std::fs::write(&path, text.as_str().unwrap()).unwrap();
        common::bin()
            .args(["rules", "check"])
            .arg(&path)
            .assert()
            .success();
    }
}

/// `bash -n` on every script and `sh -n` (the image's /bin/sh) on the shell
/// inside the manifests.
#[test]
fn every_shell_script_parses() {
    let scripts = deploy_files(|p| has_ext(p, &["sh", "sbatch"]));
    assert!(scripts.len() >= 4, "{scripts:?}");
    for script in &scripts {
        let out = Command::new("bash").arg("-n").arg(script).output().unwrap();
        assert!(
            out.status.success(),
            "{}: {}",
            script.display(),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let Some(facts) = manifest_facts() else {
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    let mut n = 0;
    for doc in &facts {
        for script in doc["scripts"].as_array().unwrap() {
            let path = dir.path().join(format!("script-{n}.sh"));
            n += 1;
            std::fs::write(&path, script.as_str().unwrap()).unwrap();
            let out = Command::new("sh").arg("-n").arg(&path).output().unwrap();
            assert!(
                out.status.success(),
                "{} {}: {}\n{}",
                doc["file"],
                doc["name"],
                String::from_utf8_lossy(&out.stderr),
                script
            );
        }
    }
    assert!(n >= 2, "no sh -c scripts found in the Jobs");
}

/// `callsift [WORDS] --help`, cached.
struct Helps(HashMap<String, Option<String>>);

impl Helps {
    fn get(&mut self, words: &[&str]) -> Option<&str> {
        self.0
            .entry(words.join(" "))
            .or_insert_with(|| {
                let out = common::bin().args(words).arg("--help").output().unwrap();
                out.status
                    .success()
                    .then(|| String::from_utf8(out.stdout).unwrap())
            })
            .as_deref()
    }

    /// The subcommand names a help lists under "Commands:".
    fn subcommands(&mut self, words: &[&str]) -> Vec<String> {
        let Some(help) = self.get(words) else {
            return Vec::new();
        };
        let Some((_, list)) = help.split_once("Commands:\n") else {
            return Vec::new();
        };
        let entry = regex::Regex::new(r"^  ([a-z][a-z-]*)\s").unwrap();
        list.lines()
            .take_while(|l| !l.is_empty())
            .filter_map(|l| entry.captures(l).map(|c| c[1].to_owned()))
            .filter(|name| name != "help")
            .collect()
    }
}

/// `flag` (`--out`, `-q`) as a whole word of `help`.
fn help_lists(help: &str, flag: &str) -> bool {
    help.match_indices(flag).any(|(at, _)| {
        let before = help[..at].chars().next_back();
        let after = help[at + flag.len()..].chars().next();
        !before.is_some_and(|c| c.is_alphanumeric() || c == '-')
            && !after.is_some_and(|c| c.is_alphanumeric() || c == '-')
    })
}

/// One `callsift SUB [SUBSUB] …` found in a file: the words naming the
/// subcommand and the flags after them, up to the end of the (continued)
/// line or a shell or Markdown boundary.
struct Use {
    file: PathBuf,
    words: Vec<String>,
    flags: Vec<String>,
}

fn uses_in(file: &Path, text: &str, helps: &mut Helps) -> Vec<Use> {
    let top = helps.subcommands(&[]);
    let joined = text.replace("\\\n", " ");
    let start =
        regex::Regex::new(r"\bcallsift[ \t]+([a-z][a-z-]*)(?:[ \t]+([a-z][a-z-]*))?").unwrap();
    let flag = regex::Regex::new(r"^(--[a-z][a-z0-9-]*|-[a-zA-Z])(=.*)?$").unwrap();
    let mut uses = Vec::new();
    for line in joined.lines() {
        for c in start.captures_iter(line) {
            // Prose ("the callsift user") names no subcommand.
            if !top.contains(&c[1].to_owned()) {
                continue;
            }
            let mut words = vec![c[1].to_owned()];
            let mut end = c.get(1).unwrap().end();
            if let Some(second) = c.get(2)
                && helps
                    .subcommands(&[&c[1]])
                    .contains(&second.as_str().to_owned())
            {
                words.push(second.as_str().to_owned());
                end = second.end();
            }
            let rest = &line[end..];
            let rest = rest
                .split(['`', ';', '|', '&', ')', '<', '>'])
                .next()
                .unwrap_or("");
            let rest = rest.split(" #").next().unwrap_or("");
            let flags = rest
                .split_whitespace()
                .filter_map(|t| flag.captures(t).map(|f| f[1].to_owned()))
                .collect();
            uses.push(Use {
                file: file.to_owned(),
                words,
                flags,
            });
        }
    }
    uses
}

#[test]
fn every_callsift_flag_in_deploy_exists() {
    let mut helps = Helps(HashMap::new());
    let mut uses = Vec::new();
    for file in deploy_files(|_| true) {
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        uses.extend(uses_in(&file, &text, &mut helps));
    }
    let mut checked = BTreeSet::new();
    for u in &uses {
        let words: Vec<&str> = u.words.iter().map(String::as_str).collect();
        let help = helps
            .get(&words)
            .unwrap_or_else(|| panic!("{}: callsift {words:?} --help failed", u.file.display()))
            .to_owned();
        for f in &u.flags {
            assert!(
                help_lists(&help, f),
                "{}: `callsift {}` has no flag {f}",
                u.file.display(),
                words.join(" ")
            );
            checked.insert(format!("{} {f}", words.join(" ")));
        }
    }
    // The commands the shard and merge steps depend on were all seen.
    for must in [
        "run --shard",
        "run --input",
        "run --out",
        "run --model",
        "run --pipeline",
        "run --workers",
        "merge --out",
        "models fetch --dir",
        "search --out",
    ] {
        assert!(
            checked.contains(must),
            "no `callsift {must}` under deploy/: {checked:?}"
        );
    }
}

/// The flag scanner on known text: prose is skipped, a continued line is one
/// command, a Markdown span ends at its backtick, and a wrong flag is found.
#[test]
fn the_flag_scanner_reads_commands_as_a_shell_would() {
    let mut helps = Helps(HashMap::new());
    let text = "run as the callsift user\n\
                callsift run --input /r \\\n  --out /o --min-age=0 # --not-this\n\
                `callsift merge a b --out m` then `--force`\n\
                callsift models fetch base --dir /models\n\
                callsift run --no-such-flag\n";
    let uses = uses_in(Path::new("t"), text, &mut helps);
    let got: Vec<String> = uses
        .iter()
        .map(|u| format!("{}: {}", u.words.join(" "), u.flags.join(" ")))
        .collect();
    assert_eq!(
        got,
        [
            "run: --input --out --min-age",
            "merge: --out",
            "models fetch: --dir",
            "run: --no-such-flag",
        ]
    );
    let run_help = helps.get(&["run"]).unwrap().to_owned();
    assert!(help_lists(&run_help, "--min-age"));
    assert!(!help_lists(&run_help, "--min"));
    assert!(!help_lists(&run_help, "--no-such-flag"));
}
