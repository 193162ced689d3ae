use crate::util::{SweepDir, stderr, stdout};

#[test]
fn dry_run_lists_the_packs_or_says_why_there_are_none() {
    let w = SweepDir::new();
    w.spec("p", "  embed_dim: [16, 32]\n  lr: [1e-3, 3e-3]\n");
    let plan = |extra: &[&str]| {
        let args: Vec<&str> = ["run", "sweeps/p.yaml", "--dry-run"].iter().chain(extra).copied().collect();
        let out = w.sweep(&args);
        assert!(out.status.success(), "{}", stderr(&out));
        stdout(&out)
    };
    let packed = plan(&["--pack", "4", "--jobs", "1"]);
    assert!(packed.contains("packing: 4 runs in 2 packs of 2 (each pack one model, its runs differing in lr;"), "{packed}");
    assert!(packed.contains("  emb16_lr1e-3 + emb16_lr3e-3\n") && packed.contains("as if it trained alone; on a CPU packs were measured slower"), "{packed}");
    let cpu = plan(&[]);
    assert!(cpu.contains("packing: none (on a CPU packing was measured slower than separate trials; --pack N packs anyway)"), "{cpu}");
    assert!(plan(&["--pack", "1"]).contains("packing: none (--pack 1)"));
    assert!(plan(&["--no-pack"]).contains("packing: none (--no-pack)"));
}

#[test]
fn a_packed_sweep_leaves_every_run_folder_with_the_losses_of_training_alone() {
    let w = SweepDir::new();
    // Dropout 0: a packed run's losses are the lone run's up to float rounding.
    w.spec("same", "  lr: [1e-3, 3e-3, 1e-2]\n  dropout: [0.0]\n");
    for (out, extra) in [("runs_packed", "--pack"), ("runs_alone", "--no-pack")] {
        let mut args = vec!["run", "sweeps/same.yaml", "--jobs", "1", "--out", out, extra];
        if extra == "--pack" {
            args.push("3");
        }
        let run = w.sweep(&args);
        assert!(run.status.success(), "{}\n{}", stdout(&run), stderr(&run));
    }
    let read = |out: &str, id: &str, file: &str| std::fs::read_to_string(w.path().join(out).join("same").join(id).join(file)).unwrap_or_default();
    let runs = std::fs::read_dir(w.path().join("runs_packed/same")).unwrap().flatten().filter(|e| e.path().join("config.json").exists()).count();
    assert_eq!(runs, 3);
    for id in ["lr1e-3_do0", "lr3e-3_do0", "lr1e-2_do0"] {
        let log = read("runs_packed", id, "train.log");
        assert!(log.contains("packed with 2 other run(s)") && log.contains("run ") && !log.contains("[lr"), "{id}: its own lines, unprefixed:\n{log}");
        for file in ["loss.csv", "model.safetensors", "samples.txt", "loss.png", "config.json"] {
            assert!(w.path().join("runs_packed/same").join(id).join(file).exists(), "{id}/{file}");
        }
        let summary = |out: &str| serde_json::from_str::<serde_json::Value>(&read(out, id, "summary.json")).unwrap();
        let (packed, alone) = (summary("runs_packed"), summary("runs_alone"));
        assert_eq!(packed["status"], "done");
        assert_eq!(packed["packed_with"].as_array().map(Vec::len), Some(2), "{packed:#}");
        assert!(alone.get("packed_with").is_none(), "a lone run's summary says nothing of packs");
        let gap = (packed["final_val_loss"].as_f64().unwrap() - alone["final_val_loss"].as_f64().unwrap()).abs();
        assert!(gap < 2e-3, "{id}: packed {} vs alone {}", packed["final_val_loss"], alone["final_val_loss"]);
        assert_eq!(packed["steps"], alone["steps"]);
    }
}
