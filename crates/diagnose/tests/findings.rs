//! Synthetic curves for each finding, and a healthy curve that triggers none of the
//! curve-shape findings.

use diagnose::{Eval, Evidence, Iter, Params, Schedule, Severity, diagnose};

fn codes(e: &Evidence) -> Vec<String> {
    diagnose(e).findings.into_iter().map(|f| f.code).collect()
}

fn curve(f: impl Fn(f64) -> (f64, f64)) -> Vec<Eval> {
    (0..=10)
        .map(|i| {
            let step = i * 100;
            let (train, val) = f(step as f64);
            Eval { step, train, val, lr: None }
        })
        .collect()
}

/// Loss still falling by a few percent per eval at the end, val a little above train.
fn healthy() -> Evidence {
    let f = |s: f64| 1.2 + 3.0 * (-s / 500.0).exp();
    let iters = (0..1000).map(|s| Iter { step: s, loss: f(s as f64) + 0.02 * ((s * 7919 % 13) as f64 / 13.0 - 0.5), ms: Some(20.0), mfu: None }).collect();
    Evidence { evals: curve(|s| (f(s), f(s) + 0.05)), iters, dropout: Some(0.0), ..Default::default() }
}

#[test]
fn healthy_curve_has_no_shape_findings() {
    let c = codes(&healthy());
    for bad in ["overfitting", "plateau", "loss_spikes", "diverged", "lr_high_at_plateau", "memorisation"] {
        assert!(!c.contains(&bad.to_string()), "{bad} in {c:?}");
    }
}

#[test]
fn overfitting_reports_best_step_and_rise() {
    let e = Evidence {
        evals: curve(|s| (3.0 - s / 400.0, if s <= 300.0 { 3.0 - s / 300.0 } else { 2.0 + (s - 300.0) / 1000.0 })),
        dropout: Some(0.0),
        ..Default::default()
    };
    let f = diagnose(&e).findings.into_iter().find(|f| f.code == "overfitting").expect("overfitting");
    assert!(f.message.contains("rose 0.700 from its minimum 2.0000 at step 300"), "{}", f.message);
    assert!(f.action.contains("stop at step 300") && f.action.contains("raise dropout"), "{}", f.action);
    assert!(!codes(&e).contains(&"plateau".to_string()), "a rising val curve is overfitting, not a plateau");
}

#[test]
fn widening_gap_is_overfitting_even_while_val_still_falls() {
    let e = Evidence { evals: curve(|s| (3.0 - s / 300.0, 3.0 - s / 1000.0)), ..Default::default() };
    let f = diagnose(&e).findings.into_iter().find(|f| f.code == "overfitting").expect("overfitting");
    assert!(f.message.contains("gap between val and train loss widened"), "{}", f.message);
}

#[test]
fn plateau_with_lr_still_high() {
    let mut e =
        Evidence { evals: curve(|s| if s < 400.0 { (4.0 - s / 200.0, 4.1 - s / 200.0) } else { (2.0, 2.1 - (s - 400.0) * 1e-6) }), ..Default::default() };
    e.schedule = Some(Schedule { lr: 1e-3, min_lr: 1e-4, warmup_iters: 100, lr_decay_iters: 10_000 });
    let found = diagnose(&e).findings;
    let plateau = found.iter().find(|f| f.code == "plateau").expect("plateau");
    assert!(
        plateau.message.starts_with(
            "val flattened from about step 400: the second half of the steps gained 0.0005, 0.03% of the 1.501 it learned after its first 10% of steps"
        ),
        "{}",
        plateau.message
    );
    let lr = found.iter().find(|f| f.code == "lr_high_at_plateau").expect("lr_high_at_plateau");
    assert!(
        lr.message.contains("still 9.98e-4 (10.0× min_lr, 100% of its peak) when the curve turned at step 400: the cosine was planned for 10,000 steps"),
        "{}",
        lr.message
    );
    assert!(lr.action.contains("set lr_decay_iters to about 400"), "{}", lr.action);
    // The same plateau at the end of a finished cosine is not "lr still high".
    e.schedule = Some(Schedule { lr: 1e-3, min_lr: 1e-4, warmup_iters: 10, lr_decay_iters: 400 });
    assert!(!codes(&e).contains(&"lr_high_at_plateau".to_string()));
}

#[test]
fn epochs_and_tokens_per_parameter() {
    let params = Some(Params { total: 10_000_000, token_embedding: None, position_embedding: Some(0) });
    // 100 epochs of 1M tokens over 10M params: 10 seen and 0.1 unique tokens per parameter.
    let e = Evidence { evals: healthy().evals, params, tokens_seen: Some(100_000_000), train_tokens: Some(1_000_000), ..Default::default() };
    let found = diagnose(&e).findings;
    let epochs = found.iter().find(|f| f.code == "epochs").expect("epochs");
    assert_eq!(epochs.severity, Severity::Warning);
    assert!(epochs.message.contains("100.0 times"), "{}", epochs.message);
    let starved = found.iter().find(|f| f.code == "data_starved").expect("data_starved");
    assert_eq!(starved.evidence, "1,000,000 training tokens ÷ 10.00M parameters = 0.100");
    let tpp = found.iter().find(|f| f.code == "tokens_per_param").expect("tokens_per_param");
    assert_eq!(tpp.severity, Severity::Info, "10 per parameter on data this small: the size is not what is spent");
    assert_eq!(
        tpp.evidence,
        "100.00M tokens seen ÷ 10.00M parameters (without position embeddings, as nanoGPT counts) = 10.0 tokens per parameter; ÷ 20 = 0.50× compute-optimal"
    );

    let under = Evidence { params, tokens_seen: Some(5_000_000), train_tokens: Some(1_000_000_000), ..Default::default() };
    assert!(codes(&under).contains(&"undertrained".to_string()));
    let spent = Evidence { params, tokens_seen: Some(5_000_000_000), train_tokens: Some(1_000_000_000), ..Default::default() };
    assert!(codes(&spent).contains(&"size_spent".to_string()));
    let optimal = Evidence { params, tokens_seen: Some(200_000_000), train_tokens: Some(1_000_000_000), ..Default::default() };
    let c = codes(&optimal);
    assert!(!c.iter().any(|c| ["undertrained", "size_spent", "data_starved"].contains(&c.as_str())), "{c:?}");
}

#[test]
fn claimed_size_that_is_not_the_real_size() {
    let e = Evidence {
        name: Some("gpt2-125M".into()),
        params: Some(Params { total: 40_560_000, token_embedding: Some(19_300_000), position_embedding: Some(393_216) }),
        ..Default::default()
    };
    let found = diagnose(&e).findings;
    let f = found.iter().find(|f| f.code == "size_mismatch").expect("size_mismatch");
    assert!(f.message.contains("the name says 125M but the model has 40.56M parameters (3.1× fewer)"), "{}", f.message);
    let p = found.iter().find(|f| f.code == "params").expect("params");
    assert!(p.evidence.contains("19.30M in token embeddings") && p.evidence.contains("393.2k in position embeddings"), "{}", p.evidence);
    let fine = Evidence {
        name: Some("gpt2-124M".into()),
        params: Some(Params { total: 124_439_808, token_embedding: None, position_embedding: None }),
        ..Default::default()
    };
    assert!(!codes(&fine).contains(&"size_mismatch".to_string()));
}

#[test]
fn val_below_train_with_dropout() {
    let e = Evidence { evals: curve(|s| (3.0 - s / 1000.0, 2.9 - s / 1000.0)), dropout: Some(0.2), ..Default::default() };
    assert!(codes(&e).contains(&"val_below_train".to_string()));
    let no_dropout = Evidence { dropout: Some(0.0), ..e };
    assert!(!codes(&no_dropout).contains(&"val_below_train".to_string()));
}

#[test]
fn spikes_and_divergence() {
    let mut e = healthy();
    e.iters[600].loss *= 2.0;
    let f = diagnose(&e).findings.into_iter().find(|f| f.code == "loss_spikes").expect("loss_spikes");
    assert!(f.message.contains("largest at step 600"), "{}", f.message);
    e.iters[900].loss = f64::NAN;
    let d = diagnose(&e).findings;
    assert_eq!(d[0].code, "diverged", "problems come first");
    assert!(d[0].message.contains("NaN at step 900"), "{}", d[0].message);
}

#[test]
fn mfu_uses_the_peak_of_the_device_used() {
    let base = Evidence { flops_per_token: Some(1e9), tokens_per_second: Some(50_000.0), ..Default::default() };
    // 5e13 FLOP/s on an H100 (989 TFLOP/s) is 5.1%: low.
    let h100 = Evidence { device: Some("NVIDIA H100 80GB HBM3".into()), ..base.clone() };
    let f = diagnose(&h100).findings.into_iter().find(|f| f.code == "low_mfu").expect("low_mfu");
    assert!(f.message.contains("5.1%"), "{}", f.message);
    // The same throughput on an RTX 4070 (58.3 TFLOP/s) is a healthy 85.8%.
    let rtx = Evidence { device: Some("NVIDIA GeForce RTX 4070".into()), ..base.clone() };
    let f = diagnose(&rtx).findings.into_iter().find(|f| f.code == "mfu").expect("mfu");
    assert!(f.message.contains("85.8%"), "{}", f.message);
    let cpu = Evidence { device: Some("cpu".into()), ..base.clone() };
    assert!(codes(&cpu).contains(&"mfu_not_estimated".to_string()));
    assert!(!codes(&base).iter().any(|c| c.contains("mfu")), "unknown device: nothing guessed");
    // nanoGPT's logged MFU assumes an A100: 150% without a GPU name is impossible.
    let iters = (0..10).map(|s| Iter { step: s, loss: 2.0, ms: Some(10.0), mfu: Some(1.5) }).collect();
    let logged = Evidence { iters, ..Default::default() };
    assert!(codes(&logged).contains(&"mfu_over_100".to_string()));
}

#[test]
fn memorisation_from_loss_and_from_samples() {
    let train = "the sun rises over the quiet hills and the birds begin their morning song across the valley";
    let low = Evidence { evals: curve(|_| (0.00002, 4.0)), ..Default::default() };
    let f = diagnose(&low).findings.into_iter().find(|f| f.code == "memorisation").expect("memorisation");
    assert!(f.message.contains("train loss is 0.00002"), "{}", f.message);

    let copy = Evidence {
        samples: vec!["the sun rises over the quiet hills and the birds begin their morning song xq zv".into()],
        train_text: Some(train.into()),
        ..Default::default()
    };
    let f = diagnose(&copy).findings.into_iter().find(|f| f.code == "memorisation").expect("memorisation");
    assert!(f.evidence.contains("longest verbatim span of training text in the samples: 74 characters"), "{}", f.evidence);
    let original = Evidence { samples: vec!["a cat sat down by an old stone wall, waiting".into()], train_text: Some(train.into()), ..Default::default() };
    assert!(!codes(&original).contains(&"memorisation".to_string()));
}

#[test]
fn data_too_small_for_the_block_size() {
    let e = Evidence { train_tokens: Some(500), block_size: Some(64), ..Default::default() };
    let f = diagnose(&e).findings.into_iter().find(|f| f.code == "data_small").expect("data_small");
    assert!(f.message.contains("7.8 non-overlapping contexts of block_size 64"), "{}", f.message);
}

#[test]
fn missing_inputs_are_skipped_not_guessed() {
    assert!(diagnose(&Evidence::default()).findings.is_empty());
}

#[test]
fn a_divergence_is_not_also_overfitting() {
    // A run folder of a diverged run: its last eval read 3.6e8 after the loss blew up.
    let mut e = healthy();
    e.evals.last_mut().unwrap().val = 3.6e8;
    e.diverged = Some((950, f64::NAN));
    let c = codes(&e);
    assert_eq!(c.first().map(String::as_str), Some("diverged"), "{c:?}");
    for gone in ["overfitting", "plateau", "loss_spikes", "lr_high_at_plateau"] {
        assert!(!c.contains(&gone.to_string()), "{gone} in {c:?}");
    }
    // Without the divergence the same curve is overfitting: the rule is what removes it.
    e.diverged = None;
    assert!(codes(&e).contains(&"overfitting".to_string()));
}

#[test]
fn eval_noise_at_the_end_of_a_healthy_run_is_not_a_turn() {
    // A power law on 21 evals with ±0.005 of eval noise: the best falls on the third-to-last
    // eval and the two after it are 0.001 and 0.002 above it, well within the noise.
    let noise = [0.004, -0.005, 0.003, -0.002, 0.005, -0.004, 0.001, -0.003, 0.004, -0.005, 0.002];
    let mut evals: Vec<Eval> = (0..=20)
        .map(|i| {
            let step = i * 500;
            let v = 3.0 + 2.0 * ((step + 500) as f64 / 500.0).powf(-0.5) + noise[i as usize % noise.len()];
            Eval { step, train: v - 0.01, val: v, lr: None }
        })
        .collect();
    let n = evals.len();
    let best = evals.iter().map(|v| v.val).fold(f64::INFINITY, f64::min) - 0.001;
    evals[n - 3].val = best;
    evals[n - 2].val = best + 0.001;
    evals[n - 1].val = best + 0.002;
    let e = Evidence { evals, ..Default::default() };
    let d = diagnose(&e);
    let c: Vec<&str> = d.findings.iter().map(|f| f.code.as_str()).collect();
    assert!(!c.contains(&"plateau") && !c.contains(&"overfitting"), "{c:?}: {:#?}", d.findings);
    assert!(d.verdict.starts_with("Still improving at step 10k"), "{}", d.verdict);
}

#[test]
fn a_blow_up_without_nan_is_a_divergence_not_overfitting() {
    // Val and train both climb from 3.75 to 7.6: the run came apart.
    let e = Evidence {
        evals: curve(|s| {
            if s <= 500.0 {
                (4.0 - s / 2000.0, 4.0 - s / 2000.0)
            } else {
                let v = 3.75 + (s - 500.0) / 130.0;
                (v, v)
            }
        }),
        ..Default::default()
    };
    let d = diagnose(&e);
    let c: Vec<&str> = d.findings.iter().map(|f| f.code.as_str()).collect();
    assert_eq!(c.first(), Some(&"diverged"), "{c:?}");
    assert!(!c.contains(&"overfitting"), "{c:?}");
    assert_eq!(d.findings[0].message, "training diverged: train loss rose from 3.7500 at step 500 to 7.5962 at step 1,000");
}

#[test]
fn min_lr_zero_and_no_tokens_say_no_infinities() {
    let mut e =
        Evidence { evals: curve(|s| if s < 400.0 { (4.0 - s / 200.0, 4.1 - s / 200.0) } else { (2.0, 2.1 - (s - 400.0) * 1e-6) }), ..Default::default() };
    e.schedule = Some(Schedule { lr: 1e-3, min_lr: 0.0, warmup_iters: 100, lr_decay_iters: 10_000 });
    e.params = Some(Params { total: 1_000_000, token_embedding: None, position_embedding: Some(0) });
    e.tokens_seen = Some(0);
    let d = diagnose(&e);
    let text = format!("{} {:?}", d.verdict, d.findings);
    assert!(!text.contains("inf"), "{text}");
    assert!(d.verdict.contains("with lr still 100% of its peak"), "{}", d.verdict);
}
