//! `sweep run SPEC --backend slurm`: the flags that do not apply to Slurm refused, the rest
//! handed to `sweep::exec::slurm::submit`.

use crate::args::RunArgs;
use std::path::Path;
use sweep::exec::pending::Pending;
use sweep::exec::slurm::submit::{Request, submit as submit_array};
use sweep::exit_code;
use sweep::search::Rerun;
use sweep::{Plan, Spec};

pub fn submit(a: &RunArgs, spec: &Spec, plan: &Plan, todo: &Pending, sweep_dir: &Path) -> anyhow::Result<u8> {
    // The spec's slurm: section was checked with the spec: what is wrong here came from a flag.
    let flags = a.slurm.settings();
    let problems = flags.problems();
    if !problems.is_empty() {
        for (key, message) in problems {
            let (flag, rest) = match key {
                "sbatch_args" => ("--sbatch-arg".to_string(), message.trim_start_matches("sbatch_args item")),
                _ => (format!("--{}", key.replace('_', "-")), message.as_str()),
            };
            eprintln!("sweep: error: {flag}{}", rest.trim_start_matches(key));
        }
        return Ok(exit_code::USAGE);
    }
    if a.pack.is_some() || a.jobs.is_some() {
        let flag = if a.pack.is_some() { "--pack" } else { "--jobs" };
        eprintln!("sweep: error: {flag} does not apply to --backend slurm: each array task trains one run; --max-parallel sets how many run at once");
        return Ok(exit_code::USAGE);
    }
    let args: Vec<String> = std::env::args().skip(1).collect();
    let rerun = Rerun { failed: a.retry_failed, pruned: a.resume_pruned };
    let req = Request {
        spec: &a.spec,
        out: &a.out,
        device: a.device.as_deref(),
        trials_per_gpu: &a.trials_per_gpu,
        rerun,
        dry_run: a.dry_run,
        flags: &flags,
        args: &args,
    };
    submit_array(&req, spec, plan, todo, sweep_dir)?;
    Ok(exit_code::OK)
}
