//! The Arrow schemas of the `calls`, `segments`, `hits` and `scores`
//! tables, and the
//! conversion of rows to record batches and back. The column names, order
//! and types are a contract (people write SQL against them): change them
//! only with [`crate::model::TABLES_SCHEMA_VERSION`]. Integers are signed (Spark has no
//! unsigned types), timestamps are `Timestamp(Microsecond, "UTC")`.

use std::cmp::Ordering;
use std::sync::{Arc, LazyLock};

use arrow_array::builder::{ListBuilder, StringBuilder};
use arrow_array::{
    Array, ArrayRef, BooleanArray, Float32Array, Float64Array, Int32Array, Int64Array, ListArray,
    RecordBatch, StringArray, TimestampMicrosecondArray,
};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::model::{CallMetrics, CallRow, HitRow, MetricsSource, ScoreRow, SegmentRow};

pub const CALLS: &str = "calls";
pub const SEGMENTS: &str = "segments";
pub const HITS: &str = "hits";
pub const SCORES: &str = "scores";
/// Every table, in the order a commit stages a partition's tables.
pub const TABLES: [&str; 4] = [CALLS, SEGMENTS, HITS, SCORES];

fn ts_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn languages_field() -> Field {
    Field::new_list_field(DataType::Utf8, false)
}

/// The `calls` table's columns, in order.
pub fn calls_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        use DataType::{Float64 as F64, Int32 as I32, Int64 as I64, Utf8};
        let f = |name: &str, t: DataType, nullable: bool| Field::new(name, t, nullable);
        Arc::new(Schema::new(vec![
            f("call_id", Utf8, false),
            f("source_path", Utf8, false),
            f("content_hash", Utf8, false),
            f("call_start", ts_type(), true),
            f("duration_ms", I64, false),
            f("channels", I32, false),
            f("sample_rate_hz", I32, false),
            f("codec", Utf8, false),
            f("agent_id", Utf8, true),
            f("customer_number", Utf8, true),
            f("direction", Utf8, true),
            f("campaign", Utf8, true),
            f("queue", Utf8, true),
            f(
                "languages",
                DataType::List(Arc::new(languages_field())),
                false,
            ),
            f("language_agent", Utf8, true),
            f("language_customer", Utf8, true),
            f("talk_ms", I64, false),
            f("talk_ms_agent", I64, true),
            f("talk_ms_customer", I64, true),
            f("silence_ms", I64, false),
            f("overlap_ms", I64, true),
            f("interruptions_agent", I32, true),
            f("interruptions_customer", I32, true),
            f("longest_monologue_ms_agent", I64, true),
            f("longest_monologue_ms_customer", I64, true),
            f("words", I64, false),
            f("words_agent", I64, true),
            f("words_customer", I64, true),
            f("wpm_agent", F64, true),
            f("wpm_customer", F64, true),
            f("talk_ratio_agent", F64, true),
            f("segments", I32, false),
            f("mean_avg_logprob", F64, true),
            f("metrics_source", Utf8, false),
            f("model", Utf8, false),
            f("pipeline", Utf8, false),
            f("processed_at", ts_type(), true),
            f("processing_ms", I64, true),
            f("metadata", Utf8, false),
            f("metadata_source", Utf8, false),
            f("warnings", I32, false),
            f("schema_version", I32, false),
        ]))
    });
    SCHEMA.clone()
}

/// The `segments` table's columns, in order.
pub fn segments_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        use DataType::{Float32 as F32, Int32 as I32, Int64 as I64, Utf8};
        let f = |name: &str, t: DataType, nullable: bool| Field::new(name, t, nullable);
        Arc::new(Schema::new(vec![
            f("call_id", Utf8, false),
            f("call_start", ts_type(), true),
            f("seg_no", I32, false),
            f("speaker", Utf8, false),
            f("channel", I32, false),
            f("start_ms", I64, false),
            f("end_ms", I64, false),
            f("language", Utf8, false),
            f("text", Utf8, false),
            f("avg_logprob", F32, false),
            f("no_speech_prob", F32, false),
            f("words", I32, false),
        ]))
    });
    SCHEMA.clone()
}

/// The `hits` table's columns, in order.
pub fn hits_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        use DataType::{Int32 as I32, Int64 as I64, Utf8};
        let f = |name: &str, t: DataType, nullable: bool| Field::new(name, t, nullable);
        Arc::new(Schema::new(vec![
            f("call_id", Utf8, false),
            f("call_start", ts_type(), true),
            f("agent_id", Utf8, true),
            f("customer_number", Utf8, true),
            f("rule", Utf8, false),
            f("kind", Utf8, false),
            f("severity", Utf8, false),
            f("speaker", Utf8, false),
            f("seg_no", I32, true),
            f("start_ms", I64, false),
            f("end_ms", I64, false),
            f("matched_text", Utf8, false),
            f("phrase", Utf8, false),
        ]))
    });
    SCHEMA.clone()
}

/// The `scores` table's columns, in order.
pub fn scores_schema() -> SchemaRef {
    static SCHEMA: LazyLock<SchemaRef> = LazyLock::new(|| {
        use DataType::{Boolean as Bool, Float64 as F64, Int32 as I32, Int64 as I64, Utf8};
        let f = |name: &str, t: DataType, nullable: bool| Field::new(name, t, nullable);
        Arc::new(Schema::new(vec![
            f("call_id", Utf8, false),
            f("call_start", ts_type(), true),
            f("agent_id", Utf8, true),
            f("scorecard", Utf8, false),
            f("score", F64, true),
            f("criterion_no", I32, false),
            f("section", Utf8, false),
            f("criterion", Utf8, false),
            f("weight", F64, false),
            f("critical", Bool, false),
            f("applicable", Bool, false),
            f("passed", Bool, false),
            f("evidence_ms", I64, true),
            f("evidence_text", Utf8, true),
        ]))
    });
    SCHEMA.clone()
}

/// A row type of one of the tables.
pub(crate) trait TableRow: Sized + Send {
    /// The table's directory name under `OUT/parquet/`.
    const TABLE: &'static str;
    fn schema() -> SchemaRef;
    fn to_batch(rows: &[&Self]) -> Result<RecordBatch, ArrowError>;
    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>, String>;
    fn call_id(&self) -> &str;
    /// The order of rows inside a part file.
    fn sort_cmp(&self, other: &Self) -> Ordering;
    /// Indices of the leading sort columns (for the files' metadata).
    fn sort_columns() -> &'static [usize];
}

// Unsigned values are stored signed; anything above the signed maximum
// (hundreds of millions of years in ms) is clamped rather than failing a
// whole commit for one absurd row.
fn i64_of(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn i32_of(v: u32) -> i32 {
    i32::try_from(v).unwrap_or(i32::MAX)
}

fn micros(t: Option<jiff::Timestamp>) -> Option<i64> {
    t.map(|t| t.as_microsecond())
}

fn strs<'a, R: 'a>(rows: &'a [R], f: impl Fn(&'a R) -> Option<&'a str>) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<StringArray>())
}

fn i64s<R>(rows: &[R], f: impl Fn(&R) -> Option<i64>) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<Int64Array>())
}

fn i32s<R>(rows: &[R], f: impl Fn(&R) -> Option<i32>) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<Int32Array>())
}

fn f64s<R>(rows: &[R], f: impl Fn(&R) -> Option<f64>) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<Float64Array>())
}

fn f32s<R>(rows: &[R], f: impl Fn(&R) -> Option<f32>) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<Float32Array>())
}

fn bools<R>(rows: &[R], f: impl Fn(&R) -> Option<bool>) -> ArrayRef {
    Arc::new(rows.iter().map(f).collect::<BooleanArray>())
}

fn timestamps<R>(rows: &[R], f: impl Fn(&R) -> Option<jiff::Timestamp>) -> ArrayRef {
    let a: TimestampMicrosecondArray = rows.iter().map(|r| micros(f(r))).collect();
    Arc::new(a.with_timezone("UTC"))
}

fn languages(rows: &[&CallRow]) -> ArrayRef {
    let mut b = ListBuilder::new(StringBuilder::new()).with_field(languages_field());
    for r in rows {
        for l in &r.languages {
            b.values().append_value(l);
        }
        b.append(true);
    }
    Arc::new(b.finish())
}

impl TableRow for CallRow {
    const TABLE: &'static str = CALLS;

    fn schema() -> SchemaRef {
        calls_schema()
    }

    fn to_batch(rows: &[&Self]) -> Result<RecordBatch, ArrowError> {
        fn m(r: &CallRow) -> &CallMetrics {
            &r.metrics
        }
        let cols: Vec<ArrayRef> = vec![
            strs(rows, |r| Some(&r.call_id)),
            strs(rows, |r| Some(&r.source_path)),
            strs(rows, |r| Some(&r.content_hash)),
            timestamps(rows, |r| r.call_start),
            i64s(rows, |r| Some(i64_of(r.duration_ms))),
            i32s(rows, |r| Some(i32_of(r.channels))),
            i32s(rows, |r| Some(i32_of(r.sample_rate_hz))),
            strs(rows, |r| Some(&r.codec)),
            strs(rows, |r| r.agent_id.as_deref()),
            strs(rows, |r| r.customer_number.as_deref()),
            strs(rows, |r| r.direction.as_deref()),
            strs(rows, |r| r.campaign.as_deref()),
            strs(rows, |r| r.queue.as_deref()),
            languages(rows),
            strs(rows, |r| r.language_agent.as_deref()),
            strs(rows, |r| r.language_customer.as_deref()),
            i64s(rows, |r| Some(i64_of(m(r).talk_ms))),
            i64s(rows, |r| m(r).talk_ms_agent.map(i64_of)),
            i64s(rows, |r| m(r).talk_ms_customer.map(i64_of)),
            i64s(rows, |r| Some(i64_of(m(r).silence_ms))),
            i64s(rows, |r| m(r).overlap_ms.map(i64_of)),
            i32s(rows, |r| m(r).interruptions_agent.map(i32_of)),
            i32s(rows, |r| m(r).interruptions_customer.map(i32_of)),
            i64s(rows, |r| m(r).longest_monologue_ms_agent.map(i64_of)),
            i64s(rows, |r| m(r).longest_monologue_ms_customer.map(i64_of)),
            i64s(rows, |r| Some(i64_of(m(r).words))),
            i64s(rows, |r| m(r).words_agent.map(i64_of)),
            i64s(rows, |r| m(r).words_customer.map(i64_of)),
            f64s(rows, |r| m(r).wpm_agent),
            f64s(rows, |r| m(r).wpm_customer),
            f64s(rows, |r| m(r).talk_ratio_agent),
            i32s(rows, |r| Some(i32_of(r.segments))),
            f64s(rows, |r| m(r).mean_avg_logprob),
            strs(rows, |r| Some(m(r).source.as_str())),
            strs(rows, |r| Some(&r.model)),
            strs(rows, |r| Some(&r.pipeline)),
            timestamps(rows, |r| r.processed_at),
            i64s(rows, |r| r.processing_ms.map(i64_of)),
            strs(rows, |r| Some(&r.metadata_json)),
            strs(rows, |r| Some(&r.metadata_source_json)),
            i32s(rows, |r| Some(i32_of(r.warnings))),
            i32s(rows, |r| Some(i32_of(r.schema_version))),
        ];
        RecordBatch::try_new(calls_schema(), cols)
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>, String> {
        let c = Columns(batch);
        let (call_id, source_path, hash) = (
            c.str("call_id")?,
            c.str("source_path")?,
            c.str("content_hash")?,
        );
        let (call_start, duration, channels) = (
            c.ts("call_start")?,
            c.i64("duration_ms")?,
            c.i32("channels")?,
        );
        let (rate, codec, agent) = (
            c.i32("sample_rate_hz")?,
            c.str("codec")?,
            c.str("agent_id")?,
        );
        let (customer, direction, campaign) = (
            c.str("customer_number")?,
            c.str("direction")?,
            c.str("campaign")?,
        );
        let (queue, langs, lang_a) = (
            c.str("queue")?,
            c.list("languages")?,
            c.str("language_agent")?,
        );
        let lang_c = c.str("language_customer")?;
        let (segments, model, pipeline) = (c.i32("segments")?, c.str("model")?, c.str("pipeline")?);
        let (processed_at, processing_ms) = (c.ts("processed_at")?, c.i64("processing_ms")?);
        let (metadata, metadata_source) = (c.str("metadata")?, c.str("metadata_source")?);
        let (warnings, version) = (c.i32("warnings")?, c.i32("schema_version")?);
        let metrics = MetricsColumns::new(&c)?;
        (0..batch.num_rows())
            .map(|i| {
                Ok(CallRow {
                    call_id: call_id.value(i).to_owned(),
                    source_path: source_path.value(i).to_owned(),
                    content_hash: hash.value(i).to_owned(),
                    call_start: opt_ts(call_start, i)?,
                    duration_ms: u64_at(duration, i)?,
                    channels: u32_at(channels, i)?,
                    sample_rate_hz: u32_at(rate, i)?,
                    codec: codec.value(i).to_owned(),
                    agent_id: opt_str(agent, i),
                    customer_number: opt_str(customer, i),
                    direction: opt_str(direction, i),
                    campaign: opt_str(campaign, i),
                    queue: opt_str(queue, i),
                    languages: list_at(langs, i)?,
                    language_agent: opt_str(lang_a, i),
                    language_customer: opt_str(lang_c, i),
                    metrics: metrics.at(i)?,
                    segments: u32_at(segments, i)?,
                    model: model.value(i).to_owned(),
                    pipeline: pipeline.value(i).to_owned(),
                    processed_at: opt_ts(processed_at, i)?,
                    processing_ms: opt_u64(processing_ms, i)?,
                    metadata_json: metadata.value(i).to_owned(),
                    metadata_source_json: metadata_source.value(i).to_owned(),
                    warnings: u32_at(warnings, i)?,
                    schema_version: u32_at(version, i)?,
                })
            })
            .collect()
    }

    fn call_id(&self) -> &str {
        &self.call_id
    }

    fn sort_cmp(&self, other: &Self) -> Ordering {
        (self.call_start, &self.call_id).cmp(&(other.call_start, &other.call_id))
    }

    fn sort_columns() -> &'static [usize] {
        &[3, 0]
    }
}

/// The metrics columns of a calls batch.
struct MetricsColumns<'a> {
    talk: &'a Int64Array,
    talk_a: &'a Int64Array,
    talk_c: &'a Int64Array,
    silence: &'a Int64Array,
    overlap: &'a Int64Array,
    int_a: &'a Int32Array,
    int_c: &'a Int32Array,
    mono_a: &'a Int64Array,
    mono_c: &'a Int64Array,
    words: &'a Int64Array,
    words_a: &'a Int64Array,
    words_c: &'a Int64Array,
    wpm_a: &'a Float64Array,
    wpm_c: &'a Float64Array,
    ratio: &'a Float64Array,
    logprob: &'a Float64Array,
    source: &'a StringArray,
}

impl<'a> MetricsColumns<'a> {
    fn new(c: &Columns<'a>) -> Result<Self, String> {
        Ok(MetricsColumns {
            talk: c.i64("talk_ms")?,
            talk_a: c.i64("talk_ms_agent")?,
            talk_c: c.i64("talk_ms_customer")?,
            silence: c.i64("silence_ms")?,
            overlap: c.i64("overlap_ms")?,
            int_a: c.i32("interruptions_agent")?,
            int_c: c.i32("interruptions_customer")?,
            mono_a: c.i64("longest_monologue_ms_agent")?,
            mono_c: c.i64("longest_monologue_ms_customer")?,
            words: c.i64("words")?,
            words_a: c.i64("words_agent")?,
            words_c: c.i64("words_customer")?,
            wpm_a: c.f64("wpm_agent")?,
            wpm_c: c.f64("wpm_customer")?,
            ratio: c.f64("talk_ratio_agent")?,
            logprob: c.f64("mean_avg_logprob")?,
            source: c.str("metrics_source")?,
        })
    }

    fn at(&self, i: usize) -> Result<CallMetrics, String> {
        let source = match self.source.value(i) {
            "vad" => MetricsSource::Vad,
            "segments" => MetricsSource::Segments,
            other => return Err(format!("metrics_source `{other}` is not vad or segments")),
        };
        Ok(CallMetrics {
            source,
            talk_ms: u64_at(self.talk, i)?,
            talk_ms_agent: opt_u64(self.talk_a, i)?,
            talk_ms_customer: opt_u64(self.talk_c, i)?,
            silence_ms: u64_at(self.silence, i)?,
            overlap_ms: opt_u64(self.overlap, i)?,
            interruptions_agent: opt_u32(self.int_a, i)?,
            interruptions_customer: opt_u32(self.int_c, i)?,
            longest_monologue_ms_agent: opt_u64(self.mono_a, i)?,
            longest_monologue_ms_customer: opt_u64(self.mono_c, i)?,
            words: u64_at(self.words, i)?,
            words_agent: opt_u64(self.words_a, i)?,
            words_customer: opt_u64(self.words_c, i)?,
            wpm_agent: opt_f64(self.wpm_a, i),
            wpm_customer: opt_f64(self.wpm_c, i),
            talk_ratio_agent: opt_f64(self.ratio, i),
            mean_avg_logprob: opt_f64(self.logprob, i),
        })
    }
}

impl TableRow for SegmentRow {
    const TABLE: &'static str = SEGMENTS;

    fn schema() -> SchemaRef {
        segments_schema()
    }

    fn to_batch(rows: &[&Self]) -> Result<RecordBatch, ArrowError> {
        let cols: Vec<ArrayRef> = vec![
            strs(rows, |r| Some(&r.call_id)),
            timestamps(rows, |r| r.call_start),
            i32s(rows, |r| Some(i32_of(r.seg_no))),
            strs(rows, |r| Some(&r.speaker)),
            i32s(rows, |r| Some(i32_of(r.channel))),
            i64s(rows, |r| Some(i64_of(r.start_ms))),
            i64s(rows, |r| Some(i64_of(r.end_ms))),
            strs(rows, |r| Some(&r.language)),
            strs(rows, |r| Some(&r.text)),
            f32s(rows, |r| Some(r.avg_logprob)),
            f32s(rows, |r| Some(r.no_speech_prob)),
            i32s(rows, |r| Some(i32_of(r.words))),
        ];
        RecordBatch::try_new(segments_schema(), cols)
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>, String> {
        let c = Columns(batch);
        let (call_id, call_start, seg_no) =
            (c.str("call_id")?, c.ts("call_start")?, c.i32("seg_no")?);
        let (speaker, channel, start) = (c.str("speaker")?, c.i32("channel")?, c.i64("start_ms")?);
        let (end, language, text) = (c.i64("end_ms")?, c.str("language")?, c.str("text")?);
        let (logprob, no_speech, words) = (
            c.f32("avg_logprob")?,
            c.f32("no_speech_prob")?,
            c.i32("words")?,
        );
        (0..batch.num_rows())
            .map(|i| {
                Ok(SegmentRow {
                    call_id: call_id.value(i).to_owned(),
                    call_start: opt_ts(call_start, i)?,
                    seg_no: u32_at(seg_no, i)?,
                    speaker: speaker.value(i).to_owned(),
                    channel: u32_at(channel, i)?,
                    start_ms: u64_at(start, i)?,
                    end_ms: u64_at(end, i)?,
                    language: language.value(i).to_owned(),
                    text: text.value(i).to_owned(),
                    avg_logprob: logprob.value(i),
                    no_speech_prob: no_speech.value(i),
                    words: u32_at(words, i)?,
                })
            })
            .collect()
    }

    fn call_id(&self) -> &str {
        &self.call_id
    }

    fn sort_cmp(&self, other: &Self) -> Ordering {
        (self.call_start, &self.call_id, self.seg_no).cmp(&(
            other.call_start,
            &other.call_id,
            other.seg_no,
        ))
    }

    fn sort_columns() -> &'static [usize] {
        &[1, 0, 2]
    }
}

impl TableRow for HitRow {
    const TABLE: &'static str = HITS;

    fn schema() -> SchemaRef {
        hits_schema()
    }

    fn to_batch(rows: &[&Self]) -> Result<RecordBatch, ArrowError> {
        let cols: Vec<ArrayRef> = vec![
            strs(rows, |r| Some(&r.call_id)),
            timestamps(rows, |r| r.call_start),
            strs(rows, |r| r.agent_id.as_deref()),
            strs(rows, |r| r.customer_number.as_deref()),
            strs(rows, |r| Some(&r.rule)),
            strs(rows, |r| Some(&r.kind)),
            strs(rows, |r| Some(&r.severity)),
            strs(rows, |r| Some(&r.speaker)),
            i32s(rows, |r| r.seg_no.map(i32_of)),
            i64s(rows, |r| Some(i64_of(r.start_ms))),
            i64s(rows, |r| Some(i64_of(r.end_ms))),
            strs(rows, |r| Some(&r.matched_text)),
            strs(rows, |r| Some(&r.phrase)),
        ];
        RecordBatch::try_new(hits_schema(), cols)
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>, String> {
        let c = Columns(batch);
        let (call_id, call_start, agent) =
            (c.str("call_id")?, c.ts("call_start")?, c.str("agent_id")?);
        let (customer, rule, kind) = (c.str("customer_number")?, c.str("rule")?, c.str("kind")?);
        let (severity, speaker, seg_no) = (c.str("severity")?, c.str("speaker")?, c.i32("seg_no")?);
        let (start, end) = (c.i64("start_ms")?, c.i64("end_ms")?);
        let (matched, phrase) = (c.str("matched_text")?, c.str("phrase")?);
        (0..batch.num_rows())
            .map(|i| {
                Ok(HitRow {
                    call_id: call_id.value(i).to_owned(),
                    call_start: opt_ts(call_start, i)?,
                    agent_id: opt_str(agent, i),
                    customer_number: opt_str(customer, i),
                    rule: rule.value(i).to_owned(),
                    kind: kind.value(i).to_owned(),
                    severity: severity.value(i).to_owned(),
                    speaker: speaker.value(i).to_owned(),
                    seg_no: opt_u32(seg_no, i)?,
                    start_ms: u64_at(start, i)?,
                    end_ms: u64_at(end, i)?,
                    matched_text: matched.value(i).to_owned(),
                    phrase: phrase.value(i).to_owned(),
                })
            })
            .collect()
    }

    fn call_id(&self) -> &str {
        &self.call_id
    }

    /// By `(call_start, call_id, start_ms, rule)`, then every other column:
    /// the sort is unstable, and a total order is what makes a rebuild
    /// write the same files as incremental commits.
    fn sort_cmp(&self, other: &Self) -> Ordering {
        fn key(r: &HitRow) -> impl Ord + '_ {
            (
                (r.call_start, &r.call_id, r.start_ms, &r.rule),
                (&r.kind, &r.severity, r.end_ms, r.seg_no, &r.speaker),
                (&r.phrase, &r.matched_text, &r.agent_id, &r.customer_number),
            )
        }
        key(self).cmp(&key(other))
    }

    fn sort_columns() -> &'static [usize] {
        &[1, 0, 9, 4]
    }
}

impl TableRow for ScoreRow {
    const TABLE: &'static str = SCORES;

    fn schema() -> SchemaRef {
        scores_schema()
    }

    fn to_batch(rows: &[&Self]) -> Result<RecordBatch, ArrowError> {
        let cols: Vec<ArrayRef> = vec![
            strs(rows, |r| Some(&r.call_id)),
            timestamps(rows, |r| r.call_start),
            strs(rows, |r| r.agent_id.as_deref()),
            strs(rows, |r| Some(&r.scorecard)),
            f64s(rows, |r| r.score),
            i32s(rows, |r| Some(i32_of(r.criterion_no))),
            strs(rows, |r| Some(&r.section)),
            strs(rows, |r| Some(&r.criterion)),
            f64s(rows, |r| Some(r.weight)),
            bools(rows, |r| Some(r.critical)),
            bools(rows, |r| Some(r.applicable)),
            bools(rows, |r| Some(r.passed)),
            i64s(rows, |r| r.evidence_ms.map(i64_of)),
            strs(rows, |r| r.evidence_text.as_deref()),
        ];
        RecordBatch::try_new(scores_schema(), cols)
    }

    fn from_batch(batch: &RecordBatch) -> Result<Vec<Self>, String> {
        let c = Columns(batch);
        let (call_id, call_start, agent) =
            (c.str("call_id")?, c.ts("call_start")?, c.str("agent_id")?);
        let (scorecard, score, criterion_no) =
            (c.str("scorecard")?, c.f64("score")?, c.i32("criterion_no")?);
        let (section, criterion, weight) =
            (c.str("section")?, c.str("criterion")?, c.f64("weight")?);
        let (critical, applicable, passed) = (
            c.bool("critical")?,
            c.bool("applicable")?,
            c.bool("passed")?,
        );
        let (evidence_ms, evidence_text) = (c.i64("evidence_ms")?, c.str("evidence_text")?);
        (0..batch.num_rows())
            .map(|i| {
                Ok(ScoreRow {
                    call_id: call_id.value(i).to_owned(),
                    call_start: opt_ts(call_start, i)?,
                    agent_id: opt_str(agent, i),
                    scorecard: scorecard.value(i).to_owned(),
                    score: opt_f64(score, i),
                    criterion_no: u32_at(criterion_no, i)?,
                    section: section.value(i).to_owned(),
                    criterion: criterion.value(i).to_owned(),
                    weight: weight.value(i),
                    critical: critical.value(i),
                    applicable: applicable.value(i),
                    passed: passed.value(i),
                    evidence_ms: opt_u64(evidence_ms, i)?,
                    evidence_text: opt_str(evidence_text, i),
                })
            })
            .collect()
    }

    fn call_id(&self) -> &str {
        &self.call_id
    }

    /// By `(call_start, call_id, scorecard, criterion_no)`, then the other
    /// columns (a card named twice in one call): total, as for hits.
    fn sort_cmp(&self, other: &Self) -> Ordering {
        fn key(r: &ScoreRow) -> impl Ord + '_ {
            (
                (r.call_start, &r.call_id, &r.scorecard, r.criterion_no),
                (&r.section, &r.criterion, r.critical, r.applicable, r.passed),
                (r.evidence_ms, &r.evidence_text, &r.agent_id),
            )
        }
        key(self)
            .cmp(&key(other))
            .then_with(|| total_cmp_opt(self.score, other.score))
            .then_with(|| self.weight.total_cmp(&other.weight))
    }

    fn sort_columns() -> &'static [usize] {
        &[1, 0, 3, 5]
    }
}

/// A total order on optional floats (`None` first), for the sort keys.
fn total_cmp_opt(a: Option<f64>, b: Option<f64>) -> Ordering {
    match (a, b) {
        (Some(a), Some(b)) => a.total_cmp(&b),
        (a, b) => a.is_some().cmp(&b.is_some()),
    }
}

/// Typed access to a batch's columns by name.
struct Columns<'a>(&'a RecordBatch);

impl<'a> Columns<'a> {
    fn get<T: 'static>(&self, name: &str) -> Result<&'a T, String> {
        let col = self
            .0
            .column_by_name(name)
            .ok_or_else(|| format!("no column `{name}`"))?;
        col.as_any()
            .downcast_ref::<T>()
            .ok_or_else(|| format!("column `{name}` has type {}", col.data_type()))
    }

    fn str(&self, name: &str) -> Result<&'a StringArray, String> {
        self.get(name)
    }

    fn i64(&self, name: &str) -> Result<&'a Int64Array, String> {
        self.get(name)
    }

    fn i32(&self, name: &str) -> Result<&'a Int32Array, String> {
        self.get(name)
    }

    fn f64(&self, name: &str) -> Result<&'a Float64Array, String> {
        self.get(name)
    }

    fn f32(&self, name: &str) -> Result<&'a Float32Array, String> {
        self.get(name)
    }

    fn bool(&self, name: &str) -> Result<&'a BooleanArray, String> {
        self.get(name)
    }

    fn ts(&self, name: &str) -> Result<&'a TimestampMicrosecondArray, String> {
        self.get(name)
    }

    fn list(&self, name: &str) -> Result<&'a ListArray, String> {
        self.get(name)
    }
}

fn opt_str(a: &StringArray, i: usize) -> Option<String> {
    a.is_valid(i).then(|| a.value(i).to_owned())
}

fn opt_f64(a: &Float64Array, i: usize) -> Option<f64> {
    a.is_valid(i).then(|| a.value(i))
}

fn u64_at(a: &Int64Array, i: usize) -> Result<u64, String> {
    u64::try_from(a.value(i)).map_err(|_| format!("negative value {} in row {i}", a.value(i)))
}

fn u32_at(a: &Int32Array, i: usize) -> Result<u32, String> {
    u32::try_from(a.value(i)).map_err(|_| format!("negative value {} in row {i}", a.value(i)))
}

fn opt_u64(a: &Int64Array, i: usize) -> Result<Option<u64>, String> {
    a.is_valid(i).then(|| u64_at(a, i)).transpose()
}

fn opt_u32(a: &Int32Array, i: usize) -> Result<Option<u32>, String> {
    a.is_valid(i).then(|| u32_at(a, i)).transpose()
}

fn opt_ts(a: &TimestampMicrosecondArray, i: usize) -> Result<Option<jiff::Timestamp>, String> {
    a.is_valid(i)
        .then(|| {
            jiff::Timestamp::from_microsecond(a.value(i))
                .map_err(|e| format!("timestamp out of range in row {i}: {e}"))
        })
        .transpose()
}

fn list_at(a: &ListArray, i: usize) -> Result<Vec<String>, String> {
    let values = a.value(i);
    let strings = values
        .as_any()
        .downcast_ref::<StringArray>()
        .ok_or_else(|| "column `languages` is not a list of strings".to_string())?;
    Ok(strings.iter().flatten().map(str::to_owned).collect())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::TABLES_SCHEMA_VERSION;

    fn call(id: &str) -> CallRow {
        CallRow {
            call_id: id.into(),
            source_path: format!("/rec/{id}.wav"),
            content_hash: format!("blake3:{id}"),
            call_start: Some("2026-11-02T09:00:00.123456Z".parse().unwrap()),
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
            language_customer: Some("en".into()),
            metrics: CallMetrics {
                source: MetricsSource::Vad,
                talk_ms: 50_000,
                talk_ms_agent: Some(30_000),
                talk_ms_customer: Some(25_000),
                silence_ms: 11_000,
                overlap_ms: Some(5_000),
                interruptions_agent: Some(2),
                interruptions_customer: None,
                longest_monologue_ms_agent: Some(12_000),
                longest_monologue_ms_customer: Some(9_000),
                words: 140,
                words_agent: Some(80),
                words_customer: Some(60),
                wpm_agent: Some(160.0),
                wpm_customer: Some(144.0),
                talk_ratio_agent: Some(0.545),
                mean_avg_logprob: Some(-0.25),
            },
            segments: 12,
            model: "ggml-base.bin".into(),
            pipeline: "default".into(),
            processed_at: None,
            processing_ms: Some(1234),
            metadata_json: r#"{"agent_id":"101"}"#.into(),
            metadata_source_json: "{}".into(),
            warnings: 0,
            schema_version: TABLES_SCHEMA_VERSION,
        }
    }

    #[test]
    fn calls_round_trip_through_a_batch() {
        let rows = vec![call("a"), call("b")];
        let batch = CallRow::to_batch(&rows.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(batch.schema(), calls_schema());
        assert_eq!(batch.num_columns(), 42);
        assert_eq!(CallRow::from_batch(&batch).unwrap(), rows);
    }

    #[test]
    fn segments_round_trip_through_a_batch() {
        let rows = vec![SegmentRow {
            call_id: "a".into(),
            call_start: None,
            seg_no: 3,
            speaker: "agent".into(),
            channel: 0,
            start_ms: 100,
            end_ms: 900,
            language: "pl".into(),
            text: "Dzień dobry".into(),
            avg_logprob: -0.5,
            no_speech_prob: 0.01,
            words: 2,
        }];
        let batch = SegmentRow::to_batch(&rows.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(SegmentRow::from_batch(&batch).unwrap(), rows);
    }

    fn hit(call_id: &str, start_ms: u64, rule: &str) -> HitRow {
        HitRow {
            call_id: call_id.into(),
            call_start: Some("2026-11-02T09:00:00Z".parse().unwrap()),
            agent_id: Some("101".into()),
            customer_number: None,
            rule: rule.into(),
            kind: "watchlist".into(),
            severity: "high".into(),
            speaker: "agent".into(),
            seg_no: Some(2),
            start_ms,
            end_ms: start_ms + 900,
            matched_text: "nowej karty".into(),
            phrase: "nowa karta".into(),
        }
    }

    fn score(criterion_no: u32, score: Option<f64>) -> ScoreRow {
        ScoreRow {
            call_id: "a".into(),
            call_start: None,
            agent_id: None,
            scorecard: "sales".into(),
            score,
            criterion_no,
            section: "opening".into(),
            criterion: format!("c{criterion_no}"),
            weight: 2.5,
            critical: criterion_no == 0,
            applicable: criterion_no != 2,
            passed: criterion_no == 1,
            evidence_ms: (criterion_no == 1).then_some(1500),
            evidence_text: (criterion_no == 1).then(|| "dzień dobry".into()),
        }
    }

    #[test]
    fn hits_round_trip_through_a_batch() {
        let mut listed = hit("b", 0, "dnc");
        listed.seg_no = None;
        listed.speaker = String::new();
        listed.agent_id = None;
        listed.customer_number = Some("600100200".into());
        let rows = vec![hit("a", 100, "card"), listed];
        let batch = HitRow::to_batch(&rows.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(batch.schema(), hits_schema());
        assert_eq!(HitRow::from_batch(&batch).unwrap(), rows);
    }

    #[test]
    fn scores_round_trip_through_a_batch() {
        let rows = vec![score(0, Some(62.5)), score(1, Some(62.5)), score(2, None)];
        let batch = ScoreRow::to_batch(&rows.iter().collect::<Vec<_>>()).unwrap();
        assert_eq!(batch.schema(), scores_schema());
        assert_eq!(
            batch.column_by_name("passed").unwrap().data_type(),
            &DataType::Boolean
        );
        assert_eq!(ScoreRow::from_batch(&batch).unwrap(), rows);
    }

    #[test]
    fn hits_and_scores_sort_by_their_documented_keys() {
        let mut hits = [hit("a", 500, "b"), hit("a", 500, "a"), hit("a", 100, "z")];
        hits.sort_by(HitRow::sort_cmp);
        let order: Vec<(u64, &str)> = hits.iter().map(|h| (h.start_ms, h.rule.as_str())).collect();
        assert_eq!(order, [(100, "z"), (500, "a"), (500, "b")]);
        // The card's order, not the criteria's names.
        let mut scores = [score(10, None), score(2, None), score(1, None)];
        scores.sort_by(ScoreRow::sort_cmp);
        let order: Vec<u32> = scores.iter().map(|s| s.criterion_no).collect();
        assert_eq!(order, [1, 2, 10]);
    }

    #[test]
    fn sort_columns_name_the_sort_keys() {
        let names = |s: SchemaRef, idx: &[usize]| -> Vec<String> {
            idx.iter().map(|&i| s.field(i).name().clone()).collect()
        };
        assert_eq!(
            names(calls_schema(), CallRow::sort_columns()),
            ["call_start", "call_id"]
        );
        assert_eq!(
            names(segments_schema(), SegmentRow::sort_columns()),
            ["call_start", "call_id", "seg_no"]
        );
        assert_eq!(
            names(hits_schema(), HitRow::sort_columns()),
            ["call_start", "call_id", "start_ms", "rule"]
        );
        assert_eq!(
            names(scores_schema(), ScoreRow::sort_columns()),
            ["call_start", "call_id", "scorecard", "criterion_no"]
        );
    }
}
