//! `slurm/jobs.jsonl` in a sweep folder: one line per job array submitted for it, so that
//! `sweep status` and `sweep cancel` find the jobs without being told their ids.

use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Job {
    /// The array's job id, as sbatch printed it.
    pub job_id: String,
    /// Array tasks submitted (one run each).
    pub tasks: usize,
    /// Tasks Slurm runs at once (the array's throttle).
    pub max_parallel: usize,
    pub submitted_unix: u64,
    /// The command that submitted it, which resubmits what is not done.
    #[serde(default)]
    pub command: String,
}

/// The folder of the Slurm backend's files in a sweep folder.
pub fn dir(sweep_dir: &Path) -> PathBuf {
    sweep_dir.join("slurm")
}

pub fn path(sweep_dir: &Path) -> PathBuf {
    dir(sweep_dir).join("jobs.jsonl")
}

pub fn record(sweep_dir: &Path, job: &Job) -> anyhow::Result<()> {
    std::fs::create_dir_all(dir(sweep_dir))?;
    crate::output::run_dir::append_line(&path(sweep_dir), &serde_json::to_string(job)?)
}

/// The jobs submitted for this sweep folder, oldest first (none for a local sweep).
pub fn read(sweep_dir: &Path) -> Vec<Job> {
    std::fs::read_to_string(path(sweep_dir)).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn jobs_are_recorded_in_order() {
        let dir = tempfile::tempdir().unwrap();
        assert!(read(dir.path()).is_empty());
        let job = |id: &str| Job { job_id: id.into(), tasks: 4, max_parallel: 2, submitted_unix: 1, command: "sweep run s.yaml --backend slurm".into() };
        record(dir.path(), &job("12")).unwrap();
        record(dir.path(), &job("15")).unwrap();
        assert_eq!(read(dir.path()), [job("12"), job("15")]);
    }
}
