//! The sweep spec as the user wrote it in YAML: name, data, fixed settings, the grid of
//! swept settings and sampling options. Parsing reads every key of the file, types every
//! value by the setting it belongs to, reports every problem it finds at its own line
//! (not just the first), and remembers where each value was written (`Places`) so that
//! later checks can point there too. `plan` validates combinations and expands the grid.
//! Besides `grid:`, a spec may search a `space:` (`method: random` or `tpe`) and stop
//! hopeless runs early (`early_stop:`) and say what Slurm array tasks ask for (`slurm:`).

//!
//! - `reader`: the YAML tree walked key by key, every section typed and placed;
//! - `methods`: which keys go with `method:` grid, random or tpe;
//! - `distributions`: `space:` settings and their distributions;
//! - `search_keys`: `constraints:`, `objectives:`, `warm_start:`, `enqueue:`, `stop:`;
//! - `suggest`: the closest known name for a typo (or a nanoGPT name).

mod distributions;
mod methods;
mod reader;
mod search_keys;
mod suggest;
#[cfg(test)]
mod tests;

pub use suggest::did_you_mean;

use crate::error::{Problem, SpecError};
use crate::plan::early_stop::EarlyStop;
use crate::plan::objectives::Objective;
use crate::plan::slurm::Settings as SlurmSettings;
use crate::plan::space::Space;
use crate::plan::stop_rule::StopRule;
use crate::plan::yaml;
use indexmap::IndexMap;
use marked_yaml::Node;
use reader::Reader;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use sweep_config::{DataConfig, SampleConfig};

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
    /// Expressions every run must satisfy (`plan::constraints`), as written.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub constraints: Vec<String>,
    /// What the sweep is judged by; empty means val_loss alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub objectives: Vec<Objective>,
    /// Earlier sweep folders whose finished runs start this one (`search::warm_start`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub warm_start: Vec<String>,
    /// Configurations of the swept settings to train first (`random`, `tpe`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enqueue: Vec<IndexMap<String, Value>>,
    /// Stop proposing when the best val loss stops improving (`random`, `tpe`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop: Option<StopRule>,
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

impl Spec {
    /// Reads and parses a spec file; only an unreadable file is an error, everything
    /// else wrong with it is in `Parsed::problems`.
    pub fn from_path(path: &Path) -> Result<Parsed, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read { path: path.to_path_buf(), source })?;
        Ok(Self::parse(&text))
    }

    /// Parses spec text, collecting every problem with its line.
    pub fn parse(text: &str) -> Parsed {
        let mut r = Reader::new();
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

    /// The spec a sweep folder was started with (its sweep.json, which `sweep run` writes).
    pub fn saved(sweep_dir: &Path) -> anyhow::Result<Spec> {
        use anyhow::Context;
        let path = Self::saved_path(sweep_dir);
        let text = std::fs::read_to_string(&path).with_context(|| {
            format!("cannot read {}: is {} a sweep folder (runs/<sweep name>) that `sweep run` has started?", path.display(), sweep_dir.display())
        })?;
        serde_json::from_str(&text).with_context(|| format!("{} is not a sweep.json this version of sweep reads", path.display()))
    }

    /// Where a sweep folder keeps the spec it was started with.
    pub fn saved_path(sweep_dir: &Path) -> PathBuf {
        sweep_dir.join("sweep.json")
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
            constraints: Vec::new(),
            objectives: Vec::new(),
            warm_start: Vec::new(),
            enqueue: Vec::new(),
            stop: None,
        }
    }
}
