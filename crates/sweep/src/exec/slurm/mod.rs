//! The Slurm backend: a sweep submitted as one job array whose tasks are `sweep` workers
//! sharing the sweep folder through the same claim files as local workers. Slurm is the
//! distributed engine; this module maps a sweep onto it and keeps the guarantees (resume
//! after any kill, no run trained twice, every failure explained in the run's summary):
//! - `settings`: partition, GPUs, CPUs, memory, time limit, throttle (spec `slurm:` or flags);
//! - `script`: the readable `slurm/submit.sbatch` each submission writes;
//! - `command`: sbatch, squeue, scancel, scontrol and sacct, and their answers parsed;
//! - `jobs`: `slurm/jobs.jsonl`, the job arrays submitted for a sweep folder;
//! - `settle`: runs whose array task ended without finishing them get Slurm's reason in
//!   their summary.json, and their claims are released so that any worker resumes them.

pub mod command;
pub mod jobs;
pub mod script;
pub mod settings;
pub mod settle;

use serde::{Deserialize, Serialize};

pub use settings::Settings;

/// The Slurm task a worker runs in (from Slurm's environment), as recorded in its claims
/// and in the summaries of the runs it trained; with Slurm's verdict once the task ended
/// without finishing its run.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Task {
    /// "1234_5" (array job 1234, task 5) as squeue and the task log's name show it, or the
    /// job id for a job that is not an array.
    pub task: String,
    /// This task's own job id (SLURM_JOB_ID), which scontrol, sacct and scancel take.
    pub job_id: String,
    /// The node it ran on.
    pub node: String,
    /// Slurm's state for the task when it ended without finishing the run: TIMEOUT,
    /// OUT_OF_MEMORY, NODE_FAIL, CANCELLED, PREEMPTED, FAILED…
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    /// Slurm's reason and exit code, or what the worker was told (a signal), in words.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
}

impl Task {
    /// The task this process runs in, when Slurm started it.
    pub fn from_env() -> Option<Task> {
        let var = |k: &str| std::env::var(k).ok().filter(|v| !v.is_empty());
        let job_id = var("SLURM_JOB_ID")?;
        let task = match (var("SLURM_ARRAY_JOB_ID"), var("SLURM_ARRAY_TASK_ID")) {
            (Some(array), Some(index)) => format!("{array}_{index}"),
            _ => job_id.clone(),
        };
        let node = var("SLURMD_NODENAME").unwrap_or_else(crate::exec::claim::hostname);
        Some(Task { task, job_id, node, state: None, reason: None })
    }

    /// The array's job id ("1234" of "1234_5"), or the job id of a job that is not an array.
    pub fn array(&self) -> &str {
        self.task.split('_').next().unwrap_or(&self.task)
    }

    /// "Slurm task 1234_5 on node07"
    pub fn describe(&self) -> String {
        format!("Slurm task {} on {}", self.task, self.node)
    }
}
