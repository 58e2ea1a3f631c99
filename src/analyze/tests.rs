//! Metrics of designed calls, worked out by hand in the comments.

use std::collections::BTreeMap;

use super::*;
use crate::model::{ChannelSpeech, Segment, TRANSCRIPT_SCHEMA};

fn span(start_ms: u64, end_ms: u64) -> SpeechSpan {
    SpeechSpan { start_ms, end_ms }
}

fn segment(speaker: &str, channel: usize, start_ms: u64, end_ms: u64, text: &str) -> Segment {
    Segment {
        start_ms,
        end_ms,
        channel,
        speaker: speaker.into(),
        language: "pl".into(),
        text: text.into(),
        avg_logprob: -0.25,
        no_speech_prob: 0.01,
    }
}

fn transcript(speech: Vec<ChannelSpeech>, segments: Vec<Segment>, duration_ms: u64) -> Transcript {
    Transcript {
        schema: TRANSCRIPT_SCHEMA.into(),
        call_id: "0123456789abcdef0123".into(),
        source_path: "/rec/out-600100200-101-20261120-101500-1700000000.1.wav".into(),
        content_hash: "blake3:0123".into(),
        call_start: Some("2026-11-20T09:15:00Z".parse().unwrap()),
        duration_ms,
        channels: speech.len(),
        sample_rate_hz: 8000,
        codec: "pcm_mulaw".into(),
        metadata: BTreeMap::from([
            ("agent_id".into(), "101".into()),
            ("direction".into(), "outbound".into()),
        ]),
        metadata_source: BTreeMap::from([("agent_id".into(), "filename:asterisk-out".into())]),
        model: "scripted".into(),
        languages: BTreeMap::from([
            ("agent".into(), "pl".into()),
            ("customer".into(), "pl".into()),
        ]),
        segments,
        speech,
        warnings: Vec::new(),
        pipeline: "default".into(),
        processed_at: None,
        processing_ms: Some(1234),
        analysis: None,
    }
}

/// The designed call (40 s):
/// agent    [0,10) [10.5,20) [24.8,25) [30,35) [37.5,39)
/// customer              [19,25)          [34,36) [37,38)
fn designed() -> Transcript {
    let agent = vec![
        span(0, 10_000),
        span(10_500, 20_000),
        span(24_800, 25_000),
        span(30_000, 35_000),
        span(37_500, 39_000),
    ];
    let customer = vec![
        span(19_000, 25_000),
        span(34_000, 36_000),
        span(37_000, 38_000),
    ];
    let speech = vec![
        ChannelSpeech {
            channel: 0,
            speaker: "agent".into(),
            // Padded spans deliberately wider: metrics must ignore them.
            spans: vec![span(0, 26_000), span(29_000, 40_000)],
            talk: Some(agent),
        },
        ChannelSpeech {
            channel: 1,
            speaker: "customer".into(),
            spans: vec![span(18_000, 40_000)],
            talk: Some(customer),
        },
    ];
    let segments = vec![
        segment(
            "agent",
            0,
            0,
            20_000,
            "Dzień dobry, dzwonię z banku w sprawie pana nowej karty.",
        ),
        segment("customer", 1, 19_000, 25_000, "Tak, słucham, o co chodzi?"),
        segment("agent", 0, 30_000, 39_000, "Rozmowa jest nagrywana."),
        segment("customer", 1, 34_000, 38_000, "Dobrze."),
    ];
    transcript(speech, segments, 40_000)
}

#[test]
fn designed_call_metrics_match_the_hand_count() {
    let m = call_metrics(&designed(), &MetricsSettings::default());
    assert_eq!(m.source, MetricsSource::Vad);
    // agent: 10 + 9.5 + 0.2 + 5 + 1.5 = 26.2 s; customer: 6 + 2 + 1 = 9 s
    assert_eq!(m.talk_ms_agent, Some(26_200));
    assert_eq!(m.talk_ms_customer, Some(9_000));
    // both at once: [19,20) + [24.8,25) + [34,35) + [37.5,38) = 2.7 s
    assert_eq!(m.overlap_ms, Some(2_700));
    // anyone: 26.2 + 9 - 2.7 = 32.5 s; nobody: 40 - 32.5 = 7.5 s
    assert_eq!(m.talk_ms, 32_500);
    assert_eq!(m.silence_ms, 7_500);
    // customer cuts in at 19 s (1 s together) and 34 s (1 s); at 37 s the
    // agent is silent. The agent's 24.8 s start overlaps only 0.2 s (< 0.3 s);
    // 37.5 s overlaps 0.5 s.
    assert_eq!(m.interruptions_customer, Some(2));
    assert_eq!(m.interruptions_agent, Some(1));
    // agent: [0,10) + [10.5,20) joined across a 0.5 s pause = 20 s.
    // customer: [34,36) + [37,38) joined across 1 s = 4 s < [19,25) = 6 s.
    assert_eq!(m.longest_monologue_ms_agent, Some(20_000));
    assert_eq!(m.longest_monologue_ms_customer, Some(6_000));
    // words: 10 + 3 agent, 5 + 1 customer
    assert_eq!(m.words_agent, Some(13));
    assert_eq!(m.words_customer, Some(6));
    assert_eq!(m.words, 19);
    // 13 words / 26.2 s = 29.771 wpm; 6 / 9 s = 40 wpm
    assert_eq!(m.wpm_agent, Some(29.771));
    assert_eq!(m.wpm_customer, Some(40.0));
    // 26.2 / (26.2 + 9) = 0.7443
    assert_eq!(m.talk_ratio_agent, Some(0.7443));
    assert_eq!(m.mean_avg_logprob, Some(-0.25));
}

#[test]
fn interruption_threshold_is_a_setting() {
    let settings = MetricsSettings {
        interruption_min_overlap_ms: 100,
        ..MetricsSettings::default()
    };
    // Now the agent's 0.2 s cut-in at 24.8 s counts too.
    let m = call_metrics(&designed(), &settings);
    assert_eq!(m.interruptions_agent, Some(2));
}

#[test]
fn the_other_speaking_in_a_pause_ends_a_monologue() {
    let a = Spans::new(vec![span(0, 5_000), span(5_800, 9_000)]);
    let quiet = Spans::new(vec![span(20_000, 21_000)]);
    let in_pause = Spans::new(vec![span(5_200, 5_500)]);
    let during = Spans::new(vec![span(1_000, 1_500)]);
    assert_eq!(a.longest_monologue_ms(Some(&quiet), 1_500), 9_000);
    assert_eq!(a.longest_monologue_ms(Some(&in_pause), 1_500), 5_000);
    // A backchannel during the speech does not end it.
    assert_eq!(a.longest_monologue_ms(Some(&during), 1_500), 9_000);
    assert_eq!(a.longest_monologue_ms(None, 500), 5_000);
}

#[test]
fn transcripts_without_talk_spans_use_segment_times() {
    let mut t = designed();
    for c in &mut t.speech {
        c.talk = None;
    }
    let m = call_metrics(&t, &MetricsSettings::default());
    assert_eq!(m.source, MetricsSource::Segments);
    // agent segments [0,20) + [30,39) = 29 s; customer [19,25) + [34,38) = 10 s
    assert_eq!(m.talk_ms_agent, Some(29_000));
    assert_eq!(m.talk_ms_customer, Some(10_000));
    // [19,20) + [34,38) = 5 s
    assert_eq!(m.overlap_ms, Some(5_000));
}

#[test]
fn mono_calls_leave_per_speaker_values_unknown() {
    let speech = vec![ChannelSpeech {
        channel: 0,
        speaker: "mixed".into(),
        spans: vec![span(0, 12_000)],
        talk: Some(vec![span(1_000, 5_000), span(6_000, 10_000)]),
    }];
    let segments = vec![segment("mixed", 0, 1_000, 10_000, "Halo, kto mówi?")];
    let m = call_metrics(
        &transcript(speech, segments, 12_000),
        &MetricsSettings::default(),
    );
    assert_eq!(m.talk_ms, 8_000);
    assert_eq!(m.silence_ms, 4_000);
    assert_eq!(m.words, 3);
    assert_eq!(m.talk_ms_agent, None);
    assert_eq!(m.overlap_ms, None);
    assert_eq!(m.interruptions_customer, None);
    assert_eq!(m.talk_ratio_agent, None);
    assert_eq!(m.wpm_agent, None);
}

#[test]
fn rows_carry_metadata_and_segments() {
    let t = designed();
    let row = call_row(&t, &MetricsSettings::default());
    assert_eq!(row.agent_id.as_deref(), Some("101"));
    assert_eq!(row.direction.as_deref(), Some("outbound"));
    assert_eq!(row.customer_number, None);
    assert_eq!(row.languages, vec!["pl".to_string()]);
    assert_eq!(row.segments, 4);
    assert_eq!(row.schema_version, TABLES_SCHEMA_VERSION);
    assert_eq!(
        row.metadata_json,
        r#"{"agent_id":"101","direction":"outbound"}"#
    );
    let segs = segment_rows(&t);
    assert_eq!(segs.len(), 4);
    assert_eq!((segs[1].seg_no, segs[1].words, segs[1].channel), (1, 5, 1));
    assert_eq!(segs[3].call_start, t.call_start);
}
