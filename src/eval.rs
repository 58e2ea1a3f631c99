//! `callsift eval`: WER and CER against reference transcripts.
//!
//! The references come from a TSV file ([`read_refs`]); a caller-supplied
//! transcriber produces one [`Hypothesis`] per recording and [`evaluate`]
//! scores it, so the same runner measures the full pipeline and plain
//! whisper.cpp side by side. Scores are computed on text normalized by
//! [`crate::text`], so case, punctuation and Unicode forms never count as
//! errors.
//!
//! Conventions (the usual ones of ASR evaluation):
//! - **WER** aligns the normalized words of reference and hypothesis with a
//!   Levenshtein alignment and counts substitutions, deletions (reference
//!   words missing) and insertions (extra hypothesis words);
//!   rate = (S + D + I) / reference words. It can exceed 1.
//! - **CER** does the same on the characters (Unicode scalar values) of the
//!   normalized text **with spaces removed**, so word splits (`e mail` vs
//!   `email`) cost nothing in CER.
//! - An empty reference has rate 0 when the hypothesis is empty too and 1
//!   when it is not (anything said over silence is wrong, but not
//!   infinitely so).
//! - **Corpus-level** rates (per language and overall) are sum of errors /
//!   sum of reference words, not the mean of per-file rates, so a long call
//!   weighs more than a short one.
//! - A recording whose transcription **fails** is scored as an empty
//!   hypothesis (all its reference words deleted) and reported with its
//!   error, so a failure can never improve a score.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::text;

/// The `schema` field of the JSON report.
pub const SCHEMA: &str = "callsift.eval/1";

/// The language of a file whose language nobody knows.
pub const UNDETERMINED: &str = "und";

/// One line of the reference file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RefEntry {
    /// The recording, resolved against the reference file's folder.
    pub path: PathBuf,
    /// The reference text as written (normalized only when scored).
    pub reference: String,
    /// The language column, lowercased; `None` when absent or empty.
    pub language: Option<String>,
    /// 1-based line number in the reference file, for messages.
    pub line: usize,
}

/// Reads a reference file: one recording per line,
/// `path<TAB>reference text[<TAB>language]`. Blank lines and lines starting
/// with `#` are skipped; relative paths are resolved against the file's
/// folder; an empty reference text is allowed (a silent recording). A
/// missing tab, an empty path, a path that is not a file, a language that is
/// not a code like `ru` or `pt-BR` (usually a tab inside the text) and a
/// file without entries are errors naming the file and line.
pub fn read_refs(tsv: &Path) -> Result<Vec<RefEntry>> {
    let content = fs_err::read_to_string(tsv)?;
    let base = tsv.parent().unwrap_or(Path::new(""));
    let err = |line: usize, message: String| Error::Config {
        path: tsv.to_path_buf(),
        message: format!("line {line}: {message}"),
    };
    let mut entries = Vec::new();
    for (index, raw) in content.lines().enumerate() {
        let line = index + 1;
        let raw = if line == 1 {
            raw.trim_start_matches('\u{FEFF}')
        } else {
            raw
        };
        let raw = raw.strip_suffix('\r').unwrap_or(raw);
        if raw.trim().is_empty() || raw.trim_start().starts_with('#') {
            continue;
        }
        let mut fields = raw.split('\t');
        let path_field = fields.next().unwrap_or("").trim();
        let Some(reference) = fields.next() else {
            return Err(err(
                line,
                "no tab after the path (expected `path<TAB>reference text[<TAB>language]`)".into(),
            ));
        };
        let language = fields.next().map(str::trim).filter(|l| !l.is_empty());
        if fields.next().is_some() {
            return Err(err(
                line,
                "more than 3 tab-separated fields (expected `path<TAB>reference text[<TAB>language]`)"
                    .into(),
            ));
        }
        if path_field.is_empty() {
            return Err(err(line, "empty path before the tab".into()));
        }
        if let Some(language) = language
            && !is_language_code(language)
        {
            return Err(err(
                line,
                format!(
                    "language `{language}` is not a code like `ru` or `pt-BR` \
                     (is there a tab inside the reference text?)"
                ),
            ));
        }
        let path = base.join(path_field);
        if !path.is_file() {
            return Err(err(line, format!("no such recording: {}", path.display())));
        }
        entries.push(RefEntry {
            path,
            reference: reference.trim().to_owned(),
            language: language.map(str::to_ascii_lowercase),
            line,
        });
    }
    if entries.is_empty() {
        return Err(Error::Config {
            path: tsv.to_path_buf(),
            message: "no references (expected lines `path<TAB>reference text[<TAB>language]`)"
                .into(),
        });
    }
    Ok(entries)
}

/// 2–3 ASCII letters, optionally followed by `-` or `_` and a region or
/// script subtag of ASCII letters and digits.
fn is_language_code(s: &str) -> bool {
    let mut parts = s.split(['-', '_']);
    let primary = parts.next().unwrap_or("");
    (2..=3).contains(&primary.len())
        && primary.chars().all(|c| c.is_ascii_alphabetic())
        && parts.all(|p| (1..=8).contains(&p.len()) && p.chars().all(|c| c.is_ascii_alphanumeric()))
}

/// The edit operations of one alignment. `ref_len` is the number of
/// reference tokens (words for WER, characters for CER).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(into = "ErrorCountsJson")]
pub struct ErrorCounts {
    pub substitutions: usize,
    pub deletions: usize,
    pub insertions: usize,
    pub ref_len: usize,
}

/// What the JSON report shows for an [`ErrorCounts`]: the counts plus the
/// rate, so that readers of the JSON need not recompute it. Deserializing
/// ignores `rate` and recomputes it from the counts.
#[derive(Serialize)]
struct ErrorCountsJson {
    substitutions: usize,
    deletions: usize,
    insertions: usize,
    ref_len: usize,
    rate: f64,
}

impl From<ErrorCounts> for ErrorCountsJson {
    fn from(c: ErrorCounts) -> Self {
        Self {
            substitutions: c.substitutions,
            deletions: c.deletions,
            insertions: c.insertions,
            ref_len: c.ref_len,
            rate: c.rate(),
        }
    }
}

impl ErrorCounts {
    /// Substitutions + deletions + insertions.
    pub fn errors(&self) -> usize {
        self.substitutions + self.deletions + self.insertions
    }

    /// Errors / reference length. With an empty reference: 0 when there are
    /// no insertions either, else 1.0 (see the module docs).
    pub fn rate(&self) -> f64 {
        if self.ref_len == 0 {
            if self.insertions == 0 { 0.0 } else { 1.0 }
        } else {
            self.errors() as f64 / self.ref_len as f64
        }
    }
}

impl std::ops::AddAssign for ErrorCounts {
    fn add_assign(&mut self, other: Self) {
        self.substitutions += other.substitutions;
        self.deletions += other.deletions;
        self.insertions += other.insertions;
        self.ref_len += other.ref_len;
    }
}

/// Levenshtein alignment of `hypothesis` against `reference`, counting the
/// operations of one minimum-cost alignment. O(n·m) time, O(m) memory (m =
/// hypothesis length): each cell carries the counts of its best path instead
/// of a backtrace matrix. Among equally cheap paths a match or substitution
/// is preferred, then a deletion, then an insertion, so results are
/// deterministic.
pub fn align<T: PartialEq>(reference: &[T], hypothesis: &[T]) -> ErrorCounts {
    #[derive(Clone, Copy)]
    struct Cell {
        cost: usize,
        sub: usize,
        del: usize,
        ins: usize,
    }
    // Row 0: the empty reference prefix against j hypothesis tokens.
    let mut prev: Vec<Cell> = (0..=hypothesis.len())
        .map(|j| Cell {
            cost: j,
            sub: 0,
            del: 0,
            ins: j,
        })
        .collect();
    let mut cur = prev.clone();
    for (i, r) in reference.iter().enumerate() {
        cur[0] = Cell {
            cost: i + 1,
            sub: 0,
            del: i + 1,
            ins: 0,
        };
        for (j, h) in hypothesis.iter().enumerate() {
            let d = prev[j];
            let mut best = if r == h {
                d
            } else {
                Cell {
                    cost: d.cost + 1,
                    sub: d.sub + 1,
                    ..d
                }
            };
            let up = prev[j + 1];
            if up.cost + 1 < best.cost {
                best = Cell {
                    cost: up.cost + 1,
                    del: up.del + 1,
                    ..up
                };
            }
            let left = cur[j];
            if left.cost + 1 < best.cost {
                best = Cell {
                    cost: left.cost + 1,
                    ins: left.ins + 1,
                    ..left
                };
            }
            cur[j + 1] = best;
        }
        std::mem::swap(&mut prev, &mut cur);
    }
    let last = prev[hypothesis.len()];
    ErrorCounts {
        substitutions: last.sub,
        deletions: last.del,
        insertions: last.ins,
        ref_len: reference.len(),
    }
}

/// Word errors between `reference` and `hypothesis`, both normalized with
/// [`text::words`] for `language`.
pub fn wer(reference: &str, hypothesis: &str, language: Option<&str>) -> ErrorCounts {
    align(
        &text::words(reference, language),
        &text::words(hypothesis, language),
    )
}

/// Character errors between `reference` and `hypothesis`: the characters of
/// [`text::normalize`]d text, spaces removed.
pub fn cer(reference: &str, hypothesis: &str, language: Option<&str>) -> ErrorCounts {
    let chars = |s: &str| -> Vec<char> {
        text::normalize(s, language)
            .chars()
            .filter(|&c| c != ' ')
            .collect()
    };
    align(&chars(reference), &chars(hypothesis))
}

/// What a transcriber returns for one recording.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Hypothesis {
    /// The transcript, all speakers and channels joined in time order.
    pub text: String,
    /// Length of the recording's audio, for the speed figure.
    pub audio_ms: u64,
    /// The language whisper detected (or was told), if any.
    pub language: Option<String>,
}

/// The score of one recording under one system.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct FileResult {
    #[serde(serialize_with = "serialize_path_lossy")]
    pub path: PathBuf,
    /// The reference's language, else the detected one, else `und`.
    pub language: String,
    pub reference: String,
    /// The transcript; empty when transcription failed.
    pub hypothesis: String,
    pub wer: ErrorCounts,
    pub cer: ErrorCounts,
    pub audio_ms: u64,
    /// Why transcription failed; the file is then scored as all deleted.
    pub error: Option<String>,
}

/// Summed counts over a set of files; the rates of `wer` and `cer` are
/// corpus-level (sum of errors / sum of reference tokens).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Totals {
    pub files: usize,
    /// Files whose transcription failed (included, as all deleted).
    pub failed: usize,
    pub wer: ErrorCounts,
    pub cer: ErrorCounts,
    pub audio_ms: u64,
}

impl Totals {
    fn add(&mut self, file: &FileResult) {
        self.files += 1;
        self.failed += usize::from(file.error.is_some());
        self.wer += file.wer;
        self.cer += file.cer;
        self.audio_ms += file.audio_ms;
    }
}

/// The results of one system (e.g. `pipeline` or `plain`) over all
/// references.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SystemReport {
    pub system: String,
    pub files: Vec<FileResult>,
    pub per_language: BTreeMap<String, Totals>,
    pub overall: Totals,
    /// Audio transcribed, summed over the files that succeeded.
    pub audio_ms: u64,
    /// Wall-clock time of the whole loop, scoring included.
    pub wall_ms: u64,
    /// `audio_ms / wall_ms`: how many seconds of audio one second of wall
    /// clock transcribes (0 when the loop took no measurable time).
    pub audio_seconds_per_wall_second: f64,
}

/// Transcribes every reference with `transcribe` and scores it. Files are
/// processed in order; a transcription error is recorded in that file's
/// result (scored as an empty hypothesis) and the loop goes on.
pub fn evaluate(
    system: &str,
    refs: &[RefEntry],
    transcribe: &mut dyn FnMut(&RefEntry) -> Result<Hypothesis>,
) -> SystemReport {
    let start = Instant::now();
    let mut files = Vec::with_capacity(refs.len());
    for entry in refs {
        let (hypothesis, error) = match transcribe(entry) {
            Ok(h) => (h, None),
            Err(e) => {
                tracing::warn!(system, path = %entry.path.display(), error = %e, "eval: transcription failed");
                (Hypothesis::default(), Some(e.to_string()))
            }
        };
        let language = entry
            .language
            .clone()
            .or_else(|| {
                let detected = hypothesis.language.as_deref()?.trim();
                (!detected.is_empty()).then(|| detected.to_ascii_lowercase())
            })
            .unwrap_or_else(|| UNDETERMINED.to_owned());
        let norm_language = (language != UNDETERMINED).then_some(language.as_str());
        let result = FileResult {
            path: entry.path.clone(),
            wer: wer(&entry.reference, &hypothesis.text, norm_language),
            cer: cer(&entry.reference, &hypothesis.text, norm_language),
            language,
            reference: entry.reference.clone(),
            hypothesis: hypothesis.text,
            audio_ms: hypothesis.audio_ms,
            error,
        };
        tracing::debug!(
            system,
            path = %result.path.display(),
            wer = result.wer.rate(),
            cer = result.cer.rate(),
            "eval: scored"
        );
        files.push(result);
    }
    let wall = start.elapsed();

    let mut per_language: BTreeMap<String, Totals> = BTreeMap::new();
    let mut overall = Totals::default();
    for file in &files {
        per_language
            .entry(file.language.clone())
            .or_default()
            .add(file);
        overall.add(file);
    }
    let audio_ms = overall.audio_ms;
    let wall_secs = wall.as_secs_f64();
    SystemReport {
        system: system.to_owned(),
        files,
        per_language,
        overall,
        audio_ms,
        wall_ms: u64::try_from(wall.as_millis()).unwrap_or(u64::MAX),
        audio_seconds_per_wall_second: if wall_secs > 0.0 {
            audio_ms as f64 / 1000.0 / wall_secs
        } else {
            0.0
        },
    }
}

/// The whole `callsift eval` result; `--json` prints it as is.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct EvalReport {
    /// Always [`SCHEMA`].
    pub schema: String,
    /// The model file (or name) the systems ran with.
    pub model: String,
    pub systems: Vec<SystemReport>,
}

impl EvalReport {
    pub fn new(model: impl Into<String>, systems: Vec<SystemReport>) -> Self {
        Self {
            schema: SCHEMA.to_owned(),
            model: model.into(),
            systems,
        }
    }
}

fn serialize_path_lossy<S: serde::Serializer>(path: &Path, s: S) -> Result<S::Ok, S::Error> {
    // serde refuses non-UTF-8 paths; a report is for reading, so a lossy
    // name beats no report.
    s.serialize_str(&path.to_string_lossy())
}

/// The report as a plain-text table for the terminal: one row per file
/// (systems side by side), one per language, one overall, then a summary per
/// system with the error counts and the speed. Columns are padded by
/// character count, so Polish, Russian and Hebrew names line up.
pub fn render_table(report: &EvalReport) -> String {
    let systems = &report.systems;
    let prefix = |s: &SystemReport, what: &str| {
        if systems.len() > 1 {
            format!("{} {what}", s.system)
        } else {
            what.to_owned()
        }
    };
    let rate = |c: &ErrorCounts| format!("{:.1}", c.rate() * 100.0);

    // Rows are the files of all systems, in first-seen order (normally every
    // system has the same files in the same order).
    let mut paths: Vec<&Path> = Vec::new();
    for s in systems {
        for f in &s.files {
            if !paths.contains(&f.path.as_path()) {
                paths.push(&f.path);
            }
        }
    }
    let names = short_names(&paths);

    let mut header = vec!["file".to_owned(), "lang".into(), "words".into()];
    let mut align = vec![Align::Left, Align::Left, Align::Right];
    for s in systems {
        header.push(prefix(s, "WER%"));
        header.push(prefix(s, "CER%"));
        align.extend([Align::Right, Align::Right]);
    }
    let mut table = Table::new(header, align);
    for (path, name) in paths.iter().zip(&names) {
        let found: Vec<Option<&FileResult>> = systems
            .iter()
            .map(|s| s.files.iter().find(|f| f.path == *path))
            .collect();
        let first = found
            .iter()
            .flatten()
            .next()
            .expect("every path comes from a file");
        let mut row = vec![
            name.clone(),
            first.language.clone(),
            first.wer.ref_len.to_string(),
        ];
        for f in &found {
            match f {
                Some(f) if f.error.is_some() => row.extend(["failed".into(), "failed".into()]),
                Some(f) => row.extend([rate(&f.wer), rate(&f.cer)]),
                None => row.extend(["-".into(), "-".into()]),
            }
        }
        table.row(row);
    }
    table.rule();
    let mut languages: Vec<&String> = systems.iter().flat_map(|s| s.per_language.keys()).collect();
    languages.sort();
    languages.dedup();
    let totals_row = |label: &str, get: &dyn Fn(&SystemReport) -> Option<&Totals>| {
        let words = systems.iter().find_map(get).map_or(0, |t| t.wer.ref_len);
        let mut row = vec!["total".to_owned(), label.to_owned(), words.to_string()];
        for s in systems {
            match get(s) {
                Some(t) => row.extend([rate(&t.wer), rate(&t.cer)]),
                None => row.extend(["-".into(), "-".into()]),
            }
        }
        row
    };
    for lang in languages {
        table.row(totals_row(lang, &|s| s.per_language.get(lang)));
    }
    table.row(totals_row("all", &|s| Some(&s.overall)));

    let mut out = format!("model: {}\n\n", report.model);
    out.push_str(&table.render());

    let mut summary = Table::new(
        [
            "system",
            "WER%",
            "sub",
            "del",
            "ins",
            "words",
            "CER%",
            "failed",
            "audio s",
            "wall s",
            "audio s/wall s",
        ]
        .map(str::to_owned)
        .to_vec(),
        [Align::Left]
            .into_iter()
            .chain([Align::Right; 10])
            .collect(),
    );
    for s in systems {
        let t = &s.overall;
        summary.row(vec![
            s.system.clone(),
            rate(&t.wer),
            t.wer.substitutions.to_string(),
            t.wer.deletions.to_string(),
            t.wer.insertions.to_string(),
            t.wer.ref_len.to_string(),
            rate(&t.cer),
            t.failed.to_string(),
            format!("{:.1}", s.audio_ms as f64 / 1000.0),
            format!("{:.1}", s.wall_ms as f64 / 1000.0),
            format!("{:.2}", s.audio_seconds_per_wall_second),
        ]);
    }
    out.push('\n');
    out.push_str(&summary.render());

    let failures: Vec<(&SystemReport, &FileResult)> = systems
        .iter()
        .flat_map(|s| {
            s.files
                .iter()
                .filter(|f| f.error.is_some())
                .map(move |f| (s, f))
        })
        .collect();
    if !failures.is_empty() {
        out.push_str("\nfailed (scored as empty transcripts, all words deleted):\n");
        for (s, f) in failures {
            let name = names[paths.iter().position(|p| *p == f.path).unwrap_or(0)].as_str();
            let error = f.error.as_deref().unwrap_or_default();
            out.push_str(&format!("  {}: {name}: {error}\n", s.system));
        }
    }
    out
}

/// The shortest trailing part of each path that tells it apart from the
/// others: the file name, unless two files share it.
fn short_names(paths: &[&Path]) -> Vec<String> {
    let components: Vec<Vec<std::path::Component>> =
        paths.iter().map(|p| p.components().collect()).collect();
    let suffix = |parts: &[std::path::Component], k: usize| {
        parts[parts.len().saturating_sub(k)..]
            .iter()
            .collect::<PathBuf>()
            .display()
            .to_string()
    };
    let mut depth = vec![1usize; paths.len()];
    loop {
        let names: Vec<String> = components
            .iter()
            .zip(&depth)
            .map(|(c, &k)| suffix(c, k))
            .collect();
        let mut changed = false;
        for i in 0..names.len() {
            let clash = names
                .iter()
                .enumerate()
                .any(|(j, n)| j != i && *n == names[i]);
            if clash && depth[i] < components[i].len() {
                depth[i] += 1;
                changed = true;
            }
        }
        if !changed {
            return names;
        }
    }
}

#[derive(Clone, Copy)]
enum Align {
    Left,
    Right,
}

/// A minimal text table: columns padded to their widest cell (in chars),
/// two spaces apart, trailing spaces trimmed; `rule` adds a dashed line.
struct Table {
    header: Vec<String>,
    align: Vec<Align>,
    rows: Vec<Option<Vec<String>>>,
}

impl Table {
    fn new(header: Vec<String>, align: Vec<Align>) -> Self {
        Self {
            header,
            align,
            rows: Vec::new(),
        }
    }

    fn row(&mut self, cells: Vec<String>) {
        self.rows.push(Some(cells));
    }

    fn rule(&mut self) {
        self.rows.push(None);
    }

    fn render(&self) -> String {
        let mut widths: Vec<usize> = self.header.iter().map(|h| h.chars().count()).collect();
        for cells in self.rows.iter().flatten() {
            for (w, c) in widths.iter_mut().zip(cells) {
                *w = (*w).max(c.chars().count());
            }
        }
        let line = |cells: &[String]| {
            let padded: Vec<String> = cells
                .iter()
                .zip(&widths)
                .zip(&self.align)
                .map(|((c, &w), a)| {
                    let pad = " ".repeat(w.saturating_sub(c.chars().count()));
                    match a {
                        Align::Left => format!("{c}{pad}"),
                        Align::Right => format!("{pad}{c}"),
                    }
                })
                .collect();
            format!("{}\n", padded.join("  ").trim_end())
        };
        let rule = format!(
            "{}\n",
            "-".repeat(widths.iter().sum::<usize>() + 2 * widths.len().saturating_sub(1))
        );
        let mut out = line(&self.header);
        out.push_str(&rule);
        for row in &self.rows {
            match row {
                Some(cells) => out.push_str(&line(cells)),
                None => out.push_str(&rule),
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eval_align_prefers_substitution_on_ties() {
        // "a b" vs "b c": D+I and S+S both cost 2; substitutions win.
        let c = align(&["a", "b"], &["b", "c"]);
        assert_eq!((c.substitutions, c.deletions, c.insertions), (2, 0, 0));
    }

    #[test]
    fn eval_align_empty_sides() {
        assert_eq!(align::<u8>(&[], &[]), ErrorCounts::default());
        let c = align(&[1, 2, 3], &[]);
        assert_eq!((c.deletions, c.ref_len), (3, 3));
        let c = align(&[], &[1, 2]);
        assert_eq!((c.insertions, c.ref_len), (2, 0));
    }

    #[test]
    fn eval_short_names_disambiguate() {
        let a = Path::new("/calls/a/x.wav");
        let b = Path::new("/calls/b/x.wav");
        let c = Path::new("/calls/b/y.wav");
        assert_eq!(short_names(&[a, b, c]), vec!["a/x.wav", "b/x.wav", "y.wav"]);
        assert_eq!(
            short_names(&[a, a]),
            vec!["/calls/a/x.wav", "/calls/a/x.wav"]
        );
    }

    #[test]
    fn eval_language_codes() {
        for ok in ["ru", "pl", "he", "en", "rus", "pt-BR", "zh_Hans"] {
            assert!(is_language_code(ok), "{ok}");
        }
        for bad in ["", "r", "russian", "world of", "ru-", "12"] {
            assert!(!is_language_code(bad), "{bad}");
        }
    }
}
