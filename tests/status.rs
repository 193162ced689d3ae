use crate::util::{SweepDir, slow_spec, stderr, stdout, wait_for};
use std::time::Duration;

#[test]
fn status_shows_running_orphaned_and_finished_runs_of_a_local_sweep() {
    let w = SweepDir::new();
    slow_spec(&w, "st", 400, "  lr: [1e-3, 2e-3, 3e-3]\n");
    let mut child = w.spawn(&["run", "sweeps/st.yaml", "--jobs", "2", "--no-pack"]);
    let rows = |id: &str| w.text(&format!("runs/st/{id}/loss.csv")).lines().count();
    wait_for("two runs to make progress", Duration::from_secs(60), || rows("lr1e-3") >= 3 && rows("lr2e-3") >= 3);
    let out = w.sweep(&["status"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}\n{}", stderr(&out));
    assert!(text.contains("sweep st, 3 runs: 2 running, 1 pending"), "{text}");
    let line = text.lines().find(|l| l.starts_with("lr1e-3 ")).unwrap_or_default();
    assert!(line.contains("running") && line.contains(" of 400 on ") && line.contains(" pid "), "{text}");

    child.kill().unwrap(); // SIGKILL: the claims stay, their owner gone
    child.wait().unwrap();
    wait_for("the trials to die", Duration::from_secs(5), || w.trial_pids().is_empty());
    let text = stdout(&w.sweep(&["status", "runs/st"]));
    assert!(text.contains("3 runs: 1 pending, 2 orphaned"), "{text}");
    assert!(text.contains("is not running; the next worker takes it over"), "{text}");

    let out = w.sweep(&["run", "sweeps/st.yaml", "--jobs", "2", "--no-pack"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&w.sweep(&["status", "runs/st"]));
    assert!(text.contains("3 runs: 3 done"), "{text}");
    assert!(text.lines().filter(|l| l.contains(" done ") && l.contains("best val ")).count() == 3, "{text}");

    // A local sweep has no Slurm job to cancel; a folder that is not a sweep has no status.
    let out = w.sweep(&["cancel", "runs/st"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("stop a local `sweep run` with Ctrl-C"), "{}", stderr(&out));
    let out = w.sweep(&["status", "data"]);
    assert!(!out.status.success() && stderr(&out).contains("is data a sweep folder"), "{}", stderr(&out));
}
