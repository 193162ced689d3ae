//! `sweep run`: spec → validated plan → data checks for every run → dry-run table or the
//! sweep itself, one `sweep trial` child process per run.

use crate::args::RunArgs;
use crate::calibrate;
use crate::exit_code;
use anyhow::Context;
use corpus::TokenData;
use std::collections::HashMap;
use std::sync::Arc;
use sweep::exec::runner::ProcessRunner;
use sweep::exec::scheduler::{self, Control, Options, Pending};
use sweep::output::disk;
use sweep::output::run_dir::write_json;
use sweep::plan::estimate;
use sweep::{Plan, Status};
use sweep_config::n_params;

pub fn run(a: RunArgs) -> anyhow::Result<u8> {
    let checked = match sweep::plan::check(&a.spec) {
        Ok(checked) => checked,
        Err(problems) => {
            eprintln!("sweep: error: {problems}");
            return Ok(exit_code::USAGE);
        }
    };
    let (spec, mut plan, corpus) = (checked.spec, checked.plan, checked.corpus);
    if let Some(device) = &a.device {
        for run in &mut plan.runs {
            run.config.train.device = device.clone();
        }
    }
    let (tokenizer, data) = (&corpus.tokenizer, &corpus.data);

    let on_gpu = plan.runs.iter().any(|r| train::pick_device(&r.config.train.device).is_ok_and(|d| d.is_cuda()));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = a.jobs.unwrap_or(if on_gpu { 1 } else { cores }).clamp(1, plan.runs.len().max(1));
    let threads_per_trial = (cores / jobs).max(1);
    let sweep_dir = spec.sweep_dir(&a.out);
    let todo = scheduler::pending_runs(&plan, &sweep_dir, a.retry_failed);
    if a.dry_run {
        let predicted = calibrate::predict(&todo.pending, data.vocab_size, jobs, threads_per_trial);
        let tokenizer_bytes = tokenizer.to_json()?.len() as u64;
        print_plan(&plan, data, &todo, &predicted, jobs, threads_per_trial, on_gpu);
        print_disk(&todo, data.vocab_size, tokenizer_bytes, jobs, &sweep_dir);
        if !todo.conflicts.is_empty() {
            eprintln!("sweep: error: {}", scheduler::conflicts_message(&todo.conflicts));
            return Ok(exit_code::USAGE);
        }
        return Ok(exit_code::OK);
    }
    if !todo.conflicts.is_empty() {
        eprintln!("sweep: error: {}", scheduler::conflicts_message(&todo.conflicts));
        return Ok(exit_code::USAGE);
    }
    let predicted = if todo.pending.is_empty() { Vec::new() } else { calibrate::predict(&todo.pending, data.vocab_size, jobs, threads_per_trial) };
    let predicted: HashMap<String, f64> = todo.pending.iter().zip(predicted).filter_map(|(r, s)| Some((r.id.clone(), s?))).collect();

    std::fs::create_dir_all(&sweep_dir).with_context(|| format!("cannot create output folder {}; check the path and its permissions", sweep_dir.display()))?;
    write_json(&sweep_dir.join("sweep.json"), &spec)?;
    println!(
        "sweep {}: {} runs on {} ({jobs} at a time, {threads_per_trial} thread(s) each) -> {}",
        plan.name,
        plan.runs.len(),
        if on_gpu { "cuda" } else { "cpu" },
        sweep_dir.display()
    );
    let exe = std::env::current_exe().context("cannot find the sweep executable to start trials")?;
    let control = Arc::new(Control::default());
    let runner = ProcessRunner { exe, threads_per_trial, children: control.children.clone() };
    let tokenizer_json = tokenizer.to_json()?;
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let signals = scheduler::handle_signals(control.clone())?;
    let opts =
        Options { jobs, retry_failed: a.retry_failed, progress, max_retries: spec.max_retries, vocab_size: data.vocab_size, predicted_s: Arc::new(predicted) };
    let outcome = scheduler::run_sweep(&plan, &sweep_dir, &tokenizer_json, &runner, &control, opts);
    signals.close();
    let outcome = outcome?;
    let count = |s| outcome.count(s);
    let (done, failed, diverged, interrupted) = (count(Status::Done), count(Status::Failed), count(Status::Diverged), count(Status::Interrupted));
    let elsewhere = if outcome.elsewhere > 0 { format!(", {} being trained by another worker", outcome.elsewhere) } else { String::new() };
    if let Some(stop) = &outcome.storage {
        println!(
            "sweep {}: stopped: {}; {done} done, {interrupted} interrupted, {failed} failed, {diverged} diverged, {} not started{elsewhere}",
            plan.name,
            storage_line(stop, &sweep_dir),
            outcome.not_started
        );
        return Ok(exit_code::STORAGE);
    }
    if outcome.interrupted {
        println!(
            "sweep {}: interrupted: {interrupted} run(s) saved their state, {} not started; {done} done, {failed} failed, {diverged} diverged{elsewhere}; run the same command to resume",
            plan.name, outcome.not_started
        );
        return Ok(exit_code::INTERRUPTED);
    }
    println!(
        "sweep {}: {done} done, {failed} failed, {diverged} diverged, {} skipped (finished before){elsewhere}; report: {}",
        plan.name,
        outcome.skipped,
        sweep_dir.join("report.md").display()
    );
    Ok(if failed + diverged > 0 { exit_code::RUNS_FAILED } else { exit_code::OK })
}

/// "no space left on device in runs/feiniao (0 B free of 2.5 MB): free space and rerun the
/// same command to resume": the cause, the folder, the space there now, and the fix.
fn storage_line(stop: &scheduler::StorageStop, sweep_dir: &std::path::Path) -> String {
    let room = match disk::space(sweep_dir) {
        Some((free, total)) => format!("{} free of {}", disk::human_bytes(free), disk::human_bytes(total)),
        None => "free space unknown".to_string(),
    };
    let what = match stop.needed {
        Some(needed) => format!("not enough space in {} for run {} (it needs about {}; {room})", sweep_dir.display(), stop.run_id, disk::human_bytes(needed)),
        None => format!("{} in {} ({room})", stop.cause.describe(), sweep_dir.display()),
    };
    format!("{what}: {} and rerun the same command to resume", stop.cause.fix())
}

/// The disk space the pending runs will take when finished and at most on the way, and
/// what the output filesystem has free.
fn print_disk(todo: &Pending, vocab_size: usize, tokenizer_bytes: u64, jobs: usize, sweep_dir: &std::path::Path) {
    let bytes: Vec<disk::RunBytes> = todo.pending.iter().map(|r| disk::run_bytes(&r.config, vocab_size, tokenizer_bytes)).collect();
    let finished = bytes.iter().map(|b| b.finished).sum::<u64>() + disk::sweep_files_bytes(todo.pending.len() + todo.skipped);
    let mut extra: Vec<u64> = bytes.iter().map(|b| b.peak - b.finished).collect();
    extra.sort_unstable_by(|a, b| b.cmp(a));
    let peak = finished + extra.iter().take(jobs).sum::<u64>();
    let free = match disk::space(sweep_dir) {
        Some((free, total)) => format!("; {} free of {} there now", disk::human_bytes(free), disk::human_bytes(total)),
        None => String::new(),
    };
    println!(
        "disk: {} ({finished} bytes) in {} when finished, up to {} while {jobs} run(s) train at once (checkpoints hold weights and AdamW moments){free}",
        disk::human_bytes(finished),
        sweep_dir.display(),
        disk::human_bytes(peak)
    );
}

fn print_plan(plan: &Plan, data: &TokenData, todo: &Pending, predicted: &[Option<f64>], jobs: usize, threads: usize, on_gpu: bool) {
    let train_tokens = data.train.len() as f64;
    println!("sweep {}: {} runs; {} training tokens, {} val tokens, vocab {}", plan.name, plan.runs.len(), data.train.len(), data.val.len(), data.vocab_size);
    if todo.skipped > 0 {
        println!("{} of {} runs already finished; {} to train", todo.skipped, plan.runs.len(), todo.pending.len());
    }
    println!("{:<44} {:>9} {:>11} {:>8} {:>9} {:>8}", "run", "params", "tokens", "epochs", "TFLOP", "est. s");
    let mut total_flops = 0.0;
    for (run, seconds) in todo.pending.iter().zip(predicted) {
        let (m, t) = (&run.config.model, &run.config.train);
        let params = n_params(m, data.vocab_size);
        let tokens = (t.max_iters * t.tokens_per_step(m.block_size)) as f64;
        let flops = estimate::run_flops(&run.config, data.vocab_size);
        total_flops += flops;
        let seconds = seconds.map_or("?".to_string(), |s| format!("{s:.1}"));
        println!(
            "{:<44} {:>8.3}M {:>11} {:>8.2} {:>9.3} {:>8}",
            run.id,
            params.total as f64 / 1e6,
            tokens as u64,
            tokens / train_tokens,
            flops / 1e12,
            seconds
        );
    }
    let Some(predicted) = predicted.iter().copied().collect::<Option<Vec<f64>>>() else {
        println!("total: {:.2} TFLOP; the time cannot be estimated: no run's shape could be timed on this machine", total_flops / 1e12);
        return;
    };
    let wall = estimate::makespan(&predicted, jobs);
    println!(
        "total: {:.2} TFLOP; {} ({wall:.0} s) on this machine ({}) with {jobs} run(s) at a time and {threads} thread(s) each, from a few steps of each run's shape timed just now",
        total_flops / 1e12,
        estimate::human(wall),
        if on_gpu { "GPU" } else { "CPU" }
    );
}
