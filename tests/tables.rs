//! The Parquet tables `OUT/parquet/`: what is written (layout, types,
//! compression, modes), read back by `read_calls` and by the `parquet`
//! crate itself; replacement of a call in its partition and across
//! partitions; compaction into one part per partition; interrupted commits
//! (rolled forward from the journal, or discarded without one), with and
//! without `RENAME_EXCHANGE`; the writer's lock; `rebuild` against
//! incremental commits; the sink's catch-up from `OUT/tables.pending`;
//! the `hits` and `scores` tables of transcripts with an `analysis` block
//! (round trip, replacement with their call, rebuild = incremental).
//! Rows are built by hand; the transcript tests go through
//! `callsift::analyze` like `run` does.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_schema::{DataType, TimeUnit};
use callsift::analyze::MetricsSettings;
use callsift::model::{
    CallAnalysis, CallMetrics, CallRow, CriterionResult, HitKind, HitRow, MetricsSource, RuleHit,
    ScoreRow, ScorecardResult, Segment, SegmentRow, Severity, TABLES_SCHEMA_VERSION,
    TRANSCRIPT_SCHEMA, Transcript,
};
use callsift::sink::{Sink, TranscriptJsonSink};
use callsift::tables::{
    self, CallRows, FailPoint, TablesOptions, TablesSink, TablesWriter, read_calls, read_hits,
    read_scores, read_segments,
};
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::file::reader::{FileReader, SerializedFileReader};

const DAY1: &str = "2026-11-02T09:00:00Z";
const DAY2: &str = "2026-11-03T23:59:59.5Z";

fn ts(s: &str) -> jiff::Timestamp {
    s.parse().unwrap()
}

/// A call with `segs` segments; `tag` goes into texts and the model name
/// so a replaced version is told apart from the old one.
fn rows(id: &str, start: Option<&str>, segs: u32, tag: &str) -> CallRows {
    let call_start = start.map(ts);
    let segments = (0..segs)
        .map(|n| SegmentRow {
            call_id: id.into(),
            call_start,
            seg_no: n,
            speaker: if n % 2 == 0 { "agent" } else { "customer" }.into(),
            channel: n % 2,
            start_ms: u64::from(n) * 1000,
            end_ms: u64::from(n) * 1000 + 900,
            language: "pl".into(),
            text: format!("{tag} segment {n} of {id}: Dzień dobry"),
            avg_logprob: -0.25,
            no_speech_prob: 0.01,
            words: 6,
        })
        .collect();
    CallRows {
        call: CallRow {
            call_id: id.into(),
            source_path: format!("/rec/{id}.wav"),
            content_hash: format!("blake3:{id}"),
            call_start,
            duration_ms: 61_000,
            channels: 2,
            sample_rate_hz: 8000,
            codec: "pcm_mulaw".into(),
            agent_id: Some("101".into()),
            customer_number: None,
            direction: Some("inbound".into()),
            campaign: None,
            queue: Some("sales".into()),
            languages: vec!["en".into(), "pl".into()],
            language_agent: Some("pl".into()),
            language_customer: None,
            metrics: CallMetrics {
                source: MetricsSource::Segments,
                talk_ms: 50_000,
                talk_ms_agent: Some(30_000),
                talk_ms_customer: Some(20_000),
                silence_ms: 11_000,
                overlap_ms: None,
                interruptions_agent: Some(1),
                interruptions_customer: Some(0),
                longest_monologue_ms_agent: Some(12_000),
                longest_monologue_ms_customer: None,
                words: 140,
                words_agent: Some(80),
                words_customer: Some(60),
                wpm_agent: Some(160.5),
                wpm_customer: None,
                talk_ratio_agent: Some(0.6),
                mean_avg_logprob: Some(-0.25),
            },
            segments: segs,
            model: format!("model-{tag}"),
            pipeline: "test".into(),
            processed_at: Some(ts("2026-11-05T10:00:00.123456Z")),
            processing_ms: Some(1234),
            metadata_json: r#"{"agent_id":"101","direction":"inbound"}"#.into(),
            metadata_source_json: r#"{"agent_id":"filename:asterisk"}"#.into(),
            warnings: 1,
            schema_version: TABLES_SCHEMA_VERSION,
        },
        segments,
        hits: Vec::new(),
        scores: Vec::new(),
    }
}

fn small() -> TablesOptions {
    TablesOptions {
        commit_every_calls: 2,
        ..TablesOptions::default()
    }
}

fn open(out: &Path) -> TablesWriter {
    TablesWriter::open(out, TablesOptions::default()).unwrap()
}

fn with(fail_point: Option<FailPoint>, no_exchange: bool) -> TablesOptions {
    TablesOptions {
        fail_point,
        no_exchange,
        ..TablesOptions::default()
    }
}

/// `call_id model` of every calls row, in read order.
fn calls_of(out: &Path) -> Vec<String> {
    read_calls(out)
        .unwrap()
        .iter()
        .map(|c| format!("{} {}", c.call_id, c.model))
        .collect()
}

/// Part files of one partition of one table.
fn parts(out: &Path, table: &str, partition: &str) -> Vec<String> {
    let dir = tables::table_dir(out, table).join(partition);
    let mut v: Vec<String> = match std::fs::read_dir(&dir) {
        Ok(rd) => rd
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect(),
        Err(_) => Vec::new(),
    };
    v.sort();
    v
}

/// Every path under `OUT/parquet`, relative, sorted.
fn tree(out: &Path) -> Vec<String> {
    let root = tables::tables_dir(out);
    let mut v: Vec<String> = walkdir::WalkDir::new(&root)
        .min_depth(1)
        .into_iter()
        .map(|e| {
            let e = e.unwrap();
            e.path()
                .strip_prefix(&root)
                .unwrap()
                .to_string_lossy()
                .into_owned()
        })
        .collect();
    v.sort();
    v
}

fn staging(out: &Path) -> Vec<PathBuf> {
    match std::fs::read_dir(out.join(".tables-staging")) {
        Ok(rd) => rd.map(|e| e.unwrap().path()).collect(),
        Err(_) => Vec::new(),
    }
}

#[test]
fn writes_partitions_and_reads_back_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let batch = vec![
        rows("b2", Some(DAY2), 3, "v1"),
        rows("a1", Some(DAY1), 2, "v1"),
        rows("n0", None, 1, "v1"),
        rows("a0", Some(DAY1), 0, "v1"),
    ];
    let report = open(out).commit(&batch).unwrap();
    assert_eq!((report.calls, report.segments), (4, 6));
    // Day 1, day 2, then the default partition; by call_start, call_id inside.
    let mut want: Vec<CallRow> = [1, 3, 0, 2]
        .iter()
        .map(|&i| batch[i].call.clone())
        .collect();
    want[0..2].sort_by(|a, b| a.call_id.cmp(&b.call_id));
    assert_eq!(read_calls(out).unwrap(), want);
    let segs = read_segments(out).unwrap();
    assert_eq!(segs.len(), 6);
    assert_eq!(segs[0..2], batch[1].segments[..]);
    assert_eq!(segs[2..5], batch[0].segments[..]);
    let t = tree(out);
    for p in [
        "calls/date=2026-11-02",
        "calls/date=2026-11-03",
        "calls/date=__HIVE_DEFAULT_PARTITION__",
        "segments/date=2026-11-02",
        "segments/date=2026-11-03",
        "segments/date=__HIVE_DEFAULT_PARTITION__",
    ] {
        assert!(t.contains(&p.to_string()), "{p} missing in {t:?}");
        assert_eq!(
            parts(
                out,
                &p[..p.find('/').unwrap()],
                &p[p.find('/').unwrap() + 1..]
            )
            .len(),
            1
        );
    }
}

#[test]
fn the_parquet_crate_reads_the_files_as_documented() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    open(out)
        .commit(&[rows("a1", Some(DAY1), 2, "v1")])
        .unwrap();
    let pdir = tables::table_dir(out, "calls").join("date=2026-11-02");
    let name = &parts(out, "calls", "date=2026-11-02")[0];
    assert!(
        name.starts_with("part-") && name.ends_with("-0.parquet"),
        "{name}"
    );
    let path = pdir.join(name);

    let reader = SerializedFileReader::new(File::open(&path).unwrap()).unwrap();
    let meta = reader.metadata();
    assert_eq!(meta.file_metadata().num_rows(), 1);
    let col = meta.row_group(0).column(0);
    assert!(matches!(
        col.compression(),
        parquet::basic::Compression::ZSTD(_)
    ));
    let schema = meta.file_metadata().schema_descr();
    let names: Vec<&str> = schema
        .columns()
        .iter()
        .map(|c| c.path().parts()[0].as_str())
        .collect();
    assert_eq!(
        names[..4],
        ["call_id", "source_path", "content_hash", "call_start"]
    );
    assert_eq!(*names.last().unwrap(), "schema_version");
    assert!(
        !names.contains(&"date"),
        "the partition column is not in the files"
    );

    let builder = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
    let arrow = builder.schema().clone();
    assert_eq!(arrow.fields(), tables::schema::calls_schema().fields());
    assert_eq!(arrow.metadata()["callsift.table"], "calls");
    assert_eq!(arrow.metadata()["callsift.schema_version"], "1");
    let f = |n: &str| arrow.field_with_name(n).unwrap().clone();
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    assert_eq!(f("call_start").data_type(), &utc);
    assert_eq!(f("processed_at").data_type(), &utc);
    assert_eq!(f("duration_ms").data_type(), &DataType::Int64);
    assert_eq!(f("channels").data_type(), &DataType::Int32);
    assert!(f("agent_id").is_nullable() && !f("call_id").is_nullable());
    let batch = builder.build().unwrap().next().unwrap().unwrap();
    let ids = batch
        .column(0)
        .as_any()
        .downcast_ref::<arrow_array::StringArray>()
        .unwrap();
    assert_eq!(ids.value(0), "a1");

    let segs = tables::table_dir(out, "segments").join("date=2026-11-02");
    let seg_file = segs.join(&parts(out, "segments", "date=2026-11-02")[0]);
    let b = ParquetRecordBatchReaderBuilder::try_new(File::open(seg_file).unwrap()).unwrap();
    assert_eq!(
        b.schema().fields(),
        tables::schema::segments_schema().fields()
    );
    assert_eq!(b.metadata().file_metadata().num_rows(), 2);

    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = |p: &Path| std::fs::metadata(p).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode(&path), 0o640);
        assert_eq!(mode(&pdir), 0o750);
        assert_eq!(mode(&tables::tables_dir(out)), 0o750);
    }
}

#[test]
fn a_call_committed_again_replaces_its_rows_in_the_same_partition() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let mut w = open(out);
    w.commit(&[
        rows("a1", Some(DAY1), 4, "v1"),
        rows("a2", Some(DAY1), 1, "v1"),
    ])
    .unwrap();
    w.commit(&[rows("a1", Some(DAY1), 2, "v2")]).unwrap();
    assert_eq!(calls_of(out), ["a1 model-v2", "a2 model-v1"]);
    let segs = read_segments(out).unwrap();
    let a1: Vec<&str> = segs
        .iter()
        .filter(|s| s.call_id == "a1")
        .map(|s| &s.text[..2])
        .collect();
    assert_eq!(a1, ["v2", "v2"]);
    assert_eq!(segs.len(), 3);
}

#[test]
fn a_call_whose_date_changed_moves_partition_and_is_there_once() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let mut w = open(out);
    w.commit(&[
        rows("a1", Some(DAY1), 2, "v1"),
        rows("k", Some(DAY1), 1, "v1"),
    ])
    .unwrap();
    w.commit(&[rows("m", Some(DAY2), 1, "v1")]).unwrap();
    w.commit(&[rows("a1", Some(DAY2), 3, "v2")]).unwrap();
    assert_eq!(calls_of(out), ["k model-v1", "a1 model-v2", "m model-v1"]);
    assert_eq!(read_segments(out).unwrap().len(), 5);
    // The only call of a partition moving out removes the partition.
    w.commit(&[rows("k", None, 1, "v2")]).unwrap();
    assert!(parts(out, "calls", "date=2026-11-02").is_empty());
    assert!(parts(out, "segments", "date=2026-11-02").is_empty());
    assert!(
        !tables::table_dir(out, "calls")
            .join("date=2026-11-02")
            .exists()
    );
    assert_eq!(calls_of(out), ["a1 model-v2", "m model-v1", "k model-v2"]);
    // A fresh writer (no cache) finds them too.
    drop(w);
    open(out)
        .commit(&[rows("a1", Some(DAY1), 1, "v3")])
        .unwrap();
    assert_eq!(calls_of(out), ["a1 model-v3", "m model-v1", "k model-v2"]);
}

#[test]
fn many_commits_into_one_partition_leave_one_part_per_table() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let mut w = open(out);
    for i in 0..20 {
        w.commit(&[rows(&format!("c{i:02}"), Some(DAY1), 2, "v1")])
            .unwrap();
    }
    assert_eq!(parts(out, "calls", "date=2026-11-02").len(), 1);
    assert_eq!(parts(out, "segments", "date=2026-11-02").len(), 1);
    assert_eq!(read_calls(out).unwrap().len(), 20);
    assert_eq!(read_segments(out).unwrap().len(), 40);
    assert!(staging(out).is_empty());
}

#[test]
fn a_big_partition_is_split_into_sorted_parts() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let options = TablesOptions {
        max_rows_per_file: 3,
        row_group_rows: 2,
        ..TablesOptions::default()
    };
    let mut w = TablesWriter::open(out, options).unwrap();
    let batch: Vec<CallRows> = (0..7)
        .rev()
        .map(|i| rows(&format!("c{i}"), Some(DAY1), 1, "v1"))
        .collect();
    w.commit(&batch).unwrap();
    assert_eq!(parts(out, "calls", "date=2026-11-02").len(), 3);
    let ids: Vec<String> = read_calls(out)
        .unwrap()
        .into_iter()
        .map(|c| c.call_id)
        .collect();
    assert_eq!(ids, ["c0", "c1", "c2", "c3", "c4", "c5", "c6"]);
}

/// A commit that moves `a1` from day 1 to day 2, stopped at `fail_point`.
fn interrupted(out: &Path, fail_point: FailPoint, no_exchange: bool) {
    let mut w = TablesWriter::open(out, with(None, no_exchange)).unwrap();
    w.commit(&[
        rows("a1", Some(DAY1), 2, "v1"),
        rows("b", Some(DAY1), 1, "v1"),
    ])
    .unwrap();
    w.commit(&[rows("m", Some(DAY2), 1, "v1")]).unwrap();
    drop(w);
    let mut w = TablesWriter::open(out, with(Some(fail_point), no_exchange)).unwrap();
    assert!(w.commit(&[rows("a1", Some(DAY2), 1, "v2")]).is_err());
}

#[test]
fn a_commit_stopped_after_its_journal_is_rolled_forward_on_open() {
    for no_exchange in [false, true] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        interrupted(out, FailPoint::AfterJournal, no_exchange);
        // Readers still see the old rows; the journal waits in staging.
        assert_eq!(calls_of(out), ["a1 model-v1", "b model-v1", "m model-v1"]);
        let stage = staging(out);
        assert_eq!(stage.len(), 1);
        assert!(stage[0].join("COMMIT.json").is_file());
        drop(open(out));
        assert_eq!(calls_of(out), ["b model-v1", "a1 model-v2", "m model-v1"]);
        assert_eq!(read_segments(out).unwrap().len(), 3);
        assert!(staging(out).is_empty());
    }
}

#[test]
fn a_commit_stopped_between_swaps_is_rolled_forward_on_open() {
    for no_exchange in [false, true] {
        for swaps in 1..4 {
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path();
            interrupted(out, FailPoint::AfterSwaps(swaps), no_exchange);
            drop(open(out));
            assert_eq!(
                calls_of(out),
                ["b model-v1", "a1 model-v2", "m model-v1"],
                "after {swaps} swaps, no_exchange {no_exchange}"
            );
            assert_eq!(read_segments(out).unwrap().len(), 3);
            assert!(staging(out).is_empty());
            // Rolling forward is idempotent: a second open changes nothing.
            let before = tree(out);
            drop(open(out));
            assert_eq!(tree(out), before);
        }
    }
}

#[test]
fn a_failed_commit_is_finished_before_the_same_writer_commits_again() {
    for fail_point in [FailPoint::AfterSwaps(1), FailPoint::BeforeJournal] {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path();
        let mut w = open(out);
        w.commit(&[
            rows("a1", Some(DAY1), 2, "v1"),
            rows("b", Some(DAY1), 1, "v1"),
        ])
        .unwrap();
        w.options_mut().fail_point = Some(fail_point);
        assert!(w.commit(&[rows("a1", Some(DAY2), 1, "v2")]).is_err());
        w.options_mut().fail_point = None;
        // The next commit must not build on a half-swapped state, and the
        // next open must not replay an old journal over newer rows.
        w.commit(&[rows("b", Some(DAY2), 1, "v3")]).unwrap();
        assert!(staging(out).is_empty(), "{fail_point:?}");
        drop(w);
        drop(open(out));
        let want: &[&str] = match fail_point {
            FailPoint::BeforeJournal => &["a1 model-v1", "b model-v3"],
            _ => &["a1 model-v2", "b model-v3"],
        };
        assert_eq!(calls_of(out), want, "{fail_point:?}");
        assert_eq!(
            read_segments(out).unwrap().len(),
            if want[0].ends_with("v1") { 3 } else { 2 }
        );
    }
}

#[test]
fn a_staging_dir_without_a_journal_is_discarded_and_old_rows_stay() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    interrupted(out, FailPoint::BeforeJournal, false);
    let stage = staging(out);
    assert_eq!(stage.len(), 1);
    assert!(!stage[0].join("COMMIT.json").exists());
    let before = tree(out);
    drop(open(out));
    assert!(staging(out).is_empty());
    assert_eq!(tree(out), before);
    assert_eq!(calls_of(out), ["a1 model-v1", "b model-v1", "m model-v1"]);
}

#[test]
fn a_half_written_journal_counts_as_none() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    interrupted(out, FailPoint::AfterJournal, false);
    let journal = staging(out)[0].join("COMMIT.json");
    let text = std::fs::read_to_string(&journal).unwrap();
    std::fs::write(&journal, &text[..text.len() / 2]).unwrap();
    drop(open(out));
    assert!(staging(out).is_empty());
    assert_eq!(calls_of(out), ["a1 model-v1", "b model-v1", "m model-v1"]);
}

#[test]
fn no_temporary_or_staging_file_is_ever_under_the_tables_dir() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let mut w = open(out);
    for i in 0..6 {
        let day = if i % 2 == 0 { DAY1 } else { DAY2 };
        w.commit(&[
            rows(&format!("c{i}"), Some(day), 2, "v1"),
            rows("x", Some(day), 1, "v1"),
        ])
        .unwrap();
    }
    for path in tree(out) {
        let parts: Vec<&str> = path.split('/').collect();
        assert!(
            ["calls", "segments", "hits", "scores"].contains(&parts[0]),
            "{path}"
        );
        if let Some(p) = parts.get(1) {
            assert!(p.starts_with("date="), "{path}");
        }
        if let Some(f) = parts.get(2) {
            assert!(f.starts_with("part-") && f.ends_with(".parquet"), "{path}");
        }
        assert!(parts.len() <= 3, "{path}");
    }
    assert!(staging(out).is_empty());
}

#[test]
fn a_second_writer_is_refused_while_one_is_open() {
    let dir = tempfile::tempdir().unwrap();
    let w = open(dir.path());
    let err = TablesWriter::open(dir.path(), TablesOptions::default())
        .err()
        .unwrap();
    assert!(
        err.to_string().contains("another callsift process"),
        "{err}"
    );
    drop(w);
    open(dir.path());
}

#[test]
fn reading_tables_that_were_never_written_says_how_to_make_them() {
    let dir = tempfile::tempdir().unwrap();
    let err = read_calls(dir.path()).unwrap_err().to_string();
    assert!(err.contains("tables rebuild"), "{err}");
}

fn corpus_rows() -> Vec<CallRows> {
    (0..40)
        .map(|i| {
            let start = match i % 4 {
                0 => None,
                d => Some(format!("2026-11-0{d}T1{}:00:00Z", i % 10)),
            };
            rows(&format!("call{i:03}"), start.as_deref(), i % 5, "v1")
        })
        .collect()
}

#[test]
fn rebuild_from_rows_equals_incremental_commits_and_spills_to_stay_small() {
    let incremental = tempfile::tempdir().unwrap();
    let mut w = open(incremental.path());
    for chunk in corpus_rows().chunks(3) {
        w.commit(chunk).unwrap();
    }
    let rebuilt = tempfile::tempdir().unwrap();
    let options = TablesOptions {
        rebuild_buffer_rows: 7,
        ..TablesOptions::default()
    };
    let mut w = TablesWriter::open(rebuilt.path(), options).unwrap();
    // Over old tables with other content: the rebuild replaces them whole.
    w.commit(&[rows("gone", Some(DAY1), 2, "v0")]).unwrap();
    let report = w.rebuild_from(corpus_rows()).unwrap();
    assert_eq!(report.calls, 40);
    assert_eq!(
        read_calls(rebuilt.path()).unwrap(),
        read_calls(incremental.path()).unwrap()
    );
    assert_eq!(
        read_segments(rebuilt.path()).unwrap(),
        read_segments(incremental.path()).unwrap()
    );
    assert_eq!(tree(rebuilt.path()).len(), tree(incremental.path()).len());
    assert!(staging(rebuilt.path()).is_empty());
}

#[test]
fn a_rebuild_stopped_after_its_journal_is_rolled_forward() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    open(out)
        .commit(&[rows("gone", Some(DAY1), 2, "v0")])
        .unwrap();
    let mut w = TablesWriter::open(out, with(Some(FailPoint::AfterJournal), false)).unwrap();
    assert!(w.rebuild_from(corpus_rows()).is_err());
    drop(w);
    assert_eq!(calls_of(out), ["gone model-v0"]);
    drop(open(out));
    assert_eq!(read_calls(out).unwrap().len(), 40);
}

// --- Through transcripts and `callsift::analyze`, as `run` does. ---

/// (start_ms, end_ms, channel, text)
type Seg<'a> = (u64, u64, usize, &'a str);

fn transcript(call_id: &str, start: Option<&str>, segs: &[Seg]) -> Transcript {
    let speaker = |c: usize| if c == 0 { "agent" } else { "customer" }.to_string();
    Transcript {
        schema: TRANSCRIPT_SCHEMA.into(),
        call_id: call_id.into(),
        source_path: format!("/rec/{call_id}.wav"),
        content_hash: format!("blake3:{call_id}"),
        call_start: start.map(ts),
        duration_ms: segs.iter().map(|s| s.1).max().unwrap_or(0) + 500,
        channels: 2,
        sample_rate_hz: 8000,
        codec: "pcm_mulaw".into(),
        metadata: BTreeMap::from([("agent_id".to_string(), "101".to_string())]),
        model: "scripted".into(),
        languages: BTreeMap::from([
            ("agent".into(), "pl".into()),
            ("customer".into(), "pl".into()),
        ]),
        segments: segs
            .iter()
            .map(|&(start_ms, end_ms, channel, text)| Segment {
                start_ms,
                end_ms,
                channel,
                speaker: speaker(channel),
                language: "pl".into(),
                text: text.into(),
                avg_logprob: -0.2,
                no_speech_prob: 0.01,
            })
            .collect(),
        speech: Vec::new(),
        warnings: Vec::new(),
        metadata_source: Default::default(),
        pipeline: "test".into(),
        processed_at: Some(ts("2026-11-05T10:00:00Z")),
        processing_ms: Some(10),
        analysis: None,
    }
}

fn transcripts() -> Vec<Transcript> {
    let segs: &[Seg] = &[
        (1_000, 4_000, 0, "Dzień dobry, mówi Anna."),
        (4_500, 9_000, 1, "Zadzwonię z prywatnej komórki."),
        (9_500, 12_000, 0, "Dobrze, dziękuję."),
    ];
    (0..9)
        .map(|i| {
            let start = (i % 3 != 0).then(|| format!("2026-11-0{}T10:00:00Z", 1 + i % 3));
            transcript(
                &format!("{i:04x}000000000000000a"),
                start.as_deref(),
                &segs[..1 + i % 3],
            )
        })
        .collect()
}

fn write_through_sinks(out: &Path, ts: &[Transcript], options: TablesOptions) {
    let mut sinks: Vec<Box<dyn Sink>> = vec![
        Box::new(TranscriptJsonSink::new(out).unwrap()),
        Box::new(TablesSink::open_with(out, MetricsSettings::default(), options).unwrap()),
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

#[test]
fn rebuild_from_transcripts_equals_the_sink_and_reports_bad_ones() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let all = transcripts();
    write_through_sinks(out, &all, small());
    // Re-imported with a changed date: replaced, not added.
    let mut moved = all[1].clone();
    moved.call_start = Some(ts("2026-11-09T08:00:00Z"));
    write_through_sinks(out, &[moved], small());
    let calls = read_calls(out).unwrap();
    let segments = read_segments(out).unwrap();
    assert_eq!(calls.len(), 9);
    assert_eq!(
        calls.iter().filter(|c| c.call_id == all[1].call_id).count(),
        1
    );
    assert!(!segments.is_empty());
    assert_eq!(
        std::fs::read_to_string(out.join("tables.pending")).unwrap(),
        ""
    );

    let bad = out.join("transcripts/ffff000000000000000f.json");
    std::fs::write(&bad, "{ not json").unwrap();
    let report = tables::rebuild(out, &MetricsSettings::default()).unwrap();
    assert_eq!((report.calls, report.failed.len()), (9, 1));
    assert_eq!(report.failed[0].path, bad);
    assert!(
        report.failed[0]
            .reason
            .contains("not a callsift transcript"),
        "{:?}",
        report.failed
    );
    assert_eq!(read_calls(out).unwrap(), calls);
    assert_eq!(read_segments(out).unwrap(), segments);
}

#[test]
fn the_sink_catches_up_on_pending_calls_after_a_kill() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let all = transcripts();
    let mut json = TranscriptJsonSink::new(out).unwrap();
    let mut sink = TablesSink::open_with(out, MetricsSettings::default(), small()).unwrap();
    for t in &all[..5] {
        json.accept(t).unwrap();
        sink.accept(t).unwrap();
    }
    // Killed with one call buffered (dropped without `finish`): it is
    // listed as pending, not in the tables.
    assert_eq!(sink.buffered(), 1);
    drop(sink);
    assert_eq!(read_calls(out).unwrap().len(), 4);
    let pending = std::fs::read_to_string(out.join("tables.pending")).unwrap();
    assert_eq!(pending.trim(), all[4].call_id);
    // A transcript that never reached the pending list (a power cut).
    json.accept(&all[5]).unwrap();
    let mut sink = TablesSink::open_with(out, MetricsSettings::default(), small()).unwrap();
    assert_eq!(read_calls(out).unwrap().len(), 6);
    assert_eq!(
        std::fs::read_to_string(out.join("tables.pending")).unwrap(),
        ""
    );
    sink.finish().unwrap();
    // Tables deleted: more than a batch behind, caught up by one rebuild.
    std::fs::remove_dir_all(out.join("parquet")).unwrap();
    for t in &all[6..] {
        json.accept(t).unwrap();
    }
    drop(TablesSink::open_with(out, MetricsSettings::default(), small()).unwrap());
    assert_eq!(read_calls(out).unwrap().len(), 9);
    assert_eq!(parts(out, "calls", "date=2026-11-02").len(), 1);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(out.join("tables.pending"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o640);
    }
}

// --- `hits` and `scores`: from the transcripts' `analysis` blocks. ---

/// An analysis block: `hits` hits (the rules alternate, the starts fall,
/// so the table's order is not the block's; every third is a listed-number
/// hit without a segment), and two cards, one with criteria out of name
/// order and one where nothing applied. `tag` marks a replaced version.
fn analysis(tag: &str, hits: usize) -> CallAnalysis {
    let hit = |n: usize| {
        let listed = n % 3 == 2;
        RuleHit {
            rule: format!("rule-{}", n % 2),
            kind: if listed {
                HitKind::DncListed
            } else {
                HitKind::Watchlist
            },
            severity: [Severity::High, Severity::Low, Severity::Medium][n % 3],
            speaker: if listed { "" } else { "agent" }.into(),
            segment: (!listed).then_some(0),
            start_ms: 10_000 - 1000 * n as u64,
            end_ms: 10_500 - 1000 * n as u64,
            matched: format!("{tag} matched {n}"),
            phrase: format!("phrase {n}"),
        }
    };
    let criterion = |section: &str, name: &str, applicable: bool, passed: bool| CriterionResult {
        section: section.into(),
        criterion: name.into(),
        weight: 2.5,
        critical: name == "disclosure",
        applicable,
        passed,
        reason: format!("{tag} reason"),
        evidence_segment: passed.then_some(0),
        evidence_ms: passed.then_some(1_000),
        evidence_text: passed.then(|| format!("{tag} evidence")),
    };
    CallAnalysis {
        pipeline: "test".into(),
        hits: (0..hits).map(hit).collect(),
        scorecards: vec![
            ScorecardResult {
                scorecard: "sales".into(),
                score: Some(62.5),
                critical_failed: Vec::new(),
                criteria: vec![
                    criterion("opening", "greeting", true, true),
                    criterion("compliance", "disclosure", true, true),
                    criterion("closing", "callback", true, false),
                    criterion("closing", "another-day", false, false),
                ],
            },
            ScorecardResult {
                scorecard: "collections".into(),
                score: None,
                critical_failed: Vec::new(),
                criteria: vec![criterion("", "mini-miranda", false, false)],
            },
        ],
        redacted: BTreeMap::new(),
    }
}

fn analysed(call_id: &str, start: Option<&str>, tag: &str, hits: usize) -> Transcript {
    let mut t = transcript(
        call_id,
        start,
        &[
            (1_000, 4_000, 0, "Dzień dobry."),
            (4_500, 9_000, 1, "Słucham."),
        ],
    );
    t.metadata
        .insert("customer_number".into(), "600100200".into());
    t.analysis = Some(analysis(tag, hits));
    t
}

/// The rows of the transcripts in table order: by partition (dated ones
/// by date, then the undated), then the tables' sort keys.
fn expected_rows(ts: &[Transcript]) -> (Vec<HitRow>, Vec<ScoreRow>) {
    let mut hits: Vec<HitRow> = ts.iter().flat_map(callsift::analyze::hit_rows).collect();
    let mut scores: Vec<ScoreRow> = ts.iter().flat_map(callsift::analyze::score_rows).collect();
    hits.sort_by(|a, b| {
        let key = |r: &HitRow| {
            (
                r.call_start.is_none(),
                r.call_start,
                r.call_id.clone(),
                r.start_ms,
                r.rule.clone(),
            )
        };
        key(a).cmp(&key(b))
    });
    scores.sort_by(|a, b| {
        let key = |r: &ScoreRow| {
            (
                r.call_start.is_none(),
                r.call_start,
                r.call_id.clone(),
                r.scorecard.clone(),
                r.criterion_no,
            )
        };
        key(a).cmp(&key(b))
    });
    (hits, scores)
}

/// [`tree`] with part file names (which carry the commit id) made equal:
/// the same partitions and part counts per table.
fn shape_of(tree: &[String]) -> Vec<String> {
    let mut v: Vec<String> = tree
        .iter()
        .map(|p| match p.rsplit_once('/') {
            Some((dir, f)) if f.ends_with(".parquet") => format!("{dir}/part"),
            _ => p.clone(),
        })
        .collect();
    v.sort();
    v
}

fn shape(out: &Path) -> Vec<String> {
    shape_of(&tree(out))
}

/// `call_id matched_text` of every hits row, in read order.
fn hits_of(out: &Path) -> Vec<String> {
    read_hits(out)
        .unwrap()
        .iter()
        .map(|h| format!("{} {}", h.call_id, h.matched_text))
        .collect()
}

#[test]
fn an_analysed_transcript_gives_hits_and_scores_that_read_back_equal() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let all = vec![
        analysed("a000000000000000000a", Some(DAY1), "v1", 5),
        analysed("b000000000000000000b", None, "v1", 1),
        // No rules ran on this one: a call row, no hits, no scores.
        transcript("c000000000000000000c", Some(DAY1), &[(0, 900, 0, "Halo?")]),
    ];
    write_through_sinks(out, &all, TablesOptions::default());
    let (want_hits, want_scores) = expected_rows(&all);
    assert_eq!(want_hits.len(), 6);
    assert_eq!(want_scores.len(), 10);
    assert_eq!(read_hits(out).unwrap(), want_hits);
    assert_eq!(read_scores(out).unwrap(), want_scores);
    assert_eq!(read_calls(out).unwrap().len(), 3);
    // What the rows say, not only that they survive the trip: nulls, the
    // card's order kept, the card's score on each of its rows.
    let listed = want_hits.iter().find(|h| h.kind == "dnc_listed").unwrap();
    assert_eq!(
        (
            listed.kind.as_str(),
            listed.severity.as_str(),
            listed.seg_no
        ),
        ("dnc_listed", "medium", None)
    );
    assert_eq!(listed.customer_number.as_deref(), Some("600100200"));
    let sales: Vec<(u32, &str, Option<f64>)> = want_scores
        .iter()
        .filter(|s| s.call_id.starts_with('a') && s.scorecard == "sales")
        .map(|s| (s.criterion_no, s.criterion.as_str(), s.score))
        .collect();
    assert_eq!(
        sales,
        [
            (0, "greeting", Some(62.5)),
            (1, "disclosure", Some(62.5)),
            (2, "callback", Some(62.5)),
            (3, "another-day", Some(62.5)),
        ]
    );
    // In the call's partition, one part per table, with the documented types.
    for (table, schema) in [
        ("hits", tables::schema::hits_schema()),
        ("scores", tables::schema::scores_schema()),
    ] {
        for partition in ["date=2026-11-02", "date=__HIVE_DEFAULT_PARTITION__"] {
            assert_eq!(parts(out, table, partition).len(), 1, "{table}/{partition}");
        }
        let path = tables::table_dir(out, table)
            .join("date=2026-11-02")
            .join(&parts(out, table, "date=2026-11-02")[0]);
        let b = ParquetRecordBatchReaderBuilder::try_new(File::open(&path).unwrap()).unwrap();
        assert_eq!(b.schema().fields(), schema.fields());
        assert_eq!(b.schema().metadata()["callsift.table"], table);
        let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
        assert_eq!(
            b.schema()
                .field_with_name("call_start")
                .unwrap()
                .data_type(),
            &utc
        );
    }
    let scores = tables::schema::scores_schema();
    let ty = |n: &str| scores.field_with_name(n).unwrap().data_type().clone();
    assert_eq!(
        [ty("critical"), ty("applicable"), ty("passed")],
        [DataType::Boolean, DataType::Boolean, DataType::Boolean]
    );
    assert_eq!(
        [ty("score"), ty("weight")],
        [DataType::Float64, DataType::Float64]
    );
}

#[test]
fn replacing_a_call_replaces_its_hits_and_scores_wherever_they_were() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let settings = MetricsSettings::default();
    let of = |t: &Transcript| CallRows::of(t, &settings);
    let (a, b) = ("a000000000000000000a", "b000000000000000000b");
    let mut w = open(out);
    w.commit(&[
        of(&analysed(a, Some(DAY1), "v1", 3)),
        of(&analysed(b, Some(DAY1), "v1", 1)),
    ])
    .unwrap();
    assert_eq!(read_hits(out).unwrap().len(), 4);

    // `a` moves to day 2 with other findings: its old rows leave day 1.
    let report = w.commit(&[of(&analysed(a, Some(DAY2), "v2", 2))]).unwrap();
    assert_eq!((report.hits, report.scores), (2, 5));
    assert_eq!(
        hits_of(out),
        [
            format!("{b} v1 matched 0"),
            format!("{a} v2 matched 1"),
            format!("{a} v2 matched 0"),
        ]
    );
    let hits = read_hits(out).unwrap();
    assert!(
        hits.iter()
            .all(|h| h.call_id != a || h.call_start == Some(ts(DAY2)))
    );
    assert_eq!(parts(out, "hits", "date=2026-11-03").len(), 1);
    let scores = read_scores(out).unwrap();
    assert_eq!(scores.len(), 10);
    assert!(scores.iter().filter(|s| s.call_id == a).all(
        |s| s.call_start == Some(ts(DAY2)) && s.evidence_text.as_deref() != Some("v1 evidence")
    ));

    // Rescored: no hits any more (the scores stay). The call's old hits
    // go, and day 2's hits partition, now empty, goes with them.
    w.commit(&[of(&analysed(a, Some(DAY2), "v3", 0))]).unwrap();
    assert_eq!(hits_of(out), [format!("{b} v1 matched 0")]);
    assert!(
        !tables::table_dir(out, "hits")
            .join("date=2026-11-03")
            .exists()
    );
    assert_eq!(read_scores(out).unwrap().len(), 10);

    // No analysis at all (rules turned off): no scores either; a fresh
    // writer (no cache of where calls are) finds them just the same.
    drop(w);
    let mut plain = analysed(a, Some(DAY2), "v4", 0);
    plain.analysis = None;
    open(out).commit(&[of(&plain)]).unwrap();
    let scores = read_scores(out).unwrap();
    assert!(scores.iter().all(|s| s.call_id == b), "{scores:?}");
    assert_eq!(scores.len(), 5);
    assert!(
        !tables::table_dir(out, "scores")
            .join("date=2026-11-03")
            .exists()
    );
    assert_eq!(
        calls_of(out),
        [format!("{b} scripted"), format!("{a} scripted")]
    );

    // And back to day 1 with hits: there once, beside `b`'s.
    open(out)
        .commit(&[of(&analysed(a, Some(DAY1), "v5", 1))])
        .unwrap();
    assert_eq!(
        hits_of(out),
        [format!("{a} v5 matched 0"), format!("{b} v1 matched 0")]
    );
    assert_eq!(parts(out, "hits", "date=2026-11-02").len(), 1);
    assert!(staging(out).is_empty());
}

#[test]
fn rebuild_equals_incremental_commits_for_hits_and_scores() {
    // Through the sink (batches of 2) and `tables rebuild`: some calls
    // analysed, some not, one moved to another date and rescored.
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    let all: Vec<Transcript> = (0..9)
        .map(|i| {
            let id = format!("{i:04x}000000000000000a");
            let start = (i % 3 != 0).then(|| format!("2026-11-0{}T10:00:00Z", 1 + i % 3));
            if i % 4 == 3 {
                transcript(&id, start.as_deref(), &[(0, 900, 0, "Halo?")])
            } else {
                analysed(&id, start.as_deref(), "v1", i % 5)
            }
        })
        .collect();
    write_through_sinks(out, &all, small());
    let moved = analysed(&all[1].call_id, Some("2026-11-09T08:00:00Z"), "v2", 2);
    write_through_sinks(out, std::slice::from_ref(&moved), small());
    let (hits, scores) = (read_hits(out).unwrap(), read_scores(out).unwrap());
    let mut now = all.clone();
    now[1] = moved;
    let (want_hits, want_scores) = expected_rows(&now);
    assert_eq!(hits, want_hits);
    assert_eq!(scores, want_scores);
    let before = tree(out);
    let report = tables::rebuild(out, &MetricsSettings::default()).unwrap();
    assert_eq!((report.hits, report.scores), (hits.len(), scores.len()));
    assert_eq!(read_hits(out).unwrap(), hits);
    assert_eq!(read_scores(out).unwrap(), scores);
    assert_eq!(shape(out), shape_of(&before));

    // From rows, spilling every few rows, over old tables with other hits.
    let corpus: Vec<CallRows> = corpus_rows()
        .into_iter()
        .enumerate()
        .map(|(i, mut r)| {
            let t = analysed(&r.call.call_id, None, &format!("c{i}"), i % 4);
            r.hits = callsift::analyze::hit_rows(&t);
            r.scores = callsift::analyze::score_rows(&t);
            for h in &mut r.hits {
                h.call_start = r.call.call_start;
            }
            for s in &mut r.scores {
                s.call_start = r.call.call_start;
            }
            r
        })
        .collect();
    let incremental = tempfile::tempdir().unwrap();
    let mut w = open(incremental.path());
    for chunk in corpus.chunks(3) {
        w.commit(chunk).unwrap();
    }
    let rebuilt = tempfile::tempdir().unwrap();
    let options = TablesOptions {
        rebuild_buffer_rows: 7,
        ..TablesOptions::default()
    };
    let mut w = TablesWriter::open(rebuilt.path(), options).unwrap();
    let mut gone = rows("gone", Some(DAY1), 1, "v0");
    let t = analysed("gone", Some(DAY1), "v0", 2);
    (gone.hits, gone.scores) = (
        callsift::analyze::hit_rows(&t),
        callsift::analyze::score_rows(&t),
    );
    w.commit(&[gone]).unwrap();
    let report = w.rebuild_from(corpus.clone()).unwrap();
    let want_hits: usize = corpus.iter().map(|r| r.hits.len()).sum();
    assert_eq!(report.hits, want_hits);
    assert!(want_hits > 0);
    assert_eq!(
        read_hits(rebuilt.path()).unwrap(),
        read_hits(incremental.path()).unwrap()
    );
    assert_eq!(
        read_scores(rebuilt.path()).unwrap(),
        read_scores(incremental.path()).unwrap()
    );
    assert_eq!(shape(rebuilt.path()), shape(incremental.path()));
    assert!(staging(rebuilt.path()).is_empty());
}

#[test]
fn tables_written_before_hits_and_scores_existed_read_as_empty() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path();
    open(out)
        .commit(&[rows("a1", Some(DAY1), 1, "v1")])
        .unwrap();
    for table in ["hits", "scores"] {
        std::fs::remove_dir_all(tables::table_dir(out, table)).unwrap();
    }
    assert!(read_hits(out).unwrap().is_empty());
    assert!(read_scores(out).unwrap().is_empty());
    // Without any tables, the hint how to make them.
    let empty = tempfile::tempdir().unwrap();
    let err = read_hits(empty.path()).unwrap_err().to_string();
    assert!(err.contains("tables rebuild"), "{err}");
}
