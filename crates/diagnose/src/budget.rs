//! Findings about the compute and data budget: epochs over the data, tokens per parameter
//! (seen and unique) against the compute-optimal ~20, the real parameter count and a size
//! claimed in the name, and data too small for the block size.

use crate::thresholds::*;
use crate::{Evidence, Finding, Severity};

pub fn check(e: &Evidence, out: &mut Vec<Finding>) {
    epochs(e, out);
    tokens_per_param(e, out);
    param_count(e, out);
    data_small(e, out);
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
        format!("{seen} tokens seen / {unique} training tokens = {epochs:.2} epochs"),
        if epochs > EPOCHS_MANY {
            "repeated data stops teaching after a few epochs: get more text, or stop earlier".into()
        } else {
            "fine for a few epochs; watch val loss for overfitting".into()
        },
    ));
}

fn tokens_per_param(e: &Evidence, out: &mut Vec<Finding>) {
    let Some(p) = e.params else { return };
    let n = p.total.saturating_sub(p.position_embedding.unwrap_or(0)).max(1) as f64;
    let seen = e.tokens_seen().map(|t| t as f64 / n);
    let unique = e.train_tokens.map(|t| t as f64 / n);
    let c = CHINCHILLA_TOKENS_PER_PARAM;
    let fmt = |x: Option<f64>| x.map_or("unknown".to_string(), |x| format!("{x:.3}"));
    let evidence = format!(
        "{} parameters; {} tokens seen per parameter, {} unique training tokens per parameter; compute-optimal is about {c:.0}",
        n as u64,
        fmt(seen),
        fmt(unique)
    );
    if let Some(u) = unique.filter(|u| *u < c / FAR_FACTOR) {
        out.push(Finding::new(
            "data_starved",
            Severity::Warning,
            format!("the data is far too small for this model: {u:.3} unique training tokens per parameter, against about {c:.0} for compute-optimal training"),
            evidence,
            format!("get more text (compute-optimal training of this model wants about {:.0} tokens, {:.0}× what there is) or use a much smaller model; more steps only repeat the same data", c * n, c / u),
        ));
        return;
    }
    match seen {
        Some(s) if s < c / FAR_FACTOR => out.push(Finding::new(
            "undertrained",
            Severity::Warning,
            format!("undertrained: {s:.2} tokens seen per parameter, far below the compute-optimal {c:.0}"),
            evidence,
            format!("train about {:.0}× longer (max_iters) or use a smaller model", c / s),
        )),
        Some(s) if s > c * FAR_FACTOR => out.push(Finding::new(
            "saturated",
            Severity::Info,
            format!("{s:.0} tokens seen per parameter, far past the compute-optimal {c:.0}: this model size is saturated"),
            evidence,
            "a bigger model (or more data) is the lever now, not more steps".into(),
        )),
        _ => {}
    }
}

/// A parameter count as people write it: 1.50B, 40.56M, 100.2k.
fn human(n: u64) -> String {
    let x = n as f64;
    if x >= 1e9 {
        format!("{:.2}B", x / 1e9)
    } else if x >= 1e6 {
        format!("{:.2}M", x / 1e6)
    } else if x >= 1e3 {
        format!("{:.1}k", x / 1e3)
    } else {
        n.to_string()
    }
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
    let m = human;
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
            "check embed_dim / n_layers / n_heads against the intended size, or rename the run".into(),
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
