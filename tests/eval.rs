//! Tests of `callsift::eval` and `callsift::text`: hand-computed WER/CER
//! cases, normalization across the four languages, corpus-level totals,
//! reference-file parsing and errors, the text table and the JSON report.

use std::path::{Path, PathBuf};
use std::time::Duration;

use callsift::Error;
use callsift::eval::{
    self, ErrorCounts, EvalReport, Hypothesis, RefEntry, SystemReport, align, cer, evaluate,
    read_refs, render_table, wer,
};
use callsift::text::{normalize, words};

fn counts(c: ErrorCounts) -> (usize, usize, usize, usize) {
    (c.substitutions, c.deletions, c.insertions, c.ref_len)
}

fn close(a: f64, b: f64) -> bool {
    (a - b).abs() < 1e-9
}

// ---- WER -------------------------------------------------------------------

#[test]
fn wer_identical_is_zero() {
    let c = wer(
        "Dzień dobry, mówi Anna.",
        "dzień dobry mówi anna",
        Some("pl"),
    );
    assert_eq!(counts(c), (0, 0, 0, 4));
    assert_eq!(c.rate(), 0.0);
}

#[test]
fn wer_one_substitution() {
    let c = wer("dzień dobry pani", "dzień dobra pani", None);
    assert_eq!(counts(c), (1, 0, 0, 3));
    assert!(close(c.rate(), 1.0 / 3.0));
}

#[test]
fn wer_one_insertion() {
    let c = wer("hello world", "hello big world", None);
    assert_eq!(counts(c), (0, 0, 1, 2));
    assert!(close(c.rate(), 0.5));
}

#[test]
fn wer_one_deletion() {
    let c = wer("a b c d", "a c d", None);
    assert_eq!(counts(c), (0, 1, 0, 4));
    assert!(close(c.rate(), 0.25));
}

#[test]
fn wer_mixed_by_hand() {
    // ref: the cat sat on  the mat
    // hyp: the cat sit on  mat mat now
    //              S       S        I
    // The longest common subsequence is "the cat on mat" (4 words), so no
    // alignment with a deletion costs 3 or less: S=2, D=0, I=1, WER 3/6.
    let c = wer(
        "the cat sat on the mat",
        "the cat sit on mat mat now",
        Some("en"),
    );
    assert_eq!(counts(c), (2, 0, 1, 6));
    assert_eq!(c.errors(), 3);
    assert!(close(c.rate(), 0.5));
}

#[test]
fn wer_can_exceed_one() {
    let c = wer("yes", "no no no", None);
    assert_eq!(counts(c), (1, 0, 2, 1));
    assert!(close(c.rate(), 3.0));
}

#[test]
fn wer_empty_hypothesis_is_all_deletions() {
    let c = wer("one two three", "", None);
    assert_eq!(counts(c), (0, 3, 0, 3));
    assert!(close(c.rate(), 1.0));
    // Punctuation-only hypothesis is empty too.
    assert_eq!(counts(wer("one two three", " … ", None)), (0, 3, 0, 3));
}

#[test]
fn wer_empty_reference() {
    let c = wer("", "thank you", None);
    assert_eq!(counts(c), (0, 0, 2, 0));
    assert_eq!(c.rate(), 1.0);
    let c = wer("", "", None);
    assert_eq!(counts(c), (0, 0, 0, 0));
    assert_eq!(c.rate(), 0.0);
}

#[test]
fn align_generic_tokens() {
    assert_eq!(counts(align(&[1, 2, 3], &[1, 2, 3])), (0, 0, 0, 3));
    assert_eq!(
        counts(align(&['k', 'o', 't'], &['k', 'o', 'd'])),
        (1, 0, 0, 3)
    );
    // kitten → sitting: 2 substitutions and 1 insertion (distance 3).
    let k: Vec<char> = "kitten".chars().collect();
    let s: Vec<char> = "sitting".chars().collect();
    assert_eq!(counts(align(&k, &s)), (2, 0, 1, 6));
}

// ---- CER -------------------------------------------------------------------

#[test]
fn cer_counts_characters_without_spaces() {
    // "dzieńdobry" is 10 characters; ń → n is one substitution.
    let c = cer("Dzień dobry", "dzien dobry", Some("pl"));
    assert_eq!(counts(c), (1, 0, 0, 10));
    assert!(close(c.rate(), 0.1));
    // A word split costs a word error but no character error.
    assert_eq!(counts(cer("email", "e-mail", None)), (0, 0, 0, 5));
    assert_eq!(counts(wer("email", "e-mail", None)), (1, 0, 1, 1));
    // Hebrew: one missing letter in "תודה רבה" (7 letters).
    let c = cer("תודה רבה", "תודה רב", Some("he"));
    assert_eq!(counts(c), (0, 1, 0, 7));
    assert_eq!(counts(cer("", "", None)), (0, 0, 0, 0));
    assert_eq!(counts(cer("ab", "", None)), (0, 2, 0, 2));
}

// ---- normalization ---------------------------------------------------------

#[test]
fn normalization_makes_spellings_equal() {
    assert_eq!(
        normalize("Dzień dobry!", Some("pl")),
        normalize("dzień DOBRY", Some("pl"))
    );
    assert_eq!(normalize("Dzień dobry!", Some("pl")), "dzień dobry");
    assert_eq!(
        normalize("«Это не телефонный разговор.»", Some("ru")),
        normalize("это не телефонный разговор", Some("ru"))
    );
    assert_eq!(normalize("ёлка", Some("ru")), normalize("елка", Some("ru")));
    assert_eq!(normalize("Ёлка", Some("ru")), "елка");
    // Without the Russian rule ё stays a letter of its own.
    assert_ne!(normalize("ёлка", None), normalize("елка", None));
    // Hebrew with niqqud equals Hebrew without.
    assert_eq!(normalize("שָׁלוֹם, מַה שְּׁלוֹמְךָ?", Some("he")), "שלום מה שלומך");
    assert_eq!(
        words("I'll call you.", Some("en")),
        vec!["i'll", "call", "you"]
    );
    assert_eq!(normalize("I’ll", None), "i'll");
    assert_eq!(normalize("1,000 and 1000", None), "1000 and 1000");
    assert_eq!(
        words("Ну что-то вроде того…", Some("ru")),
        vec!["ну", "что", "то", "вроде", "того"]
    );
}

#[test]
fn normalization_applies_to_scores() {
    let c = wer(
        "«Нет, это не телефонный разговор.»",
        "нет это не телефонный разговор",
        Some("ru"),
    );
    assert_eq!(c.errors(), 0);
    assert_eq!(wer("Ещё раз", "еще раз", Some("ru")).errors(), 0);
    assert_eq!(wer("Ещё раз", "еще раз", None).errors(), 1);
}

// ---- runner and aggregation ------------------------------------------------

fn entry(path: &str, reference: &str, language: Option<&str>, line: usize) -> RefEntry {
    RefEntry {
        path: PathBuf::from(path),
        reference: reference.into(),
        language: language.map(str::to_owned),
        line,
    }
}

fn hyp(text: &str, audio_ms: u64, language: Option<&str>) -> Hypothesis {
    Hypothesis {
        text: text.into(),
        audio_ms,
        language: language.map(str::to_owned),
    }
}

/// Runs `evaluate` with canned hypotheses keyed by path; a missing key is a
/// transcription error.
fn run(system: &str, refs: &[RefEntry], answers: &[(&str, Hypothesis)]) -> SystemReport {
    let mut transcribe = |e: &RefEntry| -> callsift::Result<Hypothesis> {
        answers
            .iter()
            .find(|(p, _)| Path::new(p) == e.path)
            .map(|(_, h)| h.clone())
            .ok_or_else(|| Error::decode(&e.path, "not audio"))
    };
    evaluate(system, refs, &mut transcribe)
}

fn corpus() -> Vec<RefEntry> {
    vec![
        entry(
            "/calls/long-en.wav",
            "one two three four five six seven eight nine ten",
            Some("en"),
            1,
        ),
        entry("/calls/short-pl.wav", "Dzień dobry", None, 2),
    ]
}

#[test]
fn evaluate_corpus_level_is_sum_over_sum() {
    let refs = corpus();
    let report = run(
        "pipeline",
        &refs,
        &[
            // 1 substitution of 10 words.
            (
                "/calls/long-en.wav",
                hyp(
                    "one two three four five six seven eight nine ben",
                    5_000,
                    Some("ru"),
                ),
            ),
            // "dzień dobry" → "cześć": 1 substitution + 1 deletion of 2 words.
            ("/calls/short-pl.wav", hyp("Cześć.", 2_000, Some("pl"))),
        ],
    );
    assert_eq!(report.system, "pipeline");
    assert_eq!(report.files.len(), 2);
    // The TSV language wins over the detected one; else the detected one.
    assert_eq!(report.files[0].language, "en");
    assert_eq!(report.files[1].language, "pl");
    assert_eq!(counts(report.files[0].wer), (1, 0, 0, 10));
    assert_eq!(counts(report.files[1].wer), (1, 1, 0, 2));

    // Overall WER = (1 + 2) / (10 + 2) = 0.25, not the mean of 0.1 and 1.0.
    assert_eq!(counts(report.overall.wer), (2, 1, 0, 12));
    assert!(close(report.overall.wer.rate(), 0.25));
    assert_eq!(report.overall.files, 2);
    assert_eq!(report.overall.failed, 0);
    // CER: "onetwo…nineten" is 39 chars with "ten"→"ben" one substitution;
    // "dzieńdobry" (10) vs "cześć" (5): computed by the same alignment.
    let pl_cer = cer("Dzień dobry", "Cześć.", Some("pl"));
    assert_eq!(report.files[1].cer, pl_cer);
    assert_eq!(counts(report.files[0].cer), (1, 0, 0, 39));
    assert_eq!(report.overall.cer.ref_len, 49);
    assert_eq!(report.overall.cer.errors(), 1 + pl_cer.errors());

    assert_eq!(
        report.per_language.keys().collect::<Vec<_>>(),
        vec!["en", "pl"]
    );
    assert_eq!(counts(report.per_language["en"].wer), (1, 0, 0, 10));
    assert_eq!(counts(report.per_language["pl"].wer), (1, 1, 0, 2));
    assert_eq!(report.audio_ms, 7_000);
    assert_eq!(report.overall.audio_ms, 7_000);
}

#[test]
fn evaluate_failed_file_counts_as_all_deleted() {
    let mut refs = corpus();
    refs.push(entry("/calls/broken.wav", "to nie działa", Some("pl"), 3));
    refs.push(entry("/calls/mystery.wav", "kto tam", None, 4));
    let report = run(
        "plain",
        &refs,
        &[
            (
                "/calls/long-en.wav",
                hyp(
                    "one two three four five six seven eight nine ten",
                    5_000,
                    None,
                ),
            ),
            ("/calls/short-pl.wav", hyp("dzień dobry", 2_000, None)),
        ],
    );
    let broken = &report.files[2];
    assert_eq!(broken.hypothesis, "");
    assert_eq!(broken.audio_ms, 0);
    assert_eq!(counts(broken.wer), (0, 3, 0, 3));
    assert!(
        broken.error.as_deref().unwrap().contains("not audio"),
        "{:?}",
        broken.error
    );
    assert!(broken.error.as_deref().unwrap().contains("broken.wav"));
    // Neither a TSV language nor a detected one: "und".
    assert_eq!(report.files[1].language, "und");
    assert_eq!(report.files[3].language, "und");
    assert_eq!(counts(report.per_language["und"].wer), (0, 2, 0, 4));
    assert_eq!(report.per_language["und"].failed, 1);
    // Overall: 0 + 0 + 3 + 2 errors over 10 + 2 + 3 + 2 words.
    assert_eq!(counts(report.overall.wer), (0, 5, 0, 17));
    assert_eq!(report.overall.failed, 2);
    assert_eq!(report.audio_ms, 7_000);
}

#[test]
fn evaluate_times_the_loop() {
    let refs = corpus();
    let mut transcribe = |_: &RefEntry| -> callsift::Result<Hypothesis> {
        std::thread::sleep(Duration::from_millis(30));
        Ok(hyp("", 60_000, None))
    };
    let report = evaluate("pipeline", &refs, &mut transcribe);
    assert!(report.wall_ms >= 60, "wall_ms {}", report.wall_ms);
    assert_eq!(report.audio_ms, 120_000);
    // 120 s of audio in at least 0.06 s of wall clock.
    let speed = report.audio_seconds_per_wall_second;
    assert!(speed > 0.0 && speed <= 2000.0, "speed {speed}");
}

// ---- reference files -------------------------------------------------------

fn refs_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    fs_err::create_dir_all(dir.path().join("calls")).unwrap();
    for f in ["calls/a.wav", "calls/b.wav", "c.wav"] {
        fs_err::write(dir.path().join(f), b"RIFF").unwrap();
    }
    dir
}

fn write_refs(dir: &Path, content: &str) -> PathBuf {
    let tsv = dir.join("refs.tsv");
    fs_err::write(&tsv, content).unwrap();
    tsv
}

#[test]
fn read_refs_parses_lines() {
    let dir = refs_dir();
    let other = tempfile::tempdir().unwrap();
    let abs = other.path().join("abs.wav");
    fs_err::write(&abs, b"RIFF").unwrap();
    let tsv = write_refs(
        dir.path(),
        &format!(
            "\u{FEFF}# path\treference\tlanguage\n\
             \n\
             calls/a.wav\tDzień dobry, mówi Anna.\tpl\r\n\
             \x20 # indented comment\n\
             calls/b.wav\t«Нет, это не телефонный разговор.»\tRU\n\
             c.wav\tNo language column here.\n\
             {}\t\t\n",
            abs.display()
        ),
    );
    let refs = read_refs(&tsv).unwrap();
    assert_eq!(refs.len(), 4);
    assert_eq!(
        refs[0],
        RefEntry {
            path: dir.path().join("calls/a.wav"),
            reference: "Dzień dobry, mówi Anna.".into(),
            language: Some("pl".into()),
            line: 3,
        }
    );
    assert_eq!(refs[1].language.as_deref(), Some("ru"));
    assert_eq!(refs[1].line, 5);
    assert_eq!(refs[2].path, dir.path().join("c.wav"));
    assert_eq!(refs[2].language, None);
    assert_eq!(refs[2].line, 6);
    // An absolute path stays as is; an empty reference is a silent call.
    assert_eq!(refs[3].path, abs);
    assert_eq!(refs[3].reference, "");
    assert_eq!(refs[3].language, None);
}

fn refs_error(content: &str) -> String {
    let dir = refs_dir();
    let tsv = write_refs(dir.path(), content);
    let err = read_refs(&tsv).unwrap_err();
    assert!(matches!(err, Error::Config { .. }), "{err:?}");
    let message = err.to_string();
    assert!(message.contains("refs.tsv"), "{message}");
    assert!(!message.ends_with('.'), "{message}");
    message
}

#[test]
fn read_refs_errors_name_the_line() {
    let m = refs_error("# header\ncalls/a.wav\thello\ncalls/b.wav no tab here\n");
    assert!(m.contains("line 3:") && m.contains("no tab"), "{m}");

    let m = refs_error("calls/a.wav\thello\n\t  hello\n");
    assert!(m.contains("line 2:") && m.contains("empty path"), "{m}");

    let m = refs_error("calls/a.wav\thello\n\n\ncalls/missing.wav\thello\n");
    assert!(m.contains("line 4:") && m.contains("missing.wav"), "{m}");

    // A tab inside the reference text shows up as a strange language.
    let m = refs_error("calls/a.wav\thello\tworld of calls\n");
    assert!(m.contains("line 1:") && m.contains("world of calls"), "{m}");

    let m = refs_error("calls/a.wav\thello\ten\textra\n");
    assert!(m.contains("line 1:") && m.contains("more than 3"), "{m}");

    // A folder is not a recording.
    let m = refs_error("calls\thello\n");
    assert!(m.contains("line 1:") && m.contains("calls"), "{m}");

    let m = refs_error("# only comments\n\n");
    assert!(m.contains("no references"), "{m}");
}

#[test]
fn read_refs_missing_file_names_it() {
    let err = read_refs(Path::new("/nonexistent/refs.tsv")).unwrap_err();
    assert!(err.to_string().contains("/nonexistent/refs.tsv"), "{err}");
}

// ---- report ----------------------------------------------------------------

fn two_system_report() -> EvalReport {
    let refs = vec![
        entry(
            "/calls/call-en-support.wav",
            "I'll call you from my personal mobile",
            Some("en"),
            1,
        ),
        entry(
            "/calls/שיחה-he.wav",
            "כן, אני אהיה בבית. תודה רבה.",
            Some("he"),
            2,
        ),
        entry(
            "/calls/call-ru-bank.wav",
            "Нет, это не телефонный разговор.",
            Some("ru"),
            3,
        ),
    ];
    let pipeline = run(
        "pipeline",
        &refs,
        &[
            (
                "/calls/call-en-support.wav",
                hyp("I'll call you from my personal mobile.", 14_000, Some("en")),
            ),
            (
                "/calls/שיחה-he.wav",
                hyp("כן אני אהיה בבית תודה", 13_000, Some("he")),
            ),
            (
                "/calls/call-ru-bank.wav",
                hyp("Нет, это не телефонный разговор.", 12_000, Some("ru")),
            ),
        ],
    );
    let plain = run(
        "plain",
        &refs,
        &[
            (
                "/calls/call-en-support.wav",
                hyp("I call you from my personal mobile.", 14_000, Some("en")),
            ),
            (
                "/calls/שיחה-he.wav",
                hyp("כן אני אהיה בבית תודה רבה", 13_000, Some("he")),
            ),
            // call-ru-bank.wav fails.
        ],
    );
    EvalReport::new("models/ggml-base.bin", vec![pipeline, plain])
}

#[test]
fn render_table_rows_and_numbers() {
    let report = two_system_report();
    let table = render_table(&report);
    println!("{table}");
    let lines: Vec<&str> = table.lines().collect();
    // The row whose first cells are `start`, split into cells.
    let row = |start: &[&str]| -> Vec<&str> {
        lines
            .iter()
            .map(|l| l.split_whitespace().collect::<Vec<_>>())
            .find(|cells| cells.starts_with(start))
            .unwrap_or_else(|| panic!("no row starting with {start:?} in\n{table}"))
    };
    assert!(table.starts_with("model: models/ggml-base.bin\n"));
    assert_eq!(
        row(&["file"]),
        vec![
            "file", "lang", "words", "pipeline", "WER%", "pipeline", "CER%", "plain", "WER%",
            "plain", "CER%"
        ]
    );
    // en: 7 words, 4+4+3+4+2+8+6 = 31 characters. pipeline is exact; plain
    // says "i" for "i'll": 1 substitution = 1/7 = 14.3% WER, 3 deleted
    // characters = 3/31 = 9.7% CER.
    assert_eq!(
        row(&["call-en-support.wav"]),
        vec![
            "call-en-support.wav",
            "en",
            "7",
            "0.0",
            "0.0",
            "14.3",
            "9.7"
        ]
    );
    // he: 6 words, 2+3+4+4+4+3 = 20 characters; pipeline misses "רבה":
    // 1/6 = 16.7% WER, 3/20 = 15.0% CER.
    assert_eq!(
        row(&["שיחה-he.wav"]),
        vec!["שיחה-he.wav", "he", "6", "16.7", "15.0", "0.0", "0.0"]
    );
    // ru: 5 words, 3+3+2+10+8 = 26 characters; plain failed.
    assert_eq!(
        row(&["call-ru-bank.wav"]),
        vec![
            "call-ru-bank.wav",
            "ru",
            "5",
            "0.0",
            "0.0",
            "failed",
            "failed"
        ]
    );
    assert_eq!(
        row(&["total", "en"]),
        vec!["total", "en", "7", "0.0", "0.0", "14.3", "9.7"]
    );
    assert_eq!(
        row(&["total", "he"]),
        vec!["total", "he", "6", "16.7", "15.0", "0.0", "0.0"]
    );
    assert_eq!(
        row(&["total", "ru"]),
        vec!["total", "ru", "5", "0.0", "0.0", "100.0", "100.0"]
    );
    // Overall WER: pipeline 1/18 = 5.6%; plain (1 + 0 + 5)/18 = 33.3%.
    // Overall CER over 31+20+26 = 77: pipeline 3/77 = 3.9%; plain
    // (3 + 0 + 26)/77 = 37.7%.
    assert_eq!(
        row(&["total", "all"]),
        vec!["total", "all", "18", "5.6", "3.9", "33.3", "37.7"]
    );
    // Summary rows: counts, failures, audio seconds, speed.
    let p = row(&["pipeline"]);
    assert_eq!(
        &p[..8],
        &["pipeline", "5.6", "0", "1", "0", "18", "3.9", "0"]
    );
    assert_eq!(p[8], "39.0");
    let q = row(&["plain"]);
    assert_eq!(
        &q[..8],
        &["plain", "33.3", "1", "5", "0", "18", "37.7", "1"]
    );
    assert_eq!(q[8], "27.0");
    assert!(table.contains("audio s/wall s"));
    // The failure is listed with its error.
    assert!(table.contains("plain: call-ru-bank.wav: "), "{table}");
    assert!(table.contains("not audio"));

    // The file table is aligned: every row (and rule) as wide as the header,
    // counted in characters, Hebrew included.
    let block: Vec<&str> = lines[2..]
        .iter()
        .take_while(|l| !l.is_empty())
        .copied()
        .collect();
    // header, rule, 3 files, rule, 3 languages + all
    assert_eq!(block.len(), 1 + 1 + 3 + 1 + 4, "{table}");
    let width = block[0].chars().count();
    for l in &block {
        assert_eq!(l.chars().count(), width, "{l:?} in\n{table}");
    }
}

#[test]
fn render_table_single_system_has_plain_headers() {
    let mut report = two_system_report();
    report.systems.truncate(1);
    let table = render_table(&report);
    let header = table.lines().nth(2).unwrap();
    assert_eq!(
        header.split_whitespace().collect::<Vec<_>>(),
        vec!["file", "lang", "words", "WER%", "CER%"]
    );
    assert!(!table.contains("failed ("));
}

#[test]
fn json_field_names_and_round_trip() {
    let mut report = two_system_report();
    // A measured speed from a CI run that serde_json's default (fast, not
    // exact) float parser read back one ulp off; the report must round-trip.
    report.systems[1].audio_seconds_per_wall_second = 43_788.446_661_617_476;
    let json = serde_json::to_string_pretty(&report).unwrap();
    let v: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(v["schema"], "callsift.eval/1");
    assert_eq!(v["schema"], eval::SCHEMA);
    assert_eq!(v["model"], "models/ggml-base.bin");
    let plain = &v["systems"][1];
    assert_eq!(plain["system"], "plain");
    for key in [
        "files",
        "per_language",
        "overall",
        "audio_ms",
        "wall_ms",
        "audio_seconds_per_wall_second",
    ] {
        assert!(plain.get(key).is_some(), "missing {key} in {plain}");
    }
    let file = &plain["files"][0];
    assert_eq!(file["path"], "/calls/call-en-support.wav");
    assert_eq!(file["language"], "en");
    assert_eq!(file["reference"], "I'll call you from my personal mobile");
    assert_eq!(file["hypothesis"], "I call you from my personal mobile.");
    assert_eq!(file["audio_ms"], 14_000);
    assert!(file["error"].is_null());
    assert_eq!(file["wer"]["substitutions"], 1);
    assert_eq!(file["wer"]["deletions"], 0);
    assert_eq!(file["wer"]["insertions"], 0);
    assert_eq!(file["wer"]["ref_len"], 7);
    assert!(close(file["wer"]["rate"].as_f64().unwrap(), 1.0 / 7.0));
    assert_eq!(file["cer"]["ref_len"], 31);
    let failed = &plain["files"][2];
    assert!(failed["error"].as_str().unwrap().contains("not audio"));
    let ru = &plain["per_language"]["ru"];
    assert_eq!(ru["files"], 1);
    assert_eq!(ru["failed"], 1);
    assert_eq!(ru["wer"]["deletions"], 5);
    assert_eq!(ru["wer"]["rate"], 1.0);
    assert_eq!(plain["overall"]["wer"]["ref_len"], 18);
    assert_eq!(plain["audio_ms"], 27_000);

    let back: EvalReport = serde_json::from_str(&json).unwrap();
    assert_eq!(
        back.systems[1].audio_seconds_per_wall_second.to_bits(),
        43_788.446_661_617_476_f64.to_bits()
    );
    assert_eq!(back, report);
}
