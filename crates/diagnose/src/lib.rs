//! Diagnosis of a training run from its numbers: the handful of findings an expert reads
//! off a loss curve and its context (overfitting, plateau, epochs over the data, tokens per
//! parameter, real versus claimed size, dropout effects, learning rate at the plateau,
//! instability, MFU, memorisation, data too small), each with evidence and an action.
//!
//! Input is an `Evidence` (from a run folder or a parsed nanoGPT log); a finding whose
//! inputs are missing is skipped, never guessed. No I/O here except in `nanogpt_log`.

mod budget;
mod curve;
mod evidence;
mod finding;
mod memorisation;
pub mod mfu;
pub mod nanogpt_log;
mod render;
pub mod sweep_level;
pub mod thresholds;

pub use evidence::{Eval, Evidence, Iter, Params, Schedule};
pub use finding::{Finding, Severity};
pub use memorisation::{longest_verbatim, ngram_share};
pub use render::render_text;

/// Every finding the evidence supports, most severe first.
pub fn diagnose(e: &Evidence) -> Vec<Finding> {
    let mut out = Vec::new();
    curve::check(e, &mut out);
    budget::check(e, &mut out);
    mfu::check(e, &mut out);
    memorisation::check(e, &mut out);
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    out
}
