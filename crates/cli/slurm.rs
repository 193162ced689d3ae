//! `sweep run SPEC --backend slurm`: plans as a local run does, then writes the sweep's
//! batch script (`slurm/submit.sbatch`), submits it as one job array with one task per run to
//! train, records the job, and returns with the commands to follow it.

use crate::args::RunArgs;
use crate::exit_code;
use anyhow::Context;
use std::path::{Path, PathBuf};
use sweep::exec::scheduler::{self, Pending};
use sweep::exec::slurm::{command, jobs, script, settle};
use sweep::output::run_dir::{write_atomic, write_json};
use sweep::{Plan, Spec};

/// The cores Slurm gave this task (`--cpus-per-task`, else the job's CPUs on its node),
/// for the trial's threads: a node's other cores belong to other jobs.
pub fn task_cores() -> Option<usize> {
    let var = |k: &str| std::env::var(k).ok()?.parse::<usize>().ok().filter(|&n| n > 0);
    var("SLURM_CPUS_PER_TASK").or_else(|| var("SLURM_CPUS_ON_NODE"))
}

pub fn submit(a: &RunArgs, spec: &Spec, plan: &Plan, todo: &Pending, sweep_dir: &Path) -> anyhow::Result<u8> {
    // The spec's slurm: section was checked with the spec: what is wrong here came from a flag.
    let problems = a.slurm.settings().problems();
    if !problems.is_empty() {
        for (key, message) in problems {
            let (flag, rest) = match key {
                "sbatch_args" => ("--sbatch-arg", message.trim_start_matches("sbatch_args item")),
                _ => ("", message.as_str()),
            };
            let flag = if flag.is_empty() { format!("--{}", key.replace('_', "-")) } else { flag.to_string() };
            eprintln!("sweep: error: {flag}{}", rest.trim_start_matches(key));
        }
        return Ok(exit_code::USAGE);
    }
    let settings = spec.slurm.clone().unwrap_or_default().overridden_by(&a.slurm.settings());
    if a.pack.is_some() || a.jobs.is_some() {
        let flag = if a.pack.is_some() { "--pack" } else { "--jobs" };
        eprintln!("sweep: error: {flag} does not apply to --backend slurm: each array task trains one run; --max-parallel sets how many run at once");
        return Ok(exit_code::USAGE);
    }
    if !todo.conflicts.is_empty() {
        eprintln!("sweep: error: {}", scheduler::conflicts_message(&todo.conflicts));
        return Ok(exit_code::USAGE);
    }
    let tasks = todo.pending.len();
    if tasks == 0 {
        println!("sweep {}: all {} runs finished; nothing to submit (report: {})", plan.name, todo.skipped, sweep_dir.join("report.md").display());
        return Ok(exit_code::OK);
    }
    let absolute = |p: &Path| std::path::absolute(p).with_context(|| format!("cannot make {} absolute", p.display()));
    let sweep_dir = absolute(sweep_dir)?;
    // sbatch reads `%` in --output as a pattern and splits #SBATCH lines at spaces.
    if sweep_dir.to_string_lossy().contains(|c: char| c == '%' || c.is_whitespace()) {
        eprintln!(
            "sweep: error: the sweep folder {} has a space or % in its path, which sbatch's --output cannot take; pass --out a folder without them",
            sweep_dir.display()
        );
        return Ok(exit_code::USAGE);
    }
    let mut worker_args: Vec<String> = vec![
        "run".into(),
        absolute(&a.spec)?.to_string_lossy().into_owned(),
        "--out".into(),
        absolute(&a.out)?.to_string_lossy().into_owned(),
        "--array-task".into(),
    ];
    if let Some(d) = &a.device {
        worker_args.extend(["--device".into(), d.clone()]);
    }
    if a.retry_failed {
        worker_args.push("--retry-failed".into());
    }
    if a.resume_pruned {
        worker_args.push("--resume-pruned".into());
    }
    // The command as typed (`sweep run …`), without --dry-run: the one that submits again.
    let command_line = std::iter::once("sweep".to_string())
        .chain(std::env::args().skip(1).filter(|w| w != "--dry-run").map(|w| script::quote(&w)))
        .collect::<Vec<_>>()
        .join(" ");
    let exe = std::env::current_exe().context("cannot find the sweep executable for the array tasks to run")?;
    let workdir = std::env::current_dir().context("cannot read the current folder")?;
    let shown = shown_dir(&sweep_dir, &workdir);
    let text = script::render(&script::Submission {
        sweep: &plan.name,
        sweep_dir: &sweep_dir,
        shown_dir: &shown,
        workdir: &workdir,
        exe: &exe,
        worker_args: &worker_args,
        tasks,
        settings: &settings,
        command: &command_line,
    });
    let parallel = script::max_parallel(&settings, tasks);
    let finished = if todo.skipped > 0 { format!(" ({} finished before)", todo.skipped) } else { String::new() };
    if a.dry_run {
        println!("sweep {}: would submit a Slurm job array of {tasks} task(s), one per run to train{finished}, {parallel} at a time; its script:\n", plan.name);
        print!("{text}");
        return Ok(exit_code::OK);
    }
    let earlier: Vec<String> = jobs::read(&sweep_dir).into_iter().map(|j| j.job_id).collect();
    if let Ok(queued) = command::squeue(&earlier)
        && !queued.is_empty()
    {
        let live: std::collections::BTreeSet<&str> = queued.iter().map(command::Queued::job).collect();
        println!(
            "note: Slurm job(s) {} of this sweep are still queued or running; the new tasks leave the runs those hold to them",
            live.into_iter().collect::<Vec<_>>().join(", ")
        );
    }
    // Runs whose Slurm task ended without finishing them: Slurm's reason into their summaries.
    for settled in settle::settle(&scheduler::known_runs(plan, &sweep_dir), &sweep_dir) {
        println!("{}", settled.line());
    }
    let script_path = jobs::dir(&sweep_dir).join("submit.sbatch");
    std::fs::create_dir_all(jobs::dir(&sweep_dir)).with_context(|| format!("cannot create {}", jobs::dir(&sweep_dir).display()))?;
    write_json(&sweep_dir.join("sweep.json"), spec)?;
    write_atomic(&script_path, text.as_bytes())?;
    let job_id = command::sbatch(&script_path)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    jobs::record(&sweep_dir, &jobs::Job { job_id: job_id.clone(), tasks, max_parallel: parallel, submitted_unix: now, command: command_line })?;
    println!("sweep {}: submitted Slurm job {job_id}: {tasks} array task(s), one per run to train{finished}, {parallel} at a time", plan.name);
    println!("  script: {}", shown.join("slurm/submit.sbatch").display());
    println!("  logs:   {}", shown.join(format!("slurm/task-{job_id}_<task>.log")).display());
    println!("  follow: sweep status {}", shown.display());
    println!("  stop:   sweep cancel {}   (runs stay resumable; the same `sweep run` resubmits what is not done)", shown.display());
    Ok(exit_code::OK)
}

/// The sweep folder as the user would type it: relative to where they are, when inside.
fn shown_dir(sweep_dir: &Path, workdir: &Path) -> PathBuf {
    sweep_dir.strip_prefix(workdir).map_or_else(|_| sweep_dir.to_path_buf(), Path::to_path_buf)
}
