//! `sweep status [SWEEP_DIR]` (every run's state; a Slurm sweep's array tasks from squeue,
//! and sacct when the cluster keeps accounting) and `sweep cancel SWEEP_DIR` (scancel of its
//! job arrays, leaving every run resumable).

use crate::args::{CancelArgs, StatusArgs};
use crate::exit_code;
use crate::report::latest_sweep;
use std::path::Path;
use std::time::{Duration, Instant};
use sweep::exec::scheduler::known_runs;
use sweep::exec::slurm::{command, jobs, settle};
use sweep::report::status;

pub fn status(a: StatusArgs) -> anyhow::Result<u8> {
    let dir = match a.sweep_dir {
        Some(d) => d,
        None => latest_sweep(Path::new("runs"))?,
    };
    let submitted = jobs::read(&dir);
    if !submitted.is_empty() {
        settle_and_say(&dir)?;
    }
    print_runs(&dir, a.all)?;
    if !submitted.is_empty() {
        print_jobs(&submitted)?;
    }
    Ok(exit_code::OK)
}

/// Records Slurm's reason in the summaries of runs whose task ended without finishing them.
fn settle_and_say(dir: &Path) -> anyhow::Result<()> {
    let plan = status::plan_of(dir)?;
    for s in settle::settle(&known_runs(&plan, dir), dir) {
        println!("{}", s.line());
    }
    Ok(())
}

/// Pending runs listed one by one up to this many (all with --all).
const PENDING_LISTED: usize = 8;

fn print_runs(dir: &Path, all: bool) -> anyhow::Result<()> {
    let state = status::read(dir)?;
    println!("{}: sweep {}, {}", dir.display(), state.name, state.counts());
    // What needs an eye first: running, orphaned, stopped and failed runs; then finished; then pending.
    let mut runs: Vec<&status::RunState> = state.runs.iter().collect();
    runs.sort_by_key(|r| r.rank());
    let pending = runs.iter().filter(|r| matches!(r.state, status::State::Pending)).count();
    let hidden = if all || pending <= PENDING_LISTED { 0 } else { pending };
    let width = runs.iter().map(|r| r.id.len()).max().unwrap_or(3).max(3);
    println!("{:<width$}  {:<12} detail", "run", "state");
    for r in runs.iter().take(runs.len() - hidden) {
        let line = format!("{:<width$}  {:<12} {}", r.id, r.label(), r.detail());
        println!("{}", line.trim_end());
    }
    if hidden > 0 {
        println!("… and {hidden} pending runs (`sweep status --all` lists them)");
    }
    Ok(())
}

/// Each job array's tasks from squeue (and sacct, when the cluster keeps accounting).
fn print_jobs(submitted: &[jobs::Job]) -> anyhow::Result<()> {
    let ids: Vec<String> = submitted.iter().map(|j| j.job_id.clone()).collect();
    let queued = command::squeue(&ids)?;
    let accounting = command::accounting();
    for job in submitted {
        let mine: Vec<&command::Queued> = queued.iter().filter(|q| q.job() == job.job_id).collect();
        let (running, pending) = (command::count_in(&mine, &["RUNNING", "COMPLETING"]), command::count_in(&mine, &["PENDING"]));
        let why: Vec<&str> = mine.iter().filter(|q| q.state == "PENDING").map(|q| q.reason.as_str()).collect();
        let nodes: std::collections::BTreeSet<&str> = mine.iter().filter(|q| !q.node.is_empty()).map(|q| q.node.as_str()).collect();
        let mut parts = Vec::new();
        if running > 0 {
            parts.push(format!("{running} running on {}", nodes.into_iter().collect::<Vec<_>>().join(",")));
        }
        if pending > 0 {
            parts.push(format!("{pending} pending ({})", why.first().copied().unwrap_or("queued")));
        }
        let gone = job.tasks.saturating_sub(running + pending);
        if gone > 0 {
            parts.push(format!("{gone} ended"));
        }
        println!("slurm job {}: {} task(s), {} at a time: {}", job.job_id, job.tasks, job.max_parallel, parts.join(", "));
        if accounting.is_ok()
            && let Ok(states) = command::sacct_states(&job.job_id)
        {
            let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
            for (_, s) in &states {
                *counts.entry(s.as_str()).or_default() += 1;
            }
            println!("  sacct: {}", counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", "));
        }
    }
    if let Err(why) = accounting {
        println!(
            "slurm: no job accounting here (sacct: {why}); ended tasks are known from the run folders, and from scontrol for a few minutes after they end"
        );
    }
    Ok(())
}

pub fn cancel(a: CancelArgs) -> anyhow::Result<u8> {
    let dir = a.sweep_dir;
    let submitted = jobs::read(&dir);
    if submitted.is_empty() {
        eprintln!(
            "sweep: error: {} has no Slurm jobs ({} is missing): `sweep cancel` stops sweeps submitted with --backend slurm; stop a local `sweep run` with Ctrl-C",
            dir.display(),
            jobs::path(&dir).display()
        );
        return Ok(exit_code::USAGE);
    }
    let ids: Vec<String> = submitted.iter().map(|j| j.job_id.clone()).collect();
    let queued = command::squeue(&ids)?;
    let live: Vec<String> = ids.iter().filter(|id| queued.iter().any(|q| q.job() == id.as_str())).cloned().collect();
    if live.is_empty() {
        println!("nothing to cancel: Slurm job(s) {} of {} have ended", ids.join(", "), dir.display());
    } else {
        let all: Vec<&command::Queued> = queued.iter().collect();
        command::scancel(&live)?;
        println!(
            "cancelled Slurm job(s) {}: {} running task(s) save their runs' state and stop, {} pending task(s) will not start",
            live.join(", "),
            command::count_in(&all, &["RUNNING", "COMPLETING"]),
            command::count_in(&all, &["PENDING"])
        );
        // Running tasks get SIGTERM, then SIGKILL after the cluster's KillWait.
        let start = Instant::now();
        while !command::squeue(&live)?.is_empty() {
            if start.elapsed() > Duration::from_secs(180) {
                println!(
                    "warning: tasks of job(s) {} are still in the queue after 3 minutes; `sweep status {}` shows when they are gone",
                    live.join(", "),
                    dir.display()
                );
                break;
            }
            std::thread::sleep(Duration::from_millis(500));
        }
    }
    settle_and_say(&dir)?;
    let state = status::read(&dir)?;
    println!("{}: {}", dir.display(), state.counts());
    if let Some(last) = submitted.last().filter(|j| !j.command.is_empty()) {
        println!("to resume, run the same command again; it submits only what is not done:\n  {}", last.command);
    }
    Ok(exit_code::OK)
}
