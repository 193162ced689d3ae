//! `warm_start:`: the finished runs of earlier sweeps brought into this sweep's folder
//! before it trains, so that they are never trained again and TPE models them from its
//! first proposal. A run is brought in when its swept values lie in this sweep's grid or
//! space and its whole config equals the one this sweep would train for those values (the
//! same rule as a rerun's); it keeps this sweep's run id, a copy of its summary (marked
//! `imported_from`), config and curves, and a link to its folder. Nothing is copied twice.

use crate::exec::pending::same_results;
use crate::output::run_dir::RunDir;
use crate::output::summary::Status;
use crate::plan::Plan;
use crate::plan::spec::Method;
use std::path::Path;

/// What a warm start did: runs brought in, and why others were not, counted by reason.
#[derive(Debug, Default, PartialEq)]
pub struct Imported {
    pub brought: usize,
    /// The run ids brought in now (or, for a preview, that would be).
    pub ids: Vec<String>,
    /// Only looked: nothing was written (`--dry-run`).
    pub preview: bool,
    /// Already brought in by an earlier `sweep run`.
    pub before: usize,
    pub not: Vec<(String, usize)>,
}

impl Imported {
    /// "warm start: 6 finished run(s) imported from runs/a (2 earlier); 3 not: ...".
    pub fn line(&self, sources: &[String]) -> Option<String> {
        if sources.is_empty() {
            return None;
        }
        let not: Vec<String> = self.not.iter().map(|(why, n)| format!("{n} {why}")).collect();
        Some(format!(
            "warm start: {} finished run(s) of {} {}, {} before{}",
            self.brought,
            sources.join(", "),
            if self.preview { "to import (not trained)" } else { "imported now" },
            self.before,
            if not.is_empty() { String::new() } else { format!("; not imported: {}", not.join(", ")) }
        ))
    }
}

/// Brings the finished runs of the plan's `warm_start:` sweeps into `sweep_dir`.
pub fn import(plan: &Plan, sweep_dir: &Path) -> anyhow::Result<Imported> {
    bring(plan, sweep_dir, false)
}

/// What `import` would bring in, writing nothing.
pub fn preview(plan: &Plan, sweep_dir: &Path) -> anyhow::Result<Imported> {
    bring(plan, sweep_dir, true)
}

fn bring(plan: &Plan, sweep_dir: &Path, preview: bool) -> anyhow::Result<Imported> {
    let mut out = Imported { preview, ..Default::default() };
    let not = |out: &mut Imported, why: &str| match out.not.iter_mut().find(|(w, _)| w == why) {
        Some((_, n)) => *n += 1,
        None => out.not.push((why.to_string(), 1)),
    };
    for source in &plan.warm_start {
        let from = Path::new(source);
        anyhow::ensure!(from.is_dir(), "warm_start: {source} is not a folder; give an earlier sweep's folder, such as runs/<name>");
        for old in crate::output::run_dir::load_all(from)? {
            if old.status != Status::Done || old.imported_from.is_some() {
                continue;
            }
            let old_dir = RunDir::new(from.join(&old.run_id));
            let Ok(config) = old_dir.read_config() else {
                not(&mut out, "without a readable config.json");
                continue;
            };
            let params: indexmap::IndexMap<String, serde_json::Value> = plan.swept.iter().filter_map(|k| Some((k.clone(), config.get(k)?))).collect();
            let in_space = match plan.method {
                Method::Grid => plan.runs.iter().any(|r| r.params == params),
                Method::Random | Method::Tpe => plan.space.iter().all(|(k, d)| params.get(k).is_some_and(|v| d.contains(v))),
            };
            if !in_space {
                not(&mut out, if plan.method == Method::Grid { "outside this sweep's grid" } else { "outside this sweep's space" });
                continue;
            }
            let Some(run) = plan.run_for(params) else {
                not(&mut out, "that this sweep's constraints or checks refuse");
                continue;
            };
            if !same_results(&config, &run.config) {
                not(&mut out, "trained with other fixed settings");
                continue;
            }
            let dir = RunDir::new(sweep_dir.join(&run.id));
            if dir.summary().exists() {
                out.before += dir.read_summary().is_some_and(|s| s.imported_from.is_some()) as usize;
                continue;
            }
            out.brought += 1;
            out.ids.push(run.id.clone());
            if preview {
                continue;
            }
            std::fs::create_dir_all(&dir.path)?;
            for (src, dst) in [
                (old_dir.config(), dir.config()),
                (old_dir.loss_csv(), dir.loss_csv()),
                (old_dir.loss_png(), dir.loss_png()),
                (old_dir.samples(), dir.samples()),
            ] {
                if src.exists() {
                    std::fs::copy(&src, &dst)?;
                }
            }
            let mut summary = old.clone();
            summary.run_id = run.id.clone();
            summary.params = run.params.clone();
            summary.imported_from = Some(old_dir.path.display().to_string());
            dir.write_summary(&summary)?;
        }
    }
    Ok(out)
}
