//! Whole sweeps through `run_sweep` with fake and scripted trials (no libtorch): the
//! scheduler's skipping, conflicts and hooks, early termination, and TPE's proposals.

use crate::exec::control::Control;
use crate::exec::fake::{FakeRunner, Scripted};
use crate::exec::hooks::Hooks;
use crate::exec::pending::pending_runs;
use crate::exec::runner::TrialRunner;
use crate::exec::scheduler::{Options, one_line, run_sweep};
use crate::output::loss_csv;
use crate::output::run_dir::RunDir;
use crate::output::run_dir::load_all;
use crate::output::summary::{Status, Summary};
use crate::plan::{Plan, PlannedRun};
use crate::prune::{Verdict, log};
use crate::search::{Rerun, proposals};
use std::path::Path;
use std::sync::Arc;

/// Skipping, conflicts, retries and reporting hooks, with fake trials.
mod scheduler {
    use super::*;

    fn plan(grid: &str) -> Plan {
        let text = format!("name: s\ndata:\n  path: d.txt\nsettings:\n  max_iters: 10\ngrid:\n{grid}");
        Plan::from_spec_text(&text).unwrap()
    }

    /// A report hook that counts its calls in the sweep folder.
    fn count_call(sweep_dir: &Path) -> anyhow::Result<()> {
        crate::output::run_dir::append_line(&sweep_dir.join("hook_calls"), "run finished")
    }

    fn opts() -> Options {
        Options { jobs: 2, hooks: Hooks { run_finished: count_call, ..Hooks::default() }, ..Default::default() }
    }

    #[test]
    fn runs_everything_then_skips_done_and_runs_only_new() {
        let dir = tempfile::tempdir().unwrap();
        let p = plan("  lr: [0.001, 0.01]\n  dropout: [0.0, 0.1]\n");
        let runner = FakeRunner::new(&["lr1e-2_do0"]);
        let out = run_sweep(&p, dir.path(), "{}", &runner, &Control::default(), opts()).unwrap();
        assert_eq!((out.count(Status::Done), out.count(Status::Failed), out.skipped), (3, 1, 0));
        assert_eq!(std::fs::read_to_string(dir.path().join("hook_calls")).unwrap().lines().count(), 4, "the report hook after every run");
        assert!(dir.path().join("lr1e-3_do0/config.json").exists());

        // Rerun: nothing to do.
        let again = FakeRunner::new(&[]);
        let out = run_sweep(&p, dir.path(), "{}", &again, &Control::default(), opts()).unwrap();
        assert_eq!((out.ran.len(), out.skipped), (0, 4));

        // A new grid value: only the two new runs train.
        let bigger = plan("  lr: [0.001, 0.01]\n  dropout: [0.0, 0.1, 0.2]\n");
        let out = run_sweep(&bigger, dir.path(), "{}", &again, &Control::default(), opts()).unwrap();
        let mut calls = again.calls.lock().unwrap().clone();
        calls.sort();
        assert_eq!(calls, ["lr1e-2_do0.2", "lr1e-3_do0.2"]);
        assert_eq!(out.skipped, 4);

        // --retry-failed reruns the failed one only.
        let retry = FakeRunner::new(&[]);
        run_sweep(&bigger, dir.path(), "{}", &retry, &Control::default(), Options { rerun: Rerun { failed: true, pruned: false }, ..opts() }).unwrap();
        assert_eq!(*retry.calls.lock().unwrap(), ["lr1e-2_do0"]);
    }

    #[test]
    fn changed_settings_are_refused_before_training() {
        let dir = tempfile::tempdir().unwrap();
        run_sweep(&plan("  lr: [0.001]\n"), dir.path(), "{}", &FakeRunner::new(&[]), &Control::default(), opts()).unwrap();
        let text = "name: s\ndata:\n  path: d.txt\nsettings:\n  max_iters: 20\ngrid:\n  lr: [0.001]\n";
        let changed = Plan::from_spec_text(text).unwrap();
        let runner = FakeRunner::new(&[]);
        let err = run_sweep(&changed, dir.path(), "{}", &runner, &Control::default(), opts()).unwrap_err().to_string();
        assert!(err.contains("train.max_iters was 10, now 20"), "{err}");
        assert!(runner.calls.lock().unwrap().is_empty());

        // Another device is not another result: the finished run is kept, not refused.
        let mut moved = plan("  lr: [0.001]\n");
        moved.runs[0].config.train.device = "cpu".into();
        let todo = pending_runs(&moved.runs, dir.path(), Rerun::default());
        assert_eq!((todo.pending.len(), todo.skipped, todo.conflicts.len()), (0, 1, 0));
    }

    #[test]
    fn one_line_shows_status_and_losses() {
        let mut s = Summary::failed("lr1e-3", Default::default(), 3.21, "out of memory\nmore".into());
        assert_eq!(one_line(&s), "lr1e-3 failed out of memory 3.2s");
        s.status = Status::Done;
        s.error = None;
        (s.final_val_loss, s.best_val_loss, s.best_step) = (Some(2.5), Some(2.25), Some(100));
        assert_eq!(one_line(&s), "lr1e-3 done val 2.5000 (best 2.2500 @ 100) 3.2s");
    }
}

/// ASHA on scripted curves: decisions, resumes, two workers, kills between prune and summary.
mod early_stop {
    use super::*;

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
            eval_ms: |_| 0,
        }
    }

    fn one_at_a_time() -> Options {
        Options { jobs: 1, ..Default::default() }
    }

    /// Status (with the pruning step) by lr.
    fn outcome(sweep_dir: &Path) -> Vec<(String, String)> {
        let mut runs: Vec<Summary> = load_all(sweep_dir).unwrap();
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
        let trained: u64 = load_all(dir.path()).unwrap().iter().map(|s| s.steps.unwrap()).sum();
        assert_eq!(trained, 480, "of 800 without early termination");

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

    /// The plan's runs, the last ones fastest: 40 ms an evaluation for the last, 320 for the
    /// first, so with all eight at once they reach every rung in reverse plan order.
    fn last_first(run: &PlannedRun) -> u64 {
        let lrs = [0.3, 0.2, 0.4, 0.1, 0.5, 0.6, 0.15, 0.7];
        let i = lrs.iter().position(|&l| (l - run.config.train.lr).abs() < 1e-12).unwrap();
        40 * (8 - i as u64)
    }

    fn all_at_once() -> Options {
        Options { jobs: 8, ..Default::default() }
    }

    /// With `order: plan` (the default) a decision is taken against exactly the runs before
    /// it in plan order: the eight runs trained at once and reaching the rungs last first
    /// are pruned exactly as when they train one at a time in plan order. With
    /// `order: arrival` the same timing prunes differently (the first run to arrive always
    /// goes on), which shows what the order buys.
    #[test]
    fn in_plan_order_the_prunes_do_not_depend_on_which_run_arrives_first() {
        let plan = Plan::from_spec_text(SPEC).unwrap();
        let one = tempfile::tempdir().unwrap();
        let control = Control::default();
        run_sweep(&plan, one.path(), "{}", &scripted(one.path(), &control), &control, one_at_a_time()).unwrap();
        assert_eq!(outcome(one.path()), expected());

        let reversed = tempfile::tempdir().unwrap();
        let control = Control::default();
        let runner = Scripted { eval_ms: last_first, ..scripted(reversed.path(), &control) };
        run_sweep(&plan, reversed.path(), "{}", &runner, &control, all_at_once()).unwrap();
        assert_eq!(outcome(reversed.path()), expected(), "all at once, last first: the same prunes");
        // Each decision at step 20 compared a run with exactly the runs before it.
        let decisions = log::by_run_step(reversed.path());
        let last = &decisions[&("lr0.7".to_string(), 20)];
        assert_eq!(last.compared_with.len(), 7, "{last:?}");
        assert!(decisions[&("lr0.3".to_string(), 20)].compared_with.is_empty());
        assert_decided_once(reversed.path());

        let arrival = Plan::from_spec_text(&format!("{SPEC}  order: arrival\n")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let control = Control::default();
        let runner = Scripted { eval_ms: last_first, ..scripted(dir.path(), &control) };
        run_sweep(&arrival, dir.path(), "{}", &runner, &control, all_at_once()).unwrap();
        let first_to_arrive = outcome(dir.path()).into_iter().find(|(id, _)| id == "lr0.7").unwrap();
        assert_ne!(first_to_arrive.1, "pruned@20", "in arrival order the first run at a rung goes on");
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

/// TPE proposals through whole sweeps: the same seed, resumes, two workers.
mod tpe {
    use super::*;

    const SPEC: &str = "name: s\ndata:\n  path: d.txt\nsettings:\n  max_iters: 10\nmethod: tpe\nn_runs: 12\nn_startup: 4\nsearch_seed: 3\n\
        space:\n  lr: {log_uniform: [1e-4, 1e-1]}\n  dropout: {uniform: [0.0, 0.5]}\n";

    fn one_at_a_time() -> Options {
        Options { jobs: 1, ..Default::default() }
    }

    fn ids(sweep_dir: &Path) -> Vec<String> {
        proposals::read(sweep_dir).into_iter().map(|p| p.id).collect()
    }

    /// Stops the sweep, as Ctrl-C does, once it has trained `after` runs.
    struct StopAfter<'a> {
        inner: FakeRunner,
        after: usize,
        control: &'a Control,
    }

    impl TrialRunner for StopAfter<'_> {
        fn run(&self, run: &PlannedRun, dir: &RunDir) -> Summary {
            let s = self.inner.run(run, dir);
            if self.inner.calls.lock().unwrap().len() == self.after {
                self.control.stop();
            }
            s
        }
    }

    #[test]
    fn the_same_seed_proposes_the_same_runs_and_models_after_the_start() {
        let plan = Plan::from_spec_text(SPEC).unwrap();
        let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
        for dir in [&a, &b] {
            let out = run_sweep(&plan, dir.path(), "{}", &FakeRunner::new(&[]), &Control::default(), one_at_a_time()).unwrap();
            assert_eq!(out.count(Status::Done), 12);
        }
        assert_eq!(ids(a.path()), ids(b.path()));
        let proposals = proposals::read(a.path());
        assert_eq!(proposals.iter().map(|p| p.index).collect::<Vec<_>>(), (0..12).collect::<Vec<_>>());
        assert_eq!(proposals.iter().filter(|p| p.by == "random").count(), 4);
        // The first four are the plan's random draws; every proposal is new and in the space.
        assert_eq!(ids(a.path())[..4], plan.runs[..4].iter().map(|r| r.id.clone()).collect::<Vec<_>>());
        let mut unique = ids(a.path());
        unique.sort();
        unique.dedup();
        assert_eq!(unique.len(), 12);
        for p in &proposals {
            for (key, dist) in &plan.space {
                assert!(dist.contains(&p.params[key]), "{} {key}", p.id);
            }
        }
        // After the random start every proposal is modelled (search::tpe's tests measure how well).
        assert!(proposals[4..].iter().all(|p| p.by == "tpe"), "{proposals:?}");
        // A rerun proposes nothing more.
        let again = FakeRunner::new(&[]);
        let out = run_sweep(&plan, a.path(), "{}", &again, &Control::default(), one_at_a_time()).unwrap();
        assert_eq!((out.ran.len(), out.skipped, proposals::read(a.path()).len()), (0, 12, 12));
    }

    #[test]
    fn a_resumed_sweep_continues_the_sequence() {
        let plan = Plan::from_spec_text(SPEC).unwrap();
        let whole = tempfile::tempdir().unwrap();
        run_sweep(&plan, whole.path(), "{}", &FakeRunner::new(&[]), &Control::default(), one_at_a_time()).unwrap();

        let dir = tempfile::tempdir().unwrap();
        let control = Control::default();
        let first = StopAfter { inner: FakeRunner::new(&[]), after: 6, control: &control };
        let out = run_sweep(&plan, dir.path(), "{}", &first, &control, one_at_a_time()).unwrap();
        assert!(out.interrupted);
        assert_eq!(proposals::read(dir.path()).len(), 6);
        let rest = FakeRunner::new(&[]);
        run_sweep(&plan, dir.path(), "{}", &rest, &Control::default(), one_at_a_time()).unwrap();
        assert_eq!(ids(dir.path()), ids(whole.path()));
        assert_eq!(*rest.calls.lock().unwrap(), ids(whole.path())[6..]);
    }

    #[test]
    fn two_workers_never_train_the_same_proposal() {
        let plan = Plan::from_spec_text(SPEC).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (a, b) = (FakeRunner::new(&[]), FakeRunner::new(&[]));
        let control = Arc::new(Control::default());
        std::thread::scope(|s| {
            s.spawn(|| run_sweep(&plan, dir.path(), "{}", &a, &control, one_at_a_time()).unwrap());
            s.spawn(|| run_sweep(&plan, dir.path(), "{}", &b, &Control::default(), one_at_a_time()).unwrap());
        });
        let mut calls: Vec<String> = a.calls.lock().unwrap().iter().chain(b.calls.lock().unwrap().iter()).cloned().collect();
        calls.sort();
        let mut proposed = ids(dir.path());
        proposed.sort();
        assert_eq!(calls, proposed);
        assert_eq!(proposed.len(), 12);
    }
}

/// Warm starts, enqueued runs and the stop rule through whole sweeps, with fake trials.
mod search_features {
    use super::*;

    const TPE: &str = "name: s\ndata:\n  path: d.txt\nsettings:\n  max_iters: 10\nmethod: tpe\nn_runs: 12\nn_startup: 4\nsearch_seed: 3\n\
        space:\n  lr: {log_uniform: [1e-4, 1e-1]}\n  dropout: {uniform: [0.0, 0.5]}\n";

    fn one_at_a_time() -> Options {
        Options { jobs: 1, ..Default::default() }
    }

    #[test]
    fn a_warm_started_tpe_models_from_its_first_proposal_and_retrains_nothing_imported() {
        let earlier = tempfile::tempdir().unwrap();
        let cold = Plan::from_spec_text(TPE).unwrap();
        run_sweep(&cold, earlier.path(), "{}", &FakeRunner::new(&[]), &Control::default(), one_at_a_time()).unwrap();
        let cold_first = proposals::read(earlier.path())[0].clone();
        assert_eq!(cold_first.by, "random");

        let warm = Plan::from_spec_text(&format!("{TPE}warm_start: [\"{}\"]\n", earlier.path().display())).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let runner = FakeRunner::new(&[]);
        let out = run_sweep(&warm, dir.path(), "{}", &runner, &Control::default(), one_at_a_time()).unwrap();
        let first = proposals::read(dir.path())[0].clone();
        assert_eq!(first.by, "tpe", "12 imported runs are more than the random start of 4");
        assert_ne!(first.id, cold_first.id);
        let imported: Vec<Summary> = load_all(dir.path()).unwrap().into_iter().filter(|s| s.imported_from.is_some()).collect();
        assert_eq!(imported.len(), 12);
        let calls = runner.calls.lock().unwrap().clone();
        assert_eq!(calls.len(), 12, "n_runs new runs");
        assert!(calls.iter().all(|id| !imported.iter().any(|s| &s.run_id == id)), "imported runs are not trained again");
        assert_eq!(out.count(Status::Done), 12);
        // Modelled on the imported runs, TPE proposes better than a cold start's random draws.
        let loss = |s: &Summary| s.best_val_loss.unwrap();
        let new_best = out.ran.iter().map(loss).fold(f64::INFINITY, f64::min);
        let cold_random_best =
            load_all(earlier.path()).unwrap().iter().filter(|s| plan_ids(&cold)[..4].contains(&s.run_id)).map(loss).fold(f64::INFINITY, f64::min);
        assert!(new_best <= cold_random_best, "{new_best} vs {cold_random_best}");
    }

    fn plan_ids(plan: &Plan) -> Vec<String> {
        plan.runs.iter().map(|r| r.id.clone()).collect()
    }

    #[test]
    fn a_grid_warm_started_from_an_earlier_sweep_trains_only_what_it_lacks() {
        let spec = |lrs: &str, warm: &str| format!("name: s\ndata:\n  path: d.txt\nsettings:\n  max_iters: 10\ngrid:\n  lr: [{lrs}]\n{warm}");
        let earlier = tempfile::tempdir().unwrap();
        run_sweep(&Plan::from_spec_text(&spec("0.001, 0.002", "")).unwrap(), earlier.path(), "{}", &FakeRunner::new(&[]), &Control::default(), one_at_a_time())
            .unwrap();
        // Another max_iters is another result: those are not imported.
        let other = tempfile::tempdir().unwrap();
        let longer = spec("0.003", "").replace("max_iters: 10", "max_iters: 20");
        run_sweep(&Plan::from_spec_text(&longer).unwrap(), other.path(), "{}", &FakeRunner::new(&[]), &Control::default(), one_at_a_time()).unwrap();

        let warm = format!("warm_start: [\"{}\", \"{}\"]\n", earlier.path().display(), other.path().display());
        let plan = Plan::from_spec_text(&spec("0.001, 0.002, 0.003", &warm)).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let runner = FakeRunner::new(&[]);
        let out = run_sweep(&plan, dir.path(), "{}", &runner, &Control::default(), one_at_a_time()).unwrap();
        assert_eq!(*runner.calls.lock().unwrap(), ["lr3e-3"]);
        assert_eq!(out.skipped, 2);
        let s = RunDir::new(dir.path().join("lr1e-3")).read_summary().unwrap();
        assert_eq!(s.imported_from.as_deref(), Some(earlier.path().join("lr1e-3").display().to_string().as_str()));
        assert!(dir.path().join("lr1e-3/config.json").exists());
        let again = crate::exec::warm_start::import(&plan, dir.path()).unwrap();
        assert_eq!((again.brought, again.before), (0, 2), "nothing is copied twice");
        assert_eq!(again.not, [("trained with other fixed settings".to_string(), 1)]);
    }

    #[test]
    fn enqueued_runs_train_first() {
        let text = "name: s\ndata:\n  path: d.txt\nsettings:\n  max_iters: 10\nmethod: random\nn_runs: 5\nspace:\n  lr: {log_uniform: [1e-4, 1e-1]}\nenqueue:\n  - {lr: 0.0005}\n";
        let plan = Plan::from_spec_text(text).unwrap();
        let runner = FakeRunner::new(&[]);
        let dir = tempfile::tempdir().unwrap();
        // Longest-first ordering would put it anywhere; enqueued runs go first regardless.
        let predicted = Arc::new(plan.runs.iter().map(|r| (r.id.clone(), if r.id == "lr5e-4" { 1.0 } else { 10.0 })).collect());
        run_sweep(&plan, dir.path(), "{}", &runner, &Control::default(), Options { predicted_s: predicted, ..one_at_a_time() }).unwrap();
        assert_eq!(runner.calls.lock().unwrap()[0], "lr5e-4");
        let tpe = Plan::from_spec_text(&format!("{TPE}enqueue:\n  - {{lr: 0.0005, dropout: 0.25}}\n")).unwrap();
        let dir = tempfile::tempdir().unwrap();
        run_sweep(&tpe, dir.path(), "{}", &FakeRunner::new(&[]), &Control::default(), one_at_a_time()).unwrap();
        let first = proposals::read(dir.path())[0].clone();
        assert_eq!((first.id.as_str(), first.by.as_str()), ("lr5e-4_do0.25", "enqueued"));
    }

    #[test]
    fn the_stop_rule_ends_a_random_sweep_at_the_run_it_should() {
        let text = "name: s\ndata:\n  path: d.txt\nsettings:\n  max_iters: 10\nmethod: random\nn_runs: 40\nsearch_seed: 5\n\
            space:\n  lr: {log_uniform: [1e-4, 1e-1]}\nstop:\n  patience_runs: 4\n  min_delta: 0.05\n";
        let plan = Plan::from_spec_text(text).unwrap();
        // The fake's loss is 2 + 100 lr + dropout: where, in the plan's order, 4 runs first
        // pass without beating the best by more than 0.05.
        let losses: Vec<f64> = plan.runs.iter().map(|r| 2.0 + r.config.train.lr * 100.0 + r.config.model.dropout).collect();
        let (mut best, mut since, mut want) = (f64::INFINITY, 0, None);
        for (i, l) in losses.iter().enumerate() {
            if *l < best - 0.05 {
                (best, since) = (*l, 0);
            } else {
                since += 1;
            }
            if since == 4 {
                want = Some(i + 1);
                break;
            }
        }
        let want = want.expect("the scripted losses stop somewhere");
        assert!(want < 40);
        let dir = tempfile::tempdir().unwrap();
        let runner = FakeRunner::new(&[]);
        let out = run_sweep(&plan, dir.path(), "{}", &runner, &Control::default(), one_at_a_time()).unwrap();
        assert_eq!(out.ran.len(), want);
        let line = out.stopped.unwrap();
        assert!(line.contains(&format!("stopped proposing after {want} finished run(s)")), "{line}");
        assert!(line.ends_with(&format!("{want} trained, {} of n_runs 40 not trained", 40 - want)), "{line}");
        // A rerun stays stopped.
        let again = FakeRunner::new(&[]);
        let out = run_sweep(&plan, dir.path(), "{}", &again, &Control::default(), one_at_a_time()).unwrap();
        assert!(again.calls.lock().unwrap().is_empty() && out.stopped.is_some());
    }
}

/// TPE under constraints that rule out values it has never seen (so its model favours them).
mod constrained_tpe {
    use super::*;

    #[test]
    fn tpe_keeps_modelling_when_its_favourite_points_break_a_constraint() {
        let text = "name: s\ndata:\n  path: d.txt\nsettings:\n  max_iters: 10\nmethod: tpe\nn_runs: 16\nn_startup: 4\nsearch_seed: 1\n\
            space:\n  lr: {log_uniform: [1e-4, 1e-1]}\n  dropout: [0.0, 0.1, 0.4, 0.5]\nconstraints: [\"dropout < 0.3\"]\n";
        let plan = Plan::from_spec_text(text).unwrap();
        let dir = tempfile::tempdir().unwrap();
        run_sweep(&plan, dir.path(), "{}", &FakeRunner::new(&[]), &Control::default(), Options { jobs: 1, ..Default::default() }).unwrap();
        let proposals = proposals::read(dir.path());
        assert_eq!(proposals.len(), 16);
        assert!(proposals.iter().all(|p| p.params["dropout"].as_f64().unwrap() < 0.3), "{proposals:?}");
        let modelled = proposals[4..].iter().filter(|p| p.by == "tpe").count();
        assert_eq!(modelled, 12, "every proposal after the start is modelled, not a random fallback: {proposals:?}");
    }
}
