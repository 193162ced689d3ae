//! The Slurm backend against a real Slurm: `tests/slurm/local-slurm start` brings up a
//! single-node cluster on this machine. Its packages (slurm-wlm, munge) are installed by
//! `cargo xtask test` before any test runs; these tests only check that they are there. They
//! never skip: where Slurm is missing or cannot start, they fail and say why.

use crate::util::{SweepDir, assert_complete, ids, slow_spec, stderr, stdout, wait_for};
use std::process::Command;
use std::sync::{Mutex, MutexGuard, OnceLock};
use std::time::Duration;

static STARTED: OnceLock<()> = OnceLock::new();
/// One Slurm test at a time: the node's two CPUs are the array's slots.
static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());

/// Starts the local Slurm once per test binary, and holds it for one test.
fn slurm() -> MutexGuard<'static, ()> {
    let guard = ONE_AT_A_TIME.lock().unwrap_or_else(|e| e.into_inner());
    STARTED.get_or_init(|| {
        crate::system_packages::require("slurm");
        let script = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/slurm/local-slurm");
        let out = Command::new("bash").args([script, "start"]).output().expect("cannot run tests/slurm/local-slurm");
        assert!(
            out.status.success(),
            "Slurm could not be started on this machine, and the Slurm backend's tests need a real one \
             (tests/slurm/README.md):\n{}{}",
            stdout(&out),
            stderr(&out)
        );
    });
    guard
}

/// The job id `sweep run --backend slurm` printed.
fn job_id(out: &std::process::Output) -> String {
    let text = stdout(out);
    let id = text.split("submitted Slurm job ").nth(1).and_then(|r| r.split(':').next()).map(str::to_string);
    id.unwrap_or_else(|| panic!("no job id in:\n{text}\n{}", stderr(out)))
}

fn queued(job: &str) -> usize {
    let out = Command::new("squeue").args(["-h", "-j", job]).output().expect("squeue");
    stdout(&out).lines().count()
}

fn wait_for_job(w: &SweepDir, sweep: &str, job: &str, timeout: Duration) {
    let start = std::time::Instant::now();
    while queued(job) > 0 {
        if start.elapsed() > timeout {
            let logs: Vec<String> = std::fs::read_dir(w.path().join("runs").join(sweep).join("slurm"))
                .map(|d| {
                    d.filter_map(|e| e.ok()).map(|e| format!("{}:\n{}", e.path().display(), std::fs::read_to_string(e.path()).unwrap_or_default())).collect()
                })
                .unwrap_or_default();
            let _ = Command::new("scancel").arg(job).status();
            panic!("Slurm job {job} did not finish in {timeout:?}:\n{}", logs.join("\n"));
        }
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// `sweep run … --backend slurm`, asserting it submitted; the job id.
fn submit(w: &SweepDir, spec: &str, extra: &[&str]) -> String {
    let mut args = vec!["run", spec, "--backend", "slurm", "--cpus-per-task", "1"];
    args.extend(extra);
    let out = w.sweep(&args);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    job_id(&out)
}

fn task_logs(w: &SweepDir, sweep: &str) -> String {
    std::fs::read_dir(w.path().join("runs").join(sweep).join("slurm"))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.file_name().to_string_lossy().starts_with("task-"))
        .map(|e| std::fs::read_to_string(e.path()).unwrap_or_default())
        .collect()
}

#[test]
fn a_sweep_submitted_to_slurm_trains_every_run_once_and_says_so() {
    let _slurm = slurm();
    let w = SweepDir::new();
    slow_spec(&w, "sl", 100, "  lr: [1e-3, 2e-3]\n  dropout: [0.0, 0.1]\n");
    // The dry run prints the script and submits nothing.
    let dry = w.sweep(&["run", "sweeps/sl.yaml", "--backend", "slurm", "--max-parallel", "2", "--time", "00:10:00", "--dry-run"]);
    let text = stdout(&dry);
    assert!(text.contains("#SBATCH --array=0-3%2") && text.contains("#SBATCH --time=00:10:00"), "{text}");
    assert!(!w.path().join("runs/sl/slurm/jobs.jsonl").exists(), "a dry run submits nothing");

    let job = submit(&w, "sweeps/sl.yaml", &["--max-parallel", "2"]);
    let script = w.text("runs/sl/slurm/submit.sbatch");
    assert!(script.contains("#SBATCH --array=0-3%2") && script.contains("--array-task"), "{script}");
    wait_for_job(&w, "sl", &job, Duration::from_secs(300));
    assert_complete(&w, "sl", 4, 100);
    for id in ids(&w, "sl") {
        let s = w.summary("sl", &id);
        assert!(s["slurm"]["task"].as_str().is_some_and(|t| t.starts_with(&format!("{job}_"))), "{id}: {s:#}");
        assert_eq!(s["attempts"], 1, "{id}");
    }
    // Each task trained one run: four logs, each naming the run it finished.
    let logs = task_logs(&w, "sl");
    assert_eq!(logs.matches("trained: ").count(), 4, "{logs}");

    let status = w.sweep(&["status", "runs/sl"]);
    let text = stdout(&status);
    assert!(status.status.success() && text.contains("sweep sl, 4 runs: 4 done"), "{text}\n{}", stderr(&status));
    assert!(text.contains(&format!("slurm job {job}: 4 task(s), 2 at a time: 4 ended")), "{text}");
    assert!(text.contains("no job accounting here"), "sacct is off on the test cluster and status says so:\n{text}");
    let again = w.sweep(&["run", "sweeps/sl.yaml", "--backend", "slurm"]);
    assert!(stdout(&again).contains("all 4 runs finished; nothing to submit"), "{}", stdout(&again));
}

#[test]
fn a_cancelled_submission_resumes_when_resubmitted_and_trains_nothing_twice() {
    let _slurm = slurm();
    let w = SweepDir::new();
    slow_spec(&w, "cx", 400, "  lr: [1e-3, 2e-3, 3e-3, 4e-3]\n");
    let job = submit(&w, "sweeps/cx.yaml", &["--max-parallel", "2"]);
    let rows = |id: &str| w.text(&format!("runs/cx/{id}/loss.csv")).lines().count();
    wait_for("two tasks to make progress", Duration::from_secs(120), || ids(&w, "cx").iter().filter(|id| rows(id) >= 3).count() >= 2);
    let out = w.sweep(&["cancel", "runs/cx"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains(&format!("cancelled Slurm job(s) {job}: 2 running task(s)")), "{text}");
    assert_eq!(queued(&job), 0, "cancel waits until the tasks are gone");
    assert!(text.contains("to resume, run the same command again"), "{text}");
    let runs: Vec<String> = ids(&w, "cx");
    let mut interrupted = 0;
    for id in &runs {
        assert!(!w.run_dir("cx", id).join("claim.json").exists(), "{id}: a cancelled task leaves no claim");
        if rows(id) >= 3 {
            let s = w.summary("cx", id);
            assert_eq!(s["status"], "interrupted", "{id}: {s:#}");
            assert!(w.run_dir("cx", id).join("resume.safetensors").exists(), "{id} saved its state");
            interrupted += 1;
        }
    }
    assert!(interrupted >= 2, "{runs:?}");
    let status = stdout(&w.sweep(&["status", "runs/cx"]));
    assert!(status.contains("interrupted") && !status.contains("running "), "{status}");

    let again = submit(&w, "sweeps/cx.yaml", &["--max-parallel", "2"]);
    wait_for_job(&w, "cx", &again, Duration::from_secs(300));
    assert_complete(&w, "cx", 4, 400);
    for id in &runs {
        let log = w.text(&format!("runs/cx/{id}/train.log"));
        assert_eq!(log.matches("starting at step 0").count(), 1, "{id} started from scratch once:\n{log}");
    }
    let resumed = runs.iter().filter(|id| w.text(&format!("runs/cx/{id}/train.log")).contains("resuming at step")).count();
    assert!(resumed >= 2, "the cancelled runs resumed from their saved state");
}

#[test]
fn a_killed_array_task_leaves_its_run_to_another_task() {
    let _slurm = slurm();
    let w = SweepDir::new();
    slow_spec(&w, "kl", 400, "  lr: [1e-3, 2e-3, 3e-3]\n");
    let job = submit(&w, "sweeps/kl.yaml", &["--max-parallel", "2"]);
    let claim = |id: &str| -> Option<serde_json::Value> { serde_json::from_str(&w.text(&format!("runs/kl/{id}/claim.json"))).ok() };
    let rows = |id: &str| w.text(&format!("runs/kl/{id}/loss.csv")).lines().count();
    let mut victim = None;
    wait_for("a task to make progress", Duration::from_secs(120), || {
        victim = ids(&w, "kl").into_iter().find(|id| rows(id) >= 3 && claim(id).is_some());
        victim.is_some()
    });
    let victim = victim.unwrap();
    let held = claim(&victim).unwrap();
    let pid = held["pid"].as_u64().unwrap() as i32;
    let task = held["slurm"]["task"].as_str().unwrap().to_string();
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    wait_for_job(&w, "kl", &job, Duration::from_secs(300));
    assert_complete(&w, "kl", 3, 400);
    let log = w.text(&format!("runs/kl/{victim}/train.log"));
    assert!(log.contains("resuming at step"), "{victim} resumed from its checkpoint:\n{log}");
    assert_eq!(log.matches("starting at step 0").count(), 1, "{log}");
    let s = w.summary("kl", &victim);
    assert_ne!(s["slurm"]["task"].as_str(), Some(task.as_str()), "another task finished {victim}: {s:#}");
    // Taken over as its worker's process was found gone, or after Slurm said its task ended.
    let logs = task_logs(&w, "kl");
    assert!(logs.contains(&format!("taking over {victim}")) || logs.contains(&format!("{victim}: Slurm task {task} on ")), "{logs}");
}

#[test]
fn tpe_proposals_and_early_termination_work_through_slurm() {
    let _slurm = slurm();
    let w = SweepDir::new();
    w.write(
        "sweeps/tp.yaml",
        "name: tp\ndata:\n  path: data/tiny.txt\nsettings:\n  block_size: 16\n  embed_dim: 32\n  n_layers: 1\n  n_heads: 2\n  batch_size: 8\n  \
         max_iters: 120\n  warmup_iters: 5\n  eval_interval: 20\n  eval_iters: 2\nsample:\n  prompts: [\"夏天\"]\n  max_new_tokens: 5\n\
         method: tpe\nn_runs: 6\nn_startup: 2\nspace:\n  lr: {log_uniform: [1e-4, 3e-2]}\n\
         early_stop:\n  method: asha\n  min_steps: 40\n  reduction_factor: 2\nslurm:\n  max_parallel: 2\n",
    );
    let job = submit(&w, "sweeps/tp.yaml", &[]);
    assert!(w.text("runs/tp/slurm/submit.sbatch").contains("#SBATCH --array=0-5%2"), "the spec's slurm: section sets the throttle");
    wait_for_job(&w, "tp", &job, Duration::from_secs(300));
    let proposals: Vec<serde_json::Value> = w.text("runs/tp/proposals.jsonl").lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let mut proposed: Vec<&str> = proposals.iter().map(|p| p["id"].as_str().unwrap()).collect();
    proposed.sort();
    proposed.dedup();
    assert_eq!(proposed.len(), 6, "six distinct proposals: {proposals:?}");
    assert!(proposals.iter().any(|p| p["by"] == "tpe"), "proposals after the random start are modelled: {proposals:?}");
    for id in proposed {
        let s = w.summary("tp", id);
        assert!(s["status"] == "done" || s["status"] == "pruned", "{id}: {s:#}");
        assert_eq!(w.text(&format!("runs/tp/{id}/train.log")).matches("starting at step 0").count(), 1, "{id}");
    }
    let status = stdout(&w.sweep(&["status", "runs/tp"]));
    assert!(status.contains("6 runs:") && !status.contains("pending"), "{status}");
    // Tasks compared their runs with runs other tasks trained.
    let decisions = w.text("runs/tp/early_stop.jsonl");
    assert!(decisions.contains("\"compared_with\":[["), "{decisions}");
}

#[test]
fn a_task_killed_outright_leaves_slurms_verdict_in_its_runs_summary() {
    let _slurm = slurm();
    let w = SweepDir::new();
    slow_spec(&w, "ko", 3000, "  lr: [1e-3]\n");
    let job = submit(&w, "sweeps/ko.yaml", &[]);
    let rows = || w.text("runs/ko/lr1e-3/loss.csv").lines().count();
    wait_for("the task to make progress", Duration::from_secs(120), || rows() >= 3);
    // SIGKILL to the task's batch shell and its worker at once (the trial dies with its
    // worker), as an out-of-memory kill of the task or a dying node would: nothing of ours gets
    // to write a summary or release the claim.
    let claim: serde_json::Value = serde_json::from_str(&w.text("runs/ko/lr1e-3/claim.json")).unwrap();
    let worker = claim["pid"].as_u64().unwrap() as i32;
    let stat = std::fs::read_to_string(format!("/proc/{worker}/stat")).unwrap();
    let shell: i32 = stat.rsplit(')').next().unwrap().split_whitespace().nth(1).unwrap().parse().unwrap();
    for pid in [shell, worker] {
        nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid), nix::sys::signal::Signal::SIGKILL).unwrap();
    }
    wait_for_job(&w, "ko", &job, Duration::from_secs(60));
    assert!(w.run_dir("ko", "lr1e-3").join("claim.json").exists(), "the killed worker left its claim");

    let out = w.sweep(&["status", "runs/ko"]);
    let text = stdout(&out);
    assert!(text.contains(&format!("lr1e-3: Slurm task {job}_0 on ")) && text.contains("interrupted, the next worker resumes it"), "{text}");
    let s = w.summary("ko", "lr1e-3");
    assert_eq!(s["status"], "interrupted", "{s:#}");
    assert!(s["slurm"]["state"].as_str().is_some_and(|st| st != "SIGNALLED"), "Slurm's own state: {s:#}");
    assert!(s["error"].as_str().unwrap().starts_with(&format!("Slurm task {job}_0 on ")), "{s:#}");
    assert!(w.text("runs/ko/lr1e-3/train.log").contains(&format!("Slurm task {job}_0 on ")), "train.log keeps the verdict");
    assert!(!w.run_dir("ko", "lr1e-3").join("claim.json").exists(), "the dead task's claim is released");

    let again = submit(&w, "sweeps/ko.yaml", &[]);
    wait_for_job(&w, "ko", &again, Duration::from_secs(300));
    assert_complete(&w, "ko", 1, 3000);
    assert!(w.text("runs/ko/lr1e-3/train.log").contains("resuming at step"));
}

#[test]
fn near_its_time_limit_a_task_saves_its_run_and_requeues_itself() {
    let _slurm = slurm();
    let w = SweepDir::new();
    slow_spec(&w, "tl", 1_000_000, "  lr: [1e-3]\n");
    // A 2-minute limit: Slurm sends USR1 30 s before it (up to a minute earlier, by its own
    // timer's resolution).
    let job = submit(&w, "sweeps/tl.yaml", &["--time", "2"]);
    // The trial writes its summary, then its worker adds the Slurm task and the reason.
    let recorded = || w.run_dir("tl", "lr1e-3").join("summary.json").exists() && w.summary("tl", "lr1e-3")["slurm"]["reason"].is_string();
    wait_for("the time limit's signal to stop the run", Duration::from_secs(150), recorded);
    assert_eq!(w.summary("tl", "lr1e-3")["status"], "interrupted");
    let s = w.summary("tl", "lr1e-3");
    assert!(s["slurm"]["reason"].as_str().is_some_and(|r| r.contains("SIGUSR1")), "{s:#}");
    assert!(w.run_dir("tl", "lr1e-3").join("resume.safetensors").exists(), "the run saved its state");
    wait_for("the task to requeue itself", Duration::from_secs(30), || task_logs(&w, "tl").contains("requeueing this task to resume its run"));
    // COMPLETING while its shell ends, then PENDING again.
    let state = || stdout(&Command::new("squeue").args(["-h", "-j", &job, "-o", "%T"]).output().unwrap());
    wait_for("the task to be back in the queue", Duration::from_secs(60), || state().contains("PENDING"));
    let out = w.sweep(&["cancel", "runs/tl"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(queued(&job), 0);
}
