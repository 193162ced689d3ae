//! The one sentence a person reads first: how the curve ended, what explains it (tokens per
//! parameter, repeated data, the learning rate at the turn), and what will help.

use crate::Evidence;
use crate::reading::{Reading, Repetition, Turn};
use crate::thresholds::{FAR_FACTOR, LR_HIGH_OVER_MIN, MIN_EVALS, SHORT_RATIO, SPENT_FACTOR};
use crate::words::{about, lr as lr_words, steps, times};

pub fn sentence(e: &Evidence, r: &Reading) -> String {
    if let Some((step, loss)) = r.diverged {
        let lr = e.lr_at(step).map(|lr| format!(" with lr {}", lr_words(lr))).unwrap_or_default();
        return format!(
            "Diverged at step {} (loss {loss}){lr}: lower the lr (a third), lengthen warmup or clip gradients and run again; the curve after that point means nothing.",
            steps(step)
        );
    }
    let of = r.last_step.map(|l| format!(" of {}", steps(l))).unwrap_or_default();
    let b = r.budget.as_ref();
    let starved = b.is_some_and(|b| b.unique_per_param.is_some());
    let spent = b.is_some_and(|b| b.ratio >= SPENT_FACTOR && b.unique_per_param.is_none());
    let short = b.is_some_and(|b| b.ratio < 1.0 / FAR_FACTOR);
    let repeated = r.repetition.is_some();

    let mut causes = Vec::new();
    if let Some(b) = b {
        causes.push(if let Some(u) = b.unique_per_param {
            format!("{} unique training tokens per parameter", about(u))
        } else if b.ratio < SHORT_RATIO {
            format!("{} tokens per parameter ({} short of compute-optimal)", about(b.per_param), times(1.0 / b.ratio))
        } else {
            format!("~{} tokens per parameter ({} compute-optimal)", about(b.per_param), times(b.ratio))
        });
    }
    match &r.repetition {
        Some(Repetition::Epochs(n)) => causes.push(format!("on repeated data ({} epochs)", about(*n))),
        Some(Repetition::SingleShard(_)) => causes.push("on repeated data".into()),
        None => {}
    }
    if let Some(at) = r.lr.filter(|a| a.high) {
        causes.push(if at.over_min == 1.0 {
            "with the lr never decayed".to_string()
        } else if at.over_min.is_finite() {
            format!("with lr still {:.0}× min_lr", at.over_min)
        } else {
            format!("with lr still {:.0}% of its peak", at.share_of_peak * 100.0)
        });
    }

    let (head, advice) = if r.memorised.is_some() {
        ("Memorised its training data".to_string(), "use far more text, a much smaller model or fewer steps".to_string())
    } else {
        match &r.turn {
            Some(Turn::Overfit { step, rise, .. }) => {
                // Dropout is advice only where it is low (nanoGPT's small-data recipe uses 0.2).
                let dropout = match e.dropout {
                    Some(d) if d >= 0.2 => String::new(),
                    _ => ", more dropout".to_string(),
                };
                let head = if *rise > 0.0 {
                    format!("Overfit from step {}{of} (val then rose {rise:.3})", steps(*step))
                } else {
                    format!("Overfitting from step {}{of} (the val−train gap keeps widening)", steps(*step))
                };
                let advice = match (*rise > 0.0, starved || repeated) {
                    (true, true) => {
                        format!("more data will help most; a smaller model{dropout} or stopping at step {} will too, more steps will not", steps(*step))
                    }
                    (true, false) => format!("stop at step {}, use more data or a smaller model{dropout}; more steps will not help", steps(*step)),
                    (false, _) => format!("val still falls, but train falls much faster: more data or a smaller model{dropout} will generalise better"),
                };
                (head, advice)
            }
            Some(turn @ (Turn::Stopped { .. } | Turn::Flattened { .. })) => {
                let head = match turn {
                    Turn::Stopped { step, .. } => format!("Stopped improving at {}{of} steps", steps(*step)),
                    _ => format!("Flattened from about step {}{of}", steps(turn.step())),
                };
                let held = r.lr.is_some_and(|a| a.high && a.over_min == 1.0);
                let decay = if held { "decaying the lr" } else { "decaying the lr sooner" };
                let last_drop = if r.lr.is_some_and(|a| a.high) { format!(" ({decay} gives one last drop)") } else { String::new() };
                let advice = if starved {
                    format!("more data will help; a bigger model or more steps will not{last_drop}")
                } else if spent || repeated {
                    format!("a bigger model or more data will help, more steps will not{last_drop}")
                } else if held {
                    "decay the lr (decay_lr = True, or warmup-stable-decay) and expect a further drop when it falls".to_string()
                } else if r.lr.is_some_and(|a| a.high) {
                    format!("decay the lr sooner (lr_decay_iters ≈ {}) and expect a further drop when it falls", steps(turn.step()))
                } else {
                    "more steps will not help: change the model size, the data or the lr".to_string()
                };
                (head, advice)
            }
            None => {
                let head = match (r.still_improving, r.last_eval) {
                    (Some((gain, since)), Some(last)) => format!("Still improving at step {} (val {gain:.3} lower than at step {})", steps(last), steps(since)),
                    (None, Some(last)) if r.evals >= MIN_EVALS => {
                        format!("No clear turn by step {} (val is not at its best, but not clearly above it)", steps(last))
                    }
                    _ => format!("Too few evaluations ({}) to read the curve's shape", r.evals),
                };
                let undecayed = r.lr_end_over_min.is_some_and(|x| x >= LR_HIGH_OVER_MIN);
                let advice = if starved && r.still_improving.is_some() {
                    "more steps help until it starts to overfit, but the data is far too small for this model: more text will help most".to_string()
                } else if starved {
                    "more data will help; a bigger model will not".to_string()
                } else if short {
                    "train longer: far more steps will pay".to_string()
                } else if spent {
                    "a bigger model would use the compute better than more steps".to_string()
                } else if undecayed {
                    "the lr has not decayed yet: let it reach min_lr and expect a further drop".to_string()
                } else if r.still_improving.is_some() {
                    "a healthy run: to go lower, grow the model and the data together".to_string()
                } else if r.evals >= MIN_EVALS {
                    "a few more evaluations will tell whether it has turned".to_string()
                } else {
                    "log more evaluations (a smaller eval_interval) to read it".to_string()
                };
                (head, advice)
            }
        }
    };
    if causes.is_empty() { format!("{head}; {advice}.") } else { format!("{head}: {}; {advice}.", causes.join(" ")) }
}
