//! What `sweep run --dry-run` prints, as text: the runs with their parameters, tokens,
//! epochs, FLOPs and predicted seconds; the packs the sweep will train (or why none);
//! early termination's rungs and expected steps; and the disk the runs will take. Also the
//! words for a plan's runs and for a failing filesystem, which `sweep run` prints too.

use crate::exec::control::StorageStop;
use crate::exec::packing::{self, Packing};
use crate::exec::pending::Pending;
use crate::exec::scheduler::longest_first;
use crate::output::disk;
use crate::plan::corpus::{Basis, Counts};
use crate::plan::early_stop::{Order, PruneMethod};
use crate::plan::estimate;
use crate::plan::spec::Method;
use crate::plan::{Plan, PlannedRun};
use std::fmt::Write;
use std::path::Path;
use sweep_config::n_params;

/// Everything the dry run describes.
pub struct DryRun<'a> {
    pub plan: &'a Plan,
    /// The spec's swept setting names.
    pub swept: &'a [String],
    pub data: &'a Counts,
    /// The cache entry the corpus is in, when it is.
    pub cache_dir: Option<&'a Path>,
    /// The GPUs trials are placed on, when there are.
    pub gpus: Option<&'a crate::exec::gpu::Gpus>,
    pub todo: &'a Pending<'a>,
    /// Predicted seconds of each pending run, in `todo.pending`'s order.
    pub predicted: &'a [Option<f64>],
    pub jobs: usize,
    pub threads: usize,
    pub on_gpu: bool,
    pub packing: Packing,
    pub tokenizer_bytes: u64,
    pub sweep_dir: &'a Path,
}

/// The dry run's whole text.
pub fn render(d: &DryRun) -> String {
    let mut out = String::new();
    plan_lines(&mut out, d);
    pack_lines(&mut out, d, &start_order(d));
    early_stop_lines(&mut out, d);
    disk_lines(&mut out, d);
    out
}

fn plan_lines(out: &mut String, d: &DryRun) {
    let (plan, data, todo, predicted, jobs, threads, on_gpu) = (d.plan, d.data, d.todo, d.predicted, d.jobs, d.threads, d.on_gpu);
    let train_tokens = data.n_train as f64;
    let about = if data.exact() { "" } else { "about " };
    let _ = writeln!(
        out,
        "sweep {}: {}; {about}{} training tokens, {about}{} val tokens, vocab {}{}",
        plan.name,
        runs_in_words(plan),
        data.n_train,
        data.n_val,
        if data.exact() { "" } else { "at least " },
        data.vocab_size
    );
    let _ = writeln!(out, "corpus: {}", corpus_line(data, d.cache_dir));
    search_lines(out, plan);
    if let Some(gpus) = d.gpus {
        gpu_lines(out, gpus, d);
    }
    if plan.adaptive() {
        let _ = writeln!(
            out,
            "tpe proposes each run after the first {} from the runs finished before it; the table shows random draws from the space, which stand for those not proposed yet",
            plan.n_startup.min(plan.n_runs)
        );
    }
    if todo.skipped > 0 {
        let _ = writeln!(out, "{} of {} runs already finished; {} to train", todo.skipped, plan.runs.len(), todo.pending.len());
    }
    let gpu_header = if d.gpus.is_some() { format!(" {:>8}", "GPU MB") } else { String::new() };
    let _ = writeln!(out, "{:<44} {:>9} {:>11} {:>8} {:>10} {:>9} {:>8}{gpu_header}", "run", "params", "tokens", "epochs", "uniq/param", "TFLOP", "est. s");
    let mut total_flops = 0.0;
    for (run, seconds) in todo.pending.iter().zip(predicted) {
        let (m, t) = (&run.config.model, &run.config.train);
        let params = n_params(m, data.vocab_size);
        let tokens = (t.max_iters * t.tokens_per_step(m.block_size)) as f64;
        let flops = estimate::run_flops(&run.config, data.vocab_size);
        total_flops += flops;
        let seconds = seconds.map_or("?".to_string(), |s| format!("{s:.1}"));
        // Distinct training tokens the run sees, per parameter (Chinchilla's optimum is about 20).
        let unique_per_param = tokens.min(train_tokens) / params.total.max(1) as f64;
        let gpu_mb = match d.gpus {
            Some(g) => format!(" {:>8}", crate::plan::gpu_memory::trial_bytes([&run.config], g.vocab_size) >> 20),
            None => String::new(),
        };
        let _ = writeln!(
            out,
            "{:<44} {:>8.3}M {:>11} {:>8.2} {:>10.3} {:>9.3} {:>8}{gpu_mb}",
            run.id,
            params.total as f64 / 1e6,
            tokens as u64,
            tokens / train_tokens,
            unique_per_param,
            flops / 1e12,
            seconds
        );
    }
    let Some(predicted) = predicted.iter().copied().collect::<Option<Vec<f64>>>() else {
        let _ = writeln!(out, "total: {:.2} TFLOP; the time cannot be estimated: no run's shape could be timed on this machine", total_flops / 1e12);
        return;
    };
    let wall = estimate::makespan(&in_start_order(d, &predicted), jobs);
    let _ = writeln!(
        out,
        "total: {:.2} TFLOP; {}{} on this machine ({}) with {jobs} run(s) at a time and {threads} thread(s) each, from a few steps of each run's shape timed just now",
        total_flops / 1e12,
        estimate::human(wall),
        if wall >= 60.0 { format!(" ({wall:.0} s)") } else { String::new() },
        if on_gpu { "GPU" } else { "CPU" }
    );
}

/// The GPUs and how trials share them.
fn gpu_lines(out: &mut String, gpus: &crate::exec::gpu::Gpus, d: &DryRun) {
    let list: Vec<String> = gpus
        .placement
        .gpus
        .iter()
        .map(|g| format!("{} {} ({:.1} of {:.1} GB free)", g.index, g.name, g.free_bytes as f64 / 1e9, g.total_bytes as f64 / 1e9))
        .collect();
    let _ = writeln!(out, "GPUs: {}", list.join("; "));
    let largest = d.todo.pending.iter().map(|r| crate::plan::gpu_memory::trial_bytes([&r.config], gpus.vocab_size)).max().unwrap_or(0);
    let per_gpu: Vec<String> = gpus.placement.gpus.iter().map(|g| gpus.placement.per_gpu_for(g, largest).to_string()).collect();
    let how = match gpus.placement.per_gpu {
        crate::exec::gpu::placement::PerGpu::Auto => "as many as fit in its free memory by the estimate (GPU MB below",
        crate::exec::gpu::placement::PerGpu::Fixed(_) => "as --trials-per-gpu says (GPU MB below is the estimate",
    };
    let _ = writeln!(
        out,
        "placement: each trial sees one GPU (CUDA_VISIBLE_DEVICES); up to {} trial(s) per GPU, {how}: weights, gradients and AdamW in fp32, bf16 activations and logits, ×{} margin, plus {} MB for the CUDA context); {} at a time",
        per_gpu.join("/"),
        crate::plan::gpu_memory::MARGIN,
        crate::plan::gpu_memory::CONTEXT_BYTES >> 20,
        d.jobs
    );
}

/// Where the counts come from: the cache, tokenizing now, or an estimate and how to make it exact.
fn corpus_line(data: &Counts, cache_dir: Option<&Path>) -> String {
    let width = if data.vocab_size <= 1 << 16 { 2 } else { 4 };
    let cache_bytes = disk::human_bytes((data.n_train + data.n_val) * width);
    match (&data.basis, cache_dir) {
        (Basis::Cached, Some(dir)) => format!("tokenized, cached in {}", dir.display()),
        (Basis::Cached, None) | (Basis::InMemory, _) => format!("tokenized just now, not cached yet (sweep run caches it: {cache_bytes})"),
        (Basis::FileSizes, _) => "nanoGPT .bin files, counted from their sizes; sweep run checks their ids once and uses them in place".into(),
        (Basis::Estimated { bytes, bytes_per_token }, _) => format!(
            "{} not tokenized yet: counts estimated at {bytes_per_token:.2} bytes per token from its first MiB; `sweep prepare` tokenizes it \
             for exact counts (the cache takes about {cache_bytes})",
            disk::human_bytes(*bytes)
        ),
    }
}

/// The packs the sweep will train, or why it packs nothing.
/// The pending runs in the order the sweep starts them, which decides the packs and the wall
/// time: longest first, or plan order when early termination runs in plan order.
fn start_order<'a>(d: &DryRun<'a>) -> Vec<&'a PlannedRun> {
    let mut order: Vec<&PlannedRun> = d.todo.pending.clone();
    if d.plan.early_stop.as_ref().is_none_or(|es| es.order == Order::Arrival) {
        let cost: std::collections::HashMap<&str, f64> = d.todo.pending.iter().zip(d.predicted).filter_map(|(r, s)| Some((r.id.as_str(), (*s)?))).collect();
        longest_first(&mut order, |r| cost.get(r.id.as_str()).copied());
    }
    order
}

/// `seconds` (one per pending run, in `todo.pending`'s order) in the order the sweep starts the runs.
fn in_start_order(d: &DryRun, seconds: &[f64]) -> Vec<f64> {
    let by_id: std::collections::HashMap<&str, f64> = d.todo.pending.iter().zip(seconds).map(|(r, s)| (r.id.as_str(), *s)).collect();
    start_order(d).iter().map(|r| by_id[r.id.as_str()]).collect()
}

/// `pending`: the runs in the order the sweep starts them.
fn pack_lines(out: &mut String, d: &DryRun, pending: &[&PlannedRun]) {
    let (plan, swept, packing, vocab_size, jobs, on_gpu) = (d.plan, d.swept, d.packing, d.data.vocab_size, d.jobs, d.on_gpu);
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
        let _ = writeln!(out, "packing: none ({why}); every run trains alone in its own process");
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
        let _ = writeln!(out, "packing: none ({why})");
        return;
    }
    let varying: Vec<&str> = sweep_config::PER_MEMBER_SETTINGS.iter().copied().filter(|s| swept.iter().any(|k| k == s)).collect();
    let _ = writeln!(
        out,
        "packing: {} runs in {} packs of {} (each pack one model, its runs differing in {}; --no-pack trains each alone):",
        packed.iter().map(|p| p.len()).sum::<usize>(),
        packed.len(),
        sizes(&packed),
        if varying.is_empty() { "no swept setting".to_string() } else { varying.join(", ") }
    );
    for pack in &packed {
        let mut ids: Vec<&str> = pack.iter().map(|r| r.id.as_str()).collect();
        ids.sort_unstable();
        let _ = writeln!(out, "  {}", ids.join(" + "));
    }
    let cpu_note = if matches!(packing, Packing::Max(_)) && !on_gpu { "; on a CPU packs were measured slower than separate trials" } else { "" };
    let _ = writeln!(out, "  (the time and disk figures count each run as if it trained alone{cpu_note})");
}

/// "4" or "2 to 4".
fn sizes(packs: &[&Vec<&PlannedRun>]) -> String {
    let (lo, hi) = (packs.iter().map(|p| p.len()).min().unwrap_or(0), packs.iter().map(|p| p.len()).max().unwrap_or(0));
    if lo == hi { lo.to_string() } else { format!("{lo} to {hi}") }
}

/// With `early_stop:`, the steps and time of the pending runs with and without it.
fn early_stop_lines(out: &mut String, d: &DryRun) {
    let (plan, todo, predicted, jobs) = (d.plan, d.todo, d.predicted, d.jobs);
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
        PruneMethod::Asha => {
            let rungs: std::collections::BTreeSet<u64> = todo.pending.iter().flat_map(|r| es.rungs(r.config.train.max_iters)).collect();
            format!(
                "asha compares runs at step(s) {} and keeps the best 1 in {} at each",
                rungs.iter().map(u64::to_string).collect::<Vec<_>>().join(", "),
                es.reduction_factor
            )
        }
        PruneMethod::Median => format!(
            "median pruning compares runs at every evaluation from step {} once {} others have reached it, and stops those worse than the median",
            es.min_steps, es.min_runs
        ),
    };
    let time = match (scaled.iter().copied().collect::<Option<Vec<f64>>>(), predicted.iter().copied().collect::<Option<Vec<f64>>>()) {
        (Some(scaled), Some(all)) if !all.is_empty() => {
            let (scaled, all) = (in_start_order(d, &scaled), in_start_order(d, &all));
            format!("; {} instead of {}", estimate::human(estimate::makespan(&scaled, jobs)), estimate::human(estimate::makespan(&all, jobs)))
        }
        _ => String::new(),
    };
    let order = match es.order {
        Order::Plan => {
            "in plan order: each run is compared with the runs before it in the plan, which gives the same decisions on any machine, a run that gets to a step first waiting there for them; the first runs go on more often, so expect somewhat more"
        }
        Order::Arrival => "in arrival order: the first runs at each step are compared with few others, so expect somewhat more; the decisions depend on timing",
    };
    let _ = writeln!(out, "early stop: {where_}");
    let _ = writeln!(
        out,
        "steps: at most {full} ({} run(s) to the end); about {expected:.0} with early termination if each decision keeps the share it aims for{time} ({order})",
        todo.pending.len()
    );
}

/// The disk space the pending runs will take when finished and at most on the way, and
/// what the output filesystem has free.
fn disk_lines(out: &mut String, d: &DryRun) {
    let (todo, vocab_size, tokenizer_bytes, jobs, sweep_dir) = (d.todo, d.data.vocab_size, d.tokenizer_bytes, d.jobs, d.sweep_dir);
    let (early_stop, n_swept) = (d.plan.early_stop.is_some(), d.swept.len());
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
    let _ = writeln!(
        out,
        "disk: {} ({finished} bytes){which} in {} when finished{pruned}, up to {} while {jobs} run(s) train at once (checkpoints hold weights and AdamW moments){free}",
        disk::human_bytes(finished),
        sweep_dir.display(),
        disk::human_bytes(peak)
    );
    if let Some((free, _)) = space
        && free < peak
    {
        let _ = writeln!(
            out,
            "warning: {} has {} free, less than the {} this sweep needs at its peak: it will stop when the disk is full (free space, or use --out elsewhere)",
            sweep_dir.display(),
            disk::human_bytes(free),
            disk::human_bytes(peak)
        );
    }
}

/// "64 runs", "random search: 24 runs drawn from the space (search_seed 0)", "tpe: at most 30 runs …".
/// What `constraints:`, `enqueue:` and `stop:` did to the plan or will do.
fn search_lines(out: &mut String, plan: &Plan) {
    if !plan.constraints.is_empty() {
        let each = |ids: &[String]| {
            let eg = ids.iter().take(2).cloned().collect::<Vec<_>>().join(", ");
            format!("{} (e.g. {eg})", ids.len())
        };
        let by: Vec<String> = plan.dropped.iter().map(|(c, ids)| format!("`{c}` {}", each(ids))).collect();
        let n: usize = plan.dropped.iter().map(|(_, ids)| ids.len()).sum();
        let _ = match (plan.method, n) {
            (_, 0) => writeln!(out, "constraints: every run satisfies all {}", plan.constraints.len()),
            (Method::Grid, _) => writeln!(out, "constraints: dropped {n} of {} combinations: {}", n + plan.runs.len(), by.join("; ")),
            _ => writeln!(out, "constraints: {n} draw(s) rejected and drawn again: {}", by.join("; ")),
        };
    }
    if plan.n_enqueued > 0 {
        let ids: Vec<&str> = plan.runs[..plan.n_enqueued].iter().map(|r| r.id.as_str()).collect();
        let _ = writeln!(out, "enqueue: {} first, before anything drawn: {}", plan.n_enqueued, ids.join(", "));
    }
    if let Some(stop) = &plan.stop {
        let threshold = match stop.min_delta {
            Some(d) => format!("by more than {d} (min_delta, or the seed-to-seed spread once repeated seeds measure one)"),
            None => "by more than the seed-to-seed spread".into(),
        };
        let _ = writeln!(out, "stop: proposing ends once {} finished runs pass without the best val loss improving {threshold}", stop.patience_runs);
    }
}

pub fn runs_in_words(plan: &Plan) -> String {
    let runs = |n: usize| if n == 1 { "1 run".to_string() } else { format!("{n} runs") };
    match plan.method {
        Method::Grid => runs(plan.runs.len()),
        Method::Random if plan.runs.len() < plan.n_runs => {
            format!("random search: {} (the space has no more distinct points than that; n_runs is {})", runs(plan.runs.len()), plan.n_runs)
        }
        Method::Random => format!("random search: {} drawn from the space (search_seed {})", runs(plan.runs.len()), plan.seed),
        Method::Tpe => {
            format!("tpe: at most {}, the first {} drawn at random (search_seed {})", runs(plan.n_runs), plan.n_startup.min(plan.n_runs), plan.seed)
        }
    }
}

/// "no space left on device in runs/feiniao (0 B free of 2.5 MB): free space and rerun the
/// same command to resume": the cause, the folder, the space there now, and the fix.
pub fn storage_line(stop: &StorageStop, sweep_dir: &Path) -> String {
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

#[cfg(test)]
mod tests {
    use super::*;
    use crate::exec::pending::pending_runs;
    use crate::search::Rerun;

    #[test]
    fn the_dry_run_lists_every_run_then_the_total_the_packs_early_stop_and_disk() {
        let spec = "name: s\ndata:\n  path: d.txt\nsettings:\n  max_iters: 100\n  eval_interval: 50\n  block_size: 8\n\
                    grid:\n  lr: [0.001, 0.01]\nearly_stop:\n  min_steps: 50\n  reduction_factor: 2\n";
        let plan = Plan::from_spec_text(spec).unwrap();
        let data = Counts { n_train: 810, n_val: 90, vocab_size: 28, basis: Basis::InMemory };
        let dir = tempfile::tempdir().unwrap();
        let todo = pending_runs(&plan.runs, dir.path(), Rerun::default());
        let swept = vec!["lr".to_string()];
        let d = DryRun {
            plan: &plan,
            swept: &swept,
            data: &data,
            cache_dir: None,
            gpus: None,
            todo: &todo,
            predicted: &[Some(30.0), Some(10.0)],
            jobs: 1,
            threads: 2,
            on_gpu: false,
            packing: Packing::Auto { on_gpu: false },
            tokenizer_bytes: 1000,
            sweep_dir: dir.path(),
        };
        let out = render(&d);
        let lines: Vec<&str> = out.lines().collect();
        assert!(lines[0].starts_with("sweep s: 2 runs; 810 training tokens, 90 val tokens, vocab 28"), "{out}");
        assert_eq!(lines[1], "corpus: tokenized just now, not cached yet (sweep run caches it: 2 KB)");
        assert!(lines[3].starts_with("lr1e-3 ") && lines[4].starts_with("lr1e-2 "), "one row per run, in plan order:\n{out}");
        assert!(lines[3].contains(" 25600 ") && lines[3].contains(" 31.60 "), "25600 tokens = 31.6 epochs of 810:\n{out}");
        assert!(lines[5].starts_with("total: ") && lines[5].contains("40 s on this machine (CPU) with 1 run(s) at a time and 2 thread(s) each"), "{out}");
        assert!(out.contains("packing: none (early_stop stops runs one at a time)"), "{out}");
        assert!(out.contains("early stop: asha compares runs at step(s) 50 and keeps the best 1 in 2 at each"), "{out}");
        assert!(out.lines().last().unwrap().starts_with("disk: "), "{out}");
    }
}
