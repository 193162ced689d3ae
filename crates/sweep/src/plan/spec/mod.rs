//! The sweep spec as the user wrote it in YAML: name, data, fixed settings, the grid of
//! swept settings and sampling options. Parsing reads every key of the file, types every
//! value by the setting it belongs to, reports every problem it finds at its own line
//! (not just the first), and remembers where each value was written (`Places`) so that
//! later checks can point there too. `plan` validates combinations and expands the grid.
//! Besides `grid:`, a spec may search a `space:` (`method: random` or `tpe`) and stop
//! hopeless runs early (`early_stop:`) and say what Slurm array tasks ask for (`slurm:`).

use crate::error::{Problem, SpecError};
use crate::exec::slurm::Settings as SlurmSettings;
use crate::plan::space::{Dist, Space};
use crate::plan::yaml::{self, Field};
use crate::prune::{EarlyStop, PruneMethod};
use indexmap::IndexMap;
use marked_yaml::Node;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use sweep_config::{DataConfig, SETTING_NAMES, SampleConfig, ValueKind, setting_kind};

/// A parsed `sweeps/*.yaml`. Saved as `sweep.json` in the sweep folder.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Name of the sweep; its runs go to `runs/<name>/`.
    pub name: String,
    /// The corpus and its tokenizer.
    pub data: DataConfig,
    /// Settings fixed for every run (any name from `sweep_config::SETTING_NAMES`).
    #[serde(default)]
    pub settings: IndexMap<String, Value>,
    /// Swept settings, each a list of values; every combination is one run, in this key order.
    #[serde(default)]
    pub grid: IndexMap<String, Vec<Value>>,
    /// Text generated at the end of each run.
    #[serde(default)]
    pub sample: SampleConfig,
    /// Start a failed trial again up to this many times before recording it as failed.
    #[serde(default)]
    pub max_retries: u32,
    /// How runs are chosen: every combination of `grid`, or `n_runs` drawn from `space`.
    #[serde(default)]
    pub method: Method,
    /// Runs to propose (`random`, `tpe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_runs: Option<usize>,
    /// Seed of the proposals (`random`, `tpe`): the same seed proposes the same runs.
    #[serde(default)]
    pub search_seed: u64,
    /// Random runs before TPE starts modelling (`tpe`; default 10, as Optuna's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub n_startup: Option<usize>,
    /// Swept settings of `random` and `tpe`: lists or distributions, in this key order.
    #[serde(default, skip_serializing_if = "IndexMap::is_empty")]
    pub space: Space,
    /// Stop runs that are clearly losing (ASHA or median pruning).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub early_stop: Option<EarlyStop>,
    /// What each Slurm array task asks for (`sweep run --backend slurm`; flags override it).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm: Option<SlurmSettings>,
}

/// How a sweep chooses its runs.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Method {
    /// Every combination of the `grid:` lists.
    #[default]
    Grid,
    /// `n_runs` independent draws from `space:`.
    Random,
    /// Tree-structured Parzen estimator: random draws first, then proposals modelled on
    /// the finished and pruned runs (Optuna's default sampler).
    Tpe,
}

impl Method {
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Grid => "grid",
            Method::Random => "random",
            Method::Tpe => "tpe",
        }
    }
}

/// The most runs `n_runs` may ask for.
pub const MAX_RUNS: u64 = 100_000;

/// TPE's random runs before modelling when the spec does not say.
pub const DEFAULT_N_STARTUP: usize = 10;

/// Where a value was written: its 1-based line and its text as written.
#[derive(Debug, Clone, PartialEq)]
pub struct Place {
    pub line: usize,
    pub text: String,
}

/// Where each value of a spec was written, by dotted path: `name`, `data.path`,
/// `settings.lr`, `grid.lr` (the key), `grid.lr[1]` (the second value), `sample.prompts[0]`.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Places(HashMap<String, Place>);

impl Places {
    pub fn get(&self, path: &str) -> Option<&Place> {
        self.0.get(path)
    }
    pub fn line(&self, path: &str) -> Option<usize> {
        self.get(path).map(|p| p.line)
    }
    /// Records `node` as written at its own line, or at `line` (a key's) when given.
    fn insert(&mut self, path: String, node: &Node) {
        self.insert_at(path, yaml::line(node), node);
    }
    fn insert_at(&mut self, path: String, line: Option<usize>, node: &Node) {
        if let Some(line) = line {
            self.0.insert(path, Place { line, text: yaml::shown(node) });
        }
    }
}

/// A spec read from text, with every problem found while reading it. When `problems` is
/// not empty, `spec` holds what could be read (unknown keys and bad values left out).
#[derive(Debug, Clone)]
pub struct Parsed {
    pub spec: Spec,
    pub places: Places,
    pub problems: Vec<Problem>,
}

const TOP_KEYS: &[&str] =
    &["name", "data", "settings", "grid", "sample", "max_retries", "method", "n_runs", "search_seed", "n_startup", "space", "early_stop", "slurm"];

const DATA_FIELDS: &[(&str, Field)] = &[
    ("path", Field::Scalar(ValueKind::Text, false)),
    ("tokenizer", Field::Choice(&["char", "bpe"])),
    ("vocab_size", Field::Scalar(ValueKind::Whole, true)),
    ("tokenizer_path", Field::Scalar(ValueKind::Text, true)),
    ("val_fraction", Field::Scalar(ValueKind::Number, false)),
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

/// The distributions a `space:` setting may name.
const DISTRIBUTIONS: &[&str] = &["uniform", "log_uniform", "int_uniform", "choice"];

impl Spec {
    /// Reads and parses a spec file; only an unreadable file is an error, everything
    /// else wrong with it is in `Parsed::problems`.
    pub fn from_path(path: &Path) -> Result<Parsed, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read { path: path.to_path_buf(), source })?;
        Ok(Self::parse(&text))
    }

    /// Parses spec text, collecting every problem with its line.
    pub fn parse(text: &str) -> Parsed {
        let mut r = Reader { places: Places::default(), problems: Vec::new() };
        let spec = match yaml::parse(text) {
            Ok(root) => r.spec(&root),
            Err(problem) => {
                r.problems.push(problem);
                Spec::empty()
            }
        };
        Parsed { spec, places: r.places, problems: r.problems }
    }

    /// The swept setting names: the grid's, or the space's.
    pub fn swept_keys(&self) -> Vec<String> {
        if self.method == Method::Grid { self.grid.keys().cloned().collect() } else { self.space.keys().cloned().collect() }
    }

    /// Where this sweep's runs go: `<out>/<name>`.
    pub fn sweep_dir(&self, out: &Path) -> PathBuf {
        out.join(&self.name)
    }

    fn empty() -> Spec {
        Spec {
            name: String::new(),
            data: sweep_config::RunConfig::with_data("").data,
            settings: IndexMap::new(),
            grid: IndexMap::new(),
            sample: SampleConfig::default(),
            max_retries: 0,
            method: Method::Grid,
            n_runs: None,
            search_seed: 0,
            n_startup: None,
            space: IndexMap::new(),
            early_stop: None,
            slurm: None,
        }
    }
}

/// Walks the YAML tree, keeping what is valid and noting every problem.
struct Reader {
    places: Places,
    problems: Vec<Problem>,
}

impl Reader {
    fn problem(&mut self, line: Option<usize>, message: String) {
        self.problems.push(Problem { line, message });
    }

    fn spec(&mut self, root: &Node) -> Spec {
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
                    let defaults = EarlyStop { method: PruneMethod::Asha, min_steps: 0, reduction_factor: 3, min_runs: 5 };
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

    /// Whether the keys that go with the method are there, and no others.
    fn method_keys(&mut self, spec: &Spec) {
        let method_line = self.places.line("method");
        let line = |r: &Self, key: &str| r.places.line(key).or(method_line);
        match spec.method {
            Method::Grid => {
                for key in ["n_runs", "n_startup", "search_seed"] {
                    if self.places.get(key).is_some() {
                        self.problem(
                            line(self, key),
                            format!("{key} applies to method: random or tpe; this spec's method is grid (every combination of grid:)"),
                        );
                    }
                }
                if !spec.space.is_empty() || self.places.get("space").is_some() {
                    self.problem(
                        line(self, "space"),
                        "space: applies to method: random or tpe; add `method: random` (or tpe), or list the values under grid:".into(),
                    );
                }
            }
            Method::Random | Method::Tpe => {
                let method = spec.method.as_str();
                if spec.n_runs.is_none() && self.places.get("n_runs").is_none() {
                    self.problem(method_line, format!("method: {method} needs n_runs: the number of runs to propose"));
                }
                if self.places.get("grid").is_some() {
                    self.problem(line(self, "grid"), format!("grid: applies to method: grid; with method: {method} put the settings under space: (a list stays a list: each run picks one of its values)"));
                } else if spec.space.is_empty() && !self.problems.iter().any(|p| p.message.starts_with("space.")) {
                    self.problem(
                        line(self, "space"),
                        format!("method: {method} needs space: the settings to search, e.g. space: {{lr: {{log_uniform: [1e-4, 1e-2]}}}}"),
                    );
                }
                if spec.method == Method::Random && self.places.get("n_startup").is_some() {
                    self.problem(
                        line(self, "n_startup"),
                        "n_startup applies to method: tpe (random runs before the model); method: random draws every run at random".into(),
                    );
                }
            }
        }
    }

    /// A section with a fixed set of fields (`data:`, `sample:`), read into its config type.
    fn section<T: serde::de::DeserializeOwned + Serialize>(
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

    /// `space:`: each setting a list (one value is picked) or `{distribution: [low, high]}`.
    fn space(&mut self, node: &Node, line: Option<usize>) -> Space {
        let mut out = Space::new();
        self.places.insert_at("space".into(), line, node);
        let Some(map) = self.mapping("space", node, line) else { return out };
        for (key, value) in map.iter() {
            let (key, key_line) = (key.as_str(), yaml::line_of_key(key));
            let Some((kind, nullable)) = self.known_setting("space", key, key_line) else { continue };
            self.places.insert_at(format!("space.{key}"), key_line, value);
            let (name, args) = match (value.as_sequence(), value.as_mapping()) {
                (Some(_), _) => ("choice", value),
                (_, Some(m)) if m.len() == 1 => {
                    let (k, v) = m.iter().next().expect("one entry");
                    (k.as_str(), v)
                }
                _ => {
                    self.problem(
                        key_line,
                        format!(
                            "space.{key} must be a list like [a, b] or one distribution like {{uniform: [0.0, 0.3]}} ({}), got {}; put a single value under settings",
                            DISTRIBUTIONS.join(", "),
                            yaml::shown(value)
                        ),
                    );
                    continue;
                }
            };
            let dist = match self.distribution(key, name, args, kind, nullable, key_line) {
                Some(d) => d,
                None => continue,
            };
            out.insert(key.to_string(), dist);
        }
        out
    }

    /// One distribution of `space:`, typed by the setting it draws.
    fn distribution(&mut self, key: &str, name: &str, args: &Node, kind: ValueKind, nullable: bool, line: Option<usize>) -> Option<Dist> {
        if !DISTRIBUTIONS.contains(&name) {
            let hint = did_you_mean(name, DISTRIBUTIONS).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
            self.problem(line, format!("space.{key}: {name} is not a known distribution{hint} (known: {})", DISTRIBUTIONS.join(", ")));
            return None;
        }
        let Some(items) = args.as_sequence().filter(|items| !items.is_empty()) else {
            self.problem(
                line,
                format!(
                    "space.{key}: {name} needs a list, like {name}: {}, got {}",
                    if name == "choice" { "[16, 32]" } else { "[low, high]" },
                    yaml::shown(args)
                ),
            );
            return None;
        };
        if name == "choice" {
            let mut values = Vec::new();
            for item in items.iter() {
                match yaml::scalar(item, kind, nullable) {
                    Ok(v) if values.contains(&v) => self.problem(yaml::line(item).or(line), format!("space.{key} lists {} twice", yaml::shown(item))),
                    Ok(v) => values.push(v),
                    Err(rule) => self.problem(yaml::line(item).or(line), format!("space.{key} {rule}")),
                }
            }
            return (!values.is_empty()).then_some(Dist::Choice(values));
        }
        let wanted = if name == "int_uniform" { ValueKind::Whole } else { ValueKind::Number };
        if kind != wanted {
            let fix = if kind == ValueKind::Whole {
                "use int_uniform or a list".to_string()
            } else {
                format!("use a list of its values (it takes {})", kind.describe())
            };
            self.problem(line, format!("space.{key}: {name} cannot draw {key}, which takes {}; {fix}", kind.describe()));
            return None;
        }
        if items.len() != 2 {
            self.problem(line, format!("space.{key}: {name} needs two numbers [low, high], got {} values", items.len()));
            return None;
        }
        let bounds: Vec<Value> = items
            .iter()
            .filter_map(|item| yaml::scalar(item, wanted, false).map_err(|rule| self.problem(line, format!("space.{key}: {name} bound {rule}"))).ok())
            .collect();
        let [lo, hi] = bounds.as_slice() else { return None };
        let (l, h) = (lo.as_f64().unwrap_or_default(), hi.as_f64().unwrap_or_default());
        if l >= h {
            self.problem(line, format!("space.{key}: {name} [{}, {}] needs low < high", yaml::shown(&items[0]), yaml::shown(&items[1])));
            return None;
        }
        if name == "log_uniform" && l <= 0.0 {
            self.problem(line, format!("space.{key}: log_uniform needs a positive low bound, got {}; use uniform to include 0", yaml::shown(&items[0])));
            return None;
        }
        Some(match name {
            "uniform" => Dist::Uniform(l, h),
            "log_uniform" => Dist::LogUniform(l, h),
            _ => Dist::IntUniform(lo.as_u64().unwrap_or_default(), hi.as_u64().unwrap_or_default()),
        })
    }

    fn mapping<'n>(&mut self, name: &str, node: &'n Node, line: Option<usize>) -> Option<&'n marked_yaml::types::MarkedMappingNode> {
        if yaml::is_null(node) {
            return None;
        }
        let map = node.as_mapping();
        if map.is_none() {
            self.problem(line, format!("{name} must be a mapping of setting: value, got {}", yaml::shown(node)));
        }
        map
    }

    fn known_setting(&mut self, section: &str, key: &str, line: Option<usize>) -> Option<(ValueKind, bool)> {
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

/// nanoGPT's and common names for our settings, so that its users are pointed the right way.
const ALIASES: &[(&str, &str)] = &[
    ("n_embd", "embed_dim"),
    ("n_embed", "embed_dim"),
    ("d_model", "embed_dim"),
    ("n_layer", "n_layers"),
    ("n_head", "n_heads"),
    ("learning_rate", "lr"),
    ("gradient_accumulation_steps", "grad_accum_steps"),
    ("max_steps", "max_iters"),
    ("warmup_steps", "warmup_iters"),
    ("context_length", "block_size"),
];

/// The closest known name to `word`, if it is close enough to be a typo (or a nanoGPT name).
pub fn did_you_mean<S: AsRef<str>>(word: &str, known: &[S]) -> Option<String> {
    if let Some((_, ours)) = ALIASES.iter().find(|(alias, ours)| *alias == word && known.iter().any(|k| k.as_ref() == *ours)) {
        return Some(ours.to_string());
    }
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(word, k.as_ref()), k.as_ref()))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    const SPEC: &str = "\
name: demo
data:
  path: data/tiny.txt
settings:
  max_iters: 100   # fixed
grid:
  lr: [1e-3, 3e-4]
  dropout:
    - 0.0
    - 0.1
";

    fn messages(text: &str) -> Vec<String> {
        Spec::parse(text).problems.iter().map(|p| format!("{}: {}", p.line.unwrap_or(0), p.message)).collect()
    }

    #[test]
    fn parses_and_keeps_grid_order_and_places() {
        let parsed = Spec::parse(SPEC);
        assert_eq!(parsed.problems, []);
        let spec = parsed.spec;
        assert_eq!(spec.name, "demo");
        assert_eq!(spec.grid.keys().collect::<Vec<_>>(), ["lr", "dropout"]);
        assert_eq!(spec.grid["lr"], [serde_json::json!(1e-3), serde_json::json!(3e-4)]);
        assert_eq!(spec.settings["max_iters"], serde_json::json!(100));
        assert_eq!(spec.data.val_fraction, 0.1);
        let places = parsed.places;
        assert_eq!(places.get("grid.lr[1]"), Some(&Place { line: 7, text: "3e-4".into() }));
        assert_eq!(places.get("grid.dropout[1]"), Some(&Place { line: 10, text: "0.1".into() }));
        assert_eq!(places.line("grid.dropout"), Some(8));
        assert_eq!(places.line("settings.max_iters"), Some(5));
        assert_eq!(places.line("data.path"), Some(3));
    }

    #[test]
    fn every_unknown_key_is_reported_with_its_line() {
        let text = SPEC.replace("grid:", "gird:").replace("  path:", "  pth: x\n  path:");
        assert_eq!(
            messages(&text),
            [
                "3: data.pth is not a known key of data:; did you mean `path`? (known: path, tokenizer, vocab_size, tokenizer_path, val_fraction)",
                "7: gird is not a known top-level key; did you mean `grid`? (known: name, data, settings, grid, sample, max_retries, method, n_runs, search_seed, n_startup, space, early_stop, slurm)",
            ]
        );
    }

    #[test]
    fn type_errors_read_as_a_person_would_write_them() {
        let text = "name: t\ndata:\n  path: d.txt\n  val_fraction: lots\nsettings:\n  bias: yes\n  batch_size: 3.5\ngrid:\n  lr: [1e-3, \"3e-4\"]\n  n_layers: [1, -2]\nsample:\n  top_k: 0.5\n  prompts: hello\n";
        assert_eq!(
            messages(text),
            [
                "4: data.val_fraction must be a number, got lots",
                "6: settings.bias must be true or false, got yes",
                "7: settings.batch_size must be a whole number, got 3.5",
                "9: grid.lr must be a number, got \"3e-4\" (quoted, so it is text) (value 2)",
                "10: grid.n_layers must be a whole number of 0 or more, got -2 (value 2)",
                "12: sample.top_k must be a whole number, got 0.5",
                "13: sample.prompts must be a list like [a, b], got hello",
            ]
        );
    }

    #[test]
    fn malformed_yaml_has_line_and_column() {
        let problems = Spec::parse("name: x\ndata: {path: a\ngrid: 3").problems;
        assert_eq!(problems.len(), 1);
        assert_eq!(problems[0].line, Some(3), "{problems:?}");
        assert!(problems[0].message.starts_with("YAML syntax error at column"), "{problems:?}");
    }

    #[test]
    fn grid_shapes_and_duplicates() {
        let text = "name: t\ndata:\n  path: d.txt\nsettings:\n  lr: 0.1\ngrid:\n  lr: [0.1, 0.2]\n  dropout: 0.1\n  n_layers: []\n  seed: [1, 1]\n";
        assert_eq!(
            messages(text),
            [
                "8: grid.dropout must be a list like [a, b] (got 0.1); put a single value under settings",
                "9: grid.n_layers is an empty list; give at least one value or remove it",
                "10: grid.seed lists 1 twice",
                "5: lr is both in settings and in grid; keep it in one place",
            ]
        );
    }

    #[test]
    fn missing_name_and_data() {
        assert_eq!(
            messages("grid:\n  lr: [1]\n"),
            ["1: name: is missing; give the sweep a name (its runs go to runs/<name>/)", "1: data: is missing; give at least data: {path: <text file>}"]
        );
        assert_eq!(messages("name: t\ndata:\n  tokenizer: bpe\n"), ["2: data.path is missing"]);
        // A misspelt required key is reported once, as the typo.
        assert_eq!(messages("nme: t\ndata:\n  pth: x\n").len(), 2);
        assert!(messages("name: t\ndata:\n  path: x\nsettings:\n  n_embd: 64\n")[0].contains("did you mean `embed_dim`?"));
        assert_eq!(messages("name: t\ndata:\n  path: x\n  tokenizer: word\n"), ["4: data.tokenizer must be one of char, bpe, got word"]);
        assert_eq!(
            messages("name: ''\ndata:\n  path: \"\"\n"),
            ["1: name is empty; give the sweep a name (its runs go to runs/<name>/)", "3: data.path is empty; give the path of the text file to train on"]
        );
    }

    #[test]
    fn the_slurm_section_is_read_and_its_mistakes_point_at_their_lines() {
        let ok =
            Spec::parse("name: s\ndata:\n  path: d.txt\nslurm:\n  partition: gpu\n  time: \"01:00:00\"\n  max_parallel: 4\n  sbatch_args: [--qos=short]\n");
        assert!(ok.problems.is_empty(), "{:?}", ok.problems);
        let slurm = ok.spec.slurm.unwrap();
        assert_eq!((slurm.partition.as_deref(), slurm.time.as_deref(), slurm.max_parallel), (Some("gpu"), Some("01:00:00"), Some(4)));
        assert_eq!(slurm.sbatch_args, ["--qos=short"]);
        let text = "name: s\ndata:\n  path: d.txt\nslurm:\n  time: 1h\n  mem: lots\n  gpus: 1\n";
        assert_eq!(
            messages(text),
            [
                "7: slurm.gpus is not a known key of slurm:; did you mean `gpus_per_task`? (known: partition, gpus_per_task, cpus_per_task, mem, time, max_parallel, sbatch_args)",
                "5: slurm.time \"1h\" must be a Slurm time limit such as 90 (minutes), 01:30:00 or 2-00:00:00 (days-hours:minutes:seconds)",
                "6: slurm.mem \"lots\" must be a whole number with an optional unit K, M, G or T (e.g. 16G), as sbatch --mem takes",
            ]
        );
    }

    #[test]
    fn search_and_early_stop_problems_point_at_their_lines() {
        let text = "name: bad\ndata:\n  path: d.txt\nmethod: random\nspace:\n  lr: {log_uniform: [0, 1e-2]}\n  dropout: {uniform: [0.3, 0.1]}\n\
            \x20 n_layers: {uniform: [1, 3]}\n  batch_size: {normal: [1, 2]}\n  embed_dim: 64\nearly_stop:\n  method: hyperband\n  min_steps: 50\n  reduction_factor: 1\n";
        assert_eq!(
            messages(text),
            [
                "6: space.lr: log_uniform needs a positive low bound, got 0; use uniform to include 0",
                "7: space.dropout: uniform [0.3, 0.1] needs low < high",
                "8: space.n_layers: uniform cannot draw n_layers, which takes a whole number; use int_uniform or a list",
                "9: space.batch_size: normal is not a known distribution (known: uniform, log_uniform, int_uniform, choice)",
                "10: space.embed_dim must be a list like [a, b] or one distribution like {uniform: [0.0, 0.3]} (uniform, log_uniform, int_uniform, choice), got 64; put a single value under settings",
                "12: early_stop.method must be one of asha, median, got hyperband",
                "14: early_stop.reduction_factor 1 must be at least 2 (3 keeps the best third at each rung)",
                "4: method: random needs n_runs: the number of runs to propose",
            ]
        );
        let grid = "name: g\ndata:\n  path: d.txt\nn_runs: 5\ngrid:\n  lr: [1e-3]\nspace:\n  dropout: [0.1]\n";
        assert_eq!(
            messages(grid),
            [
                "4: n_runs applies to method: random or tpe; this spec's method is grid (every combination of grid:)",
                "7: space: applies to method: random or tpe; add `method: random` (or tpe), or list the values under grid:",
            ]
        );
        let random = "name: r\ndata:\n  path: d.txt\nmethod: random\nn_runs: 3\n";
        assert_eq!(
            messages(&format!("{random}space:\n  lr: [0.1]\ngrid:\n  dropout: [0.1]\n")),
            ["8: grid: applies to method: grid; with method: random put the settings under space: (a list stays a list: each run picks one of its values)"]
        );
        assert_eq!(
            messages(&format!("{random}space: {{}}\n")),
            ["6: method: random needs space: the settings to search, e.g. space: {lr: {log_uniform: [1e-4, 1e-2]}}"]
        );
        assert_eq!(messages("name: r\ndata:\n  path: d.txt\nmethod: bayes\nn_runs: 3\n"), ["4: method must be one of grid, random, tpe, got bayes"]);
        let parsed = Spec::parse("name: r\ndata:\n  path: d.txt\nmethod: tpe\nn_runs: 9\nspace:\n  lr: {log_uniform: [1e-4, 1e-2]}\n  n_layers: [1, 2]\n");
        assert_eq!(parsed.problems, []);
        assert_eq!(parsed.spec.space["lr"], Dist::LogUniform(1e-4, 1e-2));
        assert_eq!(parsed.spec.space["n_layers"], Dist::Choice(vec![Value::from(1), Value::from(2)]));
        assert_eq!(parsed.spec.swept_keys(), ["lr", "n_layers"]);
    }
}
