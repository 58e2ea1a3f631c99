//! The shipped pipelines (`pipelines/*.toml`): every one loads (rule
//! problems are load errors), and the rules of `security.toml`,
//! `sales-quality.toml` and `compliance.toml` do on hand-written calls what
//! their comments promise: each watchlist fires on a sentence in each of
//! Polish, Russian, Hebrew and English (inflected and prefixed forms
//! included) and not on innocent near-misses; the sales scorecard gives 100
//! to a designed good call in each language and 0 without the recording
//! announcement; every do-not-call phrase language gives a request.

mod common;

use std::path::{Path, PathBuf};

use callsift::config::PipelineFile;
use callsift::model::{HitKind, ScorecardResult, Transcript};
use callsift::rules::RuleSet;
use common::Seg;

fn pipelines_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("pipelines")
}

fn load(name: &str) -> PipelineFile {
    let path = pipelines_dir().join(format!("{name}.toml"));
    PipelineFile::load(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
}

fn rules(name: &str) -> RuleSet {
    RuleSet::new(&load(name), name).unwrap()
}

/// A stereo call in `lang`, the call as long as its last segment.
fn call(lang: &str, direction: Option<&str>, segs: &[Seg]) -> Transcript {
    let mut metadata = vec![("customer_number", "601234567")];
    if let Some(d) = direction {
        metadata.push(("direction", d));
    }
    common::written_call(
        "0123456789abcdef0123",
        lang,
        Some("2026-11-02T09:00:00Z"),
        &metadata,
        segs,
    )
}

/// One sentence said by `channel` at 0:05 of a 30 s call.
fn one(lang: &str, channel: usize, text: &str) -> Transcript {
    call(
        lang,
        None,
        &[(5_000, 9_000, channel, text), (25_000, 30_000, 0, "…")],
    )
}

/// The same sentence on a mono recording (speaker `mixed`).
fn mono(lang: &str, text: &str) -> Transcript {
    let mut t = one(lang, 0, text);
    t.channels = 1;
    for s in &mut t.segments {
        s.speaker = "mixed".into();
    }
    t
}

/// Names of the rules that fired, each once.
fn fired(rs: &RuleSet, t: &Transcript) -> Vec<String> {
    rs.judge(t).unwrap().analysis.fired_rules()
}

fn card<'a>(results: &'a [ScorecardResult], name: &str) -> &'a ScorecardResult {
    results
        .iter()
        .find(|c| c.scorecard == name)
        .unwrap_or_else(|| panic!("scorecard {name} not graded: {results:?}"))
}

/// Every criterion with its verdict and reason, for failure messages.
fn explain(c: &ScorecardResult) -> String {
    c.criteria
        .iter()
        .map(|k| {
            format!(
                "  {} {}: {}",
                if k.passed { "ok " } else { "NOT" },
                k.criterion,
                k.reason
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn is_cyrillic(c: char) -> bool {
    ('\u{0400}'..='\u{04FF}').contains(&c)
}

fn is_hebrew(c: char) -> bool {
    ('\u{05D0}'..='\u{05EA}').contains(&c)
}

fn is_polish(c: char) -> bool {
    "ąćęłńóśźżĄĆĘŁŃÓŚŹŻ".contains(c)
}

fn is_latin_phrase(p: &str) -> bool {
    p.chars().any(|c| c.is_ascii_alphabetic()) && !p.chars().any(|c| is_cyrillic(c) || is_hebrew(c))
}

#[test]
fn every_shipped_pipeline_loads() {
    let mut names = Vec::new();
    for entry in std::fs::read_dir(pipelines_dir()).unwrap() {
        let path = entry.unwrap().path();
        if path.extension().is_some_and(|e| e == "toml") {
            let p = PipelineFile::load(&path).unwrap_or_else(|e| panic!("{e}"));
            let name = path.file_stem().unwrap().to_string_lossy().into_owned();
            RuleSet::new(&p, &name).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
            names.push(name);
        }
    }
    for want in [
        "default",
        "pl-ru-he-en",
        "security",
        "sales-quality",
        "compliance",
    ] {
        assert!(
            names.iter().any(|n| n == want),
            "pipelines/{want}.toml missing: {names:?}"
        );
    }
}

#[test]
fn rule_pipelines_keep_the_four_language_settings() {
    let base = load("pl-ru-he-en");
    for name in ["security", "sales-quality", "compliance"] {
        let p = load(name);
        assert_eq!(p.whisper, base.whisper, "{name}: [whisper]");
        assert_eq!(p.speakers, base.speakers, "{name}: [speakers]");
        assert_eq!(p.vad, base.vad, "{name}: [vad]");
        assert_eq!(p.guards, base.guards, "{name}: [guards]");
        assert_eq!(p.metadata, base.metadata, "{name}: [metadata]");
        assert_eq!(p.metrics, base.metrics, "{name}: [metrics]");
        assert!(p.has_rules(), "{name}");
    }
}

#[test]
fn security_watchlists_cover_three_scripts() {
    let p = load("security");
    for name in ["trade_secrets", "private_channel", "data_leaving"] {
        let w = p
            .watchlist
            .iter()
            .find(|w| w.name.get_ref() == name)
            .unwrap_or_else(|| panic!("no watchlist {name}"));
        let phrases = w.phrases.as_ref().expect("phrases").get_ref();
        assert!(
            phrases.iter().any(|p| p.chars().any(is_cyrillic)),
            "{name}: no Cyrillic phrase"
        );
        assert!(
            phrases.iter().any(|p| p.chars().any(is_hebrew)),
            "{name}: no Hebrew phrase"
        );
        assert!(
            phrases.iter().any(|p| is_latin_phrase(p)),
            "{name}: no Latin phrase"
        );
        assert!(
            phrases.iter().any(|p| p.chars().any(is_polish)),
            "{name}: no Polish phrase"
        );
        assert_eq!(
            w.speaker.as_ref().map(|s| s.get_ref().as_str()),
            Some("any"),
            "{name}"
        );
    }
}

#[test]
fn sales_scorecard_weights_sum_to_100_with_a_critical_criterion() {
    let p = load("sales-quality");
    let card = p
        .scorecard
        .iter()
        .find(|c| c.name.get_ref() == "outbound_sales")
        .expect("scorecard outbound_sales");
    assert_eq!(
        card.direction.as_ref().map(|d| d.get_ref().as_str()),
        Some("outbound")
    );
    let total: f64 = card.criterion.iter().map(|c| *c.weight.get_ref()).sum();
    assert!((total - 100.0).abs() < 1e-9, "weights sum to {total}");
    let critical: Vec<&str> = card
        .criterion
        .iter()
        .filter(|c| c.critical)
        .map(|c| c.name.get_ref().as_str())
        .collect();
    assert_eq!(critical, ["recording_announced"]);
    let recording = card.criterion.iter().find(|c| c.critical).unwrap();
    assert_eq!(
        recording.within_first_s.as_ref().map(|s| *s.get_ref()),
        Some(30)
    );
    assert!(
        card.criterion.iter().any(|c| c.none.is_some()),
        "no `none` criterion"
    );
    assert!(
        card.criterion.iter().any(|c| c.query.is_some()),
        "no `query` criterion"
    );
    for section in [
        "greeting",
        "recording",
        "introduction",
        "needs",
        "offer",
        "next_step",
        "closing",
    ] {
        assert!(
            card.criterion.iter().any(|c| c.section == section),
            "no section {section}"
        );
    }
}

#[test]
fn compliance_has_do_not_call_in_four_languages_and_its_settings() {
    let p = load("compliance");
    assert!(!p.do_not_call.is_empty());
    let phrases: Vec<&String> = p
        .do_not_call
        .iter()
        .flat_map(|d| d.phrases.as_ref().expect("phrases").get_ref())
        .collect();
    assert!(
        phrases.iter().any(|p| p.chars().any(is_cyrillic)),
        "no Russian phrase"
    );
    assert!(
        phrases.iter().any(|p| p.chars().any(is_hebrew)),
        "no Hebrew phrase"
    );
    assert!(
        phrases.iter().any(|p| p.chars().any(is_polish)),
        "no Polish phrase"
    );
    assert!(
        phrases
            .iter()
            .any(|p| is_latin_phrase(p) && p.contains("call me")),
        "no English phrase"
    );
    assert_eq!(
        p.default_country.as_ref().map(|c| c.get_ref().as_str()),
        Some("PL")
    );
    assert!(
        p.dnc_lists.is_empty(),
        "dnc_lists is only a commented example"
    );
    let redact: Vec<&str> = p.redact.iter().map(|k| k.as_str()).collect();
    assert_eq!(redact, ["card", "iban", "pesel"]);
    let card = &p.scorecard[0];
    assert_eq!(card.criterion.len(), 1);
    assert!(card.criterion[0].critical);
}

/// (watchlist, language, sentence): each must fire on its sentence.
const SECURITY_FIRES: &[(&str, &str, &str)] = &[
    (
        "trade_secrets",
        "ru",
        "Слушай, это не телефонный разговор, давай встретимся.",
    ),
    (
        "trade_secrets",
        "ru",
        "Это информация, составляющая коммерческую тайну.",
    ),
    ("trade_secrets", "ru", "Это всё конфеденциально, понимаешь?"),
    (
        "trade_secrets",
        "pl",
        "Nie mogę zdradzić tajemnicy handlowej przez telefon.",
    ),
    ("trade_secrets", "pl", "To są dane poufne, tylko dla pana."),
    ("trade_secrets", "he", "זה חלק מהסוד המסחרי שלנו."),
    (
        "trade_secrets",
        "he",
        "אני לא יכול לדבר על זה בטלפון, זה לא לטלפון.",
    ),
    (
        "trade_secrets",
        "en",
        "This is strictly confidential, keep it to yourself.",
    ),
    (
        "trade_secrets",
        "en",
        "I can't tell you that, it's a trade secret.",
    ),
    (
        "private_channel",
        "ru",
        "Я перезвоню вам с личного мобильного телефона.",
    ),
    (
        "private_channel",
        "ru",
        "Напиши мне в телеграм, там поговорим.",
    ),
    (
        "private_channel",
        "pl",
        "Zadzwonię do pana z prywatnej komórki.",
    ),
    (
        "private_channel",
        "pl",
        "Proszę mi podać numer, oddzwonię z prywatnego telefonu.",
    ),
    ("private_channel", "he", "אני אתקשר אליך מהטלפון הפרטי שלי."),
    ("private_channel", "he", "תשלח לי הודעה בוואטסאפ."),
    (
        "private_channel",
        "en",
        "I'll call you from my personal mobile later.",
    ),
    ("private_channel", "en", "Message me on WhatsApp instead."),
    (
        "data_leaving",
        "ru",
        "Я скину вам всю базу клиентов вечером.",
    ),
    (
        "data_leaving",
        "ru",
        "Сделай выгрузку клиентов и отправь на личную почту.",
    ),
    (
        "data_leaving",
        "pl",
        "Wyślę to na prywatnego maila, tam przejrzę.",
    ),
    ("data_leaving", "pl", "Wyślę ci całą bazę klientów jutro."),
    ("data_leaving", "he", "אני אשלח לך את רשימת הלקוחות הערב."),
    ("data_leaving", "he", "אני שולח לעצמי את הקובץ."),
    (
        "data_leaving",
        "en",
        "Just send it to my private email tonight.",
    ),
    (
        "data_leaving",
        "en",
        "I'll send you the client list tomorrow.",
    ),
];

#[test]
fn security_watchlists_fire_in_every_language() {
    let rs = rules("security");
    let mut missed = Vec::new();
    for &(rule, lang, text) in SECURITY_FIRES {
        // Said by the customer: speaker = "any" hears both sides.
        for channel in [0, 1] {
            let names = fired(&rs, &one(lang, channel, text));
            if !names.iter().any(|n| n == rule) {
                missed.push(format!(
                    "{rule} [{lang}, channel {channel}] {text}: fired {names:?}"
                ));
            }
        }
    }
    assert!(missed.is_empty(), "not fired:\n{}", missed.join("\n"));
}

#[test]
fn security_watchlists_stay_quiet_on_innocent_talk() {
    let rs = rules("security");
    let innocent = [
        (
            "pl",
            "Numer mamy z naszej bazy klientów, a ofertę wyślę panu na maila.",
        ),
        (
            "pl",
            "To żadna tajemnica, cena jest na stronie, a umowę podpiszemy przez telefon.",
        ),
        (
            "ru",
            "Ваш номер есть в нашей базе клиентов, я отправлю вам предложение по почте.",
        ),
        (
            "ru",
            "Нет, по телефону будет удобнее, позвоните мне на мобильный.",
        ),
        ("he", "אתה נמצא ברשימת הלקוחות שלנו, ואשלח לך הצעה במייל."),
        ("he", "הסוד של ההצלחה שלנו הוא שירות טוב."),
        (
            "en",
            "You are in our customer database, I'll send you the offer by email.",
        ),
        (
            "en",
            "I can call you on your mobile tomorrow, is that number still right?",
        ),
    ];
    let mut noisy = Vec::new();
    for (lang, text) in innocent {
        let names = fired(&rs, &one(lang, 0, text));
        if !names.is_empty() {
            noisy.push(format!("[{lang}] {text}: fired {names:?}"));
        }
    }
    assert!(
        noisy.is_empty(),
        "fired on innocent talk:\n{}",
        noisy.join("\n")
    );
}

/// A designed good outbound sales call per language: every criterion met.
/// The second segment is the recording announcement.
fn good_sales_calls() -> Vec<(&'static str, Vec<Seg<'static>>)> {
    vec![
        (
            "pl",
            vec![
                (
                    1_000,
                    6_000,
                    0,
                    "Dzień dobry, nazywam się Anna Nowak, dzwonię z firmy Telkom.",
                ),
                (6_000, 10_000, 0, "Informuję, że rozmowa jest nagrywana."),
                (10_000, 12_000, 1, "Dzień dobry, słucham."),
                (
                    12_000,
                    20_000,
                    0,
                    "Pana numer mamy z naszej bazy, bo jest pan naszym klientem.",
                ),
                (20_000, 26_000, 0, "Ile pan płaci teraz za internet?"),
                (26_000, 30_000, 1, "Około stu złotych miesięcznie."),
                (
                    30_000,
                    40_000,
                    0,
                    "Mamy dla pana ofertę: światłowód za 59 złotych.",
                ),
                (40_000, 45_000, 1, "Brzmi dobrze, ale muszę się zastanowić."),
                (45_000, 52_000, 0, "Czy mogę zadzwonić jutro o piętnastej?"),
                (52_000, 56_000, 1, "Tak, jutro o 15:00 pasuje."),
                (56_000, 62_000, 0, "Dziękuję bardzo, do widzenia."),
            ],
        ),
        (
            "ru",
            vec![
                (
                    1_000,
                    6_000,
                    0,
                    "Здравствуйте, меня зовут Анна, звоню из компании Телеком.",
                ),
                (6_000, 10_000, 0, "Предупреждаю, что разговор записывается."),
                (10_000, 12_000, 1, "Да, слушаю."),
                (
                    12_000,
                    20_000,
                    0,
                    "Ваш номер у нас, потому что вы оставляли заявку на сайте.",
                ),
                (
                    20_000,
                    26_000,
                    0,
                    "Скажите, сколько вы платите сейчас за интернет?",
                ),
                (26_000, 30_000, 1, "Около тысячи рублей."),
                (
                    30_000,
                    40_000,
                    0,
                    "У нас есть для вас специальное предложение.",
                ),
                (40_000, 45_000, 1, "Интересно, но мне надо подумать."),
                (45_000, 52_000, 0, "Давайте я перезвоню в четверг в 10:00?"),
                (52_000, 56_000, 1, "Хорошо, давайте."),
                (56_000, 62_000, 0, "Спасибо, до свидания."),
            ],
        ),
        (
            "he",
            vec![
                (1_000, 6_000, 0, "שלום, מדברת דנה מחברת טלקום."),
                (6_000, 10_000, 0, "חשוב לי לציין שהשיחה מוקלטת."),
                (10_000, 12_000, 1, "כן, שלום."),
                (
                    12_000,
                    20_000,
                    0,
                    "קיבלנו את המספר שלך כי השארת פרטים באתר.",
                ),
                (20_000, 26_000, 0, "כמה אתה משלם היום על האינטרנט?"),
                (26_000, 30_000, 1, "בערך מאה שקל בחודש."),
                (30_000, 40_000, 0, "יש לנו הצעה מיוחדת בשבילך."),
                (40_000, 45_000, 1, "נשמע טוב, אבל אני צריך לחשוב."),
                (45_000, 52_000, 0, "אפשר לחזור אליך מחר בשעה 11?"),
                (52_000, 56_000, 1, "כן, בסדר."),
                (56_000, 62_000, 0, "תודה רבה, להתראות."),
            ],
        ),
        (
            "en",
            vec![
                (
                    1_000,
                    6_000,
                    0,
                    "Good morning, my name is John, I'm calling from Telecom.",
                ),
                (6_000, 10_000, 0, "Please note that this call is recorded."),
                (10_000, 12_000, 1, "Okay, go ahead."),
                (
                    12_000,
                    20_000,
                    0,
                    "We have your number because you signed up on our website.",
                ),
                (
                    20_000,
                    26_000,
                    0,
                    "How much do you pay for your internet now?",
                ),
                (26_000, 30_000, 1, "About forty dollars a month."),
                (30_000, 40_000, 0, "We have a special offer for you."),
                (
                    40_000,
                    45_000,
                    1,
                    "Sounds good, but I need to think about it.",
                ),
                (45_000, 52_000, 0, "Can I call you back tomorrow at 3 p.m.?"),
                (52_000, 56_000, 1, "Sure, that works."),
                (56_000, 62_000, 0, "Thank you, goodbye."),
            ],
        ),
    ]
}

#[test]
fn sales_scorecard_grades_good_calls_100_and_zero_without_the_recording_notice() {
    let rs = rules("sales-quality");
    for (lang, segs) in good_sales_calls() {
        let judged = rs.judge(&call(lang, Some("outbound"), &segs)).unwrap();
        let c = card(&judged.analysis.scorecards, "outbound_sales");
        assert_eq!(c.score, Some(100.0), "[{lang}] good call:\n{}", explain(c));

        // The same call without the announcement: the critical criterion
        // fails and zeroes the card.
        let mut without = segs.clone();
        without.remove(1);
        let judged = rs.judge(&call(lang, Some("outbound"), &without)).unwrap();
        let c = card(&judged.analysis.scorecards, "outbound_sales");
        assert_eq!(
            c.score,
            Some(0.0),
            "[{lang}] without announcement:\n{}",
            explain(c)
        );
        assert_eq!(c.critical_failed, ["recording_announced"], "[{lang}]");

        // Said too late (after the first 30 s) is as good as not said.
        let mut late = segs.clone();
        let (_, _, ch, text) = late.remove(1);
        late.insert(7, (41_000, 44_000, ch, text));
        let judged = rs.judge(&call(lang, Some("outbound"), &late)).unwrap();
        let c = card(&judged.analysis.scorecards, "outbound_sales");
        assert_eq!(
            c.score,
            Some(0.0),
            "[{lang}] late announcement:\n{}",
            explain(c)
        );
    }
}

#[test]
fn sales_scorecard_counts_pressure_and_skips_inbound_calls() {
    let rs = rules("sales-quality");
    let (lang, mut segs) = good_sales_calls().remove(0);
    segs.insert(
        7,
        (
            40_000,
            41_000,
            0,
            "To ostatnia szansa, oferta jest tylko dzisiaj!",
        ),
    );
    let judged = rs.judge(&call(lang, Some("outbound"), &segs)).unwrap();
    let c = card(&judged.analysis.scorecards, "outbound_sales");
    assert_eq!(
        c.score,
        Some(90.0),
        "pressure costs its 10 points:\n{}",
        explain(c)
    );

    let judged = rs.judge(&call(lang, Some("inbound"), &segs)).unwrap();
    assert!(
        judged.analysis.scorecards.is_empty(),
        "an inbound call is not graded"
    );
    let judged = rs.judge(&call(lang, None, &segs)).unwrap();
    assert_eq!(
        judged.analysis.scorecards.len(),
        1,
        "a call of unknown direction is graded"
    );
}

#[test]
fn compliance_hears_do_not_call_requests_in_every_language() {
    let rs = rules("compliance");
    let requests = [
        ("pl", "stop_calling", "Proszę do mnie więcej nie dzwonić."),
        (
            "pl",
            "stop_calling",
            "Nie dzwońcie do mnie więcej, bo złożę skargę!",
        ),
        (
            "pl",
            "remove_my_number",
            "Proszę usunąć mój numer z waszej bazy.",
        ),
        ("ru", "stop_calling", "Больше не звоните мне, пожалуйста."),
        ("ru", "remove_my_number", "Удалите мой номер из вашей базы."),
        ("he", "stop_calling", "אל תתקשרו אליי יותר."),
        ("he", "remove_my_number", "תוציאו אותי מהרשימה שלכם."),
        ("en", "stop_calling", "Please don't call me again."),
        ("en", "remove_my_number", "Please take me off your list."),
    ];
    let mut missed = Vec::new();
    for (lang, rule, text) in requests {
        for t in [one(lang, 1, text), mono(lang, text)] {
            let hits = rs.judge(&t).unwrap().analysis.hits;
            if !hits
                .iter()
                .any(|h| h.kind == HitKind::DncRequest && h.rule == rule)
            {
                missed.push(format!(
                    "{rule} [{lang}, {} channels] {text}: {hits:?}",
                    t.channels
                ));
            }
        }
    }
    assert!(
        missed.is_empty(),
        "no do-not-call request:\n{}",
        missed.join("\n")
    );

    // Only the customer asks: the agent reading the phrase out is no request.
    let t = one(
        "pl",
        0,
        "Jeśli pan woli, wystarczy powiedzieć: proszę więcej nie dzwonić.",
    );
    assert!(
        rs.judge(&t)
            .unwrap()
            .analysis
            .hits
            .iter()
            .all(|h| h.kind != HitKind::DncRequest)
    );

    let fine = [
        ("pl", "Proszę zadzwonić jutro po południu."),
        ("ru", "Позвоните мне завтра, пожалуйста."),
        ("he", "תתקשרו אליי מחר בבוקר."),
        ("en", "Please call me back tomorrow."),
    ];
    for (lang, text) in fine {
        let hits = rs.judge(&one(lang, 1, text)).unwrap().analysis.hits;
        assert!(
            hits.iter().all(|h| h.kind != HitKind::DncRequest),
            "[{lang}] {text}: {hits:?}"
        );
    }
}

#[test]
fn compliance_recording_notice_scores_100_or_0() {
    let rs = rules("compliance");
    for (lang, segs) in good_sales_calls() {
        let judged = rs.judge(&call(lang, Some("inbound"), &segs)).unwrap();
        let c = card(&judged.analysis.scorecards, "recording_notice");
        assert_eq!(c.score, Some(100.0), "[{lang}]:\n{}", explain(c));
        let mut without = segs.clone();
        without.remove(1);
        let judged = rs.judge(&call(lang, Some("inbound"), &without)).unwrap();
        let c = card(&judged.analysis.scorecards, "recording_notice");
        assert_eq!(c.score, Some(0.0), "[{lang}]:\n{}", explain(c));
    }
}

/// An output folder holds the findings of one pipeline's rules (`rescore`
/// replaces them), so a call center that wants all three puts their rule
/// sections into one file: their names must not clash.
#[test]
fn the_three_rule_files_combine_into_one_pipeline() {
    let mut all = load("compliance");
    all.watchlist = load("security").watchlist;
    all.scorecard.extend(load("sales-quality").scorecard);
    let problems = all.rule_problems("");
    assert!(problems.is_empty(), "{problems:?}");
    let rs = RuleSet::new(&all, "all").unwrap();
    let (lang, mut segs) = good_sales_calls().remove(0);
    segs.push((58_000, 60_000, 1, "I proszę do mnie więcej nie dzwonić."));
    segs.push((58_000, 60_000, 0, "Oddzwonię z prywatnej komórki."));
    let judged = rs
        .judge(&call(lang, Some("outbound"), &segs))
        .unwrap()
        .analysis;
    let fired = judged.fired_rules();
    assert_eq!(fired, ["private_channel", "stop_calling"]);
    let cards: Vec<(&str, Option<f64>)> = judged
        .scorecards
        .iter()
        .map(|c| (c.scorecard.as_str(), c.score))
        .collect();
    assert_eq!(
        cards,
        [
            ("recording_notice", Some(100.0)),
            ("outbound_sales", Some(100.0))
        ]
    );
}
