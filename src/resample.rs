//! Resampling to whisper's 16 kHz. The only module that names rubato and the
//! only producer of [`Pcm16k`] from audio at another rate.
//!
//! Uses rubato's FFT resampler (fixed ratio, overlap-add with a windowed-sinc
//! anti-aliasing filter): every input rate a recorder writes (8, 11.025, 22.05, 32,
//! 44.1, 48 kHz, …) is a fixed rational ratio to 16 kHz, and the FFT resampler is both
//! exact for such ratios and fast.
//!
//! [`Resampler16k`] streams: audio is pushed in whatever pieces the decoder hands out and
//! goes through the FFT in chunks of 4096 frames, so besides its caller's output it
//! holds one chunk of input and a few FFT blocks, however long the recording.
//! [`to_16k`] is the same resampler fed a whole channel at once, so the two give
//! bit-identical output. The chunking is what rubato's `process_all_into_buffer` does
//! for a whole clip (full chunks, the last one partial and zero-padded, then zero
//! chunks to flush the filter), only spread over the pushes.
//!
//! Timing matters more than usual here: speech spans and transcript segments found on
//! the 16 kHz signal are reported as times on the original recording. The resampler's
//! filter delay is therefore trimmed off (the first `output_delay()` output frames are
//! dropped) and the output length is fixed to `round(len * 16000 / rate)`, so sample `i`
//! of the output is at time `i / 16000` s of the input.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Indexing, Resampler, WindowFunction};

use crate::error::{Error, Result};
use crate::model::{Pcm16k, WHISPER_SAMPLE_RATE_HZ};

/// Lowest input rate accepted. Below this there is no speech band left to transcribe.
pub const MIN_RATE_HZ: u32 = 4_000;
/// Highest input rate accepted; anything above is a mislabelled file, not a recording.
pub const MAX_RATE_HZ: u32 = 192_000;

/// Input frames fed to the FFT resampler per call.
const CHUNK_FRAMES: usize = 4096;
/// FFT sub-chunks per chunk. Sub-chunks of about 1000 input frames give a long enough
/// filter for a steep transition band (passband flat to ~7 kHz, stopband from 8 kHz when
/// downsampling) while keeping the FFTs small.
const SUB_CHUNKS: usize = 4;

/// One channel's streaming conversion to 16 kHz: [`push`](Self::push) source-rate
/// samples as they come, then [`finish`](Self::finish) once. The output is what
/// [`to_16k`] gives for all the samples pushed: same values, same length, no time shift.
pub struct Resampler16k {
    /// `None` at 16 kHz, where samples pass through unchanged.
    fft: Option<FftStream>,
    rate: u32,
    /// Source frames pushed so far.
    total_in: u64,
    /// 16 kHz frames appended to callers' buffers so far.
    total_out: u64,
    finished: bool,
}

/// The FFT resampler with the state that spreads one whole-clip conversion over pushes.
struct FftStream {
    fft: Fft<f32>,
    /// Input not yet making up a whole chunk (fewer than [`CHUNK_FRAMES`] frames).
    pending: Vec<f32>,
    /// One call's output, before the delay is trimmed; `output_frames_max()` long.
    scratch: Vec<f32>,
    /// Output frames still to drop from the front: the filter's delay.
    to_trim: usize,
}

impl Resampler16k {
    /// A resampler from `sample_rate_hz`; rates outside
    /// [`MIN_RATE_HZ`]..=[`MAX_RATE_HZ`] give [`Error::Resample`].
    pub fn new(sample_rate_hz: u32) -> Result<Self> {
        check_rate(sample_rate_hz)?;
        let fft = if sample_rate_hz == WHISPER_SAMPLE_RATE_HZ {
            None
        } else {
            let fft = Fft::<f32>::new_custom(
                sample_rate_hz as usize,
                WHISPER_SAMPLE_RATE_HZ as usize,
                CHUNK_FRAMES,
                SUB_CHUNKS,
                1,
                WindowFunction::BlackmanHarris2,
                FixedSync::Input,
            )
            .map_err(|e| {
                Error::Resample(format!("cannot build a {sample_rate_hz} Hz resampler: {e}"))
            })?;
            Some(FftStream {
                pending: Vec::with_capacity(CHUNK_FRAMES),
                scratch: vec![0.0; fft.output_frames_max()],
                to_trim: fft.output_delay(),
                fft,
            })
        };
        Ok(Self {
            fft,
            rate: sample_rate_hz,
            total_in: 0,
            total_out: 0,
            finished: false,
        })
    }

    /// Feeds source-rate samples; appends the 16 kHz output they complete to `out`
    /// (nothing until a chunk's worth has come in, and then about a chunk's worth).
    pub fn push(&mut self, input: &[f32], out: &mut Vec<f32>) -> Result<()> {
        if self.finished {
            return Err(Error::Resample(
                "samples pushed after the resampler was finished".to_owned(),
            ));
        }
        self.total_in += input.len() as u64;
        let Some(s) = &mut self.fft else {
            out.extend_from_slice(input);
            self.total_out += input.len() as u64;
            return Ok(());
        };
        let mut input = input;
        if !s.pending.is_empty() {
            let take = (CHUNK_FRAMES - s.pending.len()).min(input.len());
            s.pending.extend_from_slice(&input[..take]);
            input = &input[take..];
            if s.pending.len() < CHUNK_FRAMES {
                return Ok(());
            }
            // Taken out so that it and the resampler can be borrowed at once; the
            // allocation goes back.
            let chunk = std::mem::take(&mut s.pending);
            let result = s.process(&chunk, None, u64::MAX, out);
            s.pending = chunk;
            s.pending.clear();
            self.total_out += result?;
        }
        // Whole chunks straight from the caller's slice; only the rest is copied. Their
        // output needs no cap: it lags the input by the filter delay (half an FFT block,
        // hundreds of frames), far more than rounding the final length can take off.
        let mut chunks = input.chunks_exact(CHUNK_FRAMES);
        for chunk in &mut chunks {
            self.total_out += s.process(chunk, None, u64::MAX, out)?;
        }
        s.pending.extend_from_slice(chunks.remainder());
        Ok(())
    }

    /// Flushes the filter's tail into `out`. After it, the output appended over all calls
    /// is `output_len(samples pushed, rate)` long. Later calls do nothing.
    pub fn finish(&mut self, out: &mut Vec<f32>) -> Result<()> {
        if std::mem::replace(&mut self.finished, true) {
            return Ok(());
        }
        let Some(s) = &mut self.fft else {
            return Ok(());
        };
        if self.total_in == 0 {
            return Ok(());
        }
        let target = output_len(self.total_in as usize, self.rate) as u64;
        debug_assert!(self.total_out <= target, "pushes ran ahead of the input");
        let mut left = target.saturating_sub(self.total_out);
        if !s.pending.is_empty() {
            // The last, partial chunk: rubato pads it with zeros.
            let chunk = std::mem::take(&mut s.pending);
            let result = s.process(&chunk, Some(chunk.len()), left, out);
            s.pending = chunk;
            s.pending.clear();
            left -= result?;
        }
        // Zero chunks push out what the filter still holds of the real input.
        while left > 0 {
            left -= s.process(&[], Some(0), left, out)?;
        }
        self.total_out = target;
        Ok(())
    }
}

impl FftStream {
    /// Runs one chunk (`partial`: how many frames of it are real, the rest zeros) and
    /// appends at most `limit` frames of its output, past the delay, to `out`; returns
    /// how many it appended.
    fn process(
        &mut self,
        chunk: &[f32],
        partial: Option<usize>,
        limit: u64,
        out: &mut Vec<f32>,
    ) -> Result<u64> {
        let input = InterleavedSlice::new(chunk, 1, chunk.len())
            .map_err(|e| Error::Resample(e.to_string()))?;
        let frames = self.scratch.len();
        let mut output = InterleavedSlice::new_mut(&mut self.scratch, 1, frames)
            .map_err(|e| Error::Resample(e.to_string()))?;
        let mut indexing = Indexing::new();
        indexing.partial_len = partial;
        let (_, produced) = self
            .fft
            .process_into_buffer(&input, &mut output, Some(&indexing))
            .map_err(|e| Error::Resample(e.to_string()))?;
        let trim = self.to_trim.min(produced);
        self.to_trim -= trim;
        let n = (produced - trim).min(usize::try_from(limit).unwrap_or(usize::MAX));
        out.extend_from_slice(&self.scratch[trim..trim + n]);
        Ok(n as u64)
    }
}

fn check_rate(sample_rate_hz: u32) -> Result<()> {
    if (MIN_RATE_HZ..=MAX_RATE_HZ).contains(&sample_rate_hz) {
        Ok(())
    } else {
        Err(Error::Resample(format!(
            "sample rate {sample_rate_hz} Hz is outside the supported {MIN_RATE_HZ}-{MAX_RATE_HZ} Hz"
        )))
    }
}

/// Converts one channel at `sample_rate_hz` to 16 kHz with an anti-aliasing filter.
///
/// The output has `round(samples.len() * 16000 / sample_rate_hz)` samples and is aligned
/// in time with the input (no filter delay). 16 kHz input is copied unchanged. Rates
/// outside [`MIN_RATE_HZ`]..=[`MAX_RATE_HZ`] give [`Error::Resample`]. The same as one
/// [`Resampler16k`] pushed all of `samples`.
pub fn to_16k(samples: &[f32], sample_rate_hz: u32) -> Result<Pcm16k> {
    check_rate(sample_rate_hz)?;
    if samples.is_empty() {
        // Not worth planning FFTs for.
        return Ok(Pcm16k::from_16k(Vec::new()));
    }
    let mut out = Vec::with_capacity(output_len(samples.len(), sample_rate_hz));
    let mut resampler = Resampler16k::new(sample_rate_hz)?;
    resampler.push(samples, &mut out)?;
    resampler.finish(&mut out)?;
    Ok(Pcm16k::from_16k(out))
}

/// `round(len * 16000 / rate)`, in integers.
pub fn output_len(len: usize, sample_rate_hz: u32) -> usize {
    let rate = u128::from(sample_rate_hz);
    ((len as u128 * u128::from(WHISPER_SAMPLE_RATE_HZ) + rate / 2) / rate) as usize
}

#[cfg(test)]
mod tests {
    use std::f32::consts::PI;

    use super::*;

    fn sine(freq: f32, rate: u32, seconds: f32, amp: f32) -> Vec<f32> {
        let n = (seconds * rate as f32) as usize;
        (0..n)
            .map(|i| amp * (2.0 * PI * freq * i as f32 / rate as f32).sin())
            .collect()
    }

    /// RMS of the middle half, away from the edges' start-up transients.
    fn rms_middle(x: &[f32]) -> f32 {
        let mid = &x[x.len() / 4..3 * x.len() / 4];
        (mid.iter().map(|v| v * v).sum::<f32>() / mid.len() as f32).sqrt()
    }

    /// Frequency from zero crossings over the middle half.
    fn zc_freq(x: &[f32], rate: u32) -> f32 {
        let mid = &x[x.len() / 4..3 * x.len() / 4];
        let crossings = mid
            .windows(2)
            .filter(|w| (w[0] < 0.0) != (w[1] < 0.0))
            .count();
        crossings as f32 / 2.0 / (mid.len() as f32 / rate as f32)
    }

    fn db(ratio: f32) -> f32 {
        20.0 * ratio.log10()
    }

    #[test]
    fn passthrough_at_16k_copies() {
        let x = sine(440.0, 16_000, 0.1, 0.5);
        assert_eq!(to_16k(&x, 16_000).unwrap().samples(), &x[..]);
    }

    #[test]
    fn rejects_absurd_rates() {
        for rate in [0, 1, 3_999, 192_001, 1_000_000] {
            let err = to_16k(&[0.0; 10], rate).unwrap_err();
            assert!(matches!(err, Error::Resample(_)), "{rate}");
            assert!(
                err.to_string().starts_with("resample: sample rate"),
                "{err}"
            );
        }
        assert!(to_16k(&[0.0; 10], 4_000).is_ok());
        assert!(to_16k(&[0.0; 10], 192_000).is_ok());
    }

    #[test]
    fn empty_and_tiny_inputs() {
        assert!(to_16k(&[], 8_000).unwrap().samples().is_empty());
        assert_eq!(to_16k(&[0.5], 8_000).unwrap().samples().len(), 2);
        assert_eq!(to_16k(&[0.5], 44_100).unwrap().samples().len(), 0);
        assert_eq!(to_16k(&[0.5; 3], 44_100).unwrap().samples().len(), 1);
    }

    #[test]
    fn upsampling_8k_keeps_frequency_and_amplitude() {
        let x = sine(1000.0, 8_000, 1.0, 0.5);
        let y = to_16k(&x, 8_000).unwrap();
        let y = y.samples();
        assert_eq!(y.len(), 16_000);
        let f = zc_freq(y, 16_000);
        assert!((f - 1000.0).abs() < 5.0, "frequency {f}");
        let gain = db(rms_middle(y) / rms_middle(&x));
        assert!(gain.abs() <= 1.0, "gain {gain} dB");
    }

    #[test]
    fn passband_is_flat_for_common_rates() {
        for rate in [8_000, 11_025, 22_050, 32_000, 44_100, 48_000] {
            for freq in [300.0, 1000.0, 3400.0] {
                let x = sine(freq, rate, 0.5, 0.5);
                let y = to_16k(&x, rate).unwrap();
                let gain = db(rms_middle(y.samples()) / rms_middle(&x));
                assert!(
                    gain.abs() <= 1.0,
                    "{rate} Hz, {freq} Hz tone: gain {gain} dB"
                );
                let f = zc_freq(y.samples(), 16_000);
                assert!(
                    (f - freq).abs() < freq * 0.01 + 2.0,
                    "{rate} Hz: {freq} -> {f}"
                );
            }
        }
    }

    #[test]
    fn downsampling_removes_content_above_the_new_nyquist() {
        // 10 kHz at 48 kHz would alias to 6 kHz at 16 kHz without the filter.
        for (rate, freq) in [(48_000, 10_000.0), (44_100, 9_000.0), (32_000, 12_000.0)] {
            let x = sine(freq, rate, 1.0, 0.5);
            let y = to_16k(&x, rate).unwrap();
            let attenuation = db(rms_middle(y.samples()) / rms_middle(&x));
            assert!(
                attenuation <= -40.0,
                "{freq} Hz at {rate} Hz only {attenuation} dB down"
            );
        }
    }

    #[test]
    fn output_length_is_the_rounded_ratio() {
        for rate in [8_000, 11_025, 22_050, 32_000, 44_100, 48_000, 7_999, 44_101] {
            for len in [2usize, 10, 441, 1000, 4095, 4096, 4097, 44_100, 100_003] {
                let x = vec![0.1f32; len];
                let y = to_16k(&x, rate).unwrap();
                let want = (len as f64 * 16_000.0 / f64::from(rate)).round() as usize;
                assert!(
                    y.samples().len().abs_diff(want) <= 1,
                    "{rate} Hz, {len} frames: {} vs {want}",
                    y.samples().len()
                );
            }
        }
    }

    #[test]
    fn a_click_at_one_second_stays_at_one_second() {
        for rate in [8_000, 11_025, 22_050, 32_000, 44_100, 48_000] {
            let mut x = vec![0.0f32; 2 * rate as usize];
            x[rate as usize] = 1.0;
            let y = to_16k(&x, rate).unwrap();
            let (peak, _) = y
                .samples()
                .iter()
                .enumerate()
                .max_by(|a, b| a.1.abs().total_cmp(&b.1.abs()))
                .unwrap();
            let error_ms = (peak as f64 - 16_000.0) / 16.0;
            assert!(
                error_ms.abs() <= 1.0,
                "{rate} Hz: click at {peak} ({error_ms} ms off)"
            );
        }
    }

    #[test]
    fn a_tone_burst_onset_is_not_shifted() {
        // Silence, then a 500 Hz burst from exactly 0.5 s: the envelope must rise at 0.5 s.
        let rate = 44_100;
        let mut x = vec![0.0f32; rate as usize];
        for (i, v) in x.iter_mut().enumerate().skip(rate as usize / 2) {
            *v = 0.5 * (2.0 * PI * 500.0 * i as f32 / rate as f32).sin();
        }
        let y = to_16k(&x, rate).unwrap();
        let first_loud = y.samples().iter().position(|v| v.abs() > 0.05).unwrap();
        let ms = first_loud as f64 / 16.0;
        assert!((ms - 500.0).abs() <= 1.0, "onset at {ms} ms");
    }

    /// Whole-clip conversion the way `to_16k` did it before it streamed: rubato's own
    /// `process_all_into_buffer`, trimmed to the rounded length.
    fn rubato_whole_clip(samples: &[f32], rate: u32) -> Vec<f32> {
        if rate == WHISPER_SAMPLE_RATE_HZ || samples.is_empty() {
            return samples.to_vec();
        }
        let mut r = Fft::<f32>::new_custom(
            rate as usize,
            WHISPER_SAMPLE_RATE_HZ as usize,
            CHUNK_FRAMES,
            SUB_CHUNKS,
            1,
            WindowFunction::BlackmanHarris2,
            FixedSync::Input,
        )
        .unwrap();
        let input = InterleavedSlice::new(samples, 1, samples.len()).unwrap();
        let capacity = r.process_all_needed_output_len(samples.len());
        let mut out = vec![0.0f32; capacity];
        let mut output = InterleavedSlice::new_mut(&mut out, 1, capacity).unwrap();
        r.process_all_into_buffer(&input, &mut output, samples.len(), None)
            .unwrap();
        out.truncate(output_len(samples.len(), rate));
        out
    }

    /// Deterministic noise in [-0.5, 0.5] (xorshift64).
    fn noise(len: usize, mut seed: u64) -> Vec<f32> {
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                (seed >> 40) as f32 / (1u64 << 24) as f32 - 0.5
            })
            .collect()
    }

    const STREAM_RATES: [u32; 8] = [8_000, 11_025, 16_000, 22_050, 32_000, 44_100, 48_000, 7_999];

    #[test]
    fn to_16k_is_rubatos_whole_clip_conversion() {
        for rate in STREAM_RATES {
            for len in [1usize, 2, 100, 4095, 4096, 4097, 8192, 12_345, 50_000] {
                let x = noise(len, u64::from(rate) + len as u64);
                let y = to_16k(&x, rate).unwrap();
                assert!(
                    y.samples() == rubato_whole_clip(&x, rate),
                    "{rate} Hz, {len} frames"
                );
            }
        }
    }

    #[test]
    fn streaming_in_random_pushes_equals_one_shot() {
        let mut seed = 0x9e37_79b9_7f4a_7c15u64;
        let mut next = |below: usize| {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            (seed % below as u64) as usize
        };
        for rate in STREAM_RATES {
            for len in [0usize, 1, 999, 4096, 20_000, 3 * rate as usize + 17] {
                let x = noise(len, u64::from(rate) ^ len as u64);
                let want = to_16k(&x, rate).unwrap();
                for round in 0..3 {
                    let mut r = Resampler16k::new(rate).unwrap();
                    let mut out = Vec::new();
                    let mut fed = 0;
                    while fed < len {
                        // Pieces from empty to a few chunks, as a decoder's blocks come.
                        let n = next(3 * CHUNK_FRAMES).min(len - fed);
                        r.push(&x[fed..fed + n], &mut out).unwrap();
                        fed += n;
                        assert!(
                            out.len() <= output_len(fed, rate),
                            "{rate} Hz: ahead of input"
                        );
                    }
                    r.finish(&mut out).unwrap();
                    assert_eq!(out.len(), output_len(len, rate), "{rate} Hz, {len} frames");
                    assert!(
                        out == want.samples(),
                        "{rate} Hz, {len} frames, round {round}: differs from to_16k"
                    );
                }
            }
        }
    }

    #[test]
    fn streaming_appends_and_finish_is_final() {
        let x = sine(440.0, 8_000, 1.0, 0.5);
        let mut r = Resampler16k::new(8_000).unwrap();
        let mut out = vec![7.0];
        r.push(&x, &mut out).unwrap();
        r.finish(&mut out).unwrap();
        assert_eq!(out[0], 7.0, "what was in `out` stays");
        assert_eq!(&out[1..], to_16k(&x, 8_000).unwrap().samples());
        let len = out.len();
        r.finish(&mut out).unwrap();
        assert_eq!(out.len(), len, "a second finish adds nothing");
        let err = r.push(&x, &mut out).unwrap_err();
        assert!(matches!(err, Error::Resample(_)), "{err}");
        assert_eq!(out.len(), len);
    }

    #[test]
    fn the_streaming_resampler_checks_rates_like_to_16k() {
        for rate in [0, 3_999, 192_001] {
            let err = Resampler16k::new(rate).err().unwrap();
            assert_eq!(
                err.to_string(),
                to_16k(&[0.0], rate).unwrap_err().to_string()
            );
        }
    }

    #[test]
    fn the_streaming_resampler_can_move_between_threads() {
        fn send<T: Send>() {}
        send::<Resampler16k>();
    }
}
