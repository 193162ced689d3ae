use crate::util::{SweepDir, stderr, stdout};

/// Two widths × two lengths × two seeds of the tiny settings.
fn sweep(w: &SweepDir) {
    w.write(
        "sweeps/sc.yaml",
        "name: sc\ndata:\n  path: data/tiny.txt\nsettings:\n  block_size: 16\n  n_layers: 1\n  n_heads: 2\n  batch_size: 4\n  warmup_iters: 2\n  \
         eval_interval: 10\n  eval_iters: 2\nsample:\n  prompts: [\"夏天\"]\n  max_new_tokens: 10\ngrid:\n  embed_dim: [16, 32]\n  max_iters: [10, 20]\n  seed: [1, 2]\n",
    );
    let out = w.sweep(&["run", "sweeps/sc.yaml"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
}

#[test]
fn fit_and_next_on_a_finished_sweep() {
    let w = SweepDir::new();
    sweep(&w);
    // The fit runs, and says what it cannot support: two sizes, two budgets.
    let out = w.sweep(&["fit", "runs/sc"]);
    let text = stdout(&out);
    assert!(out.status.success(), "{text}{}", stderr(&out));
    assert!(text.starts_with("Scaling law of sweep sc: L(N, D) = E + A/N^α + B/D^β, fitted to 8 run(s)"), "{text}");
    assert!(text.contains("warning: only 2 model size(s)") && text.contains("warning: only 2 token budget(s)"), "{text}");
    assert!(text.contains("compute-optimal (C = 6·N·D"), "{text}");
    let json: serde_json::Value = serde_json::from_str(&stdout(&w.sweep(&["fit", "runs/sc", "--format", "json"]))).unwrap();
    assert!(json["alpha"]["value"].as_f64().unwrap() > 0.0 && json["optima"].as_array().unwrap().len() == 3, "{json}");
    // The report carries the section too.
    let md = std::fs::read_to_string(w.path().join("runs/sc/report.md")).unwrap();
    assert!(md.contains("## Scaling law"), "{md}");

    // The next spec: every setting line has its reason, and it plans without change.
    let out = w.sweep(&["next", "runs/sc", "-o", "sweeps/sc_next.yaml", "--budget-flops", "1e12"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let spec = std::fs::read_to_string(w.path().join("sweeps/sc_next.yaml")).unwrap();
    for line in spec.lines().skip_while(|l| !l.starts_with("settings:")).take_while(|l| !l.starts_with("sample:")) {
        assert!(line.ends_with(':') || line.contains(" # "), "a line without its reason: {line:?}\n{spec}");
    }
    assert!(spec.contains("compute-optimal for 1.00e12 FLOPs per run (--budget-flops 1e12; C = 6·N·D"), "{spec}");
    let dry = w.sweep(&["run", "sweeps/sc_next.yaml", "--dry-run"]);
    assert!(dry.status.success(), "the next spec must pass a dry run:\n{spec}\n{}{}", stdout(&dry), stderr(&dry));
    assert!(stdout(&dry).starts_with("sweep sc_next: "), "{}", stdout(&dry));
}

#[test]
fn too_few_runs_for_a_fit_is_said_plainly() {
    let w = SweepDir::new();
    w.spec("two", "  lr: [1e-3, 2e-3]\n");
    assert!(w.sweep(&["run", "sweeps/two.yaml"]).status.success());
    let out = w.sweep(&["fit", "runs/two"]);
    assert!(!out.status.success());
    assert!(stderr(&out).contains("2 finished run(s) with a final val loss; a fit of E, A, α, B and β needs at least 5"), "{}", stderr(&out));
}
