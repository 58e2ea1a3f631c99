//! A transcript as index documents: one per segment, one per boundary
//! between a segment and the same speaker's next one, one for the call
//! (see [`super::schema`]).

use std::collections::BTreeMap;

use tantivy::DateTime;
use tantivy::schema::document::{DeserializeError, DocumentDeserialize, DocumentDeserializer};
use tantivy::schema::{Document, Field, OwnedValue};
use tantivy::tokenizer::{PreTokenizedString, Token as TantivyToken};

use super::schema::{
    Fields, KIND_CALL, KIND_PAIR, KIND_SEGMENT, METADATA_FIELDS, key_of, segment_key,
};
use crate::model::Transcript;
use crate::text::analyze::{self, Analyzed, Lang, Token};

/// Words taken from each side of a boundary into a pair document: a
/// phrase of up to this many words on each side of whisper's cut is found.
pub const BOUNDARY_WORDS: usize = 8;

/// A document as the index writer takes it: fields and owned values in
/// order. Tantivy's own `TantivyDocument` keeps a pre-tokenized value as
/// JSON text and the indexing thread parses it back, which was about 40% of
/// indexing time (measured with `perf` in the search bench); values handed
/// over as they are skip that.
#[derive(Debug, Clone, Default)]
pub struct IndexDoc {
    values: Vec<(Field, OwnedValue)>,
}

impl IndexDoc {
    pub fn add_text(&mut self, field: Field, text: impl Into<String>) {
        self.values.push((field, OwnedValue::Str(text.into())));
    }

    pub fn add_u64(&mut self, field: Field, value: u64) {
        self.values.push((field, OwnedValue::U64(value)));
    }

    fn add_date(&mut self, field: Field, value: DateTime) {
        self.values.push((field, OwnedValue::Date(value)));
    }

    fn add_pre_tokenized_text(&mut self, field: Field, value: PreTokenizedString) {
        self.values.push((field, OwnedValue::PreTokStr(value)));
    }

    fn add_object(&mut self, field: Field, object: BTreeMap<String, OwnedValue>) {
        self.values
            .push((field, OwnedValue::Object(object.into_iter().collect())));
    }
}

/// The (field, value) pairs of an [`IndexDoc`].
pub struct IndexDocValues<'a>(std::slice::Iter<'a, (Field, OwnedValue)>);

impl<'a> Iterator for IndexDocValues<'a> {
    type Item = (Field, &'a OwnedValue);

    fn next(&mut self) -> Option<Self::Item> {
        self.0.next().map(|(f, v)| (*f, v))
    }
}

impl Document for IndexDoc {
    type Value<'a> = &'a OwnedValue;
    type FieldsValuesIter<'a> = IndexDocValues<'a>;

    fn iter_fields_and_values(&self) -> IndexDocValues<'_> {
        IndexDocValues(self.values.iter())
    }
}

impl DocumentDeserialize for IndexDoc {
    fn deserialize<'de, D>(mut deserializer: D) -> Result<Self, DeserializeError>
    where
        D: DocumentDeserializer<'de>,
    {
        let mut doc = IndexDoc::default();
        while let Some((field, value)) = deserializer.next_field()? {
            doc.values.push((field, value));
        }
        Ok(doc)
    }
}

/// The documents of one call, in segment order.
pub fn call_documents(fields: &Fields, t: &Transcript) -> Vec<IndexDoc> {
    let analyzed: Vec<Analyzed> = t
        .segments
        .iter()
        .map(|s| analyze::analyze(&s.text, Lang::from_code(&s.language)))
        .collect();
    let call = CallFields::of(fields, t);
    let mut docs = Vec::with_capacity(t.segments.len() * 2 + 1);
    let mut marker = call.base(KIND_CALL);
    marker.add_u64(fields.key, key_of(&[&t.call_id]));
    docs.push(marker);
    for (i, (s, a)) in t.segments.iter().zip(&analyzed).enumerate() {
        let mut doc = call.segment(KIND_SEGMENT, i, s.end_ms);
        doc.add_text(fields.text, &s.text);
        add_analyzed(fields, &mut doc, a);
        docs.push(doc);

        let Some(j) = next_of_speaker(t, i) else {
            continue;
        };
        let next = &t.segments[j];
        let mut pair = call.segment(KIND_PAIR, i, next.end_ms);
        pair.add_u64(fields.segment_next, j as u64);
        pair.add_u64(fields.pair_next, segment_key(&t.call_id, j));
        pair.add_u64(fields.first_end_ms, s.end_ms);
        pair.add_u64(fields.first_len, s.text.trim().len() as u64);
        pair.add_text(
            fields.text,
            format!("{} {}", s.text.trim(), next.text.trim()),
        );
        add_analyzed(fields, &mut pair, &boundary(a, &analyzed[j]));
        docs.push(pair);
    }
    docs
}

/// The next segment of the same channel after segment `i`.
fn next_of_speaker(t: &Transcript, i: usize) -> Option<usize> {
    let channel = t.segments[i].channel;
    (i + 1..t.segments.len()).find(|&j| t.segments[j].channel == channel)
}

/// The last [`BOUNDARY_WORDS`] positions of `a` followed by the first of `b`.
fn boundary(a: &Analyzed, b: &Analyzed) -> Analyzed {
    let first = a.positions.saturating_sub(BOUNDARY_WORDS);
    let shift = a.positions - first;
    let join = |x: &[Token], y: &[Token]| -> Vec<Token> {
        x.iter()
            .filter(|t| t.position >= first)
            .map(|t| Token {
                position: t.position - first,
                ..t.clone()
            })
            .chain(
                y.iter()
                    .filter(|t| t.position < BOUNDARY_WORDS)
                    .map(|t| Token {
                        position: t.position + shift,
                        ..t.clone()
                    }),
            )
            .collect()
    };
    let lang = match (&a.lang, &b.lang) {
        (Some((la, ta)), Some((lb, tb))) if la == lb => Some((*la, join(ta, tb))),
        (Some((la, ta)), _) => Some((*la, join(ta, &[]))),
        (None, Some((lb, tb))) => Some((*lb, join(&[], tb))),
        (None, None) => None,
    };
    Analyzed {
        exact: join(&a.exact, &b.exact),
        folded: join(&a.folded, &b.folded),
        lang,
        positions: shift + b.positions.min(BOUNDARY_WORDS),
    }
}

fn add_analyzed(fields: &Fields, doc: &mut IndexDoc, a: &Analyzed) {
    doc.add_pre_tokenized_text(fields.t_exact, pretokenized(&a.exact));
    doc.add_pre_tokenized_text(fields.t_folded, pretokenized(&a.folded));
    if let Some((lang, tokens)) = &a.lang {
        let field = fields
            .lang_field(*lang)
            .expect("analyzed language has a field");
        doc.add_pre_tokenized_text(field, pretokenized(tokens));
    }
}

fn pretokenized(tokens: &[Token]) -> PreTokenizedString {
    PreTokenizedString {
        text: String::new(),
        tokens: tokens
            .iter()
            .map(|t| TantivyToken {
                offset_from: t.from,
                offset_to: t.to,
                position: t.position,
                text: t.text.clone(),
                position_length: 1,
            })
            .collect(),
    }
}

/// The fields every document of a call carries.
struct CallFields<'a> {
    fields: &'a Fields,
    t: &'a Transcript,
    call_key: u64,
    meta: Vec<(Field, String)>,
}

impl<'a> CallFields<'a> {
    fn of(fields: &'a Fields, t: &'a Transcript) -> Self {
        let meta = METADATA_FIELDS
            .iter()
            .filter_map(|(name, keys)| {
                let value = keys.iter().find_map(|k| t.metadata.get(*k))?;
                Some((fields.meta_field(name)?, value.clone()))
            })
            .collect();
        CallFields {
            fields,
            t,
            call_key: key_of(&[&t.call_id]),
            meta,
        }
    }

    /// The fields of segment `i` (a pair's first segment), ending at `end_ms`.
    fn segment(&self, kind: &str, i: usize, end_ms: u64) -> IndexDoc {
        let (f, s) = (self.fields, &self.t.segments[i]);
        let mut doc = self.base(kind);
        doc.add_u64(f.segment, i as u64);
        doc.add_u64(f.key, segment_key(&self.t.call_id, i));
        doc.add_u64(f.start_ms, s.start_ms);
        doc.add_u64(f.end_ms, end_ms);
        doc.add_text(f.speaker, &s.speaker);
        doc.add_u64(f.channel, s.channel as u64);
        doc.add_text(f.language, &s.language);
        doc
    }

    fn base(&self, kind: &str) -> IndexDoc {
        let f = self.fields;
        let mut doc = IndexDoc::default();
        doc.add_text(f.kind, kind);
        doc.add_text(f.call_id, &self.t.call_id);
        doc.add_u64(f.call_key, self.call_key);
        doc.add_text(f.source_path, &self.t.source_path);
        if let Some(start) = self.t.call_start {
            doc.add_date(
                f.call_start,
                DateTime::from_timestamp_micros(start.as_microsecond()),
            );
        }
        for (field, value) in &self.meta {
            doc.add_text(*field, value);
        }
        if let Some(analysis) = &self.t.analysis {
            for rule in analysis.fired_rules() {
                doc.add_text(f.rule, rule);
            }
        }
        if !self.t.metadata.is_empty() {
            let object: BTreeMap<String, OwnedValue> = self
                .t
                .metadata
                .iter()
                .map(|(k, v)| (k.clone(), OwnedValue::Str(v.clone())))
                .collect();
            doc.add_object(f.metadata, object);
        }
        doc
    }
}
