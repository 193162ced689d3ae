//! What every run of a sweep folder is doing now, for `sweep status`: pending, running
//! (where, at which step, in which Slurm task), held by a worker that is gone, or how it
//! ended. Read from the run folders and their claims only, so it serves local and Slurm
//! sweeps alike.

use crate::exec::claim::{self, ClaimFile};
use crate::exec::pending::known_runs;
use crate::exec::slurm::{command, jobs, settle};
use crate::output::run_dir::RunDir;
use crate::output::summary::Summary;
use crate::plan::spec::{Places, Spec};
use crate::plan::{Plan, PlannedRun};
use std::fmt::Write;
use std::path::Path;

/// The state of one run.
#[derive(Debug, Clone)]
pub enum State {
    /// No worker has it and it has not ended: the next worker trains it.
    Pending,
    /// A live worker holds it; the last step its train.log shows.
    Running { claim: ClaimFile, step: Option<u64> },
    /// Its claim's owner is gone (why); the next worker takes it over.
    Orphaned { claim: ClaimFile, why: String, step: Option<u64> },
    /// It ended: done, failed, diverged, interrupted or pruned.
    Ended(Box<Summary>),
}

#[derive(Debug, Clone)]
pub struct RunState {
    pub id: String,
    pub max_iters: u64,
    pub state: State,
    /// The GPU a running trial was placed on (its gpu.json).
    pub gpu: Option<crate::output::summary::GpuUse>,
}

/// A sweep folder's runs and their states; `more` counts runs a search method has still to
/// propose (TPE proposes as runs finish).
pub struct SweepState {
    pub name: String,
    pub runs: Vec<RunState>,
    pub more: usize,
}

/// The plan a sweep folder was run with, from its sweep.json.
pub fn plan_of(sweep_dir: &Path) -> anyhow::Result<Plan> {
    let spec = Spec::saved(sweep_dir)?;
    let path = Spec::saved_path(sweep_dir);
    let (plan, problems) = Plan::build(&spec, &Places::default());
    if let Some(p) = problems.first() {
        anyhow::bail!("the spec saved in {} no longer plans: {}", path.display(), p.message);
    }
    Ok(plan)
}

pub fn read(sweep_dir: &Path) -> anyhow::Result<SweepState> {
    let plan = plan_of(sweep_dir)?;
    let known = known_runs(&plan, sweep_dir);
    let host = crate::output::worker::hostname();
    let runs: Vec<RunState> = known.iter().map(|r| state_of(r, sweep_dir, &host)).collect();
    let more = if plan.adaptive() { plan.n_runs.saturating_sub(known.len()) } else { 0 };
    Ok(SweepState { name: plan.name.clone(), runs, more })
}

fn state_of(run: &PlannedRun, sweep_dir: &Path, host: &str) -> RunState {
    let dir = RunDir::new(sweep_dir.join(&run.id));
    let max_iters = run.config.train.max_iters;
    let summary = dir.read_summary();
    // A summary written after the claim was taken is this training's; an older one is what a
    // retried or resumed run ended with before.
    let written_unix = |c: &ClaimFile| {
        std::fs::metadata(dir.summary())
            .and_then(|m| m.modified())
            .ok()
            .and_then(|t| t.duration_since(std::time::UNIX_EPOCH).ok())
            .is_some_and(|d| d.as_secs() >= c.started_unix)
    };
    let finished = |s: &Summary| s.status != crate::Status::Interrupted;
    let state = match (claim::read(&dir.path), summary) {
        // A finished run's leftover claim: the next `sweep run` removes it.
        (Some(c), Some(s)) if finished(&s) && claim::stale_reason(&c, host).is_some() => State::Ended(Box::new(s)),
        (Some(c), summary) => match claim::stale_reason(&c, host) {
            Some(why) => Orphaned { step: last_step(&dir), claim: c, why },
            // Its worker wrote the summary and is about to release the claim.
            None if summary.as_ref().is_some_and(|s| finished(s) && written_unix(&c)) => Running { claim: c, step: Some(max_iters) },
            None => Running { step: last_step(&dir), claim: c },
        },
        (None, Some(s)) => State::Ended(Box::new(s)),
        (None, None) => State::Pending,
    };
    let gpu = matches!(state, Running { .. }).then(|| std::fs::read(dir.gpu()).ok().and_then(|b| serde_json::from_slice(&b).ok())).flatten();
    RunState { id: run.id.clone(), max_iters, state, gpu }
}

use State::{Orphaned, Running};

/// The last step train.log reports ("iter 120: …" or "step 100: …").
fn last_step(dir: &RunDir) -> Option<u64> {
    dir.log_tail(40).lines().rev().find_map(|l| {
        let rest = l.trim_start().strip_prefix("iter ").or_else(|| l.trim_start().strip_prefix("step "))?;
        rest.split(':').next()?.trim().parse().ok()
    })
}

impl RunState {
    /// Sort key: running, orphaned, interrupted, failed, diverged, pruned, done, pending.
    pub fn rank(&self) -> u8 {
        match &self.state {
            Running { .. } => 0,
            Orphaned { .. } => 1,
            State::Ended(s) => match s.status {
                crate::Status::Interrupted => 2,
                crate::Status::Failed => 3,
                crate::Status::Diverged => 4,
                crate::Status::Pruned => 5,
                crate::Status::Done => 6,
            },
            State::Pending => 7,
        }
    }

    /// pending, running, orphaned, or the ended status (pruned@100 with its step).
    pub fn label(&self) -> String {
        match &self.state {
            State::Pending => "pending".into(),
            Running { .. } => "running".into(),
            Orphaned { .. } => "orphaned".into(),
            State::Ended(s) => s.status_text(),
        }
    }

    /// Where and how far, or how it ended, in a few words.
    pub fn detail(&self) -> String {
        let at = |step: &Option<u64>| step.map_or("starting".to_string(), |s| format!("step {s} of {}", self.max_iters));
        let owner = |c: &ClaimFile| match &c.slurm {
            Some(t) => format!("{} (pid {})", t.describe(), c.pid),
            None => format!("{} pid {}", c.host, c.pid),
        };
        match &self.state {
            State::Pending => String::new(),
            Running { claim, step } => {
                let gpu = self.gpu.as_ref().map(|g| format!(", GPU {} ({})", g.index, g.name)).unwrap_or_default();
                format!("{} on {}{gpu}", at(step), owner(claim))
            }
            Orphaned { claim, why, step } => format!("{} when {} stopped: {why}; the next worker takes it over", at(step), owner(claim)),
            State::Ended(s) => {
                let numbers = match (s.best_val_loss, s.best_step) {
                    (Some(b), Some(step)) => format!("best val {b:.4} @ {step}"),
                    _ => String::new(),
                };
                let error = s.error.as_deref().and_then(|e| e.lines().next()).unwrap_or_default();
                let task = s.slurm.as_ref().filter(|_| error.is_empty()).map(|t| format!("({})", t.describe())).unwrap_or_default();
                [numbers.as_str(), error, task.as_str()].iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join("  ")
            }
        }
    }
}

impl SweepState {
    /// "12 runs: 5 done, 2 running, 4 pending, 1 interrupted"
    pub fn counts(&self) -> String {
        let mut counts: Vec<(String, usize)> = Vec::new();
        for r in &self.runs {
            let label = match &r.state {
                State::Ended(s) => s.status.as_str().to_string(),
                _ => r.label(),
            };
            match counts.iter_mut().find(|(l, _)| *l == label) {
                Some((_, n)) => *n += 1,
                None => counts.push((label, 1)),
            }
        }
        counts.sort_by_key(|(l, _)| ["done", "running", "pending", "orphaned", "interrupted", "pruned", "failed", "diverged"].iter().position(|x| x == l));
        let mut parts: Vec<String> = counts.into_iter().map(|(l, n)| format!("{n} {l}")).collect();
        if self.more > 0 {
            parts.push(format!("{} still to propose", self.more));
        }
        let n = self.runs.len() + self.more;
        format!("{n} run{}: {}", if n == 1 { "" } else { "s" }, parts.join(", "))
    }
}

/// `sweep status`'s text: runs settled first where their Slurm task ended, every run's state,
/// and for a Slurm sweep its job arrays' tasks.
pub fn status_text(dir: &Path, all: bool) -> anyhow::Result<String> {
    let submitted = jobs::read(dir);
    let mut out = String::new();
    if !submitted.is_empty() {
        out.push_str(&settle_text(dir)?);
    }
    out.push_str(&runs_text(dir, all)?);
    if !submitted.is_empty() {
        out.push_str(&jobs_text(&submitted)?);
    }
    Ok(out)
}

/// Records Slurm's reason in the summaries of runs whose task ended without finishing them.
pub fn settle_text(dir: &Path) -> anyhow::Result<String> {
    let mut out = String::new();
    let plan = plan_of(dir)?;
    for s in settle::settle(&known_runs(&plan, dir), dir) {
        let _ = writeln!(out, "{}", s.line());
    }
    Ok(out)
}

/// Pending runs listed one by one up to this many (all with --all).
const PENDING_LISTED: usize = 8;

pub fn runs_text(dir: &Path, all: bool) -> anyhow::Result<String> {
    let mut out = String::new();
    let state = read(dir)?;
    let _ = writeln!(out, "{}: sweep {}, {}", dir.display(), state.name, state.counts());
    // What needs an eye first: running, orphaned, stopped and failed runs; then finished; then pending.
    let mut runs: Vec<&RunState> = state.runs.iter().collect();
    runs.sort_by_key(|r| r.rank());
    let pending = runs.iter().filter(|r| matches!(r.state, State::Pending)).count();
    let hidden = if all || pending <= PENDING_LISTED { 0 } else { pending };
    let width = runs.iter().map(|r| r.id.len()).max().unwrap_or(3).max(3);
    let _ = writeln!(out, "{:<width$}  {:<12} detail", "run", "state");
    for r in runs.iter().take(runs.len() - hidden) {
        let line = format!("{:<width$}  {:<12} {}", r.id, r.label(), r.detail());
        let _ = writeln!(out, "{}", line.trim_end());
    }
    if hidden > 0 {
        let _ = writeln!(out, "… and {hidden} pending runs (`sweep status --all` lists them)");
    }
    out.push_str(&gpus_text(&state.runs, &crate::exec::gpu::inventory::machine()));
    Ok(out)
}

/// One line per GPU that running trials are placed on: its trials, their estimated memory,
/// and the memory nvidia-smi says is in use now.
fn gpus_text(runs: &[RunState], machine: &[crate::exec::gpu::inventory::Gpu]) -> String {
    let mut by_gpu: std::collections::BTreeMap<usize, (String, Vec<&str>, u64)> = Default::default();
    for r in runs {
        if let Some(g) = &r.gpu {
            let e = by_gpu.entry(g.index).or_insert_with(|| (g.name.clone(), Vec::new(), 0));
            e.1.push(&r.id);
            e.2 += g.estimate_bytes.unwrap_or(0);
        }
    }
    let mut out = String::new();
    for (index, (name, ids, estimate)) in by_gpu {
        let now = machine
            .iter()
            .find(|g| g.index == index)
            .map(|g| format!("; {:.1} of {:.1} GB in use now", (g.total_bytes - g.free_bytes) as f64 / 1e9, g.total_bytes as f64 / 1e9))
            .unwrap_or_default();
        let _ = writeln!(out, "GPU {index} ({name}): {} trial(s) ({}), estimated {:.1} GB{now}", ids.len(), ids.join(", "), estimate as f64 / 1e9);
    }
    out
}

/// Each job array's tasks from squeue (and sacct, when the cluster keeps accounting).
pub fn jobs_text(submitted: &[jobs::Job]) -> anyhow::Result<String> {
    let mut out = String::new();
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
        let _ = writeln!(out, "slurm job {}: {} task(s), {} at a time: {}", job.job_id, job.tasks, job.max_parallel, parts.join(", "));
        if accounting.is_ok()
            && let Ok(states) = command::sacct_states(&job.job_id)
        {
            let mut counts: std::collections::BTreeMap<&str, usize> = Default::default();
            for (_, s) in &states {
                *counts.entry(s.as_str()).or_default() += 1;
            }
            let _ = writeln!(out, "  sacct: {}", counts.iter().map(|(s, n)| format!("{n} {s}")).collect::<Vec<_>>().join(", "));
        }
    }
    if let Err(why) = accounting {
        let _ = writeln!(
            out,
            "slurm: no job accounting here (sacct: {why}); ended tasks are known from the run folders, and from scontrol for a few minutes after they end"
        );
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::gpu::inventory::Gpu;
    use crate::output::summary::GpuUse;

    #[test]
    fn running_trials_are_listed_under_their_gpu_with_the_memory_in_use() {
        let on = |id: &str, index: usize, gb: u64| RunState {
            id: id.into(),
            max_iters: 100,
            state: State::Pending,
            gpu: Some(GpuUse { index, name: format!("Fake {index}"), estimate_bytes: Some(gb * 1_000_000_000), ..Default::default() }),
        };
        let runs = [on("a", 0, 2), on("b", 1, 3), on("c", 0, 4)];
        let machine = [Gpu { index: 0, uuid: "GPU-0".into(), name: "Fake 0".into(), total_bytes: 16_000_000_000, free_bytes: 10_000_000_000 }];
        let text = gpus_text(&runs, &machine);
        assert_eq!(text, "GPU 0 (Fake 0): 2 trial(s) (a, c), estimated 6.0 GB; 6.0 of 16.0 GB in use now\nGPU 1 (Fake 1): 1 trial(s) (b), estimated 3.0 GB\n");
    }
}
