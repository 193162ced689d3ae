//! Every threshold diagnosis uses, with the reason for its value.

/// Val loss must rise at least this much (nats) above its minimum to call it overfitting:
/// eval noise with ~10–200 batches is a few hundredths of a nat.
pub const OVERFIT_MIN_RISE: f64 = 0.03;
/// …and at least this fraction of the minimum, so large losses need a larger rise.
pub const OVERFIT_MIN_RISE_REL: f64 = 0.01;
/// The val−train gap counts as "growing" when it widened at each of this many last evals…
pub const GAP_GROWTH_EVALS: usize = 3;
/// …and ended at least this wide (nats): a narrow gap is normal generalisation error
/// (it must also have grown by more than val fell over those evals).
pub const GAP_MIN: f64 = 0.3;

/// The turn of the curve is judged over the last quarter of the steps, as people judge
/// "the end of training", against the quarter before it.
pub const PLATEAU_WINDOW: f64 = 0.25;
/// A curve still on its power law (val − floor ∝ steps^−α, α from 0.3 to 1) gains 50–70% as
/// much in the last quarter of its steps as in the quarter before (and more while the lr
/// decays at the end). Gaining less than a quarter as much is a curve that has flattened.
pub const PLATEAU_SHARE: f64 = 0.25;
/// The second half of the steps gaining less than 0.5% of everything the run learned since
/// its first eval is flat, whatever the quarters say (both quarters near zero).
pub const FLAT_SHARE: f64 = 0.005;
/// Need this many evals to say anything about the shape of the curve.
pub const MIN_EVALS: usize = 4;
/// Comparing the last two quarters needs this many evals in the last half: with fewer, a
/// quarter is one eval interval and the fast first phase (learning the unigram
/// distribution) still sits in the quarter before, which makes any curve look flat.
pub const MIN_EVALS_LAST_HALF: usize = 3;
/// The best val followed by at least this many evals, all higher, is "stopped improving"
/// even when the rise is too small to call overfitting: one higher eval is often noise…
pub const STOPPED_EVALS_AFTER: usize = 2;
/// …and the highest of them must exceed the best by this many times the eval noise, which
/// is estimated from the scatter of the last half's evals (median absolute second
/// difference ÷ (0.6745·√6), the standard deviation of white noise); within that, the
/// curve is level with its best, not turned.
pub const STOPPED_NOISE_FACTOR: f64 = 2.0;
/// "What the run has learned" is counted from the first eval at least this far into the
/// run: the first few percent of steps only learn the unigram distribution (from ln V, about
/// 10.8 nats for GPT-2's vocabulary, to about 7.5), which would dwarf everything after.
pub const LEARNED_FROM: f64 = 0.1;
/// Train loss at the last eval this much above its minimum (relative) is a run coming apart,
/// not overfitting (overfitting lowers train loss): a cosine-scheduled run's train loss
/// only ever drifts up by eval noise, a few percent at most.
pub const TRAIN_RISE_UNSTABLE: f64 = 0.1;

/// At the turn, lr at least 2× min_lr is "still high": decaying to min_lr would still halve
/// it, and the drop that comes with the final decay has not happened yet…
pub const LR_HIGH_OVER_MIN: f64 = 2.0;
/// …and at least 10% of the peak, so a schedule with min_lr = 0 is judged too (nanoGPT's
/// min_lr is a tenth of the peak, where both rules agree).
pub const LR_HIGH_FRACTION_OF_PEAK: f64 = 0.1;

/// More than one pass over the data is repetition; more than 10 is heavy repetition, where
/// Muennighoff et al. (2023) find extra epochs stop helping.
pub const EPOCHS_MANY: f64 = 10.0;

/// Compute-optimal training sees about 20 tokens per parameter (Hoffmann et al., 2022).
pub const CHINCHILLA_TOKENS_PER_PARAM: f64 = 20.0;
/// "Far" short of compute-optimal: a tenth of it (2 tokens per parameter).
pub const FAR_FACTOR: f64 = 10.0;
/// Under half of compute-optimal (10 tokens per parameter) is "short of" it in words (the
/// warning comes only far short, below FAR_FACTOR).
pub const SHORT_RATIO: f64 = 0.5;
/// From 5× past compute-optimal (100 tokens per parameter) the size is spent: the
/// compute-optimal model for the same FLOPs is then √5 ≈ 2.2× larger, beyond the flat bottom
/// of Hoffmann et al.'s IsoFLOP curves, so a bigger model buys more than the extra steps.
pub const SPENT_FACTOR: f64 = 5.0;

/// A name claiming a size more than 1.5× off the real count is mislabelled (e.g. "125M"
/// for 40M); within 1.5× covers 124M vs 125M and counting with or without embeddings.
pub const SIZE_CLAIM_RATIO: f64 = 1.5;

/// Val below train by at least this (nats) on the last evals is more than noise.
pub const VAL_BELOW_TRAIN_MARGIN: f64 = 0.01;

/// A logged step loss this many median absolute deviations above the median of the
/// preceding window is a spike (normal step-to-step noise stays within ~3 MADs)…
pub const SPIKE_MADS: f64 = 8.0;
/// …and at least 20% above that median, so flat near-noiseless curves do not trigger.
pub const SPIKE_MIN_REL: f64 = 0.2;
/// Steps in the window before a point that define "recent noise".
pub const SPIKE_WINDOW: usize = 20;

/// Below 10% MFU a GPU mostly waits (nanoGPT reaches ~40% for GPT-2 on an A100).
pub const LOW_MFU: f64 = 0.10;
/// From 35% MFU the GPU spends most of its time on model math: well-tuned GPT training
/// reaches 35–60%, so the loop is not what limits speed.
pub const GOOD_MFU: f64 = 0.35;
/// Above 75% MFU is beyond what dense transformer training reaches (the best reported runs
/// are near 60%): the GPU named for the run cannot be the one it used.
pub const PLAUSIBLE_MFU: f64 = 0.75;

/// Train loss under 0.05 nats means the model gives its training text ≥95% probability per
/// token: it has stored the text, not modelled the language.
pub const MEMORISED_TRAIN_LOSS: f64 = 0.05;
/// A sample copying 60+ characters of training text verbatim (longer than a typical
/// line of verse or a sentence) is reciting, not generating.
pub const VERBATIM_CHARS: usize = 60;
/// n-gram length (characters) for the share of sample text found in the training text.
pub const NGRAM_CHARS: usize = 12;
/// Most of the sample's 12-character spans found verbatim in training data means copying.
pub const NGRAM_SHARE: f64 = 0.6;

/// Fewer training tokens than 20 contexts means almost every batch repeats the same windows.
pub const MIN_CONTEXTS: u64 = 20;
