//! The Tantivy schema of `OUT/index/` (`docs/search-index.md` is its
//! contract) and the handles of its fields.
//!
//! Three kinds of document (`kind`):
//! - `seg`: one per transcript segment, with the segment's text in every
//!   search field, and the call's fields for filters and display;
//! - `pair`: the end of one segment joined to the start of the same
//!   speaker's next segment, so a phrase said across whisper's segment
//!   boundary is found; a hit on one reports the first segment's time;
//! - `call`: one per call, no text: it marks a call as indexed (calls
//!   without speech included) for the catch-up after a crash.
//!
//! The search fields hold pre-tokenized text made by [`crate::text::analyze`]:
//! `t_exact` (normalized words), `t_folded` (diacritics folded), and one
//! field per analyzed language (`t_en`, `t_pl`, `t_ru`: stems; `t_he`:
//! words with their prefix-stripped variants).

use tantivy::schema::{
    FAST, Field, INDEXED, IndexRecordOption, JsonObjectOptions, STORED, STRING, Schema,
    TextFieldIndexing, TextOptions,
};

use crate::text::analyze::Lang;

/// Written into the index folder; a different value means the index was
/// built by another callsift and must be rebuilt.
pub const INDEX_SCHEMA: &str = "callsift.index/2";

pub const KIND_SEGMENT: &str = "seg";
pub const KIND_PAIR: &str = "pair";
pub const KIND_CALL: &str = "call";

/// The metadata keys that get a field of their own (filters, display);
/// every key is also kept in `metadata`. The same keys the tables have
/// columns for.
pub use crate::model::STANDARD_METADATA as METADATA_FIELDS;

/// Handles of every field.
#[derive(Debug, Clone)]
pub struct Fields {
    pub schema: Schema,
    pub kind: Field,
    pub call_id: Field,
    /// Hash of the call id: a cheap sort and grouping key.
    pub call_key: Field,
    pub segment: Field,
    /// Pair documents: the second segment's number.
    pub segment_next: Field,
    /// Hash of (call id, segment): the segment's key; pair documents carry
    /// the first segment's key here and the second's in `pair_next`.
    pub key: Field,
    pub pair_next: Field,
    pub start_ms: Field,
    pub end_ms: Field,
    /// Pair documents: where the first segment ends, and the byte length
    /// of its text at the start of `text` (to place a hit inside it).
    pub first_end_ms: Field,
    pub first_len: Field,
    pub speaker: Field,
    pub channel: Field,
    pub language: Field,
    pub text: Field,
    pub t_exact: Field,
    pub t_folded: Field,
    pub t_en: Field,
    pub t_pl: Field,
    pub t_ru: Field,
    pub t_he: Field,
    pub call_start: Field,
    pub source_path: Field,
    pub metadata: Field,
    /// `agent_id`, `customer_number`, `direction`, `campaign`, `queue`.
    pub meta: Vec<(String, Field)>,
    /// The rules that fired in the call (from the transcript's `analysis`),
    /// one value each, on every document of the call.
    pub rule: Field,
}

impl Fields {
    pub fn new() -> Self {
        let mut b = Schema::builder();
        let searchable = TextOptions::default().set_indexing_options(
            TextFieldIndexing::default()
                .set_tokenizer("raw")
                .set_index_option(IndexRecordOption::WithFreqsAndPositions),
        );
        let kind = b.add_text_field("kind", STRING | STORED);
        let call_id = b.add_text_field("call_id", STRING | STORED);
        let call_key = b.add_u64_field("call_key", FAST);
        let segment = b.add_u64_field("segment", STORED);
        let segment_next = b.add_u64_field("segment_next", STORED);
        let key = b.add_u64_field("key", FAST);
        let pair_next = b.add_u64_field("pair_next", FAST);
        let start_ms = b.add_u64_field("start_ms", STORED | FAST);
        let end_ms = b.add_u64_field("end_ms", STORED);
        let first_end_ms = b.add_u64_field("first_end_ms", STORED);
        let first_len = b.add_u64_field("first_len", STORED);
        let speaker = b.add_text_field("speaker", STRING | STORED);
        let channel = b.add_u64_field("channel", STORED);
        let language = b.add_text_field("language", STRING | STORED);
        let text = b.add_text_field("text", STORED);
        let t_exact = b.add_text_field("t_exact", searchable.clone());
        let t_folded = b.add_text_field("t_folded", searchable.clone());
        let t_en = b.add_text_field("t_en", searchable.clone());
        let t_pl = b.add_text_field("t_pl", searchable.clone());
        let t_ru = b.add_text_field("t_ru", searchable.clone());
        let t_he = b.add_text_field("t_he", searchable);
        let call_start = b.add_date_field("call_start", INDEXED | STORED | FAST);
        let source_path = b.add_text_field("source_path", STRING | STORED);
        let metadata = b.add_json_field(
            "metadata",
            JsonObjectOptions::default()
                .set_stored()
                .set_indexing_options(TextFieldIndexing::default().set_tokenizer("raw")),
        );
        let meta = METADATA_FIELDS
            .iter()
            .map(|(name, _)| (name.to_string(), b.add_text_field(name, STRING | STORED)))
            .collect();
        let rule = b.add_text_field("rule", STRING | STORED);
        Fields {
            schema: b.build(),
            kind,
            call_id,
            call_key,
            segment,
            segment_next,
            key,
            pair_next,
            start_ms,
            end_ms,
            first_end_ms,
            first_len,
            speaker,
            channel,
            language,
            text,
            t_exact,
            t_folded,
            t_en,
            t_pl,
            t_ru,
            t_he,
            call_start,
            source_path,
            metadata,
            meta,
            rule,
        }
    }

    /// The language field of an analyzed language.
    pub fn lang_field(&self, lang: Lang) -> Option<Field> {
        match lang {
            Lang::En => Some(self.t_en),
            Lang::Pl => Some(self.t_pl),
            Lang::Ru => Some(self.t_ru),
            Lang::He => Some(self.t_he),
            Lang::Other => None,
        }
    }

    /// The field of a metadata column (`agent_id`, …).
    pub fn meta_field(&self, name: &str) -> Option<Field> {
        self.meta.iter().find(|(n, _)| n == name).map(|(_, f)| *f)
    }
}

impl Default for Fields {
    fn default() -> Self {
        Self::new()
    }
}

/// A stable 64-bit key of a string (BLAKE3, first 8 bytes).
pub fn key_of(parts: &[&str]) -> u64 {
    let mut h = blake3::Hasher::new();
    for p in parts {
        h.update(p.as_bytes());
        h.update(&[0]);
    }
    let bytes = h.finalize();
    u64::from_le_bytes(bytes.as_bytes()[..8].try_into().expect("8 bytes"))
}

/// The key of segment `segment` of `call_id`.
pub fn segment_key(call_id: &str, segment: usize) -> u64 {
    key_of(&[call_id, &segment.to_string()])
}
