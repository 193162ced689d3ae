//! Findings read off the loss curve: overfitting, plateau (and lr still high there),
//! val below train under dropout, spikes and divergence.

use crate::thresholds::*;
use crate::{Evidence, Finding, Severity};

pub fn check(e: &Evidence, out: &mut Vec<Finding>) {
    divergence(e, out);
    let overfit = overfitting(e, out);
    if !overfit {
        plateau(e, out);
    }
    val_below_train(e, out);
    spikes(e, out);
}

fn finite_evals(e: &Evidence) -> Vec<&crate::Eval> {
    e.evals.iter().filter(|v| v.val.is_finite() && v.train.is_finite()).collect()
}

fn divergence(e: &Evidence, out: &mut Vec<Finding>) {
    let nan_eval = e.evals.iter().find(|v| !v.val.is_finite() || !v.train.is_finite()).map(|v| (v.step, if v.train.is_finite() { v.val } else { v.train }));
    let nan_iter = e.iters.iter().find(|i| !i.loss.is_finite()).map(|i| (i.step, i.loss));
    let Some((step, loss)) = e.diverged.or(nan_iter).or(nan_eval) else { return };
    let lr = e.lr_at(step).map(|lr| format!(", lr {lr:.3e} at that step")).unwrap_or_default();
    out.push(Finding::new(
        "diverged",
        Severity::Problem,
        format!("training diverged: the loss became {loss} at step {step}"),
        format!("loss {loss} at step {step}{lr}"),
        "lower lr (try a third of it), lengthen warmup_iters, or keep grad_clip at 1.0".into(),
    ));
}

/// Val loss rose from its minimum by a meaningful margin, or the val−train gap keeps growing.
fn overfitting(e: &Evidence, out: &mut Vec<Finding>) -> bool {
    let evals = finite_evals(e);
    if evals.len() < 3 {
        return false;
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
        return false;
    }
    let gap_text =
        format!("val−train gap {:.3} at step {} (was {:.3} at step {})", gaps[gaps.len() - 1], last.step, tail[0], evals[evals.len() - tail.len()].step);
    let (message, evidence) = if rose {
        (
            format!("overfitting: val loss rose {rise:.3} from its minimum {:.4} at step {} to {:.4} at step {}", best.val, best.step, last.val, last.step),
            format!("best val {:.4} @ {}, final val {:.4} @ {}, final train {:.4}; {gap_text}", best.val, best.step, last.val, last.step, last.train),
        )
    } else {
        (format!("overfitting: the gap between val and train loss widened at each of the last {GAP_GROWTH_EVALS} evaluations"), gap_text)
    };
    let stop = if rose { format!("stop at step {} (max_iters={}), ", best.step, best.step) } else { String::new() };
    let dropout = match e.dropout {
        Some(d) if d < 0.2 => format!("raise dropout (now {d}), "),
        _ => String::new(),
    };
    out.push(Finding::new("overfitting", Severity::Warning, message, evidence, format!("{stop}{dropout}use a smaller model, or train on more data")));
    true
}

/// The last PLATEAU_WINDOW of the steps improved val loss by less than PLATEAU_REL.
fn plateau(e: &Evidence, out: &mut Vec<Finding>) {
    let evals = finite_evals(e);
    if evals.len() < MIN_EVALS {
        return;
    }
    let (first, last) = (evals[0].step, evals[evals.len() - 1].step);
    let window_start = last - ((last - first) as f64 * PLATEAU_WINDOW) as u64;
    let before: Vec<f64> = evals.iter().filter(|v| v.step <= window_start).map(|v| v.val).collect();
    let Some(best_before) = before.iter().copied().reduce(f64::min) else { return };
    let best_end = evals.iter().map(|v| v.val).fold(f64::INFINITY, f64::min);
    let gain = (best_before - best_end) / best_before.abs().max(1e-9);
    if gain >= PLATEAU_REL {
        return;
    }
    // Progress stopped at the first eval already within PLATEAU_REL of the final best.
    let stalled = evals.iter().find(|v| (v.val - best_end) / best_end.abs().max(1e-9) < PLATEAU_REL).expect("the best eval qualifies");
    out.push(Finding::new(
        "plateau",
        Severity::Warning,
        format!(
            "plateau: val loss improved by {:.2}% over the last {:.0}% of training; progress stopped around step {}",
            gain * 100.0,
            PLATEAU_WINDOW * 100.0,
            stalled.step
        ),
        format!(
            "best val {best_before:.4} by step {window_start}, {best_end:.4} by step {last}; within {:.0}% of the final best from step {}",
            PLATEAU_REL * 100.0,
            stalled.step
        ),
        format!("stop at step {} (max_iters={}) or change what limits the model: more data, a bigger model, a different lr", stalled.step, stalled.step),
    ));
    lr_high_at(e, stalled.step, out);
}

fn lr_high_at(e: &Evidence, step: u64, out: &mut Vec<Finding>) {
    let (Some(lr), Some(s)) = (e.lr_at(step), e.schedule) else { return };
    if lr > LR_HIGH_FRACTION_OF_PEAK * s.lr && lr > LR_HIGH_OVER_MIN * s.min_lr {
        let target = (s.min_lr / 3.0).max(s.lr / 100.0);
        out.push(Finding::new(
            "lr_high_at_plateau",
            Severity::Warning,
            format!("the learning rate was still {lr:.2e} ({:.0}% of its peak) when the curve flattened at step {step}", lr / s.lr * 100.0),
            format!("lr {lr:.3e} at step {step}; peak {:.3e}, min_lr {:.3e}, decay ends at step {}", s.lr, s.min_lr, s.lr_decay_iters),
            format!(
                "let the cosine reach its end sooner (lr_decay_iters={step}) or lower min_lr to {target:.0e}: the last stretch at low lr usually gains more"
            ),
        ));
    }
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
