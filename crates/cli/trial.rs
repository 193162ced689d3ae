//! `sweep trial RUN_DIR` (hidden): trains one prepared run folder in this process and
//! writes loss.csv, model.safetensors, samples.txt, loss.png and summary.json. It resumes
//! from resume.safetensors when a previous attempt left one, saves that state every
//! checkpoint_interval steps, and on SIGINT saves it and stops as interrupted. Any error
//! or panic becomes a failed summary; only a hard crash leaves that to the parent.

use crate::args::TrialArgs;
use crate::exit_code;
use anyhow::Context;
use corpus::{TokenData, Tokenizer, read_text};
use std::io::Write;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::path::Path;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Instant;
use sweep::output::disk;
use sweep::output::loss_csv::{self, LossRow};
use sweep::output::run_dir::{RunDir, write_atomic};
use sweep::{Status, Summary};
use sweep_config::RunConfig;
use train::{EvalRow, Observer, Outcome, Stop};

/// Appends each evaluation to loss.csv, echoes progress lines to stdout (train.log),
/// saves snapshots to resume.safetensors and stops when SIGINT arrives.
struct CsvObserver {
    path: std::path::PathBuf,
    resume: std::path::PathBuf,
    stop: Arc<AtomicBool>,
    error: Option<String>,
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
        if let Err(e) = writeln!(out, "{line}").and_then(|_| out.flush()) {
            self.error.get_or_insert_with(|| format!("writing train.log: {e}"));
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

pub fn trial(a: TrialArgs) -> anyhow::Result<u8> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing the signal handlers")?;
    }
    tch::set_num_threads(a.threads as i32);
    let dir = RunDir::new(&a.run_dir);
    let start = Instant::now();
    let config: RunConfig = serde_json::from_str(&std::fs::read_to_string(dir.config()).with_context(|| format!("reading {}", dir.config().display()))?)
        .with_context(|| format!("parsing {}", dir.config().display()))?;
    let params = read_params(&dir);
    let result = catch_unwind(AssertUnwindSafe(|| train_and_save(&dir, &config, params.clone(), start, stop)));
    let error = match &result {
        Ok(Ok(_)) => None,
        Ok(Err(e)) => Some(format!("{e:#}")),
        Err(panic) => {
            Some(panic.downcast_ref::<String>().cloned().or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string())).unwrap_or_else(|| "panic".into()))
        }
    };
    // A full, read-only or failing output filesystem is the sweep's problem: the run is
    // interrupted (its last checkpoint stands) and the exit code tells the sweep why.
    if let Some(cause) = error.as_deref().and_then(disk::classify) {
        return Ok(storage_exit(&dir, params, start, cause, error.as_deref().unwrap_or_default()));
    }
    let summary = match result {
        Ok(Ok(summary)) => summary,
        _ => Summary::failed(&dir.id(), params.clone(), start.elapsed().as_secs_f64(), hint(error.as_deref().unwrap_or("panic"))),
    };
    if let Some(e) = &summary.error {
        say(&format!("run {}: {e}", summary.status.as_str()));
    }
    if let Err(e) = dir.write_summary(&summary) {
        let text = format!("{e:#}");
        return match disk::classify(&text) {
            Some(cause) => Ok(storage_exit(&dir, params, start, cause, &text)),
            None => Err(e),
        };
    }
    // Only now is the run finished for good: its training state may go. (Removed earlier, a
    // kill between the two would make the next `sweep run` train it again from scratch.)
    if matches!(summary.status, Status::Done | Status::Diverged) {
        let _ = std::fs::remove_file(dir.resume_state());
    }
    if summary.status == Status::Done {
        say(&format!("run {}: finished", dir.id()));
    }
    Ok(exit_code::OK)
}

/// Stops a trial whose output filesystem failed: removes the temporary files the failed
/// write left, records the run as interrupted where that can still be written, and
/// returns the exit code that tells the sweep the cause.
fn storage_exit(dir: &RunDir, params: indexmap::IndexMap<String, serde_json::Value>, start: Instant, cause: disk::Cause, error: &str) -> u8 {
    dir.remove_temporary_files();
    let first = error.lines().next().unwrap_or(error);
    let summary = Summary::storage_interrupted(&dir.id(), params, start.elapsed().as_secs_f64(), cause, first);
    let _ = dir.write_summary(&summary);
    say(&format!("run interrupted: {}: {first}", cause.describe()));
    cause.trial_exit_code() as u8
}

/// A line for train.log that does not panic when the log's filesystem is full.
fn say(line: &str) {
    let mut out = std::io::stdout();
    let _ = writeln!(out, "{line}").and_then(|_| out.flush());
}

/// Adds the usual fix to an out-of-memory message.
fn hint(msg: &str) -> String {
    let first = msg.lines().next().unwrap_or(msg).to_string();
    if msg.contains("out of memory") || msg.contains("can't allocate memory") {
        if first.contains("lower batch_size") { first } else { format!("out of memory: {first}; lower batch_size or block_size") }
    } else {
        first
    }
}

/// The swept values of this run, from sweep.json's grid or space; empty when unknown.
fn read_params(dir: &RunDir) -> indexmap::IndexMap<String, serde_json::Value> {
    let sweep_json = dir.path.parent().map(|p| p.join("sweep.json"));
    let spec: Option<sweep::Spec> = sweep_json.and_then(|p| std::fs::read_to_string(p).ok()).and_then(|t| serde_json::from_str(&t).ok());
    let config: Option<RunConfig> = std::fs::read_to_string(dir.config()).ok().and_then(|t| serde_json::from_str(&t).ok());
    match (spec, config) {
        (Some(spec), Some(config)) => spec.swept_keys().into_iter().filter_map(|k| Some((k.clone(), config.get(&k)?))).collect(),
        _ => Default::default(),
    }
}

fn train_and_save(
    dir: &RunDir,
    config: &RunConfig,
    params: indexmap::IndexMap<String, serde_json::Value>,
    start: Instant,
    stop: Arc<AtomicBool>,
) -> anyhow::Result<Summary> {
    let device = train::pick_device(&config.train.device)?;
    let tokenizer = Tokenizer::load(&dir.tokenizer())?;
    let data_path = Path::new(&config.data.path);
    let text = read_text(data_path)?;
    let data = TokenData::split(&tokenizer, &text, config.data.val_fraction)?;
    data.check_fits(data_path, config.model.block_size, config.data.val_fraction)?;
    let mut observer = CsvObserver { path: dir.loss_csv(), resume: dir.resume_state(), stop, error: None };

    // Resume from the saved state when there is one that loads; otherwise start over.
    let mut out = None;
    if dir.resume_state().exists() {
        match train::checkpoint::resume_step(&dir.resume_state()) {
            Ok(step) => {
                loss_csv::keep_before(&dir.loss_csv(), step).with_context(|| format!("trimming {}", dir.loss_csv().display()))?;
                println!("run {} (pid {}): resuming at step {step} on {}", dir.id(), std::process::id(), train::device::device_name(device));
                match train::train(config, &data, device, &mut observer, Some(&dir.resume_state())) {
                    Err(train::TrainError::Checkpoint { path, message }) if Path::new(&path) == dir.resume_state() => {
                        println!("warning: {path}: {message}; restarting this run from scratch");
                    }
                    other => out = Some(other?),
                }
            }
            Err(e) => println!("warning: {e:#}; restarting this run from scratch"),
        }
    }
    let out = match out {
        Some(out) => out,
        None => {
            loss_csv::create(&dir.loss_csv()).with_context(|| format!("creating {}", dir.loss_csv().display()))?;
            println!(
                "run {} (pid {}): starting at step 0 on {}: {} train tokens, {} val tokens, vocab {}",
                dir.id(),
                std::process::id(),
                train::device::device_name(device),
                data.train.len(),
                data.val.len(),
                data.vocab_size
            );
            train::train(config, &data, device, &mut observer, None)?
        }
    };
    if let Some(e) = observer.error {
        anyhow::bail!(e);
    }
    let rows = loss_csv::read(&dir.loss_csv()).with_context(|| format!("reading {}", dir.loss_csv().display()))?;
    if let Err(e) = sweep::report::plot::write_loss_png(dir, &dir.id(), &rows) {
        let text = format!("{e:#}");
        // A full disk stops the run (and the sweep); anything else only costs the picture.
        if disk::classify(&text).is_some() {
            return Err(e.context(format!("writing {}", dir.loss_png().display())));
        }
        say(&format!("warning: cannot draw {}: {text}", dir.loss_png().display()));
    }
    let status = match out.stop {
        Stop::Finished => {
            save_checkpoint(dir, &out)?;
            write_samples(dir, config, &tokenizer, &out)?;
            Status::Done
        }
        Stop::Diverged { .. } => {
            write_atomic(&dir.samples(), b"(no samples: the run diverged)\n")?;
            Status::Diverged
        }
        Stop::Interrupted { .. } => Status::Interrupted,
    };
    let mut summary = summarize(dir, config, params, &out, &rows, data.train.len() as u64, start);
    if status != Status::Interrupted {
        summary.findings = diagnose::diagnose(&sweep::output::evidence::from_run_dir(dir, &summary));
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

/// Generates from each prompt and writes samples.txt.
pub fn samples_text(config: &RunConfig, tokenizer: &Tokenizer, model: &train::Gpt, device: tch::Device, prompts: &[String]) -> String {
    let s = &config.sample;
    let mut text = String::new();
    for (i, prompt) in prompts.iter().enumerate() {
        text.push_str(&format!(
            "--- sample {} (prompt {:?}, temperature {}, top_k {}) ---\n",
            i + 1,
            prompt,
            s.temperature,
            s.top_k.map_or("all".into(), |k| k.to_string())
        ));
        match tokenizer.encode(prompt) {
            Ok(ids) => {
                let out = train::sample::generate(model, &ids, s.max_new_tokens, s.temperature, s.top_k, device);
                text.push_str(&tokenizer.decode(&out));
            }
            Err(e) => text.push_str(&format!("(cannot encode this prompt: {e})")),
        }
        text.push_str("\n\n");
    }
    text
}

fn write_samples(dir: &RunDir, config: &RunConfig, tokenizer: &Tokenizer, out: &Outcome) -> anyhow::Result<()> {
    tch::manual_seed(config.train.seed as i64);
    let text = samples_text(config, tokenizer, &out.model, out.device, &config.sample.prompts);
    write_atomic(&dir.samples(), text.as_bytes())
}

fn summarize(
    dir: &RunDir,
    config: &RunConfig,
    params: indexmap::IndexMap<String, serde_json::Value>,
    out: &Outcome,
    rows: &[LossRow],
    train_tokens: u64,
    start: Instant,
) -> Summary {
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
    s
}

/// "cpu", or "cuda:0 (NVIDIA H100 80GB HBM3)" when nvidia-smi can name the GPU (the name
/// gives diagnosis the peak FLOP/s for MFU).
fn device_label(device: tch::Device) -> String {
    let name = train::device::device_name(device);
    let tch::Device::Cuda(index) = device else { return name };
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
