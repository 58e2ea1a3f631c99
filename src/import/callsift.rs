//! Our own `callsift.transcript/1` JSON (`docs/transcript-schema.md`).
//!
//! A callsift transcript is already what an import produces, so it is taken
//! as it is: its call id, source path and every other field stay, and
//! importing one into another output folder moves the call there unchanged.

use crate::model::{TRANSCRIPT_SCHEMA, Transcript};

/// Parses and checks a callsift transcript without changing any field.
pub(super) fn parse(text: &str) -> Result<Transcript, String> {
    let value = super::parse_json(text)?;
    let schema = super::str_field(&value, "schema").unwrap_or("");
    if schema != TRANSCRIPT_SCHEMA {
        return Err(if schema.is_empty() {
            "not a callsift transcript: no `schema` field".to_string()
        } else {
            format!("unsupported transcript schema `{schema}` (expected `{TRANSCRIPT_SCHEMA}`)")
        });
    }
    let transcript: Transcript =
        serde_json::from_value(value).map_err(|e| format!("not a callsift transcript: {e}"))?;
    for (i, s) in transcript.segments.iter().enumerate() {
        if s.end_ms < s.start_ms {
            return Err(format!(
                "segments[{i}]: end_ms {} is before start_ms {}",
                s.end_ms, s.start_ms
            ));
        }
    }
    Ok(transcript)
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{"schema":"callsift.transcript/1","call_id":"00112233445566778899",
        "source_path":"a.wav","content_hash":"blake3:00","call_start":null,"duration_ms":2000,
        "channels":1,"sample_rate_hz":8000,"codec":"pcm_s16le","metadata":{},"model":"ggml-base.bin",
        "languages":{"mixed":"pl"},"segments":[{"start_ms":0,"end_ms":2000,"channel":0,
        "speaker":"mixed","language":"pl","text":"Dzień dobry","avg_logprob":-0.2,
        "no_speech_prob":0.01}],"speech":[]}"#;

    #[test]
    fn reads_fields_as_they_are() {
        let t = parse(MINIMAL).unwrap();
        assert_eq!(t.call_id, "00112233445566778899");
        assert_eq!(t.source_path, "a.wav");
        assert_eq!(t.segments[0].text, "Dzień dobry");
        assert!(t.warnings.is_empty());
    }

    #[test]
    fn rejects_other_schemas_and_reversed_segments() {
        let other = MINIMAL.replace("callsift.transcript/1", "callsift.transcript/9");
        assert!(
            parse(&other)
                .unwrap_err()
                .contains("unsupported transcript schema `callsift.transcript/9`")
        );
        let reversed = MINIMAL.replace("\"start_ms\":0", "\"start_ms\":2500");
        assert_eq!(
            parse(&reversed).unwrap_err(),
            "segments[0]: end_ms 2000 is before start_ms 2500"
        );
        let missing = MINIMAL.replace("\"model\":\"ggml-base.bin\",", "");
        assert!(
            parse(&missing)
                .unwrap_err()
                .contains("missing field `model`")
        );
    }
}
