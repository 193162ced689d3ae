use crate::util::{SweepDir, stderr, stdout};

/// The shipped Stray Birds corpus: a real text, not one the test made up.
fn feiniao() -> String {
    std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/data/feiniao.txt")).expect("data/feiniao.txt is tracked")
}

#[test]
fn asha_prunes_losing_runs_of_a_real_sweep_and_keeps_the_best() {
    let w = SweepDir::new();
    w.write("data/feiniao.txt", &feiniao());
    // Eight runs whose learning rates span 30×: the slow ones fall behind by step 40.
    w.write(
        "sweeps/asha.yaml",
        "name: asha\ndata:\n  path: data/feiniao.txt\nsettings:\n  block_size: 16\n  embed_dim: 32\n  n_heads: 2\n  n_layers: 1\n  batch_size: 8\n  \
         max_iters: 240\n  warmup_iters: 10\n  eval_interval: 40\n  eval_iters: 4\ngrid:\n  lr: [1e-4, 2e-4, 3e-4, 6e-4, 1e-3, 2e-3, 3e-3, 6e-3]\n\
         early_stop:\n  method: asha\n  min_steps: 40\n  reduction_factor: 3\n",
    );
    let out = w.sweep(&["run", "sweeps/asha.yaml", "--jobs", "2"]);
    assert!(out.status.success(), "stdout:\n{}\nstderr:\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    let ids = ["lr1e-4", "lr2e-4", "lr3e-4", "lr6e-4", "lr1e-3", "lr2e-3", "lr3e-3", "lr6e-3"];
    let summaries: Vec<serde_json::Value> = ids.iter().map(|id| w.summary("asha", id)).collect();
    let status = |s: &serde_json::Value| s["status"].as_str().unwrap().to_string();
    let pruned: Vec<&serde_json::Value> = summaries.iter().filter(|s| status(s) == "pruned").collect();
    assert!(!pruned.is_empty(), "no run was pruned:\n{text}");
    assert!(summaries.iter().all(|s| status(s) == "done" || status(s) == "pruned"), "{text}");
    for s in &pruned {
        let at = s["pruned"]["at_step"].as_u64().unwrap();
        assert!(at == 40 || at == 120, "pruned at a rung: {s}");
        assert!(s["steps"].as_u64().unwrap() >= at && s["steps"].as_u64().unwrap() < 240, "{s}");
        assert!(s["pruned"]["rule"].as_str().unwrap().contains(&format!("at step {at}")), "{s}");
        // Its state is kept for --resume-pruned.
        assert!(w.run_dir("asha", s["run_id"].as_str().unwrap()).join("resume.safetensors").exists());
    }
    let best = summaries.iter().min_by(|a, b| a["best_val_loss"].as_f64().unwrap().total_cmp(&b["best_val_loss"].as_f64().unwrap())).unwrap();
    assert_eq!(status(best), "done", "the best run was pruned: {best}");

    let trained: u64 = summaries.iter().map(|s| s["steps"].as_u64().unwrap()).sum();
    let grid = 8 * 240;
    println!("steps trained with ASHA: {trained}; the same grid without it: {grid}");
    assert!(trained < grid, "{trained} steps, not fewer than the grid's {grid}");
    assert!(text.contains(&format!("{} pruned", pruned.len())) && text.contains("early termination pruned"), "{text}");
    let decisions = w.text("runs/asha/early_stop.jsonl");
    assert!(decisions.lines().count() >= 8, "every run was compared at step 40:\n{decisions}");
    // In plan order (the default), each run was compared with exactly the runs before it in
    // the grid, though two trained at once: those that got there later were waited for.
    for line in decisions.lines() {
        let d: serde_json::Value = serde_json::from_str(line).unwrap();
        let mine = ids.iter().position(|id| d["run"] == *id).unwrap();
        let with: Vec<&str> = d["compared_with"].as_array().unwrap().iter().map(|c| c[0].as_str().unwrap()).collect();
        let at = d["step"].as_u64().unwrap();
        let pruned_before = |id: &str| w.summary("asha", id)["pruned"]["at_step"].as_u64().is_some_and(|p| p < at);
        let reached_it = |id: &str| w.text(&format!("runs/asha/{id}/loss.csv")).lines().any(|l| l.starts_with(&format!("{at},")));
        let reached: Vec<&str> = ids[..mine].iter().copied().filter(|id| !pruned_before(id) && reached_it(id)).collect();
        assert_eq!(with, reached, "{} at step {at} is compared with the runs before it that reached the step", d["run"]);
    }

    // The report marks pruned runs, says what pruning saved and which pruned runs may have been the best.
    let report = stdout(&w.sweep(&["report", "runs/asha"]));
    assert!(report.contains("pruned@") && report.contains("early termination pruned"), "{report}");
    assert!(report.contains("may have been the best") || report.contains("was within the noise (1% of the loss"), "{report}");
    let page = w.text("runs/asha/index.html");
    assert!(page.contains("<h2>Early termination</h2>") && page.contains("id=\"close-calls\""), "index.html has the early-termination section");

    // A rerun trains nothing; --resume-pruned continues the pruned runs to the end.
    let again = stdout(&w.sweep(&["run", "sweeps/asha.yaml"]));
    assert!(again.contains("0 done, 0 failed") && again.contains("8 skipped"), "{again}");
    let resumed = w.sweep(&["run", "sweeps/asha.yaml", "--resume-pruned", "--jobs", "2"]);
    assert!(resumed.status.success(), "{}", stderr(&resumed));
    for id in ids {
        assert_eq!(w.summary("asha", id)["status"], "done", "{id} after --resume-pruned:\n{}", stdout(&resumed));
        assert_eq!(w.summary("asha", id)["steps"], 240);
    }
}

#[test]
fn dry_run_shows_the_steps_with_and_without_early_termination() {
    let w = SweepDir::new();
    w.write(
        "sweeps/r.yaml",
        &format!(
            "name: r\ndata:\n  path: data/tiny.txt\n{}method: random\nn_runs: 6\nspace:\n  lr: {{log_uniform: [1e-4, 1e-2]}}\n  dropout: {{uniform: [0.0, 0.3]}}\n\
             early_stop:\n  min_steps: 10\n  reduction_factor: 2\n",
            crate::util::TINY
        ),
    );
    let out = w.sweep(&["run", "sweeps/r.yaml", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("random search: 6 runs drawn from the space (search_seed 0)"), "{text}");
    // max_iters 20, one rung at 10 keeping half: 10 + 10/2 = 15 steps a run.
    assert!(text.contains("steps: at most 120 (6 run(s) to the end); about 90 with early termination"), "{text}");
    // Pruned runs keep their training state: the disk line says how much that can add.
    assert!(text.contains("when finished (up to ") && text.contains("if early termination prunes them"), "{text}");
    assert!(!w.path().join("runs/r").exists(), "a dry run trains nothing");
}
