//! A streaming reader of CTranslate2 Whisper model directories (the format
//! faster-whisper uses): `model.bin`, `config.json`, the vocabulary, and the
//! Hugging Face `tokenizer.json`.
//!
//! `model.bin` (binary version 6, little-endian, written by CTranslate2's
//! `ModelSpec._serialize`):
//!
//! ```text
//! u32 version (6), string spec name ("WhisperSpec"), u32 spec revision
//! u32 variable count, then per variable (sorted by name):
//!     string name, u8 rank, rank × u32 shape, u8 dtype, u32 byte count, data
//! u32 alias count, then (alias, target) string pairs
//! string: u16 length counting a trailing NUL, the bytes, the NUL
//! dtype: 0 f32, 1 int8, 2 int16, 3 int32, 4 f16, 5 bf16
//! ```
//!
//! [`Ct2Model::open`] reads only the index (names, shapes, dtypes, offsets),
//! seeking past the data, then checks that the directory really is a
//! Whisper model this crate can convert: every expected variable with the
//! right shape and a supported dtype, a vocabulary whose special tokens sit
//! where whisper.cpp expects them. Tensor data is then read on demand, a
//! range of rows at a time ([`Ct2Model::read_rows`]), so converting never
//! holds more than a slice of one tensor.
//!
//! Names follow CTranslate2's spec layout, e.g.
//! `encoder/layer_0/self_attention/linear_0/weight`. Self-attention q, k, v
//! are fused into `linear_0`; in the decoder's cross-attention (`attention`)
//! q is `linear_0` and k, v are fused into `linear_1`. Layer norms are
//! `gamma`/`beta`. `decoder/projection/weight` is an alias of the token
//! embedding. int8 models carry a `…/weight_scale` per weight: w = q / scale,
//! one scale per output row.

use std::collections::{BTreeMap, HashMap};
use std::io::{BufReader, Read, Seek, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};

use serde_json::Value;

use crate::error::{Error, Result};
use crate::models::{Counting, bad};

/// The weights file of a CTranslate2 model directory.
pub const MODEL_BIN: &str = "model.bin";

/// The only `model.bin` layout this reader knows (CTranslate2 3.x and 4.x).
pub const BINARY_VERSION: u32 = 6;

/// The spec name of Whisper models.
pub const WHISPER_SPEC: &str = "WhisperSpec";

/// Number of regular (non-special) tokens of the English-only vocabulary;
/// `<|endoftext|>` comes right after them (one later in multilingual ones).
const EN_ENDOFTEXT: usize = 50_256;

/// Vocabulary size of the English-only models; whisper.cpp derives every
/// special token id from `n_vocab` relative to these numbers.
const EN_N_VOCAB: usize = 51_864;

/// CTranslate2's variable data types.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ct2DType {
    F32,
    I8,
    I16,
    I32,
    F16,
    BF16,
}

impl Ct2DType {
    pub fn from_id(id: u8) -> Option<Self> {
        Some(match id {
            0 => Self::F32,
            1 => Self::I8,
            2 => Self::I16,
            3 => Self::I32,
            4 => Self::F16,
            5 => Self::BF16,
            _ => return None,
        })
    }

    pub fn id(self) -> u8 {
        match self {
            Self::F32 => 0,
            Self::I8 => 1,
            Self::I16 => 2,
            Self::I32 => 3,
            Self::F16 => 4,
            Self::BF16 => 5,
        }
    }

    /// Bytes per value.
    pub fn size(self) -> usize {
        match self {
            Self::I8 => 1,
            Self::I16 | Self::F16 | Self::BF16 => 2,
            Self::F32 | Self::I32 => 4,
        }
    }

    pub fn name(self) -> &'static str {
        match self {
            Self::F32 => "float32",
            Self::I8 => "int8",
            Self::I16 => "int16",
            Self::I32 => "int32",
            Self::F16 => "float16",
            Self::BF16 => "bfloat16",
        }
    }
}

/// One variable of `model.bin`: where its data is, not the data.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ct2Variable {
    pub name: String,
    /// Row-major shape, outermost first; empty for scalars.
    pub shape: Vec<usize>,
    pub dtype: Ct2DType,
    /// Offset of the data in `model.bin`.
    pub offset: u64,
    pub nbytes: u64,
}

impl Ct2Variable {
    pub fn n_elements(&self) -> usize {
        self.shape.iter().product()
    }

    /// Rows along the first axis (1 for a scalar).
    pub fn n_rows(&self) -> usize {
        self.shape.first().copied().unwrap_or(1)
    }

    /// Values per row (1 for 1-D and scalars).
    pub fn row_len(&self) -> usize {
        self.shape.iter().skip(1).product()
    }
}

/// The index of `model.bin`.
#[derive(Debug, Clone)]
pub struct Ct2Index {
    pub version: u32,
    pub spec: String,
    pub revision: u32,
    pub variables: Vec<Ct2Variable>,
    /// alias → target, e.g. `decoder/projection/weight` →
    /// `decoder/embeddings/weight`.
    pub aliases: BTreeMap<String, String>,
    pub file_len: u64,
}

struct HeaderReader<'a> {
    r: Counting<BufReader<fs_err::File>>,
    path: &'a Path,
}

impl HeaderReader<'_> {
    fn bytes(&mut self, n: usize, what: &str) -> Result<Vec<u8>> {
        let mut b = vec![0u8; n];
        self.r.read_exact(&mut b).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                bad(self.path, format!("file is truncated (ends inside {what})"))
            } else {
                Error::Io(e)
            }
        })?;
        Ok(b)
    }

    fn u8(&mut self, what: &str) -> Result<u8> {
        Ok(self.bytes(1, what)?[0])
    }

    fn u16(&mut self, what: &str) -> Result<u16> {
        let b = self.bytes(2, what)?;
        Ok(u16::from_le_bytes([b[0], b[1]]))
    }

    fn u32(&mut self, what: &str) -> Result<u32> {
        let b = self.bytes(4, what)?;
        Ok(u32::from_le_bytes([b[0], b[1], b[2], b[3]]))
    }

    fn string(&mut self, what: &str) -> Result<String> {
        let len = usize::from(self.u16(what)?);
        let b = self.bytes(len, what)?;
        match b.split_last() {
            Some((0, s)) => String::from_utf8(s.to_vec())
                .map_err(|_| bad(self.path, format!("{what} is not UTF-8"))),
            _ => Err(bad(
                self.path,
                format!("not a CTranslate2 model (malformed string in {what})"),
            )),
        }
    }
}

/// Reads the index of a `model.bin`: header, variable names, shapes, dtypes
/// and data offsets (seeking past the data), and the aliases.
pub fn read_index(path: &Path) -> Result<Ct2Index> {
    let file = fs_err::File::open(path)?;
    let file_len = file.metadata()?.len();
    let mut h = HeaderReader {
        r: Counting {
            inner: BufReader::new(file),
            pos: 0,
        },
        path,
    };
    let version = h.u32("the header")?;
    if version == crate::models::ggml::GGML_FILE_MAGIC {
        return Err(bad(
            path,
            "this is already a ggml (whisper.cpp) model, not a CTranslate2 one",
        ));
    }
    if version != BINARY_VERSION {
        return Err(bad(
            path,
            if version > 0 && version < BINARY_VERSION {
                format!(
                    "unsupported CTranslate2 binary version {version} (supported: {BINARY_VERSION}); re-convert the model with CTranslate2 3 or later"
                )
            } else {
                "not a CTranslate2 model (unknown header)".to_string()
            },
        ));
    }
    let spec = h.string("the spec name")?;
    let revision = h.u32("the header")?;
    let count = h.u32("the header")?;
    if count > 1_000_000 {
        return Err(bad(
            path,
            format!("not a CTranslate2 model ({count} variables)"),
        ));
    }
    let mut variables = Vec::with_capacity(count as usize);
    for i in 0..count {
        let what = format!("the index (variable {} of {count})", i + 1);
        let name = h.string(&what)?;
        let rank = h.u8(&what)?;
        if rank > 8 {
            return Err(bad(
                path,
                format!("variable {name}: implausible rank {rank}"),
            ));
        }
        let mut shape = Vec::with_capacity(usize::from(rank));
        for _ in 0..rank {
            shape.push(h.u32(&what)? as usize);
        }
        let dtype_id = h.u8(&what)?;
        let dtype = Ct2DType::from_id(dtype_id).ok_or_else(|| {
            bad(
                path,
                format!("variable {name}: unknown dtype id {dtype_id}"),
            )
        })?;
        let nbytes = u64::from(h.u32(&what)?);
        let offset = h.r.pos;
        let expected = shape.iter().product::<usize>() as u64 * dtype.size() as u64;
        if nbytes != expected {
            return Err(bad(
                path,
                format!(
                    "variable {name}: {nbytes} bytes for shape {shape:?} of {} (expected {expected}); corrupt model.bin",
                    dtype.name()
                ),
            ));
        }
        if offset + nbytes > file_len {
            return Err(bad(
                path,
                format!(
                    "file is truncated: variable {name} needs bytes up to {} but the file has {file_len}",
                    offset + nbytes
                ),
            ));
        }
        h.r.inner.seek_relative(nbytes as i64)?;
        h.r.pos += nbytes;
        variables.push(Ct2Variable {
            name,
            shape,
            dtype,
            offset,
            nbytes,
        });
    }
    let n_aliases = h.u32("the alias table")?;
    if n_aliases > 1_000_000 {
        return Err(bad(
            path,
            format!("corrupt alias table ({n_aliases} aliases)"),
        ));
    }
    let mut aliases = BTreeMap::new();
    for _ in 0..n_aliases {
        let alias = h.string("the alias table")?;
        let target = h.string("the alias table")?;
        aliases.insert(alias, target);
    }
    Ok(Ct2Index {
        version,
        spec,
        revision,
        variables,
        aliases,
        file_len,
    })
}

/// The model dimensions, named like whisper.cpp's hparams.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WhisperDims {
    pub n_vocab: usize,
    pub n_audio_ctx: usize,
    pub n_audio_state: usize,
    pub n_audio_head: usize,
    pub n_audio_layer: usize,
    pub n_text_ctx: usize,
    pub n_text_state: usize,
    pub n_text_head: usize,
    pub n_text_layer: usize,
    pub n_mels: usize,
}

impl WhisperDims {
    /// whisper.cpp's test: `n_vocab >= 51865`.
    pub fn is_multilingual(&self) -> bool {
        self.n_vocab > EN_N_VOCAB
    }

    /// Id of `<|endoftext|>`, i.e. the number of regular tokens.
    pub fn endoftext(&self) -> usize {
        EN_ENDOFTEXT + usize::from(self.is_multilingual())
    }

    /// The special tokens at the ids whisper.cpp hard-codes for this
    /// vocabulary size (`whisper_vocab` and the adjustments in
    /// `whisper_model_load`), with the string (or accepted strings) the
    /// tokenizer must have there.
    pub fn special_tokens(&self) -> Vec<(usize, &'static [&'static str])> {
        let m = usize::from(self.is_multilingual());
        let n_langs = self.n_vocab - (EN_N_VOCAB - 99) - m;
        let eot = EN_ENDOFTEXT + m;
        let sot = eot + 1;
        let translate = sot + n_langs + 1;
        vec![
            (eot, &["<|endoftext|>"]),
            (sot, &["<|startoftranscript|>"]),
            (sot + 1, &["<|en|>"]),
            (translate, &["<|translate|>"]),
            (translate + 1, &["<|transcribe|>"]),
            (translate + 2, &["<|startoflm|>"]),
            (translate + 3, &["<|startofprev|>"]),
            // large-v3 renamed it.
            (translate + 4, &["<|nocaptions|>", "<|nospeech|>"]),
            (translate + 5, &["<|notimestamps|>"]),
            (translate + 6, &["<|0.00|>"]),
            (self.n_vocab - 1, &["<|30.00|>"]),
        ]
    }
}

/// An opened CTranslate2 Whisper model directory.
#[derive(Debug)]
pub struct Ct2Model {
    pub dir: PathBuf,
    pub bin_path: PathBuf,
    pub index: Ct2Index,
    pub dims: WhisperDims,
    /// `config.json`, if the directory has one.
    pub config: Option<Value>,
    /// `preprocessor_config.json`, if the directory has one.
    pub preprocessor_config: Option<Value>,
    /// Every token, by id, as CTranslate2 spells them (byte-level BPE
    /// strings for regular tokens, `<|…|>` for special ones).
    pub vocabulary: Vec<String>,
    pub vocabulary_path: PathBuf,
    /// `tokenizer.json`, if present (checked against the vocabulary).
    pub tokenizer_path: Option<PathBuf>,
    by_name: HashMap<String, usize>,
    file: fs_err::File,
    /// The last int8 scale read, so chunked reads of one weight read its
    /// scales once.
    scale_cache: Option<(String, Vec<f32>)>,
}

impl Ct2Model {
    /// Opens and validates a model directory; reads no weights beyond a few
    /// scalar attributes.
    pub fn open(dir: &Path) -> Result<Self> {
        if !dir.is_dir() {
            return Err(bad(
                dir,
                if dir.exists() {
                    "not a directory (expected a CTranslate2 model directory)"
                } else {
                    "no such directory"
                },
            ));
        }
        let bin_path = dir.join(MODEL_BIN);
        if !bin_path.is_file() {
            return Err(bad(dir, "not a CTranslate2 Whisper model (no model.bin)"));
        }
        let index = read_index(&bin_path)?;
        if index.spec != WHISPER_SPEC {
            return Err(bad(
                &bin_path,
                format!(
                    "not a Whisper model (CTranslate2 spec '{}', expected '{WHISPER_SPEC}')",
                    index.spec
                ),
            ));
        }
        let by_name = index
            .variables
            .iter()
            .enumerate()
            .map(|(i, v)| (v.name.clone(), i))
            .collect();
        let file = fs_err::File::open(&bin_path)?;
        let mut model = Self {
            dir: dir.to_path_buf(),
            bin_path,
            index,
            dims: WhisperDims {
                n_vocab: 0,
                n_audio_ctx: 0,
                n_audio_state: 0,
                n_audio_head: 0,
                n_audio_layer: 0,
                n_text_ctx: 0,
                n_text_state: 0,
                n_text_head: 0,
                n_text_layer: 0,
                n_mels: 0,
            },
            config: None,
            preprocessor_config: None,
            vocabulary: Vec::new(),
            vocabulary_path: PathBuf::new(),
            tokenizer_path: None,
            by_name,
            file,
            scale_cache: None,
        };
        model.dims = model.derive_dims()?;
        model.check_variables()?;
        model.config = read_json_object(&dir.join("config.json"))?;
        model.preprocessor_config = read_json_object(&dir.join("preprocessor_config.json"))?;
        if let Some(n) = model
            .preprocessor_config
            .as_ref()
            .and_then(|c| c.get("feature_size"))
            .and_then(Value::as_u64)
            && n as usize != model.dims.n_mels
        {
            return Err(bad(
                &dir.join("preprocessor_config.json"),
                format!(
                    "feature_size {n} does not match the model's {} mel bins",
                    model.dims.n_mels
                ),
            ));
        }
        model.load_vocabulary()?;
        Ok(model)
    }

    /// The variable `name`, following aliases.
    pub fn variable(&self, name: &str) -> Option<&Ct2Variable> {
        let target = self.index.aliases.get(name).map_or(name, String::as_str);
        self.by_name.get(target).map(|&i| &self.index.variables[i])
    }

    fn require(&self, name: &str) -> Result<&Ct2Variable> {
        self.variable(name).ok_or_else(|| {
            bad(
                &self.bin_path,
                format!("not a CTranslate2 Whisper model: missing variable {name}"),
            )
        })
    }

    fn require_rank(&self, name: &str, rank: usize) -> Result<&Ct2Variable> {
        let v = self.require(name)?;
        if v.shape.len() != rank {
            return Err(bad(
                &self.bin_path,
                format!(
                    "variable {name} has shape {:?}, expected {rank} dimensions",
                    v.shape
                ),
            ));
        }
        Ok(v)
    }

    fn count_layers(&self, prefix: &str) -> usize {
        (0..)
            .take_while(|i| {
                let p = format!("{prefix}/layer_{i}/");
                self.index.variables.iter().any(|v| v.name.starts_with(&p))
            })
            .count()
    }

    /// A scalar integer attribute (`encoder/num_heads`), if present.
    pub fn scalar(&mut self, name: &str) -> Result<Option<i64>> {
        let Some(v) = self.variable(name).cloned() else {
            return Ok(None);
        };
        if v.n_elements() != 1 {
            return Ok(None);
        }
        let b = self.read_bytes(&v, 0, v.nbytes as usize)?;
        Ok(match v.dtype {
            Ct2DType::I8 => Some(i64::from(b[0] as i8)),
            Ct2DType::I16 => Some(i64::from(i16::from_le_bytes([b[0], b[1]]))),
            Ct2DType::I32 => Some(i64::from(i32::from_le_bytes([b[0], b[1], b[2], b[3]]))),
            _ => None,
        })
    }

    fn derive_dims(&mut self) -> Result<WhisperDims> {
        let conv1 = self.require_rank("encoder/conv1/weight", 3)?.shape.clone();
        let (n_audio_state, n_mels) = (conv1[0], conv1[1]);
        if conv1[2] != 3 {
            return Err(bad(
                &self.bin_path,
                format!("encoder/conv1/weight has shape {conv1:?}; Whisper's kernel is 3 wide"),
            ));
        }
        let n_audio_ctx = self
            .require_rank("encoder/position_encodings/encodings", 2)?
            .shape[0];
        let emb = self
            .require_rank("decoder/embeddings/weight", 2)?
            .shape
            .clone();
        let (n_vocab, n_text_state) = (emb[0], emb[1]);
        let n_text_ctx = self
            .require_rank("decoder/position_encodings/encodings", 2)?
            .shape[0];
        let n_audio_layer = self.count_layers("encoder");
        let n_text_layer = self.count_layers("decoder");
        if n_audio_layer == 0 || n_text_layer == 0 {
            return Err(bad(
                &self.bin_path,
                "not a CTranslate2 Whisper model: no encoder or decoder layers",
            ));
        }
        if n_text_state != n_audio_state {
            return Err(bad(
                &self.bin_path,
                format!(
                    "encoder width {n_audio_state} differs from decoder width {n_text_state}; whisper.cpp needs them equal"
                ),
            ));
        }
        // CTranslate2 stores the head counts as scalar int16 attributes;
        // every Whisper model has 64-wide heads, the fallback for files
        // without them.
        let heads = |m: &mut Self, name: &str, state: usize| -> Result<usize> {
            let h = m.scalar(name)?.map_or(state / 64, |h| h.max(0) as usize);
            if h == 0 || !state.is_multiple_of(h) {
                return Err(bad(
                    &m.bin_path,
                    format!("{name} = {h} does not divide the model width {state}"),
                ));
            }
            Ok(h)
        };
        let n_audio_head = heads(self, "encoder/num_heads", n_audio_state)?;
        let n_text_head = heads(self, "decoder/num_heads", n_text_state)?;
        Ok(WhisperDims {
            n_vocab,
            n_audio_ctx,
            n_audio_state,
            n_audio_head,
            n_audio_layer,
            n_text_ctx,
            n_text_state,
            n_text_head,
            n_text_layer,
            n_mels,
        })
    }

    /// Every weight a Whisper model has, with its shape.
    pub fn expected_variables(d: &WhisperDims) -> Vec<(String, Vec<usize>)> {
        let (a, t) = (d.n_audio_state, d.n_text_state);
        let mut v: Vec<(String, Vec<usize>)> = vec![
            ("encoder/conv1/weight".into(), vec![a, d.n_mels, 3]),
            ("encoder/conv1/bias".into(), vec![a]),
            ("encoder/conv2/weight".into(), vec![a, a, 3]),
            ("encoder/conv2/bias".into(), vec![a]),
            (
                "encoder/position_encodings/encodings".into(),
                vec![d.n_audio_ctx, a],
            ),
            ("encoder/layer_norm/gamma".into(), vec![a]),
            ("encoder/layer_norm/beta".into(), vec![a]),
            ("decoder/embeddings/weight".into(), vec![d.n_vocab, t]),
            (
                "decoder/position_encodings/encodings".into(),
                vec![d.n_text_ctx, t],
            ),
            ("decoder/layer_norm/gamma".into(), vec![t]),
            ("decoder/layer_norm/beta".into(), vec![t]),
        ];
        let norm = |v: &mut Vec<(String, Vec<usize>)>, p: String, n: usize| {
            v.push((format!("{p}/layer_norm/gamma"), vec![n]));
            v.push((format!("{p}/layer_norm/beta"), vec![n]));
        };
        let linear = |v: &mut Vec<(String, Vec<usize>)>, p: String, out: usize, inp: usize| {
            v.push((format!("{p}/weight"), vec![out, inp]));
            v.push((format!("{p}/bias"), vec![out]));
        };
        for (side, layers, n) in [
            ("encoder", d.n_audio_layer, a),
            ("decoder", d.n_text_layer, t),
        ] {
            for i in 0..layers {
                let p = format!("{side}/layer_{i}");
                norm(&mut v, format!("{p}/self_attention"), n);
                linear(&mut v, format!("{p}/self_attention/linear_0"), 3 * n, n);
                linear(&mut v, format!("{p}/self_attention/linear_1"), n, n);
                if side == "decoder" {
                    norm(&mut v, format!("{p}/attention"), n);
                    linear(&mut v, format!("{p}/attention/linear_0"), n, n);
                    linear(&mut v, format!("{p}/attention/linear_1"), 2 * n, n);
                    linear(&mut v, format!("{p}/attention/linear_2"), n, n);
                }
                norm(&mut v, format!("{p}/ffn"), n);
                linear(&mut v, format!("{p}/ffn/linear_0"), 4 * n, n);
                linear(&mut v, format!("{p}/ffn/linear_1"), n, 4 * n);
            }
        }
        v
    }

    /// Every expected weight present with its shape and a dtype we can
    /// read; nothing unexpected that whisper.cpp could not represent.
    fn check_variables(&self) -> Result<()> {
        let expected = Self::expected_variables(&self.dims);
        for (name, shape) in &expected {
            let v = self.require(name)?;
            if &v.shape != shape {
                return Err(bad(
                    &self.bin_path,
                    format!(
                        "variable {name} has shape {:?}, expected {shape:?} for this model's dimensions",
                        v.shape
                    ),
                ));
            }
            self.check_dtype(v)?;
        }
        // The output projection must be the token embedding (whisper.cpp
        // has no separate one); CTranslate2 aliases equal weights, so a real
        // variable here means the two differ.
        if let Some(p) = self.variable("decoder/projection/weight")
            && p.name != "decoder/embeddings/weight"
        {
            return Err(bad(
                &self.bin_path,
                "decoder/projection/weight is not the token embedding; whisper.cpp ties the two",
            ));
        }
        let known: std::collections::HashSet<&str> =
            expected.iter().map(|(n, _)| n.as_str()).collect();
        for v in &self.index.variables {
            let scale_of = v.name.strip_suffix("_scale");
            let is_known = known.contains(v.name.as_str())
                || scale_of.is_some_and(|w| known.contains(w))
                || v.name == "decoder/projection/weight";
            // Scalars and 1-D integer attributes (head counts, flags,
            // alignment heads) describe the model; they are not weights.
            let is_attribute = v.shape.len() <= 1
                && matches!(v.dtype, Ct2DType::I8 | Ct2DType::I16 | Ct2DType::I32)
                && scale_of.is_none();
            if !is_known && !is_attribute && !v.shape.is_empty() {
                return Err(bad(
                    &self.bin_path,
                    format!(
                        "unexpected variable {} (not a standard Whisper model; variants such as lite-whisper are not supported)",
                        v.name
                    ),
                ));
            }
        }
        Ok(())
    }

    fn check_dtype(&self, v: &Ct2Variable) -> Result<()> {
        const SUPPORTED: &str = "supported: float32, float16, bfloat16, int8 with scales";
        match v.dtype {
            Ct2DType::F32 | Ct2DType::F16 | Ct2DType::BF16 => Ok(()),
            Ct2DType::I8 => {
                let scale_name = format!("{}_scale", v.name);
                let Some(s) = self.variable(&scale_name) else {
                    return Err(bad(
                        &self.bin_path,
                        format!(
                            "variable {} is int8 without {scale_name} ({SUPPORTED})",
                            v.name
                        ),
                    ));
                };
                if !matches!(s.dtype, Ct2DType::F32 | Ct2DType::F16 | Ct2DType::BF16) {
                    return Err(bad(
                        &self.bin_path,
                        format!("{scale_name} has dtype {} ({SUPPORTED})", s.dtype.name()),
                    ));
                }
                let per_row: Vec<usize> = v
                    .shape
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| i != 1)
                    .map(|(_, &d)| d)
                    .collect();
                if s.n_elements() != 1 && s.shape != per_row {
                    return Err(bad(
                        &self.bin_path,
                        format!(
                            "{scale_name} has shape {:?}, expected {per_row:?} (one scale per output row)",
                            s.shape
                        ),
                    ));
                }
                Ok(())
            }
            other => Err(bad(
                &self.bin_path,
                format!(
                    "variable {} has unsupported dtype {} ({SUPPORTED}); re-convert the model with --quantization float16 or int8",
                    v.name,
                    other.name()
                ),
            )),
        }
    }

    fn read_bytes(&mut self, v: &Ct2Variable, start: u64, len: usize) -> Result<Vec<u8>> {
        self.file.seek(SeekFrom::Start(v.offset + start))?;
        let mut buf = vec![0u8; len];
        self.file.read_exact(&mut buf).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                bad(
                    &self.bin_path,
                    format!("file is truncated (inside {})", v.name),
                )
            } else {
                Error::Io(e)
            }
        })?;
        Ok(buf)
    }

    /// Rows `rows` (along the first axis) of a weight as f32: floats
    /// converted, int8 dequantized with its scales (w = q / scale).
    pub fn read_rows(&mut self, name: &str, rows: Range<usize>) -> Result<Vec<f32>> {
        let v = self.require(name)?.clone();
        if rows.start > rows.end || rows.end > v.n_rows() {
            return Err(bad(
                &self.bin_path,
                format!("variable {name}: rows {rows:?} out of 0..{}", v.n_rows()),
            ));
        }
        let row_len = v.row_len();
        let size = v.dtype.size();
        let raw = self.read_bytes(
            &v,
            (rows.start * row_len * size) as u64,
            rows.len() * row_len * size,
        )?;
        let mut out = Vec::with_capacity(rows.len() * row_len);
        match v.dtype {
            Ct2DType::F32 => out.extend(
                raw.chunks_exact(4)
                    .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]])),
            ),
            Ct2DType::F16 => crate::models::ggml::f16_bytes_to_f32(&raw, &mut out),
            Ct2DType::BF16 => out.extend(
                raw.chunks_exact(2)
                    .map(|b| f32::from_bits(u32::from(u16::from_le_bytes([b[0], b[1]])) << 16)),
            ),
            Ct2DType::I8 => {
                self.check_dtype(&v)?;
                let scales = self.scales(&v)?;
                // One scale per (row, trailing position): the scale tensor
                // is the weight's shape without axis 1 (CTranslate2 takes
                // the max over axis 1), or a single value.
                let inner: usize = v.shape.iter().skip(2).product();
                for (k, &q) in raw.iter().enumerate() {
                    let s = if scales.len() == 1 {
                        scales[0]
                    } else {
                        let r = rows.start + k / row_len;
                        scales[r * inner + (k % row_len) % inner]
                    };
                    out.push(f32::from(q as i8) / s);
                }
            }
            other => {
                return Err(bad(
                    &self.bin_path,
                    format!(
                        "variable {name} has unsupported dtype {} (supported: float32, float16, bfloat16, int8 with scales)",
                        other.name()
                    ),
                ));
            }
        }
        Ok(out)
    }

    fn scales(&mut self, v: &Ct2Variable) -> Result<Vec<f32>> {
        let scale_name = format!("{}_scale", v.name);
        if let Some((n, s)) = &self.scale_cache
            && *n == scale_name
        {
            return Ok(s.clone());
        }
        let s = self.require(&scale_name)?.clone();
        let s = self.read_rows(&scale_name, 0..s.n_rows())?;
        self.scale_cache = Some((scale_name, s.clone()));
        Ok(s)
    }

    /// A whole weight as f32.
    pub fn read_f32(&mut self, name: &str) -> Result<Vec<f32>> {
        let n = self.require(name)?.n_rows();
        self.read_rows(name, 0..n)
    }

    /// The regular tokens (ids below `<|endoftext|>`) as the raw bytes the
    /// ggml vocabulary stores: the byte-level BPE strings decoded through
    /// GPT-2's byte table. 50,256 for English-only models, 50,257 for
    /// multilingual ones (whose last, id 50256, is empty) — exactly what
    /// convert-pt-to-ggml.py writes.
    pub fn ggml_vocab(&self) -> Result<Vec<Vec<u8>>> {
        let decoder = crate::models::ggml::byte_decoder();
        self.vocabulary[..self.dims.endoftext()]
            .iter()
            .enumerate()
            .map(|(id, tok)| {
                crate::models::ggml::decode_bpe_token(&decoder, tok).ok_or_else(|| {
                    bad(
                        &self.vocabulary_path,
                        format!("token {id} {tok:?} is not a byte-level BPE token"),
                    )
                })
            })
            .collect()
    }

    /// Reads `vocabulary.txt` (or `vocabulary.json`) and checks it, and
    /// `tokenizer.json` when present, against what whisper.cpp assumes.
    fn load_vocabulary(&mut self) -> Result<()> {
        let txt = self.dir.join("vocabulary.txt");
        let json = self.dir.join("vocabulary.json");
        let (path, vocabulary) = if txt.is_file() {
            let text = fs_err::read_to_string(&txt)?;
            // One token per line; the multilingual vocabulary has an empty
            // token (id 50256), so empty lines count, only the final
            // newline does not.
            let text = text.strip_suffix('\n').unwrap_or(&text);
            (
                txt,
                text.split('\n').map(str::to_string).collect::<Vec<_>>(),
            )
        } else if json.is_file() {
            let v: Vec<String> = serde_json::from_str(&fs_err::read_to_string(&json)?)
                .map_err(|e| bad(&json, format!("not a JSON list of tokens: {e}")))?;
            (json, v)
        } else {
            return Err(bad(
                &self.dir,
                "not a CTranslate2 Whisper model (no vocabulary.txt or vocabulary.json)",
            ));
        };
        let d = self.dims;
        let mismatch =
            |why: String| bad(&path, format!("tokenizer does not match the model: {why}"));
        if vocabulary.len() != d.n_vocab {
            return Err(mismatch(format!(
                "{} tokens but the model's token embedding has {} rows",
                vocabulary.len(),
                d.n_vocab
            )));
        }
        if d.n_vocab < EN_N_VOCAB {
            return Err(mismatch(format!(
                "{} tokens; whisper.cpp needs the Whisper vocabulary ({EN_N_VOCAB} tokens or more)",
                d.n_vocab
            )));
        }
        for (id, want) in d.special_tokens() {
            let got = &vocabulary[id];
            if !want.contains(&got.as_str()) {
                return Err(mismatch(format!(
                    "expected {} at id {id} for a {}-token {} model, found {got:?}",
                    want.join(" or "),
                    d.n_vocab,
                    if d.is_multilingual() {
                        "multilingual"
                    } else {
                        "English-only"
                    }
                )));
            }
        }
        if let Some(i) = vocabulary[..d.endoftext()]
            .iter()
            .position(|t| t.starts_with("<|") && t.ends_with("|>"))
        {
            return Err(mismatch(format!(
                "special token {} at id {i}, among the regular tokens",
                vocabulary[i]
            )));
        }

        let tok_path = self.dir.join("tokenizer.json");
        if tok_path.is_file() {
            check_tokenizer_json(&tok_path, &vocabulary, &d)?;
            self.tokenizer_path = Some(tok_path);
        }
        self.vocabulary = vocabulary;
        self.vocabulary_path = path;
        Ok(())
    }
}

/// `tokenizer.json` must be a byte-level BPE tokenizer agreeing with the
/// vocabulary on every id it defines, including all regular tokens and the
/// special ones whisper.cpp uses.
fn check_tokenizer_json(path: &Path, vocabulary: &[String], d: &WhisperDims) -> Result<()> {
    let mismatch = |why: String| bad(path, format!("tokenizer does not match the model: {why}"));
    let json: Value = serde_json::from_str(&fs_err::read_to_string(path)?)
        .map_err(|e| bad(path, format!("invalid JSON: {e}")))?;
    let model = json
        .get("model")
        .filter(|m| m.get("type").and_then(Value::as_str) == Some("BPE"))
        .and_then(|m| m.get("vocab"))
        .and_then(Value::as_object)
        .ok_or_else(|| bad(path, "not a Hugging Face BPE tokenizer (no model.vocab)"))?;
    let mut by_id: Vec<Option<&str>> = vec![None; d.n_vocab];
    let added = json
        .get("added_tokens")
        .and_then(Value::as_array)
        .map(Vec::as_slice)
        .unwrap_or_default()
        .iter()
        .filter_map(|t| Some((t.get("content")?.as_str()?, t.get("id")?)));
    for (tok, id) in model.iter().map(|(t, id)| (t.as_str(), id)).chain(added) {
        let id = id
            .as_u64()
            .ok_or_else(|| bad(path, format!("token {tok:?} has a non-numeric id")))?
            as usize;
        let Some(slot) = by_id.get_mut(id) else {
            return Err(mismatch(format!(
                "token {tok:?} has id {id}, beyond the model's {} token embeddings",
                d.n_vocab
            )));
        };
        if vocabulary[id] != tok {
            return Err(mismatch(format!(
                "id {id} is {tok:?} in tokenizer.json but {:?} in the vocabulary",
                vocabulary[id]
            )));
        }
        *slot = Some(tok);
    }
    if let Some(id) = (0..d.endoftext()).find(|&i| by_id[i].is_none()) {
        return Err(mismatch(format!(
            "tokenizer.json has no token with id {id}"
        )));
    }
    // Timestamps (`<|0.00|>` …) are only in the vocabulary; the other
    // special tokens must be in tokenizer.json too.
    for (id, want) in d.special_tokens().into_iter().take(9) {
        if by_id[id].is_none() {
            return Err(mismatch(format!(
                "tokenizer.json lacks {} (id {id})",
                want[0]
            )));
        }
    }
    Ok(())
}

/// Parses an optional JSON object file.
fn read_json_object(path: &Path) -> Result<Option<Value>> {
    if !path.is_file() {
        return Ok(None);
    }
    let v: Value = serde_json::from_str(&fs_err::read_to_string(path)?)
        .map_err(|e| bad(path, format!("invalid JSON: {e}")))?;
    if !v.is_object() {
        return Err(bad(path, "not a JSON object"));
    }
    Ok(Some(v))
}

/// Builds small but complete CTranslate2 Whisper model directories for
/// tests: real layout, real vocabulary size and special tokens, tiny width.
#[cfg(test)]
pub(crate) mod fixture {
    use std::collections::BTreeMap;
    use std::path::Path;

    use serde_json::json;

    use super::{Ct2DType, Ct2Model, WhisperDims};
    use crate::models::ggml::{
        bytes_to_unicode, f16_bytes_to_f32, f32_to_f16_bytes, gpt2_byte_order,
    };
    use crate::models::testmodel::SplitMix64;

    /// How the weights are stored.
    #[derive(Debug, Clone, Copy, PartialEq, Eq)]
    pub(crate) enum FixtureDType {
        F32,
        F16,
        /// int8 weights (`--quantization int8_float16`): 2-D and conv
        /// weights int8 with f32 scales, the rest f16.
        Int8,
        /// CTranslate2's int16 quantization, which we do not read.
        Int16,
    }

    #[derive(Debug, Clone, Copy)]
    pub(crate) struct Fixture {
        pub multilingual: bool,
        pub dtype: FixtureDType,
        pub n_state: usize,
        pub n_heads: usize,
        pub layers: usize,
        pub seed: u64,
    }

    impl Default for Fixture {
        fn default() -> Self {
            Self {
                multilingual: false,
                dtype: FixtureDType::F16,
                n_state: 64,
                n_heads: 1,
                layers: 1,
                seed: 1,
            }
        }
    }

    /// Each weight as the reader should return it (after f16 rounding or
    /// int8 dequantization), by CTranslate2 name.
    pub(crate) type Values = BTreeMap<String, Vec<f32>>;

    /// The vocabulary of a real Whisper model, with made-up regular tokens
    /// (the first 256 are the byte tokens, in GPT-2's order, like the real
    /// one; then `Ġw{id}`).
    pub(crate) fn vocabulary(multilingual: bool) -> Vec<String> {
        let bytes = bytes_to_unicode();
        let mut v: Vec<String> = gpt2_byte_order()
            .iter()
            .map(|&b| bytes[usize::from(b)].to_string())
            .collect();
        v.extend((256..50_256).map(|i| format!("Ġw{i}")));
        if multilingual {
            v.push(String::new());
        }
        v.push("<|endoftext|>".into());
        v.push("<|startoftranscript|>".into());
        v.push("<|en|>".into());
        v.extend((1..99).map(|i| format!("<|l{i}|>")));
        for s in [
            "<|translate|>",
            "<|transcribe|>",
            "<|startoflm|>",
            "<|startofprev|>",
            "<|nocaptions|>",
            "<|notimestamps|>",
        ] {
            v.push(s.into());
        }
        v.extend((0..=1500).map(|i| format!("<|{}.{:02}|>", i / 50, (i % 50) * 2)));
        v
    }

    struct Var {
        shape: Vec<usize>,
        dtype: Ct2DType,
        bytes: Vec<u8>,
    }

    fn encode(
        values: &[f32],
        shape: &[usize],
        dtype: Ct2DType,
        vars: &mut BTreeMap<String, Var>,
        name: &str,
    ) -> Vec<f32> {
        let mut bytes = Vec::new();
        let back = match dtype {
            Ct2DType::F32 => {
                crate::models::ggml::f32_le_bytes(values, &mut bytes);
                values.to_vec()
            }
            Ct2DType::F16 => {
                f32_to_f16_bytes(values, &mut bytes);
                let mut b = Vec::new();
                f16_bytes_to_f32(&bytes, &mut b);
                b
            }
            Ct2DType::I8 => {
                // CTranslate2's int8: scale = 127 / max|w| over axis 1.
                let rows = shape[0];
                let mid = shape[1];
                let inner: usize = shape[2..].iter().product();
                let mut scales = vec![0f32; rows * inner];
                for r in 0..rows {
                    for k in 0..inner {
                        let amax = (0..mid)
                            .map(|m| values[(r * mid + m) * inner + k].abs())
                            .fold(0f32, f32::max);
                        scales[r * inner + k] = if amax == 0.0 { 1.0 } else { 127.0 / amax };
                    }
                }
                let mut back = Vec::with_capacity(values.len());
                for (i, &w) in values.iter().enumerate() {
                    let (r, k) = (i / (mid * inner), i % inner);
                    let s = scales[r * inner + k];
                    let q = (w * s).round().clamp(-127.0, 127.0) as i8;
                    bytes.push(q as u8);
                    back.push(f32::from(q) / s);
                }
                let scale_shape: Vec<usize> = shape
                    .iter()
                    .enumerate()
                    .filter(|&(i, _)| i != 1)
                    .map(|(_, &d)| d)
                    .collect();
                let mut sb = Vec::new();
                crate::models::ggml::f32_le_bytes(&scales, &mut sb);
                vars.insert(
                    format!("{name}_scale"),
                    Var {
                        shape: scale_shape,
                        dtype: Ct2DType::F32,
                        bytes: sb,
                    },
                );
                back
            }
            Ct2DType::I16 => {
                for &w in values {
                    bytes.extend_from_slice(&((w * 1000.0) as i16).to_le_bytes());
                }
                values.to_vec()
            }
            Ct2DType::I32 | Ct2DType::BF16 => unreachable!("not used by the fixtures"),
        };
        vars.insert(
            name.to_string(),
            Var {
                shape: shape.to_vec(),
                dtype,
                bytes,
            },
        );
        back
    }

    fn put_string(out: &mut Vec<u8>, s: &str) {
        out.extend_from_slice(&(s.len() as u16 + 1).to_le_bytes());
        out.extend_from_slice(s.as_bytes());
        out.push(0);
    }

    /// Writes the model directory `dir` and returns the weights' values.
    pub(crate) fn write_fixture(dir: &Path, f: &Fixture) -> Values {
        fs_err::create_dir_all(dir).unwrap();
        let n = f.n_state;
        let dims = WhisperDims {
            n_vocab: if f.multilingual { 51_865 } else { 51_864 },
            n_audio_ctx: 1500,
            n_audio_state: n,
            n_audio_head: f.n_heads,
            n_audio_layer: f.layers,
            n_text_ctx: 448,
            n_text_state: n,
            n_text_head: f.n_heads,
            n_text_layer: f.layers,
            n_mels: 80,
        };
        let mut rng = SplitMix64::new(f.seed);
        let mut vars = BTreeMap::new();
        let mut values = Values::new();
        for (name, shape) in Ct2Model::expected_variables(&dims) {
            let count: usize = shape.iter().product();
            let mut v: Vec<f32> = (0..count).map(|_| 0.1 * rng.normal()).collect();
            if name.ends_with("/gamma") {
                v.iter_mut().for_each(|x| *x += 1.0);
            }
            // CTranslate2 fuses a zero key bias.
            if name.ends_with("self_attention/linear_0/bias") {
                v[n..2 * n].iter_mut().for_each(|x| *x = 0.0);
            }
            if name.ends_with("attention/linear_1/bias") && !name.contains("self_attention") {
                v[..n].iter_mut().for_each(|x| *x = 0.0);
            }
            let dtype = match f.dtype {
                FixtureDType::F32 => Ct2DType::F32,
                FixtureDType::F16 => Ct2DType::F16,
                FixtureDType::Int8 if shape.len() >= 2 && name.ends_with("/weight") => Ct2DType::I8,
                FixtureDType::Int8 => Ct2DType::F16,
                FixtureDType::Int16 if shape.len() >= 2 && name.ends_with("/weight") => {
                    Ct2DType::I16
                }
                FixtureDType::Int16 => Ct2DType::F32,
            };
            let back = encode(&v, &shape, dtype, &mut vars, &name);
            values.insert(name, back);
        }
        // Scalar attributes, as CTranslate2 writes them for Whisper.
        let scalar = |dtype: Ct2DType, bytes: Vec<u8>| Var {
            shape: vec![],
            dtype,
            bytes,
        };
        let heads = (f.n_heads as i16).to_le_bytes().to_vec();
        vars.insert(
            "encoder/num_heads".into(),
            scalar(Ct2DType::I16, heads.clone()),
        );
        vars.insert("decoder/num_heads".into(), scalar(Ct2DType::I16, heads));
        vars.insert("decoder/activation".into(), scalar(Ct2DType::I8, vec![3]));
        vars.insert("decoder/pre_norm".into(), scalar(Ct2DType::I8, vec![1]));
        vars.insert(
            "decoder/alignment_layer".into(),
            scalar(Ct2DType::I16, vec![0xff, 0xff]),
        );

        let mut bin = Vec::new();
        bin.extend_from_slice(&6u32.to_le_bytes());
        put_string(&mut bin, "WhisperSpec");
        bin.extend_from_slice(&3u32.to_le_bytes());
        bin.extend_from_slice(&(vars.len() as u32).to_le_bytes());
        for (name, v) in &vars {
            put_string(&mut bin, name);
            bin.push(v.shape.len() as u8);
            for &d in &v.shape {
                bin.extend_from_slice(&(d as u32).to_le_bytes());
            }
            bin.push(v.dtype.id());
            bin.extend_from_slice(&(v.bytes.len() as u32).to_le_bytes());
            bin.extend_from_slice(&v.bytes);
        }
        bin.extend_from_slice(&1u32.to_le_bytes());
        put_string(&mut bin, "decoder/projection/weight");
        put_string(&mut bin, "decoder/embeddings/weight");
        fs_err::write(dir.join("model.bin"), bin).unwrap();

        let vocab = vocabulary(f.multilingual);
        fs_err::write(dir.join("vocabulary.txt"), vocab.join("\n") + "\n").unwrap();
        let eot = dims.endoftext();
        let mut model_vocab = serde_json::Map::new();
        for (i, t) in vocab[..=eot].iter().enumerate() {
            model_vocab.insert(t.clone(), json!(i));
        }
        let added: Vec<_> = (eot..eot + 108)
            .take_while(|&i| !vocab[i].starts_with("<|0.00"))
            .map(|i| json!({"id": i, "content": vocab[i], "special": true}))
            .collect();
        let tokenizer = json!({
            "version": "1.0",
            "added_tokens": added,
            "pre_tokenizer": {"type": "ByteLevel", "add_prefix_space": false},
            "model": {"type": "BPE", "vocab": model_vocab, "merges": []},
        });
        fs_err::write(dir.join("tokenizer.json"), tokenizer.to_string()).unwrap();
        let lang_ids: Vec<usize> = (eot + 2..eot + 101).collect();
        let config = json!({
            "alignment_heads": [[0, 0]],
            "lang_ids": lang_ids,
            "suppress_ids": [1, 2],
            "suppress_ids_begin": [220, eot],
        });
        fs_err::write(dir.join("config.json"), config.to_string()).unwrap();
        values
    }
}

#[cfg(test)]
mod tests {
    use super::fixture::{Fixture, FixtureDType, vocabulary, write_fixture};
    use super::*;

    #[test]
    fn fixture_vocabulary_has_whisper_layout() {
        let en = vocabulary(false);
        assert_eq!(en.len(), 51_864);
        assert_eq!(en[50_256], "<|endoftext|>");
        assert_eq!(en[50_362], "<|notimestamps|>");
        assert_eq!(en[50_363], "<|0.00|>");
        assert_eq!(en[51_863], "<|30.00|>");
        let multi = vocabulary(true);
        assert_eq!(multi.len(), 51_865);
        assert_eq!(multi[50_256], "");
        assert_eq!(multi[50_358], "<|translate|>");
    }

    #[test]
    fn index_and_dims_of_a_fixture() {
        let dir = tempfile::tempdir().unwrap();
        let f = Fixture {
            layers: 2,
            n_heads: 4,
            multilingual: true,
            dtype: FixtureDType::Int8,
            ..Fixture::default()
        };
        let values = write_fixture(dir.path(), &f);
        let mut m = Ct2Model::open(dir.path()).unwrap();
        assert_eq!(m.index.spec, "WhisperSpec");
        assert_eq!(m.index.revision, 3);
        assert_eq!(
            m.dims,
            WhisperDims {
                n_vocab: 51_865,
                n_audio_ctx: 1500,
                n_audio_state: 64,
                n_audio_head: 4,
                n_audio_layer: 2,
                n_text_ctx: 448,
                n_text_state: 64,
                n_text_head: 4,
                n_text_layer: 2,
                n_mels: 80,
            }
        );
        assert!(m.dims.is_multilingual());
        assert!(m.tokenizer_path.is_some());
        assert!(m.config.is_some());
        // The projection is an alias of the embedding.
        assert_eq!(
            m.variable("decoder/projection/weight").unwrap().name,
            "decoder/embeddings/weight"
        );
        let conv = m.variable("encoder/conv1/weight").unwrap().clone();
        assert_eq!(conv.dtype, Ct2DType::I8);
        assert_eq!(
            m.variable("encoder/conv1/weight_scale").unwrap().shape,
            vec![64, 3]
        );
        // int8 weights come back dequantized, row ranges and all.
        assert_eq!(
            m.read_f32("encoder/conv1/weight").unwrap(),
            values["encoder/conv1/weight"]
        );
        let name = "decoder/layer_1/attention/linear_1/weight";
        assert_eq!(
            m.read_rows(name, 70..90).unwrap(),
            values[name][70 * 64..90 * 64].to_vec()
        );
        assert_eq!(m.scalar("decoder/num_heads").unwrap(), Some(4));
        assert_eq!(m.scalar("decoder/alignment_layer").unwrap(), Some(-1));
        assert!(m.read_rows(name, 100..129).is_err());
        let vocab = m.ggml_vocab().unwrap();
        assert_eq!(vocab.len(), 50_257);
        assert_eq!(vocab[1000], b" w1000");
    }

    #[test]
    fn bfloat16_weights_are_read() {
        // A hand-made two-variable file is enough for the dtype path.
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("model.bin");
        let mut b = Vec::new();
        b.extend_from_slice(&6u32.to_le_bytes());
        b.extend_from_slice(&12u16.to_le_bytes());
        b.extend_from_slice(b"WhisperSpec\0");
        b.extend_from_slice(&3u32.to_le_bytes());
        b.extend_from_slice(&1u32.to_le_bytes());
        b.extend_from_slice(&2u16.to_le_bytes());
        b.extend_from_slice(b"x\0");
        b.push(1);
        b.extend_from_slice(&2u32.to_le_bytes());
        b.push(5);
        b.extend_from_slice(&4u32.to_le_bytes());
        for v in [1.5f32, -2.0] {
            b.extend_from_slice(&((v.to_bits() >> 16) as u16).to_le_bytes());
        }
        b.extend_from_slice(&0u32.to_le_bytes());
        fs_err::write(&p, &b).unwrap();
        let idx = read_index(&p).unwrap();
        assert_eq!(idx.variables.len(), 1);
        assert_eq!(idx.variables[0].dtype, Ct2DType::BF16);
        assert_eq!(idx.variables[0].offset, b.len() as u64 - 8);
        // Not a Whisper model as a whole, though.
        let err = Ct2Model::open(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains("missing variable encoder/conv1/weight"),
            "{err}"
        );
    }
}
