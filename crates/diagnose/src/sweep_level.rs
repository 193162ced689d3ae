//! The sweep-level picture: which findings go with which parameter values across runs
//! ("every run with n_layers ≥ 4 overfits", "all runs with lr ≥ 3e-3 diverged").

use serde_json::Value;
use std::collections::BTreeSet;

/// One run as the sweep-level view needs it.
pub struct RunFindings<'a> {
    pub params: Vec<(&'a str, &'a Value)>,
    /// Codes of the run's warning and problem findings (and `failed` for failed runs).
    pub codes: BTreeSet<String>,
}

/// What runs with a finding did, in the past tense (reads for one run and for many).
fn verb(code: &str) -> String {
    match code {
        "overfitting" => "overfit".into(),
        "diverged" => "diverged".into(),
        "failed" => "failed".into(),
        "memorisation" => "memorised the training data".into(),
        "plateau" => "stopped improving (plateau)".into(),
        "lr_high_at_plateau" => "plateaued with the learning rate still high".into(),
        "epochs" => "repeated the data more than 10 times".into(),
        "data_starved" => "had far too little data for their size".into(),
        "undertrained" => "stopped far short of 20 tokens per parameter (undertrained)".into(),
        "size_spent" => "trained past 100 tokens per parameter (the model size is spent)".into(),
        "loss_spikes" => "had loss spikes".into(),
        "low_mfu" => "had low MFU".into(),
        other => format!("had `{other}`"),
    }
}

fn fmt(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        Value::Number(n) => n.as_f64().map_or_else(|| n.to_string(), |x| x.to_string()),
        other => other.to_string(),
    }
}

/// Statements about findings shared by a set of runs that one parameter value explains.
pub fn patterns(runs: &[RunFindings]) -> Vec<String> {
    let n = runs.len();
    let codes: BTreeSet<&String> = runs.iter().flat_map(|r| r.codes.iter()).collect();
    let mut out = Vec::new();
    for code in codes {
        let has: Vec<bool> = runs.iter().map(|r| r.codes.contains(code)).collect();
        let k = has.iter().filter(|h| **h).count();
        if k == n {
            out.push(format!("every run {} ({n} of {n})", verb(code)));
            continue;
        }
        let mut explained = false;
        let names: Vec<&str> = runs.first().map(|r| r.params.iter().map(|p| p.0).collect()).unwrap_or_default();
        for name in names {
            // Distinct values, sorted numerically when possible.
            let mut values: Vec<&Value> = Vec::new();
            for r in runs {
                if let Some((_, v)) = r.params.iter().find(|p| p.0 == name)
                    && !values.contains(v)
                {
                    values.push(v);
                }
            }
            if values.len() < 2 {
                continue;
            }
            values.sort_by(|a, b| match (a.as_f64(), b.as_f64()) {
                (Some(x), Some(y)) => x.total_cmp(&y),
                _ => fmt(a).cmp(&fmt(b)),
            });
            fn value_of<'v>(r: &RunFindings<'v>, name: &str) -> Option<&'v Value> {
                r.params.iter().find(|p| p.0 == name).map(|p| p.1)
            }
            // A value is "in" when every run with it has the code.
            let inside: Vec<bool> = values.iter().map(|v| runs.iter().zip(&has).filter(|(r, _)| value_of(r, name) == Some(*v)).all(|(_, h)| *h)).collect();
            let covers_all =
                runs.iter().zip(&has).all(|(r, h)| !h || value_of(r, name).is_some_and(|v| inside[values.iter().position(|x| *x == v).unwrap_or(0)]));
            let m = inside.iter().filter(|b| **b).count();
            if m == 0 || m == values.len() || !covers_all {
                continue;
            }
            let first_in = inside.iter().position(|b| *b).unwrap_or(0);
            let last_in = inside.iter().rposition(|b| *b).unwrap_or(0);
            let numeric = values.iter().all(|v| v.is_number());
            let condition = if numeric && last_in == values.len() - 1 && inside[first_in..].iter().all(|b| *b) {
                if m == 1 { format!("{name} = {}", fmt(values[first_in])) } else { format!("{name} ≥ {}", fmt(values[first_in])) }
            } else if numeric && first_in == 0 && inside[..=last_in].iter().all(|b| *b) {
                if m == 1 { format!("{name} = {}", fmt(values[0])) } else { format!("{name} ≤ {}", fmt(values[last_in])) }
            } else {
                let vs: Vec<String> = values.iter().zip(&inside).filter(|(_, i)| **i).map(|(v, _)| fmt(v)).collect();
                format!("{name} = {}", vs.join(" or "))
            };
            out.push(format!("every run with {condition} {} ({k} runs), and no other run did", verb(code)));
            explained = true;
            break;
        }
        if !explained && k > 1 {
            out.push(format!("{k} of {n} runs {}", verb(code)));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn finds_the_parameter_that_explains_a_finding() {
        let lrs = [json!(1e-4), json!(1e-3), json!(1e-2)];
        let layers = [json!(2), json!(4)];
        let mut runs = Vec::new();
        for lr in &lrs {
            for l in &layers {
                let mut codes = BTreeSet::new();
                if lr.as_f64().unwrap() >= 1e-3 {
                    codes.insert("diverged".to_string());
                }
                if l == &json!(4) {
                    codes.insert("overfitting".to_string());
                }
                codes.insert("epochs".to_string());
                runs.push(RunFindings { params: vec![("lr", lr), ("n_layers", l)], codes });
            }
        }
        let p = patterns(&runs);
        assert!(p.contains(&"every run with lr ≥ 0.001 diverged (4 runs), and no other run did".to_string()), "{p:?}");
        assert!(p.contains(&"every run with n_layers = 4 overfit (3 runs), and no other run did".to_string()), "{p:?}");
        assert!(p.contains(&"every run repeated the data more than 10 times (6 of 6)".to_string()), "{p:?}");
    }
}
