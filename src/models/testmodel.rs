//! A tiny whisper model with random weights, in the real ggml format, for
//! tests that need whisper.cpp to load a model and run `full()` without
//! shipping or downloading one.
//!
//! The file goes through the same [`GgmlWriter`] and tensor table as a
//! converted model, so whisper.cpp loads it exactly like a real one. The
//! dimensions that whisper.cpp hard-codes or derives token ids from stay
//! real (1500 audio frames, 448 text positions, 80 mels, the full 51,864 or
//! 51,865-token vocabulary: GPT-2's 256 byte tokens, then made-up words);
//! only the width and
//! depth shrink (64 wide, one head, one layer each side), so a 30 s window
//! encodes and decodes in well under a second.
//!
//! Weights are N(0, 0.02) from a seeded splitmix64 generator (the same seed
//! gives the same bytes), layer norms start at identity. Small weights keep
//! the logits nearly flat, so decoding ends on whisper.cpp's own limits
//! instead of looping on a strongly preferred token; the text is noise.

use std::io::BufWriter;
use std::path::Path;

use crate::atomic::{Access, persist, temp_beside};
use crate::error::Result;
use crate::models::ggml::{GgmlWriter, Hparams, gpt2_byte_order, mel_filters, whisper_tensors};

/// What [`write_random_model`] makes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TestModelSpec {
    /// 51,865 tokens (language detection, 99 languages) instead of the
    /// English-only 51,864.
    pub multilingual: bool,
    /// Seed of the weights.
    pub seed: u64,
}

impl Default for TestModelSpec {
    fn default() -> Self {
        Self {
            multilingual: false,
            seed: 1,
        }
    }
}

/// Width of the test model (a multiple of 32, so every quantization type
/// can take it).
pub const TEST_STATE: i32 = 64;

/// The test model's hparams (f16, like a converted model).
pub fn test_hparams(multilingual: bool) -> Hparams {
    Hparams {
        n_vocab: if multilingual { 51_865 } else { 51_864 },
        n_audio_ctx: 1500,
        n_audio_state: TEST_STATE,
        n_audio_head: 1,
        n_audio_layer: 1,
        n_text_ctx: 448,
        n_text_state: TEST_STATE,
        n_text_head: 1,
        n_text_layer: 1,
        n_mels: 80,
        ftype: 1,
    }
}

/// Writes the random-weight model to `path` (through a temporary file
/// renamed into place).
pub fn write_random_model(path: &Path, spec: &TestModelSpec) -> Result<()> {
    let hparams = test_hparams(spec.multilingual);
    // The 256 single-byte tokens where GPT-2 has them (whisper.cpp looks
    // up " " by text while decoding), then made-up distinct ASCII words:
    // only the count matters otherwise, whisper.cpp numbers the special
    // tokens after them itself.
    let vocab: Vec<Vec<u8>> = gpt2_byte_order()
        .into_iter()
        .map(|b| vec![b])
        .chain((256..hparams.n_regular_tokens()).map(|i| format!(" w{i}").into_bytes()))
        .collect();
    let (tmp, file) = temp_beside(path, Access::Shared)?;
    let mut w = GgmlWriter::new(
        BufWriter::with_capacity(1 << 20, file),
        &hparams,
        &mel_filters(hparams.n_mels as usize),
        &vocab,
    )?;
    let mut rng = SplitMix64::new(spec.seed);
    for t in whisper_tensors(&hparams) {
        let n: usize = t.shape.iter().product();
        let data: Vec<f32> = match layer_norm_part(&t.name) {
            Some(LnPart::Gain) => vec![1.0; n],
            Some(LnPart::Bias) => vec![0.0; n],
            None => (0..n).map(|_| 0.02 * rng.normal()).collect(),
        };
        w.tensor_f32(&t.name, &t.shape, t.ttype, &data)?;
    }
    let file = w.finish()?.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);
    persist(tmp, path)
}

enum LnPart {
    Gain,
    Bias,
}

/// Layer norms (`attn_ln`, `mlp_ln`, `cross_attn_ln`, `ln_post`, `ln`) get
/// gain 1 and bias 0, as a freshly initialised PyTorch model has.
fn layer_norm_part(name: &str) -> Option<LnPart> {
    let mut parts = name.rsplit('.');
    let last = parts.next()?;
    let module = parts.next()?;
    if !(module == "ln" || module == "ln_post" || module.ends_with("_ln")) {
        return None;
    }
    match last {
        "weight" => Some(LnPart::Gain),
        "bias" => Some(LnPart::Bias),
        _ => None,
    }
}

/// splitmix64 (Steele, Lea, Flood 2014): tiny, fast, and good enough for
/// test weights.
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9e37_79b9_7f4a_7c15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
        z ^ (z >> 31)
    }

    /// Uniform in (0, 1]: the top 53 bits, never 0 (so `ln` is finite).
    pub fn uniform(&mut self) -> f64 {
        ((self.next_u64() >> 11) + 1) as f64 / (1u64 << 53) as f64
    }

    /// Standard normal (Box–Muller; one of the pair is enough here).
    pub fn normal(&mut self) -> f32 {
        let (u1, u2) = (self.uniform(), self.uniform());
        ((-2.0 * u1.ln()).sqrt() * (std::f64::consts::TAU * u2).cos()) as f32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ggml::{GgmlFile, GgmlType};

    #[test]
    fn splitmix64_reference_values() {
        // First outputs for seed 0 from the reference C implementation.
        let mut r = SplitMix64::new(0);
        assert_eq!(r.next_u64(), 0xe220_a839_7b1d_cdaf);
        assert_eq!(r.next_u64(), 0x6e78_9e6a_a1b9_65f4);
        let mut r = SplitMix64::new(42);
        let xs: Vec<f32> = (0..20_000).map(|_| r.normal()).collect();
        let mean = xs.iter().sum::<f32>() / xs.len() as f32;
        let var = xs.iter().map(|x| (x - mean).powi(2)).sum::<f32>() / xs.len() as f32;
        assert!(mean.abs() < 0.03, "{mean}");
        assert!((var - 1.0).abs() < 0.05, "{var}");
    }

    #[test]
    fn random_model_is_deterministic_and_well_formed() {
        let dir = tempfile::tempdir().unwrap();
        let a = dir.path().join("a.bin");
        let b = dir.path().join("b.bin");
        let c = dir.path().join("c.bin");
        let spec = TestModelSpec {
            multilingual: true,
            seed: 3,
        };
        write_random_model(&a, &spec).unwrap();
        write_random_model(&b, &spec).unwrap();
        write_random_model(&c, &TestModelSpec { seed: 4, ..spec }).unwrap();
        let (ra, rb, rc) = (
            fs_err::read(&a).unwrap(),
            fs_err::read(&b).unwrap(),
            fs_err::read(&c).unwrap(),
        );
        assert_eq!(ra, rb);
        assert_eq!(ra.len(), rc.len());
        assert_ne!(ra, rc);

        let mut g = GgmlFile::open(&a).unwrap();
        assert_eq!(g.hparams, test_hparams(true));
        assert_eq!(g.vocab.len(), 50_257);
        assert_eq!(g.filters.n_mel, 80);
        let expected = whisper_tensors(&g.hparams);
        assert_eq!(g.tensors.len(), expected.len());
        for (t, e) in g.tensors.iter().zip(&expected) {
            assert_eq!(
                (&t.name, t.shape(), t.ttype),
                (&e.name, e.shape.clone(), e.ttype)
            );
        }
        assert_eq!(
            g.tensor("decoder.token_embedding.weight").unwrap().ttype,
            GgmlType::F16
        );
        assert!(
            g.read_f32("decoder.ln.weight")
                .unwrap()
                .iter()
                .all(|&v| v == 1.0)
        );
        assert!(
            g.read_f32("encoder.blocks.0.mlp_ln.bias")
                .unwrap()
                .iter()
                .all(|&v| v == 0.0)
        );
        let w = g.read_f32("encoder.blocks.0.attn.query.weight").unwrap();
        let std = (w.iter().map(|v| v * v).sum::<f32>() / w.len() as f32).sqrt();
        assert!((std - 0.02).abs() < 0.003, "{std}");

        let english = dir.path().join("en.bin");
        write_random_model(&english, &TestModelSpec::default()).unwrap();
        let g = GgmlFile::open(&english).unwrap();
        assert_eq!(g.hparams.n_vocab, 51_864);
        assert_eq!(g.vocab.len(), 50_256);
    }
}
