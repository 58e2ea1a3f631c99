//! Conversion of a CTranslate2 (faster-whisper) Whisper model directory to
//! a whisper.cpp ggml model, optionally quantized.
//!
//! The output is what whisper.cpp's `convert-pt-to-ggml.py` would write for
//! the same weights: f16 hparams, librosa's mel filters, the byte-level
//! vocabulary below `<|endoftext|>`, and every tensor under whisper.cpp's
//! name, in PyTorch order, f16 for the weights and f32 for 1-D tensors, the
//! conv biases and the positional embeddings.
//!
//! CTranslate2 → whisper.cpp:
//!
//! | CTranslate2 | whisper.cpp |
//! |---|---|
//! | `encoder/conv{1,2}/{weight,bias}` | `encoder.conv{1,2}.{weight,bias}` (bias as `[n, 1]`) |
//! | `{encoder,decoder}/position_encodings/encodings` | `{encoder,decoder}.positional_embedding` |
//! | `encoder/layer_norm/{gamma,beta}` | `encoder.ln_post.{weight,bias}` |
//! | `decoder/embeddings/weight` (= `decoder/projection/weight`) | `decoder.token_embedding.weight` |
//! | `decoder/layer_norm` | `decoder.ln` |
//! | `…/layer_i/self_attention/linear_0` rows `[0,n)`, `[n,2n)`, `[2n,3n)` | `….blocks.i.attn.{query,key,value}` |
//! | `…/self_attention/linear_1`, `/layer_norm` | `attn.out`, `attn_ln` |
//! | `decoder/layer_i/attention/linear_0` | `cross_attn.query` |
//! | `…/attention/linear_1` rows `[0,n)`, `[n,2n)` | `cross_attn.{key,value}` |
//! | `…/attention/linear_2`, `/layer_norm` | `cross_attn.out`, `cross_attn_ln` |
//! | `…/ffn/linear_0`, `/linear_1`, `/layer_norm` | `mlp.0`, `mlp.2`, `mlp_ln` |
//!
//! The key projections' bias slices are dropped: Whisper has none
//! (CTranslate2 fills zeros when fusing), and whisper.cpp has no tensor for
//! them; even a non-zero key bias would only add the same `q·b` to every
//! logit of a query row, which softmax ignores.
//!
//! Streaming: tensors are copied a chunk of rows at a time (every mapping
//! above is a row range of one CTranslate2 variable), so memory stays a
//! few MiB whatever the model size. The result goes to a temporary file in
//! the destination directory, is fsynced and renamed into place; on any
//! error nothing is left under the final name.

use std::io::BufWriter;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::time::Instant;

use crate::atomic::{Access, persist, temp_beside};
use crate::error::{Error, Result};
use crate::models::ct2::{Ct2Model, WhisperDims};
use crate::models::ggml::{GgmlWriter, Hparams, mel_filters, whisper_tensors};
use crate::models::quantize::{QuantType, quantize_file};

/// How [`import_ct2_dir`] converts.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ImportOptions {
    /// Quantize the converted model (whisper.cpp's quantize rules).
    pub quantize: Option<QuantType>,
}

/// What [`import_ct2_dir`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ImportSummary {
    pub out_path: PathBuf,
    pub n_tensors: usize,
    /// Size of the written file.
    pub bytes: u64,
    pub multilingual: bool,
    pub n_mels: u32,
    pub quantized: Option<QuantType>,
}

/// The hparams of the f16 ggml model for these dimensions.
pub fn hparams_for(d: &WhisperDims) -> Hparams {
    let i = |v: usize| v as i32;
    Hparams {
        n_vocab: i(d.n_vocab),
        n_audio_ctx: i(d.n_audio_ctx),
        n_audio_state: i(d.n_audio_state),
        n_audio_head: i(d.n_audio_head),
        n_audio_layer: i(d.n_audio_layer),
        n_text_ctx: i(d.n_text_ctx),
        n_text_state: i(d.n_text_state),
        n_text_head: i(d.n_text_head),
        n_text_layer: i(d.n_text_layer),
        n_mels: i(d.n_mels),
        ftype: 1,
    }
}

/// The CTranslate2 variable and row range a whisper.cpp tensor comes from;
/// `n` is the model width (fused projections are `n` rows per part).
pub fn ct2_source(name: &str, n: usize) -> Option<(String, Range<usize>)> {
    let all = 0..usize::MAX;
    let whole = |v: &str| Some((v.to_string(), all.clone()));
    match name {
        "encoder.positional_embedding" => return whole("encoder/position_encodings/encodings"),
        "decoder.positional_embedding" => return whole("decoder/position_encodings/encodings"),
        "decoder.token_embedding.weight" => return whole("decoder/embeddings/weight"),
        _ => {}
    }
    let (module, param) = name.rsplit_once('.')?;
    let ln = |p: &str| match param {
        "weight" => Some((format!("{p}/gamma"), all.clone())),
        "bias" => Some((format!("{p}/beta"), all.clone())),
        _ => None,
    };
    match module {
        "encoder.conv1" | "encoder.conv2" => {
            return Some((format!("{}/{param}", module.replace('.', "/")), all));
        }
        "encoder.ln_post" => return ln("encoder/layer_norm"),
        "decoder.ln" => return ln("decoder/layer_norm"),
        _ => {}
    }
    // {side}.blocks.{i}.{rest}
    let (side, rest) = module.split_once(".blocks.")?;
    let (layer, sub) = rest.split_once('.')?;
    let layer: usize = layer.parse().ok()?;
    let p = format!("{side}/layer_{layer}");
    let linear = |v: &str, rows: Range<usize>| {
        let rows = if param == "weight" || param == "bias" {
            rows
        } else {
            return None;
        };
        Some((format!("{p}/{v}/{param}"), rows))
    };
    match sub {
        "attn.query" => linear("self_attention/linear_0", 0..n),
        "attn.key" if param == "weight" => linear("self_attention/linear_0", n..2 * n),
        "attn.value" => linear("self_attention/linear_0", 2 * n..3 * n),
        "attn.out" => linear("self_attention/linear_1", all),
        "attn_ln" => ln(&format!("{p}/self_attention/layer_norm")),
        "cross_attn.query" if side == "decoder" => linear("attention/linear_0", all),
        "cross_attn.key" if side == "decoder" && param == "weight" => {
            linear("attention/linear_1", 0..n)
        }
        "cross_attn.value" if side == "decoder" => linear("attention/linear_1", n..2 * n),
        "cross_attn.out" if side == "decoder" => linear("attention/linear_2", all),
        "cross_attn_ln" if side == "decoder" => ln(&format!("{p}/attention/layer_norm")),
        "mlp.0" => linear("ffn/linear_0", all),
        "mlp.2" => linear("ffn/linear_1", all),
        "mlp_ln" => ln(&format!("{p}/ffn/layer_norm")),
        _ => None,
    }
}

/// Converts the CTranslate2 Whisper model in `dir` to a ggml file at
/// `out_path` (quantized if `opts.quantize` says so).
pub fn import_ct2_dir(dir: &Path, out_path: &Path, opts: &ImportOptions) -> Result<ImportSummary> {
    let started = Instant::now();
    let mut model = Ct2Model::open(dir)?;
    let d = model.dims;
    let hparams = hparams_for(&d);
    let vocab = model.ggml_vocab()?;
    tracing::info!(
        dir = %dir.display(),
        n_vocab = d.n_vocab,
        n_state = d.n_audio_state,
        layers = d.n_audio_layer,
        heads = d.n_audio_head,
        n_mels = d.n_mels,
        "converting CTranslate2 model"
    );

    let (tmp, file) = temp_beside(out_path, Access::Shared)?;
    let mut w = GgmlWriter::new(
        BufWriter::with_capacity(1 << 20, file),
        &hparams,
        &mel_filters(d.n_mels),
        &vocab,
    )?;
    for t in whisper_tensors(&hparams) {
        let (var, rows) = ct2_source(&t.name, d.n_audio_state).ok_or_else(|| {
            Error::Convert(format!("no CTranslate2 source for tensor {}", t.name))
        })?;
        let src = model
            .variable(&var)
            .cloned()
            .ok_or_else(|| Error::Convert(format!("{}: missing variable {var}", dir.display())))?;
        let rows = rows.start..rows.end.min(src.n_rows());
        let want: usize = t.shape.iter().product();
        if rows.len() * src.row_len() != want {
            return Err(Error::Convert(format!(
                "{}: variable {var} (shape {:?}) does not fit tensor {} (shape {:?})",
                dir.display(),
                src.shape,
                t.name,
                t.shape
            )));
        }
        w.begin_tensor(&t.name, &t.shape, t.ttype)?;
        let chunk = ((1usize << 20) / src.row_len().max(1)).max(1);
        let mut r = rows.start;
        while r < rows.end {
            let part = r..(r + chunk).min(rows.end);
            w.write_f32(&model.read_rows(&var, part.clone())?)?;
            r = part.end;
        }
        w.end_tensor()?;
    }
    let n_tensors = w.n_tensors();
    let file = w.finish()?.into_inner().map_err(|e| e.into_error())?;
    file.sync_all()?;
    drop(file);

    match opts.quantize {
        None => persist(tmp, out_path)?,
        // quantize_file writes its own temporary file beside out_path and
        // renames it into place; the f16 intermediate goes when `tmp` drops.
        Some(q) => quantize_file(&tmp, out_path, q)?,
    }
    let bytes = fs_err::metadata(out_path)?.len();
    tracing::info!(
        out = %out_path.display(),
        bytes,
        n_tensors,
        quantized = ?opts.quantize,
        seconds = started.elapsed().as_secs_f64(),
        "converted model"
    );
    Ok(ImportSummary {
        out_path: out_path.to_path_buf(),
        n_tensors,
        bytes,
        multilingual: d.is_multilingual(),
        n_mels: d.n_mels as u32,
        quantized: opts.quantize,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::models::ct2::fixture::{Fixture, FixtureDType, write_fixture};
    use crate::models::ggml::{GgmlFile, GgmlType};

    fn convert(
        f: &Fixture,
        opts: &ImportOptions,
    ) -> (
        tempfile::TempDir,
        ImportSummary,
        GgmlFile,
        crate::models::ct2::fixture::Values,
    ) {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("ct2");
        let values = write_fixture(&src, f);
        let out = tmp.path().join("out").join("ggml-test.bin");
        fs_err::create_dir_all(out.parent().unwrap()).unwrap();
        let summary = import_ct2_dir(&src, &out, opts).unwrap();
        let g = GgmlFile::open(&out).unwrap();
        (tmp, summary, g, values)
    }

    fn close(a: &[f32], b: &[f32], tol: f32) -> bool {
        a.len() == b.len()
            && a.iter()
                .zip(b)
                .all(|(x, y)| (x - y).abs() <= tol * (1.0 + y.abs()))
    }

    fn check_values(f: &Fixture) {
        let (_tmp, summary, mut g, v) = convert(f, &ImportOptions::default());
        let n = f.n_state;
        let h = g.hparams;
        assert_eq!(
            h.n_vocab as usize,
            if f.multilingual { 51_865 } else { 51_864 }
        );
        assert_eq!(
            (h.n_audio_ctx, h.n_text_ctx, h.n_audio_state, h.n_text_state),
            (1500, 448, n as i32, n as i32)
        );
        assert_eq!(
            (h.n_audio_head, h.n_text_head),
            (f.n_heads as i32, f.n_heads as i32)
        );
        assert_eq!(
            (h.n_audio_layer, h.n_text_layer),
            (f.layers as i32, f.layers as i32)
        );
        assert_eq!((h.n_mels, h.ftype), (80, 1));
        assert_eq!(summary.multilingual, f.multilingual);
        assert_eq!(summary.n_mels, 80);
        assert_eq!(summary.bytes, g.file_len);
        assert_eq!(summary.n_tensors, g.tensors.len());
        assert_eq!(g.filters, mel_filters(80));

        // Vocabulary: the regular tokens, decoded to raw bytes.
        assert_eq!(g.vocab.len(), if f.multilingual { 50_257 } else { 50_256 });
        assert_eq!(g.vocab[0], b"!");
        assert_eq!(
            g.vocab[188],
            vec![0u8],
            "byte 0 is token 188 in GPT-2's table"
        );
        assert_eq!(g.vocab[300], b" w300");
        if f.multilingual {
            assert!(g.vocab[50_256].is_empty());
        }

        // Names, shapes, types: exactly whisper.cpp's table, nothing else
        // (no key biases, no second copy of the embedding).
        let expected = whisper_tensors(&h);
        let got: Vec<_> = g
            .tensors
            .iter()
            .map(|t| (t.name.clone(), t.shape(), t.ttype))
            .collect();
        let want: Vec<_> = expected
            .iter()
            .map(|t| (t.name.clone(), t.shape.clone(), t.ttype))
            .collect();
        assert_eq!(got, want);
        assert_eq!(
            g.tensors
                .iter()
                .filter(|t| t.name.contains("token_embedding"))
                .count(),
            1
        );

        // Values. f16 storage rounds to 11 significant bits.
        let f16_tol = 1.0 / 1024.0;
        let src = |name: &str| v.get(name).unwrap_or_else(|| panic!("{name}")).clone();
        let rows = |name: &str, r: Range<usize>, len: usize| {
            src(name)[r.start * len..r.end * len].to_vec()
        };

        for side in ["encoder", "decoder"] {
            for l in 0..f.layers {
                let p = format!("{side}/layer_{l}/self_attention");
                let q = g
                    .read_f32(&format!("{side}.blocks.{l}.attn.query.weight"))
                    .unwrap();
                let k = g
                    .read_f32(&format!("{side}.blocks.{l}.attn.key.weight"))
                    .unwrap();
                let val = g
                    .read_f32(&format!("{side}.blocks.{l}.attn.value.weight"))
                    .unwrap();
                let fused = format!("{p}/linear_0/weight");
                assert!(
                    close(&q, &rows(&fused, 0..n, n), f16_tol),
                    "{side} {l} query"
                );
                assert!(
                    close(&k, &rows(&fused, n..2 * n, n), f16_tol),
                    "{side} {l} key"
                );
                assert!(
                    close(&val, &rows(&fused, 2 * n..3 * n, n), f16_tol),
                    "{side} {l} value"
                );
                let qb = g
                    .read_f32(&format!("{side}.blocks.{l}.attn.query.bias"))
                    .unwrap();
                let vb = g
                    .read_f32(&format!("{side}.blocks.{l}.attn.value.bias"))
                    .unwrap();
                let fb = format!("{p}/linear_0/bias");
                // Biases are f32 in the ggml file: exact when the source is.
                assert_eq!(qb, rows(&fb, 0..n, 1));
                assert_eq!(vb, rows(&fb, 2 * n..3 * n, 1));
                let out = g
                    .read_f32(&format!("{side}.blocks.{l}.attn.out.weight"))
                    .unwrap();
                assert!(close(&out, &src(&format!("{p}/linear_1/weight")), f16_tol));
                let ln = g
                    .read_f32(&format!("{side}.blocks.{l}.attn_ln.weight"))
                    .unwrap();
                assert_eq!(ln, src(&format!("{p}/layer_norm/gamma")));
                let mlp = g
                    .read_f32(&format!("{side}.blocks.{l}.mlp.2.weight"))
                    .unwrap();
                assert!(close(
                    &mlp,
                    &src(&format!("{side}/layer_{l}/ffn/linear_1/weight")),
                    f16_tol
                ));
                let mlp_ln = g
                    .read_f32(&format!("{side}.blocks.{l}.mlp_ln.bias"))
                    .unwrap();
                assert_eq!(
                    mlp_ln,
                    src(&format!("{side}/layer_{l}/ffn/layer_norm/beta"))
                );
            }
        }
        for l in 0..f.layers {
            let p = format!("decoder/layer_{l}/attention");
            let ck = g
                .read_f32(&format!("decoder.blocks.{l}.cross_attn.key.weight"))
                .unwrap();
            let cv = g
                .read_f32(&format!("decoder.blocks.{l}.cross_attn.value.weight"))
                .unwrap();
            let cvb = g
                .read_f32(&format!("decoder.blocks.{l}.cross_attn.value.bias"))
                .unwrap();
            let cq = g
                .read_f32(&format!("decoder.blocks.{l}.cross_attn.query.weight"))
                .unwrap();
            let co = g
                .read_f32(&format!("decoder.blocks.{l}.cross_attn.out.bias"))
                .unwrap();
            assert!(close(
                &ck,
                &rows(&format!("{p}/linear_1/weight"), 0..n, n),
                f16_tol
            ));
            assert!(close(
                &cv,
                &rows(&format!("{p}/linear_1/weight"), n..2 * n, n),
                f16_tol
            ));
            assert_eq!(cvb, rows(&format!("{p}/linear_1/bias"), n..2 * n, 1));
            assert!(close(&cq, &src(&format!("{p}/linear_0/weight")), f16_tol));
            assert_eq!(co, src(&format!("{p}/linear_2/bias")));
            let cln = g
                .read_f32(&format!("decoder.blocks.{l}.cross_attn_ln.weight"))
                .unwrap();
            assert_eq!(cln, src(&format!("{p}/layer_norm/gamma")));
        }
        let conv = g.read_f32("encoder.conv1.weight").unwrap();
        assert!(close(&conv, &src("encoder/conv1/weight"), f16_tol));
        assert_eq!(g.tensor("encoder.conv2.bias").unwrap().ne, vec![1, n]);
        assert_eq!(
            g.read_f32("encoder.conv2.bias").unwrap(),
            src("encoder/conv2/bias")
        );
        assert_eq!(
            g.read_f32("encoder.positional_embedding").unwrap(),
            src("encoder/position_encodings/encodings")
        );
        assert_eq!(
            g.read_f32("decoder.ln.bias").unwrap(),
            src("decoder/layer_norm/beta")
        );
        assert_eq!(
            g.read_f32("encoder.ln_post.weight").unwrap(),
            src("encoder/layer_norm/gamma")
        );
        let emb = g.read_f32("decoder.token_embedding.weight").unwrap();
        assert!(close(&emb, &src("decoder/embeddings/weight"), f16_tol));
    }

    #[test]
    fn converts_f32_model() {
        check_values(&Fixture {
            dtype: FixtureDType::F32,
            ..Fixture::default()
        });
    }

    #[test]
    fn converts_f16_multilingual_model_bit_exactly() {
        let f = Fixture {
            dtype: FixtureDType::F16,
            multilingual: true,
            layers: 2,
            n_heads: 2,
            ..Fixture::default()
        };
        check_values(&f);
        // From f16 sources the f16 weights are copied bit for bit.
        let (_tmp, _s, mut g, v) = convert(&f, &ImportOptions::default());
        let t = g
            .tensor("decoder.blocks.1.attn.key.weight")
            .unwrap()
            .clone();
        let raw = g.read_rows_raw(&t, 0..t.n_rows()).unwrap();
        let mut back = Vec::new();
        crate::models::ggml::f16_bytes_to_f32(&raw, &mut back);
        let n = f.n_state;
        assert_eq!(
            back,
            v["decoder/layer_1/self_attention/linear_0/weight"][n * n..2 * n * n]
        );
    }

    #[test]
    fn converts_int8_model_with_scales() {
        check_values(&Fixture {
            dtype: FixtureDType::Int8,
            ..Fixture::default()
        });
    }

    #[test]
    fn converted_model_loads_in_whisper_cpp_and_quantizes() {
        let f = Fixture {
            dtype: FixtureDType::Int8,
            multilingual: true,
            ..Fixture::default()
        };
        let (tmp, summary, _g, _v) = convert(&f, &ImportOptions::default());
        let ctx = whisper_rs::WhisperContext::new_with_params(
            summary.out_path.to_str().unwrap(),
            whisper_rs::WhisperContextParameters::default(),
        )
        .expect("whisper.cpp loads the converted model");
        assert!(ctx.is_multilingual());
        assert_eq!(ctx.n_vocab(), 51_865);
        assert_eq!(ctx.token_eot(), 50_257);
        drop(ctx);

        let out = tmp.path().join("out").join("ggml-test-q8_0.bin");
        let s = import_ct2_dir(
            &tmp.path().join("ct2"),
            &out,
            &ImportOptions {
                quantize: Some(QuantType::Q8_0),
            },
        )
        .unwrap();
        assert_eq!(s.quantized, Some(QuantType::Q8_0));
        assert!(s.bytes < summary.bytes);
        let g = GgmlFile::open(&out).unwrap();
        assert_eq!(g.hparams.ftype, 2007);
        assert_eq!(
            g.tensor("decoder.token_embedding.weight").unwrap().ttype,
            GgmlType::Q8_0
        );
        assert_eq!(
            g.tensor("encoder.conv1.weight").unwrap().ttype,
            GgmlType::F16
        );
        // Only the two finished models are in the output directory: no
        // temporary files left behind.
        let mut names: Vec<_> = fs_err::read_dir(tmp.path().join("out"))
            .unwrap()
            .map(|e| e.unwrap().file_name().into_string().unwrap())
            .collect();
        names.sort();
        assert_eq!(names, ["ggml-test-q8_0.bin", "ggml-test.bin"]);
        whisper_rs::WhisperContext::new_with_params(
            out.to_str().unwrap(),
            whisper_rs::WhisperContextParameters::default(),
        )
        .expect("whisper.cpp loads the q8_0 model");
    }

    /// Converts after `break_it` damages the fixture; returns the error.
    fn convert_err(f: &Fixture, break_it: impl FnOnce(&Path)) -> String {
        let tmp = tempfile::tempdir().unwrap();
        let src = tmp.path().join("ct2");
        write_fixture(&src, f);
        break_it(&src);
        let out = tmp.path().join("ggml.bin");
        let err = import_ct2_dir(&src, &out, &ImportOptions::default())
            .unwrap_err()
            .to_string();
        assert!(!out.exists());
        // No temporary file left either.
        let left: Vec<_> = fs_err::read_dir(tmp.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left, ["ct2"], "{left:?}");
        err
    }

    #[test]
    fn truncated_model_bin_is_reported() {
        let err = convert_err(&Fixture::default(), |d| {
            let p = d.join("model.bin");
            let len = fs_err::metadata(&p).unwrap().len();
            let f = fs_err::OpenOptions::new().write(true).open(&p).unwrap();
            f.set_len(len / 2).unwrap();
        });
        assert!(
            err.contains("model.bin") && err.contains("truncated"),
            "{err}"
        );
    }

    #[test]
    fn not_a_model_is_reported() {
        let err = convert_err(&Fixture::default(), |d| {
            fs_err::remove_file(d.join("model.bin")).unwrap();
        });
        assert!(
            err.contains("not a CTranslate2 Whisper model (no model.bin)"),
            "{err}"
        );

        let err = convert_err(&Fixture::default(), |d| {
            fs_err::write(d.join("model.bin"), b"hello, this is not a model").unwrap();
        });
        assert!(err.contains("not a CTranslate2 model"), "{err}");

        let err = convert_err(&Fixture::default(), |d| {
            // Same layout, another spec name.
            let p = d.join("model.bin");
            let mut b = fs_err::read(&p).unwrap();
            let at = b.windows(11).position(|w| w == b"WhisperSpec").unwrap();
            b[at..at + 11].copy_from_slice(b"MarianSpec_");
            fs_err::write(&p, b).unwrap();
        });
        assert!(
            err.contains("not a Whisper model") && err.contains("MarianSpec_"),
            "{err}"
        );

        let err = convert_err(&Fixture::default(), |d| {
            // Rename a variable so an expected one is missing.
            let p = d.join("model.bin");
            let mut b = fs_err::read(&p).unwrap();
            let name = b"encoder/layer_0/ffn/linear_1/bias";
            let at = b.windows(name.len()).position(|w| w == name).unwrap();
            b[at + name.len() - 4..at + name.len()].copy_from_slice(b"bjas");
            fs_err::write(&p, b).unwrap();
        });
        assert!(
            err.contains("missing variable encoder/layer_0/ffn/linear_1/bias"),
            "{err}"
        );
    }

    #[test]
    fn unsupported_dtype_is_reported() {
        let f = Fixture {
            dtype: FixtureDType::Int16,
            ..Fixture::default()
        };
        let err = convert_err(&f, |_| {});
        assert!(err.contains("unsupported dtype int16"), "{err}");
        assert!(
            err.contains("supported: float32, float16, bfloat16, int8 with scales"),
            "{err}"
        );
    }

    #[test]
    fn mismatched_tokenizer_is_reported() {
        // Multilingual vocabulary files with an English-only model.
        let err = convert_err(&Fixture::default(), |d| {
            let other = tempfile::tempdir().unwrap();
            write_fixture(
                other.path(),
                &Fixture {
                    multilingual: true,
                    ..Fixture::default()
                },
            );
            for f in ["vocabulary.txt", "tokenizer.json"] {
                fs_err::copy(other.path().join(f), d.join(f)).unwrap();
            }
        });
        assert!(
            err.contains("vocabulary.txt: tokenizer does not match the model"),
            "{err}"
        );
        assert!(
            err.contains("51865 tokens but the model's token embedding has 51864 rows"),
            "{err}"
        );

        // A special token missing from tokenizer.json.
        let err = convert_err(&Fixture::default(), |d| {
            let p = d.join("tokenizer.json");
            let s = fs_err::read_to_string(&p).unwrap();
            fs_err::write(&p, s.replace("<|transcribe|>", "<|transcrib|>")).unwrap();
        });
        assert!(
            err.contains("tokenizer.json: tokenizer does not match the model"),
            "{err}"
        );

        // A vocabulary with a special token out of place.
        let err = convert_err(&Fixture::default(), |d| {
            let p = d.join("vocabulary.txt");
            let s = fs_err::read_to_string(&p).unwrap();
            fs_err::write(&p, s.replace("<|notimestamps|>\n", "<|notimestamp|>\n")).unwrap();
        });
        assert!(
            err.contains("expected <|notimestamps|> at id 50362"),
            "{err}"
        );
    }

    #[test]
    fn source_table_covers_every_tensor() {
        let h = Hparams {
            n_vocab: 51_865,
            n_audio_ctx: 1500,
            n_audio_state: 512,
            n_audio_head: 8,
            n_audio_layer: 2,
            n_text_ctx: 448,
            n_text_state: 512,
            n_text_head: 8,
            n_text_layer: 2,
            n_mels: 80,
            ftype: 1,
        };
        let mut used = std::collections::HashSet::new();
        for t in whisper_tensors(&h) {
            let (v, r) = ct2_source(&t.name, 512).unwrap_or_else(|| panic!("{}", t.name));
            used.insert((v, r.start));
        }
        assert_eq!(
            ct2_source("decoder.blocks.1.cross_attn.value.bias", 512),
            Some(("decoder/layer_1/attention/linear_1/bias".into(), 512..1024))
        );
        assert_eq!(
            ct2_source("encoder.blocks.0.attn.key.weight", 512),
            Some((
                "encoder/layer_0/self_attention/linear_0/weight".into(),
                512..1024
            ))
        );
        assert_eq!(ct2_source("encoder.blocks.0.attn.key.bias", 512), None);
        assert_eq!(
            ct2_source("encoder.blocks.0.cross_attn.query.weight", 512),
            None
        );
        // Every tensor maps to a distinct (variable, first row).
        assert_eq!(used.len(), whisper_tensors(&h).len());
    }
}
