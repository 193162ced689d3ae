//! FAKE trial runners, for tests only: `FakeRunner` trains nothing and writes a summary
//! whose loss is a function of the run's params (or fails the runs it is told to);
//! `Scripted` writes loss.csv rows from a scripted curve, as a trial would, and stops when
//! early termination asks.

use crate::exec::runner::{Children, TrialRunner};
use crate::output::run_dir::RunDir;
use crate::output::summary::{Status, Summary};
use crate::plan::PlannedRun;
use std::sync::Arc;

pub struct FakeRunner {
    /// Run ids that fail.
    pub fail: Vec<String>,
    pub calls: std::sync::Mutex<Vec<String>>,
}

impl FakeRunner {
    pub fn new(fail: &[&str]) -> Self {
        FakeRunner { fail: fail.iter().map(|s| s.to_string()).collect(), calls: Default::default() }
    }
}

impl TrialRunner for FakeRunner {
    fn run(&self, run: &PlannedRun, dir: &RunDir) -> Summary {
        self.calls.lock().unwrap().push(run.id.clone());
        let mut s = Summary::failed(&run.id, run.params.clone(), 0.01, "fake failure".into());
        if !self.fail.contains(&run.id) {
            let loss = 2.0 + run.config.train.lr * 100.0 + run.config.model.dropout;
            s.status = Status::Done;
            s.error = None;
            s.best_val_loss = Some(loss);
            s.final_val_loss = Some(loss);
        }
        dir.write_summary(&s).unwrap();
        s
    }
}

/// A trial runner that follows a scripted val-loss curve, one evaluation every
/// eval_interval steps, continuing after the last row of loss.csv (as a trial resumes
/// from its checkpoint). At each decision step it waits until early termination has
/// decided it (a trial slower than the rung watcher's look), then stops when asked to, as a
/// real trial does on SIGINT.
pub struct Scripted {
    pub curve: fn(&PlannedRun, u64) -> f64,
    pub decision_steps: Vec<u64>,
    pub sweep_dir: std::path::PathBuf,
    pub children: std::sync::Arc<Children>,
    pub calls: std::sync::Mutex<Vec<String>>,
    /// Stops the whole sweep (as Ctrl-C does) once this run has evaluated this step.
    pub interrupt: Option<(String, u64, Arc<crate::exec::control::Control>)>,
    /// Milliseconds each evaluation of a run takes (0: at once), to make runs reach their
    /// rungs in a chosen order.
    pub eval_ms: fn(&PlannedRun) -> u64,
}

impl TrialRunner for Scripted {
    fn run(&self, run: &PlannedRun, dir: &RunDir) -> Summary {
        use crate::output::loss_csv::{self, LossRow};
        self.calls.lock().unwrap().push(run.id.clone());
        let t = &run.config.train;
        let mut rows = loss_csv::read_complete(&dir.loss_csv());
        if rows.is_empty() {
            loss_csv::create(&dir.loss_csv()).unwrap();
        }
        let start = rows.last().map_or(0, |r| r.step + t.eval_interval);
        let mut stopped = false;
        for step in (start..=t.max_iters).step_by(t.eval_interval as usize) {
            std::thread::sleep(std::time::Duration::from_millis((self.eval_ms)(run)));
            let val = (self.curve)(run, step);
            let row = LossRow { step, tokens_seen: step, lr: t.lr, train_loss: val, val_loss: val, elapsed_s: 0.0 };
            loss_csv::append(&dir.loss_csv(), &row).unwrap();
            rows.push(row);
            if let Some((id, at, control)) = &self.interrupt
                && *id == run.id
                && *at == step
            {
                control.stop();
            }
            let waited = std::time::Instant::now();
            while self.decision_steps.contains(&step)
                && !self.children.stop_asked(&run.id)
                && !crate::prune::log::by_run_step(&self.sweep_dir).contains_key(&(run.id.clone(), step))
                && waited.elapsed().as_secs() < 10
            {
                std::thread::sleep(std::time::Duration::from_millis(5));
            }
            if self.children.stop_asked(&run.id) && step < t.max_iters {
                stopped = true;
                break;
            }
        }
        let last = rows.last().cloned();
        let best = rows.iter().map(|r| r.val_loss).fold(f64::INFINITY, f64::min);
        let mut s = Summary::failed(&run.id, run.params.clone(), 0.01, "interrupted".into());
        s.status = if stopped { Status::Interrupted } else { Status::Done };
        s.error = stopped.then(|| "interrupted".to_string());
        s.steps = last.as_ref().map(|r| r.step);
        s.final_val_loss = last.map(|r| r.val_loss);
        s.best_val_loss = Some(best);
        dir.write_summary(&s).unwrap();
        s
    }
}
