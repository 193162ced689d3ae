//! The sweep spec as the user wrote it in YAML: name, data, fixed settings, the grid of
//! swept settings and sampling options. Parsing only; `plan` validates and expands it.

use crate::error::SpecError;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use std::path::{Path, PathBuf};
use sweep_config::{DataConfig, SampleConfig};

/// A parsed `sweeps/*.yaml`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Spec {
    /// Name of the sweep; its runs go to `runs/<name>/`.
    pub name: String,
    /// The corpus and its tokenizer.
    pub data: DataConfig,
    /// Settings fixed for every run (any name from `sweep_config::SETTING_NAMES`).
    #[serde(default)]
    pub settings: IndexMap<String, serde_yaml_ng::Value>,
    /// Swept settings: each a list; every combination is one run, in this key order.
    #[serde(default)]
    pub grid: IndexMap<String, serde_yaml_ng::Value>,
    /// Text generated at the end of each run.
    #[serde(default)]
    pub sample: SampleConfig,
    /// Start a failed trial again up to this many times before recording it as failed.
    #[serde(default)]
    pub max_retries: u32,
}

impl Spec {
    /// Reads and parses a spec file. YAML and type errors carry the line and column.
    pub fn from_path(path: &Path) -> Result<(Spec, String), SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read { path: path.to_path_buf(), source })?;
        let spec = Self::parse(&text).map_err(|message| SpecError::Yaml { path: path.to_path_buf(), message })?;
        Ok((spec, text))
    }

    /// Parses spec text; the error is one line with a "did you mean" where one fits.
    pub fn parse(text: &str) -> Result<Spec, String> {
        serde_yaml_ng::from_str::<Spec>(text).map_err(|e| {
            let msg = e.to_string();
            match unknown_field(&msg) {
                Some((field, expected)) => match did_you_mean(&field, &expected) {
                    Some(s) => format!("{msg} (did you mean `{s}`?)"),
                    None => msg,
                },
                None => msg,
            }
        })
    }

    /// Where this sweep's runs go: `<out>/<name>`.
    pub fn sweep_dir(&self, out: &Path) -> PathBuf {
        out.join(&self.name)
    }
}

/// Picks `field` and the expected names out of serde's "unknown field `x`, expected one of `a`, `b`".
fn unknown_field(msg: &str) -> Option<(String, Vec<String>)> {
    let rest = msg.split("unknown field `").nth(1)?;
    let (field, rest) = rest.split_once('`')?;
    let expected = rest.split('`').skip(1).step_by(2).map(str::to_string).collect();
    Some((field.to_string(), expected))
}

/// The closest known name to `word`, if it is close enough to be a typo.
pub fn did_you_mean<S: AsRef<str>>(word: &str, known: &[S]) -> Option<String> {
    known
        .iter()
        .map(|k| (strsim::jaro_winkler(word, k.as_ref()), k.as_ref()))
        .filter(|(score, _)| *score > 0.8)
        .max_by(|a, b| a.0.total_cmp(&b.0))
        .map(|(_, k)| k.to_string())
}

/// 1-based line of `key:` inside the top-level mapping `section:` (or of `section:` itself
/// when `key` is None). A plain text scan: good enough for pointing at a typo.
pub fn line_of(text: &str, section: &str, key: Option<&str>) -> Option<usize> {
    let mut in_section = false;
    for (i, line) in text.lines().enumerate() {
        let trimmed = line.trim_start();
        let indented = line.len() != trimmed.len();
        if !indented && !trimmed.is_empty() && !trimmed.starts_with('#') {
            in_section = trimmed.strip_prefix(section).is_some_and(|r| r.trim_start().starts_with(':'));
            if in_section && key.is_none() {
                return Some(i + 1);
            }
            continue;
        }
        if in_section
            && let Some(key) = key
            && trimmed.strip_prefix(key).is_some_and(|r| r.trim_start().starts_with(':'))
        {
            return Some(i + 1);
        }
    }
    None
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
  dropout: [0.0, 0.1]
";

    #[test]
    fn parses_and_keeps_grid_order() {
        let spec = Spec::parse(SPEC).unwrap();
        assert_eq!(spec.name, "demo");
        assert_eq!(spec.grid.keys().collect::<Vec<_>>(), ["lr", "dropout"]);
        assert_eq!(spec.data.val_fraction, 0.1);
    }

    #[test]
    fn unknown_top_level_key_has_line_and_suggestion() {
        let err = Spec::parse(&SPEC.replace("grid:", "gird:")).unwrap_err();
        assert!(err.contains("unknown field `gird`"), "{err}");
        assert!(err.contains("line 6"), "{err}");
        assert!(err.contains("did you mean `grid`?"), "{err}");
    }

    #[test]
    fn malformed_yaml_has_line_and_column() {
        let err = Spec::parse("name: x\ndata: {path: a\ngrid: 3").unwrap_err();
        assert!(err.contains("line 3 column"), "{err}");
    }

    #[test]
    fn finds_lines_of_keys() {
        assert_eq!(line_of(SPEC, "grid", Some("dropout")), Some(8));
        assert_eq!(line_of(SPEC, "settings", Some("max_iters")), Some(5));
        assert_eq!(line_of(SPEC, "grid", None), Some(6));
        assert_eq!(line_of(SPEC, "grid", Some("max_iters")), None);
    }
}
