//! SubRip (`.srt`) and WebVTT (`.vtt`) subtitles: the two share cues of a
//! timing line and text lines, so they share one reader.
//!
//! Subtitles have no speaker field; call-centre exports and diarizing tools
//! put the speaker into the text instead, as a WebVTT voice tag
//! (`<v Agent>`), a bracketed label (`[Customer]`) or a `Name:` prefix. The
//! speaker is taken from there and removed from the text, and every other
//! markup (`<i>`, `<c.x>`, `<00:00:01.000>`, `{\an8}`) is stripped, so the
//! text is what was said.

use super::{Parsed, RawSegment, canonical_speaker, collapse_whitespace};

/// A speaker prefix longer than this is a sentence with a colon, not a name.
const MAX_PREFIX_CHARS: usize = 20;

/// One run of non-blank lines; `line` is the 1-based number of its first.
struct Block<'a> {
    line: usize,
    lines: Vec<&'a str>,
}

fn blocks(text: &str) -> Vec<Block<'_>> {
    let mut blocks: Vec<Block> = Vec::new();
    let mut open = false;
    for (i, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            open = false;
        } else if open {
            blocks
                .last_mut()
                .expect("an open block exists")
                .lines
                .push(line);
        } else {
            blocks.push(Block {
                line: i + 1,
                lines: vec![line],
            });
            open = true;
        }
    }
    blocks
}

/// True when the text starts with the `WEBVTT` signature.
pub(super) fn looks_like_vtt(text: &str) -> bool {
    text.strip_prefix("WEBVTT")
        .is_some_and(|rest| rest.is_empty() || rest.starts_with([' ', '\t', '\n', '\r']))
}

/// True when the first block is an SRT cue: an optional number, then a
/// timing line whose start is a clock time.
pub(super) fn looks_like_srt(text: &str) -> bool {
    let Some(first) = blocks(text).into_iter().next() else {
        return false;
    };
    let timing = match first.lines.as_slice() {
        [id, timing, ..] if id.trim().bytes().all(|b| b.is_ascii_digit()) => *timing,
        [timing, ..] => *timing,
        [] => return false,
    };
    timing
        .split_once("-->")
        .is_some_and(|(start, _)| super::parse_clock(start.trim()).is_some())
}

pub(super) fn parse_srt(text: &str) -> Result<Parsed, String> {
    let mut segments = Vec::new();
    for block in blocks(text) {
        segments.push(cue(&block, segments.len() + 1)?);
    }
    if segments.is_empty() {
        return Err("no cues".to_string());
    }
    Ok(Parsed {
        segments,
        ..Parsed::default()
    })
}

pub(super) fn parse_vtt(text: &str) -> Result<Parsed, String> {
    if !looks_like_vtt(text) {
        return Err("missing `WEBVTT` header".to_string());
    }
    let mut all = blocks(text).into_iter();
    let header = all.next().map(|b| b.lines).unwrap_or_default();
    let language = header.iter().find_map(|l| {
        let (key, value) = l.split_once(':')?;
        key.trim()
            .eq_ignore_ascii_case("language")
            .then(|| value.trim().to_string())
    });
    let mut segments = Vec::new();
    for block in all.filter(|b| !is_vtt_meta(b.lines[0])) {
        segments.push(cue(&block, segments.len() + 1)?);
    }
    if segments.is_empty() {
        return Err("no cues".to_string());
    }
    Ok(Parsed {
        segments,
        language,
        model: None,
    })
}

/// NOTE, STYLE and REGION blocks carry no dialogue.
fn is_vtt_meta(first_line: &str) -> bool {
    let word = first_line.split_whitespace().next().unwrap_or("");
    !first_line.contains("-->") && matches!(word, "NOTE" | "STYLE" | "REGION")
}

/// One cue: optional id line, timing line (settings after the end time
/// ignored), text lines joined with a space.
fn cue(block: &Block, n: usize) -> Result<RawSegment, String> {
    let timing_at = block.lines.iter().take(2).position(|l| l.contains("-->"));
    let Some(timing_at) = timing_at else {
        let found: String = block.lines[0].trim().chars().take(40).collect();
        return Err(format!(
            "line {}: expected a cue timing line like `00:00:01,000 --> 00:00:04,500`, found `{found}`",
            block.line
        ));
    };
    let (start, rest) = block.lines[timing_at]
        .split_once("-->")
        .expect("line has -->");
    let start = start.trim();
    let end = rest.split_whitespace().next().unwrap_or("");
    let at = |m: String| format!("cue {n}: {m}");
    let start_ms = super::clock_value(start, "start").map_err(at)?;
    let end_ms = super::clock_value(end, "end").map_err(at)?;
    if end_ms < start_ms {
        return Err(at(format!("end {end} is before start {start}")));
    }
    let (speaker, text) = cue_text(&block.lines[timing_at + 1..]);
    Ok(RawSegment {
        start_ms,
        end_ms,
        speaker,
        text,
        ..RawSegment::default()
    })
}

/// The speaker and plain text of a cue's lines.
fn cue_text(lines: &[&str]) -> (Option<String>, String) {
    let joined = lines.iter().map(|l| l.trim()).collect::<Vec<_>>().join(" ");
    let voice = first_voice(&joined);
    let text = collapse_whitespace(&decode_entities(&strip_tags(&joined)));
    match voice {
        Some(voice) => (Some(voice), text),
        None => speaker_prefix(&text),
    }
}

/// The name of the first WebVTT voice tag: `<v Agent>`, `<v.loud Anna Nowak>`.
fn first_voice(text: &str) -> Option<String> {
    let mut rest = text;
    while let Some(i) = rest.find("<v") {
        let after = &rest[i + 2..];
        if after.starts_with([' ', '\t', '.']) {
            let inside = &after[..after.find('>')?];
            let name = inside
                .split_once(char::is_whitespace)
                .map_or("", |(_, n)| n.trim());
            return (!name.is_empty()).then(|| name.to_string());
        }
        rest = after;
    }
    None
}

/// Removes markup: `<…>` tags that start with a letter, `/` or a digit
/// (WebVTT timestamps), and `{\…}` override codes. A lone `<` (as in
/// "a < b") stays.
fn strip_tags(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(['<', '{']) {
        out.push_str(&rest[..i]);
        let open = &rest[i..];
        let close = if open.starts_with('<') { '>' } else { '}' };
        let second = open[1..].chars().next();
        let is_tag = match close {
            '>' => second.is_some_and(|c| c.is_alphanumeric() || c == '/'),
            _ => second == Some('\\'),
        };
        match open.find(close).filter(|_| is_tag) {
            Some(end) => rest = &open[end + 1..],
            None => {
                out.push_str(&open[..1]);
                rest = &open[1..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// The character references WebVTT defines (SRT writers use them too).
fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_string();
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&nbsp;", " ")
        .replace("&lrm;", "\u{200e}")
        .replace("&rlm;", "\u{200f}")
        .replace("&quot;", "\"")
        .replace("&apos;", "'")
        .replace("&amp;", "&")
}

/// A speaker written into the text: `[agent] …`, `[SPEAKER_01]: …` or
/// `Name: …` (one word of at most [`MAX_PREFIX_CHARS`], starting with a
/// letter, and a colon followed by a space). Returns the speaker and the
/// text without it, or no speaker and the text unchanged.
fn speaker_prefix(text: &str) -> (Option<String>, String) {
    if text.starts_with('[') {
        return match bracket_prefix(text) {
            Some((speaker, rest)) => (Some(speaker), rest),
            None => (None, text.to_string()),
        };
    }
    let Some((word, rest)) = text.split_once(':') else {
        return (None, text.to_string());
    };
    let is_name = word.chars().count() <= MAX_PREFIX_CHARS
        && word.chars().next().is_some_and(char::is_alphabetic)
        && word
            .chars()
            .all(|c| c.is_alphanumeric() || matches!(c, '_' | '-' | '.'))
        && (rest.is_empty() || rest.starts_with(char::is_whitespace));
    if is_name {
        (Some(word.to_string()), rest.trim().to_string())
    } else {
        (None, text.to_string())
    }
}

/// `[label] rest` or `[label]: rest` when the label names a speaker.
fn bracket_prefix(text: &str) -> Option<(String, String)> {
    let (label, rest) = text.strip_prefix('[')?.split_once(']')?;
    if label.chars().count() > MAX_PREFIX_CHARS || !is_speaker_label(label) {
        return None;
    }
    let rest = rest.trim_start();
    let rest = rest.strip_prefix(':').unwrap_or(rest);
    Some((label.trim().to_string(), rest.trim().to_string()))
}

/// Brackets also mark sounds (`[Music]`, `[laughter]`), so only a role or a
/// diarizer's id (`SPEAKER_01`, `spk_0`, `ch 1`) counts as a speaker.
fn is_speaker_label(label: &str) -> bool {
    if matches!(canonical_speaker(label).as_str(), "agent" | "customer") {
        return true;
    }
    let lower = label.trim().to_lowercase();
    let digits = ["speaker", "spk", "ch"]
        .iter()
        .find_map(|p| lower.strip_prefix(p))
        .map(|r| r.trim_start_matches([' ', '_', '-']));
    digits.is_some_and(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (start, end, speaker, text) of every parsed cue.
    fn cues(p: &Parsed) -> Vec<(u64, u64, String, String)> {
        p.segments
            .iter()
            .map(|s| {
                (
                    s.start_ms,
                    s.end_ms,
                    s.speaker.clone().unwrap(),
                    s.text.clone(),
                )
            })
            .collect()
    }

    fn text_of(cue_lines: &[&str]) -> (Option<String>, String) {
        cue_text(cue_lines)
    }

    #[test]
    fn speaker_prefixes() {
        let s = |t: &str| speaker_prefix(t);
        let some = |sp: &str, t: &str| (Some(sp.to_string()), t.to_string());
        assert_eq!(s("Agent: Dzień dobry"), some("Agent", "Dzień dobry"));
        assert_eq!(
            s("SPEAKER_01: Да, слушаю"),
            some("SPEAKER_01", "Да, слушаю")
        );
        assert_eq!(s("[Customer] Hello"), some("Customer", "Hello"));
        assert_eq!(s("[agent]: Hello"), some("agent", "Hello"));
        assert_eq!(s("[spk_1] Hello"), some("spk_1", "Hello"));
        let none = |t: &str| (None, t.to_string());
        assert_eq!(s("[Music] la la"), none("[Music] la la"));
        assert_eq!(s("at 10:30 then"), none("at 10:30 then"));
        assert_eq!(s("10: ten"), none("10: ten"));
        assert_eq!(s("see https://x.pl"), none("see https://x.pl"));
        assert_eq!(s("https://x.pl is it"), none("https://x.pl is it"));
        assert_eq!(
            s("Averyveryverylongwordindeed: x"),
            none("Averyveryverylongwordindeed: x")
        );
        assert_eq!(s("Two words: x"), none("Two words: x"));
    }

    #[test]
    fn tags_are_stripped_and_voices_read() {
        assert_eq!(
            text_of(&["<v Agent>Dzień <i>dobry</i>,", "w czym mogę pomóc?</v>"]),
            (
                Some("Agent".to_string()),
                "Dzień dobry, w czym mogę pomóc?".to_string()
            )
        );
        assert_eq!(
            text_of(&[
                "<v.loud Anna Nowak><00:00:01.000><c>Tak</c> <00:00:01.500><c.yellow>jest</c>"
            ]),
            (Some("Anna Nowak".to_string()), "Tak jest".to_string())
        );
        assert_eq!(
            text_of(&["{\\an8}<font color=\"red\">a &lt; b &amp; c</font>"]),
            (None, "a < b & c".to_string())
        );
        assert_eq!(strip_tags("1 < 2 and {x}"), "1 < 2 and {x}");
        assert_eq!(strip_tags("unclosed <b"), "unclosed <b");
    }

    #[test]
    fn srt_cues() {
        let srt = "1\r\n00:00:01,000 --> 00:00:04,500 X1:10\r\nAgent: Dzień dobry,\r\nw czym mogę pomóc?\r\n\r\n\
                   2\r\n00:00:05,000 --> 00:00:06,250\r\n[Customer] Tak.\r\n";
        let p = parse_srt(srt).unwrap();
        let got = cues(&p);
        assert_eq!(
            got,
            [
                (
                    1000,
                    4500,
                    "Agent".to_string(),
                    "Dzień dobry, w czym mogę pomóc?".to_string()
                ),
                (5000, 6250, "Customer".to_string(), "Tak.".to_string()),
            ]
        );
    }

    #[test]
    fn srt_errors() {
        assert_eq!(parse_srt("\n\n").unwrap_err(), "no cues");
        assert_eq!(
            parse_srt("1\n00:00:04,500 --> 00:00:01,000\nx\n").unwrap_err(),
            "cue 1: end 00:00:01,000 is before start 00:00:04,500"
        );
        assert_eq!(
            parse_srt("1\n00:00:xx,500 --> 00:00:01,000\nx\n").unwrap_err(),
            "cue 1: start `00:00:xx,500` is not a time"
        );
        assert_eq!(
            parse_srt("{\"a\": 1}").unwrap_err(),
            "line 1: expected a cue timing line like `00:00:01,000 --> 00:00:04,500`, found `{\"a\": 1}`"
        );
    }

    #[test]
    fn vtt_skips_meta_blocks_and_reads_language() {
        let vtt = "WEBVTT - call\nKind: captions\nLanguage: he\n\nSTYLE\n::cue { color: red }\n\n\
                   NOTE a comment\nover two lines\n\nintro\n00:01.000 --> 00:04.500 align:start line:0\n<v Agent>שלום</v>\n\n\
                   00:00:05.000 --> 00:00:06.000\n<v Customer>היי</v>\n";
        let p = parse_vtt(vtt).unwrap();
        assert_eq!(p.language.as_deref(), Some("he"));
        let got = cues(&p);
        assert_eq!(
            got,
            [
                (1000, 4500, "Agent".to_string(), "שלום".to_string()),
                (5000, 6000, "Customer".to_string(), "היי".to_string())
            ]
        );
    }

    #[test]
    fn vtt_errors_and_detection() {
        assert_eq!(
            parse_vtt("WEBVTT\n\nNOTE nothing here\n").unwrap_err(),
            "no cues"
        );
        assert_eq!(
            parse_vtt("1\n00:00:01,000 --> 00:00:02,000\nx\n").unwrap_err(),
            "missing `WEBVTT` header"
        );
        assert!(looks_like_vtt("WEBVTT"));
        assert!(!looks_like_vtt("WEBVTTX"));
        assert!(looks_like_srt("\n\n7\n00:00:01,000 --> 00:00:02,000\nx"));
        assert!(looks_like_srt("00:00:01,000 --> 00:00:02,000\nx"));
        assert!(!looks_like_srt("hello\nworld"));
    }
}
