//! AdamW with decoupled weight decay on matrices and embeddings only (nanoGPT's
//! configure_optimizers: parameters with 2+ dimensions decay, biases and LayerNorm gains
//! do not), global-norm gradient clipping, and state that can be saved and restored
//! (tch's built-in optimizer cannot save its moments, which resuming needs).

use std::collections::HashMap;
use sweep_config::TrainConfig;
use tch::{Kind, Tensor, nn};

struct Param {
    name: String,
    value: Tensor,
    m: Tensor,
    v: Tensor,
    decay: bool,
}

pub struct AdamW {
    params: Vec<Param>,
    beta1: f64,
    beta2: f64,
    eps: f64,
    weight_decay: f64,
    /// Optimizer steps taken (for bias correction).
    t: i64,
}

impl AdamW {
    pub fn new(vs: &nn::VarStore, cfg: &TrainConfig) -> Self {
        let mut vars: Vec<(String, Tensor)> = vs.variables().into_iter().collect();
        vars.sort_by(|a, b| a.0.cmp(&b.0));
        let params =
            vars.into_iter().map(|(name, value)| Param { m: value.zeros_like(), v: value.zeros_like(), decay: value.dim() >= 2, name, value }).collect();
        AdamW { params, beta1: cfg.beta1, beta2: cfg.beta2, eps: 1e-8, weight_decay: cfg.weight_decay, t: 0 }
    }

    pub fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.value.zero_grad();
        }
    }

    /// Scales gradients so their global L2 norm is at most `max`; returns the norm before.
    pub fn clip_grad_norm(&mut self, max: f64) -> f64 {
        tch::no_grad(|| {
            let norms: Vec<Tensor> = self.params.iter().map(|p| p.value.grad()).filter(|g| g.defined()).map(|g| g.norm()).collect();
            if norms.is_empty() {
                return 0.0;
            }
            let total = f64::try_from(Tensor::stack(&norms, 0).norm()).unwrap_or(f64::NAN);
            let coef = max / (total + 1e-6);
            if coef < 1.0 {
                for p in &self.params {
                    let mut g = p.value.grad();
                    if g.defined() {
                        let _ = g.g_mul_scalar_(coef);
                    }
                }
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
        tch::no_grad(|| {
            for p in &mut self.params {
                let g = p.value.grad();
                if !g.defined() {
                    continue;
                }
                if p.decay && self.weight_decay > 0.0 {
                    let _ = p.value.g_mul_scalar_(1.0 - lr * self.weight_decay);
                }
                let _ = p.m.g_mul_scalar_(b1);
                let _ = p.m.g_add_(&(&g * (1.0 - b1)));
                let _ = p.v.g_mul_scalar_(b2);
                let _ = p.v.g_add_(&(&g * &g * (1.0 - b2)));
                let denom = (&p.v / bias2).sqrt() + self.eps;
                let update = &p.m / denom * (lr / bias1);
                let _ = p.value.g_sub_(&update);
            }
        })
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
                *slot = t.to_device(device).to_kind(Kind::Float);
            }
        }
        self.t = saved.get("adam.t").and_then(|t| i64::try_from(t).ok()).ok_or("adam.t is missing")?;
        Ok(())
    }
}
