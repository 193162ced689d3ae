//! Spec → Plan: applies fixed settings, expands the grid (cartesian product in spec key
//! order) or draws `n_runs` points of the space (`method: random`, and the random start of
//! `tpe`), makes one complete `RunConfig` per run, and validates every run before any
//! training. A value problem points at the line where that value was written (the grid
//! item, the space key, the settings key, the data or sample key), with the value.
//! `constraints:` drop grid combinations and make random draws be drawn again; `enqueue:`
//! puts its configurations before the draws.

use crate::error::Problem;
use crate::plan::constraints::{self, Constraint, Facts};
use crate::plan::early_stop::EarlyStop;
use crate::plan::objectives::Objective;
use crate::plan::run_id::run_id;
use crate::plan::space::{self, Space};
use crate::plan::spec::{DEFAULT_N_STARTUP, Method, Places, Spec};
use crate::plan::stop_rule::StopRule;
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
    /// Grid: every combination. Random: the `n_runs` draws, in order. TPE: the same
    /// random draws; the first `n_startup` are its real start, all of them stand for its
    /// proposals in estimates and checks.
    pub runs: Vec<PlannedRun>,
    pub method: Method,
    /// Random and TPE: where runs are drawn from, with which seed, how many.
    pub space: Space,
    pub seed: u64,
    pub n_runs: usize,
    pub n_startup: usize,
    pub early_stop: Option<EarlyStop>,
    /// Every run's config before its swept values: for runs proposed while the sweep runs.
    pub base: RunConfig,
    /// `constraints:`, and the corpus facts they were judged with (None: before the corpus
    /// was read, when those naming params, flops, tokens_per_param or epochs wait).
    pub constraints: Vec<Constraint>,
    pub facts: Option<Facts>,
    /// Grid: the combinations each constraint dropped (the first it failed), by constraint.
    /// Random and TPE: the draws each rejected, drawn again.
    pub dropped: Vec<(String, Vec<String>)>,
    /// The first `n_enqueued` runs are `enqueue:`'s, trained before anything drawn.
    pub n_enqueued: usize,
    pub objectives: Vec<Objective>,
    pub stop: Option<StopRule>,
    pub warm_start: Vec<String>,
}

impl Plan {
    /// Expands `spec` and checks every run. Returns the runs that are valid (so that later
    /// checks, of the data for example, can still look at them) and every problem found.
    pub fn build(spec: &Spec, places: &Places) -> (Plan, Vec<Problem>) {
        Self::build_with(spec, places, None)
    }

    /// `build`, with the corpus's facts for the constraints that need them.
    pub fn build_with(spec: &Spec, places: &Places, facts: Option<Facts>) -> (Plan, Vec<Problem>) {
        let mut problems = Vec::new();
        let constraints: Vec<Constraint> = spec
            .constraints
            .iter()
            .enumerate()
            .filter_map(|(i, text)| Constraint::parse(text, places.line(&format!("constraints[{i}]")).or(places.line("constraints"))).ok())
            .collect();
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

        let n_runs = spec.n_runs.unwrap_or(0);
        // A draw the constraints reject is drawn again; each rejection counted by constraint.
        // The constraint a point fails, if any.
        let judge = |point: &IndexMap<String, Value>| -> Option<String> {
            let mut config = base.clone();
            if point.iter().any(|(k, v)| config.set(k, v.clone()).is_err()) {
                return None;
            }
            match constraints::first_failed(&constraints, &config, facts) {
                Some((c, None)) => Some(c.text.clone()),
                _ => None,
            }
        };
        let mut rejected: IndexMap<String, Vec<String>> = IndexMap::new();
        let mut enqueued: Vec<IndexMap<String, Value>> = Vec::new();
        if spec.method != Method::Grid {
            for (i, point) in spec.enqueue.iter().enumerate() {
                // Settings an enqueued configuration leaves out are drawn, as Optuna's enqueue_trial.
                let mut rng = space::rng(spec.search_seed, ENQUEUE_STREAM + i as u64);
                let drawn = space::sample(&spec.space, &mut rng);
                let full: IndexMap<String, Value> = spec.space.keys().map(|k| (k.clone(), point.get(k).cloned().unwrap_or_else(|| drawn[k].clone()))).collect();
                if let Some(c) = judge(&full) {
                    problems.push(Problem {
                        line: places.line(&format!("enqueue[{i}]")),
                        message: format!("enqueue item {} ({}) fails constraint `{c}`", i + 1, run_id(&full)),
                    });
                } else if !enqueued.iter().any(|e| run_id(e) == run_id(&full)) {
                    enqueued.push(full);
                }
            }
        }
        let combos: Vec<Vec<(String, Value)>> = match spec.method {
            Method::Random | Method::Tpe => {
                let taken: Vec<String> = enqueued.iter().map(run_id).collect();
                let drawn = draws(&spec.space, spec.search_seed, n_runs.saturating_sub(enqueued.len()), &mut |p| {
                    taken.contains(&run_id(p)) || judge(p).map(|c| rejected.entry(c).or_default().push(run_id(p))).is_some()
                });
                enqueued.iter().cloned().chain(drawn).map(|p| p.into_iter().collect()).collect()
            }
            Method::Grid if spec.grid.is_empty() => vec![vec![]],
            Method::Grid => spec.grid.iter().map(|(k, vs)| vs.iter().map(|v| (k.clone(), v.clone())).collect::<Vec<_>>()).multi_cartesian_product().collect(),
        };
        let n_enqueued = enqueued.len();
        let n_combos = combos.len();
        // The same problem in several runs is reported once, with the runs it hits.
        let mut invalid: IndexMap<(Option<usize>, String), Vec<String>> = IndexMap::new();
        let mut runs = Vec::new();
        for combo in combos {
            let params: IndexMap<String, Value> = combo.into_iter().collect();
            let mut config = base.clone();
            let mut ok = true;
            let section = if spec.method == Method::Grid { "grid" } else { "space" };
            for (k, v) in &params {
                if let Err(e) = config.set(k, v.clone()) {
                    ok = false;
                    invalid.entry((places.line(&format!("{section}.{k}")), format!("{section}.{e}"))).or_default();
                }
            }
            let id = run_id(&params);
            // A combination a constraint rules out is dropped before its settings are judged
            // (`embed_dim % n_heads == 0` keeps the grid from reporting those as mistakes).
            if ok {
                match constraints::first_failed(&constraints, &config, facts) {
                    Some((c, None)) => {
                        rejected.entry(c.text.clone()).or_default().push(id);
                        continue;
                    }
                    Some((c, Some(error))) => {
                        ok = false;
                        invalid.entry((c.line, error)).or_default().push(id.clone());
                    }
                    None => {}
                }
            }
            for p in config.problems() {
                ok = false;
                invalid.entry(locate(&p, spec, places, &params)).or_default().push(id.clone());
            }
            if ok {
                runs.push(PlannedRun { id, params, config });
            }
        }
        if runs.is_empty() && !rejected.is_empty() && invalid.is_empty() {
            let why: Vec<String> = rejected
                .iter()
                .map(|(c, ids)| if spec.method == Method::Grid { format!("`{c}` drops {}", ids.len()) } else { format!("`{c}` rejects {} draw(s)", ids.len()) })
                .collect();
            let what = if spec.method == Method::Grid {
                format!("every one of the {n_combos} combinations of grid:")
            } else {
                "every point drawn from space:".to_string()
            };
            problems.push(Problem {
                // At the constraint that rejected the most.
                line: rejected
                    .iter()
                    .max_by_key(|(_, ids)| ids.len())
                    .and_then(|(t, _)| constraints.iter().find(|c| &c.text == t)?.line)
                    .or(places.line("constraints")),
                message: format!(
                    "constraints: leave no run to train: they reject {what} {}; loosen them or widen the {}",
                    why.join(", "),
                    if spec.method == Method::Grid { "grid" } else { "space" }
                ),
            });
        }
        let n_runs = n_combos;
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
        if let Some(es) = &spec.early_stop {
            problems.extend(early_stop_problems(es, &runs, places));
        }
        let dropped = constraints.iter().filter_map(|c| Some((c.text.clone(), rejected.get(&c.text)?.clone()))).collect();
        let plan = Plan {
            name: spec.name.clone(),
            swept: spec.swept_keys(),
            runs,
            method: spec.method,
            space: spec.space.clone(),
            seed: spec.search_seed,
            n_runs,
            n_startup: spec.n_startup.unwrap_or(DEFAULT_N_STARTUP),
            early_stop: spec.early_stop.clone(),
            base,
            constraints,
            facts,
            dropped,
            n_enqueued,
            objectives: spec.objectives.clone(),
            stop: spec.stop.clone(),
            warm_start: spec.warm_start.clone(),
        };
        (plan, problems)
    }

    /// The run with these swept values, or None when they make an invalid config or fail
    /// a constraint.
    pub fn run_for(&self, params: IndexMap<String, Value>) -> Option<PlannedRun> {
        let mut config = self.base.clone();
        for (k, v) in &params {
            config.set(k, v.clone()).ok()?;
        }
        let admitted = config.problems().is_empty() && constraints::first_failed(&self.constraints, &config, self.facts).is_none();
        admitted.then(|| PlannedRun { id: run_id(&params), params, config })
    }

    /// Whether runs are proposed while the sweep runs (from results), not fixed in advance.
    pub fn adaptive(&self) -> bool {
        self.method == Method::Tpe && (self.n_runs > self.n_startup || !self.warm_start.is_empty())
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

/// The random stream of the settings an enqueued configuration leaves out (item i uses
/// this + i; the draws use stream 0 and TPE's proposal i stream i + 1).
const ENQUEUE_STREAM: u64 = 1 << 40;

/// `n` distinct points of `space` drawn in order from `seed` (fewer when the space has
/// fewer): a drawn point equal to an earlier one, or one `reject` refuses, is drawn again.
pub fn draws(space: &Space, seed: u64, n: usize, reject: &mut dyn FnMut(&IndexMap<String, Value>) -> bool) -> Vec<IndexMap<String, Value>> {
    let mut rng = space::rng(seed, 0);
    let want = space::size(space).map_or(n, |size| n.min(usize::try_from(size).unwrap_or(usize::MAX)));
    let mut out: Vec<IndexMap<String, Value>> = Vec::new();
    let mut ids = std::collections::HashSet::new();
    let mut tries = 0usize;
    while out.len() < want && tries < n.saturating_mul(100).saturating_add(1000) {
        tries += 1;
        let point = space::sample(space, &mut rng);
        if !ids.contains(&run_id(&point)) && !reject(&point) {
            ids.insert(run_id(&point));
            out.push(point);
        }
    }
    out
}

/// Early termination compares runs at evaluations: every decision step must be one.
fn early_stop_problems(es: &EarlyStop, runs: &[PlannedRun], places: &Places) -> Vec<Problem> {
    let line = places.line("early_stop.min_steps").or(places.line("early_stop"));
    let mut problems = Vec::new();
    if runs.is_empty() {
        return problems;
    }
    if let Some(run) = runs.iter().find(|r| r.config.train.eval_interval == 0 || !es.min_steps.is_multiple_of(r.config.train.eval_interval)) {
        problems.push(Problem {
            line,
            message: format!(
                "early_stop.min_steps {} is not a multiple of eval_interval {} (in {}): runs are compared at evaluations; make min_steps a multiple of eval_interval",
                es.min_steps, run.config.train.eval_interval, run.id
            ),
        });
    } else if runs.iter().all(|r| es.decision_steps(r.config.train.max_iters, r.config.train.eval_interval).is_empty()) {
        let max = runs.iter().map(|r| r.config.train.max_iters).max().unwrap_or_default();
        problems.push(Problem {
            line,
            message: format!("early_stop.min_steps {} is not below max_iters {max}: no run would ever be compared; lower min_steps", es.min_steps),
        });
    }
    problems
}

/// The line and message of a config problem: at the grid value this run uses, the
/// settings key, the data/sample key, or (for a default) the other setting it names.
fn locate(p: &ConfigProblem, spec: &Spec, places: &Places, params: &IndexMap<String, Value>) -> (Option<usize>, String) {
    let key = p.key;
    let written = |path: &str| places.get(path).map(|place| (place.line, place.text.clone()));
    let found = if let Some(value) = params.get(key) {
        if spec.method == Method::Grid {
            let idx = spec.grid.get(key).and_then(|vs| vs.iter().position(|v| v == value));
            idx.and_then(|i| written(&format!("grid.{key}[{i}]"))).map(|w| (w, format!("grid.{key}")))
        } else {
            places.line(&format!("space.{key}")).map(|line| ((line, crate::plan::run_id::format_value(value)), format!("space.{key} drawn")))
        }
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

    #[test]
    fn a_constrained_grid_drops_exactly_the_failing_combinations() {
        let body = "grid:\n  embed_dim: [32, 48, 64]\n  n_heads: [2, 3, 4]\n  batch_size: [8, 64]\nsettings:\n  block_size: 128\nconstraints:\n  - \"embed_dim % n_heads == 0\"\n  - \"batch_size * block_size <= 4096\"\n";
        let (p, problems) = plan(&format!("{HEAD}{body}"));
        assert_eq!(problems, Vec::<String>::new());
        // Brute force: every combination that satisfies both, in grid order.
        let mut want = Vec::new();
        for e in [32u64, 48, 64] {
            for h in [2u64, 3, 4] {
                for b in [8u64, 64] {
                    if e % h == 0 && b * 128 <= 4096 {
                        want.push((e, h, b));
                    }
                }
            }
        }
        let got: Vec<(u64, u64, u64)> =
            p.runs.iter().map(|r| (r.config.model.embed_dim as u64, r.config.model.n_heads as u64, r.config.train.batch_size as u64)).collect();
        assert_eq!(got, want);
        // Each dropped combination is counted under the first constraint it fails.
        let counts: Vec<(&str, usize)> = p.dropped.iter().map(|(c, ids)| (c.as_str(), ids.len())).collect();
        assert_eq!(counts, [("embed_dim % n_heads == 0", 4), ("batch_size * block_size <= 4096", 7)]);
    }

    #[test]
    fn an_impossible_constraint_is_a_clear_error_and_random_draws_again() {
        let (p, problems) = plan(&format!("{HEAD}grid:\n  lr: [1e-3, 2e-3]\nconstraints: [\"lr > 1\"]\n"));
        assert!(p.runs.is_empty());
        assert_eq!(
            problems,
            ["6: constraints: leave no run to train: they reject every one of the 2 combinations of grid: `lr > 1` drops 2; loosen them or widen the grid"]
        );
        let random = "method: random\nn_runs: 20\nspace:\n  lr: {log_uniform: [1e-4, 1e-2]}\nconstraints: [\"lr < 1e-3\"]\n";
        let (p, problems) = plan(&format!("{HEAD}{random}"));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!(p.runs.len(), 20, "rejected draws are drawn again");
        assert!(p.runs.iter().all(|r| r.config.train.lr < 1e-3));
        assert!(!p.dropped.is_empty());
        let (p, problems) = plan(&format!("{HEAD}{}", random.replace("lr < 1e-3", "lr > 1")));
        assert!(p.runs.is_empty());
        assert_eq!(problems.len(), 1);
        assert_eq!(
            problems,
            ["8: constraints: leave no run to train: they reject every point drawn from space: `lr > 1` rejects 3000 draw(s); loosen them or widen the space"]
        );
    }

    #[test]
    fn constraints_on_params_wait_for_the_corpus_facts() {
        let body = "grid:\n  embed_dim: [32, 256]\nsettings:\n  n_heads: 2\nconstraints: [\"params <= 2e5\"]\n";
        let parsed = Spec::parse(&format!("{HEAD}{body}"));
        let (before, _) = Plan::build(&parsed.spec, &parsed.places);
        assert_eq!(before.runs.len(), 2, "params is unknown before the corpus");
        let (after, problems) = Plan::build_with(&parsed.spec, &parsed.places, Some(Facts { vocab_size: 65, n_train: 10_000 }));
        assert_eq!(problems, []);
        assert_eq!(after.runs.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(), ["emb32"]);
        assert!(after.run_for(before.runs[1].params.clone()).is_none(), "proposals are held to the constraints too");
    }

    #[test]
    fn enqueued_configurations_come_first_and_the_rest_is_drawn() {
        let body = "method: random\nn_runs: 5\nspace:\n  lr: {log_uniform: [1e-4, 1e-2]}\n  dropout: [0.0, 0.1]\nenqueue:\n  - {lr: 0.005, dropout: 0.1}\n  - {lr: 0.002}\n";
        let (p, problems) = plan(&format!("{HEAD}{body}"));
        assert_eq!(problems, Vec::<String>::new());
        assert_eq!((p.runs.len(), p.n_enqueued), (5, 2));
        assert_eq!(p.runs[0].config.train.lr, 0.005);
        assert_eq!(p.runs[0].config.model.dropout, 0.1);
        assert_eq!(p.runs[1].config.train.lr, 0.002);
        let (_, problems) = plan(&format!("{HEAD}{body}constraints: [\"lr < 0.004\"]\n"));
        assert_eq!(problems, ["10: enqueue item 1 (lr5e-3_do0.1) fails constraint `lr < 0.004`"]);
    }
}
