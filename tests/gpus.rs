use crate::util::{SweepDir, stderr, stdout};
use std::process::Command;

/// Two fake GPUs (MiB): the trials still train on the CPU.
const FAKE: &str = "0:Fake A:16000:15000,1:Fake B:8000:8000";

fn sweep(w: &SweepDir, args: &[&str], env: &[(&str, &str)]) -> std::process::Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_sweep"));
    cmd.args(args).current_dir(w.path()).env("SWEEP_FAKE_GPUS", FAKE).env_remove("CUDA_VISIBLE_DEVICES");
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.output().unwrap()
}

fn gpu_of(w: &SweepDir, sweep: &str, id: &str) -> serde_json::Value {
    w.summary(sweep, id)["gpu"].clone()
}

#[test]
fn trials_spread_over_the_gpus_and_each_sees_only_its_own() {
    let w = SweepDir::new();
    w.spec("spread", "  lr: [1e-3, 2e-3, 3e-3, 4e-3]\n");
    let dry = sweep(&w, &["run", "sweeps/spread.yaml", "--dry-run"], &[]);
    let text = stdout(&dry);
    assert!(text.contains("GPUs: 0 Fake A (15.7 of 16.8 GB free); 1 Fake B (8.4 of 8.4 GB free)"), "{text}");
    assert!(text.contains("placement: each trial sees one GPU (CUDA_VISIBLE_DEVICES)") && text.contains("4 at a time"), "{text}");
    let out = sweep(&w, &["run", "sweeps/spread.yaml"], &[]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let mut on = [0, 0];
    for id in ["lr1e-3", "lr2e-3", "lr3e-3", "lr4e-3"] {
        let g = gpu_of(&w, "spread", id);
        let index = g["index"].as_u64().unwrap() as usize;
        assert_eq!(g["cuda_visible_devices"], index.to_string(), "{id}: the trial process saw only its GPU: {g}");
        assert_eq!(g["name"], ["Fake A", "Fake B"][index]);
        assert!(g["estimate_bytes"].as_u64().unwrap() > 600 << 20);
        on[index] += 1;
        assert!(!w.run_dir("spread", id).join("gpu.json").exists(), "gpu.json is there only while the trial runs");
    }
    assert_eq!(on, [2, 2], "balanced over the two GPUs");
}

#[test]
fn gpus_picks_a_subset_and_a_missing_index_is_refused() {
    let w = SweepDir::new();
    w.spec("one", "  lr: [1e-3, 2e-3]\n");
    let out = sweep(&w, &["run", "sweeps/one.yaml", "--gpus", "1", "--trials-per-gpu", "1"], &[]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    for id in ["lr1e-3", "lr2e-3"] {
        assert_eq!(gpu_of(&w, "one", id)["index"], 1);
        assert_eq!(gpu_of(&w, "one", id)["neighbours"], 0, "one trial per GPU");
    }
    let out = sweep(&w, &["run", "sweeps/one.yaml", "--gpus", "0,3", "--dry-run"], &[]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("--gpus names GPU 3, which is not here (visible: 0, 1)"), "{}", stderr(&out));
    // CUDA_VISIBLE_DEVICES hides GPU 1: every trial goes to 0.
    w.spec("cvd", "  lr: [1e-3, 2e-3]\n");
    let out = sweep(&w, &["run", "sweeps/cvd.yaml"], &[("CUDA_VISIBLE_DEVICES", "0")]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert_eq!((gpu_of(&w, "cvd", "lr1e-3")["index"].as_u64(), gpu_of(&w, "cvd", "lr2e-3")["index"].as_u64()), (Some(0), Some(0)));
}

/// Every trial placed beside others runs out of memory (libtorch's text, made by the fake
/// SWEEP_FAKE_CUDA_OOM=*): the first placed trains; the others wait and run again with
/// fewer neighbours until each runs alone, and all are done, none failed. (Which trial is
/// placed first is up to the worker threads, so the test asks it of every trial.)
#[test]
fn out_of_memory_beside_other_trials_is_retried_with_fewer_neighbours() {
    let w = SweepDir::new();
    crate::util::slow_spec(&w, "oom", 60, "  lr: [1e-3, 2e-3, 3e-3]\n");
    let out = sweep(&w, &["run", "sweeps/oom.yaml", "--gpus", "0", "--trials-per-gpu", "3", "--jobs", "3", "--no-pack"], &[("SWEEP_FAKE_CUDA_OOM", "*")]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let mut retried = 0;
    for id in ["lr1e-3", "lr2e-3", "lr3e-3"] {
        let s = w.summary("oom", id);
        assert_eq!(s["status"], "done", "{s}");
        assert_eq!(s["attempts"], 1, "a placement retry is not a failed attempt: {s}");
        assert_eq!(s["gpu"]["neighbours"], 0, "it finally ran alone: {s}");
        let log = std::fs::read_to_string(w.run_dir("oom", id).join("train.log")).unwrap();
        if log.contains("CUDA out of memory") {
            let said = log.lines().find(|l| l.starts_with("out of GPU memory with ")).unwrap_or_else(|| panic!("{log}"));
            assert!(said.contains("other trial(s) on GPU 0 (Fake A): not a failure; trying again with at most"), "{said}");
            retried += 1;
        }
    }
    assert!(retried >= 1, "the trials placed beside the first ran out of memory and were retried");
}

#[test]
fn out_of_memory_alone_is_a_failed_run_with_the_estimate_and_the_peak() {
    let w = SweepDir::new();
    w.spec("alone", "  lr: [1e-3]\n");
    let out = sweep(&w, &["run", "sweeps/alone.yaml"], &[("SWEEP_FAKE_CUDA_OOM", "lr1e-3:always")]);
    assert_eq!(out.status.code(), Some(1), "{}{}", stdout(&out), stderr(&out));
    let s = w.summary("alone", "lr1e-3");
    assert_eq!(s["status"], "failed");
    let error = s["error"].as_str().unwrap();
    assert!(error.contains("alone on GPU 0 (Fake A, 15.7 GB free at the start of the sweep) it ran out of memory; sweep estimated 0.6 GB for it"), "{error}");
    assert_eq!(s["gpu"]["peak_at_oom"], "6.50 GiB");
    assert!(s["gpu"]["estimate_bytes"].as_u64().is_some());
}

/// With --gpus-per-task G and --trials-per-gpu K, one array task trains G×K runs at once,
/// placed on its GPUs as on a machine: fewer tasks, each told K.
#[test]
fn a_slurm_task_with_gpus_trains_several_runs_at_once() {
    let w = SweepDir::new();
    w.spec("sl", "  lr: [1e-3, 2e-3, 3e-3, 4e-3, 5e-3]\n");
    let out = sweep(&w, &["run", "sweeps/sl.yaml", "--backend", "slurm", "--gpus-per-task", "2", "--trials-per-gpu", "2", "--dry-run"], &[]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.contains("a Slurm job array of 2 task(s), each training up to 4 of the 5 runs at once on its 2 GPU(s)"), "{text}");
    assert!(text.contains("#SBATCH --array=0-1") && text.contains("#SBATCH --gpus-per-task=2"), "{text}");
    assert!(text.contains("--array-task --trials-per-gpu 2 &"), "{text}");
}
