//! Window time → the channel's time, and whisper's segments cut to the
//! pieces of their window.
//!
//! A window is several stretches of one channel's speech (pieces) with
//! silence between them, and whisper's times are relative to the window.
//! [`map_segment`] maps a segment's times back through the pieces;
//! [`split_at_pieces`] cuts a segment that runs across two pieces (two
//! turns of one speaker) by its tokens' DTW times; [`segments_from_tokens`]
//! makes the segments of a window decoded without timestamp tokens from the
//! token times alone. All of it is pure arithmetic on a window's pieces and
//! whisper's output, tested without audio or a model.

use std::ops::Range;

use crate::model::{Window, WindowPiece, WindowSegment, WindowToken};

/// Which side of a piece boundary a time belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Edge {
    /// A segment start: a time on a boundary belongs to the next piece.
    Start,
    /// A segment end: a time on a boundary belongs to the previous piece.
    End,
}

/// Maps a time inside a window to the channel's timeline. A time in the
/// gap between two pieces snaps to the next piece's start (a segment start)
/// or the previous piece's end (a segment end); times past the window's end
/// are clamped to the end of its last piece, so a segment never points into
/// audio whisper did not hear.
pub fn map_to_source(window: &Window, window_ms: u64, edge: Edge) -> u64 {
    let Some(last) = window.pieces.last() else {
        return 0;
    };
    let mut previous_end: Option<u64> = None;
    for piece in &window.pieces {
        let end = piece_end(piece);
        if window_ms < piece.window_start_ms {
            return match (edge, previous_end) {
                (Edge::End, Some(prev)) => prev,
                _ => piece.source_start_ms,
            };
        }
        let inside = match edge {
            Edge::Start => window_ms < end,
            Edge::End => window_ms <= end,
        };
        if inside {
            return piece.source_start_ms + (window_ms - piece.window_start_ms);
        }
        previous_end = Some(piece.source_start_ms + piece.duration_ms);
    }
    last.source_start_ms + last.duration_ms
}

/// Overlap, in ms, below which a segment's first or last piece may be
/// whisper's timestamp slack rather than speech the segment contains (when
/// it is also under half of the segment's largest overlap with a piece).
const SLIVER_MS: u64 = 1_000;

/// Maps a segment's window times to the channel's timeline, keeping
/// `start_ms <= end_ms`.
///
/// whisper.cpp's segments are often contiguous (a segment starts where the
/// previous one ended, even across a pause), so a segment of the second
/// piece can begin up to a second before that piece, in the gap or at the
/// end of the first. Such slivers (under [`SLIVER_MS`] and under half the
/// segment's largest piece overlap) are trimmed from either end before
/// mapping, so the segment's times land on the piece its words came from.
/// A segment that really spans two pieces keeps both.
pub fn map_segment(window: &Window, start_window_ms: u64, end_window_ms: u64) -> (u64, u64) {
    let end_window_ms = end_window_ms.max(start_window_ms);
    let (mut start, mut end) = (start_window_ms, end_window_ms);
    if let Some((f, l)) = covered_pieces(window, start_window_ms, end_window_ms) {
        let (pf, pl) = (&window.pieces[f], &window.pieces[l]);
        start = start.max(pf.window_start_ms);
        end = end.min(piece_end(pl));
    }
    let source_start = map_to_source(window, start, Edge::Start);
    let source_end = map_to_source(window, end.max(start), Edge::End);
    (source_start, source_end.max(source_start))
}

/// The first and last piece a segment really covers: the pieces its window
/// times overlap, less slivers at either end (see [`map_segment`]). `None`
/// when it overlaps no piece.
fn covered_pieces(
    window: &Window,
    start_window_ms: u64,
    end_window_ms: u64,
) -> Option<(usize, usize)> {
    let end_window_ms = end_window_ms.max(start_window_ms);
    let overlaps: Vec<u64> = window
        .pieces
        .iter()
        .map(|p| {
            let lo = start_window_ms.max(p.window_start_ms);
            let hi = end_window_ms.min(piece_end(p));
            hi.saturating_sub(lo)
        })
        .collect();
    let first = (0..overlaps.len()).find(|&i| overlaps[i] > 0)?;
    let last = (0..overlaps.len()).rev().find(|&i| overlaps[i] > 0)?;
    let largest = overlaps.iter().copied().max().unwrap_or(0);
    let sliver = |i: usize| overlaps[i] < SLIVER_MS && overlaps[i] * 2 < largest;
    let (mut f, mut l) = (first, last);
    while f < l && sliver(f) {
        f = (f + 1..=l).find(|&i| overlaps[i] > 0).unwrap_or(l);
    }
    while l > f && sliver(l) {
        l = (f..l).rev().find(|&i| overlaps[i] > 0).unwrap_or(f);
    }
    Some((f, l))
}

/// The piece a window time belongs to: the piece that contains it, or for a
/// time in a gap (or outside the window) the piece whose edge is nearer.
fn nearest_piece(window: &Window, window_ms: u64) -> usize {
    let distance = |p: &WindowPiece| {
        if window_ms < p.window_start_ms {
            p.window_start_ms - window_ms
        } else {
            window_ms.saturating_sub(piece_end(p))
        }
    };
    (0..window.pieces.len())
        .min_by_key(|&i| distance(&window.pieces[i]))
        .unwrap_or(0)
}

fn piece_end(piece: &WindowPiece) -> u64 {
    piece.window_start_ms + piece.duration_ms
}

/// Splits a segment whose words came from more than one piece of its window
/// into one segment per piece, using the tokens' aligned times.
///
/// whisper sometimes reads two turns of one speaker, packed into one window
/// with the other speaker's reply cut out between them, as one sentence.
/// Left whole, that segment starts in the first turn and ends in the second,
/// so the merged dialogue shows it before the reply and a search hit on its
/// second half jumps to the wrong turn. A segment without token times, or
/// whose tokens all fall in one piece, is returned unchanged, as is one
/// whose times cover a single piece (after trimming slivers). Token order
/// is kept (a token is never assigned to an earlier piece than the one
/// before it), a split falls only before a word (a token with a leading
/// space; so text in scripts written without spaces is never split), and
/// punctuation stays with the part before it.
pub fn split_at_pieces(window: &Window, segment: WindowSegment) -> Vec<WindowSegment> {
    if segment.tokens.is_empty() || window.pieces.len() < 2 {
        return vec![segment];
    }
    // Only pieces the segment's own times cover can receive its words:
    // where whisper ended a segment before the next piece, a token aligned
    // past that end is misaligned (DTW is loose on speech the model reads
    // badly), not proof of a second turn.
    let Some(covered) = covered_pieces(window, segment.start_window_ms, segment.end_window_ms)
    else {
        return vec![segment];
    };
    if covered.0 == covered.1 {
        return vec![segment];
    }
    let groups = group_by_piece(window, &segment.tokens, covered);
    if groups.len() < 2 {
        return vec![segment];
    }
    let last_group = groups.len() - 1;
    groups
        .iter()
        .enumerate()
        .map(|(i, (piece, tokens))| {
            let first_piece = nearest_piece(window, tokens[0].window_ms)
                .clamp(covered.0, covered.1)
                .min(*piece);
            let start_window_ms = if i == 0 {
                segment.start_window_ms
            } else {
                // The part starts on the piece its first word is in.
                window.pieces[first_piece]
                    .window_start_ms
                    .max(segment.start_window_ms)
            };
            let end_window_ms = if i == last_group {
                segment.end_window_ms
            } else {
                piece_end(&window.pieces[*piece])
            };
            WindowSegment {
                start_window_ms,
                end_window_ms: end_window_ms.max(start_window_ms),
                text: text_of(tokens.iter().copied()),
                avg_logprob: mean_logprob(tokens.iter().copied()),
                no_speech_prob: segment.no_speech_prob,
                tokens: Vec::new(),
            }
        })
        .collect()
}

/// A segment's tokens grouped by the piece (within `covered`) each belongs
/// to, in order; a group starts only at a word, never on punctuation, and
/// never on a piece before the previous group's.
fn group_by_piece<'t>(
    window: &Window,
    tokens: &'t [WindowToken],
    covered: (usize, usize),
) -> Vec<(usize, Vec<&'t WindowToken>)> {
    let mut groups: Vec<(usize, Vec<&WindowToken>)> = Vec::new();
    for token in tokens {
        // A new part starts only at the start of a word (a token with a
        // leading space): never inside a word, let alone a UTF-8 character.
        // Punctuation is timed loosely; it ends the part it follows.
        let may_start = starts_word(token) && has_letters(std::iter::once(token));
        let piece = nearest_piece(window, token.window_ms).clamp(covered.0, covered.1);
        match groups.last_mut() {
            Some((last_piece, group)) if !may_start || piece <= *last_piece => group.push(token),
            _ => groups.push((piece, vec![token])),
        }
    }
    // Wordless tokens never start a part, so only the first part can be
    // wordless (a leading dash): it joins the part after it.
    if groups.len() > 1 && !has_letters(groups[0].1.iter().copied()) {
        let (_, leading) = groups.remove(0);
        groups[0].1.splice(0..0, leading);
    }
    groups
}

/// A segment cut from a window decoded without timestamps is split at a
/// sentence end once it would run longer than this.
pub const MAX_SEGMENT_MS: u64 = 10_000;

/// Two tokens at least this far apart end a segment between them.
pub const PAUSE_MS: u64 = 1_000;

/// Cuts the one segment whisper returns for a window decoded without
/// timestamp tokens into segments, by its tokens' DTW times.
///
/// Every word goes to the piece its time falls in (or the nearest), and
/// each piece's words make at least one segment of their own; within a
/// piece a segment also ends at a pause of [`PAUSE_MS`] between two tokens,
/// and one that would run past [`MAX_SEGMENT_MS`] ends at its last
/// sentence end (`.`, `?`, `!`, `…`) before that. A cut falls only before
/// a token that starts a word (a leading space) or after a CJK full stop,
/// question or exclamation mark, never inside a word or a UTF-8 character;
/// a word without letters (a dash, a lone mark) goes with the word before
/// it, or with the one after it at the start of a sentence.
///
/// DTW times can run backwards: the largest set of tokens already in order
/// is trusted and each other token is clamped between its trusted
/// neighbours, so one stray time moves no other token. Each segment starts
/// at its first token's time and ends where the next one in the same piece
/// starts (without a pause between them), else at its last token's time,
/// both clamped inside its piece; its text is its tokens' bytes, trimmed
/// (segments with none are dropped); `avg_logprob` is its tokens' mean and
/// `no_speech_prob` the window's. A segment without token times is returned
/// unchanged: the caller has to fall back.
pub fn segments_from_tokens(window: &Window, segment: WindowSegment) -> Vec<WindowSegment> {
    let Some(window_end) = window.pieces.last().map(piece_end) else {
        return vec![segment];
    };
    if segment.tokens.is_empty() {
        return vec![segment];
    }
    let tokens = &segment.tokens;
    let times = monotone_times(tokens, window_end);
    let words: Vec<Word> = words(tokens)
        .into_iter()
        .map(|range| Word {
            piece: nearest_piece(window, times[range.start]),
            sentence_end: ends_sentence(&tokens[range.clone()]),
            tokens: range,
        })
        .collect();
    let parts = parts(&words, &times);
    let mut out = Vec::with_capacity(parts.len());
    for (i, part) in parts.iter().enumerate() {
        let first = &words[part.start];
        let last = &words[part.end - 1];
        let piece = &window.pieces[first.piece];
        let range = first.tokens.start..last.tokens.end;
        // Where the next segment follows in the same piece without a
        // pause, this one lasts until it starts: DTW times are onsets.
        let next_start = parts
            .get(i + 1)
            .map(|next| &words[next.start])
            .filter(|next| {
                next.piece == first.piece
                    && times[next.tokens.start] - times[range.end - 1] < PAUSE_MS
            });
        let start_ms = times[range.start].clamp(piece.window_start_ms, piece_end(piece));
        let end_ms = next_start
            .map_or(times[range.end - 1], |next| times[next.tokens.start])
            .clamp(start_ms, piece_end(piece));
        let text = text_of(tokens[range.clone()].iter());
        if text.is_empty() {
            continue;
        }
        out.push(WindowSegment {
            start_window_ms: start_ms,
            end_window_ms: end_ms,
            text,
            avg_logprob: mean_logprob(tokens[range.clone()].iter()),
            no_speech_prob: segment.no_speech_prob,
            tokens: tokens[range].to_vec(),
        });
    }
    out
}

/// A run of tokens that no cut may divide, with the piece it belongs to.
struct Word {
    tokens: Range<usize>,
    piece: usize,
    sentence_end: bool,
}

/// The segments of [`segments_from_tokens`] as ranges of `words`: cut
/// where the piece changes or at a pause, and where a part would run past
/// [`MAX_SEGMENT_MS`], at its last sentence end.
fn parts(words: &[Word], times: &[u64]) -> Vec<Range<usize>> {
    let mut parts = Vec::new();
    let mut start = 0;
    // Where the current part could end on a sentence end.
    let mut sentence_cut: Option<usize> = None;
    for i in 1..words.len() {
        let (prev, word) = (&words[i - 1], &words[i]);
        let pause = times[word.tokens.start] - times[prev.tokens.end - 1] >= PAUSE_MS;
        if word.piece != prev.piece || pause {
            parts.push(start..i);
            (start, sentence_cut) = (i, None);
            continue;
        }
        if prev.sentence_end {
            sentence_cut = Some(i);
        }
        let length = times[word.tokens.end - 1] - times[words[start].tokens.start];
        if length > MAX_SEGMENT_MS
            && let Some(cut) = sentence_cut.take()
        {
            parts.push(start..cut);
            start = cut;
        }
    }
    if !words.is_empty() {
        parts.push(start..words.len());
    }
    parts
}

/// Token ranges no cut may divide: a word starts at a token with a leading
/// space (or after a CJK sentence mark, for scripts without spaces), and a
/// word without letters joins a neighbour.
fn words(tokens: &[WindowToken]) -> Vec<Range<usize>> {
    let mut raw = Vec::new();
    let mut start = 0;
    for i in 1..tokens.len() {
        if starts_word(&tokens[i]) || ends_cjk_sentence(&tokens[i - 1]) {
            raw.push(start..i);
            start = i;
        }
    }
    raw.push(start..tokens.len());
    let mut words: Vec<Range<usize>> = Vec::with_capacity(raw.len());
    // Start of the wordless words waiting to join the next word.
    let mut carried: Option<usize> = None;
    for range in raw {
        if has_letters(tokens[range.clone()].iter()) {
            words.push(carried.take().unwrap_or(range.start)..range.end);
            continue;
        }
        if carried.is_some() {
            continue;
        }
        match words.last_mut() {
            // An opening dash or quote belongs to the sentence it opens.
            None => carried = Some(range.start),
            Some(prev) if ends_sentence(&tokens[prev.clone()]) => carried = Some(range.start),
            Some(prev) => prev.end = range.end,
        }
    }
    if let Some(start) = carried {
        match words.last_mut() {
            Some(prev) => prev.end = tokens.len(),
            None => words.push(start..tokens.len()),
        }
    }
    words
}

/// The tokens' times made non-decreasing and clamped to the window: the
/// longest non-decreasing run of them is kept as it is, and every other
/// token is clamped between its kept neighbours.
fn monotone_times(tokens: &[WindowToken], window_end_ms: u64) -> Vec<u64> {
    let raw: Vec<u64> = tokens
        .iter()
        .map(|t| t.window_ms.min(window_end_ms))
        .collect();
    let kept = longest_non_decreasing(&raw);
    let mut next_kept = vec![window_end_ms; raw.len()];
    let mut next = window_end_ms;
    for i in (0..raw.len()).rev() {
        if kept[i] {
            next = raw[i];
        }
        next_kept[i] = next;
    }
    let mut times = Vec::with_capacity(raw.len());
    let mut floor = 0;
    for i in 0..raw.len() {
        let t = if kept[i] {
            raw[i]
        } else {
            raw[i].clamp(floor, next_kept[i])
        };
        // Two stray tokens between the same neighbours stay in order too.
        floor = floor.max(t);
        times.push(floor);
    }
    times
}

/// Which elements make up one longest non-decreasing subsequence
/// (patience sorting, O(n log n)).
fn longest_non_decreasing(xs: &[u64]) -> Vec<bool> {
    // tails[k]: index of the smallest last element of a run of length k + 1.
    let mut tails: Vec<usize> = Vec::new();
    let mut previous: Vec<Option<usize>> = vec![None; xs.len()];
    for (i, &x) in xs.iter().enumerate() {
        let k = tails.partition_point(|&j| xs[j] <= x);
        previous[i] = k.checked_sub(1).map(|k| tails[k]);
        if k == tails.len() {
            tails.push(i);
        } else {
            tails[k] = i;
        }
    }
    let mut kept = vec![false; xs.len()];
    let mut at = tails.last().copied();
    while let Some(i) = at {
        kept[i] = true;
        at = previous[i];
    }
    kept
}

/// A token with a leading space starts a word (and a UTF-8 character).
fn starts_word(token: &WindowToken) -> bool {
    token.bytes.first().is_some_and(u8::is_ascii_whitespace)
}

/// Tokens' text: bytes joined first, since a token may hold part of a
/// character, then decoded and trimmed.
fn text_of<'t>(tokens: impl Iterator<Item = &'t WindowToken>) -> String {
    let bytes: Vec<u8> = tokens.flat_map(|t| t.bytes.iter().copied()).collect();
    String::from_utf8_lossy(&bytes).trim().to_string()
}

fn has_letters<'t>(tokens: impl Iterator<Item = &'t WindowToken>) -> bool {
    text_of(tokens).chars().any(char::is_alphanumeric)
}

fn mean_logprob<'t>(tokens: impl ExactSizeIterator<Item = &'t WindowToken>) -> f32 {
    let n = tokens.len().max(1);
    tokens.map(|t| t.logprob).sum::<f32>() / n as f32
}

/// Whether a word ends a sentence: its last mark (before closing quotes
/// or brackets) is `.`, `?`, `!` or `…` (or their CJK forms).
fn ends_sentence(tokens: &[WindowToken]) -> bool {
    let text = text_of(tokens.iter());
    let text = text.trim_end_matches(['"', '\'', ')', ']', '»', '”', '’']);
    text.ends_with(['.', '?', '!', '…', '。', '？', '！'])
}

/// A token ending in a CJK sentence mark: a word may start after it even
/// without a space (the mark is whole, so this is a character boundary).
fn ends_cjk_sentence(token: &WindowToken) -> bool {
    ["。", "？", "！"]
        .iter()
        .any(|mark| token.bytes.ends_with(mark.as_bytes()))
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// The silence the packer puts between two pieces.
    const GAP_MS: u64 = 800;

    #[test]
    fn window_times_map_back_to_source() {
        let window = Window {
            channel: 0,
            pieces: vec![
                WindowPiece {
                    window_start_ms: 0,
                    source_start_ms: 1_000,
                    duration_ms: 2_000,
                },
                WindowPiece {
                    window_start_ms: 2_000,
                    source_start_ms: 10_000,
                    duration_ms: 3_000,
                },
            ],
            samples: vec![],
        };
        assert_eq!(map_to_source(&window, 0, Edge::Start), 1_000);
        assert_eq!(map_to_source(&window, 1_500, Edge::Start), 2_500);
        // On the boundary: a start belongs to the next piece, an end to the previous.
        assert_eq!(map_to_source(&window, 2_000, Edge::Start), 10_000);
        assert_eq!(map_to_source(&window, 2_000, Edge::End), 3_000);
        assert_eq!(map_to_source(&window, 4_000, Edge::End), 12_000);
        // Past the end: clamped to the end of the last piece.
        assert_eq!(map_to_source(&window, 29_000, Edge::End), 13_000);
        assert_eq!(map_segment(&window, 500, 2_000), (1_500, 3_000));
        assert_eq!(map_segment(&window, 2_500, 1_000), (10_500, 10_500));
    }

    /// Two pieces: window 0–3000 ms (source 1000–4000) and, after the
    /// 800 ms gap, window 3800–6800 ms (source 20000–23000).
    fn two_turn_window() -> Window {
        Window {
            channel: 0,
            pieces: vec![
                WindowPiece {
                    window_start_ms: 0,
                    source_start_ms: 1_000,
                    duration_ms: 3_000,
                },
                WindowPiece {
                    window_start_ms: 3_000 + GAP_MS,
                    source_start_ms: 20_000,
                    duration_ms: 3_000,
                },
            ],
            samples: vec![],
        }
    }

    /// A segment of these tokens at these window times (also used by the
    /// transcriber's tail tests).
    pub(crate) fn timed_segment(start: u64, end: u64, tokens: &[(&str, u64)]) -> WindowSegment {
        WindowSegment {
            start_window_ms: start,
            end_window_ms: end,
            text: tokens
                .iter()
                .map(|t| t.0)
                .collect::<String>()
                .trim()
                .to_string(),
            avg_logprob: -0.5,
            no_speech_prob: 0.1,
            tokens: tokens
                .iter()
                .map(|&(text, window_ms)| WindowToken {
                    bytes: text.as_bytes().to_vec(),
                    window_ms,
                    logprob: if window_ms < 3_000 { -0.2 } else { -0.4 },
                })
                .collect(),
        }
    }

    #[test]
    fn segment_across_two_turns_is_split_at_the_piece() {
        let window = two_turn_window();
        let seg = timed_segment(
            200,
            6_500,
            &[
                (" I'll", 300),
                (" call", 700),
                (" you.", 1_500),
                (" Is", 3_900),
                (" that", 4_400),
                (" fine?", 5_900),
            ],
        );
        let parts = split_at_pieces(&window, seg);
        assert_eq!(parts.len(), 2, "{parts:?}");
        assert_eq!(parts[0].text, "I'll call you.");
        assert_eq!(parts[1].text, "Is that fine?");
        assert_eq!(
            (parts[0].start_window_ms, parts[0].end_window_ms),
            (200, 3_000)
        );
        assert_eq!(
            (parts[1].start_window_ms, parts[1].end_window_ms),
            (3_800, 6_500)
        );
        assert!((parts[0].avg_logprob + 0.2).abs() < 1e-6);
        assert!((parts[1].avg_logprob + 0.4).abs() < 1e-6);
        assert_eq!(parts[1].no_speech_prob, 0.1);
        // On the call's timeline each part lies inside its own turn.
        assert_eq!(
            map_segment(&window, parts[0].start_window_ms, parts[0].end_window_ms),
            (1_200, 4_000)
        );
        assert_eq!(
            map_segment(&window, parts[1].start_window_ms, parts[1].end_window_ms),
            (20_000, 22_700)
        );
    }

    #[test]
    fn segment_in_one_piece_or_without_times_is_unchanged() {
        let window = two_turn_window();
        let one = timed_segment(100, 2_900, &[(" Hello", 200), (" there.", 2_000)]);
        assert_eq!(split_at_pieces(&window, one.clone()), vec![one]);
        let mut untimed = timed_segment(200, 6_500, &[(" a", 300), (" b", 4_000)]);
        untimed.tokens.clear();
        assert_eq!(split_at_pieces(&window, untimed.clone()), vec![untimed]);
    }

    #[test]
    fn split_keeps_token_order_characters_and_punctuation() {
        let window = two_turn_window();
        // A token timed in the gap goes to the nearer piece; a late outlier
        // does not pull later tokens back; a lone full stop stays with the
        // words before it; the second byte of "ó" never starts a part.
        let ó = "ó".as_bytes();
        let mut seg = timed_segment(
            0,
            6_800,
            &[
                (" Dzień", 100),
                (" dobry", 3_100),
                (".", 3_700),
                (" Tak", 3_900),
                (" w", 3_300),
                (" g", 6_000),
            ],
        );
        seg.tokens.push(WindowToken {
            bytes: vec![ó[0]],
            window_ms: 6_100,
            logprob: -0.1,
        });
        seg.tokens.push(WindowToken {
            bytes: vec![ó[1]],
            window_ms: 200,
            logprob: -0.1,
        });
        seg.tokens.push(WindowToken {
            bytes: b"ra".to_vec(),
            window_ms: 6_200,
            logprob: -0.1,
        });
        let parts = split_at_pieces(&window, seg);
        let texts: Vec<&str> = parts.iter().map(|p| p.text.as_str()).collect();
        assert_eq!(texts, vec!["Dzień dobry.", "Tak w góra"]);
    }

    #[test]
    fn misaligned_tokens_do_not_split_a_segment() {
        let window = two_turn_window();
        // The end of a word timed into the next piece stays with its word.
        let seg = timed_segment(
            100,
            6_000,
            &[(" mamy", 500), (" gofer", 2_500), ("ter.", 4_200)],
        );
        assert_eq!(split_at_pieces(&window, seg.clone()), vec![seg]);
        // whisper ended the segment in the first piece (a 300 ms sliver of
        // the second): a word aligned into the second piece is DTW slack.
        let seg = timed_segment(
            100,
            4_100,
            &[(" Smil", 500), (" Matai", 4_000), (" DT?", 4_050)],
        );
        assert_eq!(split_at_pieces(&window, seg.clone()), vec![seg]);
    }

    #[test]
    fn a_leading_dash_joins_the_words_after_it() {
        let window = two_turn_window();
        let seg = timed_segment(0, 6_000, &[(" -", 100), (" Tak", 3_900), (" jest", 4_500)]);
        assert_eq!(split_at_pieces(&window, seg.clone()), vec![seg]);
    }

    /// The one segment whisper returns for a whole window decoded without
    /// timestamp tokens.
    fn untimed_window_segment(window: &Window, tokens: Vec<WindowToken>) -> WindowSegment {
        let end = window.pieces.last().map_or(0, piece_end);
        WindowSegment {
            start_window_ms: 0,
            end_window_ms: end,
            text: text_of(tokens.iter()),
            avg_logprob: -0.3,
            no_speech_prob: 0.05,
            tokens,
        }
    }

    fn tokens(list: &[(&str, u64, f32)]) -> Vec<WindowToken> {
        list.iter()
            .map(|&(text, window_ms, logprob)| WindowToken {
                bytes: text.as_bytes().to_vec(),
                window_ms,
                logprob,
            })
            .collect()
    }

    fn texts(segments: &[WindowSegment]) -> Vec<&str> {
        segments.iter().map(|s| s.text.as_str()).collect()
    }

    fn times(segments: &[WindowSegment]) -> Vec<(u64, u64)> {
        segments
            .iter()
            .map(|s| (s.start_window_ms, s.end_window_ms))
            .collect()
    }

    /// Every segment lies inside one piece of its window.
    fn assert_inside_pieces(window: &Window, segments: &[WindowSegment]) {
        for s in segments {
            assert!(
                window
                    .pieces
                    .iter()
                    .any(|p| p.window_start_ms <= s.start_window_ms
                        && s.start_window_ms <= s.end_window_ms
                        && s.end_window_ms <= piece_end(p)),
                "{s:?} is not inside one piece"
            );
        }
    }

    #[test]
    fn each_piece_gets_its_own_segments() {
        let window = two_turn_window();
        let segment = untimed_window_segment(
            &window,
            tokens(&[
                (" Good", 2_100, -0.1),
                (" morning", 2_500, -0.3),
                (".", 2_950, -0.2),
                // Less than a pause after the full stop: the piece cuts.
                (" Hi", 3_850, -0.5),
                ("!", 4_300, -0.7),
                (" How", 4_700, -0.4),
                (" are", 5_000, -0.4),
                (" you?", 5_300, -0.4),
            ]),
        );
        let segments = segments_from_tokens(&window, segment);
        assert_eq!(texts(&segments), vec!["Good morning.", "Hi! How are you?"]);
        assert_eq!(times(&segments), vec![(2_100, 2_950), (3_850, 5_300)]);
        assert!((segments[0].avg_logprob + 0.2).abs() < 1e-6);
        assert!((segments[1].avg_logprob + 0.48).abs() < 1e-6);
        assert!(segments.iter().all(|s| s.no_speech_prob == 0.05));
        assert_eq!(segments[1].tokens.len(), 5);
        assert_inside_pieces(&window, &segments);
    }

    #[test]
    fn a_long_piece_is_cut_at_sentence_ends_and_pauses() {
        let window = Window {
            channel: 1,
            pieces: vec![WindowPiece {
                window_start_ms: 0,
                source_start_ms: 60_000,
                duration_ms: 25_000,
            }],
            samples: vec![],
        };
        // Four sentences of ten words, one word every 500 ms (4.5 s each,
        // 5 s apart), and a 1.5 s pause in the middle of the last one.
        let mut list = Vec::new();
        let mut at = 200;
        for sentence in 0..4 {
            for word in 0..10 {
                let text = match (sentence, word) {
                    (_, 9) => " end.",
                    (3, 4) => " wait,",
                    _ => " word",
                };
                list.push((text, at, -0.5));
                at += if (sentence, word) == (3, 4) {
                    1_500
                } else {
                    500
                };
            }
        }
        let segments =
            segments_from_tokens(&window, untimed_window_segment(&window, tokens(&list)));
        // Two sentences fit 10 s, a third would not: the cut falls at the
        // sentence end, and the pause cuts the last sentence.
        assert_eq!(
            times(&segments),
            vec![(200, 10_200), (10_200, 17_200), (18_700, 20_700)]
        );
        let sentence = "word word word word word word word word word end.";
        assert_eq!(
            texts(&segments),
            vec![
                format!("{sentence} {sentence}").as_str(),
                format!("{sentence} word word word word wait,").as_str(),
                "word word word word end.",
            ]
        );
        assert_inside_pieces(&window, &segments);
    }

    #[test]
    fn a_character_split_across_tokens_is_never_cut() {
        let window = two_turn_window();
        // "Привет" with its "в" (0xD0 0xB2) in two tokens, the halves timed
        // in different pieces; the cut falls before the next word instead.
        let v = "в".as_bytes();
        let mut list = tokens(&[(" При", 2_500, -0.1)]);
        list.push(WindowToken {
            bytes: vec![v[0]],
            window_ms: 2_900,
            logprob: -0.1,
        });
        list.push(WindowToken {
            bytes: [&v[1..], "ет.".as_bytes()].concat(),
            window_ms: 3_900,
            logprob: -0.1,
        });
        list.extend(tokens(&[(" Как", 4_200, -0.3), (" дела?", 4_600, -0.3)]));
        let segments = segments_from_tokens(&window, untimed_window_segment(&window, list));
        assert_eq!(texts(&segments), vec!["Привет.", "Как дела?"]);
        assert!(segments.iter().all(|s| !s.text.contains('\u{fffd}')));
        assert_inside_pieces(&window, &segments);
    }

    #[test]
    fn stray_times_move_no_other_token() {
        let window = two_turn_window();
        // The first token aligned at the window's end, a pair swapped, and
        // a word of the second turn aligned back into the first.
        let segment = untimed_window_segment(
            &window,
            tokens(&[
                (" One", 6_700, -0.1),
                (" two", 600, -0.1),
                (" three", 500, -0.1),
                (" four.", 1_200, -0.1),
                (" Five", 4_000, -0.1),
                (" six", 100, -0.1),
                (" seven.", 4_800, -0.1),
            ]),
        );
        let segments = segments_from_tokens(&window, segment);
        assert_eq!(
            texts(&segments),
            vec!["One two three four.", "Five six seven."]
        );
        // "One" takes the time of the first trusted token after it.
        assert_eq!(times(&segments), vec![(500, 1_200), (4_000, 4_800)]);
        assert_inside_pieces(&window, &segments);
    }

    #[test]
    fn times_past_the_window_end_are_clamped_into_the_last_piece() {
        let window = two_turn_window();
        let segment = untimed_window_segment(
            &window,
            tokens(&[
                (" Yes.", 300, -0.1),
                (" Bye", 6_900, -0.1),
                ("-bye.", 9_000, -0.1),
            ]),
        );
        let segments = segments_from_tokens(&window, segment);
        assert_eq!(texts(&segments), vec!["Yes.", "Bye-bye."]);
        assert_eq!(times(&segments), vec![(300, 300), (6_800, 6_800)]);
        assert_inside_pieces(&window, &segments);
    }

    #[test]
    fn untimed_and_empty_window_segments() {
        let window = two_turn_window();
        let mut untimed = untimed_window_segment(&window, Vec::new());
        untimed.text = "Hello there.".into();
        assert_eq!(
            segments_from_tokens(&window, untimed.clone()),
            vec![untimed]
        );
        let blank =
            untimed_window_segment(&window, tokens(&[(" ", 100, -1.0), ("  ", 4_000, -1.0)]));
        assert!(segments_from_tokens(&window, blank).is_empty());
    }

    #[test]
    fn a_dash_opening_a_turn_goes_with_it() {
        let window = two_turn_window();
        let segment = untimed_window_segment(
            &window,
            tokens(&[
                (" -", 150, -0.1),
                (" Tak?", 300, -0.1),
                (" -", 3_850, -0.1),
                (" Nie", 4_000, -0.1),
                (" -", 4_300, -0.1),
                (" wiem.", 4_500, -0.1),
            ]),
        );
        let segments = segments_from_tokens(&window, segment);
        assert_eq!(texts(&segments), vec!["- Tak?", "- Nie - wiem."]);
    }
}
