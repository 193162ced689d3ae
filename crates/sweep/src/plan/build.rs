//! Spec → Plan: applies fixed settings, expands the grid (cartesian product in spec key
//! order) into one complete `RunConfig` per run, and validates every run before any
//! training. A value problem points at the line where that value was written (the grid
//! item, the settings key, the data or sample key), with the value as written.

use crate::error::Problem;
use crate::plan::run_id::run_id;
use crate::plan::spec::{Places, Spec};
use indexmap::IndexMap;
use itertools::Itertools;
use serde_json::Value;
use sweep_config::{ConfigProblem, RunConfig};

/// One run of the sweep: its id, the values swept for it, and its complete config.
#[derive(Debug, Clone, PartialEq)]
pub struct PlannedRun {
    pub id: String,
    pub params: IndexMap<String, Value>,
    pub config: RunConfig,
}

/// A validated sweep: every run's config is complete and valid.
#[derive(Debug, Clone)]
pub struct Plan {
    pub name: String,
    /// Swept setting names, in spec order.
    pub swept: Vec<String>,
    pub runs: Vec<PlannedRun>,
}

impl Plan {
    /// Expands `spec` and checks every run. Returns the runs that are valid (so that later
    /// checks, of the data for example, can still look at them) and every problem found.
    pub fn build(spec: &Spec, places: &Places) -> (Plan, Vec<Problem>) {
        let mut problems = Vec::new();
        if !spec.name.is_empty() && (spec.name.contains(['/', '\\']) || spec.name.starts_with('.')) {
            problems.push(Problem {
                line: places.line("name"),
                message: format!("name {:?} must be a plain folder name (no slashes, not starting with a dot)", spec.name),
            });
        }
        let mut base = RunConfig::with_data(spec.data.path.clone());
        base.data = spec.data.clone();
        base.sample = spec.sample.clone();
        for (key, value) in &spec.settings {
            if let Err(e) = base.set(key, value.clone()) {
                problems.push(Problem { line: places.line(&format!("settings.{key}")), message: format!("settings.{e}") });
            }
        }

        let combos: Vec<Vec<(String, Value)>> = if spec.grid.is_empty() {
            vec![vec![]]
        } else {
            spec.grid.iter().map(|(k, vs)| vs.iter().map(|v| (k.clone(), v.clone())).collect::<Vec<_>>()).multi_cartesian_product().collect()
        };
        // The same problem in several runs is reported once, with the runs it hits.
        let mut invalid: IndexMap<(Option<usize>, String), Vec<String>> = IndexMap::new();
        let mut runs = Vec::new();
        for combo in combos {
            let params: IndexMap<String, Value> = combo.into_iter().collect();
            let mut config = base.clone();
            let mut ok = true;
            for (k, v) in &params {
                if let Err(e) = config.set(k, v.clone()) {
                    ok = false;
                    invalid.entry((places.line(&format!("grid.{k}")), format!("grid.{e}"))).or_default();
                }
            }
            let id = run_id(&params);
            for p in config.problems() {
                ok = false;
                invalid.entry(locate(&p, spec, places, &params)).or_default().push(id.clone());
            }
            if ok {
                runs.push(PlannedRun { id, params, config });
            }
        }
        let n_runs = spec.grid.values().map(Vec::len).product::<usize>();
        for ((line, message), ids) in invalid {
            let which = if ids.is_empty() || ids.len() == n_runs {
                String::new()
            } else if ids.len() <= 3 {
                format!(" (in {})", ids.join(", "))
            } else {
                format!(" (in {} of {n_runs} runs, e.g. {})", ids.len(), ids[..2].join(", "))
            };
            problems.push(Problem { line, message: format!("{message}{which}") });
        }
        let swept = spec.grid.keys().cloned().collect();
        (Plan { name: spec.name.clone(), swept, runs }, problems)
    }

    /// Parses and expands spec text without reading the corpus: the plan, or every
    /// problem of the spec and its runs.
    pub fn from_spec_text(text: &str) -> Result<Plan, Vec<Problem>> {
        let parsed = Spec::parse(text);
        let (plan, more) = Plan::build(&parsed.spec, &parsed.places);
        let problems: Vec<Problem> = parsed.problems.into_iter().chain(more).collect();
        if problems.is_empty() { Ok(plan) } else { Err(problems) }
    }
}

/// The line and message of a config problem: at the grid value this run uses, the
/// settings key, the data/sample key, or (for a default) the other setting it names.
fn locate(p: &ConfigProblem, spec: &Spec, places: &Places, params: &IndexMap<String, Value>) -> (Option<usize>, String) {
    let key = p.key;
    let written = |path: &str| places.get(path).map(|place| (place.line, place.text.clone()));
    let found = if let Some(value) = params.get(key) {
        let idx = spec.grid.get(key).and_then(|vs| vs.iter().position(|v| v == value));
        idx.and_then(|i| written(&format!("grid.{key}[{i}]"))).map(|w| (w, format!("grid.{key}")))
    } else if key.contains('.') {
        written(key).map(|w| (w, key.to_string()))
    } else {
        written(&format!("settings.{key}")).map(|w| (w, format!("settings.{key}")))
    };
    match found {
        Some(((line, text), name)) => (Some(line), format!("{name} {text} {}", p.rule)),
        // A default value: point at whatever setting the rule names that was written.
        None => {
            let other = spec.settings.keys().chain(spec.grid.keys()).find(|k| p.rule.contains(k.as_str()));
            let line = other.and_then(|k| places.line(&format!("settings.{k}")).or_else(|| places.line(&format!("grid.{k}"))));
            (line, format!("{key} {} (the default) {}", p.value, p.rule))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(yaml: &str) -> (Plan, Vec<String>) {
        let parsed = Spec::parse(yaml);
        assert_eq!(parsed.problems, [], "the spec itself should parse");
        let (plan, problems) = Plan::build(&parsed.spec, &parsed.places);
        (plan, problems.iter().map(|p| format!("{}: {}", p.line.unwrap_or(0), p.message)).collect())
    }

    const HEAD: &str = "name: t\ndata:\n  path: d.txt\n";

    #[test]
    fn grid_order_is_the_cartesian_product_in_key_order() {
        let (p, problems) = plan(&format!("{HEAD}settings:\n  max_iters: 10\ngrid:\n  batch_size: [8, 16]\n  lr: [1e-3, 1e-4]\n  dropout: [0.0, 0.1, 0.2]\n"));
        assert_eq!(problems, Vec::<String>::new());
        let ids: Vec<&str> = p.runs.iter().map(|r| r.id.as_str()).collect();
        assert_eq!(ids.len(), 12);
        assert_eq!(&ids[..4], ["bs8_lr1e-3_do0", "bs8_lr1e-3_do0.1", "bs8_lr1e-3_do0.2", "bs8_lr1e-4_do0"]);
        assert_eq!(ids[11], "bs16_lr1e-4_do0.2");
        assert_eq!(p.runs[5].config.train.batch_size, 8);
        assert_eq!(p.runs[5].config.train.lr, 1e-4);
        assert_eq!(p.runs[5].config.model.dropout, 0.2);
        assert!(p.runs.iter().all(|r| r.config.train.max_iters == 10));
        assert_eq!(p.swept, ["batch_size", "lr", "dropout"]);
    }

    #[test]
    fn no_grid_is_one_run() {
        let (p, _) = plan(HEAD);
        assert_eq!(p.runs.len(), 1);
        assert_eq!(p.runs[0].id, "run");
    }

    /// Each case: a spec body after HEAD (whose last line is 3), and the exact problems.
    const CASES: &[(&str, &[&str])] = &[
        // The value's own line, as written, even in a multi-line list; only the runs it hits.
        ("grid:\n  lr: [1e-3, 3e-3]\n  dropout:\n    - 0.0\n    - 1.0\n", &["8: grid.dropout 1.0 must be in [0, 1) (in lr1e-3_do1, lr3e-3_do1)"]),
        ("grid:\n  dropout: [1.0]\n", &["5: grid.dropout 1.0 must be in [0, 1)"]),
        ("settings:\n  dropout: 1.0\n", &["5: settings.dropout 1.0 must be in [0, 1)"]),
        // A negative lr is reported as the lr, never through the min_lr derived from it.
        ("grid:\n  lr: [-0.1, 1e-3]\n", &["5: grid.lr -0.1 must be a positive number (in lr-0.1)"]),
        ("sample:\n  temperature: 0\n", &["5: sample.temperature 0 must be positive"]),
        ("sample:\n  top_k: 0\n", &["5: sample.top_k 0 must be at least 1 (or left out to keep every token)"]),
        ("sample:\n  prompts: [a]\n  max_new_tokens: 10\n  top_k: 0\n", &["7: sample.top_k 0 must be at least 1 (or left out to keep every token)"]),
        ("", &[]),
        (
            "settings:\n  n_heads: 3\ngrid:\n  embed_dim: [32, 48]\n  lr: [0.1, -1]\n",
            &[
                "7: grid.embed_dim 32 is not divisible by n_heads 3; pick embed_dim a multiple of n_heads (in emb32_lr0.1, emb32_lr-1)",
                "8: grid.lr -1 must be a positive number (in emb32_lr-1, emb48_lr-1)",
            ],
        ),
        // A default that another setting makes invalid points at that setting.
        ("settings:\n  n_heads: 3\n", &["5: embed_dim 128 (the default) is not divisible by n_heads 3; pick embed_dim a multiple of n_heads"]),
    ];

    #[test]
    fn validation_messages() {
        for (body, wants) in CASES {
            let (_, got) = plan(&format!("{HEAD}{body}"));
            assert_eq!(got, *wants, "spec body:\n{body}");
        }
    }

    #[test]
    fn bpe_vocab_size_points_at_its_line() {
        let (_, got) = plan("name: t\ndata:\n  path: d.txt\n  tokenizer: bpe\n  vocab_size: 200\n");
        assert_eq!(got, ["5: data.vocab_size 200 must be larger than 256 for tokenizer: bpe (the byte alphabet)"]);
        let (_, got) = plan("name: t\ndata:\n  path: d.txt\n  vocab_size: 300\n");
        assert_eq!(got, ["4: data.vocab_size 300 only applies to tokenizer: bpe"]);
    }
}
