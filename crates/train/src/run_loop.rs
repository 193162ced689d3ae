//! The training loop, one for every way of training: a run alone is a pack of one. Members
//! step together through the same steps; an `Engine` says how a step and an evaluation are
//! computed (`trainer::Alone`: the run's own model and AdamW; `packed::Pack`: one stacked
//! model for all). Each member keeps its own observer, learning-rate schedule, evaluation
//! rows, checkpoints and stop: a member that is asked to stop, diverges or fails to
//! checkpoint leaves, and the others go on. Every random draw of a step depends on (seed,
//! step) only, so a resumed run replays exactly what an uninterrupted one would have done.

use crate::error::TrainError;
use crate::member::Member;
use crate::trainer::{DROPOUT_STREAM, Divergence, EvalRow, LOG_INTERVAL, Observer, Outcome, Snapshot, Stop, Tokens};
use corpus::TokenData;
use rand::{SeedableRng, rngs::StdRng};
use std::collections::HashMap;
use std::time::Instant;
use sweep_config::{RunConfig, Schedule, lr_at, n_params};
use tch::Device;

/// How the error of every member begins when a pack as a whole failed (out of memory, a
/// libtorch error): no member is to blame, and the sweep trains each alone.
pub const PACK_FAILED: &str = "the pack failed";

/// A member still training.
pub(crate) struct Live<'a> {
    /// Position in the caller's list.
    pub(crate) index: usize,
    pub(crate) cfg: &'a RunConfig,
    pub(crate) observer: &'a mut dyn Observer,
    /// Its own model and optimizer (a pack's results are copied back into them).
    pub(crate) member: Member,
    pub(crate) schedule: Schedule,
    pub(crate) rows: Vec<EvalRow>,
}

impl<'a> Live<'a> {
    pub(crate) fn new(index: usize, cfg: &'a RunConfig, observer: &'a mut dyn Observer, member: Member) -> Self {
        Live { index, cfg, observer, member, schedule: Schedule::from_config(&cfg.train), rows: Vec::new() }
    }
}

/// How the members' steps and evaluations are computed.
pub(crate) trait Engine {
    /// Each live member's mean loss over eval_iters batches of `ids`, dropout off; each
    /// member draws the batches it would draw alone.
    fn estimate(&self, live: &[Live], ids: &Tokens, step: u64) -> Result<Vec<f64>, TrainError>;
    /// One optimizer step of every live member at its learning rate, with its batches drawn
    /// from its generator; each member's mean loss.
    fn train_step(&mut self, live: &mut [Live], lrs: &[f64], ids: &Tokens, rngs: &mut [StdRng]) -> Result<Vec<f64>, tch::TchError>;
    /// Copies member `k`'s state into its own model and optimizer (before a snapshot or its
    /// outcome); nothing to do when it trains in them.
    fn write_back(&self, _k: usize, _live: &mut Live) {}
    /// Keeps only the members at `keep` (positions among the live ones), in that order.
    fn retain(&mut self, _keep: &[usize]) {}
    /// Whether several runs train as one (their log says so; a failure of the whole is no
    /// member's fault).
    fn packed(&self) -> bool;
}

/// Result of each member, by its position in the caller's list.
type Done = Vec<(usize, Result<Outcome, TrainError>)>;

/// Trains `live` from `first_step` to the end (or until each has left); one result per member.
pub(crate) fn run<'a>(engine: &mut dyn Engine, mut live: Vec<Live<'a>>, data: &TokenData, device: Device, first_step: u64) -> Done {
    let mut done: Done = Vec::new();
    let Some(first) = live.first() else { return done };
    let cfg = first.cfg;
    let (m, t) = (&cfg.model, &cfg.train);
    let size = n_params(m, data.vocab_size);
    let tokens_per_step = t.tokens_per_step(m.block_size);
    let n = live.len();
    for l in live.iter_mut() {
        l.observer.on_log(&format!("number of parameters: {:.2}M", size.without_position() as f64 / 1e6));
        l.observer.on_log(&format!("tokens per iteration will be: {tokens_per_step}"));
        if engine.packed() {
            l.observer
                .on_log(&format!("packed with {} other run(s) of the same shape: one batched model; the iter times below are the whole pack's step", n - 1));
        }
    }
    let train_ids = Tokens { range: &data.train, device };
    let val_ids = Tokens { range: &data.val, device };
    let divergence = Divergence::new(data.vocab_size);
    let start = Instant::now();
    let elapsed = |l: &Live| l.member.elapsed_before + start.elapsed().as_secs_f64();
    let finish = |l: Live<'a>, stop: Stop, steps: u64| -> (usize, Result<Outcome, TrainError>) {
        let train_seconds = l.member.elapsed_before + start.elapsed().as_secs_f64();
        let Member { vs, model, .. } = l.member;
        let outcome = Outcome {
            stop,
            rows: l.rows,
            params: size,
            vocab_size: data.vocab_size,
            steps,
            tokens_seen: steps * tokens_per_step,
            train_seconds,
            resumed_at: first_step,
            vs,
            model,
            device,
        };
        (l.index, Ok(outcome))
    };
    let mut steps = first_step;
    let (mut last_log, mut last_logged_steps) = (Instant::now(), first_step);
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
            engine.write_back(k, &mut live[k]);
            let l = &mut live[k];
            let snapshot = Snapshot { next_step: step, elapsed_s: elapsed(l), vs: &l.member.vs, opt: &l.member.opt };
            match l.observer.on_checkpoint(&snapshot) {
                Ok(()) => l.observer.on_log(&format!("interrupted: training state after step {step} saved")),
                Err(e) => failed.push((k, e)),
            }
        }
        remove(engine, &mut live, &mut done, leaving, failed, &finish, steps);
        if live.is_empty() {
            break;
        }
        let lrs: Vec<f64> = live.iter().map(|l| lr_at(step, &l.schedule)).collect();
        if step % t.eval_interval == 0 || step == t.max_iters {
            let evaluated = engine.estimate(&live, &train_ids, step).and_then(|tr| Ok((tr, engine.estimate(&live, &val_ids, step)?)));
            let (train_losses, val_losses) = match evaluated {
                Ok(v) => v,
                Err(e) => return fail_all(engine, live, done, e),
            };
            for (k, l) in live.iter_mut().enumerate() {
                let (train_loss, val_loss) = (train_losses[k], val_losses[k]);
                let row = EvalRow { step, tokens_seen: step * tokens_per_step, lr: lrs[k], train_loss, val_loss, elapsed_s: elapsed(l) };
                l.observer.on_log(&format!("step {step}: train loss {train_loss:.4}, val loss {val_loss:.4}"));
                l.observer.on_eval(&row);
                l.rows.push(row);
            }
        }
        if step == t.max_iters {
            break;
        }
        // Dropout draws from libtorch's generator, seeded by the first member's seed and the
        // step (a run alone: its own); batches from each member's (seed, step).
        tch::manual_seed((live[0].cfg.train.seed ^ DROPOUT_STREAM).wrapping_add(step) as i64);
        let mut rngs: Vec<StdRng> = live.iter().map(|l| StdRng::seed_from_u64(l.cfg.train.seed.wrapping_add(step))).collect();
        let losses = match engine.train_step(&mut live, &lrs, &train_ids, &mut rngs) {
            Ok(l) => l,
            Err(e) => return fail_all(engine, live, done, TrainError::torch(step, e)),
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
                let note = if engine.packed() { "; the rest of its pack trains on" } else { "" };
                l.observer.on_log(&format!("{}{note}", divergence.line(loss, step)));
                leaving.push((k, Stop::Diverged { step, loss }));
            }
        }
        if log_now {
            (last_log, last_logged_steps) = (Instant::now(), steps);
        }
        for &(k, _) in &leaving {
            engine.write_back(k, &mut live[k]);
        }
        remove(engine, &mut live, &mut done, leaving, Vec::new(), &finish, steps);
        if steps.is_multiple_of(t.checkpoint_interval()) && steps < t.max_iters {
            let mut failed = Vec::new();
            for (k, l) in live.iter_mut().enumerate() {
                engine.write_back(k, l);
                let snapshot = Snapshot { next_step: steps, elapsed_s: elapsed(l), vs: &l.member.vs, opt: &l.member.opt };
                if let Err(e) = l.observer.on_checkpoint(&snapshot) {
                    failed.push((k, e));
                }
            }
            remove(engine, &mut live, &mut done, Vec::new(), failed, &finish, steps);
        }
    }
    for (k, l) in live.iter_mut().enumerate() {
        engine.write_back(k, l);
    }
    done.extend(live.into_iter().map(|l| finish(l, Stop::Finished, steps)));
    done
}

/// Takes the members that stopped (`leaving`) or failed out of the live ones and records
/// their results.
fn remove<'a>(
    engine: &mut dyn Engine,
    live: &mut Vec<Live<'a>>,
    done: &mut Done,
    leaving: Vec<(usize, Stop)>,
    failed: Vec<(usize, TrainError)>,
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
        engine.retain(&keep);
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

/// An error that stopped every member: a run alone gets it as it is; in a pack no member
/// is to blame, and each gets it after `PACK_FAILED`.
fn fail_all(engine: &dyn Engine, live: Vec<Live>, mut done: Done, e: TrainError) -> Done {
    if !engine.packed() {
        if let Some(l) = live.into_iter().next() {
            done.push((l.index, Err(e)));
        }
        return done;
    }
    let text = e.to_string();
    done.extend(live.into_iter().map(|l| (l.index, Err(TrainError::Config(format!("{PACK_FAILED}: {text}"))))));
    done
}
