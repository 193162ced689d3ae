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
//! random stream, so they agree in distribution, not draw for draw.

use crate::checkpoint;
use crate::error::TrainError;
use crate::model::Gpt;
use crate::optim::AdamW;
use crate::trainer::{DROPOUT_STREAM, Divergence, EVAL_STREAM, EvalRow, LOG_INTERVAL, Observer, Outcome, Snapshot, Stop, batch, to_tensor};
use corpus::TokenData;
use rand::{SeedableRng, rngs::StdRng};
use std::collections::HashMap;
use std::path::Path;
use std::time::Instant;
use sweep_config::{RunConfig, Schedule, lr_at, n_params, pack_key};
use tch::{Device, Kind, Reduction, Tensor, nn};

/// One run of a pack: its settings, where its progress goes, and its saved state if any.
pub struct PackMember<'a> {
    pub config: &'a RunConfig,
    pub observer: &'a mut dyn Observer,
    pub resume_from: Option<&'a Path>,
}

/// A member still training: its own model (the copy its results are read from) and optimizer.
struct Live<'a> {
    /// Position in the caller's list.
    index: usize,
    cfg: &'a RunConfig,
    observer: &'a mut dyn Observer,
    vs: nn::VarStore,
    model: Gpt,
    opt: AdamW,
    schedule: Schedule,
    rows: Vec<EvalRow>,
    elapsed_before: f64,
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
        for (index, r) in run(&mut pack, live, data, device, first_step) {
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
    let problems = cfg.problems();
    if !problems.is_empty() {
        return Err(TrainError::Config(problems.iter().map(|p| p.to_string()).collect::<Vec<_>>().join("; ")));
    }
    if key.is_some_and(|k| *k != pack_key(cfg)) {
        return Err(TrainError::Config("this run differs from the first of its pack in more than per-member settings".into()));
    }
    tch::manual_seed(cfg.train.seed as i64);
    let vs = nn::VarStore::new(device);
    let mut model = Gpt::new(&vs.root(), &cfg.model, data.vocab_size);
    // As alone: its samples are generated with bf16 matmuls on CUDA.
    if device.is_cuda() {
        model.compute_kind = Kind::BFloat16;
    }
    let mut opt = AdamW::new(&vs, &cfg.train);
    let (step, elapsed_before) = match m.resume_from {
        Some(path) => checkpoint::load_resume(path, &vs, &mut opt)?,
        None => (0, 0.0),
    };
    match *first_step {
        Some(first) if first != step => {
            return Err(TrainError::Config(format!("resumes at step {step}, the rest of its pack at step {first}")));
        }
        _ => *first_step = Some(step),
    }
    let schedule = Schedule::from_config(&cfg.train);
    Ok(Live { index, cfg, observer: m.observer, vs, model, opt, schedule, rows: Vec::new(), elapsed_before })
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

/// How the error of every member begins when the pack as a whole failed (out of memory, a
/// libtorch error): no member is to blame, and the sweep trains each alone.
pub const PACK_FAILED: &str = "the pack failed";

impl Pack {
    fn new(live: &[Live], cfg: &RunConfig, vocab: usize, device: Device) -> Self {
        let vars: Vec<HashMap<String, Tensor>> = live.iter().map(|l| l.vs.variables()).collect();
        let moments: Vec<HashMap<String, (Tensor, Tensor)>> = live.iter().map(|l| l.opt.moments().into_iter().map(|(n, m, v)| (n, (m, v))).collect()).collect();
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
            t: live[0].opt.steps_taken(),
        };
        pack.keep = pack.keep_tensor(device);
        pack
    }

    fn keep_tensor(&self, device: Device) -> Option<Tensor> {
        let uniform = self.dropout.iter().all(|&d| d == self.dropout[0]);
        (!uniform).then(|| Tensor::from_slice(&self.dropout.iter().map(|d| (1.0 - d) as f32).collect::<Vec<_>>()).to(device).view([self.n, 1]))
    }

    /// Keeps only the members at `keep` (positions in the pack), in that order.
    fn retain(&mut self, keep: &[usize], device: Device) {
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
    fn write_back(&self, k: usize, live: &mut Live) {
        let vars = live.vs.variables();
        let moments: HashMap<String, (Tensor, Tensor)> = live.opt.moments().into_iter().map(|(n, m, v)| (n, (m, v))).collect();
        tch::no_grad(|| {
            for p in &self.params {
                let k = k as i64;
                vars[&p.name].shallow_clone().copy_(&p.value.get(k));
                let (m, v) = &moments[&p.name];
                m.shallow_clone().copy_(&p.m.get(k));
                v.shallow_clone().copy_(&p.v.get(k));
            }
        });
        live.opt.set_steps_taken(self.t);
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
fn estimate(pack: &Pack, live: &[Live], ids: &Tensor, step: u64) -> Result<Vec<f64>, TrainError> {
    let _guard = tch::no_grad_guard();
    let t = &live[0].cfg.train;
    let mut rngs: Vec<StdRng> = live.iter().map(|l| StdRng::seed_from_u64(l.cfg.train.seed ^ EVAL_STREAM)).collect();
    let mut total = Tensor::zeros([pack.n], (Kind::Float, ids.device()));
    for _ in 0..t.eval_iters {
        let (x, y) = batches(&mut rngs, ids, t.batch_size, live[0].cfg.model.block_size);
        total += pack.losses(&x, &y, false);
    }
    let total: Vec<f64> = Vec::<f64>::try_from(total.to_kind(Kind::Double)).map_err(|e| TrainError::torch(step, e))?;
    Ok(total.into_iter().map(|l| l / t.eval_iters as f64).collect())
}

/// One batch per member, stacked: (n, B, T) inputs and targets.
fn batches(rngs: &mut [StdRng], ids: &Tensor, batch_size: usize, block_size: usize) -> (Tensor, Tensor) {
    let (xs, ys): (Vec<Tensor>, Vec<Tensor>) = rngs.iter_mut().map(|rng| batch(ids, batch_size, block_size, rng)).unzip();
    (Tensor::stack(&xs, 0), Tensor::stack(&ys, 0))
}

fn vector(values: impl Iterator<Item = f64>, device: Device) -> Tensor {
    Tensor::from_slice(&values.map(|v| v as f32).collect::<Vec<_>>()).to(device)
}

/// The training loop of a pack; returns (caller's index, result) for every member.
fn run<'a>(pack: &mut Pack, mut live: Vec<Live<'a>>, data: &TokenData, device: Device, first_step: u64) -> Vec<(usize, Result<Outcome, TrainError>)> {
    let mut done: Vec<(usize, Result<Outcome, TrainError>)> = Vec::new();
    let cfg = live[0].cfg;
    let (m, t) = (&cfg.model, &cfg.train);
    let train_ids = to_tensor(&data.train, device);
    let val_ids = to_tensor(&data.val, device);
    let tokens_per_step = t.tokens_per_step(m.block_size);
    let divergence = Divergence::new(data.vocab_size);
    let size = n_params(m, data.vocab_size);
    for l in live.iter_mut() {
        let pack_line = format!("packed with {} other run(s) of the same shape: one batched model; the iter times below are the whole pack's step", pack.n - 1);
        l.observer.on_log(&format!("number of parameters: {:.2}M", size.without_position() as f64 / 1e6));
        l.observer.on_log(&format!("tokens per iteration will be: {tokens_per_step}"));
        l.observer.on_log(&pack_line);
    }
    let start = Instant::now();
    let finish = |l: Live<'a>, stop: Stop, steps: u64| -> (usize, Result<Outcome, TrainError>) {
        let train_seconds = l.elapsed_before + start.elapsed().as_secs_f64();
        let outcome = Outcome {
            stop,
            rows: l.rows,
            params: size,
            vocab_size: data.vocab_size,
            steps,
            tokens_seen: steps * tokens_per_step,
            train_seconds,
            resumed_at: first_step,
            vs: l.vs,
            model: l.model,
            device,
        };
        (l.index, Ok(outcome))
    };
    let mut steps = first_step;
    let mut last_log = Instant::now();
    let mut last_logged_steps = first_step;
    for step in first_step..=t.max_iters {
        // Members asked to stop save their state and leave; the others go on.
        let mut leaving: Vec<(usize, Stop)> = Vec::new();
        if step > first_step {
            for (k, l) in live.iter_mut().enumerate() {
                if l.observer.should_stop() {
                    leaving.push((k, Stop::Interrupted { next_step: step }));
                }
            }
        }
        let mut failed: Vec<(usize, TrainError)> = Vec::new();
        for &(k, _) in &leaving {
            pack.write_back(k, &mut live[k]);
            let l = &mut live[k];
            let snapshot = Snapshot { next_step: step, elapsed_s: l.elapsed_before + start.elapsed().as_secs_f64(), vs: &l.vs, opt: &l.opt };
            match l.observer.on_checkpoint(&snapshot) {
                Ok(()) => l.observer.on_log(&format!("interrupted: training state after step {step} saved")),
                Err(e) => failed.push((k, e)),
            }
        }
        remove(pack, &mut live, &mut done, leaving, failed, device, &finish, steps);
        if live.is_empty() {
            break;
        }
        let lrs: Vec<f64> = live.iter().map(|l| lr_at(step, &l.schedule)).collect();
        if step % t.eval_interval == 0 || step == t.max_iters {
            let evaluated = estimate(pack, &live, &train_ids, step).and_then(|tr| Ok((tr, estimate(pack, &live, &val_ids, step)?)));
            let (train_losses, val_losses) = match evaluated {
                Ok(v) => v,
                Err(e) => return fail_all(live, done, e),
            };
            let elapsed = start.elapsed().as_secs_f64();
            for (k, l) in live.iter_mut().enumerate() {
                let (train_loss, val_loss) = (train_losses[k], val_losses[k]);
                let row = EvalRow { step, tokens_seen: step * tokens_per_step, lr: lrs[k], train_loss, val_loss, elapsed_s: l.elapsed_before + elapsed };
                l.observer.on_log(&format!("step {step}: train loss {train_loss:.4}, val loss {val_loss:.4}"));
                l.observer.on_eval(&row);
                l.rows.push(row);
            }
        }
        if step == t.max_iters {
            break;
        }
        // As alone: batches depend on (seed, step) of each member; dropout on the pack's first seed and step.
        tch::manual_seed((live[0].cfg.train.seed ^ DROPOUT_STREAM).wrapping_add(step) as i64);
        let mut rngs: Vec<StdRng> = live.iter().map(|l| StdRng::seed_from_u64(l.cfg.train.seed.wrapping_add(step))).collect();
        let losses = train_step(pack, &live, &lrs, &train_ids, &mut rngs, device);
        let losses = match losses {
            Ok(l) => l,
            Err(e) => return fail_all(live, done, TrainError::torch(step, e)),
        };
        steps = step + 1;
        let log_now = step % LOG_INTERVAL == 0;
        let ms = last_log.elapsed().as_secs_f64() * 1e3 / (steps - last_logged_steps).max(1) as f64;
        let mut leaving = Vec::new();
        for (k, l) in live.iter_mut().enumerate() {
            let loss = losses[k];
            let blew_up = divergence.blew_up(loss, step, l.cfg.train.warmup_iters);
            if log_now || blew_up {
                l.observer.on_log(&format!("iter {step}: loss {loss:.4}, time {ms:.2}ms"));
                l.observer.on_step(step, loss);
            }
            if blew_up {
                l.observer.on_log(&format!("{}; the rest of its pack trains on", divergence.line(loss, step)));
                leaving.push((k, Stop::Diverged { step, loss }));
            }
        }
        if log_now {
            (last_log, last_logged_steps) = (Instant::now(), steps);
        }
        for &(k, _) in &leaving {
            pack.write_back(k, &mut live[k]);
        }
        remove(pack, &mut live, &mut done, leaving, Vec::new(), device, &finish, steps);
        if steps.is_multiple_of(t.checkpoint_interval()) && steps < t.max_iters {
            let mut failed = Vec::new();
            for (k, l) in live.iter_mut().enumerate() {
                pack.write_back(k, l);
                let snapshot = Snapshot { next_step: steps, elapsed_s: l.elapsed_before + start.elapsed().as_secs_f64(), vs: &l.vs, opt: &l.opt };
                if let Err(e) = l.observer.on_checkpoint(&snapshot) {
                    failed.push((k, e));
                }
            }
            remove(pack, &mut live, &mut done, Vec::new(), failed, device, &finish, steps);
        }
    }
    for (k, l) in live.iter_mut().enumerate() {
        pack.write_back(k, l);
    }
    done.extend(live.into_iter().map(|l| finish(l, Stop::Finished, steps)));
    done
}

/// Takes the members that stopped (`leaving`) or failed out of the pack and records their results.
#[allow(clippy::too_many_arguments)]
fn remove<'a>(
    pack: &mut Pack,
    live: &mut Vec<Live<'a>>,
    done: &mut Vec<(usize, Result<Outcome, TrainError>)>,
    leaving: Vec<(usize, Stop)>,
    failed: Vec<(usize, TrainError)>,
    device: Device,
    finish: &dyn Fn(Live<'a>, Stop, u64) -> (usize, Result<Outcome, TrainError>),
    steps: u64,
) {
    if leaving.is_empty() && failed.is_empty() {
        return;
    }
    let mut stops: HashMap<usize, Stop> = leaving.into_iter().collect();
    let mut errors: HashMap<usize, TrainError> = failed.into_iter().collect();
    let keep: Vec<usize> = (0..live.len()).filter(|k| !stops.contains_key(k) && !errors.contains_key(k)).collect();
    if !keep.is_empty() {
        pack.retain(&keep, device);
    }
    let members = std::mem::take(live);
    for (k, l) in members.into_iter().enumerate() {
        if let Some(e) = errors.remove(&k) {
            done.push((l.index, Err(e)));
        } else if let Some(stop) = stops.remove(&k) {
            done.push(finish(l, stop, steps));
        } else {
            live.push(l);
        }
    }
}

fn fail_all<'a>(live: Vec<Live<'a>>, mut done: Vec<(usize, Result<Outcome, TrainError>)>, e: TrainError) -> Vec<(usize, Result<Outcome, TrainError>)> {
    let text = e.to_string();
    done.extend(live.into_iter().map(|l| (l.index, Err(TrainError::Config(format!("{PACK_FAILED}: {text}"))))));
    done
}

/// One optimizer step of every member over grad_accum_steps micro-batches; each member's mean loss.
fn train_step(pack: &mut Pack, live: &[Live], lrs: &[f64], ids: &Tensor, rngs: &mut [StdRng], device: Device) -> Result<Vec<f64>, tch::TchError> {
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
