//! Saving a trained model to safetensors and loading it back for sampling.

use crate::{Gpt, TrainError};
use std::path::Path;
use sweep_config::ModelConfig;
use tch::{nn, Device};

/// Writes the weights (nanoGPT names, e.g. `h.0.attn.c_attn.weight`) to `path`.
pub fn save(vs: &nn::VarStore, path: &Path) -> Result<(), TrainError> {
    vs.save(path).map_err(|e| TrainError::Checkpoint { path: path.display().to_string(), message: e.to_string() })
}

/// Builds a model of the given shape on `device` and loads its weights from `path`.
pub fn load(path: &Path, cfg: &ModelConfig, vocab_size: usize, device: Device) -> Result<(nn::VarStore, Gpt), TrainError> {
    let mut vs = nn::VarStore::new(device);
    let model = Gpt::new(&vs.root(), cfg, vocab_size);
    vs.load(path).map_err(|e| TrainError::Checkpoint { path: path.display().to_string(), message: format!("{e}; the file is damaged or from another model shape") })?;
    Ok((vs, model))
}
