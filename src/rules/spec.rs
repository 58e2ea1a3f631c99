//! The rule sections of a pipeline file, as written: `[[watchlist]]`,
//! `[[do_not_call]]`, `[[scorecard]]` with its `[[scorecard.criterion]]`s,
//! and the top-level `redact`, `dnc_lists`, `default_country`.
//!
//! Rules are written by people who are not programmers, so every mistake
//! serde cannot see (an empty phrase list, a query that does not parse, a
//! weight of 0, two rules of one name, a speaker no channel has) is
//! reported with the key and its line, like serde's own errors. The values
//! that such a message points at are kept as [`Spanned`] for that reason.

use std::collections::HashSet;
use std::ops::Range;

use serde::{Deserialize, Serialize};
use toml::Spanned;

use crate::model::Severity;

/// Who a rule listens to.
pub const ANY_SPEAKER: &str = "any";

/// Whom a do-not-call rule listens to when it does not say.
pub const DNC_SPEAKER: &str = "customer";

/// The speaker a rule names, or `default`.
pub fn speaker_of<'a>(speaker: &'a Option<Spanned<String>>, default: &'a str) -> &'a str {
    speaker.as_ref().map_or(default, |s| s.get_ref().as_str())
}

/// The edits per word a rule allows (0 when not given).
pub fn fuzzy_of(fuzzy: &Option<Spanned<u8>>) -> u8 {
    fuzzy.as_ref().map_or(0, |f| *f.get_ref())
}

/// `[[watchlist]]` (phrases or a query that raise a hit wherever said) and
/// `[[do_not_call]]` (what a customer says to be taken off the calling
/// list; a hit adds the call's customer number to the do-not-call export):
/// the same keys, with other defaults (see [`WATCHLIST_SEVERITY`]).
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct PhraseRuleSpec {
    pub name: Spanned<String>,
    /// `low`, `medium`, `high`; default [`WATCHLIST_SEVERITY`] or [`DNC_SEVERITY`].
    #[serde(default)]
    pub severity: Option<Severity>,
    /// `agent`, `customer` (the names of `[speakers]`), or `any`; default
    /// `any` for a watchlist, [`DNC_SPEAKER`] for a do-not-call rule.
    #[serde(default)]
    pub speaker: Option<Spanned<String>>,
    /// Any of these, each found as `callsift search "<phrase>"` finds it.
    #[serde(default)]
    pub phrases: Option<Spanned<Vec<String>>>,
    /// A query in `callsift search` syntax, an alternative to the phrases.
    #[serde(default)]
    pub query: Option<Spanned<String>>,
    /// Edits allowed per word of a phrase (0–2), for words whisper mishears.
    #[serde(default)]
    pub fuzzy: Option<Spanned<u8>>,
    /// Shown in `rules test` and the alerts.
    #[serde(default)]
    pub description: String,
}

pub type WatchlistSpec = PhraseRuleSpec;
pub type DoNotCallSpec = PhraseRuleSpec;

/// A watchlist hit's severity when the rule does not say.
pub const WATCHLIST_SEVERITY: Severity = Severity::Medium;
/// A do-not-call request's severity when the rule does not say.
pub const DNC_SEVERITY: Severity = Severity::High;

/// `[[scorecard]]`: a QA form of weighted criteria.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ScorecardSpec {
    pub name: Spanned<String>,
    /// Only calls of this direction (`outbound`, `inbound`) are graded; a
    /// call whose direction is not known is graded.
    #[serde(default)]
    pub direction: Option<Spanned<String>>,
    #[serde(default)]
    pub description: String,
    #[serde(default)]
    pub criterion: Vec<CriterionSpec>,
}

/// `[[scorecard.criterion]]`: met when any phrase of `any` is said, when
/// none of `none` is, or when `query` matches, by `speaker`, within the
/// part of the call given by `within_first_s` / `within_last_s`.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct CriterionSpec {
    pub section: String,
    pub name: Spanned<String>,
    pub weight: Spanned<f64>,
    /// Failing it zeroes the card, as call-center QA forms do.
    #[serde(default)]
    pub critical: bool,
    #[serde(default)]
    pub speaker: Option<Spanned<String>>,
    #[serde(default)]
    pub within_first_s: Option<Spanned<u64>>,
    #[serde(default)]
    pub within_last_s: Option<Spanned<u64>>,
    #[serde(default)]
    pub any: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub none: Option<Spanned<Vec<String>>>,
    #[serde(default)]
    pub query: Option<Spanned<String>>,
    #[serde(default)]
    pub fuzzy: Option<Spanned<u8>>,
    /// A query: the criterion counts only in calls where it matches
    /// (e.g. "handled the objection" only where the customer objected).
    #[serde(default)]
    pub applies_if: Option<Spanned<String>>,
    #[serde(default)]
    pub description: String,
}

/// The rule-related part of a pipeline file, checked as a whole.
pub struct RuleSections<'a> {
    pub watchlists: &'a [WatchlistSpec],
    pub do_not_call: &'a [DoNotCallSpec],
    pub scorecards: &'a [ScorecardSpec],
    pub default_country: Option<&'a Spanned<String>>,
    /// Speaker names the pipeline's `[speakers]` gives.
    pub speakers: Vec<String>,
}

/// A problem with a rule, at a byte range of the pipeline file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SpecError {
    pub key: String,
    pub message: String,
    pub span: Range<usize>,
}

impl SpecError {
    fn at<T>(key: impl Into<String>, value: &Spanned<T>, message: impl Into<String>) -> Self {
        SpecError {
            key: key.into(),
            message: message.into(),
            span: value.span(),
        }
    }

    /// `key at line N: message`, the line counted in `text`.
    pub fn describe(&self, text: &str) -> String {
        format!(
            "{} at line {}: {}",
            self.key,
            line_of(text, self.span.start),
            self.message
        )
    }
}

/// The 1-based line of a byte offset.
pub fn line_of(text: &str, offset: usize) -> usize {
    text.as_bytes()[..offset.min(text.len())]
        .iter()
        .filter(|&&b| b == b'\n')
        .count()
        + 1
}

/// Every problem of the rule sections (all of them, so one `rules check`
/// shows everything to fix), in file order.
pub fn check(s: &RuleSections) -> Vec<SpecError> {
    let mut errors = Vec::new();
    let mut names: HashSet<String> = HashSet::new();
    let mut unique = |key: String, name: &Spanned<String>, errors: &mut Vec<SpecError>| {
        if name.get_ref().trim().is_empty() {
            errors.push(SpecError::at(key, name, "the name is empty"));
        } else if name.get_ref() == crate::rules::DNC_LISTED_RULE {
            errors.push(SpecError::at(
                key,
                name,
                format!(
                    "`{}` is the name of the listed-number check's hits; choose another",
                    name.get_ref()
                ),
            ));
        } else if !names.insert(name.get_ref().clone()) {
            errors.push(SpecError::at(
                key,
                name,
                format!("`{}` is used by another rule", name.get_ref()),
            ));
        } else if !valid_name(name.get_ref()) {
            errors.push(SpecError::at(
                key,
                name,
                format!(
                    "`{}`: use letters, digits, `_` and `-` only (it is a filter value and a column value)",
                    name.get_ref()
                ),
            ));
        }
    };
    for (table, rules) in [("watchlist", s.watchlists), ("do_not_call", s.do_not_call)] {
        for r in rules {
            unique(format!("{table}.name"), &r.name, &mut errors);
            let m = Matching {
                table,
                phrases: r.phrases.as_ref(),
                query: r.query.as_ref(),
                fuzzy: &r.fuzzy,
            };
            m.check(&r.name, &mut errors);
            check_speaker(
                &format!("{table}.speaker"),
                &r.speaker,
                &s.speakers,
                &mut errors,
            );
        }
    }
    for card in s.scorecards {
        unique("scorecard.name".into(), &card.name, &mut errors);
        check_card(card, &s.speakers, &mut errors);
    }
    if let Some(c) = s.default_country
        && crate::rules::dnc::calling_code(c.get_ref()).is_none()
    {
        errors.push(SpecError::at(
            "default_country",
            c,
            format!(
                "`{}` is not an ISO 3166 country code callsift knows (e.g. PL, RU, IL, GB, US)",
                c.get_ref()
            ),
        ));
    }
    errors.sort_by_key(|e| e.span.start);
    errors
}

fn valid_name(name: &str) -> bool {
    name.chars()
        .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

fn check_card(card: &ScorecardSpec, speakers: &[String], errors: &mut Vec<SpecError>) {
    if card.criterion.is_empty() {
        errors.push(SpecError::at(
            "scorecard",
            &card.name,
            format!(
                "scorecard `{}` has no [[scorecard.criterion]]",
                card.name.get_ref()
            ),
        ));
    }
    if let Some(d) = &card.direction
        && !matches!(d.get_ref().as_str(), "inbound" | "outbound")
    {
        errors.push(SpecError::at(
            "scorecard.direction",
            d,
            format!("`{}`: use inbound or outbound", d.get_ref()),
        ));
    }
    let mut names = HashSet::new();
    for c in &card.criterion {
        if !names.insert(c.name.get_ref().clone()) {
            errors.push(SpecError::at(
                "scorecard.criterion.name",
                &c.name,
                format!(
                    "`{}` is used twice in scorecard `{}`",
                    c.name.get_ref(),
                    card.name.get_ref()
                ),
            ));
        }
        let w = *c.weight.get_ref();
        if !(w.is_finite() && w > 0.0) {
            errors.push(SpecError::at(
                "scorecard.criterion.weight",
                &c.weight,
                format!("the weight must be a positive number, got {w}"),
            ));
        }
        let kinds = [c.any.is_some(), c.none.is_some(), c.query.is_some()];
        if kinds.iter().filter(|&&k| k).count() != 1 {
            errors.push(SpecError::at(
                "scorecard.criterion",
                &c.name,
                format!(
                    "criterion `{}` needs exactly one of `any`, `none`, `query`",
                    c.name.get_ref()
                ),
            ));
        }
        for (key, list) in [("any", &c.any), ("none", &c.none)] {
            if let Some(list) = list {
                check_phrases(&format!("scorecard.criterion.{key}"), list, errors);
            }
        }
        if let Some(q) = &c.query {
            check_query("scorecard.criterion.query", q, errors);
        }
        if let Some(q) = &c.applies_if {
            check_query("scorecard.criterion.applies_if", q, errors);
        }
        check_fuzzy("scorecard.criterion.fuzzy", &c.fuzzy, errors);
        check_speaker("scorecard.criterion.speaker", &c.speaker, speakers, errors);
        if let (Some(_), Some(last)) = (&c.within_first_s, &c.within_last_s) {
            errors.push(SpecError::at(
                "scorecard.criterion.within_last_s",
                last,
                "give within_first_s or within_last_s, not both (make two criteria)",
            ));
        }
        for (key, v) in [
            ("within_first_s", &c.within_first_s),
            ("within_last_s", &c.within_last_s),
        ] {
            if let Some(v) = v
                && *v.get_ref() == 0
            {
                errors.push(SpecError::at(
                    format!("scorecard.criterion.{key}"),
                    v,
                    "must be at least 1 (seconds); leave it out for the whole call",
                ));
            }
        }
    }
}

/// The phrase/query/fuzzy keys a watchlist and a do-not-call rule share.
struct Matching<'a> {
    table: &'static str,
    phrases: Option<&'a Spanned<Vec<String>>>,
    query: Option<&'a Spanned<String>>,
    fuzzy: &'a Option<Spanned<u8>>,
}

impl Matching<'_> {
    fn check(&self, name: &Spanned<String>, errors: &mut Vec<SpecError>) {
        let t = self.table;
        let has_query = self.query.is_some_and(|q| !q.get_ref().trim().is_empty());
        match self.phrases {
            Some(p) => check_phrases(&format!("{t}.phrases"), p, errors),
            None if !has_query => errors.push(SpecError::at(
                t,
                name,
                format!(
                    "rule `{}` has neither `phrases` nor `query`",
                    name.get_ref()
                ),
            )),
            None => {}
        }
        if let Some(q) = self.query
            && !q.get_ref().trim().is_empty()
        {
            check_query(&format!("{t}.query"), q, errors);
        }
        check_fuzzy(&format!("{t}.fuzzy"), self.fuzzy, errors);
    }
}

fn check_phrases(key: &str, list: &Spanned<Vec<String>>, errors: &mut Vec<SpecError>) {
    if list.get_ref().is_empty() {
        errors.push(SpecError::at(key, list, "the phrase list is empty"));
    }
    for p in list.get_ref() {
        if crate::text::analyze::words(p).is_empty() {
            errors.push(SpecError::at(
                key,
                list,
                format!("the phrase `{p}` has no words"),
            ));
        }
    }
}

fn check_query(key: &str, q: &Spanned<String>, errors: &mut Vec<SpecError>) {
    if let Err(e) = crate::index::query::parse(q.get_ref(), false) {
        errors.push(SpecError::at(
            key,
            q,
            format!("invalid query `{}`: {e}", q.get_ref()),
        ));
    }
}

fn check_fuzzy(key: &str, fuzzy: &Option<Spanned<u8>>, errors: &mut Vec<SpecError>) {
    let Some(fuzzy) = fuzzy else {
        return;
    };
    let max = crate::index::query::MAX_EDITS;
    if *fuzzy.get_ref() > max {
        errors.push(SpecError::at(
            key,
            fuzzy,
            format!("at most {max} edits per word, got {}", fuzzy.get_ref()),
        ));
    }
}

fn check_speaker(
    key: &str,
    speaker: &Option<Spanned<String>>,
    speakers: &[String],
    errors: &mut Vec<SpecError>,
) {
    let Some(speaker) = speaker else {
        return;
    };
    let s = speaker.get_ref();
    if s != ANY_SPEAKER && !speakers.iter().any(|k| k == s) {
        errors.push(SpecError::at(
            key,
            speaker,
            format!(
                "`{s}` is no speaker of this pipeline: use {ANY_SPEAKER} or one of {}",
                speakers.join(", ")
            ),
        ));
    }
}
