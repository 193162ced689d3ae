//! Early termination applied while a sweep runs (`prune` decides; this watches and acts).
//! Ten times a second it reads the loss.csv of every run this worker trains; when a run has
//! just been evaluated at one of its decision steps, it compares that val loss with every
//! other run's at the same step (from their loss.csv in the sweep folder, whichever worker
//! trains or trained them), records the decision in early_stop.jsonl and, to prune, asks
//! the trial to stop through the same path as Ctrl-C (it saves its state; the run is then
//! recorded as pruned here). A step already decided, by this worker or another, or before a
//! resume, is not decided again: the recorded decision stands. Also here: a run continued
//! with --resume-pruned is exempt from then on, and a run pruned just before a crash stays
//! pruned.

use crate::exec::control::{Control, Watched, lock};
use crate::exec::hooks::Hooks;
use crate::output::loss_csv::{self, LossRow};
use crate::output::run_dir::RunDir;
use crate::output::summary::{Pruned, Status, Summary};
use crate::plan::PlannedRun;
use crate::plan::early_stop::EarlyStop;
use crate::prune::{self, Decision, Verdict, log};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

/// Looks at the running runs until `finished`.
pub fn watch(es: &EarlyStop, sweep_dir: &Path, control: &Control, finished: &AtomicBool) {
    while !finished.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if !control.stopping.load(Ordering::SeqCst) {
            tick(es, sweep_dir, control);
        }
    }
}

/// One look at every run this worker trains.
pub fn tick(es: &EarlyStop, sweep_dir: &Path, control: &Control) {
    let watched: Vec<(String, Watched)> = lock(&control.watched).iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut all: Option<HashMap<String, Vec<LossRow>>> = None;
    let mut decided: Option<HashMap<(String, u64), Decision>> = None;
    for (id, w) in watched {
        if w.exempt || lock(&control.pruning).contains_key(&id) {
            continue;
        }
        let rows = loss_csv::read_complete(&RunDir::new(sweep_dir.join(&id)).loss_csv());
        let steps = es.decision_steps(w.max_iters, w.eval_interval);
        let mut seen = w.seen;
        for row in rows.iter().filter(|r| w.seen.is_none_or(|s| r.step > s)) {
            seen = Some(row.step);
            if !steps.contains(&row.step) {
                continue;
            }
            let decided = decided.get_or_insert_with(|| log::by_run_step(sweep_dir));
            let decision = match decided.get(&(id.clone(), row.step)) {
                Some(d) => d.clone(),
                None => {
                    let all = all.get_or_insert_with(|| every_run_rows(sweep_dir));
                    let others: Vec<(String, f64)> = all
                        .iter()
                        .filter(|(other, _)| **other != id)
                        .filter_map(|(other, rows)| rows.iter().find(|r| r.step == row.step).map(|r| (other.clone(), r.val_loss)))
                        .collect();
                    let d = prune::decide(es, &id, row.step, row.val_loss, &others);
                    // The trial is asked to stop before the decision is written down.
                    if d.verdict == Verdict::Prune {
                        control.prune(d.clone());
                    }
                    if let Err(e) = log::append(sweep_dir, &d) {
                        eprintln!("warning: {e:#}");
                    }
                    decided.insert((id.clone(), row.step), d.clone());
                    // This run's row counts for the runs decided after it in this tick.
                    all.entry(id.clone()).or_default().push(row.clone());
                    d
                }
            };
            if decision.verdict == Verdict::Prune {
                if !lock(&control.pruning).contains_key(&id) {
                    control.prune(decision);
                }
                break;
            }
        }
        if let Some(w) = lock(&control.watched).get_mut(&id) {
            w.seen = seen;
        }
    }
}

/// The loss.csv rows of every run folder in the sweep.
fn every_run_rows(sweep_dir: &Path) -> HashMap<String, Vec<LossRow>> {
    let Ok(entries) = std::fs::read_dir(sweep_dir) else { return HashMap::new() };
    entries
        .flatten()
        .filter(|e| e.path().is_dir())
        .map(|e| (e.file_name().to_string_lossy().into_owned(), loss_csv::read_complete(&RunDir::new(e.path()).loss_csv())))
        .filter(|(_, rows)| !rows.is_empty())
        .collect()
}

/// Records a run stopped by early termination as pruned: its summary (written by the
/// caller), a last line in train.log, and a loss.png whose title says where it stopped.
pub(crate) fn mark_pruned(summary: &mut Summary, decision: Decision, run: &PlannedRun, dir: &RunDir, hooks: &Hooks) {
    let (at_step, max_iters) = (decision.step, run.config.train.max_iters);
    let line =
        format!("run pruned by early termination at step {at_step}: {}; `sweep run SPEC --resume-pruned` continues it from its saved state\n", decision.rule);
    summary.status = Status::Pruned;
    summary.error = None;
    summary.pruned = Some(Pruned { at_step, max_iters, rule: decision.rule });
    let _ = dir.append_log(&line);
    let title = format!("{} (pruned at step {at_step} of {max_iters})", run.id);
    (hooks.run_pruned)(dir, &title, &loss_csv::read_complete(&dir.loss_csv()));
}

/// Whether `run` is exempt from early termination: continued now with --resume-pruned
/// (the log records the choice, so it stays exempt across later interruptions), or before.
pub(crate) fn exempt(run: &PlannedRun, before: Option<&Summary>, sweep_dir: &Path, early_stop: bool, warn: &dyn Fn(String)) -> bool {
    match before.map(|s| s.status) {
        Some(Status::Pruned) => {
            let step = before.and_then(|s| s.pruned.as_ref()).map_or(0, |p| p.at_step);
            let note = Decision {
                run: run.id.clone(),
                step,
                val_loss: None,
                verdict: Verdict::Resume,
                rule: "continued with --resume-pruned: trained to the end, not compared again".into(),
                cutoff: None,
                compared_with: Vec::new(),
            };
            if let Err(e) = log::append(sweep_dir, &note) {
                warn(format!("warning: {e:#}"));
            }
            true
        }
        _ => early_stop && log::resumed(sweep_dir).contains(&run.id),
    }
}

/// A run pruned before a crash (after its last row, before its summary said so) stays
/// pruned: its summary as it should have been written, or None when it was not pruned.
pub(crate) fn pruned_before_crash(run: &PlannedRun, dir: &RunDir, before: Option<Summary>, sweep_dir: &Path, hooks: &Hooks) -> Option<Summary> {
    let last = loss_csv::read_complete(&dir.loss_csv()).last()?.step;
    let decision = log::pruned_by(sweep_dir, &run.id, last)?;
    let mut s = before.filter(|s| s.status == Status::Interrupted).unwrap_or_else(|| Summary::failed(&run.id, run.params.clone(), 0.0, String::new()));
    s.steps = s.steps.or(Some(last));
    mark_pruned(&mut s, decision, run, dir, hooks);
    Some(s)
}
