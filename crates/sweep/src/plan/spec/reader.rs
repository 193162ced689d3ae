//! The spec's YAML tree walked key by key: the top-level keys, the fixed sections (`data:`,
//! `sample:`, `early_stop:`, `slurm:`), `settings:` and `grid:`, each value typed by the
//! setting it belongs to and its line remembered; every problem noted, none fatal.

use crate::error::Problem;
use crate::plan::early_stop::{EarlyStop, PruneMethod};
use crate::plan::slurm::Settings as SlurmSettings;
use crate::plan::spec::{MAX_RUNS, Places, Spec, did_you_mean};
use crate::plan::yaml::{self, Field};
use indexmap::IndexMap;
use marked_yaml::Node;
use serde::Serialize;
use serde_json::{Map, Value};
use sweep_config::{SETTING_NAMES, SampleConfig, ValueKind, setting_kind};

const TOP_KEYS: &[&str] = &[
    "name",
    "data",
    "settings",
    "grid",
    "sample",
    "max_retries",
    "method",
    "n_runs",
    "search_seed",
    "n_startup",
    "space",
    "early_stop",
    "slurm",
    "constraints",
    "objectives",
    "warm_start",
    "enqueue",
    "stop",
];

const DATA_FIELDS: &[(&str, Field)] = &[
    ("path", Field::Scalar(ValueKind::Text, false)),
    ("format", Field::Choice(&["text", "parquet", "jsonl", "nanogpt"])),
    ("tokenizer", Field::Choice(&["char", "bpe", "gpt2"])),
    ("vocab_size", Field::Scalar(ValueKind::Whole, true)),
    ("tokenizer_path", Field::Scalar(ValueKind::Text, true)),
    ("text_column", Field::Scalar(ValueKind::Text, true)),
    ("text_field", Field::Scalar(ValueKind::Text, true)),
    ("val", Field::Scalar(ValueKind::Text, true)),
    ("val_fraction", Field::Scalar(ValueKind::Number, false)),
    ("cache", Field::Scalar(ValueKind::Text, true)),
];

const SAMPLE_FIELDS: &[(&str, Field)] = &[
    ("prompts", Field::List(ValueKind::Text)),
    ("max_new_tokens", Field::Scalar(ValueKind::Whole, false)),
    ("temperature", Field::Scalar(ValueKind::Number, false)),
    ("top_k", Field::Scalar(ValueKind::Whole, true)),
];

const EARLY_STOP_FIELDS: &[(&str, Field)] = &[
    ("method", Field::Choice(&["asha", "median"])),
    ("min_steps", Field::Scalar(ValueKind::Whole, false)),
    ("reduction_factor", Field::Scalar(ValueKind::Whole, false)),
    ("min_runs", Field::Scalar(ValueKind::Whole, false)),
    ("order", Field::Choice(&["plan", "arrival"])),
    ("noise", Field::Scalar(ValueKind::Number, false)),
];

const SLURM_FIELDS: &[(&str, Field)] = &[
    ("partition", Field::Scalar(ValueKind::Text, false)),
    ("gpus_per_task", Field::Scalar(ValueKind::Whole, false)),
    ("cpus_per_task", Field::Scalar(ValueKind::Whole, false)),
    ("mem", Field::Scalar(ValueKind::Text, false)),
    ("time", Field::Scalar(ValueKind::Text, false)),
    ("max_parallel", Field::Scalar(ValueKind::Whole, false)),
    ("sbatch_args", Field::List(ValueKind::Text)),
];

/// Walks the YAML tree, keeping what is valid and noting every problem.
pub(super) struct Reader {
    pub(super) places: Places,
    pub(super) problems: Vec<Problem>,
}

impl Reader {
    pub(super) fn new() -> Self {
        Reader { places: Places::default(), problems: Vec::new() }
    }

    pub(super) fn problem(&mut self, line: Option<usize>, message: String) {
        self.problems.push(Problem { line, message });
    }

    pub(super) fn spec(&mut self, root: &Node) -> Spec {
        let mut spec = Spec::empty();
        let Some(map) = root.as_mapping() else {
            self.problem(yaml::line(root), "a spec is a mapping of keys: name:, data:, settings:, grid:, sample:".into());
            return spec;
        };
        let (mut has_name, mut has_data, mut bad_method) = (false, false, false);
        for (key, value) in map.iter() {
            let line = yaml::line_of_key(key);
            match key.as_str() {
                "name" => {
                    has_name = true;
                    self.places.insert("name".into(), value);
                    match yaml::scalar(value, ValueKind::Text, false) {
                        Ok(Value::String(s)) => spec.name = s,
                        Ok(_) => {}
                        Err(rule) => self.problem(line, format!("name {rule}")),
                    }
                }
                "data" => {
                    has_data = true;
                    spec.data = self.section("data", value, line, DATA_FIELDS, &["path"], spec.data.clone());
                }
                "sample" => spec.sample = self.section("sample", value, line, SAMPLE_FIELDS, &[], SampleConfig::default()),
                "max_retries" => match yaml::scalar(value, ValueKind::Whole, false) {
                    Ok(v) => spec.max_retries = v.as_u64().and_then(|n| u32::try_from(n).ok()).unwrap_or(u32::MAX),
                    Err(rule) => self.problem(line, format!("max_retries {rule}")),
                },
                "settings" => spec.settings = self.settings(value, line),
                "grid" => {
                    self.places.insert_at("grid".into(), line, value);
                    spec.grid = self.grid(value, line);
                }
                "method" => {
                    self.places.insert_at("method".into(), line, value);
                    match Field::Choice(&["grid", "random", "tpe"]).read(value) {
                        Ok(Value::String(m)) => spec.method = serde_json::from_value(Value::String(m)).unwrap_or_default(),
                        Ok(_) => {}
                        Err((_, rule)) => {
                            bad_method = true;
                            self.problem(line, format!("method {rule}"));
                        }
                    }
                }
                "n_runs" | "n_startup" | "search_seed" => {
                    self.places.insert_at(key.as_str().into(), line, value);
                    match yaml::scalar(value, ValueKind::Whole, false) {
                        Ok(v) => {
                            let n = v.as_u64().unwrap_or_default();
                            match key.as_str() {
                                "n_runs" if n == 0 => self.problem(line, "n_runs 0 proposes nothing; give the number of runs to train".into()),
                                "n_runs" if n > MAX_RUNS => {
                                    self.problem(line, format!("n_runs {n} is more than one sweep can hold ({MAX_RUNS}); split it into several sweeps"))
                                }
                                "n_runs" => spec.n_runs = Some(n as usize),
                                "n_startup" => spec.n_startup = Some(n as usize),
                                _ => spec.search_seed = n,
                            }
                        }
                        Err(rule) => self.problem(line, format!("{} {rule}", key.as_str())),
                    }
                }
                "space" => spec.space = self.space(value, line),
                "early_stop" => {
                    self.places.insert_at("early_stop".into(), line, value);
                    let defaults = EarlyStop::default();
                    let read = self.section("early_stop", value, line, EARLY_STOP_FIELDS, &["min_steps"], defaults);
                    let at = |key: &str| self.places.line(&format!("early_stop.{key}")).or(line);
                    let mut bad = Vec::new();
                    if read.min_steps == 0 && self.places.get("early_stop.min_steps").is_some() {
                        bad.push((
                            at("min_steps"),
                            "early_stop.min_steps 0 compares runs before they train; give the first step to compare them at (a multiple of eval_interval)"
                                .to_string(),
                        ));
                    }
                    if read.reduction_factor < 2 {
                        bad.push((
                            at("reduction_factor"),
                            format!("early_stop.reduction_factor {} must be at least 2 (3 keeps the best third at each rung)", read.reduction_factor),
                        ));
                    }
                    let given = |key: &str| self.places.get(&format!("early_stop.{key}")).is_some();
                    if read.method == PruneMethod::Asha && given("min_runs") {
                        bad.push((
                            at("min_runs"),
                            "early_stop.min_runs applies to method: median; asha compares with however many runs reached the rung".to_string(),
                        ));
                    }
                    if read.method == PruneMethod::Median && given("reduction_factor") {
                        bad.push((
                            at("reduction_factor"),
                            "early_stop.reduction_factor applies to method: asha; median pruning stops runs worse than the median".to_string(),
                        ));
                    }
                    if read.noise.is_some_and(|n| !(n.is_finite() && n > 0.0)) {
                        bad.push((
                            at("noise"),
                            format!("early_stop.noise {} must be a positive val-loss difference (e.g. 0.02)", read.noise.unwrap_or_default()),
                        ));
                    }
                    if read.min_runs == 0 {
                        bad.push((at("min_runs"), "early_stop.min_runs 0 must be at least 1 (runs to compare with before pruning)".to_string()));
                    }
                    if bad.is_empty() && read.min_steps > 0 {
                        spec.early_stop = Some(read);
                    }
                    for (l, m) in bad {
                        self.problem(l, m);
                    }
                }
                "slurm" => {
                    self.places.insert_at("slurm".into(), line, value);
                    let read = self.section("slurm", value, line, SLURM_FIELDS, &[], SlurmSettings::default());
                    let problems = read.problems();
                    for (key, message) in &problems {
                        let at = self.places.line(&format!("slurm.{key}")).or(line);
                        self.problem(at, format!("slurm.{message}"));
                    }
                    if problems.is_empty() {
                        spec.slurm = Some(read);
                    }
                }
                "constraints" => spec.constraints = self.constraints(value, line),
                "objectives" => spec.objectives = self.objectives(value, line),
                "warm_start" => spec.warm_start = self.warm_start(value, line),
                "enqueue" => spec.enqueue = self.enqueue(value, line),
                "stop" => spec.stop = self.stop(value, line),
                other => {
                    let hint = did_you_mean(other, TOP_KEYS).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
                    self.problem(line, format!("{other} is not a known top-level key{hint} (known: {})", TOP_KEYS.join(", ")));
                }
            }
        }
        if has_name && spec.name.trim().is_empty() {
            self.problem(self.places.line("name"), "name is empty; give the sweep a name (its runs go to runs/<name>/)".into());
        }
        if self.places.get("data.path").is_some() && spec.data.path.trim().is_empty() {
            self.problem(self.places.line("data.path"), "data.path is empty; give the path of the text file to train on".into());
        }
        // A misspelt key already pointed at (did you mean `name`?) is not reported missing too.
        let suggested = |problems: &[Problem], key: &str| problems.iter().any(|p| p.message.contains(&format!("did you mean `{key}`?")));
        if !has_name && !suggested(&self.problems, "name") {
            self.problem(Some(1), "name: is missing; give the sweep a name (its runs go to runs/<name>/)".into());
        }
        if !has_data && !suggested(&self.problems, "data") {
            self.problem(Some(1), "data: is missing; give at least data: {path: <text file>}".into());
        }
        for key in spec.settings.keys() {
            if spec.grid.contains_key(key) {
                let line = self.places.line(&format!("settings.{key}"));
                self.problem(line, format!("{key} is both in settings and in grid; keep it in one place"));
            }
            if spec.space.contains_key(key) {
                let line = self.places.line(&format!("settings.{key}"));
                self.problem(line, format!("{key} is both in settings and in space; keep it in one place"));
            }
        }
        // An unknown method is one problem, not one more for each key that goes with it.
        if !bad_method {
            self.method_keys(&spec);
        }
        spec
    }

    /// A section with a fixed set of fields (`data:`, `sample:`), read into its config type.
    pub(super) fn section<T: serde::de::DeserializeOwned + Serialize>(
        &mut self,
        name: &str,
        node: &Node,
        line: Option<usize>,
        fields: &[(&str, Field)],
        required: &[&str],
        defaults: T,
    ) -> T {
        let mut out = match serde_json::to_value(&defaults) {
            Ok(Value::Object(map)) => map,
            _ => Map::new(),
        };
        let Some(map) = node.as_mapping() else {
            self.problem(line, format!("{name} must be a mapping of keys ({}), got {}", field_names(fields), yaml::shown(node)));
            return defaults;
        };
        for want in required {
            let misspelt = map.iter().any(|(k, _)| did_you_mean(k.as_str(), &[*want]).is_some());
            if !misspelt && !map.iter().any(|(k, _)| k.as_str() == *want) {
                self.problem(line, format!("{name}.{want} is missing"));
            }
        }
        for (key, value) in map.iter() {
            let key_line = yaml::line_of_key(key);
            let Some((_, field)) = fields.iter().find(|(f, _)| *f == key.as_str()) else {
                let known: Vec<&str> = fields.iter().map(|(f, _)| *f).collect();
                let hint = did_you_mean(key.as_str(), &known).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
                self.problem(key_line, format!("{name}.{} is not a known key of {name}:{hint} (known: {})", key.as_str(), field_names(fields)));
                continue;
            };
            let path = format!("{name}.{}", key.as_str());
            self.places.insert_at(path.clone(), key_line.or(yaml::line(value)), value);
            match field.read(value) {
                Ok(v) => {
                    if let (Field::List(_), Some(items)) = (field, value.as_sequence()) {
                        for (i, item) in items.iter().enumerate() {
                            self.places.insert(format!("{path}[{i}]"), item);
                        }
                    }
                    out.insert(key.as_str().to_string(), v);
                }
                Err((bad_line, rule)) => self.problem(bad_line.or(key_line), format!("{path} {rule}")),
            }
        }
        match serde_json::from_value(Value::Object(out)) {
            Ok(v) => v,
            Err(e) => {
                self.problem(line, format!("{name}: {e}"));
                defaults
            }
        }
    }

    fn settings(&mut self, node: &Node, line: Option<usize>) -> IndexMap<String, Value> {
        let mut out = IndexMap::new();
        let Some(map) = self.mapping("settings", node, line) else { return out };
        for (key, value) in map.iter() {
            let key_line = yaml::line_of_key(key);
            let Some((kind, nullable)) = self.known_setting("settings", key.as_str(), key_line) else { continue };
            self.places.insert_at(format!("settings.{}", key.as_str()), key_line.or(yaml::line(value)), value);
            match yaml::scalar(value, kind, nullable) {
                Ok(v) => {
                    out.insert(key.as_str().to_string(), v);
                }
                Err(rule) => self.problem(key_line, format!("settings.{} {rule}", key.as_str())),
            }
        }
        out
    }

    fn grid(&mut self, node: &Node, line: Option<usize>) -> IndexMap<String, Vec<Value>> {
        let mut out = IndexMap::new();
        let Some(map) = self.mapping("grid", node, line) else { return out };
        for (key, value) in map.iter() {
            let (key, key_line) = (key.as_str(), yaml::line_of_key(key));
            let Some((kind, nullable)) = self.known_setting("grid", key, key_line) else { continue };
            self.places.insert_at(format!("grid.{key}"), key_line, value);
            let Some(items) = value.as_sequence() else {
                self.problem(key_line, format!("grid.{key} must be a list like [a, b] (got {}); put a single value under settings", yaml::shown(value)));
                continue;
            };
            if items.is_empty() {
                self.problem(key_line, format!("grid.{key} is an empty list; give at least one value or remove it"));
                continue;
            }
            let mut values = Vec::new();
            for (i, item) in items.iter().enumerate() {
                let item_line = yaml::line(item).or(key_line);
                match yaml::scalar(item, kind, nullable) {
                    Ok(v) if values.contains(&v) => self.problem(item_line, format!("grid.{key} lists {} twice", yaml::shown(item))),
                    Ok(v) => {
                        self.places.insert(format!("grid.{key}[{}]", values.len()), item);
                        values.push(v);
                    }
                    Err(rule) => {
                        self.problem(item_line, format!("grid.{key} {rule}{}", if items.len() > 1 { format!(" (value {})", i + 1) } else { String::new() }))
                    }
                }
            }
            if !values.is_empty() {
                out.insert(key.to_string(), values);
            }
        }
        out
    }

    pub(super) fn mapping<'n>(&mut self, name: &str, node: &'n Node, line: Option<usize>) -> Option<&'n marked_yaml::types::MarkedMappingNode> {
        if yaml::is_null(node) {
            return None;
        }
        let map = node.as_mapping();
        if map.is_none() {
            self.problem(line, format!("{name} must be a mapping of setting: value, got {}", yaml::shown(node)));
        }
        map
    }

    pub(super) fn known_setting(&mut self, section: &str, key: &str, line: Option<usize>) -> Option<(ValueKind, bool)> {
        let kind = setting_kind(key);
        if kind.is_none() {
            let message = match did_you_mean(key, SETTING_NAMES) {
                Some(s) => format!("{section}.{key} is not a known setting; did you mean `{s}`?"),
                None => format!("{section}.{key} is not a known setting; known settings: {}", SETTING_NAMES.join(", ")),
            };
            self.problem(line, message);
        }
        kind
    }
}

fn field_names(fields: &[(&str, Field)]) -> String {
    fields.iter().map(|(f, _)| *f).collect::<Vec<_>>().join(", ")
}
