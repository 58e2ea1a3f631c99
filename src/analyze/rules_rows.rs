//! The `hits` and `scores` table rows of a transcript, from its `analysis`
//! block (what the rules stage found). Pure, like the rest of
//! [`crate::analyze`]: the rows are rebuilt from the transcript alone, so
//! `tables rebuild` after `callsift rescore` gives the new findings. A
//! transcript without `analysis` (no rules ran) has no rows in either table.

use crate::model::{HitRow, ScoreRow, Transcript};

/// One `hits` row per rule hit, in the order of `analysis.hits` (the table
/// sorts them by start, then rule).
pub fn hit_rows(t: &Transcript) -> Vec<HitRow> {
    let Some(analysis) = &t.analysis else {
        return Vec::new();
    };
    // Looked up once per call, not per hit: every row repeats them so a
    // query by agent or number needs no join with `calls`.
    let agent_id = super::meta(t, "agent_id");
    let customer_number = super::meta(t, "customer_number");
    analysis
        .hits
        .iter()
        .map(|h| HitRow {
            call_id: t.call_id.clone(),
            call_start: t.call_start,
            agent_id: agent_id.clone(),
            customer_number: customer_number.clone(),
            rule: h.rule.clone(),
            kind: h.kind.as_str().to_string(),
            severity: h.severity.as_str().to_string(),
            speaker: h.speaker.clone(),
            seg_no: h.segment.map(|s| s as u32),
            start_ms: h.start_ms,
            end_ms: h.end_ms,
            matched_text: h.matched.clone(),
            phrase: h.phrase.clone(),
        })
        .collect()
}

/// One `scores` row per criterion of each scorecard, cards in the order of
/// `analysis.scorecards`, criteria in the card's order (`criterion_no`).
pub fn score_rows(t: &Transcript) -> Vec<ScoreRow> {
    let Some(analysis) = &t.analysis else {
        return Vec::new();
    };
    let agent_id = super::meta(t, "agent_id");
    analysis
        .scorecards
        .iter()
        .flat_map(|card| {
            let agent_id = agent_id.clone();
            card.criteria
                .iter()
                .enumerate()
                .map(move |(n, c)| ScoreRow {
                    call_id: t.call_id.clone(),
                    call_start: t.call_start,
                    agent_id: agent_id.clone(),
                    scorecard: card.scorecard.clone(),
                    score: card.score,
                    criterion_no: n as u32,
                    section: c.section.clone(),
                    criterion: c.criterion.clone(),
                    weight: c.weight,
                    critical: c.critical,
                    applicable: c.applicable,
                    passed: c.passed,
                    evidence_ms: c.evidence_ms,
                    evidence_text: c.evidence_text.clone(),
                })
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::model::{
        CallAnalysis, CriterionResult, HitKind, RuleHit, ScorecardResult, Severity,
        TRANSCRIPT_SCHEMA,
    };

    fn transcript(analysis: Option<CallAnalysis>) -> Transcript {
        Transcript {
            schema: TRANSCRIPT_SCHEMA.into(),
            call_id: "0123456789abcdef0123".into(),
            source_path: "/rec/a.wav".into(),
            content_hash: "blake3:0123".into(),
            call_start: Some("2026-11-20T09:15:00Z".parse().unwrap()),
            duration_ms: 40_000,
            channels: 2,
            sample_rate_hz: 8000,
            codec: "pcm_mulaw".into(),
            // The older aliases: rows must read them like the calls row does.
            metadata: BTreeMap::from([
                ("agent".into(), "101".into()),
                ("customer".into(), "600100200".into()),
            ]),
            metadata_source: BTreeMap::new(),
            model: "scripted".into(),
            languages: BTreeMap::new(),
            segments: Vec::new(),
            speech: Vec::new(),
            warnings: Vec::new(),
            pipeline: "test".into(),
            processed_at: None,
            processing_ms: None,
            analysis,
        }
    }

    fn criterion(name: &str, passed: bool, evidence_ms: Option<u64>) -> CriterionResult {
        CriterionResult {
            section: "opening".into(),
            criterion: name.into(),
            weight: 1.5,
            critical: name == "disclosure",
            applicable: true,
            passed,
            reason: String::new(),
            evidence_segment: evidence_ms.map(|_| 0),
            evidence_ms,
            evidence_text: evidence_ms.map(|_| "dzień dobry".into()),
        }
    }

    fn analysis() -> CallAnalysis {
        CallAnalysis {
            pipeline: "test".into(),
            hits: vec![
                RuleHit {
                    rule: "dnc".into(),
                    kind: HitKind::DncListed,
                    severity: Severity::High,
                    speaker: String::new(),
                    segment: None,
                    start_ms: 0,
                    end_ms: 0,
                    matched: "600100200".into(),
                    phrase: "600100200".into(),
                },
                RuleHit {
                    rule: "card".into(),
                    kind: HitKind::Watchlist,
                    severity: Severity::Medium,
                    speaker: "agent".into(),
                    segment: Some(3),
                    start_ms: 12_000,
                    end_ms: 20_000,
                    matched: "nowej karty".into(),
                    phrase: "nowa karta".into(),
                },
            ],
            scorecards: vec![
                ScorecardResult {
                    scorecard: "sales".into(),
                    score: Some(50.0),
                    critical_failed: Vec::new(),
                    // Not in name order: the rows keep this order.
                    criteria: vec![
                        criterion("greeting", true, Some(1000)),
                        criterion("disclosure", false, None),
                    ],
                },
                ScorecardResult {
                    scorecard: "empty".into(),
                    score: None,
                    critical_failed: Vec::new(),
                    criteria: Vec::new(),
                },
            ],
            redacted: BTreeMap::new(),
        }
    }

    #[test]
    fn no_analysis_no_rows() {
        let t = transcript(None);
        assert!(hit_rows(&t).is_empty());
        assert!(score_rows(&t).is_empty());
    }

    #[test]
    fn one_hit_row_per_hit_with_the_call_repeated() {
        let t = transcript(Some(analysis()));
        let rows = hit_rows(&t);
        assert_eq!(rows.len(), 2);
        let card = &rows[1];
        assert_eq!(card.call_id, t.call_id);
        assert_eq!(card.call_start, t.call_start);
        assert_eq!(card.agent_id.as_deref(), Some("101"));
        assert_eq!(card.customer_number.as_deref(), Some("600100200"));
        assert_eq!(
            (card.kind.as_str(), card.severity.as_str()),
            ("watchlist", "medium")
        );
        assert_eq!(
            (card.seg_no, card.start_ms, card.end_ms),
            (Some(3), 12_000, 20_000)
        );
        assert_eq!(
            (card.matched_text.as_str(), card.phrase.as_str()),
            ("nowej karty", "nowa karta")
        );
        assert_eq!(
            (rows[0].kind.as_str(), rows[0].seg_no),
            ("dnc_listed", None)
        );
    }

    #[test]
    fn one_score_row_per_criterion_in_card_order() {
        let t = transcript(Some(analysis()));
        let rows = score_rows(&t);
        let names: Vec<(&str, u32, &str)> = rows
            .iter()
            .map(|r| (r.scorecard.as_str(), r.criterion_no, r.criterion.as_str()))
            .collect();
        // A card without criteria has no rows.
        assert_eq!(
            names,
            [("sales", 0, "greeting"), ("sales", 1, "disclosure")]
        );
        assert!(rows.iter().all(|r| r.score == Some(50.0)));
        assert_eq!(rows[0].agent_id.as_deref(), Some("101"));
        assert_eq!(
            (rows[0].evidence_ms, rows[0].evidence_text.as_deref()),
            (Some(1000), Some("dzień dobry"))
        );
        assert!(rows[1].critical && !rows[1].passed && rows[1].evidence_ms.is_none());
        assert_eq!(rows[1].weight, 1.5);
    }
}
