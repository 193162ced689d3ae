//! `sweep run`: spec → validated plan → data checks for every run → dry-run table or the
//! sweep itself, one `sweep trial` child process per run.

use crate::args::{Backend, RunArgs};
use crate::calibrate;
use crate::exit_code;
use anyhow::Context;
use corpus::TokenData;
use std::collections::HashMap;
use std::sync::Arc;
use sweep::exec::packing::{self, Packing};
use sweep::exec::runner::ProcessRunner;
use sweep::exec::scheduler::{self, Control, Options, Pending};
use sweep::output::disk;
use sweep::output::run_dir::write_json;
use sweep::plan::estimate;
use sweep::search::Rerun;
use sweep::{Plan, PlannedRun, Status};
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
    if a.backend == Backend::Local
        && let Some(flag) = a.slurm.given().first()
    {
        eprintln!("sweep: error: {flag} applies to Slurm submissions; add --backend slurm (or leave {flag} out to train here)");
        return Ok(exit_code::USAGE);
    }
    if let Some(device) = &a.device {
        // A device that is misspelt or not here fails every run: refuse it before training.
        let mut probe = sweep_config::RunConfig::with_data("");
        probe.train.device = device.clone();
        if let Some(p) = probe.problems().into_iter().find(|p| p.key == "device") {
            eprintln!("sweep: error: --device {device} {}", p.rule);
            return Ok(exit_code::USAGE);
        }
        // A Slurm submission's runs train on the cluster's nodes, not on this login node.
        if a.backend == Backend::Local
            && let Err(e) = train::pick_device(device)
        {
            eprintln!("sweep: error: --device {device}: {e:#}");
            return Ok(exit_code::USAGE);
        }
        for run in &mut plan.runs {
            run.config.train.device = device.clone();
        }
        // Runs TPE proposes while the sweep runs start from the base config.
        plan.base.train.device = device.clone();
    }
    let (tokenizer, data) = (&corpus.tokenizer, &corpus.data);

    let on_gpu = plan.runs.iter().any(|r| train::pick_device(&r.config.train.device).is_ok_and(|d| d.is_cuda()));
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let jobs = a.jobs.unwrap_or(if on_gpu { 1 } else { cores }).clamp(1, plan.runs.len().max(1));
    let threads_per_trial = (cores / jobs).max(1);
    let packing = match (a.no_pack, a.pack) {
        (true, _) => Packing::Off,
        (false, Some(n)) => Packing::Max(n),
        (false, None) => Packing::Auto { on_gpu },
    };
    // A Slurm array task is one worker training one run at a time with its task's cores.
    let (jobs, threads_per_trial, packing) =
        if a.array_task { (1, crate::slurm::task_cores().unwrap_or(cores), Packing::Off) } else { (jobs, threads_per_trial, packing) };
    let sweep_dir = spec.sweep_dir(&a.out);
    let rerun = Rerun { failed: a.retry_failed, pruned: a.resume_pruned };
    if plan.adaptive() {
        let misfits = sweep::search::proposals::misfits(&plan, &sweep_dir);
        if !misfits.is_empty() {
            eprintln!("sweep: error: {}", scheduler::misfits_message(&misfits, &sweep_dir));
            return Ok(exit_code::USAGE);
        }
    }
    let known = scheduler::known_runs(&plan, &sweep_dir);
    if a.array_task {
        // Runs whose Slurm task ended without finishing them: Slurm's reason into their summaries.
        for settled in sweep::exec::slurm::settle::settle(&known, &sweep_dir) {
            println!("{}", settled.line());
        }
    }
    let mut todo = scheduler::pending_runs(&known, &sweep_dir, rerun);
    // TPE proposes its runs as it goes: random draws from the space stand for those not
    // proposed yet in the estimates.
    let stand_ins: Vec<PlannedRun> = if plan.adaptive() {
        plan.runs.iter().filter(|r| !known.iter().any(|k| k.id == r.id)).take(plan.n_runs.saturating_sub(known.len())).cloned().collect()
    } else {
        Vec::new()
    };
    todo.pending.extend(stand_ins.iter());
    if a.backend == Backend::Slurm {
        return crate::slurm::submit(&a, &spec, &plan, &todo, &sweep_dir);
    }
    if a.dry_run {
        // The run would be refused: say why, without a plan of what cannot run.
        if !todo.conflicts.is_empty() {
            println!(
                "sweep {}: {} runs; {} finished, {} to train, {} in folders that hold other settings' results",
                plan.name,
                plan.runs.len(),
                todo.skipped,
                todo.pending.len(),
                todo.conflicts.len()
            );
            eprintln!("sweep: error: {}", scheduler::conflicts_message(&todo.conflicts));
            return Ok(exit_code::USAGE);
        }
        let predicted = calibrate::predict(&todo.pending, data.vocab_size, jobs, threads_per_trial);
        let tokenizer_bytes = tokenizer.to_json()?.len() as u64;
        print_plan(&plan, data, &todo, &predicted, jobs, threads_per_trial, on_gpu);
        // In the order the sweep starts them (longest first), which decides the packs.
        let mut order: Vec<(&PlannedRun, f64)> = todo.pending.iter().copied().zip(predicted.iter().map(|s| s.unwrap_or(0.0))).collect();
        order.sort_by(|a, b| b.1.total_cmp(&a.1));
        let order: Vec<&PlannedRun> = order.into_iter().map(|(r, _)| r).collect();
        print_packs(&plan, &spec.swept_keys(), &order, packing, data.vocab_size, jobs);
        print_early_stop(&plan, &todo, &predicted, jobs);
        print_disk(&todo, data.vocab_size, tokenizer_bytes, jobs, &sweep_dir, plan.early_stop.is_some(), spec.swept_keys().len());
        return Ok(exit_code::OK);
    }
    if !todo.conflicts.is_empty() {
        eprintln!("sweep: error: {}", scheduler::conflicts_message(&todo.conflicts));
        return Ok(exit_code::USAGE);
    }
    // On a GPU the sweep process does not time shapes itself (it would hold GPU memory the
    // trials need for the whole sweep): the time left starts from relative costs (FLOPs) and
    // is in seconds once the first run has finished.
    // An array task trains one run: timing every shape first would only delay it.
    let in_seconds = !on_gpu && !a.array_task;
    let predicted: Vec<Option<f64>> = if todo.pending.is_empty() {
        Vec::new()
    } else if in_seconds {
        calibrate::predict(&todo.pending, data.vocab_size, jobs, threads_per_trial)
    } else {
        todo.pending.iter().map(|r| Some(estimate::run_flops(&r.config, data.vocab_size))).collect()
    };
    let predicted: HashMap<String, f64> = todo.pending.iter().zip(predicted).filter_map(|(r, s)| Some((r.id.clone(), s?))).collect();

    let started = std::fs::create_dir_all(&sweep_dir)
        .with_context(|| format!("cannot create output folder {}; check the path and its permissions", sweep_dir.display()))
        .and_then(|_| write_json(&sweep_dir.join("sweep.json"), &spec));
    if let Err(e) = started {
        // A full, read-only or failing filesystem is said as such, with its own exit code.
        let Some(cause) = disk::classify(&format!("{e:#}")) else { return Err(e) };
        let stop = scheduler::StorageStop { cause, run_id: String::new(), needed: None };
        println!("sweep {}: stopped: {}; nothing was trained", plan.name, storage_line(&stop, &sweep_dir));
        return Ok(exit_code::STORAGE);
    }
    println!(
        "sweep {}: {} on {} ({jobs} {} at a time, {threads_per_trial} thread(s) each) -> {}",
        plan.name,
        runs_in_words(&plan),
        if on_gpu { "cuda" } else { "cpu" },
        if packing == Packing::Off || packing == Packing::Max(1) || packing == (Packing::Auto { on_gpu: false }) {
            "trial(s)"
        } else {
            "trial(s) or packs of runs"
        },
        sweep_dir.display()
    );
    let exe = std::env::current_exe().context("cannot find the sweep executable to start trials")?;
    let control = Arc::new(Control::default());
    let runner = ProcessRunner { exe, threads_per_trial, children: control.children.clone() };
    let tokenizer_json = tokenizer.to_json()?;
    let progress = std::io::IsTerminal::is_terminal(&std::io::stderr());
    let signals = scheduler::handle_signals(control.clone())?;
    let opts = Options {
        jobs,
        rerun,
        early_stop: plan.early_stop.is_some(),
        progress,
        max_retries: spec.max_retries,
        vocab_size: data.vocab_size,
        predicted_s: Arc::new(predicted),
        packing,
        predicted_in_seconds: in_seconds,
        quota: a.array_task.then_some(1),
    };
    let outcome = scheduler::run_sweep(&plan, &sweep_dir, &tokenizer_json, &runner, &control, opts);
    signals.close();
    let outcome = outcome?;
    let count = |s| outcome.count(s);
    let (done, failed, diverged, interrupted) = (count(Status::Done), count(Status::Failed), count(Status::Diverged), count(Status::Interrupted));
    // "12 done" or "12 done, 40 pruned".
    let done = match count(Status::Pruned) {
        0 => format!("{done} done"),
        pruned => format!("{done} done, {pruned} pruned"),
    };
    let mut elsewhere = if outcome.elsewhere > 0 { format!(", {} being trained by another worker", outcome.elsewhere) } else { String::new() };
    if outcome.left > 0 {
        elsewhere.push_str(&format!(", {} left to other array tasks", outcome.left));
    }
    if let Some(stop) = &outcome.storage {
        println!(
            "sweep {}: stopped: {}; {done}, {interrupted} interrupted, {failed} failed, {diverged} diverged, {} not started{elsewhere}",
            plan.name,
            storage_line(stop, &sweep_dir),
            outcome.not_started
        );
        return Ok(exit_code::STORAGE);
    }
    if outcome.interrupted {
        println!(
            "sweep {}: interrupted: {interrupted} run(s) saved their state, {} not started; {done}, {failed} failed, {diverged} diverged{elsewhere}; run the same command to resume",
            plan.name, outcome.not_started
        );
        return Ok(exit_code::INTERRUPTED);
    }
    // The page is drawn once, at the end: the text reports follow every finished run.
    let page = match sweep::report::html::write(&sweep_dir) {
        Ok(page) => page,
        Err(e) => {
            eprintln!("warning: cannot write the HTML report: {e:#}");
            sweep_dir.join("report.md")
        }
    };
    println!(
        "sweep {}: {done}, {failed} failed, {diverged} diverged, {} skipped (finished before){elsewhere}; report: {}",
        plan.name,
        outcome.skipped,
        page.display()
    );
    if let Ok(runs) = sweep::report::load(&sweep_dir)
        && let Some(saved) = sweep::report::savings::savings(&runs)
    {
        println!("{}", saved.line(runs.len()));
    }
    Ok(if failed + diverged > 0 { exit_code::RUNS_FAILED } else { exit_code::OK })
}

/// "no space left on device in runs/feiniao (0 B free of 2.5 MB): free space and rerun the
/// same command to resume": the cause, the folder, the space there now, and the fix.
fn storage_line(stop: &scheduler::StorageStop, sweep_dir: &std::path::Path) -> String {
    let room = match disk::space(sweep_dir) {
        Some((free, total)) => format!("{} free of {}", disk::human_bytes(free), disk::human_bytes(total)),
        None => "free space unknown".to_string(),
    };
    let total = disk::space(sweep_dir).map(|(_, total)| total);
    match stop.needed {
        Some(needed) if total.is_some_and(|t| needed > t) => format!(
            "run {} needs about {} of disk at its peak, more than the whole filesystem of {} holds ({room}): use --out on a larger filesystem or a smaller model, and rerun the same command to resume",
            stop.run_id,
            disk::human_bytes(needed),
            sweep_dir.display()
        ),
        Some(needed) => format!(
            "not enough space in {} for run {} (it needs about {}; {room}): {} and rerun the same command to resume",
            sweep_dir.display(),
            stop.run_id,
            disk::human_bytes(needed),
            stop.cause.fix()
        ),
        None => format!("{} in {} ({room}): {} and rerun the same command to resume", stop.cause.describe(), sweep_dir.display(), stop.cause.fix()),
    }
}

/// The disk space the pending runs will take when finished and at most on the way, and
/// what the output filesystem has free.
fn print_disk(todo: &Pending, vocab_size: usize, tokenizer_bytes: u64, jobs: usize, sweep_dir: &std::path::Path, early_stop: bool, n_swept: usize) {
    let bytes: Vec<disk::RunBytes> = todo.pending.iter().map(|r| disk::run_bytes(&r.config, vocab_size, tokenizer_bytes)).collect();
    let finished = bytes.iter().map(|b| b.finished).sum::<u64>() + disk::sweep_files_bytes(todo.pending.len() + todo.skipped, n_swept);
    let mut extra: Vec<u64> = bytes.iter().map(|b| b.peak - b.finished).collect();
    extra.sort_unstable_by(|a, b| b.cmp(a));
    let peak = finished + extra.iter().take(jobs).sum::<u64>();
    let space = disk::space(sweep_dir);
    let free = match space {
        Some((free, total)) => format!("; {} free of {} there now", disk::human_bytes(free), disk::human_bytes(total)),
        None => String::new(),
    };
    let which = if todo.skipped > 0 { format!(" for the {} run(s) still to train", todo.pending.len()) } else { String::new() };
    // A pruned run keeps its training state (about three times its weights) for --resume-pruned.
    let pruned = if early_stop {
        let most = bytes.iter().map(|b| b.pruned.max(b.finished)).sum::<u64>() + disk::sweep_files_bytes(todo.pending.len() + todo.skipped, n_swept);
        format!(" (up to {} if early termination prunes them, as pruned runs keep their training state)", disk::human_bytes(most))
    } else {
        String::new()
    };
    println!(
        "disk: {} ({finished} bytes){which} in {} when finished{pruned}, up to {} while {jobs} run(s) train at once (checkpoints hold weights and AdamW moments){free}",
        disk::human_bytes(finished),
        sweep_dir.display(),
        disk::human_bytes(peak)
    );
    if let Some((free, _)) = space
        && free < peak
    {
        println!(
            "warning: {} has {} free, less than the {} this sweep needs at its peak: it will stop when the disk is full (free space, or use --out elsewhere)",
            sweep_dir.display(),
            disk::human_bytes(free),
            disk::human_bytes(peak)
        );
    }
}

/// "64 runs", "random search: 24 runs drawn from the space (search_seed 0)", "tpe: at most 30 runs …".
fn runs_in_words(plan: &Plan) -> String {
    let runs = |n: usize| if n == 1 { "1 run".to_string() } else { format!("{n} runs") };
    match plan.method {
        sweep::plan::spec::Method::Grid => runs(plan.runs.len()),
        sweep::plan::spec::Method::Random if plan.runs.len() < plan.n_runs => {
            format!("random search: {} (the space has no more distinct points than that; n_runs is {})", runs(plan.runs.len()), plan.n_runs)
        }
        sweep::plan::spec::Method::Random => format!("random search: {} drawn from the space (search_seed {})", runs(plan.runs.len()), plan.seed),
        sweep::plan::spec::Method::Tpe => {
            format!("tpe: at most {}, the first {} drawn at random (search_seed {})", runs(plan.n_runs), plan.n_startup.min(plan.n_runs), plan.seed)
        }
    }
}

/// With `early_stop:`, the steps and time of the pending runs with and without it.
fn print_early_stop(plan: &Plan, todo: &Pending, predicted: &[Option<f64>], jobs: usize) {
    let Some(es) = &plan.early_stop else { return };
    let (mut full, mut expected) = (0u64, 0.0);
    let mut scaled = Vec::new();
    for (run, seconds) in todo.pending.iter().zip(predicted) {
        let t = &run.config.train;
        let steps = es.expected_steps(t.max_iters, t.eval_interval);
        full += t.max_iters;
        expected += steps;
        scaled.push(seconds.map(|s| s * steps / t.max_iters.max(1) as f64));
    }
    let where_ = match es.method {
        sweep::prune::PruneMethod::Asha => {
            let rungs: std::collections::BTreeSet<u64> = todo.pending.iter().flat_map(|r| es.rungs(r.config.train.max_iters)).collect();
            format!(
                "asha compares runs at step(s) {} and keeps the best 1 in {} at each",
                rungs.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
                es.reduction_factor
            )
        }
        sweep::prune::PruneMethod::Median => format!(
            "median pruning compares runs at every evaluation from step {} once {} others have reached it, and stops those worse than the median",
            es.min_steps, es.min_runs
        ),
    };
    let time = match (scaled.iter().copied().collect::<Option<Vec<f64>>>(), predicted.iter().copied().collect::<Option<Vec<f64>>>()) {
        (Some(scaled), Some(all)) if !all.is_empty() => {
            format!("; {} instead of {}", estimate::human(estimate::makespan(&scaled, jobs)), estimate::human(estimate::makespan(&all, jobs)))
        }
        _ => String::new(),
    };
    println!("early stop: {where_}");
    println!(
        "steps: at most {full} ({} run(s) to the end); about {expected:.0} with early termination if each decision keeps the share it aims for{time} (asynchronous: the first runs at each step are compared with few others, so expect somewhat more)",
        todo.pending.len()
    );
}

/// The packs the sweep will train, or why it packs nothing.
fn print_packs(plan: &Plan, swept: &[String], pending: &[&PlannedRun], packing: Packing, vocab_size: usize, jobs: usize) {
    let on_cpu = packing == Packing::Auto { on_gpu: false };
    let why_not = if packing == Packing::Off {
        Some("--no-pack")
    } else if packing == Packing::Max(1) {
        Some("--pack 1")
    } else if plan.adaptive() {
        Some("tpe proposes one run at a time")
    } else if plan.early_stop.is_some() {
        Some("early_stop stops runs one at a time")
    } else {
        None
    };
    if let Some(why) = why_not {
        println!("packing: none ({why}); every run trains alone in its own process");
        return;
    }
    let packs = packing::packs(pending, jobs, &|r| packing.max_for(&r.config, vocab_size));
    let packed: Vec<&Vec<&PlannedRun>> = packs.iter().filter(|p| p.len() > 1).collect();
    if packed.is_empty() {
        let why = if on_cpu {
            "on a CPU packing was measured slower than separate trials; --pack N packs anyway"
        } else if matches!(packing, Packing::Max(_)) {
            "no two runs to train share a shape"
        } else {
            "no two runs to train share a shape, or the models are too large to gain; --pack N packs anyway"
        };
        println!("packing: none ({why})");
        return;
    }
    let varying: Vec<&str> = sweep_config::PER_MEMBER_SETTINGS.iter().copied().filter(|s| swept.iter().any(|k| k == s)).collect();
    println!(
        "packing: {} runs in {} packs of {} (each pack one model, its runs differing in {}; --no-pack trains each alone):",
        packed.iter().map(|p| p.len()).sum::<usize>(),
        packed.len(),
        sizes(&packed),
        if varying.is_empty() { "no swept setting".to_string() } else { varying.join(", ") }
    );
    for pack in &packed {
        let mut ids: Vec<&str> = pack.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        println!("  {}", ids.join(" + "));
    }
    let cpu_note = if matches!(packing, Packing::Max(_)) && !on_gpu(plan) { "; on a CPU packs were measured slower than separate trials" } else { "" };
    println!("  (the time and disk figures count each run as if it trained alone{cpu_note})");
}

fn on_gpu(plan: &Plan) -> bool {
    plan.runs.iter().any(|r| train::pick_device(&r.config.train.device).is_ok_and(|d| d.is_cuda()))
}

/// "4" or "2 to 4".
fn sizes(packs: &[&Vec<&PlannedRun>]) -> String {
    let (lo, hi) = (packs.iter().map(|p| p.len()).min().unwrap_or(0), packs.iter().map(|p| p.len()).max().unwrap_or(0));
    if lo == hi { lo.to_string() } else { format!("{lo} to {hi}") }
}

fn print_plan(plan: &Plan, data: &TokenData, todo: &Pending, predicted: &[Option<f64>], jobs: usize, threads: usize, on_gpu: bool) {
    let train_tokens = data.train.len() as f64;
    println!("sweep {}: {}; {} training tokens, {} val tokens, vocab {}", plan.name, runs_in_words(plan), data.train.len(), data.val.len(), data.vocab_size);
    if plan.adaptive() {
        println!(
            "tpe proposes each run after the first {} from the runs finished before it; the table shows random draws from the space, which stand for those not proposed yet",
            plan.n_startup.min(plan.n_runs)
        );
    }
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
        "total: {:.2} TFLOP; {}{} on this machine ({}) with {jobs} run(s) at a time and {threads} thread(s) each, from a few steps of each run's shape timed just now",
        total_flops / 1e12,
        estimate::human(wall),
        if wall >= 60.0 { format!(" ({wall:.0} s)") } else { String::new() },
        if on_gpu { "GPU" } else { "CPU" }
    );
}
