//! whisper.cpp's ggml model file: a streaming writer, a reader good enough
//! to walk and re-read tensors, and the pieces of the file that do not come
//! from the weights (mel filter bank, byte-level vocabulary).
//!
//! The layout is exactly what whisper.cpp's `models/convert-pt-to-ggml.py`
//! writes and `whisper_model_load` (src/whisper.cpp) reads, all little-endian:
//!
//! ```text
//! u32  magic 0x67676d6c ("ggml")
//! i32  n_vocab n_audio_ctx n_audio_state n_audio_head n_audio_layer
//!      n_text_ctx n_text_state n_text_head n_text_layer n_mels ftype
//! i32  n_mel, i32 n_fft, f32 × n_mel·n_fft      mel filter bank
//! i32  token count, then per token: i32 len, len raw bytes
//! then, until end of file, per tensor:
//! i32  n_dims, i32 name length, i32 type (0 f32, 1 f16, else a ggml type id)
//! i32  × n_dims: dims, innermost first (PyTorch shape reversed)
//!      name bytes, data (no padding, no alignment)
//! ```
//!
//! The hparams `ftype` is 1 for the f16 files the converter writes; a
//! quantized file stores `GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR +
//! ggml_ftype` there (see [`crate::models::quantize`]).
//!
//! whisper.cpp decides each tensor's in-memory type from the hparams alone
//! (2-D weights in the model's weight type, conv kernels f16, everything else
//! f32) and only checks the byte size of what the file holds, so a file must
//! store every tensor in exactly the type [`whisper_tensors`] lists or it
//! will not load.

use std::collections::HashMap;
use std::io::{BufReader, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::models::{Counting, bad};

/// `"ggml"` read as a little-endian u32; the first four bytes of the file.
pub const GGML_FILE_MAGIC: u32 = 0x6767_6d6c;

/// Whisper's audio sample rate.
pub const SAMPLE_RATE: u32 = 16_000;

/// Whisper's FFT size (25 ms at 16 kHz); the filter bank has `N_FFT / 2 + 1`
/// columns.
pub const N_FFT: usize = 400;

/// The first vocabulary size of a multilingual model; whisper.cpp's
/// `is_multilingual()` is `n_vocab >= 51865`.
pub const MULTILINGUAL_N_VOCAB: usize = 51_865;

/// Tensor storage types a whisper ggml file can hold. The discriminants are
/// ggml's `ggml_type` ids, which is also what the file's per-tensor type
/// field holds (0 and 1 being f32 and f16).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[allow(non_camel_case_types)]
pub enum GgmlType {
    F32,
    F16,
    Q4_0,
    Q4_1,
    Q5_0,
    Q5_1,
    Q8_0,
}

impl GgmlType {
    /// Every type this module knows.
    pub const ALL: [GgmlType; 7] = [
        Self::F32,
        Self::F16,
        Self::Q4_0,
        Self::Q4_1,
        Self::Q5_0,
        Self::Q5_1,
        Self::Q8_0,
    ];

    /// ggml's `ggml_type` id.
    pub fn id(self) -> u32 {
        match self {
            Self::F32 => 0,
            Self::F16 => 1,
            Self::Q4_0 => 2,
            Self::Q4_1 => 3,
            Self::Q5_0 => 6,
            Self::Q5_1 => 7,
            Self::Q8_0 => 8,
        }
    }

    pub fn from_id(id: u32) -> Option<Self> {
        Self::ALL.into_iter().find(|t| t.id() == id)
    }

    /// ggml's name for the type (`ggml_type_name`).
    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "f32",
            Self::F16 => "f16",
            Self::Q4_0 => "q4_0",
            Self::Q4_1 => "q4_1",
            Self::Q5_0 => "q5_0",
            Self::Q5_1 => "q5_1",
            Self::Q8_0 => "q8_0",
        }
    }

    /// Values per block (`ggml_blck_size`): 1 for floats, 32 for the
    /// classic quantizations.
    pub fn block_size(self) -> usize {
        match self {
            Self::F32 | Self::F16 => 1,
            _ => 32,
        }
    }

    /// Bytes per block (`ggml_type_size`), from ggml-common.h's block
    /// structs: an f16 scale (and an f16 min for the `_1` kinds), the high
    /// bits for q5, then the packed values.
    pub fn type_size(self) -> usize {
        match self {
            Self::F32 => 4,
            Self::F16 => 2,
            Self::Q4_0 => 2 + 16,
            Self::Q4_1 => 2 + 2 + 16,
            Self::Q5_0 => 2 + 4 + 16,
            Self::Q5_1 => 2 + 2 + 4 + 16,
            Self::Q8_0 => 2 + 32,
        }
    }

    pub fn is_quantized(self) -> bool {
        !matches!(self, Self::F32 | Self::F16)
    }

    /// Bytes of a row of `n` values, or `None` when `n` is not a whole
    /// number of blocks (ggml cannot store such a row in this type).
    pub fn row_bytes(self, n: usize) -> Option<usize> {
        n.is_multiple_of(self.block_size())
            .then(|| n / self.block_size() * self.type_size())
    }
}

impl std::fmt::Display for GgmlType {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

/// The eleven i32 after the magic, in file order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Hparams {
    pub n_vocab: i32,
    pub n_audio_ctx: i32,
    pub n_audio_state: i32,
    pub n_audio_head: i32,
    pub n_audio_layer: i32,
    pub n_text_ctx: i32,
    pub n_text_state: i32,
    pub n_text_head: i32,
    pub n_text_layer: i32,
    pub n_mels: i32,
    /// 0 all f32, 1 mostly f16; quantized files add
    /// `GGML_QNT_VERSION * GGML_QNT_VERSION_FACTOR` to a `ggml_ftype`.
    pub ftype: i32,
}

impl Hparams {
    /// The fields in file order.
    pub fn to_array(&self) -> [i32; 11] {
        [
            self.n_vocab,
            self.n_audio_ctx,
            self.n_audio_state,
            self.n_audio_head,
            self.n_audio_layer,
            self.n_text_ctx,
            self.n_text_state,
            self.n_text_head,
            self.n_text_layer,
            self.n_mels,
            self.ftype,
        ]
    }

    pub fn from_array(a: [i32; 11]) -> Self {
        Self {
            n_vocab: a[0],
            n_audio_ctx: a[1],
            n_audio_state: a[2],
            n_audio_head: a[3],
            n_audio_layer: a[4],
            n_text_ctx: a[5],
            n_text_state: a[6],
            n_text_head: a[7],
            n_text_layer: a[8],
            n_mels: a[9],
            ftype: a[10],
        }
    }

    /// whisper.cpp's own test (`n_vocab >= 51865`).
    pub fn is_multilingual(&self) -> bool {
        self.n_vocab as usize >= MULTILINGUAL_N_VOCAB
    }

    /// Number of regular (byte-level BPE) tokens the file's vocabulary
    /// holds: everything below `<|endoftext|>`, which is 50256 for the
    /// English-only models and 50257 for the multilingual ones (whose token
    /// 50256 is an empty string). This is what convert-pt-to-ggml.py writes;
    /// whisper.cpp names the special tokens above it itself.
    pub fn n_regular_tokens(&self) -> usize {
        50_256 + usize::from(self.is_multilingual())
    }
}

// ---------------------------------------------------------------------------
// Mel filter bank

/// A mel filter bank, row-major `n_mel × n_fft` (n_fft here is the number
/// of FFT bins, `N_FFT / 2 + 1`, as whisper.cpp names it).
#[derive(Debug, Clone, PartialEq)]
pub struct MelFilters {
    pub n_mel: usize,
    pub n_fft: usize,
    pub data: Vec<f32>,
}

/// librosa's `filters.mel(sr=16000, n_fft=400, n_mels=n_mels)`: Slaney mel
/// scale, Slaney (area) normalisation, float32 — the matrices OpenAI ships
/// as `whisper/assets/mel_filters.npz` and convert-pt-to-ggml.py copies into
/// every ggml file. whisper.cpp computes its log-mel spectrogram with the
/// filters stored in the model, so they have to be these.
///
/// The arithmetic follows librosa step by step (f64, each row rounded to
/// f32 before the f32 array is scaled in place by the f64 normalisation),
/// so the result is bit-identical to librosa 0.11 on this machine.
pub fn mel_filters(n_mels: usize) -> MelFilters {
    let n_bins = N_FFT / 2 + 1;
    let sr = f64::from(SAMPLE_RATE);
    // fft_frequencies: linspace(0, sr/2, n_bins)
    let fftfreqs: Vec<f64> = (0..n_bins)
        .map(|i| linspace_at(0.0, sr / 2.0, n_bins, i))
        .collect();
    // mel_frequencies(n_mels + 2, fmin=0, fmax=sr/2, htk=False)
    let (min_mel, max_mel) = (hz_to_mel_slaney(0.0), hz_to_mel_slaney(sr / 2.0));
    let mel_f: Vec<f64> = (0..n_mels + 2)
        .map(|i| mel_to_hz_slaney(linspace_at(min_mel, max_mel, n_mels + 2, i)))
        .collect();
    let fdiff: Vec<f64> = mel_f.windows(2).map(|w| w[1] - w[0]).collect();

    let mut data = vec![0f32; n_mels * n_bins];
    for i in 0..n_mels {
        // Slaney normalisation: each triangle has unit area in Hz.
        let enorm = 2.0 / (mel_f[i + 2] - mel_f[i]);
        for (j, &freq) in fftfreqs.iter().enumerate() {
            let lower = -(mel_f[i] - freq) / fdiff[i];
            let upper = (mel_f[i + 2] - freq) / fdiff[i + 1];
            // numpy's minimum/maximum, including which zero they keep
            // (librosa's first weight is -0.0).
            let m = if lower <= upper { lower } else { upper };
            let w = if m >= 0.0 { m } else { 0.0 };
            let w32 = w as f32;
            data[i * n_bins + j] = (f64::from(w32) * enorm) as f32;
        }
    }
    MelFilters {
        n_mel: n_mels,
        n_fft: n_bins,
        data,
    }
}

/// `np.linspace(start, stop, num)[i]`, computed the way numpy does it
/// (`start + i * step`, the last point exactly `stop`).
fn linspace_at(start: f64, stop: f64, num: usize, i: usize) -> f64 {
    if i == num - 1 {
        return stop;
    }
    let step = (stop - start) / (num - 1) as f64;
    start + i as f64 * step
}

const SLANEY_F_SP: f64 = 200.0 / 3.0;
const SLANEY_MIN_LOG_HZ: f64 = 1000.0;
const SLANEY_MIN_LOG_MEL: f64 = SLANEY_MIN_LOG_HZ / SLANEY_F_SP;

fn slaney_logstep() -> f64 {
    6.4f64.ln() / 27.0
}

/// librosa's `hz_to_mel(htk=False)`: linear below 1 kHz, logarithmic above.
fn hz_to_mel_slaney(hz: f64) -> f64 {
    if hz >= SLANEY_MIN_LOG_HZ {
        SLANEY_MIN_LOG_MEL + (hz / SLANEY_MIN_LOG_HZ).ln() / slaney_logstep()
    } else {
        hz / SLANEY_F_SP
    }
}

/// librosa's `mel_to_hz(htk=False)`.
fn mel_to_hz_slaney(mel: f64) -> f64 {
    if mel >= SLANEY_MIN_LOG_MEL {
        SLANEY_MIN_LOG_HZ * (slaney_logstep() * (mel - SLANEY_MIN_LOG_MEL)).exp()
    } else {
        SLANEY_F_SP * mel
    }
}

// ---------------------------------------------------------------------------
// Byte-level BPE vocabulary

/// GPT-2's `bytes_to_unicode()`: the printable character standing for each
/// byte in byte-level BPE token strings (printable Latin-1 bytes stand for
/// themselves, the others are shifted to U+0100 and up).
pub fn bytes_to_unicode() -> [char; 256] {
    let mut table = ['\0'; 256];
    let mut n = 0u32;
    for b in 0..=255u8 {
        let printable = matches!(b, b'!'..=b'~' | 0xA1..=0xAC | 0xAE..=0xFF);
        table[usize::from(b)] = if printable {
            char::from(b)
        } else {
            let c = char::from_u32(256 + n).expect("U+0100..U+0143 are chars");
            n += 1;
            c
        };
    }
    table
}

/// The bytes in the order of GPT-2's (and Whisper's) first 256 token ids,
/// one single-byte token each: the printable ones first, then the rest.
/// whisper.cpp looks some of them up by text (`" "` to suppress blanks), so
/// even a made-up vocabulary needs them.
pub fn gpt2_byte_order() -> Vec<u8> {
    let mut order: Vec<u8> = (b'!'..=b'~')
        .chain(0xA1..=0xAC)
        .chain(0xAE..=0xFF)
        .collect();
    let rest: Vec<u8> = (0..=255u8).filter(|b| !order.contains(b)).collect();
    order.extend(rest);
    order
}

/// The inverse of [`bytes_to_unicode`].
pub fn byte_decoder() -> HashMap<char, u8> {
    bytes_to_unicode()
        .iter()
        .enumerate()
        .map(|(b, &c)| (c, b as u8))
        .collect()
}

/// A byte-level BPE token string (`Ġthe`) as the raw bytes it stands for
/// (` the`), which is what the ggml vocabulary stores; `None` if it holds a
/// character that no byte maps to (not a byte-level token).
pub fn decode_bpe_token(decoder: &HashMap<char, u8>, token: &str) -> Option<Vec<u8>> {
    token.chars().map(|c| decoder.get(&c).copied()).collect()
}

// ---------------------------------------------------------------------------
// The tensors whisper.cpp expects

/// One tensor of a whisper ggml file: its name, PyTorch shape (outermost
/// first) and the type the f16 converter stores it in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorSpec {
    pub name: String,
    pub shape: Vec<usize>,
    pub ttype: GgmlType,
}

/// The type convert-pt-to-ggml.py stores a tensor in for an f16 model: f32
/// for 1-D tensors, the conv biases and the positional embeddings (ggml
/// adds and copies them in f32), f16 for everything else. These are also
/// exactly the types whisper.cpp allocates for an f16 model.
pub fn f16_model_type(name: &str, n_dims: usize) -> GgmlType {
    let keep_f32 = n_dims < 2
        || matches!(
            name,
            "encoder.conv1.bias"
                | "encoder.conv2.bias"
                | "encoder.positional_embedding"
                | "decoder.positional_embedding"
        );
    if keep_f32 {
        GgmlType::F32
    } else {
        GgmlType::F16
    }
}

/// Every tensor of an f16 whisper model with these hparams, in the order
/// convert-pt-to-ggml.py writes them (the PyTorch `state_dict` order:
/// a module's own parameters and buffers, then its children in definition
/// order). whisper.cpp does not care about the order, but following it
/// keeps our files comparable to the published ones.
///
/// Conv biases are `[n, 1]`: the python reshapes them so that ggml can
/// broadcast them over time.
pub fn whisper_tensors(h: &Hparams) -> Vec<TensorSpec> {
    let a = h.n_audio_state as usize;
    let t = h.n_text_state as usize;
    let mut out = Vec::new();
    let mut push = |name: String, shape: Vec<usize>| {
        let ttype = f16_model_type(&name, shape.len());
        out.push(TensorSpec { name, shape, ttype });
    };
    fn attention(push: &mut dyn FnMut(String, Vec<usize>), p: &str, n: usize) {
        push(format!("{p}.query.weight"), vec![n, n]);
        push(format!("{p}.query.bias"), vec![n]);
        // Whisper's key projection has no bias.
        push(format!("{p}.key.weight"), vec![n, n]);
        push(format!("{p}.value.weight"), vec![n, n]);
        push(format!("{p}.value.bias"), vec![n]);
        push(format!("{p}.out.weight"), vec![n, n]);
        push(format!("{p}.out.bias"), vec![n]);
    }
    fn layer_norm(push: &mut dyn FnMut(String, Vec<usize>), p: &str, n: usize) {
        push(format!("{p}.weight"), vec![n]);
        push(format!("{p}.bias"), vec![n]);
    }
    fn mlp(push: &mut dyn FnMut(String, Vec<usize>), p: &str, n: usize) {
        push(format!("{p}.mlp.0.weight"), vec![4 * n, n]);
        push(format!("{p}.mlp.0.bias"), vec![4 * n]);
        push(format!("{p}.mlp.2.weight"), vec![n, 4 * n]);
        push(format!("{p}.mlp.2.bias"), vec![n]);
        layer_norm(push, &format!("{p}.mlp_ln"), n);
    }

    push(
        "encoder.positional_embedding".into(),
        vec![h.n_audio_ctx as usize, a],
    );
    push("encoder.conv1.weight".into(), vec![a, h.n_mels as usize, 3]);
    push("encoder.conv1.bias".into(), vec![a, 1]);
    push("encoder.conv2.weight".into(), vec![a, a, 3]);
    push("encoder.conv2.bias".into(), vec![a, 1]);
    for i in 0..h.n_audio_layer {
        let p = format!("encoder.blocks.{i}");
        attention(&mut push, &format!("{p}.attn"), a);
        layer_norm(&mut push, &format!("{p}.attn_ln"), a);
        mlp(&mut push, &p, a);
    }
    layer_norm(&mut push, "encoder.ln_post", a);

    push(
        "decoder.positional_embedding".into(),
        vec![h.n_text_ctx as usize, t],
    );
    push(
        "decoder.token_embedding.weight".into(),
        vec![h.n_vocab as usize, t],
    );
    for i in 0..h.n_text_layer {
        let p = format!("decoder.blocks.{i}");
        attention(&mut push, &format!("{p}.attn"), t);
        layer_norm(&mut push, &format!("{p}.attn_ln"), t);
        attention(&mut push, &format!("{p}.cross_attn"), t);
        layer_norm(&mut push, &format!("{p}.cross_attn_ln"), t);
        mlp(&mut push, &p, t);
    }
    layer_norm(&mut push, "decoder.ln", t);
    out
}

// ---------------------------------------------------------------------------
// f16 / f32 rows

/// Appends `src` as little-endian IEEE half floats (round to nearest even,
/// like numpy's `astype(float16)`), using ggml's own conversion.
pub fn f32_to_f16_bytes(src: &[f32], dst: &mut Vec<u8>) {
    let mut halves = vec![0u16; src.len()];
    // SAFETY: both slices hold src.len() elements; the function only reads
    // `n` floats and writes `n` halves.
    unsafe {
        whisper_rs_sys::ggml_fp32_to_fp16_row(src.as_ptr(), halves.as_mut_ptr(), src.len() as i64)
    };
    dst.reserve(halves.len() * 2);
    for h in halves {
        dst.extend_from_slice(&h.to_le_bytes());
    }
}

/// Appends little-endian half floats (`src.len()` even) as f32.
pub fn f16_bytes_to_f32(src: &[u8], dst: &mut Vec<f32>) {
    let halves: Vec<u16> = src
        .chunks_exact(2)
        .map(|b| u16::from_le_bytes([b[0], b[1]]))
        .collect();
    let start = dst.len();
    dst.resize(start + halves.len(), 0.0);
    // SAFETY: `halves` and the new tail of `dst` both hold halves.len()
    // elements.
    unsafe {
        whisper_rs_sys::ggml_fp16_to_fp32_row(
            halves.as_ptr(),
            dst[start..].as_mut_ptr(),
            halves.len() as i64,
        )
    };
}

/// Appends little-endian f32 values.
pub fn f32_le_bytes(src: &[f32], dst: &mut Vec<u8>) {
    dst.reserve(src.len() * 4);
    for v in src {
        dst.extend_from_slice(&v.to_le_bytes());
    }
}

// ---------------------------------------------------------------------------
// Writer

struct OpenTensor {
    name: String,
    ttype: GgmlType,
    expected: u64,
    written: u64,
}

/// Writes a whisper ggml file front to back, one tensor (or part of one) at
/// a time, so no more than the caller's current chunk is ever in memory.
pub struct GgmlWriter<W: Write> {
    out: W,
    bytes: u64,
    n_tensors: usize,
    open: Option<OpenTensor>,
    scratch: Vec<u8>,
}

impl<W: Write> GgmlWriter<W> {
    /// Writes the magic, hparams, mel filters and vocabulary.
    pub fn new(out: W, hparams: &Hparams, filters: &MelFilters, vocab: &[Vec<u8>]) -> Result<Self> {
        if filters.data.len() != filters.n_mel * filters.n_fft {
            return Err(Error::Convert(format!(
                "ggml writer: mel filter bank has {} values, expected {} × {}",
                filters.data.len(),
                filters.n_mel,
                filters.n_fft
            )));
        }
        let mut w = Self {
            out,
            bytes: 0,
            n_tensors: 0,
            open: None,
            scratch: Vec::new(),
        };
        w.put(&GGML_FILE_MAGIC.to_le_bytes())?;
        for v in hparams.to_array() {
            w.put_i32(v)?;
        }
        w.put_i32(filters.n_mel as i32)?;
        w.put_i32(filters.n_fft as i32)?;
        let mut buf = Vec::with_capacity(filters.data.len() * 4);
        f32_le_bytes(&filters.data, &mut buf);
        w.put(&buf)?;
        w.put_i32(vocab.len() as i32)?;
        for token in vocab {
            w.put_i32(token.len() as i32)?;
            w.put(token)?;
        }
        Ok(w)
    }

    fn put(&mut self, b: &[u8]) -> Result<()> {
        self.out.write_all(b)?;
        self.bytes += b.len() as u64;
        Ok(())
    }

    fn put_i32(&mut self, v: i32) -> Result<()> {
        self.put(&v.to_le_bytes())
    }

    /// Starts a tensor of PyTorch shape `shape` (outermost first) stored as
    /// `ttype`; its data follows through [`Self::write_f32`] or
    /// [`Self::write_raw`] and it ends with [`Self::end_tensor`].
    pub fn begin_tensor(&mut self, name: &str, shape: &[usize], ttype: GgmlType) -> Result<()> {
        if let Some(t) = &self.open {
            return Err(Error::Convert(format!(
                "ggml writer: tensor {} not finished before {name}",
                t.name
            )));
        }
        if shape.is_empty() || shape.len() > 4 {
            return Err(Error::Convert(format!(
                "ggml writer: tensor {name} has {} dimensions (1 to 4 allowed)",
                shape.len()
            )));
        }
        let row = *shape.last().expect("non-empty");
        let rows: usize = shape[..shape.len() - 1].iter().product();
        let Some(row_bytes) = ttype.row_bytes(row) else {
            return Err(Error::Convert(format!(
                "ggml writer: tensor {name} has rows of {row} values, not a multiple of the {ttype} block size {}",
                ttype.block_size()
            )));
        };
        self.put_i32(shape.len() as i32)?;
        self.put_i32(name.len() as i32)?;
        self.put_i32(ttype.id() as i32)?;
        for &d in shape.iter().rev() {
            self.put_i32(d as i32)?;
        }
        self.put(name.as_bytes())?;
        self.open = Some(OpenTensor {
            name: name.to_string(),
            ttype,
            expected: (rows * row_bytes) as u64,
            written: 0,
        });
        Ok(())
    }

    fn open_tensor(&mut self, n: u64) -> Result<&mut OpenTensor> {
        let t = self
            .open
            .as_mut()
            .ok_or_else(|| Error::Convert("ggml writer: data written outside a tensor".into()))?;
        if t.written + n > t.expected {
            return Err(Error::Convert(format!(
                "ggml writer: tensor {} given more than its {} bytes",
                t.name, t.expected
            )));
        }
        t.written += n;
        Ok(t)
    }

    /// Appends values to the open f32 or f16 tensor, converting them to its
    /// type. Quantized tensors take [`Self::write_raw`] blocks instead.
    pub fn write_f32(&mut self, data: &[f32]) -> Result<()> {
        let ttype =
            self.open.as_ref().map(|t| t.ttype).ok_or_else(|| {
                Error::Convert("ggml writer: data written outside a tensor".into())
            })?;
        let mut buf = std::mem::take(&mut self.scratch);
        buf.clear();
        match ttype {
            GgmlType::F32 => f32_le_bytes(data, &mut buf),
            GgmlType::F16 => f32_to_f16_bytes(data, &mut buf),
            q => {
                return Err(Error::Convert(format!(
                    "ggml writer: cannot write floats into a {q} tensor"
                )));
            }
        }
        let r = self.write_raw(&buf);
        self.scratch = buf;
        r
    }

    /// Appends bytes already in the open tensor's type.
    pub fn write_raw(&mut self, bytes: &[u8]) -> Result<()> {
        self.open_tensor(bytes.len() as u64)?;
        self.put(bytes)
    }

    /// Closes the open tensor, checking that all its bytes came.
    pub fn end_tensor(&mut self) -> Result<()> {
        let t = self
            .open
            .take()
            .ok_or_else(|| Error::Convert("ggml writer: no tensor to end".into()))?;
        if t.written != t.expected {
            return Err(Error::Convert(format!(
                "ggml writer: tensor {} got {} bytes, expected {}",
                t.name, t.written, t.expected
            )));
        }
        self.n_tensors += 1;
        Ok(())
    }

    /// A whole f32/f16 tensor in one call.
    pub fn tensor_f32(
        &mut self,
        name: &str,
        shape: &[usize],
        ttype: GgmlType,
        data: &[f32],
    ) -> Result<()> {
        self.begin_tensor(name, shape, ttype)?;
        self.write_f32(data)?;
        self.end_tensor()
    }

    /// Bytes written so far.
    pub fn bytes(&self) -> u64 {
        self.bytes
    }

    /// Tensors completed so far.
    pub fn n_tensors(&self) -> usize {
        self.n_tensors
    }

    /// Flushes and returns the sink; fails if a tensor is still open.
    pub fn finish(mut self) -> Result<W> {
        if let Some(t) = &self.open {
            return Err(Error::Convert(format!(
                "ggml writer: tensor {} not finished",
                t.name
            )));
        }
        self.out.flush()?;
        Ok(self.out)
    }
}

// ---------------------------------------------------------------------------
// Reader

/// Where one tensor lives in a ggml file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TensorInfo {
    pub name: String,
    /// ggml dims, innermost (the row) first, as stored in the file.
    pub ne: Vec<usize>,
    pub ttype: GgmlType,
    /// Offset of the data from the start of the file.
    pub offset: u64,
    pub nbytes: u64,
}

impl TensorInfo {
    /// PyTorch shape (outermost first).
    pub fn shape(&self) -> Vec<usize> {
        self.ne.iter().rev().copied().collect()
    }

    pub fn n_elements(&self) -> usize {
        self.ne.iter().product()
    }

    /// Values per row (`ne[0]`).
    pub fn row_len(&self) -> usize {
        self.ne[0]
    }

    /// Number of rows (all dims but the first).
    pub fn n_rows(&self) -> usize {
        self.ne[1..].iter().product()
    }

    /// Bytes per row in the stored type.
    pub fn row_bytes(&self) -> usize {
        self.ttype
            .row_bytes(self.row_len())
            .expect("checked when the file was indexed")
    }
}

/// An open ggml whisper file: everything before the tensors, plus an index
/// of the tensors (data is read on demand).
#[derive(Debug)]
pub struct GgmlFile {
    pub path: PathBuf,
    pub hparams: Hparams,
    pub filters: MelFilters,
    /// Tokens as stored: raw bytes.
    pub vocab: Vec<Vec<u8>>,
    pub tensors: Vec<TensorInfo>,
    /// Offset of the first tensor header.
    pub tensors_offset: u64,
    pub file_len: u64,
    file: fs_err::File,
}

impl GgmlFile {
    /// Reads the header, filters and vocabulary, and indexes the tensors by
    /// seeking past their data.
    pub fn open(path: &Path) -> Result<Self> {
        let file = fs_err::File::open(path)?;
        let file_len = file.metadata()?.len();
        let mut r = Counting {
            inner: BufReader::new(file),
            pos: 0,
        };
        let truncated = |what: &str| bad(path, format!("truncated ggml file ({what} cut short)"));
        let read_i32 = |r: &mut Counting<BufReader<fs_err::File>>, what: &str| -> Result<i32> {
            let mut b = [0u8; 4];
            r.read_exact(&mut b).map_err(|e| {
                if e.kind() == std::io::ErrorKind::UnexpectedEof {
                    truncated(what)
                } else {
                    Error::Io(e)
                }
            })?;
            Ok(i32::from_le_bytes(b))
        };

        let magic = read_i32(&mut r, "magic")? as u32;
        if magic != GGML_FILE_MAGIC {
            return Err(bad(
                path,
                format!(
                    "not a ggml whisper model (magic {magic:#010x}, expected {GGML_FILE_MAGIC:#010x})"
                ),
            ));
        }
        let mut hp = [0i32; 11];
        for v in &mut hp {
            *v = read_i32(&mut r, "hparams")?;
        }
        let hparams = Hparams::from_array(hp);

        let n_mel = read_i32(&mut r, "mel filters")?;
        let n_fft = read_i32(&mut r, "mel filters")?;
        if !(0..=1024).contains(&n_mel) || !(0..=4096).contains(&n_fft) {
            return Err(bad(
                path,
                format!("implausible mel filter bank {n_mel} × {n_fft}"),
            ));
        }
        let (n_mel, n_fft) = (n_mel as usize, n_fft as usize);
        let mut raw = vec![0u8; n_mel * n_fft * 4];
        r.read_exact(&mut raw)
            .map_err(|_| truncated("mel filters"))?;
        let data = raw
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect();
        let filters = MelFilters { n_mel, n_fft, data };

        let n_vocab = read_i32(&mut r, "vocabulary")?;
        if !(0..=1_000_000).contains(&n_vocab) {
            return Err(bad(path, format!("implausible vocabulary size {n_vocab}")));
        }
        let mut vocab = Vec::with_capacity(n_vocab as usize);
        for _ in 0..n_vocab {
            let len = read_i32(&mut r, "vocabulary")?;
            if !(0..=65_536).contains(&len) {
                return Err(bad(path, format!("implausible token length {len}")));
            }
            let mut tok = vec![0u8; len as usize];
            r.read_exact(&mut tok)
                .map_err(|_| truncated("vocabulary"))?;
            vocab.push(tok);
        }

        let tensors_offset = r.pos;
        let mut tensors = Vec::new();
        loop {
            // A clean end of file between tensors ends the list.
            let mut first = [0u8; 4];
            let n = read_fully(&mut r, &mut first)?;
            if n == 0 {
                break;
            }
            if n < 4 {
                return Err(truncated("tensor header"));
            }
            let n_dims = i32::from_le_bytes(first);
            let name_len = read_i32(&mut r, "tensor header")?;
            let ttype_id = read_i32(&mut r, "tensor header")?;
            if !(1..=4).contains(&n_dims) || !(1..=4096).contains(&name_len) {
                return Err(bad(
                    path,
                    format!(
                        "corrupt tensor header at byte {} (n_dims {n_dims}, name length {name_len})",
                        r.pos - 12
                    ),
                ));
            }
            let mut ne = Vec::with_capacity(n_dims as usize);
            for _ in 0..n_dims {
                let d = read_i32(&mut r, "tensor header")?;
                if d <= 0 {
                    return Err(bad(path, format!("corrupt tensor header: dimension {d}")));
                }
                ne.push(d as usize);
            }
            let mut name = vec![0u8; name_len as usize];
            r.read_exact(&mut name)
                .map_err(|_| truncated("tensor name"))?;
            let name =
                String::from_utf8(name).map_err(|_| bad(path, "tensor name is not UTF-8"))?;
            let ttype = GgmlType::from_id(ttype_id as u32).ok_or_else(|| {
                bad(
                    path,
                    format!("tensor {name} has unsupported ggml type {ttype_id}"),
                )
            })?;
            let rows: usize = ne[1..].iter().product();
            let row_bytes = ttype.row_bytes(ne[0]).ok_or_else(|| {
                bad(
                    path,
                    format!(
                        "tensor {name}: rows of {} values do not fit {ttype} blocks",
                        ne[0]
                    ),
                )
            })?;
            let nbytes = (rows * row_bytes) as u64;
            let offset = r.pos;
            if offset + nbytes > file_len {
                return Err(bad(
                    path,
                    format!(
                        "truncated ggml file: tensor {name} needs bytes up to {} but the file has {file_len}",
                        offset + nbytes
                    ),
                ));
            }
            r.inner.seek_relative(nbytes as i64)?;
            r.pos += nbytes;
            tensors.push(TensorInfo {
                name,
                ne,
                ttype,
                offset,
                nbytes,
            });
        }

        let file = r.inner.into_inner();
        Ok(Self {
            path: path.to_path_buf(),
            hparams,
            filters,
            vocab,
            tensors,
            tensors_offset,
            file_len,
            file,
        })
    }

    pub fn tensor(&self, name: &str) -> Option<&TensorInfo> {
        self.tensors.iter().find(|t| t.name == name)
    }

    /// Raw bytes of rows `rows` of a tensor, in its stored type.
    pub fn read_rows_raw(&mut self, t: &TensorInfo, rows: Range<usize>) -> Result<Vec<u8>> {
        if rows.end > t.n_rows() || rows.start > rows.end {
            return Err(bad(
                &self.path,
                format!("tensor {}: rows {rows:?} out of 0..{}", t.name, t.n_rows()),
            ));
        }
        let rb = t.row_bytes() as u64;
        self.file
            .seek(SeekFrom::Start(t.offset + rows.start as u64 * rb))?;
        let mut buf = vec![0u8; rows.len() * rb as usize];
        self.file.read_exact(&mut buf)?;
        Ok(buf)
    }

    /// Rows of a tensor as f32 (quantized types through ggml's own
    /// dequantizer).
    pub fn read_rows_f32(&mut self, t: &TensorInfo, rows: Range<usize>) -> Result<Vec<f32>> {
        let raw = self.read_rows_raw(t, rows)?;
        let mut out = Vec::with_capacity(raw.len() / t.row_bytes().max(1) * t.row_len());
        match t.ttype {
            GgmlType::F32 => out.extend(
                raw.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            ),
            GgmlType::F16 => f16_bytes_to_f32(&raw, &mut out),
            q => {
                out = crate::models::quantize::dequantize(q, &raw, t.row_len())?;
            }
        }
        Ok(out)
    }

    /// A whole tensor as f32, by name.
    pub fn read_f32(&mut self, name: &str) -> Result<Vec<f32>> {
        let t = self
            .tensor(name)
            .cloned()
            .ok_or_else(|| bad(&self.path, format!("no tensor {name}")))?;
        self.read_rows_f32(&t, 0..t.n_rows())
    }
}

/// Reads until `buf` is full or end of file; returns how much was read.
fn read_fully(r: &mut impl Read, buf: &mut [u8]) -> Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match r.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::{Digest, Sha256};

    #[test]
    fn ggml_type_sizes_match_ggml() {
        for t in GgmlType::ALL {
            // SAFETY: plain queries of ggml's static type table.
            let (blck, size) = unsafe {
                (
                    whisper_rs_sys::ggml_blck_size(t.id()),
                    whisper_rs_sys::ggml_type_size(t.id()),
                )
            };
            assert_eq!(t.block_size() as i64, blck, "{t}");
            assert_eq!(t.type_size(), size, "{t}");
            // SAFETY: ggml returns a static NUL-terminated name.
            let name = unsafe { std::ffi::CStr::from_ptr(whisper_rs_sys::ggml_type_name(t.id())) };
            assert_eq!(name.to_str().unwrap(), t.name());
        }
    }

    /// librosa 0.11 `filters.mel(sr=16000, n_fft=400, n_mels=80)`: sha256 of
    /// the float32 array and a few values (computed with librosa itself).
    #[test]
    fn mel_filters_match_librosa_80() {
        let m = mel_filters(80);
        assert_eq!((m.n_mel, m.n_fft), (80, 201));
        let at = |i: usize, j: usize| m.data[i * 201 + j];
        assert_eq!(at(0, 1), 0.024_862_595_f32);
        assert_eq!(at(1, 1), 0.001_990_822_f32);
        assert_eq!(at(1, 2), 0.022_871_772_f32);
        assert_eq!(at(40, 43), 0.014_735_566_f32);
        assert_eq!(at(60, 93), 0.006_591_093_f32);
        assert_eq!(at(79, 199), 0.000_448_759_f32);
        assert_eq!(at(79, 200), 0.0);
        assert_eq!(at(10, 25), 0.0);
        assert_eq!(m.data.iter().filter(|v| **v != 0.0).count(), 391);
        let sum: f64 = m.data.iter().map(|&v| f64::from(v)).sum();
        assert!((sum - 1.999_024_092_387_117).abs() < 1e-9, "{sum}");
        let mut bytes = Vec::new();
        f32_le_bytes(&m.data, &mut bytes);
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            "4f2701b1d287d74a0dc9871026e9519d98cb76426615f2539b0d151a0ae4ec2e"
        );
    }

    #[test]
    fn mel_filters_match_librosa_128() {
        let m = mel_filters(128);
        assert_eq!((m.n_mel, m.n_fft), (128, 201));
        let at = |i: usize, j: usize| m.data[i * 201 + j];
        assert_eq!(at(0, 1), 0.012_373_987_f32);
        assert_eq!(at(64, 43), 0.018_091_518_f32);
        assert_eq!(at(127, 199), 0.001_114_280_2_f32);
        assert_eq!(m.data.iter().filter(|v| **v != 0.0).count(), 394);
        let mut bytes = Vec::new();
        f32_le_bytes(&m.data, &mut bytes);
        assert_eq!(
            hex::encode(Sha256::digest(&bytes)),
            "2a5f9822897750e047c85dea37cc268d3be0ecfd23c28a5f10da129d99d05afe"
        );
    }

    #[test]
    fn byte_level_tokens_decode_to_raw_bytes() {
        let order = gpt2_byte_order();
        assert_eq!(order.len(), 256);
        assert_eq!(order[0], b'!');
        // Whisper's token 220 is "Ġ", the space; token 188 is byte 0.
        assert_eq!(order[220], b' ');
        assert_eq!(order[188], 0);
        let table = bytes_to_unicode();
        assert_eq!(table[usize::from(b'a')], 'a');
        assert_eq!(table[usize::from(b' ')], 'Ġ');
        assert_eq!(table[usize::from(b'\n')], 'Ċ');
        assert_eq!(table[0], 'Ā');
        let dec = byte_decoder();
        assert_eq!(dec.len(), 256);
        assert_eq!(decode_bpe_token(&dec, "Ġthe").unwrap(), b" the");
        // "Ã©" is the byte-level spelling of UTF-8 "é" (C3 A9).
        assert_eq!(decode_bpe_token(&dec, "Ã©").unwrap(), "é".as_bytes());
        assert_eq!(decode_bpe_token(&dec, "").unwrap(), b"");
        // "é" (U+00E9) stands for byte E9; "中" stands for no byte.
        assert_eq!(decode_bpe_token(&dec, "é").unwrap(), vec![0xE9]);
        assert!(decode_bpe_token(&dec, "中").is_none());
    }

    #[test]
    fn f16_round_trip_rounds_to_nearest_even() {
        let src = [
            0.0f32,
            -0.0,
            1.0,
            -2.5,
            65504.0,
            1e-8,
            0.1,
            1.0 + 1.0 / 2048.0,
        ];
        let mut b = Vec::new();
        f32_to_f16_bytes(&src, &mut b);
        let halves: Vec<u16> = b
            .chunks(2)
            .map(|c| u16::from_le_bytes([c[0], c[1]]))
            .collect();
        assert_eq!(&halves[..5], &[0x0000, 0x8000, 0x3c00, 0xc100, 0x7bff]);
        // 0.1 → 0x2e66; 1 + 2^-11 is a tie that rounds to even (1.0).
        assert_eq!(halves[6], 0x2e66);
        assert_eq!(halves[7], 0x3c00);
        let mut back = Vec::new();
        f16_bytes_to_f32(&b, &mut back);
        assert_eq!(back[2], 1.0);
        assert_eq!(back[3], -2.5);
        assert!((back[6] - 0.1).abs() < 1e-4);
    }

    #[test]
    fn tensor_layout_follows_whisper_cpp() {
        let h = Hparams {
            n_vocab: 51864,
            n_audio_ctx: 1500,
            n_audio_state: 384,
            n_audio_head: 6,
            n_audio_layer: 4,
            n_text_ctx: 448,
            n_text_state: 384,
            n_text_head: 6,
            n_text_layer: 4,
            n_mels: 80,
            ftype: 1,
        };
        let ts = whisper_tensors(&h);
        // whisper_model_load: 5 + 15 per encoder layer + 2, 2 + 24 per
        // decoder layer + 2 (no key biases).
        assert_eq!(ts.len(), 7 + 15 * 4 + 4 + 24 * 4);
        let get = |n: &str| ts.iter().find(|t| t.name == n).unwrap();
        assert_eq!(ts[0].name, "encoder.positional_embedding");
        assert_eq!(get("encoder.conv1.weight").shape, vec![384, 80, 3]);
        assert_eq!(get("encoder.conv1.weight").ttype, GgmlType::F16);
        assert_eq!(get("encoder.conv1.bias").shape, vec![384, 1]);
        assert_eq!(get("encoder.conv1.bias").ttype, GgmlType::F32);
        assert_eq!(get("decoder.positional_embedding").ttype, GgmlType::F32);
        assert_eq!(
            get("decoder.token_embedding.weight").shape,
            vec![51864, 384]
        );
        assert_eq!(get("decoder.token_embedding.weight").ttype, GgmlType::F16);
        assert_eq!(get("encoder.blocks.3.mlp.0.weight").shape, vec![1536, 384]);
        assert_eq!(
            get("decoder.blocks.0.cross_attn.value.bias").ttype,
            GgmlType::F32
        );
        assert!(ts.iter().all(|t| !t.name.ends_with("key.bias")));
        assert_eq!(ts.last().unwrap().name, "decoder.ln.bias");
    }

    #[test]
    fn writer_and_reader_round_trip() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("m.bin");
        let h = Hparams {
            n_vocab: 3,
            n_mels: 2,
            ftype: 1,
            ..Default::default()
        };
        let filters = MelFilters {
            n_mel: 2,
            n_fft: 3,
            data: vec![1.0, 2.0, 3.0, 4.0, 5.0, 6.0],
        };
        let vocab = vec![b"a".to_vec(), Vec::new(), b" the".to_vec()];
        let f = fs_err::File::create(&path).unwrap();
        let mut w = GgmlWriter::new(std::io::BufWriter::new(f), &h, &filters, &vocab).unwrap();
        w.tensor_f32("x.bias", &[3, 1], GgmlType::F32, &[1.0, 2.0, 3.0])
            .unwrap();
        w.begin_tensor("y.weight", &[2, 3], GgmlType::F16).unwrap();
        w.write_f32(&[0.5, 1.5, 2.5]).unwrap();
        w.write_f32(&[-1.0, -2.0, -4.0]).unwrap();
        w.end_tensor().unwrap();
        let bytes = w.bytes();
        w.finish().unwrap();
        assert_eq!(bytes, fs_err::metadata(&path).unwrap().len());

        let mut g = GgmlFile::open(&path).unwrap();
        assert_eq!(g.hparams, h);
        assert_eq!(g.filters, filters);
        assert_eq!(g.vocab, vocab);
        assert_eq!(g.tensors.len(), 2);
        let y = g.tensor("y.weight").unwrap().clone();
        assert_eq!(y.ne, vec![3, 2]);
        assert_eq!(y.shape(), vec![2, 3]);
        assert_eq!(y.ttype, GgmlType::F16);
        assert_eq!(
            g.read_f32("y.weight").unwrap(),
            vec![0.5, 1.5, 2.5, -1.0, -2.0, -4.0]
        );
        assert_eq!(g.read_rows_f32(&y, 1..2).unwrap(), vec![-1.0, -2.0, -4.0]);
        assert_eq!(g.tensor("x.bias").unwrap().ne, vec![1, 3]);

        // Too few or too many bytes for a tensor is an error, never a
        // silently malformed file.
        let mut w = GgmlWriter::new(Vec::new(), &h, &filters, &vocab).unwrap();
        w.begin_tensor("z", &[2], GgmlType::F32).unwrap();
        w.write_f32(&[1.0]).unwrap();
        assert!(w.end_tensor().is_err());
        w.begin_tensor("z", &[2], GgmlType::F32).unwrap();
        assert!(w.write_f32(&[1.0, 2.0, 3.0]).is_err());
        // q8_0 rows must be whole 32-value blocks.
        let mut w = GgmlWriter::new(Vec::new(), &h, &filters, &vocab).unwrap();
        assert!(w.begin_tensor("q", &[2, 48], GgmlType::Q8_0).is_err());

        // Cut inside the last tensor's data: a clear truncation error.
        let raw = fs_err::read(&path).unwrap();
        let cut = y.offset as usize + 5;
        fs_err::write(&path, &raw[..cut]).unwrap();
        let err = GgmlFile::open(&path).unwrap_err().to_string();
        assert!(
            err.contains("truncated") && err.contains("y.weight"),
            "{err}"
        );
        fs_err::write(&path, b"GGUF....").unwrap();
        let err = GgmlFile::open(&path).unwrap_err().to_string();
        assert!(err.contains("not a ggml whisper model"), "{err}");
    }
}
