//! AdamW with decoupled weight decay on matrices and embeddings only (nanoGPT's
//! configure_optimizers: parameters with 2+ dimensions decay, biases and LayerNorm gains
//! do not), global-norm gradient clipping, and state that can be saved and restored
//! (tch's built-in optimizer cannot save its moments, which resuming needs). Parameters,
//! gradients and moments are flat buffers, so a step is a handful of operations.

use std::collections::HashMap;
use sweep_config::TrainConfig;
use tch::{Kind, Tensor, nn};

struct Param {
    name: String,
    value: Tensor,
    /// Views of this parameter's slice of the flat moments.
    m: Tensor,
    v: Tensor,
    numel: i64,
}

/// All parameters live in one flat buffer (each model variable is a view of its slice), and
/// so do the moments: an update, clipping and weight decay are a handful of operations on
/// three flat tensors instead of a dozen per parameter tensor.
pub struct AdamW {
    params: Vec<Param>,
    flat: Tensor,
    m: Tensor,
    v: Tensor,
    /// The parameters that decay come first in `flat`: this many elements.
    n_decay: i64,
    weight_decay: f64,
    /// This step's gradients gathered into one flat tensor (made by clipping or the step).
    grad: Option<Tensor>,
    beta1: f64,
    beta2: f64,
    eps: f64,
    /// Optimizer steps taken (for bias correction).
    t: i64,
}

impl AdamW {
    pub fn new(vs: &nn::VarStore, cfg: &TrainConfig) -> Self {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        // nanoGPT: matrices and embeddings decay, biases and LayerNorm gains do not. Those
        // that decay come first, so decay is one operation on the front of the buffer.
        vars.sort_by(|a, b| (a.1.dim() < 2, &a.0).cmp(&(b.1.dim() < 2, &b.0)));
        let device = vars.first().map_or(tch::Device::Cpu, |v| v.1.device());
        let flat = if vars.is_empty() {
            Tensor::zeros([0], (Kind::Float, device))
        } else {
            Tensor::cat(&vars.iter().map(|(_, v)| v.detach().reshape([-1])).collect::<Vec<_>>(), 0)
        };
        let (m, v) = (flat.zeros_like(), flat.zeros_like());
        let mut n_decay = 0;
        let mut params = Vec::new();
        let mut offset = 0;
        for (name, mut value) in vars {
            let numel = value.numel() as i64;
            let shape = value.size();
            if value.dim() >= 2 {
                n_decay += numel;
            }
            tch::no_grad(|| value.set_data(&flat.narrow(0, offset, numel).view(shape.as_slice())));
            let (pm, pv) = (m.narrow(0, offset, numel).view(shape.as_slice()), v.narrow(0, offset, numel).view(shape.as_slice()));
            params.push(Param { name, value, m: pm, v: pv, numel });
            offset += numel;
        }
        AdamW { params, flat, m, v, n_decay, weight_decay: cfg.weight_decay, grad: None, beta1: cfg.beta1, beta2: cfg.beta2, eps: 1e-8, t: 0 }
    }

    pub fn zero_grad(&mut self) {
        self.grad = None;
        for p in &mut self.params {
            p.value.zero_grad();
        }
    }

    /// The gradients of this step as one flat tensor (zeros where a parameter has none).
    fn flat_grad(&mut self) -> Tensor {
        if let Some(g) = &self.grad {
            return g.shallow_clone();
        }
        let parts: Vec<Tensor> = self
            .params
            .iter()
            .map(|p| {
                let g = p.value.grad();
                if g.defined() { g.reshape([-1]) } else { Tensor::zeros([p.numel], (Kind::Float, self.flat.device())) }
            })
            .collect();
        let g = if parts.is_empty() { self.flat.zeros_like() } else { Tensor::cat(&parts, 0) };
        self.grad = Some(g.shallow_clone());
        g
    }

    /// Scales gradients so their global L2 norm is at most `max`; returns the norm before.
    pub fn clip_grad_norm(&mut self, max: f64) -> f64 {
        tch::no_grad(|| {
            let mut g = self.flat_grad();
            let total = f64::try_from(g.norm()).unwrap_or(f64::NAN);
            let coef = max / (total + 1e-6);
            if coef < 1.0 {
                let _ = g.g_mul_scalar_(coef);
            }
            total
        })
    }

    /// One AdamW update at learning rate `lr`.
    pub fn step(&mut self, lr: f64) {
        self.t += 1;
        let (b1, b2) = (self.beta1, self.beta2);
        let bias1 = 1.0 - b1.powi(self.t as i32);
        let bias2 = 1.0 - b2.powi(self.t as i32);
        let g = self.flat_grad();
        // In place where libtorch allows, so a step makes two temporaries of the buffer's size.
        tch::no_grad(|| {
            if self.n_decay > 0 && self.weight_decay > 0.0 {
                let _ = self.flat.narrow(0, 0, self.n_decay).g_mul_scalar_(1.0 - lr * self.weight_decay);
            }
            let _ = self.m.lerp_(&g, 1.0 - b1);
            let _ = self.v.lerp_(&g.square(), 1.0 - b2);
            if lr > 0.0 {
                // flat −= lr/bias1 · m / (sqrt(v/bias2) + eps), as one addcdiv.
                let mut denom = self.v.sqrt();
                let _ = denom.g_div_scalar_(bias2.sqrt());
                let _ = denom.g_add_scalar_(self.eps);
                let _ = denom.g_mul_scalar_(-bias1 / lr);
                let _ = self.flat.addcdiv_(&self.m, &denom);
            }
        });
        self.grad = None;
    }

    /// Each parameter's name and moments (m, v), sharing storage with the optimizer's own:
    /// the packed trainer stacks them and copies a member's slice back.
    pub(crate) fn moments(&self) -> Vec<(String, Tensor, Tensor)> {
        self.params.iter().map(|p| (p.name.clone(), p.m.shallow_clone(), p.v.shallow_clone())).collect()
    }

    /// Optimizer steps taken (AdamW's bias correction depends on it).
    pub(crate) fn steps_taken(&self) -> i64 {
        self.t
    }

    pub(crate) fn set_steps_taken(&mut self, t: i64) {
        self.t = t;
    }

    /// The moments and step count, named for a safetensors file.
    pub fn state(&self) -> Vec<(String, Tensor)> {
        let mut out: Vec<(String, Tensor)> = Vec::new();
        for p in &self.params {
            out.push((format!("adam.m.{}", p.name), p.m.shallow_clone()));
            out.push((format!("adam.v.{}", p.name), p.v.shallow_clone()));
        }
        out.push(("adam.t".into(), Tensor::from(self.t)));
        out
    }

    /// Restores what `state` saved; fails naming the first missing or mis-shaped tensor.
    pub fn load_state(&mut self, saved: &HashMap<String, Tensor>) -> Result<(), String> {
        let device = self.params.first().map(|p| p.value.device()).unwrap_or(tch::Device::Cpu);
        for p in &mut self.params {
            for (kind, slot) in [("m", &mut p.m), ("v", &mut p.v)] {
                let key = format!("adam.{kind}.{}", p.name);
                let t = saved.get(&key).ok_or_else(|| format!("{key} is missing"))?;
                if t.size() != slot.size() {
                    return Err(format!("{key} has shape {:?}, expected {:?}", t.size(), slot.size()));
                }
                tch::no_grad(|| slot.copy_(&t.to_device(device).to_kind(Kind::Float)));
            }
        }
        self.t = saved.get("adam.t").and_then(|t| i64::try_from(t).ok()).ok_or("adam.t is missing")?;
        Ok(())
    }
}
