//! Which keys go with `method:`: grid takes `grid:` and nothing of a search; random and tpe
//! take `space:` and `n_runs:` (tpe also `n_startup:`), and never `grid:`.

use crate::plan::spec::reader::Reader;
use crate::plan::spec::{Method, Spec};

impl Reader {
    /// Whether the keys that go with the method are there, and no others.
    pub(super) fn method_keys(&mut self, spec: &Spec) {
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
}
