//! Which keys go with `method:`: grid takes `grid:` and nothing of a search; random and tpe
//! take `space:` and `n_runs:` (tpe also `n_startup:`), `enqueue:` and `stop:`, and never
//! `grid:`. An enqueued configuration sets only swept settings.

use crate::plan::spec::reader::Reader;
use crate::plan::spec::{Method, Spec};

impl Reader {
    /// Whether the keys that go with the method are there, and no others.
    pub(super) fn method_keys(&mut self, spec: &Spec) {
        let method_line = self.places.line("method");
        let line = |r: &Self, key: &str| r.places.line(key).or(method_line);
        match spec.method {
            Method::Grid => {
                for key in ["n_runs", "n_startup", "search_seed", "enqueue", "stop"] {
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
                for (i, point) in spec.enqueue.iter().enumerate() {
                    if let Some(key) = point.keys().find(|k| !spec.space.contains_key(*k)) {
                        self.problem(
                            line(self, &format!("enqueue[{i}]")),
                            format!("enqueue item {} sets {key}, which space: does not sweep; put a fixed value under settings:", i + 1),
                        );
                    }
                }
                if let Some(stop) = &spec.stop
                    && stop.min_delta.is_none()
                    && !spec.space.contains_key("seed")
                {
                    self.problem(
                        line(self, "stop"),
                        "stop needs min_delta: (the val-loss gain that counts as an improvement, e.g. 0.01) unless the space repeats seeds, whose spread is then used"
                            .into(),
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
