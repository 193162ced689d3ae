//! Project automation, so a fresh machine needs only Rust and python3:
//!
//!   cargo xtask demo [--spec FILE]   set up, build, run sweeps/feiniao.yaml (or FILE), print the report
//!   cargo xtask test          set up, install the Debian packages tests need, run the whole test suite
//!   cargo xtask sweep FILE    set up, build, run FILE, print its report
//!   cargo xtask setup         create .venv with PyTorch 2.11.0
//!   cargo xtask build         set up, build everything (release), as the tests will
//!   cargo xtask bench         our trainer against the PyTorch reference, side by side (appended to BENCHMARKS.md)
//!   cargo xtask bench --gpu   the same on a GPU, with a GPT-2-small shape and MFU
//!   cargo xtask bench --feiniao  time the feiniao sweep from scratch against its prediction
//!
//! Set-up is idempotent: an existing .venv with the right torch is reused.

mod bench;

use std::path::{Path, PathBuf};
use std::process::{Command, ExitCode};

/// tch 0.24 binds exactly this PyTorch release.
const TORCH_VERSION: &str = "2.11.0";

fn main() -> ExitCode {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = project_root();
    let result = match args.first().map(String::as_str) {
        Some("setup") => setup(&root),
        Some("demo") => match args.get(1).map(String::as_str) {
            Some("--spec") => match args.get(2) {
                Some(spec) => setup(&root).and_then(|_| sweep_and_report(&root, spec, &args[3..])),
                None => Err("usage: cargo xtask demo [--spec SPEC] [sweep run options]".into()),
            },
            _ => setup(&root).and_then(|_| sweep_and_report(&root, "sweeps/feiniao.yaml", &args[1..])),
        },
        Some("sweep") => match args.get(1) {
            Some(spec) => setup(&root).and_then(|_| sweep_and_report(&root, spec, &args[2..])),
            None => Err("usage: cargo xtask sweep SPEC [sweep run options]".into()),
        },
        Some("bench") => match args.get(1).map(String::as_str) {
            None => setup(&root).and_then(|_| bench::bench(&root, false)),
            Some("--gpu") => setup(&root).and_then(|_| bench::bench(&root, true)),
            Some("--feiniao") => setup(&root).and_then(|_| bench_feiniao(&root)),
            Some(other) => Err(format!("unknown bench option {other}; usage: cargo xtask bench [--gpu | --feiniao]")),
        },
        Some("build") => setup(&root).and_then(|_| cargo(&root, &["build", "--release", "--workspace", "--all-targets"], &args[1..])),
        Some("test") | Some("ci") => setup(&root).and_then(|_| test_python_packages(&root)).and_then(|_| {
            system_packages(&root);
            cargo(&root, &["test", "--release", "--workspace"], &args[1..])
        }),
        _ => Err("usage: cargo xtask <demo | test | sweep SPEC | setup | build | bench [--gpu | --feiniao]>".into()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("xtask: error: {e}");
            ExitCode::FAILURE
        }
    }
}

type Result<T = ()> = std::result::Result<T, String>;

fn project_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).ancestors().nth(2).expect("crates/xtask is two levels down").to_path_buf()
}

/// Where cargo puts builds: CARGO_TARGET_DIR when set (CI's bare-clone check shares one), else target/.
fn target_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map(PathBuf::from).unwrap_or_else(|| root.join("target"))
}

fn venv_python(root: &Path) -> PathBuf {
    root.join(".venv/bin/python")
}

/// Runs a command, failing with its name if it cannot start or exits non-zero.
fn run(cmd: &mut Command) -> Result {
    let status = cmd.status().map_err(|e| format!("cannot run {cmd:?}: {e}"))?;
    if status.success() { Ok(()) } else { Err(format!("{cmd:?} failed ({status})")) }
}

fn installed_torch(root: &Path) -> Option<String> {
    let out = Command::new(venv_python(root)).args(["-c", "import importlib.metadata as m; print(m.version('torch'))"]).output().ok()?;
    out.status.success().then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Creates .venv with torch==2.11.0 unless it is there.
fn setup(root: &Path) -> Result {
    match installed_torch(root) {
        Some(v) if v.split('+').next() == Some(TORCH_VERSION) => {}
        other => {
            if let Some(v) = other {
                eprintln!("xtask: .venv has torch {v}; installing {TORCH_VERSION}");
            }
            if !venv_python(root).exists() {
                eprintln!("xtask: creating .venv");
                run(Command::new("python3").args(["-m", "venv"]).arg(root.join(".venv")))
                    .map_err(|e| format!("{e}; install python3 with venv support (Debian: apt-get install python3-venv)"))?;
            }
            eprintln!("xtask: installing torch=={TORCH_VERSION} into .venv (about 2 minutes and 4.6 GB)");
            run(Command::new(venv_python(root))
                .args(["-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off"])
                .arg(format!("torch=={TORCH_VERSION}")))?;
        }
    }
    Ok(())
}

/// Python packages only the tests use, pinned: tiktoken, which tests/gpt2_tiktoken.rs
/// compares our GPT-2 tokenizer with (offline, from the vocabulary in data/gpt2/).
const TEST_PYTHON_PACKAGES: &[(&str, &str)] = &[("tiktoken", "0.14.0")];

fn test_python_packages(root: &Path) -> Result {
    for (name, version) in TEST_PYTHON_PACKAGES {
        let have = Command::new(venv_python(root))
            .args(["-c", &format!("import importlib.metadata as m; print(m.version('{name}'))")])
            .output()
            .ok()
            .filter(|o| o.status.success())
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_string());
        if have.as_deref() != Some(version) {
            eprintln!("xtask: installing {name}=={version} into .venv for the tests");
            run(Command::new(venv_python(root))
                .args(["-m", "pip", "install", "--disable-pip-version-check", "--progress-bar", "off", "-q"])
                .arg(format!("{name}=={version}")))?;
        }
    }
    Ok(())
}

/// The Debian packages some tests need (slurm-wlm, munge, chromium), installed by
/// tests/system-packages in one apt-get call before any test starts, and skipped when present.
/// Where they cannot be installed, it says why in one line and the tests that need them fail
/// with that reason (they never skip), so this never stops the suite.
fn system_packages(root: &Path) {
    let ok = Command::new("bash").arg(root.join("tests/system-packages")).arg("install").status().is_ok_and(|s| s.success());
    if !ok {
        eprintln!("xtask: the tests that need those packages will fail; the others run");
    }
}

/// A cargo command with libtorch found in .venv's torch package.
fn cargo(root: &Path, args: &[&str], extra: &[String]) -> Result {
    let path = std::env::var("PATH").unwrap_or_default();
    let mut cmd = Command::new(std::env::var("CARGO").unwrap_or_else(|_| "cargo".into()));
    cmd.current_dir(root).args(args).args(extra).env("PATH", format!("{}:{path}", root.join(".venv/bin").display())).env("LIBTORCH_USE_PYTORCH", "1");
    run(&mut cmd)
}

fn sweep_and_report(root: &Path, spec: &str, extra: &[String]) -> Result {
    cargo(root, &["build", "--release", "--bin", "sweep"], &[])?;
    let sweep = target_dir(root).join("release/sweep");
    // Ctrl-C reaches `sweep run` too (same process group), which saves and stops its runs;
    // xtask must outlive it rather than die first and hand the terminal back mid-shutdown.
    let ctrl_c = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    signal_hook::flag::register(signal_hook::consts::SIGINT, ctrl_c).map_err(|e| format!("cannot handle Ctrl-C: {e}"))?;
    let status = Command::new(&sweep).current_dir(root).args(["run", spec]).args(extra).status().map_err(|e| format!("cannot run {}: {e}", sweep.display()))?;
    if status.code() == Some(130) {
        return Err(format!("interrupted; run the same command again to resume {spec}"));
    }
    // Spec and data errors (exit 2) leave nothing to report.
    if status.code() == Some(2) {
        return Err(format!("sweep run {spec} failed"));
    }
    if status.code() == Some(3) {
        return Err(format!("the output filesystem is full or failing (see the line above); free space and run the same command again to resume {spec}"));
    }
    println!();
    let sweep_dir = format!("runs/{}", sweep_name(root, spec)?);
    run(Command::new(&sweep).current_dir(root).args(["report", "--by", "val_loss"]).arg(&sweep_dir))?;
    // The page `sweep run` drew at its end, last, where the eye lands.
    println!("\nHTML report: {}", root.join(&sweep_dir).join("index.html").display());
    if status.success() { Ok(()) } else { Err("some runs failed or diverged; see the report above".into()) }
}

/// The `name:` of a spec, read without a YAML parser (xtask has no dependencies).
fn sweep_name(root: &Path, spec: &str) -> Result<String> {
    let text = std::fs::read_to_string(root.join(spec)).map_err(|e| format!("cannot read {spec}: {e}"))?;
    text.lines()
        .find_map(|l| l.strip_prefix("name:"))
        .map(|n| n.split('#').next().unwrap_or_default().trim().trim_matches(['"', '\'']).to_string())
        .ok_or_else(|| format!("{spec} has no top-level name:"))
}

/// Runs sweeps/feiniao.yaml into a fresh folder after asking `--dry-run` for its
/// prediction, and prints the prediction against the wall time, and the spread of per-run
/// training throughput: the figures quoted in BENCHMARKS.md.
fn bench_feiniao(root: &Path) -> Result {
    cargo(root, &["build", "--release", "--bin", "sweep"], &[])?;
    let out = target_dir(root).join("bench-runs");
    let _ = std::fs::remove_dir_all(&out);
    let sweep = target_dir(root).join("release/sweep");
    let plan = Command::new(&sweep)
        .current_dir(root)
        .args(["run", "sweeps/feiniao.yaml", "--dry-run", "--out"])
        .arg(&out)
        .output()
        .map_err(|e| format!("cannot run {}: {e}", sweep.display()))?;
    let plan = String::from_utf8_lossy(&plan.stdout);
    let total = plan.lines().find(|l| l.starts_with("total:")).ok_or("the dry run printed no total: line")?;
    println!("dry run: {total}");
    let disk_line = plan.lines().find(|l| l.starts_with("disk:")).ok_or("the dry run printed no disk: line")?;
    let disk_predicted: u64 = disk_line
        .split_once(" (")
        .and_then(|(_, rest)| rest.split(' ').next()?.parse().ok())
        .ok_or_else(|| format!("cannot read the predicted bytes in {disk_line:?}"))?;
    let predicted: f64 = total
        .split_once("s) on this machine")
        .and_then(|(head, _)| head.rsplit('(').next()?.trim().parse().ok())
        .ok_or_else(|| format!("cannot read the predicted seconds in {total:?}"))?;
    let start = std::time::Instant::now();
    run(Command::new(&sweep).current_dir(root).args(["run", "sweeps/feiniao.yaml", "--out"]).arg(&out))?;
    let wall = start.elapsed().as_secs_f64();
    let csv = std::fs::read_to_string(out.join("feiniao/report.csv")).map_err(|e| format!("reading report.csv: {e}"))?;
    let mut lines = csv.lines();
    let header: Vec<&str> = lines.next().unwrap_or_default().split(',').collect();
    let col = |name: &str| header.iter().position(|h| *h == name).ok_or(format!("report.csv has no {name} column"));
    let (g, w) = (col("gflops")?, col("wall_seconds")?);
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    let nums = |i: usize| rows.iter().filter_map(|r| r.get(i)?.parse::<f64>().ok()).collect::<Vec<f64>>();
    let (gflops, walls) = (nums(g), nums(w));
    let min = |v: &[f64]| v.iter().copied().fold(f64::INFINITY, f64::min);
    let max = |v: &[f64]| v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    println!("feiniao sweep: {} runs in {wall:.0} s wall ({:.0} s of trial time)", rows.len(), walls.iter().sum::<f64>());
    println!("predicted by --dry-run: {predicted:.0} s; real / predicted = {:.2}", wall / predicted);
    let disk_real = allocated_bytes(&out.join("feiniao"));
    println!(
        "disk: the finished sweep takes {disk_real} bytes; --dry-run said {disk_predicted} (real / predicted = {:.2})",
        disk_real as f64 / disk_predicted as f64
    );
    println!("training throughput per run: {:.1} to {:.1} GFLOP/s", min(&gflops), max(&gflops));
    println!("per-run wall time: {:.1} to {:.1} s", min(&walls), max(&walls));
    Ok(())
}

/// Bytes allocated on disk under `dir`, as `du` counts them (blocks, not file lengths).
fn allocated_bytes(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else { return 0 };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => m.blocks() * 512 + allocated_bytes(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}
