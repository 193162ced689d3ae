//! Diagnosis of a training run from its numbers: the findings an expert reads off a loss
//! curve and its context (divergence, overfitting, the turn of the curve and the learning
//! rate there, epochs and repeated data, tokens per parameter against the compute-optimal
//! ~20, real versus claimed size, dropout effects, instability, MFU on the GPU used,
//! memorisation, data too small), each with evidence and an action, and one verdict
//! sentence that combines them.
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
mod reading;
mod render;
pub mod sweep_level;
pub mod thresholds;
mod verdict;
mod words;

pub use evidence::{Eval, Evidence, Iter, Params, Schedule};
pub use finding::{Finding, Severity};
pub use memorisation::{longest_verbatim, ngram_share};
pub use render::render_text;

/// What diagnosis says of one run: the verdict sentence and the findings behind it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Diagnosis {
    /// One sentence combining the findings, read first.
    pub verdict: String,
    /// Every finding the evidence supports, most severe first.
    pub findings: Vec<Finding>,
}

pub fn diagnose(e: &Evidence) -> Diagnosis {
    let mut r = reading::Reading { repetition: budget::repetition(e), ..Default::default() };
    let mut out = Vec::new();
    curve::check(e, &mut r, &mut out);
    budget::check(e, &mut r, &mut out);
    mfu::check(e, &mut out);
    r.memorised = memorisation::check(e, &mut out);
    out.sort_by_key(|f| std::cmp::Reverse(f.severity));
    Diagnosis { verdict: verdict::sentence(e, &r), findings: out }
}
