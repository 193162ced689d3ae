//! Packed training: several runs of one shape (equal `sweep_config::pack_key`) trained as
//! one model whose every weight has a leading member dimension, so each matrix product is
//! one batched product over the members. Each member keeps its own initial weights (its
//! seed), batches, learning-rate schedule, weight decay, clipping, dropout rate, AdamW
//! moments, observer and checkpoints; a member that diverges, is asked to stop or fails to
//! checkpoint leaves the pack and the others go on. A member's result is an ordinary
//! `Outcome` with its own `VarStore`, as if it had trained alone.
//!
//! With dropout 0 a member's losses equal the run trained alone up to float rounding
//! (batched against single matrix products); with dropout its masks come from the pack's
//! random stream, so they agree in distribution, not draw for draw. Members are built as
//! lone runs are (`member`), and the steps go through the one loop (`run_loop`); this file
//! is the pack's `Engine`: the stacked forward, clipping and AdamW (their agreement with the
//! lone arithmetic is tested below).

use crate::error::TrainError;
use crate::member;
use crate::run_loop::{self, Engine, Live};
use crate::trainer::{EVAL_STREAM, Observer, Outcome, Tokens, batch};
use corpus::TokenData;
use rand::{SeedableRng, rngs::StdRng};
use std::collections::HashMap;
use std::path::Path;
use sweep_config::{RunConfig, pack_key};
use tch::{Device, Kind, Reduction, Tensor};

pub use crate::run_loop::PACK_FAILED;

/// One run of a pack: its settings, where its progress goes, and its saved state if any.
pub struct PackMember<'a> {
    pub config: &'a RunConfig,
    pub observer: &'a mut dyn Observer,
    pub resume_from: Option<&'a Path>,
}

/// One weight of the pack, stacked over the members, with its AdamW moments.
struct Stacked {
    name: String,
    value: Tensor,
    m: Tensor,
    v: Tensor,
    /// Matrices and embeddings decay; biases and LayerNorm gains do not.
    decay: bool,
}

/// Trains `members` together on `data`; one result per member, in order. Members must
/// share a pack key and, when resuming, the step they resume at; a member that cannot
/// join (bad config, unreadable saved state) gets its error and the others train.
pub fn train_packed(members: Vec<PackMember<'_>>, data: &TokenData, device: Device) -> Vec<Result<Outcome, TrainError>> {
    let mut results: Vec<Option<Result<Outcome, TrainError>>> = (0..members.len()).map(|_| None).collect();
    let mut live: Vec<Live> = Vec::new();
    let mut first_step = None;
    let key = members.first().map(|m| pack_key(m.config));
    for (index, m) in members.into_iter().enumerate() {
        let joined = join(m, index, data, device, key.as_ref(), &mut first_step);
        match joined {
            Ok(l) => live.push(l),
            Err(e) => results[index] = Some(Err(e)),
        }
    }
    if let Some(first) = live.first() {
        let cfg = first.cfg;
        let first_step = first_step.unwrap_or(0);
        let mut pack = Pack::new(&live, cfg, data.vocab_size, device);
        for (index, r) in run_loop::run(&mut pack, live, data, device, first_step) {
            results[index] = Some(r);
        }
    }
    results.into_iter().map(|r| r.unwrap_or_else(|| Err(TrainError::Config("not trained".into())))).collect()
}

/// Builds a member's own model (its seed's initial weights) and optimizer, restoring its
/// saved state when it has one.
fn join<'a>(
    m: PackMember<'a>,
    index: usize,
    data: &TokenData,
    device: Device,
    key: Option<&RunConfig>,
    first_step: &mut Option<u64>,
) -> Result<Live<'a>, TrainError> {
    let cfg = m.config;
    member::check(cfg)?;
    if key.is_some_and(|k| *k != pack_key(cfg)) {
        return Err(TrainError::Config("this run differs from the first of its pack in more than per-member settings".into()));
    }
    // As alone: its own seed's weights; its samples are generated with bf16 matmuls on CUDA.
    let built = member::build(cfg, data.vocab_size, device, m.resume_from)?;
    let step = built.first_step;
    match *first_step {
        Some(first) if first != step => {
            return Err(TrainError::Config(format!("resumes at step {step}, the rest of its pack at step {first}")));
        }
        _ => *first_step = Some(step),
    }
    Ok(Live::new(index, cfg, m.observer, built))
}

/// The stacked weights, moments and per-member scalars of the members still training.
struct Pack {
    params: Vec<Stacked>,
    by_name: HashMap<String, usize>,
    /// Members in the pack (the leading dimension of every weight).
    n: i64,
    embed: i64,
    n_heads: i64,
    n_layers: usize,
    vocab: i64,
    compute: Kind,
    /// Dropout rate of each member.
    dropout: Vec<f64>,
    /// 1 − dropout per member, shaped (n, 1), when the rates differ.
    keep: Option<Tensor>,
    /// Each member's grad_clip and weight_decay, (n,).
    grad_clip: Tensor,
    weight_decay: Tensor,
    beta1: f64,
    beta2: f64,
    /// AdamW steps taken (equal for every member: they step together).
    t: i64,
}

const EPS: f64 = 1e-8;

impl Pack {
    fn new(live: &[Live], cfg: &RunConfig, vocab: usize, device: Device) -> Self {
        let vars: Vec<HashMap<String, Tensor>> = live.iter().map(|l| l.member.vs.variables()).collect();
        let moments: Vec<HashMap<String, (Tensor, Tensor)>> =
            live.iter().map(|l| l.member.opt.moments().into_iter().map(|(n, m, v)| (n, (m, v))).collect()).collect();
        let mut names: Vec<String> = vars[0].keys().cloned().collect();
        names.sort();
        let params: Vec<Stacked> = names
            .iter()
            .map(|name| {
                let stack = |f: &dyn Fn(usize) -> Tensor| Tensor::stack(&(0..live.len()).map(f).collect::<Vec<_>>(), 0).detach();
                let value = stack(&|i| vars[i][name].detach()).set_requires_grad(true);
                let m = stack(&|i| moments[i][name].0.shallow_clone());
                let v = stack(&|i| moments[i][name].1.shallow_clone());
                Stacked { decay: value.dim() >= 3, name: name.clone(), value, m, v }
            })
            .collect();
        let by_name = names.iter().enumerate().map(|(i, n)| (n.clone(), i)).collect();
        let dropout: Vec<f64> = live.iter().map(|l| l.cfg.model.dropout).collect();
        let mut pack = Pack {
            params,
            by_name,
            n: live.len() as i64,
            embed: cfg.model.embed_dim as i64,
            n_heads: cfg.model.n_heads as i64,
            n_layers: cfg.model.n_layers,
            vocab: vocab as i64,
            compute: if device.is_cuda() { Kind::BFloat16 } else { Kind::Float },
            dropout,
            keep: None,
            grad_clip: vector(live.iter().map(|l| l.cfg.train.grad_clip), device),
            weight_decay: vector(live.iter().map(|l| l.cfg.train.weight_decay), device),
            beta1: cfg.train.beta1,
            beta2: cfg.train.beta2,
            t: live[0].member.opt.steps_taken(),
        };
        pack.keep = pack.keep_tensor(device);
        pack
    }

    fn keep_tensor(&self, device: Device) -> Option<Tensor> {
        let uniform = self.dropout.iter().all(|&d| d == self.dropout[0]);
        (!uniform).then(|| Tensor::from_slice(&self.dropout.iter().map(|d| (1.0 - d) as f32).collect::<Vec<_>>()).to(device).view([self.n, 1]))
    }

    /// Keeps only the members at `keep` (positions in the pack), in that order.
    fn keep_members(&mut self, keep: &[usize]) {
        let device = self.grad_clip.device();
        let idx = Tensor::from_slice(&keep.iter().map(|&i| i as i64).collect::<Vec<_>>()).to(device);
        tch::no_grad(|| {
            for p in &mut self.params {
                p.value = p.value.index_select(0, &idx).detach().set_requires_grad(true);
                p.m = p.m.index_select(0, &idx);
                p.v = p.v.index_select(0, &idx);
            }
        });
        self.dropout = keep.iter().map(|&i| self.dropout[i]).collect();
        self.grad_clip = self.grad_clip.index_select(0, &idx);
        self.weight_decay = self.weight_decay.index_select(0, &idx);
        self.n = keep.len() as i64;
        self.keep = self.keep_tensor(device);
    }

    /// Copies member `k`'s slice of the weights and moments into its own model and optimizer.
    fn copy_back(&self, k: usize, live: &mut Live) {
        let vars = live.member.vs.variables();
        let moments: HashMap<String, (Tensor, Tensor)> = live.member.opt.moments().into_iter().map(|(n, m, v)| (n, (m, v))).collect();
        tch::no_grad(|| {
            for p in &self.params {
                let k = k as i64;
                vars[&p.name].shallow_clone().copy_(&p.value.get(k));
                let (m, v) = &moments[&p.name];
                m.shallow_clone().copy_(&p.m.get(k));
                v.shallow_clone().copy_(&p.v.get(k));
            }
        });
        live.member.opt.set_steps_taken(self.t);
    }

    fn w(&self, name: &str) -> &Tensor {
        &self.params[self.by_name[name]].value
    }

    fn bias(&self, prefix: &str) -> Option<&Tensor> {
        self.by_name.get(&format!("{prefix}.bias")).map(|&i| &self.params[i].value)
    }

    fn as_kind(t: &Tensor, k: Kind) -> Tensor {
        if t.kind() == k { t.shallow_clone() } else { t.to_kind(k) }
    }

    /// (n, N, in) → (n, N, out): one batched product for all members.
    fn linear(&self, xs: &Tensor, prefix: &str) -> Tensor {
        let k = xs.kind();
        let w = Self::as_kind(self.w(&format!("{prefix}.weight")), k).transpose(1, 2);
        match self.bias(prefix) {
            Some(b) => Self::as_kind(b, k).unsqueeze(1).baddbmm(xs, &w, 1.0, 1.0),
            None => xs.bmm(&w),
        }
    }

    /// LayerNorm in float32 with each member's gain and bias; the result in `out`.
    fn layer_norm(&self, xs: &Tensor, prefix: &str, out: Kind) -> Tensor {
        let ys = xs.to_kind(Kind::Float).layer_norm([self.embed], None::<Tensor>, None::<Tensor>, 1e-5, true);
        let g = self.w(&format!("{prefix}.weight")).unsqueeze(1);
        let ys = match self.bias(prefix) {
            Some(b) => b.unsqueeze(1).addcmul(&ys, &g),
            None => ys * g,
        };
        Self::as_kind(&ys, out)
    }

    /// Dropout at each member's rate (the leading dimension of `xs` is the member).
    fn dropout(&self, xs: &Tensor, train: bool) -> Tensor {
        if !train {
            return xs.shallow_clone();
        }
        match &self.keep {
            None => xs.dropout(self.dropout[0], true),
            Some(keep) => {
                let shape = xs.size();
                let flat = xs.reshape([self.n, -1]);
                // Drawn in float32: bf16 uniforms are too coarse for a keep rate (and can be 1.0).
                let draws = Tensor::rand(flat.size().as_slice(), (Kind::Float, xs.device()));
                let scale = (draws.lt_tensor(keep).to_kind(Kind::Float) / keep).to_kind(xs.kind());
                (flat * scale).reshape(shape)
            }
        }
    }

    fn attention(&self, xs: &Tensor, layer: usize, b: i64, t: i64, train: bool) -> Tensor {
        let (n, c, h) = (self.n, self.embed, self.n_heads);
        let qkv = self.linear(xs, &format!("h.{layer}.attn.c_attn")).view([n * b, t, 3 * c]).split(c, 2);
        let head = |x: &Tensor| x.view([n * b, t, h, c / h]).transpose(1, 2);
        let (q, k, v) = (head(&qkv[0]), head(&qkv[1]), head(&qkv[2]));
        let ys = match (&self.keep, train) {
            // One rate for all (or no training): libtorch's fused attention.
            (None, _) | (_, false) => {
                let p = if train { self.dropout[0] } else { 0.0 };
                Tensor::scaled_dot_product_attention(&q, &k, &v, None::<Tensor>, p, true, None, false)
            }
            // Rates differ: attention written out, so each member drops at its own rate.
            (Some(_), true) => {
                let scale = 1.0 / ((c / h) as f64).sqrt();
                let causal = Tensor::ones([t, t], (Kind::Bool, xs.device())).triu(1);
                let att = (q.matmul(&k.transpose(-2, -1)) * scale).masked_fill(&causal, f64::NEG_INFINITY).softmax(-1, Kind::Float).to_kind(q.kind());
                self.dropout(&att, true).matmul(&v)
            }
        };
        let ys = ys.transpose(1, 2).contiguous().view([n, b * t, c]);
        self.dropout(&self.linear(&ys, &format!("h.{layer}.attn.c_proj")), train)
    }

    fn mlp(&self, xs: &Tensor, layer: usize, train: bool) -> Tensor {
        let hidden = self.linear(xs, &format!("h.{layer}.mlp.c_fc")).gelu("none");
        self.dropout(&self.linear(&hidden, &format!("h.{layer}.mlp.c_proj")), train)
    }

    /// Each member's mean cross-entropy (n,) for inputs and targets (n, B, T).
    fn losses(&self, idx: &Tensor, targets: &Tensor, train: bool) -> Tensor {
        let (n, b, t) = idx.size3().expect("packed token ids are (members, B, T)");
        let (c, v, k) = (self.embed, self.vocab, self.compute);
        // Member i's ids index rows i·vocab.. of the stacked token embedding.
        let offsets = (Tensor::arange(n, (Kind::Int64, idx.device())) * v).view([n, 1, 1]);
        let wte = self.w("wte.weight");
        let tok = Tensor::embedding(&wte.view([n * v, c]), &(idx + offsets), -1, false, false);
        let pos = self.w("wpe.weight").narrow(1, 0, t).unsqueeze(1);
        let mut xs = self.dropout(&(tok + pos).view([n, b * t, c]), train);
        for layer in 0..self.n_layers {
            let a = self.attention(&self.layer_norm(&xs, &format!("h.{layer}.ln_1"), k), layer, b, t, train);
            // Not `+=`: autograd keeps `xs` for LayerNorm's backward; in place would change it.
            xs = &xs + a.to_kind(Kind::Float);
            let m = self.mlp(&self.layer_norm(&xs, &format!("h.{layer}.ln_2"), k), layer, train);
            xs = &xs + m.to_kind(Kind::Float);
        }
        // The LM head shares its weight with the token embedding.
        let logits = self.layer_norm(&xs, "ln_f", k).bmm(&Self::as_kind(wte, k).transpose(1, 2)).to_kind(Kind::Float);
        logits.view([-1, v]).cross_entropy_loss::<Tensor>(&targets.view([-1]), None, Reduction::None, -100, 0.0).view([n, -1]).mean_dim(1, false, Kind::Float)
    }

    fn zero_grad(&mut self) {
        for p in &mut self.params {
            p.value.zero_grad();
        }
    }

    /// Scales each member's gradients so their global norm is at most its grad_clip (0: none).
    fn clip(&mut self) {
        let clip = &self.grad_clip;
        tch::no_grad(|| {
            let grads: Vec<Tensor> = self.params.iter().map(|p| p.value.grad()).filter(|g| g.defined()).collect();
            let Some(first) = grads.first() else { return };
            let mut sq = first.square().reshape([self.n, -1]).sum_dim_intlist(1, false, Kind::Float);
            for g in &grads[1..] {
                sq += g.square().reshape([self.n, -1]).sum_dim_intlist(1, false, Kind::Float);
            }
            let coef = (clip / (sq.sqrt() + 1e-6)).clamp_max(1.0);
            let coef = coef.where_self(&clip.gt(0.0), &coef.ones_like());
            for mut g in grads {
                let shape: Vec<i64> = std::iter::once(self.n).chain(std::iter::repeat_n(1, g.dim() - 1)).collect();
                let _ = g.g_mul_(&coef.view(shape.as_slice()));
            }
        })
    }

    /// One AdamW update, each member at its own learning rate and weight decay.
    fn step(&mut self, lr: &Tensor) {
        let decay = &self.weight_decay.shallow_clone();
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
                let shape: Vec<i64> = std::iter::once(self.n).chain(std::iter::repeat_n(1, g.dim() - 1)).collect();
                if p.decay {
                    let _ = p.value.g_mul_(&(lr * decay * -1.0 + 1.0).view(shape.as_slice()));
                }
                // The same arithmetic as `AdamW::step`, with a learning rate per member.
                let _ = p.m.lerp_(&g, 1.0 - b1);
                let _ = p.v.lerp_(&g.square(), 1.0 - b2);
                let mut denom = p.v.sqrt();
                let _ = denom.g_div_scalar_(bias2.sqrt());
                let _ = denom.g_add_scalar_(EPS);
                let _ = p.value.g_sub_(&(&p.m / denom * (lr / bias1).view(shape.as_slice())));
            }
        })
    }
}

/// Each live member's mean loss over eval_iters batches of `ids`, dropout off; each member
/// draws the batches it would draw alone.
fn estimate_pack(pack: &Pack, live: &[Live], ids: &Tokens, step: u64) -> Result<Vec<f64>, TrainError> {
    let _guard = tch::no_grad_guard();
    let t = &live[0].cfg.train;
    let mut rngs: Vec<StdRng> = live.iter().map(|l| StdRng::seed_from_u64(l.cfg.train.seed ^ EVAL_STREAM)).collect();
    let mut total = Tensor::zeros([pack.n], (Kind::Float, ids.device));
    for _ in 0..t.eval_iters {
        let (x, y) = batches(&mut rngs, ids, t.batch_size, live[0].cfg.model.block_size);
        total += pack.losses(&x, &y, false);
    }
    let total: Vec<f64> = Vec::<f64>::try_from(total.to_kind(Kind::Double)).map_err(|e| TrainError::torch(step, e))?;
    Ok(total.into_iter().map(|l| l / t.eval_iters as f64).collect())
}

/// One batch per member, stacked: (n, B, T) inputs and targets.
fn batches(rngs: &mut [StdRng], ids: &Tokens, batch_size: usize, block_size: usize) -> (Tensor, Tensor) {
    let (xs, ys): (Vec<Tensor>, Vec<Tensor>) = rngs.iter_mut().map(|rng| batch(ids, batch_size, block_size, rng)).unzip();
    (Tensor::stack(&xs, 0), Tensor::stack(&ys, 0))
}

fn vector(values: impl Iterator<Item = f64>, device: Device) -> Tensor {
    Tensor::from_slice(&values.map(|v| v as f32).collect::<Vec<_>>()).to(device)
}

/// One optimizer step of every member over grad_accum_steps micro-batches; each member's mean loss.
fn step_pack(pack: &mut Pack, live: &[Live], lrs: &[f64], ids: &Tokens, rngs: &mut [StdRng]) -> Result<Vec<f64>, tch::TchError> {
    let device = ids.device;
    let t = &live[0].cfg.train;
    pack.zero_grad();
    let mut total = Tensor::zeros([pack.n], (Kind::Float, device));
    for _ in 0..t.grad_accum_steps {
        let (x, y) = batches(rngs, ids, t.batch_size, live[0].cfg.model.block_size);
        let losses = pack.losses(&x, &y, true);
        (losses.sum(Kind::Float) / t.grad_accum_steps as f64).f_backward()?;
        total += losses.detach();
    }
    pack.clip();
    pack.step(&vector(lrs.iter().copied(), device));
    let total = Vec::<f64>::try_from((total / t.grad_accum_steps as f64).to_kind(Kind::Double))?;
    Ok(total)
}

impl Engine for Pack {
    fn estimate(&self, live: &[Live], ids: &Tokens, step: u64) -> Result<Vec<f64>, TrainError> {
        estimate_pack(self, live, ids, step)
    }

    fn train_step(&mut self, live: &mut [Live], lrs: &[f64], ids: &Tokens, rngs: &mut [StdRng]) -> Result<Vec<f64>, tch::TchError> {
        step_pack(self, live, lrs, ids, rngs)
    }

    fn write_back(&self, k: usize, live: &mut Live) {
        self.copy_back(k, live);
    }

    fn retain(&mut self, keep: &[usize]) {
        self.keep_members(keep);
    }

    fn packed(&self) -> bool {
        true
    }
}

#[cfg(test)]
mod tests {
    //! The pack's arithmetic against a lone run's, for a pack of one with dropout off: the
    //! same weights give the same loss, and one step (gradients, clipping, AdamW) moves
    //! them to the same place, up to float rounding (batched against single products, and
    //! AdamW's update written per member).

    use super::*;
    use crate::trainer::{EvalRow, train_step};
    use sweep_config::ModelConfig;

    struct Nothing;

    impl Observer for Nothing {
        fn on_eval(&mut self, _: &EvalRow) {}
    }

    fn config() -> RunConfig {
        let mut cfg = RunConfig::with_data("inline");
        cfg.model = ModelConfig { dropout: 0.0, ..ModelConfig::tiny() };
        (cfg.train.batch_size, cfg.train.grad_clip, cfg.train.weight_decay, cfg.train.device) = (4, 0.5, 0.1, "cpu".into());
        cfg
    }

    fn max_gap(a: &HashMap<String, Tensor>, b: &HashMap<String, Tensor>) -> f64 {
        a.iter().map(|(name, x)| f64::try_from((x - &b[name]).abs().max()).unwrap()).fold(0.0, f64::max)
    }

    #[test]
    fn a_pack_of_one_computes_what_the_run_alone_computes() {
        let (cfg, vocab) = (config(), 23);
        let range = corpus::TokenRange::from_vec((0..400).map(|i| i % vocab as u32).collect());
        let ids = Tokens { range: &range, device: Device::Cpu };
        let mut alone = member::build(&cfg, vocab, Device::Cpu, None).unwrap();
        let before = alone.vs.variables().into_iter().map(|(n, t)| (n, t.copy())).collect::<HashMap<_, _>>();
        let mut nothing = Nothing;
        let mut live = vec![Live::new(0, &cfg, &mut nothing, member::build(&cfg, vocab, Device::Cpu, None).unwrap())];
        assert_eq!(max_gap(&alone.vs.variables(), &live[0].member.vs.variables()), 0.0, "one seed, one set of initial weights");
        let mut pack = Pack::new(&live, &cfg, vocab, Device::Cpu);

        // The forward: the same batch, the same loss.
        let (x, y) = batch(&ids, 4, cfg.model.block_size, &mut StdRng::seed_from_u64(1));
        let lone = tch::no_grad(|| f64::try_from(alone.model.loss(&x, &y, false))).unwrap();
        let packed = tch::no_grad(|| f64::try_from(pack.losses(&x.unsqueeze(0), &y.unsqueeze(0), false).get(0))).unwrap();
        assert!((lone - packed).abs() < 1e-5, "loss alone {lone}, packed {packed}");

        // One step from the same batches: gradients, clipping at 0.5, AdamW with decay.
        let lr = 1e-3;
        train_step(&alone.model, &mut alone.opt, lr, &ids, &cfg, &mut StdRng::seed_from_u64(2)).unwrap();
        step_pack(&mut pack, &live, &[lr], &ids, &mut [StdRng::seed_from_u64(2)]).unwrap();
        pack.copy_back(0, &mut live[0]);
        let moved = max_gap(&before, &alone.vs.variables());
        let gap = max_gap(&alone.vs.variables(), &live[0].member.vs.variables());
        assert!(moved > 0.5 * lr, "the step moved the weights by up to {moved}");
        assert!(gap < 1e-3 * moved, "a pack of one ends {gap} from the run alone (the step moved them {moved})");
    }
}
