//! The synthetic nanoGPT logs in examples/nanogpt (written by make_logs.py there), each with
//! the findings it must and must not get, the exact numbers in their evidence, and the
//! verdict: a plateau with a small uptick and the lr still high, a healthy run, clear
//! overfitting, too few steps, and a divergence.

use diagnose::nanogpt_log::{Log, LogOptions};
use diagnose::{Diagnosis, Finding, Severity, diagnose};

fn read(name: &str, opts: LogOptions) -> Diagnosis {
    let path = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nanogpt").join(name);
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    diagnose(&Log::parse(&text).unwrap().evidence(name, opts))
}

fn find<'a>(d: &'a Diagnosis, code: &str) -> &'a Finding {
    d.findings.iter().find(|f| f.code == code).unwrap_or_else(|| panic!("no {code} in {:#?}", d.findings))
}

fn codes(d: &Diagnosis) -> Vec<&str> {
    d.findings.iter().map(|f| f.code.as_str()).collect()
}

fn assert_none(d: &Diagnosis, absent: &[&str]) {
    let c = codes(d);
    for code in absent {
        assert!(!c.contains(code), "{code} must not be found: {c:?}");
    }
}

/// The example: 12×384 ("125M", really 41M) on one FineWeb-Edu shard, 524,288
/// tokens per step for 14,500 of 20,000 planned steps, cosine 1e-3 → 1e-4; val's minimum
/// 3.5655 at 13,500, then two evals a little higher.
#[test]
fn plateau_with_a_small_uptick_and_the_lr_still_high() {
    let d = read("fineweb_125M_rtx4070.log", LogOptions::default());
    assert_eq!(
        d.verdict,
        "Stopped improving at 13.5k of 14.5k steps: ~190 tokens per parameter (9× compute-optimal) on repeated data with lr still 3× min_lr; a bigger model or more data will help, more steps will not (decaying the lr sooner gives one last drop)."
    );
    // (1) the turn of the curve, with repetition named from the single-shard dataset.
    let p = find(&d, "plateau");
    assert_eq!(
        p.message,
        "val stopped improving at step 13,500 (3.5655); the two later evals are higher by 0.001–0.004; likely cause: repeated data (the dataset \"fineweb_edu_shard0\" is a single shard)"
    );
    assert_eq!(p.evidence, "best val 3.5655 @ 13500; later: 3.5665 @ 14000, 3.5695 @ 14500; lr at step 13500: 3.29e-4 = 3.3× min_lr, 33% of the peak 1e-3");
    // (5) the schedule at the turn.
    let lr = find(&d, "lr_high_at_plateau");
    assert_eq!(lr.severity, Severity::Warning);
    assert!(
        lr.message.contains("still 3.29e-4 (3.3× min_lr, 33% of its peak) when the curve turned at step 13,500: the cosine was planned for 20,000 steps"),
        "{}",
        lr.message
    );
    assert!(
        lr.action.contains("set lr_decay_iters to about 13.5k") && lr.action.contains("warmup-stable-decay") && lr.action.contains("expect val to drop"),
        "{}",
        lr.action
    );
    // (2) the token budget, with the arithmetic.
    let t = find(&d, "size_spent");
    assert_eq!(t.severity, Severity::Warning);
    assert_eq!(t.message, "this model size is spent: 190 tokens seen per parameter, 9× the compute-optimal ~20");
    assert_eq!(
        t.evidence,
        "524,288 tokens/step × 14,500 steps = 7.60B tokens ÷ 40.56M parameters (without position embeddings, as nanoGPT counts) = 187.4 tokens per parameter; ÷ 20 = 9.37× compute-optimal"
    );
    assert_eq!(t.action, "a larger model or more data, not more steps");
    // (3) not a 125M model; (4) val below train under dropout.
    assert!(find(&d, "size_mismatch").message.contains("the name says 125M but the model has 40.95M parameters (3.1× fewer)"));
    assert!(find(&d, "val_below_train").message.contains("with dropout 0.1"));
    // (6) the GPU from the file name.
    let m = find(&d, "mfu");
    assert!(m.message.starts_with("MFU 61.0% on the RTX 4070 named in the file name: the GPU is well used"), "{}", m.message);
    assert_eq!(m.evidence, "logged MFU 11.4% assumes an A100 (312 TFLOP/s); × 312 / 58.3 TFLOP/s of the RTX 4070 = 61.0%");
    // What --train-tokens would add, since the log does not say.
    assert!(find(&d, "train_tokens_unknown").action.contains("--train-tokens N (or --train-bin FILE)"));
    assert_none(&d, &["overfitting", "diverged", "tokens_per_param", "undertrained", "low_mfu"]);
}

#[test]
fn the_same_plateau_with_the_dataset_size_counts_epochs() {
    // One shard of FineWeb-Edu is 100M tokens: 7.6B tokens seen are 76 passes over it.
    let d = read("fineweb_125M_rtx4070.log", LogOptions { train_tokens: Some(100_000_000), ..Default::default() });
    assert!(d.verdict.contains("on repeated data (76 epochs) with lr still 3× min_lr"), "{}", d.verdict);
    assert!(find(&d, "plateau").message.ends_with("likely cause: repeated data (76 epochs over the training tokens)"));
    assert_eq!(find(&d, "epochs").evidence, "7,602,176,000 tokens seen / 100,000,000 training tokens = 76.02 epochs");
    assert_none(&d, &["train_tokens_unknown"]);
}

/// Val still falling steadily at the end, lr decayed to min_lr, under one epoch, ~20 tokens
/// per parameter: no warning at all.
#[test]
fn a_healthy_run_gets_no_warnings() {
    // OpenWebText's train.bin holds 9,035,582,198 tokens.
    let d = read("owt_30M_healthy.log", LogOptions { train_tokens: Some(9_035_582_198), ..Default::default() });
    assert!(d.findings.iter().all(|f| f.severity == Severity::Info), "{:#?}", d.findings);
    assert_none(&d, &["plateau", "overfitting", "lr_high_at_plateau", "size_spent", "undertrained", "epochs", "low_mfu"]);
    assert_eq!(
        d.verdict,
        "Still improving at step 1,200 (val 0.141 lower than at step 900): ~20 tokens per parameter (1.0× compute-optimal); a healthy run: to go lower, grow the model and the data together."
    );
    let t = find(&d, "tokens_per_param");
    assert_eq!(
        t.evidence,
        "491,520 tokens/step × 1,200 steps = 589.82M tokens ÷ 29.94M parameters (without position embeddings, as nanoGPT counts) = 19.7 tokens per parameter; ÷ 20 = 0.99× compute-optimal"
    );
    // Nothing names the GPU: the MFU is stated relative to an A100 and not judged.
    let m = find(&d, "mfu");
    assert!(m.message.starts_with("MFU 38.1% relative to an A100, as nanoGPT computes it: nothing in the log or its name names the GPU"), "{}", m.message);
}

/// nanoGPT's shakespeare_char settings: val's minimum 1.4697 at 2,250, then up 0.11 by 5,000,
/// on a 1M-character corpus seen 82 times.
#[test]
fn clear_overfitting_on_repeated_data() {
    let d = read("shakespeare_char.log", LogOptions { train_tokens: Some(1_003_854), ..Default::default() });
    let o = find(&d, "overfitting");
    assert_eq!(
        o.message,
        "overfitting: val loss rose 0.112 from its minimum 1.4697 at step 2,250 to 1.5815 at step 5,000; likely cause: repeated data (82 epochs over the training tokens)"
    );
    assert!(o.action.starts_with("stop at step 2250 (max_iters=2250)"), "{}", o.action);
    assert_eq!(find(&d, "epochs").severity, Severity::Warning);
    assert_eq!(find(&d, "data_starved").evidence, "1,003,854 training tokens ÷ 10.65M parameters = 0.094");
    // The budget is stated (7.7 per parameter), but data this small is the limit, not the size.
    assert_eq!(find(&d, "tokens_per_param").message, "7.7 tokens seen per parameter, 2.6× short of the compute-optimal ~20");
    // A rising curve is overfitting, not a plateau, and the lr was near min_lr by then.
    assert_none(&d, &["plateau", "lr_high_at_plateau", "size_spent", "diverged"]);
    // The GPU named in the config's comment.
    assert!(find(&d, "mfu").message.starts_with("MFU 22.1% on the A100 named in line 3 of the log"), "{}", find(&d, "mfu").message);
    assert_eq!(
        d.verdict,
        "Overfit from step 2,250 of 5,000 (val then rose 0.112): 0.094 unique training tokens per parameter on repeated data (82 epochs); more data will help most; a smaller model or stopping at step 2,250 will too, more steps will not."
    );
}

/// GPT-2 124M stopped after 400 of 600,000 steps: still falling fast, 1.6 tokens per parameter.
#[test]
fn too_few_steps() {
    let d = read("gpt2_124M_h100.log", LogOptions::default());
    let u = find(&d, "undertrained");
    assert_eq!(u.message, "undertrained: 1.6 tokens seen per parameter, 13× short of the compute-optimal ~20");
    assert_eq!(u.evidence, "491,520 tokens/step × 400 steps = 196.61M tokens ÷ 123.59M parameters = 1.6 tokens per parameter; ÷ 20 = 0.08× compute-optimal");
    assert!(u.action.starts_with("the run stopped at step 400 of the planned 600,000: let it run (about 13× the steps so far"), "{}", u.action);
    assert_none(&d, &["plateau", "overfitting", "lr_high_at_plateau", "size_spent", "size_mismatch"]);
    assert_eq!(
        d.verdict,
        "Still improving at step 400 (val 0.215 lower than at step 300): 1.6 tokens per parameter (13× short of compute-optimal); train longer: far more steps will pay."
    );
    // The file name says H100 (the stock config's comment says A100: the name wins), so
    // the logged 118% is rescaled, and --gpu overrides both.
    let m = find(&d, "mfu");
    assert_eq!(m.evidence, "logged MFU 118.0% assumes an A100 (312 TFLOP/s); × 312 / 989.0 TFLOP/s of the H100 = 37.2%");
    let d = read("gpt2_124M_h100.log", LogOptions { gpu: Some("H100 PCIe".into()), ..Default::default() });
    assert!(find(&d, "mfu").message.starts_with("MFU 48.7% on the H100 PCIe named in --gpu"), "{}", find(&d, "mfu").message);
}

/// A divergence explains the curve alone: no overfitting, plateau or spikes from the NaNs.
#[test]
fn a_diverged_run_gets_only_the_divergence() {
    let d = read("diverged.log", LogOptions::default());
    assert_eq!(d.findings[0].code, "diverged");
    assert_eq!(d.findings[0].evidence, "loss NaN at step 730, lr 2.553e-3 at that step");
    assert_none(&d, &["overfitting", "plateau", "loss_spikes", "lr_high_at_plateau", "undertrained", "val_below_train"]);
    assert_eq!(find(&d, "tokens_per_param").severity, Severity::Info, "a diverged run's budget is stated, not judged");
    assert!(d.verdict.starts_with("Diverged at step 730 (loss NaN) with lr 2.55e-3: lower the lr"), "{}", d.verdict);
}

fn parse(text: &str, name: &str, opts: LogOptions) -> Diagnosis {
    diagnose(&Log::parse(text).unwrap().evidence(name, opts))
}

#[test]
fn a_stock_config_comment_naming_a_slower_gpu_is_not_believed() {
    // The stock train_gpt2.py comment names A100s; 118% on an A100 is impossible.
    let text = std::fs::read_to_string(std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../examples/nanogpt/gpt2_124M_h100.log")).unwrap();
    let d = parse(&text, "train.log", LogOptions::default());
    let m = find(&d, "mfu_over_100");
    assert!(m.message.contains("118% would be 118% on the A100 named in line 2 of the log: beyond what dense training reaches"), "{}", m.message);
    // --gpu as people type it.
    let d = parse(&text, "train.log", LogOptions { gpu: Some("h100".into()), ..Default::default() });
    assert!(find(&d, "mfu").message.starts_with("MFU 37.2% on the h100 named in --gpu"), "{}", find(&d, "mfu").message);
    let d = parse(&text, "train.log", LogOptions { gpu: Some("rtx4090".into()), ..Default::default() });
    assert!(find(&d, "mfu_over_100").message.contains("on the RTX 4090 named in --gpu"), "{:?}", d.findings);
}

#[test]
fn two_runs_appended_to_one_log_read_as_the_last() {
    let text = "step 0: train loss 4.0, val loss 4.0\nstep 500: train loss 3.0, val loss 3.0\nstep 1000: train loss 2.5, val loss 2.6\n\
                step 0: train loss 4.1, val loss 4.1\nstep 100: train loss 3.5, val loss 3.5\n";
    let log = Log::parse(text).unwrap();
    assert_eq!(log.evals.iter().map(|e| e.step).collect::<Vec<_>>(), [0, 100]);
}

/// A log in nanoGPT's format from echoed settings and (step, train, val) evals.
fn log_text(settings: &str, evals: &[(u64, f64, f64)]) -> String {
    let mut t = format!("Overriding config with config/x.py:\n{settings}\ntokens per iteration will be: 16,384\nnumber of parameters: 10.65M\n");
    for (step, train, val) in evals {
        t.push_str(&format!("step {step}: train loss {train:.4}, val loss {val:.4}\n"));
    }
    t
}

#[test]
fn a_held_learning_rate_at_a_turn_is_the_first_advice() {
    // decay_lr = False: val falls, then stops at step 3,000 and ticks up twice.
    let evals: Vec<(u64, f64, f64)> = (0..=10)
        .map(|i| {
            let step = i * 500;
            let val = if step <= 3000 {
                2.0 + 2.0 * (-(step as f64) / 800.0).exp()
            } else {
                2.0 + 2.0 * (-3000f64 / 800.0).exp() + 0.004 * (step - 3000) as f64 / 500.0
            };
            (step, val - 0.05, val)
        })
        .collect();
    let text = log_text("learning_rate = 6e-4\ndecay_lr = False\ndropout = 0.0\ngrad_clip = 0.0", &evals);
    let d = parse(&text, "const.log", LogOptions::default());
    let lr = find(&d, "lr_high_at_plateau");
    assert_eq!(lr.message, "the learning rate was held at 6e-4 (no decay) when the curve turned at step 3,000");
    assert!(lr.action.starts_with("decay the lr: decay_lr = True with lr_decay_iters about 3,000"), "{}", lr.action);
    assert!(d.verdict.starts_with("Stopped improving at 3,000 of 5,000 steps: 7.7 tokens per parameter (2.6× short of compute-optimal) with the lr never decayed; decay the lr (decay_lr = True"), "{}", d.verdict);
}

#[test]
fn what_the_log_says_about_its_run_is_used() {
    // grad_clip = 0.0: the divergence advice turns clipping on.
    let text = log_text("grad_clip = 0.0", &[(0, 4.2, 4.2), (250, 2.1, 2.2), (500, f64::NAN, f64::NAN)]);
    assert!(find(&parse(&text, "x.log", LogOptions::default()), "diverged").action.ends_with("turn gradient clipping on (grad_clip = 1.0; it was off)"));
    // A fine-tune of GPT-2 XL: tokens per parameter does not apply.
    let evals = [(0, 3.2, 3.3), (100, 2.9, 3.0), (200, 2.8, 2.95), (300, 2.75, 2.93)];
    let d = parse(&log_text("init_from = 'gpt2-xl'", &evals), "ft.log", LogOptions::default());
    assert!(find(&d, "tokens_per_param").message.starts_with("fine-tuned from gpt2-xl: tokens per parameter"), "{:?}", d.findings);
    assert!(!d.verdict.contains("compute-optimal"), "{}", d.verdict);
    // device = 'cpu': no MFU, and no advice to name a GPU.
    let mut cpu = log_text("device = 'cpu'", &evals);
    cpu.push_str("iter 300: loss 2.7000, time 900.00ms, mfu 0.02%\n");
    let d = parse(&cpu, "cpu.log", LogOptions::default());
    assert_eq!(find(&d, "mfu_not_estimated").message, "MFU is not estimated on CPU: there is no reliable peak FLOP/s to divide by");
    // Three evals are too few to call a run healthy.
    let d = parse(&log_text("dropout = 0.0", &evals[..3]), "few.log", LogOptions::default());
    assert!(d.verdict.starts_with("Too few evaluations (3) to read the curve's shape"), "{}", d.verdict);
}

#[test]
fn an_mfu_beyond_what_training_reaches_means_the_gpu_named_is_wrong() {
    // The healthy log's 38.1% of an A100 would be 95% of a V100.
    let d = read("owt_30M_healthy.log", LogOptions { gpu: Some("V100".into()), ..Default::default() });
    assert!(find(&d, "mfu_over_100").message.contains("would be 95% on the V100 named in --gpu: beyond what dense training reaches"), "{:?}", d.findings);
}
