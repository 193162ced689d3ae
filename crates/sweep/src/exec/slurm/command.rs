//! The Slurm client commands sweep runs (sbatch, squeue, scancel, scontrol, sacct), each
//! with its answer parsed and its failure said in words: which command, what it printed.

use anyhow::bail;
use std::path::Path;
use std::process::{Command, Output};

/// Runs a Slurm command; a missing command says that this is not a Slurm machine.
fn run(program: &str, args: &[&str]) -> anyhow::Result<Output> {
    Command::new(program).args(args).output().map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            anyhow::anyhow!("{program} is not on PATH: the Slurm backend runs on a machine with Slurm's client commands (a cluster's login node)")
        } else {
            anyhow::anyhow!("cannot run {program}: {e}")
        }
    })
}

fn said(out: &Output) -> String {
    let text = format!("{}{}", String::from_utf8_lossy(&out.stderr), String::from_utf8_lossy(&out.stdout));
    text.trim().to_string()
}

/// Submits a batch script; returns the job id.
pub fn sbatch(script: &Path) -> anyhow::Result<String> {
    let path = script.to_string_lossy();
    let out = run("sbatch", &["--parsable", &path])?;
    if !out.status.success() {
        bail!("sbatch {path} failed: {}", said(&out));
    }
    // "1234" or "1234;cluster".
    let text = String::from_utf8_lossy(&out.stdout);
    let id = text.trim().split(';').next().unwrap_or_default().to_string();
    anyhow::ensure!(!id.is_empty() && id.bytes().all(|b| b.is_ascii_digit()), "sbatch {path} printed no job id: {}", said(&out));
    Ok(id)
}

/// One line of `squeue`: an array task, or a range of pending tasks ("12_[4-9%2]").
#[derive(Debug, Clone, PartialEq)]
pub struct Queued {
    pub task: String,
    pub state: String,
    /// The node of a running task; empty while pending.
    pub node: String,
    /// Why a pending task waits (Priority, Resources, JobArrayTaskLimit…).
    pub reason: String,
}

/// The tasks of these jobs still in the queue (pending, running, completing).
pub fn squeue(job_ids: &[String]) -> anyhow::Result<Vec<Queued>> {
    if job_ids.is_empty() {
        return Ok(Vec::new());
    }
    let ids = job_ids.join(",");
    let out = run("squeue", &["-h", "-j", &ids, "-o", "%i|%T|%N|%r"])?;
    let text = said(&out);
    if !out.status.success() {
        // Jobs Slurm has forgotten are no longer queued.
        if text.contains("Invalid job id") {
            return Ok(Vec::new());
        }
        bail!("squeue -j {ids} failed: {text}");
    }
    Ok(parse_squeue(&String::from_utf8_lossy(&out.stdout)))
}

fn parse_squeue(text: &str) -> Vec<Queued> {
    text.lines()
        .filter_map(|l| {
            let f: Vec<&str> = l.trim().split('|').collect();
            (f.len() == 4).then(|| Queued { task: f[0].into(), state: f[1].into(), node: f[2].into(), reason: f[3].into() })
        })
        .collect()
}

/// Whether a job (one task's own job id) has ended, as far as Slurm says: false when it is
/// queued or running, or when Slurm cannot be asked. One squeue call of this user's jobs
/// answers "still there" for a few seconds, so that a worker checking the claims of a hundred
/// other tasks asks Slurm once; "ended" is always confirmed by asking for that job itself,
/// since a task may have started after the cached answer.
pub fn ended(job_id: &str) -> bool {
    static QUEUE: std::sync::Mutex<Option<(std::time::Instant, Option<std::collections::HashSet<String>>)>> = std::sync::Mutex::new(None);
    let listed = {
        let mut cache = QUEUE.lock().unwrap_or_else(|e| e.into_inner());
        let fresh = cache.as_ref().is_some_and(|(at, _)| at.elapsed() < std::time::Duration::from_secs(5));
        if !fresh {
            *cache = Some((std::time::Instant::now(), my_live_jobs()));
        }
        cache.as_ref().and_then(|(_, jobs)| jobs.as_ref()).map(|jobs| jobs.contains(job_id))
    };
    listed == Some(false) && alive(job_id) == Some(false)
}

/// Whether one job is alive, asked of Slurm now: None when Slurm cannot be asked.
fn alive(job_id: &str) -> Option<bool> {
    let out = run("squeue", &["-h", "-j", job_id, "-o", "%T"]).ok()?;
    if !out.status.success() {
        return said(&out).contains("Invalid job id").then_some(false);
    }
    Some(String::from_utf8_lossy(&out.stdout).lines().any(|state| !is_final(state.trim())))
}

/// The job ids (each array task's own) of this user's jobs that have not ended.
fn my_live_jobs() -> Option<std::collections::HashSet<String>> {
    let user = nix::unistd::User::from_uid(nix::unistd::getuid()).ok().flatten().map_or_else(|| nix::unistd::getuid().to_string(), |u| u.name);
    let out = run("squeue", &["-h", "-u", &user, "-o", "%A|%T"]).ok()?;
    if !out.status.success() {
        return None;
    }
    let text = String::from_utf8_lossy(&out.stdout);
    Some(text.lines().filter_map(|l| l.split_once('|')).filter(|(_, state)| !is_final(state.trim())).map(|(id, _)| id.trim().to_string()).collect())
}

/// States a job does not leave.
fn is_final(state: &str) -> bool {
    matches!(
        state,
        "" | "COMPLETED"
            | "CANCELLED"
            | "FAILED"
            | "TIMEOUT"
            | "OUT_OF_MEMORY"
            | "NODE_FAIL"
            | "PREEMPTED"
            | "BOOT_FAIL"
            | "DEADLINE"
            | "REVOKED"
            | "SPECIAL_EXIT"
    )
}

/// Cancels jobs: running tasks get SIGTERM (their trials save their state), pending ones never start.
pub fn scancel(job_ids: &[String]) -> anyhow::Result<()> {
    let args: Vec<&str> = job_ids.iter().map(String::as_str).collect();
    let out = run("scancel", &args)?;
    if !out.status.success() {
        bail!("scancel {} failed: {}", args.join(" "), said(&out));
    }
    Ok(())
}

/// How a job ended, as Slurm records it.
#[derive(Debug, Clone, PartialEq)]
pub struct Ended {
    /// TIMEOUT, OUT_OF_MEMORY, NODE_FAIL, CANCELLED, PREEMPTED, FAILED, COMPLETED…
    pub state: String,
    /// Slurm's reason field, when it says more than "None".
    pub reason: Option<String>,
    /// "exit:signal", e.g. 0:15 for SIGTERM.
    pub exit_code: Option<String>,
}

impl Ended {
    /// What happened, in words: "reached its time limit (exit code 0:15)".
    pub fn words(&self) -> String {
        let what = match self.state.as_str() {
            "TIMEOUT" => "reached its time limit (--time)".to_string(),
            "OUT_OF_MEMORY" => "ran out of memory (--mem): give the tasks more memory or train a smaller model".to_string(),
            "NODE_FAIL" => "ended because its node failed".to_string(),
            "CANCELLED" => "was cancelled (scancel)".to_string(),
            "PREEMPTED" => "was preempted by a job of higher priority".to_string(),
            "BOOT_FAIL" => "could not boot its node".to_string(),
            "DEADLINE" => "passed its deadline".to_string(),
            "FAILED" => "ended with an error (its worker process died)".to_string(),
            "COMPLETED" => "ended without finishing this run".to_string(),
            other => format!("ended ({other})"),
        };
        let mut extra = Vec::new();
        if let Some(r) = &self.reason {
            extra.push(format!("reason {r}"));
        }
        if let Some(c) = self.exit_code.as_ref().filter(|c| *c != "0:0") {
            extra.push(format!("exit code {c}"));
        }
        if extra.is_empty() { what } else { format!("{what} ({})", extra.join(", ")) }
    }
}

/// How a job ended: from `scontrol show job` (which remembers ended jobs for a few minutes),
/// else from `sacct` (when the cluster keeps accounting). None when neither knows.
pub fn how_it_ended(job_id: &str) -> Option<Ended> {
    if let Ok(out) = run("scontrol", &["-o", "show", "job", job_id])
        && out.status.success()
        && let Some(e) = parse_scontrol(&String::from_utf8_lossy(&out.stdout), job_id)
    {
        return Some(e);
    }
    let out = run("sacct", &["-n", "-P", "-X", "-j", job_id, "-o", "State,ExitCode"]).ok()?;
    let text = String::from_utf8_lossy(&out.stdout);
    let line = text.lines().next()?;
    let (state, code) = line.split_once('|')?;
    // "CANCELLED by 0" → "CANCELLED".
    let state = state.split_whitespace().next()?.to_string();
    Some(Ended { state, reason: None, exit_code: Some(code.trim().to_string()) })
}

fn parse_scontrol(text: &str, job_id: &str) -> Option<Ended> {
    let line = text.lines().find(|l| l.split_whitespace().any(|f| f == format!("JobId={job_id}")))?;
    let field = |key: &str| line.split_whitespace().find_map(|f| f.strip_prefix(key).and_then(|v| v.strip_prefix('='))).map(str::to_string);
    let state = field("JobState")?;
    is_final(&state).then(|| Ended { state, reason: field("Reason").filter(|r| r != "None"), exit_code: field("ExitCode") })
}

/// The state of every task of a job array from accounting: (task, state), e.g. ("12_3", "TIMEOUT").
pub fn sacct_states(job_id: &str) -> anyhow::Result<Vec<(String, String)>> {
    let out = run("sacct", &["-n", "-P", "-X", "-j", job_id, "-o", "JobID,State"])?;
    if !out.status.success() {
        bail!("sacct -j {job_id} failed: {}", said(&out));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let (task, state) = l.split_once('|')?;
            Some((task.to_string(), state.split_whitespace().next()?.to_string()))
        })
        .collect())
}

impl Queued {
    /// The array's job id: "12" of "12_3" or "12_[4-9%2]".
    pub fn job(&self) -> &str {
        self.task.split('_').next().unwrap_or(&self.task)
    }

    /// Tasks this line stands for (a range of pending tasks is one line).
    pub fn tasks(&self) -> usize {
        task_count(&self.task)
    }
}

/// Tasks of these squeue lines in one of these states.
pub fn count_in(queued: &[&Queued], states: &[&str]) -> usize {
    queued.iter().filter(|q| states.contains(&q.state.as_str())).map(|q| q.tasks()).sum()
}

/// Tasks in a squeue line's task field: "12_3" is one, "12_[4-9%2]" six, "12_[1,3,5-6]" four.
fn task_count(task: &str) -> usize {
    let Some(range) = task.split_once("_[").map(|(_, r)| r.trim_end_matches(']')) else { return 1 };
    let range = range.split('%').next().unwrap_or_default();
    range
        .split(',')
        .map(|part| match part.split_once('-') {
            Some((a, b)) => b.parse::<usize>().unwrap_or(0).saturating_sub(a.parse().unwrap_or(0)) + 1,
            None => 1,
        })
        .sum()
}

/// Whether the cluster keeps job accounting (`sacct` answers), and if not what it said.
pub fn accounting() -> Result<(), String> {
    match run("sacct", &["-n", "-X", "-j", "1"]) {
        Err(e) => Err(format!("{e:#}")),
        Ok(out) => {
            let text = said(&out);
            if out.status.success() && !text.contains("disabled") { Ok(()) } else { Err(text.lines().next().unwrap_or("sacct failed").to_string()) }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn squeue_lines_and_scontrol_records_parse() {
        // As Slurm 22.05 prints them (`squeue -h -j 6 -o '%i|%T|%N|%r'`).
        let q = parse_squeue("6_[2-4%2]|PENDING||JobArrayTaskLimit\n6_1|RUNNING|vm|None\n");
        assert_eq!(q.len(), 2);
        assert_eq!((q[1].task.as_str(), q[1].state.as_str(), q[1].node.as_str()), ("6_1", "RUNNING", "vm"));
        assert_eq!(q[0].reason, "JobArrayTaskLimit");
        assert_eq!([task_count(&q[0].task), task_count("6_1"), task_count("7_[1,3,5-6]")], [3, 1, 4]);

        let show = "JobId=8 ArrayJobId=6 ArrayTaskId=1 JobName=sweep-s UserId=root(0) JobState=TIMEOUT Reason=None Dependency=(null) ExitCode=0:15 NodeList=vm\n\
                    JobId=7 ArrayJobId=6 ArrayTaskId=0 JobState=RUNNING Reason=None ExitCode=0:0\n";
        let e = parse_scontrol(show, "8").unwrap();
        assert_eq!(e, Ended { state: "TIMEOUT".into(), reason: None, exit_code: Some("0:15".into()) });
        assert_eq!(e.words(), "reached its time limit (--time) (exit code 0:15)");
        assert_eq!(parse_scontrol(show, "7"), None, "a running job has not ended");
        assert_eq!(parse_scontrol(show, "9"), None);
        let oom = Ended { state: "OUT_OF_MEMORY".into(), reason: Some("OutOfMemory".into()), exit_code: Some("0:125".into()) };
        assert!(oom.words().starts_with("ran out of memory (--mem)"), "{}", oom.words());
    }
}
