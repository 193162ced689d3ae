//! Runs whose Slurm task ended while it held them (time limit, out of memory, node failure,
//! scancel, a killed worker): Slurm's state and reason go into the run's summary.json and
//! train.log, and the claim is released so that the next worker resumes the run. Whoever
//! looks first does it: a worker as it starts, `sweep status`, `sweep cancel`, or the next
//! submission.

use super::{Task, command};
use crate::exec::claim;
use crate::output::run_dir::RunDir;
use crate::output::summary::{Status, Summary};
use crate::plan::PlannedRun;
use std::path::Path;

/// A run whose ended task was settled.
#[derive(Debug, Clone, PartialEq)]
pub struct Settled {
    pub run_id: String,
    /// The task, with Slurm's state and reason.
    pub task: Task,
    /// What its summary says now (None: it had finished; only the claim was released).
    pub status: Option<Status>,
}

impl Settled {
    /// "lr1e-3: Slurm task 12_3 on node07 reached its time limit; interrupted, resumable"
    pub fn line(&self) -> String {
        let what = self.task.reason.as_deref().unwrap_or("ended");
        match self.status {
            Some(Status::Failed) => format!("{}: {} {what}; failed (`--retry-failed` trains it again)", self.run_id, self.task.describe()),
            Some(_) => format!("{}: {} {what}; interrupted, the next worker resumes it", self.run_id, self.task.describe()),
            None => format!("{}: {} {what} after finishing it; released its claim", self.run_id, self.task.describe()),
        }
    }
}

/// Settles every run of `runs` in `sweep_dir` whose claim names a Slurm task that has ended.
pub fn settle(runs: &[PlannedRun], sweep_dir: &Path) -> Vec<Settled> {
    runs.iter().filter_map(|run| settle_run(run, sweep_dir)).collect()
}

/// Settles one run, if its claim names a Slurm task that has ended.
pub fn settle_run(run: &PlannedRun, sweep_dir: &Path) -> Option<Settled> {
    let dir = RunDir::new(sweep_dir.join(&run.id));
    let held = claim::read(&dir.path)?;
    let mut task = held.slurm.clone()?;
    if !command::ended(&task.job_id) {
        return None;
    }
    // Only one of the processes that look at once settles it: the one whose move wins.
    if !claim::move_aside(&dir.path, Some(&held), "settled").ok()? {
        return None;
    }
    let ended = command::how_it_ended(&task.job_id);
    let words = ended.as_ref().map_or_else(
        || "ended; Slurm no longer says how (it forgets ended jobs after a few minutes when accounting is off)".to_string(),
        command::Ended::words,
    );
    task.state = Some(ended.as_ref().map_or_else(|| "ENDED".to_string(), |e| e.state.clone()));
    task.reason = Some(words.clone());
    let before = dir.read_summary();
    let unfinished = before.as_ref().is_none_or(|s| s.status == Status::Interrupted);
    let status = unfinished.then(|| {
        let status = if task.state.as_deref() == Some("OUT_OF_MEMORY") { Status::Failed } else { Status::Interrupted };
        let resumes =
            if status == Status::Failed { "`sweep run --retry-failed` trains it again" } else { "the next `sweep run` resumes it from its last checkpoint" };
        let mut s = before.unwrap_or_else(|| Summary::failed(&run.id, run.params.clone(), 0.0, String::new()));
        s.status = status;
        s.error = Some(format!("{} {words}; {resumes}", task.describe()));
        s.slurm = Some(task.clone());
        let _ = dir.write_summary(&s);
        let line = format!("{} {words} while training this run; {resumes}\n", task.describe());
        let _ = std::fs::OpenOptions::new().append(true).open(dir.log()).and_then(|mut f| std::io::Write::write_all(&mut f, line.as_bytes()));
        status
    });
    Some(Settled { run_id: run.id.clone(), task, status })
}
