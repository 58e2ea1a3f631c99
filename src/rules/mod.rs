//! The rules stage: watchlists, do-not-call requests and weighted
//! scorecards from the pipeline file, judged on every finished call, and
//! redaction of personal data before anything is written.
//!
//! Matching goes through [`crate::index::CallIndex`]: the call is indexed
//! in memory with the search index's own documents and analyzers, and each
//! phrase is searched as `callsift search "<phrase>"` would search it (a
//! query as written), so a rule fires exactly where a search finds the
//! phrase: inflections, diacritics, Hebrew prefixes, phrases across
//! whisper's segment cuts. A fuzzy phrase (`fuzzy = N`) is searched as its
//! words, each within N edits, and kept where they stand side by side in
//! order ([`crate::text::highlight::find_phrase`]).
//!
//! What the rules found goes into the transcript (`analysis`), from which
//! the hits and scores tables, the index's rule names and the do-not-call
//! export are made; `callsift rescore` judges stored transcripts again.

pub mod dnc;
pub mod explain;
pub mod spec;
mod stage;

use crate::error::{Error, Result};
use crate::index::CallIndex;
use crate::index::query::{self, Node, WordKind};
use crate::model::{
    CallAnalysis, CriterionResult, HitKind, RuleHit, ScorecardResult, SearchFilters, SearchRequest,
    SearchSort, Severity, Transcript,
};
use crate::text::analyze::{self, Lang};
use crate::text::highlight::{self, Term};

use spec::{ANY_SPEAKER, DNC_SPEAKER, fuzzy_of, speaker_of};
pub use stage::RulesStage;

/// The rule name of a listed-number hit (a call placed to a number on the
/// do-not-call list after it was listed).
pub const DNC_LISTED_RULE: &str = "dnc_listed";
/// More matches of one phrase in one call than anyone reads.
const MAX_MATCHES: usize = 10_000;
/// Words shorter than this in a fuzzy phrase must match without edits: one
/// edit turns «не» into «нет» and "my" into "by".
pub const MIN_FUZZY_CHARS: usize = 4;

/// One alternative of a rule: a phrase, or a query, as compiled for search.
#[derive(Debug, Clone)]
struct Matcher {
    /// As written in the pipeline file (reported as the hit's `phrase`).
    label: String,
    node: Node,
    /// A fuzzy phrase's words, whose order is checked after the search.
    in_order: Option<Vec<Term>>,
}

impl Matcher {
    fn phrase(phrase: &str, fuzzy: u8) -> Result<Self> {
        let words: Vec<String> = analyze::words(phrase).into_iter().map(|w| w.text).collect();
        if fuzzy == 0 {
            // Exactly the query a user types for this phrase.
            let quoted = format!("\"{}\"", phrase.replace('"', " "));
            return Self::query_as(phrase, &quoted);
        }
        let edits = |w: &str| {
            if w.chars().count() >= MIN_FUZZY_CHARS {
                fuzzy
            } else {
                0
            }
        };
        let node = Node::And(
            words
                .iter()
                .map(|w| Node::Word {
                    text: w.clone(),
                    exact: false,
                    kind: match edits(w) {
                        0 => WordKind::Plain,
                        n => WordKind::Fuzzy(n),
                    },
                })
                .collect(),
        );
        let terms = words
            .iter()
            .map(|w| match edits(w) {
                0 => Term::Word(w.clone()),
                n => Term::Fuzzy {
                    word: w.clone(),
                    distance: n,
                },
            })
            .collect();
        Ok(Matcher {
            label: phrase.to_string(),
            node,
            in_order: Some(terms),
        })
    }

    fn query(q: &str) -> Result<Self> {
        Self::query_as(q, q)
    }

    fn query_as(label: &str, q: &str) -> Result<Self> {
        let node = query::parse(q, false).map_err(|error| Error::Query {
            query: q.to_string(),
            error,
        })?;
        Ok(Matcher {
            // A multi-line query reads as one line in reasons, alerts and tables.
            label: label.split_whitespace().collect::<Vec<_>>().join(" "),
            node,
            in_order: None,
        })
    }
}

/// The phrases of a rule, then its query.
fn matchers(
    phrases: Option<&Vec<String>>,
    query: Option<&String>,
    fuzzy: u8,
) -> Result<Vec<Matcher>> {
    let mut out = Vec::new();
    for p in phrases.into_iter().flatten() {
        out.push(Matcher::phrase(p, fuzzy)?);
    }
    if let Some(q) = query.filter(|q| !q.trim().is_empty()) {
        out.push(Matcher::query(q)?);
    }
    Ok(out)
}

/// A watchlist or do-not-call rule, compiled.
#[derive(Debug, Clone)]
struct Rule {
    name: String,
    kind: HitKind,
    severity: Severity,
    speaker: String,
    matchers: Vec<Matcher>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum CriterionKind {
    /// Met when any phrase (or the query) is found.
    Any,
    /// Met when none is found.
    None,
}

#[derive(Debug, Clone)]
struct Criterion {
    section: String,
    name: String,
    weight: f64,
    critical: bool,
    speaker: String,
    first_ms: Option<u64>,
    last_ms: Option<u64>,
    kind: CriterionKind,
    matchers: Vec<Matcher>,
    applies_if: Option<Matcher>,
}

#[derive(Debug, Clone)]
struct Card {
    name: String,
    direction: Option<String>,
    criteria: Vec<Criterion>,
}

/// Where one matcher matched in a call.
#[derive(Debug, Clone, PartialEq)]
pub struct Found {
    pub segment: usize,
    pub at_ms: u64,
    pub end_ms: u64,
    pub speaker: String,
    /// The matched words as said.
    pub matched: String,
    /// The phrase or query that matched, as written.
    pub label: String,
}

/// Why a watchlist or do-not-call rule did or did not fire (`rules test`).
#[derive(Debug, Clone, PartialEq)]
pub struct RuleOutcome {
    pub rule: String,
    pub kind: HitKind,
    pub hits: Vec<RuleHit>,
    /// For a rule that did not fire: what was searched and what came close.
    pub why_not: Option<String>,
}

/// A call judged by every rule, with the explanations `rules test` prints.
#[derive(Debug, Clone)]
pub struct Judgement {
    pub analysis: CallAnalysis,
    pub rules: Vec<RuleOutcome>,
}

/// Every rule of a pipeline file, compiled.
#[derive(Debug, Clone)]
pub struct RuleSet {
    pipeline: String,
    rules: Vec<Rule>,
    cards: Vec<Card>,
}

impl RuleSet {
    /// Compiles the rules of a checked pipeline file (`config` has already
    /// refused bad queries, empty lists and the like).
    pub fn new(p: &crate::config::PipelineFile, pipeline_name: &str) -> Result<Self> {
        let mut rules = Vec::new();
        let kinds = [
            (
                HitKind::Watchlist,
                &p.watchlist,
                spec::WATCHLIST_SEVERITY,
                ANY_SPEAKER,
            ),
            (
                HitKind::DncRequest,
                &p.do_not_call,
                spec::DNC_SEVERITY,
                DNC_SPEAKER,
            ),
        ];
        for (kind, specs, severity, speaker) in kinds {
            for r in specs {
                rules.push(Rule {
                    name: r.name.get_ref().clone(),
                    kind,
                    severity: r.severity.unwrap_or(severity),
                    speaker: speaker_of(&r.speaker, speaker).to_string(),
                    matchers: matchers(
                        r.phrases.as_ref().map(|p| p.get_ref()),
                        r.query.as_ref().map(|q| q.get_ref()),
                        fuzzy_of(&r.fuzzy),
                    )?,
                });
            }
        }
        let mut cards = Vec::new();
        for c in &p.scorecard {
            let mut criteria = Vec::new();
            for k in &c.criterion {
                let (kind, phrases) = match (&k.any, &k.none) {
                    (_, Some(none)) => (CriterionKind::None, Some(none.get_ref())),
                    (any, None) => (CriterionKind::Any, any.as_ref().map(|a| a.get_ref())),
                };
                criteria.push(Criterion {
                    section: k.section.clone(),
                    name: k.name.get_ref().clone(),
                    weight: *k.weight.get_ref(),
                    critical: k.critical,
                    speaker: speaker_of(&k.speaker, ANY_SPEAKER).to_string(),
                    first_ms: k.within_first_s.as_ref().map(|s| s.get_ref() * 1000),
                    last_ms: k.within_last_s.as_ref().map(|s| s.get_ref() * 1000),
                    kind,
                    matchers: matchers(
                        phrases,
                        k.query.as_ref().map(|q| q.get_ref()),
                        fuzzy_of(&k.fuzzy),
                    )?,
                    applies_if: k
                        .applies_if
                        .as_ref()
                        .map(|q| Matcher::query(q.get_ref()))
                        .transpose()?,
                });
            }
            cards.push(Card {
                name: c.name.get_ref().clone(),
                direction: c.direction.as_ref().map(|d| d.get_ref().clone()),
                criteria,
            });
        }
        Ok(RuleSet {
            pipeline: pipeline_name.to_string(),
            rules,
            cards,
        })
    }

    /// Whether there is anything to judge.
    pub fn is_empty(&self) -> bool {
        self.rules.is_empty() && self.cards.is_empty()
    }

    /// Only the do-not-call rules (for `rescore`'s first pass, which builds
    /// the list before any call is checked against it).
    pub fn do_not_call_only(&self) -> RuleSet {
        RuleSet {
            pipeline: self.pipeline.clone(),
            rules: self
                .rules
                .iter()
                .filter(|r| r.kind == HitKind::DncRequest)
                .cloned()
                .collect(),
            cards: Vec::new(),
        }
    }

    /// Judges one call (the listed-number check is the caller's: it needs
    /// the do-not-call list, see [`dnc::DncList::listed_hit`]).
    pub fn judge(&self, t: &Transcript) -> Result<Judgement> {
        let index = CallIndex::build(t)?;
        let call = CallView { t, index: &index };
        let mut analysis = CallAnalysis {
            pipeline: self.pipeline.clone(),
            ..CallAnalysis::default()
        };
        let mut outcomes = Vec::new();
        for rule in &self.rules {
            let outcome = call.rule(rule)?;
            analysis.hits.extend(outcome.hits.iter().cloned());
            outcomes.push(outcome);
        }
        for card in &self.cards {
            if let Some(result) = call.card(card)? {
                analysis.scorecards.push(result);
            }
        }
        analysis.hits.sort_by(|a, b| {
            (a.start_ms, a.segment, &a.rule).cmp(&(b.start_ms, b.segment, &b.rule))
        });
        Ok(Judgement {
            analysis,
            rules: outcomes,
        })
    }
}

/// One call and its in-memory index.
struct CallView<'a> {
    t: &'a Transcript,
    index: &'a CallIndex,
}

/// `mm:ss` (or `h:mm:ss`) of a moment in a call.
pub fn clock(ms: u64) -> String {
    let s = ms / 1000;
    if s >= 3600 {
        format!("{}:{:02}:{:02}", s / 3600, s / 60 % 60, s % 60)
    } else {
        format!("{:02}:{:02}", s / 60, s % 60)
    }
}

impl CallView<'_> {
    /// Whether the call has no segment of `speaker` but mixed (mono) ones:
    /// then who said what is not known, and a speaker's rule listens to all.
    fn speaker_unknown(&self, speaker: &str) -> bool {
        speaker != ANY_SPEAKER
            && self.t.channels <= 1
            && !self.t.segments.iter().any(|s| s.speaker == speaker)
    }

    /// Every place `m` matches, said by `speaker` (`any`: anyone).
    fn find(&self, m: &Matcher, speaker: &str) -> Result<Vec<Found>> {
        let filter =
            (speaker != ANY_SPEAKER && !self.speaker_unknown(speaker)).then(|| speaker.to_string());
        let req = SearchRequest {
            query: String::new(),
            exact: false,
            filters: SearchFilters {
                speaker: filter,
                ..SearchFilters::default()
            },
            sort: SearchSort::Date,
            limit: MAX_MATCHES,
            offset: 0,
        };
        let results = self.index.search_node(&m.node, &req)?;
        let mut out = Vec::new();
        for hit in results.hits {
            let ranges = match &m.in_order {
                Some(terms) => {
                    let lang = Lang::from_code(&hit.language);
                    match highlight::find_phrase(&hit.text, lang, terms) {
                        Some(r) => vec![r],
                        None => continue,
                    }
                }
                None => hit.highlights.clone(),
            };
            let matched = ranges
                .iter()
                .filter_map(|&(a, b)| hit.text.get(a..b))
                .collect::<Vec<_>>()
                .join(" … ");
            out.push(Found {
                segment: hit.segment,
                at_ms: hit.at_ms,
                end_ms: hit.end_ms,
                speaker: hit.speaker,
                matched,
                label: m.label.clone(),
            });
        }
        out.sort_by_key(|f| (f.at_ms, f.segment));
        Ok(out)
    }

    /// Every place any of `ms` matches, the first matcher's find kept where
    /// two match in one segment.
    fn find_any(&self, ms: &[Matcher], speaker: &str) -> Result<Vec<Found>> {
        let mut all: Vec<Found> = Vec::new();
        for m in ms {
            for f in self.find(m, speaker)? {
                if !all.iter().any(|a| a.segment == f.segment) {
                    all.push(f);
                }
            }
        }
        all.sort_by_key(|f| (f.at_ms, f.segment));
        Ok(all)
    }

    fn rule(&self, rule: &Rule) -> Result<RuleOutcome> {
        let found = self.find_any(&rule.matchers, &rule.speaker)?;
        let hits: Vec<RuleHit> = found
            .iter()
            .map(|f| RuleHit {
                rule: rule.name.clone(),
                kind: rule.kind,
                severity: rule.severity,
                speaker: f.speaker.clone(),
                segment: Some(f.segment),
                start_ms: f.at_ms,
                end_ms: f.end_ms,
                matched: f.matched.clone(),
                phrase: f.label.clone(),
            })
            .collect();
        let why_not = if hits.is_empty() {
            Some(self.why_not_found(&rule.matchers, &rule.speaker, None)?)
        } else {
            None
        };
        Ok(RuleOutcome {
            rule: rule.name.clone(),
            kind: rule.kind,
            hits,
            why_not,
        })
    }

    /// What came closest when nothing was found: said by someone else, or
    /// outside the part of the call the criterion looks at.
    fn why_not_found(
        &self,
        ms: &[Matcher],
        speaker: &str,
        window: Option<&Window>,
    ) -> Result<String> {
        let what = match ms.len() {
            1 => format!("«{}» was not said", ms[0].label),
            n => format!("none of its {n} phrases/queries was said"),
        };
        let by = if speaker == ANY_SPEAKER {
            String::new()
        } else {
            format!(" by {speaker}")
        };
        let elsewhere = self.find_any(ms, ANY_SPEAKER)?;
        let in_window: Vec<&Found> = elsewhere
            .iter()
            .filter(|f| window.is_none_or(|w| w.contains(f.at_ms)))
            .collect();
        if let Some(f) = in_window.first()
            && speaker != ANY_SPEAKER
        {
            return Ok(format!(
                "{what}{by}{}; {} said «{}» at {}",
                window.map(Window::describe).unwrap_or_default(),
                f.speaker,
                f.matched,
                clock(f.at_ms)
            ));
        }
        if let (Some(w), Some(f)) = (window, elsewhere.first()) {
            return Ok(format!(
                "{what}{by}{}; «{}» was said at {} by {}",
                w.describe(),
                f.matched,
                clock(f.at_ms),
                f.speaker
            ));
        }
        Ok(format!(
            "{what}{by}{}",
            window.map(Window::describe).unwrap_or_default()
        ))
    }

    fn card(&self, card: &Card) -> Result<Option<ScorecardResult>> {
        // `out`, `OUTBOUND`, a PBX's own words: read as the metadata stage
        // reads them; an empty or unknown direction is graded.
        let got = self
            .t
            .standard_metadata("direction")
            .map(crate::metadata::normalize_direction)
            .filter(|d| matches!(d.as_str(), "inbound" | "outbound" | "internal"));
        if let (Some(want), Some(got)) = (&card.direction, got)
            && *want != got
        {
            return Ok(None);
        }
        let mut criteria = Vec::new();
        for c in &card.criteria {
            criteria.push(self.criterion(c)?);
        }
        // A fold from +0.0: `sum` of no f64 is -0.0, which prints as "-0.0".
        let applicable = criteria
            .iter()
            .filter(|c| c.applicable)
            .fold(0.0, |a, c| a + c.weight);
        let met = criteria
            .iter()
            .filter(|c| c.applicable && c.passed)
            .fold(0.0, |a, c| a + c.weight);
        let critical_failed: Vec<String> = criteria
            .iter()
            .filter(|c| c.applicable && c.critical && !c.passed)
            .map(|c| c.criterion.clone())
            .collect();
        let score = if applicable <= 0.0 {
            None
        } else if !critical_failed.is_empty() {
            Some(0.0)
        } else {
            Some(100.0 * met / applicable)
        };
        Ok(Some(ScorecardResult {
            scorecard: card.name.clone(),
            score,
            critical_failed,
            criteria,
        }))
    }

    fn criterion(&self, c: &Criterion) -> Result<CriterionResult> {
        let mut result = CriterionResult {
            section: c.section.clone(),
            criterion: c.name.clone(),
            weight: c.weight,
            critical: c.critical,
            applicable: true,
            passed: false,
            reason: String::new(),
            evidence_segment: None,
            evidence_ms: None,
            evidence_text: None,
        };
        if let Some(cond) = &c.applies_if
            && self.find(cond, ANY_SPEAKER)?.is_empty()
        {
            result.applicable = false;
            result.reason = format!("not applicable: `{}` does not match this call", cond.label);
            return Ok(result);
        }
        let window = Window {
            first_ms: c.first_ms,
            last_ms: c.last_ms,
            duration_ms: self.t.duration_ms,
        };
        let found: Vec<Found> = self
            .find_any(&c.matchers, &c.speaker)?
            .into_iter()
            .filter(|f| window.contains(f.at_ms))
            .collect();
        let mono = if self.speaker_unknown(&c.speaker) {
            " (mono recording: any speaker counted)"
        } else {
            ""
        };
        if let Some(f) = found.first() {
            result.evidence_segment = Some(f.segment);
            result.evidence_ms = Some(f.at_ms);
            result.evidence_text = Some(f.matched.clone());
        }
        match (c.kind, found.first()) {
            (CriterionKind::Any, Some(f)) => {
                result.passed = true;
                result.reason = format!(
                    "{} said «{}» at {}{mono}",
                    f.speaker,
                    f.matched,
                    clock(f.at_ms)
                );
            }
            (CriterionKind::Any, None) => {
                result.reason = format!(
                    "not met: {}{mono}",
                    self.why_not_found(&c.matchers, &c.speaker, Some(&window))?
                );
            }
            (CriterionKind::None, Some(f)) => {
                result.reason = format!(
                    "not met: {} said «{}» at {}{mono}",
                    f.speaker,
                    f.matched,
                    clock(f.at_ms)
                );
            }
            (CriterionKind::None, None) => {
                result.passed = true;
                result.reason = format!(
                    "met: {}{}{mono}",
                    match c.matchers.len() {
                        1 => format!("«{}» was not said", c.matchers[0].label),
                        n => format!("none of its {n} phrases was said"),
                    },
                    window.describe()
                );
            }
        }
        Ok(result)
    }
}

/// The part of a call a criterion looks at.
struct Window {
    first_ms: Option<u64>,
    last_ms: Option<u64>,
    duration_ms: u64,
}

impl Window {
    fn contains(&self, at_ms: u64) -> bool {
        self.first_ms.is_none_or(|f| at_ms < f)
            && self
                .last_ms
                .is_none_or(|l| at_ms >= self.duration_ms.saturating_sub(l))
    }

    fn describe(&self) -> String {
        match (self.first_ms, self.last_ms) {
            (Some(f), _) => format!(" within the first {} s", f / 1000),
            (None, Some(l)) => format!(" within the last {} s", l / 1000),
            (None, None) => String::new(),
        }
    }
}
