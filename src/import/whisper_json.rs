//! whisper.cpp JSON: the `-oj` output of `whisper-cli` and its `-ojf` form
//! with per-token data.
//!
//! Each `transcription` entry carries its times twice: `offsets` in ms and
//! `timestamps` as `HH:MM:SS,mmm`; the integer offsets are exact, so they
//! win. whisper.cpp has no speakers (its `-di` stereo guess and `-tdrz`
//! turn marks are too unreliable to become channels), so every line is
//! `mixed`. The model path given to whisper.cpp names the model.

use serde_json::Value;

use super::{Parsed, RawSegment, str_field};

pub(super) fn parse(text: &str) -> Result<Parsed, String> {
    let root = super::parse_json(text)?;
    let entries = root
        .get("transcription")
        .and_then(Value::as_array)
        .ok_or("no `transcription` array (not whisper.cpp json)")?;
    let segments = entries
        .iter()
        .enumerate()
        .map(|(i, e)| segment(e).map_err(|m| format!("transcription[{i}]: {m}")))
        .collect::<Result<_, _>>()?;
    Ok(Parsed {
        segments,
        language: language(&root),
        model: model_file(&root),
    })
}

fn segment(entry: &Value) -> Result<RawSegment, String> {
    let (start_ms, end_ms) = times(entry)?;
    Ok(RawSegment {
        start_ms,
        end_ms,
        text: str_field(entry, "text").unwrap_or("").to_string(),
        avg_logprob: entry
            .get("tokens")
            .and_then(Value::as_array)
            .and_then(|t| avg_logprob(t)),
        ..RawSegment::default()
    })
}

/// Start and end in ms, from `offsets` or else `timestamps`.
fn times(entry: &Value) -> Result<(u64, u64), String> {
    let (start, end, shown) = if let Some(o) = entry.get("offsets") {
        let start = super::millis_value(o.get("from"), "start")?;
        let end = super::millis_value(o.get("to"), "end")?;
        (start, end, (format!("{start} ms"), format!("{end} ms")))
    } else if let Some(t) = entry.get("timestamps") {
        let from = str_field(t, "from").ok_or("no start time in `timestamps`")?;
        let to = str_field(t, "to").ok_or("no end time in `timestamps`")?;
        let start = super::clock_value(from, "start")?;
        let end = super::clock_value(to, "end")?;
        (start, end, (from.to_string(), to.to_string()))
    } else {
        return Err("no `offsets` or `timestamps`".to_string());
    };
    if end < start {
        return Err(format!("end {} is before start {}", shown.1, shown.0));
    }
    Ok((start, end))
}

/// `result.language` (what whisper decoded in), else the language asked
/// for unless that was `auto`.
fn language(root: &Value) -> Option<String> {
    let detected = root.get("result").and_then(|r| str_field(r, "language"));
    let asked = root
        .get("params")
        .and_then(|p| str_field(p, "language"))
        .filter(|l| !l.eq_ignore_ascii_case("auto"));
    detected.or(asked).map(str::to_string)
}

/// The file name of `params.model` (`models/ggml-base.bin` → `ggml-base.bin`).
fn model_file(root: &Value) -> Option<String> {
    let path = root.get("params").and_then(|p| str_field(p, "model"))?;
    let name = path.rsplit(['/', '\\']).next().unwrap_or(path).trim();
    (!name.is_empty()).then(|| name.to_string())
}

/// Mean natural log of the text tokens' probabilities (`-ojf` only), the
/// way the pipeline computes `avg_logprob`; special tokens (`[_BEG_]`,
/// `[_TT_150]`, `<|endoftext|>`) are not text and are left out.
fn avg_logprob(tokens: &[Value]) -> Option<f32> {
    let logprobs: Vec<f64> = tokens
        .iter()
        .filter(|t| {
            let text = str_field(t, "text").unwrap_or("");
            !(text.starts_with("[_") || text.starts_with("<|"))
        })
        .filter_map(|t| t.get("p").and_then(Value::as_f64))
        .filter(|p| *p > 0.0 && *p <= 1.0)
        .map(f64::ln)
        .collect();
    if logprobs.is_empty() {
        return None;
    }
    let mean = logprobs.iter().sum::<f64>() / logprobs.len() as f64;
    Some(((mean * 1000.0).round() / 1000.0) as f32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_win_over_timestamps() {
        let p = parse(
            r#"{"transcription":[{"timestamps":{"from":"00:00:00,000","to":"00:00:05,000"},
            "offsets":{"from":10,"to":4990},"text":" And so"}]}"#,
        )
        .unwrap();
        assert_eq!((p.segments[0].start_ms, p.segments[0].end_ms), (10, 4990));
        assert_eq!(p.segments[0].speaker, None);
    }

    #[test]
    fn timestamps_alone_are_parsed() {
        let p = parse(
            r#"{"transcription":[{"timestamps":{"from":"00:01:02,500","to":"00:01:04,000"},"text":"x"}]}"#,
        )
        .unwrap();
        assert_eq!(
            (p.segments[0].start_ms, p.segments[0].end_ms),
            (62_500, 64_000)
        );
        let bad =
            r#"{"transcription":[{"timestamps":{"from":"00:01:02,500","to":"soon"},"text":"x"}]}"#;
        assert_eq!(
            parse(bad).unwrap_err(),
            "transcription[0]: end `soon` is not a time"
        );
    }

    #[test]
    fn language_and_model_from_params() {
        let p = parse(r#"{"params":{"model":"models/ggml-base.bin","language":"auto"},"result":{"language":"pl"},"transcription":[]}"#).unwrap();
        assert_eq!(
            (p.language.as_deref(), p.model.as_deref()),
            (Some("pl"), Some("ggml-base.bin"))
        );
        let p = parse(
            r#"{"params":{"model":"C:\\m\\ggml-tiny.bin","language":"auto"},"transcription":[]}"#,
        )
        .unwrap();
        assert_eq!(
            (p.language, p.model.as_deref()),
            (None, Some("ggml-tiny.bin"))
        );
        let p = parse(r#"{"params":{"language":"ru"},"transcription":[]}"#).unwrap();
        assert_eq!(p.language.as_deref(), Some("ru"));
    }

    #[test]
    fn token_probabilities_give_avg_logprob() {
        let tokens: Vec<Value> = serde_json::from_str(
            r#"[{"text":"[_BEG_]","p":0.1},{"text":" Hi","p":1.0},{"text":"!","p":0.5},{"text":"[_TT_50]","p":0.2}]"#,
        )
        .unwrap();
        assert_eq!(avg_logprob(&tokens), Some(-0.347));
        assert_eq!(avg_logprob(&[]), None);
    }

    #[test]
    fn reversed_and_missing_times_are_errors() {
        let rev = r#"{"transcription":[{"offsets":{"from":5000,"to":1000},"text":"x"}]}"#;
        assert_eq!(
            parse(rev).unwrap_err(),
            "transcription[0]: end 1000 ms is before start 5000 ms"
        );
        let none = r#"{"transcription":[{"text":"x"}]}"#;
        assert_eq!(
            parse(none).unwrap_err(),
            "transcription[0]: no `offsets` or `timestamps`"
        );
        assert!(
            parse(r#"{"segments":[]}"#)
                .unwrap_err()
                .contains("no `transcription` array")
        );
    }
}
