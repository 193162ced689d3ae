use crate::util::{SweepDir, stderr, stdout};

#[test]
fn a_failing_run_is_recorded_and_the_others_finish() {
    let w = SweepDir::new();
    // cuda:99 exists on no machine: that trial fails inside its own process.
    w.spec("fail", "  device: [cpu, \"cuda:99\"]\n  lr: [1e-3, 2e-3]\n");
    let out = w.sweep(&["run", "sweeps/fail.yaml", "--jobs", "1"]);
    assert_eq!(out.status.code(), Some(1), "some runs failed: exit 1\n{}\n{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("2 done, 2 failed"), "{}", stdout(&out));
    for lr in ["1e-3", "2e-3"] {
        assert_eq!(w.summary("fail", &format!("devicecpu_lr{lr}"))["status"], "done");
        let failed = w.summary("fail", &format!("devicecuda-99_lr{lr}"));
        assert_eq!(failed["status"], "failed");
        let error = failed["error"].as_str().unwrap();
        assert!(error.contains("cuda:99") && error.contains("not available"), "{error}");
    }
    let report = stdout(&w.sweep(&["report", "runs/fail"]));
    assert!(report.contains("failed") && report.contains("2 run(s) did not finish"), "{report}");
}

#[test]
fn spec_problems_are_all_reported_with_lines_and_nothing_trains() {
    let w = SweepDir::new();
    w.spec("bad", "  lr: [0.001, -1]\n  dropuot: [0.1]\n  embed_dim: []\n");
    let out = w.sweep(&["run", "sweeps/bad.yaml"]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("sweeps/bad.yaml:18: grid.dropuot is not a known setting; did you mean `dropout`?"), "{err}");
    assert!(err.contains("sweeps/bad.yaml:19: grid.embed_dim is an empty list"), "{err}");
    assert!(err.contains("lr -1 must be a positive number (in lr-1)"), "problems of the combinations too:\n{err}");
    assert!(!w.path().join("runs").exists());

    w.write("sweeps/yaml.yaml", "name: y\ndata: [oops\n");
    let err = stderr(&w.sweep(&["run", "sweeps/yaml.yaml"]));
    assert!(err.contains("sweeps/yaml.yaml:3: YAML syntax error at column"), "{err}");
}

#[test]
fn data_problems_name_the_file() {
    let w = SweepDir::new();
    let spec = w.write("sweeps/short.yaml", "name: short\ndata:\n  path: data/tiny.txt\ngrid:\n  block_size: [16, 400]\n");
    let out = w.sweep(&["run", spec.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    let err = stderr(&out);
    assert!(err.contains("data/tiny.txt") && err.contains("too short for block_size 400"), "{err}");

    w.write("sweeps/missing.yaml", "name: m\ndata:\n  path: data/feiniao_missing.txt\n");
    let err = stderr(&w.sweep(&["run", "sweeps/missing.yaml"]));
    assert!(err.contains("sweeps/missing.yaml:3: data file data/feiniao_missing.txt not found; put the data there or fix data.path"), "{err}");
    assert!(!err.contains("panicked"), "{err}");
}
