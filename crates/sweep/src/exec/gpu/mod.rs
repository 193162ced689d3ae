//! Trials on GPUs: which GPUs there are (`inventory`), which one each trial runs on
//! (`placement`), and running a trial there: its process sees only that GPU
//! (`CUDA_VISIBLE_DEVICES`), and a trial that runs out of GPU memory beside other trials
//! goes back to wait for fewer neighbours instead of failing; only one that runs out alone
//! is a failed run, with the estimate and what CUDA said it used in its summary.

pub mod inventory;
pub mod placement;

use crate::output::run_dir::RunDir;
use crate::output::summary::{GpuUse, Status, Summary};
use crate::plan::PlannedRun;
use crate::plan::gpu_memory;
use placement::Placement;

/// The placement and the vocabulary the estimates need.
#[derive(Debug)]
pub struct Gpus {
    pub placement: Placement,
    pub vocab_size: usize,
}

/// Starts a trial process with the environment it is given; its members' summaries.
pub type Spawn<'a> = dyn Fn(&[(String, String)]) -> Vec<Summary> + 'a;

/// What a trial process is told about its GPU: `index:estimate bytes:neighbours:name`.
pub const TRIAL_ENV: &str = "SWEEP_GPU";

/// Whether a trial's error is CUDA running out of memory (libtorch's words).
pub fn is_cuda_oom(error: &str) -> bool {
    error.contains("CUDA out of memory") || error.contains("CUDA error: out of memory")
}

/// What CUDA said the process held when it ran out ("this process has 6.50 GiB memory in use").
fn peak_in(error: &str) -> Option<String> {
    let at = error.find("this process has ")? + "this process has ".len();
    let rest = &error[at..];
    Some(rest[..rest.find(" memory in use")?].to_string())
}

impl Gpus {
    /// The estimate for a trial of these runs.
    pub fn need(&self, members: &[(&PlannedRun, &RunDir)]) -> u64 {
        gpu_memory::trial_bytes(members.iter().map(|(r, _)| &r.config), self.vocab_size)
    }

    /// Runs the trial of `members` on a GPU with room (waiting for one), through `spawn`,
    /// which starts the trial process with the environment it is given.
    pub fn run(&self, members: &[(&PlannedRun, &RunDir)], spawn: &Spawn) -> Vec<Summary> {
        let need = self.need(members);
        let mut limit: Option<usize> = None;
        loop {
            let slot = self.placement.acquire(need, limit);
            let g = &slot.gpu;
            let used = GpuUse { index: g.index, name: g.name.clone(), estimate_bytes: Some(need), neighbours: slot.neighbours, ..Default::default() };
            for (_, dir) in members {
                let _ = crate::output::run_dir::write_json(&dir.gpu(), &used);
            }
            let env = vec![
                ("CUDA_VISIBLE_DEVICES".to_string(), g.index.to_string()),
                (TRIAL_ENV.to_string(), format!("{}:{need}:{}:{}", g.index, slot.neighbours, g.name)),
            ];
            let mut out = spawn(&env);
            let seen = self.placement.release(&slot);
            for (_, dir) in members {
                let _ = std::fs::remove_file(dir.gpu());
            }
            let oom = out.iter().any(|s| s.status == Status::Failed && s.error.as_deref().is_some_and(is_cuda_oom));
            if !oom {
                return out;
            }
            if seen == 0 {
                // Alone on the GPU: a failed run, with what was expected and what it took.
                for (s, (_, dir)) in out.iter_mut().zip(members) {
                    let error = s.error.clone().unwrap_or_default();
                    let gpu = s.gpu.get_or_insert_with(|| used.clone());
                    gpu.estimate_bytes = Some(need);
                    gpu.peak_at_oom = peak_in(&error);
                    s.error = Some(format!(
                        "{error}; alone on GPU {} ({}, {:.1} GB free at the start of the sweep) it ran out of memory; sweep estimated {:.1} GB for it: \
                         lower batch_size or block_size, or use grad_accum_steps",
                        g.index,
                        g.name,
                        g.free_bytes as f64 / 1e9,
                        need as f64 / 1e9
                    ));
                    let _ = dir.write_summary(s);
                }
                return out;
            }
            let next = seen - 1;
            limit = Some(limit.map_or(next, |l| l.min(next)));
            for (_, dir) in members {
                append_log(
                    dir,
                    &format!(
                        "out of GPU memory with {seen} other trial(s) on GPU {} ({}): not a failure; trying again with at most {next} beside it",
                        g.index, g.name
                    ),
                );
            }
        }
    }
}

fn append_log(dir: &RunDir, line: &str) {
    use std::io::Write;
    if let Ok(mut f) = std::fs::OpenOptions::new().create(true).append(true).open(dir.log()) {
        let _ = writeln!(f, "{line}");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn libtorchs_out_of_memory_text_is_recognised_and_its_peak_read() {
        let e = "CUDA out of memory. Tried to allocate 2.00 GiB. GPU 0 has a total capacity of 79.19 GiB of which 1.06 MiB is free. \
                 Including non-PyTorch memory, this process has 79.18 GiB memory in use.";
        assert!(is_cuda_oom(e) && is_cuda_oom("CUDA error: out of memory"));
        assert!(!is_cuda_oom("DefaultCPUAllocator: can't allocate memory"));
        assert_eq!(peak_in(e).as_deref(), Some("79.18 GiB"));
    }
}
