//! The progress bar's time left, from the same model as the plan's estimate: the predicted
//! seconds of every run not finished yet, scaled by how long the finished runs really took
//! against their own prediction, laid out on the workers in the order the scheduler starts
//! them (longest first; plan order when early termination runs in plan order).

use crate::plan::estimate;
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Instant;

pub struct Eta {
    /// Pending run ids in the order the scheduler starts them, with predicted seconds.
    order: Vec<(String, f64)>,
    /// Whether the predictions are seconds, or only relative costs (FLOPs) that the first
    /// finished run turns into seconds.
    in_seconds: bool,
    jobs: usize,
    state: Mutex<State>,
}

#[derive(Default)]
struct State {
    started: HashMap<String, Instant>,
    /// Seconds a run took, or None for one that turned out to need no training here.
    finished: HashMap<String, Option<f64>>,
}

impl Eta {
    /// `order`: the runs to train, in order; `predicted`: seconds (or, when not
    /// `in_seconds`, relative costs) by run id; runs without a prediction count as zero.
    pub fn new<'a>(order: impl IntoIterator<Item = &'a str>, predicted: &HashMap<String, f64>, in_seconds: bool, jobs: usize) -> Self {
        let order = order.into_iter().map(|id| (id.to_string(), predicted.get(id).copied().unwrap_or(0.0))).collect();
        Eta { order, in_seconds, jobs, state: Mutex::new(State::default()) }
    }

    pub fn started(&self, id: &str) {
        self.lock().started.insert(id.to_string(), Instant::now());
    }

    pub fn finished(&self, id: &str) {
        let mut s = self.lock();
        let took = s.started.remove(id).map_or(0.0, |t| t.elapsed().as_secs_f64());
        s.finished.insert(id.to_string(), Some(took));
    }

    /// A run that needs no training here after all (done or claimed by another worker).
    pub fn dropped(&self, id: &str) {
        let mut s = self.lock();
        s.started.remove(id);
        s.finished.insert(id.to_string(), None);
    }

    /// Seconds until every run is finished, or None when nothing was predicted.
    pub fn left(&self) -> Option<f64> {
        let s = self.lock();
        let predicted_done: f64 = self.order.iter().filter(|(id, _)| s.finished.get(id).is_some_and(Option::is_some)).map(|(_, p)| p).sum();
        let took: f64 = s.finished.values().flatten().sum();
        if self.order.iter().all(|(_, p)| *p == 0.0) || (!self.in_seconds && predicted_done == 0.0) {
            return None;
        }
        // How much slower (>1) or faster this machine is now than the estimate said.
        let ratio = if predicted_done > 0.0 && took > 0.0 { took / predicted_done } else { 1.0 };
        let mut busy = Vec::new();
        let mut waiting = Vec::new();
        for (id, p) in &self.order {
            if s.finished.contains_key(id) {
                continue;
            }
            match s.started.get(id) {
                Some(t) => busy.push((p * ratio - t.elapsed().as_secs_f64()).max(0.0)),
                None => waiting.push(p * ratio),
            }
        }
        Some(estimate::makespan_after(&busy, &waiting, self.jobs))
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_the_rest_by_how_finished_runs_compared() {
        let predicted: HashMap<String, f64> = [("a", 0.05), ("b", 10.0), ("c", 10.0)].into_iter().map(|(k, v)| (k.to_string(), v)).collect();
        let eta = Eta::new(["a", "b", "c"], &predicted, true, 1);
        assert_eq!(eta.left(), Some(20.05));
        eta.started("a");
        std::thread::sleep(std::time::Duration::from_millis(100));
        eta.finished("a");
        // "a" took at least twice its prediction: the two 10 s runs now take 20 s or more each.
        let left = eta.left().unwrap();
        assert!(left >= 39.9, "{left}");
        assert_eq!(Eta::new(["x"], &HashMap::new(), true, 2).left(), None);
        // Relative costs say nothing until a run has finished.
        let relative = Eta::new(["a", "b", "c"], &predicted, false, 1);
        assert_eq!(relative.left(), None);
        relative.started("a");
        relative.finished("a");
        assert!(relative.left().is_some());
    }
}
