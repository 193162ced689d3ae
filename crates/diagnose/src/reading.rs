//! What the checks established about a run, kept as numbers so that the one-line verdict
//! can combine them the way an expert would (the findings are the same facts in detail).

/// How the curve ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Turn {
    /// Val rose from its minimum by more than noise.
    Overfit { step: u64, rise: f64 },
    /// The best val is followed by evals that are all higher, by less than overfitting.
    Stopped { step: u64 },
    /// Val kept improving, but by little against what the run had learned before.
    Flattened { step: u64 },
}

impl Turn {
    pub fn step(&self) -> u64 {
        match self {
            Turn::Overfit { step, .. } | Turn::Stopped { step, .. } | Turn::Flattened { step } => *step,
        }
    }
}

/// Why the run may be seeing the same tokens again.
#[derive(Debug, Clone, PartialEq)]
pub enum Repetition {
    /// More than one pass over the training tokens.
    Epochs(f64),
    /// Epochs unknown, but the dataset's name says it is one shard.
    SingleShard(String),
}

impl Repetition {
    /// "82 epochs over the data" or "a single shard, `fineweb_edu_shard0`".
    pub fn words(&self) -> String {
        match self {
            Repetition::Epochs(n) => format!("{} epochs over the training tokens", crate::words::about(*n)),
            Repetition::SingleShard(name) => format!("the dataset {name:?} is a single shard"),
        }
    }
}

/// Tokens seen per parameter against the compute-optimal ~20.
#[derive(Debug, Clone, PartialEq)]
pub struct Budget {
    pub per_param: f64,
    /// per_param / 20.
    pub ratio: f64,
    /// Unique training tokens per parameter when far too few for the model (data-starved):
    /// a bigger model is not the answer then.
    pub unique_per_param: Option<f64>,
}

/// The learning rate where the curve turned.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct LrAtTurn {
    pub lr: f64,
    pub over_min: f64,
    pub share_of_peak: f64,
    /// High enough that decaying it further would likely lower the loss.
    pub high: bool,
}

#[derive(Debug, Clone, Default, PartialEq)]
pub struct Reading {
    /// Step and loss where training blew up: the rest of the curve means nothing then.
    pub diverged: Option<(u64, f64)>,
    pub turn: Option<Turn>,
    /// When the curve did not turn and its last eval is its best: how much lower val is
    /// than at an earlier step (the start of the last quarter, else the eval before).
    pub still_improving: Option<(f64, u64)>,
    /// The step of the last eval (the log's iter lines may go further).
    pub last_eval: Option<u64>,
    /// How many evals with finite losses the curve has.
    pub evals: usize,
    pub last_step: Option<u64>,
    pub lr: Option<LrAtTurn>,
    /// lr at the last step as a multiple of min_lr (1 when the decay finished).
    pub lr_end_over_min: Option<f64>,
    pub budget: Option<Budget>,
    pub repetition: Option<Repetition>,
    /// The memorisation finding's message, when the run memorised its data.
    pub memorised: Option<String>,
}
