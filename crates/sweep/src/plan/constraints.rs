//! The spec's `constraints:`: boolean expressions over a run's settings and the quantities
//! the plan derives from them (`params`, `flops`, `tokens`, `tokens_per_param`, `epochs`),
//! parsed and evaluated by the `evalexpr` crate. A grid drops the combinations that fail;
//! random and TPE draw again. Names are checked when the spec is read (an unknown one is
//! a problem at its line); `params`, `flops` and `tokens_per_param` need the vocabulary and
//! `epochs` the training tokens, so they are applied once the corpus is known (`Facts`).

use evalexpr::{ContextWithMutableVariables, DefaultNumericTypes, HashMapContext, Node, Value as Ev};
use serde_json::Value;
use sweep_config::{RunConfig, SETTING_NAMES, ValueKind, setting_kind};

/// The derived names a constraint may use besides the settings, with what each means.
pub const DERIVED: &[(&str, &str)] = &[
    ("params", "exact trainable parameters (the dry run's params column)"),
    ("flops", "FLOPs of the whole run, training and evaluation (the dry run's TFLOP column × 1e12)"),
    ("tokens", "training tokens: max_iters × batch_size × grad_accum_steps × block_size"),
    ("tokens_per_param", "tokens / params"),
    ("epochs", "tokens / the corpus's training tokens"),
];

/// What the corpus tells the derived names; unknown before the corpus is read.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Facts {
    pub vocab_size: usize,
    pub n_train: u64,
}

/// One constraint as written, parsed.
#[derive(Debug, Clone)]
pub struct Constraint {
    pub text: String,
    pub line: Option<usize>,
    tree: Node<DefaultNumericTypes>,
    /// It names `params`, `flops`, `tokens_per_param` or `epochs`.
    needs_corpus: bool,
}

impl PartialEq for Constraint {
    fn eq(&self, other: &Self) -> bool {
        self.text == other.text
    }
}

/// Every name a constraint may use.
pub fn known_names() -> Vec<&'static str> {
    SETTING_NAMES.iter().copied().chain(DERIVED.iter().map(|(n, _)| *n)).collect()
}

impl Constraint {
    /// Parses `text`; an error says what is wrong in words for the spec's problem list.
    pub fn parse(text: &str, line: Option<usize>) -> Result<Constraint, String> {
        let tree = evalexpr::build_operator_tree::<DefaultNumericTypes>(text).map_err(|e| format!("constraint `{text}` is not an expression: {e}"))?;
        let names: Vec<String> = tree.iter_variable_identifiers().map(str::to_string).collect();
        let known = known_names();
        for name in &names {
            if !known.contains(&name.as_str()) {
                let hint = crate::plan::spec::did_you_mean(name, &known).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
                return Err(format!(
                    "constraint `{text}` names {name}, which is neither a setting nor one of {}{hint}",
                    DERIVED.iter().map(|(n, _)| *n).collect::<Vec<_>>().join(", ")
                ));
            }
        }
        if tree.iter_function_identifiers().next().is_some() || tree.iter_write_variable_identifiers().next().is_some() {
            return Err(format!("constraint `{text}` must compare settings (e.g. `params <= 2e6`, `embed_dim % n_heads == 0`), not call functions or assign"));
        }
        let needs_corpus = names.iter().any(|n| matches!(n.as_str(), "params" | "flops" | "tokens_per_param" | "epochs"));
        let c = Constraint { text: text.to_string(), line, tree, needs_corpus };
        // Tried on the default config, so that a malformed or non-boolean expression is
        // refused at its line, not when the first run is judged.
        c.admits(&RunConfig::with_data(""), Some(Facts { vocab_size: 256, n_train: 1 << 20 })).map_err(|e| match e.contains("cannot be evaluated") {
            true => format!("constraint `{text}` is not a complete expression: {}", e.rsplit(": ").next().unwrap_or_default()),
            false => e,
        })?;
        Ok(c)
    }

    /// Whether `config` satisfies it: Some(true/false), None when it needs the corpus and
    /// `facts` is None. An expression that does not give true or false is an error.
    pub fn admits(&self, config: &RunConfig, facts: Option<Facts>) -> Result<Option<bool>, String> {
        if self.needs_corpus && facts.is_none() {
            return Ok(None);
        }
        let context = context(config, facts);
        match self.tree.eval_with_context(&context) {
            Ok(Ev::Boolean(b)) => Ok(Some(b)),
            Ok(other) => Err(format!("constraint `{}` gives {other}, not true or false; write a comparison such as `params <= 2e6`", self.text)),
            Err(e) => Err(format!("constraint `{}` cannot be evaluated: {e}", self.text)),
        }
    }
}

/// The names of a run: every setting (whole numbers as integers, so that `%` and `==`
/// compare as written) and the derived quantities the facts allow.
fn context(config: &RunConfig, facts: Option<Facts>) -> HashMapContext<DefaultNumericTypes> {
    let mut c = HashMapContext::<DefaultNumericTypes>::new();
    for name in SETTING_NAMES {
        let value = config.get(name).unwrap_or(Value::Null);
        let kind = setting_kind(name).map(|k| k.0);
        let v = match (&value, kind) {
            (Value::Number(n), Some(ValueKind::Whole)) => n.as_i64().map_or(Ev::Float(n.as_f64().unwrap_or(f64::NAN)), Ev::Int),
            (Value::Number(n), _) => Ev::Float(n.as_f64().unwrap_or(f64::NAN)),
            (Value::Bool(b), _) => Ev::Boolean(*b),
            (Value::String(s), _) => Ev::String(s.clone()),
            _ => Ev::Empty,
        };
        let _ = c.set_value((*name).to_string(), v);
    }
    let (m, t) = (&config.model, &config.train);
    let tokens = t.max_iters * t.tokens_per_step(m.block_size);
    let _ = c.set_value("tokens".into(), Ev::Int(tokens as i64));
    if let Some(f) = facts {
        let params = sweep_config::n_params(m, f.vocab_size).total;
        let _ = c.set_value("params".into(), Ev::Int(params as i64));
        let _ = c.set_value("flops".into(), Ev::Float(crate::plan::estimate::run_flops(config, f.vocab_size)));
        let _ = c.set_value("tokens_per_param".into(), Ev::Float(tokens as f64 / params.max(1) as f64));
        let _ = c.set_value("epochs".into(), Ev::Float(tokens as f64 / f.n_train.max(1) as f64));
    }
    c
}

/// The first constraint `config` fails (None when it passes them all, or when a failing
/// one cannot be judged yet); an expression that cannot be evaluated fails with its error.
pub fn first_failed<'c>(constraints: &'c [Constraint], config: &RunConfig, facts: Option<Facts>) -> Option<(&'c Constraint, Option<String>)> {
    constraints.iter().find_map(|c| match c.admits(config, facts) {
        Ok(Some(false)) => Some((c, None)),
        Ok(_) => None,
        Err(e) => Some((c, Some(e))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(embed: u64, heads: u64, batch: u64, block: u64) -> RunConfig {
        let mut c = RunConfig::with_data("d.txt");
        for (k, v) in [("embed_dim", embed), ("n_heads", heads), ("batch_size", batch), ("block_size", block)] {
            c.set(k, Value::from(v)).unwrap();
        }
        c
    }

    #[test]
    fn settings_compare_as_written_and_derived_names_wait_for_the_corpus() {
        let c = |t: &str| Constraint::parse(t, Some(3)).unwrap();
        let facts = Some(Facts { vocab_size: 65, n_train: 1_000_000 });
        assert_eq!(c("embed_dim % n_heads == 0").admits(&config(64, 4, 8, 16), None), Ok(Some(true)));
        assert_eq!(c("embed_dim % n_heads == 0").admits(&config(64, 3, 8, 16), None), Ok(Some(false)));
        assert_eq!(c("batch_size * block_size <= 4096").admits(&config(64, 4, 64, 64), None), Ok(Some(true)));
        assert_eq!(c("batch_size * block_size <= 4096").admits(&config(64, 4, 64, 128), None), Ok(Some(false)));
        assert_eq!(c("lr < 1e-2 && dropout < 1.0").admits(&config(64, 4, 8, 16), None), Ok(Some(true)));
        // params needs the vocabulary: unknown before the corpus, judged after.
        let small = c("params <= 2e5");
        assert_eq!(small.admits(&config(64, 4, 8, 16), None), Ok(None));
        let n = sweep_config::n_params(&config(64, 4, 8, 16).model, 65).total;
        assert_eq!(small.admits(&config(64, 4, 8, 16), facts), Ok(Some(n <= 200_000)));
        assert_eq!(small.admits(&config(512, 4, 8, 16), facts), Ok(Some(false)));
        assert_eq!(c("epochs < 1").admits(&config(64, 4, 8, 16), facts), Ok(Some(RunConfig::with_data("").train.max_iters * 8 * 16 < 1_000_000)));
    }

    #[test]
    fn unknown_names_non_booleans_and_calls_are_refused_in_words() {
        let e = Constraint::parse("embed_dims % n_heads == 0", None).unwrap_err();
        assert!(e.contains("names embed_dims, which is neither a setting") && e.contains("did you mean `embed_dim`?"), "{e}");
        let e = Constraint::parse("params <=", None).unwrap_err();
        assert!(e.starts_with("constraint `params <=` is not a complete expression"), "{e}");
        let e = Constraint::parse("params <= (2", None).unwrap_err();
        assert!(e.starts_with("constraint `params <= (2` is not an expression"), "{e}");
        assert!(Constraint::parse("max(lr, 1) < 2", None).is_err());
        assert!(Constraint::parse("lr = 2", None).is_err());
        let e = Constraint::parse("batch_size + block_size", None).unwrap_err();
        assert!(e.contains("not true or false; write a comparison"), "{e}");
    }
}
