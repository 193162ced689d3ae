//! The sweep crate's folders are floors, lowest first: output, plan, search, prune, exec,
//! report (the crate root's `error` and `exit_code` below them all). A file may import from
//! its own floor and the ones below, never from one above; and no files import each other
//! round in a circle (a module may use its own submodules). Read from the source: every
//! `crate::…` and `super::…` path outside comments.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

const FLOORS: &[&str] = &["output", "plan", "search", "prune", "exec", "report"];

/// A folder's floor: 1 for output … 6 for report; 0 for the crate root's own files.
fn floor(top: &str) -> usize {
    FLOORS.iter().position(|f| *f == top).map_or(0, |i| i + 1)
}

/// Every .rs file under `dir`, with its module path ("exec::slurm::command"; "exec" for
/// exec/mod.rs).
fn modules(src: &Path, dir: &Path, out: &mut Vec<(Vec<String>, PathBuf)>) {
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            modules(src, &path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let rel = path.strip_prefix(src).unwrap().with_extension("");
            let mut parts: Vec<String> = rel.iter().map(|p| p.to_string_lossy().into_owned()).collect();
            if parts.last().is_some_and(|l| l == "mod" || l == "lib") {
                parts.pop();
            }
            out.push((parts, path));
        }
    }
}

/// The module paths a file names: `crate::a::b…` as written, `super::…` resolved.
fn references(module: &[String], text: &str) -> Vec<Vec<String>> {
    let mut refs = Vec::new();
    for line in text.lines() {
        let code = line.split("//").next().unwrap_or("");
        for (start, prefix) in code.match_indices("crate::").map(|(i, _)| (i, "crate::")).chain(code.match_indices("super::").map(|(i, _)| (i, "super::"))) {
            // `super::` inside a longer word, or a `crate::` that is `super::crate…`, is not a path start.
            if start > 0 && code[..start].ends_with(|c: char| c.is_alphanumeric() || c == '_' || c == ':') {
                continue;
            }
            let rest = &code[start + prefix.len()..];
            let segments: Vec<String> = rest
                .split("::")
                .map(|s| s.chars().take_while(|c| c.is_alphanumeric() || *c == '_').collect::<String>())
                .take_while(|s| !s.is_empty())
                .collect();
            let path = if prefix == "crate::" {
                segments
            } else {
                // `super` is the module above: a file's folder, or for mod.rs the folder above.
                let mut base = module[..module.len().saturating_sub(1)].to_vec();
                base.extend(segments);
                base
            };
            if !path.is_empty() {
                refs.push(path);
            }
        }
    }
    refs
}

struct Crate {
    /// (module path, file, text)
    files: Vec<(Vec<String>, PathBuf, String)>,
}

fn read_crate() -> Crate {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut found = Vec::new();
    modules(&src, &src, &mut found);
    let files = found
        .into_iter()
        .map(|(m, p)| {
            let text = std::fs::read_to_string(&p).unwrap();
            (m, p, text)
        })
        .collect();
    Crate { files }
}

#[test]
fn no_file_imports_from_a_folder_above_its_own() {
    let krate = read_crate();
    let mut breaks = Vec::new();
    for (module, path, text) in &krate.files {
        let Some(top) = module.first() else { continue }; // lib.rs declares the floors
        let own = floor(top);
        for target in references(module, text) {
            let Some(to) = target.first() else { continue };
            if floor(to) > own && (FLOORS.contains(&to.as_str()) || own == 0) {
                breaks.push(format!("{} (floor {own}, {top}) uses {} (floor {}, {to})", path.display(), target.join("::"), floor(to)));
            }
        }
    }
    assert!(breaks.is_empty(), "imports from a floor above (order: {}):\n{}", FLOORS.join(" < "), breaks.join("\n"));
}

#[test]
fn no_files_import_each_other_in_a_circle() {
    let krate = read_crate();
    let known: BTreeSet<Vec<String>> = krate.files.iter().map(|(m, ..)| m.clone()).collect();
    // Each reference goes to the longest module path it starts with; a module using its
    // own submodules (a folder's mod.rs re-exporting its files) is structure, not an edge.
    let mut edges: BTreeMap<Vec<String>, BTreeSet<Vec<String>>> = BTreeMap::new();
    for (module, _, text) in &krate.files {
        for target in references(module, text) {
            let Some(to) = (1..=target.len()).rev().map(|n| target[..n].to_vec()).find(|p| known.contains(p)) else { continue };
            if to != *module && !to.starts_with(module) {
                edges.entry(module.clone()).or_default().insert(to);
            }
        }
    }
    // Depth-first search for a path back to where it started.
    fn visit(
        node: &Vec<String>,
        edges: &BTreeMap<Vec<String>, BTreeSet<Vec<String>>>,
        stack: &mut Vec<Vec<String>>,
        done: &mut BTreeSet<Vec<String>>,
    ) -> Option<Vec<String>> {
        if let Some(i) = stack.iter().position(|n| n == node) {
            return Some(stack[i..].iter().chain([node]).map(|m| m.join("::")).collect());
        }
        if !done.insert(node.clone()) {
            return None;
        }
        stack.push(node.clone());
        for next in edges.get(node).into_iter().flatten() {
            if let Some(cycle) = visit(next, edges, stack, done) {
                return Some(cycle);
            }
        }
        stack.pop();
        None
    }
    let mut done = BTreeSet::new();
    for start in edges.keys() {
        let mut stack = Vec::new();
        if let Some(cycle) = visit(start, &edges, &mut stack, &mut done) {
            panic!("files that import each other in a circle: {}", cycle.join(" -> "));
        }
    }
}

/// The checks above must be able to fail: an import from above and a circle are caught.
#[test]
fn the_checks_see_imports_written_every_way() {
    let module = |s: &str| s.split("::").map(str::to_string).collect::<Vec<_>>();
    let text = "use crate::report::plot; // crate::exec in a comment\nlet x = crate::exec::claim::hostname();\nuse super::Task;";
    let refs = references(&module("exec::slurm::settle"), text);
    assert_eq!(refs, vec![module("report::plot"), module("exec::claim::hostname"), module("exec::slurm::Task")]);
    let refs = references(&module("exec::slurm"), "use super::claim;");
    assert_eq!(refs, vec![module("exec::claim")]);
    assert!(floor("report") > floor("exec") && floor("output") < floor("plan") && floor("error") == 0);
}

/// Above `output`, run folders are reached through `RunDir` only: no file of exec, search,
/// prune or plan names a run folder's file by itself (tests aside).
#[test]
fn run_folder_files_are_named_only_in_output() {
    const RUN_FILES: &[&str] = &[
        "config.json",
        "tokenizer.json",
        "loss.csv",
        "steps.csv",
        "loss.png",
        "model.safetensors",
        "resume.safetensors",
        "samples.txt",
        "summary.json",
        "train.log",
        "claim.json",
    ];
    let krate = read_crate();
    let mut named = Vec::new();
    for (module, path, text) in &krate.files {
        let Some(top) = module.first() else { continue };
        if !["exec", "search", "prune", "plan"].contains(&top.as_str()) || module.last().is_some_and(|m| m == "tests" || m == "fake") {
            continue;
        }
        let code = text.split("#[cfg(test)]").next().unwrap_or_default();
        for (i, line) in code.lines().enumerate() {
            let line = line.split("//").next().unwrap_or_default();
            for file in RUN_FILES {
                if line.contains(&format!("\"{file}\"")) {
                    named.push(format!("{}:{}: {file}", path.display(), i + 1));
                }
            }
        }
    }
    assert!(named.is_empty(), "run-folder files named outside output (use RunDir):\n{}", named.join("\n"));
}
