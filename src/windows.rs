//! Packing a channel's speech spans into whisper windows of at most
//! `max_window_ms`, as the audio arrives.
//!
//! whisper encodes a fixed stretch of audio per call however little of it
//! is speech, so several spans share one window: each second of speech is
//! encoded once and silence not at all. Each span becomes one piece of a
//! window; pieces are separated by [`PIECE_GAP_MS`] of silence so whisper
//! ends a segment between two turns. A span too long for one window is cut
//! into equal parts first ([`split_long_spans`]).
//!
//! [`WindowPacker`] takes the channel's audio and the spans the detector
//! has made final ([`SettledSpeech`]) and hands out each window once it is
//! complete. It keeps only the audio a span still to come may need: from
//! the earlier of the first span not yet packed and the detector's
//! `settled_ms`. What it holds ([`WindowPacker::retained_samples`]) is
//! therefore at most the window being filled (≤ `max_window_ms`), plus the
//! speech span the detector has not closed yet, plus the detector's
//! lookahead past it (see [`crate::vad`]) and one chunk; silence costs
//! nothing. The batch [`pack_windows`] is the same packer fed once.

use std::collections::VecDeque;
use std::ops::Range;

use crate::model::{
    Pcm16k, SettledSpeech, SpeechSpan, SpeechSpans, WHISPER_SAMPLE_RATE_HZ, Window, WindowPiece,
};

const SAMPLES_PER_MS: u64 = (WHISPER_SAMPLE_RATE_HZ / 1000) as u64;

/// Silence put between two pieces of a window. Without it whisper hears two
/// turns as one sentence and its segment times cannot tell which piece a
/// word came from; with it, segments break at the gap and a time that falls
/// in a gap snaps to the edge of the piece it belongs to.
pub const PIECE_GAP_MS: u64 = 800;

/// Splits spans longer than `max_ms` into consecutive parts of at most
/// `max_ms` each, so every span fits a window.
pub fn split_long_spans(spans: &SpeechSpans, max_ms: u64) -> Vec<SpeechSpan> {
    spans
        .spans
        .iter()
        .flat_map(|&span| split_long_span(span, max_ms))
        .collect()
}

fn split_long_span(span: SpeechSpan, max_ms: u64) -> Vec<SpeechSpan> {
    let parts = span.duration_ms().div_ceil(max_ms).max(1);
    // Equal parts rather than max-sized ones plus a stub: a 31 s span
    // becomes two 15.5 s parts instead of 30 s + 1 s.
    let part_ms = span.duration_ms().div_ceil(parts);
    let mut out = Vec::with_capacity(parts as usize);
    let mut start = span.start_ms;
    while start < span.end_ms {
        let end = (start + part_ms).min(span.end_ms);
        out.push(SpeechSpan {
            start_ms: start,
            end_ms: end,
        });
        start = end;
    }
    out
}

/// Packs a whole channel's speech into windows of at most `max_window_ms`,
/// in time order, cutting the samples out of `pcm`: [`WindowPacker`] fed
/// once.
pub fn pack_windows(
    channel: usize,
    pcm: &Pcm16k,
    spans: &SpeechSpans,
    max_window_ms: u64,
) -> Vec<Window> {
    let mut packer = WindowPacker::new(channel, max_window_ms);
    let settled = SettledSpeech {
        spans: spans.spans.clone(),
        settled_ms: u64::MAX,
    };
    let mut windows = packer.push(pcm.samples(), &settled);
    windows.extend(packer.finish());
    windows
}

/// Packs one channel's speech into windows as its audio and final spans
/// arrive (see the module documentation for what it keeps).
pub struct WindowPacker {
    channel: usize,
    max_window_ms: u64,
    /// The channel's audio from sample `audio_start` on: what spans still
    /// to be packed may need.
    audio: VecDeque<f32>,
    audio_start: u64,
    /// Final spans whose audio has not all arrived yet.
    queued: VecDeque<SpeechSpan>,
    /// No span still to come starts before this.
    settled_ms: u64,
    /// The window being filled.
    current: Option<Window>,
}

impl WindowPacker {
    /// A packer for one channel; `max_window_ms` (at least 1) may be below
    /// whisper's 30 s, e.g. for decoding without timestamp tokens.
    pub fn new(channel: usize, max_window_ms: u64) -> Self {
        assert!(max_window_ms > 0, "max_window_ms must be positive");
        Self {
            channel,
            max_window_ms,
            audio: VecDeque::new(),
            audio_start: 0,
            queued: VecDeque::new(),
            settled_ms: 0,
            current: None,
        }
    }

    /// Feeds the channel's 16 kHz audio (contiguous, in order) and the
    /// spans made final so far; returns the windows that are complete.
    /// Keeps only the audio it may still need (from the start of the
    /// earliest span not yet packed; audio before it is dropped).
    pub fn push(&mut self, pcm16k: &[f32], settled: &SettledSpeech) -> Vec<Window> {
        self.audio.extend(pcm16k);
        debug_assert!(
            settled
                .spans
                .first()
                .is_none_or(|s| s.start_ms >= self.settled_ms),
            "a span starts before the detector's earlier settled_ms"
        );
        self.queued.extend(&settled.spans);
        self.settled_ms = self.settled_ms.max(settled.settled_ms);
        let mut done = Vec::new();
        while let Some(&span) = self.queued.front()
            && span.end_ms.saturating_mul(SAMPLES_PER_MS) <= self.audio_end()
        {
            self.queued.pop_front();
            self.pack_span(span, &mut done);
        }
        self.drop_unneeded();
        done
    }

    /// Ends the channel: packs the spans still queued (a span running past
    /// the audio is cut where the audio ends) and returns the last windows.
    pub fn finish(&mut self) -> Vec<Window> {
        let mut done = Vec::new();
        while let Some(span) = self.queued.pop_front() {
            self.pack_span(span, &mut done);
        }
        if let Some(window) = self.current.take() {
            done.push(complete(window));
        }
        self.settled_ms = u64::MAX;
        self.drop_unneeded();
        done
    }

    /// Samples held now: audio kept for spans still to come, plus the
    /// window being filled.
    pub fn retained_samples(&self) -> usize {
        self.audio.len() + self.current.as_ref().map_or(0, |w| w.samples.len())
    }

    /// One past the last sample received.
    fn audio_end(&self) -> u64 {
        self.audio_start + self.audio.len() as u64
    }

    fn pack_span(&mut self, span: SpeechSpan, done: &mut Vec<Window>) {
        for part in split_long_span(span, self.max_window_ms) {
            self.add_piece(part, done);
        }
    }

    /// Adds one span part (at most `max_window_ms`) as a piece: to the
    /// window being filled when it fits after a gap, else to a new window.
    fn add_piece(&mut self, part: SpeechSpan, done: &mut Vec<Window>) {
        let from = part.start_ms * SAMPLES_PER_MS;
        let to = (part.end_ms * SAMPLES_PER_MS).min(self.audio_end());
        if from >= to {
            return;
        }
        let duration_ms = part.duration_ms();
        let fits = self
            .current
            .as_ref()
            .is_some_and(|w| window_len_ms(w) + PIECE_GAP_MS + duration_ms <= self.max_window_ms);
        if !fits && let Some(full) = self.current.take() {
            done.push(complete(full));
        }
        let channel = self.channel;
        let window = self.current.get_or_insert_with(|| Window {
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
            source_start_ms: part.start_ms,
            duration_ms,
        });
        copy_audio(&mut window.samples, &self.audio, self.audio_start, from..to);
        // Keep samples and pieces in step even when the span's end was cut
        // by the end of the channel.
        let len_ms = window_len_ms(window);
        window
            .samples
            .resize((len_ms * SAMPLES_PER_MS) as usize, 0.0);
        // No part (at least 1 ms) fits after another gap: complete now
        // rather than when the next span arrives.
        if len_ms + PIECE_GAP_MS >= self.max_window_ms
            && let Some(full) = self.current.take()
        {
            done.push(complete(full));
        }
    }

    /// Drops the audio no span still to come can need.
    fn drop_unneeded(&mut self) {
        let keep_ms = self
            .queued
            .front()
            .map_or(self.settled_ms, |s| s.start_ms.min(self.settled_ms));
        let keep = keep_ms.saturating_mul(SAMPLES_PER_MS);
        let n = keep
            .saturating_sub(self.audio_start)
            .min(self.audio.len() as u64);
        self.audio.drain(..n as usize);
        self.audio_start += n;
        // A long span leaves a large buffer behind; give it back so the
        // memory held follows what is needed now.
        let floor = (WHISPER_SAMPLE_RATE_HZ as usize) * 4;
        if self.audio.capacity() > 2 * self.audio.len().max(floor) {
            self.audio.shrink_to(self.audio.len().max(floor));
        }
    }
}

/// Appends the channel's samples `range` (absolute sample numbers) from
/// `audio`, which starts at sample `audio_start`.
fn copy_audio(out: &mut Vec<f32>, audio: &VecDeque<f32>, audio_start: u64, range: Range<u64>) {
    // Audio before `audio_start` was dropped because the detector said no
    // span could start there; should one anyway, it gets silence rather
    // than shifted samples.
    debug_assert!(range.start >= audio_start, "span starts in dropped audio");
    let missing = audio_start
        .saturating_sub(range.start)
        .min(range.end - range.start);
    out.resize(out.len() + missing as usize, 0.0);
    let lo = (range.start + missing).saturating_sub(audio_start) as usize;
    let hi = range.end.saturating_sub(audio_start) as usize;
    out.extend(audio.range(lo..hi));
}

/// A finished window, without the slack its sample buffer grew with: it
/// may wait in a queue a while.
fn complete(mut window: Window) -> Window {
    window.samples.shrink_to_fit();
    window
}

fn window_len_ms(window: &Window) -> u64 {
    window
        .pieces
        .last()
        .map_or(0, |p| p.window_start_ms + p.duration_ms)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::VadSettings;
    use crate::vad::{FRAME_SAMPLES, SpeechDetector, StreamingVad};

    fn span(start_ms: u64, end_ms: u64) -> SpeechSpan {
        SpeechSpan { start_ms, end_ms }
    }

    fn spans(list: &[(u64, u64)]) -> SpeechSpans {
        SpeechSpans {
            spans: list.iter().map(|&(s, e)| span(s, e)).collect(),
            talk: Vec::new(),
        }
    }

    #[test]
    fn long_spans_split_evenly() {
        let parts = split_long_spans(&spans(&[(1_000, 32_000)]), 30_000);
        assert_eq!(parts, vec![span(1_000, 16_500), span(16_500, 32_000)]);
    }

    fn ramp_pcm(ms: u64) -> Pcm16k {
        // Each sample encodes its own time so cut-outs can be checked.
        Pcm16k::from_16k((0..ms * SAMPLES_PER_MS).map(|i| i as f32).collect())
    }

    #[test]
    fn packing_fills_windows_and_keeps_samples() {
        let pcm = ramp_pcm(60_000);
        let speech = spans(&[(1_000, 11_000), (20_000, 35_000), (40_000, 50_000)]);
        let windows = pack_windows(1, &pcm, &speech, 30_000);
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
        let windows = pack_windows(0, &pcm, &spans(&[(500, 1_200)]), 30_000);
        assert_eq!(
            windows[0].samples.len() as u64,
            window_len_ms(&windows[0]) * SAMPLES_PER_MS
        );
    }

    #[test]
    fn a_lower_window_limit_packs_shorter_windows() {
        let pcm = ramp_pcm(60_000);
        let speech = spans(&[(0, 9_000), (10_000, 19_000), (30_000, 55_000)]);
        let windows = pack_windows(0, &pcm, &speech, 20_000);
        let lengths: Vec<u64> = windows.iter().map(window_len_ms).collect();
        // 9 + 0.8 + 9 fits 20 s; the 25 s span is cut into two 12.5 s parts.
        assert_eq!(lengths, vec![18_800, 12_500, 12_500]);
    }

    use crate::test_rng::Rng;

    /// Calls a frame speech when it is loud: the test audio decides exactly
    /// where the speech is.
    struct Loudness;

    impl SpeechDetector for Loudness {
        fn frame_score(&mut self, frame: &[f32; FRAME_SAMPLES]) -> f32 {
            let loud = frame.iter().map(|s| s.abs()).sum::<f32>() / FRAME_SAMPLES as f32 > 0.05;
            if loud { 1.0 } else { 0.0 }
        }

        fn reset(&mut self) {}
    }

    /// Sample `i` of a channel whose speech is laid out by `is_speech(ms)`:
    /// loud and distinct where there is speech, near silence elsewhere.
    fn sample(i: u64, is_speech: impl Fn(u64) -> bool) -> f32 {
        let wobble = ((i * 2_654_435_761) % 1_000) as f32 / 1_000.0;
        if is_speech(i / SAMPLES_PER_MS) {
            0.2 + 0.5 * wobble
        } else {
            0.001 * wobble
        }
    }

    /// Detection and packing streamed together, `chunk` samples at a time.
    fn stream(pcm: &[f32], chunk: usize, max_window_ms: u64) -> (Vec<Window>, SpeechSpans) {
        let mut vad = StreamingVad::with_detector(Loudness, &VadSettings::default());
        let mut packer = WindowPacker::new(3, max_window_ms);
        let mut windows = Vec::new();
        for part in pcm.chunks(chunk) {
            let settled = vad.push(part);
            windows.extend(packer.push(part, &settled));
        }
        windows.extend(packer.push(&[], &vad.finish()));
        windows.extend(packer.finish());
        assert_eq!(packer.retained_samples(), 0);
        (windows, vad.into_speech())
    }

    #[test]
    fn streaming_equals_batch_for_any_chunking() {
        let mut rng = Rng(0x51_7cc1_b727_220a);
        // Speech of 0.1 to 45 s (some longer than a window) between pauses
        // of 0.05 to 4 s, over 4 minutes.
        let mut layout = Vec::new();
        let mut at = rng.below(3_000);
        while at < 240_000 {
            let len = if rng.below(8) == 0 {
                25_000 + rng.below(20_000)
            } else {
                100 + rng.below(6_000)
            };
            layout.push((at, at + len));
            at += len + 50 + rng.below(4_000);
        }
        let is_speech = |ms: u64| layout.iter().any(|&(s, e)| (s..e).contains(&ms));
        let pcm: Vec<f32> = (0..240_000 * SAMPLES_PER_MS + 77)
            .map(|i| sample(i, is_speech))
            .collect();
        let speech = crate::vad::detect_speech(
            &mut Loudness,
            &Pcm16k::from_16k(pcm.clone()),
            &VadSettings::default(),
        );
        for max_window_ms in [30_000, 20_000] {
            let batch = pack_windows(3, &Pcm16k::from_16k(pcm.clone()), &speech, max_window_ms);
            assert!(batch.len() > 5, "{}", batch.len());
            for chunk in [1, 160, 7_919, pcm.len()] {
                let (windows, streamed) = stream(&pcm, chunk, max_window_ms);
                assert_eq!(streamed, speech, "chunks of {chunk}");
                assert_eq!(windows.len(), batch.len(), "chunks of {chunk}");
                assert!(
                    windows == batch,
                    "chunks of {chunk}, windows of {max_window_ms} ms"
                );
            }
        }
    }

    #[test]
    fn memory_stays_bounded_over_an_hour() {
        let settings = VadSettings::default();
        // Speech of 0.5–4 s every few seconds, a 12 s monologue every
        // 10 minutes and 15 minutes of silence in the middle.
        let is_speech = |ms: u64| {
            let minute = ms / 60_000;
            if (20..35).contains(&minute) {
                return false;
            }
            if ms % 600_000 < 12_000 {
                return true;
            }
            let period = ms / 5_000;
            ms % 5_000 < 500 + (period * 7_919 % 3_500)
        };
        let longest_span_ms = 12_000 + 2 * settings.pad_ms;
        let lookahead_ms = settings.min_silence_ms.max(2 * settings.pad_ms + 16);
        let chunk = 8_000; // 0.5 s
        let bound = ((settings.max_window_ms + longest_span_ms + lookahead_ms) * SAMPLES_PER_MS)
            as usize
            + chunk;
        let mut vad = StreamingVad::with_detector(Loudness, &settings);
        let mut packer = WindowPacker::new(0, settings.max_window_ms);
        let (mut most, mut most_in_silence) = (0, 0);
        let mut windows = 0;
        let mut packed_ms = 0;
        let total = 3_600_000 * SAMPLES_PER_MS;
        let mut buffer = vec![0.0; chunk];
        for start in (0..total).step_by(chunk) {
            for (k, s) in buffer.iter_mut().enumerate() {
                *s = sample(start + k as u64, is_speech);
            }
            let settled = vad.push(&buffer);
            for w in packer.push(&buffer, &settled) {
                windows += 1;
                packed_ms += w.pieces.iter().map(|p| p.duration_ms).sum::<u64>();
            }
            most = most.max(packer.retained_samples());
            let minute = start / SAMPLES_PER_MS / 60_000;
            if (22..35).contains(&minute) {
                most_in_silence = most_in_silence.max(packer.retained_samples());
            }
        }
        assert!(most <= bound, "held {most} samples, bound {bound}");
        // In silence only the last window and the lookahead are held.
        let quiet_bound =
            ((settings.max_window_ms + lookahead_ms) * SAMPLES_PER_MS) as usize + chunk;
        assert!(
            most_in_silence <= quiet_bound,
            "held {most_in_silence} in silence"
        );
        for w in packer
            .push(&[], &vad.finish())
            .into_iter()
            .chain(packer.finish())
        {
            windows += 1;
            packed_ms += w.pieces.iter().map(|p| p.duration_ms).sum::<u64>();
        }
        let speech_ms: u64 = vad.speech().spans.iter().map(SpeechSpan::duration_ms).sum();
        assert_eq!(packed_ms, speech_ms);
        assert!(windows > 50, "{windows}");
        eprintln!(
            "held at most {most} samples ({} s), bound {bound}; {most_in_silence} in silence",
            most / 16_000
        );
    }

    #[test]
    fn spans_that_arrive_before_their_audio_wait_for_it() {
        let pcm = ramp_pcm(10_000);
        let samples = pcm.samples();
        let speech = spans(&[(1_000, 2_000), (4_000, 7_000)]);
        let mut packer = WindowPacker::new(0, 30_000);
        let early = SettledSpeech {
            spans: speech.spans.clone(),
            settled_ms: 8_000,
        };
        assert!(packer.push(&samples[..5_000 * 16], &early).is_empty());
        // The first span is in the window; of the second, the audio so far
        // (4–5 s) is kept, and nothing before it.
        assert_eq!(packer.retained_samples(), 1_000 * 16 + 1_000 * 16);
        let none = SettledSpeech {
            spans: Vec::new(),
            settled_ms: 8_000,
        };
        assert!(packer.push(&samples[5_000 * 16..], &none).is_empty());
        // Both spans are in the window now; of the audio after them, what
        // follows `settled_ms` (8–10 s) is kept for spans still to come.
        let window_ms = 1_000 + PIECE_GAP_MS as usize + 3_000;
        assert_eq!(packer.retained_samples(), (window_ms + 2_000) * 16);
        assert_eq!(packer.finish(), pack_windows(0, &pcm, &speech, 30_000));
    }
}
