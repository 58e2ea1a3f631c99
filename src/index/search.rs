//! Searching `OUT/index/`: a parsed [`Node`] becomes Tantivy queries over
//! the analyzed fields, hits are collected, de-duplicated, sorted, paged,
//! and each gets its snippet.
//!
//! A word matches when any of its forms does: folded (`t_folded`), stemmed
//! in Polish, Russian or English (`t_pl`, `t_ru`, `t_en`: the query word is
//! stemmed with each language's stemmer; a segment only has its own
//! language's field, so the others find nothing there), Hebrew (`t_he`,
//! which holds prefix-stripped variants). `exact:` and `--exact` use
//! `t_exact` alone. A query with two or more words also runs over the
//! boundary (`pair`) documents; such a hit counts only when neither of its
//! two segments matches on its own, so nothing is found twice.

use std::collections::HashSet;
use std::ops::Bound;
use std::path::Path;
use std::sync::Arc;

use tantivy::collector::{Collector, SegmentCollector};
use tantivy::columnar::Column;
use tantivy::query::{
    BooleanQuery, FuzzyTermQuery, Occur, PhrasePrefixQuery, PhraseQuery, Query, RangeQuery,
    RegexQuery, TermQuery,
};
use tantivy::schema::{Field, IndexRecordOption, Value};
use tantivy::{
    DateTime, DocAddress, Index, IndexReader, Score, SegmentReader, TantivyDocument, Term,
};

use super::query::{self, FilterField, Node, WordKind};
use super::schema::{Fields, KIND_PAIR, KIND_SEGMENT};
use super::{index_dir, tantivy_error};
use crate::error::{Error, Result};
use crate::model::{SearchFilters, SearchHit, SearchRequest, SearchResults, SearchSort};
use crate::text::analyze::{self, Lang};
use crate::text::highlight::{self, Term as HlTerm};

/// An open index for searching. Cheap to query many times; it sees a new
/// commit after [`SearchIndex::reload`] (or by itself shortly after one).
pub struct SearchIndex {
    reader: IndexReader,
    fields: Fields,
}

impl SearchIndex {
    /// Opens `OUT/index/` read-only (a running `callsift run` may be writing it).
    pub fn open(out_dir: &Path) -> Result<Self> {
        let dir = index_dir(out_dir);
        if !dir.join("meta.json").is_file() {
            return Err(Error::NoIndex {
                out_dir: out_dir.to_path_buf(),
            });
        }
        let index = Index::open_in_dir(&dir).map_err(|e| tantivy_error(&dir, e))?;
        let fields = Fields::new();
        if index.schema() != fields.schema {
            return Err(Error::Other(format!(
                "{}: the index has another schema; rebuild it with `callsift index rebuild --out {}`",
                dir.display(),
                out_dir.display()
            )));
        }
        let reader = index
            .reader_builder()
            .reload_policy(tantivy::ReloadPolicy::OnCommitWithDelay)
            .try_into()
            .map_err(|e| tantivy_error(&dir, e))?;
        Ok(SearchIndex { reader, fields })
    }

    /// Searches an index built in memory (see [`super::CallIndex`]).
    pub(crate) fn from_index(index: &Index, what: &str) -> Result<Self> {
        let reader = index
            .reader_builder()
            .reload_policy(tantivy::ReloadPolicy::Manual)
            .try_into()
            .map_err(|e| Error::Other(format!("{what}: index: {e}")))?;
        Ok(SearchIndex {
            reader,
            fields: Fields::new(),
        })
    }

    /// Picks up the latest commit now.
    pub fn reload(&self) -> Result<()> {
        self.reader
            .reload()
            .map_err(|e| Error::Other(format!("index reload: {e}")))
    }

    /// Runs a request; an invalid query is [`Error::Query`].
    pub fn search(&self, req: &SearchRequest) -> Result<SearchResults> {
        let node = query::parse(&req.query, req.exact).map_err(|error| Error::Query {
            query: req.query.clone(),
            error,
        })?;
        self.search_node(&node, req)
    }

    /// Runs a request whose query is already parsed (`req.query` is not read).
    pub fn search_node(&self, node: &Node, req: &SearchRequest) -> Result<SearchResults> {
        let built = build(&self.fields, node);
        let searcher = self.reader.searcher();
        let filters = filter_clauses(&self.fields, &req.filters);
        let keep = req.offset.saturating_add(req.limit);
        let run = |kind: &str, collector: &TopHits| -> Result<TopFruit> {
            let mut clauses: Vec<(Occur, Box<dyn Query>)> = vec![
                (Occur::Must, built.query.box_clone()),
                (Occur::Must, term_query(self.fields.kind, kind)),
            ];
            clauses.extend(filters.iter().map(|q| (Occur::Must, q.box_clone())));
            searcher
                .search(&BooleanQuery::new(clauses), collector)
                .map_err(|e| Error::Other(format!("search: {e}")))
        };
        // Only a query of two or more words can match across a boundary;
        // then the segment pass also hands over the keys of every segment
        // it matched, so a boundary hit on one of them is not counted twice.
        let spans = built.positive_words >= 2;
        let segments = run(
            KIND_SEGMENT,
            &TopHits {
                keep,
                sort: req.sort,
                want_keys: spans,
                exclude: None,
            },
        )?;
        let mut total = segments.count;
        let mut top = segments.top;
        if spans {
            let seen: Arc<HashSet<u64>> = Arc::new(segments.keys.into_iter().collect());
            let pairs = run(
                KIND_PAIR,
                &TopHits {
                    keep,
                    sort: req.sort,
                    want_keys: false,
                    exclude: Some(seen),
                },
            )?;
            total += pairs.count;
            top.extend(pairs.top);
        }
        sort_hits(&mut top, req.sort);
        let page = top
            .iter()
            .skip(req.offset)
            .take(req.limit)
            .map(|raw| self.hit(&searcher, raw, &built.terms))
            .collect::<Result<Vec<_>>>()?;
        Ok(SearchResults { total, hits: page })
    }

    fn hit(
        &self,
        searcher: &tantivy::Searcher,
        raw: &RawHit,
        terms: &[HlTerm],
    ) -> Result<SearchHit> {
        let f = &self.fields;
        let doc: TantivyDocument = searcher
            .doc(raw.address)
            .map_err(|e| Error::Other(format!("index: {e}")))?;
        let text_of = |field: Field| -> String {
            doc.get_first(field)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        let u64_of = |field: Field| doc.get_first(field).and_then(|v| v.as_u64()).unwrap_or(0);
        let text = text_of(f.text);
        let language = text_of(f.language);
        let highlights = join_adjacent(
            &text,
            highlight::find(&text, Lang::from_code(&language), terms),
        );
        let start_ms = u64_of(f.start_ms);
        let (first_end, first_len) = match raw.next {
            Some(_) => (u64_of(f.first_end_ms), u64_of(f.first_len) as usize),
            None => (u64_of(f.end_ms), text.len()),
        };
        let first_text = text.get(..first_len).unwrap_or(&text);
        let at_ms = estimate_at(first_text, &highlights, start_ms, first_end);
        Ok(SearchHit {
            at_ms,
            call_id: text_of(f.call_id),
            source_path: text_of(f.source_path),
            segment: u64_of(f.segment) as usize,
            start_ms,
            end_ms: u64_of(f.end_ms),
            speaker: text_of(f.speaker),
            channel: u64_of(f.channel) as usize,
            language,
            call_start: doc
                .get_first(f.call_start)
                .and_then(|v| v.as_datetime())
                .and_then(|d| jiff::Timestamp::from_microsecond(d.into_timestamp_micros()).ok()),
            agent_id: f
                .meta_field("agent_id")
                .and_then(|fl| doc.get_first(fl))
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            snippet: snippet_html(&text, &highlights),
            text,
            highlights,
            score: raw.score,
            across_segments: raw.next.is_some(),
        })
    }
}

/// The moment of the first matched word, estimated from its place among
/// the characters of the segment that spans `start_ms..end_ms`
/// (transcripts carry segment times, not word times).
fn estimate_at(text: &str, highlights: &[(usize, usize)], start_ms: u64, end_ms: u64) -> u64 {
    let Some(&(from, _)) = highlights.first() else {
        return start_ms;
    };
    let total = text.chars().count().max(1) as u64;
    let before = text
        .get(..from)
        .map_or(total, |t| t.chars().count() as u64)
        .min(total);
    start_ms + end_ms.saturating_sub(start_ms) * before / total
}

/// Joins highlights with only whitespace between them, so a phrase is
/// marked as one: `[personal mobile]`, not `[personal] [mobile]`.
fn join_adjacent(text: &str, ranges: Vec<(usize, usize)>) -> Vec<(usize, usize)> {
    let mut out: Vec<(usize, usize)> = Vec::with_capacity(ranges.len());
    for (from, to) in ranges {
        match out.last_mut() {
            Some(last) if text[last.1..from].chars().all(char::is_whitespace) => last.1 = to,
            _ => out.push((from, to)),
        }
    }
    out
}

/// `text` HTML-escaped, with the highlighted ranges in `<b>…</b>`.
pub fn snippet_html(text: &str, highlights: &[(usize, usize)]) -> String {
    let escape = |s: &str| {
        s.replace('&', "&amp;")
            .replace('<', "&lt;")
            .replace('>', "&gt;")
            .replace('"', "&quot;")
    };
    let mut out = String::with_capacity(text.len() + 16);
    let mut at = 0;
    for &(from, to) in highlights {
        out.push_str(&escape(&text[at..from]));
        out.push_str("<b>");
        out.push_str(&escape(&text[from..to]));
        out.push_str("</b>");
        at = to;
    }
    out.push_str(&escape(&text[at..]));
    out
}

/// A query made from a parsed node, with what the snippet highlights.
struct Built {
    query: Box<dyn Query>,
    terms: Vec<HlTerm>,
    /// Words outside NOT: with two or more, a match can span a boundary.
    positive_words: usize,
}

fn build(fields: &Fields, node: &Node) -> Built {
    let mut terms = Vec::new();
    let mut positive_words = 0;
    let query = build_node(fields, node, false, &mut terms, &mut positive_words);
    Built {
        query,
        terms,
        positive_words,
    }
}

fn build_node(
    f: &Fields,
    node: &Node,
    negated: bool,
    terms: &mut Vec<HlTerm>,
    words: &mut usize,
) -> Box<dyn Query> {
    match node {
        Node::And(parts) => Box::new(BooleanQuery::new(
            parts
                .iter()
                .map(|p| match p {
                    Node::Not(inner) => {
                        (Occur::MustNot, build_node(f, inner, !negated, terms, words))
                    }
                    p => (Occur::Must, build_node(f, p, negated, terms, words)),
                })
                .collect(),
        )),
        Node::Or(parts) => Box::new(BooleanQuery::new(
            parts
                .iter()
                .map(|p| (Occur::Should, build_node(f, p, negated, terms, words)))
                .collect(),
        )),
        // A NOT outside an AND (`a OR NOT b` is refused by the parser; this
        // is `(NOT b)` inside a group): everything but b.
        Node::Not(inner) => Box::new(BooleanQuery::new(vec![
            (
                Occur::Must,
                Box::new(tantivy::query::AllQuery) as Box<dyn Query>,
            ),
            (Occur::MustNot, build_node(f, inner, !negated, terms, words)),
        ])),
        Node::Filter { field, value } => filter_query(f, *field, value),
        Node::Word { text, exact, kind } => {
            let ws: Vec<String> = analyze::words(text).into_iter().map(|w| w.text).collect();
            if !negated {
                *words += ws.len();
                terms.extend(ws.iter().map(|w| highlight_term(w, *exact, *kind)));
            }
            match (ws.len(), kind) {
                (0, _) => Box::new(tantivy::query::EmptyQuery),
                (1, WordKind::Plain) => word_query(f, &ws[0], *exact),
                (1, WordKind::Fuzzy(d)) => fuzzy_query(f, &ws[0], *exact, *d),
                (1, WordKind::Prefix) => prefix_query(f, &ws[0], *exact),
                (_, WordKind::Prefix) => phrase_prefix_query(f, &ws, *exact),
                _ => phrase_query(f, &ws, *exact, 0),
            }
        }
        Node::Phrase { text, exact, slop } => {
            let ws: Vec<String> = analyze::words(text).into_iter().map(|w| w.text).collect();
            if !negated {
                *words += ws.len();
                terms.extend(
                    ws.iter()
                        .map(|w| highlight_term(w, *exact, WordKind::Plain)),
                );
            }
            match ws.len() {
                0 => Box::new(tantivy::query::EmptyQuery),
                1 => word_query(f, &ws[0], *exact),
                _ => phrase_query(f, &ws, *exact, *slop),
            }
        }
    }
}

fn highlight_term(word: &str, exact: bool, kind: WordKind) -> HlTerm {
    match (kind, exact) {
        (WordKind::Plain, true) => HlTerm::Exact(word.to_string()),
        (WordKind::Plain, false) => HlTerm::Word(word.to_string()),
        (WordKind::Prefix, _) => HlTerm::Prefix(word.to_string()),
        (WordKind::Fuzzy(d), _) => HlTerm::Fuzzy {
            word: word.to_string(),
            distance: d,
        },
    }
}

fn term(field: Field, text: &str) -> Term {
    Term::from_field_text(field, text)
}

fn term_query(field: Field, text: &str) -> Box<dyn Query> {
    Box::new(TermQuery::new(
        term(field, text),
        IndexRecordOption::WithFreqs,
    ))
}

/// Every (field, form) a word is searched as.
fn word_forms(f: &Fields, word: &str, exact: bool) -> Vec<(Field, String)> {
    if exact {
        return vec![(f.t_exact, word.to_string())];
    }
    let mut forms = vec![(f.t_folded, analyze::fold(word))];
    for lang in Lang::ANALYZED {
        let field = f.lang_field(lang).expect("analyzed language has a field");
        forms.push((field, analyze::query_form(lang, word)));
    }
    forms
}

fn word_query(f: &Fields, word: &str, exact: bool) -> Box<dyn Query> {
    let clauses = word_forms(f, word, exact)
        .into_iter()
        .map(|(field, form)| (Occur::Should, term_query(field, &form)))
        .collect();
    Box::new(BooleanQuery::new(clauses))
}

fn phrase_query(f: &Fields, words: &[String], exact: bool, slop: u32) -> Box<dyn Query> {
    let per_word: Vec<Vec<(Field, String)>> =
        words.iter().map(|w| word_forms(f, w, exact)).collect();
    let fields = per_word[0].len();
    let clauses = (0..fields)
        .map(|k| {
            let field = per_word[0][k].0;
            let terms = per_word
                .iter()
                .enumerate()
                .map(|(i, forms)| (i, term(field, &forms[k].1)))
                .collect();
            let q: Box<dyn Query> = Box::new(PhraseQuery::new_with_offset_and_slop(terms, slop));
            (Occur::Should, q)
        })
        .collect();
    Box::new(BooleanQuery::new(clauses))
}

fn fuzzy_query(f: &Fields, word: &str, exact: bool, distance: u8) -> Box<dyn Query> {
    if distance == 0 {
        return word_query(f, word, exact);
    }
    let fuzzy = |field: Field, form: &str| -> (Occur, Box<dyn Query>) {
        (
            Occur::Should,
            Box::new(FuzzyTermQuery::new(term(field, form), distance, true)),
        )
    };
    if exact {
        return Box::new(BooleanQuery::new(vec![fuzzy(f.t_exact, word)]));
    }
    let mut clauses = vec![fuzzy(f.t_folded, &analyze::fold(word))];
    // Hebrew words behind their prefixes live in t_he only.
    if word.chars().any(crate::text::is_hebrew_letter) {
        clauses.push(fuzzy(f.t_he, word));
    } else {
        // Edits on the stem too, so `komórka~1` still meets `komórki` (as
        // the snippet's highlighting, `text::highlight`, already allows).
        for lang in [Lang::En, Lang::Pl, Lang::Ru] {
            let field = f.lang_field(lang).expect("analyzed language has a field");
            clauses.push(fuzzy(field, &analyze::query_form(lang, word)));
        }
    }
    Box::new(BooleanQuery::new(clauses))
}

fn prefix_query(f: &Fields, prefix: &str, exact: bool) -> Box<dyn Query> {
    let (field, form) = if exact {
        (f.t_exact, prefix.to_string())
    } else {
        (f.t_folded, analyze::fold(prefix))
    };
    let pattern = format!("{}.*", regex_escape(&form));
    match RegexQuery::from_pattern(&pattern, field) {
        Ok(q) => Box::new(q),
        Err(e) => {
            tracing::warn!("prefix `{prefix}`: {e}");
            Box::new(tantivy::query::EmptyQuery)
        }
    }
}

/// `e-ma*`: a phrase whose last word is a prefix.
fn phrase_prefix_query(f: &Fields, words: &[String], exact: bool) -> Box<dyn Query> {
    let field = if exact { f.t_exact } else { f.t_folded };
    let terms = words
        .iter()
        .map(|w| term(field, &if exact { w.clone() } else { analyze::fold(w) }))
        .collect();
    Box::new(PhrasePrefixQuery::new(terms))
}

fn regex_escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if "\\.+*?()|[]{}^$#&-~\"".contains(c) {
            out.push('\\');
        }
        out.push(c);
    }
    out
}

fn filter_query(f: &Fields, field: FilterField, value: &str) -> Box<dyn Query> {
    let meta = |name: &str| f.meta_field(name).expect("metadata field");
    match field {
        FilterField::Speaker => term_query(f.speaker, value),
        // `ru-RU`, `RU` and `ru` alike: segments carry the bare code.
        FilterField::Language => term_query(f.language, &analyze::primary_subtag(value)),
        FilterField::Call => call_query(f, value),
        FilterField::Agent => term_query(meta("agent_id"), value),
        FilterField::Customer => term_query(meta("customer_number"), value),
        FilterField::Direction => term_query(meta("direction"), value),
        FilterField::Campaign => term_query(meta("campaign"), value),
        FilterField::Queue => term_query(meta("queue"), value),
        FilterField::Rule => term_query(f.rule, value),
    }
}

/// A call id or a prefix of one.
fn call_query(f: &Fields, value: &str) -> Box<dyn Query> {
    let id = value.to_ascii_lowercase();
    if !id.chars().all(|c| c.is_ascii_hexdigit()) || id.is_empty() {
        return Box::new(tantivy::query::EmptyQuery);
    }
    match RegexQuery::from_pattern(&format!("{id}.*"), f.call_id) {
        Ok(q) => Box::new(q),
        Err(_) => Box::new(tantivy::query::EmptyQuery),
    }
}

/// The request's filters as queries every hit must match.
fn filter_clauses(f: &Fields, filters: &SearchFilters) -> Vec<Box<dyn Query>> {
    let mut out = Vec::new();
    if let Some(s) = &filters.speaker {
        out.push(filter_query(f, FilterField::Speaker, s));
    }
    if let Some(a) = &filters.agent {
        out.push(filter_query(f, FilterField::Agent, a));
    }
    if let Some(l) = &filters.language {
        out.push(filter_query(f, FilterField::Language, l));
    }
    if let Some(c) = &filters.call {
        out.push(call_query(f, c));
    }
    if let Some(r) = &filters.rule {
        out.push(filter_query(f, FilterField::Rule, r));
    }
    if filters.from.is_some() || filters.to.is_some() {
        let date = |t: jiff::Timestamp| {
            Term::from_field_date(
                f.call_start,
                DateTime::from_timestamp_micros(t.as_microsecond()),
            )
        };
        let lower = filters
            .from
            .map_or(Bound::Unbounded, |t| Bound::Included(date(t)));
        let upper = filters
            .to
            .map_or(Bound::Unbounded, |t| Bound::Excluded(date(t)));
        out.push(Box::new(RangeQuery::new(lower, upper)));
    }
    out
}

/// A matched document before its stored fields are read.
#[derive(Debug, Clone)]
struct RawHit {
    address: DocAddress,
    score: Score,
    /// A pair's second segment.
    next: Option<u64>,
    call_key: u64,
    call_start: Option<i64>,
    start_ms: u64,
}

fn sort_hits(hits: &mut [RawHit], sort: SearchSort) {
    hits.sort_by(|a, b| compare(a, b, sort));
}

fn compare(a: &RawHit, b: &RawHit, sort: SearchSort) -> std::cmp::Ordering {
    let newest_first = |h: &RawHit| std::cmp::Reverse(h.call_start.unwrap_or(i64::MIN));
    let by_date = || {
        newest_first(a)
            .cmp(&newest_first(b))
            .then(a.call_key.cmp(&b.call_key))
            .then(a.start_ms.cmp(&b.start_ms))
    };
    match sort {
        SearchSort::Score => b.score.total_cmp(&a.score).then_with(by_date),
        SearchSort::Date => by_date(),
    }
}

/// Counts the matches and keeps the best `keep` of them (in `sort`
/// order); with `want_keys`, also every match's segment key; with
/// `exclude`, skips (and does not count) pair documents either of whose
/// segments is in the set.
struct TopHits {
    keep: usize,
    sort: SearchSort,
    want_keys: bool,
    exclude: Option<Arc<HashSet<u64>>>,
}

#[derive(Default)]
struct TopFruit {
    count: usize,
    top: Vec<RawHit>,
    keys: Vec<u64>,
}

struct TopHitsSegment {
    segment: u32,
    keep: usize,
    sort: SearchSort,
    want_keys: bool,
    exclude: Option<Arc<HashSet<u64>>>,
    key: Column<u64>,
    next: Column<u64>,
    call_key: Column<u64>,
    start_ms: Column<u64>,
    call_start: Column<DateTime>,
    fruit: TopFruit,
    /// The worst hit kept after the last cut: anything worse is skipped.
    floor: Option<RawHit>,
}

impl Collector for TopHits {
    type Fruit = TopFruit;
    type Child = TopHitsSegment;

    fn for_segment(&self, segment: u32, reader: &SegmentReader) -> tantivy::Result<TopHitsSegment> {
        let ff = reader.fast_fields();
        Ok(TopHitsSegment {
            segment,
            keep: self.keep,
            sort: self.sort,
            want_keys: self.want_keys,
            exclude: self.exclude.clone(),
            key: ff.u64("key")?,
            next: ff.u64("pair_next")?,
            call_key: ff.u64("call_key")?,
            start_ms: ff.u64("start_ms")?,
            call_start: ff.date("call_start")?,
            fruit: TopFruit::default(),
            floor: None,
        })
    }

    fn requires_scoring(&self) -> bool {
        self.sort == SearchSort::Score
    }

    fn merge_fruits(&self, fruits: Vec<TopFruit>) -> tantivy::Result<TopFruit> {
        let mut all = TopFruit::default();
        for f in fruits {
            all.count += f.count;
            all.top.extend(f.top);
            all.keys.extend(f.keys);
        }
        cut(&mut all.top, self.keep, self.sort);
        Ok(all)
    }
}

/// Sorts `hits` and keeps the first `keep`.
fn cut(hits: &mut Vec<RawHit>, keep: usize, sort: SearchSort) {
    if hits.len() > keep {
        if keep > 0 {
            hits.select_nth_unstable_by(keep - 1, |a, b| compare(a, b, sort));
        }
        hits.truncate(keep);
    }
    hits.sort_by(|a, b| compare(a, b, sort));
}

impl SegmentCollector for TopHitsSegment {
    type Fruit = TopFruit;

    fn collect(&mut self, doc: u32, score: Score) {
        let key = self.key.first(doc).unwrap_or(0);
        let next = self.next.first(doc);
        if let Some(seen) = &self.exclude
            && (seen.contains(&key) || next.is_some_and(|n| seen.contains(&n)))
        {
            return;
        }
        self.fruit.count += 1;
        if self.want_keys {
            self.fruit.keys.push(key);
        }
        if self.keep == 0 {
            return;
        }
        if self.sort == SearchSort::Score && self.floor.as_ref().is_some_and(|f| score < f.score) {
            return;
        }
        let hit = RawHit {
            address: DocAddress::new(self.segment, doc),
            score,
            next,
            call_key: self.call_key.first(doc).unwrap_or(0),
            call_start: self
                .call_start
                .first(doc)
                .map(|d| d.into_timestamp_micros()),
            start_ms: self.start_ms.first(doc).unwrap_or(0),
        };
        if self
            .floor
            .as_ref()
            .is_some_and(|f| compare(&hit, f, self.sort).is_gt())
        {
            return;
        }
        self.fruit.top.push(hit);
        if self.fruit.top.len() >= 2 * self.keep.max(32) {
            cut(&mut self.fruit.top, self.keep, self.sort);
            self.floor = self.fruit.top.last().cloned();
        }
    }

    fn harvest(mut self) -> TopFruit {
        cut(&mut self.fruit.top, self.keep, self.sort);
        self.fruit
    }
}
