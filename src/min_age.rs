//! Files still being written: a recording modified within the last
//! `min_age` (`--min-age`, `[input] min_age`, default 2 minutes) is left
//! for a later run.
//!
//! Recorders and copy jobs write a call over seconds or minutes; a nightly
//! run that read it half-written would transcribe a truncated call and then
//! consider it done. The check is on the mtime only (no open, no read), so
//! it costs one `stat` per file, and runs before the manifest hashes
//! anything.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde::{Deserialize, Deserializer, Serialize, Serializer};

use crate::model::{InputReport, InputStatus};

/// Two minutes: longer than a recorder's flush interval, short enough that
/// a call finished before the nightly run starts is in it.
pub const DEFAULT_MIN_AGE: Duration = Duration::from_secs(120);

/// `[input] min_age` and `--min-age`: `0`, `90s`, `2m`, `1h`, `1d` (a TOML
/// integer is seconds).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct MinAge(pub Duration);

impl Default for MinAge {
    fn default() -> Self {
        Self(DEFAULT_MIN_AGE)
    }
}

impl std::fmt::Display for MinAge {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&format_duration(self.0))
    }
}

impl Serialize for MinAge {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for MinAge {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(MinAgeVisitor)
    }
}

struct MinAgeVisitor;

impl serde::de::Visitor<'_> for MinAgeVisitor {
    type Value = MinAge;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a duration such as \"0\", \"90s\", \"2m\" or \"1h\"")
    }

    fn visit_u64<E: serde::de::Error>(self, secs: u64) -> Result<MinAge, E> {
        Ok(MinAge(Duration::from_secs(secs)))
    }

    fn visit_i64<E: serde::de::Error>(self, secs: i64) -> Result<MinAge, E> {
        u64::try_from(secs)
            .map(|s| MinAge(Duration::from_secs(s)))
            .map_err(|_| E::custom(format!("min age {secs} is negative")))
    }

    fn visit_str<E: serde::de::Error>(self, text: &str) -> Result<MinAge, E> {
        parse_duration(text).map(MinAge).map_err(E::custom)
    }
}

/// Parses `0`, `90s`, `2m`, `1h`, `1d`. A bare number other than 0 is
/// refused: `2` could mean seconds or minutes.
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let t = text.trim();
    if t == "0" {
        return Ok(Duration::ZERO);
    }
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("min age {text:?}: expected a number and a unit, e.g. 90s, 2m, 1h"))?;
    let scale = match unit {
        "s" => 1,
        "m" => 60,
        "h" => 3600,
        "d" => 86_400,
        "" => {
            return Err(format!(
                "min age {text:?}: give a unit (s, m, h or d), e.g. 2m"
            ));
        }
        _ => {
            return Err(format!(
                "min age {text:?}: unknown unit {unit:?} (s, m, h or d)"
            ));
        }
    };
    n.checked_mul(scale)
        .map(Duration::from_secs)
        .ok_or_else(|| format!("min age {text:?} is too large"))
}

/// The shortest exact form: `2m`, `90s`, `1h`, `0`.
pub fn format_duration(d: Duration) -> String {
    let s = d.as_secs();
    match s {
        0 => "0".into(),
        _ if s.is_multiple_of(86_400) => format!("{}d", s / 86_400),
        _ if s.is_multiple_of(3600) => format!("{}h", s / 3600),
        _ if s.is_multiple_of(60) => format!("{}m", s / 60),
        _ => format!("{s}s"),
    }
}

/// How long ago `path` was modified, or `None` when it cannot be told (a
/// file that vanished: the stages after this one report it). An mtime in
/// the future (clock skew between the recorder and this host) counts as
/// "just now", so the file waits rather than being read half-written.
fn age(path: &Path, now: SystemTime) -> Option<Duration> {
    let modified = std::fs::metadata(path).ok()?.modified().ok()?;
    Some(now.duration_since(modified).unwrap_or(Duration::ZERO))
}

/// Splits `paths` into the ones old enough to read and the skip lines of
/// those modified within `min_age` of `now`.
pub fn split_fresh(
    paths: Vec<PathBuf>,
    min_age: MinAge,
    now: SystemTime,
) -> (Vec<PathBuf>, Vec<InputReport>) {
    if min_age.0.is_zero() {
        return (paths, Vec::new());
    }
    let mut ready = Vec::with_capacity(paths.len());
    let mut fresh = Vec::new();
    for path in paths {
        match age(&path, now) {
            Some(a) if a < min_age.0 => fresh.push(fresh_report(&path, a, min_age)),
            _ => ready.push(path),
        }
    }
    (ready, fresh)
}

fn fresh_report(path: &Path, age: Duration, min_age: MinAge) -> InputReport {
    InputReport {
        path: path.display().to_string(),
        status: InputStatus::Skipped,
        call_id: None,
        error: Some(format!(
            "still being written (modified {} s ago, --min-age {min_age}); a later run picks it up",
            age.as_secs()
        )),
        warnings: Vec::new(),
        audio_ms: 0,
        segments: 0,
        hits: Vec::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_units() {
        assert_eq!(parse_duration("0").unwrap(), Duration::ZERO);
        assert_eq!(parse_duration("90s").unwrap(), Duration::from_secs(90));
        assert_eq!(parse_duration("2m").unwrap(), Duration::from_secs(120));
        assert_eq!(parse_duration("1h").unwrap(), Duration::from_secs(3600));
        assert_eq!(parse_duration("1d").unwrap(), Duration::from_secs(86_400));
        for bad in ["2", "m", "2x", "-1m", "", "1.5m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn pipeline_file_sets_it_and_bad_values_name_the_key() {
        use crate::config::PipelineFile;
        let path = Path::new("p.toml");
        let p = PipelineFile::parse("[input]\nmin_age = \"90s\"\n", path).unwrap();
        assert_eq!(p.input.min_age, MinAge(Duration::from_secs(90)));
        let p = PipelineFile::parse("[input]\nmin_age = 0\n", path).unwrap();
        assert_eq!(p.input.min_age, MinAge(Duration::ZERO));
        for bad in ["\"2\"", "-5", "\"2 weeks\""] {
            let text = format!("[input]\nmin_age = {bad}\n");
            let err = PipelineFile::parse(&text, path).unwrap_err().to_string();
            assert!(err.contains("min_age") && err.contains("line 2"), "{err}");
        }
    }

    #[test]
    fn formats_shortest() {
        for (secs, text) in [(0, "0"), (90, "90s"), (120, "2m"), (7200, "2h")] {
            assert_eq!(format_duration(Duration::from_secs(secs)), text);
        }
    }

    #[test]
    fn fresh_files_are_skipped_old_ones_kept() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("a.wav");
        std::fs::write(&file, b"x").unwrap();
        let modified = std::fs::metadata(&file).unwrap().modified().unwrap();
        let two_min = MinAge(Duration::from_secs(120));
        let soon = modified + Duration::from_secs(12);
        let (ready, fresh) = split_fresh(vec![file.clone()], two_min, soon);
        assert!(ready.is_empty());
        let why = fresh[0].error.as_deref().unwrap();
        assert!(
            why.starts_with("still being written (modified 12 s ago, --min-age 2m)"),
            "{why}"
        );
        let later = modified + Duration::from_secs(121);
        let (ready, fresh) = split_fresh(vec![file.clone()], two_min, later);
        assert_eq!((ready.len(), fresh.len()), (1, 0));
        let (ready, _) = split_fresh(vec![file], MinAge(Duration::ZERO), soon);
        assert_eq!(ready.len(), 1);
    }
}
