//! Who trains a run: the host and, under Slurm, the array task a worker runs in, as its
//! claims and the summaries of the runs it trained record them. Read from the process's
//! environment; nothing here asks Slurm anything (`exec::slurm::command` does).

use serde::{Deserialize, Serialize};

/// This machine's host name, as claims record it.
pub fn hostname() -> String {
    nix::unistd::gethostname().ok().and_then(|h| h.into_string().ok()).unwrap_or_else(|| "unknown-host".into())
}

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
        let node = var("SLURMD_NODENAME").unwrap_or_else(hostname);
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
