//! Voice activity detection: one channel's 16 kHz audio → its speech spans
//! (padded `spans` for whisper, unpadded `talk` for the metrics).
//!
//! Silence and line noise never reach whisper: it invents text on them
//! ("Thank you for watching") and spends most of its time encoding them.
//! The detector is [earshot](https://crates.io/crates/earshot), a small
//! neural WebRTC-style VAD in pure Rust working on 16 ms frames at 16 kHz. A
//! frame counts as speech when the model's score reaches the threshold *and*
//! its level is above an energy floor, so faint hiss is rejected even where
//! the model is unsure.
//!
//! Detection streams: [`StreamingVad`] takes audio in chunks of any size
//! and hands out each padded span as soon as no later audio can change it,
//! so a recording is never held whole. A span is final once the audio has
//! run `max(min_silence_ms, 2 × pad_ms + 16 ms)` past the end of its speech
//! (before that, more speech could still join it across a short pause, or
//! reach back into it with its padding). The batch [`detect_speech`] is the
//! same detector fed in one chunk, so both give the same spans.

use crate::config::VadSettings;
use crate::model::{Pcm16k, SettledSpeech, SpeechSpan, SpeechSpans, WHISPER_SAMPLE_RATE_HZ};

/// Samples per VAD frame (16 ms at 16 kHz), fixed by earshot's model.
pub const FRAME_SAMPLES: usize = 256;
const FRAME_MS: u64 = 16;

/// Finds speech in one channel, frame by frame. A second implementation
/// (Silero) can slot in behind this trait without touching the span rules.
pub trait SpeechDetector {
    /// Speech probability (0–1) of the channel's next frame. Frames come in
    /// order; the channel's last, partial frame is zero-padded.
    fn frame_score(&mut self, frame: &[f32; FRAME_SAMPLES]) -> f32;
    /// Forgets the audio seen so far: the next frame starts a channel.
    fn reset(&mut self);
}

/// So a caller can lend its detector ([`detect_speech`] takes `&mut dyn`).
impl<D: SpeechDetector + ?Sized> SpeechDetector for &mut D {
    fn frame_score(&mut self, frame: &[f32; FRAME_SAMPLES]) -> f32 {
        (**self).frame_score(frame)
    }

    fn reset(&mut self) {
        (**self).reset();
    }
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
    fn frame_score(&mut self, frame: &[f32; FRAME_SAMPLES]) -> f32 {
        self.inner.predict_f32(frame)
    }

    fn reset(&mut self) {
        self.inner.reset();
    }
}

/// Level of each frame in dBFS (RMS; −120 for digital silence).
pub fn frame_levels_dbfs(pcm: &Pcm16k) -> Vec<f32> {
    pcm.samples()
        .chunks(FRAME_SAMPLES)
        .map(frame_level_dbfs)
        .collect()
}

/// Level of one frame; a partial frame counts as zero-padded.
fn frame_level_dbfs(frame: &[f32]) -> f32 {
    let energy: f64 = frame.iter().map(|&s| f64::from(s) * f64::from(s)).sum();
    let rms = (energy / FRAME_SAMPLES as f64).sqrt();
    if rms <= 1e-6 {
        -120.0
    } else {
        (20.0 * rms.log10()) as f32
    }
}

/// Runs the detector over a whole channel: [`StreamingVad`] fed once.
pub fn detect_speech(
    detector: &mut dyn SpeechDetector,
    pcm: &Pcm16k,
    settings: &VadSettings,
) -> SpeechSpans {
    let mut vad = StreamingVad::with_detector(detector, settings);
    vad.push(pcm.samples());
    vad.finish();
    vad.into_speech()
}

/// Speech detection over a channel that arrives in chunks.
///
/// Feed the channel's 16 kHz samples in order with [`push`](Self::push),
/// then call [`finish`](Self::finish) once. Each call returns the padded
/// spans made final by it and how far the channel is settled
/// ([`SettledSpeech`]), which is what [`crate::windows::WindowPacker`]
/// takes. Any chunking gives the same spans as [`detect_speech`].
pub struct StreamingVad<D: SpeechDetector = EarshotDetector> {
    detector: D,
    threshold: f32,
    energy_floor_dbfs: f32,
    /// The next frame, of which `filled` samples have arrived: chunks need
    /// not be whole frames.
    frame: [f32; FRAME_SAMPLES],
    filled: usize,
    /// Samples pushed so far: the channel's length once finished.
    samples: u64,
    spans: SpanTracker,
    finished: bool,
}

impl StreamingVad<EarshotDetector> {
    /// A detector for one channel, with earshot.
    pub fn new(settings: &VadSettings) -> Self {
        Self::with_detector(EarshotDetector::default(), settings)
    }
}

impl<D: SpeechDetector> StreamingVad<D> {
    /// A detector for one channel with the given frame scorer (reset first,
    /// so it carries nothing over from an earlier channel).
    pub fn with_detector(mut detector: D, settings: &VadSettings) -> Self {
        detector.reset();
        Self {
            detector,
            threshold: settings.threshold,
            energy_floor_dbfs: settings.energy_floor_dbfs,
            frame: [0.0; FRAME_SAMPLES],
            filled: 0,
            samples: 0,
            spans: SpanTracker::new(settings),
            finished: false,
        }
    }

    /// Feeds 16 kHz samples (any chunk size, in order); returns the spans
    /// that are now final (no later audio can change them).
    pub fn push(&mut self, pcm16k: &[f32]) -> SettledSpeech {
        debug_assert!(!self.finished, "StreamingVad::push after finish");
        let mut out = Vec::new();
        self.samples += pcm16k.len() as u64;
        let mut rest = pcm16k;
        if self.filled > 0 {
            let take = (FRAME_SAMPLES - self.filled).min(rest.len());
            self.frame[self.filled..self.filled + take].copy_from_slice(&rest[..take]);
            self.filled += take;
            rest = &rest[take..];
            if self.filled < FRAME_SAMPLES {
                return self.settled(out);
            }
            let frame = self.frame;
            self.feed_frame(&frame, &mut out);
            self.filled = 0;
        }
        let mut frames = rest.chunks_exact(FRAME_SAMPLES);
        for frame in &mut frames {
            let frame = frame.try_into().expect("chunks_exact yields whole frames");
            self.feed_frame(frame, &mut out);
        }
        let tail = frames.remainder();
        self.frame[..tail.len()].copy_from_slice(tail);
        self.filled = tail.len();
        self.settled(out)
    }

    /// Ends the channel: the last partial frame is scored zero-padded and
    /// every remaining span is returned (`settled_ms` is `u64::MAX`).
    /// Calling it again returns nothing.
    pub fn finish(&mut self) -> SettledSpeech {
        let mut out = Vec::new();
        if !self.finished {
            self.finished = true;
            // Known only now; spans are clamped to it, as in a batch run.
            self.spans
                .set_duration(self.samples * 1000 / u64::from(WHISPER_SAMPLE_RATE_HZ));
            if self.filled > 0 {
                self.frame[self.filled..].fill(0.0);
                let frame = self.frame;
                self.feed_frame(&frame, &mut out);
                self.filled = 0;
            }
            self.spans.finish(&mut out);
        }
        SettledSpeech {
            spans: out,
            settled_ms: u64::MAX,
        }
    }

    /// Every span made final so far (the whole channel's after `finish`),
    /// with the talk spans inside them: the transcript's `speech[]`.
    pub fn speech(&self) -> &SpeechSpans {
        &self.spans.done
    }

    pub fn into_speech(self) -> SpeechSpans {
        self.spans.done
    }

    fn feed_frame(&mut self, frame: &[f32; FRAME_SAMPLES], out: &mut Vec<SpeechSpan>) {
        let speech = self.detector.frame_score(frame) >= self.threshold
            && frame_level_dbfs(frame) >= self.energy_floor_dbfs;
        self.spans.frame(speech, out);
    }

    fn settled(&self, spans: Vec<SpeechSpan>) -> SettledSpeech {
        SettledSpeech {
            spans,
            settled_ms: self.spans.settled_ms(),
        }
    }
}

/// Turns per-frame speech flags into spans (the rules [`StreamingVad`]
/// applies): runs of speech frames → join pauses shorter than
/// `min_silence_ms` → drop speech shorter than `min_speech_ms` (these are
/// the unpadded `talk` spans) → pad by `pad_ms` (clamped to the channel) →
/// merge overlaps (the `spans` whisper gets). `duration_ms` is the
/// channel's length, which the frames cover (only the last may run past it).
pub fn spans_from_frames(
    is_speech: &[bool],
    duration_ms: u64,
    settings: &VadSettings,
) -> SpeechSpans {
    debug_assert!(is_speech.len().saturating_sub(1) as u64 * FRAME_MS <= duration_ms);
    let mut tracker = SpanTracker::new(settings);
    let mut out = Vec::new();
    for &speech in is_speech {
        tracker.frame(speech, &mut out);
    }
    tracker.set_duration(duration_ms);
    tracker.finish(&mut out);
    tracker.done
}

/// The span rules of [`spans_from_frames`], one frame at a time: each
/// stage holds back only the one span a later frame could still change.
#[derive(Debug, Clone)]
struct SpanTracker {
    min_speech_ms: u64,
    min_silence_ms: u64,
    pad_ms: u64,
    /// Frames seen; the clock is `frames × FRAME_MS`.
    frames: u64,
    /// Start of the run of speech frames now open.
    run_start_ms: Option<u64>,
    /// The last stretch of speech (runs joined across short pauses), while
    /// a later run may still join it.
    joined: Option<SpeechSpan>,
    /// The last padded span, while later speech may still merge into it,
    /// with the talk spans it holds.
    padded: Option<(SpeechSpan, Vec<SpeechSpan>)>,
    /// The channel's length, once known: padded spans end inside it.
    duration_ms: Option<u64>,
    /// What is final.
    done: SpeechSpans,
}

impl SpanTracker {
    fn new(settings: &VadSettings) -> Self {
        Self {
            min_speech_ms: settings.min_speech_ms,
            min_silence_ms: settings.min_silence_ms,
            pad_ms: settings.pad_ms,
            frames: 0,
            run_start_ms: None,
            joined: None,
            padded: None,
            duration_ms: None,
            done: SpeechSpans::default(),
        }
    }

    fn now_ms(&self) -> u64 {
        self.frames * FRAME_MS
    }

    fn frame(&mut self, speech: bool, out: &mut Vec<SpeechSpan>) {
        let now = self.now_ms();
        match (speech, self.run_start_ms) {
            (true, None) => self.run_start_ms = Some(now),
            (false, Some(start_ms)) => {
                self.run_start_ms = None;
                let run = SpeechSpan {
                    start_ms,
                    end_ms: now,
                };
                self.close_run(run, out);
            }
            _ => {}
        }
        self.frames += 1;
        self.settle(out);
    }

    fn set_duration(&mut self, duration_ms: u64) {
        self.duration_ms = Some(duration_ms);
        if let Some((span, _)) = &mut self.padded {
            span.end_ms = span.end_ms.min(duration_ms);
        }
    }

    /// Closes what is still open (after [`set_duration`](Self::set_duration)).
    fn finish(&mut self, out: &mut Vec<SpeechSpan>) {
        let duration_ms = self.duration_ms.unwrap_or(u64::MAX);
        if let Some(start_ms) = self.run_start_ms.take() {
            let run = SpeechSpan {
                start_ms,
                end_ms: self.now_ms().min(duration_ms),
            };
            self.close_run(run, out);
        }
        if let Some(joined) = self.joined.take() {
            self.close_joined(joined, out);
        }
        if let Some((span, talk)) = self.padded.take() {
            self.emit(span, talk, out);
        }
    }

    /// A run of speech frames ended: it joins the stretch before it across
    /// a pause shorter than `min_silence_ms`, or starts a new one.
    fn close_run(&mut self, run: SpeechSpan, out: &mut Vec<SpeechSpan>) {
        if let Some(prev) = self.joined.as_mut()
            && run.start_ms.saturating_sub(prev.end_ms) < self.min_silence_ms
        {
            prev.end_ms = run.end_ms;
            return;
        }
        if let Some(prev) = self.joined.replace(run) {
            self.close_joined(prev, out);
        }
    }

    /// A stretch of speech can grow no more: long enough, it is talk, and
    /// its padded span merges into the one before where they meet.
    fn close_joined(&mut self, talk: SpeechSpan, out: &mut Vec<SpeechSpan>) {
        if talk.duration_ms() < self.min_speech_ms {
            return;
        }
        let span = SpeechSpan {
            start_ms: talk.start_ms.saturating_sub(self.pad_ms),
            end_ms: (talk.end_ms + self.pad_ms).min(self.duration_ms.unwrap_or(u64::MAX)),
        };
        if let Some((prev, prev_talk)) = self.padded.as_mut()
            && span.start_ms <= prev.end_ms
        {
            prev.end_ms = prev.end_ms.max(span.end_ms);
            prev_talk.push(talk);
            return;
        }
        if let Some((prev, prev_talk)) = self.padded.replace((span, vec![talk])) {
            self.emit(prev, prev_talk, out);
        }
    }

    /// Finalizes what the clock has made final: a stretch no run can join
    /// any more, then a padded span no later speech's padding can reach.
    fn settle(&mut self, out: &mut Vec<SpeechSpan>) {
        let now = self.now_ms();
        if self.run_start_ms.is_none()
            && let Some(joined) = self.joined
            && now - joined.end_ms >= self.min_silence_ms
        {
            self.joined = None;
            self.close_joined(joined, out);
        }
        let next_start = self.next_talk_start_ms().saturating_sub(self.pad_ms);
        if let Some((span, _)) = &self.padded
            && next_start > span.end_ms
            && let Some((span, talk)) = self.padded.take()
        {
            self.emit(span, talk, out);
        }
    }

    /// The earliest a talk span not yet closed can start.
    fn next_talk_start_ms(&self) -> u64 {
        self.joined
            .map(|j| j.start_ms)
            .or(self.run_start_ms)
            .unwrap_or_else(|| self.now_ms())
    }

    /// No span not yet emitted starts before this.
    fn settled_ms(&self) -> u64 {
        match &self.padded {
            Some((span, _)) => span.start_ms,
            None => self.next_talk_start_ms().saturating_sub(self.pad_ms),
        }
    }

    fn emit(&mut self, span: SpeechSpan, talk: Vec<SpeechSpan>, out: &mut Vec<SpeechSpan>) {
        out.push(span);
        self.done.spans.push(span);
        self.done.talk.extend(talk);
    }
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

    use crate::test_rng::Rng;

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

    /// The span rules as they were written for a whole channel at once,
    /// before detection streamed: the oracle for the frame-by-frame tracker.
    fn batch_spans(is_speech: &[bool], duration_ms: u64, settings: &VadSettings) -> SpeechSpans {
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
                Some(prev)
                    if span.start_ms.saturating_sub(prev.end_ms) < settings.min_silence_ms =>
                {
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

    #[test]
    fn frame_by_frame_rules_equal_the_whole_channel_rules() {
        let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
        for case in 0..2_000 {
            let s = VadSettings {
                min_speech_ms: rng.below(400),
                min_silence_ms: rng.below(700),
                pad_ms: rng.below(600),
                ..settings()
            };
            // Runs of speech and silence of random lengths, some a frame long.
            let mut f = Vec::new();
            let target = rng.below(400) as usize;
            while f.len() < target {
                let speech = rng.below(2) == 0;
                let longest = if rng.below(3) == 0 { 3 } else { 60 };
                let n = 1 + rng.below(longest) as usize;
                f.extend(std::iter::repeat_n(speech, n));
            }
            // A channel whose last frame is partial: 1 to 256 of its samples.
            let samples = (f.len().saturating_sub(1) * FRAME_SAMPLES) as u64 + 1 + rng.below(256);
            let duration_ms = if f.is_empty() { 0 } else { samples / 16 };
            assert_eq!(
                spans_from_frames(&f, duration_ms, &s),
                batch_spans(&f, duration_ms, &s),
                "case {case}: {s:?}, {} frames, {duration_ms} ms",
                f.len()
            );
        }
    }

    /// A stateful stand-in for earshot: a frame is speech when it and the
    /// frame before are loud, so feeding frames out of order, twice or
    /// without a reset would show.
    #[derive(Default)]
    struct LoudnessDetector {
        score: f32,
    }

    impl SpeechDetector for LoudnessDetector {
        fn frame_score(&mut self, frame: &[f32; FRAME_SAMPLES]) -> f32 {
            let loud = frame.iter().map(|s| s.abs()).sum::<f32>() / FRAME_SAMPLES as f32 > 0.05;
            self.score = 0.5 * self.score + if loud { 0.5 } else { 0.0 };
            self.score
        }

        fn reset(&mut self) {
            self.score = 0.0;
        }
    }

    /// Bursts of loud noise between quiet stretches, 50 ms to 3 s each.
    fn bursts(rng: &mut Rng, ms: u64) -> Vec<f32> {
        let mut out = Vec::new();
        // Loud from the start, so a detector carrying state over shows.
        let mut loud = true;
        while (out.len() as u64) < ms * 16 {
            let n = (50 + rng.below(2_950)) * 16;
            let level = if loud { 0.3 } else { 0.001 };
            out.extend((0..n).map(|_| rng.unit() * level));
            loud = !loud;
        }
        out.truncate((ms * 16) as usize + rng.below(256) as usize);
        out
    }

    /// Feeds `pcm` in chunks of `chunk` samples; checks that each span
    /// comes after every `settled_ms` reported before it.
    fn stream<D: SpeechDetector>(
        vad: &mut StreamingVad<D>,
        pcm: &[f32],
        chunk: usize,
    ) -> Vec<SpeechSpan> {
        let mut spans = Vec::new();
        let mut settled_before = 0;
        let mut check = |settled: SettledSpeech, spans: &mut Vec<SpeechSpan>| {
            for span in &settled.spans {
                assert!(
                    span.start_ms >= settled_before,
                    "{span:?} < {settled_before}"
                );
            }
            assert!(settled.settled_ms >= settled_before);
            settled_before = settled.settled_ms;
            spans.extend(settled.spans);
        };
        for part in pcm.chunks(chunk.max(1)) {
            check(vad.push(part), &mut spans);
        }
        check(vad.finish(), &mut spans);
        spans
    }

    #[test]
    fn streaming_equals_batch_for_any_chunking() {
        let mut rng = Rng(0x2545_f491_4f6c_dd1d);
        let s = VadSettings {
            threshold: 0.7,
            ..VadSettings::default()
        };
        for _ in 0..3 {
            let pcm = bursts(&mut rng, 120_000);
            let batch = detect_speech(
                &mut LoudnessDetector::default(),
                &Pcm16k::from_16k(pcm.clone()),
                &s,
            );
            assert!(batch.spans.len() > 10, "{}", batch.spans.len());
            let random = 1 + rng.below(20_000) as usize;
            for chunk in [1, 160, 7_919, random, pcm.len()] {
                let mut vad = StreamingVad::with_detector(LoudnessDetector { score: 0.9 }, &s);
                let spans = stream(&mut vad, &pcm, chunk);
                assert_eq!(spans, batch.spans, "chunks of {chunk}");
                assert_eq!(vad.speech(), &batch, "chunks of {chunk}");
            }
        }
    }

    #[test]
    fn detectors_can_move_to_another_thread() {
        fn send<T: Send>() {}
        send::<StreamingVad>();
        send::<crate::windows::WindowPacker>();
    }

    #[test]
    fn a_span_is_final_once_the_audio_passes_its_lookahead() {
        let s = VadSettings {
            threshold: 0.7,
            ..VadSettings::default()
        };
        let lookahead_ms = s.min_silence_ms.max(2 * s.pad_ms + FRAME_MS);
        // 1 s of silence, 2 s of speech, then silence for as long as it takes.
        let mut rng = Rng(7);
        let mut vad = StreamingVad::with_detector(LoudnessDetector::default(), &s);
        assert!(vad.push(&vec![0.0; 16_000]).spans.is_empty());
        let speech: Vec<f32> = (0..32_000).map(|_| rng.unit() * 0.3).collect();
        assert!(vad.push(&speech).spans.is_empty());
        let mut fed_ms = 3_000;
        let span = loop {
            let settled = vad.push(&[0.0; 16]);
            fed_ms += 1;
            if let Some(&span) = settled.spans.first() {
                break span;
            }
            assert!(fed_ms < 10_000, "no span after {fed_ms} ms");
        };
        let talk = vad.speech().talk[0];
        assert_eq!(span.end_ms, talk.end_ms + s.pad_ms);
        assert!(
            fed_ms <= talk.end_ms + lookahead_ms,
            "final at {fed_ms} ms, talk ends at {} ms",
            talk.end_ms
        );
        assert!(vad.push(&[0.0; 16]).settled_ms > span.end_ms);
    }

    /// The repository's spoken fixture (espeak, "recording"), as 16 kHz floats.
    fn fixture_speech() -> Vec<f32> {
        let wav = include_bytes!("../tests/fixtures/audio/wav_s16_16k_mono_speech.wav");
        let data = wav
            .windows(4)
            .position(|w| w == b"data")
            .expect("a data chunk")
            + 8;
        wav[data..]
            .chunks_exact(2)
            .map(|b| f32::from(i16::from_le_bytes([b[0], b[1]])) / 32_768.0)
            .collect()
    }

    #[test]
    fn earshot_streaming_equals_batch_on_speech() {
        let word = fixture_speech();
        let mut pcm = Vec::new();
        for pause_ms in [700, 150, 2_000, 450, 90, 1_300] {
            pcm.extend(std::iter::repeat_n(0.0, pause_ms * 16));
            pcm.extend(&word);
        }
        pcm.extend(std::iter::repeat_n(0.0, 123));
        let s = VadSettings::default();
        let batch = detect_speech(
            &mut EarshotDetector::default(),
            &Pcm16k::from_16k(pcm.clone()),
            &s,
        );
        assert!(batch.spans.len() >= 2, "{batch:?}");
        for chunk in [1, 160, 7_919, pcm.len()] {
            let mut vad = StreamingVad::new(&s);
            assert_eq!(
                stream(&mut vad, &pcm, chunk),
                batch.spans,
                "chunks of {chunk}"
            );
            assert_eq!(vad.speech(), &batch, "chunks of {chunk}");
        }
    }

    #[test]
    fn silence_and_faint_noise_have_no_speech() {
        let mut rng = Rng(0x1234_5678);
        // 5 s of noise at about -60 dBFS.
        let pcm = Pcm16k::from_16k((0..80_000).map(|_| rng.unit() * 0.0017).collect());
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
}
