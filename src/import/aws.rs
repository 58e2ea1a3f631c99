//! Amazon Transcribe output, both kinds a call centre meets:
//!
//! - **Call Analytics**: a top-level `Transcript` array of turns, each with
//!   `ParticipantRole` (`AGENT`/`CUSTOMER`), `BeginOffsetMillis`,
//!   `EndOffsetMillis` and `Content`; `LanguageCode` (`en-US`) at the top.
//! - **Standard jobs**: `results.audio_segments` (one line per speaker turn,
//!   times as strings of seconds, `speaker_label` `spk_0` or, with channel
//!   identification, `channel_label` `ch_0`). Older outputs have only
//!   `results.items` (one word or punctuation mark each); those are joined
//!   into lines here.

use serde_json::Value;

use super::{Parsed, RawSegment, str_field};

/// A pause between two words of one speaker longer than this starts a new
/// line: without speaker labels a whole call would otherwise be one line.
const MAX_WORD_GAP_MS: u64 = 2000;

/// True when the JSON has the top-level shape of either kind of output.
pub(super) fn looks_like_aws(root: &Value) -> bool {
    let results = root.get("results").filter(|r| r.is_object());
    root.get("Transcript").is_some_and(Value::is_array)
        || results.is_some_and(|r| {
            ["transcripts", "items", "audio_segments"]
                .iter()
                .any(|k| r.get(k).is_some_and(Value::is_array))
        })
}

pub(super) fn parse(text: &str) -> Result<Parsed, String> {
    let root = super::parse_json(text)?;
    if let Some(turns) = root.get("Transcript").and_then(Value::as_array) {
        return call_analytics(&root, turns);
    }
    let results = root
        .get("results")
        .filter(|r| r.is_object())
        .ok_or("no `Transcript` (call analytics) or `results` (transcribe job): not amazon transcribe json")?;
    let segments = if let Some(list) = results.get("audio_segments").and_then(Value::as_array) {
        audio_segments(list)?
    } else if let Some(items) = results.get("items").and_then(Value::as_array) {
        join_items(items)?
    } else {
        return Err("`results` has neither `audio_segments` nor `items`, so no times".to_string());
    };
    Ok(Parsed {
        segments,
        language: str_field(results, "language_code").map(str::to_string),
        model: None,
    })
}

fn call_analytics(root: &Value, turns: &[Value]) -> Result<Parsed, String> {
    let mut segments = Vec::with_capacity(turns.len());
    for (i, turn) in turns.iter().enumerate() {
        let at = |m: String| format!("Transcript[{i}]: {m}");
        let start_ms = super::millis_value(turn.get("BeginOffsetMillis"), "start").map_err(at)?;
        let end_ms = super::millis_value(turn.get("EndOffsetMillis"), "end").map_err(at)?;
        if end_ms < start_ms {
            return Err(at(format!("end {end_ms} ms is before start {start_ms} ms")));
        }
        segments.push(RawSegment {
            start_ms,
            end_ms,
            speaker: str_field(turn, "ParticipantRole").map(str::to_string),
            language: str_field(turn, "LanguageCode").map(str::to_string),
            text: str_field(turn, "Content").unwrap_or("").to_string(),
            ..RawSegment::default()
        });
    }
    Ok(Parsed {
        segments,
        language: str_field(root, "LanguageCode").map(str::to_string),
        model: None,
    })
}

fn audio_segments(list: &[Value]) -> Result<Vec<RawSegment>, String> {
    let mut segments = Vec::with_capacity(list.len());
    for (i, s) in list.iter().enumerate() {
        let (start_ms, end_ms) =
            times(s).map_err(|m| format!("results.audio_segments[{i}]: {m}"))?;
        let (speaker, channel) = label(s);
        segments.push(RawSegment {
            start_ms,
            end_ms,
            speaker,
            channel,
            language: str_field(s, "language_code").map(str::to_string),
            text: str_field(s, "transcript").unwrap_or("").to_string(),
            ..RawSegment::default()
        });
    }
    Ok(segments)
}

/// `start_time` and `end_time` (strings of seconds), in order.
fn times(v: &Value) -> Result<(u64, u64), String> {
    let start = super::seconds_value(v.get("start_time"), "start")?;
    let end = super::seconds_value(v.get("end_time"), "end")?;
    if end < start {
        return Err(format!(
            "end {} is before start {}",
            v["end_time"], v["start_time"]
        ));
    }
    Ok((start, end))
}

/// The speaker and, for `ch_N` channel labels, the channel a line states.
fn label(v: &Value) -> (Option<String>, Option<usize>) {
    if let Some(ch) = str_field(v, "channel_label") {
        let channel = ch.strip_prefix("ch_").and_then(|n| n.parse().ok());
        return (Some(ch.to_string()), channel);
    }
    (str_field(v, "speaker_label").map(str::to_string), None)
}

/// Joins word items into lines: a new line when the label changes or
/// after a long pause; punctuation sticks to the word before it.
fn join_items(items: &[Value]) -> Result<Vec<RawSegment>, String> {
    let mut segments: Vec<RawSegment> = Vec::new();
    for (i, item) in items.iter().enumerate() {
        let content = item
            .pointer("/alternatives/0/content")
            .and_then(Value::as_str)
            .unwrap_or("");
        if str_field(item, "type") == Some("punctuation") {
            if let Some(last) = segments.last_mut() {
                last.text.push_str(content);
            }
            continue;
        }
        let (start_ms, end_ms) = times(item).map_err(|m| format!("results.items[{i}]: {m}"))?;
        let (speaker, channel) = label(item);
        match segments.last_mut() {
            Some(last) if last.speaker == speaker && start_ms <= last.end_ms + MAX_WORD_GAP_MS => {
                last.text.push(' ');
                last.text.push_str(content);
                last.end_ms = last.end_ms.max(end_ms);
            }
            _ => segments.push(RawSegment {
                start_ms,
                end_ms,
                speaker,
                channel,
                language: str_field(item, "language_code").map(str::to_string),
                text: content.to_string(),
                ..RawSegment::default()
            }),
        }
    }
    Ok(segments)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn item(start: &str, end: &str, word: &str, spk: &str) -> String {
        format!(
            r#"{{"start_time":"{start}","end_time":"{end}","speaker_label":"{spk}","type":"pronunciation","alternatives":[{{"confidence":"0.99","content":"{word}"}}]}}"#
        )
    }

    fn punct(mark: &str) -> String {
        format!(
            r#"{{"type":"punctuation","alternatives":[{{"confidence":"0.0","content":"{mark}"}}]}}"#
        )
    }

    #[test]
    fn items_group_by_speaker_and_pause() {
        let items = [
            item("0.5", "0.9", "Hello", "spk_0"),
            punct(","),
            item("1.0", "1.4", "hi", "spk_0"),
            punct("."),
            item("1.6", "2.0", "Yes", "spk_1"),
            item("4.5", "5.0", "later", "spk_1"),
        ];
        let json = format!(r#"{{"results":{{"items":[{}]}}}}"#, items.join(","));
        let p = parse(&json).unwrap();
        let got: Vec<(u64, u64, &str, &str)> = p
            .segments
            .iter()
            .map(|s| {
                (
                    s.start_ms,
                    s.end_ms,
                    s.speaker.as_deref().unwrap(),
                    s.text.as_str(),
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                (500, 1400, "spk_0", "Hello, hi."),
                (1600, 2000, "spk_1", "Yes"),
                (4500, 5000, "spk_1", "later")
            ]
        );
    }

    #[test]
    fn channel_labels_state_the_channel() {
        let json = r#"{"results":{"audio_segments":[{"start_time":"0.0","end_time":"1.0","transcript":"a","channel_label":"ch_1"}]}}"#;
        let s = &parse(json).unwrap().segments[0];
        assert_eq!((s.speaker.as_deref(), s.channel), (Some("ch_1"), Some(1)));
    }

    #[test]
    fn errors_name_the_place() {
        let e = |t: &str| parse(t).unwrap_err();
        assert_eq!(
            e(r#"{"results":{"audio_segments":[{"start_time":"2.5","end_time":"1.0"}]}}"#),
            r#"results.audio_segments[0]: end "1.0" is before start "2.5""#
        );
        assert_eq!(
            e(r#"{"Transcript":[{"BeginOffsetMillis":0}]}"#),
            "Transcript[0]: no end time"
        );
        assert!(
            e(r#"{"results":{"transcripts":[{"transcript":"x"}]}}"#)
                .contains("neither `audio_segments` nor `items`")
        );
        assert!(e(r#"{"foo":1}"#).contains("not amazon transcribe json"));
    }
}
