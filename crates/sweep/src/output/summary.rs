//! `summary.json`: how a run ended and the numbers that judge it. "Done" means this file
//! exists with `status: done`; that is what a rerun skips on.

use indexmap::IndexMap;
use serde::{Deserialize, Serialize};
use serde_json::Value;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Trained to max_iters; all artifacts written.
    Done,
    /// Could not train (bad data, out of memory, crash); `error` says why.
    Failed,
    /// The loss became NaN or infinite or exploded; training stopped there.
    Diverged,
    /// Stopped by Ctrl-C after saving its training state; the next `sweep run` resumes it.
    Interrupted,
    /// Stopped by early termination (`early_stop:`) because it was clearly losing; its
    /// state is saved, and `sweep run --resume-pruned` continues it.
    Pruned,
}

fn one() -> u32 {
    1
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Done => "done",
            Status::Failed => "failed",
            Status::Diverged => "diverged",
            Status::Interrupted => "interrupted",
            Status::Pruned => "pruned",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Summary {
    pub run_id: String,
    pub status: Status,
    /// The swept values of this run.
    pub params: IndexMap<String, Value>,
    /// Lowest val loss over all evaluations (what `--by val_loss` ranks on).
    pub best_val_loss: Option<f64>,
    pub best_step: Option<u64>,
    pub final_val_loss: Option<f64>,
    pub final_train_loss: Option<f64>,
    /// exp(best_val_loss): the effective number of equally likely next tokens.
    pub perplexity: Option<f64>,
    /// Exact trainable parameters (LM head tied, counted once).
    pub n_params: Option<u64>,
    /// Parameters without position embeddings, as nanoGPT prints them.
    pub n_params_no_pos: Option<u64>,
    pub vocab_size: Option<usize>,
    /// Training tokens consumed (steps × batch_size × grad_accum_steps × block_size).
    pub tokens_seen: Option<u64>,
    /// Tokens in the training split.
    pub train_tokens: Option<u64>,
    /// tokens_seen / train_tokens.
    pub epochs: Option<f64>,
    pub steps: Option<u64>,
    pub wall_seconds: f64,
    pub tokens_per_second: Option<f64>,
    /// Training FLOP/s achieved (tokens_per_second × FLOPs per token, nanoGPT's estimate), in GFLOP/s.
    pub gflops: Option<f64>,
    /// "cpu", or "cuda:N (GPU name)".
    pub device: Option<String>,
    /// Why the run failed or diverged.
    pub error: Option<String>,
    /// Trial processes started for this run by the last `sweep run` (retries count).
    #[serde(default = "one")]
    pub attempts: u32,
    /// The diagnosis in one sentence (see the diagnose crate): how the curve ended, why,
    /// and what will help.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verdict: Option<String>,
    /// What the diagnosis read off this run (see the diagnose crate).
    #[serde(default)]
    pub findings: Vec<diagnose::Finding>,
    /// Set (in memory only) when the run stopped because the output filesystem failed:
    /// the sweep must stop too. Such a run is `interrupted`, never `failed`.
    #[serde(skip)]
    pub storage: Option<crate::output::disk::Cause>,
    /// Why and where early termination stopped it (status `pruned`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pruned: Option<Pruned>,
    /// The runs it trained with in one packed model (`--pack`): its wall time is the pack's,
    /// and its tokens/s and GFLOP/s are its share of the pack's.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub packed_with: Vec<String>,
    /// The Slurm array task that trained it last (`--backend slurm`), with Slurm's state
    /// and reason when the task ended without finishing it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slurm: Option<crate::output::worker::Task>,
    /// Peak resident memory of the trial process (Linux's VmHWM), in MB; a pack's members
    /// share one process. With the corpus memory-mapped it does not grow with the corpus.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_rss_mb: Option<f64>,
    /// Seconds the trial took to open its corpus (check and map the token cache) before step 0.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub data_load_seconds: Option<f64>,
    /// The GPU it trained on, when the sweep placed it on one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gpu: Option<GpuUse>,
    /// The run folder of an earlier sweep (`warm_start:`) this result was imported from:
    /// not trained by this sweep.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub imported_from: Option<String>,
}

/// The GPU a trial was placed on (also `gpu.json` in its folder while it runs).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
pub struct GpuUse {
    /// The machine's index of the GPU (nvidia-smi's).
    pub index: usize,
    pub name: String,
    /// `CUDA_VISIBLE_DEVICES` as the trial process saw it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cuda_visible_devices: String,
    /// The placement's estimate of the trial's GPU memory, in bytes.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub estimate_bytes: Option<u64>,
    /// Other trials on the GPU when it started.
    #[serde(default)]
    pub neighbours: usize,
    /// What CUDA said the process held when it ran out of memory.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub peak_at_oom: Option<String>,
}

/// Where early termination stopped a run, and what that saved.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Pruned {
    /// The step at which it was compared with the others and stopped.
    pub at_step: u64,
    /// The steps it would have trained to the end (its max_iters).
    pub max_iters: u64,
    /// The comparison, in words (also in the sweep's early_stop.jsonl).
    pub rule: String,
}

impl Summary {
    /// A summary for a run that never produced numbers.
    pub fn failed(run_id: &str, params: IndexMap<String, Value>, wall_seconds: f64, error: String) -> Self {
        Summary {
            run_id: run_id.to_string(),
            status: Status::Failed,
            params,
            best_val_loss: None,
            best_step: None,
            final_val_loss: None,
            final_train_loss: None,
            perplexity: None,
            n_params: None,
            n_params_no_pos: None,
            vocab_size: None,
            tokens_seen: None,
            train_tokens: None,
            epochs: None,
            steps: None,
            wall_seconds,
            tokens_per_second: None,
            gflops: None,
            device: None,
            error: Some(error),
            attempts: 1,
            verdict: None,
            findings: Vec::new(),
            storage: None,
            pruned: None,
            peak_rss_mb: None,
            data_load_seconds: None,
            gpu: None,
            packed_with: Vec::new(),
            slurm: None,
            imported_from: None,
        }
    }

    /// A run stopped by a failing output filesystem: interrupted, resumable by a rerun.
    /// `detail` is the error that stopped it; the summary names only the file being written.
    pub fn storage_interrupted(run_id: &str, params: IndexMap<String, Value>, wall_seconds: f64, cause: crate::output::disk::Cause, detail: &str) -> Self {
        let file = detail
            .split(|c: char| c.is_whitespace() || c == ':' || c == '"')
            .find(|t| t.contains('/'))
            .and_then(|t| std::path::Path::new(t).file_name())
            .map_or("its run folder".to_string(), |f| f.to_string_lossy().into_owned());
        let mut s = Summary::failed(run_id, params, wall_seconds, format!("{} while writing {file}; the next `sweep run` resumes it", cause.describe()));
        s.status = Status::Interrupted;
        s.storage = Some(cause);
        s
    }

    /// A metric by name for ranking: any numeric summary field, `val_loss` for
    /// best_val_loss, or any swept parameter.
    pub fn metric(&self, name: &str) -> Option<Value> {
        let name = if name == "val_loss" { "best_val_loss" } else { name };
        let json = serde_json::to_value(self).ok()?;
        json.get(name).filter(|v| !v.is_null()).cloned().or_else(|| self.params.get(name).cloned())
    }
}

impl Summary {
    /// The status as shown in lists: `done`, `pruned@100` with the step that pruned it, or
    /// `done (imported)` for a run a warm start brought in.
    pub fn status_text(&self) -> String {
        let text = match &self.pruned {
            Some(p) if self.status == Status::Pruned => format!("pruned@{}", p.at_step),
            _ => self.status.as_str().to_string(),
        };
        if self.imported_from.is_some() { format!("{text} (imported)") } else { text }
    }

    /// Codes of the warning and problem findings, e.g. "overfitting,epochs".
    pub fn finding_codes(&self) -> Vec<&str> {
        self.findings.iter().filter(|f| f.severity > diagnose::Severity::Info).map(|f| f.code.as_str()).collect()
    }
}
