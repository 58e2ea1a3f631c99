//! The rules stage as the first of a run's sinks: it redacts each finished
//! transcript, judges it, and keeps the do-not-call list, before the
//! transcript sink writes anything (so an unredacted text is never written
//! and the transcript carries what the rules found).

use std::path::{Path, PathBuf};

use super::dnc::{DncEntry, DncList};
use super::{DNC_LISTED_RULE, Judgement, RuleSet};
use crate::config::PipelineFile;
use crate::error::Result;
use crate::model::{CallAnalysis, HitKind, Transcript};
use crate::redact::{self, RedactKind};
use crate::sink::Sink;

/// Redaction, rules and the do-not-call list of one run (or rescore).
pub struct RulesStage {
    rules: RuleSet,
    redact: Vec<RedactKind>,
    default_country: Option<String>,
    /// Whether calls are checked against the do-not-call list.
    check_listed: bool,
    list: DncList,
    /// The list gained or changed a request since the export was written.
    dirty: bool,
    out_dir: PathBuf,
    /// Warnings from loading outside lists (bad lines), for the caller to log.
    pub warnings: Vec<String>,
}

impl RulesStage {
    /// The stage for a pipeline file, or `None` when it has no rules and no
    /// redaction. Loads the do-not-call export and the outside lists now,
    /// so a missing list file stops the run before any work.
    pub fn open(
        pipeline: &PipelineFile,
        pipeline_name: &str,
        out_dir: &Path,
    ) -> Result<Option<Self>> {
        if !pipeline.has_rules() {
            return Ok(None);
        }
        let default_country = pipeline
            .default_country
            .as_ref()
            .map(|c| c.get_ref().clone());
        let mut list = DncList::load_export(out_dir)?;
        let mut warnings = Vec::new();
        for path in &pipeline.dnc_lists {
            warnings.extend(list.add_external(path, default_country.as_deref())?);
        }
        Ok(Some(RulesStage {
            rules: RuleSet::new(pipeline, pipeline_name)?,
            redact: pipeline.redact.clone(),
            default_country,
            check_listed: !pipeline.do_not_call.is_empty() || !pipeline.dnc_lists.is_empty(),
            list,
            dirty: false,
            out_dir: out_dir.to_path_buf(),
            warnings,
        }))
    }

    pub fn rules(&self) -> &RuleSet {
        &self.rules
    }

    pub fn list(&self) -> &DncList {
        &self.list
    }

    /// Masks personal data in every segment; the counts by kind.
    pub fn redact(&self, t: &mut Transcript) -> std::collections::BTreeMap<String, u32> {
        let mut counts = std::collections::BTreeMap::new();
        if self.redact.is_empty() {
            return counts;
        }
        for s in &mut t.segments {
            let r = redact::redact(&s.text, &s.language, &self.redact);
            if !r.counts.is_empty() {
                s.text = r.text;
                for (kind, n) in r.counts {
                    *counts.entry(kind.as_str().to_string()).or_insert(0) += n;
                }
            }
        }
        counts
    }

    /// Judges a (redacted) call and adds its do-not-call requests to the list.
    pub fn judge(&mut self, t: &Transcript) -> Result<Judgement> {
        let judgement = self.rules.judge(t)?;
        for hit in &judgement.analysis.hits {
            if hit.kind == HitKind::DncRequest {
                self.add_request(t, hit);
            }
        }
        Ok(self.with_listed_hit(t, judgement))
    }

    /// Judges a (redacted) call against the list as it is, changing nothing
    /// (`rescore`'s second pass, whose list is complete, runs this in parallel).
    pub fn judge_against_list(&self, t: &Transcript) -> Result<Judgement> {
        let judgement = self.rules.judge(t)?;
        Ok(self.with_listed_hit(t, judgement))
    }

    fn with_listed_hit(&self, t: &Transcript, mut judgement: Judgement) -> Judgement {
        if self.check_listed
            && let Some(hit) =
                self.list
                    .listed_hit(t, self.default_country.as_deref(), DNC_LISTED_RULE)
        {
            judgement.analysis.hits.insert(0, hit);
        }
        judgement
    }

    /// Adds a request to the list; `false` when the list did not change (an
    /// earlier request of the number is kept) or the call has no usable
    /// customer number (the hit stays in the call's hits; `apply` warns).
    pub fn add_request(&mut self, t: &Transcript, hit: &crate::model::RuleHit) -> bool {
        let Some(number) = t
            .standard_metadata("customer_number")
            .and_then(|n| super::dnc::normalize_number(n, self.default_country.as_deref()))
        else {
            return false;
        };
        let listed_at = t.call_start.and_then(|start| {
            start
                .checked_add(jiff::SignedDuration::from_millis(hit.start_ms as i64))
                .ok()
        });
        let changed = self.list.add(DncEntry {
            number,
            listed_at,
            source: super::dnc::CALL_SOURCE.to_string(),
            call_id: Some(t.call_id.clone()),
            speaker: Some(hit.speaker.clone()),
            phrase: Some(hit.matched.clone()),
            at_ms: Some(hit.start_ms),
        });
        self.dirty |= changed;
        changed
    }

    /// Writes the do-not-call export (atomic; only requests).
    pub fn write_export(&mut self) -> Result<()> {
        self.list.write_export(&self.out_dir)?;
        self.dirty = false;
        Ok(())
    }

    /// Redacts and judges `t` in place, setting its `analysis`.
    pub fn apply(&mut self, t: &mut Transcript) -> Result<()> {
        let redacted = self.redact(t);
        let judgement = self.judge(t)?;
        let analysis = CallAnalysis {
            redacted,
            ..judgement.analysis
        };
        for hit in analysis
            .hits
            .iter()
            .filter(|h| h.kind == HitKind::DncRequest)
        {
            if t.standard_metadata("customer_number").is_none() {
                let w = format!(
                    "do-not-call request `{}` at {} but the call has no customer number",
                    hit.rule,
                    super::clock(hit.start_ms)
                );
                tracing::warn!("{}: {w}", t.source_path);
                t.warnings.push(w);
            }
        }
        t.analysis = Some(analysis);
        // Written before the transcript, so a request is never only in a
        // transcript that a crash could lose.
        if self.dirty {
            self.write_export()?;
        }
        Ok(())
    }
}

impl Sink for RulesStage {
    fn name(&self) -> &str {
        "rules"
    }

    fn prepare(&mut self, t: &mut Transcript) -> Result<()> {
        self.apply(t)
    }

    fn accept(&mut self, _t: &Transcript) -> Result<()> {
        Ok(())
    }
}
