//! `callsift rules test`: what fired in one transcript, where and why, and
//! what did not fire and why, for the person who writes the rules.

use std::fmt::Write;

use super::{Judgement, clock};
use crate::model::{HitKind, Transcript};

/// The findings as text for a terminal.
pub fn render(t: &Transcript, j: &Judgement) -> String {
    let mut out = String::new();
    let _ = writeln!(
        out,
        "call {} ({}, {}){}",
        t.call_id,
        t.source_path,
        clock(t.duration_ms),
        t.standard_metadata("customer_number")
            .map(|n| format!(", customer {n}"))
            .unwrap_or_default()
    );
    for listed in j
        .analysis
        .hits
        .iter()
        .filter(|h| h.kind == HitKind::DncListed)
    {
        let _ = writeln!(
            out,
            "FIRED  {} (high): the call was placed to {}, {}",
            listed.rule, listed.matched, listed.phrase
        );
    }
    for r in &j.rules {
        let kind = match r.kind {
            HitKind::Watchlist => "watchlist",
            HitKind::DncRequest => "do-not-call",
            HitKind::DncListed => "listed",
        };
        match &r.why_not {
            Some(why) => {
                let _ = writeln!(out, "  -    {} ({kind}): not fired: {why}", r.rule);
            }
            None => {
                let severity = r.hits.first().map_or("", |h| h.severity.as_str());
                let _ = writeln!(
                    out,
                    "FIRED  {} ({kind}, {severity}): {} time{}",
                    r.rule,
                    r.hits.len(),
                    if r.hits.len() == 1 { "" } else { "s" }
                );
                for h in &r.hits {
                    let _ = writeln!(
                        out,
                        "         {} {}: «{}» (rule phrase «{}»{})",
                        clock(h.start_ms),
                        h.speaker,
                        h.matched,
                        h.phrase,
                        h.segment
                            .map(|s| format!(", segment {s}"))
                            .unwrap_or_default()
                    );
                }
            }
        }
    }
    for card in &j.analysis.scorecards {
        let score = card.score.map_or("no criterion applies".to_string(), |s| {
            format!("{s:.1}/100")
        });
        let _ = writeln!(out, "scorecard {}: {score}", card.scorecard);
        if !card.critical_failed.is_empty() {
            let _ = writeln!(
                out,
                "  critical criteria failed (score set to 0): {}",
                card.critical_failed.join(", ")
            );
        }
        for c in &card.criteria {
            let mark = match (c.applicable, c.passed) {
                (false, _) => "n/a",
                (true, true) => "ok ",
                (true, false) => "NO ",
            };
            let _ = writeln!(
                out,
                "  {mark} {} / {} (weight {}{}): {}",
                c.section,
                c.criterion,
                c.weight,
                if c.critical { ", critical" } else { "" },
                c.reason
            );
        }
    }
    if !j.analysis.redacted.is_empty() {
        let parts: Vec<String> = j
            .analysis
            .redacted
            .iter()
            .map(|(k, n)| format!("{n} {k}"))
            .collect();
        let _ = writeln!(out, "redacted: {}", parts.join(", "));
    }
    out
}
