//! `sweep status [SWEEP_DIR]` (every run's state; a Slurm sweep's array tasks from squeue,
//! and sacct when the cluster keeps accounting) and `sweep cancel SWEEP_DIR` (scancel of its
//! job arrays, leaving every run resumable).

use crate::args::{CancelArgs, StatusArgs};
use crate::report::latest_sweep;
use std::path::Path;
use sweep::exec::slurm::{cancel as slurm_cancel, jobs};
use sweep::exit_code;
use sweep::report::status;

pub fn status(a: StatusArgs) -> anyhow::Result<u8> {
    let dir = match a.sweep_dir {
        Some(d) => d,
        None => latest_sweep(Path::new("runs"))?,
    };
    print!("{}", status::status_text(&dir, a.all)?);
    Ok(exit_code::OK)
}

pub fn cancel(a: CancelArgs) -> anyhow::Result<u8> {
    let dir = a.sweep_dir;
    slurm_cancel::cancel(&dir)?;
    print!("{}", status::settle_text(&dir)?);
    println!("{}: {}", dir.display(), status::read(&dir)?.counts());
    if let Some(last) = jobs::read(&dir).last().filter(|j| !j.command.is_empty()) {
        println!("to resume, run the same command again; it submits only what is not done:\n  {}", last.command);
    }
    Ok(exit_code::OK)
}
