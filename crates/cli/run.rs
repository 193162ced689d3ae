//! `sweep run`: spec → validated plan → data checks for every run → dry-run table or the
//! sweep itself, one `sweep trial` child process per run.

use crate::args::RunArgs;
use crate::exit_code;
use anyhow::Context;
use corpus::{TokenData, Tokenizer, read_text};
use std::path::Path;
use std::sync::Arc;
use sweep::exec::runner::ProcessRunner;
use sweep::exec::scheduler::{self, Control, Options};
use sweep::output::run_dir::write_json;
use sweep::{Plan, Spec, Status};
use sweep_config::{flops_per_token, n_params};

pub fn run(a: RunArgs) -> anyhow::Result<u8> {
    let (spec, text) = Spec::from_path(&a.spec)?;
    let mut plan = match Plan::build(&spec, &text, &a.spec) {
        Ok(plan) => plan,
        Err(problems) => {
            eprintln!("sweep: error: {problems}");
            return Ok(exit_code::USAGE);
        }
    };
    if let Some(device) = &a.device {
        for run in &mut plan.runs {
            run.config.train.device = device.clone();
        }
    }

    // One tokenizer and one split for the whole sweep: every run sees the same tokens.
    let data_path = Path::new(&spec.data.path);
    let corpus_text = read_text(data_path)?;
    let tokenizer = Tokenizer::build(&spec.data, &corpus_text)?;
    let data = TokenData::split(&tokenizer, &corpus_text, spec.data.val_fraction)?;
    let mut too_short: Vec<String> = Vec::new();
    for run in &plan.runs {
        if let Err(e) = data.check_fits(data_path, run.config.model.block_size, spec.data.val_fraction) {
            let msg = e.to_string();
            if !too_short.contains(&msg) {
                too_short.push(msg);
            }
        }
    }
    if !too_short.is_empty() {
        eprintln!("sweep: error: {}", too_short.join("\n  "));
        return Ok(exit_code::USAGE);
    }

    let on_gpu = plan.runs.iter().any(|r| train::pick_device(&r.config.train.device).is_ok_and(|d| d.is_cuda()));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = a.jobs.unwrap_or(if on_gpu { 1 } else { cores }).clamp(1, plan.runs.len().max(1));
    let threads_per_trial = (cores / jobs).max(1);
    if a.dry_run {
        print_plan(&plan, &data, jobs, threads_per_trial, on_gpu);
        return Ok(exit_code::OK);
    }

    let sweep_dir = spec.sweep_dir(&a.out);
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
    let opts = Options { jobs, retry_failed: a.retry_failed, progress, max_retries: spec.max_retries };
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

/// Training throughput assumed for the dry-run time estimate on CPU, in FLOP/s per
/// thread. The feiniao sweep on a 2-core machine reaches 35–57 GFLOP/s per thread
/// (column `gflops` of `sweep report runs/feiniao`; see BENCHMARKS.md).
const CPU_FLOPS_PER_THREAD: f64 = 45e9;

fn print_plan(plan: &Plan, data: &TokenData, jobs: usize, threads: usize, on_gpu: bool) {
    let train_tokens = data.train.len() as f64;
    let rate = CPU_FLOPS_PER_THREAD * threads as f64;
    println!("sweep {}: {} runs; {} training tokens, {} val tokens, vocab {}", plan.name, plan.runs.len(), data.train.len(), data.val.len(), data.vocab_size);
    println!("{:<44} {:>9} {:>11} {:>8} {:>9} {:>8}", "run", "params", "tokens", "epochs", "TFLOP", "est. s");
    let mut total_flops = 0.0;
    for run in &plan.runs {
        let (m, t) = (&run.config.model, &run.config.train);
        let params = n_params(m, data.vocab_size);
        let tokens = (t.max_iters * t.tokens_per_step(m.block_size)) as f64;
        let flops = flops_per_token(m, data.vocab_size) * (tokens + eval_tokens(t, m.block_size) / 3.0);
        total_flops += flops;
        println!(
            "{:<44} {:>8.3}M {:>11} {:>8.2} {:>9.3} {:>8.0}",
            run.id,
            params.total as f64 / 1e6,
            tokens as u64,
            tokens / train_tokens,
            flops / 1e12,
            flops / rate
        );
    }
    let minutes = total_flops / rate / jobs as f64 / 60.0;
    if on_gpu {
        println!("total: {:.2} TFLOP (the time column assumes a CPU; a GPU is far faster)", total_flops / 1e12);
    } else {
        println!(
            "total: {:.2} TFLOP, about {minutes:.0} minutes on this CPU with {jobs} run(s) at a time and {threads} thread(s) each (assuming {:.0} GFLOP/s per thread)",
            total_flops / 1e12,
            CPU_FLOPS_PER_THREAD / 1e9
        );
    }
}

/// Tokens pushed through the model (forward only) by all evaluations of a run.
fn eval_tokens(t: &sweep_config::TrainConfig, block_size: usize) -> f64 {
    let n_evals = (t.max_iters / t.eval_interval + 2) as f64;
    n_evals * 2.0 * (t.eval_iters as usize * t.batch_size * block_size) as f64
}
