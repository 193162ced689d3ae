//! `sweep next`: the spec of the next sweep, from a finished one, every line commented with
//! its reason. Numeric settings are zoomed around their best value (a log step each side for
//! learning rates, half and double for sizes); settings whose effect was within seed noise
//! are fixed at their best; `seed: [1, 2, 3]` is added where no verdict could tell a gap from
//! noise; and with a scaling fit and a budget, the size and `max_iters` move along the
//! compute-optimal frontier. The text is YAML that `sweep run FILE --dry-run` accepts.

use crate::output::run_dir::load_all;
use crate::output::summary::{Status, Summary};
use crate::plan::run_id::format_value;
use crate::plan::spec::Spec;
use crate::report::stats::{self, Noise};
use crate::report::table::{RankBy, ValueStats, param_effects};
use serde_json::{Value, json};
use std::fmt::Write;
use std::path::Path;

/// Settings that are sizes: the next sweep tries half and double the best.
const SIZES: &[&str] = &["embed_dim", "n_layers", "n_heads", "hidden_dim", "batch_size", "block_size", "grad_accum_steps", "max_iters", "warmup_iters"];
/// Settings searched on a log scale: a step of ×3 each side.
const LOG_SCALE: &[&str] = &["lr", "min_lr", "weight_decay"];

/// What the next sweep does with one swept setting, and why.
struct Decision {
    key: String,
    /// A list for the grid, or one value for settings.
    values: Vec<Value>,
    fixed: bool,
    why: String,
}

/// `x` to two significant figures (3e-3 × 3 = 9e-3, not 0.009000000000000001).
fn round_sig(x: f64) -> f64 {
    format!("{x:.1e}").parse().unwrap_or(x)
}

/// The values around `best` that the next sweep tries.
fn zoom(key: &str, best: &Value, heads: u64) -> Vec<Value> {
    let Some(x) = best.as_f64() else { return vec![best.clone()] };
    if LOG_SCALE.contains(&key) {
        return vec![json!(round_sig(x / 3.0)), best.clone(), json!(round_sig(x * 3.0))];
    }
    if key == "dropout" {
        let lo = ((x - 0.1) * 10.0).round() / 10.0;
        let hi = ((x + 0.1) * 10.0).round() / 10.0;
        let mut v = Vec::new();
        if lo >= 0.0 && lo < x {
            v.push(json!(lo));
        }
        v.push(best.clone());
        if hi < 0.9 {
            v.push(json!(hi));
        }
        return v;
    }
    if SIZES.contains(&key) && best.is_u64() {
        let n = best.as_u64().unwrap_or(1);
        // embed_dim must stay a multiple of n_heads.
        let step = if key == "embed_dim" { heads.max(1) } else { 1 };
        let fit = |v: u64| (v / step).max(1) * step;
        let mut v: Vec<u64> = vec![fit(n / 2), n, fit(n * 2)];
        v.dedup();
        return v.into_iter().map(|n| json!(n)).collect();
    }
    vec![json!(round_sig(x / 2.0)), best.clone(), json!(round_sig(x * 2.0))]
}

/// The decision for each swept setting, from the effects the report computes.
fn decide(spec: &Spec, runs: &[Summary]) -> (Vec<Decision>, bool) {
    let opts = RankBy::default();
    let configs = stats::configs(runs, &opts.by, false);
    let spread = stats::seed_spread(&configs);
    let heads = spec.settings.get("n_heads").and_then(Value::as_u64).unwrap_or(sweep_config::ModelConfig::default().n_heads as u64);
    let mut out = Vec::new();
    let mut unknown = false;
    for effect in param_effects(runs, &opts).into_iter().filter(|e| e.param != stats::SEED) {
        let mut by_mean: Vec<&ValueStats> = effect.values.iter().collect();
        by_mean.sort_by(|a, b| a.mean.total_cmp(&b.mean));
        let Some(best) = by_mean.first() else { continue };
        // A binned value ("1e-4–3e-4") stands for a range: its best run's own value is used.
        let best_value = runs.iter().find(|s| s.run_id == best.best_run).and_then(|s| s.params.get(&effect.param)).cloned().unwrap_or(best.value.clone());
        let shown = format_value(&best_value);
        let Some(next) = by_mean.get(1) else {
            out.push(Decision { key: effect.param.clone(), values: vec![best_value], fixed: true, why: "one value finished: kept".into() });
            continue;
        };
        let gap = (best.mean - next.mean).abs();
        let numbers: Vec<f64> = effect.values.iter().filter_map(|v| v.value.as_f64()).collect();
        let edge = best.value.as_f64().is_some_and(|b| numbers.iter().all(|&x| x >= b) || numbers.iter().all(|&x| x <= b));
        let edge_note = if edge && effect.values.len() > 2 { "; the best is at the edge of the range tried, so the zoom looks beyond it" } else { "" };
        match stats::judge(gap, spread, best.runs, next.runs) {
            (Noise::WithinNoise, Some(se)) => out.push(Decision {
                key: effect.param.clone(),
                values: vec![best_value],
                fixed: true,
                why: format!("{shown} vs {}: {gap:.4} apart, within seed noise (± {se:.4}): fixed at its best", format_value(&next.value)),
            }),
            (Noise::Real, Some(se)) => out.push(Decision {
                key: effect.param.clone(),
                values: zoom(&effect.param, &best_value, heads),
                fixed: false,
                why: format!("{shown} beat {} by {gap:.4} (± {se:.4} seed noise): zoomed around it{edge_note}", format_value(&next.value)),
            }),
            _ => {
                unknown = true;
                out.push(Decision {
                    key: effect.param.clone(),
                    values: zoom(&effect.param, &best_value, heads),
                    fixed: false,
                    why: format!(
                        "{shown} was best on average ({:.4} vs {:.4} for {}), a gap no seed repeat could judge: zoomed around it{edge_note}",
                        best.mean,
                        next.mean,
                        format_value(&next.value)
                    ),
                })
            }
        }
    }
    (out, unknown)
}

/// A value as a spec writes it: `3e-3`, `0.1`, `64`, `"data/x.txt"`, `[1e-3, 3e-3]`.
fn yaml(v: &Value) -> String {
    match v {
        Value::Number(_) => format_value(v),
        Value::Array(items) => format!("[{}]", items.iter().map(yaml).collect::<Vec<_>>().join(", ")),
        other => serde_json::to_string(other).unwrap_or_default(),
    }
}

/// `  key: value` with its reason as a comment, aligned.
fn line(out: &mut String, key: &str, value: &str, why: &str) {
    let _ = writeln!(out, "{:<34} # {why}", format!("  {key}: {value}"));
}

/// The spec text of the next sweep after the one in `sweep_dir`, and the cautions it
/// carries (also at the top of the text, as comments).
pub fn next_spec(sweep_dir: &Path, budget_flops: Option<f64>, budget_hours: Option<f64>) -> anyhow::Result<(String, Vec<String>)> {
    let spec = Spec::saved(sweep_dir)?;
    let runs = load_all(sweep_dir)?;
    let done: Vec<&Summary> = runs.iter().filter(|s| s.status == Status::Done).collect();
    anyhow::ensure!(done.len() >= 2, "{}: {} finished run(s); the next sweep is planned from at least 2", sweep_dir.display(), done.len());
    let (mut decisions, unknown) = decide(&spec, &runs);
    let fit = crate::report::scaling::of_sweep(sweep_dir, false, None)?;
    // Throughput of this sweep's runs, for --budget-hours.
    let flops_per_s = {
        let g: Vec<f64> = done.iter().filter_map(|s| s.gflops).collect();
        (!g.is_empty()).then(|| 1e9 * g.iter().sum::<f64>() / g.len() as f64)
    };
    let budget = match (budget_flops, budget_hours) {
        (Some(f), _) => Some((f, format!("--budget-flops {f:e}"))),
        (None, Some(h)) => {
            let rate = flops_per_s.ok_or_else(|| anyhow::anyhow!("{}: no run recorded its throughput (gflops); give --budget-flops", sweep_dir.display()))?;
            Some((h * 3600.0 * rate, format!("--budget-hours {h}: {h} h at this sweep's {:.1} GFLOP/s", rate / 1e9)))
        }
        (None, None) => None,
    };
    let mut out = String::new();
    let _ = writeln!(out, "# The next sweep after {} (written by `sweep next`): every line says why.", spec.name);
    let _ = writeln!(out, "name: {}_next", spec.name);
    let caution_at = out.len();
    let _ = writeln!(out, "data:                          # the same corpus");
    let data = serde_json::to_value(&spec.data)?;
    if let Some(obj) = data.as_object() {
        for (k, v) in obj.iter().filter(|(_, v)| !v.is_null()) {
            let _ = writeln!(out, "  {k}: {}", yaml(v));
        }
    }
    // Reasons to doubt what follows, said at the top of the file and by the command.
    let mut cautions: Vec<String> = Vec::new();
    let mut settings: Vec<(String, Value, String)> = spec.settings.iter().map(|(k, v)| (k.clone(), v.clone(), "as before".to_string())).collect();
    let mut grid: Vec<(String, Vec<Value>, String)> = Vec::new();
    // Along the frontier: the size and the length for the budget, from the fit.
    if let (Some((c, how)), Some((_, a))) = (&budget, &fit) {
        let (n, d) = scaling::optimal(&a.law, *c);
        let layers = decisions
            .iter()
            .find(|d| d.key == "n_layers")
            .and_then(|d| d.values.get(d.values.len() / 2))
            .and_then(Value::as_u64)
            .or_else(|| spec.settings.get("n_layers").and_then(Value::as_u64))
            .unwrap_or(4);
        let heads = spec.settings.get("n_heads").and_then(Value::as_u64).unwrap_or(4);
        let width = (((n / (12.0 * layers as f64)).sqrt() / heads as f64).round().max(1.0) as u64) * heads;
        let tokens_per_step = ["batch_size", "block_size", "grad_accum_steps"]
            .iter()
            .map(|k| {
                decisions
                    .iter()
                    .find(|d| d.key == *k)
                    .and_then(|d| d.values.get(d.values.len() / 2).cloned())
                    .or_else(|| spec.settings.get(*k).cloned())
                    .and_then(|v| v.as_u64())
            })
            .zip([32u64, 64, 1])
            .map(|(v, default)| v.unwrap_or(default))
            .product::<u64>();
        let iters = (d / tokens_per_step as f64).round().max(1.0) as u64;
        decisions.retain(|d| !["embed_dim", "n_layers", "max_iters"].contains(&d.key.as_str()));
        settings.retain(|(k, _, _)| !["embed_dim", "n_layers", "max_iters"].contains(&k.as_str()));
        let p = a.predict(n, d);
        let why = format!(
            "compute-optimal for {:.2e} FLOPs per run ({how}; C = 6·N·D, embeddings not counted): N {:.3e} non-embedding parameters, D {:.3e} tokens; predicted loss {:.3} [{:.3}, {:.3}]",
            c, n, d, p.value, p.low, p.high
        );
        settings.push(("n_layers".into(), json!(layers), "kept from this sweep (the fit gives a size, not a depth)".into()));
        settings.push(("embed_dim".into(), json!(width), format!("12·n_layers·embed_dim² ≈ N; {why}")));
        settings.push(("max_iters".into(), json!(iters), format!("D / {tokens_per_step} tokens per step")));
        let train_tokens = done.iter().find_map(|s| s.train_tokens).unwrap_or(0);
        if train_tokens > 0 && d / train_tokens as f64 > scaling::analysis::MAX_EPOCHS {
            cautions.push(format!(
                "these runs would see the corpus {:.1} times ({:.3e} tokens of {train_tokens}): D is no longer fresh data there, and the law does not hold; use more text or a smaller budget",
                d / train_tokens as f64,
                d
            ));
        }
        if !a.warnings.is_empty() {
            cautions.push(format!("the fit these sizes rest on warns: {}", a.warnings.join("; ")));
        }
        let best_seen = done.iter().filter_map(|s| s.final_val_loss).fold(f64::INFINITY, f64::min);
        if p.value > best_seen {
            cautions.push(format!(
                "the predicted loss {:.3} is worse than this sweep's best run ({best_seen:.3}): the fit does not describe these runs well",
                p.value
            ));
        }
    }
    for d in decisions {
        settings.retain(|(k, _, _)| *k != d.key);
        if d.fixed {
            settings.push((d.key, d.values[0].clone(), d.why));
        } else {
            grid.push((d.key, d.values, d.why));
        }
    }
    if unknown && !grid.iter().any(|(k, _, _)| k == stats::SEED) {
        settings.retain(|(k, _, _)| k != stats::SEED);
        grid.push((
            stats::SEED.into(),
            vec![json!(1), json!(2), json!(3)],
            "no verdict could tell a gap from noise: three seeds per configuration let the next report tell".into(),
        ));
    }
    if grid.is_empty() {
        grid.push((
            stats::SEED.into(),
            vec![json!(1), json!(2), json!(3)],
            "every setting is settled: three seeds measure the noise of the chosen configuration".into(),
        ));
        settings.retain(|(k, _, _)| k != stats::SEED);
    } else if spec.grid.contains_key(stats::SEED) && !grid.iter().any(|(k, _, _)| k == stats::SEED) {
        cautions.push("seed is no longer swept: with this sweep's seeds every verdict was real, so the zoomed grid spends its runs on settings".into());
    }
    if !settings.is_empty() {
        let _ = writeln!(out, "settings:");
        for (k, v, why) in &settings {
            line(&mut out, k, &yaml(v), why);
        }
    }
    let _ = writeln!(out, "grid:");
    for (k, values, why) in &grid {
        line(&mut out, k, &yaml(&Value::Array(values.clone())), why);
    }
    let sample = serde_json::to_value(&spec.sample)?;
    let _ = writeln!(out, "sample:                        # as before");
    if let Some(obj) = sample.as_object() {
        for (k, v) in obj.iter().filter(|(_, v)| !v.is_null()) {
            let _ = writeln!(out, "  {k}: {}", yaml(v));
        }
    }
    if fit.is_none() && budget.is_some() {
        cautions.push("no scaling law could be fitted (it needs 5 finished runs over 2+ sizes and token budgets): the budget was not used".into());
    }
    if !cautions.is_empty() {
        let text: String = cautions.iter().map(|c| format!("# caution: {c}\n")).collect();
        out.insert_str(caution_at, &text);
    }
    if fit.is_some() && budget.is_none() {
        let _ = writeln!(
            out,
            "# a scaling law was fitted (`sweep fit {}`): give --budget-flops or --budget-hours to size the next runs along it",
            sweep_dir.display()
        );
    }
    Ok((out, cautions))
}
