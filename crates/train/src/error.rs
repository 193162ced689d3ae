//! Errors from building, training, saving and loading a model.

#[derive(Debug, thiserror::Error)]
pub enum TrainError {
    #[error(transparent)]
    Data(#[from] corpus::DataError),
    #[error("invalid config: {0}")]
    Config(String),
    #[error("device {requested:?} is not available ({reason})")]
    Device { requested: String, reason: String },
    #[error("out of memory at step {step}: {message}; lower batch_size or block_size")]
    OutOfMemory { step: u64, message: String },
    #[error("libtorch error at step {step}: {source}")]
    Torch {
        step: u64,
        #[source]
        source: tch::TchError,
    },
    #[error("checkpoint {path}: {message}")]
    Checkpoint { path: String, message: String },
}

impl TrainError {
    /// Wraps a libtorch error raised during step `step`, recognising out-of-memory.
    pub fn torch(step: u64, source: tch::TchError) -> Self {
        let text = source.to_string();
        if text.contains("out of memory") || text.contains("DefaultCPUAllocator: can't allocate memory") {
            let first = text.lines().next().unwrap_or_default().to_string();
            TrainError::OutOfMemory { step, message: first }
        } else {
            TrainError::Torch { step, source }
        }
    }
}
