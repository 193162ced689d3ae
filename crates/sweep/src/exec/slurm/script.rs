//! `slurm/submit.sbatch`: the batch script of a sweep's job array, written to be read. Each
//! array task runs the `sweep` binary as a worker (`sweep run SPEC --array-task`) that claims
//! one run no live worker holds, trains (or resumes) it, takes over runs whose worker died,
//! and exits; the shell around it turns Slurm's signals into a saved, resumable run.

use super::Settings;
use std::path::Path;

/// What a submission's script needs.
pub struct Submission<'a> {
    /// The sweep's name (the job's name is `sweep-<name>`).
    pub sweep: &'a str,
    /// The sweep folder, absolute: task logs go to its `slurm/`.
    pub sweep_dir: &'a Path,
    /// The sweep folder as the user names it (relative to `workdir` when inside), for the
    /// commands the header suggests.
    pub shown_dir: &'a Path,
    /// Where the tasks start (the folder `sweep run` was started in), absolute.
    pub workdir: &'a Path,
    /// The `sweep` binary, absolute.
    pub exe: &'a Path,
    /// The worker's arguments after the binary (`run SPEC --out OUT --array-task …`).
    pub worker_args: &'a [String],
    /// Array tasks: one per run to train.
    pub tasks: usize,
    pub settings: &'a Settings,
    /// The command that wrote the script, for its header.
    pub command: &'a str,
}

/// Single-quotes a word for bash.
pub fn quote(word: &str) -> String {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_./=:,+@%".contains(&b)) {
        word.to_string()
    } else {
        format!("'{}'", word.replace('\'', r"'\''"))
    }
}

/// Tasks at once: the throttle given, or all of them.
pub fn max_parallel(settings: &Settings, tasks: usize) -> usize {
    settings.max_parallel.map_or(tasks, |k| (k as usize).min(tasks)).max(1)
}

pub fn render(s: &Submission) -> String {
    let st = s.settings;
    let log = s.sweep_dir.join("slurm").join("task-%A_%a.log");
    let lead = st.signal_lead_secs();
    let mut sbatch = vec![
        format!("--job-name=sweep-{}", s.sweep),
        format!("--array=0-{}%{}", s.tasks.saturating_sub(1), max_parallel(st, s.tasks)),
        format!("--output={}", log.display()),
        "--open-mode=append".to_string(),
        format!("--signal=B:USR1@{lead}"),
        "--requeue".to_string(),
        "--ntasks=1".to_string(),
    ];
    if let Some(p) = &st.partition {
        sbatch.push(format!("--partition={p}"));
    }
    if let Some(n) = st.gpus_per_task {
        sbatch.push(format!("--gpus-per-task={n}"));
    }
    if let Some(n) = st.cpus_per_task {
        sbatch.push(format!("--cpus-per-task={n}"));
    }
    if let Some(m) = &st.mem {
        sbatch.push(format!("--mem={m}"));
    }
    if let Some(t) = &st.time {
        sbatch.push(format!("--time={t}"));
    }
    sbatch.extend(st.sbatch_args.iter().cloned());
    let worker: Vec<String> = std::iter::once(quote(&s.exe.to_string_lossy())).chain(s.worker_args.iter().map(|a| quote(a))).collect();
    let mut out = String::new();
    out.push_str("#!/bin/bash\n");
    out.push_str(&format!("# The Slurm job array of sweep {}, written by:\n#   {}\n", s.sweep, s.command));
    out.push_str(&format!(
        "# That command, run again, submits what is not done. Follow the runs with\n\
         # `sweep status {dir}`; stop them with `sweep cancel {dir}` (they stay resumable).\n#\n",
        dir = quote(&s.shown_dir.to_string_lossy())
    ));
    out.push_str(
        "# Each array task is one sweep worker: it claims a run of the sweep folder that no live\n\
         # worker holds (resuming it where an earlier task stopped), trains it, takes over runs\n\
         # whose worker died, and exits. Every node must see the sweep folder, the spec and its\n\
         # corpus, and this sweep binary with its libtorch, at the same paths.\n",
    );
    for a in &sbatch {
        out.push_str(&format!("#SBATCH {a}\n"));
    }
    out.push_str("\nset -u\n");
    out.push_str(&format!("cd {}\n", quote(&s.workdir.to_string_lossy())));
    if let Ok(path) = std::env::var("LD_LIBRARY_PATH")
        && !path.is_empty()
    {
        out.push_str(&format!("export LD_LIBRARY_PATH={}\n", quote(&path)));
    }
    out.push_str(&format!(
        "echo \"sweep: task ${{SLURM_ARRAY_JOB_ID}}_${{SLURM_ARRAY_TASK_ID}} on $(hostname) at $(date '+%F %T')\"\n{} &\n",
        worker.join(" ")
    ));
    out.push_str(&format!(
        "worker=$!\n\
         # {lead} s before the time limit Slurm sends USR1: the worker's trial saves its state and\n\
         # stops, and the task goes back into the queue to resume it. scancel and preemption send\n\
         # TERM: the trial saves its state and stops, and the run stays resumable.\n\
         timelimit=0\n\
         trap 'timelimit=1; kill -USR1 \"$worker\" 2>/dev/null' USR1\n\
         trap 'kill -TERM \"$worker\" 2>/dev/null' TERM\n\
         while :; do\n\
         \x20   wait \"$worker\"; code=$?\n\
         \x20   kill -0 \"$worker\" 2>/dev/null || break\n\
         done\n\
         # A wait cut short by a signal returns 128+signal; the worker's own status comes next.\n\
         if [ \"$code\" -gt 128 ]; then wait \"$worker\" 2>/dev/null; last=$?; [ \"$last\" = 127 ] || code=$last; fi\n\
         # A task stopped within half a minute would only be requeued to be stopped again.\n\
         if [ \"$timelimit\" = 1 ] && [ \"$SECONDS\" -ge 30 ]; then\n\
         \x20   echo \"sweep: the time limit is near; requeueing this task to resume its run\"\n\
         \x20   scontrol requeue \"$SLURM_JOB_ID\" || echo \"sweep: cannot requeue; the same sweep run --backend slurm resubmits the run\"\n\
         elif [ \"$timelimit\" = 1 ]; then\n\
         \x20   echo \"sweep: stopped for the time limit after $SECONDS s; not requeued (give --time more); the same sweep run --backend slurm resubmits the run\"\n\
         fi\n\
         exit \"$code\"\n"
    ));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_script_asks_for_what_the_settings_say() {
        let settings = Settings {
            partition: Some("gpu".into()),
            gpus_per_task: Some(1),
            cpus_per_task: Some(8),
            mem: Some("16G".into()),
            time: Some("01:00:00".into()),
            max_parallel: Some(4),
            sbatch_args: vec!["--account=lab".into()],
        };
        let args = ["run".to_string(), "/w/sweeps/my sweep.yaml".into(), "--out".into(), "/w/runs".into(), "--array-task".into()];
        let text = render(&Submission {
            sweep: "s",
            sweep_dir: Path::new("/w/runs/s"),
            shown_dir: Path::new("runs/s"),
            workdir: Path::new("/w"),
            exe: Path::new("/opt/sweep"),
            worker_args: &args,
            tasks: 12,
            settings: &settings,
            command: "sweep run sweeps/s.yaml --backend slurm",
        });
        for line in [
            "#SBATCH --array=0-11%4",
            "#SBATCH --output=/w/runs/s/slurm/task-%A_%a.log",
            "#SBATCH --signal=B:USR1@120",
            "#SBATCH --partition=gpu",
            "#SBATCH --gpus-per-task=1",
            "#SBATCH --cpus-per-task=8",
            "#SBATCH --mem=16G",
            "#SBATCH --time=01:00:00",
            "#SBATCH --account=lab",
            "/opt/sweep run '/w/sweeps/my sweep.yaml' --out /w/runs --array-task &",
            "# `sweep status runs/s`; stop them with `sweep cancel runs/s` (they stay resumable).",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line:?} in:\n{text}");
        }
        assert_eq!(max_parallel(&Settings::default(), 5), 5, "no throttle: every task may run");
        assert_eq!(quote("it's"), r"'it'\''s'");
    }
}
