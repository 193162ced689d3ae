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

/// The plateau window: the last quarter of the steps, as people judge "the end of training".
pub const PLATEAU_WINDOW: f64 = 0.25;
/// Less than 1% relative improvement over that window is a plateau.
pub const PLATEAU_REL: f64 = 0.01;
/// Need this many evals to say anything about the shape of the curve.
pub const MIN_EVALS: usize = 4;

/// At the plateau, lr above half its peak is "still high" (cosine has barely started)…
pub const LR_HIGH_FRACTION_OF_PEAK: f64 = 0.5;
/// …and it must also be well above min_lr (2×), or decaying further would not change it.
pub const LR_HIGH_OVER_MIN: f64 = 2.0;

/// More than one pass over the data is repetition; more than 10 is heavy repetition, where
/// Muennighoff et al. (2023) find extra epochs stop helping.
pub const EPOCHS_MANY: f64 = 10.0;

/// Compute-optimal training sees about 20 tokens per parameter (Hoffmann et al., 2022).
pub const CHINCHILLA_TOKENS_PER_PARAM: f64 = 20.0;
/// "Far" from compute-optimal: a factor of 10 either way.
pub const FAR_FACTOR: f64 = 10.0;

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
