//! Readable, stable run ids built from the swept values, e.g. `bs16_blk64_emb128_L2_lr1e-3_do0.1`.

use serde_json::Value;

/// Short names for settings in run ids; settings not listed use their full name.
const ABBREV: &[(&str, &str)] = &[
    ("batch_size", "bs"),
    ("block_size", "blk"),
    ("embed_dim", "emb"),
    ("n_layers", "L"),
    ("n_heads", "h"),
    ("hidden_dim", "hid"),
    ("lr", "lr"),
    ("min_lr", "minlr"),
    ("dropout", "do"),
    ("weight_decay", "wd"),
    ("max_iters", "it"),
    ("warmup_iters", "wu"),
    ("grad_accum_steps", "ga"),
    ("grad_clip", "clip"),
];

pub fn abbrev(name: &str) -> &str {
    ABBREV.iter().find(|(n, _)| *n == name).map_or(name, |(_, a)| a)
}

/// Formats a value for an id: integers as is, small or large floats in short scientific
/// notation (`1e-3`, `3e-4`), others plainly (`0.1`).
pub fn format_value(v: &Value) -> String {
    match v {
        Value::Number(n) if n.is_f64() => {
            let x = n.as_f64().unwrap_or_default();
            if x != 0.0 && (x.abs() <= 0.01 || x.abs() >= 1e5) { format!("{x:e}") } else { format!("{x}") }
        }
        Value::Number(n) => n.to_string(),
        Value::String(s) => s.clone(),
        Value::Bool(b) => b.to_string(),
        Value::Null => "none".to_string(),
        other => other.to_string(),
    }
    .chars()
    .map(|c| if c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | '+') { c } else { '-' })
    .collect()
}

/// The id of the run with these swept values; `run` when nothing is swept.
pub fn run_id<'a>(params: impl IntoIterator<Item = (&'a String, &'a Value)>) -> String {
    let parts: Vec<String> = params.into_iter().map(|(k, v)| format!("{}{}", abbrev(k), format_value(v))).collect();
    if parts.is_empty() { "run".to_string() } else { parts.join("_") }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn ids_are_readable() {
        let params: Vec<(String, Value)> = vec![
            ("batch_size".into(), json!(16)),
            ("block_size".into(), json!(64)),
            ("embed_dim".into(), json!(128)),
            ("n_layers".into(), json!(2)),
            ("n_heads".into(), json!(4)),
            ("lr".into(), json!(0.001)),
            ("dropout".into(), json!(0.1)),
        ];
        assert_eq!(run_id(params.iter().map(|(k, v)| (k, v))), "bs16_blk64_emb128_L2_h4_lr1e-3_do0.1");
    }

    #[test]
    fn value_formats() {
        assert_eq!(format_value(&json!(3e-4)), "3e-4");
        assert_eq!(format_value(&json!(0.0)), "0");
        assert_eq!(format_value(&json!(0.25)), "0.25");
        assert_eq!(format_value(&json!("cuda:0")), "cuda-0");
        assert_eq!(run_id(std::iter::empty()), "run");
    }
}
