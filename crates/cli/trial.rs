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
use sweep::output::steps_csv;
use sweep::{Status, Summary};
use sweep_config::RunConfig;
use train::{EvalRow, Observer, Outcome, Stop};

/// Appends each evaluation to loss.csv, echoes progress lines to stdout (train.log; in a
/// pack each line starts with `[run id] ` and the sweep routes it to that run's log), saves
/// snapshots to resume.safetensors and stops when SIGINT arrives.
struct CsvObserver {
    path: std::path::PathBuf,
    steps: steps_csv::Appender,
    resume: std::path::PathBuf,
    /// "" alone, "[run id] " in a pack.
    prefix: String,
    stop: Arc<AtomicBool>,
    error: Option<String>,
}

impl CsvObserver {
    fn new(dir: &RunDir, stop: Arc<AtomicBool>, packed: bool) -> Self {
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

type Params = indexmap::IndexMap<String, serde_json::Value>;
type Attempt = std::thread::Result<anyhow::Result<Summary>>;

pub fn trial(a: TrialArgs) -> anyhow::Result<u8> {
    let stop = Arc::new(AtomicBool::new(false));
    for signal in [signal_hook::consts::SIGINT, signal_hook::consts::SIGTERM] {
        signal_hook::flag::register(signal, stop.clone()).context("installing the signal handlers")?;
    }
    tch::set_num_threads(a.threads as i32);
    let start = Instant::now();
    let dirs: Vec<RunDir> = a.run_dirs.iter().map(RunDir::new).collect();
    let packed = dirs.len() > 1;
    let results: Vec<(Params, Attempt)> = if packed {
        train_pack(&dirs, start, stop)
    } else {
        let dir = &dirs[0];
        let config: RunConfig = read_config(dir)?;
        let params = read_params(dir);
        let attempt = catch_unwind(AssertUnwindSafe(|| train_and_save(dir, &config, params.clone(), start, stop)));
        vec![(params, attempt)]
    };
    // Every member is recorded before any error is returned: one run's failing summary
    // write must not cost the others theirs.
    let mut code = exit_code::OK;
    let mut first_error = None;
    for (dir, (params, attempt)) in dirs.iter().zip(results) {
        let prefix = if packed { format!("[{}] ", dir.id()) } else { String::new() };
        match record(dir, params, start, attempt, &prefix) {
            Ok(exit_code::OK) => {}
            Ok(member) => code = member,
            Err(e) => {
                first_error.get_or_insert(e);
            }
        }
    }
    if let Some(e) = first_error {
        return Err(e);
    }
    if let Some(mib) = peak_memory_mib() {
        say(&format!("peak memory of this trial process: {mib} MiB"));
    }
    Ok(code)
}

/// loss.csv and steps.csv for a run that starts from step 0.
fn fresh_logs(dir: &RunDir) -> anyhow::Result<()> {
    loss_csv::create(&dir.loss_csv()).with_context(|| format!("creating {}", dir.loss_csv().display()))?;
    steps_csv::create(&dir.steps_csv()).with_context(|| format!("creating {}", dir.steps_csv().display()))
}

fn read_config(dir: &RunDir) -> anyhow::Result<RunConfig> {
    serde_json::from_str(&std::fs::read_to_string(dir.config()).with_context(|| format!("reading {}", dir.config().display()))?)
        .with_context(|| format!("parsing {}", dir.config().display()))
}

/// The most resident memory this process has used (VmHWM), in MiB; Linux only.
fn peak_memory_mib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let kb: u64 = status.lines().find_map(|l| l.strip_prefix("VmHWM:"))?.trim().trim_end_matches("kB").trim().parse().ok()?;
    Some(kb / 1024)
}

/// Writes the summary of one run's attempt and returns the trial's exit code for it: any
/// error or panic becomes a failed summary; a failing output filesystem an interrupted one
/// and the exit code naming the cause.
fn record(dir: &RunDir, params: Params, start: Instant, result: Attempt, prefix: &str) -> anyhow::Result<u8> {
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
        return Ok(storage_exit(dir, params, start, cause, error.as_deref().unwrap_or_default(), prefix));
    }
    let summary = match result {
        Ok(Ok(summary)) => summary,
        _ => Summary::failed(&dir.id(), params.clone(), start.elapsed().as_secs_f64(), hint(error.as_deref().unwrap_or("panic"))),
    };
    if let Some(e) = &summary.error {
        say(&format!("{prefix}run {}: {e}", summary.status.as_str()));
    }
    if let Err(e) = dir.write_summary(&summary) {
        let text = format!("{e:#}");
        return match disk::classify(&text) {
            Some(cause) => Ok(storage_exit(dir, params, start, cause, &text, prefix)),
            None => Err(e),
        };
    }
    // Only now is the run finished for good: its training state may go. (Removed earlier, a
    // kill between the two would make the next `sweep run` train it again from scratch.)
    if matches!(summary.status, Status::Done | Status::Diverged) {
        let _ = std::fs::remove_file(dir.resume_state());
    }
    if summary.status == Status::Done {
        say(&format!("{prefix}run {}: finished", dir.id()));
    }
    Ok(exit_code::OK)
}

/// Stops a trial whose output filesystem failed: removes the temporary files the failed
/// write left, records the run as interrupted where that can still be written, and
/// returns the exit code that tells the sweep the cause.
fn storage_exit(dir: &RunDir, params: Params, start: Instant, cause: disk::Cause, error: &str, prefix: &str) -> u8 {
    dir.remove_temporary_files();
    let first = error.lines().next().unwrap_or(error);
    let summary = Summary::storage_interrupted(&dir.id(), params, start.elapsed().as_secs_f64(), cause, first);
    let _ = dir.write_summary(&summary);
    say(&format!("{prefix}run interrupted: {}: {first}", cause.describe()));
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
fn read_params(dir: &RunDir) -> Params {
    let sweep_json = dir.path.parent().map(|p| p.join("sweep.json"));
    let spec: Option<sweep::Spec> = sweep_json.and_then(|p| std::fs::read_to_string(p).ok()).and_then(|t| serde_json::from_str(&t).ok());
    let config: Option<RunConfig> = std::fs::read_to_string(dir.config()).ok().and_then(|t| serde_json::from_str(&t).ok());
    match (spec, config) {
        (Some(spec), Some(config)) => spec.swept_keys().into_iter().filter_map(|k| Some((k.clone(), config.get(&k)?))).collect(),
        _ => Default::default(),
    }
}

/// The tokenizer and the corpus a run trains on, on the device it asks for.
fn inputs(dir: &RunDir, config: &RunConfig) -> anyhow::Result<(tch::Device, Tokenizer, TokenData)> {
    let device = train::pick_device(&config.train.device)?;
    let tokenizer = Tokenizer::load(&dir.tokenizer())?;
    let data_path = Path::new(&config.data.path);
    let text = read_text(data_path)?;
    let data = TokenData::split(&tokenizer, &text, config.data.val_fraction)?;
    data.check_fits(data_path, config.model.block_size, config.data.val_fraction)?;
    Ok((device, tokenizer, data))
}

/// The step a run folder's saved state resumes at (its loss.csv trimmed to match), or None
/// to start over: no state, or one that cannot be read (a warning says so).
fn resume_point(dir: &RunDir, prefix: &str) -> anyhow::Result<Option<u64>> {
    if !dir.resume_state().exists() {
        return Ok(None);
    }
    match train::checkpoint::resume_step(&dir.resume_state()) {
        Ok(step) => {
            loss_csv::keep_before(&dir.loss_csv(), step).with_context(|| format!("trimming {}", dir.loss_csv().display()))?;
            steps_csv::keep_before(&dir.steps_csv(), step).with_context(|| format!("trimming {}", dir.steps_csv().display()))?;
            Ok(Some(step))
        }
        Err(e) => {
            say(&format!("{prefix}warning: {e:#}; restarting this run from scratch"));
            Ok(None)
        }
    }
}

fn start_line(dir: &RunDir, device: tch::Device, data: &TokenData, step: Option<u64>) -> String {
    let on = train::device::device_name(device);
    match step {
        Some(step) => format!("run {} (pid {}): resuming at step {step} on {on}", dir.id(), std::process::id()),
        None => format!(
            "run {} (pid {}): starting at step 0 on {on}: {} train tokens, {} val tokens, vocab {}",
            dir.id(),
            std::process::id(),
            data.train.len(),
            data.val.len(),
            data.vocab_size
        ),
    }
}

/// Whether a training error means the saved state at `dir` cannot be used (start over).
fn unusable_state(e: &train::TrainError, dir: &RunDir) -> bool {
    matches!(e, train::TrainError::Checkpoint { path, .. } if Path::new(path) == dir.resume_state())
}

fn train_and_save(dir: &RunDir, config: &RunConfig, params: Params, start: Instant, stop: Arc<AtomicBool>) -> anyhow::Result<Summary> {
    let (device, tokenizer, data) = inputs(dir, config)?;
    let mut observer = CsvObserver::new(dir, stop, false);
    // Resume from the saved state when there is one that loads; otherwise start over.
    let mut out = None;
    if let Some(step) = resume_point(dir, "")? {
        println!("{}", start_line(dir, device, &data, Some(step)));
        match train::train(config, &data, device, &mut observer, Some(&dir.resume_state())) {
            Err(e) if unusable_state(&e, dir) => println!("warning: {e}; restarting this run from scratch"),
            other => out = Some(other?),
        }
    }
    let out = match out {
        Some(out) => out,
        None => {
            fresh_logs(dir)?;
            println!("{}", start_line(dir, device, &data, None));
            train::train(config, &data, device, &mut observer, None)?
        }
    };
    finish(dir, config, params, &tokenizer, &data, out, observer.error, start, "")
}

/// Trains several run folders of one shape packed into one model (`train::train_packed`),
/// members that resume at the same step together; one attempt per folder, in order.
fn train_pack(dirs: &[RunDir], start: Instant, stop: Arc<AtomicBool>) -> Vec<(Params, Attempt)> {
    let prefixes: Vec<String> = dirs.iter().map(|d| format!("[{}] ", d.id())).collect();
    let params: Vec<Params> = dirs.iter().map(read_params).collect();
    let mut attempts: Vec<Option<Attempt>> = dirs.iter().map(|_| None).collect();
    let configs: Vec<Option<RunConfig>> = dirs.iter().enumerate().map(|(i, d)| read_config(d).map_err(|e| attempts[i] = Some(Ok(Err(e)))).ok()).collect();
    let Some(first) = configs.iter().position(Option::is_some) else {
        return params.into_iter().zip(attempts).map(|(p, a)| (p, a.unwrap_or_else(|| Ok(Err(anyhow::anyhow!("not trained")))))).collect();
    };
    let shared = catch_unwind(AssertUnwindSafe(|| inputs(&dirs[first], configs[first].as_ref().expect("first readable config"))));
    let (device, tokenizer, data) = match shared {
        Ok(Ok(inputs)) => inputs,
        other => {
            let message = match other {
                Ok(Err(e)) => format!("{e:#}"),
                _ => "panic while reading the corpus".into(),
            };
            return params.into_iter().zip(attempts).map(|(p, a)| (p, a.unwrap_or_else(|| Ok(Err(anyhow::anyhow!(message.clone())))))).collect();
        }
    };
    // Where each member starts: its saved state's step, or 0 with a fresh loss.csv.
    let mut groups: std::collections::BTreeMap<Option<u64>, Vec<usize>> = Default::default();
    let resume_paths: Vec<std::path::PathBuf> = dirs.iter().map(RunDir::resume_state).collect();
    for (i, dir) in dirs.iter().enumerate() {
        if configs[i].is_none() {
            continue;
        }
        let step = resume_point(dir, &prefixes[i]).and_then(|step| {
            if step.is_none() {
                fresh_logs(dir)?;
            }
            say(&format!("{}{}", prefixes[i], start_line(dir, device, &data, step)));
            Ok(step)
        });
        match step {
            Ok(step) => groups.entry(step).or_default().push(i),
            Err(e) => attempts[i] = Some(Ok(Err(e))),
        }
    }
    let resumed: Vec<bool> = (0..dirs.len()).map(|i| groups.iter().any(|(step, members)| step.is_some() && members.contains(&i))).collect();
    let mut observers: Vec<CsvObserver> = dirs.iter().map(|d| CsvObserver::new(d, stop.clone(), true)).collect();
    let mut outcomes: Vec<Option<Result<train::Outcome, train::TrainError>>> = dirs.iter().map(|_| None).collect();
    let mut mates: Vec<Vec<String>> = dirs.iter().map(|_| Vec::new()).collect();
    for (step, members) in &groups {
        for &i in members {
            mates[i] = members.iter().filter(|&&j| j != i).map(|&j| dirs[j].id()).collect();
            if !mates[i].is_empty() {
                say(&format!("{}pack: trains with {}", prefixes[i], mates[i].join(", ")));
            }
        }
        let mut slots: Vec<(usize, &mut CsvObserver)> = observers.iter_mut().enumerate().filter(|(i, _)| members.contains(i)).collect();
        let pack: Vec<train::PackMember> = slots
            .iter_mut()
            .map(|(i, o)| train::PackMember {
                config: configs[*i].as_ref().expect("grouped members have configs"),
                observer: &mut **o,
                resume_from: step.map(|_| resume_paths[*i].as_path()),
            })
            .collect();
        let results = catch_unwind(AssertUnwindSafe(|| train::train_packed(pack, &data, device)));
        match results {
            Ok(results) => {
                for (&i, r) in members.iter().zip(results) {
                    outcomes[i] = Some(r);
                }
            }
            Err(_) => {
                for &i in members {
                    attempts[i] = Some(Ok(Err(anyhow::anyhow!("{}: panic while training", train::packed::PACK_FAILED))));
                }
            }
        }
    }
    for (i, dir) in dirs.iter().enumerate() {
        let Some(outcome) = outcomes[i].take() else { continue };
        let config = configs[i].as_ref().expect("trained members have configs");
        let observer = &mut observers[i];
        let attempt = catch_unwind(AssertUnwindSafe(|| -> anyhow::Result<Summary> {
            let (out, packed_with) = match outcome {
                // A saved state that does not load: this member starts over, alone.
                Err(e) if resumed[i] && unusable_state(&e, dir) => {
                    say(&format!("{}warning: {e}; restarting this run from scratch", prefixes[i]));
                    fresh_logs(dir)?;
                    (train::train(config, &data, device, observer, None)?, Vec::new())
                }
                other => (other?, std::mem::take(&mut mates[i])),
            };
            let mut summary = finish(dir, config, params[i].clone(), &tokenizer, &data, out, observer.error.take(), start, &prefixes[i])?;
            summary.packed_with = packed_with;
            Ok(summary)
        }));
        attempts[i] = Some(attempt);
    }
    params.into_iter().zip(attempts).map(|(p, a)| (p, a.unwrap_or_else(|| Ok(Err(anyhow::anyhow!("not trained")))))).collect()
}

/// What a trained (or stopped) run leaves: loss.png, and when it finished model.safetensors
/// and samples.txt; returns its summary with the diagnosis.
#[allow(clippy::too_many_arguments)]
fn finish(
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
    let status = match out.stop {
        Stop::Finished => {
            save_checkpoint(dir, &out)?;
            write_samples(dir, config, tokenizer, &out)?;
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
