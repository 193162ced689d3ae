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
        print_plan(&plan, data, &todo, &predicted, jobs, threads_per_trial, on_gpu);
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
    let opts = Options { jobs, retry_failed: a.retry_failed, progress, max_retries: spec.max_retries, predicted_s: Arc::new(predicted) };
    let outcome = scheduler::run_sweep(&plan, &sweep_dir, &tokenizer_json, &runner, &control, opts);
    signals.close();
    let outcome = outcome?;
    let count = |s| outcome.count(s);
    let (done, failed, diverged, interrupted) = (count(Status::Done), count(Status::Failed), count(Status::Diverged), count(Status::Interrupted));
    let elsewhere = if outcome.elsewhere > 0 { format!(", {} being trained by another worker", outcome.elsewhere) } else { String::new() };
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
