use crate::util::{SweepDir, stderr, stdout};

const IDS: [&str; 4] = ["emb16_lr1e-3", "emb16_lr1e-2", "emb32_lr1e-3", "emb32_lr1e-2"];

#[test]
fn two_by_two_sweep_writes_every_artifact_and_reruns_only_new_runs() {
    let w = SweepDir::new();
    w.spec("e2e", "  embed_dim: [16, 32]\n  lr: [1e-3, 1e-2]\n");
    let out = w.sweep(&["run", "sweeps/e2e.yaml", "--jobs", "2"]);
    assert!(out.status.success(), "stdout:\n{}\nstderr:\n{}", stdout(&out), stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("4 done, 0 failed, 0 diverged"), "{text}");
    assert_eq!(text.lines().filter(|l| l.starts_with('[') && l.contains(" done val ")).count(), 4, "one line per finished run:\n{text}");

    for id in IDS {
        let dir = w.run_dir("e2e", id);
        let config: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("config.json")).unwrap()).unwrap();
        assert_eq!(config["model"]["n_layers"], 1, "{id}: full effective config");
        assert!(config["train"]["weight_decay"].is_number(), "{id}: defaults are written out too");

        let csv = std::fs::read_to_string(dir.join("loss.csv")).unwrap();
        let mut lines = csv.lines();
        assert_eq!(lines.next(), Some("step,tokens_seen,lr,train_loss,val_loss,elapsed_s"));
        let steps: Vec<u64> = lines.map(|l| l.split(',').next().unwrap().parse().unwrap()).collect();
        assert_eq!(steps, [0, 10, 20], "{id}");

        let png = std::fs::read(dir.join("loss.png")).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n", "{id}: loss.png is a PNG");
        assert!(std::fs::metadata(dir.join("model.safetensors")).unwrap().len() > 1000, "{id}: checkpoint");
        let samples = std::fs::read_to_string(dir.join("samples.txt")).unwrap();
        assert!(samples.contains("夏天"), "{id}: samples start from the prompt:\n{samples}");
        let log = std::fs::read_to_string(dir.join("train.log")).unwrap();
        assert!(log.contains("step 20: train loss"), "{id}: log:\n{log}");

        let s = w.summary("e2e", id);
        assert_eq!(s["status"], "done");
        assert!(s["best_val_loss"].as_f64().unwrap() > 0.0);
        assert!(s["best_step"].is_u64() && s["perplexity"].is_f64() && s["wall_seconds"].is_f64());
        assert_eq!(s["tokens_seen"], 20 * 4 * 16);
        assert!(s["n_params"].as_u64().unwrap() > 1000);
        assert!(s["epochs"].as_f64().unwrap() > 0.0 && s["tokens_per_second"].as_f64().unwrap() > 0.0);
        assert_eq!(s["params"]["embed_dim"], config["model"]["embed_dim"]);
    }
    for f in ["sweep.json", "report.md", "report.csv"] {
        assert!(w.path().join("runs/e2e").join(f).exists(), "{f}");
    }
    let report_csv = std::fs::read_to_string(w.path().join("runs/e2e/report.csv")).unwrap();
    assert_eq!(report_csv.lines().count(), 5, "header + 4 runs:\n{report_csv}");

    // The ranked report, as JSON: best first.
    let out = w.sweep(&["report", "runs/e2e", "--by", "val_loss", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let report: serde_json::Value = serde_json::from_str(&stdout(&out)).unwrap();
    let losses: Vec<f64> = report["runs"].as_array().unwrap().iter().map(|r| r["best_val_loss"].as_f64().unwrap()).collect();
    assert_eq!(losses.len(), 4);
    assert!(losses.windows(2).all(|w| w[0] <= w[1]), "ranked best first: {losses:?}");
    assert_eq!(report["by_param"].as_array().unwrap().len(), 2, "one table per swept parameter");
    let table = stdout(&w.sweep(&["report", "runs/e2e", "--top", "1"]));
    assert!(table.contains("by embed_dim") && table.contains("is best on average"), "{table}");

    // Sampling from a checkpoint.
    let run = w.run_dir("e2e", IDS[0]);
    let out = w.sweep(&["sample", run.to_str().unwrap(), "--prompt", "飞鸟", "-n", "8", "--device", "cpu"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("飞鸟"), "{}", stdout(&out));
    for (flag, value, want) in [("--top-k", "0", "--top-k must be at least 1"), ("--prompt", "Zebra", "prompt \"Zebra\"")] {
        let out = w.sweep(&["sample", run.to_str().unwrap(), flag, value, "--device", "cpu"]);
        assert_eq!(out.status.code(), Some(2), "{flag} {value}: {}", stderr(&out));
        assert!(stderr(&out).contains(want) && !stderr(&out).contains("panicked"), "{}", stderr(&out));
    }

    // Rerun: nothing is retrained, nothing is touched.
    let before = std::fs::metadata(run.join("summary.json")).unwrap().modified().unwrap();
    let out = w.sweep(&["run", "sweeps/e2e.yaml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(stdout(&out).contains("4 of 4 runs already finished; 0 to train"), "{}", stdout(&out));
    assert_eq!(std::fs::metadata(run.join("summary.json")).unwrap().modified().unwrap(), before);

    // One more grid value: only its two runs train.
    w.spec("e2e", "  embed_dim: [16, 32]\n  lr: [1e-3, 1e-2, 3e-3]\n");
    let out = w.sweep(&["run", "sweeps/e2e.yaml"]);
    let text = stdout(&out);
    assert!(text.contains("4 of 6 runs already finished; 2 to train"), "{text}");
    assert!(text.contains("2 done, 0 failed"), "{text}");
    assert_eq!(w.summary("e2e", "emb32_lr3e-3")["status"], "done");
}

#[test]
fn dry_run_prints_the_plan_and_trains_nothing() {
    let w = SweepDir::new();
    w.spec("dry", "  embed_dim: [16, 32]\n");
    let out = w.sweep(&["run", "sweeps/dry.yaml", "--dry-run"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let text = stdout(&out);
    assert!(text.contains("sweep dry: 2 runs"), "{text}");
    for col in ["params", "tokens", "epochs", "TFLOP", "est. s"] {
        assert!(text.contains(col), "{col} in\n{text}");
    }
    assert!(text.contains("emb16") && text.contains("emb32"), "{text}");
    assert!(!w.path().join("runs").exists(), "dry run writes nothing");
}
