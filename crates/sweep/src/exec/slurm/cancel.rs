//! `sweep cancel SWEEP_DIR`: scancel of the sweep's job arrays that are still queued or
//! running, then a wait (up to 3 minutes) until Slurm has let their tasks go. Running tasks
//! get SIGTERM and save their runs' state, so every run stays resumable.

use super::{command, jobs};
use std::path::Path;
use std::time::{Duration, Instant};

pub fn cancel(dir: &Path) -> anyhow::Result<()> {
    let submitted = jobs::read(dir);
    anyhow::ensure!(
        !submitted.is_empty(),
        "{} has no Slurm jobs ({} is missing): `sweep cancel` stops sweeps submitted with --backend slurm; stop a local `sweep run` with Ctrl-C",
        dir.display(),
        jobs::path(dir).display()
    );
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
    Ok(())
}
