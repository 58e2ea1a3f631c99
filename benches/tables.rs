//! `cargo bench --bench tables`: writing the Parquet tables `OUT/parquet/`
//! for synthetic calls.
//!
//! Generates `CALLSIFT_BENCH_CALLS` calls (10^5 by default) of 20
//! segments each over 30 days, in `call_start` order (as a run over a dated
//! archive delivers them), with Zipf-ish Polish and English words. Rows are
//! built directly, not through `callsift::analyze`, so only the tables are
//! measured. Then, timed: a rebuild from the in-memory rows (one swap of
//! `OUT/parquet`); the same from synthetic transcripts built from those
//! rows (talk spans included), through `callsift::analyze`; incremental commits of 500 calls into empty tables (each
//! rewrites the partitions it touches); one commit of 500 calls spread over
//! every date (the worst case: every partition rewritten); reading the
//! `call_id` column of the whole table (what each commit needs) and
//! `read_calls`. Prints calls/s, segments/s, bytes per call and files per
//! partition. Work folder `target/bench-tables/`, removed at the end unless
//! `CALLSIFT_BENCH_KEEP=1`.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use std::collections::BTreeMap;

use callsift::analyze::MetricsSettings;
use callsift::model::{
    CallMetrics, CallRow, ChannelSpeech, MetricsSource, Segment, SegmentRow, SpeechSpan,
    TABLES_SCHEMA_VERSION, TRANSCRIPT_SCHEMA, Transcript,
};
use callsift::tables::{self, CallRows, TablesOptions, TablesWriter};

const SEGMENTS_PER_CALL: u32 = 20;
const DAYS: u64 = 30;
const BATCH: usize = 500;

const WORDS: &str = "
the i you to a and it that is of in we for your on this be have my me with do not
just so what yes no okay are was will would at all if there they get about call like
number account here one know please thank thanks sure right well now could help see
payment card bank phone mobile personal called calling customer service support order
delivery address email details problem issue question minute moment name code transfer
nie się to w i na jest że z do tak co ja pan pani mi jak ale o czy już mnie tylko może
proszę dobrze bardzo dziękuję jeszcze teraz wszystko tutaj tam po od przez dla za być
telefon numer konto karta rachunek faktura płatność opłata umowa zamówienie przesyłka
";

/// A small deterministic generator (xorshift64*): the same calls every run.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// Roughly Zipf: small ranks much more often.
    fn zipf(&mut self, n: usize) -> usize {
        let u = (self.next() >> 11) as f64 / (1u64 << 53) as f64;
        ((n as f64).powf(u) as usize).saturating_sub(1).min(n - 1)
    }
}

fn call_rows(i: u64, n: u64, words: &[&str], rng: &mut Rng) -> CallRows {
    let call_id = format!(
        "{:016x}{:04x}",
        i.wrapping_mul(0x9e37_79b9_7f4a_7c15),
        i % 0xffff
    );
    // Spread evenly over DAYS days, in order.
    let secs = 1_793_577_600 + (i * DAYS * 86_400) / n;
    let call_start = Some(jiff::Timestamp::from_second(secs as i64).unwrap());
    let mut t = 0;
    let segments: Vec<SegmentRow> = (0..SEGMENTS_PER_CALL)
        .map(|seg_no| {
            let len = 4 + rng.next() % 12;
            let text: Vec<&str> = (0..len).map(|_| words[rng.zipf(words.len())]).collect();
            let start_ms = t;
            t += 1500 + rng.next() % 4000;
            SegmentRow {
                call_id: call_id.clone(),
                call_start,
                seg_no,
                speaker: if seg_no % 2 == 0 { "agent" } else { "customer" }.into(),
                channel: seg_no % 2,
                start_ms,
                end_ms: t,
                language: if i.is_multiple_of(3) { "en" } else { "pl" }.into(),
                text: text.join(" "),
                avg_logprob: -((rng.next() % 1000) as f32) / 1000.0,
                no_speech_prob: (rng.next() % 100) as f32 / 1000.0,
                words: len as u32,
            }
        })
        .collect();
    let call = CallRow {
        call_id: call_id.clone(),
        source_path: format!("/recordings/2026/{call_id}.wav"),
        content_hash: format!("blake3:{call_id}{call_id}{call_id}"),
        call_start,
        duration_ms: t + 2000,
        channels: 2,
        sample_rate_hz: 8000,
        codec: "pcm_mulaw".into(),
        agent_id: Some(format!("{}", 100 + i % 50)),
        customer_number: Some(format!("+48600{:06}", i % 1_000_000)),
        direction: Some(
            if i.is_multiple_of(2) {
                "inbound"
            } else {
                "outbound"
            }
            .into(),
        ),
        campaign: i.is_multiple_of(4).then(|| "winback".into()),
        queue: Some(format!("q{}", i % 7)),
        languages: vec![if i.is_multiple_of(3) { "en" } else { "pl" }.into()],
        language_agent: Some("pl".into()),
        language_customer: Some("pl".into()),
        metrics: CallMetrics {
            source: MetricsSource::Vad,
            talk_ms: t * 8 / 10,
            talk_ms_agent: Some(t / 2),
            talk_ms_customer: Some(t * 4 / 10),
            silence_ms: t / 5,
            overlap_ms: Some(t / 10),
            interruptions_agent: Some((i % 5) as u32),
            interruptions_customer: Some((i % 3) as u32),
            longest_monologue_ms_agent: Some(t / 6),
            longest_monologue_ms_customer: Some(t / 8),
            words: u64::from(segments.iter().map(|s| s.words).sum::<u32>()),
            words_agent: Some(100),
            words_customer: Some(80),
            wpm_agent: Some(150.0 + (i % 30) as f64),
            wpm_customer: Some(140.0),
            talk_ratio_agent: Some(0.55),
            mean_avg_logprob: Some(-0.3),
        },
        segments: SEGMENTS_PER_CALL,
        model: "ggml-large-v3-turbo-q5_0.bin".into(),
        pipeline: "default".into(),
        processed_at: call_start,
        processing_ms: Some(4000 + i % 1000),
        metadata_json: format!(
            r#"{{"agent_id":"{}","direction":"inbound","queue":"q{}"}}"#,
            100 + i % 50,
            i % 7
        ),
        metadata_source_json:
            r#"{"agent_id":"filename:asterisk","call_start":"filename:asterisk"}"#.into(),
        warnings: 0,
        schema_version: TABLES_SCHEMA_VERSION,
    };
    // No rules in this benchmark: hits and scores stay empty, as in a run
    // without a rules section.
    CallRows {
        call,
        segments,
        hits: Vec::new(),
        scores: Vec::new(),
    }
}

fn generate(n: u64) -> Vec<CallRows> {
    let words: Vec<&str> = WORDS.split_whitespace().collect();
    let mut rng = Rng(0x5eed_1234_abcd_ef01);
    (0..n).map(|i| call_rows(i, n, &words, &mut rng)).collect()
}

/// Bytes of all part files, and the most files of one table's partition.
fn disk(out: &Path) -> (u64, usize, usize) {
    let (mut bytes, mut partitions, mut most) = (0, 0, 0);
    for table in ["calls", "segments"] {
        for p in std::fs::read_dir(tables::table_dir(out, table)).unwrap() {
            let p = p.unwrap().path();
            let files: Vec<_> = std::fs::read_dir(&p)
                .unwrap()
                .map(|f| f.unwrap().path())
                .collect();
            bytes += files
                .iter()
                .map(|f| f.metadata().unwrap().len())
                .sum::<u64>();
            partitions += 1;
            most = most.max(files.len());
        }
    }
    (bytes, partitions, most)
}

/// One result: `calls`/`segments` written in `took`; bytes per call of the
/// whole table (`table_calls` calls) as it is on disk afterwards.
fn line(what: &str, calls: usize, segments: usize, took: Duration, out: &Path, table_calls: usize) {
    let s = took.as_secs_f64();
    let (bytes, partitions, most) = disk(out);
    println!(
        "{what:<34} {s:>7.2} s {:>9.0} calls/s {:>10.0} segments/s {:>6.0} B/call {:>3} partitions, ≤{most} file(s) each",
        calls as f64 / s,
        segments as f64 / s,
        bytes as f64 / table_calls.max(1) as f64,
        partitions,
    );
}

fn fresh(dir: &Path) -> PathBuf {
    let _ = std::fs::remove_dir_all(dir);
    std::fs::create_dir_all(dir).unwrap();
    dir.to_path_buf()
}

fn main() {
    let n: u64 = std::env::var("CALLSIFT_BENCH_CALLS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(100_000);
    let work = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-tables");
    let t = Instant::now();
    let rows = generate(n);
    let segments: usize = rows.iter().map(|r| r.segments.len()).sum();
    println!(
        "tables bench: {n} calls, {segments} segments, {DAYS} days (rows generated in {:.2} s)",
        t.elapsed().as_secs_f64()
    );
    bench_rebuild(&fresh(&work.join("rebuild")), &rows, segments);
    bench_from_transcripts(&fresh(&work.join("transcripts")), &rows, segments);
    let out = fresh(&work.join("incremental"));
    bench_incremental(&out, &rows, segments);
    bench_spread(&out, &rows);
    bench_read(&out, rows.len());
    if std::env::var("CALLSIFT_BENCH_KEEP").as_deref() != Ok("1") {
        let _ = std::fs::remove_dir_all(&work);
    }
}

fn bench_rebuild(out: &Path, rows: &[CallRows], segments: usize) {
    let mut w = TablesWriter::open(out, TablesOptions::default()).unwrap();
    let t = Instant::now();
    w.rebuild_from(rows.iter().cloned()).unwrap();
    let took = t.elapsed();
    line(
        "rebuild from in-memory rows",
        rows.len(),
        segments,
        took,
        out,
        rows.len(),
    );
}

/// A transcript with the rows' segments and talk spans (each segment's
/// time less 200 ms at both ends), so the metrics are really computed.
fn transcript_of(rows: &CallRows) -> Transcript {
    let c = &rows.call;
    let segments: Vec<Segment> = rows
        .segments
        .iter()
        .map(|s| Segment {
            start_ms: s.start_ms,
            end_ms: s.end_ms,
            channel: s.channel as usize,
            speaker: s.speaker.clone(),
            language: s.language.clone(),
            text: s.text.clone(),
            avg_logprob: s.avg_logprob,
            no_speech_prob: s.no_speech_prob,
        })
        .collect();
    let speech = ["agent", "customer"]
        .iter()
        .enumerate()
        .map(|(channel, speaker)| ChannelSpeech {
            channel,
            speaker: speaker.to_string(),
            spans: Vec::new(),
            talk: Some(
                segments
                    .iter()
                    .filter(|s| s.channel == channel)
                    .map(|s| SpeechSpan {
                        start_ms: s.start_ms + 200,
                        end_ms: s.end_ms.saturating_sub(200).max(s.start_ms + 200),
                    })
                    .collect(),
            ),
        })
        .collect();
    Transcript {
        schema: TRANSCRIPT_SCHEMA.into(),
        call_id: c.call_id.clone(),
        source_path: c.source_path.clone(),
        content_hash: c.content_hash.clone(),
        call_start: c.call_start,
        duration_ms: c.duration_ms,
        channels: 2,
        sample_rate_hz: 8000,
        codec: c.codec.clone(),
        metadata: serde_json::from_str(&c.metadata_json).unwrap(),
        metadata_source: serde_json::from_str(&c.metadata_source_json).unwrap(),
        model: c.model.clone(),
        languages: BTreeMap::from([
            ("agent".into(), "pl".into()),
            ("customer".into(), "pl".into()),
        ]),
        segments,
        speech,
        warnings: Vec::new(),
        pipeline: c.pipeline.clone(),
        processed_at: c.processed_at,
        processing_ms: c.processing_ms,
        analysis: None,
    }
}

/// What `tables rebuild` and the sink do per call, minus reading the
/// JSON file: transcript → metrics and rows (`callsift::analyze`), then
/// the tables written in one rebuild.
fn bench_from_transcripts(out: &Path, rows: &[CallRows], segments: usize) {
    let transcripts: Vec<Transcript> = rows.iter().map(transcript_of).collect();
    let settings = MetricsSettings::default();
    let t = Instant::now();
    let built: Vec<CallRows> = transcripts
        .iter()
        .map(|t| CallRows::of(t, &settings))
        .collect();
    let analyzed = t.elapsed();
    let mut w = TablesWriter::open(out, TablesOptions::default()).unwrap();
    w.rebuild_from(built).unwrap();
    let took = t.elapsed();
    line(
        "transcripts → metrics → tables",
        rows.len(),
        segments,
        took,
        out,
        rows.len(),
    );
    println!(
        "{:<34} of which metrics and rows: {:.2} s ({:.0} calls/s)",
        "",
        analyzed.as_secs_f64(),
        rows.len() as f64 / analyzed.as_secs_f64()
    );
}

fn bench_incremental(out: &Path, rows: &[CallRows], segments: usize) {
    let mut w = TablesWriter::open(out, TablesOptions::default()).unwrap();
    let (t, mut slowest) = (Instant::now(), Duration::ZERO);
    for batch in rows.chunks(BATCH) {
        let c = Instant::now();
        w.commit(batch).unwrap();
        slowest = slowest.max(c.elapsed());
    }
    let took = t.elapsed();
    let what = format!("incremental, commits of {BATCH}");
    line(&what, rows.len(), segments, took, out, rows.len());
    let commits = rows.len().div_ceil(BATCH);
    println!(
        "{:<34} {commits} commits, {:.0} ms mean, {:.0} ms slowest",
        "",
        took.as_secs_f64() * 1000.0 / commits as f64,
        slowest.as_secs_f64() * 1000.0
    );
}

/// 500 calls from all over the month processed again: every partition of
/// both tables is rewritten (the worst case of one commit).
fn bench_spread(out: &Path, rows: &[CallRows]) {
    let mut w = TablesWriter::open(out, TablesOptions::default()).unwrap();
    let step = (rows.len() / BATCH).max(1);
    let spread: Vec<CallRows> = rows.iter().step_by(step).take(BATCH).cloned().collect();
    let segments = spread.iter().map(|r| r.segments.len()).sum();
    let t = Instant::now();
    w.commit(&spread).unwrap();
    let took = t.elapsed();
    line(
        "one commit of 500, every date",
        spread.len(),
        segments,
        took,
        out,
        rows.len(),
    );
}

fn bench_read(out: &Path, calls: usize) {
    let t = Instant::now();
    let ids = TablesWriter::open(out, TablesOptions::default())
        .unwrap()
        .call_ids()
        .unwrap();
    let ids_took = t.elapsed();
    let t = Instant::now();
    let rows = tables::read_calls(out).unwrap();
    println!(
        "{:<34} call_id column: {:.0} ms; read_calls: {:.0} ms",
        format!("reading {} calls back", ids.len()),
        ids_took.as_secs_f64() * 1000.0,
        t.elapsed().as_secs_f64() * 1000.0
    );
    assert_eq!((ids.len(), rows.len()), (calls, calls));
}
