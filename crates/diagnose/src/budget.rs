//! Findings about the compute and data budget: epochs over the data (and whether the data
//! repeats), tokens seen per parameter against the compute-optimal ~20 with the arithmetic,
//! the real parameter count and a size claimed in the name, and data too small for the
//! block size.

use crate::reading::{Budget, Reading, Repetition};
use crate::thresholds::*;
use crate::words::{about, count, thousands, times};
use crate::{Evidence, Finding, Severity};

pub fn check(e: &Evidence, r: &mut Reading, out: &mut Vec<Finding>) {
    epochs(e, out);
    r.budget = tokens_per_param(e, r, out);
    train_tokens_unknown(e, out);
    param_count(e, out);
    data_small(e, out);
}

/// More than one epoch, or (epochs unknown) a dataset named as one shard.
pub fn repetition(e: &Evidence) -> Option<Repetition> {
    match (e.tokens_seen(), e.train_tokens) {
        (Some(seen), Some(unique)) => {
            let epochs = seen as f64 / unique.max(1) as f64;
            (epochs > 1.0).then_some(Repetition::Epochs(epochs))
        }
        (_, None) => {
            let shard = regex::Regex::new(r"(?i)(?:^|[^a-z])(?:shard[_-]?\d+|single[_-]?shard|one[_-]?shard)(?:$|[^a-z0-9])").expect("valid regex");
            e.dataset.as_deref().filter(|d| shard.is_match(d)).map(|d| Repetition::SingleShard(d.to_string()))
        }
        _ => None,
    }
}

fn epochs(e: &Evidence, out: &mut Vec<Finding>) {
    let (Some(seen), Some(unique)) = (e.tokens_seen(), e.train_tokens) else { return };
    let epochs = seen as f64 / unique.max(1) as f64;
    if epochs <= 1.0 {
        return;
    }
    let severity = if epochs > EPOCHS_MANY { Severity::Warning } else { Severity::Info };
    out.push(Finding::new(
        "epochs",
        severity,
        format!("the model saw its training data {epochs:.1} times"),
        format!("{} tokens seen / {} training tokens = {epochs:.2} epochs", thousands(seen), thousands(unique)),
        if epochs > EPOCHS_MANY {
            "repeated data stops teaching after a few epochs: get more text, or stop earlier".into()
        } else {
            "fine for a few epochs; watch val loss for overfitting".into()
        },
    ));
}

/// Always stated when the numbers are known: tokens seen per parameter and its ratio to
/// ~20, with the arithmetic; a warning when far short of it or when the size is spent.
fn tokens_per_param(e: &Evidence, r: &Reading, out: &mut Vec<Finding>) -> Option<Budget> {
    let (p, seen) = (e.params?, e.tokens_seen().filter(|t| *t > 0)?);
    if let Some(base) = &e.pretrained {
        out.push(Finding::new(
            "tokens_per_param",
            Severity::Info,
            format!("fine-tuned from {base}: tokens per parameter against the compute-optimal ~20 is a pretraining measure and does not apply"),
            format!("{} tokens seen in this fine-tune", count(seen)),
            "none".into(),
        ));
        return None;
    }
    let n = p.total.saturating_sub(p.position_embedding.unwrap_or(0)).max(1);
    let c = CHINCHILLA_TOKENS_PER_PARAM;
    let per_param = seen as f64 / n as f64;
    let ratio = per_param / c;
    let tokens = match e.tokens_per_step {
        Some(tps) if tps > 0 && seen % tps == 0 => format!("{} tokens/step × {} steps = {} tokens", thousands(tps), thousands(seen / tps), count(seen)),
        _ => format!("{} tokens seen", count(seen)),
    };
    let without = if p.position_embedding.is_some() { "parameters (without position embeddings, as nanoGPT counts)" } else { "parameters" };
    let per_param_text = if per_param >= 10.0 { format!("{per_param:.1}") } else { about(per_param) };
    let evidence = format!("{tokens} ÷ {} {without} = {} tokens per parameter; ÷ {c:.0} = {ratio:.2}× compute-optimal", count(n), per_param_text);
    let unique = e.train_tokens.map(|t| t as f64 / n as f64);
    let starved = unique.is_some_and(|u| u < c / FAR_FACTOR);
    if let Some(u) = unique.filter(|_| starved) {
        out.push(Finding::new(
            "data_starved",
            Severity::Warning,
            format!("the data is far too small for this model: {u:.3} unique training tokens per parameter, against about {c:.0} for compute-optimal training"),
            format!("{} training tokens ÷ {} parameters = {u:.3}", thousands(e.train_tokens.unwrap_or_default()), count(n)),
            format!("get more text (compute-optimal training of this model wants about {} tokens, {:.0}× what there is) or use a much smaller model; more steps only repeat the same data", count((c * n as f64) as u64), c / u),
        ));
    }
    let said = if ratio < SHORT_RATIO {
        format!("{} tokens seen per parameter, {} short of the compute-optimal ~{c:.0}", about(per_param), times(1.0 / ratio))
    } else {
        format!("{} tokens seen per parameter, {} the compute-optimal ~{c:.0}", about(per_param), times(ratio))
    };
    // A diverged run's budget is stated, not judged: its steps were not spent learning.
    let finding = if r.diverged.is_some() {
        Finding::new("tokens_per_param", Severity::Info, said, evidence, "none".into())
    } else if per_param < c / FAR_FACTOR && !starved && r.turn.is_none() {
        // Only while the curve still falls: a turned curve or tiny data wants no more steps.
        Finding::new(
            "undertrained",
            Severity::Warning,
            format!("undertrained: {said}"),
            evidence,
            match (e.planned_steps, e.last_step()) {
                (Some(planned), Some(last)) if planned > last => format!(
                    "the run stopped at step {} of the planned {}: let it run (about {:.0}× the steps so far reach compute-optimal) or use a smaller model",
                    thousands(last),
                    thousands(planned),
                    c / per_param
                ),
                _ => format!("train about {:.0}× longer (max_iters) or use a smaller model", c / per_param),
            },
        )
    } else if ratio >= SPENT_FACTOR && !starved {
        Finding::new(
            "size_spent",
            Severity::Warning,
            format!("this model size is spent: {said}"),
            evidence,
            "a larger model or more data, not more steps".into(),
        )
    } else {
        let action = if ratio < SHORT_RATIO && !starved && r.turn.is_none() {
            format!("more steps still pay: about {} as many reach compute-optimal", times(1.0 / ratio))
        } else {
            "none".into()
        };
        Finding::new("tokens_per_param", Severity::Info, said, evidence, action)
    };
    out.push(finding);
    Some(Budget { per_param, ratio, unique_per_param: unique.filter(|_| starved) })
}

/// A log without the dataset's size: say what knowing it would add.
fn train_tokens_unknown(e: &Evidence, out: &mut Vec<Finding>) {
    if e.train_tokens.is_some() || e.tokens_seen().is_none() {
        return;
    }
    out.push(Finding::new(
        "train_tokens_unknown",
        Severity::Info,
        "the size of the training data is unknown, so epochs are not counted (repetition is only guessed from the dataset's name)".into(),
        format!("{} tokens seen; no dataset size in the log", count(e.tokens_seen().unwrap_or_default())),
        "pass --train-tokens N (or --train-bin FILE) to add: epochs over the data, unique tokens per parameter (data_starved), data_small, and repetition as the cause of a plateau".into(),
    ));
}

/// "125M", "124m", "10k", "1.5B" in a name, as a parameter count.
fn claimed_size(name: &str) -> Option<(String, f64)> {
    let re = regex::Regex::new(r"(?i)(?:^|[^a-z0-9.])(\d+(?:\.\d+)?)([kmb])(?:$|[^a-z0-9])").expect("valid regex");
    let c = re.captures_iter(name).last()?;
    let n: f64 = c[1].parse().ok()?;
    let unit = match c[2].to_ascii_lowercase().as_str() {
        "k" => 1e3,
        "m" => 1e6,
        _ => 1e9,
    };
    Some((format!("{}{}", &c[1], &c[2]), n * unit))
}

fn param_count(e: &Evidence, out: &mut Vec<Finding>) {
    let Some(p) = e.params else { return };
    let m = count;
    let split = match (p.token_embedding, p.position_embedding) {
        (Some(t), Some(pos)) => format!(
            "{} in token embeddings (shared with the LM head), {} in position embeddings, {} in the transformer blocks",
            m(t),
            m(pos),
            m(p.total - t - pos)
        ),
        (None, Some(pos)) => format!("{} without position embeddings", m(p.total - pos)),
        _ => "embedding split unknown".into(),
    };
    let message = match p.position_embedding {
        Some(_) => format!("{} parameters in total", m(p.total)),
        None => format!("{} parameters as logged (nanoGPT leaves out position embeddings)", m(p.total)),
    };
    out.push(Finding::new("params", Severity::Info, message, split, "none".into()));
    let Some((label, claimed)) = e.name.as_deref().and_then(claimed_size) else { return };
    let ratio = claimed.max(p.total as f64) / claimed.min(p.total as f64).max(1.0);
    if ratio > SIZE_CLAIM_RATIO {
        out.push(Finding::new(
            "size_mismatch",
            Severity::Warning,
            format!(
                "the name says {label} but the model has {} parameters ({ratio:.1}× {})",
                m(p.total),
                if claimed > p.total as f64 { "fewer" } else { "more" }
            ),
            format!("claimed {label} in {:?}; real {} total", e.name.as_deref().unwrap_or_default(), p.total),
            "check n_embd / n_layer / n_head (embed_dim / n_layers / n_heads in a sweep spec) against the intended size, or rename the run".into(),
        ));
    }
}

fn data_small(e: &Evidence, out: &mut Vec<Finding>) {
    let (Some(unique), Some(block)) = (e.train_tokens, e.block_size) else { return };
    if unique < MIN_CONTEXTS * block {
        out.push(Finding::new(
            "data_small",
            Severity::Warning,
            format!("the training data holds only {:.1} non-overlapping contexts of block_size {block}", unique as f64 / block as f64),
            format!("{unique} training tokens, block_size {block}"),
            format!("use at least {} tokens of text, or a smaller block_size", MIN_CONTEXTS * block),
        ));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn size_claims() {
        assert_eq!(claimed_size("gpt2-125M").map(|c| c.1), Some(125e6));
        assert_eq!(claimed_size("owt_1.5b_run").map(|c| c.1), Some(1.5e9));
        assert_eq!(claimed_size("shakespeare-10k"), Some(("10k".into(), 1e4)));
        assert_eq!(claimed_size("bs16_blk64_emb128_L2_lr1e-3_do0.1"), None);
        assert_eq!(claimed_size("lr3e-4"), None);
    }
}
