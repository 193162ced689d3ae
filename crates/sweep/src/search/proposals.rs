//! `method: tpe` while the sweep runs: proposals are made one at a time from the runs
//! finished so far and appended to `proposals.jsonl` in the sweep folder under an
//! exclusive lock (`proposals.lock`, released by the kernel if the worker dies), so that:
//! a resumed sweep first trains what was proposed and not finished, then continues at the
//! next index; two workers never make the same proposal twice; and a proposal is never
//! one made before. Proposal i draws with the stream i + 1 of the search seed (stream 0 is
//! the random draws), so one worker with `--jobs 1` makes the same sequence every time.
//! The lock is an flock: shared by workers on one machine, and across machines only on
//! filesystems whose flock is (NFS v4, Lustre, GPFS; not every NFS v3 setup).

use crate::output::run_dir::RunDir;
use crate::output::summary::{Status, Summary};
use crate::plan::objectives;
use crate::plan::space;
use crate::plan::{Plan, PlannedRun};
use crate::search::{Proposer, Rerun, tpe};
use anyhow::Context;
use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;
use std::collections::HashSet;
use std::path::{Path, PathBuf};

/// One line of proposals.jsonl.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Proposal {
    pub index: usize,
    pub id: String,
    pub params: IndexMap<String, Value>,
    /// "enqueued" for `enqueue:`'s, "random" for the rest of the first n_startup, "tpe" after.
    pub by: String,
}

pub fn path(sweep_dir: &Path) -> PathBuf {
    sweep_dir.join("proposals.jsonl")
}

/// Every complete proposal recorded in the sweep folder, in index order.
pub fn read(sweep_dir: &Path) -> Vec<Proposal> {
    std::fs::read_to_string(path(sweep_dir)).unwrap_or_default().lines().filter_map(|l| serde_json::from_str(l).ok()).collect()
}

/// The runs already proposed, rebuilt with the plan's current settings (for the checks
/// against run folders); proposals that no longer make a valid config are left out
/// (`misfits` names them).
pub fn proposed_runs(plan: &Plan, sweep_dir: &Path) -> Vec<PlannedRun> {
    read(sweep_dir).into_iter().filter_map(|p| plan.run_for(p.params)).collect()
}

/// Proposals recorded in the sweep folder that the spec's space no longer allows (other
/// settings swept, a value out of its range, an invalid config): "proposal 5 (lr1e-3): …".
pub fn misfits(plan: &Plan, sweep_dir: &Path) -> Vec<String> {
    let mut out = Vec::new();
    for p in read(sweep_dir) {
        let why = if !p.params.keys().eq(plan.space.keys()) {
            Some(format!("it sets {}, the space now sweeps {}", keys(p.params.keys()), keys(plan.space.keys())))
        } else if let Some((key, dist)) = plan.space.iter().find(|(k, d)| !d.contains(&p.params[*k])) {
            Some(format!("{key} {} is outside {key}: {}", p.params[key], serde_json::to_string(dist).unwrap_or_default()))
        } else if plan.run_for(p.params.clone()).is_none() {
            Some("its settings no longer make a valid run".to_string())
        } else {
            None
        };
        if let Some(why) = why {
            out.push(format!("proposal {} ({}): {why}", p.index, p.id));
        }
    }
    out
}

/// The finished runs of `warm_start:` sweeps brought into this sweep's folder.
pub fn imported(sweep_dir: &Path) -> Vec<Summary> {
    crate::output::run_dir::load_all(sweep_dir).unwrap_or_default().into_iter().filter(|s| s.imported_from.is_some()).collect()
}

fn keys<'k>(keys: impl Iterator<Item = &'k String>) -> String {
    keys.map(String::as_str).collect::<Vec<_>>().join(", ")
}

/// TPE's proposer: see the module comment.
pub struct Adaptive<'a> {
    plan: &'a Plan,
    sweep_dir: PathBuf,
    rerun: Rerun,
    /// Ids this worker handed out already.
    handed: HashSet<String>,
}

impl<'a> Adaptive<'a> {
    pub fn new(plan: &'a Plan, sweep_dir: &Path, rerun: Rerun) -> Self {
        Adaptive { plan, sweep_dir: sweep_dir.to_path_buf(), rerun, handed: HashSet::new() }
    }

    /// Runs to propose in all: n_runs, or fewer when the space has fewer points.
    fn budget(&self) -> usize {
        space::size(&self.plan.space).map_or(self.plan.n_runs, |size| self.plan.n_runs.min(usize::try_from(size).unwrap_or(usize::MAX)))
    }

    fn wants(&self, id: &str) -> bool {
        let dir = RunDir::new(self.sweep_dir.join(id));
        self.rerun.wants(dir.read_summary().map(|s| s.status))
    }

    /// The runs finished so far, best first: done by the objective (with several, by
    /// non-domination rank as Optuna's multi-objective TPE, then by the first objective where
    /// Optuna uses each run's hypervolume contribution), then pruned (further first, then by
    /// val loss), then diverged. Failed and unfinished runs teach nothing. Runs imported from
    /// `warm_start:` sweeps count as finished runs.
    fn history(&self, proposals: &[Proposal]) -> Vec<IndexMap<String, Value>> {
        let mut summaries: Vec<Summary> = proposals.iter().filter_map(|p| RunDir::new(self.sweep_dir.join(&p.id)).read_summary()).collect();
        summaries.extend(imported(&self.sweep_dir).into_iter().filter(|s| !proposals.iter().any(|p| p.id == s.run_id)));
        let objectives = objectives::or_default(&self.plan.objectives);
        let done: Vec<&Summary> = summaries.iter().filter(|s| s.status == Status::Done).collect();
        let costs: Vec<Vec<f64>> = done.iter().map(|s| objectives.iter().map(|o| o.cost(s).unwrap_or(f64::INFINITY)).collect()).collect();
        let ranks = objectives::pareto_ranks(&costs);
        // (tier, rank or minus steps trained, first objective or val loss): lower is better.
        type Rank = (u8, i64, f64);
        let mut scored: Vec<(Rank, IndexMap<String, Value>)> =
            done.iter().zip(&ranks).zip(&costs).map(|((s, r), c)| ((0, *r as i64, c[0]), s.params.clone())).collect();
        scored.extend(summaries.iter().filter_map(|s| {
            let loss = s.best_val_loss.filter(|x| x.is_finite()).unwrap_or(f64::INFINITY);
            let key = match s.status {
                Status::Pruned => (1, -(s.steps.unwrap_or(0) as i64), loss),
                Status::Diverged => (2, 0, f64::INFINITY),
                Status::Done | Status::Failed | Status::Interrupted => return None,
            };
            Some((key, s.params.clone()))
        }));
        scored.sort_by(|a, b| a.0.0.cmp(&b.0.0).then(a.0.1.cmp(&b.0.1)).then(a.0.2.total_cmp(&b.0.2)));
        scored.into_iter().map(|(_, p)| p).collect()
    }

    /// A new proposal at `index`, different from every one before; None when the space has
    /// no point left that was not proposed.
    fn propose(&self, index: usize, before: &[Proposal]) -> Option<(PlannedRun, &'static str)> {
        let imported = imported(&self.sweep_dir);
        let mut taken: HashSet<&str> = before.iter().map(|p| p.id.as_str()).collect();
        taken.extend(imported.iter().map(|s| s.run_id.as_str()));
        if let Some(run) = self.plan.runs[..self.plan.n_enqueued].iter().find(|r| !taken.contains(r.id.as_str())) {
            return Some((run.clone(), "enqueued"));
        }
        // Imported runs count towards the random start, as Optuna counts added trials.
        if index + imported.len() < self.plan.n_startup
            && let Some(run) = self.plan.runs.iter().find(|r| !taken.contains(r.id.as_str()))
        {
            return Some((run.clone(), "random"));
        }
        let mut history = self.history(before);
        let modelled = !history.is_empty();
        let mut rng = space::rng(self.plan.seed, index as u64 + 1);
        for attempt in 0..200 {
            // Modelled while it gives new points; random draws after that.
            let by = if modelled && attempt < 50 { "tpe" } else { "random" };
            let params = if by == "tpe" { tpe::propose(&self.plan.space, &history, &mut rng) } else { space::sample(&self.plan.space, &mut rng) };
            match self.plan.run_for(params.clone()) {
                Some(run) if !taken.contains(run.id.as_str()) => return Some((run, by)),
                Some(_) => {}
                // A point the constraints (or checks) reject counts as worse than every run,
                // as Optuna's constrained TPE counts infeasible trials: the model moves off it.
                None => history.push(params),
            }
        }
        // A small finite space nearly used up: the points left, in a seeded order.
        let mut left: Vec<PlannedRun> =
            space::points(&self.plan.space, 100_000)?.into_iter().filter_map(|p| self.plan.run_for(p)).filter(|r| !taken.contains(r.id.as_str())).collect();
        if left.is_empty() {
            return None;
        }
        let i = rand::Rng::random_range(&mut rng, 0..left.len());
        Some((left.swap_remove(i), "random"))
    }
}

impl Proposer for Adaptive<'_> {
    fn next(&mut self) -> anyhow::Result<Option<PlannedRun>> {
        std::fs::create_dir_all(&self.sweep_dir).with_context(|| format!("creating {}", self.sweep_dir.display()))?;
        let lock_path = self.sweep_dir.join("proposals.lock");
        let file = std::fs::OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .with_context(|| format!("opening {}", lock_path.display()))?;
        let _lock =
            nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive).map_err(|(_, e)| anyhow::anyhow!("locking {}: {e}", lock_path.display()))?;
        let proposals = read(&self.sweep_dir);
        // What was proposed before and still needs training comes first.
        for p in &proposals {
            if !self.handed.contains(&p.id) && self.wants(&p.id) {
                self.handed.insert(p.id.clone());
                if let Some(run) = self.plan.run_for(p.params.clone()) {
                    return Ok(Some(run));
                }
            }
        }
        if proposals.len() >= self.budget() {
            return Ok(None);
        }
        let index = proposals.len();
        let Some((run, by)) = self.propose(index, &proposals) else {
            anyhow::bail!("the space has no point left that was not proposed before ({index} proposed, n_runs {})", self.plan.n_runs)
        };
        let line = serde_json::to_string(&Proposal { index, id: run.id.clone(), params: run.params.clone(), by: by.into() })?;
        crate::output::run_dir::append_line(&path(&self.sweep_dir), &line)?;
        self.handed.insert(run.id.clone());
        Ok(Some(run))
    }

    fn remaining(&self) -> usize {
        let proposals = read(&self.sweep_dir);
        let unfinished = proposals.iter().filter(|p| !self.handed.contains(&p.id) && self.wants(&p.id)).count();
        unfinished + self.budget().saturating_sub(proposals.len())
    }
}
