//! Which pending runs train packed into one model (`sweep trial DIR DIR …`): runs with equal
//! `sweep_config::pack_key` (same shapes and steps; they differ in lr, dropout, seed, weight
//! decay and other per-member scalars). Packs of a shape are made just big enough to keep
//! every worker busy, and never bigger than the most members packing is worth for that size
//! of model on that device (`auto_max`: on a GPU only) or than `--pack N` allows.

use crate::plan::PlannedRun;
use std::collections::HashMap;
use sweep_config::{RunConfig, n_params, pack_key};

/// Which runs a sweep packs: `--no-pack`, automatically (the default), or `--pack N`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum Packing {
    #[default]
    Off,
    /// Small models, up to `AUTO_MAX_MEMBERS` per pack.
    Auto { on_gpu: bool },
    /// Up to this many members per pack, whatever the model's size.
    Max(usize),
}

impl Packing {
    /// The most members a pack of runs like `config` may have (1: trained alone).
    pub fn max_for(self, config: &RunConfig, vocab_size: usize) -> usize {
        match self {
            Packing::Off => 1,
            Packing::Auto { on_gpu } => auto_max(config, vocab_size, on_gpu),
            Packing::Max(n) => n.max(1),
        }
    }
}

/// Runs with equal keys can share a pack.
pub fn key(config: &RunConfig) -> String {
    serde_json::to_string(&pack_key(config)).unwrap_or_default()
}

/// On a GPU a small model uses a few percent of the device: pack models up to this size.
/// On a CPU packing does not pay: a small model's step is bound by arithmetic (the LM head
/// and the softmax over the vocabulary), and the batched products of a pack were measured
/// slower than separate trials (`cargo xtask bench`: 8 tiny trials 68.6 s packed against
/// 58.4 s alone on 2 cores), so automatic packing is for GPUs; `--pack N` packs anyway.
const GPU_PACK_PARAMS: u64 = 30_000_000;
/// Most members of an automatic pack.
const AUTO_MAX_MEMBERS: usize = 8;

/// The most members an automatic pack of runs like `config` gets: 1 (no packing) on a CPU
/// and for models too large for packing to pay.
pub fn auto_max(config: &RunConfig, vocab_size: usize, on_gpu: bool) -> usize {
    let params = n_params(&config.model, vocab_size).without_position();
    if on_gpu && params <= GPU_PACK_PARAMS { AUTO_MAX_MEMBERS } else { 1 }
}

/// Members per pack for a shape with `same_shape` of the `total` pending runs: as many as
/// the shape has, at most `max`, and small enough that the sweep still makes a pack for
/// each of its `jobs` workers.
pub fn pack_size(same_shape: usize, total: usize, jobs: usize, max: usize) -> usize {
    same_shape.min(total.div_ceil(jobs.max(1))).clamp(1, max.max(1))
}

/// How many pending runs share each key.
pub fn counts<'a>(runs: impl IntoIterator<Item = &'a PlannedRun>) -> HashMap<String, usize> {
    let mut counts = HashMap::new();
    for run in runs {
        *counts.entry(key(&run.config)).or_insert(0) += 1;
    }
    counts
}

/// The packs `runs` form in training order, as the scheduler makes them: each run in turn
/// with the next runs of its shape, `max(run)` being the most members its pack may have.
pub fn packs<'a>(runs: &[&'a PlannedRun], jobs: usize, max: &dyn Fn(&PlannedRun) -> usize) -> Vec<Vec<&'a PlannedRun>> {
    let counts = counts(runs.iter().copied());
    let mut taken = vec![false; runs.len()];
    let mut out = Vec::new();
    for i in 0..runs.len() {
        if taken[i] {
            continue;
        }
        let k = key(&runs[i].config);
        let size = pack_size(counts[&k], runs.len(), jobs, max(runs[i]));
        let mut pack = Vec::new();
        for j in i..runs.len() {
            if pack.len() < size && !taken[j] && key(&runs[j].config) == k {
                taken[j] = true;
                pack.push(runs[j]);
            }
        }
        out.push(pack);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::Plan;

    fn plan(grid: &str) -> Plan {
        Plan::from_spec_text(&format!("name: s\ndata:\n  path: d.txt\nsettings:\n  max_iters: 10\ngrid:\n{grid}")).unwrap()
    }

    #[test]
    fn packs_group_one_shape_and_keep_every_worker_busy() {
        let p = plan("  embed_dim: [32, 64]\n  lr: [0.001, 0.003, 0.01]\n  dropout: [0.0, 0.1]\n");
        let runs: Vec<&PlannedRun> = p.runs.iter().collect();
        let packs = packs(&runs, 2, &|_| 8);
        // 6 runs per width, 2 workers: a pack per width, each of one width.
        assert_eq!(packs.iter().map(Vec::len).collect::<Vec<_>>(), [6, 6]);
        // 4 workers: packs small enough that each has one.
        assert_eq!(super::packs(&runs, 4, &|_| 8).iter().map(Vec::len).collect::<Vec<_>>(), [3, 3, 3, 3]);
        for pack in &packs {
            assert!(pack.iter().all(|r| r.config.model.embed_dim == pack[0].config.model.embed_dim));
        }
        // Every run is in exactly one pack.
        let mut ids: Vec<&str> = packs.iter().flatten().map(|r| r.id.as_str()).collect();
        ids.sort();
        ids.dedup();
        assert_eq!(ids.len(), 12);
        // --pack 2 caps the size; a model too large for packing gets packs of one.
        assert!(super::packs(&runs, 1, &|_| 2).iter().all(|p| p.len() == 2));
        assert!(super::packs(&runs, 1, &|_| 1).iter().all(|p| p.len() == 1));
    }

    #[test]
    fn pack_size_and_auto_max() {
        assert_eq!((pack_size(8, 8, 2, 8), pack_size(8, 8, 1, 8), pack_size(3, 3, 4, 8), pack_size(20, 20, 1, 8)), (4, 8, 1, 8));
        assert_eq!(pack_size(4, 64, 2, 8), 4, "many shapes keep the workers busy: a shape packs whole");
        let mut c = RunConfig::with_data("d.txt");
        c.model.embed_dim = 64;
        assert_eq!((auto_max(&c, 1160, true), auto_max(&c, 1160, false)), (AUTO_MAX_MEMBERS, 1));
        c.model.embed_dim = 768;
        c.model.n_layers = 12;
        assert_eq!((auto_max(&c, 1160, false), auto_max(&c, 1160, true)), (1, 1));
    }
}
