//! The main loop of a sweep: skips finished runs and refuses folders holding other
//! settings' results (`pending`), asks the plan's proposer (`search`) for the next run
//! whenever fewer than `jobs` train, hands each run or pack to a thread that trains it
//! (`job`), prints one line per finished run and calls the caller's hooks (the report),
//! keeps the claims' heartbeats and the time left, and runs early termination's watcher
//! (`rung_watch`) beside it. Ctrl-C (`signals`, through `Control`) stops new trials; the
//! running ones save their state. `enqueue:`'s runs start first; the stop rule (`stop:`)
//! ends the proposals of a search that stopped improving; the live page is rewritten
//! through the hooks after every finished run and every `LIVE_EVERY_S` seconds.

use crate::exec::claim::{self, HEARTBEAT_SECS};
use crate::exec::control::{Control, lock};
use crate::exec::eta::Eta;
use crate::exec::hooks::{LIVE_EVERY_S, Progress};
use crate::exec::job::{Attempt, run_job};
use crate::exec::packing::{self, Packing};
use crate::exec::pending::{self, Pending, conflicts_message, known_runs, pending_runs};
use crate::exec::rung_watch;
use crate::exec::runner::TrialRunner;
use crate::output::disk;
use crate::output::run_dir::RunDir;
use crate::output::summary::{Status, Summary};
use crate::output::worker::hostname;
use crate::plan::early_stop::Order;
use crate::plan::estimate;
use crate::plan::stop_rule::{StopRule, Stopped};
use crate::plan::{Plan, PlannedRun};
use crate::search::proposals::Adaptive;
use crate::search::{Fixed, Proposer};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};

pub use crate::exec::control::StorageStop;
pub use crate::exec::options::Options;

#[derive(Debug, Default)]
pub struct SweepOutcome {
    /// Summaries of the runs trained now, in the order they finished.
    pub ran: Vec<Summary>,
    /// Runs left alone because they had finished before.
    pub skipped: usize,
    /// Runs another live worker was training.
    pub elsewhere: usize,
    /// Runs left to other workers because this one trained its quota.
    pub left: usize,
    /// Runs not started because the sweep stopped (Ctrl-C, or a failing output filesystem).
    pub not_started: usize,
    /// Ctrl-C (or SIGTERM) stopped the sweep.
    pub interrupted: bool,
    /// The output filesystem failed (full, over quota, read-only, I/O errors) and the
    /// sweep stopped: what to tell the user.
    pub storage: Option<StorageStop>,
    /// Seconds early termination in plan order held trials at rungs, summed over runs.
    pub held_s: f64,
    /// The stop rule ended the search: its last line.
    pub stopped: Option<String>,
}

impl SweepOutcome {
    pub fn count(&self, status: Status) -> usize {
        self.ran.iter().filter(|s| s.status == status).count()
    }
}

/// Trains every pending run of `plan` under `sweep_dir`.
pub fn run_sweep(
    plan: &Plan,
    sweep_dir: &Path,
    tokenizer_json: &str,
    runner: &dyn TrialRunner,
    control: &Control,
    opts: Options,
) -> anyhow::Result<SweepOutcome> {
    std::fs::create_dir_all(sweep_dir).with_context(|| format!("cannot create output folder {}; check the path and its permissions", sweep_dir.display()))?;
    if let Some(refusal) = pending::misfit_refusal(plan, sweep_dir) {
        anyhow::bail!(refusal);
    }
    let imported = crate::exec::warm_start::import(plan, sweep_dir)?;
    if let Some(line) = imported.line(&plan.warm_start) {
        println!("{line}");
    }
    let known = known_runs(plan, sweep_dir);
    let Pending { pending, skipped, conflicts } = pending_runs(&known, sweep_dir, opts.rerun);
    anyhow::ensure!(conflicts.is_empty(), "{}", conflicts_message(&conflicts));
    for run in &known {
        let dir = RunDir::new(sweep_dir.join(&run.id));
        if dir.read_summary().is_some() && !pending.iter().any(|p| p.id == run.id) {
            // A worker killed between finishing a run and releasing it leaves its claim.
            if claim::read(&dir.path).is_some_and(|c| claim::stale_reason(&c, &hostname()).is_some()) {
                let _ = std::fs::remove_file(dir.claim());
            }
        } else if dir.summary().exists() && dir.read_summary().is_none() {
            println!("warning: {} is unreadable; training {} again", dir.summary().display(), run.id);
        }
    }
    // A pack is one process: early termination stops single runs, and TPE proposes one at a time.
    let packing = if plan.adaptive() || plan.early_stop.is_some() { Packing::Off } else { opts.packing };
    let opts = Options { early_stop: plan.early_stop.is_some(), packing, ..opts };
    let mut pending = pending;
    // Longest first, so that no long run trains alone at the end while the other workers idle.
    // Early termination in plan order holds a run at a rung until the runs before it have
    // reported there: runs start in plan order, so that the first unresolved run always trains.
    if plan.early_stop.as_ref().is_none_or(|es| es.order == Order::Arrival) {
        longest_first(&mut pending, |r| opts.predicted_s.get(&r.id).copied());
    }
    // What the spec enqueued trains before anything drawn.
    let enqueued: Vec<&str> = plan.runs[..plan.n_enqueued].iter().map(|r| r.id.as_str()).collect();
    pending.sort_by_key(|r| !enqueued.contains(&r.id.as_str()));
    let shapes = packing::counts(pending.iter().copied());
    let eta_order: Vec<String> = if plan.adaptive() { Vec::new() } else { pending.iter().map(|r| r.id.clone()).collect() };
    let mut proposer: Box<dyn Proposer + '_> =
        if plan.adaptive() { Box::new(Adaptive::new(plan, sweep_dir, opts.rerun)) } else { Box::new(Fixed::new(pending.into_iter().cloned())) };
    let total = proposer.remaining();
    if skipped > 0 {
        println!("{skipped} of {} runs already finished; {total} to train", skipped + total);
    }
    let bar = ProgressBar::with_draw_target(Some(total as u64), if opts.progress { ProgressDrawTarget::stderr() } else { ProgressDrawTarget::hidden() });
    bar.set_style(ProgressStyle::with_template("{bar:30} {pos}/{len} runs  {elapsed} elapsed{msg}").unwrap_or_else(|_| ProgressStyle::default_bar()));
    let eta = Eta::new(eta_order.iter().map(String::as_str), &opts.predicted_s, opts.predicted_in_seconds, opts.jobs);
    let show_eta = || {
        if let Some(left) = eta.left() {
            bar.set_message(format!(", {} left", estimate::human(left)));
        }
    };
    show_eta();
    let mut out = SweepOutcome { skipped, ..Default::default() };
    let finished = AtomicBool::new(false);
    let mut proposer_error = None;
    let progress = std::sync::Mutex::new(Progress { running: Vec::new(), pending: total });
    // A rerun of a search the stop rule ended stays ended.
    let mut stopped: Option<Stopped> = plan.stop.as_ref().and_then(|rule| stop_rule(rule, sweep_dir, opts.hooks.seed_spread, &[]));
    let live = || {
        let now = lock(&progress).clone();
        if let Err(e) = (opts.hooks.live)(sweep_dir, &now) {
            bar.suspend(|| eprintln!("warning: cannot update the live page: {e:#}"));
        }
    };
    let every_second = {
        let ticks = std::sync::atomic::AtomicU64::new(0);
        move || {
            show_eta();
            if ticks.fetch_add(1, Ordering::SeqCst) % LIVE_EVERY_S == LIVE_EVERY_S - 1 {
                live();
            }
        }
    };
    std::thread::scope(|threads| {
        // The heartbeat and rung-watch threads end when this scope's work does, even by a panic.
        let _finish = SetOnDrop(&finished);
        threads.spawn(|| heartbeats(control, &finished, &every_second));
        if let Some(es) = &plan.early_stop {
            threads.spawn(|| rung_watch::watch(es, plan, sweep_dir, control, &finished));
        }
        let (done_tx, done_rx) = std::sync::mpsc::channel::<Vec<(PlannedRun, Attempt)>>();
        let mut running = 0;
        let mut exhausted = stopped.is_some();
        // Jobs that trained a run, against the quota; runs offered as orphans once it is met.
        let mut trained = 0;
        let mut orphans_tried = std::collections::HashSet::new();
        loop {
            while running < opts.jobs.max(1) && !exhausted && !control.stopping.load(Ordering::SeqCst) {
                let next = if opts.quota.is_some_and(|q| trained >= q) {
                    Ok(pending::orphan(plan, sweep_dir, opts.rerun, &mut orphans_tried))
                } else {
                    proposer.next()
                };
                match next {
                    Ok(Some(run)) => {
                        running += 1;
                        let max = opts.packing.max_for(&run.config, opts.vocab_size);
                        let mut job = vec![run];
                        if max > 1 {
                            let key = packing::key(&job[0].config);
                            let size = packing::pack_size(shapes.get(&key).copied().unwrap_or(1), total, opts.jobs, max);
                            job.extend(proposer.take_mates(&|r| packing::key(&r.config) == key, size - 1));
                        }
                        {
                            let mut p = lock(&progress);
                            p.running.extend(job.iter().map(|r| r.id.clone()));
                            p.pending = proposer.remaining();
                        }
                        let (done_tx, bar, eta, opts) = (done_tx.clone(), &bar, &eta, &opts);
                        threads.spawn(move || {
                            // A bug in one job's thread fails its runs; it never hangs the sweep.
                            let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                                run_job(&job, sweep_dir, tokenizer_json, runner, control, opts, bar, eta)
                            }))
                            .unwrap_or_else(|panic| {
                                let what =
                                    panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_default();
                                let failed = |run: &PlannedRun| {
                                    Attempt::Ran(Box::new(Summary::failed(&run.id, run.params.clone(), 0.0, format!("internal error in the sweep: {what}"))))
                                };
                                job.iter().map(failed).collect()
                            });
                            let _ = done_tx.send(job.into_iter().zip(result).collect());
                        });
                    }
                    Ok(None) => exhausted = true,
                    Err(e) => {
                        exhausted = true;
                        match disk::classify(&format!("{e:#}")) {
                            Some(cause) => control.stop_for_storage(StorageStop { cause, run_id: String::new(), needed: None }),
                            None => proposer_error = Some(e),
                        }
                    }
                }
            }
            if running == 0 {
                break;
            }
            // The live page at the start and after every finished run, once the next started.
            if !control.storage_failed() {
                live();
            }
            let Ok(finished_job) = done_rx.recv() else { break };
            running -= 1;
            if finished_job.iter().any(|(_, a)| matches!(a, Attempt::Ran(_))) {
                trained += 1;
            }
            // A run finished elsewhere may let an adaptive method propose again.
            exhausted = exhausted && !plan.adaptive();
            {
                let mut p = lock(&progress);
                p.running.retain(|id| !finished_job.iter().any(|(r, _)| &r.id == id));
                p.pending = if stopped.is_some() { 0 } else { proposer.remaining() };
            }
            for (run, result) in finished_job {
                match result {
                    Attempt::Ran(_) => eta.finished(&run.id),
                    _ => eta.dropped(&run.id),
                }
                match result {
                    Attempt::Ran(summary) => {
                        out.ran.push(*summary.clone());
                        bar.inc(1);
                        // An array task trains one run of many: its count would mislead.
                        let count = if opts.quota.is_some() { "trained:".to_string() } else { format!("[{}/{total}]", out.ran.len()) };
                        bar.suspend(|| println!("{count} {}", one_line(&summary)));
                        if !control.storage_failed()
                            && let Err(e) = (opts.hooks.run_finished)(sweep_dir)
                        {
                            match disk::classify(&format!("{e:#}")) {
                                Some(cause) => control.stop_for_storage(StorageStop { cause, run_id: run.id.clone(), needed: None }),
                                None => bar.suspend(|| eprintln!("warning: cannot update the sweep report: {e:#}")),
                            }
                        }
                    }
                    Attempt::Elsewhere => out.elsewhere += 1,
                    Attempt::AlreadyDone => out.skipped += 1,
                    Attempt::NotStarted => out.not_started += 1,
                }
            }
            if let Some(rule) = &plan.stop
                && stopped.is_none()
            {
                stopped = stop_rule(rule, sweep_dir, opts.hooks.seed_spread, &out.ran);
            }
            // The stop rule ends the proposals for good; the runs training now finish.
            exhausted = exhausted || stopped.is_some();
        }
        if control.stopping.load(Ordering::SeqCst) {
            out.not_started += proposer.remaining();
        } else if opts.quota.is_some_and(|q| trained >= q) {
            out.left = proposer.remaining();
        }
    });
    if let Some(e) = proposer_error {
        bar.finish_and_clear();
        return Err(e.context("cannot propose the next run"));
    }
    bar.finish_and_clear();
    out.storage = lock(&control.storage).clone();
    out.interrupted = control.stopping.load(Ordering::SeqCst);
    out.held_s = control.children.held_seconds();
    if let (Some(rule), Some(st)) = (&plan.stop, stopped) {
        let trained = crate::output::run_dir::load_all(sweep_dir).map_or(0, |runs| runs.iter().filter(|s| s.imported_from.is_none()).count());
        // Said only when it ended the search before its budget did.
        if trained < plan.n_runs {
            out.stopped = Some(st.line(rule.patience_runs, trained, plan.n_runs));
        }
    }
    Ok(out)
}

/// Whether the stop rule ends the search, from every run of the sweep this search trained
/// (imported runs left out), in the order they finished: those this worker trained (`ran`)
/// in its own order, after the others (earlier sweeps, other workers) in the order their
/// summaries were written (file times tie within a few milliseconds, so they order only
/// what this worker did not see finish).
fn stop_rule(rule: &StopRule, sweep_dir: &Path, seed_spread: fn(&[Summary]) -> Option<f64>, ran: &[Summary]) -> Option<Stopped> {
    let counts = |s: &Summary| s.imported_from.is_none() && s.status != Status::Failed && s.status != Status::Interrupted;
    let mut others: Vec<(std::time::SystemTime, Summary)> = crate::output::run_dir::load_all(sweep_dir)
        .ok()?
        .into_iter()
        .filter(|s| counts(s) && !ran.iter().any(|r| r.run_id == s.run_id))
        .filter_map(|s| Some((std::fs::metadata(RunDir::new(sweep_dir.join(&s.run_id)).summary()).ok()?.modified().ok()?, s)))
        .collect();
    others.sort_by(|a, b| a.0.cmp(&b.0).then(a.1.run_id.cmp(&b.1.run_id)));
    let summaries: Vec<Summary> = others.into_iter().map(|(_, s)| s).chain(ran.iter().filter(|s| counts(s)).cloned()).collect();
    let finished: Vec<(String, f64)> =
        summaries.iter().map(|s| (s.run_id.clone(), if s.status == Status::Done { s.best_val_loss.unwrap_or(f64::INFINITY) } else { f64::INFINITY })).collect();
    rule.decide(&finished, seed_spread(&summaries))
}

/// Sorts runs longest first (by `cost`; unknown costs last), so that no long run trains
/// alone at the end while the other workers idle; it also decides which runs share a pack.
/// Stable: runs of equal cost keep their plan order.
pub fn longest_first(runs: &mut [&PlannedRun], cost: impl Fn(&PlannedRun) -> Option<f64>) {
    runs.sort_by(|a, b| cost(b).unwrap_or(0.0).total_cmp(&cost(a).unwrap_or(0.0)));
}

/// Sets the flag when dropped.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

/// Refreshes the heartbeat of every claim this worker holds until `finished`, and calls
/// `every_second` once a second.
fn heartbeats(control: &Control, finished: &AtomicBool, every_second: &dyn Fn()) {
    let mut ticks = 0;
    while !finished.load(Ordering::SeqCst) {
        std::thread::sleep(std::time::Duration::from_millis(200));
        ticks += 1;
        if ticks % 5 == 0 {
            every_second();
        }
        if ticks % (HEARTBEAT_SECS * 5) == 0 {
            let claims = lock(&control.claims).clone();
            for c in claims {
                if let Err(e) = c.heartbeat() {
                    eprintln!("warning: cannot refresh a claim heartbeat: {e}");
                }
            }
        }
    }
}

/// `bs16_lr1e-3  done      val 2.3456 (best 2.3012 @ 400)  12.3s`
pub fn one_line(s: &Summary) -> String {
    let numbers = match (s.final_val_loss, s.best_val_loss, s.best_step) {
        (Some(f), Some(b), Some(step)) => format!("val {f:.4} (best {b:.4} @ {step})"),
        _ => String::new(),
    };
    let error = s.error.as_deref().map(|e| e.lines().next().unwrap_or_default()).unwrap_or_default();
    format!("{}  {:<8} {numbers} {error} {:.1}s", s.run_id, s.status_text(), s.wall_seconds).split_whitespace().collect::<Vec<_>>().join(" ")
}
