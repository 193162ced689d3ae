//! Runs a plan: skips finished runs, refuses to mix a run folder with a changed config,
//! asks the plan's proposer (`search`) for the next run whenever fewer than `jobs` train,
//! claims each (so several workers can share a sweep), runs it with retries, prints one
//! line per finished run, rewrites the sweep report after each, stops runs that early
//! termination prunes (`pruner`), and handles Ctrl-C: the first stops new trials and asks
//! running ones to checkpoint and stop; the second stops at once.

use crate::exec::claim::{self, Claim, HEARTBEAT_SECS};
use crate::exec::eta::Eta;
use crate::exec::packing::{self, Packing};
use crate::exec::pruner::{self, Watched};
use crate::exec::runner::{self, Children, TrialRunner};
use crate::output::disk::{self, Cause};
use crate::output::loss_csv;
use crate::output::run_dir::{RunDir, write_atomic, write_json};
use crate::output::summary::{Pruned, Status, Summary};
use crate::plan::estimate;
use crate::plan::{Plan, PlannedRun};
use crate::prune::log as prune_log;
use crate::prune::{Decision, Verdict};
use crate::report;
use crate::search::proposals::{self, Adaptive};
use crate::search::{Fixed, Proposer, Rerun};
use anyhow::Context;
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use std::collections::HashMap;
use std::path::Path;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use sweep_config::RunConfig;

#[derive(Debug, Clone, Default)]
pub struct Options {
    /// Trials at once.
    pub jobs: usize,
    /// Which finished runs to train again (failed, pruned).
    pub rerun: Rerun,
    /// The plan stops runs early (set by `run_sweep` from the plan).
    pub early_stop: bool,
    /// Draw a progress bar on stderr (when it is a terminal).
    pub progress: bool,
    /// Extra attempts for a trial that fails.
    pub max_retries: u32,
    /// Tokens in the vocabulary, for the bytes a run will write.
    pub vocab_size: usize,
    /// Predicted seconds of each pending run (by id), from the plan's estimate; the
    /// progress bar's time left scales them by how long finished runs took against theirs.
    pub predicted_s: Arc<HashMap<String, f64>>,
    /// Whether `predicted_s` is in seconds (timed on this machine) or relative costs.
    pub predicted_in_seconds: bool,
    /// Which runs train packed into one model (off for adaptive methods and early stopping).
    pub packing: Packing,
    /// Jobs (runs or packs) this worker trains before it only takes over runs whose worker
    /// died; None: no limit. A Slurm array task trains one, leaving the rest to other tasks.
    pub quota: Option<usize>,
}

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
}

impl SweepOutcome {
    pub fn count(&self, status: Status) -> usize {
        self.ran.iter().filter(|s| s.status == status).count()
    }
}

/// Shared between the trial threads, the signal thread, the heartbeat thread and the pruner.
#[derive(Default)]
pub struct Control {
    pub stopping: AtomicBool,
    pub children: Arc<Children>,
    claims: Mutex<Vec<Arc<Claim>>>,
    /// Runs this worker trains, for early termination to look at.
    pub(crate) watched: Mutex<HashMap<String, Watched>>,
    /// Runs early termination asked to stop, with the decision that did.
    pub(crate) pruning: Mutex<HashMap<String, Decision>>,
    /// The first output-filesystem failure, which stopped the sweep.
    storage: Mutex<Option<StorageStop>>,
    /// The signal that stopped the sweep, in words, for the summaries of the runs it interrupted.
    pub stopped_by: Mutex<Option<String>>,
}

/// Why a sweep stopped on its output filesystem, for its last line.
#[derive(Debug, Clone, PartialEq)]
pub struct StorageStop {
    pub cause: Cause,
    /// The run whose write failed, or that did not fit.
    pub run_id: String,
    /// Bytes the next run needed, when the sweep stopped before starting it.
    pub needed: Option<u64>,
}

impl Control {
    /// Starts no new trials and asks the running ones to save their state and stop
    /// (SIGINT: they checkpoint and record `interrupted`). Returns false if already stopping.
    pub fn stop(&self) -> bool {
        let first = !self.stopping.swap(true, Ordering::SeqCst);
        if first {
            self.children.stop_all();
        }
        first
    }

    /// Stops the sweep because the output filesystem failed; the first cause is kept.
    fn stop_for_storage(&self, stop: StorageStop) {
        self.storage.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert(stop);
        self.stop();
    }

    /// Stops one run because early termination pruned it (it saves its state first).
    pub(crate) fn prune(&self, decision: Decision) {
        let id = decision.run.clone();
        self.pruning.lock().unwrap_or_else(|e| e.into_inner()).insert(id.clone(), decision);
        self.children.stop_one(&id);
    }

    fn storage_failed(&self) -> bool {
        self.storage.lock().unwrap_or_else(|e| e.into_inner()).is_some()
    }
}

/// Room kept free beyond a run's own need: claims, reports and logs of the other runs.
const SPACE_RESERVE: u64 = 256 << 10;

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
            let old: Option<RunConfig> = std::fs::read_to_string(dir.config()).ok().and_then(|t| serde_json::from_str(&t).ok());
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
fn same_results(old: &RunConfig, new: &RunConfig) -> bool {
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
    if plan.adaptive() {
        let misfits = proposals::misfits(plan, sweep_dir);
        anyhow::ensure!(misfits.is_empty(), "{}", misfits_message(&misfits, sweep_dir));
    }
    let known = known_runs(plan, sweep_dir);
    let Pending { pending, skipped, conflicts } = pending_runs(&known, sweep_dir, opts.rerun);
    anyhow::ensure!(conflicts.is_empty(), "{}", conflicts_message(&conflicts));
    for run in &known {
        let dir = RunDir::new(sweep_dir.join(&run.id));
        if dir.read_summary().is_some() && !pending.iter().any(|p| p.id == run.id) {
            // A worker killed between finishing a run and releasing it leaves its claim.
            if claim::read(&dir.path).is_some_and(|c| claim::stale_reason(&c, &claim::hostname()).is_some()) {
                let _ = std::fs::remove_file(dir.path.join("claim.json"));
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
    pending.sort_by(|a, b| {
        let cost = |r: &PlannedRun| opts.predicted_s.get(&r.id).copied().unwrap_or(0.0);
        cost(b).total_cmp(&cost(a))
    });
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
    std::thread::scope(|threads| {
        // The heartbeat and pruner threads end when this scope's work does, even by a panic.
        let _finish = SetOnDrop(&finished);
        threads.spawn(|| heartbeats(control, &finished, &show_eta));
        if let Some(es) = &plan.early_stop {
            threads.spawn(|| pruner::watch(es, sweep_dir, control, &finished));
        }
        let (done_tx, done_rx) = std::sync::mpsc::channel::<Vec<(PlannedRun, Attempt)>>();
        let mut running = 0;
        let mut exhausted = false;
        // Jobs that trained a run, against the quota; runs offered as orphans once it is met.
        let mut trained = 0;
        let mut orphans_tried = std::collections::HashSet::new();
        loop {
            while running < opts.jobs.max(1) && !exhausted && !control.stopping.load(Ordering::SeqCst) {
                let next = if opts.quota.is_some_and(|q| trained >= q) { Ok(orphan(plan, sweep_dir, opts.rerun, &mut orphans_tried)) } else { proposer.next() };
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
            let Ok(finished_job) = done_rx.recv() else { break };
            running -= 1;
            if finished_job.iter().any(|(_, a)| matches!(a, Attempt::Ran(_))) {
                trained += 1;
            }
            // A run finished elsewhere may let an adaptive method propose again.
            exhausted = exhausted && !plan.adaptive();
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
                            && let Err(e) = report::write_sweep_reports(sweep_dir)
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
    out.storage = control.storage.lock().unwrap_or_else(|e| e.into_inner()).clone();
    out.interrupted = control.stopping.load(Ordering::SeqCst);
    Ok(out)
}

/// A run no other worker will train, for a worker that trained its quota: one whose worker
/// died (its claim is stale) or, once no task of this worker's Slurm job array waits in the
/// queue, any run still to train (a task that died before claiming leaves one such).
fn orphan(plan: &Plan, sweep_dir: &Path, rerun: Rerun, tried: &mut std::collections::HashSet<String>) -> Option<PlannedRun> {
    let host = claim::hostname();
    let waiting = std::cell::OnceCell::new();
    let none_waiting = || {
        *waiting.get_or_init(|| {
            crate::exec::slurm::Task::from_env()
                .is_some_and(|me| crate::exec::slurm::command::squeue(&[me.array().to_string()]).is_ok_and(|q| q.iter().all(|t| t.state != "PENDING")))
        })
    };
    let run = known_runs(plan, sweep_dir).into_iter().find(|r| {
        let dir = RunDir::new(sweep_dir.join(&r.id));
        if tried.contains(&r.id) || !rerun.wants(dir.read_summary().map(|s| s.status)) {
            return false;
        }
        match claim::read(&dir.path) {
            Some(c) => claim::stale_reason(&c, &host).is_some(),
            None => !dir.path.join("claim.json").exists() && none_waiting(),
        }
    })?;
    tried.insert(run.id.clone());
    Some(run)
}

/// Sets the flag when dropped.
struct SetOnDrop<'a>(&'a AtomicBool);

impl Drop for SetOnDrop<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::SeqCst);
    }
}

enum Attempt {
    Ran(Box<Summary>),
    /// Another live worker holds the claim.
    Elsewhere,
    /// Another worker finished it in the meantime.
    AlreadyDone,
    /// Ctrl-C came before it started.
    NotStarted,
}

/// A run this worker holds the claim of, ready to train.
struct Admitted {
    dir: RunDir,
    claim: Arc<Claim>,
    /// Continued with --resume-pruned: never compared again.
    exempt: bool,
}

/// Trains a job: one run, or several of one shape packed into one trial process. Each run
/// is admitted on its own (claim, disk, already finished); a failed member is retried alone.
#[allow(clippy::too_many_arguments)]
fn run_job(
    job: &[PlannedRun],
    sweep_dir: &Path,
    tokenizer_json: &str,
    runner: &dyn TrialRunner,
    control: &Control,
    opts: &Options,
    bar: &ProgressBar,
    eta: &Eta,
) -> Vec<Attempt> {
    let mut results: Vec<Option<Attempt>> = job.iter().map(|_| None).collect();
    let mut admitted: Vec<(usize, Admitted)> = Vec::new();
    for (i, run) in job.iter().enumerate() {
        match admit(run, sweep_dir, tokenizer_json, control, opts, bar) {
            Ok(a) => admitted.push((i, a)),
            Err(attempt) => results[i] = Some(attempt),
        }
    }
    // Packed: the first attempt of every member in one process.
    let mut first: HashMap<usize, Summary> = HashMap::new();
    if admitted.len() > 1 {
        let mut ready = Vec::new();
        for (i, a) in &admitted {
            let run = &job[*i];
            eta.started(&run.id);
            control.watched.lock().unwrap_or_else(|e| e.into_inner()).insert(run.id.clone(), Watched::new(&run.config, a.exempt));
            match prepare(run, &a.dir, tokenizer_json) {
                Ok(()) => ready.push((*i, (run, &a.dir))),
                Err(e) => {
                    first.insert(*i, prepare_failed(run, &e));
                }
            }
        }
        let members: Vec<(&PlannedRun, &RunDir)> = ready.iter().map(|(_, m)| *m).collect();
        for ((i, _), summary) in ready.iter().zip(runner.run_pack(&members)) {
            // A pack whose process crashed or was killed: any member may have caused it, so
            // each trains on alone from its last checkpoint (not counted as an attempt).
            if runner::died_without_summary(&summary) && !control.stopping.load(Ordering::SeqCst) {
                let line = summary.error.as_deref().and_then(|e| e.lines().next()).unwrap_or_default().to_string();
                bar.suspend(|| println!("{}: its pack's {line}; training it alone", job[*i].id));
                continue;
            }
            first.insert(*i, summary);
        }
    }
    for (i, a) in admitted {
        let run = &job[i];
        if !first.contains_key(&i) {
            eta.started(&run.id);
        }
        results[i] = Some(attempts(run, a, first.remove(&i), tokenizer_json, runner, control, opts, bar));
    }
    results.into_iter().map(|r| r.unwrap_or(Attempt::NotStarted)).collect()
}

/// Readies a run for training: room on the disk, its folder, its claim; or why it is not
/// trained now (stopping, claimed elsewhere, already finished, pruned before a crash).
fn admit(run: &PlannedRun, sweep_dir: &Path, tokenizer_json: &str, control: &Control, opts: &Options, bar: &ProgressBar) -> Result<Admitted, Attempt> {
    if control.stopping.load(Ordering::SeqCst) {
        return Err(Attempt::NotStarted);
    }
    let dir = RunDir::new(sweep_dir.join(&run.id));
    // A filesystem failure before the trial starts stops the sweep; the run stays pending.
    let storage = |e: &dyn std::fmt::Display| {
        let cause = disk::classify(&e.to_string())?;
        control.stop_for_storage(StorageStop { cause, run_id: run.id.clone(), needed: None });
        Some(Attempt::NotStarted)
    };
    // A resumed run already holds its training state: only the rest is needed.
    let present = std::fs::metadata(dir.resume_state()).map_or(0, |m| m.len());
    let needed = disk::run_bytes(&run.config, opts.vocab_size, tokenizer_json.len() as u64).peak.saturating_sub(present);
    // A model too large for this machine's memory is left to fail in its trial with the
    // out-of-memory hint: that, not the disk, is what stops it.
    if let Some((free, _)) = disk::space(sweep_dir)
        && free < needed + SPACE_RESERVE
        && disk::memory_bytes().is_none_or(|memory| needed < memory)
    {
        control.stop_for_storage(StorageStop { cause: Cause::NoSpace, run_id: run.id.clone(), needed: Some(needed) });
        return Err(Attempt::NotStarted);
    }
    if let Err(e) = std::fs::create_dir_all(&dir.path) {
        return Err(storage(&e).unwrap_or_else(|| {
            Attempt::Ran(Box::new(Summary::failed(&run.id, run.params.clone(), 0.0, format!("cannot create run folder {}: {e}", dir.path.display()))))
        }));
    }
    // A claim left by a Slurm task that has ended: Slurm's verdict goes into the run's summary first.
    if let Some(settled) = crate::exec::slurm::settle::settle_run(run, sweep_dir) {
        bar.suspend(|| println!("{}", settled.line()));
    }
    let claim = match claim::try_claim(&dir.path, &mut |why| bar.suspend(|| println!("taking over {}: {why}", run.id))) {
        Ok(Some(c)) => Arc::new(c),
        Ok(None) => return Err(Attempt::Elsewhere),
        Err(e) => {
            return Err(storage(&format!("{e:#}")).unwrap_or_else(|| {
                Attempt::Ran(Box::new(Summary::failed(&run.id, run.params.clone(), 0.0, format!("cannot claim {}: {e}", dir.path.display()))))
            }));
        }
    };
    // Another worker may have finished it between planning and claiming.
    let before = dir.read_summary();
    let status_before = before.as_ref().map(|s| s.status);
    if status_before.is_some() && !opts.rerun.wants(status_before) {
        release(control, claim);
        return Err(Attempt::AlreadyDone);
    }
    control.claims.lock().unwrap_or_else(|e| e.into_inner()).push(claim.clone());
    // A pruned run the user chose to continue is trained to the end, even across later
    // interruptions: the log remembers the choice.
    let exempt = match status_before {
        Some(Status::Pruned) => {
            let step = before.as_ref().and_then(|s| s.pruned.as_ref()).map_or(0, |p| p.at_step);
            let note = Decision {
                run: run.id.clone(),
                step,
                val_loss: None,
                verdict: Verdict::Resume,
                rule: "continued with --resume-pruned: trained to the end, not compared again".into(),
                cutoff: None,
                compared_with: Vec::new(),
            };
            if let Err(e) = prune_log::append(sweep_dir, &note) {
                bar.suspend(|| eprintln!("warning: {e:#}"));
            }
            true
        }
        _ => opts.early_stop && prune_log::resumed(sweep_dir).contains(&run.id),
    };
    // Pruned before a crash, after its last row and before its summary said so: it stays pruned.
    if !exempt
        && opts.early_stop
        && let Some(last) = loss_csv::read_complete(&dir.loss_csv()).last()
        && let Some(decision) = prune_log::pruned_by(sweep_dir, &run.id, last.step)
    {
        let mut s = before.filter(|s| s.status == Status::Interrupted).unwrap_or_else(|| Summary::failed(&run.id, run.params.clone(), 0.0, String::new()));
        s.steps = s.steps.or(Some(last.step));
        mark_pruned(&mut s, decision, run, &dir);
        let _ = dir.write_summary(&s);
        release(control, claim);
        return Err(Attempt::Ran(Box::new(s)));
    }
    Ok(Admitted { dir, claim, exempt })
}

fn prepare_failed(run: &PlannedRun, e: &anyhow::Error) -> Summary {
    match disk::classify(&format!("{e:#}")) {
        Some(cause) => Summary::storage_interrupted(&run.id, run.params.clone(), 0.0, cause, &format!("{e:#}")),
        None => Summary::failed(&run.id, run.params.clone(), 0.0, format!("{e:#}")),
    }
}

/// Trains an admitted run with retries (the first attempt's summary is `first` when a pack
/// made it), records the result, and releases the claim.
#[allow(clippy::too_many_arguments)]
fn attempts(
    run: &PlannedRun,
    admitted: Admitted,
    mut first: Option<Summary>,
    tokenizer_json: &str,
    runner: &dyn TrialRunner,
    control: &Control,
    opts: &Options,
    bar: &ProgressBar,
) -> Attempt {
    let Admitted { dir, claim, exempt } = admitted;
    let mut attempts = 0;
    let summary = loop {
        attempts += 1;
        let mut summary = match first.take() {
            Some(summary) => summary,
            None => {
                // Registered anew for every attempt, so a retry meets the decisions made before.
                control.watched.lock().unwrap_or_else(|e| e.into_inner()).insert(run.id.clone(), Watched::new(&run.config, exempt));
                match prepare(run, &dir, tokenizer_json) {
                    Ok(()) => runner.run(run, &dir),
                    Err(e) => prepare_failed(run, &e),
                }
            }
        };
        summary.attempts = attempts;
        // No longer looked at before its decision is read: none can come in between.
        control.watched.lock().unwrap_or_else(|e| e.into_inner()).remove(&run.id);
        let decision = control.pruning.lock().unwrap_or_else(|e| e.into_inner()).remove(&run.id);
        if let Some(decision) = decision
            && summary.status == Status::Interrupted
            && summary.storage.is_none()
        {
            mark_pruned(&mut summary, decision, run, &dir);
        }
        control.children.forget(&run.id);
        if let Some(mut task) = crate::exec::slurm::Task::from_env() {
            if summary.status == Status::Interrupted && summary.storage.is_none() {
                task.state = Some("SIGNALLED".into());
                task.reason = control.stopped_by.lock().unwrap_or_else(|e| e.into_inner()).clone();
            }
            summary.slurm = Some(task);
        }
        let _ = dir.write_summary(&summary);
        if let Some(cause) = summary.storage {
            dir.remove_temporary_files();
            control.stop_for_storage(StorageStop { cause, run_id: run.id.clone(), needed: None });
        }
        if summary.status != Status::Failed || attempts > opts.max_retries || control.stopping.load(Ordering::SeqCst) {
            break summary;
        }
        bar.suspend(|| {
            println!(
                "{} failed ({}); retrying, attempt {} of {}",
                run.id,
                summary.error.as_deref().and_then(|e| e.lines().next()).unwrap_or("?"),
                attempts + 1,
                opts.max_retries + 1
            )
        });
    };
    release(control, claim);
    Attempt::Ran(Box::new(summary))
}

/// Records a run stopped by early termination as pruned: its summary (written by the
/// caller), a last line in train.log, and a loss.png whose title says where it stopped.
fn mark_pruned(summary: &mut Summary, decision: Decision, run: &PlannedRun, dir: &RunDir) {
    let (at_step, max_iters) = (decision.step, run.config.train.max_iters);
    let line =
        format!("run pruned by early termination at step {at_step}: {}; `sweep run SPEC --resume-pruned` continues it from its saved state\n", decision.rule);
    summary.status = Status::Pruned;
    summary.error = None;
    summary.pruned = Some(Pruned { at_step, max_iters, rule: decision.rule });
    let _ = std::fs::OpenOptions::new().append(true).open(dir.log()).and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
    let title = format!("{} (pruned at step {at_step} of {max_iters})", run.id);
    let _ = report::plot::write_loss_png(dir, &title, &loss_csv::read_complete(&dir.loss_csv()), None);
}

fn release(control: &Control, claim: Arc<Claim>) {
    control.claims.lock().unwrap_or_else(|e| e.into_inner()).retain(|c| !Arc::ptr_eq(c, &claim));
    if let Ok(claim) = Arc::try_unwrap(claim) {
        claim.release();
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
            let claims: Vec<Arc<Claim>> = control.claims.lock().unwrap_or_else(|e| e.into_inner()).clone();
            for c in claims {
                if let Err(e) = c.heartbeat() {
                    eprintln!("warning: cannot refresh a claim heartbeat: {e}");
                }
            }
        }
    }
}

/// Handles SIGINT, SIGTERM and SIGUSR1 (Slurm's warning before the time limit) for the
/// sweep: the first stops new trials and forwards SIGINT to running ones (they checkpoint
/// and stop); the second kills them and exits.
pub fn handle_signals(control: Arc<Control>) -> anyhow::Result<signal_hook::iterator::Handle> {
    use nix::sys::signal::{Signal, kill};
    use nix::unistd::Pid;
    use signal_hook::consts::{SIGINT, SIGTERM, SIGUSR1};
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM, SIGUSR1])?;
    let handle = signals.handle();
    std::thread::spawn(move || {
        // Counted here, not by `stopping`: a sweep already stopping for a full disk still
        // lets its trials save on the user's first Ctrl-C.
        let mut first: Option<i32> = None;
        for signal in signals.forever() {
            let running = control.children.pids().len();
            let why = match signal {
                SIGUSR1 => "stopped by SIGUSR1: the Slurm time limit was near (--signal)",
                SIGTERM => "stopped by SIGTERM (scancel, preemption or a shutdown)",
                _ => "stopped by SIGINT (Ctrl-C)",
            };
            control.stopped_by.lock().unwrap_or_else(|e| e.into_inner()).get_or_insert_with(|| why.to_string());
            // Slurm signals every process of a job and its batch shell passes signals on too:
            // a TERM or USR1 after a TERM or USR1 is the same request, not a second Ctrl-C.
            let repeat = first.is_some_and(|f| f != SIGINT) && signal != SIGINT;
            if repeat {
                continue;
            }
            let is_first = first.is_none();
            first.get_or_insert(signal);
            if is_first {
                control.stop();
                let again = if signal == SIGINT { " (Ctrl-C again to stop at once)" } else { "" };
                eprintln!("\nstopping ({why}): no new runs; {running} running run(s) save their state and stop{again}");
            } else {
                for pid in control.children.pids() {
                    let _ = kill(Pid::from_raw(pid as i32), Signal::SIGKILL);
                }
                eprintln!("stopped at once; runs resume from their last checkpoint on the next `sweep run`");
                std::process::exit(130);
            }
        }
    });
    Ok(handle)
}

/// Makes the run folder ready for a (re)start: config.json and tokenizer.json; an old
/// summary goes (the trial decides whether to resume or start over).
fn prepare(run: &PlannedRun, dir: &RunDir, tokenizer_json: &str) -> anyhow::Result<()> {
    match std::fs::remove_file(dir.summary()) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => return Err(e).with_context(|| format!("removing {}", dir.summary().display())),
        _ => {}
    }
    write_json(&dir.config(), &run.config)?;
    write_atomic(&dir.tokenizer(), tokenizer_json.as_bytes())
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::runner::fake::FakeRunner;

    fn plan(grid: &str) -> Plan {
        let text = format!("name: s\ndata:\n  path: d.txt\nsettings:\n  max_iters: 10\ngrid:\n{grid}");
        Plan::from_spec_text(&text).unwrap()
    }

    fn opts() -> Options {
        Options { jobs: 2, ..Default::default() }
    }

    #[test]
    fn runs_everything_then_skips_done_and_runs_only_new() {
        let dir = tempfile::tempdir().unwrap();
        let p = plan("  lr: [0.001, 0.01]\n  dropout: [0.0, 0.1]\n");
        let runner = FakeRunner::new(&["lr1e-2_do0"]);
        let out = run_sweep(&p, dir.path(), "{}", &runner, &Control::default(), opts()).unwrap();
        assert_eq!((out.count(Status::Done), out.count(Status::Failed), out.skipped), (3, 1, 0));
        assert!(dir.path().join("report.md").exists() && dir.path().join("report.csv").exists());
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
