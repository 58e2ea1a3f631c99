//! The do-not-call list: customers who asked not to be called again (found
//! by the rules stage in what they said, kept in
//! `OUT/exports/do-not-call.csv`), plus optional external lists (a national
//! Robinson list, say), and the check of every call's customer number
//! against them.
//!
//! Numbers are compared in E.164 (`+48601234567`): a PBX, a CDR and a list
//! file each write them their own way, so every number goes through
//! [`normalize_number`] first.
//!
//! The export is the memory of who asked: it only ever grows. Writing it
//! merges what is already on disk ([`DncList::write_export`]), a malformed
//! export is an error and never overwritten, and when one number asked more
//! than once the earliest request is kept.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::collections::btree_map::Entry;
use std::path::{Path, PathBuf};

use jiff::Timestamp;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{HitKind, RuleHit, Severity, Transcript};

/// [`DncEntry::source`] of a request found in a call.
pub const CALL_SOURCE: &str = "call";

/// The export's columns, in order.
const EXPORT_HEADER: [&str; 7] = [
    "number",
    "listed_at",
    "call_id",
    "speaker",
    "phrase",
    "at_ms",
    "source",
];

/// `OUT/exports/do-not-call.csv`.
pub fn export_path(out_dir: &Path) -> PathBuf {
    out_dir.join("exports").join("do-not-call.csv")
}

/// A phone number in E.164 (`+48601234567`) from what a PBX, a CDR or a
/// list file holds: spaces, dashes, dots, parentheses dropped; `+CC…` kept
/// (a `(0)` after the country code dropped: `+44 (0)20 …`); `00CC…` →
/// `+CC…`; a national number (leading trunk `0`, or Russia's trunk `8`
/// before a 10-digit number) gets the default country's code.
///
/// National numbers follow the default country's rules: its trunk prefix
/// (`0`; `8` in RU and KZ, `80` in BY, `8` or `0` in LT, `06` in HU, `1` in
/// the NANP; none in IT, SM, VA, where the `0` belongs to the number), its
/// other international prefixes (`810` in RU, KZ, BY; `011` in the NANP),
/// and, where the length of its numbers is fixed, that length: `48601234567`
/// with `PL` is the international form written without `+`, and a Russian
/// national number of 9 digits is no number.
///
/// `None` when it cannot be a phone number (letters, fewer than 7 or more
/// than 15 digits, no default country for a national number, an empty
/// value, `anonymous`).
pub fn normalize_number(raw: &str, default_country: Option<&str>) -> Option<String> {
    normalize(raw, default_country).ok()
}

/// [`normalize_number`] with the reason a value is not a number.
fn normalize(raw: &str, default_country: Option<&str>) -> std::result::Result<String, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Err("empty number".into());
    }
    let not_a_number = || format!("`{value}` is not a phone number");
    let international_form = value.starts_with('+') || value.starts_with("00");
    let cleaned = if international_form {
        value.replace("(0)", "")
    } else {
        value.to_string()
    };
    let mut digits = String::with_capacity(cleaned.len());
    let mut plus = false;
    for c in cleaned.chars() {
        match c {
            '0'..='9' => digits.push(c),
            '+' if digits.is_empty() && !plus => plus = true,
            '-' | '.' | '(' | ')' => {}
            c if c.is_whitespace() => {}
            _ => return Err(not_a_number()),
        }
    }
    if digits.is_empty() {
        return Err(not_a_number());
    }
    let e164 = if plus {
        digits
    } else if let Some(rest) = digits.strip_prefix("00") {
        rest.to_string()
    } else {
        national(&digits, default_country, value)?
    };
    if e164.starts_with('0') {
        return Err(format!("`{value}`: no country code starts with 0"));
    }
    match e164.len() {
        0..7 => Err(format!(
            "`{value}` is too short for a phone number (fewer than 7 digits)"
        )),
        7..=15 => Ok(format!("+{e164}")),
        _ => Err(format!(
            "`{value}` is too long for a phone number (more than 15 digits)"
        )),
    }
}

/// The E.164 digits (without `+`) of a number written without `+` or `00`.
fn national(
    digits: &str,
    default_country: Option<&str>,
    value: &str,
) -> std::result::Result<String, String> {
    let Some(country) = default_country.map(str::trim).filter(|c| !c.is_empty()) else {
        return Err(format!(
            "`{value}` is a national number and no default country is set"
        ));
    };
    let Some(cc) = calling_code(country) else {
        return Err(format!("`{value}`: unknown country `{country}`"));
    };
    let country = country.to_ascii_uppercase();
    let cc = cc.to_string();
    let len = digits.len();
    // International prefixes other than `00`.
    let other_prefix = match country.as_str() {
        "RU" | "KZ" | "BY" => Some("810"),
        _ if cc == "1" => Some("011"),
        _ => None,
    };
    if let Some(rest) = other_prefix.and_then(|p| digits.strip_prefix(p)) {
        return Ok(rest.to_string());
    }
    let lengths = national_lengths(&country);
    // The international form written without `+` (`48601234567` with PL,
    // `12125550123` with US): the length tells it from a national number.
    if let Some(lengths) = lengths
        && !lengths.contains(&len)
        && digits.starts_with(&cc)
        && lengths.contains(&(len - cc.len()))
    {
        return Ok(digits.to_string());
    }
    let nsn = match country.as_str() {
        "RU" | "KZ" if len == 11 && digits.starts_with('8') => &digits[1..],
        "BY" if len == 11 && digits.starts_with("80") => &digits[2..],
        "LT" if len == 9 && digits.starts_with('8') => &digits[1..],
        "HU" => digits.strip_prefix("06").unwrap_or(digits),
        "IT" | "SM" | "VA" => digits,
        _ if cc == "1" => digits,
        _ => digits.strip_prefix('0').unwrap_or(digits),
    };
    let keeps_zero = matches!(country.as_str(), "IT" | "SM" | "VA");
    if nsn.is_empty() || (nsn.starts_with('0') && !keeps_zero) {
        return Err(format!("`{value}` is not a phone number in {country}"));
    }
    if let Some(lengths) = lengths
        && !lengths.contains(&nsn.len())
    {
        let expected = lengths
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        return Err(format!(
            "`{value}` is not a phone number in {country} (its national numbers have {expected} digits)"
        ));
    }
    Ok(format!("{cc}{nsn}"))
}

/// Lengths of the national significant numbers (without trunk prefix) of
/// the countries where they are fixed; `None` where they vary (DE, AT, IT,
/// FI, SE, …).
fn national_lengths(country: &str) -> Option<&'static [usize]> {
    Some(match country {
        "RU" | "KZ" | "US" | "CA" | "TR" | "GR" => &[10],
        "PL" | "UA" | "BY" | "CZ" | "SK" | "FR" | "ES" | "PT" | "NL" | "CH" | "RO" | "GE"
        | "UZ" | "AZ" => &[9],
        "DK" | "NO" | "LT" | "LV" | "SI" | "CY" | "MT" | "MD" | "AM" => &[8],
        "BE" | "IL" | "HU" => &[8, 9],
        "GB" | "UK" => &[7, 9, 10],
        "IS" => &[7],
        _ => return None,
    })
}

/// The calling code of an ISO 3166-1 alpha-2 country (`PL` → 48, `RU` → 7,
/// `IL` → 972, `US` → 1, …), case-insensitive; `UK` is taken for `GB`.
/// Covers the EU, the EEA, the UK, Switzerland, the microstates, the
/// Balkans, the former USSR, the NANP's larger members and the larger
/// countries elsewhere. `None` for an unknown code.
pub fn calling_code(country: &str) -> Option<u32> {
    let code = match country.trim().to_ascii_uppercase().as_str() {
        // European Union.
        "AT" => 43,
        "BE" => 32,
        "BG" => 359,
        "HR" => 385,
        "CY" => 357,
        "CZ" => 420,
        "DK" => 45,
        "EE" => 372,
        "FI" => 358,
        "FR" => 33,
        "DE" => 49,
        "GR" => 30,
        "HU" => 36,
        "IE" => 353,
        "IT" => 39,
        "LV" => 371,
        "LT" => 370,
        "LU" => 352,
        "MT" => 356,
        "NL" => 31,
        "PL" => 48,
        "PT" => 351,
        "RO" => 40,
        "SK" => 421,
        "SI" => 386,
        "ES" => 34,
        "SE" => 46,
        // EEA, UK, Switzerland, microstates and their neighbours.
        "IS" => 354,
        "LI" => 423,
        "NO" => 47,
        "GB" | "UK" => 44,
        "CH" => 41,
        "AD" => 376,
        "MC" => 377,
        "SM" => 378,
        "VA" => 39,
        "GI" => 350,
        "FO" => 298,
        "GL" => 299,
        // Balkans and the rest of Europe.
        "AL" => 355,
        "BA" => 387,
        "ME" => 382,
        "MK" => 389,
        "RS" => 381,
        "XK" => 383,
        "MD" => 373,
        "TR" => 90,
        // Former USSR.
        "RU" | "KZ" => 7,
        "BY" => 375,
        "UA" => 380,
        "GE" => 995,
        "AM" => 374,
        "AZ" => 994,
        "UZ" => 998,
        "KG" => 996,
        "TJ" => 992,
        "TM" => 993,
        // North American Numbering Plan.
        "US" | "CA" | "PR" | "DO" | "JM" | "BS" | "BB" | "TT" => 1,
        // Middle East and Africa.
        "IL" => 972,
        "PS" => 970,
        "AE" => 971,
        "SA" => 966,
        "QA" => 974,
        "JO" => 962,
        "LB" => 961,
        "EG" => 20,
        "MA" => 212,
        "TN" => 216,
        "ZA" => 27,
        "NG" => 234,
        // Asia, Oceania, Latin America.
        "IN" => 91,
        "CN" => 86,
        "HK" => 852,
        "JP" => 81,
        "KR" => 82,
        "TW" => 886,
        "SG" => 65,
        "TH" => 66,
        "VN" => 84,
        "PH" => 63,
        "ID" => 62,
        "MY" => 60,
        "AU" => 61,
        "NZ" => 64,
        "BR" => 55,
        "MX" => 52,
        "AR" => 54,
        "CL" => 56,
        "CO" => 57,
        _ => return None,
    };
    Some(code)
}

/// One number on the do-not-call list and why it is there.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DncEntry {
    /// E.164.
    pub number: String,
    /// When the customer asked (the call's `call_start` plus the hit's
    /// `start_ms`); `None`: unknown (external lists), which counts as
    /// listed before any call.
    pub listed_at: Option<Timestamp>,
    /// [`CALL_SOURCE`] for a request found in a call, else the external
    /// file's name.
    pub source: String,
    pub call_id: Option<String>,
    pub speaker: Option<String>,
    /// What was said (the matched words).
    pub phrase: Option<String>,
    /// Where in that call.
    pub at_ms: Option<u64>,
}

impl DncEntry {
    /// Which of two entries of one number wins: the earlier one (an unknown
    /// date first); the rest only makes the choice the same whatever order
    /// the entries came in.
    fn precedence(&self, other: &DncEntry) -> Ordering {
        (
            &self.listed_at,
            &self.call_id,
            &self.at_ms,
            &self.source,
            &self.speaker,
            &self.phrase,
        )
            .cmp(&(
                &other.listed_at,
                &other.call_id,
                &other.at_ms,
                &other.source,
                &other.speaker,
                &other.phrase,
            ))
    }

    fn is_request(&self) -> bool {
        self.source == CALL_SOURCE
    }
}

/// The do-not-call list, by number. Requests found in calls and entries of
/// external lists are kept apart (a number may be on both), so the export
/// holds every request whatever else lists the number.
#[derive(Debug, Clone, Default)]
pub struct DncList {
    /// `source == "call"`, by E.164 number.
    requests: BTreeMap<String, DncEntry>,
    /// From external list files, by E.164 number.
    external: BTreeMap<String, DncEntry>,
}

impl DncList {
    /// Reads `OUT/exports/do-not-call.csv` (missing file: empty list). A
    /// malformed file is an error naming the path and line, never silently
    /// dropped (it would lose requests).
    pub fn load_export(out_dir: &Path) -> Result<DncList> {
        let path = export_path(out_dir);
        let bytes = match fs_err::read(&path) {
            Ok(bytes) => bytes,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(DncList::default()),
            Err(e) => return Err(e.into()),
        };
        let mut list = DncList::default();
        if bytes.iter().all(u8::is_ascii_whitespace) {
            return Ok(list);
        }
        let malformed = |line: u64, reason: String| {
            Error::Other(format!("{}: line {line}: {reason}", path.display()))
        };
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .from_reader(bytes.as_slice());
        let header = reader
            .headers()
            .map_err(|e| malformed(1, format!("cannot read the header: {e}")))?
            .clone();
        let mut columns = [0usize; EXPORT_HEADER.len()];
        for (slot, name) in columns.iter_mut().zip(EXPORT_HEADER) {
            *slot = header
                .iter()
                .position(|h| h.trim() == name)
                .ok_or_else(|| {
                    malformed(
                        1,
                        format!(
                            "the header has no column `{name}` (expected {})",
                            EXPORT_HEADER.join(",")
                        ),
                    )
                })?;
        }
        let [
            number_col,
            listed_col,
            call_col,
            speaker_col,
            phrase_col,
            at_col,
            source_col,
        ] = columns;
        for record in reader.records() {
            let record = record.map_err(|e| {
                let line = e.position().map_or(0, csv::Position::line);
                malformed(line, e.to_string())
            })?;
            let line = record.position().map_or(0, csv::Position::line);
            let field = |i: usize| record.get(i).unwrap_or("");
            let optional = |i: usize| Some(field(i)).filter(|v| !v.is_empty()).map(String::from);
            let raw_number = field(number_col).trim();
            let number = normalize_number(raw_number, None)
                .filter(|n| n == raw_number)
                .ok_or_else(|| {
                    malformed(
                        line,
                        format!("number `{raw_number}` is not in E.164 (+CC…)"),
                    )
                })?;
            let listed_at = match field(listed_col).trim() {
                "" => None,
                v => Some(v.parse::<Timestamp>().map_err(|e| {
                    malformed(
                        line,
                        format!("listed_at `{v}` is not an RFC 3339 time: {e}"),
                    )
                })?),
            };
            let at_ms = match field(at_col).trim() {
                "" => None,
                v => Some(v.parse::<u64>().map_err(|e| {
                    malformed(
                        line,
                        format!("at_ms `{v}` is not a number of milliseconds: {e}"),
                    )
                })?),
            };
            let source = field(source_col).trim();
            if source != CALL_SOURCE {
                return Err(malformed(
                    line,
                    format!(
                        "source `{source}` is not `{CALL_SOURCE}`: the export holds requests found in calls only"
                    ),
                ));
            }
            list.add(DncEntry {
                number,
                listed_at,
                source: CALL_SOURCE.to_string(),
                call_id: optional(call_col),
                speaker: optional(speaker_col),
                phrase: optional(phrase_col),
                at_ms,
            });
        }
        Ok(list)
    }

    /// Adds the numbers of an external list file: one number per line;
    /// blank lines and lines starting with `#` skipped; a CSV (`,`, `;` or
    /// tab) whose first column is the number is also fine (the first
    /// column is taken; a first line that does not normalize and has
    /// letters is its header, skipped). Numbers that do not normalize are
    /// returned as warnings (`path:line: reason`), not errors. The entries'
    /// source is the file's name; they have no date (listed before any call).
    pub fn add_external(
        &mut self,
        path: &Path,
        default_country: Option<&str>,
    ) -> Result<Vec<String>> {
        let bytes = fs_err::read(path)?;
        let text = String::from_utf8_lossy(&bytes);
        let text = text.strip_prefix('\u{feff}').unwrap_or(&text);
        let source = path.file_name().map_or_else(
            || path.display().to_string(),
            |n| n.to_string_lossy().into_owned(),
        );
        let mut warnings = Vec::new();
        let mut first = true;
        let mut added = 0usize;
        for (i, line) in text.lines().enumerate() {
            let line_no = i + 1;
            let line = line.trim();
            if line.is_empty() || line.starts_with('#') {
                continue;
            }
            let field = line
                .split([',', ';', '\t'])
                .next()
                .unwrap_or("")
                .trim()
                .trim_matches('"')
                .trim();
            let is_first = std::mem::replace(&mut first, false);
            match normalize(field, default_country) {
                Ok(number) => {
                    added += usize::from(self.add(DncEntry {
                        number,
                        listed_at: None,
                        source: source.clone(),
                        call_id: None,
                        speaker: None,
                        phrase: None,
                        at_ms: None,
                    }));
                }
                Err(_) if is_first && field.chars().any(char::is_alphabetic) => {}
                Err(reason) => warnings.push(format!("{}:{line_no}: {reason}", path.display())),
            }
        }
        tracing::debug!(
            "{}: {added} do-not-call numbers added, {} lines skipped",
            path.display(),
            warnings.len()
        );
        Ok(warnings)
    }

    /// Adds an entry; an existing entry of that number (of the same kind:
    /// request or external) is kept if it is earlier (the earliest request
    /// wins, dedup by number). Returns true if the list changed. The number
    /// is taken in E.164 (spaces and the like are dropped); one that is not
    /// (a national number) is refused with a warning in the log.
    pub fn add(&mut self, mut entry: DncEntry) -> bool {
        match normalize(&entry.number, None) {
            Ok(number) => entry.number = number,
            Err(reason) => {
                tracing::warn!("do-not-call entry not added: {reason} (E.164 expected)");
                return false;
            }
        }
        let map = if entry.is_request() {
            &mut self.requests
        } else {
            &mut self.external
        };
        match map.entry(entry.number.clone()) {
            Entry::Vacant(slot) => {
                slot.insert(entry);
                true
            }
            Entry::Occupied(mut slot) => {
                if entry.precedence(slot.get()) == Ordering::Less {
                    slot.insert(entry);
                    true
                } else {
                    false
                }
            }
        }
    }

    /// The entry a number is listed by (any E.164 spelling): the earliest of
    /// its request and its external entry (an external one has no date, so
    /// it comes first).
    pub fn get(&self, number: &str) -> Option<&DncEntry> {
        self.entries_of(number).into_iter().next()
    }

    /// A number's entries, the one that wins first.
    fn entries_of(&self, number: &str) -> Vec<&DncEntry> {
        let key = normalize_number(number, None).unwrap_or_else(|| number.to_string());
        let mut entries: Vec<&DncEntry> = [self.external.get(&key), self.requests.get(&key)]
            .into_iter()
            .flatten()
            .collect();
        entries.sort_by(|a, b| a.precedence(b));
        entries
    }

    /// Numbers on the list.
    pub fn len(&self) -> usize {
        self.requests.len()
            + self
                .external
                .keys()
                .filter(|n| !self.requests.contains_key(*n))
                .count()
    }

    pub fn is_empty(&self) -> bool {
        self.requests.is_empty() && self.external.is_empty()
    }

    /// Entries that came from calls (`source == "call"`), sorted by number:
    /// what the export holds.
    pub fn requests(&self) -> impl Iterator<Item = &DncEntry> {
        self.requests.values()
    }

    /// Writes `OUT/exports/do-not-call.csv` atomically (creating
    /// `OUT/exports/` owner-only, 0700, the file 0600: numbers are personal
    /// data): header `number,listed_at,call_id,speaker,phrase,at_ms,source`,
    /// one row per request sorted by number, RFC 3339 UTC times, CSV
    /// quoting where needed. The export never loses an entry: what the file
    /// already holds is merged in (the earliest request of a number wins),
    /// and a file that does not read is an error, not overwritten.
    pub fn write_export(&self, out_dir: &Path) -> Result<()> {
        let path = export_path(out_dir);
        let mut merged = DncList::load_export(out_dir)?;
        for entry in self.requests() {
            merged.add(entry.clone());
        }
        let mut writer = csv::WriterBuilder::new()
            .terminator(csv::Terminator::Any(b'\n'))
            .from_writer(Vec::new());
        let csv_error =
            |e: csv::Error| Error::Other(format!("{}: cannot write csv: {e}", path.display()));
        writer.write_record(EXPORT_HEADER).map_err(csv_error)?;
        for e in merged.requests() {
            let listed_at = e.listed_at.map(|t| t.to_string()).unwrap_or_default();
            let at_ms = e.at_ms.map(|v| v.to_string()).unwrap_or_default();
            writer
                .write_record([
                    e.number.as_str(),
                    &listed_at,
                    e.call_id.as_deref().unwrap_or(""),
                    e.speaker.as_deref().unwrap_or(""),
                    e.phrase.as_deref().unwrap_or(""),
                    &at_ms,
                    e.source.as_str(),
                ])
                .map_err(csv_error)?;
        }
        let bytes = writer
            .into_inner()
            .map_err(|e| Error::Other(format!("{}: cannot write csv: {e}", path.display())))?;
        crate::atomic::create_dir_all(&out_dir.join("exports"))?;
        crate::sink::write_atomic(&path, &bytes)
    }

    /// The check of one call: if the call's customer number (normalized
    /// with `default_country`) is on the list and the call was placed to it
    /// (direction `outbound`, or none known; an `inbound` or `internal`
    /// call is never a violation) strictly after the entry's `listed_at`
    /// (or the entry has no date: external lists), a high-severity
    /// [`HitKind::DncListed`] hit whose `matched` is the number and whose
    /// `phrase` says `listed since <date> (<source>)` or `on <file>`. A call
    /// without a customer number, or without `call_start` when the entry
    /// has a date, gives no hit; nor does the call the request was made in.
    pub fn listed_hit(
        &self,
        t: &Transcript,
        default_country: Option<&str>,
        rule_name: &str,
    ) -> Option<RuleHit> {
        let number = normalize_number(t.standard_metadata("customer_number")?, default_country)?;
        let direction = t
            .standard_metadata("direction")
            .map(crate::metadata::normalize_direction)
            .filter(|d| !d.is_empty());
        if matches!(direction.as_deref(), Some("inbound" | "internal")) {
            return None;
        }
        let entry = self.entries_of(&number).into_iter().find(|e| {
            if e.call_id.as_deref() == Some(t.call_id.as_str()) {
                return false;
            }
            match e.listed_at {
                None => true,
                Some(at) => t.call_start.is_some_and(|start| start > at),
            }
        })?;
        let phrase = match (entry.listed_at, entry.is_request()) {
            (Some(at), _) => format!("listed since {at} ({})", entry.source),
            (None, true) => format!(
                "listed in call {} (date unknown)",
                entry.call_id.as_deref().unwrap_or("?")
            ),
            (None, false) => format!("on {}", entry.source),
        };
        Some(RuleHit {
            rule: rule_name.to_string(),
            kind: HitKind::DncListed,
            severity: Severity::High,
            speaker: String::new(),
            segment: None,
            start_ms: 0,
            end_ms: 0,
            matched: number,
            phrase,
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::TRANSCRIPT_SCHEMA;

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    fn request(number: &str, at: &str, call_id: &str, phrase: &str) -> DncEntry {
        DncEntry {
            number: number.into(),
            listed_at: Some(ts(at)),
            source: CALL_SOURCE.into(),
            call_id: Some(call_id.into()),
            speaker: Some("customer".into()),
            phrase: Some(phrase.into()),
            at_ms: Some(12_340),
        }
    }

    fn call(number: Option<&str>, direction: Option<&str>, start: Option<&str>) -> Transcript {
        let mut metadata = BTreeMap::new();
        if let Some(n) = number {
            metadata.insert("customer_number".to_string(), n.to_string());
        }
        if let Some(d) = direction {
            metadata.insert("direction".to_string(), d.to_string());
        }
        Transcript {
            schema: TRANSCRIPT_SCHEMA.into(),
            call_id: "later-call".into(),
            source_path: "/rec/call.wav".into(),
            content_hash: "blake3:00".into(),
            call_start: start.map(ts),
            duration_ms: 60_000,
            channels: 2,
            sample_rate_hz: 8000,
            codec: "pcm_mulaw".into(),
            metadata,
            metadata_source: BTreeMap::new(),
            model: "scripted".into(),
            languages: BTreeMap::new(),
            segments: Vec::new(),
            speech: Vec::new(),
            warnings: Vec::new(),
            pipeline: "default".into(),
            processed_at: None,
            processing_ms: None,
            analysis: None,
        }
    }

    #[test]
    fn normalizes_numbers_as_pbxes_and_lists_write_them() {
        let n = normalize_number;
        assert_eq!(
            n("601 234 567", Some("PL")).as_deref(),
            Some("+48601234567")
        );
        assert_eq!(n("0048 601-234-567", None).as_deref(), Some("+48601234567"));
        assert_eq!(
            n("+7 (916) 123-45-67", None).as_deref(),
            Some("+79161234567")
        );
        assert_eq!(
            n("8 916 123 45 67", Some("RU")).as_deref(),
            Some("+79161234567")
        );
        assert_eq!(
            n("8 916 123 45 67", Some("ru")).as_deref(),
            Some("+79161234567")
        );
        assert_eq!(
            n("054-123-4567", Some("IL")).as_deref(),
            Some("+972541234567")
        );
        assert_eq!(
            n("07700 900123", Some("GB")).as_deref(),
            Some("+447700900123")
        );
        assert_eq!(
            n("+44 (0)20 7946 0000", None).as_deref(),
            Some("+442079460000")
        );
        assert_eq!(
            n("030 1234567", Some("DE")).as_deref(),
            Some("+49301234567")
        );
        assert_eq!(
            n("06 1234 5678", Some("IT")).as_deref(),
            Some("+390612345678")
        );
        assert_eq!(
            n("06 30 123 4567", Some("HU")).as_deref(),
            Some("+36301234567")
        );
        assert_eq!(
            n("(212) 555-0123", Some("US")).as_deref(),
            Some("+12125550123")
        );
        assert_eq!(
            n("1 212 555 0123", Some("US")).as_deref(),
            Some("+12125550123")
        );
        assert_eq!(
            n("011 48 601 234 567", Some("US")).as_deref(),
            Some("+48601234567")
        );
        assert_eq!(
            n("8 10 48 601234567", Some("RU")).as_deref(),
            Some("+48601234567")
        );
        // What an Asterisk file name holds: the international form without `+`.
        assert_eq!(
            n("48601234567", Some("PL")).as_deref(),
            Some("+48601234567")
        );
        assert_eq!(
            n("79161234567", Some("RU")).as_deref(),
            Some("+79161234567")
        );
        assert_eq!(
            n(" +48.601.234.567 ", None).as_deref(),
            Some("+48601234567")
        );
        for bad in [
            "anonymous",
            "",
            "  ",
            "Anonymous",
            "unknown",
            "601x234567",
            "+48 60+1",
        ] {
            assert_eq!(n(bad, Some("PL")), None, "{bad:?}");
        }
        // National without a default country, or with an unknown one.
        assert_eq!(n("601 234 567", None), None);
        assert_eq!(n("601 234 567", Some("XX")), None);
        // Too short (an extension), too long, a Russian number a digit short.
        assert_eq!(n("1001", Some("PL")), None);
        assert_eq!(n("+1234 5678 9012 3456", None), None);
        assert_eq!(n("916 123 45 6", Some("RU")), None);
        // Ten digits are a national number even when they start with 8 (812: St Petersburg).
        assert_eq!(
            n("812 123 45 67", Some("RU")).as_deref(),
            Some("+78121234567")
        );
        assert_eq!(n("+0601234567", None), None);
    }

    #[test]
    fn calling_codes() {
        for (country, code) in [
            ("PL", 48),
            ("ru", 7),
            ("IL", 972),
            ("US", 1),
            ("CA", 1),
            ("GB", 44),
            ("uk", 44),
            ("DE", 49),
            ("UA", 380),
            ("BY", 375),
            ("KZ", 7),
            ("TR", 90),
            ("CH", 41),
            ("NO", 47),
            ("IS", 354),
            ("LI", 423),
            ("MT", 356),
        ] {
            assert_eq!(calling_code(country), Some(code), "{country}");
        }
        let eu = [
            "AT", "BE", "BG", "HR", "CY", "CZ", "DK", "EE", "FI", "FR", "DE", "GR", "HU", "IE",
            "IT", "LV", "LT", "LU", "MT", "NL", "PL", "PT", "RO", "SK", "SI", "ES", "SE",
        ];
        assert!(eu.iter().all(|c| calling_code(c).is_some()));
        assert_eq!(calling_code("XX"), None);
        assert_eq!(calling_code(""), None);
    }

    #[test]
    fn the_earliest_request_of_a_number_wins() {
        let mut list = DncList::default();
        let later = request("+48601234567", "2024-03-01T10:00:00Z", "b", "nie dzwońcie");
        let earlier = request(
            "+48 601 234 567",
            "2024-02-01T10:00:00Z",
            "a",
            "proszę nie dzwonić",
        );
        assert!(list.add(later.clone()));
        assert!(list.add(earlier.clone()));
        assert!(!list.add(later));
        assert!(!list.add(earlier.clone()));
        assert_eq!(list.len(), 1);
        let got = list.get("+48601234567").unwrap();
        assert_eq!(got.call_id.as_deref(), Some("a"));
        assert_eq!(got.number, "+48601234567");
        // A national number is not E.164: refused.
        assert!(!list.add(DncEntry {
            number: "601234567".into(),
            ..earlier
        }));
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn export_round_trip_keeps_every_field() {
        let dir = tempfile::tempdir().unwrap();
        let mut list = DncList::default();
        list.add(request(
            "+79161234567",
            "2024-03-01T10:00:12.34Z",
            "c1",
            "не звоните мне, \"пожалуйста\"",
        ));
        let mut sparse = request("+48601234567", "2024-01-01T00:00:00Z", "c2", "x");
        sparse.speaker = None;
        sparse.at_ms = None;
        sparse.phrase = Some("nie, dziękuję,\nwięcej nie dzwonić".into());
        list.add(sparse);
        list.write_export(dir.path()).unwrap();
        let loaded = DncList::load_export(dir.path()).unwrap();
        let a: Vec<_> = list.requests().collect();
        let b: Vec<_> = loaded.requests().collect();
        assert_eq!(a, b);
        assert_eq!(b[0].number, "+48601234567", "sorted by number");
        let text = std::fs::read_to_string(export_path(dir.path())).unwrap();
        assert!(
            text.starts_with("number,listed_at,call_id,speaker,phrase,at_ms,source\n"),
            "{text}"
        );
        assert!(text.contains("2024-03-01T10:00:12.34Z"), "{text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode(&export_path(dir.path())), 0o640);
            assert_eq!(mode(&dir.path().join("exports")), 0o750);
        }
        // A missing export is an empty list.
        let empty = tempfile::tempdir().unwrap();
        assert!(DncList::load_export(empty.path()).unwrap().is_empty());
    }

    #[test]
    fn the_export_never_loses_an_entry() {
        let dir = tempfile::tempdir().unwrap();
        let mut first = DncList::default();
        first.add(request(
            "+48601234567",
            "2024-01-01T00:00:00Z",
            "a",
            "nie dzwonić",
        ));
        first.write_export(dir.path()).unwrap();

        let mut list = DncList::load_export(dir.path()).unwrap();
        list.add(request(
            "+48601234568",
            "2024-02-01T00:00:00Z",
            "b",
            "nie dzwonić",
        ));
        list.write_export(dir.path()).unwrap();
        let loaded = DncList::load_export(dir.path()).unwrap();
        assert_eq!(loaded.len(), 2);
        assert!(loaded.get("+48601234567").is_some());
        assert!(loaded.get("+48601234568").is_some());

        // Even a list that never loaded the export keeps what it holds.
        let mut fresh = DncList::default();
        fresh.add(request(
            "+48601234569",
            "2024-03-01T00:00:00Z",
            "c",
            "nie dzwonić",
        ));
        fresh.write_export(dir.path()).unwrap();
        assert_eq!(DncList::load_export(dir.path()).unwrap().len(), 3);
    }

    #[test]
    fn a_malformed_export_is_an_error_naming_the_path_and_line() {
        let dir = tempfile::tempdir().unwrap();
        let path = export_path(dir.path());
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        let header = "number,listed_at,call_id,speaker,phrase,at_ms,source\n";
        let good = "+48601234567,2024-01-01T00:00:00Z,a,customer,nie,10,call\n";
        for (body, what) in [
            (
                "+48601234568,yesterday,a,customer,nie,10,call\n",
                "listed_at",
            ),
            (
                "601234568,2024-01-01T00:00:00Z,a,customer,nie,10,call\n",
                "E.164",
            ),
            (
                "+48601234568,2024-01-01T00:00:00Z,a,customer,nie,ten,call\n",
                "at_ms",
            ),
            ("+48601234568,2024-01-01T00:00:00Z,a\n", "fields"),
            (
                "+48601234568,2024-01-01T00:00:00Z,a,customer,nie,10,robinson.txt\n",
                "source",
            ),
        ] {
            std::fs::write(&path, format!("{header}{good}{body}")).unwrap();
            let message = DncList::load_export(dir.path()).unwrap_err().to_string();
            assert!(message.contains(&path.display().to_string()), "{message}");
            assert!(message.contains("line 3"), "{message}");
            assert!(message.contains(what), "{what}: {message}");
            // Nor is it overwritten.
            let list = DncList::default();
            assert!(list.write_export(dir.path()).is_err());
            assert!(std::fs::read_to_string(&path).unwrap().ends_with(body));
        }
        std::fs::write(&path, "phone,when\n+48601234567,x\n").unwrap();
        let message = DncList::load_export(dir.path()).unwrap_err().to_string();
        assert!(message.contains("line 1"), "{message}");
    }

    #[test]
    fn external_lists_skip_comments_blanks_and_warn_of_bad_lines() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("robinson.txt");
        std::fs::write(
            &path,
            "# Robinson list, 2024-06\n\n601 234 567\n  # indented comment\n+48 601 234 568\nnot-a-number\n0048601234569\n601234567\n",
        )
        .unwrap();
        let mut list = DncList::default();
        let warnings = list.add_external(&path, Some("PL")).unwrap();
        assert_eq!(list.len(), 3);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(
            warnings[0].starts_with(&format!("{}:6: ", path.display())),
            "{warnings:?}"
        );
        let entry = list.get("+48601234567").unwrap();
        assert_eq!(entry.source, "robinson.txt");
        assert_eq!(entry.listed_at, None);
        // External entries are not requests: the export does not hold them.
        assert_eq!(list.requests().count(), 0);

        // A CSV with a header: its first column.
        let csv_path = dir.path().join("list.csv");
        std::fs::write(
            &csv_path,
            "phone;name\r\n\"+7 916 123-45-67\";Ivan\r\n8 916 123 45 68;Petr\r\n12;short\r\n",
        )
        .unwrap();
        let warnings = list.add_external(&csv_path, Some("RU")).unwrap();
        assert_eq!(list.len(), 5);
        assert_eq!(warnings.len(), 1, "{warnings:?}");
        assert!(warnings[0].contains("list.csv:4: "), "{warnings:?}");

        // No default country: national numbers are warnings.
        let mut other = DncList::default();
        let warnings = other.add_external(&path, None).unwrap();
        assert_eq!(other.len(), 2);
        assert_eq!(warnings.len(), 3, "{warnings:?}");
        assert!(warnings[0].contains("no default country"), "{warnings:?}");

        // A missing file is an error naming it.
        let missing = dir.path().join("nope.txt");
        let message = other.add_external(&missing, None).unwrap_err().to_string();
        assert!(message.contains("nope.txt"), "{message}");
    }

    #[test]
    fn listed_hit_flags_calls_placed_after_the_request() {
        let mut list = DncList::default();
        list.add(request(
            "+48601234567",
            "2024-03-01T10:00:00Z",
            "asked",
            "nie dzwonić",
        ));
        let pl = Some("PL");
        let hit = |t: &Transcript| list.listed_hit(t, pl, "dnc");

        // Outbound, after the listing, the number written another way.
        let t = call(
            Some("601-234-567"),
            Some("outbound"),
            Some("2024-03-02T09:00:00Z"),
        );
        let h = hit(&t).expect("a hit");
        assert_eq!(h.rule, "dnc");
        assert_eq!(h.kind, HitKind::DncListed);
        assert_eq!(h.severity, Severity::High);
        assert_eq!(h.speaker, "");
        assert_eq!(h.segment, None);
        assert_eq!((h.start_ms, h.end_ms), (0, 0));
        assert_eq!(h.matched, "+48601234567");
        assert_eq!(h.phrase, "listed since 2024-03-01T10:00:00Z (call)");
        let t = call(
            Some("48601234567"),
            Some("out"),
            Some("2024-03-02T09:00:00Z"),
        );
        assert!(hit(&t).is_some());

        // Before or at the moment of the listing: none.
        let t = call(
            Some("+48601234567"),
            Some("outbound"),
            Some("2024-03-01T09:00:00Z"),
        );
        assert!(hit(&t).is_none());
        let t = call(
            Some("+48601234567"),
            Some("outbound"),
            Some("2024-03-01T10:00:00Z"),
        );
        assert!(hit(&t).is_none());
        // Inbound (the customer called us) or internal: none.
        let t = call(
            Some("+48601234567"),
            Some("inbound"),
            Some("2024-03-02T09:00:00Z"),
        );
        assert!(hit(&t).is_none());
        let t = call(
            Some("+48601234567"),
            Some("q"),
            Some("2024-03-02T09:00:00Z"),
        );
        assert!(hit(&t).is_none());
        // No direction known: a hit.
        let t = call(Some("+48601234567"), None, Some("2024-03-02T09:00:00Z"));
        assert!(hit(&t).is_some());
        // No customer number, no call_start, another number: none.
        assert!(hit(&call(None, Some("outbound"), Some("2024-03-02T09:00:00Z"))).is_none());
        assert!(hit(&call(Some("+48601234567"), Some("outbound"), None)).is_none());
        let t = call(
            Some("+48601234599"),
            Some("outbound"),
            Some("2024-03-02T09:00:00Z"),
        );
        assert!(hit(&t).is_none());
    }

    #[test]
    fn listed_hit_for_external_entries_without_a_date() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("robinson.csv");
        std::fs::write(&path, "number\n+7 916 123 45 67\n").unwrap();
        let mut list = DncList::default();
        assert!(list.add_external(&path, None).unwrap().is_empty());
        // A request of the same number later: the external entry still rules.
        list.add(request(
            "+79161234567",
            "2024-03-01T10:00:00Z",
            "asked",
            "не звоните",
        ));
        assert_eq!(list.len(), 1);
        assert_eq!(list.requests().count(), 1);

        // Any outbound call, even without call_start, even before the request.
        for start in [None, Some("2020-01-01T00:00:00Z")] {
            let t = call(Some("8 (916) 123-45-67"), Some("outbound"), start);
            let h = list.listed_hit(&t, Some("RU"), "robinson").expect("a hit");
            assert_eq!(h.matched, "+79161234567");
            assert_eq!(h.phrase, "on robinson.csv");
        }
        let t = call(Some("+79161234567"), Some("inbound"), None);
        assert!(list.listed_hit(&t, Some("RU"), "robinson").is_none());
    }
}
