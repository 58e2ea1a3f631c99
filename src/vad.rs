//! Voice activity detection, packing speech into whisper windows, and mapping
//! window times back to the recording's timeline.
//!
//! Silence and line noise never reach whisper: it invents text on them
//! ("Thank you for watching") and spends most of its time encoding them.
//! The detector is [earshot](https://crates.io/crates/earshot), a small
//! neural WebRTC-style VAD in pure Rust working on 16 ms frames at 16 kHz. A
//! frame counts as speech when the model's score reaches the threshold *and*
//! its level is above an energy floor, so faint hiss is rejected even where
//! the model is unsure.
//!
//! Packing, remapping and splitting a segment that spans two pieces (by its
//! tokens' times) are pure functions of spans and window pieces and are
//! tested without audio.

use crate::config::VadSettings;
use crate::model::{
    Pcm16k, SpeechSpan, SpeechSpans, WHISPER_SAMPLE_RATE_HZ, Window, WindowPiece, WindowSegment,
    WindowToken,
};

/// Samples per VAD frame (16 ms at 16 kHz), fixed by earshot's model.
pub const FRAME_SAMPLES: usize = 256;
const FRAME_MS: u64 = 16;
const SAMPLES_PER_MS: u64 = (WHISPER_SAMPLE_RATE_HZ / 1000) as u64;

/// Finds speech in one channel. A second implementation (Silero) can slot in
/// behind this trait without touching packing or remapping.
pub trait SpeechDetector {
    /// One speech probability (0–1) per [`FRAME_SAMPLES`] frame; the last
    /// partial frame is zero-padded.
    fn frame_scores(&mut self, pcm: &Pcm16k) -> Vec<f32>;
}

/// The earshot detector (one per channel: it keeps streaming state).
pub struct EarshotDetector {
    inner: Box<earshot::Detector>,
}

impl Default for EarshotDetector {
    fn default() -> Self {
        Self {
            inner: earshot::Detector::default_boxed(),
        }
    }
}

impl SpeechDetector for EarshotDetector {
    fn frame_scores(&mut self, pcm: &Pcm16k) -> Vec<f32> {
        self.inner.reset();
        let mut frame = [0f32; FRAME_SAMPLES];
        pcm.samples()
            .chunks(FRAME_SAMPLES)
            .map(|chunk| {
                frame[..chunk.len()].copy_from_slice(chunk);
                frame[chunk.len()..].fill(0.0);
                self.inner.predict_f32(&frame)
            })
            .collect()
    }
}

/// Level of each frame in dBFS (RMS; −120 for digital silence).
pub fn frame_levels_dbfs(pcm: &Pcm16k) -> Vec<f32> {
    pcm.samples()
        .chunks(FRAME_SAMPLES)
        .map(|chunk| {
            let energy: f64 = chunk.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
            let rms = (energy / FRAME_SAMPLES as f64).sqrt();
            if rms <= 1e-6 {
                -120.0
            } else {
                (20.0 * rms.log10()) as f32
            }
        })
        .collect()
}

/// Runs the detector over a channel and turns frame decisions into speech spans.
pub fn detect_speech(
    detector: &mut dyn SpeechDetector,
    pcm: &Pcm16k,
    settings: &VadSettings,
) -> SpeechSpans {
    let scores = detector.frame_scores(pcm);
    let levels = frame_levels_dbfs(pcm);
    let is_speech: Vec<bool> = scores
        .iter()
        .zip(&levels)
        .map(|(&score, &level)| score >= settings.threshold && level >= settings.energy_floor_dbfs)
        .collect();
    spans_from_frames(&is_speech, pcm.duration_ms(), settings)
}

/// Turns per-frame speech flags into spans:
/// runs of speech frames → join pauses shorter than `min_silence_ms` → drop
/// speech shorter than `min_speech_ms` (these are the unpadded `talk`
/// spans) → pad by `pad_ms` (clamped to the channel) → merge overlaps
/// (the `spans` whisper gets).
pub fn spans_from_frames(
    is_speech: &[bool],
    duration_ms: u64,
    settings: &VadSettings,
) -> SpeechSpans {
    let mut raw: Vec<SpeechSpan> = Vec::new();
    let mut start: Option<usize> = None;
    for (i, &speech) in is_speech.iter().chain(std::iter::once(&false)).enumerate() {
        match (speech, start) {
            (true, None) => start = Some(i),
            (false, Some(s)) => {
                raw.push(SpeechSpan {
                    start_ms: s as u64 * FRAME_MS,
                    end_ms: (i as u64 * FRAME_MS).min(duration_ms),
                });
                start = None;
            }
            _ => {}
        }
    }

    let mut joined: Vec<SpeechSpan> = Vec::new();
    for span in raw {
        match joined.last_mut() {
            Some(prev) if span.start_ms.saturating_sub(prev.end_ms) < settings.min_silence_ms => {
                prev.end_ms = span.end_ms;
            }
            _ => joined.push(span),
        }
    }

    let talk: Vec<SpeechSpan> = joined
        .into_iter()
        .filter(|s| s.duration_ms() >= settings.min_speech_ms)
        .collect();
    let mut padded: Vec<SpeechSpan> = Vec::new();
    for &span in &talk {
        let span = SpeechSpan {
            start_ms: span.start_ms.saturating_sub(settings.pad_ms),
            end_ms: (span.end_ms + settings.pad_ms).min(duration_ms),
        };
        match padded.last_mut() {
            Some(prev) if span.start_ms <= prev.end_ms => {
                prev.end_ms = prev.end_ms.max(span.end_ms)
            }
            _ => padded.push(span),
        }
    }
    SpeechSpans {
        spans: padded,
        talk,
    }
}

/// Splits spans longer than `max_ms` into consecutive parts of at most
/// `max_ms` each, so every span fits a window.
pub fn split_long_spans(spans: &SpeechSpans, max_ms: u64) -> Vec<SpeechSpan> {
    let mut out = Vec::with_capacity(spans.spans.len());
    for span in &spans.spans {
        let parts = span.duration_ms().div_ceil(max_ms).max(1);
        // Equal parts rather than max-sized ones plus a stub: a 31 s span
        // becomes two 15.5 s parts instead of 30 s + 1 s.
        let part_ms = span.duration_ms().div_ceil(parts);
        let mut start = span.start_ms;
        while start < span.end_ms {
            let end = (start + part_ms).min(span.end_ms);
            out.push(SpeechSpan {
                start_ms: start,
                end_ms: end,
            });
            start = end;
        }
    }
    out
}

/// Silence put between two pieces of a window. Without it whisper hears two
/// turns as one sentence and its segment times cannot tell which piece a
/// word came from; with it, segments break at the gap and a time that falls
/// in a gap snaps to the edge of the piece it belongs to.
pub const PIECE_GAP_MS: u64 = 800;

/// Packs a channel's speech into windows of at most `max_window_ms`, in
/// time order, cutting the samples out of `pcm`. Each span becomes one
/// piece; pieces are separated by [`PIECE_GAP_MS`] of silence.
pub fn pack_windows(
    channel: usize,
    pcm: &Pcm16k,
    spans: &SpeechSpans,
    max_window_ms: u64,
) -> Vec<Window> {
    let samples = pcm.samples();
    let mut windows: Vec<Window> = Vec::new();
    let mut current: Option<Window> = None;
    for span in split_long_spans(spans, max_window_ms) {
        let from = (span.start_ms * SAMPLES_PER_MS) as usize;
        let to = ((span.end_ms * SAMPLES_PER_MS) as usize).min(samples.len());
        if from >= to {
            continue;
        }
        let duration_ms = span.duration_ms();
        let fits = current
            .as_ref()
            .is_some_and(|w| window_len_ms(w) + PIECE_GAP_MS + duration_ms <= max_window_ms);
        if !fits && let Some(done) = current.take() {
            windows.push(done);
        }
        let window = current.get_or_insert_with(|| Window {
            channel,
            pieces: Vec::new(),
            samples: Vec::new(),
        });
        let gap_ms = if window.pieces.is_empty() {
            0
        } else {
            PIECE_GAP_MS
        };
        let window_start_ms = window_len_ms(window) + gap_ms;
        window
            .samples
            .resize((window_start_ms * SAMPLES_PER_MS) as usize, 0.0);
        window.pieces.push(WindowPiece {
            window_start_ms,
            source_start_ms: span.start_ms,
            duration_ms,
        });
        window.samples.extend_from_slice(&samples[from..to]);
        // Keep samples and pieces in step even when the span's end was cut
        // by the end of the channel.
        let want = ((window_len_ms(window)) * SAMPLES_PER_MS) as usize;
        window.samples.resize(want, 0.0);
    }
    windows.extend(current);
    windows
}

fn window_len_ms(window: &Window) -> u64 {
    window
        .pieces
        .last()
        .map_or(0, |p| p.window_start_ms + p.duration_ms)
}

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
        let end = piece.window_start_ms + piece.duration_ms;
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
/// segment's largest piece overlap) are trimmed from either end before mapping, so the
/// segment's times land on the piece its words came from. A segment that
/// really spans two pieces keeps both.
pub fn map_segment(window: &Window, start_window_ms: u64, end_window_ms: u64) -> (u64, u64) {
    let end_window_ms = end_window_ms.max(start_window_ms);
    let (mut start, mut end) = (start_window_ms, end_window_ms);
    if let Some((f, l)) = covered_pieces(window, start_window_ms, end_window_ms) {
        let (pf, pl) = (&window.pieces[f], &window.pieces[l]);
        start = start.max(pf.window_start_ms);
        end = end.min(pl.window_start_ms + pl.duration_ms);
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
            let hi = end_window_ms.min(p.window_start_ms + p.duration_ms);
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
        let end = p.window_start_ms + p.duration_ms;
        if window_ms < p.window_start_ms {
            p.window_start_ms - window_ms
        } else {
            window_ms.saturating_sub(end)
        }
    };
    (0..window.pieces.len())
        .min_by_key(|&i| distance(&window.pieces[i]))
        .unwrap_or(0)
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
    let Some((first, last)) =
        covered_pieces(window, segment.start_window_ms, segment.end_window_ms)
    else {
        return vec![segment];
    };
    if first == last {
        return vec![segment];
    }
    // (piece, tokens) groups in order.
    let mut groups: Vec<(usize, Vec<&WindowToken>)> = Vec::new();
    for token in &segment.tokens {
        // A new part starts only at the start of a word (a token with a
        // leading space): never inside a word, let alone a UTF-8 character.
        let starts_word = token.bytes.first().is_some_and(u8::is_ascii_whitespace);
        // Punctuation is timed loosely; it ends the part it follows.
        let wordless = !String::from_utf8_lossy(&token.bytes)
            .chars()
            .any(char::is_alphanumeric);
        let piece = nearest_piece(window, token.window_ms).clamp(first, last);
        match groups.last_mut() {
            Some((last_piece, tokens)) if !starts_word || wordless || piece <= *last_piece => {
                tokens.push(token);
            }
            _ => groups.push((piece, vec![token])),
        }
    }
    let text_of = |tokens: &[&WindowToken]| {
        let bytes: Vec<u8> = tokens
            .iter()
            .flat_map(|t| t.bytes.iter().copied())
            .collect();
        String::from_utf8_lossy(&bytes).trim().to_string()
    };
    let has_words = |tokens: &[&WindowToken]| text_of(tokens).chars().any(char::is_alphanumeric);
    // Wordless tokens never start a part, so only the first part can be
    // wordless (a leading dash): it joins the part after it.
    if groups.len() > 1 && !has_words(&groups[0].1) {
        let (_, leading) = groups.remove(0);
        groups[0].1.splice(0..0, leading);
    }
    if groups.len() < 2 {
        return vec![segment];
    }
    let n = groups.len();
    groups
        .iter()
        .enumerate()
        .map(|(i, (piece, tokens))| {
            let first_piece = &window.pieces[nearest_piece(window, tokens[0].window_ms)
                .clamp(first, last)
                .min(*piece)];
            let p = &window.pieces[*piece];
            let start_window_ms = if i == 0 {
                segment.start_window_ms
            } else {
                // The part starts on the piece its first word is in.
                first_piece.window_start_ms.max(segment.start_window_ms)
            };
            let end_window_ms = if i + 1 == n {
                segment.end_window_ms
            } else {
                p.window_start_ms + p.duration_ms
            };
            let logprob_sum: f32 = tokens.iter().map(|t| t.logprob).sum();
            WindowSegment {
                start_window_ms,
                end_window_ms: end_window_ms.max(start_window_ms),
                text: text_of(tokens),
                avg_logprob: logprob_sum / tokens.len() as f32,
                no_speech_prob: segment.no_speech_prob,
                tokens: Vec::new(),
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings() -> VadSettings {
        VadSettings {
            threshold: 0.5,
            energy_floor_dbfs: -50.0,
            min_speech_ms: 100,
            min_silence_ms: 300,
            pad_ms: 50,
            max_window_ms: 30_000,
        }
    }

    fn frames(pattern: &[(bool, usize)]) -> Vec<bool> {
        pattern
            .iter()
            .flat_map(|&(v, n)| std::iter::repeat_n(v, n))
            .collect()
    }

    #[test]
    fn frames_become_padded_spans() {
        // 10 silent frames (160 ms), 20 speech (320 ms), 50 silent, 20 speech.
        let f = frames(&[
            (false, 10),
            (true, 20),
            (false, 50),
            (true, 20),
            (false, 10),
        ]);
        let spans = spans_from_frames(&f, 110 * 16, &settings());
        assert_eq!(
            spans.spans,
            vec![
                SpeechSpan {
                    start_ms: 110,
                    end_ms: 530
                },
                SpeechSpan {
                    start_ms: 1230,
                    end_ms: 1650
                },
            ]
        );
    }

    #[test]
    fn short_pauses_join_and_short_blips_drop() {
        // Pause of 10 frames (160 ms) < 300 ms joins; a 3-frame blip (48 ms) drops.
        let f = frames(&[
            (true, 20),
            (false, 10),
            (true, 20),
            (false, 60),
            (true, 3),
            (false, 60),
        ]);
        let spans = spans_from_frames(&f, 173 * 16, &settings());
        assert_eq!(
            spans.spans,
            vec![SpeechSpan {
                start_ms: 0,
                end_ms: 850
            }]
        );
    }

    #[test]
    fn talk_spans_are_the_unpadded_speech() {
        let mut s = settings();
        s.pad_ms = 400;
        // Two 160 ms stretches 480 ms apart: the padding merges them for
        // whisper, but the talk spans keep them apart and unpadded.
        let f = frames(&[(true, 10), (false, 30), (true, 10)]);
        let spans = spans_from_frames(&f, 50 * 16, &s);
        assert_eq!(
            spans.talk,
            vec![
                SpeechSpan {
                    start_ms: 0,
                    end_ms: 160
                },
                SpeechSpan {
                    start_ms: 640,
                    end_ms: 800
                },
            ]
        );
        assert_eq!(spans.spans.len(), 1);
    }

    #[test]
    fn padding_is_clamped_and_merges() {
        let mut s = settings();
        s.pad_ms = 400;
        let f = frames(&[(true, 10), (false, 30), (true, 10)]);
        let spans = spans_from_frames(&f, 50 * 16, &s);
        assert_eq!(
            spans.spans,
            vec![SpeechSpan {
                start_ms: 0,
                end_ms: 800
            }]
        );
    }

    #[test]
    fn no_speech_no_spans() {
        let spans = spans_from_frames(&[false; 100], 1600, &settings());
        assert!(spans.spans.is_empty());
    }

    #[test]
    fn long_spans_split_evenly() {
        let spans = SpeechSpans {
            spans: vec![SpeechSpan {
                start_ms: 1000,
                end_ms: 32_000,
            }],
            talk: Vec::new(),
        };
        let parts = split_long_spans(&spans, 30_000);
        assert_eq!(
            parts,
            vec![
                SpeechSpan {
                    start_ms: 1000,
                    end_ms: 16_500
                },
                SpeechSpan {
                    start_ms: 16_500,
                    end_ms: 32_000
                },
            ]
        );
    }

    fn ramp_pcm(ms: u64) -> Pcm16k {
        // Each sample encodes its own time so cut-outs can be checked.
        Pcm16k::from_16k((0..ms * SAMPLES_PER_MS).map(|i| i as f32).collect())
    }

    #[test]
    fn packing_fills_windows_and_keeps_samples() {
        let pcm = ramp_pcm(60_000);
        let spans = SpeechSpans {
            spans: vec![
                SpeechSpan {
                    start_ms: 1_000,
                    end_ms: 11_000,
                },
                SpeechSpan {
                    start_ms: 20_000,
                    end_ms: 35_000,
                },
                SpeechSpan {
                    start_ms: 40_000,
                    end_ms: 50_000,
                },
            ],
            talk: Vec::new(),
        };
        let windows = pack_windows(1, &pcm, &spans, 30_000);
        assert_eq!(windows.len(), 2);
        assert_eq!(windows[0].channel, 1);
        assert_eq!(
            windows[0].pieces,
            vec![
                WindowPiece {
                    window_start_ms: 0,
                    source_start_ms: 1_000,
                    duration_ms: 10_000
                },
                WindowPiece {
                    window_start_ms: 10_000 + PIECE_GAP_MS,
                    source_start_ms: 20_000,
                    duration_ms: 15_000
                },
            ]
        );
        let gap = PIECE_GAP_MS as usize;
        assert_eq!(windows[0].samples.len(), (25_000 + gap) * 16);
        // The gap is silence; the first sample of the second piece is the sample at 20 s.
        assert!(
            windows[0].samples[10_000 * 16..(10_000 + gap) * 16]
                .iter()
                .all(|&s| s == 0.0)
        );
        assert_eq!(
            windows[0].samples[(10_000 + gap) * 16],
            (20_000 * 16) as f32
        );
        assert_eq!(
            windows[1].pieces,
            vec![WindowPiece {
                window_start_ms: 0,
                source_start_ms: 40_000,
                duration_ms: 10_000
            }]
        );
        for w in &windows {
            assert!(window_len_ms(w) <= 30_000);
        }
    }

    #[test]
    fn span_cut_by_channel_end_keeps_samples_in_step() {
        let pcm = ramp_pcm(1_000);
        let spans = SpeechSpans {
            spans: vec![SpeechSpan {
                start_ms: 500,
                end_ms: 1_200,
            }],
            talk: Vec::new(),
        };
        let windows = pack_windows(0, &pcm, &spans, 30_000);
        assert_eq!(
            windows[0].samples.len() as u64,
            window_len_ms(&windows[0]) * SAMPLES_PER_MS
        );
    }

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

    #[test]
    fn silence_and_faint_noise_have_no_speech() {
        let mut rng = 0x1234_5678_u64;
        let mut noise = || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            (rng as f64 / u64::MAX as f64 * 2.0 - 1.0) as f32
        };
        // 5 s of noise at about -60 dBFS.
        let pcm = Pcm16k::from_16k((0..80_000).map(|_| noise() * 0.0017).collect());
        let spans = detect_speech(
            &mut EarshotDetector::default(),
            &pcm,
            &VadSettings::default(),
        );
        assert!(spans.spans.is_empty(), "{:?}", spans.spans);
        let silence = Pcm16k::from_16k(vec![0.0; 80_000]);
        let spans = detect_speech(
            &mut EarshotDetector::default(),
            &silence,
            &VadSettings::default(),
        );
        assert!(spans.spans.is_empty());
    }

    #[test]
    fn levels_are_in_dbfs() {
        let full = Pcm16k::from_16k(vec![1.0; FRAME_SAMPLES]);
        assert!(frame_levels_dbfs(&full)[0].abs() < 0.01);
        let tenth = Pcm16k::from_16k(vec![0.1; FRAME_SAMPLES]);
        assert!((frame_levels_dbfs(&tenth)[0] + 20.0).abs() < 0.01);
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
                    window_start_ms: 3_000 + PIECE_GAP_MS,
                    source_start_ms: 20_000,
                    duration_ms: 3_000,
                },
            ],
            samples: vec![],
        }
    }

    fn timed_segment(start: u64, end: u64, tokens: &[(&str, u64)]) -> WindowSegment {
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
}
