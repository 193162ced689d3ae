//! `cargo xtask bench [--gpu]`: our trainer side by side with the PyTorch reference
//! (`bench/reference/train_ref.py`, run from .venv) on the same configs and threads:
//! (a) per-trial step time for three shapes, warm-up excluded; (b) a sweep of 8 tiny trials
//! with `sweep run` (`--pack 8`, then `--no-pack`) against the reference called once per trial
//! in sequence, as a sweep script would; (c) loss parity of those 8 runs against the
//! seed-to-seed spread; (d) peak memory per trial. Prints a table and appends it to
//! BENCHMARKS.md with the date, machine, command and commit.

use crate::{Result, run, target_dir};
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Instant;

/// A trial shape: its name in the table and the spec settings that make it.
struct Shape {
    name: &'static str,
    settings: &'static str,
    /// Steps timed (the first 20 are warm-up and not counted).
    steps: u64,
}

const CPU_SHAPES: [Shape; 3] = [
    Shape {
        name: "tiny: 2 layers, 64 wide, block 64, batch 32, dropout 0.1",
        settings: "n_layers: 2\n  embed_dim: 64\n  n_heads: 4\n  block_size: 64\n  batch_size: 32\n  dropout: 0.1",
        steps: 80,
    },
    Shape {
        name: "4 layers, 128 wide, block 64, batch 12",
        settings: "n_layers: 4\n  embed_dim: 128\n  n_heads: 4\n  block_size: 64\n  batch_size: 12\n  dropout: 0.0",
        steps: 80,
    },
    Shape {
        name: "6 layers, 384 wide, block 64, batch 12",
        settings: "n_layers: 6\n  embed_dim: 384\n  n_heads: 6\n  block_size: 64\n  batch_size: 12\n  dropout: 0.0",
        steps: 40,
    },
];

const GPU_SHAPES: [Shape; 2] = [
    Shape {
        name: "tiny: 2 layers, 64 wide, block 64, batch 32, dropout 0.1",
        settings: "n_layers: 2\n  embed_dim: 64\n  n_heads: 4\n  block_size: 64\n  batch_size: 32\n  dropout: 0.1",
        steps: 200,
    },
    Shape {
        name: "GPT-2 small: 12 layers, 12 heads, 768 wide, block 1024, batch 8, bf16",
        settings: "n_layers: 12\n  embed_dim: 768\n  n_heads: 12\n  block_size: 1024\n  batch_size: 8\n  dropout: 0.0",
        steps: 60,
    },
];

/// Steps at the start of a trial left out of its step time (allocation, caches, lazy init).
const WARMUP_STEPS: u64 = 20;

/// The 8-trial sweep: one tiny shape, lr × dropout × seed.
const SWEEP_GRID: &str = "grid:\n  lr: [1e-3, 3e-3]\n  dropout: [0.0, 0.1]\n  seed: [1, 2]\n";
const SWEEP_SETTINGS: &str = "n_layers: 2\n  embed_dim: 64\n  n_heads: 4\n  block_size: 64\n  batch_size: 32\n  max_iters: 250\n  warmup_iters: 25\n  eval_interval: 50\n  eval_iters: 8";

/// bf16 dense peak of the GPUs the tool targets, for MFU (H100/H200 SXM: 989 TFLOP/s).
const GPU_PEAK_FLOPS: f64 = 989e12;

pub fn bench(root: &Path, gpu: bool) -> Result {
    crate::cargo(root, &["build", "--release", "--bin", "sweep"], &[])?;
    let sweep = target_dir(root).join("release/sweep");
    let work = target_dir(root).join("bench");
    let _ = std::fs::remove_dir_all(&work);
    std::fs::create_dir_all(&work).map_err(|e| format!("cannot create {}: {e}", work.display()))?;
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let device = if gpu { "cuda" } else { "cpu" };
    let threads = if gpu { 1 } else { cores };
    let mut table = String::new();
    let _ = writeln!(
        table,
        "| trial ({device}, {threads} thread(s) each side) | ours ms/step | PyTorch ms/step | speed-up | ours peak MiB | PyTorch peak MiB |{}",
        if gpu { " ours MFU | PyTorch MFU |" } else { "" }
    );
    let _ = writeln!(table, "|---|---:|---:|---:|---:|---:|{}", if gpu { "---:|---:|" } else { "" });
    let shapes: &[Shape] = if gpu { &GPU_SHAPES } else { &CPU_SHAPES };
    for (i, shape) in shapes.iter().enumerate() {
        let name = format!("trial{i}");
        let spec = work.join(format!("{name}.yaml"));
        let text = format!(
            "name: {name}\ndata:\n  path: data/feiniao.txt\n  tokenizer: char\nsettings:\n  {}\n  max_iters: {}\n  warmup_iters: 10\n  eval_interval: {}\n  eval_iters: 2\n  device: {device}\n",
            shape.settings, shape.steps, shape.steps
        );
        write(&spec, &text)?;
        eprintln!("bench: {} (ours)", shape.name);
        run(Command::new(&sweep).current_dir(root).args(["run"]).arg(&spec).args(["-j", "1", "--no-pack", "--out"]).arg(work.join("runs")))?;
        let run_dir = only_run(&work.join("runs").join(&name))?;
        let log = read(&run_dir.join("train.log"))?;
        let ours = step_ms(&log).ok_or("our train.log has too few iter lines")?;
        let ours_mib = log.lines().find_map(|l| l.strip_prefix("peak memory of this trial process: ")?.strip_suffix(" MiB")?.parse::<f64>().ok());
        eprintln!("bench: {} (PyTorch)", shape.name);
        let out = reference(root, &run_dir.join("config.json"), threads, device)?;
        let theirs = step_ms(&out).ok_or("the reference printed too few iter lines")?;
        let theirs_mib = result_field(&out, if gpu { "peak_cuda_mib" } else { "peak_rss_mib" });
        let mfu = |ms: f64| {
            let flops = step_flops(&read(&run_dir.join("config.json")).unwrap_or_default());
            format!(" {:.1}% |", 100.0 * flops / (ms / 1e3) / GPU_PEAK_FLOPS)
        };
        let _ = writeln!(
            table,
            "| {} | {ours:.1} | {theirs:.1} | {:.2}× | {} | {} |{}",
            shape.name,
            theirs / ours,
            fmt_opt(ours_mib),
            fmt_opt(theirs_mib),
            if gpu { format!("{}{}", mfu(ours), mfu(theirs)) } else { String::new() }
        );
    }

    // (b) and (c): the 8-trial sweep.
    let spec = work.join("eight.yaml");
    write(&spec, &format!("name: eight\ndata:\n  path: data/feiniao.txt\n  tokenizer: char\nsettings:\n  {SWEEP_SETTINGS}\n  device: {device}\n{SWEEP_GRID}"))?;
    let mut timed = Vec::new();
    for (label, extra, folder) in [("`sweep run --pack 8` (packed)", &["--pack", "8"][..], "packed"), ("`sweep run --no-pack`", &["--no-pack"][..], "alone")] {
        let out = work.join(folder);
        eprintln!("bench: 8-trial sweep, {label}");
        let start = Instant::now();
        run(Command::new(&sweep).current_dir(root).arg("run").arg(&spec).args(extra).arg("--out").arg(&out))?;
        timed.push((label, start.elapsed().as_secs_f64(), out.join("eight")));
    }
    let mut configs: Vec<PathBuf> = std::fs::read_dir(&timed[1].2)
        .map_err(|e| format!("reading {}: {e}", timed[1].2.display()))?
        .flatten()
        .map(|e| e.path().join("config.json"))
        .filter(|p| p.exists())
        .collect();
    configs.sort();
    eprintln!("bench: 8-trial sweep, the reference once per trial");
    let start = Instant::now();
    let mut reference_losses = Vec::new();
    for config in &configs {
        let out = reference(root, config, threads, device)?;
        reference_losses.push(result_field(&out, "final_val_loss").ok_or("the reference printed no final_val_loss")?);
    }
    let reference_s = start.elapsed().as_secs_f64();
    let _ = writeln!(table, "\n| 8 tiny trials, 250 steps (lr × dropout × seed) | wall s | PyTorch in sequence ÷ this |\n|---|---:|---:|");
    for (label, seconds, _) in &timed {
        let _ = writeln!(table, "| {label} | {seconds:.1} | {:.2}× |", reference_s / seconds);
    }
    let _ = writeln!(table, "| PyTorch reference, once per trial in sequence | {reference_s:.1} | 1.00× |");

    // Loss parity: our runs against the reference's, beside the spread between two seeds.
    let ours: Vec<f64> =
        configs.iter().map(|c| final_val_loss(&c.with_file_name("summary.json"))).collect::<Option<Vec<f64>>>().ok_or("a run has no final_val_loss")?;
    let packed: Vec<f64> = configs
        .iter()
        .map(|c| final_val_loss(&timed[0].2.join(c.parent().and_then(Path::file_name).unwrap_or_default()).join("summary.json")))
        .collect::<Option<Vec<f64>>>()
        .ok_or("a packed run has no final_val_loss")?;
    let mean_gap = |a: &[f64], b: &[f64]| a.iter().zip(b).map(|(x, y)| x - y).sum::<f64>() / a.len() as f64;
    // Runs come in seed pairs (seed is the last grid key): the gap between seeds 1 and 2.
    let seed_spread = |v: &[f64]| v.chunks(2).map(|p| (p[0] - p[1]).abs()).fold(0.0, f64::max);
    let spread = seed_spread(&ours).max(seed_spread(&reference_losses));
    let gap = mean_gap(&ours, &reference_losses);
    let _ = writeln!(table, "\n| loss parity after 250 steps (final val loss, 8 runs) | value |\n|---|---:|");
    let _ = writeln!(table, "| ours alone, mean | {:.4} |", ours.iter().sum::<f64>() / 8.0);
    let _ = writeln!(table, "| ours packed, mean | {:.4} |", packed.iter().sum::<f64>() / 8.0);
    let _ = writeln!(table, "| PyTorch, mean | {:.4} |", reference_losses.iter().sum::<f64>() / 8.0);
    let _ = writeln!(table, "| largest gap between seeds 1 and 2 of one setting (either side) | {spread:.4} |");
    let _ = writeln!(table, "| ours − PyTorch, mean over the 8 | {gap:+.4} |");
    let _ = writeln!(table, "| packed − alone, mean over the 8 | {:+.4} |", mean_gap(&packed, &ours));
    let verdict = if gap.abs() <= spread { "within the seed-to-seed spread" } else { "OUTSIDE the seed-to-seed spread" };
    let _ = writeln!(table, "\nLoss parity: ours − PyTorch is {verdict} (tolerance = the spread).");
    println!("\n{table}");
    append_to_benchmarks(root, &table, gpu)
}

/// Runs the reference on a config; its whole stdout.
fn reference(root: &Path, config: &Path, threads: usize, device: &str) -> Result<String> {
    let out = Command::new(crate::venv_python(root))
        .current_dir(root)
        .arg("bench/reference/train_ref.py")
        .arg(config)
        .args(["--threads", &threads.to_string(), "--device", device])
        .output()
        .map_err(|e| format!("cannot run the reference: {e}"))?;
    if !out.status.success() {
        return Err(format!("the reference failed on {}: {}", config.display(), String::from_utf8_lossy(&out.stderr)));
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Median ms per step over the `iter N: …, time X ms` lines after the warm-up.
fn step_ms(log: &str) -> Option<f64> {
    let mut ms: Vec<f64> = log
        .lines()
        .filter_map(|l| {
            let rest = l.strip_prefix("iter ")?;
            let (step, rest) = rest.split_once(':')?;
            let step: u64 = step.parse().ok()?;
            let ms: f64 = rest.rsplit_once("time ")?.1.strip_suffix("ms")?.parse().ok()?;
            (step >= WARMUP_STEPS).then_some(ms)
        })
        .collect();
    if ms.len() < 2 {
        return None;
    }
    ms.sort_by(f64::total_cmp);
    Some(ms[ms.len() / 2])
}

/// A number from the reference's `result: {…}` line.
fn result_field(out: &str, key: &str) -> Option<f64> {
    let line = out.lines().find_map(|l| l.strip_prefix("result: "))?;
    json_number(line, key)
}

/// `"key": 1.23` in a flat JSON object (xtask has no JSON parser).
fn json_number(json: &str, key: &str) -> Option<f64> {
    let rest = &json[json.find(&format!("\"{key}\""))? + key.len() + 2..];
    let value = rest.trim_start().strip_prefix(':')?.trim_start();
    let end = value.find([',', '}']).unwrap_or(value.len());
    value[..end].trim().parse().ok()
}

fn final_val_loss(summary: &Path) -> Option<f64> {
    json_number(&std::fs::read_to_string(summary).ok()?, "final_val_loss")
}

/// Training FLOPs of one step (6 per parameter per token, plus attention), nanoGPT's estimate.
fn step_flops(config_json: &str) -> f64 {
    let get = |k: &str| json_number(config_json, k).unwrap_or(0.0);
    let (l, c, t, b) = (get("n_layers"), get("embed_dim"), get("block_size"), get("batch_size"));
    let vocab = 1160.0; // data/feiniao.txt, char-level
    let params = 12.0 * l * c * c + vocab * c;
    (6.0 * params + 12.0 * l * c * t) * t * b
}

fn only_run(sweep_dir: &Path) -> Result<PathBuf> {
    std::fs::read_dir(sweep_dir)
        .map_err(|e| format!("reading {}: {e}", sweep_dir.display()))?
        .flatten()
        .map(|e| e.path())
        .find(|p| p.join("config.json").exists())
        .ok_or_else(|| format!("no run folder in {}", sweep_dir.display()))
}

fn fmt_opt(v: Option<f64>) -> String {
    v.map_or("?".into(), |v| format!("{v:.0}"))
}

fn read(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|e| format!("reading {}: {e}", path.display()))
}

fn write(path: &Path, text: &str) -> Result {
    std::fs::write(path, text).map_err(|e| format!("writing {}: {e}", path.display()))
}

/// Appends the table under a heading with the date, machine, command and commit.
fn append_to_benchmarks(root: &Path, table: &str, gpu: bool) -> Result {
    let capture = |cmd: &mut Command| cmd.output().ok().filter(|o| o.status.success()).map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
    let date = capture(Command::new("date").args(["-u", "+%Y-%m-%d %H:%M UTC"])).unwrap_or_default();
    let commit = capture(Command::new("git").current_dir(root).args(["rev-parse", "--short", "HEAD"])).unwrap_or_else(|| "?".into());
    let dirty = capture(Command::new("git").current_dir(root).args(["status", "--porcelain", "--untracked-files=no", "--", ".", ":!BENCHMARKS.md"]))
        .is_some_and(|s| !s.is_empty());
    let cpu = std::fs::read_to_string("/proc/cpuinfo")
        .ok()
        .and_then(|t| t.lines().find_map(|l| l.strip_prefix("model name")).map(|l| l.trim_start_matches([' ', '\t', ':']).to_string()))
        .unwrap_or_else(|| "unknown CPU".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let gpu_name = if gpu { capture(Command::new("nvidia-smi").args(["--query-gpu=name", "--format=csv,noheader"])) } else { None };
    let machine = match gpu_name {
        Some(g) => format!("{g}; {cpu}, {cores} cores"),
        None => format!("{cpu}, {cores} cores, no GPU"),
    };
    let command = if gpu { "cargo xtask bench --gpu" } else { "cargo xtask bench" };
    let section = format!(
        "\n## Side by side with PyTorch ({date})\n\nMachine: {machine}. Command: `{command}`. Commit: {commit}{}. PyTorch: bench/reference/train_ref.py from .venv (eager, fused AdamW).\n\n{table}",
        if dirty { " with uncommitted changes" } else { "" }
    );
    let path = root.join("BENCHMARKS.md");
    let mut text = std::fs::read_to_string(&path).unwrap_or_default();
    text.push_str(&section);
    write(&path, &text)?;
    eprintln!("bench: appended to {}", path.display());
    Ok(())
}
