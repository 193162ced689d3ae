//! Early termination applied while a sweep runs (`prune` decides; this watches and acts).
//! Ten times a second it reads the loss.csv of every run this worker trains; when a run has
//! just been evaluated at one of its decision steps, it compares that val loss with other
//! runs' at the same step (from their loss.csv in the sweep folder, whichever worker trains
//! or trained them): with `order: plan`, exactly the runs before it in plan order, the run
//! held at the rung (its process paused) until each has reported there or left; with
//! `order: arrival`, whichever have reached the step. It records the decision in
//! early_stop.jsonl and, to prune, asks the trial to stop through the same path as Ctrl-C
//! (it saves its state; the run is then recorded as pruned here). A step already decided, by this worker or another, or before a
//! resume, is not decided again: the recorded decision stands. Also here: a run continued
//! with --resume-pruned is exempt from then on, and a run pruned just before a crash stays
//! pruned.

use crate::exec::claim::{self, STALE_AFTER_SECS};
use crate::exec::control::{Control, Watched, lock};
use crate::exec::hooks::Hooks;
use crate::exec::pending::known_runs;
use crate::output::loss_csv::{self, LossRow};
use crate::output::run_dir::RunDir;
use crate::output::summary::{Pruned, Status, Summary};
use crate::output::worker::hostname;
use crate::plan::early_stop::{EarlyStop, Order};
use crate::plan::{Plan, PlannedRun};
use crate::prune::{self, Decision, Verdict, log};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;

/// Looks at the running runs until `finished`.
pub fn watch(es: &EarlyStop, plan: &Plan, sweep_dir: &Path, control: &Control, finished: &AtomicBool) {
    let mut order = PlanOrder::default();
    while !finished.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(100));
        if !control.is_stopping() {
            tick(es, plan, sweep_dir, control, &mut order);
        }
    }
}

/// Where each run stands in plan order (grid order, random draws, TPE's proposal index),
/// how far it trains, and since when a run has waited at a rung for those before it.
#[derive(Default)]
pub struct PlanOrder {
    index: HashMap<String, (usize, u64)>,
    waiting_since: HashMap<(String, u64), Instant>,
}

impl PlanOrder {
    /// Reads the runs known now when `id` is not among those read before (TPE proposes as
    /// the sweep goes).
    fn know(&mut self, id: &str, plan: &Plan, sweep_dir: &Path) {
        if !self.index.contains_key(id) {
            self.index = known_runs(plan, sweep_dir).iter().enumerate().map(|(i, r)| (r.id.clone(), (i, r.config.train.max_iters))).collect();
        }
    }
}

/// A decision can be made against these runs' val losses at the step, or must wait.
enum Against {
    Runs(Vec<(String, f64)>, String),
    /// Runs before this one in plan order that have neither reported at the step nor left.
    Wait,
}

/// One look at every run this worker trains.
pub fn tick(es: &EarlyStop, plan: &Plan, sweep_dir: &Path, control: &Control, order: &mut PlanOrder) {
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
            if !steps.contains(&row.step) {
                seen = Some(row.step);
                continue;
            }
            let decided = decided.get_or_insert_with(|| log::by_run_step(sweep_dir));
            let decision = match decided.get(&(id.clone(), row.step)) {
                Some(d) => d.clone(),
                None => {
                    let all = all.get_or_insert_with(|| every_run_rows(sweep_dir));
                    let against = match es.order {
                        Order::Arrival => Against::Runs(arrived(all, &id, row.step), String::new()),
                        Order::Plan => {
                            order.know(&id, plan, sweep_dir);
                            before_in_plan(&id, row.step, all, order, sweep_dir, decided)
                        }
                    };
                    let Against::Runs(others, note) = against else {
                        // Held at the rung (its process paused) until the runs before it report.
                        control.children.pause(&id);
                        break;
                    };
                    let mut d = prune::decide(es, &id, row.step, row.val_loss, &others);
                    d.rule.push_str(&note);
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
            seen = Some(row.step);
            order.waiting_since.remove(&(id.clone(), row.step));
            if decision.verdict == Verdict::Prune {
                if !lock(&control.pruning).contains_key(&id) {
                    control.prune(decision);
                }
                break;
            }
            control.children.resume(&id);
        }
        if let Some(w) = lock(&control.watched).get_mut(&id) {
            w.seen = seen;
        }
    }
}

/// Every other run's val loss at `step`, among those that have reached it.
fn arrived(all: &HashMap<String, Vec<LossRow>>, id: &str, step: u64) -> Vec<(String, f64)> {
    all.iter().filter(|(other, _)| *other != id).filter_map(|(other, rows)| rows.iter().find(|r| r.step == step).map(|r| (other.clone(), r.val_loss))).collect()
}

/// The runs before `id` in plan order, at `step`: their val losses once each has reported
/// there or left the sweep before it (pruned at an earlier rung, failed, diverged, or
/// trained fewer steps). One that no live worker trains is not waited for beyond a
/// claim's staleness; the decision then says which runs it went without.
fn before_in_plan(
    id: &str,
    step: u64,
    all: &HashMap<String, Vec<LossRow>>,
    order: &mut PlanOrder,
    sweep_dir: &Path,
    decided: &HashMap<(String, u64), Decision>,
) -> Against {
    let Some(&(mine, _)) = order.index.get(id) else { return Against::Runs(arrived(all, id, step), String::new()) };
    let mut others = Vec::new();
    let mut missing = Vec::new();
    let mut before: Vec<(&String, &(usize, u64))> = order.index.iter().filter(|(_, (i, _))| *i < mine).collect();
    before.sort_by_key(|(_, (i, _))| *i);
    for (other, &(_, max_iters)) in before {
        // Pruned at an earlier rung, it is out of later ones (even if it trained past the rung
        // while the sweep noticed).
        if pruned_before(other, step, decided) {
            continue;
        }
        if let Some(r) = all.get(other).and_then(|rows| rows.iter().find(|r| r.step == step)) {
            others.push((other.clone(), r.val_loss));
        } else if !left_before(other, step, max_iters, sweep_dir) {
            missing.push(other.clone());
        }
    }
    if missing.is_empty() {
        return Against::Runs(others, String::new());
    }
    let since = *order.waiting_since.entry((id.to_string(), step)).or_insert_with(Instant::now);
    let host = hostname();
    let untrained: Vec<&String> = missing.iter().filter(|m| claim::read(&sweep_dir.join(m)).is_none_or(|c| claim::stale_reason(&c, &host).is_some())).collect();
    if since.elapsed().as_secs() >= STALE_AFTER_SECS && untrained.len() == missing.len() {
        let names: Vec<&str> = untrained.iter().map(|s| s.as_str()).collect();
        let note = format!(" (decided without {}, before it in plan order: no worker was training them)", names.join(", "));
        return Against::Runs(others, note);
    }
    Against::Wait
}

/// Whether early termination pruned run `other` at a step before `step`.
fn pruned_before(other: &str, step: u64, decided: &HashMap<(String, u64), Decision>) -> bool {
    decided.iter().any(|((run, at), d)| run == other && *at < step && d.verdict == Verdict::Prune)
}

/// Whether run `other` will never report at `step`: it trains fewer steps, or it has left
/// the sweep (pruned, failed or diverged).
fn left_before(other: &str, step: u64, max_iters: u64, sweep_dir: &Path) -> bool {
    if max_iters < step {
        return true;
    }
    RunDir::new(sweep_dir.join(other)).read_summary().is_some_and(|s| matches!(s.status, Status::Pruned | Status::Failed | Status::Diverged | Status::Done))
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
