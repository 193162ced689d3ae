use crate::util::{SweepDir, assert_complete, ids, slow_spec, stderr, stdout, wait_for};
use std::time::Duration;

#[test]
fn kill_9_at_random_moments_then_rerun_loses_nothing() {
    kill_9_then_rerun("kill", &["--no-pack"]);
}

#[test]
fn kill_9_of_a_packed_sweep_then_rerun_finishes_every_member_once() {
    // 4 runs of one shape, 2 workers: two packs of 2.
    let w = kill_9_then_rerun("killpack", &["--pack", "4"]);
    for id in ids(&w, "killpack") {
        let log = w.text(&format!("runs/killpack/{id}/train.log"));
        assert!(log.contains("packed with 1 other run(s)"), "{id} trained in a pack:\n{log}");
    }
}

/// Two SIGKILLs of `sweep run` at pseudo-random moments (from the clock) after training has
/// progressed, then a run to completion: every run done once, with all its steps.
fn kill_9_then_rerun(name: &str, extra: &[&str]) -> SweepDir {
    let w = SweepDir::new();
    slow_spec(&w, name, 400, "  lr: [1e-3, 2e-3]\n  dropout: [0.0, 0.1]\n");
    let spec = format!("sweeps/{name}.yaml");
    let nanos = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().subsec_nanos() as u64;
    let rows = || -> usize {
        let dir = w.path().join("runs").join(name);
        std::fs::read_dir(&dir)
            .map(|d| d.filter_map(|e| e.ok()).map(|e| std::fs::read_to_string(e.path().join("loss.csv")).unwrap_or_default().lines().count()).sum())
            .unwrap_or(0)
    };
    let args = |first: &[&str]| first.iter().chain(extra).map(|s| s.to_string()).collect::<Vec<String>>();
    for (i, extra_ms) in [nanos % 600, (nanos / 1000) % 600].into_iter().enumerate() {
        let before = rows();
        let mut child = w.spawn(&args(&["run", &spec, "--jobs", "2"]).iter().map(String::as_str).collect::<Vec<_>>());
        wait_for("training to progress", Duration::from_secs(60), || rows() >= before + 3);
        std::thread::sleep(Duration::from_millis(extra_ms));
        child.kill().unwrap(); // SIGKILL
        child.wait().unwrap();
        // The trials die with the sweep (no orphan keeps writing).
        wait_for(&format!("trials to die after kill {i}"), Duration::from_secs(5), || w.trial_pids().is_empty());
    }
    let out = w.sweep(&args(&["run", &spec, "--jobs", "2"]).iter().map(String::as_str).collect::<Vec<_>>());
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_complete(&w, name, 4, 400);
    let resumed = ids(&w, name).iter().filter(|id| w.text(&format!("runs/{name}/{id}/train.log")).contains("resuming at step")).count();
    assert!(resumed >= 1, "the kills landed mid-training, so some run resumed from a checkpoint");
    // A further rerun trains nothing.
    let out = w.sweep(&["run", &spec]);
    assert!(stdout(&out).contains("4 of 4 runs already finished; 0 to train"), "{}", stdout(&out));
    w
}

#[test]
fn ctrl_c_checkpoints_running_trials_and_a_rerun_resumes_them() {
    let w = SweepDir::new();
    slow_spec(&w, "int", 400, "  lr: [1e-3, 2e-3, 3e-3]\n");
    // One run per trial process, so that two train and one waits.
    let child = w.spawn(&["run", "sweeps/int.yaml", "--jobs", "2", "--no-pack"]);
    let progressed = |id: &str| w.text(&format!("runs/int/{id}/loss.csv")).lines().count() >= 3;
    wait_for("two runs to make progress", Duration::from_secs(30), || progressed("lr1e-3") && progressed("lr2e-3"));
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("interrupted: 2 run(s) saved their state, 1 not started"), "{text}");
    for id in ["lr1e-3", "lr2e-3"] {
        assert_eq!(w.summary("int", id)["status"], "interrupted");
        assert!(w.run_dir("int", id).join("resume.safetensors").exists());
    }
    assert!(!w.run_dir("int", "lr3e-3").join("summary.json").exists(), "the third run never started");

    let out = w.sweep(&["run", "sweeps/int.yaml", "--jobs", "2", "--no-pack"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_complete(&w, "int", 3, 400);
    for id in ["lr1e-3", "lr2e-3"] {
        let log = w.text(&format!("runs/int/{id}/train.log"));
        assert!(log.contains("resuming at step"), "{id}:\n{log}");
        assert_eq!(log.matches("starting at step 0").count(), 1, "{id} was not restarted from scratch:\n{log}");
    }
}

#[test]
fn two_workers_share_a_sweep_without_training_a_run_twice() {
    let w = SweepDir::new();
    slow_spec(&w, "pair", 60, "  lr: [1e-3, 2e-3, 3e-3]\n  dropout: [0.0, 0.1]\n");
    let a = w.spawn(&["run", "sweeps/pair.yaml", "--jobs", "1"]);
    let b = w.spawn(&["run", "sweeps/pair.yaml", "--jobs", "1"]);
    let (a, b) = (a.wait_with_output().unwrap(), b.wait_with_output().unwrap());
    assert!(a.status.success() && b.status.success(), "{}\n{}\n{}\n{}", stdout(&a), stderr(&a), stdout(&b), stderr(&b));
    assert_complete(&w, "pair", 6, 60);
    for id in ids(&w, "pair") {
        let log = w.text(&format!("runs/pair/{id}/train.log"));
        assert_eq!(log.matches("starting at step 0").count(), 1, "{id} trained by one worker only:\n{log}");
    }
    let trained = |o: &std::process::Output| stdout(o).lines().filter(|l| l.starts_with('[') && l.contains(" done ")).count();
    assert_eq!(trained(&a) + trained(&b), 6, "A:\n{}\nB:\n{}", stdout(&a), stdout(&b));
}

#[test]
fn a_diverging_lr_and_an_aborting_trial_fail_only_their_runs() {
    let w = SweepDir::new();
    slow_spec(&w, "faults", 300, "  lr: [1e-3, 50.0]\n  grad_clip: [0.0]\n  seed: [1, 2]\n");
    let child = w.spawn(&["run", "sweeps/faults.yaml", "--jobs", "1", "--no-pack"]);
    // Abort the first trial (lr1e-3, seed 1) from outside, as a libtorch abort would.
    let log = w.path().join("runs/faults/lr1e-3_clip0_seed1/train.log");
    let mut pid = None;
    wait_for("the first trial to start", Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        pid = text.split("(pid ").nth(1).and_then(|r| r.split(')').next()).and_then(|p| p.parse::<i32>().ok());
        pid.is_some()
    });
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid.unwrap()), nix::sys::signal::Signal::SIGABRT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    let aborted = w.summary("faults", "lr1e-3_clip0_seed1");
    assert_eq!(aborted["status"], "failed");
    assert!(aborted["error"].as_str().unwrap().contains("signal 6 (SIGABRT"), "{aborted:#}");
    assert_eq!(w.summary("faults", "lr1e-3_clip0_seed2")["status"], "done");
    for seed in [1, 2] {
        let s = w.summary("faults", &format!("lr50_clip0_seed{seed}"));
        assert_eq!(s["status"], "diverged", "{s:#}");
    }
    assert!(stdout(&out).contains("1 done, 1 failed, 2 diverged"), "{}", stdout(&out));
    let report = stdout(&w.sweep(&["report", "runs/faults"]));
    assert!(report.contains("every run with lr = 50 diverged"), "{report}");
}

#[test]
fn in_a_pack_a_diverging_member_fails_alone_and_a_crash_retrains_members_alone() {
    let w = SweepDir::new();
    slow_spec(&w, "packfaults", 300, "  lr: [1e-3, 50.0]\n  grad_clip: [0.0]\n  seed: [1, 2]\n");
    let child = w.spawn(&["run", "sweeps/packfaults.yaml", "--jobs", "1", "--pack", "4"]);
    // Abort the pack's process from outside (as a libtorch abort would) once it has trained a while.
    let log = w.path().join("runs/packfaults/lr1e-3_clip0_seed1/train.log");
    let mut pid = None;
    wait_for("the pack to train", Duration::from_secs(30), || {
        let text = std::fs::read_to_string(&log).unwrap_or_default();
        pid = text.split("(pid ").nth(1).and_then(|r| r.split(')').next()).and_then(|p| p.parse::<i32>().ok());
        pid.is_some() && text.contains("step 20:")
    });
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(pid.unwrap()), nix::sys::signal::Signal::SIGABRT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("its pack's trial process was killed by signal 6"), "{text}");
    for seed in [1, 2] {
        // The lr 50 members diverged in the pack, before the crash; the others trained on alone.
        let s = w.summary("packfaults", &format!("lr50_clip0_seed{seed}"));
        assert_eq!(s["status"], "diverged", "{s:#}");
        let id = format!("lr1e-3_clip0_seed{seed}");
        assert_eq!(w.summary("packfaults", &id)["status"], "done");
        let log = w.text(&format!("runs/packfaults/{id}/train.log"));
        assert!(log.contains("packed with 3 other run(s)") && log.contains("resuming at step"), "{id}:\n{log}");
    }
    assert!(text.contains("2 done, 0 failed, 2 diverged"), "{text}");
}

#[test]
fn bad_input_is_a_clear_error_and_loses_nothing() {
    let w = SweepDir::new();
    w.write("data/empty.txt", "");
    w.write("sweeps/empty.yaml", "name: e\ndata:\n  path: data/empty.txt\n");
    let out = w.sweep(&["run", "sweeps/empty.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("data file data/empty.txt is empty"), "{}", stderr(&out));

    std::fs::write(w.path().join("data/latin1.txt"), b"caf\xe9 au lait").unwrap();
    w.write("sweeps/latin1.yaml", "name: l\ndata:\n  path: data/latin1.txt\n");
    let err = stderr(&w.sweep(&["run", "sweeps/latin1.yaml"]));
    assert!(err.contains("data/latin1.txt is not UTF-8 text (invalid byte at offset 3)"), "{err}");

    w.write("not_a_folder", "x");
    w.spec("ok", "  lr: [1e-3]\n");
    let out = w.sweep(&["run", "sweeps/ok.yaml", "--out", "not_a_folder/runs"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("cannot create output folder not_a_folder/runs"), "{}", stderr(&out));

    w.write("sweeps/types.yaml", "name: t\ndata:\n  path: data/tiny.txt\nsettings:\n  max_iters: lots\n");
    let err = stderr(&w.sweep(&["run", "sweeps/types.yaml"]));
    assert!(err.contains("sweeps/types.yaml:5: settings.max_iters must be a whole number, got lots"), "{err}");

    // A damaged summary.json or training state found on rerun: that run starts over, the others are untouched.
    w.spec("dmg", "  lr: [1e-3, 2e-3]\n");
    assert!(w.sweep(&["run", "sweeps/dmg.yaml"]).status.success());
    let keep = w.run_dir("dmg", "lr2e-3").join("summary.json");
    let before = std::fs::metadata(&keep).unwrap().modified().unwrap();
    std::fs::write(w.run_dir("dmg", "lr1e-3").join("summary.json"), "{ truncated").unwrap();
    std::fs::write(w.run_dir("dmg", "lr1e-3").join("resume.safetensors"), "garbage").unwrap();
    let out = w.sweep(&["run", "sweeps/dmg.yaml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("summary.json is unreadable; training lr1e-3 again"), "{}", stdout(&out));
    assert_eq!(w.summary("dmg", "lr1e-3")["status"], "done");
    let log = w.text("runs/dmg/lr1e-3/train.log");
    assert!(log.contains("restarting this run from scratch"), "{log}");
    assert_eq!(std::fs::metadata(&keep).unwrap().modified().unwrap(), before);
}

#[test]
fn max_retries_retries_a_failing_trial() {
    let w = SweepDir::new();
    w.write(
        "sweeps/retry.yaml",
        &format!("name: retry\nmax_retries: 2\ndata:\n  path: data/tiny.txt\n{}grid:\n  device: [cpu, \"cuda:99\"]\n", crate::util::TINY),
    );
    let out = w.sweep(&["run", "sweeps/retry.yaml"]);
    assert_eq!(out.status.code(), Some(1));
    let failed = w.summary("retry", "devicecuda-99");
    assert_eq!((failed["status"].as_str(), failed["attempts"].as_u64()), (Some("failed"), Some(3)));
    assert_eq!(stdout(&out).matches("retrying, attempt").count(), 2, "{}", stdout(&out));
    assert_eq!(w.summary("retry", "devicecpu")["attempts"], 1);
}

#[test]
fn out_of_memory_fails_the_run_with_a_hint() {
    let w = SweepDir::new();
    // A 2,000,000-wide model needs 64 TB for one MLP matrix: the allocation fails at once.
    w.spec("oom", "  embed_dim: [16, 2000000]\n");
    let out = w.sweep(&["run", "sweeps/oom.yaml", "--jobs", "1"]);
    assert_eq!(out.status.code(), Some(1), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(w.summary("oom", "emb16")["status"], "done");
    let s = w.summary("oom", "emb2000000");
    assert_eq!(s["status"], "failed");
    let error = s["error"].as_str().unwrap();
    assert!(error.contains("out of memory") && error.contains("lower batch_size or block_size"), "{error}");
}
