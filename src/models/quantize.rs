//! Quantization of ggml whisper models (q8_0, q5_0, q5_1, q4_0) with ggml's
//! own quantizer, following whisper.cpp's `examples/quantize`.
//!
//! whisper.cpp's rules (quantize.cpp and common-ggml.cpp
//! `ggml_common_quantize_0`), reproduced here:
//! - only 2-D tensors are quantized, and never `encoder.conv1.bias`,
//!   `encoder.conv2.bias`, `encoder.positional_embedding` or
//!   `decoder.positional_embedding` (ggml adds or copies those in f32);
//! - everything else is copied as is;
//! - the hparams `ftype` becomes the `ggml_ftype` plus
//!   `GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR` (2002 for q4_0, 2007 q8_0,
//!   2008 q5_0, 2009 q5_1), which whisper.cpp splits back into the
//!   quantization version and the weight type.
//!
//! Two deliberate differences, both so the output always loads:
//! - whisper.cpp allocates every 2-D weight in the quantized type and checks
//!   byte sizes, so a weight whose rows are not whole 32-value blocks cannot
//!   be "kept" unquantized (the file would be rejected); ggml would abort
//!   the process on such rows. We refuse with an error instead.
//! - A tensor that is kept is stored in the type whisper.cpp allocates for
//!   it (f16 conv kernels, f32 for the rest), so quantizing an all-f32 model
//!   also gives a loadable file; from the f16 models our converter writes,
//!   every kept tensor is copied byte for byte.
//!
//! Tensors are processed a chunk of rows at a time; the output is written
//! to a temporary file next to the destination and renamed into place, so
//! a failure never leaves a partial model under the final name.

use std::fmt;
use std::io::BufWriter;
use std::path::Path;
use std::str::FromStr;

use crate::error::{Error, Result};
use crate::models::ggml::{GgmlFile, GgmlType, GgmlWriter, Hparams, f16_model_type};

/// The quantization types callsift offers (the ones whisper.cpp publishes
/// models in).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum QuantType {
    Q8_0,
    Q5_0,
    Q5_1,
    Q4_0,
}

/// Tensors whisper.cpp's quantize never quantizes.
pub const SKIP: [&str; 4] = [
    "encoder.conv1.bias",
    "encoder.conv2.bias",
    "encoder.positional_embedding",
    "decoder.positional_embedding",
];

/// `GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR`: added to the ftype of
/// quantized files.
pub fn qnt_version_offset() -> i32 {
    (whisper_rs_sys::GGML_QNT_VERSION * whisper_rs_sys::GGML_QNT_VERSION_FACTOR) as i32
}

impl QuantType {
    pub const ALL: [QuantType; 4] = [Self::Q8_0, Self::Q5_0, Self::Q5_1, Self::Q4_0];

    /// `q8_0`, `q5_0`, … (whisper.cpp's names).
    pub fn name(self) -> &'static str {
        self.ggml_type().name()
    }

    /// The ggml tensor type the quantized weights are stored in.
    pub fn ggml_type(self) -> GgmlType {
        match self {
            Self::Q8_0 => GgmlType::Q8_0,
            Self::Q5_0 => GgmlType::Q5_0,
            Self::Q5_1 => GgmlType::Q5_1,
            Self::Q4_0 => GgmlType::Q4_0,
        }
    }

    /// ggml's `ggml_ftype` for a model mostly in this type.
    pub fn ggml_ftype(self) -> i32 {
        match self {
            Self::Q8_0 => whisper_rs_sys::ggml_ftype_GGML_FTYPE_MOSTLY_Q8_0,
            Self::Q5_0 => whisper_rs_sys::ggml_ftype_GGML_FTYPE_MOSTLY_Q5_0,
            Self::Q5_1 => whisper_rs_sys::ggml_ftype_GGML_FTYPE_MOSTLY_Q5_1,
            Self::Q4_0 => whisper_rs_sys::ggml_ftype_GGML_FTYPE_MOSTLY_Q4_0,
        }
    }

    /// The hparams `ftype` of a model quantized to this type.
    pub fn hparams_ftype(self) -> i32 {
        qnt_version_offset() + self.ggml_ftype()
    }

    /// The type a quantized model's hparams `ftype` names, if any.
    pub fn from_hparams_ftype(ftype: i32) -> Option<Self> {
        let base = ftype % whisper_rs_sys::GGML_QNT_VERSION_FACTOR as i32;
        Self::ALL.into_iter().find(|q| q.ggml_ftype() == base)
    }
}

impl fmt::Display for QuantType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for QuantType {
    type Err = Error;

    fn from_str(s: &str) -> Result<Self> {
        let want = s.trim().to_ascii_lowercase();
        Self::ALL
            .into_iter()
            .find(|q| q.name() == want)
            .ok_or_else(|| {
                Error::Convert(format!(
                    "unknown quantization type '{s}'; expected one of q8_0, q5_0, q5_1, q4_0"
                ))
            })
    }
}

/// whisper.cpp's choice: quantize 2-D tensors except the [`SKIP`] ones.
pub fn should_quantize(name: &str, n_dims: usize) -> bool {
    n_dims == 2 && !SKIP.contains(&name)
}

/// Quantizes rows of `n_per_row` values with ggml's `ggml_quantize_chunk`
/// (the reference quantizers, so the result does not depend on the CPU).
pub fn quantize_rows(qtype: QuantType, src: &[f32], n_per_row: usize) -> Result<Vec<u8>> {
    let t = qtype.ggml_type();
    let row_bytes = t.row_bytes(n_per_row).ok_or_else(|| {
        Error::Convert(format!(
            "cannot quantize rows of {n_per_row} values to {qtype}: not a multiple of its block size {}",
            t.block_size()
        ))
    })?;
    if n_per_row == 0 || !src.len().is_multiple_of(n_per_row) {
        return Err(Error::Convert(format!(
            "cannot quantize {} values as rows of {n_per_row}",
            src.len()
        )));
    }
    // SAFETY: a pure query of ggml's type table.
    if unsafe { whisper_rs_sys::ggml_quantize_requires_imatrix(t.id()) } {
        return Err(Error::Convert(format!(
            "{qtype} needs an importance matrix, which callsift does not compute"
        )));
    }
    let nrows = src.len() / n_per_row;
    let mut dst = vec![0u8; nrows * row_bytes];
    // SAFETY: `src` holds nrows × n_per_row floats; `dst` holds exactly the
    // nrows × row_size bytes ggml writes for that many rows of this type;
    // n_per_row is a whole number of blocks (checked above, ggml would
    // assert otherwise); no importance matrix is passed, which these types
    // do not need (checked above).
    let written = unsafe {
        whisper_rs_sys::ggml_quantize_chunk(
            t.id(),
            src.as_ptr(),
            dst.as_mut_ptr().cast(),
            0,
            nrows as i64,
            n_per_row as i64,
            std::ptr::null(),
        )
    };
    if written != dst.len() {
        return Err(Error::Convert(format!(
            "ggml quantized {written} bytes, expected {}",
            dst.len()
        )));
    }
    Ok(dst)
}

/// Rows of a quantized type back to f32, with ggml's dequantizer.
pub fn dequantize(t: GgmlType, raw: &[u8], row_len: usize) -> Result<Vec<f32>> {
    let row_bytes = t
        .row_bytes(row_len)
        .filter(|&b| b > 0 && raw.len().is_multiple_of(b))
        .ok_or_else(|| {
            Error::Convert(format!(
                "cannot dequantize {} bytes of {t} as rows of {row_len} values",
                raw.len()
            ))
        })?;
    let n = raw.len() / row_bytes * row_len;
    let mut out = vec![0f32; n];
    // SAFETY: ggml returns a pointer into its static type table.
    let traits = unsafe { &*whisper_rs_sys::ggml_get_type_traits(t.id()) };
    let to_float = traits
        .to_float
        .ok_or_else(|| Error::Convert(format!("ggml has no dequantizer for {t}")))?;
    // SAFETY: `raw` holds exactly the blocks of `n` values of type `t`
    // (checked above) and `out` has room for `n` floats.
    unsafe { to_float(raw.as_ptr().cast(), out.as_mut_ptr(), n as i64) };
    Ok(out)
}

/// Quantizes the ggml whisper model `input` (f16 or f32) into `output`.
pub fn quantize_file(input: &Path, output: &Path, qtype: QuantType) -> Result<()> {
    let mut src = GgmlFile::open(input)?;
    let factor = whisper_rs_sys::GGML_QNT_VERSION_FACTOR as i32;
    let base_ftype = src.hparams.ftype % factor;
    if src.hparams.ftype >= factor || !matches!(base_ftype, 0 | 1) {
        return Err(Error::Convert(format!(
            "{}: already quantized (ftype {}); quantize an f16 or f32 model",
            input.display(),
            src.hparams.ftype
        )));
    }
    if let Some(t) = src.tensors.iter().find(|t| t.ttype.is_quantized()) {
        return Err(Error::Convert(format!(
            "{}: tensor {} is already {}; quantize an f16 or f32 model",
            input.display(),
            t.name,
            t.ttype
        )));
    }
    if src.tensors.is_empty() {
        return Err(Error::Convert(format!(
            "{}: model has no tensors",
            input.display()
        )));
    }
    // Refuse before writing anything if a weight cannot be quantized.
    let target = qtype.ggml_type();
    for t in &src.tensors {
        if should_quantize(&t.name, t.ne.len()) && target.row_bytes(t.row_len()).is_none() {
            return Err(Error::Convert(format!(
                "{}: cannot quantize to {qtype}: tensor {} has rows of {} values, not a multiple of the block size {}",
                input.display(),
                t.name,
                t.row_len(),
                target.block_size()
            )));
        }
    }

    let hparams = Hparams {
        ftype: qtype.hparams_ftype(),
        ..src.hparams
    };
    let (tmp, out_file) = crate::atomic::temp_beside(output, crate::atomic::Access::Shared)?;
    let mut w = GgmlWriter::new(
        BufWriter::with_capacity(1 << 20, out_file),
        &hparams,
        &src.filters,
        &src.vocab,
    )?;
    let tensors = src.tensors.clone();
    let (mut before, mut after) = (0u64, 0u64);
    for t in &tensors {
        let quantize = should_quantize(&t.name, t.ne.len());
        let out_type = if quantize {
            target
        } else {
            f16_model_type(&t.name, t.ne.len())
        };
        let start = w.bytes();
        w.begin_tensor(&t.name, &t.shape(), out_type)?;
        // About 1 Mi values per chunk: memory stays a few MiB whatever the
        // model size.
        let chunk = ((1usize << 20) / t.row_len()).max(1);
        let mut row = 0;
        while row < t.n_rows() {
            let rows = row..(row + chunk).min(t.n_rows());
            if quantize {
                let data = src.read_rows_f32(t, rows.clone())?;
                w.write_raw(&quantize_rows(qtype, &data, t.row_len())?)?;
            } else if out_type == t.ttype {
                w.write_raw(&src.read_rows_raw(t, rows.clone())?)?;
            } else {
                w.write_f32(&src.read_rows_f32(t, rows.clone())?)?;
            }
            row = rows.end;
        }
        w.end_tensor()?;
        before += t.nbytes;
        after += w.bytes() - start;
    }
    let out_file = w.finish()?.into_inner().map_err(|e| e.into_error())?;
    out_file.sync_all()?;
    drop(out_file);
    crate::atomic::persist(tmp, output)?;
    tracing::info!(
        input = %input.display(),
        output = %output.display(),
        %qtype,
        tensor_mb = before as f64 / 1e6,
        quantized_mb = after as f64 / 1e6,
        "quantized model"
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::testmodel::{TestModelSpec, write_random_model};

    /// The process umask (read by creating a file with mode 0777).
    #[cfg(unix)]
    fn umask() -> u32 {
        use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("probe");
        std::fs::OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o777)
            .open(&p)
            .unwrap();
        0o777 & !std::fs::metadata(&p).unwrap().permissions().mode()
    }

    #[test]
    fn names_parse_and_print() {
        for q in QuantType::ALL {
            assert_eq!(q.to_string().parse::<QuantType>().unwrap(), q);
        }
        assert_eq!("Q5_1".parse::<QuantType>().unwrap(), QuantType::Q5_1);
        let err = "q3_k".parse::<QuantType>().unwrap_err().to_string();
        assert!(
            err.contains("q3_k") && err.contains("q8_0, q5_0, q5_1, q4_0"),
            "{err}"
        );
    }

    #[test]
    fn hparams_ftype_matches_whisper_cpp() {
        // GGML_QNT_VERSION 2 × 1000 + GGML_FTYPE_MOSTLY_*.
        assert_eq!(QuantType::Q4_0.hparams_ftype(), 2002);
        assert_eq!(QuantType::Q8_0.hparams_ftype(), 2007);
        assert_eq!(QuantType::Q5_0.hparams_ftype(), 2008);
        assert_eq!(QuantType::Q5_1.hparams_ftype(), 2009);
        assert_eq!(QuantType::from_hparams_ftype(2009), Some(QuantType::Q5_1));
        assert_eq!(QuantType::from_hparams_ftype(1), None);
        assert_eq!(
            QuantType::Q8_0.ggml_type().id(),
            whisper_rs_sys::ggml_type_GGML_TYPE_Q8_0
        );
        assert_eq!(
            QuantType::Q5_1.ggml_type().id(),
            whisper_rs_sys::ggml_type_GGML_TYPE_Q5_1
        );
    }

    #[test]
    fn skip_rules() {
        assert!(should_quantize("encoder.blocks.0.attn.query.weight", 2));
        assert!(should_quantize("decoder.token_embedding.weight", 2));
        assert!(!should_quantize("encoder.conv1.bias", 2));
        assert!(!should_quantize("decoder.positional_embedding", 2));
        assert!(!should_quantize("encoder.conv1.weight", 3));
        assert!(!should_quantize("encoder.ln_post.weight", 1));
    }

    #[test]
    fn quantize_round_trip_is_close() {
        let row: Vec<f32> = (0..64).map(|i| ((i as f32) * 0.37).sin()).collect();
        for q in QuantType::ALL {
            let bytes = quantize_rows(q, &row, 64).unwrap();
            assert_eq!(bytes.len(), 2 * q.ggml_type().type_size());
            let back = dequantize(q.ggml_type(), &bytes, 64).unwrap();
            let max_err = row
                .iter()
                .zip(&back)
                .map(|(a, b)| (a - b).abs())
                .fold(0f32, f32::max);
            // A step is amax/127 for q8_0, amax/16 for q5_0 (whose top
            // value clamps to 15 steps), range/31 for q5_1, amax/8 for q4_0.
            let bound = match q {
                QuantType::Q8_0 => 0.005,
                QuantType::Q5_0 => 0.065,
                QuantType::Q5_1 => 0.04,
                QuantType::Q4_0 => 0.13,
            };
            assert!(max_err < bound, "{q}: {max_err}");
        }
        assert!(quantize_rows(QuantType::Q8_0, &row[..48], 48).is_err());
    }

    #[test]
    fn quantized_test_model_has_whisper_cpp_types() {
        let dir = tempfile::tempdir().unwrap();
        let f16 = dir.path().join("ggml-test.bin");
        write_random_model(
            &f16,
            &TestModelSpec {
                multilingual: false,
                seed: 7,
            },
        )
        .unwrap();
        let q = dir.path().join("ggml-test-q5_1.bin");
        quantize_file(&f16, &q, QuantType::Q5_1).unwrap();
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = fs_err::metadata(&q).unwrap().permissions().mode();
            assert_eq!(
                mode & 0o044,
                0o044 & !umask(),
                "{mode:o}: readable like any file"
            );
        }
        // Nothing but the result is left in the directory.
        let names: Vec<_> = fs_err::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names.len(), 2, "{names:?}");

        let mut a = GgmlFile::open(&f16).unwrap();
        let mut b = GgmlFile::open(&q).unwrap();
        assert_eq!(b.hparams.ftype, 2009);
        assert_eq!(b.hparams.n_vocab, a.hparams.n_vocab);
        assert_eq!(b.vocab, a.vocab);
        assert_eq!(b.filters, a.filters);
        assert_eq!(b.tensors.len(), a.tensors.len());
        for (ta, tb) in a.tensors.clone().iter().zip(b.tensors.clone().iter()) {
            assert_eq!(ta.name, tb.name);
            assert_eq!(ta.ne, tb.ne);
            let want = if should_quantize(&ta.name, ta.ne.len()) {
                GgmlType::Q5_1
            } else {
                ta.ttype
            };
            assert_eq!(tb.ttype, want, "{}", ta.name);
            if tb.ttype == ta.ttype {
                assert_eq!(
                    a.read_rows_raw(ta, 0..ta.n_rows()).unwrap(),
                    b.read_rows_raw(tb, 0..tb.n_rows()).unwrap(),
                    "{} copied unchanged",
                    ta.name
                );
            }
        }
        assert_eq!(
            b.tensor("decoder.token_embedding.weight").unwrap().ttype,
            GgmlType::Q5_1
        );
        assert_eq!(
            b.tensor("encoder.conv1.weight").unwrap().ttype,
            GgmlType::F16
        );
        assert_eq!(b.tensor("encoder.conv2.bias").unwrap().ttype, GgmlType::F32);
        assert_eq!(
            b.tensor("encoder.positional_embedding").unwrap().ttype,
            GgmlType::F32
        );
        // Values survive quantization (weights are N(0, 0.02)).
        let wa = a.read_f32("encoder.blocks.0.mlp.0.weight").unwrap();
        let wb = b.read_f32("encoder.blocks.0.mlp.0.weight").unwrap();
        let max_err = wa
            .iter()
            .zip(&wb)
            .map(|(x, y)| (x - y).abs())
            .fold(0f32, f32::max);
        assert!(max_err < 0.01, "{max_err}");
        assert!(std::fs::metadata(&q).unwrap().len() < std::fs::metadata(&f16).unwrap().len());

        // Quantizing twice is refused.
        let err = quantize_file(&q, &dir.path().join("x.bin"), QuantType::Q8_0)
            .unwrap_err()
            .to_string();
        assert!(err.contains("already quantized"), "{err}");
        assert!(!dir.path().join("x.bin").exists());

        // And whisper.cpp loads it.
        let ctx = whisper_rs::WhisperContext::new_with_params(
            q.to_str().unwrap(),
            whisper_rs::WhisperContextParameters::default(),
        );
        assert!(ctx.is_ok(), "whisper.cpp rejected the q5_1 model");
    }
}
