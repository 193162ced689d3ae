//! The last lines of `sweep run`, and the exit code they mean: how many runs finished, were
//! pruned, failed, diverged or were left to other workers; what stopped the sweep (Ctrl-C,
//! a failing filesystem) and what to do; the page to open and what pruning saved. The
//! HTML page is drawn here, once, at the end (the text reports follow every run).

use crate::exec::scheduler::SweepOutcome;
use crate::exit_code;
use crate::output::run_dir::load_all;
use crate::output::summary::Status;
use crate::report::dry_run::storage_line;
use crate::report::{html, savings};
use std::path::Path;

/// The lines to print and the exit code, for a sweep named `name` in `sweep_dir`.
pub fn sweep_end(name: &str, outcome: &SweepOutcome, sweep_dir: &Path) -> (String, u8) {
    let count = |s| outcome.count(s);
    let (done, failed, diverged, interrupted) = (count(Status::Done), count(Status::Failed), count(Status::Diverged), count(Status::Interrupted));
    // "12 done" or "12 done, 40 pruned".
    let done = match count(Status::Pruned) {
        0 => format!("{done} done"),
        pruned => format!("{done} done, {pruned} pruned"),
    };
    let mut elsewhere = if outcome.elsewhere > 0 { format!(", {} being trained by another worker", outcome.elsewhere) } else { String::new() };
    if outcome.left > 0 {
        elsewhere.push_str(&format!(", {} left to other array tasks", outcome.left));
    }
    if let Some(stop) = &outcome.storage {
        let line = format!(
            "sweep {name}: stopped: {}; {done}, {interrupted} interrupted, {failed} failed, {diverged} diverged, {} not started{elsewhere}\n",
            storage_line(stop, sweep_dir),
            outcome.not_started
        );
        return (line, exit_code::STORAGE);
    }
    if outcome.interrupted {
        let line = format!(
            "sweep {name}: interrupted: {interrupted} run(s) saved their state, {} not started; {done}, {failed} failed, {diverged} diverged{elsewhere}; run the same command to resume\n",
            outcome.not_started
        );
        return (line, exit_code::INTERRUPTED);
    }
    let mut text = String::new();
    let page = match html::write(sweep_dir) {
        Ok(page) => page,
        Err(e) => {
            eprintln!("warning: cannot write the HTML report: {e:#}");
            sweep_dir.join("report.md")
        }
    };
    text.push_str(&format!(
        "sweep {name}: {done}, {failed} failed, {diverged} diverged, {} skipped (finished before){elsewhere}; report: {}\n",
        outcome.skipped,
        page.display()
    ));
    if let Ok(runs) = load_all(sweep_dir)
        && let Some(saved) = savings::savings(&runs)
    {
        text.push_str(&format!("{}\n", saved.line(runs.len())));
    }
    if outcome.held_s > 0.0 {
        text.push_str(&format!(
            "early termination in plan order held runs at their rungs for {:.0} s in all (summed over runs), waiting for the runs before them; `order: arrival` does not wait, but its decisions depend on timing\n",
            outcome.held_s
        ));
    }
    if let Some(line) = &outcome.stopped {
        text.push_str(&format!("{line}\n"));
    }
    (text, if failed + diverged > 0 { exit_code::RUNS_FAILED } else { exit_code::OK })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::control::StorageStop;
    use crate::output::disk::Cause;
    use crate::output::summary::Summary;

    fn ran(status: Status) -> Summary {
        let mut s = Summary::failed("r", Default::default(), 1.0, String::new());
        s.status = status;
        s
    }

    #[test]
    fn the_last_line_counts_runs_and_its_code_says_how_the_sweep_ended() {
        let dir = tempfile::tempdir().unwrap();
        let outcome = SweepOutcome { ran: vec![ran(Status::Done), ran(Status::Failed)], skipped: 2, ..Default::default() };
        let (text, code) = sweep_end("s", &outcome, dir.path());
        assert!(text.contains("sweep s: 1 done, 1 failed, 0 diverged, 2 skipped (finished before); report: "), "{text}");
        assert_eq!(code, exit_code::RUNS_FAILED);

        let stopped = SweepOutcome { interrupted: true, not_started: 3, ..Default::default() };
        let (text, code) = sweep_end("s", &stopped, dir.path());
        assert!(text.contains("interrupted: 0 run(s) saved their state, 3 not started") && text.contains("run the same command to resume"), "{text}");
        assert_eq!(code, exit_code::INTERRUPTED);

        let full = SweepOutcome { storage: Some(StorageStop { cause: Cause::NoSpace, run_id: "r".into(), needed: None }), ..Default::default() };
        let (text, code) = sweep_end("s", &full, dir.path());
        assert!(text.contains("stopped: no space left on device in") && text.contains("free space and rerun"), "{text}");
        assert_eq!(code, exit_code::STORAGE);
    }
}
