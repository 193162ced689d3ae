use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, Instant};

/// A temporary working folder holding a corpus, specs and `runs/`.
pub struct SweepDir {
    pub dir: tempfile::TempDir,
}

/// A repetitive but not trivial corpus: 40 short lines of mixed Chinese and English.
pub fn corpus() -> String {
    let lines = [
        "夏天的飞鸟，飞到我的窗前唱歌，又飞去了。",
        "Stray birds of summer come to my window to sing and fly away.",
        "秋天的黄叶，它们没有什么可唱，只叹息一声，飞落在那里。",
    ];
    (0..40).map(|i| lines[i % 3]).collect::<Vec<_>>().join("\n")
}

/// Settings that train in well under a second per run.
pub const TINY: &str = "\
settings:
  block_size: 16
  n_layers: 1
  n_heads: 2
  batch_size: 4
  max_iters: 20
  warmup_iters: 2
  eval_interval: 10
  eval_iters: 2
sample:
  prompts: [\"夏天\"]
  max_new_tokens: 10
";

impl SweepDir {
    pub fn new() -> Self {
        let dir = tempfile::tempdir().expect("temp dir");
        std::fs::create_dir_all(dir.path().join("data")).unwrap();
        std::fs::write(dir.path().join("data/tiny.txt"), corpus()).unwrap();
        SweepDir { dir }
    }

    pub fn path(&self) -> &Path {
        self.dir.path()
    }

    /// Writes `sweeps/<name>.yaml` with the tiny settings and the given grid body.
    pub fn spec(&self, name: &str, grid: &str) -> PathBuf {
        let text = format!("name: {name}\ndata:\n  path: data/tiny.txt\n{TINY}grid:\n{grid}");
        self.write(&format!("sweeps/{name}.yaml"), &text)
    }

    pub fn write(&self, rel: &str, text: &str) -> PathBuf {
        let path = self.path().join(rel);
        std::fs::create_dir_all(path.parent().unwrap()).unwrap();
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Runs `sweep ARGS` in this folder.
    pub fn sweep(&self, args: &[&str]) -> Output {
        Command::new(env!("CARGO_BIN_EXE_sweep")).args(args).current_dir(self.path()).output().expect("run sweep")
    }

    /// Starts `sweep ARGS` in this folder without waiting; stdout and stderr are piped.
    pub fn spawn(&self, args: &[&str]) -> std::process::Child {
        Command::new(env!("CARGO_BIN_EXE_sweep"))
            .args(args)
            .current_dir(self.path())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("start sweep")
    }

    /// Pids of `sweep trial` processes started in this folder.
    pub fn trial_pids(&self) -> Vec<u32> {
        let here = self.path().canonicalize().unwrap();
        std::fs::read_dir("/proc")
            .unwrap()
            .filter_map(|e| e.ok())
            .filter_map(|e| e.file_name().to_str()?.parse::<u32>().ok())
            .filter(|pid| {
                let cmd = std::fs::read(format!("/proc/{pid}/cmdline")).unwrap_or_default();
                let cmd = String::from_utf8_lossy(&cmd).replace('\0', " ");
                let cwd = std::fs::read_link(format!("/proc/{pid}/cwd")).ok();
                cmd.contains(" trial ") && cwd.as_deref() == Some(here.as_path())
            })
            .collect()
    }

    pub fn text(&self, rel: &str) -> String {
        std::fs::read_to_string(self.path().join(rel)).unwrap_or_default()
    }

    pub fn run_dir(&self, sweep: &str, id: &str) -> PathBuf {
        self.path().join("runs").join(sweep).join(id)
    }

    pub fn summary(&self, sweep: &str, id: &str) -> serde_json::Value {
        let text = std::fs::read_to_string(self.run_dir(sweep, id).join("summary.json")).expect("summary.json");
        serde_json::from_str(&text).unwrap()
    }
}

pub fn stdout(o: &Output) -> String {
    String::from_utf8_lossy(&o.stdout).into_owned()
}

pub fn stderr(o: &Output) -> String {
    String::from_utf8_lossy(&o.stderr).into_owned()
}

/// Spec body for runs that take one to a few seconds each, checkpointing often.
pub fn slow_spec(w: &SweepDir, name: &str, max_iters: u32, grid: &str) {
    w.write(
        &format!("sweeps/{name}.yaml"),
        &format!(
            "name: {name}\ndata:\n  path: data/tiny.txt\nsettings:\n  block_size: 16\n  embed_dim: 32\n  n_layers: 2\n  n_heads: 2\n  batch_size: 8\n  \
             max_iters: {max_iters}\n  warmup_iters: 5\n  eval_interval: 20\n  eval_iters: 2\n  checkpoint_interval: 5\nsample:\n  prompts: [\"夏天\"]\n  max_new_tokens: 5\ngrid:\n{grid}"
        ),
    );
}

pub fn ids(w: &SweepDir, sweep: &str) -> Vec<String> {
    let mut ids: Vec<String> = std::fs::read_dir(w.path().join("runs").join(sweep))
        .unwrap()
        .filter_map(|e| e.ok())
        .filter(|e| e.path().is_dir())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        // Not runs: the Slurm backend's script, jobs and task logs; the HTML report's charts.
        .filter(|name| name != "slurm" && name != "plots")
        .collect();
    ids.sort();
    ids
}

pub fn wait_for(what: &str, timeout: Duration, mut ok: impl FnMut() -> bool) {
    let start = Instant::now();
    while !ok() {
        assert!(start.elapsed() < timeout, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every run is done, trained to completion exactly once, with a complete loss.csv.
pub fn assert_complete(w: &SweepDir, sweep: &str, n_runs: usize, max_iters: u64) {
    let ids = ids(w, sweep);
    assert_eq!(ids.len(), n_runs, "{ids:?}");
    let want: Vec<u64> = (0..=max_iters).step_by(20).chain((!max_iters.is_multiple_of(20)).then_some(max_iters)).collect();
    for id in ids {
        let s = w.summary(sweep, &id);
        assert_eq!(s["status"], "done", "{id}: {s:#}");
        // Trained to the end once: nothing starts or resumes after a training finished.
        // ("finished" is printed after summary.json is written, so a kill in between may drop it.)
        let log = w.text(&format!("runs/{sweep}/{id}/train.log"));
        let marker = format!("run {id}: finished");
        assert!(log.matches(&marker).count() <= 1, "{id} finished more than once:\n{log}");
        if let Some(after) = log.split(&marker).nth(1) {
            assert!(!after.contains("starting at step") && !after.contains("resuming at step"), "{id} trained again after finishing:\n{log}");
        }
        let csv = w.text(&format!("runs/{sweep}/{id}/loss.csv"));
        let steps: Vec<u64> = csv.lines().skip(1).map(|l| l.split(',').next().unwrap().parse().unwrap()).collect();
        assert_eq!(steps, want, "{id}: loss.csv steps complete and strictly increasing");
        for leftover in ["claim.json", "resume.safetensors", "loss.tmp.png", "model.tmp.safetensors"] {
            assert!(!w.path().join(format!("runs/{sweep}/{id}/{leftover}")).exists(), "{id}: {leftover} left behind");
        }
    }
}
