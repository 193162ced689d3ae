//! A full output filesystem stops the sweep cleanly: runs are interrupted (never failed),
//! no temporary file is left, one line says what happened, and once there is room a plain
//! rerun finishes every run exactly once with the losses of a sweep that never ran out of
//! space. The output folder is a real tmpfs mounted by the test (CI runs as root; a failed
//! mount fails the test).

use crate::util::{SweepDir, assert_complete, slow_spec, stderr, stdout, wait_for};
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

/// A tmpfs mounted for the test's life.
struct Tmpfs {
    path: PathBuf,
}

impl Tmpfs {
    fn mount(path: &Path, size: &str) -> Tmpfs {
        std::fs::create_dir_all(path).unwrap();
        let out = Command::new("mount").args(["-t", "tmpfs", "-o", &format!("size={size}"), "tmpfs"]).arg(path).output().expect("run mount");
        assert!(out.status.success(), "cannot mount a tmpfs at {} (the test needs root): {}", path.display(), String::from_utf8_lossy(&out.stderr));
        Tmpfs { path: path.to_path_buf() }
    }

    fn resize(&self, size: &str) {
        let out = Command::new("mount").args(["-o", &format!("remount,size={size}")]).arg(&self.path).output().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }

    /// Writes a file until the filesystem is full.
    fn fill(&self) -> PathBuf {
        use std::io::Write;
        let filler = self.path.join("filler");
        let mut f = std::fs::File::create(&filler).unwrap();
        let chunk = vec![0u8; 4096];
        while f.write_all(&chunk).is_ok() {}
        let _ = f.sync_all();
        filler
    }
}

impl Drop for Tmpfs {
    fn drop(&mut self) {
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Every file under `dir` whose name marks it temporary.
fn temporary_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten().flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(temporary_files(&path));
        } else if entry.file_name().to_string_lossy().contains(".tmp") {
            out.push(path);
        }
    }
    out
}

/// (step, train_loss, val_loss) of every row of every run's loss.csv, by run.
fn losses(sweep_dir: &Path) -> Vec<(String, Vec<String>)> {
    let mut runs: Vec<(String, Vec<String>)> = std::fs::read_dir(sweep_dir)
        .unwrap()
        .flatten()
        .filter(|e| e.path().join("config.json").exists())
        .map(|e| {
            let csv = std::fs::read_to_string(e.path().join("loss.csv")).unwrap_or_default();
            let rows = csv.lines().skip(1).map(|l| l.split(',').take(5).collect::<Vec<_>>().join(",")).collect();
            (e.file_name().to_string_lossy().into_owned(), rows)
        })
        .collect();
    runs.sort();
    runs
}

fn statuses(sweep_dir: &Path) -> Vec<String> {
    std::fs::read_dir(sweep_dir)
        .unwrap()
        .flatten()
        .filter_map(|e| std::fs::read_to_string(e.path().join("summary.json")).ok())
        .map(|t| serde_json::from_str::<serde_json::Value>(&t).unwrap()["status"].as_str().unwrap_or_default().to_string())
        .collect()
}

#[test]
fn a_disk_that_fills_up_mid_sweep_stops_it_and_a_rerun_finishes_it() {
    const GRID: &str = "  lr: [1e-3, 2e-3, 3e-3]\n";
    // The same sweep on a disk with room: the losses every run must end with.
    let reference = SweepDir::new();
    slow_spec(&reference, "full", 200, GRID);
    let out = reference.sweep(&["run", "sweeps/full.yaml", "--jobs", "1"]);
    assert!(out.status.success(), "{}", stderr(&out));

    let w = SweepDir::new();
    slow_spec(&w, "full", 200, GRID);
    let disk = Tmpfs::mount(&w.path().join("runs"), "8m");
    let sweep = w.spawn(&["run", "sweeps/full.yaml", "--jobs", "1"]);
    let first = w.run_dir("full", "lr1e-3").join("loss.csv");
    wait_for("the first run to train", Duration::from_secs(60), || std::fs::read_to_string(&first).unwrap_or_default().lines().count() >= 3);
    let filler = disk.fill();
    let out = sweep.wait_with_output().unwrap();
    let (text, err) = (stdout(&out), stderr(&out));
    assert_eq!(out.status.code(), Some(3), "exit code 3 for a full disk\n{text}\n{err}");
    let last = text.lines().last().unwrap_or_default();
    assert!(
        last.starts_with("sweep full: stopped: no space left on device in runs/full (")
            && last.contains(" free of 8.4 MB): free space and rerun the same command to resume;")
            && last.contains("0 failed"),
        "{last}"
    );
    assert!(!text.contains("failed trial") && !text.contains(" failed ("), "{text}");
    let sweep_dir = w.path().join("runs/full");
    assert!(!statuses(&sweep_dir).iter().any(|s| s == "failed"), "{:?}", statuses(&sweep_dir));
    assert_eq!(temporary_files(&sweep_dir), Vec::<PathBuf>::new());

    std::fs::remove_file(filler).unwrap();
    disk.resize("64m");
    let out = w.sweep(&["run", "sweeps/full.yaml", "--jobs", "1"]);
    assert!(out.status.success(), "{}\n{}", stdout(&out), stderr(&out));
    assert_complete(&w, "full", 3, 200);
    assert_eq!(losses(&sweep_dir), losses(&reference.path().join("runs/full")), "same losses as a sweep that never ran out of space");
}

#[test]
fn no_room_for_the_next_run_stops_before_it_starts() {
    let w = SweepDir::new();
    slow_spec(&w, "small", 40, "  lr: [1e-3, 2e-3]\n");
    // A disk big enough for the run (so freeing space would help) but mostly taken.
    let disk = Tmpfs::mount(&w.path().join("runs"), "2m");
    std::fs::write(disk.path.join("other"), vec![0u8; 1_600_000]).unwrap();
    let out = w.sweep(&["run", "sweeps/small.yaml"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(3), "{text}\n{}", stderr(&out));
    let last = text.lines().last().unwrap_or_default();
    // Both runs start at once (2 jobs); whichever checks the disk first is the one named.
    let named = ["lr1e-3", "lr2e-3"]
        .into_iter()
        .find(|id| last.starts_with(&format!("sweep small: stopped: not enough space in runs/small for run {id} (it needs about ")));
    assert!(named.is_some(), "{last}");
    assert!(last.contains(" free of 2.1 MB): free space and rerun the same command to resume;"), "{last}");
    for id in ["lr1e-3", "lr2e-3"] {
        assert!(!w.run_dir("small", id).join("summary.json").exists(), "{id} did not start");
    }
}

#[test]
fn dry_run_states_the_disk_space_the_finished_sweep_takes() {
    let w = SweepDir::new();
    slow_spec(&w, "bytes", 40, "  lr: [1e-3, 2e-3]\n  hidden_dim: [64, 256]\n");
    let plan = stdout(&w.sweep(&["run", "sweeps/bytes.yaml", "--dry-run"]));
    let line = plan.lines().find(|l| l.starts_with("disk: ")).unwrap_or_else(|| panic!("no disk: line in\n{plan}"));
    let predicted: u64 = line.split_once(" (").and_then(|(_, rest)| rest.split(' ').next()?.parse().ok()).unwrap_or_else(|| panic!("{line}"));
    let out = w.sweep(&["run", "sweeps/bytes.yaml"]);
    assert!(out.status.success(), "{}", stderr(&out));
    // What the finished sweep occupies on disk, counted as du does (allocated blocks).
    let du = Command::new("du").args(["-s", "--block-size=1"]).arg(w.path().join("runs/bytes")).output().unwrap();
    let real: u64 = String::from_utf8_lossy(&du.stdout).split_whitespace().next().unwrap().parse().unwrap();
    let ratio = predicted as f64 / real as f64;
    assert!((0.8..=1.2).contains(&ratio), "predicted {predicted} bytes, the finished sweep takes {real} ({ratio:.2}×)\n{line}");
}

#[test]
fn a_read_only_output_folder_is_said_as_such() {
    let w = SweepDir::new();
    slow_spec(&w, "ro", 20, "  lr: [1e-3]\n");
    let out_dir = w.path().join("runs");
    std::fs::create_dir_all(&out_dir).unwrap();
    let mount = Command::new("mount").args(["-t", "tmpfs", "-o", "size=1m,ro", "tmpfs"]).arg(&out_dir).output().unwrap();
    assert!(mount.status.success(), "cannot mount a read-only tmpfs (the test needs root): {}", String::from_utf8_lossy(&mount.stderr));
    let _unmount = Tmpfs { path: out_dir };
    let out = w.sweep(&["run", "sweeps/ro.yaml"]);
    assert_eq!(out.status.code(), Some(3), "{}\n{}", stdout(&out), stderr(&out));
    assert_eq!(
        stdout(&out).trim(),
        "sweep ro: stopped: the output filesystem is read-only in runs/ro (1.0 MB free of 1.0 MB): make it writable (or use --out on another filesystem) and rerun the same command to resume; nothing was trained"
    );
}
