//! Spec → Plan: applies fixed settings, expands the grid (cartesian product in spec key
//! order) into one complete `RunConfig` per run, and validates every run before any
//! training, reporting all problems at once.

use crate::error::{Problem, Problems};
use crate::plan::run_id::run_id;
use crate::plan::spec::{Spec, did_you_mean, line_of};
use indexmap::IndexMap;
use itertools::Itertools;
use serde_json::Value;
use std::path::Path;
use sweep_config::{RunConfig, SETTING_NAMES, SettingError};

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
    /// Validates `spec` (read from `path`, whose `text` gives line numbers) and expands it.
    pub fn build(spec: &Spec, text: &str, path: &Path) -> Result<Plan, Problems> {
        let mut problems = Vec::new();
        macro_rules! problem {
            ($line:expr, $message:expr) => {
                problems.push(Problem { line: $line, message: $message })
            };
        }

        if spec.name.is_empty() || spec.name.contains(['/', '\\']) || spec.name.starts_with('.') {
            problem!(line_of(text, "name", None), format!("name {:?} must be a plain folder name (no slashes, not empty)", spec.name));
        }
        let mut base = RunConfig::with_data(spec.data.path.clone());
        base.data = spec.data.clone();
        base.sample = spec.sample.clone();

        for (key, value) in &spec.settings {
            let line = line_of(text, "settings", Some(key));
            match to_json(value).and_then(|v| base.set(key, v).map_err(|e| describe(e, key))) {
                Ok(()) => {}
                Err(msg) => problem!(line, format!("settings.{msg}")),
            }
            if spec.grid.contains_key(key) {
                problem!(line, format!("{key} is both in settings and in grid; keep it in one place"));
            }
        }

        let mut axes: Vec<(String, Vec<Value>)> = Vec::new();
        for (key, value) in &spec.grid {
            let line = line_of(text, "grid", Some(key));
            if !SETTING_NAMES.contains(&key.as_str()) {
                problem!(line, format!("grid.{}", describe(SettingError::Unknown(key.clone()), key)));
                continue;
            }
            let Some(list) = value.as_sequence() else {
                problem!(line, format!("grid.{key} must be a list like [a, b] (got {}); put a single value under settings", yaml_inline(value)));
                continue;
            };
            if list.is_empty() {
                problem!(line, format!("grid.{key} is an empty list; give at least one value or remove it"));
                continue;
            }
            let mut values = Vec::new();
            for item in list {
                match to_json(item).and_then(|v| base.clone().set(key, v.clone()).map(|_| v).map_err(|e| describe(e, key))) {
                    Ok(v) if values.contains(&v) => problem!(line, format!("grid.{key} lists {v} twice")),
                    Ok(v) => values.push(v),
                    Err(msg) => problem!(line, format!("grid.{msg}")),
                }
            }
            axes.push((key.clone(), values));
        }

        // Expand the valid axes, then validate each combination; identical messages are merged.
        let mut runs = Vec::new();
        let mut invalid: IndexMap<String, Vec<String>> = IndexMap::new();
        let combos: Vec<Vec<(String, Value)>> = if axes.is_empty() {
            vec![vec![]]
        } else {
            axes.iter().map(|(k, vs)| vs.iter().map(|v| (k.clone(), v.clone())).collect::<Vec<_>>()).multi_cartesian_product().collect()
        };
        for combo in combos {
            let params: IndexMap<String, Value> = combo.into_iter().collect();
            let mut config = base.clone();
            for (k, v) in &params {
                config.set(k, v.clone()).expect("grid values were type-checked above");
            }
            let id = run_id(&params);
            for p in config.problems() {
                invalid.entry(p).or_default().push(id.clone());
            }
            runs.push(PlannedRun { id, params, config });
        }
        for (message, ids) in invalid {
            let which = if ids.len() == runs.len() {
                "every run".to_string()
            } else if ids.len() <= 3 {
                ids.join(", ")
            } else {
                format!("{} runs, e.g. {}", ids.len(), ids[..2].join(", "))
            };
            problem!(line_of(text, "grid", None).or_else(|| line_of(text, "settings", None)), format!("{message} (in {which})"));
        }
        if !problems.is_empty() {
            return Err(Problems { path: path.to_path_buf(), items: problems });
        }
        let swept = axes.into_iter().map(|(k, _)| k).collect();
        Ok(Plan { name: spec.name.clone(), swept, runs })
    }
}

fn to_json(v: &serde_yaml_ng::Value) -> Result<Value, String> {
    serde_json::to_value(v).map_err(|e| format!("value {} cannot be used: {e}", yaml_inline(v)))
}

fn yaml_inline(v: &serde_yaml_ng::Value) -> String {
    serde_json::to_string(v).unwrap_or_else(|_| format!("{v:?}"))
}

fn describe(e: SettingError, key: &str) -> String {
    match e {
        SettingError::Unknown(_) => match did_you_mean(key, SETTING_NAMES) {
            Some(s) => format!("{key} is not a known setting; did you mean `{s}`?"),
            None => format!("{key} is not a known setting; known settings: {}", SETTING_NAMES.join(", ")),
        },
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn plan(yaml: &str) -> Result<Plan, Problems> {
        let spec = Spec::parse(yaml).unwrap();
        Plan::build(&spec, yaml, Path::new("s.yaml"))
    }

    const HEAD: &str = "name: t\ndata:\n  path: d.txt\n";

    #[test]
    fn grid_order_is_the_cartesian_product_in_key_order() {
        let p = plan(&format!("{HEAD}settings:\n  max_iters: 10\ngrid:\n  batch_size: [8, 16]\n  lr: [1e-3, 1e-4]\n  dropout: [0.0, 0.1, 0.2]\n")).unwrap();
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
        let p = plan(HEAD).unwrap();
        assert_eq!(p.runs.len(), 1);
        assert_eq!(p.runs[0].id, "run");
    }

    /// Each case: a spec body after HEAD, and text every reported problem list must contain.
    const CASES: &[(&str, &[&str])] = &[
        ("grid:\n  lrr: [1]\n", &["s.yaml:5: grid.lrr is not a known setting; did you mean `lr`?"]),
        ("settings:\n  dropuot: 0.1\n", &["s.yaml:5: settings.dropuot is not a known setting; did you mean `dropout`?"]),
        ("grid:\n  lr: []\n", &["s.yaml:5: grid.lr is an empty list"]),
        ("grid:\n  lr: 0.1\n", &["grid.lr must be a list like [a, b] (got 0.1)"]),
        ("grid:\n  batch_size: [8, big]\n", &["s.yaml:5: grid.batch_size: invalid type: string \"big\""]),
        ("grid:\n  lr: [-0.1, 1e-3]\n", &["lr -0.1 must be a positive number (in lr-0.1)"]),
        ("grid:\n  dropout: [1.0]\n", &["dropout 1 must be in [0, 1) (in every run)"]),
        (
            "settings:\n  n_heads: 3\ngrid:\n  embed_dim: [32, 48]\n  lr: [0.1, -1]\n",
            &[
                "embed_dim 32 is not divisible by n_heads 3; pick embed_dim a multiple of n_heads (in emb32_lr0.1, emb32_lr-1)",
                "lr -1 must be a positive number (in emb32_lr-1, emb48_lr-1)",
            ],
        ),
        ("settings:\n  lr: 0.1\ngrid:\n  lr: [0.1, 0.2]\n", &["lr is both in settings and in grid"]),
        ("grid:\n  lr: [0.1, 0.1]\n", &["grid.lr lists 0.1 twice"]),
    ];

    #[test]
    fn validation_messages() {
        for (body, wants) in CASES {
            let err = plan(&format!("{HEAD}{body}")).unwrap_err().to_string();
            for want in *wants {
                assert!(err.contains(want), "spec body:\n{body}\nwant: {want}\ngot:\n{err}");
            }
        }
    }
}
