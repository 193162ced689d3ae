//! Where a trial's progress goes: each evaluation appended to loss.csv, each logged step to
//! steps.csv, progress lines to stdout (train.log; in a pack each line starts with
//! `[run id] ` and the sweep routes it to that run's log), snapshots saved to
//! resume.safetensors, and a stop when SIGINT arrives. A failed write stops the run rather
//! than let a later resume skip the row it lost.

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use sweep::output::loss_csv::{self, LossRow};
use sweep::output::run_dir::RunDir;
use sweep::output::steps_csv;
use train::{EvalRow, Observer};

pub(crate) struct CsvObserver {
    path: PathBuf,
    steps: steps_csv::Appender,
    resume: PathBuf,
    /// "" alone, "[run id] " in a pack.
    prefix: String,
    stop: Arc<AtomicBool>,
    pub(crate) error: Option<String>,
}

impl CsvObserver {
    pub(crate) fn new(dir: &RunDir, stop: Arc<AtomicBool>, packed: bool) -> Self {
        let prefix = if packed { format!("[{}] ", dir.id()) } else { String::new() };
        CsvObserver { path: dir.loss_csv(), steps: steps_csv::Appender::new(&dir.steps_csv()), resume: dir.resume_state(), prefix, stop, error: None }
    }
}

impl Observer for CsvObserver {
    fn on_eval(&mut self, r: &EvalRow) {
        let row = LossRow { step: r.step, tokens_seen: r.tokens_seen, lr: r.lr, train_loss: r.train_loss, val_loss: r.val_loss, elapsed_s: r.elapsed_s };
        if let Err(e) = loss_csv::append(&self.path, &row) {
            self.error.get_or_insert_with(|| format!("cannot append to {}: {e}", self.path.display()));
        }
    }
    fn on_log(&mut self, line: &str) {
        let mut out = std::io::stdout();
        if let Err(e) = writeln!(out, "{}{line}", self.prefix).and_then(|_| out.flush()) {
            self.error.get_or_insert_with(|| format!("writing train.log: {e}"));
        }
    }
    fn on_step(&mut self, step: u64, loss: f64) {
        if let Err(e) = self.steps.append(step, loss) {
            self.error.get_or_insert_with(|| format!("cannot append to steps.csv: {e}"));
        }
    }
    fn on_checkpoint(&mut self, snapshot: &train::Snapshot) -> Result<(), train::TrainError> {
        // A row of loss.csv or train.log that could not be written must not be skipped by a
        // resume: no checkpoint past it.
        if let Some(e) = &self.error {
            return Err(train::TrainError::Checkpoint { path: self.path.display().to_string(), message: format!("no checkpoint after a failed write: {e}") });
        }
        snapshot.save(&self.resume)
    }
    fn should_stop(&mut self) -> bool {
        self.stop.load(Ordering::SeqCst) || self.error.is_some()
    }
}

/// A line for train.log that does not panic when the log's filesystem is full.
pub(crate) fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}").and_then(|_| out.flush());
}
