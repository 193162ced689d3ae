//! How one trial is run: `ProcessRunner` starts `sweep trial <run dir>…` (one run, or a pack
//! of same-shape runs trained as one model) as a child process
//! in its own process group, so that a libtorch abort or segfault fails that run only and
//! Ctrl-C reaches the sweep first. A run whose child died without a summary is recorded
//! as failed with the exit status and the log's tail; one that exited with a filesystem
//! cause (`disk::Cause::trial_exit_code`) as interrupted.

use crate::output::disk::Cause;
use crate::output::run_dir::RunDir;
use crate::output::summary::{Status, Summary};
use crate::plan::PlannedRun;
use nix::sys::signal::Signal;
use std::collections::HashMap;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Mutex;
use std::time::Instant;

pub trait TrialRunner: Sync {
    /// Trains the run prepared in `dir` and returns its summary (also written to the folder).
    fn run(&self, run: &PlannedRun, dir: &RunDir) -> Summary;
    /// Trains runs of one shape packed into one model; one summary per member, in order.
    /// Runners that cannot pack train them one after another.
    fn run_pack(&self, members: &[(&PlannedRun, &RunDir)]) -> Vec<Summary> {
        members.iter().map(|(run, dir)| self.run(run, dir)).collect()
    }
}

/// Running trial processes by run id, so that signals can be forwarded to them; whether the
/// sweep is stopping, and which runs early termination asked to stop, so that a trial
/// registered after the request is asked to stop too.
#[derive(Debug, Default)]
pub struct Children(Mutex<ChildTable>);

#[derive(Debug, Default)]
struct ChildTable {
    pids: HashMap<String, u32>,
    /// The whole sweep is stopping.
    all: bool,
    /// Runs asked to stop one by one (early termination).
    asked: std::collections::HashSet<String>,
    /// Runs whose process early termination holds at a rung (SIGSTOP) until it decides, and since when.
    paused: HashMap<String, Instant>,
    /// Seconds trials were held at rungs, summed over runs.
    held_s: f64,
}

impl ChildTable {
    /// Lets run `id` go if it is held; its pid when it was.
    fn unpause(&mut self, id: &str) -> Option<u32> {
        let since = self.paused.remove(id)?;
        self.held_s += since.elapsed().as_secs_f64();
        self.pids.get(id).copied()
    }
}

impl Children {
    /// The running trial processes (a pack's process once, though it trains several runs).
    pub fn pids(&self) -> Vec<u32> {
        let mut pids: Vec<u32> = self.lock().pids.values().copied().collect();
        pids.sort_unstable();
        pids.dedup();
        pids
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, ChildTable> {
        self.0.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Asks every running trial, and every one registered from now on, to save its state
    /// and stop (SIGINT).
    pub fn stop_all(&self) {
        let mut guard = self.lock();
        guard.all = true;
        for pid in guard.pids.values() {
            interrupt(*pid);
        }
        // A paused trial acts on its SIGINT once it runs again.
        let held: Vec<String> = guard.paused.keys().cloned().collect();
        for id in held {
            if let Some(pid) = guard.unpause(&id) {
                signal(pid, Signal::SIGCONT);
            }
        }
    }

    /// Asks the trial of run `id` to save its state and stop (SIGINT), now or as it starts.
    pub fn stop_one(&self, id: &str) {
        let mut guard = self.lock();
        guard.asked.insert(id.to_string());
        if let Some(pid) = guard.pids.get(id).copied() {
            interrupt(pid);
            if guard.unpause(id).is_some() {
                signal(pid, Signal::SIGCONT);
            }
        }
    }

    /// Holds the trial of run `id` where it is (SIGSTOP), while early termination waits for
    /// the runs before it in plan order; a no-op when it is not running or already held.
    pub fn pause(&self, id: &str) {
        let mut guard = self.lock();
        if guard.all || guard.asked.contains(id) {
            return;
        }
        if let Some(&pid) = guard.pids.get(id)
            && !guard.paused.contains_key(id)
        {
            guard.paused.insert(id.to_string(), Instant::now());
            signal(pid, Signal::SIGSTOP);
        }
    }

    /// Lets a held trial go on (SIGCONT).
    pub fn resume(&self, id: &str) {
        if let Some(pid) = self.lock().unpause(id) {
            signal(pid, Signal::SIGCONT);
        }
    }

    /// Seconds trials have been held at rungs so far, summed over runs.
    pub fn held_seconds(&self) -> f64 {
        let guard = self.lock();
        guard.held_s + guard.paused.values().map(|t| t.elapsed().as_secs_f64()).sum::<f64>()
    }

    /// Whether run `id` was asked to stop (for runners that are not processes).
    pub fn stop_asked(&self, id: &str) -> bool {
        let guard = self.lock();
        guard.all || guard.asked.contains(id)
    }

    /// Forgets a stop request for run `id` once its attempt is over (a retry starts afresh).
    pub fn forget(&self, id: &str) {
        self.lock().asked.remove(id);
    }

    fn set(&self, id: &str, pid: Option<u32>) {
        let mut guard = self.lock();
        match pid {
            Some(pid) => {
                // Started just as the sweep (or this run) was asked to stop: it must not train on alone.
                if guard.all || guard.asked.contains(id) {
                    interrupt(pid);
                }
                guard.pids.insert(id.to_string(), pid);
            }
            None => {
                guard.unpause(id);
                guard.pids.remove(id);
            }
        }
    }
}

fn interrupt(pid: u32) {
    signal(pid, Signal::SIGINT);
}

fn signal(pid: u32, signal: Signal) {
    let _ = nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), signal);
}

/// glibc settings for trial processes (unless the user set them, or set
/// SWEEP_NO_MALLOC_TUNING to compare with glibc's defaults: bench/malloc_thresholds.sh):
/// keep freed memory up to 1 GiB in the heap rather than unmapping it.
pub const MALLOC_TUNING: [(&str, &str); 2] = [("MALLOC_MMAP_THRESHOLD_", "1073741824"), ("MALLOC_TRIM_THRESHOLD_", "1073741824")];

/// Runs each trial as `<exe> trial <dir> --threads N`, output appended to the run's train.log;
/// on a GPU placed by `gpus` when there are GPUs to place trials on.
pub struct ProcessRunner {
    pub exe: PathBuf,
    pub threads_per_trial: usize,
    pub children: std::sync::Arc<Children>,
    pub gpus: Option<std::sync::Arc<crate::exec::gpu::Gpus>>,
}

impl TrialRunner for ProcessRunner {
    fn run(&self, run: &PlannedRun, dir: &RunDir) -> Summary {
        self.run_pack(&[(run, dir)]).remove(0)
    }

    /// One process for the pack (or the run), on a GPU with room when the sweep places
    /// trials on GPUs.
    fn run_pack(&self, members: &[(&PlannedRun, &RunDir)]) -> Vec<Summary> {
        match &self.gpus {
            Some(gpus) => gpus.run(members, &|env| self.spawn(members, env)),
            None => self.spawn(members, &[]),
        }
    }
}

impl ProcessRunner {
    /// One process for the pack: `<exe> trial DIR… --threads N`, with `env` added. A lone
    /// trial writes its train.log directly; a pack's output comes through a pipe and each
    /// `[run id] ` line goes to that run's train.log (any other line, such as a crash, to
    /// every member's).
    fn spawn(&self, members: &[(&PlannedRun, &RunDir)], env: &[(String, String)]) -> Vec<Summary> {
        let start = Instant::now();
        let fail = |run: &PlannedRun, dir: &RunDir, reason: String| {
            let wall = start.elapsed().as_secs_f64();
            let s = match crate::output::disk::classify(&reason) {
                Some(cause) => Summary::storage_interrupted(&run.id, run.params.clone(), wall, cause, &reason),
                None => Summary::failed(&run.id, run.params.clone(), wall, reason),
            };
            if let Err(e) = dir.write_summary(&s) {
                tracing::error!("cannot write {}: {e:#}", dir.summary().display());
            }
            s
        };
        let fail_all = |reason: String| members.iter().map(|(run, dir)| fail(run, dir, reason.clone())).collect::<Vec<_>>();
        let open = |dir: &RunDir| std::fs::OpenOptions::new().create(true).append(true).open(dir.log());
        let mut logs = Vec::new();
        for (_, dir) in members {
            match open(dir) {
                Ok(f) => logs.push((format!("[{}] ", dir.id()), f)),
                Err(e) => return fail_all(format!("cannot open {}: {e}", dir.log().display())),
            }
        }
        let mut command = Command::new(&self.exe);
        command.arg("trial");
        for (_, dir) in members {
            command.arg(&dir.path);
        }
        // glibc returns a freed block above its mmap threshold to the kernel, so a step that
        // allocates and frees large activations page-faults them in anew every time; with
        // these thresholds they are reused (bench/malloc_thresholds.sh measures it).
        for (var, value) in MALLOC_TUNING {
            if std::env::var_os(var).is_none() && std::env::var_os("SWEEP_NO_MALLOC_TUNING").is_none() {
                command.env(var, value);
            }
        }
        command.envs(env.iter().map(|(k, v)| (k, v)));
        command
            .arg("--threads")
            .arg(self.threads_per_trial.to_string())
            .stdin(Stdio::null())
            // Own process group: a terminal's Ctrl-C goes to the sweep, which forwards it once.
            .process_group(0);
        let mut pipe = None;
        if members.len() == 1 {
            let (log, err_log) = match (open(members[0].1), open(members[0].1)) {
                (Ok(a), Ok(b)) => (a, b),
                (Err(e), _) | (_, Err(e)) => return fail_all(format!("cannot open {}: {e}", members[0].1.log().display())),
            };
            command.stdout(log).stderr(err_log);
        } else {
            let (reader, writer) = match std::io::pipe() {
                Ok(p) => p,
                Err(e) => return fail_all(format!("cannot create a pipe for the pack's output: {e}")),
            };
            let err_writer = match writer.try_clone() {
                Ok(w) => w,
                Err(e) => return fail_all(format!("cannot create a pipe for the pack's output: {e}")),
            };
            command.stdout(writer).stderr(err_writer);
            pipe = Some(reader);
        }
        let sweep_pid = std::process::id();
        // SAFETY: runs in the forked child before exec and only makes the prctl and getppid
        // system calls, which are async-signal-safe.
        let child = unsafe {
            command.pre_exec(move || {
                // Die with the sweep: a `kill -9` of `sweep run` must not leave a trial
                // training on, unsupervised. Set before exec, so there is no window.
                nix::sys::prctl::set_pdeathsig(nix::sys::signal::Signal::SIGKILL).map_err(std::io::Error::from)?;
                if nix::unistd::getppid().as_raw() as u32 != sweep_pid {
                    return Err(std::io::Error::other("the sweep exited before its trial started"));
                }
                Ok(())
            })
        }
        .spawn();
        // The command holds the pipe's writing ends: dropped, the reader sees the end of the output.
        drop(command);
        let mut child = match child {
            Ok(c) => c,
            Err(e) => return fail_all(format!("cannot start trial process {}: {e}", self.exe.display())),
        };
        let router = pipe.map(|reader| std::thread::spawn(move || route_lines(reader, logs)));
        for (run, _) in members {
            self.children.set(&run.id, Some(child.id()));
        }
        let status = child.wait();
        if let Some(router) = router {
            let _ = router.join();
        }
        let mut out = Vec::new();
        for (run, dir) in members {
            let asked = self.children.stop_asked(&run.id);
            self.children.set(&run.id, None);
            out.push(match &status {
                Ok(status) => self.member_result(run, dir, *status, asked, start, &fail, members.len() == 1),
                Err(e) => fail(run, dir, format!("cannot wait for the trial process: {e}")),
            });
        }
        out
    }
}

/// Copies a pack's output into its members' logs: `[id] text` to that member's (without the
/// prefix), anything else to every member's.
fn route_lines(reader: std::io::PipeReader, mut logs: Vec<(String, std::fs::File)>) {
    use std::io::{BufRead, Write};
    let mut reader = std::io::BufReader::new(reader);
    let mut bytes = Vec::new();
    // Read to the end whatever comes (text that is not UTF-8 included): a reader that
    // stopped would break the pipe and fail the pack.
    while matches!(reader.read_until(b'\n', &mut bytes), Ok(n) if n > 0) {
        let line = String::from_utf8_lossy(&bytes).trim_end_matches(['\n', '\r']).to_string();
        bytes.clear();
        match logs.iter_mut().find(|(prefix, _)| line.starts_with(prefix.as_str())) {
            Some((prefix, log)) => {
                let _ = writeln!(log, "{}", &line[prefix.len()..]);
            }
            None => {
                for (_, log) in logs.iter_mut() {
                    let _ = writeln!(log, "{line}");
                }
            }
        }
    }
}

impl ProcessRunner {
    /// A member's summary once its trial process has exited with `status`.
    #[allow(clippy::too_many_arguments)]
    fn member_result(
        &self,
        run: &PlannedRun,
        dir: &RunDir,
        status: std::process::ExitStatus,
        asked: bool,
        start: Instant,
        fail: &dyn Fn(&PlannedRun, &RunDir, String) -> Summary,
        members_alone: bool,
    ) -> Summary {
        // A trial whose filesystem failed says so by its exit code: it may have been unable
        // to write its summary or log.
        // (In a pack the code is that of one member: the others' own summaries stand.)
        if let Some(cause) = status.code().and_then(Cause::from_trial_exit_code) {
            return match dir.read_summary() {
                Some(s) if s.status != Status::Interrupted || s.storage.is_some() => s,
                Some(mut s) if members_alone => {
                    s.storage = Some(cause);
                    s
                }
                Some(s) => s,
                None => Summary::storage_interrupted(&run.id, run.params.clone(), start.elapsed().as_secs_f64(), cause, ""),
            };
        }
        // Asked to stop before it could install its handler (libtorch still loading): it
        // trained nothing since its last checkpoint, which stands.
        if asked && std::os::unix::process::ExitStatusExt::signal(&status) == Some(nix::sys::signal::Signal::SIGINT as i32) {
            let mut s =
                Summary::failed(&run.id, run.params.clone(), start.elapsed().as_secs_f64(), "stopped before training resumed; its saved state stands".into());
            s.status = Status::Interrupted;
            let _ = dir.write_summary(&s);
            return s;
        }
        // The summary is this attempt's (the sweep removes the old one first): a run that
        // finished keeps it even when the process then failed (on another member, at exit).
        match dir.read_summary() {
            Some(summary) if status.success() || summary.status != Status::Interrupted => summary,
            _ => {
                // The first line says why; the log's last lines follow for the details.
                let tail = dir.log_tail(5);
                match tail.lines().last() {
                    Some(last) => fail(run, dir, format!("{DIED} {}: {last}\nlast lines of train.log:\n{tail}", describe_exit(status))),
                    None => fail(run, dir, format!("{DIED} {} and left nothing in train.log", describe_exit(status))),
                }
            }
        }
    }
}

/// How the error of a run whose trial process died without a summary begins.
const DIED: &str = "trial process";

/// Whether `summary` is that of a run whose trial process died (a crash, a kill) before it
/// could write its own, or whose pack failed as a whole (out of memory): in a pack, any
/// member may have caused it, so each trains on alone.
pub fn died_without_summary(summary: &Summary) -> bool {
    summary.status == Status::Failed && summary.error.as_deref().is_some_and(|e| e.starts_with(DIED) || e.contains(PACK_FAILED))
}

/// How a trial says a pack failed as a whole (out of memory, a libtorch error, a panic);
/// `train::packed::PACK_FAILED`, which this crate cannot link.
const PACK_FAILED: &str = "the pack failed";

fn describe_exit(status: std::process::ExitStatus) -> String {
    use std::os::unix::process::ExitStatusExt;
    if let Some(sig) = status.signal() {
        let name = match sig {
            6 => " (SIGABRT: libtorch aborted)",
            9 => " (SIGKILL: killed, often by the out-of-memory killer)",
            11 => " (SIGSEGV: crashed)",
            _ => "",
        };
        return format!("was killed by signal {sig}{name}");
    }
    match status.code() {
        Some(code) => format!("exited with code {code} without writing summary.json"),
        None => "ended abnormally".to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A process's state letter from /proc (R, S, T for stopped, …).
    fn state(pid: u32) -> char {
        let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
        stat.rsplit(')').next().and_then(|rest| rest.trim().chars().next()).unwrap_or('?')
    }

    fn wait_for_state(pid: u32, want: char) -> bool {
        (0..200).any(|_| {
            std::thread::sleep(std::time::Duration::from_millis(10));
            state(pid) == want
        })
    }

    /// A trial held at a rung is stopped (SIGSTOP) and goes on when let go; Ctrl-C reaches a
    /// held trial too (SIGINT, then SIGCONT so that it acts on it), and the time it was held
    /// is counted.
    #[test]
    fn a_held_trial_is_paused_let_go_and_still_stops_on_ctrl_c() {
        let mut child = Command::new("sleep").arg("30").spawn().unwrap();
        let pid = child.id();
        let children = Children::default();
        children.set("r", Some(pid));
        children.pause("r");
        assert!(wait_for_state(pid, 'T'), "held: stopped");
        children.resume("r");
        assert!(wait_for_state(pid, 'S'), "let go: sleeping again");
        children.pause("r");
        assert!(wait_for_state(pid, 'T'));
        std::thread::sleep(std::time::Duration::from_millis(50));
        children.stop_all();
        let status = child.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(nix::libc::SIGINT), "Ctrl-C reached the held trial");
        assert!(children.held_seconds() >= 0.05, "held {} s", children.held_seconds());
        // A run asked to stop is never held.
        children.set("r", None);
        let mut other = Command::new("sleep").arg("30").spawn().unwrap();
        children.set("q", Some(other.id()));
        children.stop_one("q");
        children.pause("q");
        let status = other.wait().unwrap();
        assert_eq!(std::os::unix::process::ExitStatusExt::signal(&status), Some(nix::libc::SIGINT));
    }
}
