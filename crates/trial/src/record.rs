//! summary.json for every attempt a trial made, whatever happened: any error or panic
//! becomes a failed summary (with the usual fix for running out of memory); a failing
//! output filesystem an interrupted one, and the exit code that tells the sweep the cause
//! (`sweep::exit_code::TRIAL_*`). A finished run's saved state goes only once its summary
//! is written.

use crate::observer::say;
use std::time::Instant;
use sweep::exit_code;
use sweep::output::disk;
use sweep::output::run_dir::RunDir;
use sweep::{Status, Summary};

/// The swept values of a run, by setting name.
pub(crate) type Params = indexmap::IndexMap<String, serde_json::Value>;
/// What one run's attempt came to: its summary, an error, or a panic.
pub(crate) type Attempt = std::thread::Result<anyhow::Result<Summary>>;

/// Writes the summary of one run's attempt and returns the trial's exit code for it.
pub(crate) fn record(dir: &RunDir, params: Params, start: Instant, result: Attempt, prefix: &str) -> anyhow::Result<u8> {
    let error = match &result {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(format!("{e:#}")),
        Err(panic) => Some(panic_text(panic.as_ref())),
    };
    // A full, read-only or failing output filesystem is the sweep's problem: the run is
    // interrupted (its last checkpoint stands) and the exit code tells the sweep why.
    if let Some(cause) = error.as_deref().and_then(disk::classify) {
        return Ok(storage_exit(dir, params, start, cause, error.as_deref().unwrap_or_default(), prefix));
    }
    let mut summary = match result {
        Ok(Ok(summary)) => summary,
        _ => Summary::failed(&dir.id(), params.clone(), start.elapsed().as_secs_f64(), hint(error.as_deref().unwrap_or("panic"))),
    };
    summary.gpu = gpu_from_env();
    if let Some(e) = &summary.error {
        say(&format!("{prefix}run {}: {e}", summary.status.as_str()));
    }
    if let Err(e) = dir.write_summary(&summary) {
        let text = format!("{e:#}");
        return match disk::classify(&text) {
            Some(cause) => Ok(storage_exit(dir, params, start, cause, &text, prefix)),
            None => Err(e),
        };
    }
    // Only now is the run finished for good: its training state may go. (Removed earlier, a
    // kill between the two would make the next `sweep run` train it again from scratch.)
    if matches!(summary.status, Status::Done | Status::Diverged) {
        let _ = std::fs::remove_file(dir.resume_state());
    }
    if summary.status == Status::Done {
        say(&format!("{prefix}run {}: finished", dir.id()));
    }
    Ok(exit_code::OK)
}

/// The GPU the sweep placed this trial on (`SWEEP_GPU`: index, estimate, neighbours, name),
/// with the `CUDA_VISIBLE_DEVICES` this process saw; None when it was not placed.
pub(crate) fn gpu_from_env() -> Option<sweep::output::summary::GpuUse> {
    let value = std::env::var(sweep::exec::gpu::TRIAL_ENV).ok()?;
    let mut parts = value.splitn(4, ':');
    Some(sweep::output::summary::GpuUse {
        index: parts.next()?.parse().ok()?,
        estimate_bytes: parts.next().and_then(|e| e.parse().ok()),
        neighbours: parts.next().and_then(|n| n.parse().ok()).unwrap_or(0),
        name: parts.next().unwrap_or_default().to_string(),
        cuda_visible_devices: std::env::var("CUDA_VISIBLE_DEVICES").unwrap_or_default(),
        peak_at_oom: None,
    })
}

/// For tests without a GPU only: `SWEEP_FAKE_CUDA_OOM=<run id>` makes that run's trial fail
/// with libtorch's CUDA out-of-memory text when the sweep placed it beside other trials,
/// `<run id>:always` even alone; `*` stands for every run. Read only when set.
pub(crate) fn fake_cuda_oom(dir: &RunDir) -> anyhow::Result<()> {
    let Ok(fake) = std::env::var("SWEEP_FAKE_CUDA_OOM") else { return Ok(()) };
    let (id, always) = match fake.strip_suffix(":always") {
        Some(id) => (id.to_string(), true),
        None => (fake, false),
    };
    let neighbours = gpu_from_env().map_or(0, |g| g.neighbours);
    if (id == "*" || id == dir.id()) && (always || neighbours > 0) {
        anyhow::bail!(
            "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 8.00 GiB of which 1.00 GiB is free. \
             Including non-PyTorch memory, this process has 6.50 GiB memory in use. (fake, SWEEP_FAKE_CUDA_OOM)"
        );
    }
    Ok(())
}

fn panic_text(panic: &(dyn std::any::Any + Send)) -> String {
    panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_else(|| "panic".into())
}

/// Stops a trial whose output filesystem failed: removes the temporary files the failed
/// write left, records the run as interrupted where that can still be written, and
/// returns the exit code that tells the sweep the cause.
fn storage_exit(dir: &RunDir, params: Params, start: Instant, cause: disk::Cause, error: &str, prefix: &str) -> u8 {
    dir.remove_temporary_files();
    let first = error.lines().next().unwrap_or(error);
    let summary = Summary::storage_interrupted(&dir.id(), params, start.elapsed().as_secs_f64(), cause, first);
    let _ = dir.write_summary(&summary);
    say(&format!("{prefix}run interrupted: {}: {first}", cause.describe()));
    cause.trial_exit_code() as u8
}

/// The first line of an error, with the usual fix added to an out-of-memory message.
pub(crate) fn hint(msg: &str) -> String {
    let first = msg.lines().next().unwrap_or(msg).to_string();
    if msg.contains("out of memory") || msg.contains("can't allocate memory") {
        if first.contains("lower batch_size") { first } else { format!("out of memory: {first}; lower batch_size or block_size") }
    } else {
        first
    }
}

/// The most resident memory this process has used (VmHWM), in MiB; Linux only.
pub(crate) fn peak_memory_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb / 1024)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn run_dir() -> (tempfile::TempDir, RunDir) {
        let dir = tempfile::tempdir().unwrap();
        let run = RunDir::new(dir.path().join("lr1e-3"));
        std::fs::create_dir_all(&run.path).unwrap();
        (dir, run)
    }

    #[test]
    fn an_error_or_a_panic_is_a_failed_summary_with_its_first_line() {
        let (_tmp, dir) = run_dir();
        let code = record(&dir, Params::new(), Instant::now(), Ok(Err(anyhow::anyhow!("bad shape\ndetails"))), "").unwrap();
        assert_eq!(code, exit_code::OK);
        let s = dir.read_summary().unwrap();
        assert_eq!((s.status, s.error.as_deref()), (Status::Failed, Some("bad shape")));

        let panic: Attempt = Err(Box::new("index out of range"));
        record(&dir, Params::new(), Instant::now(), panic, "").unwrap();
        assert_eq!(dir.read_summary().unwrap().error.as_deref(), Some("index out of range"));
    }

    #[test]
    fn out_of_memory_gets_the_fix() {
        assert_eq!(
            hint("CUDA out of memory. Tried to allocate 2 GiB\nmore"),
            "out of memory: CUDA out of memory. Tried to allocate 2 GiB; lower batch_size or block_size"
        );
        assert_eq!(hint("shape mismatch"), "shape mismatch");
    }

    #[test]
    fn a_full_disk_is_an_interrupted_run_and_the_exit_code_names_it() {
        let (_tmp, dir) = run_dir();
        let full: Attempt = Ok(Err(anyhow::anyhow!("cannot append to runs/s/lr1e-3/loss.csv: No space left on device (os error 28)")));
        let code = record(&dir, Params::new(), Instant::now(), full, "").unwrap();
        assert_eq!(code, exit_code::TRIAL_NO_SPACE);
        assert_eq!(disk::Cause::from_trial_exit_code(code.into()), Some(disk::Cause::NoSpace));
        let s = dir.read_summary().unwrap();
        assert_eq!(s.status, Status::Interrupted);
        assert_eq!(s.error.as_deref(), Some("no space left on device while writing loss.csv; the next `sweep run` resumes it"));
    }

    #[test]
    fn a_finished_run_drops_its_saved_state_only_after_its_summary() {
        let (_tmp, dir) = run_dir();
        std::fs::write(dir.resume_state(), b"state").unwrap();
        let mut done = Summary::failed(&dir.id(), Params::new(), 1.0, String::new());
        (done.status, done.error) = (Status::Done, None);
        record(&dir, Params::new(), Instant::now(), Ok(Ok(done)), "").unwrap();
        assert!(!dir.resume_state().exists());
        assert_eq!(dir.read_summary().unwrap().status, Status::Done);
    }
}
