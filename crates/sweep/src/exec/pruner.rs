//! Applies early termination while a sweep runs: ten times a second it reads the loss.csv
//! of every run this worker trains; when a run has just been evaluated at one of its
//! decision steps, it compares that val loss with every other run's at the same step (from
//! their loss.csv in the sweep folder, whichever worker trains or trained them), records
//! the decision in early_stop.jsonl and, to prune, asks the trial to stop through the
//! same path as Ctrl-C (it saves its state; the scheduler then records it as pruned). A
//! step already decided, by this worker or another, or before a resume, is not decided
//! again: the recorded decision stands.

use crate::exec::scheduler::Control;
use crate::output::loss_csv::{self, LossRow};
use crate::output::run_dir::RunDir;
use crate::prune::{EarlyStop, Verdict, log};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use sweep_config::RunConfig;

/// What the pruner needs to know about a run this worker trains.
#[derive(Debug, Clone)]
pub struct Watched {
    max_iters: u64,
    eval_interval: u64,
    /// Continued with --resume-pruned: trained to the end, never pruned again.
    exempt: bool,
    /// The last step looked at.
    seen: Option<u64>,
}

impl Watched {
    pub fn new(config: &RunConfig, exempt: bool) -> Self {
        Watched { max_iters: config.train.max_iters, eval_interval: config.train.eval_interval, exempt, seen: None }
    }
}

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
    let watched: Vec<(String, Watched)> = control.watched.lock().unwrap_or_else(|e| e.into_inner()).iter().map(|(k, v)| (k.clone(), v.clone())).collect();
    let mut all: Option<HashMap<String, Vec<LossRow>>> = None;
    let mut decided: Option<HashMap<(String, u64), crate::prune::Decision>> = None;
    for (id, w) in watched {
        if w.exempt || control.pruning.lock().unwrap_or_else(|e| e.into_inner()).contains_key(&id) {
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
                    let d = es.decide(&id, row.step, row.val_loss, &others);
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
                if !control.pruning.lock().unwrap_or_else(|e| e.into_inner()).contains_key(&id) {
                    control.prune(decision);
                }
                break;
            }
        }
        if let Some(w) = control.watched.lock().unwrap_or_else(|e| e.into_inner()).get_mut(&id) {
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
        .map(|e| (e.file_name().to_string_lossy().into_owned(), loss_csv::read_complete(&e.path().join("loss.csv"))))
        .filter(|(_, rows)| !rows.is_empty())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::runner::fake::Scripted;
    use crate::exec::scheduler::{Options, run_sweep};
    use crate::output::summary::{Status, Summary};
    use crate::plan::{Plan, PlannedRun};
    use std::sync::Arc;

    /// Eight runs, in this order; the lower the lr, the lower the val loss at every step.
    const SPEC: &str = "name: s\ndata:\n  path: d.txt\nsettings:\n  max_iters: 100\n  eval_interval: 10\n\
        grid:\n  lr: [0.3, 0.2, 0.4, 0.1, 0.5, 0.6, 0.15, 0.7]\nearly_stop:\n  method: asha\n  min_steps: 20\n  reduction_factor: 2\n";

    fn curve(run: &PlannedRun, step: u64) -> f64 {
        1.0 + 10.0 * run.config.train.lr - step as f64 / 1000.0
    }

    fn scripted(sweep_dir: &Path, control: &Control) -> Scripted {
        Scripted {
            curve,
            decision_steps: vec![20, 40, 80],
            sweep_dir: sweep_dir.to_path_buf(),
            children: control.children.clone(),
            calls: Default::default(),
            interrupt: None,
        }
    }

    fn one_at_a_time() -> Options {
        Options { jobs: 1, ..Default::default() }
    }

    /// Status (with the pruning step) by lr.
    fn outcome(sweep_dir: &Path) -> Vec<(String, String)> {
        let mut runs: Vec<Summary> = crate::report::load(sweep_dir).unwrap();
        runs.sort_by(|a, b| a.run_id.cmp(&b.run_id));
        runs.iter().map(|s| (s.run_id.clone(), s.status_text())).collect()
    }

    /// Each (run, step) is decided once, however often the sweep was stopped and resumed.
    fn assert_decided_once(sweep_dir: &Path) {
        let decisions = crate::prune::log::read(sweep_dir);
        let mut keys: Vec<(String, u64)> = decisions.iter().filter(|d| d.verdict != Verdict::Resume).map(|d| (d.run.clone(), d.step)).collect();
        let n = keys.len();
        keys.sort();
        keys.dedup();
        assert_eq!(keys.len(), n, "a step was decided twice: {decisions:?}");
    }

    /// With one run at a time each run is compared with every run before it, so the
    /// decisions are known: at step 20 a run goes on only if in the best half (at least
    /// the best one) of those that reached it.
    const EXPECTED: &[(&str, &str)] = &[
        ("lr0.15", "done"),
        ("lr0.2", "done"),
        ("lr0.3", "done"),
        ("lr0.4", "pruned@20"),
        ("lr0.5", "pruned@20"),
        ("lr0.6", "pruned@20"),
        ("lr0.7", "pruned@20"),
        ("lr0.1", "done"),
    ];

    fn expected() -> Vec<(String, String)> {
        let mut e: Vec<(String, String)> = EXPECTED.iter().map(|(a, b)| (a.to_string(), b.to_string())).collect();
        e.sort();
        e
    }

    #[test]
    fn asha_promotes_and_prunes_scripted_curves() {
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan::from_spec_text(SPEC).unwrap();
        let control = Control::default();
        let runner = scripted(dir.path(), &control);
        let out = run_sweep(&plan, dir.path(), "{}", &runner, &control, one_at_a_time()).unwrap();
        assert_eq!(outcome(dir.path()), expected());
        assert_eq!((out.count(Status::Done), out.count(Status::Pruned)), (4, 4));
        // Pruned runs stopped at the rung, kept their curve so far and say why.
        let pruned = RunDir::new(dir.path().join("lr0.5")).read_summary().unwrap();
        let why = pruned.pruned.as_ref().unwrap();
        assert_eq!((pruned.steps, why.at_step, why.max_iters), (Some(20), 20, 100));
        assert!(why.rule.contains("the best 2 of 5 runs at step 20"), "{}", why.rule);
        assert_eq!(loss_csv::read_complete(&RunDir::new(dir.path().join("lr0.5")).loss_csv()).len(), 3);
        // The decision names the runs it was compared with.
        let d = &log::by_run_step(dir.path())[&("lr0.5".to_string(), 20)];
        let mut with: Vec<&str> = d.compared_with.iter().map(|(r, _)| r.as_str()).collect();
        with.sort();
        assert_eq!(with, ["lr0.1", "lr0.2", "lr0.3", "lr0.4"]);
        assert_decided_once(dir.path());
        let saved = crate::report::savings::savings(&crate::report::load(dir.path()).unwrap()).unwrap();
        assert_eq!((saved.steps_trained, saved.steps_full), (480, 800));

        // A rerun trains nothing: pruned runs count as finished.
        let again = scripted(dir.path(), &control);
        let out = run_sweep(&plan, dir.path(), "{}", &again, &Control::default(), one_at_a_time()).unwrap();
        assert_eq!((out.ran.len(), out.skipped), (0, 8));

        // --resume-pruned continues them from where they stopped, to the end.
        let control = Control::default();
        // (Continued runs are never compared again: nothing to wait for.)
        let resumed = Scripted { decision_steps: Vec::new(), ..scripted(dir.path(), &control) };
        let rerun = crate::search::Rerun { failed: false, pruned: true };
        let out = run_sweep(&plan, dir.path(), "{}", &resumed, &control, Options { rerun, ..one_at_a_time() }).unwrap();
        assert_eq!((out.ran.len(), out.count(Status::Done)), (4, 4));
        assert_eq!(loss_csv::read_complete(&RunDir::new(dir.path().join("lr0.5")).loss_csv()).len(), 11);
        assert_decided_once(dir.path());
    }

    #[test]
    fn a_sweep_stopped_between_rungs_resumes_to_the_same_decisions() {
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan::from_spec_text(SPEC).unwrap();
        // Stopped when lr0.15 has passed rung 20 and not reached rung 40.
        let control = Arc::new(Control::default());
        let runner = Scripted { interrupt: Some(("lr0.15".into(), 30, control.clone())), ..scripted(dir.path(), &control) };
        let out = run_sweep(&plan, dir.path(), "{}", &runner, &control, one_at_a_time()).unwrap();
        assert!(out.interrupted);
        assert_eq!((out.count(Status::Interrupted), out.not_started), (1, 1), "{:?}", outcome(dir.path()));
        assert!(log::by_run_step(dir.path()).contains_key(&("lr0.15".to_string(), 20)));

        let control = Control::default();
        let rerun = scripted(dir.path(), &control);
        run_sweep(&plan, dir.path(), "{}", &rerun, &control, one_at_a_time()).unwrap();
        assert_eq!(*rerun.calls.lock().unwrap(), ["lr0.15", "lr0.7"]);
        assert_eq!(outcome(dir.path()), expected());
        let rows = loss_csv::read_complete(&RunDir::new(dir.path().join("lr0.15")).loss_csv());
        assert_eq!(rows.iter().map(|r| r.step).collect::<Vec<_>>(), (0..=100).step_by(10).collect::<Vec<_>>());
        assert_decided_once(dir.path());
    }

    #[test]
    fn two_workers_share_the_rungs_and_train_each_run_once() {
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan::from_spec_text(SPEC).unwrap();
        let (a, b) = (Control::default(), Control::default());
        let (ra, rb) = (scripted(dir.path(), &a), scripted(dir.path(), &b));
        std::thread::scope(|s| {
            s.spawn(|| run_sweep(&plan, dir.path(), "{}", &ra, &a, one_at_a_time()).unwrap());
            s.spawn(|| run_sweep(&plan, dir.path(), "{}", &rb, &b, one_at_a_time()).unwrap());
        });
        let mut calls: Vec<String> = ra.calls.lock().unwrap().iter().chain(rb.calls.lock().unwrap().iter()).cloned().collect();
        calls.sort();
        let mut ids: Vec<String> = plan.runs.iter().map(|r| r.id.clone()).collect();
        ids.sort();
        assert_eq!(calls, ids, "every run trained exactly once");
        let runs = outcome(dir.path());
        assert!(runs.iter().all(|(_, s)| s == "done" || s.starts_with("pruned@")), "{runs:?}");
        assert!(runs.iter().any(|(_, s)| s.starts_with("pruned@")), "{runs:?}");
        // The best run is never pruned: nothing beats it at any step.
        assert!(runs.contains(&("lr0.1".to_string(), "done".to_string())), "{runs:?}");
        assert_decided_once(dir.path());
    }

    #[test]
    fn a_kill_between_the_prune_and_its_summary_leaves_the_run_pruned() {
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan::from_spec_text(SPEC).unwrap();
        let control = Control::default();
        run_sweep(&plan, dir.path(), "{}", &scripted(dir.path(), &control), &control, one_at_a_time()).unwrap();
        // As the trial leaves it when the sweep dies before recording the prune.
        let run = RunDir::new(dir.path().join("lr0.5"));
        let mut s = run.read_summary().unwrap();
        (s.status, s.pruned) = (Status::Interrupted, None);
        run.write_summary(&s).unwrap();

        let control = Control::default();
        let rerun = scripted(dir.path(), &control);
        run_sweep(&plan, dir.path(), "{}", &rerun, &control, one_at_a_time()).unwrap();
        assert!(rerun.calls.lock().unwrap().is_empty(), "retrained: {:?}", rerun.calls.lock().unwrap());
        assert_eq!(outcome(dir.path()), expected());
    }

    #[test]
    fn a_continued_pruned_run_is_not_pruned_again_after_an_interruption() {
        let dir = tempfile::tempdir().unwrap();
        let plan = Plan::from_spec_text(SPEC).unwrap();
        let control = Control::default();
        run_sweep(&plan, dir.path(), "{}", &scripted(dir.path(), &control), &control, one_at_a_time()).unwrap();
        // --resume-pruned, stopped while lr0.5 is past its old rung.
        let control = Arc::new(Control::default());
        let runner = Scripted { decision_steps: Vec::new(), interrupt: Some(("lr0.5".into(), 50, control.clone())), ..scripted(dir.path(), &control) };
        let rerun = crate::search::Rerun { failed: false, pruned: true };
        run_sweep(&plan, dir.path(), "{}", &runner, &control, Options { rerun, ..one_at_a_time() }).unwrap();
        assert_eq!(RunDir::new(dir.path().join("lr0.5")).read_summary().unwrap().status, Status::Interrupted);
        // A plain rerun finishes it instead of replaying the old prune.
        let control = Control::default();
        let rest = Scripted { decision_steps: Vec::new(), ..scripted(dir.path(), &control) };
        run_sweep(&plan, dir.path(), "{}", &rest, &control, one_at_a_time()).unwrap();
        let s = RunDir::new(dir.path().join("lr0.5")).read_summary().unwrap();
        assert_eq!((s.status, s.steps), (Status::Done, Some(100)));
    }
}
