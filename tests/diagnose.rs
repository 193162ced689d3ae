use crate::util::{SweepDir, stderr, stdout};
use serde_json::Value;

fn codes(findings: &Value) -> Vec<String> {
    findings.as_array().unwrap().iter().map(|f| f["code"].as_str().unwrap().to_string()).collect()
}

#[test]
fn a_big_model_on_one_sentence_overfits_and_memorises() {
    let w = SweepDir::new();
    // One sentence four times; the val split (last 10%) is the tail of a different sentence.
    let text = format!("{}Rain walks softly over the tin roofs of a town.", "The moon is a silver coin dropped in the black well of the night sky. ".repeat(4));
    w.write("data/one.txt", &text);
    w.write(
        "sweeps/memo.yaml",
        "name: memo\ndata:\n  path: data/one.txt\nsettings:\n  block_size: 16\n  embed_dim: 64\n  n_layers: 2\n  n_heads: 4\n  dropout: 0.0\n  batch_size: 16\n  max_iters: 300\n  warmup_iters: 10\n  lr: 0.003\n  eval_interval: 25\n  eval_iters: 4\ngrid:\n  seed: [1, 2]\nsample:\n  prompts: [\"The moon\"]\n  max_new_tokens: 150\n  temperature: 0.5\n",
    );
    let out = w.sweep(&["run", "sweeps/memo.yaml"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    for id in ["seed1", "seed2"] {
        let summary = w.summary("memo", id);
        let c = codes(&summary["findings"]);
        assert!(c.contains(&"overfitting".into()) && c.contains(&"memorisation".into()), "{id}: {c:?}\n{:#}", summary["findings"]);
        assert!(c.contains(&"epochs".into()) && c.contains(&"data_small".into()), "{id}: {c:?}");
        let verdict = summary["verdict"].as_str().unwrap_or_default();
        assert!(verdict.starts_with("Memorised its training data: ") && verdict.contains("on repeated data ("), "{id}: {verdict}");
    }
    let out = w.sweep(&["diagnose", "runs/memo/seed1"]);
    let text = stdout(&out);
    assert!(text.contains("problem  memorisation") && text.contains("warning  overfitting"), "{text}");
    assert!(text.lines().nth(1).is_some_and(|l| l.trim_start().starts_with("Memorised its training data")), "the verdict comes first:\n{text}");
    assert!(text.contains("evidence:") && text.contains("action:"), "{text}");

    let out = w.sweep(&["diagnose", "runs/memo", "--format", "json"]);
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let picture: Vec<&str> = json["across_the_sweep"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
    assert!(picture.contains(&"every run memorised the training data (2 of 2)"), "{picture:?}");
    assert!(json["runs"][0]["verdict"].as_str().unwrap().starts_with("Memorised"), "{json:#}");

    let report = stdout(&w.sweep(&["report", "runs/memo"]));
    assert!(report.contains("findings") && report.contains("memorisation"), "{report}");
    assert!(report.contains("across the sweep"), "{report}");
    assert!(report.contains("diagnosis of the best 2 runs") && report.contains("- seed1: Memorised its training data"), "{report}");
}

/// 150 KB of varied pseudo-English from a fixed seed: more text than a short run can overfit.
fn varied_text() -> String {
    let words = [
        "the", "bird", "sings", "over", "a", "quiet", "river", "where", "light", "falls", "on", "green", "leaves", "and", "stones", "wait", "for", "rain",
        "night", "comes", "slowly", "to", "old", "hills", "of", "summer",
    ];
    let mut x: u64 = 0x2545F4914F6CDD1D;
    let mut out = String::new();
    while out.len() < 150_000 {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.push_str(words[(x % words.len() as u64) as usize]);
        out.push(if x.is_multiple_of(11) { '\n' } else { ' ' });
    }
    out
}

#[test]
fn a_short_run_on_a_larger_corpus_is_not_overfitting() {
    let w = SweepDir::new();
    w.write("data/big.txt", &varied_text());
    w.write(
        "sweeps/ok.yaml",
        "name: ok\ndata:\n  path: data/big.txt\nsettings:\n  block_size: 32\n  embed_dim: 32\n  n_layers: 1\n  n_heads: 2\n  batch_size: 16\n  max_iters: 150\n  eval_interval: 25\n  eval_iters: 8\n  lr: 0.003\n",
    );
    let out = w.sweep(&["run", "sweeps/ok.yaml"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    let c = codes(&w.summary("ok", "run")["findings"]);
    for bad in ["overfitting", "memorisation", "epochs", "diverged"] {
        assert!(!c.contains(&bad.to_string()), "{bad} in {c:?}");
    }
}

/// A log in nanoGPT's format, made up here: a GPT called 125M that has 40.56M parameters,
/// trained on an H100 (logged MFU assumes an A100), plateauing early with lr still high,
/// dropout 0.2 and val below train.
fn nanogpt_log() -> String {
    let mut log = String::from(
        "Overriding config with config/train_owt.py:\n# owt\nwandb_run_name = 'gpt2-125M'\nbatch_size = 12\nblock_size = 1024\ngradient_accumulation_steps = 40\n\
         n_embd = 384\ndropout = 0.2\nlearning_rate = 6e-4\nmin_lr = 6e-5\nwarmup_iters = 2000\nlr_decay_iters = 600000\nOverriding: max_iters = 6000\n\
         tokens per iteration will be: 491,520\nnumber of parameters: 40.56M\n",
    );
    for i in 0..=12 {
        let step = i * 500;
        let val = if step <= 3000 { 4.0 - step as f64 / 2000.0 } else { 2.5 - (step - 3000) as f64 * 1e-6 };
        log.push_str(&format!("step {step}: train loss {:.4}, val loss {:.4}\n", val + 0.05, val));
        for j in 0..if step < 6000 { 5 } else { 1 } {
            log.push_str(&format!("iter {}: loss {:.4}, time 412.50ms, mfu 48.{j}0%\n", step + j * 100, val + 0.1));
        }
    }
    log
}

#[test]
fn a_nanogpt_log_is_diagnosed_from_its_numbers() {
    let w = SweepDir::new();
    let path = w.write("train_owt.log", &nanogpt_log());
    let out = w.sweep(&["diagnose", path.to_str().unwrap(), "--gpu", "H100", "--train-tokens", "300000000", "--format", "json"]);
    assert!(out.status.success(), "{}", stderr(&out));
    let json: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let findings = json["findings"].as_array().unwrap();
    let find = |code: &str| findings.iter().find(|f| f["code"] == code).unwrap_or_else(|| panic!("{code} missing in {findings:#?}"));
    assert!(find("size_mismatch")["message"].as_str().unwrap().contains("the name says 125M"));
    assert!(find("plateau")["message"].as_str().unwrap().starts_with("val flattened from about step 3,000"), "{}", find("plateau"));
    assert!(find("lr_high_at_plateau")["evidence"].as_str().unwrap().contains("peak 6e-4"), "{}", find("lr_high_at_plateau"));
    // 6000 steps × 491,520 tokens over 40.56M parameters.
    assert!(
        find("tokens_per_param")["evidence"].as_str().unwrap().contains("= 72.7 tokens per parameter; ÷ 20 = 3.64× compute-optimal"),
        "{}",
        find("tokens_per_param")
    );
    let verdict = json["verdict"].as_str().unwrap();
    assert_eq!(
        verdict,
        "Flattened from about step 3,000 of 6,000: ~73 tokens per parameter (4× compute-optimal) on repeated data (9.8 epochs) with lr still 10× min_lr; a bigger model or more data will help, more steps will not (decaying the lr sooner gives one last drop)."
    );
    // 48% of an A100's 312 TFLOP/s is 15% of an H100's 989.
    assert!(find("mfu")["message"].as_str().unwrap().contains("MFU 15.2% on the H100 named in --gpu"), "{}", find("mfu"));
    assert!(find("val_below_train")["message"].as_str().unwrap().contains("dropout 0.2"));
    // 6000 × 491,520 tokens over 300M training tokens.
    assert!(find("epochs")["message"].as_str().unwrap().contains("9.8 times"));
    assert!(!findings.iter().any(|f| f["code"] == "overfitting"));

    let bad = w.write("notes.txt", "just some notes\n");
    let out = w.sweep(&["diagnose", bad.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("notes.txt: no `step N: train loss X, val loss Y` lines found"), "{}", stderr(&out));
}
