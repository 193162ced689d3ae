//! `sweep run`: spec → validated plan → data checks for every run → dry-run text or the
//! sweep itself, one `sweep trial` child process per run (or pack). The work is the
//! library's (`sweep::exec`, `sweep::report::dry_run`, `trial::calibrate`); this file
//! turns flags into its calls and prints what they return.

use crate::args::{Backend, PrepareArgs, RunArgs};
use anyhow::Context;
use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use sweep::exec::control::{Control, StorageStop};
use sweep::exec::gpu::placement::{PerGpu, Placement};
use sweep::exec::gpu::{Gpus, inventory};
use sweep::exec::pending::{conflicts_message, known_runs, misfit_refusal, pending_runs};
use sweep::exec::runner::ProcessRunner;
use sweep::exec::scheduler::{self, Options};
use sweep::exec::workers::{Asked, Workers, slurm_task_cores};
use sweep::exit_code;
use sweep::output::disk;
use sweep::output::run_dir::write_json;
use sweep::plan::corpus::{Access, Corpus};
use sweep::plan::estimate;
use sweep::report::dry_run::{self, DryRun, runs_in_words, storage_line};
use sweep::search::{Rerun, stand_ins};
use trial::calibrate;

/// The GPUs trials are placed on: those the inventory lists (nvidia-smi; in tests the fake
/// of `SWEEP_FAKE_GPUS`) that CUDA_VISIBLE_DEVICES and --gpus allow, when every run's device
/// is auto or cuda (a run pinned to cuda:N stays there, unplaced), and libtorch sees CUDA
/// here (`cuda_here`; a login node submitting to Slurm places nothing itself). None on a
/// machine without.
fn placement(a: &RunArgs, plan: &sweep::Plan, vocab_size: usize, cuda_here: bool) -> Result<Option<Gpus>, String> {
    let choice = inventory::Choice::parse(&a.gpus)?;
    let per_gpu = PerGpu::parse(&a.trials_per_gpu)?;
    // The tests' fake inventory stands for GPUs that libtorch cannot see.
    let fake = std::env::var_os(inventory::FAKE_ENV).is_some();
    let placeable = (cuda_here || fake) && plan.runs.iter().all(|r| matches!(r.config.train.device.as_str(), "auto" | "cuda"));
    let machine = if placeable { inventory::machine() } else { Vec::new() };
    if machine.is_empty() {
        return match choice {
            inventory::Choice::Only(_) if placeable => Err(format!("--gpus {}: nvidia-smi lists no GPU on this machine", a.gpus)),
            _ => Ok(None),
        };
    }
    let visible = std::env::var("CUDA_VISIBLE_DEVICES").ok();
    let unknown = inventory::unknown_visible(&machine, visible.as_deref().unwrap_or_default());
    if !unknown.is_empty() {
        eprintln!(
            "sweep: warning: CUDA_VISIBLE_DEVICES names {}, which nvidia-smi does not list; trials are placed only on the GPUs it lists",
            unknown.join(", ")
        );
    }
    let usable = inventory::usable(&machine, visible.as_deref(), &choice)?;
    Ok((!usable.is_empty()).then(|| Gpus { placement: Placement::new(usable, per_gpu), vocab_size }))
}

/// The largest trial's estimated GPU memory among the plan's runs (what the default
/// number of trials at once is sized for).
fn largest_trial(gpus: &Gpus, plan: &sweep::Plan) -> u64 {
    plan.runs.iter().map(|r| sweep::plan::gpu_memory::trial_bytes([&r.config], gpus.vocab_size)).max().unwrap_or(0)
}

/// The token cache's root for the spec at `spec_path` (data.cache, else `<out>/.tokens`).
fn cache_root(spec_path: &Path, out: &Path) -> PathBuf {
    // A spec that cannot be read fails in check() anyway.
    let data = sweep::Spec::from_path(spec_path).map(|p| p.spec.data).unwrap_or_else(|_| sweep_config::RunConfig::with_data("").data);
    corpus::cache::root(&data, out)
}

/// Tokenizes the corpus into the cache (what is missing or changed), with a progress bar
/// on a terminal, and checks it against the runs with exact counts. A data problem is a
/// refusal (exit 2); a full or read-only filesystem stops as `sweep run` says such (exit 3).
fn prepare_corpus(checked: &sweep::plan::Checked, root: &Path, what: &str) -> Result<Corpus, u8> {
    let progress = indicatif::ProgressBar::with_draw_target(None, indicatif::ProgressDrawTarget::stderr());
    progress.set_style(
        indicatif::ProgressStyle::with_template("tokenizing {binary_bytes}/{binary_total_bytes} [{wide_bar}] {binary_bytes_per_sec}, {eta} left")
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar()),
    );
    match sweep::plan::corpus::prepare(&checked.spec, &checked.places, &checked.plan, root, &progress) {
        Ok(corpus) => {
            if let Some(line) = built_line(&corpus) {
                println!("{line}");
            }
            Ok(corpus)
        }
        Err(problems) => {
            if let Some(cause) = problems.iter().find_map(|p| disk::classify(&p.message)) {
                let stop = StorageStop { cause, run_id: String::new(), needed: None };
                println!("sweep {}: stopped: {}; nothing was trained", checked.plan.name, storage_line(&stop, root));
                return Err(exit_code::STORAGE);
            }
            let problems = sweep::error::Problems { path: PathBuf::from(what), items: problems };
            Err(refuse(problems).unwrap_or(exit_code::USAGE))
        }
    }
}

/// The line that says what the cache now holds, when this command tokenized it.
fn built_line(corpus: &Corpus) -> Option<String> {
    let (b, dir) = corpus.built.as_ref()?;
    let rate = b.bytes as f64 / b.seconds.max(1e-9) / 1e6;
    let reused = if b.reused > 0 { format!(" ({} of {} shards kept from an interrupted run)", b.reused, b.units) } else { String::new() };
    Some(if b.bytes == 0 {
        format!("checked {}: {} tokens, ids within the vocabulary; cache {}", corpus.path.display(), b.tokens, dir.display())
    } else {
        format!(
            "tokenized {}: {} in {:.1} s ({rate:.1} MB/s), {} tokens{reused} -> {}",
            corpus.path.display(),
            disk::human_bytes(b.bytes),
            b.seconds,
            b.tokens,
            dir.display()
        )
    })
}

/// `sweep prepare`: the checks `sweep run` makes, and the corpus tokenized into the cache.
pub fn prepare(a: PrepareArgs) -> anyhow::Result<u8> {
    let root = cache_root(&a.spec, &a.out);
    let checked = match sweep::plan::check(&a.spec, &Access::Validate { root: root.clone() }) {
        Ok(checked) => checked,
        Err(problems) => return refuse(problems),
    };
    let corpus = match prepare_corpus(&checked, &root, &a.spec.display().to_string()) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    if corpus.built.is_none() {
        println!(
            "{} is tokenized already: {} train and {} val tokens, vocab {}, in {}",
            corpus.path.display(),
            corpus.counts.n_train,
            corpus.counts.n_val,
            corpus.counts.vocab_size,
            corpus.cache_dir.as_deref().unwrap_or(Path::new("?")).display()
        );
    }
    Ok(exit_code::OK)
}

pub fn run(a: RunArgs) -> anyhow::Result<u8> {
    let root = cache_root(&a.spec, &a.out);
    let access = if a.dry_run { Access::Look { root: root.clone() } } else { Access::Validate { root: root.clone() } };
    let mut checked = match sweep::plan::check(&a.spec, &access) {
        Ok(checked) => checked,
        Err(problems) => return refuse(problems),
    };
    let spec_path = a.spec.display().to_string();
    if a.backend == Backend::Local
        && let Some(flag) = a.slurm.given().first()
    {
        return refuse(format!("{flag} applies to Slurm submissions; add --backend slurm (or leave {flag} out to train here)"));
    }
    if let Some(device) = &a.device {
        // A device that is misspelt or not here fails every run: refuse it before training.
        let mut probe = sweep_config::RunConfig::with_data("");
        probe.train.device = device.clone();
        if let Some(p) = probe.problems().into_iter().find(|p| p.key == "device") {
            return refuse(format!("--device {device} {}", p.rule));
        }
        // A Slurm submission's runs train on the cluster's nodes, not on this login node.
        if a.backend == Backend::Local
            && let Err(e) = train::pick_device(device)
        {
            return refuse(format!("--device {device}: {e:#}"));
        }
        for run in &mut checked.plan.runs {
            run.config.train.device = device.clone();
        }
        // Runs TPE proposes while the sweep runs start from the base config.
        checked.plan.base.train.device = device.clone();
    }
    let (spec, plan) = (&checked.spec, &checked.plan);
    let on_gpu = plan.runs.iter().any(|r| train::pick_device(&r.config.train.device).is_ok_and(|d| d.is_cuda()));
    let gpus = match placement(&a, plan, checked.corpus.counts.vocab_size, on_gpu) {
        Ok(g) => g.map(Arc::new),
        Err(why) => return refuse(why),
    };
    // With GPUs to place trials on, --jobs defaults to what they hold (and an array task
    // trains that many of its sweep's runs at once on its GPUs).
    let capacity = gpus.as_ref().map(|g| g.placement.capacity(largest_trial(g, plan)));
    let array_task = if a.array_task && capacity.is_none() { Some(slurm_task_cores()) } else { None };
    let workers = Workers::new(Asked {
        jobs: a.jobs.or(capacity),
        pack: a.pack,
        no_pack: a.no_pack,
        on_gpu,
        cores: std::thread::available_parallelism().map_or(1, |n| n.get()),
        n_runs: plan.runs.len(),
        array_task,
    });
    let (jobs, threads) = (workers.jobs, workers.threads_per_trial);
    let sweep_dir = spec.sweep_dir(&a.out);
    let rerun = Rerun { failed: a.retry_failed, pruned: a.resume_pruned };
    if let Some(refusal) = misfit_refusal(plan, &sweep_dir) {
        return refuse(refusal);
    }
    let known = known_runs(plan, &sweep_dir);
    if a.array_task {
        // Runs whose Slurm task ended without finishing them: Slurm's reason into their summaries.
        for settled in sweep::exec::slurm::settle::settle(&known, &sweep_dir) {
            println!("{}", settled.line());
        }
    }
    let mut todo = pending_runs(&known, &sweep_dir, rerun);
    let stand_ins = stand_ins(plan, &known);
    todo.pending.extend(stand_ins.iter());
    if a.backend == Backend::Slurm {
        // Tokenized here, once: the array's tasks find the cache ready.
        if let Err(code) = prepare_corpus(&checked, &root, &spec_path) {
            return Ok(code);
        }
        return crate::slurm::submit(&a, spec, plan, &todo, &sweep_dir);
    }
    if !todo.conflicts.is_empty() {
        if a.dry_run {
            // Say what is there, without a plan of what cannot run.
            let (n, skipped, pending, conflicts) = (plan.runs.len(), todo.skipped, todo.pending.len(), todo.conflicts.len());
            println!("sweep {}: {n} runs; {skipped} finished, {pending} to train, {conflicts} in folders that hold other settings' results", plan.name);
        }
        return refuse(conflicts_message(&todo.conflicts));
    }
    if a.dry_run {
        // What warm_start: would bring in is not trained.
        let warm = sweep::exec::warm_start::preview(plan, &sweep_dir)?;
        if let Some(line) = warm.line(&plan.warm_start) {
            println!("{line}");
        }
        let before = todo.pending.len();
        todo.pending.retain(|r| !warm.ids.contains(&r.id));
        todo.skipped += before - todo.pending.len();
        let (corpus, data) = (&checked.corpus, &checked.corpus.counts);
        let predicted = calibrate::predict(&todo.pending, data.vocab_size, jobs, threads);
        let swept = spec.swept_keys();
        let tokenizer_bytes = corpus.tokenizer.as_ref().map(|t| t.to_json()).transpose()?.map_or(0, |j| j.len() as u64);
        let d = DryRun {
            plan,
            swept: &swept,
            data,
            cache_dir: corpus.cache_dir.as_deref(),
            gpus: gpus.as_deref(),
            todo: &todo,
            predicted: &predicted,
            jobs,
            threads,
            on_gpu,
            packing: workers.packing,
            tokenizer_bytes,
            sweep_dir: &sweep_dir,
        };
        print!("{}", dry_run::render(&d));
        return Ok(exit_code::OK);
    }
    let started = std::fs::create_dir_all(&sweep_dir)
        .with_context(|| format!("cannot create output folder {}; check the path and its permissions", sweep_dir.display()))
        .and_then(|_| write_json(&sweep_dir.join("sweep.json"), spec));
    if let Err(e) = started {
        // A full, read-only or failing filesystem is said as such, with its own exit code.
        let Some(cause) = disk::classify(&format!("{e:#}")) else { return Err(e) };
        let stop = StorageStop { cause, run_id: String::new(), needed: None };
        println!("sweep {}: stopped: {}; nothing was trained", plan.name, storage_line(&stop, &sweep_dir));
        return Ok(exit_code::STORAGE);
    }
    let corpus = match prepare_corpus(&checked, &root, &spec_path) {
        Ok(c) => c,
        Err(code) => return Ok(code),
    };
    let data = &corpus.counts;
    // On a GPU the sweep process does not time shapes itself (it would hold GPU memory the
    // trials need for the whole sweep): the time left starts from relative costs (FLOPs) and
    // is in seconds once the first run has finished. An array task trains one run: timing
    // every shape first would only delay it.
    let in_seconds = !on_gpu && !a.array_task;
    let predicted: Vec<Option<f64>> = if todo.pending.is_empty() {
        Vec::new()
    } else if in_seconds {
        calibrate::predict(&todo.pending, data.vocab_size, jobs, threads)
    } else {
        todo.pending.iter().map(|r| Some(estimate::run_flops(&r.config, data.vocab_size))).collect()
    };
    let predicted: HashMap<String, f64> = todo.pending.iter().zip(predicted).filter_map(|(r, s)| Some((r.id.clone(), s?))).collect();

    let what = if workers.may_pack() { "trial(s) or packs of runs" } else { "trial(s)" };
    let device = if on_gpu { "cuda" } else { "cpu" };
    println!("sweep {}: {} on {device} ({jobs} {what} at a time, {threads} thread(s) each) -> {}", plan.name, runs_in_words(plan), sweep_dir.display());
    let exe = std::env::current_exe().context("cannot find the sweep executable to start trials")?;
    let control = Arc::new(Control::default());
    let runner = ProcessRunner { exe, threads_per_trial: threads, children: control.children.clone(), gpus: gpus.clone() };
    let tokenizer = corpus.tokenizer.as_ref().context("the corpus's tokenizer was not built")?;
    let tokenizer_json = tokenizer.to_json()?;
    let signals = sweep::exec::signals::handle_signals(control.clone(), || std::process::exit(exit_code::INTERRUPTED.into()))?;
    let opts = Options {
        jobs,
        rerun,
        early_stop: plan.early_stop.is_some(),
        progress: std::io::IsTerminal::is_terminal(&std::io::stderr()),
        max_retries: spec.max_retries,
        vocab_size: data.vocab_size,
        predicted_s: Arc::new(predicted),
        packing: workers.packing,
        predicted_in_seconds: in_seconds,
        quota: a.array_task.then_some(if array_task.is_some() { 1 } else { jobs }),
        hooks: sweep::report::SWEEP_HOOKS,
    };
    let outcome = scheduler::run_sweep(plan, &sweep_dir, &tokenizer_json, &runner, &control, opts);
    signals.close();
    let (text, code) = sweep::report::sweep_end::sweep_end(&plan.name, &outcome?, &sweep_dir);
    print!("{text}");
    Ok(code)
}

/// A spec, flag or folder that stops the sweep before it trains anything.
fn refuse(why: impl std::fmt::Display) -> anyhow::Result<u8> {
    eprintln!("sweep: error: {why}");
    Ok(exit_code::USAGE)
}
