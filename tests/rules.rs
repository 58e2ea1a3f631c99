//! Rules: watchlists (inflected, fuzzy, speakers, mono), agreement with
//! `callsift search` on a shared set of cases, scorecards (weights, time
//! windows, critical criteria, `none`, `applies_if`, direction), the
//! do-not-call list (dedupe, listed numbers, outside lists), rescore
//! idempotence, redaction (checksums, never written unmasked), and the
//! `rules check` / `rules test` / `import` / `search --rule` commands.
//! Transcripts are written by hand: this is what comes after transcription.

mod common;

use std::collections::BTreeSet;
use std::path::Path;

use callsift::config::PipelineFile;
use callsift::index::{IndexSink, SearchIndex, WriterOptions};
use callsift::model::{HitKind, SearchFilters, SearchRequest, SearchSort, Severity, Transcript};
use callsift::rules::{RuleSet, RulesStage};
use callsift::sink::{Sink, TranscriptJsonSink};
use common::{Seg, written_call};

fn pipeline(text: &str) -> PipelineFile {
    PipelineFile::parse(text, Path::new("rules.toml")).unwrap_or_else(|e| panic!("{e}\n{text}"))
}

fn watch(phrase: &str, extra: &str) -> PipelineFile {
    pipeline(&format!(
        "[[watchlist]]\nname = \"w\"\nphrases = [{phrase:?}]\n{extra}\n"
    ))
}

/// (call id, segment) of every hit of rule set `rules` over `calls`.
fn rule_places(rules: &RuleSet, calls: &[Transcript]) -> BTreeSet<(String, usize)> {
    calls
        .iter()
        .flat_map(|t| {
            rules
                .judge(t)
                .unwrap()
                .analysis
                .hits
                .into_iter()
                .map(|h| (t.call_id.clone(), h.segment.expect("segment")))
        })
        .collect()
}

fn corpus() -> Vec<Transcript> {
    vec![
        written_call(
            "aaaa0000000000000001",
            "pl",
            Some("2026-11-02T09:00:00Z"),
            &[],
            &[
                (1_000, 4_000, 0, "Dzień dobry, mówi Anna z Telkomu."),
                (
                    4_500,
                    9_000,
                    1,
                    "Dobrze, zadzwonię z prywatnej komórki po szesnastej.",
                ),
                (9_500, 12_000, 0, "To jest tajemnica handlowa firmy."),
            ],
        ),
        written_call(
            "aaaa0000000000000002",
            "ru",
            Some("2026-11-03T10:00:00Z"),
            &[],
            &[
                (2_000, 5_000, 0, "Служба безопасности банка."),
                (5_500, 8_000, 1, "Нет, это не телефонный разговор."),
                (8_500, 11_000, 1, "Перезвоню с личного мобильного."),
                (11_500, 14_000, 0, "Ёлка стоит у входа."),
            ],
        ),
        written_call(
            "aaaa0000000000000003",
            "en",
            Some("2026-11-04T11:00:00Z"),
            &[],
            &[
                (1_000, 3_000, 1, "We are calling about your account."),
                (3_000, 6_000, 0, "I'll call you back from my personal"),
                (6_000, 6_800, 1, "Okay."),
                (7_000, 9_000, 0, "mobile tomorrow morning."),
            ],
        ),
        written_call(
            "aaaa0000000000000004",
            "he",
            Some("2026-11-05T12:00:00Z"),
            &[],
            &[
                (500, 3_000, 0, "שָׁלוֹם, זה והסוד המסחרי שלנו."),
                (3_500, 6_000, 1, "אני אתקשר מהטלפון הפרטי."),
            ],
        ),
        written_call(
            "aaaa0000000000000005",
            "pl",
            None,
            &[],
            &[(0, 2_000, 1, "zadzwonie jutro z komorki prywatnej")],
        ),
    ]
}

/// The cases both sides are checked on: each is searched as `"<phrase>"`
/// (or as the query itself) and judged as a watchlist of that phrase.
const SHARED_CASES: &[(&str, bool)] = &[
    ("prywatnej komórki", false),
    ("prywatna komorka", false),
    ("tajemnica handlowa", false),
    ("komórka", false),
    ("не телефонный разговор", false),
    ("личный мобильный", false),
    ("елка", false),
    ("personal mobile", false),
    ("call you back", false),
    ("סוד מסחרי", false),
    ("הטלפון הפרטי", false),
    ("nothing like this was said", false),
    ("komórka AND prywatny", true),
    ("mobil* OR разговор", true),
    ("speaker:customer komórka", true),
    ("\"personal mobile\" NOT yesterday", true),
    // Excluded: the boundary document holds "tomorrow" too.
    ("\"personal mobile\" NOT tomorrow", true),
];

#[test]
fn rules_find_what_search_finds_and_nothing_else() {
    let out = tempfile::tempdir().unwrap();
    let calls = corpus();
    let mut json = TranscriptJsonSink::new(out.path()).unwrap();
    let mut index = IndexSink::open(out.path(), &WriterOptions::default()).unwrap();
    for t in &calls {
        json.accept(t).unwrap();
        index.accept(t).unwrap();
    }
    index.finish().unwrap();
    let search = SearchIndex::open(out.path()).unwrap();
    let mut found_something = 0;
    for &(case, is_query) in SHARED_CASES {
        let query = if is_query {
            case.to_string()
        } else {
            format!("\"{case}\"")
        };
        let searched: BTreeSet<(String, usize)> = search
            .search(&SearchRequest {
                query: query.clone(),
                exact: false,
                filters: SearchFilters::default(),
                sort: SearchSort::Date,
                limit: 1000,
                offset: 0,
            })
            .unwrap()
            .hits
            .into_iter()
            .map(|h| (h.call_id, h.segment))
            .collect();
        let rules = if is_query {
            pipeline(&format!("[[watchlist]]\nname = \"w\"\nquery = {case:?}\n"))
        } else {
            watch(case, "")
        };
        let judged = rule_places(&RuleSet::new(&rules, "t").unwrap(), &calls);
        assert_eq!(judged, searched, "case {query}");
        found_something += usize::from(!searched.is_empty());
    }
    // Every case but the one nobody said and the excluded one is found somewhere.
    assert_eq!(found_something, SHARED_CASES.len() - 2);
}

#[test]
fn inflected_forms_and_phrases_across_segments_fire() {
    let calls = corpus();
    let rules = RuleSet::new(&watch("личного мобильного телефона", "fuzzy = 0"), "t").unwrap();
    // The phrase is longer than what was said: no hit.
    assert!(rule_places(&rules, &calls).is_empty());
    let rules = RuleSet::new(&watch("личный мобильный", ""), "t").unwrap();
    assert_eq!(
        rule_places(&rules, &calls),
        BTreeSet::from([("aaaa0000000000000002".to_string(), 2)])
    );
    // Said across whisper's cut (segments 1 and 3 of the agent).
    let j = RuleSet::new(&watch("my personal mobile", ""), "t")
        .unwrap()
        .judge(&calls[2])
        .unwrap();
    assert_eq!(j.analysis.hits.len(), 1, "{:?}", j.analysis.hits);
    let hit = &j.analysis.hits[0];
    assert_eq!(hit.segment, Some(1));
    assert_eq!(hit.speaker, "agent");
    assert!(hit.matched.contains("personal"), "{}", hit.matched);
    assert!(hit.matched.contains("mobile"), "{}", hit.matched);
    assert_eq!(hit.end_ms, 9_000, "the second segment's end");
}

#[test]
fn fuzzy_phrases_allow_misheard_words_in_order_only() {
    let t = written_call(
        "bbbb0000000000000001",
        "en",
        None,
        &[],
        &[
            (0, 3_000, 0, "I will call you from my personel mobil later."),
            (4_000, 6_000, 1, "The mobile personal thing."),
        ],
    );
    let exact = RuleSet::new(&watch("personal mobile", ""), "t").unwrap();
    assert!(exact.judge(&t).unwrap().analysis.hits.is_empty());
    let fuzzy = RuleSet::new(&watch("personal mobile", "fuzzy = 1"), "t").unwrap();
    let hits = fuzzy.judge(&t).unwrap().analysis.hits;
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].segment, Some(0));
    assert_eq!(hits[0].matched, "personel mobil");
}

#[test]
fn speaker_filters_and_mono_recordings() {
    let calls = corpus();
    let customer =
        RuleSet::new(&watch("tajemnica handlowa", "speaker = \"customer\""), "t").unwrap();
    let agent = RuleSet::new(&watch("tajemnica handlowa", "speaker = \"agent\""), "t").unwrap();
    assert!(rule_places(&customer, &calls).is_empty());
    assert_eq!(rule_places(&agent, &calls).len(), 1);
    let j = customer.judge(&calls[0]).unwrap();
    let why = j.rules[0].why_not.as_deref().unwrap();
    assert!(
        why.contains("by customer") && why.contains("agent said"),
        "{why}"
    );
    // A mono recording: who said it is not known, so the rule listens to all.
    let mut mono = calls[0].clone();
    mono.channels = 1;
    for s in &mut mono.segments {
        s.speaker = "mixed".into();
        s.channel = 0;
    }
    assert_eq!(customer.judge(&mono).unwrap().analysis.hits.len(), 1);
}

const CARD: &str = r#"
[[scorecard]]
name = "sales"
direction = "outbound"
  [[scorecard.criterion]]
  section = "opening"
  name = "recording_announced"
  weight = 30
  critical = true
  speaker = "agent"
  within_first_s = 10
  any = ["this call is recorded", "rozmowa jest nagrywana"]
  [[scorecard.criterion]]
  section = "offer"
  name = "named_the_offer"
  weight = 20
  speaker = "agent"
  query = "offer OR price"
  [[scorecard.criterion]]
  section = "next_step"
  name = "agreed_next_call"
  weight = 50
  speaker = "agent"
  query = "(tomorrow OR monday) AND (o'clock OR am OR pm)"
  [[scorecard.criterion]]
  section = "objections"
  name = "handled_objection"
  weight = 40
  speaker = "agent"
  applies_if = "speaker:customer expensive"
  any = ["I understand"]
  [[scorecard.criterion]]
  section = "compliance"
  name = "no_guarantees"
  weight = 10
  none = ["guaranteed profit"]
  [[scorecard.criterion]]
  section = "closing"
  name = "said_goodbye"
  weight = 10
  speaker = "agent"
  within_last_s = 10
  any = ["goodbye", "thank you"]
"#;

fn sales_call(announce_at: u64, direction: &str) -> Transcript {
    let mut segs: Vec<Seg> = vec![
        (
            announce_at,
            announce_at + 3_000,
            0,
            "Hello, this call is recorded.",
        ),
        (
            20_000,
            24_000,
            0,
            "Our offer is a new plan at a good price.",
        ),
        (25_000, 27_000, 1, "Sounds fine."),
        (30_000, 33_000, 0, "I will call you tomorrow at nine am."),
        (40_000, 42_000, 0, "Thank you, goodbye."),
    ];
    segs.sort_by_key(|s| s.0);
    written_call(
        "cccc0000000000000001",
        "en",
        Some("2026-11-10T10:00:00Z"),
        &[("direction", direction)],
        &segs,
    )
}

#[test]
fn scorecards_weigh_criteria_and_critical_ones_zero_the_card() {
    let rules = RuleSet::new(&pipeline(CARD), "sales").unwrap();
    let good = rules
        .judge(&sales_call(1_000, "outbound"))
        .unwrap()
        .analysis;
    assert_eq!(good.scorecards.len(), 1);
    let card = &good.scorecards[0];
    let by = |n: &str| card.criteria.iter().find(|c| c.criterion == n).unwrap();
    // The objection criterion does not apply (no objection): 100 of 120 - 40.
    assert!(!by("handled_objection").applicable);
    assert!(by("no_guarantees").passed);
    assert!(by("said_goodbye").passed, "{}", by("said_goodbye").reason);
    assert!(
        by("agreed_next_call").passed,
        "{}",
        by("agreed_next_call").reason
    );
    assert_eq!(card.score, Some(100.0));
    let evidence = by("recording_announced");
    assert_eq!(evidence.evidence_segment, Some(0));
    assert_eq!(
        evidence.evidence_text.as_deref(),
        Some("this call is recorded")
    );

    // Announced too late: the critical criterion fails, the card is 0.
    let late = rules
        .judge(&sales_call(12_000, "outbound"))
        .unwrap()
        .analysis;
    let card = &late.scorecards[0];
    assert_eq!(card.score, Some(0.0));
    assert_eq!(card.critical_failed, ["recording_announced"]);
    let c = &card.criteria[0];
    assert!(c.reason.contains("within the first 10 s"), "{}", c.reason);

    // A weighted share: the next step missing (50 of 80 applicable lost).
    let mut t = sales_call(1_000, "outbound");
    t.segments.retain(|s| !s.text.contains("tomorrow"));
    t.segments.push(callsift::model::Segment {
        text: "It is expensive, and I want a guaranteed profit.".into(),
        start_ms: 34_000,
        end_ms: 36_000,
        ..t.segments[2].clone()
    });
    t.segments.push(callsift::model::Segment {
        text: "I understand.".into(),
        start_ms: 36_500,
        end_ms: 37_000,
        ..t.segments[0].clone()
    });
    t.segments.sort_by_key(|s| s.start_ms);
    let card = &rules.judge(&t).unwrap().analysis.scorecards[0];
    let by = |n: &str| card.criteria.iter().find(|c| c.criterion == n).unwrap();
    assert!(by("handled_objection").applicable && by("handled_objection").passed);
    assert!(!by("no_guarantees").passed);
    assert_eq!(
        by("no_guarantees").evidence_text.as_deref(),
        Some("guaranteed profit")
    );
    // applicable 30+20+50+40+10+10 = 160; met 30+20+40+10 = 100.
    assert_eq!(card.score, Some(100.0 * 100.0 / 160.0));

    // An inbound call is not graded by an outbound card.
    let inbound = rules.judge(&sales_call(1_000, "inbound")).unwrap().analysis;
    assert!(inbound.scorecards.is_empty());
}

const DNC: &str = r#"
default_country = "PL"

[[do_not_call]]
name = "dnc_request"
phrases = ["proszę do mnie więcej nie dzwonić", "больше не звоните", "don't call me again"]
"#;

fn dnc_call(id: &str, start: &str, number: &str, direction: &str, text: &str) -> Transcript {
    written_call(
        id,
        "pl",
        Some(start),
        &[("customer_number", number), ("direction", direction)],
        &[(1_000, 3_000, 0, "Dzień dobry."), (4_000, 7_000, 1, text)],
    )
}

#[test]
fn do_not_call_requests_are_listed_once_and_later_calls_flagged() {
    let out = tempfile::tempdir().unwrap();
    let robinson = out.path().join("robinson.csv");
    std::fs::write(
        &robinson,
        "# national list\n+48 700 100 200\n\nnot a number\n",
    )
    .unwrap();
    let text = format!("dnc_lists = [{:?}]\n{DNC}", robinson.display().to_string());
    let p = pipeline(&text);
    let mut stage = RulesStage::open(&p, "compliance", out.path())
        .unwrap()
        .unwrap();
    assert_eq!(stage.warnings.len(), 1, "{:?}", stage.warnings);
    assert!(
        stage.warnings[0].contains("robinson.csv:4"),
        "{:?}",
        stage.warnings
    );
    let mut calls = vec![
        dnc_call(
            "d001",
            "2026-11-02T09:00:00Z",
            "601 234 567",
            "outbound",
            "Proszę do mnie więcej nie dzwonić!",
        ),
        dnc_call(
            "d002",
            "2026-11-03T09:00:00Z",
            "+48601234567",
            "outbound",
            "Mówiłem, proszę do mnie więcej nie dzwonić.",
        ),
        dnc_call(
            "d003",
            "2026-11-04T09:00:00Z",
            "0048 601-234-567",
            "outbound",
            "Słucham?",
        ),
        dnc_call(
            "d004",
            "2026-11-04T10:00:00Z",
            "601234567",
            "inbound",
            "Dzwonię w sprawie faktury.",
        ),
        dnc_call(
            "d005",
            "2026-11-01T09:00:00Z",
            "601234567",
            "outbound",
            "Słucham?",
        ),
        dnc_call(
            "d006",
            "2026-11-05T09:00:00Z",
            "700100200",
            "outbound",
            "Tak?",
        ),
    ];
    for t in &mut calls {
        stage.apply(t).unwrap();
    }
    let kinds = |t: &Transcript| -> Vec<HitKind> {
        t.analysis
            .as_ref()
            .unwrap()
            .hits
            .iter()
            .map(|h| h.kind)
            .collect()
    };
    assert_eq!(kinds(&calls[0]), [HitKind::DncRequest]);
    // Asked again after being listed: a request, and a call that should not have been made.
    assert_eq!(kinds(&calls[1]), [HitKind::DncListed, HitKind::DncRequest]);
    assert_eq!(kinds(&calls[2]), [HitKind::DncListed]);
    let listed = &calls[2].analysis.as_ref().unwrap().hits[0];
    assert_eq!(listed.severity, Severity::High);
    assert_eq!(listed.matched, "+48601234567");
    assert!(
        kinds(&calls[3]).is_empty(),
        "inbound: the customer called us"
    );
    assert!(kinds(&calls[4]).is_empty(), "before the request");
    assert_eq!(
        kinds(&calls[5]),
        [HitKind::DncListed],
        "on the outside list"
    );
    let export = std::fs::read_to_string(out.path().join("exports/do-not-call.csv")).unwrap();
    let rows: Vec<&str> = export.lines().skip(1).collect();
    assert_eq!(rows.len(), 1, "{export}");
    assert!(
        rows[0].starts_with("+48601234567,2026-11-02T09:00:04"),
        "{export}"
    );
    assert!(
        rows[0].contains("d001"),
        "the earliest request is kept: {export}"
    );

    // A new stage (the next night) keeps the entry and adds a new one.
    let mut stage = RulesStage::open(&p, "compliance", out.path())
        .unwrap()
        .unwrap();
    let mut t = dnc_call(
        "d007",
        "2026-11-06T09:00:00Z",
        "+7 916 123-45-67",
        "outbound",
        "Больше не звоните мне!",
    );
    t.segments[1].language = "ru".into();
    stage.apply(&mut t).unwrap();
    let export = std::fs::read_to_string(out.path().join("exports/do-not-call.csv")).unwrap();
    assert_eq!(export.lines().count(), 3, "{export}");
    assert!(
        export.contains("+79161234567") && export.contains("+48601234567"),
        "{export}"
    );
}

#[test]
fn redaction_masks_checked_numbers_before_anything_is_written() {
    let out = tempfile::tempdir().unwrap();
    let p = pipeline("redact = [\"card\", \"pesel\", \"phone\"]\n");
    let mut sinks = callsift::sink::output_sinks(out.path(), &p, "redact").unwrap();
    let t = written_call(
        "eeee0000000000000001",
        "pl",
        Some("2026-11-02T09:00:00Z"),
        &[],
        &[
            (
                1_000,
                4_000,
                1,
                "Numer karty 4111 1111 1111 1111, dziękuję.",
            ),
            (5_000, 8_000, 1, "A ten 4111 1111 1111 1112 to nie karta."),
            (
                9_000,
                12_000,
                1,
                "PESEL 44051401359, telefon sześć zero jeden dwa trzy cztery pięć sześć siedem.",
            ),
        ],
    );
    let stored = callsift::sink::feed(&mut sinks, t).unwrap();
    for s in sinks.iter_mut() {
        s.finish().unwrap();
    }
    let file =
        std::fs::read_to_string(out.path().join("transcripts/eeee0000000000000001.json")).unwrap();
    assert!(!file.contains("4111 1111 1111 1111"), "{file}");
    assert!(file.contains("Numer karty [card], dziękuję."), "{file}");
    assert!(!file.contains("44051401359"), "{file}");
    assert!(file.contains("[pesel]"), "{file}");
    assert!(!file.contains("dwa trzy cztery"), "{file}");
    // Fails Luhn: not a card (16 digits is too long for a phone).
    assert!(file.contains("4111 1111 1111 1112"), "{file}");
    let redacted = &stored.analysis.as_ref().unwrap().redacted;
    assert_eq!(redacted.get("card"), Some(&1));
    assert_eq!(redacted.get("pesel"), Some(&1));
    assert_eq!(redacted.get("phone"), Some(&1));
    // Nor in the index or the segments table.
    let search = SearchIndex::open(out.path()).unwrap();
    let req = |q: &str| SearchRequest {
        query: q.into(),
        exact: false,
        filters: SearchFilters::default(),
        sort: SearchSort::Date,
        limit: 10,
        offset: 0,
    };
    assert_eq!(search.search(&req("44051401359")).unwrap().total, 0);
    // "karta" and "karty": one stem.
    assert_eq!(search.search(&req("karty")).unwrap().total, 2);
    let parquet = walkdir::WalkDir::new(out.path().join("parquet"))
        .into_iter()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_type().is_file())
        .map(|e| std::fs::read(e.path()).unwrap())
        .collect::<Vec<_>>();
    assert!(!parquet.is_empty());
    for bytes in parquet {
        assert!(
            !bytes.windows(11).any(|w| w == b"44051401359"),
            "a parquet file holds the unredacted PESEL"
        );
    }
}

#[test]
fn pipeline_file_mistakes_name_the_key_and_line() {
    let bad = r#"[[watchlist]]
name = "a"
phrases = []

[[watchlist]]
name = "a"
query = "(unclosed"

[[scorecard]]
name = "qa"
  [[scorecard.criterion]]
  section = "s"
  name = "c"
  weight = 0
  speaker = "boss"
  any = ["hello"]
"#;
    let err = PipelineFile::parse(bad, Path::new("bad.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.starts_with("bad.toml: "), "{err}");
    for part in [
        "watchlist.phrases at line 3: the phrase list is empty",
        "watchlist.name at line 6: `a` is used by another rule",
        "watchlist.query at line 7: invalid query",
        "scorecard.criterion.weight at line 14: the weight must be a positive number",
        "scorecard.criterion.speaker at line 15: `boss` is no speaker",
    ] {
        assert!(err.contains(part), "missing `{part}` in: {err}");
    }
    let unknown = "[[watchlist]]\nname = \"a\"\nphrase = [\"x\"]\n";
    let err = PipelineFile::parse(unknown, Path::new("u.toml"))
        .unwrap_err()
        .to_string();
    assert!(err.contains("phrase") && err.contains("line 3"), "{err}");
}

const SECURITY: &str = r#"
[[watchlist]]
name = "private_channel"
severity = "high"
phrases = ["prywatnej komórki", "личного мобильного", "personal mobile"]

[[watchlist]]
name = "trade_secrets"
severity = "medium"
phrases = ["tajemnica handlowa", "סוד מסחרי"]

[[scorecard]]
name = "qa"
  [[scorecard.criterion]]
  section = "opening"
  name = "greeting"
  weight = 10
  speaker = "agent"
  any = ["dzień dobry", "добрый день"]
"#;

/// Writes the corpus as callsift transcripts to import.
fn corpus_files(dir: &Path) -> Vec<std::path::PathBuf> {
    corpus()
        .iter()
        .map(|t| {
            let path = dir.join(format!("{}.json", t.call_id));
            std::fs::write(&path, serde_json::to_vec(t).unwrap()).unwrap();
            path
        })
        .collect()
}

#[test]
fn import_with_rules_writes_alerts_tables_and_rule_names_and_rescore_is_idempotent() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let rules = work.path().join("security.toml");
    std::fs::write(&rules, SECURITY).unwrap();
    let files = corpus_files(work.path());
    let assert = common::bin()
        .arg("import")
        .arg("--out")
        .arg(&out)
        .arg("--pipeline")
        .arg(&rules)
        .args(&files)
        .assert()
        .success();
    let stderr = String::from_utf8_lossy(&assert.get_output().stderr).into_owned();
    assert!(
        stderr.contains("alerts: 3 high-severity hits in 3 calls; 2 other hits"),
        "{stderr}"
    );
    let runs: Vec<_> = std::fs::read_dir(out.join("runs"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .collect();
    assert_eq!(runs.len(), 1);
    let csv = std::fs::read_to_string(runs[0].path().join("alerts.csv")).unwrap();
    assert_eq!(csv.lines().count(), 6, "{csv}");
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("high,private_channel,watchlist,"),
        "{csv}"
    );
    let json: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(runs[0].path().join("alerts.json")).unwrap())
            .unwrap();
    assert_eq!(json.as_array().unwrap().len(), 5);

    // search --rule: only calls where the rule fired.
    let search = |rule: &str| -> String {
        let o = common::bin()
            .args(["search", "--out"])
            .arg(&out)
            .args([
                "--rule",
                rule,
                "--format",
                "csv",
                "dzień OR безопасности OR personal OR סוד",
            ])
            .assert()
            .success();
        String::from_utf8_lossy(&o.get_output().stdout).into_owned()
    };
    let private = search("private_channel");
    assert_eq!(private.lines().count(), 1 + 3, "{private}");
    let secrets = search("trade_secrets");
    assert!(
        secrets.contains("סוד") && secrets.contains("Dzień dobry"),
        "{secrets}"
    );
    assert!(!secrets.contains("personal"), "{secrets}");

    let hits = callsift::tables::read_hits(&out).unwrap();
    assert_eq!(hits.len(), 5);
    let scores = callsift::tables::read_scores(&out).unwrap();
    assert_eq!(scores.len(), 5, "one card with one criterion per call");
    assert_eq!(
        scores.iter().filter(|s| s.passed).count(),
        1,
        "only the Polish call greets"
    );

    // Rescore with the same rules changes nothing; twice gives the same bytes.
    let snapshot = |dir: &Path| -> Vec<(String, Vec<u8>)> {
        let mut files: Vec<(String, Vec<u8>)> = walkdir::WalkDir::new(dir.join("transcripts"))
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .map(|e| {
                (
                    e.path().display().to_string(),
                    std::fs::read(e.path()).unwrap(),
                )
            })
            .collect();
        files.sort();
        files
    };
    let rescore = |pipeline: &Path| {
        common::bin()
            .arg("rescore")
            .arg("--pipeline")
            .arg(pipeline)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
    };
    let before = snapshot(&out);
    rescore(&rules);
    assert_eq!(snapshot(&out), before);
    assert_eq!(callsift::tables::read_hits(&out).unwrap(), hits);
    assert_eq!(callsift::tables::read_scores(&out).unwrap(), scores);

    // Changed rules: the private-channel watchlist is gone from every output.
    let fewer = work.path().join("fewer.toml");
    std::fs::write(
        &fewer,
        SECURITY
            .replace("name = \"private_channel\"", "name = \"private\"")
            .replace("\"personal mobile\"", "\"nothing said\""),
    )
    .unwrap();
    rescore(&fewer);
    let after = snapshot(&out);
    rescore(&fewer);
    assert_eq!(snapshot(&out), after, "rescore is idempotent");
    let hits = callsift::tables::read_hits(&out).unwrap();
    assert!(hits.iter().all(|h| h.rule != "private_channel"));
    assert_eq!(hits.iter().filter(|h| h.rule == "private").count(), 2);
    assert_eq!(search("private_channel").lines().count(), 1, "header only");
    assert_eq!(search("private").lines().count(), 1 + 2);
}

#[test]
fn rules_test_explains_what_fired_and_what_did_not() {
    let work = tempfile::tempdir().unwrap();
    let rules = work.path().join("security.toml");
    std::fs::write(&rules, SECURITY).unwrap();
    let files = corpus_files(work.path());
    let o = common::bin()
        .args(["rules", "test"])
        .arg(&rules)
        .arg("--transcript")
        .arg(&files[1])
        .assert()
        .success();
    let text = String::from_utf8_lossy(&o.get_output().stdout).into_owned();
    assert!(
        text.contains("FIRED  private_channel (watchlist, high): 1 time"),
        "{text}"
    );
    assert!(text.contains("«личного мобильного»"), "{text}");
    assert!(
        text.contains("trade_secrets (watchlist): not fired: none of its 2 phrases"),
        "{text}"
    );
    assert!(text.contains("scorecard qa: 0.0/100"), "{text}");
    assert!(text.contains("NO  opening / greeting"), "{text}");

    let bad = work.path().join("bad.toml");
    std::fs::write(
        &bad,
        "[[watchlist]]\nname = \"x\"\nphrases = [\"a\"]\nfuzzy = 5\n",
    )
    .unwrap();
    let o = common::bin()
        .args(["rules", "check"])
        .arg(&bad)
        .assert()
        .code(2);
    let err = String::from_utf8_lossy(&o.get_output().stderr).into_owned();
    assert!(err.contains("watchlist.fuzzy at line 4"), "{err}");
    common::bin()
        .args(["rules", "check"])
        .arg(&rules)
        .assert()
        .success()
        .stdout(predicates::str::contains(
            "2 watchlists, 0 do-not-call rules, 1 scorecards",
        ));
}

#[test]
fn fuzzy_phrases_keep_inflections_and_short_words_exact() {
    let t = written_call(
        "bbbb0000000000000002",
        "pl",
        None,
        &[],
        &[(0, 3_000, 1, "Zadzwonię do pana z prywatnej komurki.")],
    );
    // "komurki": one edit from the inflected "komórki", two from "komórka".
    let rules = RuleSet::new(&watch("prywatna komórka", "fuzzy = 1"), "t").unwrap();
    assert_eq!(rules.judge(&t).unwrap().analysis.hits.len(), 1);
    let ru = written_call(
        "bbbb0000000000000003",
        "ru",
        None,
        &[],
        &[(0, 3_000, 1, "Нет, по телефону всё скажу.")],
    );
    let rules = RuleSet::new(&watch("не по телефону", "fuzzy = 1"), "t").unwrap();
    assert!(
        rules.judge(&ru).unwrap().analysis.hits.is_empty(),
        "«нет» is not «не»: short words take no edits"
    );
}

#[test]
fn directions_are_read_as_the_metadata_stage_reads_them() {
    let rules = RuleSet::new(&pipeline(CARD), "sales").unwrap();
    for (direction, graded) in [("OUT", true), ("out", true), ("", true), ("in", false)] {
        let cards = rules
            .judge(&sales_call(1_000, direction))
            .unwrap()
            .analysis
            .scorecards;
        assert_eq!(cards.len(), usize::from(graded), "direction {direction:?}");
    }
    let err = PipelineFile::parse(
        "[[watchlist]]\nname = \"dnc_listed\"\nphrases = [\"x y\"]\n",
        Path::new("r.toml"),
    )
    .unwrap_err()
    .to_string();
    assert!(err.contains("listed-number check"), "{err}");
}

#[test]
fn redaction_turned_on_later_leaves_no_unmasked_text_in_the_index() {
    let work = tempfile::tempdir().unwrap();
    let out = work.path().join("out");
    let t = written_call(
        "ffff0000000000000001",
        "en",
        Some("2026-11-02T09:00:00Z"),
        &[],
        &[(1_000, 4_000, 1, "My card is 4111 1111 1111 1111, thanks.")],
    );
    let file = work.path().join("call.json");
    std::fs::write(&file, serde_json::to_vec(&t).unwrap()).unwrap();
    // A call without a card shares the segment: it is not rewritten, so the
    // old segment files would stay (with the card's document only marked
    // deleted) unless the index is rebuilt.
    let other = written_call(
        "ffff0000000000000002",
        "en",
        Some("2026-11-02T10:00:00Z"),
        &[],
        &[(1_000, 4_000, 1, "Nothing to mask here.")],
    );
    let other_file = work.path().join("other.json");
    std::fs::write(&other_file, serde_json::to_vec(&other).unwrap()).unwrap();
    common::bin()
        .arg("import")
        .arg("--out")
        .arg(&out)
        .arg(&file)
        .arg(&other_file)
        .assert()
        .success();
    let holds_card = |dir: &Path| {
        walkdir::WalkDir::new(dir)
            .into_iter()
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().is_file())
            .any(|e| {
                let bytes = std::fs::read(e.path()).unwrap();
                bytes.windows(4).any(|w| w == b"1111")
            })
    };
    // The index compresses what it stores, so its old segment files are
    // checked to be gone rather than searched for the digits.
    let segment_files = || -> BTreeSet<String> {
        std::fs::read_dir(out.join("index"))
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| n.contains('.') && !n.ends_with(".json") && !n.ends_with(".lock"))
            .collect()
    };
    assert!(!segment_files().is_empty(), "no segment files in the index");
    let rules = work.path().join("p.toml");
    let rescore = |text: &str| {
        std::fs::write(&rules, text).unwrap();
        common::bin()
            .arg("rescore")
            .arg("--pipeline")
            .arg(&rules)
            .arg("--out")
            .arg(&out)
            .assert()
            .success();
    };
    let watch = "[[watchlist]]\nname = \"w\"\nphrases = [\"thanks\"]\n";
    rescore(watch);
    let before = segment_files();
    // Now with redaction: only the call with the card changes.
    rescore(&format!("redact = [\"card\"]\n{watch}"));
    assert!(!holds_card(&out.join("transcripts")));
    let after = segment_files();
    assert!(!after.is_empty());
    assert!(
        before.is_disjoint(&after),
        "old segment files remain: {:?}",
        before.intersection(&after).collect::<Vec<_>>()
    );
    let search = SearchIndex::open(&out).unwrap();
    let req = SearchRequest {
        query: "4111".into(),
        exact: false,
        filters: SearchFilters::default(),
        sort: SearchSort::Date,
        limit: 10,
        offset: 0,
    };
    assert_eq!(search.search(&req).unwrap().total, 0);
    assert!(!holds_card(&out.join("parquet")));
}
