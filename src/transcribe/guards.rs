//! Guards against whisper's known failures on call audio, applied to a
//! channel's segments after transcription:
//!
//! - **silence hallucinations**: whole-segment texts from the pipeline
//!   file's list ("Thank you for watching", "Продолжение следует…") and
//!   bracketed annotations (`[BLANK_AUDIO]`, `(music)`) are dropped;
//! - **low confidence**: a segment whose mean token log-probability is below
//!   `min_avg_logprob`, or which whisper itself thinks is no speech
//!   (`no_speech_prob` above the threshold *and* a low log-probability), is dropped;
//! - **repetition loops**: a run of words repeated more than `max_repeats`
//!   times in a row is cut to `max_repeats` copies (a single number to
//!   eight: dictated digits repeat), and the same text
//!   repeated in consecutive segments is kept `max_repeats` times at most.

use crate::config::{GuardSettings, WhisperSettings};
use crate::model::WindowSegment;

/// Longest phrase, in words, checked for loops.
const MAX_LOOP_WORDS: usize = 8;
/// Digits repeated are kept up to this many words: dictated phone
/// and account numbers repeat digits ("5 5 5", "0 0 0 0") for real.
const MAX_NUMBER_REPEATS: usize = 8;

/// What the guards removed, for logs and tests.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct GuardCounts {
    pub hallucinations: usize,
    pub low_confidence: usize,
    pub loops_collapsed: usize,
    pub repeated_segments: usize,
    pub empty: usize,
}

/// Applies every guard to segments in time order.
pub fn apply(
    segments: Vec<WindowSegment>,
    guards: &GuardSettings,
    whisper: &WhisperSettings,
) -> (Vec<WindowSegment>, GuardCounts) {
    let mut counts = GuardCounts::default();
    let banned: Vec<String> = guards
        .hallucinations
        .iter()
        .map(|h| comparable(h))
        .filter(|h| !h.is_empty())
        .collect();
    let mut kept: Vec<WindowSegment> = Vec::with_capacity(segments.len());
    for mut seg in segments {
        let key = comparable(&seg.text);
        if key.is_empty() || is_annotation(&seg.text) {
            counts.empty += 1;
            continue;
        }
        if banned.contains(&key) {
            counts.hallucinations += 1;
            continue;
        }
        let whisper_says_silence = seg.no_speech_prob > whisper.no_speech_threshold
            && seg.avg_logprob < whisper.logprob_threshold;
        if seg.avg_logprob < guards.min_avg_logprob || whisper_says_silence {
            counts.low_confidence += 1;
            continue;
        }
        if let Some(collapsed) = collapse_loops(&seg.text, guards.max_repeats.max(1)) {
            seg.text = collapsed;
            counts.loops_collapsed += 1;
        }
        let repeats = kept
            .iter()
            .rev()
            .take_while(|k| comparable(&k.text) == key)
            .count();
        if repeats >= guards.max_repeats.max(1) {
            counts.repeated_segments += 1;
            continue;
        }
        kept.push(seg);
    }
    (kept, counts)
}

/// Text reduced for comparison with the shared normalization (case,
/// punctuation, Unicode forms), so list entries match whatever
/// punctuation whisper adds.
fn comparable(text: &str) -> String {
    crate::text::normalize(text, None)
}

/// `[BLANK_AUDIO]`, `(music)`, `*laughs*`, `♪♪`: whisper's sound annotations.
fn is_annotation(text: &str) -> bool {
    let t = text.trim();
    let pairs = [('[', ']'), ('(', ')'), ('*', '*'), ('♪', '♪')];
    pairs
        .iter()
        .any(|&(open, close)| t.len() > 1 && t.starts_with(open) && t.ends_with(close))
        || t.chars().all(|c| c == '♪' || c.is_whitespace())
}

/// Cuts phrases repeated more than `max_repeats` times in a row down to
/// `max_repeats` copies. Returns `None` when nothing changed.
pub fn collapse_loops(text: &str, max_repeats: usize) -> Option<String> {
    let words: Vec<&str> = text.split_whitespace().collect();
    let keys: Vec<String> = words.iter().map(|w| comparable(w)).collect();
    let mut out: Vec<&str> = Vec::with_capacity(words.len());
    let mut out_keys: Vec<&str> = Vec::with_capacity(words.len());
    let mut changed = false;
    let mut i = 0;
    while i < words.len() {
        let mut skipped = false;
        for n in 1..=MAX_LOOP_WORDS.min(out.len()) {
            // Is words[i..i+n] the same phrase as the last n words kept, and
            // were those already repeated max_repeats times?
            if i + n > words.len() {
                break;
            }
            let phrase = &keys[i..i + n];
            if phrase.iter().all(String::is_empty) {
                continue;
            }
            let mut copies = 0;
            let mut end = out_keys.len();
            while end >= n
                && out_keys[end - n..end]
                    .iter()
                    .zip(phrase)
                    .all(|(a, b)| a == b)
            {
                copies += 1;
                end -= n;
            }
            let numbers = phrase
                .iter()
                .all(|w| !w.is_empty() && w.chars().all(|c| c.is_ascii_digit()));
            let limit = if numbers {
                max_repeats.max(MAX_NUMBER_REPEATS.div_ceil(n))
            } else {
                max_repeats
            };
            if copies >= limit {
                i += n;
                changed = true;
                skipped = true;
                break;
            }
        }
        if !skipped {
            out.push(words[i]);
            out_keys.push(&keys[i]);
            i += 1;
        }
    }
    changed.then(|| out.join(" "))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(text: &str, logprob: f32, no_speech: f32) -> WindowSegment {
        WindowSegment {
            start_window_ms: 0,
            end_window_ms: 1000,
            text: text.into(),
            avg_logprob: logprob,
            no_speech_prob: no_speech,
            tokens: Vec::new(),
        }
    }

    #[test]
    fn hallucinations_are_dropped_in_every_language() {
        let guards = GuardSettings::default();
        let input = vec![
            seg(" Thank you for watching!", -0.2, 0.1),
            seg("Napisy stworzone przez społeczność Amara.org", -0.2, 0.1),
            seg("Продолжение следует...", -0.2, 0.1),
            seg("תודה שצפיתם", -0.2, 0.1),
            seg("[BLANK_AUDIO]", -0.2, 0.1),
            seg("(music)", -0.2, 0.1),
            seg("Thank you for calling, how can I help?", -0.2, 0.1),
        ];
        let (kept, counts) = apply(input, &guards, &WhisperSettings::default());
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].text, "Thank you for calling, how can I help?");
        assert_eq!(counts.hallucinations, 4);
        assert_eq!(counts.empty, 2);
    }

    #[test]
    fn low_confidence_is_dropped() {
        let (kept, counts) = apply(
            vec![
                seg("mumble", -2.0, 0.1),
                seg("maybe silence", -1.2, 0.9),
                seg("clear words", -0.3, 0.9),
            ],
            &GuardSettings::default(),
            &WhisperSettings::default(),
        );
        assert_eq!(counts.low_confidence, 2);
        assert_eq!(kept.len(), 1);
        assert_eq!(kept[0].text, "clear words");
    }

    #[test]
    fn loops_collapse() {
        assert_eq!(
            collapse_loops("thank you thank you thank you thank you", 2).as_deref(),
            Some("thank you thank you")
        );
        assert_eq!(
            collapse_loops(
                "Weźgłę po pio. Weźgłę po pio. Weźgłę po pio. Weźgłę po pio.",
                1
            )
            .as_deref(),
            Some("Weźgłę po pio.")
        );
        assert_eq!(
            collapse_loops("no, no, no, no, no", 2).as_deref(),
            Some("no, no,")
        );
        assert_eq!(collapse_loops("a normal sentence with no loop", 2), None);
        assert_eq!(collapse_loops("yes yes", 2), None);
        // Dictated digits repeat for real; a loop of them is still cut.
        assert_eq!(collapse_loops("5, 5, 5, 0, 1, 9, 9.", 2), None);
        assert_eq!(
            collapse_loops("1 1 1 1 1 1 1 1 1 1 1 1", 2).as_deref(),
            Some("1 1 1 1 1 1 1 1")
        );
    }

    #[test]
    fn repeated_segments_are_cut() {
        let input = vec![
            seg("hello", -0.2, 0.1),
            seg("I will call back", -0.2, 0.1),
            seg("I will call back.", -0.2, 0.1),
            seg("I will call back", -0.2, 0.1),
            seg("bye now", -0.2, 0.1),
        ];
        let (kept, counts) = apply(
            input,
            &GuardSettings::default(),
            &WhisperSettings::default(),
        );
        assert_eq!(counts.repeated_segments, 1);
        let texts: Vec<_> = kept.iter().map(|s| s.text.as_str()).collect();
        assert_eq!(
            texts,
            ["hello", "I will call back", "I will call back.", "bye now"]
        );
    }
}
