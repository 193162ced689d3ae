//! The job of one run, or of a pack of same-shape runs trained in one process: admission
//! (room on the disk, the run's folder and claim, already finished elsewhere, pruned before
//! a crash), the run folder made ready (config.json, tokenizer.json), the trial with
//! retries, the pruned or Slurm-signalled outcome recorded in summary.json, and the claim
//! released. A failed pack member is trained again alone.

use crate::exec::claim::{self, Claim};
use crate::exec::control::{Control, StorageStop, Watched, lock};
use crate::exec::eta::Eta;

use crate::exec::options::Options;
use crate::exec::rung_watch;
use crate::exec::runner::{self, TrialRunner};
use crate::exec::slurm;
use crate::output::disk::{self, Cause};
use crate::output::run_dir::{RunDir, write_atomic, write_json};
use crate::output::summary::{Status, Summary};
use crate::output::worker::Task;
use crate::plan::PlannedRun;
use anyhow::Context;
use indicatif::ProgressBar;
use std::collections::HashMap;
use std::path::Path;
use std::sync::Arc;

/// Room kept free beyond a run's own need: claims, reports and logs of the other runs.
const SPACE_RESERVE: u64 = 256 << 10;

/// What became of one run of a job.
pub(crate) enum Attempt {
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
pub(crate) fn run_job(
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
            lock(&control.watched).insert(run.id.clone(), Watched::new(&run.config, a.exempt));
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
            if runner::died_without_summary(&summary) && !control.is_stopping() {
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
    if control.is_stopping() {
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
    if let Some(settled) = slurm::settle::settle_run(run, sweep_dir) {
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
        control.release(claim);
        return Err(Attempt::AlreadyDone);
    }
    control.hold(claim.clone());
    // A pruned run the user chose to continue is trained to the end, even across later
    // interruptions: the log remembers the choice.
    let exempt = rung_watch::exempt(run, before.as_ref(), sweep_dir, opts.early_stop, &|line| bar.suspend(|| eprintln!("{line}")));
    if !exempt
        && opts.early_stop
        && let Some(s) = rung_watch::pruned_before_crash(run, &dir, before, sweep_dir, &opts.hooks)
    {
        let _ = dir.write_summary(&s);
        control.release(claim);
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
                lock(&control.watched).insert(run.id.clone(), Watched::new(&run.config, exempt));
                match prepare(run, &dir, tokenizer_json) {
                    Ok(()) => runner.run(run, &dir),
                    Err(e) => prepare_failed(run, &e),
                }
            }
        };
        summary.attempts = attempts;
        // No longer looked at before its decision is read: none can come in between.
        lock(&control.watched).remove(&run.id);
        let decision = lock(&control.pruning).remove(&run.id);
        if let Some(decision) = decision
            && summary.status == Status::Interrupted
            && summary.storage.is_none()
        {
            rung_watch::mark_pruned(&mut summary, decision, run, &dir, &opts.hooks);
        }
        control.children.forget(&run.id);
        if let Some(mut task) = Task::from_env() {
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
        if summary.status != Status::Failed || attempts > opts.max_retries || control.is_stopping() {
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
    control.release(claim);
    Attempt::Ran(Box::new(summary))
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
