//! `sweep run SPEC --backend slurm`, once the spec is planned: writes the sweep's batch
//! script (`slurm/submit.sbatch`), submits it as one job array with one task per run to
//! train, records the job (`jobs`), and prints the commands to follow it; with --dry-run
//! prints the script instead. Runs whose earlier task ended without finishing them are
//! settled first.

use super::{command, jobs, script, settle};
use crate::exec::pending::{Pending, conflicts_message, known_runs};
use crate::output::run_dir::{write_atomic, write_json};
use crate::plan::Plan;
use crate::plan::slurm::Settings;
use crate::plan::spec::Spec;
use crate::search::Rerun;
use anyhow::Context;
use std::path::{Path, PathBuf};

/// What the user asked of the submission, besides the spec.
pub struct Request<'a> {
    /// The spec file and the output folder, as given (made absolute for the tasks).
    pub spec: &'a Path,
    pub out: &'a Path,
    /// `--device`, passed on to every task.
    pub device: Option<&'a str>,
    /// `--trials-per-gpu` as given (auto or N), passed on to every task: with
    /// `--gpus-per-task G` a task trains up to G×N runs at once on its GPUs.
    pub trials_per_gpu: &'a str,
    pub rerun: Rerun,
    pub dry_run: bool,
    /// The `slurm:` settings given as flags, over the spec's.
    pub flags: &'a Settings,
    /// The command line after `sweep` (to print the command that submits again).
    pub args: &'a [String],
}

/// Submits `todo`'s runs as one job array (or prints its script); an error says why nothing
/// was submitted.
pub fn submit(req: &Request, spec: &Spec, plan: &Plan, todo: &Pending, sweep_dir: &Path) -> anyhow::Result<()> {
    let settings = spec.slurm.clone().unwrap_or_default().overridden_by(req.flags);
    anyhow::ensure!(todo.conflicts.is_empty(), "{}", conflicts_message(&todo.conflicts));
    // A task with G GPUs trains G×K runs at once (K = --trials-per-gpu; counted as 1 for
    // auto, whose number each task finds from its GPUs' memory), so fewer tasks are needed.
    let per_task = settings.gpus_per_task.unwrap_or(0) as usize * req.trials_per_gpu.parse::<usize>().unwrap_or(1);
    let tasks = todo.pending.len().div_ceil(per_task.max(1));
    let each = match (settings.gpus_per_task, per_task) {
        (Some(g), n) if n > 1 => format!("each training up to {n} of the {} runs at once on its {g} GPU(s)", todo.pending.len()),
        (Some(g), _) => format!("each training runs on its {g} GPU(s), as many at once as fit by the estimate ({} runs to train)", todo.pending.len()),
        (None, _) => "one per run to train".to_string(),
    };
    if tasks == 0 {
        println!("sweep {}: all {} runs finished; nothing to submit (report: {})", plan.name, todo.skipped, sweep_dir.join("report.md").display());
        return Ok(());
    }
    let absolute = |p: &Path| std::path::absolute(p).with_context(|| format!("cannot make {} absolute", p.display()));
    let sweep_dir = absolute(sweep_dir)?;
    // sbatch reads `%` in --output as a pattern and splits #SBATCH lines at spaces.
    anyhow::ensure!(
        !sweep_dir.to_string_lossy().contains(|c: char| c == '%' || c.is_whitespace()),
        "the sweep folder {} has a space or % in its path, which sbatch's --output cannot take; pass --out a folder without them",
        sweep_dir.display()
    );
    let mut worker_args: Vec<String> = vec![
        "run".into(),
        absolute(req.spec)?.to_string_lossy().into_owned(),
        "--out".into(),
        absolute(req.out)?.to_string_lossy().into_owned(),
        "--array-task".into(),
    ];
    if let Some(d) = req.device {
        worker_args.extend(["--device".to_string(), d.to_string()]);
    }
    if settings.gpus_per_task.is_some() {
        worker_args.extend(["--trials-per-gpu".to_string(), req.trials_per_gpu.to_string()]);
    }
    if req.rerun.failed {
        worker_args.push("--retry-failed".into());
    }
    if req.rerun.pruned {
        worker_args.push("--resume-pruned".into());
    }
    // The command as typed (`sweep run …`), without --dry-run: the one that submits again.
    let command_line =
        std::iter::once("sweep".to_string()).chain(req.args.iter().filter(|w| *w != "--dry-run").map(|w| script::quote(w))).collect::<Vec<_>>().join(" ");
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
    if req.dry_run {
        println!("sweep {}: would submit a Slurm job array of {tasks} task(s), {each}{finished}, {parallel} at a time; its script:\n", plan.name);
        print!("{text}");
        return Ok(());
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
    for settled in settle::settle(&known_runs(plan, &sweep_dir), &sweep_dir) {
        println!("{}", settled.line());
    }
    let script_path = jobs::dir(&sweep_dir).join("submit.sbatch");
    std::fs::create_dir_all(jobs::dir(&sweep_dir)).with_context(|| format!("cannot create {}", jobs::dir(&sweep_dir).display()))?;
    write_json(&sweep_dir.join("sweep.json"), spec)?;
    write_atomic(&script_path, text.as_bytes())?;
    let job_id = command::sbatch(&script_path)?;
    let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
    jobs::record(&sweep_dir, &jobs::Job { job_id: job_id.clone(), tasks, max_parallel: parallel, submitted_unix: now, command: command_line })?;
    println!("sweep {}: submitted Slurm job {job_id}: {tasks} array task(s), {each}{finished}, {parallel} at a time", plan.name);
    println!("  script: {}", shown.join("slurm/submit.sbatch").display());
    println!("  logs:   {}", shown.join(format!("slurm/task-{job_id}_<task>.log")).display());
    println!("  follow: sweep status {}", shown.display());
    println!("  stop:   sweep cancel {}   (runs stay resumable; the same `sweep run` resubmits what is not done)", shown.display());
    Ok(())
}

/// The sweep folder as the user would type it: relative to where they are, when inside.
fn shown_dir(sweep_dir: &Path, workdir: &Path) -> PathBuf {
    sweep_dir.strip_prefix(workdir).map_or_else(|_| sweep_dir.to_path_buf(), Path::to_path_buf)
}
