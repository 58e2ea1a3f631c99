//! WhisperX JSON, and the same `segments` layout written by faster-whisper
//! and openai-whisper: `{"segments":[{"start":0.0,"end":2.5,"text":"…"}],
//! "language":"en"}` with times in seconds.
//!
//! WhisperX adds a `speaker` per segment after diarization (`SPEAKER_00`);
//! faster-whisper and openai-whisper add `avg_logprob` and
//! `no_speech_prob`, which are kept because the guards and later quality
//! checks read them. Word lists are ignored: a segment is the unit here.
//! A bare array of segments (what some scripts dump) is read the same way.

use serde_json::Value;

use super::{Parsed, RawSegment, f32_field, str_field};

pub(super) fn parse(text: &str) -> Result<Parsed, String> {
    let root = super::parse_json(text)?;
    let (segments, language) = match &root {
        Value::Array(items) => (items, None),
        _ => (
            root.get("segments")
                .and_then(Value::as_array)
                .ok_or("no `segments` array (not whisperx/faster-whisper json)")?,
            str_field(&root, "language"),
        ),
    };
    let segments = segments
        .iter()
        .enumerate()
        .map(|(i, s)| segment(s).map_err(|m| format!("segments[{i}]: {m}")))
        .collect::<Result<_, _>>()?;
    Ok(Parsed {
        segments,
        language: language.map(str::to_string),
        model: None,
    })
}

fn segment(s: &Value) -> Result<RawSegment, String> {
    if !s.is_object() {
        return Err(format!("expected an object, found {s}"));
    }
    let start_ms = super::seconds_value(s.get("start"), "start")?;
    let end_ms = super::seconds_value(s.get("end"), "end")?;
    if end_ms < start_ms {
        return Err(format!("end {} is before start {}", s["end"], s["start"]));
    }
    Ok(RawSegment {
        start_ms,
        end_ms,
        speaker: str_field(s, "speaker").map(str::to_string),
        channel: None,
        language: str_field(s, "language").map(str::to_string),
        text: str_field(s, "text").unwrap_or("").to_string(),
        avg_logprob: f32_field(s, "avg_logprob"),
        no_speech_prob: f32_field(s, "no_speech_prob"),
    })
}

/// True for a JSON array whose first element looks like a whisper segment.
pub(super) fn is_bare_segment_list(items: &[Value]) -> bool {
    items.first().is_some_and(|first| {
        first.get("start").is_some() && first.get("end").is_some() && first.get("text").is_some()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn seconds_become_ms() {
        let p = parse(
            r#"{"segments":[{"start":0.031,"end":2.5,"text":" Dzień dobry.","speaker":"SPEAKER_00",
            "avg_logprob":-0.25,"no_speech_prob":0.01,"words":[{"word":"Dzień","start":0.031}]}],"language":"pl"}"#,
        )
        .unwrap();
        let s = &p.segments[0];
        assert_eq!(
            (s.start_ms, s.end_ms, s.speaker.as_deref()),
            (31, 2500, Some("SPEAKER_00"))
        );
        assert_eq!((s.avg_logprob, s.no_speech_prob), (Some(-0.25), Some(0.01)));
        assert_eq!(p.language.as_deref(), Some("pl"));
    }

    #[test]
    fn bad_times_name_the_segment() {
        let e = |t: &str| parse(t).unwrap_err();
        assert_eq!(
            e(
                r#"{"segments":[{"start":0,"end":1,"text":"a"},{"start":"abc","end":2,"text":"b"}]}"#
            ),
            "segments[1]: start \"abc\" is not a time in seconds"
        );
        assert_eq!(
            e(r#"{"segments":[{"start":-0.5,"end":2,"text":"b"}]}"#),
            "segments[0]: start -0.5 is negative"
        );
        assert_eq!(
            e(r#"{"segments":[{"start":4.5,"end":1.25,"text":"b"}]}"#),
            "segments[0]: end 1.25 is before start 4.5"
        );
        assert_eq!(
            e(r#"{"segments":[{"end":1,"text":"b"}]}"#),
            "segments[0]: no start time"
        );
        assert_eq!(
            e(r#"{"segments":[3]}"#),
            "segments[0]: expected an object, found 3"
        );
    }

    #[test]
    fn bare_array_is_accepted() {
        let p = parse(r#"[{"start":1,"end":2,"text":"a"}]"#).unwrap();
        assert_eq!((p.segments[0].start_ms, p.language), (1000, None));
    }
}
