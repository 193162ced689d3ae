//! One run's own model and optimizer, built in one place for training alone, for a pack and
//! for calibration: libtorch seeded with the run's seed before the weights are drawn (so a
//! run starts from the same weights wherever it trains), bf16 matmuls on CUDA, AdamW with
//! the run's settings, and the run's saved state restored when it resumes.

use crate::checkpoint;
use crate::error::TrainError;
use crate::model::Gpt;
use crate::optim::AdamW;
use std::path::Path;
use sweep_config::RunConfig;
use tch::{Device, Kind, nn};

pub(crate) struct Member {
    pub(crate) vs: nn::VarStore,
    pub(crate) model: Gpt,
    pub(crate) opt: AdamW,
    /// The step training starts with: 0, or where the saved state resumes.
    pub(crate) first_step: u64,
    /// Seconds trained before the saved state was taken.
    pub(crate) elapsed_before: f64,
}

/// The config's problems as one error, or nothing when it can train.
pub(crate) fn check(cfg: &RunConfig) -> Result<(), TrainError> {
    let problems = cfg.problems();
    if problems.is_empty() { Ok(()) } else { Err(TrainError::Config(problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; "))) }
}

/// Builds `cfg`'s model and optimizer on `device`; from `resume_from` when given (an error
/// there means that file cannot be used).
pub(crate) fn build(cfg: &RunConfig, vocab_size: usize, device: Device, resume_from: Option<&Path>) -> Result<Member, TrainError> {
    tch::manual_seed(cfg.train.seed as i64);
    let vs = nn::VarStore::new(device);
    let mut model = Gpt::new(&vs.root(), &cfg.model, vocab_size);
    // bf16 mixed precision on CUDA (every GPU this tool targets, Ampere and later, has bf16).
    if device.is_cuda() {
        model.compute_kind = Kind::BFloat16;
    }
    let mut opt = AdamW::new(&vs, &cfg.train);
    let (first_step, elapsed_before) = match resume_from {
        Some(path) => checkpoint::load_resume(path, &vs, &mut opt)?,
        None => (0, 0.0),
    };
    Ok(Member { vs, model, opt, first_step, elapsed_before })
}
