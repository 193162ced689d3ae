//! How a worker uses its machine: how many trials train at once (`--jobs`, else one per
//! core on a CPU and one on a GPU, never more than there are runs), libtorch threads per
//! trial (cores / trials, so parallel trials do not oversubscribe the CPU), and which runs
//! pack (`--pack N`, `--no-pack`, or automatically). A Slurm array task trains one run at
//! a time with its task's cores, unpacked.

use crate::exec::packing::Packing;

/// What `sweep run` was asked for, and what the machine has.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Asked {
    /// `--jobs`.
    pub jobs: Option<usize>,
    /// `--pack N`.
    pub pack: Option<usize>,
    /// `--no-pack`.
    pub no_pack: bool,
    /// Any run of the plan trains on a GPU.
    pub on_gpu: bool,
    /// This machine's cores.
    pub cores: usize,
    /// Runs to train.
    pub n_runs: usize,
    /// A Slurm array task, with the cores Slurm gave it when it says.
    pub array_task: Option<Option<usize>>,
}

/// What a worker runs with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Workers {
    /// Trials (runs or packs) at once.
    pub jobs: usize,
    /// libtorch threads per trial.
    pub threads_per_trial: usize,
    pub packing: Packing,
}

impl Workers {
    pub fn new(a: Asked) -> Self {
        if let Some(task_cores) = a.array_task {
            return Workers { jobs: 1, threads_per_trial: task_cores.unwrap_or(a.cores).max(1), packing: Packing::Off };
        }
        let jobs = a.jobs.unwrap_or(if a.on_gpu { 1 } else { a.cores }).clamp(1, a.n_runs.max(1));
        let packing = match (a.no_pack, a.pack) {
            (true, _) => Packing::Off,
            (false, Some(n)) => Packing::Max(n),
            (false, None) => Packing::Auto { on_gpu: a.on_gpu },
        };
        Workers { jobs, threads_per_trial: (a.cores / jobs).max(1), packing }
    }

    /// Whether any run may train in a pack ("trial(s) or packs of runs").
    pub fn may_pack(&self) -> bool {
        !matches!(self.packing, Packing::Off | Packing::Max(1) | Packing::Auto { on_gpu: false })
    }
}

/// The cores Slurm gave this task (`--cpus-per-task`, else the job's CPUs on its node),
/// for the trial's threads: a node's other cores belong to other jobs.
pub fn slurm_task_cores() -> Option<usize> {
    let var = |k: &str| std::env::var(k).ok()?.parse::<usize>().ok().filter(|&n| n > 0);
    var("SLURM_CPUS_PER_TASK").or_else(|| var("SLURM_CPUS_ON_NODE"))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn asked() -> Asked {
        Asked { jobs: None, pack: None, no_pack: false, on_gpu: false, cores: 8, n_runs: 64, array_task: None }
    }

    #[test]
    fn a_cpu_runs_a_trial_per_core_with_one_thread_each_and_packs_nothing_by_default() {
        let w = Workers::new(asked());
        assert_eq!((w.jobs, w.threads_per_trial, w.packing), (8, 1, Packing::Auto { on_gpu: false }));
        assert!(!w.may_pack());
        let w = Workers::new(Asked { jobs: Some(2), ..asked() });
        assert_eq!((w.jobs, w.threads_per_trial), (2, 4));
        // Never more trials than runs; their threads share the cores.
        let w = Workers::new(Asked { n_runs: 3, ..asked() });
        assert_eq!((w.jobs, w.threads_per_trial), (3, 2));
    }

    #[test]
    fn a_gpu_runs_one_trial_and_packs_small_models() {
        let w = Workers::new(Asked { on_gpu: true, ..asked() });
        assert_eq!((w.jobs, w.threads_per_trial, w.packing), (1, 8, Packing::Auto { on_gpu: true }));
        assert!(w.may_pack());
    }

    #[test]
    fn pack_flags_and_array_tasks() {
        assert_eq!(Workers::new(Asked { no_pack: true, pack: Some(4), ..asked() }).packing, Packing::Off);
        assert_eq!(Workers::new(Asked { pack: Some(4), ..asked() }).packing, Packing::Max(4));
        assert!(!Workers::new(Asked { pack: Some(1), ..asked() }).may_pack());
        let task = Workers::new(Asked { jobs: Some(4), pack: Some(4), array_task: Some(Some(3)), ..asked() });
        assert_eq!((task.jobs, task.threads_per_trial, task.packing), (1, 3, Packing::Off));
        assert_eq!(Workers::new(Asked { array_task: Some(None), ..asked() }).threads_per_trial, 8);
    }
}
