//! Per-run claim files, so that several `sweep run` workers (on one machine, or on several
//! sharing a filesystem) split a sweep without training any run twice. `claim.json` in a
//! run folder names its owner (host, pid) and carries a heartbeat; a claim whose owner is
//! dead (same host), whose heartbeat is stale (any host), or whose Slurm task has ended
//! (`--backend slurm`: asked of squeue) is taken over.

use crate::exec::slurm;
use crate::output::run_dir::RunDir;
use crate::output::worker::Task;
use crate::output::worker::hostname;
use serde::{Deserialize, Serialize};
use std::fs::OpenOptions;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

/// How often an owner refreshes its heartbeat.
pub const HEARTBEAT_SECS: u64 = 5;
/// A heartbeat older than this means the owner is gone (12 missed beats: generous for
/// network filesystems with coarse timestamps and for paused machines).
pub const STALE_AFTER_SECS: u64 = 60;

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ClaimFile {
    pub host: String,
    pub pid: u32,
    pub started_unix: u64,
    pub heartbeat_unix: u64,
    /// The Slurm task of the owner, when a Slurm job array runs it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm: Option<Task>,
}

/// A claim this process holds; released (file removed) by `release`.
#[derive(Debug)]
pub struct Claim {
    path: PathBuf,
    me: ClaimFile,
}

fn now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

fn pid_alive(pid: u32) -> bool {
    // Signal 0 checks existence; EPERM still means the process exists.
    match nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid as i32), None) {
        Ok(()) => true,
        Err(e) => e == nix::errno::Errno::EPERM,
    }
}

/// Why a claim file is not ours to keep waiting on, if it is not.
pub fn stale_reason(c: &ClaimFile, host: &str) -> Option<String> {
    if c.host == host && !pid_alive(c.pid) {
        return Some(format!("its owner (pid {} on {}) is not running", c.pid, c.host));
    }
    if let Some(task) = &c.slurm {
        // A requeued task starts again under the same job id: its earlier start is gone.
        if Task::from_env().is_some_and(|me| me.job_id == task.job_id) && (c.host != host || c.pid != std::process::id()) {
            return Some(format!("an earlier start of this {} held it", task.describe()));
        }
        if slurm::command::ended(&task.job_id) {
            return Some(format!("its owner's {} has ended", task.describe()));
        }
    }
    let age = now().saturating_sub(c.heartbeat_unix);
    (age > STALE_AFTER_SECS).then(|| format!("its owner ({}:{}) has not sent a heartbeat for {age} s", c.host, c.pid))
}

pub fn read(dir: &Path) -> Option<ClaimFile> {
    read_file(&RunDir::new(dir).claim())
}

fn read_file(path: &Path) -> Option<ClaimFile> {
    serde_json::from_str(&std::fs::read_to_string(path).ok()?).ok()
}

/// Moves the claim judged stale (`judged`; None: an unreadable one) out of the way, so that
/// only one of the workers that judged it at once goes on. Between judging and moving, a
/// faster worker may have taken it over already and written its own claim: that one is put
/// back, and Ok(false) says so.
pub fn move_aside(dir: &Path, judged: Option<&ClaimFile>, tag: &str) -> std::io::Result<bool> {
    let path = RunDir::new(dir).claim();
    let aside = dir.join(format!("claim.{tag}.{}.{}.{}", hostname(), std::process::id(), now()));
    match std::fs::rename(&path, &aside) {
        Ok(()) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    }
    let same = match (judged, read_file(&aside)) {
        (Some(j), Some(moved)) => j.host == moved.host && j.pid == moved.pid && j.started_unix == moved.started_unix,
        (None, moved) => moved.is_none(),
        (Some(_), None) => false,
    };
    if !same {
        // A hard link fails rather than replace a claim.json written since.
        let _ = std::fs::hard_link(&aside, &path);
    }
    let _ = std::fs::remove_file(&aside);
    Ok(same)
}

/// Tries to claim the run folder `dir` (which must exist). Ok(None): a live owner holds it.
/// `on_takeover` is told when a dead owner's claim is taken over.
pub fn try_claim(dir: &Path, on_takeover: &mut dyn FnMut(String)) -> std::io::Result<Option<Claim>> {
    let path = RunDir::new(dir).claim();
    let host = hostname();
    let me = ClaimFile { host: host.clone(), pid: std::process::id(), started_unix: now(), heartbeat_unix: now(), slurm: Task::from_env() };
    for _ in 0..2 {
        match OpenOptions::new().write(true).create_new(true).open(&path) {
            Ok(mut f) => {
                let written = f.write_all(serde_json::to_string(&me)?.as_bytes()).and_then(|_| f.sync_all());
                if let Err(e) = written {
                    // A claim cut short (a full disk) must not look like a live owner forever.
                    let _ = std::fs::remove_file(&path);
                    return Err(e);
                }
                return Ok(Some(Claim { path, me }));
            }
            Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {}
            Err(e) => return Err(e),
        }
        // Someone holds it. An unreadable claim is one being written right now: leave it,
        // unless it has been unreadable for longer than a heartbeat may be late.
        let judged = read(dir);
        let reason = match &judged {
            Some(other) => stale_reason(other, &host),
            None => {
                let age = std::fs::metadata(&path).and_then(|m| m.modified()).ok().and_then(|t| t.elapsed().ok()).map_or(0, |d| d.as_secs());
                (age > STALE_AFTER_SECS).then(|| format!("its claim.json has been unreadable for {age} s"))
            }
        };
        let Some(reason) = reason else { return Ok(None) };
        // Take over by moving the stale claim away: only one contender's move succeeds.
        if move_aside(dir, judged.as_ref(), "stale")? {
            on_takeover(reason);
        }
    }
    Ok(None)
}

impl Claim {
    /// Refreshes the heartbeat, if the claim is still ours.
    pub fn heartbeat(&self) -> std::io::Result<()> {
        match read(self.path.parent().unwrap_or(Path::new("."))) {
            Some(c) if c.host == self.me.host && c.pid == self.me.pid => {
                let beat = ClaimFile { heartbeat_unix: now(), ..self.me.clone() };
                crate::output::run_dir::write_atomic(&self.path, serde_json::to_string(&beat)?.as_bytes()).map_err(std::io::Error::other)
            }
            _ => Ok(()),
        }
    }

    /// Removes the claim file if it is still ours.
    pub fn release(self) {
        if let Some(c) = read(self.path.parent().unwrap_or(Path::new(".")))
            && c.host == self.me.host
            && c.pid == self.me.pid
        {
            let _ = std::fs::remove_file(&self.path);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A claim.json left empty by a write that failed (a full disk) is someone writing it
    /// right now only for a while: past the stale window it is taken over.
    #[test]
    fn an_unreadable_claim_is_taken_over_once_it_is_old() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("claim.json");
        let file = std::fs::File::create(&path).unwrap();
        assert!(try_claim(dir.path(), &mut |_| {}).unwrap().is_none(), "a fresh unreadable claim is left alone");
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(STALE_AFTER_SECS + 10);
        file.set_modified(old).unwrap();
        let mut notes = Vec::new();
        let claim = try_claim(dir.path(), &mut |r| notes.push(r)).unwrap().expect("taken over");
        assert!(notes[0].starts_with("its claim.json has been unreadable for"), "{notes:?}");
        claim.release();
    }

    /// Two workers judge one dead claim at once; the faster takes it over and writes its own.
    /// The slower one's move must not carry the new owner's claim away.
    #[test]
    fn a_claim_taken_over_in_between_is_put_back() {
        let dir = tempfile::tempdir().unwrap();
        let dead = ClaimFile { host: "gone".into(), pid: 1, started_unix: 1, heartbeat_unix: 1, slurm: None };
        let fresh = ClaimFile { host: hostname(), pid: std::process::id(), started_unix: now(), heartbeat_unix: now(), slurm: None };
        std::fs::write(dir.path().join("claim.json"), serde_json::to_string(&fresh).unwrap()).unwrap();
        assert!(!move_aside(dir.path(), Some(&dead), "stale").unwrap(), "not the claim judged dead");
        assert_eq!(read(dir.path()), Some(fresh));
        std::fs::write(dir.path().join("claim.json"), serde_json::to_string(&dead).unwrap()).unwrap();
        assert!(move_aside(dir.path(), Some(&dead), "stale").unwrap());
        assert_eq!(read(dir.path()), None);
        assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0, "nothing left aside");
        assert!(!move_aside(dir.path(), Some(&dead), "stale").unwrap(), "nothing to move");
    }

    #[test]
    fn one_owner_at_a_time_and_dead_owners_are_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let mut notes = Vec::new();
        let claim = try_claim(dir.path(), &mut |r| notes.push(r)).unwrap().expect("first claim");
        assert!(try_claim(dir.path(), &mut |r| notes.push(r)).unwrap().is_none(), "a live owner keeps it");
        claim.heartbeat().unwrap();
        claim.release();
        assert!(!dir.path().join("claim.json").exists());

        // A claim by a process that does not exist on this host is stale at once.
        let dead = ClaimFile { host: hostname(), pid: 999_999_999, started_unix: now(), heartbeat_unix: now(), slurm: None };
        std::fs::write(dir.path().join("claim.json"), serde_json::to_string(&dead).unwrap()).unwrap();
        let taken = try_claim(dir.path(), &mut |r| notes.push(r)).unwrap();
        assert!(taken.is_some());
        assert!(notes.last().unwrap().contains("pid 999999999"), "{notes:?}");

        // Another host's claim is stale only when its heartbeat is old.
        taken.unwrap().release();
        let far = ClaimFile { host: "other-host".into(), pid: 1, started_unix: 0, heartbeat_unix: now(), slurm: None };
        std::fs::write(dir.path().join("claim.json"), serde_json::to_string(&far).unwrap()).unwrap();
        assert!(try_claim(dir.path(), &mut |_| {}).unwrap().is_none());
        let old = ClaimFile { heartbeat_unix: now() - STALE_AFTER_SECS - 5, ..far };
        std::fs::write(dir.path().join("claim.json"), serde_json::to_string(&old).unwrap()).unwrap();
        assert!(try_claim(dir.path(), &mut |_| {}).unwrap().is_some());
    }
}
