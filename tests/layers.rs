//! The crates' layering, read from the tracked sources: only `train` names tch (the others
//! that need libtorch reach it through `train`), and the crates that never link libtorch
//! (`sweep`, `diagnose`, `corpus`, `sweep-config`) depend on neither tch nor `train`.

use std::path::Path;
use std::process::Command;

fn tracked(prefix: &str) -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("git").args(["ls-files", "-z", "--", prefix]).current_dir(root).output().expect("git ls-files");
    assert!(out.status.success(), "git ls-files failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split('\0').filter(|f| !f.is_empty()).map(str::to_string).collect()
}

#[test]
fn only_train_names_tch() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut offenders = Vec::new();
    for file in tracked("crates").into_iter().chain(tracked("examples")).filter(|f| f.ends_with(".rs") && !f.starts_with("crates/train/")) {
        let text = std::fs::read_to_string(root.join(&file)).unwrap_or_default();
        for (i, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or_default();
            // `tch::` as a path of its own, not the end of a longer name (`rung_watch::`).
            let names_tch = code.match_indices("tch::").any(|(i, _)| !code[..i].ends_with(|c: char| c.is_alphanumeric() || c == '_'));
            if names_tch || code.trim_start().starts_with("use tch") {
                offenders.push(format!("{file}:{}: {}", i + 1, line.trim()));
            }
        }
    }
    assert!(offenders.is_empty(), "tch named outside crates/train (use train's API):\n{}", offenders.join("\n"));
}

#[test]
fn the_crates_without_libtorch_do_not_depend_on_it() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for krate in ["sweep", "diagnose", "corpus", "config"] {
        let manifest = std::fs::read_to_string(root.join("crates").join(krate).join("Cargo.toml")).unwrap();
        for dep in ["tch", "torch-sys", "train", "trial"] {
            let named = manifest.lines().any(|l| l.split(['=', '.', ' ']).next() == Some(dep));
            assert!(!named, "crates/{krate}/Cargo.toml depends on {dep}; it must compile and test without libtorch");
        }
    }
}
