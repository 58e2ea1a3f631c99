//! Which channels of a recording carry distinct speakers, and the mono mix
//! of the plain whisper.cpp baseline.

/// Whether two blocks of samples are the same signal (a mono mix saved as
/// stereo), allowing for codec rounding.
pub fn identical(a: &[f32], b: &[f32]) -> bool {
    a.len() == b.len() && a.iter().zip(b).all(|(x, y)| (x - y).abs() < 1e-4)
}

/// The channels averaged into one.
pub fn mix_mono(channels: &[Vec<f32>]) -> Vec<f32> {
    let n = channels.first().map_or(0, Vec::len);
    let scale = 1.0 / channels.len().max(1) as f32;
    (0..n)
        .map(|i| channels.iter().map(|c| c[i]).sum::<f32>() * scale)
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn identical_allows_rounding_only() {
        assert!(identical(&[0.5, -0.25], &[0.50001, -0.25]));
        assert!(!identical(&[0.5, -0.25], &[0.5, -0.24]));
        assert!(!identical(&[0.5], &[0.5, 0.0]));
    }

    #[test]
    fn mono_mix_averages() {
        assert_eq!(mix_mono(&[vec![1.0, 0.0], vec![0.0, 0.5]]), vec![0.5, 0.25]);
        assert!(mix_mono(&[]).is_empty());
    }
}
