//! `callsift rescore`: a pipeline's rules applied again to every stored
//! transcript, without transcribing anything. A QA manager changes a
//! scorecard's weights or security adds a phrase; the whole archive is
//! judged again in minutes.
//!
//! Two passes over `OUT/transcripts/`: the first only collects do-not-call
//! requests, so the listed-number check of the second sees every request
//! whatever order the calls are read in (a call placed on Monday to a
//! number that asked on Friday of the week before is found either way).
//! The second judges every call, rewrites the transcripts whose findings
//! changed (atomically), re-indexes those calls, and then the Parquet
//! tables are rebuilt whole from the transcripts, so the hits and scores
//! tables hold exactly what the rules say now. Running it twice gives the
//! same transcripts, tables and export.
//!
//! Judging a call is pure once the list is complete, so both passes judge
//! [`CHUNK`] calls at a time on rayon's threads (one per core) and then
//! apply the results in call-id order on this thread: the outputs are the
//! same at any thread count.
//!
//! With a shard (`rescore --shard I/N`) the second pass judges only the
//! calls that shard owns; the first still reads every call in the folder,
//! so the do-not-call list, and the export written from it, are the same
//! whichever shard runs, and rescoring the shards one after another gives
//! what one unsharded rescore gives.

use std::path::Path;

use rayon::prelude::*;

use crate::config::PipelineFile;
use crate::error::Result;
use crate::index::writer::transcript_ids;
use crate::model::{CallAnalysis, HitKind, Transcript};
use crate::rules::RulesStage;
use crate::shard::Shard;
use crate::sink::transcript_json::{read_transcript, transcript_path};

/// Calls judged in parallel before their results are applied.
const CHUNK: usize = 256;

/// What a rescore did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct RescoreReport {
    pub calls: usize,
    /// Transcripts whose findings (or redacted text) changed and were rewritten.
    pub changed: usize,
    pub hits: usize,
    pub high_severity_hits: usize,
    pub dnc_requests: usize,
    /// Numbers on the do-not-call export afterwards.
    pub dnc_listed_numbers: usize,
    pub scorecards: usize,
    /// Transcripts that could not be read or judged: `path: reason`.
    pub failed: Vec<String>,
    /// The shard judged (`--shard`) and the calls left to the other shards.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub shard: Option<crate::model::ShardReport>,
}

/// Judges every transcript of `out_dir` by `pipeline`'s rules.
pub fn rescore(
    out_dir: &Path,
    pipeline: &PipelineFile,
    pipeline_name: &str,
) -> Result<RescoreReport> {
    rescore_shard(out_dir, pipeline, pipeline_name, None)
}

/// [`rescore`] of the calls `shard` owns (every call with `None`). The
/// tables are rebuilt from every transcript in the folder either way.
pub fn rescore_shard(
    out_dir: &Path,
    pipeline: &PipelineFile,
    pipeline_name: &str,
    shard: Option<Shard>,
) -> Result<RescoreReport> {
    let mut report = RescoreReport::default();
    let ids = transcript_ids(out_dir)?;
    let mut stage = RulesStage::open(pipeline, pipeline_name, out_dir)?;
    if let Some(stage) = &mut stage {
        for w in &stage.warnings {
            tracing::warn!("{w}");
        }
        collect_requests(out_dir, &ids, stage)?;
    }
    // After the first pass, which needs every call's requests.
    let ids = match shard {
        None => ids,
        Some(shard) => {
            let total = ids.len();
            let owned: Vec<String> = ids.into_iter().filter(|id| shard.owns_call(id)).collect();
            report.shard = Some(crate::model::ShardReport {
                index: shard.index,
                count: shard.count,
                other_shards: total - owned.len(),
            });
            owned
        }
    };
    // Changed calls are re-indexed as they come (never all held in memory).
    let mut index: Option<crate::index::IndexWriterHandle> = None;
    let mut newly_masked = false;
    for chunk in ids.chunks(CHUNK) {
        let judged: Vec<(std::path::PathBuf, Result<Judged>)> = chunk
            .par_iter()
            .map(|id| {
                let path = transcript_path(out_dir, id);
                let judged = read_transcript(&path).and_then(|t| judge(t, stage.as_ref()));
                (path, judged)
            })
            .collect();
        for (path, judged) in judged {
            match judged {
                Ok((t, was_changed, masked)) => {
                    report.calls += 1;
                    if let Some(a) = &t.analysis {
                        report.hits += a.hits.len();
                        report.high_severity_hits += a
                            .hits
                            .iter()
                            .filter(|h| h.severity == crate::model::Severity::High)
                            .count();
                        report.dnc_requests += a
                            .hits
                            .iter()
                            .filter(|h| h.kind == HitKind::DncRequest)
                            .count();
                        report.scorecards += a.scorecards.len();
                    }
                    if was_changed {
                        write_transcript(&path, &t)?;
                        report.changed += 1;
                        newly_masked |= masked;
                        let w = match &mut index {
                            Some(w) => w,
                            None => index.insert(crate::index::IndexWriterHandle::open(
                                out_dir,
                                &Default::default(),
                            )?),
                        };
                        w.replace(&t)?;
                    }
                }
                Err(e) => {
                    tracing::error!("{e}");
                    report.failed.push(e.to_string());
                }
            }
        }
    }
    if let Some(stage) = &mut stage {
        stage.write_export()?;
        report.dnc_listed_numbers = stage.list().requests().count();
    }
    if let Some(mut w) = index {
        w.commit()?;
        w.close()?;
    }
    if newly_masked {
        // A replaced document is only marked deleted: its unmasked text
        // would stay in the old segment files until a merge. A rebuild
        // writes a new index and removes the old files.
        crate::index::rebuild(out_dir, &Default::default())?;
    }
    crate::tables::rebuild(out_dir, &pipeline.metrics)?;
    Ok(report)
}

/// A call read in the first pass and its do-not-call requests (`None`:
/// unreadable, reported by the second pass).
type Requests = Option<(Transcript, Vec<crate::model::RuleHit>)>;

/// The first pass: every do-not-call request of every call into the list.
fn collect_requests(out_dir: &Path, ids: &[String], stage: &mut RulesStage) -> Result<()> {
    let requests_only = stage.rules().do_not_call_only();
    if requests_only.is_empty() {
        return Ok(());
    }
    for chunk in ids.chunks(CHUNK) {
        let found: Vec<Result<Requests>> = chunk
            .par_iter()
            .map(|id| {
                let Ok(mut t) = read_transcript(&transcript_path(out_dir, id)) else {
                    return Ok(None);
                };
                stage.redact(&mut t);
                let hits = requests_only.judge(&t)?.analysis.hits;
                Ok(Some((t, hits)))
            })
            .collect();
        for item in found {
            let Some((t, hits)) = item? else {
                continue;
            };
            for hit in hits.iter().filter(|h| h.kind == HitKind::DncRequest) {
                stage.add_request(&t, hit);
            }
        }
    }
    Ok(())
}

/// A call judged again; whether anything stored changed; whether redaction
/// masked something only now.
type Judged = (Transcript, bool, bool);

/// One call judged again (see [`Judged`]).
fn judge(mut t: Transcript, stage: Option<&RulesStage>) -> Result<Judged> {
    let before = t.clone();
    let mut masked = false;
    match stage {
        None => t.analysis = None,
        Some(stage) => {
            // Redaction counts add up over runs: a text masked when it was
            // transcribed has nothing left to mask now, and keeps its count.
            let mut redacted = t
                .analysis
                .as_ref()
                .map(|a| a.redacted.clone())
                .unwrap_or_default();
            for (kind, n) in stage.redact(&mut t) {
                masked = true;
                *redacted.entry(kind).or_insert(0) += n;
            }
            let judgement = stage.judge_against_list(&t)?;
            t.analysis = Some(CallAnalysis {
                redacted,
                ..judgement.analysis
            });
        }
    }
    let changed = t != before;
    Ok((t, changed, masked))
}

fn write_transcript(path: &Path, t: &Transcript) -> Result<()> {
    let mut bytes = serde_json::to_vec_pretty(t)
        .map_err(|e| crate::Error::Other(format!("cannot serialise transcript: {e}")))?;
    bytes.push(b'\n');
    crate::sink::write_atomic(path, &bytes)
}
