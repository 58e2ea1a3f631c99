//! `--shard I/N` on `run`, `import` and `rescore`: which slice of the
//! inputs one task of a batch job (a Kubernetes Indexed Job, a Slurm job
//! array, N shell loops) handles. The key is the call id, the content hash
//! of the recording (or of the imported file), so the same content lands in
//! the same shard whichever command handles it, and adding files never
//! moves another one (`docs/shards.md`).
//!
//! The environment is read by `commands` only: [`Shard::resolve`] takes the
//! lookup as a closure, so the tests give it a table.

use std::path::PathBuf;

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::model::{InputReport, ShardReport};

/// Kubernetes Indexed Job: the pod's index (set by Kubernetes) and the
/// number of completions (Kubernetes does not set it: the pod template does).
pub const K8S_INDEX: &str = "JOB_COMPLETION_INDEX";
pub const K8S_COUNT: &str = "JOB_COMPLETIONS";
/// Slurm job array (`sbatch --array=…`): all four are set by Slurm.
pub const SLURM_ID: &str = "SLURM_ARRAY_TASK_ID";
pub const SLURM_COUNT: &str = "SLURM_ARRAY_TASK_COUNT";
pub const SLURM_MIN: &str = "SLURM_ARRAY_TASK_MIN";
pub const SLURM_STEP: &str = "SLURM_ARRAY_TASK_STEP";

/// Hex digits of the call id that pick the slot: 64 bits, far more than
/// any shard count, and every call id has 20.
const SLOT_HEX: usize = 16;

/// One slice of N: `index` is 0-based (`0/3`, `1/3`, `2/3`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Shard {
    pub index: u32,
    pub count: u32,
}

impl std::fmt::Display for Shard {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", self.index, self.count)
    }
}

impl Shard {
    /// Parses `--shard I/N` (0 ≤ I < N).
    pub fn parse(s: &str) -> Result<Shard> {
        let usage = |why: &str| {
            Error::Usage(format!(
                "--shard `{s}`: {why}; give I/N with 0 ≤ I < N, e.g. 0/3, 1/3, 2/3"
            ))
        };
        let (i, n) = s
            .split_once('/')
            .ok_or_else(|| usage("no `/` between I and N"))?;
        let index: u32 = i
            .trim()
            .parse()
            .map_err(|_| usage("I is not a whole number"))?;
        let count: u32 = n
            .trim()
            .parse()
            .map_err(|_| usage("N is not a whole number"))?;
        if count == 0 {
            return Err(usage("N must be at least 1"));
        }
        if index >= count {
            return Err(usage("I must be less than N (I counts from 0)"));
        }
        Ok(Shard { index, count })
    }

    /// The shard of this task: the flag when given, else the Kubernetes
    /// Indexed Job variables, else the Slurm job array's; `None` (no
    /// sharding) when none is set. A variable set without its partner, or
    /// a value that does not parse, is a usage error naming the variables:
    /// running every input in each of N tasks would be the silent mistake.
    pub fn resolve(
        flag: Option<&str>,
        env: impl Fn(&str) -> Option<String>,
    ) -> Result<Option<Shard>> {
        if let Some(flag) = flag {
            return Shard::parse(flag).map(Some);
        }
        // An empty value (`JOB_COMPLETIONS= callsift …`) counts as unset.
        let get = |k: &str| env(k).filter(|v| !v.trim().is_empty());
        if let Some(shard) = from_kubernetes(&get)? {
            return Ok(Some(shard));
        }
        from_slurm(&get)
    }

    /// The slot of a call id among `count` shards: its first 16 hex digits
    /// as a number, modulo `count`. A call id that is not hex (an imported
    /// callsift transcript keeps whatever id it had) is hashed first, so
    /// it still has exactly one slot.
    pub fn slot_of(call_id: &str, count: u32) -> u32 {
        let count = u64::from(count.max(1));
        let prefix = call_id.get(..SLOT_HEX).unwrap_or(call_id);
        let hex = prefix.len() == SLOT_HEX && prefix.bytes().all(|b| b.is_ascii_hexdigit());
        let value = match u64::from_str_radix(prefix, 16) {
            Ok(v) if hex => v,
            _ => {
                let hash = blake3::hash(call_id.as_bytes());
                let mut first = [0u8; 8];
                first.copy_from_slice(&hash.as_bytes()[..8]);
                u64::from_be_bytes(first)
            }
        };
        // The remainder is below `count`, which is a u32.
        (value % count) as u32
    }

    /// Whether this shard handles the call.
    pub fn owns_call(&self, call_id: &str) -> bool {
        Shard::slot_of(call_id, self.count) == self.index
    }

    /// Whether this shard reports an input no call id can be computed for
    /// (unreadable, not audio, still being written): shard 0, so exactly
    /// one task of the job reports it.
    pub fn reports_ownerless(&self) -> bool {
        self.index == 0
    }

    /// `1/3`.
    pub fn label(&self) -> String {
        self.to_string()
    }

    /// The summary's record of this shard.
    pub fn report(&self, other_shards: usize) -> ShardReport {
        ShardReport {
            index: self.index,
            count: self.count,
            other_shards,
        }
    }

    /// The recordings of `paths` this shard owns, in their order, and how
    /// many were left to the other shards. Each file is hashed (BLAKE3 of
    /// its bytes, as `run` names calls), in parallel; one that cannot be
    /// read is kept by shard 0 only, where the run reports why.
    pub fn keep_recordings(&self, paths: Vec<PathBuf>) -> (Vec<PathBuf>, usize) {
        let owned: Vec<bool> = paths
            .par_iter()
            .map(|p| match crate::pipeline::content_hash(p) {
                Ok(hash) => self.owns_call(&crate::pipeline::call_id_of(&hash)),
                Err(_) => self.reports_ownerless(),
            })
            .collect();
        let total = paths.len();
        let kept: Vec<PathBuf> = paths
            .into_iter()
            .zip(owned)
            .filter_map(|(p, mine)| mine.then_some(p))
            .collect();
        let others = total - kept.len();
        (kept, others)
    }
}

/// A run's inputs as its shard takes them.
#[derive(Debug)]
pub struct RunSlice {
    /// The recordings this task transcribes (or plans), in input order.
    pub audio: Vec<PathBuf>,
    /// The report lines of inputs without a call id (not audio, still being
    /// written): all of them unsharded and in shard 0, none elsewhere.
    pub ownerless: Vec<InputReport>,
    /// For the run summary; `None` unsharded.
    pub report: Option<ShardReport>,
}

/// Takes the slice of a run's inputs that `shard` owns (everything with
/// `None`), and logs how many went to the other shards. `ownerless` are
/// the report lines of inputs no call id is computed for.
pub fn slice_run_inputs(
    shard: Option<Shard>,
    audio: Vec<PathBuf>,
    ownerless: Vec<InputReport>,
) -> RunSlice {
    let Some(shard) = shard else {
        return RunSlice {
            audio,
            ownerless,
            report: None,
        };
    };
    let (audio, mut others) = shard.keep_recordings(audio);
    let ownerless = if shard.reports_ownerless() {
        ownerless
    } else {
        others += ownerless.len();
        Vec::new()
    };
    tracing::info!(
        "shard {shard}: {} recordings are this shard's, {others} inputs are the other shards'",
        audio.len()
    );
    RunSlice {
        audio,
        ownerless,
        report: Some(shard.report(others)),
    }
}

fn var_error(what: &str) -> Error {
    Error::Usage(format!(
        "--shard from the environment: {what}; set them both, unset them, or pass --shard I/N"
    ))
}

fn number(name: &str, value: &str) -> Result<u64> {
    value
        .trim()
        .parse()
        .map_err(|_| var_error(&format!("{name}=`{value}` is not a whole number")))
}

/// A shard from an index and a count read from `index_var`/`count_var`.
fn checked(index: u64, count: u64, vars: &str) -> Result<Shard> {
    let count = u32::try_from(count)
        .ok()
        .filter(|&c| c > 0)
        .ok_or_else(|| var_error(&format!("{vars}: the count must be from 1 to {}", u32::MAX)))?;
    let index = u32::try_from(index)
        .ok()
        .filter(|&i| i < count)
        .ok_or_else(|| {
            var_error(&format!(
                "{vars}: task {index} is not one of 0..{count} (0-based)"
            ))
        })?;
    Ok(Shard { index, count })
}

/// `JOB_COMPLETION_INDEX` + `JOB_COMPLETIONS` (both or neither).
fn from_kubernetes(get: &impl Fn(&str) -> Option<String>) -> Result<Option<Shard>> {
    match (get(K8S_INDEX), get(K8S_COUNT)) {
        (None, None) => Ok(None),
        (Some(_), None) => Err(var_error(&format!(
            "{K8S_INDEX} is set but {K8S_COUNT} is not (Kubernetes sets only the index: \
             add {K8S_COUNT} to the pod template's env with the Job's spec.completions)"
        ))),
        (None, Some(_)) => Err(var_error(&format!(
            "{K8S_COUNT} is set but {K8S_INDEX} is not"
        ))),
        (Some(i), Some(n)) => checked(
            number(K8S_INDEX, &i)?,
            number(K8S_COUNT, &n)?,
            &format!("{K8S_INDEX}={i} {K8S_COUNT}={n}"),
        )
        .map(Some),
    }
}

/// `SLURM_ARRAY_TASK_ID` + `SLURM_ARRAY_TASK_COUNT`, the index counted from
/// `SLURM_ARRAY_TASK_MIN` (default 0) in steps of `SLURM_ARRAY_TASK_STEP`
/// (default 1): `--array=1-10` has MIN=1, `--array=0-20:5` STEP=5.
fn from_slurm(get: &impl Fn(&str) -> Option<String>) -> Result<Option<Shard>> {
    let (id, count) = match (get(SLURM_ID), get(SLURM_COUNT)) {
        (None, None) => return Ok(None),
        (Some(_), None) => {
            return Err(var_error(&format!(
                "{SLURM_ID} is set but {SLURM_COUNT} is not"
            )));
        }
        (None, Some(_)) => {
            return Err(var_error(&format!(
                "{SLURM_COUNT} is set but {SLURM_ID} is not"
            )));
        }
        (Some(id), Some(count)) => (id, count),
    };
    let min_text = get(SLURM_MIN);
    let step_text = get(SLURM_STEP);
    let vars = format!(
        "{SLURM_ID}={id} {SLURM_COUNT}={count} {SLURM_MIN}={} {SLURM_STEP}={}",
        min_text.as_deref().unwrap_or("(unset: 0)"),
        step_text.as_deref().unwrap_or("(unset: 1)")
    );
    let id_n = number(SLURM_ID, &id)?;
    let count_n = number(SLURM_COUNT, &count)?;
    let min = min_text.map_or(Ok(0), |v| number(SLURM_MIN, &v))?;
    let step = step_text.map_or(Ok(1), |v| number(SLURM_STEP, &v))?;
    // An array given as a list (`--array=1,4,9`) has no one step: its ids
    // do not map onto 0..N, and guessing could give two tasks one slice.
    let offset = id_n
        .checked_sub(min)
        .filter(|o| step > 0 && o % step == 0)
        .ok_or_else(|| {
            var_error(&format!(
                "{vars}: the task id does not map to 0..{count} as (id − min) / step; \
                 use an array range such as --array=0-{} and no list",
                count_n.saturating_sub(1)
            ))
        })?;
    checked(offset / step, count_n, &vars).map(Some)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn env(pairs: &[(&str, &str)]) -> impl Fn(&str) -> Option<String> {
        let map: HashMap<String, String> = pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        move |k| map.get(k).cloned()
    }

    fn usage_message(r: Result<impl std::fmt::Debug>) -> String {
        match r {
            Err(Error::Usage(m)) => m,
            other => panic!("expected a usage error, got {other:?}"),
        }
    }

    #[test]
    fn parses_good_values() {
        assert_eq!(Shard::parse("0/3").unwrap(), Shard { index: 0, count: 3 });
        assert_eq!(Shard::parse("2/3").unwrap(), Shard { index: 2, count: 3 });
        assert_eq!(Shard::parse("0/1").unwrap(), Shard { index: 0, count: 1 });
        assert_eq!(Shard::parse("1/3").unwrap().label(), "1/3");
    }

    #[test]
    fn rejects_bad_values_naming_the_flag_and_value() {
        for bad in ["3/3", "a/b", "0/0", "1", "", "-1/3", "1/3/4", "4/3"] {
            let m = usage_message(Shard::parse(bad));
            assert!(m.starts_with(&format!("--shard `{bad}`: ")), "{bad}: {m}");
        }
        assert!(usage_message(Shard::parse("3/3")).contains("less than N"));
        assert!(usage_message(Shard::parse("0/0")).contains("at least 1"));
    }

    #[test]
    fn no_flag_and_no_variables_is_no_sharding() {
        assert_eq!(Shard::resolve(None, env(&[])).unwrap(), None);
        // Empty values are as good as unset.
        let empty = env(&[(K8S_INDEX, ""), (K8S_COUNT, " ")]);
        assert_eq!(Shard::resolve(None, empty).unwrap(), None);
    }

    #[test]
    fn kubernetes_indexed_job() {
        let k8s = env(&[(K8S_INDEX, "1"), (K8S_COUNT, "3")]);
        assert_eq!(
            Shard::resolve(None, k8s).unwrap(),
            Some(Shard { index: 1, count: 3 })
        );
        let out_of_range = env(&[(K8S_INDEX, "3"), (K8S_COUNT, "3")]);
        let m = usage_message(Shard::resolve(None, out_of_range));
        assert!(
            m.contains("JOB_COMPLETION_INDEX=3 JOB_COMPLETIONS=3"),
            "{m}"
        );
        let not_a_number = env(&[(K8S_INDEX, "x"), (K8S_COUNT, "3")]);
        let m = usage_message(Shard::resolve(None, not_a_number));
        assert!(m.contains("JOB_COMPLETION_INDEX=`x`"), "{m}");
    }

    #[test]
    fn half_set_variables_are_an_error_naming_them() {
        let m = usage_message(Shard::resolve(None, env(&[(K8S_INDEX, "0")])));
        assert!(
            m.contains("JOB_COMPLETION_INDEX is set but JOB_COMPLETIONS is not"),
            "{m}"
        );
        let m = usage_message(Shard::resolve(None, env(&[(K8S_COUNT, "3")])));
        assert!(m.contains("JOB_COMPLETIONS is set but JOB_COMPLETION_INDEX"));
        let m = usage_message(Shard::resolve(None, env(&[(SLURM_ID, "2")])));
        assert!(m.contains("SLURM_ARRAY_TASK_ID is set but SLURM_ARRAY_TASK_COUNT is not"));
        let m = usage_message(Shard::resolve(None, env(&[(SLURM_COUNT, "2")])));
        assert!(m.contains("SLURM_ARRAY_TASK_COUNT is set but SLURM_ARRAY_TASK_ID is not"));
    }

    #[test]
    fn slurm_array_with_min_and_step() {
        let resolve = |pairs: &[(&str, &str)]| Shard::resolve(None, env(pairs));
        // --array=0-2
        assert_eq!(
            resolve(&[(SLURM_ID, "2"), (SLURM_COUNT, "3")]).unwrap(),
            Some(Shard { index: 2, count: 3 })
        );
        // --array=1-10: ids 1..=10.
        let one_based = [
            (SLURM_ID, "1"),
            (SLURM_COUNT, "10"),
            (SLURM_MIN, "1"),
            (SLURM_STEP, "1"),
        ];
        assert_eq!(
            resolve(&one_based).unwrap(),
            Some(Shard {
                index: 0,
                count: 10
            })
        );
        let last = [(SLURM_ID, "10"), one_based[1], one_based[2], one_based[3]];
        assert_eq!(
            resolve(&last).unwrap(),
            Some(Shard {
                index: 9,
                count: 10
            })
        );
        // --array=0-20:5: ids 0, 5, 10, 15, 20.
        let stepped = [
            (SLURM_ID, "15"),
            (SLURM_COUNT, "5"),
            (SLURM_MIN, "0"),
            (SLURM_STEP, "5"),
        ];
        assert_eq!(
            resolve(&stepped).unwrap(),
            Some(Shard { index: 3, count: 5 })
        );
        // Ids that do not map: off the step, below the minimum, past the count.
        for id in ["7", "25"] {
            let bad = [(SLURM_ID, id), stepped[1], stepped[2], stepped[3]];
            let m = usage_message(resolve(&bad));
            assert!(m.contains(&format!("SLURM_ARRAY_TASK_ID={id}")), "{m}");
            assert!(m.contains("SLURM_ARRAY_TASK_STEP=5"), "{m}");
        }
        let below = [(SLURM_ID, "0"), one_based[1], one_based[2], one_based[3]];
        assert!(usage_message(resolve(&below)).contains("SLURM_ARRAY_TASK_MIN=1"));
    }

    #[test]
    fn the_flag_wins_over_the_environment_and_kubernetes_over_slurm() {
        let both = env(&[
            (K8S_INDEX, "1"),
            (K8S_COUNT, "3"),
            (SLURM_ID, "0"),
            (SLURM_COUNT, "2"),
        ]);
        assert_eq!(
            Shard::resolve(Some("0/5"), &both).unwrap(),
            Some(Shard { index: 0, count: 5 })
        );
        assert_eq!(
            Shard::resolve(None, &both).unwrap(),
            Some(Shard { index: 1, count: 3 })
        );
        // A bad flag is an error even with good variables.
        assert!(Shard::resolve(Some("5/5"), &both).is_err());
    }

    /// Call ids as `run` makes them: BLAKE3 hex, 20 digits.
    fn ids(n: usize) -> Vec<String> {
        (0..n)
            .map(|i| blake3::hash(format!("call {i}").as_bytes()).to_hex()[..20].to_string())
            .collect()
    }

    #[test]
    fn every_call_is_owned_by_exactly_one_of_three() {
        let shards: Vec<Shard> = (0..3).map(|index| Shard { index, count: 3 }).collect();
        let mut per_shard = [0usize; 3];
        for id in ids(300) {
            let owners: Vec<u32> = shards
                .iter()
                .filter(|s| s.owns_call(&id))
                .map(|s| s.index)
                .collect();
            assert_eq!(owners.len(), 1, "{id}: {owners:?}");
            per_shard[owners[0] as usize] += 1;
        }
        // Roughly even: none gets less than a fifth.
        assert!(per_shard.iter().all(|&n| n > 60), "{per_shard:?}");
        // One shard owns everything.
        let all = Shard { index: 0, count: 1 };
        assert!(ids(20).iter().all(|id| all.owns_call(id)));
    }

    #[test]
    fn slots_of_known_ids_stay_put() {
        // The slot is the id's first 16 hex digits mod N. A change of the
        // function would move every stored call to another shard: this
        // catches it.
        assert_eq!(Shard::slot_of("00000000000000050000", 3), 2);
        assert_eq!(Shard::slot_of("0000000000000006ffff", 3), 0);
        assert_eq!(Shard::slot_of("ffffffffffffffff0000", 3), 0);
        assert_eq!(Shard::slot_of("ffffffffffffffff0000", 7), 1);
        assert_eq!(Shard::slot_of("1a2b3c4d5e6f70819aab", 10), 7);
        // Upper-case hex reads the same.
        assert_eq!(Shard::slot_of("1A2B3C4D5E6F70819AAB", 10), 7);
        // Not hex: hashed, still one stable slot.
        let odd = Shard::slot_of("call-42", 4);
        assert!(odd < 4);
        assert_eq!(Shard::slot_of("call-42", 4), odd);
        // Adding calls never moves one: the slot depends on the id alone.
        let before: Vec<u32> = ids(50).iter().map(|id| Shard::slot_of(id, 3)).collect();
        let after: Vec<u32> = ids(80).iter().map(|id| Shard::slot_of(id, 3)).collect();
        assert_eq!(before[..], after[..50]);
    }

    #[test]
    fn keeps_the_recordings_it_owns_and_unreadable_ones_in_shard_0() {
        let tmp = tempfile::tempdir().unwrap();
        let paths: Vec<PathBuf> = (0..12)
            .map(|i| {
                let p = tmp.path().join(format!("{i}.wav"));
                std::fs::write(&p, format!("recording {i}")).unwrap();
                p
            })
            .collect();
        let missing = tmp.path().join("gone.wav");
        let mut inputs = paths.clone();
        inputs.push(missing.clone());
        let mut seen = Vec::new();
        for index in 0..3 {
            let shard = Shard { index, count: 3 };
            let (kept, others) = shard.keep_recordings(inputs.clone());
            assert_eq!(kept.len() + others, inputs.len());
            assert_eq!(kept.contains(&missing), index == 0);
            for p in &kept {
                if p != &missing {
                    let hash = crate::pipeline::content_hash(p).unwrap();
                    assert!(shard.owns_call(&crate::pipeline::call_id_of(&hash)));
                }
            }
            seen.extend(kept);
        }
        seen.sort();
        let mut all = inputs;
        all.sort();
        assert_eq!(seen, all);
    }
}
