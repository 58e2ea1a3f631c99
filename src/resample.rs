//! Resampling to whisper's 16 kHz. The only module that names rubato and the
//! only producer of [`Pcm16k`] from audio at another rate.
//!
//! Uses rubato's FFT resampler (fixed ratio, overlap-add with a windowed-sinc
//! anti-aliasing filter): every input rate a recorder writes (8, 11.025, 22.05, 32,
//! 44.1, 48 kHz, …) is a fixed rational ratio to 16 kHz, and the FFT resampler is both
//! exact for such ratios and fast. The audio is fed through in chunks, so besides the
//! output only a few FFT blocks are ever allocated.
//!
//! Timing matters more than usual here: speech spans and transcript segments found on
//! the 16 kHz signal are reported as times on the original recording. The resampler's
//! filter delay is therefore trimmed off (rubato's `process_all_into_buffer` drops the
//! first `output_delay()` frames) and the output length is fixed to
//! `round(len * 16000 / rate)`, so sample `i` of the output is at time `i / 16000` s of
//! the input.

use rubato::audioadapter_buffers::direct::InterleavedSlice;
use rubato::{Fft, FixedSync, Resampler, WindowFunction};

use crate::error::{Error, Result};
use crate::model::{Pcm16k, WHISPER_SAMPLE_RATE_HZ};

/// Lowest input rate accepted. Below this there is no speech band left to transcribe.
pub const MIN_RATE_HZ: u32 = 4_000;
/// Highest input rate accepted; anything above is a mislabelled file, not a recording.
pub const MAX_RATE_HZ: u32 = 192_000;

/// Input frames fed to the resampler per call.
const CHUNK_FRAMES: usize = 4096;
/// FFT sub-chunks per chunk. Sub-chunks of about 1000 input frames give a long enough
/// filter for a steep transition band (passband flat to ~7 kHz, stopband from 8 kHz when
/// downsampling) while keeping the FFTs small.
const SUB_CHUNKS: usize = 4;

/// Converts one channel at `sample_rate_hz` to 16 kHz with an anti-aliasing filter.
///
/// The output has `round(samples.len() * 16000 / sample_rate_hz)` samples and is aligned
/// in time with the input (no filter delay). 16 kHz input is copied unchanged. Rates
/// outside [`MIN_RATE_HZ`]..=[`MAX_RATE_HZ`] give [`Error::Resample`].
pub fn to_16k(samples: &[f32], sample_rate_hz: u32) -> Result<Pcm16k> {
    if !(MIN_RATE_HZ..=MAX_RATE_HZ).contains(&sample_rate_hz) {
        return Err(Error::Resample(format!(
            "sample rate {sample_rate_hz} Hz is outside the supported {MIN_RATE_HZ}-{MAX_RATE_HZ} Hz"
        )));
    }
    if sample_rate_hz == WHISPER_SAMPLE_RATE_HZ {
        return Ok(Pcm16k::from_16k(samples.to_vec()));
    }
    let target_len = output_len(samples.len(), sample_rate_hz);
    if samples.is_empty() {
        return Ok(Pcm16k::from_16k(Vec::new()));
    }

    let mut resampler = Fft::<f32>::new_custom(
        sample_rate_hz as usize,
        WHISPER_SAMPLE_RATE_HZ as usize,
        CHUNK_FRAMES,
        SUB_CHUNKS,
        1,
        WindowFunction::BlackmanHarris2,
        FixedSync::Input,
    )
    .map_err(|e| Error::Resample(format!("cannot build a {sample_rate_hz} Hz resampler: {e}")))?;

    let input = InterleavedSlice::new(samples, 1, samples.len())
        .map_err(|e| Error::Resample(e.to_string()))?;
    // Room for the trimmed delay and one chunk of slack on top of the real output;
    // rubato writes whole chunks.
    let capacity = resampler.process_all_needed_output_len(samples.len());
    let mut out = vec![0.0f32; capacity];
    let produced = {
        let mut output = InterleavedSlice::new_mut(&mut out, 1, capacity)
            .map_err(|e| Error::Resample(e.to_string()))?;
        let (_, produced) = resampler
            .process_all_into_buffer(&input, &mut output, samples.len(), None)
            .map_err(|e| Error::Resample(e.to_string()))?;
        produced
    };
    // rubato returns ceil(len * ratio) frames; the contract is the rounded length. Past
    // `produced` the buffer holds the filter's tail of the last samples, which is the
    // right content should rounding ask for one more frame.
    debug_assert!(produced + 1 >= target_len);
    out.truncate(target_len);
    out.shrink_to_fit();
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
}
