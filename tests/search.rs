//! The search index: matching rules in Polish, Russian, Hebrew and English
//! (each both ways), phrases across segment boundaries, filters, output
//! formats, invalid queries, the audit trail, replacement on re-import and
//! `index rebuild`. Transcripts here are written by hand (what comes after
//! transcription), through the same sinks `run` and `import` use.

mod common;

use std::path::Path;

use callsift::index::{IndexSink, SearchIndex, WriterOptions};
use callsift::model::{SearchFilters, SearchHit, SearchRequest, SearchSort, Transcript};
use callsift::sink::{Sink, TranscriptJsonSink};

use common::{Seg, written_call};

fn transcript(
    call_id: &str,
    lang: &str,
    start: Option<&str>,
    agent: Option<&str>,
    segs: &[Seg],
) -> Transcript {
    let metadata: Vec<(&str, &str)> = agent.map(|a| ("agent", a)).into_iter().collect();
    written_call(call_id, lang, start, &metadata, segs)
}

fn corpus() -> Vec<Transcript> {
    vec![
        transcript(
            "aaaa000000000000000a",
            "pl",
            Some("2026-11-02T09:00:00Z"),
            Some("101"),
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
        transcript(
            "bbbb000000000000000b",
            "ru",
            Some("2026-11-03T10:00:00Z"),
            Some("102"),
            &[
                (2_000, 5_000, 0, "Служба безопасности банка."),
                (5_500, 8_000, 1, "Нет, это не телефонный разговор."),
                (8_500, 11_000, 1, "Перезвоню с личного мобильного."),
                (11_500, 14_000, 0, "Ёлка стоит у входа, звонил Kowalski."),
            ],
        ),
        transcript(
            "cccc000000000000000c",
            "en",
            Some("2026-11-04T11:00:00Z"),
            Some("101"),
            &[
                (1_000, 3_000, 1, "We are calling about your account."),
                (3_000, 6_000, 0, "I'll call you back from my personal"),
                (6_000, 6_800, 1, "Okay."),
                (7_000, 9_000, 0, "mobile tomorrow morning."),
            ],
        ),
        transcript(
            "dddd000000000000000d",
            "he",
            Some("2026-11-05T12:00:00Z"),
            None,
            &[
                (500, 3_000, 0, "שָׁלוֹם, זה והסוד המסחרי שלנו."),
                (3_500, 6_000, 1, "אני אתקשר מהטלפון הפרטי, אמר דובר צה״ל."),
            ],
        ),
        // Typed without diacritics and with е for ё: the other direction.
        transcript(
            "eeee000000000000000e",
            "pl",
            None,
            None,
            &[(0, 2_000, 1, "zadzwonie jutro z komorki")],
        ),
        transcript(
            "ffff000000000000000f",
            "ru",
            None,
            None,
            &[(0, 2_000, 0, "елка и мобильный телефон, шалом")],
        ),
        transcript(
            "9999000000000000000e",
            "en",
            None,
            None,
            &[(0, 2_000, 0, "Just call me. שלום")],
        ),
    ]
}

fn write_corpus(out: &Path, ts: &[Transcript]) {
    let mut sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(TranscriptJsonSink::new(out).unwrap()),
        Box::new(IndexSink::open(out, &WriterOptions::default()).unwrap()),
    ];
    for t in ts {
        for s in sinks.iter_mut() {
            s.accept(t).unwrap();
        }
    }
    for s in sinks.iter_mut() {
        s.finish().unwrap();
    }
}

fn request(query: &str) -> SearchRequest {
    SearchRequest {
        query: query.into(),
        exact: false,
        filters: SearchFilters::default(),
        sort: SearchSort::Date,
        limit: 100,
        offset: 0,
    }
}

fn hits(index: &SearchIndex, req: &SearchRequest) -> Vec<SearchHit> {
    index.search(req).unwrap().hits
}

/// `call_id prefix@start_ms` of each hit, sorted.
fn places(index: &SearchIndex, query: &str) -> Vec<String> {
    let mut v: Vec<String> = hits(index, &request(query))
        .iter()
        .map(|h| format!("{}@{}", &h.call_id[..4], h.start_ms))
        .collect();
    v.sort();
    v
}

fn fixture() -> (tempfile::TempDir, SearchIndex) {
    let dir = tempfile::tempdir().unwrap();
    write_corpus(dir.path(), &corpus());
    let index = SearchIndex::open(dir.path()).unwrap();
    (dir, index)
}

#[test]
fn diacritics_fold_both_ways() {
    let (_d, ix) = fixture();
    assert_eq!(places(&ix, "zadzwonie"), ["aaaa@4500", "eeee@0"]);
    assert_eq!(places(&ix, "zadzwonię"), ["aaaa@4500", "eeee@0"]);
    assert_eq!(places(&ix, "komorki"), ["aaaa@4500", "eeee@0"]);
    // ё and е alike, both ways.
    assert_eq!(places(&ix, "елка"), ["bbbb@11500", "ffff@0"]);
    assert_eq!(places(&ix, "ёлка"), ["bbbb@11500", "ffff@0"]);
}

#[test]
fn stems_join_inflections_both_ways() {
    let (_d, ix) = fixture();
    assert_eq!(places(&ix, "мобильный"), ["bbbb@8500", "ffff@0"]);
    assert_eq!(places(&ix, "мобильного"), ["bbbb@8500", "ffff@0"]);
    assert_eq!(places(&ix, "komórka"), ["aaaa@4500", "eeee@0"]);
    assert_eq!(places(&ix, "komorka"), ["aaaa@4500", "eeee@0"]);
    assert_eq!(places(&ix, "prywatna"), ["aaaa@4500"]);
    assert_eq!(places(&ix, "calling"), ["9999@0", "cccc@1000", "cccc@3000"]);
    assert_eq!(places(&ix, "call"), ["9999@0", "cccc@1000", "cccc@3000"]);
    assert_eq!(places(&ix, "\"телефонного разговора\""), ["bbbb@5500"]);
}

#[test]
fn hebrew_prefixes_and_niqqud() {
    let (_d, ix) = fixture();
    assert_eq!(places(&ix, "סוד"), ["dddd@500"]);
    assert_eq!(places(&ix, "והסוד"), ["dddd@500"]);
    assert_eq!(places(&ix, "\"סוד מסחרי\""), ["dddd@500"]);
    assert_eq!(places(&ix, "טלפון"), ["dddd@3500"]);
    // Gershayim as typed on most keyboards (ASCII ") finds the real one.
    assert_eq!(places(&ix, "צה\"ל"), ["dddd@3500"]);
    assert_eq!(places(&ix, "\"דובר צה\"ל\""), ["dddd@3500"]);
    // Niqqud ignored both ways.
    assert_eq!(places(&ix, "שלום"), ["9999@0", "dddd@500"]);
    assert_eq!(places(&ix, "שָׁלוֹם"), ["9999@0", "dddd@500"]);
    let h = &hits(&ix, &request("סוד"))[0];
    assert_eq!(&h.text[h.highlights[0].0..h.highlights[0].1], "והסוד");
}

#[test]
fn other_language_queries_use_the_folded_field() {
    let (_d, ix) = fixture();
    let mut req = request("kowalski");
    req.filters.language = Some("ru".into());
    assert_eq!(hits(&ix, &req).len(), 1);
    // A Russian word found in a call whose language is not Russian.
    assert_eq!(places(&ix, "шалом"), ["ffff@0"]);
}

#[test]
fn exact_form_on_request() {
    let (_d, ix) = fixture();
    assert_eq!(places(&ix, "exact:komórki"), ["aaaa@4500"]);
    assert!(places(&ix, "exact:komórka").is_empty());
    assert!(places(&ix, "exact:\"zadzwonie\"").contains(&"eeee@0".to_string()));
    assert_eq!(places(&ix, "exact:\"zadzwonie\""), ["eeee@0"]);
    let mut req = request("komórka");
    req.exact = true;
    assert!(hits(&ix, &req).is_empty());
}

#[test]
fn fuzzy_prefix_slop_and_booleans() {
    let (_d, ix) = fixture();
    // A swapped pair of letters is one edit.
    assert_eq!(places(&ix, "presonal~1"), ["cccc@3000"]);
    assert!(places(&ix, "presnal~1").is_empty());
    assert_eq!(places(&ix, "presnal~2"), ["cccc@3000"]);
    assert_eq!(places(&ix, "mobil*"), ["cccc@7000"]);
    assert_eq!(places(&ix, "мобил*"), ["bbbb@8500", "ffff@0"]);
    assert_eq!(places(&ix, "\"call back\"~1"), ["cccc@3000"]);
    assert!(places(&ix, "\"call back\"").is_empty());
    assert_eq!(
        places(&ix, "tajemnica OR разговор"),
        ["aaaa@9500", "bbbb@5500"]
    );
    assert_eq!(places(&ix, "call NOT account"), ["9999@0", "cccc@3000"]);
    assert_eq!(places(&ix, "call -back -account"), ["9999@0"]);
    assert_eq!(
        places(&ix, "(komórki OR мобильного) speaker:customer"),
        ["aaaa@4500", "bbbb@8500", "eeee@0"]
    );
}

#[test]
fn phrase_across_two_segments_of_one_speaker() {
    let (_d, ix) = fixture();
    let found = hits(&ix, &request("\"personal mobile\""));
    assert_eq!(found.len(), 1, "{found:?}");
    let h = &found[0];
    assert_eq!(
        (h.start_ms, h.speaker.as_str(), h.across_segments),
        (3_000, "agent", true)
    );
    assert!(
        h.snippet.contains("my <b>personal mobile</b> tomorrow"),
        "{}",
        h.snippet
    );
    // "personal" is the last word of the 3.0–6.0 s segment: the hit's
    // moment is placed near its end, not at the segment's start.
    assert!((5_000..6_000).contains(&h.at_ms), "{}", h.at_ms);
    // The single word is found once, in its own segment: no duplicate
    // through the boundary document.
    assert_eq!(places(&ix, "mobile"), ["cccc@7000"]);
    assert_eq!(places(&ix, "personal"), ["cccc@3000"]);
    // Both words inside one segment: found there, not again across.
    assert_eq!(places(&ix, "\"prywatnej komórki\""), ["aaaa@4500"]);
    // The other speaker's "Okay." between does not join.
    assert!(places(&ix, "\"personal okay\"").is_empty());
}

#[test]
fn filters_each_narrow() {
    let (_d, ix) = fixture();
    let run = |f: &dyn Fn(&mut SearchFilters)| {
        let mut req = request("call OR komórki OR мобильного OR סוד");
        f(&mut req.filters);
        let mut v: Vec<String> = hits(&ix, &req)
            .iter()
            .map(|h| h.call_id[..4].to_string())
            .collect();
        v.sort();
        v.dedup();
        v
    };
    assert_eq!(
        run(&|_| {}),
        ["9999", "aaaa", "bbbb", "cccc", "dddd", "eeee", "ffff"]
    );
    assert_eq!(run(&|f| f.agent = Some("101".into())), ["aaaa", "cccc"]);
    assert_eq!(
        run(&|f| f.speaker = Some("customer".into())),
        ["aaaa", "bbbb", "cccc", "eeee"]
    );
    assert_eq!(run(&|f| f.language = Some("he".into())), ["dddd"]);
    assert_eq!(run(&|f| f.language = Some("he-IL".into())), ["dddd"]);
    assert_eq!(run(&|f| f.call = Some("bbbb".into())), ["bbbb"]);
    assert_eq!(
        run(&|f| {
            f.from = Some("2026-11-03T00:00:00Z".parse().unwrap());
            f.to = Some("2026-11-05T00:00:00Z".parse().unwrap());
        }),
        ["bbbb", "cccc"]
    );
}

#[test]
fn paging_sorting_and_counts() {
    let (_d, ix) = fixture();
    let mut req = request("call OR komórki OR мобильного");
    let all = ix.search(&req).unwrap();
    assert_eq!(all.total, 7);
    // Newest call first.
    assert_eq!(&all.hits[0].call_id[..4], "cccc");
    req.limit = 3;
    req.offset = 2;
    let page = ix.search(&req).unwrap();
    assert_eq!(page.total, 7);
    assert_eq!(page.hits, all.hits[2..5]);
    req.sort = SearchSort::Score;
    req.limit = 100;
    req.offset = 0;
    let by_score = ix.search(&req).unwrap();
    assert!(by_score.hits.windows(2).all(|w| w[0].score >= w[1].score));
}

#[test]
fn reimport_replaces_and_rebuild_equals_incremental() {
    let dir = tempfile::tempdir().unwrap();
    let ts = corpus();
    write_corpus(dir.path(), &ts);
    // The same calls again, one of them changed: replaced, never twice.
    let mut again = ts.clone();
    again[0].segments[1].text = "Zadzwonię jutro.".into();
    write_corpus(dir.path(), &again);
    let ix = SearchIndex::open(dir.path()).unwrap();
    assert_eq!(places(&ix, "zadzwonie"), ["aaaa@4500", "eeee@0"]);
    assert_eq!(places(&ix, "komórki"), ["eeee@0"]);
    let queries = [
        "call",
        "\"personal mobile\"",
        "zadzwonie",
        "סוד",
        "мобил*",
        "presonal~1",
    ];
    let before: Vec<Vec<String>> = queries.iter().map(|q| places(&ix, q)).collect();
    let (index, fields) = callsift::index::writer::open_or_create(dir.path()).unwrap();
    let segs = callsift::index::writer::kind_count(&index, &fields, "seg").unwrap();
    assert_eq!(segs, again.iter().map(|t| t.segments.len()).sum::<usize>());
    assert_eq!(
        callsift::index::writer::call_count(&index, &fields).unwrap(),
        again.len()
    );
    drop(ix);

    let report = callsift::index::rebuild(dir.path(), &WriterOptions::default()).unwrap();
    assert_eq!((report.calls, report.failed.len()), (again.len(), 0));
    let ix = SearchIndex::open(dir.path()).unwrap();
    let after: Vec<Vec<String>> = queries.iter().map(|q| places(&ix, q)).collect();
    assert_eq!(before, after);
    assert_eq!(
        callsift::index::writer::kind_count(&index, &fields, "seg").unwrap(),
        segs
    );
}

#[test]
fn a_crash_before_commit_is_caught_up_on_open() {
    let dir = tempfile::tempdir().unwrap();
    let ts = corpus();
    // The transcript is written, the index never committed (as after a SIGKILL).
    let mut tj = TranscriptJsonSink::new(dir.path()).unwrap();
    for t in &ts {
        tj.accept(t).unwrap();
    }
    {
        let mut w = callsift::index::IndexWriterHandle::open(dir.path(), &WriterOptions::default())
            .unwrap();
        w.commit().unwrap();
    }
    // That open caught up on every call from its transcript.
    let ix = SearchIndex::open(dir.path()).unwrap();
    assert_eq!(places(&ix, "zadzwonie"), ["aaaa@4500", "eeee@0"]);
}

#[test]
fn commits_are_batched_not_per_call() {
    let dir = tempfile::tempdir().unwrap();
    let ts = corpus();
    let mut sink = IndexSink::open(dir.path(), &WriterOptions::default()).unwrap();
    for t in &ts {
        sink.accept(t).unwrap();
    }
    // Accepted, not yet committed: a reader sees nothing yet.
    let ix = SearchIndex::open(dir.path()).unwrap();
    assert!(places(&ix, "zadzwonie").is_empty());
    sink.finish().unwrap();
    ix.reload().unwrap();
    assert_eq!(places(&ix, "zadzwonie"), ["aaaa@4500", "eeee@0"]);
}

#[test]
fn an_index_of_an_older_version_is_rebuilt_by_the_next_run() {
    let dir = tempfile::tempdir().unwrap();
    let mut tj = TranscriptJsonSink::new(dir.path()).unwrap();
    let mut sink = IndexSink::open(dir.path(), &WriterOptions::default()).unwrap();
    for t in &corpus() {
        tj.accept(t).unwrap();
        sink.accept(t).unwrap();
    }
    sink.finish().unwrap();
    // As an older callsift left it.
    let version = dir.path().join("index/callsift-index.json");
    std::fs::write(&version, "{\"schema\": \"callsift.index/1\"}\n").unwrap();
    assert!(
        SearchIndex::open(dir.path()).is_ok(),
        "same fields, old tag"
    );
    assert!(
        callsift::index::IndexWriterHandle::open(dir.path(), &WriterOptions::default()).is_err()
    );
    let mut sink = IndexSink::open(dir.path(), &WriterOptions::default()).unwrap();
    sink.finish().unwrap();
    assert!(
        std::fs::read_to_string(&version)
            .unwrap()
            .contains("callsift.index/2")
    );
    let ix = SearchIndex::open(dir.path()).unwrap();
    assert_eq!(places(&ix, "zadzwonie"), ["aaaa@4500", "eeee@0"]);
    let aside = std::fs::read_dir(dir.path())
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("index.broken"))
        .count();
    assert_eq!(aside, 0, "the old index is not kept beside the new one");
}
