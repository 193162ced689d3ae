//! Saving a trained model to safetensors and loading it back for sampling; saving and
//! restoring the full training state (weights, AdamW moments, step) for resuming.

use crate::optim::AdamW;
use crate::{Gpt, TrainError};
use std::collections::HashMap;
use std::path::Path;
use sweep_config::ModelConfig;
use tch::{Device, Kind, Tensor, nn};

/// Writes the weights (nanoGPT names, e.g. `h.0.attn.c_attn.weight`) to `path`.
pub fn save(vs: &nn::VarStore, path: &Path) -> Result<(), TrainError> {
    vs.save(path).map_err(|e| TrainError::Checkpoint { path: path.display().to_string(), message: e.to_string() })
}

/// Builds a model of the given shape on `device` and loads its weights from `path`.
pub fn load(path: &Path, cfg: &ModelConfig, vocab_size: usize, device: Device) -> Result<(nn::VarStore, Gpt), TrainError> {
    let mut vs = nn::VarStore::new(device);
    let model = Gpt::new(&vs.root(), cfg, vocab_size);
    vs.load(path)
        .map_err(|e| TrainError::Checkpoint { path: path.display().to_string(), message: format!("{e}; the file is damaged or from another model shape") })?;
    Ok((vs, model))
}

fn ckpt_err(path: &Path, message: impl std::fmt::Display) -> TrainError {
    TrainError::Checkpoint { path: path.display().to_string(), message: message.to_string() }
}

/// Writes weights, optimizer state, the next step and elapsed seconds to one safetensors
/// file (written under a temporary name, then renamed, so it is never half-written).
pub fn save_resume(path: &Path, vs: &nn::VarStore, opt: &AdamW, next_step: u64, elapsed_s: f64) -> Result<(), TrainError> {
    let mut named: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
    named.extend(opt.state());
    named.push(("meta.next_step".into(), Tensor::from(next_step as i64)));
    named.push(("meta.elapsed_s".into(), Tensor::from(elapsed_s)));
    let tmp = path.with_extension("tmp.safetensors");
    let saved = Tensor::write_safetensors(&named, &tmp)
        .map_err(|e| ckpt_err(&tmp, e))
        .and_then(|_| std::fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(|e| ckpt_err(&tmp, e)))
        .and_then(|_| std::fs::rename(&tmp, path).map_err(|e| ckpt_err(path, e)));
    // A write cut short (a full disk) must not leave a half-written file taking space.
    if saved.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    saved
}

/// Restores what `save_resume` wrote into `vs` and `opt`; returns (next step, elapsed seconds).
pub fn load_resume(path: &Path, vs: &nn::VarStore, opt: &mut AdamW) -> Result<(u64, f64), TrainError> {
    let saved: HashMap<String, Tensor> = Tensor::read_safetensors(path).map_err(|e| ckpt_err(path, format!("{e}; the file is damaged")))?.into_iter().collect();
    tch::no_grad(|| -> Result<(), TrainError> {
        for (name, mut var) in vs.variables() {
            let src = saved.get(&name).ok_or_else(|| ckpt_err(path, format!("{name} is missing")))?;
            if src.size() != var.size() {
                return Err(ckpt_err(path, format!("{name} has shape {:?}, expected {:?}", src.size(), var.size())));
            }
            var.copy_(&src.to_kind(Kind::Float));
        }
        Ok(())
    })?;
    opt.load_state(&saved).map_err(|e| ckpt_err(path, e))?;
    let next_step = saved.get("meta.next_step").and_then(|t| i64::try_from(t).ok()).ok_or_else(|| ckpt_err(path, "meta.next_step is missing"))?;
    let elapsed = saved.get("meta.elapsed_s").and_then(|t| f64::try_from(t).ok()).unwrap_or(0.0);
    Ok((next_step as u64, elapsed))
}

/// The step a saved training state resumes at; an error if the file cannot be read.
pub fn resume_step(path: &Path) -> Result<u64, TrainError> {
    let saved = Tensor::read_safetensors(path).map_err(|e| ckpt_err(path, format!("{e}; the file is damaged")))?;
    saved
        .iter()
        .find(|(name, _)| name == "meta.next_step")
        .and_then(|(_, t)| i64::try_from(t).ok())
        .map(|s| s as u64)
        .ok_or_else(|| ckpt_err(path, "meta.next_step is missing; the file is damaged"))
}
