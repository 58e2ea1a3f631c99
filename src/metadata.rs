//! Call metadata stage: who talked to whom, when, in which campaign or
//! queue, found for every recording before it is transcribed.
//!
//! Four sources, and per value this precedence: a sidecar JSON next to the
//! recording > a row of a CDR CSV file > a file-name pattern > (for
//! `call_start` only) the file's modification time. Times without an
//! offset are civil times in `[metadata] time_zone` (the system's zone when
//! unset), converted to UTC with jiff's "compatible" rule: a time in a DST
//! gap moves forward by the gap, a time in a DST fold is its first
//! occurrence. Nothing here fails a call: a value that does not parse is a
//! warning on the call, and the next source is used. `docs/metadata.md` is
//! the user's reference.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use jiff::fmt::strtime;
use jiff::tz::TimeZone;
use regex::{Captures, Regex};
use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{Error, Result};
use crate::model::CallMetadata;

/// Default `[metadata.cdr] start_format`: Asterisk's `Master.csv` layout.
pub const DEFAULT_CDR_START_FORMAT: &str = "%Y-%m-%d %H:%M:%S";

/// Regex group names with a meaning of their own; a pattern must name one.
/// Any other named group becomes a metadata key of its name.
const KNOWN_GROUPS: &[&str] = &[
    "agent",
    "agent_id",
    "customer",
    "customer_number",
    "direction",
    "start",
    "date",
    "time",
    "campaign",
    "queue",
    "unique_id",
];

/// Groups that make `call_start` instead of a metadata value.
const TIME_GROUPS: &[&str] = &["start", "date", "time"];

/// Sidecar keys meaning one of the standard names, best first.
const SIDECAR_ALIASES: &[(&str, &[&str])] = &[
    ("agent_id", &["agent_id", "agent"]),
    (
        "customer_number",
        &["customer_number", "customer", "caller"],
    ),
    ("direction", &["direction"]),
    ("campaign", &["campaign"]),
    ("queue", &["queue"]),
    ("unique_id", &["unique_id", "uniqueid"]),
];

/// Sidecar keys holding the call's start, best first.
const SIDECAR_START: &[&str] = &["call_start", "start"];

/// `[metadata]` in the pipeline file.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct MetadataSettings {
    /// IANA name of the zone civil times are in (`Europe/Warsaw`); `None`:
    /// the system's own zone (`TZ`, else `/etc/localtime`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub time_zone: Option<String>,
    /// Try the built-in patterns ([`builtin_patterns`]) after the file's own.
    pub default_patterns: bool,
    /// Read `call.wav.json` (else `call.json`) next to each recording.
    pub sidecar: bool,
    /// `[[metadata.pattern]]`: file-name patterns, tried in order before the
    /// built-in ones; the first that matches is the only one used.
    #[serde(rename = "pattern", skip_serializing_if = "Vec::is_empty")]
    pub patterns: Vec<FilePattern>,
    /// `[metadata.cdr]`: a CDR CSV file joined to each recording.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cdr: Option<CdrSettings>,
}

impl Default for MetadataSettings {
    fn default() -> Self {
        Self {
            time_zone: None,
            default_patterns: true,
            sidecar: true,
            patterns: Vec::new(),
            cdr: None,
        }
    }
}

/// One `[[metadata.pattern]]`: a regex over the recording's file name.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct FilePattern {
    /// Written into `metadata_source` as `filename:<name>`.
    pub name: String,
    /// Matched against the file name (not the folder); named groups are
    /// the values: `agent`, `customer`, `direction`, `start` (or `date` and
    /// `time`), `campaign`, `queue`, `unique_id`, or a key of their own.
    pub regex: String,
    /// jiff strftime format of the `start` group, or of `date` and `time`
    /// joined with a space.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub start_format: Option<String>,
    /// Direction of every call the pattern matches, unless a `direction`
    /// group says otherwise.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub direction: Option<String>,
}

/// `[metadata.cdr]`: a CDR CSV file, loaded once per run.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(default, deny_unknown_fields)]
pub struct CdrSettings {
    /// The CSV file; relative to the pipeline file.
    pub path: PathBuf,
    /// `unique_id` (the call's unique id against the `unique_id` column) or
    /// `file` (the recording's file name, or its stem, against `file`).
    pub join: String,
    /// Whether the first line names the columns (Asterisk's `Master.csv`
    /// has no header).
    pub has_header: bool,
    /// One ASCII character.
    pub delimiter: String,
    /// Our name (`unique_id`, `start`, `agent_id`, …, anything) to a column
    /// name (with a header) or a 0-based index.
    pub columns: BTreeMap<String, CdrColumn>,
    /// jiff strftime format of the `start` column (civil time in the zone).
    pub start_format: String,
}

impl Default for CdrSettings {
    fn default() -> Self {
        Self {
            path: PathBuf::new(),
            join: "unique_id".into(),
            has_header: false,
            delimiter: ",".into(),
            columns: BTreeMap::new(),
            start_format: DEFAULT_CDR_START_FORMAT.into(),
        }
    }
}

/// Where a CDR value is: a 0-based index or a header name.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
#[serde(untagged)]
pub enum CdrColumn {
    Index(usize),
    Name(String),
}

impl std::fmt::Display for CdrColumn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            CdrColumn::Index(i) => write!(f, "{i}"),
            CdrColumn::Name(n) => write!(f, "{n:?}"),
        }
    }
}

/// How CDR rows are matched to recordings.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Join {
    UniqueId,
    File,
}

impl Join {
    fn parse(s: &str) -> Option<Self> {
        match s {
            "unique_id" => Some(Join::UniqueId),
            "file" => Some(Join::File),
            _ => None,
        }
    }

    /// The column the join reads.
    fn column(self) -> &'static str {
        match self {
            Join::UniqueId => "unique_id",
            Join::File => "file",
        }
    }
}

/// The built-in file-name patterns, in the order they are tried.
///
/// FreePBX 12+ (`sub-record-check`) names a recording
/// `<prefix>-<to>-<from>-<YYYYMMDD>-<HHMMSS>-<uniqueid>.<format>`: `<to>`
/// is what was dialled, `<from>` the calling side (the extension, else the
/// caller id), `<uniqueid>` Asterisk's `UNIQUEID` (`1700000000.123`), the
/// time is the PBX's local time. What the prefix says, and so which side
/// is the agent:
/// - `out`: an outbound route; `<to>` is the number dialled (customer),
///   `<from>` the agent's extension.
/// - `in`: an inbound route; `<from>` is the caller (customer), `<to>` the
///   DID dialled: the agent's extension when the DID is an extension (2 to
///   6 digits), else kept as `did`.
/// - `q`: a queue; `<to>` is the queue, `<from>` the caller (customer). The
///   agent who answered is not in the name (the CDR's `dstchannel` has it).
/// - `external`: an outside call rung straight on an extension; `<to>` is
///   the extension (agent), `<from>` the caller (customer).
///
/// Then a generic `<agent>_<number>_<YYYY-MM-DD_HH-MM-SS>.<ext>`.
pub fn builtin_patterns() -> Vec<FilePattern> {
    // Shared tail of the FreePBX names; MIXMON_FORMAT wav49 is written `.WAV`.
    const TAIL: &str =
        r"-(?P<start>\d{8}-\d{6})-(?P<unique_id>\d+\.\d+)\.(?i:wav|mp3|gsm|ogg|opus|flac)$";
    const FREEPBX: &str = "%Y%m%d-%H%M%S";
    let freepbx = |name: &str, head: &str, direction: &str| FilePattern {
        name: name.into(),
        regex: format!("{head}{TAIL}"),
        start_format: Some(FREEPBX.into()),
        direction: Some(direction.into()),
    };
    vec![
        freepbx(
            "asterisk-out",
            r"^out-(?P<customer>[^-]+)-(?P<agent>[^-]+)",
            "outbound",
        ),
        freepbx(
            "asterisk-in",
            r"^in-(?:(?P<agent>\d{2,6})|(?P<did>[^-]+))-(?P<customer>[^-]+)",
            "inbound",
        ),
        freepbx(
            "asterisk-queue",
            r"^q-(?P<queue>[^-]+)-(?P<customer>[^-]+)",
            "inbound",
        ),
        freepbx(
            "asterisk-external",
            r"^external-(?P<agent>[^-]+)-(?P<customer>[^-]+)",
            "inbound",
        ),
        FilePattern {
            name: "agent-number-datetime".into(),
            regex: r"^(?P<agent>[^_]+)_(?P<customer>[^_]+)_(?P<start>\d{4}-\d{2}-\d{2}_\d{2}-\d{2}-\d{2})\.[[:alnum:]]+$".into(),
            start_format: Some("%Y-%m-%d_%H-%M-%S".into()),
            direction: None,
        },
    ]
}

/// `inbound`, `outbound` or `internal` for the words PBXes and dialers use
/// (FreePBX prefixes included); anything else is kept as given.
pub fn normalize_direction(value: &str) -> String {
    let v = value.trim();
    let known = match v.to_ascii_lowercase().as_str() {
        "in" | "i" | "inbound" | "incoming" | "q" | "queue" | "rg" | "external" => "inbound",
        "out" | "o" | "outbound" | "outgoing" | "dialout" => "outbound",
        "internal" | "local" | "int" => "internal",
        _ => return v.to_string(),
    };
    known.to_string()
}

impl MetadataSettings {
    /// Makes relative paths (the CDR file) relative to the pipeline file's folder.
    pub fn resolve_paths(&mut self, base: &Path) {
        if let Some(cdr) = &mut self.cdr
            && cdr.path.is_relative()
            && !cdr.path.as_os_str().is_empty()
        {
            cdr.path = base.join(&cdr.path);
        }
    }

    /// Checks what serde cannot; the message names the key.
    pub fn validate(&self) -> std::result::Result<(), String> {
        self.zone()?;
        for (i, pattern) in self.patterns.iter().enumerate() {
            pattern.validate(&format!("metadata.pattern[{i}]"))?;
        }
        if let Some(cdr) = &self.cdr {
            cdr.validate()?;
        }
        Ok(())
    }

    /// The zone civil times are in.
    fn zone(&self) -> std::result::Result<TimeZone, String> {
        match &self.time_zone {
            Some(name) => TimeZone::get(name)
                .map_err(|e| format!("metadata.time_zone: unknown time zone {name:?}: {e}")),
            None => Ok(TimeZone::system()),
        }
    }
}

impl FilePattern {
    /// Checks the pattern; `key` is how the message names it.
    fn validate(&self, key: &str) -> std::result::Result<Regex, String> {
        if self.name.trim().is_empty() {
            return Err(format!("{key}.name must not be empty"));
        }
        let regex =
            Regex::new(&self.regex).map_err(|e| format!("{key}.regex: {}", regex_message(&e)))?;
        let groups: Vec<&str> = regex.capture_names().flatten().collect();
        if !groups.iter().any(|g| KNOWN_GROUPS.contains(g)) {
            return Err(format!(
                "{key}.regex names none of the groups {}",
                KNOWN_GROUPS.join(", ")
            ));
        }
        let has = |g: &str| groups.contains(&g);
        if has("start") && (has("date") || has("time")) {
            return Err(format!(
                "{key}.regex: use a start group or date and time groups, not both"
            ));
        }
        if has("time") && !has("date") {
            return Err(format!("{key}.regex has a time group but no date group"));
        }
        if has("start") || has("date") {
            let Some(format) = &self.start_format else {
                let group = if has("start") { "start" } else { "date" };
                return Err(format!(
                    "{key}.start_format is required: the regex has a {group} group"
                ));
            };
            check_format(format).map_err(|e| format!("{key}.start_format: {e}"))?;
        }
        if let Some(direction) = &self.direction
            && !["inbound", "outbound", "internal"]
                .contains(&normalize_direction(direction).as_str())
        {
            return Err(format!(
                "{key}.direction must be inbound, outbound or internal (or in, out, q, external), got {direction:?}"
            ));
        }
        Ok(regex)
    }
}

impl CdrSettings {
    fn validate(&self) -> std::result::Result<(), String> {
        if self.path.as_os_str().is_empty() {
            return Err("metadata.cdr.path is required".into());
        }
        let Some(join) = Join::parse(&self.join) else {
            return Err(format!(
                "metadata.cdr.join must be \"unique_id\" or \"file\", got {:?}",
                self.join
            ));
        };
        if !self.columns.contains_key(join.column()) {
            return Err(format!(
                "metadata.cdr.columns has no {col} column, which join = \"{}\" needs",
                self.join,
                col = join.column()
            ));
        }
        if delimiter_byte(&self.delimiter).is_none() {
            return Err(format!(
                "metadata.cdr.delimiter must be one ASCII character, got {:?}",
                self.delimiter
            ));
        }
        for (ours, column) in &self.columns {
            if matches!(column, CdrColumn::Name(_)) && !self.has_header {
                return Err(format!(
                    "metadata.cdr.columns.{ours}: a column name needs has_header = true; \
                     without a header give a 0-based index"
                ));
            }
        }
        check_format(&self.start_format).map_err(|e| format!("metadata.cdr.start_format: {e}"))
    }
}

/// The delimiter as the byte the csv crate wants.
fn delimiter_byte(s: &str) -> Option<u8> {
    match s.as_bytes() {
        [b] if b.is_ascii() => Some(*b),
        _ => None,
    }
}

/// Rejects a strftime format with an unknown directive (jiff refuses to
/// format a complete zoned time with it): an error when the pipeline file
/// loads beats a warning on every call.
fn check_format(format: &str) -> std::result::Result<(), String> {
    if format.trim().is_empty() {
        return Err("must not be empty".into());
    }
    let sample = jiff::civil::date(2024, 1, 15)
        .at(10, 15, 0, 0)
        .to_zoned(TimeZone::UTC)
        .map_err(|e| e.to_string())?;
    strtime::format(format, &sample)
        .map(drop)
        .map_err(|e| e.to_string())
}

/// The regex crate's multi-line syntax error reduced to its last line.
fn regex_message(e: &regex::Error) -> String {
    let text = e.to_string();
    text.lines()
        .rev()
        .find_map(|l| l.strip_prefix("error: "))
        .map_or_else(|| text.replace('\n', " "), str::to_string)
}

/// A civil time in `format` (in `tz`) or, when the format has an offset or
/// `%s`, an instant.
fn parse_local(
    value: &str,
    format: &str,
    tz: &TimeZone,
) -> std::result::Result<Timestamp, jiff::Error> {
    let tm = strtime::parse(format, value)?;
    if tm.offset().is_some() || tm.timestamp().is_some() {
        return tm.to_timestamp();
    }
    // `to_zoned` resolves DST gaps and folds the "compatible" way.
    Ok(tm.to_datetime()?.to_zoned(tz.clone())?.timestamp())
}

/// What one source says about a call.
#[derive(Debug)]
struct Found {
    /// `sidecar:<file>`, `cdr:<file>` or `filename:<pattern>`.
    source: String,
    values: BTreeMap<String, String>,
    start: Option<Timestamp>,
}

impl Found {
    fn new(source: String) -> Self {
        Self {
            source,
            values: BTreeMap::new(),
            start: None,
        }
    }

    /// Adds a value; empty ones say nothing, directions are normalised.
    fn insert(&mut self, key: &str, value: &str) {
        let value = value.trim();
        if value.is_empty() {
            return;
        }
        let value = if key == "direction" {
            normalize_direction(value)
        } else {
            value.to_string()
        };
        self.values.insert(key.to_string(), value);
    }
}

/// A pattern ready to match.
#[derive(Debug)]
struct CompiledPattern {
    name: String,
    regex: Regex,
    start_format: Option<String>,
    direction: Option<String>,
}

/// One row of the CDR file: our names and their values.
#[derive(Debug)]
struct CdrRow {
    line: u64,
    values: Vec<(String, String)>,
}

impl CdrRow {
    fn answered(&self) -> bool {
        self.values
            .iter()
            .any(|(k, v)| k == "disposition" && v.eq_ignore_ascii_case("answered"))
    }
}

/// The CDR file, loaded: the join key → row map.
#[derive(Debug)]
struct Cdr {
    /// The file's name, for `cdr:<name>`.
    name: String,
    /// The file, for log lines.
    path: PathBuf,
    join: Join,
    start_format: String,
    rows: Vec<CdrRow>,
    by_key: HashMap<String, usize>,
}

/// Built once per run (loads the CDR file), then asked once per recording.
#[derive(Debug)]
pub struct MetadataResolver {
    patterns: Vec<CompiledPattern>,
    time_zone: TimeZone,
    sidecar: bool,
    cdr: Option<Cdr>,
}

impl Default for MetadataResolver {
    /// The built-in patterns and sidecars in the system's zone; no CDR.
    fn default() -> Self {
        Self::new(&MetadataSettings::default()).expect("the default settings are valid")
    }
}

impl MetadataResolver {
    /// Compiles the patterns and loads the CDR file; a CDR file that is
    /// missing or unreadable is an [`Error::Config`] naming it.
    pub fn new(settings: &MetadataSettings) -> Result<Self> {
        let invalid =
            |message: String| Error::Other(format!("invalid [metadata] settings: {message}"));
        let mut patterns = settings.patterns.clone();
        if settings.default_patterns {
            patterns.extend(builtin_patterns());
        }
        let patterns = patterns
            .into_iter()
            .enumerate()
            .map(|(i, p)| {
                let regex = p
                    .validate(&format!("metadata.pattern[{i}]"))
                    .map_err(invalid)?;
                Ok(CompiledPattern {
                    name: p.name,
                    regex,
                    start_format: p.start_format,
                    direction: p.direction,
                })
            })
            .collect::<Result<Vec<_>>>()?;
        let cdr = match &settings.cdr {
            Some(cdr) => {
                cdr.validate().map_err(invalid)?;
                Some(Cdr::load(cdr)?)
            }
            None => None,
        };
        Ok(Self {
            patterns,
            time_zone: settings.zone().map_err(invalid)?,
            sidecar: settings.sidecar,
            cdr,
        })
    }

    /// Metadata of the recording at `path`; never fails: what does not
    /// parse is in the result's `warnings`.
    pub fn resolve(&self, path: &Path) -> CallMetadata {
        let mut warnings = Vec::new();
        let from_name = self.read_file_name(path, &mut warnings);
        let from_sidecar = if self.sidecar {
            self.read_sidecar_values(path, &mut warnings)
        } else {
            None
        };
        let from_cdr = self.cdr.as_ref().and_then(|cdr| {
            let unique_id = [&from_sidecar, &from_name]
                .into_iter()
                .flatten()
                .find_map(|f| f.values.get("unique_id"));
            cdr.lookup(
                path,
                unique_id.map(String::as_str),
                &self.time_zone,
                &mut warnings,
            )
        });
        let mut meta = CallMetadata::default();
        // Lowest precedence first: a later source overwrites, value by value.
        for found in [from_name, from_cdr, from_sidecar].into_iter().flatten() {
            for (key, value) in found.values {
                meta.sources.insert(key.clone(), found.source.clone());
                meta.values.insert(key, value);
            }
            if let Some(start) = found.start {
                meta.call_start = Some(start);
                meta.sources
                    .insert("call_start".into(), found.source.clone());
            }
        }
        if meta.call_start.is_none()
            && let Some(start) = modified(path)
        {
            meta.call_start = Some(start);
            meta.sources.insert("call_start".into(), "mtime".into());
        }
        meta.warnings = warnings;
        meta
    }

    /// Values from the first pattern matching the file name.
    fn read_file_name(&self, path: &Path, warnings: &mut Vec<String>) -> Option<Found> {
        let name = path.file_name()?.to_string_lossy();
        let (pattern, caps) = self
            .patterns
            .iter()
            .find_map(|p| p.regex.captures(&name).map(|c| (p, c)))?;
        let mut found = Found::new(format!("filename:{}", pattern.name));
        for group in pattern.regex.capture_names().flatten() {
            if TIME_GROUPS.contains(&group) {
                continue;
            }
            if let Some(m) = caps.name(group) {
                found.insert(standard_key(group), m.as_str());
            }
        }
        if let Some(direction) = &pattern.direction
            && !found.values.contains_key("direction")
        {
            found.insert("direction", direction);
        }
        found.start = self.pattern_start(pattern, &caps, warnings);
        Some(found)
    }

    /// `call_start` from the `start` group, or `date` and `time`.
    fn pattern_start(
        &self,
        pattern: &CompiledPattern,
        caps: &Captures<'_>,
        warnings: &mut Vec<String>,
    ) -> Option<Timestamp> {
        let text = match (caps.name("start"), caps.name("date"), caps.name("time")) {
            (Some(start), _, _) => start.as_str().to_string(),
            (None, Some(date), Some(time)) => format!("{} {}", date.as_str(), time.as_str()),
            (None, Some(date), None) => date.as_str().to_string(),
            (None, None, _) => return None,
        };
        // validate() makes a pattern with a start or date group have a format.
        let format = pattern.start_format.as_deref()?;
        match parse_local(&text, format, &self.time_zone) {
            Ok(start) => Some(start),
            Err(e) => {
                warnings.push(format!(
                    "file name date {text} does not match {format}: {e}"
                ));
                None
            }
        }
    }

    /// Values from `call.wav.json`, else `call.json`.
    fn read_sidecar_values(&self, recording: &Path, warnings: &mut Vec<String>) -> Option<Found> {
        let (path, text) = read_sidecar(recording, warnings)?;
        let object = match serde_json::from_str::<Value>(&text) {
            Ok(Value::Object(object)) => object,
            Ok(_) => {
                warnings.push(format!(
                    "sidecar {} is not a JSON object; ignored",
                    path.display()
                ));
                return None;
            }
            Err(e) => {
                warnings.push(format!(
                    "sidecar {} is not valid JSON ({e}); ignored",
                    path.display()
                ));
                return None;
            }
        };
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        let mut found = Found::new(format!("sidecar:{name}"));
        let is_alias = |key: &str| {
            SIDECAR_START.contains(&key) || SIDECAR_ALIASES.iter().any(|(_, a)| a.contains(&key))
        };
        for (key, value) in &object {
            if let Some(value) = scalar(value).filter(|_| !is_alias(key)) {
                found.insert(key, &value);
            }
        }
        for (ours, aliases) in SIDECAR_ALIASES {
            if let Some(value) = aliases.iter().find_map(|a| object.get(*a).and_then(scalar)) {
                found.insert(ours, &value);
            }
        }
        found.start = self.sidecar_start(&object, &path, warnings);
        Some(found)
    }

    /// `call_start` (or `start`) of a sidecar: RFC 3339, or a civil time in
    /// the zone.
    fn sidecar_start(
        &self,
        object: &serde_json::Map<String, Value>,
        path: &Path,
        warnings: &mut Vec<String>,
    ) -> Option<Timestamp> {
        let (key, value) = SIDECAR_START
            .iter()
            .find_map(|k| object.get(*k).map(|v| (*k, v)))?;
        let parsed = match value {
            Value::String(s) => parse_sidecar_time(s.trim(), &self.time_zone),
            other => Err(format!("{other} is not a string")),
        };
        match parsed {
            Ok(start) => Some(start),
            Err(e) => {
                warnings.push(format!(
                    "sidecar {}: {key} {value} is neither RFC 3339 nor a local date and time: {e}",
                    path.display()
                ));
                None
            }
        }
    }
}

/// The sidecar's path and text; a sidecar that exists but cannot be read
/// is a warning.
fn read_sidecar(recording: &Path, warnings: &mut Vec<String>) -> Option<(PathBuf, String)> {
    let mut long = recording.as_os_str().to_owned();
    long.push(".json");
    for path in [PathBuf::from(long), recording.with_extension("json")] {
        if path == recording {
            continue;
        }
        match std::fs::read_to_string(&path) {
            Ok(text) => return Some((path, text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => {
                warnings.push(format!(
                    "sidecar {} cannot be read ({e}); ignored",
                    path.display()
                ));
                return None;
            }
        }
    }
    None
}

/// A sidecar value as metadata text: strings and numbers only.
fn scalar(value: &Value) -> Option<String> {
    match value {
        Value::String(s) => Some(s.clone()),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    }
}

fn parse_sidecar_time(s: &str, tz: &TimeZone) -> std::result::Result<Timestamp, String> {
    if let Ok(ts) = s.parse::<Timestamp>() {
        return Ok(ts);
    }
    let dt: jiff::civil::DateTime = s.parse().map_err(|e: jiff::Error| e.to_string())?;
    dt.to_zoned(tz.clone())
        .map(|z| z.timestamp())
        .map_err(|e| e.to_string())
}

/// Our metadata key for a regex group.
fn standard_key(group: &str) -> &str {
    match group {
        "agent" => "agent_id",
        "customer" => "customer_number",
        other => other,
    }
}

/// The file's modification time: the last resort for `call_start`.
fn modified(path: &Path) -> Option<Timestamp> {
    let time = std::fs::metadata(path).ok()?.modified().ok()?;
    Timestamp::try_from(time).ok()
}

impl Cdr {
    /// Reads the whole file; a bad row is skipped with a log line, an
    /// unreadable file is an error.
    fn load(settings: &CdrSettings) -> Result<Self> {
        let path = &settings.path;
        let config_error = |message: String| Error::Config {
            path: path.clone(),
            message,
        };
        let delimiter = delimiter_byte(&settings.delimiter).unwrap_or(b',');
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(settings.has_header)
            .delimiter(delimiter)
            .flexible(true)
            .from_path(path)
            .map_err(|e| config_error(format!("cannot read cdr file: {e}")))?;
        let columns = cdr_columns(settings, &mut reader).map_err(config_error)?;
        let join = Join::parse(&settings.join).unwrap_or(Join::UniqueId);
        let mut cdr = Cdr {
            name: path
                .file_name()
                .unwrap_or_default()
                .to_string_lossy()
                .into_owned(),
            path: path.clone(),
            join,
            start_format: settings.start_format.clone(),
            rows: Vec::new(),
            by_key: HashMap::new(),
        };
        for record in reader.records() {
            match record {
                Ok(record) => cdr.add(&record, &columns),
                Err(e) if matches!(e.kind(), csv::ErrorKind::Io(_)) => {
                    return Err(config_error(format!("cannot read cdr file: {e}")));
                }
                Err(e) => {
                    let line = e.position().map_or(0, csv::Position::line);
                    tracing::warn!("{} line {line}: {e}; row skipped", path.display());
                }
            }
        }
        tracing::debug!("{}: {} cdr rows loaded", path.display(), cdr.rows.len());
        Ok(cdr)
    }

    /// Adds one row under its join key(s). Asterisk writes several rows per
    /// call (one per queue member rung, say): the first is kept unless a
    /// later one is the answered leg.
    fn add(&mut self, record: &csv::StringRecord, columns: &[(String, usize)]) {
        let line = record.position().map_or(0, csv::Position::line);
        let values: Vec<(String, String)> = columns
            .iter()
            .filter_map(|(ours, i)| {
                let v = record.get(*i)?.trim();
                (!v.is_empty()).then(|| (ours.clone(), v.to_string()))
            })
            .collect();
        let join = self.join.column();
        let Some(key) = values
            .iter()
            .find(|(k, _)| k == join)
            .map(|(_, v)| v.clone())
        else {
            tracing::warn!(
                "{} line {line}: no {join} value; row skipped",
                self.path.display()
            );
            return;
        };
        let row = CdrRow { line, values };
        let index = self.rows.len();
        let answered = row.answered();
        self.rows.push(row);
        for key in self.keys_of(&key) {
            match self.by_key.get(&key) {
                Some(&old) if answered && !self.rows[old].answered() => {
                    self.by_key.insert(key, index);
                }
                Some(_) => {}
                None => {
                    self.by_key.insert(key, index);
                }
            }
        }
    }

    /// The keys a row is found by: a file column may hold a path, and a
    /// recording converted to another format still has the same stem.
    fn keys_of(&self, value: &str) -> Vec<String> {
        if self.join == Join::UniqueId {
            return vec![value.to_string()];
        }
        let name = value.rsplit(['/', '\\']).next().unwrap_or(value);
        let mut keys = vec![name.to_string()];
        if let Some(stem) = Path::new(name).file_stem().map(|s| s.to_string_lossy())
            && stem != name
        {
            keys.push(stem.into_owned());
        }
        keys
    }

    /// The row of a recording, its values and start.
    fn lookup(
        &self,
        recording: &Path,
        unique_id: Option<&str>,
        tz: &TimeZone,
        warnings: &mut Vec<String>,
    ) -> Option<Found> {
        let (what, index) = match self.join {
            Join::UniqueId => {
                let id = unique_id?;
                (format!("unique_id {id}"), self.by_key.get(id))
            }
            Join::File => {
                let name = recording.file_name()?.to_string_lossy();
                let stem = recording.file_stem()?.to_string_lossy();
                let index = self
                    .by_key
                    .get(name.as_ref())
                    .or_else(|| self.by_key.get(stem.as_ref()));
                (format!("file {name}"), index)
            }
        };
        let Some(row) = index.map(|&i| &self.rows[i]) else {
            warnings.push(format!("cdr {} has no row for {what}", self.name));
            return None;
        };
        let mut found = Found::new(format!("cdr:{}", self.name));
        for (key, value) in &row.values {
            if key != "start" {
                found.insert(key, value);
                continue;
            }
            match parse_local(value, &self.start_format, tz) {
                Ok(start) => found.start = Some(start),
                Err(e) => warnings.push(format!(
                    "cdr {} line {}: start {value} does not match {}: {e}",
                    self.name, row.line, self.start_format
                )),
            }
        }
        Some(found)
    }
}

/// Our names with their column indexes; names are looked up in the header.
fn cdr_columns(
    settings: &CdrSettings,
    reader: &mut csv::Reader<std::fs::File>,
) -> std::result::Result<Vec<(String, usize)>, String> {
    let header = if settings.has_header {
        Some(
            reader
                .headers()
                .map_err(|e| format!("line 1: cannot read the header: {e}"))?
                .clone(),
        )
    } else {
        None
    };
    settings
        .columns
        .iter()
        .map(|(ours, column)| {
            let index = match (column, &header) {
                (CdrColumn::Index(i), _) => *i,
                (CdrColumn::Name(name), Some(header)) => header
                    .iter()
                    .position(|h| h.trim() == name.trim())
                    .ok_or_else(|| {
                        format!(
                            "line 1: the header has no column {name:?} (metadata.cdr.columns.{ours}); it has: {}",
                            header.iter().collect::<Vec<_>>().join(", ")
                        )
                    })?,
                (CdrColumn::Name(_), None) => {
                    return Err(format!(
                        "metadata.cdr.columns.{ours}: a column name needs has_header = true"
                    ));
                }
            };
            Ok((ours.clone(), index))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::PipelineFile;

    fn fixture(name: &str) -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/metadata")
            .join(name)
    }

    /// `[metadata]` settings as a pipeline file in `dir` would give them.
    fn settings(toml: &str, dir: &Path) -> MetadataSettings {
        PipelineFile::parse(toml, &dir.join("p.toml"))
            .unwrap()
            .metadata
    }

    fn resolver(toml: &str) -> MetadataResolver {
        MetadataResolver::new(&settings(toml, Path::new("/nonexistent"))).unwrap()
    }

    const WARSAW: &str = "[metadata]\ntime_zone = \"Europe/Warsaw\"\n";

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn value<'m>(meta: &'m CallMetadata, key: &str) -> Option<&'m str> {
        meta.values.get(key).map(String::as_str)
    }

    fn source<'m>(meta: &'m CallMetadata, key: &str) -> Option<&'m str> {
        meta.sources.get(key).map(String::as_str)
    }

    #[test]
    fn asterisk_out_in_winter() {
        let m = resolver(WARSAW).resolve(Path::new(
            "/rec/2024/01/15/out-48601234567-1001-20240115-101500-1705310100.18.wav",
        ));
        assert_eq!(value(&m, "agent_id"), Some("1001"));
        assert_eq!(value(&m, "customer_number"), Some("48601234567"));
        assert_eq!(value(&m, "direction"), Some("outbound"));
        assert_eq!(value(&m, "unique_id"), Some("1705310100.18"));
        assert_eq!(m.call_start, Some(ts("2024-01-15T09:15:00Z")));
        assert_eq!(source(&m, "call_start"), Some("filename:asterisk-out"));
        assert_eq!(source(&m, "agent_id"), Some("filename:asterisk-out"));
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }

    #[test]
    fn asterisk_in_in_summer_did_or_extension() {
        let r = resolver(WARSAW);
        let m = r.resolve(Path::new(
            "in-48221234567-48501112233-20240702-093000-1719905400.7.mp3",
        ));
        assert_eq!(value(&m, "customer_number"), Some("48501112233"));
        assert_eq!(value(&m, "did"), Some("48221234567"));
        assert_eq!(value(&m, "agent_id"), None);
        assert_eq!(value(&m, "direction"), Some("inbound"));
        // Summer: CEST, two hours ahead of UTC.
        assert_eq!(m.call_start, Some(ts("2024-07-02T07:30:00Z")));
        let m = r.resolve(Path::new(
            "in-1002-48501112233-20240702-093000-1719905400.7.wav",
        ));
        assert_eq!(value(&m, "agent_id"), Some("1002"));
        assert_eq!(value(&m, "did"), None);
        assert_eq!(source(&m, "agent_id"), Some("filename:asterisk-in"));
    }

    #[test]
    fn asterisk_queue_and_external() {
        let r = resolver(WARSAW);
        let m = r.resolve(Path::new(
            "q-600-48227654321-20240702-140311-1719921791.4521.WAV",
        ));
        assert_eq!(value(&m, "queue"), Some("600"));
        assert_eq!(value(&m, "customer_number"), Some("48227654321"));
        assert_eq!(value(&m, "direction"), Some("inbound"));
        assert_eq!(value(&m, "agent_id"), None);
        assert_eq!(m.call_start, Some(ts("2024-07-02T12:03:11Z")));
        assert_eq!(source(&m, "queue"), Some("filename:asterisk-queue"));
        let m = r.resolve(Path::new(
            "external-1003-48501112233-20240115-081502-1705302902.44.gsm",
        ));
        assert_eq!(value(&m, "agent_id"), Some("1003"));
        assert_eq!(value(&m, "customer_number"), Some("48501112233"));
        assert_eq!(value(&m, "direction"), Some("inbound"));
        assert_eq!(m.call_start, Some(ts("2024-01-15T07:15:02Z")));
    }

    #[test]
    fn generic_agent_number_datetime() {
        let r = resolver(WARSAW);
        let m = r.resolve(Path::new("jkowalski_+48601234567_2024-07-02_14-03-11.flac"));
        assert_eq!(value(&m, "agent_id"), Some("jkowalski"));
        assert_eq!(value(&m, "customer_number"), Some("+48601234567"));
        assert_eq!(value(&m, "direction"), None);
        assert_eq!(m.call_start, Some(ts("2024-07-02T12:03:11Z")));
        assert_eq!(
            source(&m, "call_start"),
            Some("filename:agent-number-datetime")
        );
        let m = r.resolve(Path::new("1002_48601234567_2024-01-15_10-15-00.wav"));
        assert_eq!(m.call_start, Some(ts("2024-01-15T09:15:00Z")));
    }

    #[test]
    fn dst_gap_and_fold_resolve_compatibly() {
        let r = resolver(WARSAW);
        // 02:30 does not exist on 2024-03-31 in Warsaw: it moves forward by
        // the gap, to 03:30 CEST.
        let m = r.resolve(Path::new(
            "out-48601234567-1001-20240331-023000-1711848600.1.wav",
        ));
        assert_eq!(m.call_start, Some(ts("2024-03-31T01:30:00Z")));
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
        // 02:30 happens twice on 2024-10-27: the first one (CEST) is taken.
        let m = r.resolve(Path::new(
            "out-48601234567-1001-20241027-023000-1729989000.2.wav",
        ));
        assert_eq!(m.call_start, Some(ts("2024-10-27T00:30:00Z")));
    }

    #[test]
    fn bad_date_is_a_warning_and_mtime_is_used() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir
            .path()
            .join("out-48601234567-1001-20261399-101500-1705310100.18.wav");
        let file = std::fs::File::create(&path).unwrap();
        let mtime = ts("2026-11-20T08:00:00Z");
        file.set_modified(mtime.into()).unwrap();
        let m = resolver(WARSAW).resolve(&path);
        assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
        assert!(
            m.warnings[0]
                .starts_with("file name date 20261399-101500 does not match %Y%m%d-%H%M%S: "),
            "{}",
            m.warnings[0]
        );
        assert_eq!(m.call_start, Some(mtime));
        assert_eq!(source(&m, "call_start"), Some("mtime"));
        // The other values of the name still apply.
        assert_eq!(value(&m, "agent_id"), Some("1001"));
        assert_eq!(value(&m, "unique_id"), Some("1705310100.18"));
    }

    #[test]
    fn sidecar_wins_over_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir
            .path()
            .join("out-48601234567-1001-20240115-101500-1705310100.18.wav");
        let sidecar = r#"{"agent": "2002", "campaign": "winback", "direction": "in",
            "call_start": "2024-01-15T10:16:00+01:00", "priority": 3,
            "tags": ["vip"], "note": null, "agent_id": "2001"}"#;
        std::fs::write(
            dir.path().join(format!(
                "{}.json",
                path.file_name().unwrap().to_string_lossy()
            )),
            sidecar,
        )
        .unwrap();
        let m = resolver(WARSAW).resolve(&path);
        let side = "sidecar:out-48601234567-1001-20240115-101500-1705310100.18.wav.json";
        // agent_id is the standard name: it wins over its alias agent.
        assert_eq!(value(&m, "agent_id"), Some("2001"));
        assert_eq!(source(&m, "agent_id"), Some(side));
        assert_eq!(value(&m, "campaign"), Some("winback"));
        assert_eq!(value(&m, "direction"), Some("inbound"));
        assert_eq!(value(&m, "priority"), Some("3"));
        assert_eq!(value(&m, "tags"), None);
        assert_eq!(value(&m, "customer_number"), Some("48601234567"));
        assert_eq!(source(&m, "customer_number"), Some("filename:asterisk-out"));
        assert_eq!(m.call_start, Some(ts("2024-01-15T09:16:00Z")));
        assert_eq!(source(&m, "call_start"), Some(side));
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }

    #[test]
    fn stem_sidecar_with_local_time_and_broken_sidecar() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("call-0001.wav");
        std::fs::write(
            dir.path().join("call-0001.json"),
            r#"{"caller": 48601234567, "start": "2024-07-02 14:03:11", "uniqueid": "1719921791.4521"}"#,
        )
        .unwrap();
        let r = resolver(WARSAW);
        let m = r.resolve(&path);
        assert_eq!(value(&m, "customer_number"), Some("48601234567"));
        assert_eq!(value(&m, "unique_id"), Some("1719921791.4521"));
        assert_eq!(m.call_start, Some(ts("2024-07-02T12:03:11Z")));
        assert_eq!(source(&m, "call_start"), Some("sidecar:call-0001.json"));

        let path = dir.path().join("1002_48601234567_2024-01-15_10-15-00.wav");
        let broken = dir
            .path()
            .join("1002_48601234567_2024-01-15_10-15-00.wav.json");
        std::fs::write(&broken, "{\"agent\": ").unwrap();
        let m = r.resolve(&path);
        assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
        assert!(
            m.warnings[0].contains(&broken.display().to_string()),
            "{}",
            m.warnings[0]
        );
        assert_eq!(value(&m, "agent_id"), Some("1002"));
        assert_eq!(m.call_start, Some(ts("2024-01-15T09:15:00Z")));
    }

    #[test]
    fn sidecar_bad_time_falls_back_to_file_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("1002_48601234567_2024-01-15_10-15-00.wav");
        std::fs::write(
            dir.path().join("1002_48601234567_2024-01-15_10-15-00.json"),
            r#"{"call_start": "yesterday"}"#,
        )
        .unwrap();
        let m = resolver(WARSAW).resolve(&path);
        assert_eq!(m.call_start, Some(ts("2024-01-15T09:15:00Z")));
        assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
        assert!(
            m.warnings[0].contains("call_start \"yesterday\""),
            "{}",
            m.warnings[0]
        );
    }

    /// `pipelines/asterisk-cdr.toml` with its CDR pointed at the fixture.
    fn asterisk_cdr() -> MetadataResolver {
        let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines");
        let mut p = PipelineFile::load(&dir.join("asterisk-cdr.toml")).unwrap();
        p.metadata.time_zone = Some("Europe/Warsaw".into());
        p.metadata.cdr.as_mut().unwrap().path = fixture("Master.csv");
        MetadataResolver::new(&p.metadata).unwrap()
    }

    #[test]
    fn cdr_joined_by_unique_id() {
        let r = asterisk_cdr();
        let m = r.resolve(Path::new(
            "out-48601234567-1001-20240115-101500-1705310100.18.wav",
        ));
        assert_eq!(value(&m, "disposition"), Some("ANSWERED"));
        assert_eq!(value(&m, "billsec"), Some("273"));
        assert_eq!(value(&m, "dstchannel"), Some("PJSIP/trunk-orange-0000001b"));
        assert_eq!(source(&m, "disposition"), Some("cdr:Master.csv"));
        assert_eq!(source(&m, "unique_id"), Some("cdr:Master.csv"));
        // Empty columns (accountcode, userfield) give nothing.
        assert_eq!(value(&m, "accountcode"), None);
        // The CDR's start (channel up) wins over the name's (recording start).
        assert_eq!(m.call_start, Some(ts("2024-01-15T09:14:58Z")));
        assert_eq!(source(&m, "call_start"), Some("cdr:Master.csv"));
        assert_eq!(value(&m, "agent_id"), Some("1001"));
        assert_eq!(source(&m, "agent_id"), Some("filename:asterisk-out"));
        assert!(m.warnings.is_empty(), "{:?}", m.warnings);
    }

    #[test]
    fn cdr_prefers_the_answered_leg_and_skips_bad_rows() {
        let r = asterisk_cdr();
        let m = r.resolve(Path::new(
            "q-600-48227654321-20240702-140311-1719921791.4521.wav",
        ));
        assert_eq!(value(&m, "disposition"), Some("ANSWERED"));
        assert_eq!(
            value(&m, "dstchannel"),
            Some("Local/1002@from-queue-00000c24;1")
        );
        assert_eq!(m.call_start, Some(ts("2024-07-02T12:03:11Z")));
        // The truncated row (line 3) was skipped; the rows after it loaded.
        let m = r.resolve(Path::new(
            "out-48609876543-1002-20240702-152041-1719926441.4602.wav",
        ));
        assert_eq!(value(&m, "disposition"), Some("NO ANSWER"));
        let m = r.resolve(Path::new(
            "out-48601234567-1001-20240115-101500-1705399999.1.wav",
        ));
        assert_eq!(
            m.warnings,
            ["cdr Master.csv has no row for unique_id 1705399999.1"]
        );
        assert_eq!(source(&m, "call_start"), Some("filename:asterisk-out"));
    }

    #[test]
    fn cdr_joined_by_file_name_with_header() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("dialer.csv"),
            "recording;agent;phone;started;campaign;result\n\
             /var/spool/dialer/2024/07/02/call-000123.wav;2001;48601112233;2024-07-02 14:03:11;winback;sale\n\
             call-000124.wav;2002;48601112234;2024-07-02 14:05:00;winback;no sale\n\
             call-000125.wav;2002;48601112235;2024-07-02 25:00:00;winback;sale\n",
        )
        .unwrap();
        let toml = r#"
            [metadata]
            time_zone = "Europe/Warsaw"
            [metadata.cdr]
            path = "dialer.csv"
            join = "file"
            has_header = true
            delimiter = ";"
            [metadata.cdr.columns]
            file = "recording"
            agent_id = "agent"
            customer_number = "phone"
            start = "started"
            campaign = "campaign"
            result = "result"
        "#;
        let r = MetadataResolver::new(&settings(toml, dir.path())).unwrap();
        let m = r.resolve(Path::new("/data/call-000123.wav"));
        assert_eq!(value(&m, "agent_id"), Some("2001"));
        assert_eq!(value(&m, "result"), Some("sale"));
        assert_eq!(source(&m, "agent_id"), Some("cdr:dialer.csv"));
        assert_eq!(m.call_start, Some(ts("2024-07-02T12:03:11Z")));
        // Converted to mp3: found by its stem.
        let m = r.resolve(Path::new("call-000124.mp3"));
        assert_eq!(value(&m, "result"), Some("no sale"));
        let m = r.resolve(Path::new("call-000125.wav"));
        assert_eq!(m.warnings.len(), 1, "{:?}", m.warnings);
        assert!(
            m.warnings[0]
                .starts_with("cdr dialer.csv line 4: start 2024-07-02 25:00:00 does not match"),
            "{}",
            m.warnings[0]
        );
        assert_eq!(value(&m, "agent_id"), Some("2002"));
    }

    #[test]
    fn cdr_row_that_is_not_utf8_is_skipped() {
        let dir = tempfile::tempdir().unwrap();
        let mut csv = b"\"1.1\",\"2024-01-15 10:15:00\"\n\"2.2\",\"caf\xe9\"\n".to_vec();
        csv.extend_from_slice(b"\"3.3\",\"2024-01-15 10:16:00\"\n");
        std::fs::write(dir.path().join("cdr.csv"), csv).unwrap();
        let toml = "[metadata]\ntime_zone = \"UTC\"\ndefault_patterns = false\n\
                    [metadata.cdr]\npath = \"cdr.csv\"\n\
                    [metadata.cdr.columns]\nunique_id = 0\nstart = 1\n";
        let r = MetadataResolver::new(&settings(toml, dir.path())).unwrap();
        let cdr = r.cdr.as_ref().unwrap();
        assert_eq!(cdr.rows.len(), 2);
        assert!(cdr.by_key.contains_key("3.3") && !cdr.by_key.contains_key("2.2"));
    }

    #[test]
    fn missing_cdr_or_header_column_is_a_config_error() {
        let dir = tempfile::tempdir().unwrap();
        let toml = "[metadata.cdr]\npath = \"nope.csv\"\n[metadata.cdr.columns]\nunique_id = 16\n";
        let err = MetadataResolver::new(&settings(toml, dir.path())).unwrap_err();
        assert!(matches!(err, Error::Config { .. }), "{err:?}");
        let text = err.to_string();
        assert!(text.contains("nope.csv: cannot read cdr file"), "{text}");
        std::fs::write(dir.path().join("h.csv"), "id,when\n1,2024-01-01 00:00:00\n").unwrap();
        let toml = "[metadata.cdr]\npath = \"h.csv\"\nhas_header = true\n\
                    [metadata.cdr.columns]\nunique_id = \"uid\"\n";
        let text = MetadataResolver::new(&settings(toml, dir.path()))
            .unwrap_err()
            .to_string();
        assert!(
            text.contains("h.csv: line 1: the header has no column \"uid\""),
            "{text}"
        );
    }

    #[test]
    fn own_pattern_is_tried_before_the_built_ins() {
        let toml = r#"
            [metadata]
            time_zone = "Europe/Warsaw"
            [[metadata.pattern]]
            name = "campaigns"
            regex = '^(?P<campaign>[a-z]{2,})-(?P<customer>\d+)-(?P<agent>\d+)-(?P<date>\d{8})-(?P<time>\d{6})-(?P<unique_id>[\d.]+)\.wav$'
            start_format = "%Y%m%d %H%M%S"
            direction = "outbound"
        "#;
        let m = resolver(toml).resolve(Path::new(
            "out-48601234567-1001-20240115-101500-1705310100.18.wav",
        ));
        assert_eq!(value(&m, "campaign"), Some("out"));
        assert_eq!(source(&m, "agent_id"), Some("filename:campaigns"));
        assert_eq!(value(&m, "direction"), Some("outbound"));
        assert_eq!(m.call_start, Some(ts("2024-01-15T09:15:00Z")));
        // Names it does not match still reach the built-ins.
        let m = resolver(toml).resolve(Path::new(
            "q-600-48227654321-20240702-140311-1719921791.4521.wav",
        ));
        assert_eq!(source(&m, "queue"), Some("filename:asterisk-queue"));
    }

    #[test]
    fn default_patterns_off() {
        let r = resolver("[metadata]\ndefault_patterns = false\nsidecar = false\n");
        let m = r.resolve(Path::new(
            "/nonexistent/out-48601234567-1001-20240115-101500-1705310100.18.wav",
        ));
        assert_eq!(m, CallMetadata::default());
    }

    fn invalid(toml: &str) -> String {
        PipelineFile::parse(toml, Path::new("p.toml"))
            .unwrap_err()
            .to_string()
    }

    #[test]
    fn pattern_validation_names_the_key() {
        let ok = "[[metadata.pattern]]\nname = \"a\"\nregex = '^(?P<agent>\\d+)\\.wav$'\n";
        let err = invalid(&format!(
            "{ok}{ok}[[metadata.pattern]]\nname = \"c\"\nregex = '(?P<agent>'\n"
        ));
        assert!(
            err.starts_with("p.toml: metadata.pattern[2].regex: "),
            "{err}"
        );
        let err = invalid("[[metadata.pattern]]\nname = \"a\"\nregex = '^(?P<ticket>\\d+)'\n");
        assert!(
            err.contains("metadata.pattern[0].regex names none of the groups"),
            "{err}"
        );
        let err = invalid("[[metadata.pattern]]\nname = \"a\"\nregex = '^(?P<start>\\d+)'\n");
        assert!(
            err.contains("metadata.pattern[0].start_format is required"),
            "{err}"
        );
        let err = invalid(
            "[[metadata.pattern]]\nname = \"a\"\nregex = '^(?P<start>\\d+)'\nstart_format = \"%Y-%m-%d %!\"\n",
        );
        assert!(err.contains("metadata.pattern[0].start_format: "), "{err}");
    }

    #[test]
    fn zone_and_cdr_validation_names_the_key() {
        let err = invalid("[metadata]\ntime_zone = \"Europe/Warsw\"\n");
        assert!(
            err.contains("metadata.time_zone: unknown time zone \"Europe/Warsw\""),
            "{err}"
        );
        let cdr = "[metadata.cdr]\npath = \"x.csv\"\n";
        let err = invalid(&format!("{cdr}join = \"uniqueid\"\n"));
        assert!(
            err.contains("metadata.cdr.join must be \"unique_id\" or \"file\""),
            "{err}"
        );
        let err = invalid(&format!(
            "{cdr}[metadata.cdr.columns]\nunique_id = \"uniqueid\"\n"
        ));
        assert!(
            err.contains("metadata.cdr.columns.unique_id: a column name needs has_header"),
            "{err}"
        );
        let err = invalid(&format!(
            "{cdr}join = \"file\"\n[metadata.cdr.columns]\nunique_id = 16\n"
        ));
        assert!(
            err.contains("metadata.cdr.columns has no file column"),
            "{err}"
        );
        let err = invalid(&format!(
            "{cdr}delimiter = \";;\"\n[metadata.cdr.columns]\nunique_id = 16\n"
        ));
        assert!(err.contains("metadata.cdr.delimiter"), "{err}");
    }

    #[test]
    fn unknown_key_under_metadata_names_key_and_line() {
        let err = invalid("[metadata]\ntime_zone = \"UTC\"\nsidecars = true\n");
        assert!(err.starts_with("p.toml: "), "{err}");
        assert!(err.contains("sidecars") && err.contains("line 3"), "{err}");
        let err = invalid(
            "[[metadata.pattern]]\nname = \"a\"\nregex = '(?P<agent>x)'\nformat = \"%Y\"\n",
        );
        assert!(err.contains("format") && err.contains("line 4"), "{err}");
    }

    #[test]
    fn built_ins_and_shipped_settings_are_valid() {
        for (i, p) in builtin_patterns().iter().enumerate() {
            p.validate(&format!("builtin[{i}]")).unwrap();
        }
        let d = MetadataSettings::default();
        assert!(d.default_patterns && d.sidecar && d.cdr.is_none());
        MetadataResolver::default();
    }

    /// CI machines may have no /usr/share/zoneinfo: named zones must come
    /// from the copy of the database compiled in (`tzdb-bundle-always`).
    #[test]
    fn named_zones_work_without_a_system_database() {
        let db = jiff::tz::TimeZoneDatabase::bundled();
        let warsaw = db.get("Europe/Warsaw").unwrap();
        let dt = jiff::civil::date(2024, 7, 2).at(14, 3, 11, 0);
        assert_eq!(
            dt.to_zoned(warsaw).unwrap().timestamp(),
            ts("2024-07-02T12:03:11Z")
        );
    }

    #[test]
    fn directions_are_normalised() {
        for (given, want) in [
            ("in", "inbound"),
            ("OUT", "outbound"),
            ("q", "inbound"),
            ("external", "inbound"),
            ("Outgoing", "outbound"),
            ("internal", "internal"),
            ("transfer", "transfer"),
        ] {
            assert_eq!(normalize_direction(given), want, "{given}");
        }
    }
}
