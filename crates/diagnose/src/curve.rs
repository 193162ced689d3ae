//! Findings read off the loss curve: divergence, overfitting, the turn of the curve (val
//! stopped improving, or flattened against what the run learned before) with the learning
//! rate at that point, val below train under dropout, and spikes. A diverged curve gets
//! `diverged` alone: what its loss did after blowing up explains nothing.

use crate::reading::{LrAtTurn, Reading, Turn};
use crate::thresholds::*;
use crate::words::{lr as lr_words, steps, thousands};
use crate::{Evidence, Finding, Severity};

pub fn check(e: &Evidence, r: &mut Reading, out: &mut Vec<Finding>) {
    r.last_step = e.last_step();
    if let Some(d) = divergence(e, out) {
        r.diverged = Some(d);
        return;
    }
    r.turn = overfitting(e, r, out).or_else(|| turn(e, r, out));
    r.last_eval = finite_evals(e).last().map(|v| v.step);
    r.evals = finite_evals(e).len();
    if r.turn.is_none() {
        r.still_improving = still_improving(&finite_evals(e));
    }
    r.lr_end_over_min = e.schedule.zip(r.last_step).filter(|(s, _)| s.min_lr > 0.0).map(|(s, last)| s.lr_at(last) / s.min_lr);
    val_below_train(e, out);
    spikes(e, out);
}

fn finite_evals(e: &Evidence) -> Vec<&crate::Eval> {
    e.evals.iter().filter(|v| v.val.is_finite() && v.train.is_finite()).collect()
}

fn divergence(e: &Evidence, out: &mut Vec<Finding>) -> Option<(u64, f64)> {
    let nan_eval = e.evals.iter().find(|v| !v.val.is_finite() || !v.train.is_finite()).map(|v| (v.step, if v.train.is_finite() { v.val } else { v.train }));
    let nan_iter = e.iters.iter().find(|i| !i.loss.is_finite()).map(|i| (i.step, i.loss));
    let lr_at = |step: u64| e.lr_at(step).map(|lr| format!(", lr {lr:.3e} at that step")).unwrap_or_default();
    let clip = match e.grad_clip {
        Some(0.0) => "turn gradient clipping on (grad_clip = 1.0; it was off)",
        _ => "keep grad_clip at 1.0",
    };
    let action = format!("lower lr (try a third of it), lengthen warmup_iters, or {clip}");
    if let Some((step, loss)) = e.diverged.or(nan_iter).or(nan_eval) {
        out.push(Finding::new(
            "diverged",
            Severity::Problem,
            format!("training diverged: the loss became {loss} at step {step}"),
            format!("loss {loss} at step {step}{}", lr_at(step)),
            action.clone(),
        ));
        return Some((step, loss));
    }
    // Finite, but train loss climbing back up: the run is coming apart.
    let evals = finite_evals(e);
    let low = evals.iter().min_by(|a, b| a.train.total_cmp(&b.train))?;
    let last = evals.last()?;
    if last.train <= low.train + TRAIN_RISE_UNSTABLE * low.train.abs() {
        return None;
    }
    out.push(Finding::new(
        "diverged",
        Severity::Problem,
        format!(
            "training diverged: train loss rose from {:.4} at step {} to {:.4} at step {}",
            low.train,
            thousands(low.step),
            last.train,
            thousands(last.step)
        ),
        format!(
            "train loss {:.4} @ {}, {:.4} @ {} ({:.0}% higher){}",
            low.train,
            low.step,
            last.train,
            last.step,
            (last.train / low.train - 1.0) * 100.0,
            lr_at(low.step)
        ),
        action,
    ));
    Some((last.step, last.train))
}

/// "; likely cause: …" when the data repeats, else nothing.
fn cause(r: &Reading) -> String {
    r.repetition.as_ref().map(|rep| format!("; likely cause: repeated data ({})", rep.words())).unwrap_or_default()
}

/// Val loss rose from its minimum by a meaningful margin, or the val−train gap keeps growing.
fn overfitting(e: &Evidence, r: &Reading, out: &mut Vec<Finding>) -> Option<Turn> {
    let evals = finite_evals(e);
    if evals.len() < 3 {
        return None;
    }
    let best = evals.iter().min_by(|a, b| a.val.total_cmp(&b.val)).expect("non-empty");
    let last = evals[evals.len() - 1];
    let rise = last.val - best.val;
    let margin = OVERFIT_MIN_RISE.max(OVERFIT_MIN_RISE_REL * best.val.abs());
    let rose = best.step < last.step && rise >= margin;

    let gaps: Vec<f64> = evals.iter().map(|v| v.val - v.train).collect();
    let tail = &gaps[gaps.len().saturating_sub(GAP_GROWTH_EVALS + 1)..];
    // Widening counts when the gap grew at every eval, ended wide, and grew by more than
    // val fell over the same evals (train improving much faster than val).
    let val_drop = evals[evals.len() - tail.len()].val - last.val;
    let widening = tail.len() == GAP_GROWTH_EVALS + 1
        && tail.windows(2).all(|w| w[1] > w[0])
        && tail[tail.len() - 1] >= GAP_MIN
        && tail[tail.len() - 1] - tail[0] > val_drop;
    if !rose && !widening {
        return None;
    }
    let gap_text =
        format!("val−train gap {:.3} at step {} (was {:.3} at step {})", gaps[gaps.len() - 1], last.step, tail[0], evals[evals.len() - tail.len()].step);
    let (message, evidence) = if rose {
        (
            format!(
                "overfitting: val loss rose {rise:.3} from its minimum {:.4} at step {} to {:.4} at step {}{}",
                best.val,
                thousands(best.step),
                last.val,
                thousands(last.step),
                cause(r)
            ),
            format!("best val {:.4} @ {}, final val {:.4} @ {}, final train {:.4}; {gap_text}", best.val, best.step, last.val, last.step, last.train),
        )
    } else {
        (format!("overfitting: the gap between val and train loss widened at each of the last {GAP_GROWTH_EVALS} evaluations{}", cause(r)), gap_text)
    };
    let stop = if rose { format!("stop at step {} (max_iters={}), ", best.step, best.step) } else { String::new() };
    let dropout = match e.dropout {
        Some(d) if d < 0.2 => format!("raise dropout (now {d}), "),
        _ => String::new(),
    };
    out.push(Finding::new("overfitting", Severity::Warning, message, evidence, format!("{stop}{dropout}use a smaller model, or train on more data")));
    let widening_from = evals[evals.len() - tail.len()];
    Some(if rose { Turn::Overfit { step: best.step, rise } } else { Turn::Overfit { step: widening_from.step, rise: 0.0 } })
}

/// Val improvement over the last quarter of the steps, the quarter before, and since the
/// first eval, each read off the best-so-far curve (so eval noise cannot make it negative).
#[derive(Debug, Clone, Copy)]
struct Gains {
    last_quarter: f64,
    quarter_before: f64,
    learned: f64,
    /// First step of the last quarter.
    window_start: u64,
}

fn gains(evals: &[&crate::Eval]) -> Option<Gains> {
    if evals.len() < MIN_EVALS {
        return None;
    }
    let (first, last) = (evals[0].step, evals[evals.len() - 1].step);
    let span = last.saturating_sub(first) as f64;
    let best_by = |t: f64| evals.iter().filter(|v| v.step as f64 <= t).map(|v| v.val).fold(f64::INFINITY, f64::min);
    let (q2, q3) = (last as f64 - 2.0 * PLATEAU_WINDOW * span, last as f64 - PLATEAU_WINDOW * span);
    if span <= 0.0 || evals.iter().filter(|v| v.step as f64 > q2).count() < MIN_EVALS_LAST_HALF {
        return None;
    }
    let end = best_by(last as f64);
    let from = evals.iter().find(|v| v.step as f64 >= first as f64 + LEARNED_FROM * span).unwrap_or(&evals[0]);
    Some(Gains { last_quarter: best_by(q3) - end, quarter_before: best_by(q2) - best_by(q3), learned: from.val - end, window_start: q3 as u64 })
}

/// The last eval is the best: val's drop since the start of the last quarter of the steps
/// (or since the eval before, when the evals are too few to measure quarters).
fn still_improving(evals: &[&crate::Eval]) -> Option<(f64, u64)> {
    if evals.len() < MIN_EVALS {
        return None;
    }
    let (last, before) = (evals.last()?, evals.get(evals.len() - 2)?);
    let best = evals.iter().map(|v| v.val).fold(f64::INFINITY, f64::min);
    if last.val > best + STOPPED_NOISE_FACTOR * eval_noise(evals) {
        return None;
    }
    let since = match gains(evals) {
        Some(g) => evals.iter().rev().find(|v| v.step <= g.window_start).unwrap_or(before),
        None => before,
    };
    Some((since.val - last.val, since.step))
}

/// The eval-to-eval noise of val, from the scatter of the last half's evals around a
/// smooth curve: median |second difference| ÷ (0.6745·√6) is σ for white noise.
fn eval_noise(evals: &[&crate::Eval]) -> f64 {
    let half = &evals[evals.len() / 2..];
    let d2: Vec<f64> = half.windows(3).map(|w| (w[2].val - 2.0 * w[1].val + w[0].val).abs()).collect();
    if d2.is_empty() { 0.0 } else { median(&d2) / (0.6745 * 6f64.sqrt()) }
}

/// The turn of the curve: the best val followed only by higher evals, or a last quarter
/// that gained little against the quarter before (or against all the run learned).
fn turn(e: &Evidence, r: &mut Reading, out: &mut Vec<Finding>) -> Option<Turn> {
    let evals = finite_evals(e);
    if evals.len() < MIN_EVALS {
        return None;
    }
    let k = evals.iter().enumerate().min_by(|a, b| a.1.val.total_cmp(&b.1.val)).map(|(i, _)| i)?;
    let best = evals[k];
    let later = &evals[k + 1..];
    let rises: Vec<f64> = later.iter().map(|v| v.val - best.val).collect();
    let (lo, hi) = (rises.iter().copied().fold(f64::INFINITY, f64::min), rises.iter().copied().fold(0.0, f64::max));
    let (turn, message, mut evidence) = if later.len() >= STOPPED_EVALS_AFTER && lo > 0.0 && hi > STOPPED_NOISE_FACTOR * eval_noise(&evals) {
        let by = if format!("{lo:.3}") == format!("{hi:.3}") { format!("{hi:.3}") } else { format!("{lo:.3}–{hi:.3}") };
        const WORDS: [&str; 8] = ["two", "three", "four", "five", "six", "seven", "eight", "nine"];
        let n = WORDS.get(later.len() - 2).map_or(later.len().to_string(), |w| w.to_string());
        (
            Turn::Stopped { step: best.step },
            format!("val stopped improving at step {} ({:.4}); the {n} later evals are higher by {by}{}", thousands(best.step), best.val, cause(r)),
            format!(
                "best val {:.4} @ {}; later: {}",
                best.val,
                best.step,
                later.iter().map(|v| format!("{:.4} @ {}", v.val, v.step)).collect::<Vec<_>>().join(", ")
            ),
        )
    } else {
        let g = gains(&evals)?;
        let flat_half = g.last_quarter + g.quarter_before < FLAT_SHARE * g.learned;
        if g.learned <= 0.0 || !(g.last_quarter < PLATEAU_SHARE * g.quarter_before || flat_half) {
            return None;
        }
        let end = best.val;
        let tolerance = if flat_half { FLAT_SHARE * g.learned } else { PLATEAU_SHARE * g.quarter_before };
        let from = evals.iter().find(|v| v.val <= end + tolerance).map_or(best.step, |v| v.step);
        let how = if flat_half {
            format!(
                "the second half of the steps gained {:.4}, {:.2}% of the {:.3} it learned after its first 10% of steps",
                g.last_quarter + g.quarter_before,
                (g.last_quarter + g.quarter_before) / g.learned * 100.0,
                g.learned
            )
        } else {
            format!(
                "the last quarter of the steps gained {:.4}, {:.0}% of what the quarter before gained ({:.4}); a curve still improving keeps 50–70%",
                g.last_quarter,
                g.last_quarter / g.quarter_before * 100.0,
                g.quarter_before
            )
        };
        (
            Turn::Flattened { step: from },
            format!("val flattened from about step {}: {how}{}", thousands(from), cause(r)),
            format!(
                "best val {:.4} by step {}, {end:.4} by step {}; within {tolerance:.4} of the final best from step {from}",
                end + g.last_quarter,
                g.window_start,
                evals[evals.len() - 1].step
            ),
        )
    };
    let step = turn.step();
    r.lr = lr_at(e, step);
    if let (Some(at), Some(s)) = (r.lr, e.schedule) {
        evidence.push_str(&format!(
            "; lr at step {step}: {}{}, {:.0}% of the peak {}",
            lr_words(at.lr),
            over_min(at),
            at.share_of_peak * 100.0,
            lr_words(s.lr)
        ));
    }
    let action = if r.repetition.is_some() {
        "more data (fresh tokens) or a bigger model; more steps on the same data will not help".to_string()
    } else {
        format!("stop at step {step} (max_iters={step}), or change what limits the model: more data, a bigger model, a different lr")
    };
    out.push(Finding::new("plateau", Severity::Warning, message, evidence, action));
    if let Some(at) = r.lr.filter(|a| a.high) {
        lr_high(e, step, at, out);
    }
    Some(turn)
}

/// " = 3.3× min_lr", or nothing when min_lr is 0.
fn over_min(at: LrAtTurn) -> String {
    if at.over_min.is_finite() { format!(" = {:.1}× min_lr", at.over_min) } else { String::new() }
}

fn lr_at(e: &Evidence, step: u64) -> Option<LrAtTurn> {
    let (lr, s) = (e.lr_at(step)?, e.schedule?);
    let over_min = if s.min_lr > 0.0 { lr / s.min_lr } else { f64::INFINITY };
    let share_of_peak = lr / s.lr;
    // A held lr (no decay) never gave the curve the drop that decay brings.
    let high = s.min_lr == s.lr || (over_min >= LR_HIGH_OVER_MIN && share_of_peak >= LR_HIGH_FRACTION_OF_PEAK && step < s.lr_decay_iters);
    Some(LrAtTurn { lr, over_min, share_of_peak, high })
}

/// The schedule at the turn: the cosine still had far to go when the curve stopped.
fn lr_high(e: &Evidence, step: u64, at: LrAtTurn, out: &mut Vec<Finding>) {
    let s = e.schedule.expect("lr_at needs a schedule");
    if s.min_lr == s.lr {
        out.push(Finding::new(
            "lr_high_at_plateau",
            Severity::Warning,
            format!("the learning rate was held at {} (no decay) when the curve turned at step {}", lr_words(s.lr), thousands(step)),
            format!("lr {} from start to end (decay_lr = False)", lr_words(s.lr)),
            format!(
                "decay the lr: decay_lr = True with lr_decay_iters about {} and min_lr a tenth of lr, or hold it and decay over the last 10–20% of steps (warmup-stable-decay); expect val to drop when the lr falls",
                steps(step)
            ),
        ));
        return;
    }
    let end = e
        .last_step()
        .filter(|last| s.lr_at(*last) > s.min_lr * 1.01)
        .map(|last| format!("; at the last step ({}) still {}", thousands(last), lr_words(s.lr_at(last))))
        .unwrap_or_default();
    out.push(Finding::new(
        "lr_high_at_plateau",
        Severity::Warning,
        format!(
            "the learning rate was still {} ({}{:.0}% of its peak) when the curve turned at step {}: the cosine was planned for {} steps",
            lr_words(at.lr),
            if at.over_min.is_finite() { format!("{:.1}× min_lr, ", at.over_min) } else { String::new() },
            at.share_of_peak * 100.0,
            thousands(step),
            thousands(s.lr_decay_iters)
        ),
        format!(
            "lr {} at step {step}; peak {}, min_lr {}, warmup {} steps, decay to min_lr at step {}{end}",
            lr_words(at.lr),
            lr_words(s.lr),
            lr_words(s.min_lr),
            s.warmup_iters,
            s.lr_decay_iters
        ),
        format!(
            "the schedule was planned for more steps than the data supports: set lr_decay_iters to about {} (the turn), or use warmup-stable-decay (hold the lr, decay over the last 10–20% of steps); expect val to drop when the lr falls",
            steps(step)
        ),
    ));
}

/// Dropout inflates a train loss measured in training mode: val below train then says
/// little about generalisation.
fn val_below_train(e: &Evidence, out: &mut Vec<Finding>) {
    let Some(dropout) = e.dropout.filter(|d| *d > 0.0) else { return };
    let evals = finite_evals(e);
    let tail = &evals[evals.len().saturating_sub(2)..];
    if evals.len() < 2 || !tail.iter().all(|v| v.val < v.train - VAL_BELOW_TRAIN_MARGIN) {
        return;
    }
    let last = tail[tail.len() - 1];
    out.push(Finding::new(
        "val_below_train",
        Severity::Info,
        format!(
            "val loss ({:.4}) is below train loss ({:.4}) with dropout {dropout}: a train loss logged with dropout active is inflated; measured with dropout off, it means the val split is easier than the train split",
            last.val, last.train
        ),
        format!("last {} evals: val below train by {:.3} at step {}", tail.len(), last.train - last.val, last.step),
        "compare val with train loss measured in eval mode (dropout off) before concluding anything; with a small corpus, dropout=0 is often better".into(),
    ));
}

/// Step losses far above the recent noise.
fn spikes(e: &Evidence, out: &mut Vec<Finding>) {
    let losses: Vec<(u64, f64)> =
        if e.iters.len() > SPIKE_WINDOW { e.iters.iter().map(|i| (i.step, i.loss)).collect() } else { e.evals.iter().map(|v| (v.step, v.train)).collect() };
    let mut found = Vec::new();
    for i in SPIKE_WINDOW.min(losses.len())..losses.len() {
        let window: Vec<f64> = losses[i - SPIKE_WINDOW..i].iter().map(|p| p.1).filter(|x| x.is_finite()).collect();
        if window.len() < SPIKE_WINDOW / 2 || !losses[i].1.is_finite() {
            continue;
        }
        let med = median(&window);
        let mad = median(&window.iter().map(|x| (x - med).abs()).collect::<Vec<_>>());
        let x = losses[i].1;
        if x > med + SPIKE_MADS * mad && x > med * (1.0 + SPIKE_MIN_REL) {
            found.push((losses[i].0, x, med));
        }
    }
    let Some(&(step, x, med)) = found.iter().max_by(|a, b| (a.1 / a.2).total_cmp(&(b.1 / b.2))) else { return };
    out.push(Finding::new(
        "loss_spikes",
        Severity::Warning,
        format!("unstable training: {} loss spike(s) well outside the recent noise, the largest at step {step}", found.len()),
        format!(
            "loss {x:.4} at step {step} vs a median of {med:.4} over the {SPIKE_WINDOW} steps before it; spikes at steps {}",
            found.iter().map(|f| f.0.to_string()).collect::<Vec<_>>().join(", ")
        ),
        "lower lr, lengthen warmup_iters or set grad_clip=1.0; spikes that recover are harmless, spikes that grow precede divergence".into(),
    ));
}

fn median(xs: &[f64]) -> f64 {
    let mut v = xs.to_vec();
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        f64::NAN
    } else if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}
