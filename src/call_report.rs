//! `callsift report`: totals and one line per agent, day or direction over
//! the `calls` table, then what the pipeline's rules found (`scores`: each
//! agent's average per scorecard and the criteria most often failed;
//! `hits`: hits per rule per day), as plain-text tables for a terminal and
//! as one self-contained HTML page with inline SVG plots.
//!
//! Everything here is a pure function on rows that the caller has already
//! loaded, so the numbers can be checked by hand in unit tests. Ratios are
//! sums over calls divided by sums over calls (never means of per-call
//! ratios), so a 20-second call weighs 1/90 of a 30-minute one; a value a
//! call does not know (a mono call has no agent or customer) leaves that
//! call out of that ratio only, and a group where no call knows it shows `-`.
//! Scores are the exception: the average of a scorecard is the mean of the
//! calls' card scores, each call once (the card's score is already a
//! weighted share of its criteria).

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write;

use jiff::Timestamp;
use jiff::civil::Date;
use jiff::tz::TimeZone;
use serde::Serialize;

use crate::model::{CallRow, HitRow, ScoreRow};

/// Group key of calls without an agent id, direction or start time.
pub const UNKNOWN: &str = "(unknown)";

/// What the lines of a report are per.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, clap::ValueEnum)]
#[serde(rename_all = "lowercase")]
pub enum GroupBy {
    #[default]
    Agent,
    Day,
    Direction,
}

impl GroupBy {
    pub const ALL: [GroupBy; 3] = [GroupBy::Agent, GroupBy::Day, GroupBy::Direction];

    /// The name on the command line and in the table's first header.
    pub fn name(self) -> &'static str {
        match self {
            GroupBy::Agent => "agent",
            GroupBy::Day => "day",
            GroupBy::Direction => "direction",
        }
    }
}

impl std::fmt::Display for GroupBy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for GroupBy {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        GroupBy::ALL
            .into_iter()
            .find(|g| g.name().eq_ignore_ascii_case(s.trim()))
            .ok_or_else(|| format!("unknown grouping `{s}` (expected agent, day or direction)"))
    }
}

/// Figures over a set of calls (all of them, or one group).
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Stats {
    pub calls: usize,
    /// Length of the recordings.
    pub audio_ms: u64,
    /// Time anyone speaks.
    pub talk_ms: u64,
    pub silence_ms: u64,
    /// `silence_ms / audio_ms`; `None` when there is no audio.
    pub silence_share: Option<f64>,
    /// Sum over calls that have both speakers; `None` when none has.
    pub overlap_ms: Option<u64>,
    /// Agent talk / (agent + customer talk), summed over calls that know both.
    pub talk_ratio_agent: Option<f64>,
    pub interruptions_agent: Option<u64>,
    pub interruptions_customer: Option<u64>,
    /// Interruptions divided by the calls that know them.
    pub interruptions_per_call_agent: Option<f64>,
    pub interruptions_per_call_customer: Option<f64>,
    /// Agent's words per minute, weighted by the agent's talk time.
    pub wpm_agent: Option<f64>,
    /// The agent's longest monologue in any of the calls.
    pub longest_monologue_ms_agent: Option<u64>,
}

/// One line of the report.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Group {
    /// Agent id, `YYYY-MM-DD` or direction; [`UNKNOWN`] when missing.
    pub key: String,
    pub stats: Stats,
}

/// Calls that started on one local day (bars of the first plot).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct DayCount {
    pub day: Date,
    pub calls: usize,
}

/// One agent's talk ratio (bars of the second plot).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentTalk {
    pub agent: String,
    pub calls: usize,
    pub talk_ratio: f64,
}

/// Everything the renderers show; built by [`summarize`].
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Summary {
    pub by: GroupBy,
    /// The zone days are counted in (IANA name when it has one).
    pub time_zone: String,
    pub totals: Stats,
    /// Sorted: days ascending, agents and directions by calls descending
    /// then key; [`UNKNOWN`] always last, since it is not a real group.
    pub groups: Vec<Group>,
    /// Every day from the first call to the last, days without calls
    /// included (a gap in the bars is information).
    pub calls_per_day: Vec<DayCount>,
    /// Calls left out of `calls_per_day` for want of a start time.
    pub calls_without_start: usize,
    /// Agents whose ratio is known, in the order of the agent groups.
    pub agent_talk: Vec<AgentTalk>,
    /// What the rules found; empty from [`summarize`], filled by the caller
    /// with [`summarize_findings`] (from the other two tables).
    pub findings: Findings,
}

/// One agent's results on one scorecard (a line of "Scores by agent").
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentScore {
    /// Agent id; [`UNKNOWN`] when missing.
    pub agent: String,
    pub scorecard: String,
    /// Calls the card was judged on.
    pub calls: usize,
    /// Of those, calls where none of its criteria applied: the card has no
    /// score there, and a 0 would pull the average down for nothing.
    pub not_applicable: usize,
    /// Mean of the other calls' card scores (0–100), each call once;
    /// `None` when every call was not applicable.
    pub avg_score: Option<f64>,
    /// Calls whose score a failed critical criterion set to 0.
    pub zeroed: usize,
}

/// How often one criterion of a scorecard failed where it applied.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct FailedCriterion {
    pub scorecard: String,
    pub criterion: String,
    pub failed: usize,
    /// Calls where the criterion applied (it counts neither way elsewhere).
    pub applicable: usize,
    /// `failed / applicable`.
    pub failed_share: f64,
}

/// The hits of one rule on one local day.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RuleDay {
    /// `None` for calls without a start time (shown as [`UNKNOWN`], last).
    pub day: Option<Date>,
    pub rule: String,
    pub kind: String,
    pub severity: String,
    /// Times the rule fired: a phrase said twice is two hits.
    pub hits: usize,
    /// Distinct calls it fired in.
    pub calls: usize,
}

/// What the pipeline's rules found, built by [`summarize_findings`]; all
/// empty when the pipeline has no rules.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Findings {
    /// Sorted by agent id ([`UNKNOWN`] last), then scorecard: an agent's
    /// cards stay together.
    pub scores_by_agent: Vec<AgentScore>,
    /// Per scorecard (by name), its [`TOP_FAILED`] most failed criteria by
    /// failures descending, then name; criteria that never failed are left out.
    pub failed_criteria: Vec<FailedCriterion>,
    /// Days ascending ([`UNKNOWN`] last), then hits descending, then rule.
    pub hits_by_day: Vec<RuleDay>,
}

/// Most failed criteria listed per scorecard (its section's legend says
/// the number in words).
pub const TOP_FAILED: usize = 10;

/// Rows that carry their call's start, so one date filter serves every table.
pub trait CallStart {
    fn call_start(&self) -> Option<Timestamp>;
}

impl CallStart for CallRow {
    fn call_start(&self) -> Option<Timestamp> {
        self.call_start
    }
}

impl CallStart for HitRow {
    fn call_start(&self) -> Option<Timestamp> {
        self.call_start
    }
}

impl CallStart for ScoreRow {
    fn call_start(&self) -> Option<Timestamp> {
        self.call_start
    }
}

/// The rows of calls that started in `[from, to)`. With either bound
/// given, rows without a start time are left out: nothing says they are in
/// the range.
pub fn filter_dates<R: CallStart>(
    rows: Vec<R>,
    from: Option<Timestamp>,
    to: Option<Timestamp>,
) -> Vec<R> {
    if from.is_none() && to.is_none() {
        return rows;
    }
    rows.into_iter()
        .filter(|r| {
            r.call_start()
                .is_some_and(|t| from.is_none_or(|f| t >= f) && to.is_none_or(|end| t < end))
        })
        .collect()
}

/// Totals, one line per group of `by`, and the data of both plots; days
/// are local days in `tz`.
pub fn summarize(rows: &[CallRow], by: GroupBy, tz: &TimeZone) -> Summary {
    let mut totals = Acc::default();
    rows.iter().for_each(|r| totals.add(r));
    let agents = groups(rows, GroupBy::Agent, tz);
    let agent_talk = agents
        .iter()
        .filter_map(|g| {
            let talk_ratio = g.stats.talk_ratio_agent?;
            Some(AgentTalk {
                agent: g.key.clone(),
                calls: g.stats.calls,
                talk_ratio,
            })
        })
        .collect();
    Summary {
        by,
        time_zone: tz.iana_name().unwrap_or("local time").to_string(),
        totals: totals.finish(),
        groups: if by == GroupBy::Agent {
            agents
        } else {
            groups(rows, by, tz)
        },
        calls_per_day: calls_per_day(rows, tz),
        calls_without_start: rows.iter().filter(|r| r.call_start.is_none()).count(),
        agent_talk,
        findings: Findings::default(),
    }
}

/// Sums over calls; [`Acc::finish`] turns them into [`Stats`].
#[derive(Debug, Default)]
struct Acc {
    calls: usize,
    audio_ms: u64,
    talk_ms: u64,
    silence_ms: u64,
    overlap_ms: Option<u64>,
    /// Agent talk and agent + customer talk, over calls that know both.
    ratio_agent_ms: u64,
    ratio_both_ms: u64,
    interruptions_agent: (u64, usize),
    interruptions_customer: (u64, usize),
    /// Sum of wpm × agent talk ms, and of agent talk ms.
    wpm_weighted: f64,
    wpm_weight_ms: u64,
    longest_monologue_ms_agent: Option<u64>,
}

impl Acc {
    fn add(&mut self, row: &CallRow) {
        let m = &row.metrics;
        self.calls += 1;
        self.audio_ms += row.duration_ms;
        self.talk_ms += m.talk_ms;
        self.silence_ms += m.silence_ms;
        if let Some(o) = m.overlap_ms {
            *self.overlap_ms.get_or_insert(0) += o;
        }
        if let (Some(a), Some(c)) = (m.talk_ms_agent, m.talk_ms_customer) {
            self.ratio_agent_ms += a;
            self.ratio_both_ms += a + c;
        }
        if let Some(n) = m.interruptions_agent {
            self.interruptions_agent.0 += u64::from(n);
            self.interruptions_agent.1 += 1;
        }
        if let Some(n) = m.interruptions_customer {
            self.interruptions_customer.0 += u64::from(n);
            self.interruptions_customer.1 += 1;
        }
        if let (Some(wpm), Some(talk)) = (m.wpm_agent, m.talk_ms_agent) {
            self.wpm_weighted += wpm * talk as f64;
            self.wpm_weight_ms += talk;
        }
        if let Some(mono) = m.longest_monologue_ms_agent {
            let max = self.longest_monologue_ms_agent.get_or_insert(0);
            *max = (*max).max(mono);
        }
    }

    fn finish(&self) -> Stats {
        let share = |part: f64, whole: u64| (whole > 0).then(|| part / whole as f64);
        let per_call = |(sum, calls): (u64, usize)| share(sum as f64, calls as u64);
        let known = |(sum, calls): (u64, usize)| (calls > 0).then_some(sum);
        Stats {
            calls: self.calls,
            audio_ms: self.audio_ms,
            talk_ms: self.talk_ms,
            silence_ms: self.silence_ms,
            silence_share: share(self.silence_ms as f64, self.audio_ms),
            overlap_ms: self.overlap_ms,
            talk_ratio_agent: share(self.ratio_agent_ms as f64, self.ratio_both_ms),
            interruptions_agent: known(self.interruptions_agent),
            interruptions_customer: known(self.interruptions_customer),
            interruptions_per_call_agent: per_call(self.interruptions_agent),
            interruptions_per_call_customer: per_call(self.interruptions_customer),
            wpm_agent: share(self.wpm_weighted, self.wpm_weight_ms),
            longest_monologue_ms_agent: self.longest_monologue_ms_agent,
        }
    }
}

/// A value trimmed; `None` when it is missing or blank.
fn named(v: &Option<String>) -> Option<String> {
    v.as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty())
        .map(str::to_string)
}

/// The group a call belongs to; `None` when the value is missing or blank.
fn group_key(row: &CallRow, by: GroupBy, tz: &TimeZone) -> Option<String> {
    match by {
        GroupBy::Agent => named(&row.agent_id),
        GroupBy::Direction => named(&row.direction),
        GroupBy::Day => row.call_start.map(|t| local_day(t, tz).to_string()),
    }
}

/// The calendar day a moment falls on in `tz` (its offset that day, DST included).
fn local_day(t: Timestamp, tz: &TimeZone) -> Date {
    tz.to_datetime(t).date()
}

/// One [`Group`] per key, sorted as [`Summary::groups`] says.
fn groups(rows: &[CallRow], by: GroupBy, tz: &TimeZone) -> Vec<Group> {
    let mut accs: BTreeMap<Option<String>, Acc> = BTreeMap::new();
    for row in rows {
        accs.entry(group_key(row, by, tz)).or_default().add(row);
    }
    let mut out: Vec<(Option<String>, Stats)> =
        accs.into_iter().map(|(k, acc)| (k, acc.finish())).collect();
    // ISO dates sort as strings, so days only need the key; `false < true`
    // puts the unknown group last.
    out.sort_by(|(ka, a), (kb, b)| {
        let calls = match by {
            GroupBy::Day => std::cmp::Ordering::Equal,
            _ => b.calls.cmp(&a.calls),
        };
        ka.is_none().cmp(&kb.is_none()).then(calls).then(ka.cmp(kb))
    });
    out.into_iter()
        .map(|(key, stats)| Group {
            key: key.unwrap_or_else(|| UNKNOWN.to_string()),
            stats,
        })
        .collect()
}

/// Calls per local day, every day from the first to the last.
fn calls_per_day(rows: &[CallRow], tz: &TimeZone) -> Vec<DayCount> {
    let mut counts: BTreeMap<Date, usize> = BTreeMap::new();
    for t in rows.iter().filter_map(|r| r.call_start) {
        *counts.entry(local_day(t, tz)).or_default() += 1;
    }
    let (Some((&first, _)), Some((&last, _))) = (counts.first_key_value(), counts.last_key_value())
    else {
        return Vec::new();
    };
    let mut out = Vec::new();
    let mut day = first;
    while day <= last {
        out.push(DayCount {
            day,
            calls: counts.get(&day).copied().unwrap_or(0),
        });
        match day.tomorrow() {
            Ok(next) => day = next,
            Err(_) => break,
        }
    }
    out
}

// ------------------------------------------------------------------ findings

/// Scores by agent, the most failed criteria and hits per rule per day;
/// days are local days in `tz`, as for the calls.
pub fn summarize_findings(hits: &[HitRow], scores: &[ScoreRow], tz: &TimeZone) -> Findings {
    Findings {
        scores_by_agent: scores_by_agent(scores),
        failed_criteria: failed_criteria(scores),
        hits_by_day: hits_by_day(hits, tz),
    }
}

/// One call's result on one scorecard, from the card's criterion rows.
struct Card {
    agent: Option<String>,
    score: Option<f64>,
    zeroed: bool,
}

/// The cards judged, by call and scorecard: a card's score is on each of
/// its rows, and counting rows would weigh cards with more criteria more.
fn cards(scores: &[ScoreRow]) -> BTreeMap<(&str, &str), Card> {
    let mut cards = BTreeMap::new();
    for r in scores {
        let card = cards
            .entry((r.call_id.as_str(), r.scorecard.as_str()))
            .or_insert_with(|| Card {
                agent: named(&r.agent_id),
                score: r.score,
                zeroed: false,
            });
        // From the criteria, not from `score == 0`: a card can also reach 0
        // by failing every ordinary criterion.
        card.zeroed |= r.critical && r.applicable && !r.passed;
    }
    cards
}

/// One [`AgentScore`] per agent and scorecard, sorted as
/// [`Findings::scores_by_agent`] says.
fn scores_by_agent(scores: &[ScoreRow]) -> Vec<AgentScore> {
    #[derive(Default)]
    struct Acc {
        calls: usize,
        not_applicable: usize,
        sum: f64,
        zeroed: usize,
    }
    let mut accs: BTreeMap<(bool, Option<String>, &str), Acc> = BTreeMap::new();
    for ((_, scorecard), card) in cards(scores) {
        // `true` sorts the unknown agent after the real ones.
        let key = (card.agent.is_none(), card.agent, scorecard);
        let acc = accs.entry(key).or_default();
        acc.calls += 1;
        match card.score {
            Some(score) => acc.sum += score,
            None => acc.not_applicable += 1,
        }
        acc.zeroed += usize::from(card.zeroed);
    }
    accs.into_iter()
        .map(|((_, agent, scorecard), acc)| {
            let scored = acc.calls - acc.not_applicable;
            AgentScore {
                agent: agent.unwrap_or_else(|| UNKNOWN.to_string()),
                scorecard: scorecard.to_string(),
                calls: acc.calls,
                not_applicable: acc.not_applicable,
                avg_score: (scored > 0).then(|| acc.sum / scored as f64),
                zeroed: acc.zeroed,
            }
        })
        .collect()
}

/// Each scorecard's most failed criteria, as [`Findings::failed_criteria`] says.
fn failed_criteria(scores: &[ScoreRow]) -> Vec<FailedCriterion> {
    // (failed, applicable) per scorecard and criterion; names are unique
    // within a card (the pipeline check refuses a repeated one).
    let mut counts: BTreeMap<&str, BTreeMap<&str, (usize, usize)>> = BTreeMap::new();
    for r in scores.iter().filter(|r| r.applicable) {
        let c = counts
            .entry(&r.scorecard)
            .or_default()
            .entry(&r.criterion)
            .or_default();
        c.0 += usize::from(!r.passed);
        c.1 += 1;
    }
    let mut out = Vec::new();
    for (scorecard, criteria) in counts {
        let mut card: Vec<FailedCriterion> = criteria
            .into_iter()
            .filter(|(_, (failed, _))| *failed > 0)
            .map(|(criterion, (failed, applicable))| FailedCriterion {
                scorecard: scorecard.to_string(),
                criterion: criterion.to_string(),
                failed,
                applicable,
                failed_share: failed as f64 / applicable as f64,
            })
            .collect();
        // Stable: ties keep the map's order, by name.
        card.sort_by_key(|c| std::cmp::Reverse(c.failed));
        card.truncate(TOP_FAILED);
        out.extend(card);
    }
    out
}

/// Hits and distinct calls per local day, rule, kind and severity, sorted
/// as [`Findings::hits_by_day`] says.
fn hits_by_day(hits: &[HitRow], tz: &TimeZone) -> Vec<RuleDay> {
    type Key<'a> = (bool, Option<Date>, &'a str, &'a str, &'a str);
    let mut accs: BTreeMap<Key, (usize, BTreeSet<&str>)> = BTreeMap::new();
    for h in hits {
        let day = h.call_start.map(|t| local_day(t, tz));
        // A rescore with a changed severity can leave one rule with two;
        // keeping both apart shows that instead of picking one.
        let key = (day.is_none(), day, &*h.rule, &*h.kind, &*h.severity);
        let acc = accs.entry(key).or_default();
        acc.0 += 1;
        acc.1.insert(&h.call_id);
    }
    let mut out: Vec<RuleDay> = accs
        .into_iter()
        .map(|((_, day, rule, kind, severity), (hits, calls))| RuleDay {
            day,
            rule: rule.to_string(),
            kind: kind.to_string(),
            severity: severity.to_string(),
            hits,
            calls: calls.len(),
        })
        .collect();
    // Stable: within a day and hit count, the map's order by rule stays.
    out.sort_by(|a, b| {
        (a.day.is_none(), a.day)
            .cmp(&(b.day.is_none(), b.day))
            .then(b.hits.cmp(&a.hits))
    });
    out
}

// ---------------------------------------------------------------- formatting

/// `12.3` hours, one decimal: reports are read for trends, not seconds.
fn hours(ms: u64) -> String {
    format!("{:.1}", ms as f64 / 3_600_000.0)
}

/// A share as a percentage with one decimal, `-` when unknown.
fn pct(share: Option<f64>) -> String {
    share.map_or_else(|| "-".to_string(), |s| format!("{:.1}", s * 100.0))
}

fn decimals(v: Option<f64>, places: usize) -> String {
    v.map_or_else(|| "-".to_string(), |v| format!("{v:.places$}"))
}

/// A length of time as `45s`, `3m12s` or `1h05m`.
fn span(ms: u64) -> String {
    let s = ms / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m{:02}s", s / 60, s % 60),
        _ => format!("{}h{:02}m", s / 3600, (s / 60) % 60),
    }
}

/// Headers of the group table; units are in the names.
fn headers(by: GroupBy) -> [&'static str; 9] {
    [
        by.name(),
        "calls",
        "audio h",
        "talk %",
        "silence %",
        "int/call A",
        "int/call C",
        "wpm A",
        "mono A",
    ]
}

/// One line of the group table, in the order of [`headers`].
fn cells(key: &str, s: &Stats) -> [String; 9] {
    [
        key.to_string(),
        s.calls.to_string(),
        hours(s.audio_ms),
        pct(s.talk_ratio_agent),
        pct(s.silence_share),
        decimals(s.interruptions_per_call_agent, 2),
        decimals(s.interruptions_per_call_customer, 2),
        decimals(s.wpm_agent, 0),
        s.longest_monologue_ms_agent
            .map_or_else(|| "-".to_string(), span),
    ]
}

/// What the short column names mean; printed under both tables.
const LEGEND: [&str; 3] = [
    "talk % = agent's share of agent + customer talk time; silence % = time nobody speaks",
    "int/call = interruptions per call; wpm = words per minute; mono = longest monologue",
    "A = agent, C = customer; - = unknown (e.g. mono calls)",
];

/// The line of totals above the table.
fn totals_line(summary: &Summary) -> String {
    let t = &summary.totals;
    let mut line = format!("{} calls", t.calls);
    if let (Some(first), Some(last)) = (summary.calls_per_day.first(), summary.calls_per_day.last())
    {
        let _ = write!(
            line,
            " from {} to {} ({})",
            first.day, last.day, summary.time_zone
        );
    }
    let _ = write!(
        line,
        ": {} h audio, {} h talk, silence {} %, overlap {}, interruptions {} by agent, {} by customer",
        hours(t.audio_ms),
        hours(t.talk_ms),
        pct(t.silence_share),
        t.overlap_ms.map_or_else(|| "-".to_string(), span),
        t.interruptions_agent
            .map_or_else(|| "-".to_string(), |n| n.to_string()),
        t.interruptions_customer
            .map_or_else(|| "-".to_string(), |n| n.to_string()),
    );
    line
}

/// The aligned plain-text report (no colour: it is also piped to files):
/// the calls, then each section of findings that has rows.
pub fn render_text(summary: &Summary) -> String {
    let mut out = if summary.totals.calls == 0 {
        "no calls in the range\n".to_string()
    } else {
        calls_text(summary)
    };
    for section in sections(&summary.findings) {
        let _ = writeln!(out, "\n{}", section.title);
        let mut lines = vec![section.headers.iter().map(|h| h.to_string()).collect()];
        lines.extend(
            section
                .rows
                .iter()
                .map(|row| row.iter().map(|c| printable(c)).collect::<Vec<_>>()),
        );
        let widths = column_widths(&lines);
        for line in &lines {
            push_aligned(&mut out, line, &widths, section.text_columns);
        }
        for line in section.legend {
            let _ = writeln!(out, "{line}");
        }
    }
    out
}

/// The table of calls with its totals line above and legend below.
fn calls_text(summary: &Summary) -> String {
    let mut lines: Vec<[String; 9]> = vec![headers(summary.by).map(str::to_string)];
    lines.extend(
        summary
            .groups
            .iter()
            .map(|g| cells(&printable(&g.key), &g.stats)),
    );
    let total = cells("(all)", &summary.totals);
    let widths = column_widths(lines.iter().chain([&total]));
    let mut out = totals_line(summary) + "\n\n";
    for line in &lines {
        push_aligned(&mut out, line, &widths, 1);
    }
    let rule = widths.iter().sum::<usize>() + 2 * (widths.len() - 1);
    out.push_str(&"-".repeat(rule));
    out.push('\n');
    push_aligned(&mut out, &total, &widths, 1);
    out.push('\n');
    for line in LEGEND {
        let _ = writeln!(out, "{line}");
    }
    out
}

/// The widest cell of each column, in characters.
fn column_widths<'a, L: AsRef<[String]> + 'a>(
    lines: impl IntoIterator<Item = &'a L>,
) -> Vec<usize> {
    let mut widths: Vec<usize> = Vec::new();
    for line in lines {
        let line = line.as_ref();
        widths.resize(widths.len().max(line.len()), 0);
        for (w, cell) in widths.iter_mut().zip(line) {
            *w = (*w).max(cell.chars().count());
        }
    }
    widths
}

/// A table of findings, the same for both renderers (each escapes the
/// cells its own way).
struct Section {
    title: &'static str,
    headers: &'static [&'static str],
    /// The first this many columns are text (left-aligned), the rest numbers.
    text_columns: usize,
    rows: Vec<Vec<String>>,
    legend: &'static [&'static str],
    /// The section's SVG above its table in the HTML page, if it has one.
    plot: Option<fn(&Findings) -> String>,
}

/// The sections of findings that have rows, in the order they are shown.
fn sections(f: &Findings) -> Vec<Section> {
    let sections = [
        Section {
            title: "Scores by agent",
            headers: &["agent", "scorecard", "calls", "n/a", "avg score", "zeroed"],
            text_columns: 2,
            rows: f.scores_by_agent.iter().map(score_cells).collect(),
            legend: &[
                "calls = calls the scorecard was judged on; n/a = calls where none of its criteria",
                "applied (no score, not averaged); avg score = mean of the other calls' scores",
                "(0-100, each call once); zeroed = calls a failed critical criterion set to 0",
            ],
            plot: Some(|f| svg_scores(&f.scores_by_agent)),
        },
        Section {
            title: "Criteria most often failed",
            headers: &["scorecard", "criterion", "failed", "applicable", "failed %"],
            text_columns: 2,
            rows: f.failed_criteria.iter().map(failed_cells).collect(),
            legend: &[
                "top 10 per scorecard; applicable = calls where the criterion applied;",
                "failed % = failed / applicable",
            ],
            plot: None,
        },
        Section {
            title: "Rule hits by day",
            headers: &["day", "rule", "kind", "severity", "hits", "calls"],
            text_columns: 4,
            rows: f.hits_by_day.iter().map(hit_cells).collect(),
            legend: &[
                "day = local day of the call's start; hits = times the rule fired (a phrase said",
                "twice is two); calls = calls it fired in",
            ],
            plot: None,
        },
    ];
    sections
        .into_iter()
        .filter(|s| !s.rows.is_empty())
        .collect()
}

fn score_cells(a: &AgentScore) -> Vec<String> {
    vec![
        a.agent.clone(),
        a.scorecard.clone(),
        a.calls.to_string(),
        a.not_applicable.to_string(),
        decimals(a.avg_score, 1),
        a.zeroed.to_string(),
    ]
}

fn failed_cells(c: &FailedCriterion) -> Vec<String> {
    vec![
        c.scorecard.clone(),
        c.criterion.clone(),
        c.failed.to_string(),
        c.applicable.to_string(),
        pct(Some(c.failed_share)),
    ]
}

fn hit_cells(h: &RuleDay) -> Vec<String> {
    vec![
        h.day.map_or_else(|| UNKNOWN.to_string(), |d| d.to_string()),
        h.rule.clone(),
        h.kind.clone(),
        h.severity.clone(),
        h.hits.to_string(),
        h.calls.to_string(),
    ]
}

/// `s` with control characters shown as `?`: an id from a file name or
/// CDR must not move the cursor or recolour the terminal.
fn printable(s: &str) -> String {
    s.chars()
        .map(|c| if c.is_control() { '?' } else { c })
        .collect()
}

/// One table line: the first `text_columns` cells left-aligned, the
/// numbers after them right-aligned.
fn push_aligned(out: &mut String, cells: &[String], widths: &[usize], text_columns: usize) {
    let mut line = String::new();
    for (i, (cell, &w)) in cells.iter().zip(widths).enumerate() {
        let pad = " ".repeat(w - cell.chars().count());
        if i > 0 {
            line.push_str("  ");
        }
        if i < text_columns {
            line.push_str(cell);
            line.push_str(&pad);
        } else {
            line.push_str(&pad);
            line.push_str(cell);
        }
    }
    out.push_str(line.trim_end());
    out.push('\n');
}

// ---------------------------------------------------------------------- HTML

/// Text made safe for HTML content and attribute values.
fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            _ => out.push(c),
        }
    }
    out
}

/// Plain CSS only: the page must open offline, from a mail attachment.
const CSS: &str = "body{font:15px/1.45 system-ui,-apple-system,'Segoe UI',sans-serif;\
color:#222;background:#fff;margin:0}\
main{max-width:1000px;margin:0 auto;padding:1.5rem}\
h1{font-size:1.5rem;margin:0 0 .5rem}h2{font-size:1.15rem;margin:1.8rem 0 .5rem}\
table{border-collapse:collapse;width:100%;font-variant-numeric:tabular-nums}\
th,td{padding:.3rem .6rem;border-bottom:1px solid #ddd;text-align:right;white-space:nowrap}\
th:first-child,td:first-child{text-align:left;white-space:normal;word-break:break-all}\
th{background:#f3f4f6;font-weight:600}tr.all td{font-weight:600;border-top:2px solid #999}\
.totals{font-size:1.05rem}.legend{color:#555;font-size:.9rem}\
svg{width:100%;height:auto;display:block}svg text{font:12px system-ui,sans-serif;fill:#333}\
.bar{fill:#3b6fb6}.grid{stroke:#ddd}.half{stroke:#c0392b;stroke-dasharray:4 3}\
th.t,td.t{text-align:left}";

/// The report as one HTML page: no script, no external reference.
pub fn render_html(summary: &Summary, title: &str) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>{t}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n<h1>{t}</h1>\n",
        t = esc(title)
    );
    if summary.totals.calls == 0 {
        out.push_str("<p class=\"totals\">no calls in the range</p>\n");
    } else {
        let _ = writeln!(
            out,
            "<p class=\"totals\">{}</p>",
            esc(&totals_line(summary))
        );
    }
    let _ = writeln!(
        out,
        "<h2>Calls per day</h2>\n{}",
        svg_calls_per_day(summary)
    );
    let _ = writeln!(
        out,
        "<h2>Agent talk ratio</h2>\n{}",
        svg_agent_talk(&summary.agent_talk)
    );
    if summary.totals.calls > 0 {
        let _ = writeln!(out, "<h2>By {}</h2>\n{}", summary.by, html_table(summary));
        let _ = writeln!(out, "<p class=\"legend\">{}</p>", esc(&LEGEND.join("; ")));
    }
    for section in sections(&summary.findings) {
        let _ = writeln!(out, "<h2>{}</h2>", esc(section.title));
        if let Some(plot) = section.plot {
            out.push_str(&plot(&summary.findings));
        }
        let _ = writeln!(
            out,
            "{}\n<p class=\"legend\">{}</p>",
            html_section_table(&section),
            esc(&section.legend.join(" "))
        );
    }
    out.push_str("</main>\n</body>\n</html>\n");
    out
}

/// A table of findings; text columns left-aligned like the first.
fn html_section_table(section: &Section) -> String {
    let class = |i: usize| {
        if i < section.text_columns {
            " class=\"t\""
        } else {
            ""
        }
    };
    let mut out = String::from("<table>\n<thead><tr>");
    for (i, h) in section.headers.iter().enumerate() {
        let _ = write!(out, "<th{}>{}</th>", class(i), esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for row in &section.rows {
        out.push_str("<tr>");
        for (i, c) in row.iter().enumerate() {
            let _ = write!(out, "<td{}>{}</td>", class(i), esc(c));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>");
    out
}

/// The group table with a totals line at the bottom.
fn html_table(summary: &Summary) -> String {
    let mut out = String::from("<table>\n<thead><tr>");
    for h in headers(summary.by) {
        let _ = write!(out, "<th>{}</th>", esc(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    let row = |out: &mut String, class: &str, cells: [String; 9]| {
        let _ = write!(out, "<tr{class}>");
        for c in cells {
            let _ = write!(out, "<td>{}</td>", esc(&c));
        }
        out.push_str("</tr>\n");
    };
    for g in &summary.groups {
        row(&mut out, "", cells(&g.key, &g.stats));
    }
    row(&mut out, " class=\"all\"", cells("(all)", &summary.totals));
    out.push_str("</tbody>\n</table>");
    out
}

/// Width of both plots in SVG units (they scale to the page width).
const PLOT_W: f64 = 960.0;

/// An SVG with only a centred message, for plots without data.
fn svg_empty(message: &str) -> String {
    format!(
        "<svg viewBox=\"0 0 {PLOT_W} 60\" role=\"img\" aria-label=\"{m}\">\
         <text x=\"{x}\" y=\"35\" text-anchor=\"middle\">{m}</text></svg>",
        m = esc(message),
        x = PLOT_W / 2.0
    )
}

/// The smallest of 1, 2, 5, 10, 20, 50, … that is at least `n`: a y axis
/// that ends on a round number.
fn round_up(n: usize) -> usize {
    let mut step = 1;
    loop {
        for m in [1, 2, 5] {
            if m * step >= n {
                return m * step;
            }
        }
        step *= 10;
    }
}

/// Vertical bars, one per day, with a hover title on each.
fn svg_calls_per_day(summary: &Summary) -> String {
    let days = &summary.calls_per_day;
    if days.is_empty() {
        return svg_empty("no calls with a start time");
    }
    let (left, top, plot_h, bottom) = (44.0, 12.0, 200.0, 30.0);
    // The right margin leaves room for half of the last date label.
    let plot_w = PLOT_W - left - 36.0;
    let y_max = round_up(days.iter().map(|d| d.calls).max().unwrap_or(0).max(1));
    let slot = plot_w / days.len() as f64;
    let mut out = format!(
        "<svg viewBox=\"0 0 {PLOT_W} {}\" role=\"img\" aria-label=\"calls per day\">",
        top + plot_h + bottom
    );
    for tick in [0, y_max / 2, y_max] {
        let y = top + plot_h * (1.0 - tick as f64 / y_max as f64);
        let _ = write!(
            out,
            "<line class=\"grid\" x1=\"{left}\" x2=\"{PLOT_W}\" y1=\"{y:.1}\" y2=\"{y:.1}\"/>\
             <text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"end\">{tick}</text>",
            left - 6.0,
            y + 4.0
        );
    }
    // About ten date labels whatever the range, so they never overlap.
    let label_every = days.len().div_ceil(10);
    for (i, d) in days.iter().enumerate() {
        let h = plot_h * d.calls as f64 / y_max as f64;
        let x = left + slot * i as f64;
        let _ = write!(
            out,
            "<rect class=\"bar\" x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{h:.1}\">\
             <title>{}: {} calls</title></rect>",
            x + slot * 0.1,
            top + plot_h - h,
            (slot * 0.8).max(0.5),
            d.day,
            d.calls
        );
        if i % label_every == 0 {
            let _ = write!(
                out,
                "<text x=\"{:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
                x + slot / 2.0,
                top + plot_h + 18.0,
                d.day
            );
        }
    }
    out.push_str("</svg>");
    out
}

/// Longest label (agent id) shown beside a bar; the table has the full one.
const LABEL_CHARS: usize = 22;
/// Layout of the bar charts: room for ids on the left, values on the right.
const AGENT_LEFT: f64 = 180.0;
const AGENT_RIGHT: f64 = 60.0;
const AGENT_TOP: f64 = 8.0;
const AGENT_ROW: f64 = 24.0;

/// One bar of a horizontal bar chart.
struct HBar {
    label: String,
    /// Length as a share of the axis, 0–1.
    share: f64,
    /// The hover text.
    title: String,
    /// Printed after the bar.
    value: String,
}

/// Horizontal bars, one per agent, on a 0–100 % axis with a line at 50 %.
fn svg_agent_talk(agents: &[AgentTalk]) -> String {
    if agents.is_empty() {
        return svg_empty("no calls with both agent and customer talk time");
    }
    let bars: Vec<HBar> = agents
        .iter()
        .map(|a| HBar {
            label: a.agent.clone(),
            share: a.talk_ratio,
            title: format!(
                "{}: {:.1} % of talk, {} calls",
                a.agent,
                a.talk_ratio * 100.0,
                a.calls
            ),
            value: format!("{:.0} %", a.talk_ratio * 100.0),
        })
        .collect();
    let marks = [
        (0.0, "grid", "0 %"),
        (0.5, "half", "50 %"),
        (1.0, "grid", "100 %"),
    ];
    svg_hbars(&bars, "agent talk ratio", &marks)
}

/// Horizontal bars of each agent's average score per scorecard on a 0–100
/// axis; lines whose every call was not applicable have no bar. Empty when
/// no line has an average.
fn svg_scores(scores: &[AgentScore]) -> String {
    // The scorecard's name is only worth its room when there are several.
    let cards: BTreeSet<&str> = scores.iter().map(|a| a.scorecard.as_str()).collect();
    let bars: Vec<HBar> = scores
        .iter()
        .filter_map(|a| {
            let avg = a.avg_score?;
            let scored = a.calls - a.not_applicable;
            Some(HBar {
                label: if cards.len() > 1 {
                    format!("{} · {}", a.agent, a.scorecard)
                } else {
                    a.agent.clone()
                },
                share: avg / 100.0,
                title: format!(
                    "{}, {}: average {avg:.1} over {scored} scored calls",
                    a.agent, a.scorecard
                ),
                value: format!("{avg:.0}"),
            })
        })
        .collect();
    if bars.is_empty() {
        return String::new();
    }
    let marks = [
        (0.0, "grid", "0"),
        (0.5, "grid", "50"),
        (1.0, "grid", "100"),
    ];
    svg_hbars(&bars, "average score per agent", &marks) + "\n"
}

/// Horizontal bars with a vertical line and label at each of `marks`
/// (share of the axis, CSS class, label).
fn svg_hbars(bars: &[HBar], aria: &str, marks: &[(f64, &str, &str)]) -> String {
    let (left, top) = (AGENT_LEFT, AGENT_TOP);
    let plot_w = PLOT_W - left - AGENT_RIGHT;
    let axis_y = top + AGENT_ROW * bars.len() as f64;
    let mut out = format!(
        "<svg viewBox=\"0 0 {PLOT_W} {:.0}\" role=\"img\" aria-label=\"{}\">",
        axis_y + 24.0,
        esc(aria)
    );
    for (i, bar) in bars.iter().enumerate() {
        hbar(&mut out, top + AGENT_ROW * i as f64, plot_w, bar);
    }
    // Drawn after the bars so a line at 50 % stays visible across them.
    for &(share, class, label) in marks {
        let x = left + plot_w * share;
        let _ = write!(
            out,
            "<line class=\"{class}\" x1=\"{x:.1}\" x2=\"{x:.1}\" y1=\"{top}\" y2=\"{axis_y:.1}\"/>\
             <text x=\"{x:.1}\" y=\"{:.1}\" text-anchor=\"middle\">{}</text>",
            axis_y + 16.0,
            esc(label)
        );
    }
    out.push_str("</svg>");
    out
}

/// One bar's row at `y`: label, bar with a hover title, value.
fn hbar(out: &mut String, y: f64, plot_w: f64, bar: &HBar) {
    let mut label: String = bar.label.chars().take(LABEL_CHARS).collect();
    if bar.label.chars().count() > LABEL_CHARS {
        label.push('…');
    }
    let width = plot_w * bar.share.clamp(0.0, 1.0);
    let text_y = y + AGENT_ROW * 0.65;
    let _ = write!(
        out,
        "<text x=\"{label_x:.1}\" y=\"{text_y:.1}\" text-anchor=\"end\">{label}</text>\
         <rect class=\"bar\" x=\"{AGENT_LEFT}\" y=\"{bar_y:.1}\" width=\"{width:.1}\" \
         height=\"{bar_h:.1}\"><title>{title}</title></rect>\
         <text x=\"{value_x:.1}\" y=\"{text_y:.1}\">{value}</text>",
        label_x = AGENT_LEFT - 8.0,
        label = esc(&label),
        bar_y = y + AGENT_ROW * 0.15,
        bar_h = AGENT_ROW * 0.7,
        title = esc(&bar.title),
        value = esc(&bar.value),
        value_x = AGENT_LEFT + width + 6.0,
    );
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::model::{CallMetrics, MetricsSource};

    /// Europe/Warsaw from the system's tzdata; its current POSIX rule where
    /// a machine has none, so the DST tests still run there.
    fn warsaw() -> TimeZone {
        TimeZone::get("Europe/Warsaw")
            .unwrap_or_else(|_| TimeZone::posix("CET-1CEST,M3.5.0,M10.5.0/3").unwrap())
    }

    fn ts(s: &str) -> Timestamp {
        s.parse().unwrap()
    }

    /// A mono call (times in seconds): only whole-call values are known.
    fn mono(id: &str, agent: Option<&str>, start: Option<&str>, dur: u64, talk: u64) -> CallRow {
        let (dur, talk) = (dur * 1000, talk * 1000);
        CallRow {
            call_id: id.to_string(),
            source_path: format!("/rec/{id}.wav"),
            content_hash: format!("blake3:{id}"),
            call_start: start.map(ts),
            duration_ms: dur,
            channels: 1,
            sample_rate_hz: 8000,
            codec: "pcm_s16le".to_string(),
            agent_id: agent.map(str::to_string),
            customer_number: None,
            direction: Some("inbound".to_string()),
            campaign: None,
            queue: None,
            languages: vec!["pl".to_string()],
            language_agent: None,
            language_customer: None,
            metrics: CallMetrics {
                source: MetricsSource::Vad,
                talk_ms: talk,
                talk_ms_agent: None,
                talk_ms_customer: None,
                silence_ms: dur - talk,
                overlap_ms: None,
                interruptions_agent: None,
                interruptions_customer: None,
                longest_monologue_ms_agent: None,
                longest_monologue_ms_customer: None,
                words: 0,
                words_agent: None,
                words_customer: None,
                wpm_agent: None,
                wpm_customer: None,
                talk_ratio_agent: None,
                mean_avg_logprob: None,
            },
            segments: 0,
            model: "ggml-test.bin".to_string(),
            pipeline: "default".to_string(),
            processed_at: None,
            processing_ms: None,
            metadata_json: "{}".to_string(),
            metadata_source_json: "{}".to_string(),
            warnings: 0,
            schema_version: 1,
        }
    }

    /// A stereo call (times in seconds): `talk` is `[agent, customer,
    /// overlap]`, `int` the interruptions by agent and customer, `agent` the
    /// agent's longest monologue and words per minute.
    fn stereo(
        id: &str,
        agent: Option<&str>,
        start: &str,
        dur: u64,
        talk: [u64; 3],
        int: [u32; 2],
        (mono_s, wpm): (u64, f64),
    ) -> CallRow {
        let mut row = mono(id, agent, Some(start), dur, talk[0] + talk[1] - talk[2]);
        row.channels = 2;
        let m = &mut row.metrics;
        m.talk_ms_agent = Some(talk[0] * 1000);
        m.talk_ms_customer = Some(talk[1] * 1000);
        m.overlap_ms = Some(talk[2] * 1000);
        m.interruptions_agent = Some(int[0]);
        m.interruptions_customer = Some(int[1]);
        m.longest_monologue_ms_agent = Some(mono_s * 1000);
        m.wpm_agent = Some(wpm);
        m.talk_ratio_agent = Some(talk[0] as f64 / (talk[0] + talk[1]) as f64);
        row
    }

    /// The calls every test starts from; the tests' values are worked out
    /// by hand from these.
    fn rows() -> Vec<CallRow> {
        // 00:30 CET on 30 March (23:30 UTC on the 29th).
        let c1 = "2025-03-29T23:30:00Z";
        // 00:30 CEST on 31 March (23:30 on the 30th at CET's offset).
        let c2 = "2025-03-30T22:30:00Z";
        let c3 = "2025-03-31T08:00:00Z";
        let (a1, a2) = (Some("a1"), Some("a2"));
        let mut out = vec![
            // talk 500 s, silence 100 s
            stereo("c1", a1, c1, 600, [400, 140, 40], [2, 1], (60, 150.0)),
            // talk 1000 s, silence 200 s
            stereo("c2", a1, c2, 1200, [300, 700, 0], [0, 3], (90, 120.0)),
            // talk 180 s, silence 120 s
            stereo("c3", None, c3, 300, [100, 100, 20], [1, 1], (30, 110.0)),
            // silence 420 s
            mono("c4", a2, Some("2025-03-30T10:00:00Z"), 1020, 600),
        ];
        out[1].direction = Some("outbound".to_string());
        out
    }

    fn group<'a>(s: &'a Summary, key: &str) -> &'a Stats {
        &s.groups.iter().find(|g| g.key == key).unwrap().stats
    }

    fn close(a: Option<f64>, b: f64) -> bool {
        a.is_some_and(|a| (a - b).abs() < 1e-12)
    }

    #[test]
    fn talk_ratio_is_weighted_by_talk_time() {
        let s = summarize(&rows(), GroupBy::Agent, &warsaw());
        // (400 + 300) / (540 + 1000); the mean of the calls' ratios would be 0.52.
        assert!(close(group(&s, "a1").talk_ratio_agent, 700.0 / 1540.0));
        // Mono c4 is left out: (400 + 300 + 100) / (540 + 1000 + 200).
        assert!(close(s.totals.talk_ratio_agent, 800.0 / 1740.0));
        // (150 × 400 + 120 × 300) / 700 s of agent talk, not (150 + 120) / 2.
        assert!(close(group(&s, "a1").wpm_agent, 96_000.0 / 700.0));
    }

    #[test]
    fn silence_share_is_total_silence_over_total_audio() {
        let s = summarize(&rows(), GroupBy::Agent, &warsaw());
        assert!(close(group(&s, "a1").silence_share, 300.0 / 1800.0));
        assert!(close(s.totals.silence_share, 840.0 / 3120.0));
        assert_eq!(s.totals.overlap_ms, Some(60_000));
        assert_eq!(s.totals.talk_ms, 2_280_000);
    }

    #[test]
    fn mono_call_is_left_out_of_ratios_only() {
        let s = summarize(&rows(), GroupBy::Agent, &warsaw());
        let a2 = group(&s, "a2");
        assert_eq!((a2.calls, a2.audio_ms), (1, 1_020_000));
        assert!(close(a2.silence_share, 420.0 / 1020.0));
        assert_eq!(a2.talk_ratio_agent, None);
        assert_eq!(a2.interruptions_per_call_agent, None);
        assert_eq!(a2.wpm_agent, None);
        assert_eq!(a2.longest_monologue_ms_agent, None);
        // 3 and 5 interruptions over the 3 stereo calls, not over all 4.
        assert!(close(s.totals.interruptions_per_call_agent, 1.0));
        assert!(close(s.totals.interruptions_per_call_customer, 5.0 / 3.0));
        let plotted: Vec<&str> = s.agent_talk.iter().map(|a| a.agent.as_str()).collect();
        assert_eq!(plotted, ["a1", UNKNOWN]);
    }

    #[test]
    fn days_are_local_days_across_dst() {
        let s = summarize(&rows(), GroupBy::Day, &warsaw());
        let days: Vec<(&str, usize)> = s
            .groups
            .iter()
            .map(|g| (g.key.as_str(), g.stats.calls))
            .collect();
        // UTC would give 29/30/30/31, CET's offset all year 30/30/30/31.
        assert_eq!(days, [("2025-03-30", 2), ("2025-03-31", 2)]);
        let per_day: Vec<(String, usize)> = s
            .calls_per_day
            .iter()
            .map(|d| (d.day.to_string(), d.calls))
            .collect();
        assert_eq!(
            per_day,
            [("2025-03-30".to_string(), 2), ("2025-03-31".to_string(), 2)]
        );
        // Back to CET in October: 22:30 UTC on the 25th is 00:30 on the 26th,
        // and 23:30 UTC on the 26th is 00:30 on the 27th.
        let mut oct = rows();
        oct[0].call_start = Some(ts("2025-10-25T22:30:00Z"));
        oct[1].call_start = Some(ts("2025-10-26T23:30:00Z"));
        oct.truncate(2);
        let s = summarize(&oct, GroupBy::Day, &warsaw());
        let keys: Vec<&str> = s.groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(keys, ["2025-10-26", "2025-10-27"]);
    }

    #[test]
    fn groups_sort_with_unknown_last_and_gaps_filled() {
        let mut rows = rows();
        rows.push(mono("c5", Some(" "), None, 60, 30));
        rows.push(mono(
            "c6",
            Some("a0"),
            Some("2025-04-02T09:00:00Z"),
            60_000,
            30_000,
        ));
        let s = summarize(&rows, GroupBy::Agent, &warsaw());
        let agents: Vec<(&str, usize)> = s
            .groups
            .iter()
            .map(|g| (g.key.as_str(), g.stats.calls))
            .collect();
        // The blank id counts as unknown; ties in calls go by id.
        assert_eq!(agents, [("a1", 2), ("a0", 1), ("a2", 1), (UNKNOWN, 2)]);
        let s = summarize(&rows, GroupBy::Day, &warsaw());
        assert_eq!(s.groups.last().unwrap().key, UNKNOWN);
        assert_eq!(s.calls_without_start, 1);
        let per_day: Vec<usize> = s.calls_per_day.iter().map(|d| d.calls).collect();
        assert_eq!(per_day, [2, 2, 0, 1]);
        let s = summarize(&rows, GroupBy::Direction, &warsaw());
        let dirs: Vec<&str> = s.groups.iter().map(|g| g.key.as_str()).collect();
        assert_eq!(dirs, ["inbound", "outbound"]);
    }

    #[test]
    fn filter_dates_is_half_open_and_drops_unknown_starts() {
        let mut rows = rows();
        rows.push(mono("c5", None, None, 60, 30));
        let ids =
            |rows: Vec<CallRow>| -> Vec<String> { rows.into_iter().map(|r| r.call_id).collect() };
        assert_eq!(filter_dates(rows.clone(), None, None).len(), 5);
        let from = Some(ts("2025-03-30T10:00:00Z"));
        let to = Some(ts("2025-03-31T08:00:00Z"));
        assert_eq!(ids(filter_dates(rows.clone(), from, to)), ["c2", "c4"]);
        assert_eq!(
            ids(filter_dates(rows.clone(), None, to)),
            ["c1", "c2", "c4"]
        );
        assert_eq!(ids(filter_dates(rows, from, None)), ["c2", "c3", "c4"]);
    }

    #[test]
    fn text_table_lines() {
        let text = render_text(&summarize(&rows(), GroupBy::Agent, &warsaw()));
        let lines: Vec<&str> = text.lines().collect();
        assert!(
            lines[0].starts_with("4 calls from 2025-03-30 to 2025-03-31 ("),
            "{}",
            lines[0]
        );
        assert!(lines[0].ends_with(
            "): 0.9 h audio, 0.6 h talk, silence 26.9 %, overlap 1m00s, \
             interruptions 3 by agent, 5 by customer"
        ));
        assert_eq!(lines[1], "");
        let table = [
            "agent      calls  audio h  talk %  silence %  int/call A  int/call C  wpm A  mono A",
            "a1             2      0.5    45.5       16.7        1.00        2.00    137   1m30s",
            "a2             1      0.3       -       41.2           -           -      -       -",
            "(unknown)      1      0.1    50.0       40.0        1.00        1.00    110     30s",
            &"-".repeat(83),
            "(all)          4      0.9    46.0       26.9        1.00        1.67    134   1m30s",
            "",
        ];
        assert_eq!(lines[2..9], table);
        assert!(lines[9].starts_with("talk % = agent's share"));
        assert_eq!(lines.len(), 12);
        // Below the line of totals everything fits a 90-column terminal.
        assert!(lines[2..].iter().all(|l| l.chars().count() <= 90), "{text}");
    }

    #[test]
    fn text_shows_control_characters_as_question_marks() {
        let mut rows = rows();
        rows[0].agent_id = Some("a1\x1b[31m\x07x".to_string());
        let text = render_text(&summarize(&rows, GroupBy::Agent, &warsaw()));
        assert!(text.contains("\na1?[31m?x "), "{text}");
        assert!(!text.contains('\x1b'));
    }

    #[test]
    fn text_with_zero_calls() {
        let s = summarize(&[], GroupBy::Day, &warsaw());
        assert_eq!(render_text(&s), "no calls in the range\n");
    }

    #[test]
    fn group_by_names() {
        for g in GroupBy::ALL {
            assert_eq!(g.name().parse::<GroupBy>(), Ok(g));
            let clap = clap::ValueEnum::to_possible_value(&g).unwrap();
            assert_eq!(clap.get_name(), g.name());
        }
        assert_eq!(" Day ".parse::<GroupBy>(), Ok(GroupBy::Day));
        assert!("week".parse::<GroupBy>().is_err());
    }

    #[test]
    fn html_escapes_a_hostile_agent_id() {
        let mut rows = rows();
        rows[0].agent_id = Some("<script>alert('x&y')</script>".to_string());
        let html = render_html(&summarize(&rows, GroupBy::Agent, &warsaw()), "Q1 <b>&</b>");
        assert!(!html.contains("<script"), "{html}");
        assert!(!html.contains("<b>"));
        assert!(html.contains("&lt;script&gt;alert(&#39;x&amp;y&#39;)&lt;/script&gt;"));
        assert!(html.contains("<title>Q1 &lt;b&gt;&amp;&lt;/b&gt;</title>"));
    }

    #[test]
    fn html_is_self_contained() {
        let html = render_html(&summarize(&rows(), GroupBy::Day, &warsaw()), "March");
        assert!(html.starts_with("<!DOCTYPE html>"));
        assert!(html.contains("<meta charset=\"utf-8\">"));
        assert!(!html.to_ascii_lowercase().contains("http"));
        assert!(!html.contains("url(") && !html.contains("<script"));
        assert_eq!(html.matches("<svg").count(), 2);
        // One bar per day, one per agent with a known ratio, and the 50 % line.
        assert_eq!(html.matches("<rect").count(), 2 + 2);
        assert!(html.contains("class=\"half\""));
        assert!(html.contains("<td>2025-03-30</td>"));
        assert!(html.ends_with("</html>\n"));
    }

    #[test]
    fn html_with_zero_rows() {
        let html = render_html(&summarize(&[], GroupBy::Agent, &warsaw()), "empty");
        assert!(html.contains("no calls in the range"));
        assert_eq!(html.matches("<svg").count(), 2);
        assert!(!html.to_ascii_lowercase().contains("http"));
        assert!(!html.contains("<table"));
    }

    /// One criterion row of a scorecard on a call: `card` is its name and
    /// score, `criterion` the name, whether critical, and `P` (passed), `F`
    /// (failed) or `-` (not applicable).
    fn crit(
        call: &str,
        agent: Option<&str>,
        (card, score): (&str, Option<f64>),
        (criterion, critical, result): (&str, bool, &str),
    ) -> ScoreRow {
        ScoreRow {
            call_id: call.to_string(),
            call_start: Some(ts("2025-03-30T10:00:00Z")),
            agent_id: agent.map(str::to_string),
            scorecard: card.to_string(),
            score,
            criterion_no: 0,
            section: String::new(),
            criterion: criterion.to_string(),
            weight: 1.0,
            critical,
            applicable: result != "-",
            passed: result == "P",
            evidence_ms: None,
            evidence_text: None,
        }
    }

    /// The "sales" card (greet, disclose (critical), thanks) on six calls
    /// and a "collections" card nothing applied to; the tests' values are
    /// worked out by hand from these.
    fn score_rows() -> Vec<ScoreRow> {
        let (a1, a2) = (Some("a1"), Some("a2"));
        let sales = |call, agent, score, [g, d, t]: [&str; 3]| {
            [
                ("greet", false, g),
                ("disclose", true, d),
                ("thanks", false, t),
            ]
            .map(|c| crit(call, agent, ("sales", score), c))
        };
        let mut rows = Vec::new();
        rows.extend(sales("k1", a1, Some(80.0), ["P", "P", "F"]));
        // Zeroed: the critical disclosure failed.
        rows.extend(sales("k2", a1, Some(0.0), ["P", "F", "F"]));
        // Nothing applied: no score, not averaged.
        rows.extend(sales("k3", a1, None, ["-", "-", "-"]));
        rows.extend(sales("k4", a2, Some(100.0), ["P", "P", "P"]));
        // 0 from ordinary failures alone is not "zeroed".
        rows.extend(sales("k5", None, Some(0.0), ["F", "-", "F"]));
        // Judged by an older card of one criterion: one row, not three.
        rows.push(crit("k6", a2, ("sales", Some(70.0)), ("greet", false, "P")));
        let miranda = ("mini-miranda", true, "-");
        rows.push(crit("k1", a1, ("collections", None), miranda));
        rows
    }

    #[test]
    fn scores_average_each_call_once_without_na_cards() {
        let f = summarize_findings(&[], &score_rows(), &warsaw());
        let lines: Vec<_> = f
            .scores_by_agent
            .iter()
            .map(|a| {
                let (agent, card) = (a.agent.as_str(), a.scorecard.as_str());
                (
                    agent,
                    card,
                    a.calls,
                    a.not_applicable,
                    a.avg_score,
                    a.zeroed,
                )
            })
            .collect();
        assert_eq!(
            lines,
            [
                ("a1", "collections", 1, 1, None, 0),
                // (80 + 0) / 2: k3 is counted as a call but not averaged
                // (as a 0 it would make 26.7).
                ("a1", "sales", 3, 1, Some(40.0), 1),
                // (100 + 70) / 2 = 85; over rows it would be 370 / 4 = 92.5.
                ("a2", "sales", 2, 0, Some(85.0), 0),
                (UNKNOWN, "sales", 1, 0, Some(0.0), 0),
            ]
        );
    }

    #[test]
    fn failed_criteria_by_failures_then_name_top_ten() {
        let mut rows = score_rows();
        // "long": twelve criteria failed once on c1, c11 a second time on c2.
        let long = ("long", Some(0.0));
        for i in 0..12 {
            rows.push(crit("c1", None, long, (&format!("c{i:02}"), false, "F")));
        }
        rows.push(crit("c2", None, long, ("c11", false, "F")));
        let f = summarize_findings(&[], &rows, &warsaw());
        let got: Vec<(&str, &str, usize, usize)> = f
            .failed_criteria
            .iter()
            .map(|c| (&*c.scorecard, &*c.criterion, c.failed, c.applicable))
            .collect();
        let mut want = vec![("long", "c11", 2, 2)];
        let names: Vec<String> = (0..9).map(|i| format!("c{i:02}")).collect();
        want.extend(names.iter().map(|n| ("long", n.as_str(), 1, 1)));
        // thanks F on k1, k2, k5 of 4 applicable; the tie of disclose (k2
        // of k1, k2, k4) and greet (k5 of 5) goes by name; collections'
        // only criterion never applied, so it never failed.
        want.extend([
            ("sales", "thanks", 3, 4),
            ("sales", "disclose", 1, 3),
            ("sales", "greet", 1, 5),
        ]);
        assert_eq!(got, want);
        let sales = &f.failed_criteria[10..];
        assert!(close(Some(sales[0].failed_share), 0.75));
        assert!(close(Some(sales[2].failed_share), 0.2));
    }

    /// A hit of `rule` in `call`; `kind` and `severity` follow from the rule.
    fn hit(call: &str, start: Option<&str>, rule: &str) -> HitRow {
        let (kind, severity) = match rule {
            "dnc-list" => ("dnc_listed", "high"),
            "notice" => ("watchlist", "low"),
            _ => ("watchlist", "high"),
        };
        HitRow {
            call_id: call.to_string(),
            call_start: start.map(ts),
            agent_id: Some("a1".to_string()),
            customer_number: None,
            rule: rule.to_string(),
            kind: kind.to_string(),
            severity: severity.to_string(),
            speaker: "agent".to_string(),
            seg_no: Some(0),
            start_ms: 0,
            end_ms: 1000,
            matched_text: "nowa karta".to_string(),
            phrase: "nowa karta".to_string(),
        }
    }

    fn hit_rows() -> Vec<HitRow> {
        // 00:30 CET on 30 March, 12:00 CEST on the 30th, 00:30 CEST on the 31st.
        let (x1, x2, x3) = (
            Some("2025-03-29T23:30:00Z"),
            Some("2025-03-30T10:00:00Z"),
            Some("2025-03-30T22:30:00Z"),
        );
        vec![
            hit("x1", x1, "card-offer"),
            hit("x1", x1, "card-offer"),
            hit("x2", x2, "notice"),
            hit("x2", x2, "card-offer"),
            hit("x3", x3, "card-offer"),
            hit("x4", None, "dnc-list"),
        ]
    }

    #[test]
    fn hits_per_rule_per_local_day() {
        let f = summarize_findings(&hit_rows(), &[], &warsaw());
        let got: Vec<(String, &str, &str, &str, usize, usize)> = f
            .hits_by_day
            .iter()
            .map(|h| {
                let day = h.day.map_or(UNKNOWN.to_string(), |d| d.to_string());
                (day, &*h.rule, &*h.kind, &*h.severity, h.hits, h.calls)
            })
            .collect();
        let day = |d: &str| d.to_string();
        // In UTC x1's two hits would be on the 29th and x3's on the 30th.
        assert_eq!(
            got,
            [
                (day("2025-03-30"), "card-offer", "watchlist", "high", 3, 2),
                (day("2025-03-30"), "notice", "watchlist", "low", 1, 1),
                (day("2025-03-31"), "card-offer", "watchlist", "high", 1, 1),
                (day(UNKNOWN), "dnc-list", "dnc_listed", "high", 1, 1),
            ]
        );
        // The report's date filter applies to hits and scores by call start.
        let from = Some(ts("2025-03-30T00:00:00Z"));
        let to = Some(ts("2025-03-30T22:00:00Z"));
        let kept = filter_dates(hit_rows(), from, to);
        assert_eq!(
            kept.iter().map(|h| &*h.call_id).collect::<Vec<_>>(),
            ["x2", "x2"]
        );
        let mut scores = score_rows();
        scores[0].call_start = Some(ts("2025-03-30T23:00:00Z"));
        assert_eq!(filter_dates(scores, from, to).len(), score_rows().len() - 1);
    }

    #[test]
    fn text_sections_after_the_calls() {
        let mut s = summarize(&rows(), GroupBy::Agent, &warsaw());
        s.findings = summarize_findings(&hit_rows(), &score_rows(), &warsaw());
        let text = render_text(&s);
        let lines: Vec<&str> = text.lines().collect();
        assert_eq!(lines[12..14], ["", "Scores by agent"], "{text}");
        let scores = [
            "agent      scorecard    calls  n/a  avg score  zeroed",
            "a1         collections      1    1          -       0",
            "a1         sales            3    1       40.0       1",
            "a2         sales            2    0       85.0       0",
            "(unknown)  sales            1    0        0.0       0",
        ];
        assert_eq!(lines[14..19], scores, "{text}");
        assert!(lines[19].starts_with("calls = calls the scorecard was judged on"));
        assert_eq!(lines[22..24], ["", "Criteria most often failed"]);
        let failed = [
            "scorecard  criterion  failed  applicable  failed %",
            "sales      thanks          3           4      75.0",
            "sales      disclose        1           3      33.3",
            "sales      greet           1           5      20.0",
        ];
        assert_eq!(lines[24..28], failed, "{text}");
        assert!(lines[28].starts_with(&format!("top {TOP_FAILED} per scorecard")));
        assert_eq!(lines[30..32], ["", "Rule hits by day"]);
        let hits = [
            "day         rule        kind        severity  hits  calls",
            "2025-03-30  card-offer  watchlist   high         3      2",
            "2025-03-30  notice      watchlist   low          1      1",
            "2025-03-31  card-offer  watchlist   high         1      1",
            "(unknown)   dnc-list    dnc_listed  high         1      1",
        ];
        assert_eq!(lines[32..37], hits, "{text}");
        assert_eq!(lines.len(), 39);
        // Without rules there is nothing to say about them.
        let plain = render_text(&summarize(&rows(), GroupBy::Agent, &warsaw()));
        assert!(!plain.contains("Scores by agent") && !plain.contains("Rule hits"));
    }

    #[test]
    fn html_sections_escape_names_from_files() {
        let mut hits = hit_rows();
        hits[0].rule = "<b>offer&co</b>".to_string();
        let mut scores = score_rows();
        for r in scores
            .iter_mut()
            .filter(|r| r.agent_id.as_deref() == Some("a1"))
        {
            r.agent_id = Some("<i>a1</i>".to_string());
        }
        let mut s = summarize(&rows(), GroupBy::Agent, &warsaw());
        s.findings = summarize_findings(&hits, &scores, &warsaw());
        let html = render_html(&s, "rules");
        assert!(!html.contains("<b>") && !html.contains("<i>"), "{html}");
        assert!(html.contains("<td class=\"t\">&lt;b&gt;offer&amp;co&lt;/b&gt;</td>"));
        // In the scores table and the bar's label and hover title.
        assert!(html.matches("&lt;i&gt;a1&lt;/i&gt;").count() >= 3, "{html}");
        for h2 in [
            "Scores by agent",
            "Criteria most often failed",
            "Rule hits by day",
        ] {
            assert!(html.contains(&format!("<h2>{h2}</h2>")), "{h2}");
        }
        // The calls' two plots and the scores': a1's collections line has
        // no average, so three bars of scores beside the 2 + 2 of the calls.
        assert_eq!(html.matches("<svg").count(), 3);
        assert_eq!(html.matches("<rect").count(), 2 + 2 + 3);
        assert!(!html.to_ascii_lowercase().contains("http"));
        assert!(!html.contains("url(") && !html.contains("<script"));
    }
}
