//! What is left to do in a sweep folder, read without changing it: the runs known so far
//! (the plan's, or TPE's proposals), which of them to train, which finished before, and
//! which folders hold results of other settings (a conflict refuses the sweep); and, for a
//! worker that trained its quota, a run no other worker will train (an orphan).

use crate::exec::claim;
use crate::exec::slurm;
use crate::output::run_dir::RunDir;
use crate::output::worker::{Task, hostname};
use crate::plan::{Plan, PlannedRun};
use crate::search::Rerun;
use crate::search::proposals;
use std::path::Path;
use sweep_config::RunConfig;

/// What a list of runs still has to do in a sweep folder.
pub struct Pending<'a> {
    /// Runs to train, in order.
    pub pending: Vec<&'a PlannedRun>,
    /// Runs finished before (done, diverged, or failed without --retry-failed).
    pub skipped: usize,
    /// "FOLDER: what differs": run folders holding results made with other settings.
    pub conflicts: Vec<String>,
}

/// The runs known before training: the plan's, or for TPE those proposed so far.
pub fn known_runs(plan: &Plan, sweep_dir: &Path) -> Vec<PlannedRun> {
    if plan.adaptive() { proposals::proposed_runs(plan, sweep_dir) } else { plan.runs.clone() }
}

/// Reads the sweep folder (changing nothing) and sorts `runs` into those to train, those
/// finished, and those whose folder holds results of a different config.
pub fn pending_runs<'a>(runs: &'a [PlannedRun], sweep_dir: &Path, rerun: Rerun) -> Pending<'a> {
    let mut todo = Pending { pending: Vec::new(), skipped: 0, conflicts: Vec::new() };
    for run in runs {
        let dir = RunDir::new(sweep_dir.join(&run.id));
        let has_results = dir.summary().exists() || dir.loss_csv().exists() || dir.resume_state().exists();
        if has_results {
            let old: Option<RunConfig> = dir.read_config().ok();
            match old {
                Some(old) if !same_results(&old, &run.config) => {
                    todo.conflicts.push(format!("{}: {}", dir.path.display(), config_diff(&old, &run.config)));
                    continue;
                }
                None if dir.summary().exists() => {
                    todo.conflicts.push(format!("{}: its config.json is missing or unreadable", dir.path.display()));
                    continue;
                }
                _ => {}
            }
        }
        if rerun.wants(dir.read_summary().map(|s| s.status)) {
            todo.pending.push(run);
        } else {
            todo.skipped += 1;
        }
    }
    todo
}

/// The refusal when run folders hold results of other settings, with the ways out.
pub fn conflicts_message(conflicts: &[String]) -> String {
    format!(
        "{} run folder(s) hold results trained with different settings than the spec now gives; \
         give the sweep a new name, or move those folders away:\n  {}",
        conflicts.len(),
        conflicts.join("\n  ")
    )
}

/// The refusal when TPE proposals recorded in the sweep folder no longer fit the spec.
pub fn misfits_message(misfits: &[String], sweep_dir: &Path) -> String {
    format!(
        "{} proposal(s) in {} no longer fit the spec's space; give the sweep a new name, or move {} away:\n  {}",
        misfits.len(),
        proposals::path(sweep_dir).display(),
        sweep_dir.display(),
        misfits.join("\n  ")
    )
}

/// Whether a run folder trained with `old` holds the results `new` asks for: every setting
/// but the device must agree (a run may move between the CPU and a GPU, or to `--device`).
/// Whether a run trained with `old` holds the results `new` would give (the device aside).
pub(crate) fn same_results(old: &RunConfig, new: &RunConfig) -> bool {
    let mut old = old.clone();
    old.train.device.clone_from(&new.train.device);
    old == *new
}

/// "max_iters 300 → 500, lr …": what differs between two configs.
fn config_diff(old: &RunConfig, new: &RunConfig) -> String {
    let (a, b) = (flatten(old), flatten(new));
    let diffs: Vec<String> = b
        .iter()
        .filter(|(k, _)| k != "train.device")
        .filter_map(|(k, v)| match a.iter().find(|(ka, _)| ka == k) {
            Some((_, va)) if va == v => None,
            Some((_, va)) => Some(format!("{k} was {va}, now {v}")),
            None => Some(format!("{k} is new ({v})")),
        })
        .collect();
    if diffs.is_empty() { "config differs".into() } else { diffs.join(", ") }
}

fn flatten(c: &RunConfig) -> Vec<(String, serde_json::Value)> {
    let mut out = Vec::new();
    if let Ok(serde_json::Value::Object(sections)) = serde_json::to_value(c) {
        for (section, fields) in sections {
            if let serde_json::Value::Object(fields) = fields {
                out.extend(fields.into_iter().map(|(k, v)| (format!("{section}.{k}"), v)));
            }
        }
    }
    out
}

/// Why a sweep over `runs` cannot start in `sweep_dir`, if it cannot: TPE proposals recorded
/// there that no longer fit the spec.
pub fn misfit_refusal(plan: &Plan, sweep_dir: &Path) -> Option<String> {
    if !plan.adaptive() {
        return None;
    }
    let misfits = proposals::misfits(plan, sweep_dir);
    (!misfits.is_empty()).then(|| misfits_message(&misfits, sweep_dir))
}

/// A run no other worker will train, for a worker that trained its quota: one whose worker
/// died (its claim is stale) or, once no task of this worker's Slurm job array waits in the
/// queue, any run still to train (a task that died before claiming leaves one such).
pub(crate) fn orphan(plan: &Plan, sweep_dir: &Path, rerun: Rerun, tried: &mut std::collections::HashSet<String>) -> Option<PlannedRun> {
    let host = hostname();
    let waiting = std::cell::OnceCell::new();
    let none_waiting = || {
        *waiting.get_or_init(|| {
            Task::from_env().is_some_and(|me| slurm::command::squeue(&[me.array().to_string()]).is_ok_and(|q| q.iter().all(|t| t.state != "PENDING")))
        })
    };
    let run = known_runs(plan, sweep_dir).into_iter().find(|r| {
        let dir = RunDir::new(sweep_dir.join(&r.id));
        if tried.contains(&r.id) || !rerun.wants(dir.read_summary().map(|s| s.status)) {
            return false;
        }
        match claim::read(&dir.path) {
            Some(c) => claim::stale_reason(&c, &host).is_some(),
            None => !dir.claim().exists() && none_waiting(),
        }
    })?;
    tried.insert(run.id.clone());
    Some(run)
}
