//! What a trained (or stopped) run leaves: loss.png, and when it finished model.safetensors
//! (written under a temporary name, synced, renamed) and samples.txt; and its summary, with
//! the numbers of its curve and throughput and, unless interrupted, its diagnosis.

use crate::observer::say;
use crate::record::Params;
use anyhow::Context;
use corpus::{TokenData, Tokenizer};
use std::time::Instant;
use sweep::output::disk;
use sweep::output::loss_csv::{self, LossRow};
use sweep::output::run_dir::{RunDir, write_atomic};
use sweep::{Status, Summary};
use sweep_config::RunConfig;
use train::{Device, Outcome, Stop};

/// The files of a finished attempt, and its summary with the diagnosis.
#[allow(clippy::too_many_arguments)]
pub(crate) fn finish(
    dir: &RunDir,
    config: &RunConfig,
    params: Params,
    tokenizer: &Tokenizer,
    data: &TokenData,
    out: Outcome,
    observer_error: Option<String>,
    start: Instant,
    prefix: &str,
) -> anyhow::Result<Summary> {
    if let Some(e) = observer_error {
        anyhow::bail!(e);
    }
    let rows = loss_csv::read(&dir.loss_csv()).with_context(|| format!("reading {}", dir.loss_csv().display()))?;
    if let Err(e) = sweep::report::plot::write_loss_png(dir, &dir.id(), &rows, None) {
        let text = format!("{e:#}");
        // A full disk stops the run (and the sweep); anything else only costs the picture.
        if disk::classify(&text).is_some() {
            return Err(e.context(format!("writing {}", dir.loss_png().display())));
        }
        say(&format!("{prefix}warning: cannot draw {}: {text}", dir.loss_png().display()));
    }
    match out.stop {
        Stop::Finished => {
            save_checkpoint(dir, &out)?;
            let text = train::sample::samples_text(&config.sample, tokenizer, &out.model, out.device, &config.sample.prompts, config.train.seed);
            write_atomic(&dir.samples(), text.as_bytes())?;
        }
        Stop::Diverged { .. } => write_atomic(&dir.samples(), b"(no samples: the run diverged)\n")?,
        Stop::Interrupted { .. } => {}
    }
    let mut summary = summarize(dir, config, params, &out, &rows, data.train.len() as u64, start);
    if summary.status != Status::Interrupted {
        let d = diagnose::diagnose(&sweep::output::evidence::from_run_dir(dir, &summary));
        // Drawn again with the diagnosis's verdict under the title.
        if let Err(e) = sweep::report::plot::write_loss_png(dir, &dir.id(), &rows, Some(&d.verdict)) {
            say(&format!("{prefix}warning: cannot draw {}: {e:#}", dir.loss_png().display()));
        }
        summary.verdict = Some(d.verdict);
        summary.findings = d.findings;
    }
    Ok(summary)
}

fn save_checkpoint(dir: &RunDir, out: &Outcome) -> anyhow::Result<()> {
    // VarStore::save picks the format from the extension, so the temporary name keeps it.
    let tmp = dir.path.join("model.tmp.safetensors");
    let saved = train::checkpoint::save(&out.vs, &tmp)
        .map_err(anyhow::Error::from)
        .and_then(|_| std::fs::File::open(&tmp).and_then(|f| f.sync_all()).with_context(|| format!("syncing {}", tmp.display())))
        .and_then(|_| std::fs::rename(&tmp, dir.checkpoint()).with_context(|| format!("renaming into {}", dir.checkpoint().display())));
    if saved.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    saved
}

fn summarize(dir: &RunDir, config: &RunConfig, params: Params, out: &Outcome, rows: &[LossRow], train_tokens: u64, start: Instant) -> Summary {
    let status = match out.stop {
        Stop::Finished => Status::Done,
        Stop::Diverged { .. } => Status::Diverged,
        Stop::Interrupted { .. } => Status::Interrupted,
    };
    let best = rows.iter().filter(|r| r.val_loss.is_finite()).min_by(|a, b| a.val_loss.total_cmp(&b.val_loss));
    let last = rows.last();
    // A resumed run's wall time includes the training time of its earlier attempts.
    let mut s = Summary::failed(&dir.id(), params, start.elapsed().as_secs_f64().max(out.train_seconds), String::new());
    s.status = status;
    s.error = match out.stop {
        Stop::Finished => None,
        Stop::Diverged { step, loss } => Some(format!(
            "diverged: loss {} at step {step}; lower lr or raise warmup_iters",
            if loss.abs() < 1e3 { format!("{loss:.4}") } else { format!("{loss:.3e}") }
        )),
        Stop::Interrupted { next_step } => Some(format!("interrupted after step {next_step}; its state is saved and the next `sweep run` resumes it")),
    };
    s.best_val_loss = best.map(|r| r.val_loss);
    s.best_step = best.map(|r| r.step);
    s.final_val_loss = last.map(|r| r.val_loss);
    s.final_train_loss = last.map(|r| r.train_loss);
    s.perplexity = s.best_val_loss.map(f64::exp);
    s.n_params = Some(out.params.total);
    s.n_params_no_pos = Some(out.params.without_position());
    s.vocab_size = Some(out.vocab_size);
    s.tokens_seen = Some(out.tokens_seen);
    s.train_tokens = Some(train_tokens);
    s.epochs = Some(out.tokens_seen as f64 / train_tokens as f64);
    s.steps = Some(out.steps);
    s.tokens_per_second = (out.train_seconds > 0.0).then(|| out.tokens_seen as f64 / out.train_seconds);
    let flops_per_token = sweep_config::flops_per_token(&config.model, out.vocab_size);
    s.gflops = s.tokens_per_second.map(|tps| tps * flops_per_token / 1e9);
    s.device = Some(device_label(out.device));
    s.peak_rss_mb = crate::resume::peak_rss_mb();
    s.data_load_seconds = crate::resume::DATA_LOAD_SECONDS.get().copied();
    s
}

/// "cpu", or "cuda:0 (NVIDIA H100 80GB HBM3)" when nvidia-smi can name the GPU (the name
/// gives diagnosis the peak FLOP/s for MFU).
fn device_label(device: Device) -> String {
    let name = train::device::device_name(device);
    let Device::Cuda(index) = device else { return name };
    let gpu = std::process::Command::new("nvidia-smi")
        .args(["--query-gpu=name", "--format=csv,noheader", "-i", &index.to_string()])
        .output()
        .ok()
        .filter(|o| o.status.success())
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string())
        .filter(|n| !n.is_empty());
    match gpu {
        Some(gpu) => format!("{name} ({gpu})"),
        None => name,
    }
}
