//! The Parquet tables `OUT/parquet/`: what is written (layout, types,
//! compression, modes), read back by `read_calls` and by the `parquet`
//! crate itself; replacement of a call in its partition and across
//! partitions; compaction into one part per partition; interrupted commits
//! (rolled forward from the journal, or discarded without one), with and
//! without `RENAME_EXCHANGE`; the writer's lock; `rebuild` against
//! incremental commits; the sink's catch-up from `OUT/tables.pending`.
//! Rows are built by hand; the transcript tests go through
//! `callsift::analyze` like `run` does.

use std::collections::BTreeMap;
use std::fs::File;
use std::path::{Path, PathBuf};

use arrow_schema::{DataType, TimeUnit};
use callsift::analyze::MetricsSettings;
use callsift::model::{
    CallMetrics, CallRow, MetricsSource, Segment, SegmentRow, TABLES_SCHEMA_VERSION,
    TRANSCRIPT_SCHEMA, Transcript,
};
use callsift::sink::{Sink, TranscriptJsonSink};
use callsift::tables::{
    self, CallRows, FailPoint, TablesOptions, TablesSink, TablesWriter, read_calls, read_segments,
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
        assert_eq!(mode(&path), 0o600);
        assert_eq!(mode(&pdir), 0o700);
        assert_eq!(mode(&tables::tables_dir(out)), 0o700);
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
        assert!(["calls", "segments"].contains(&parts[0]), "{path}");
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
        assert_eq!(mode & 0o777, 0o600);
    }
}
