//! A clone must work with nothing beside it: no tracked file other than documentation may
//! refer to the `shared` folder that sits beside the development checkout, and every file
//! the specs in sweeps/ train on is tracked.

use std::path::Path;
use std::process::Command;

fn tracked_files() -> Vec<String> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let out = Command::new("git").args(["ls-files", "-z"]).current_dir(root).output().expect("git ls-files (tests run in a git checkout)");
    assert!(out.status.success(), "git ls-files failed: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8_lossy(&out.stdout).split('\0').filter(|f| !f.is_empty()).map(str::to_string).collect()
}

#[test]
fn no_tracked_file_but_docs_refers_to_the_folder_beside_the_checkout() {
    // Spelt in two pieces so that this file does not match itself.
    let needle = format!("{}/shared", "..");
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let offenders: Vec<String> = tracked_files()
        .into_iter()
        .filter(|f| !f.ends_with(".md"))
        .filter(|f| std::fs::read(root.join(f)).is_ok_and(|bytes| String::from_utf8_lossy(&bytes).contains(&needle)))
        .collect();
    assert!(offenders.is_empty(), "these tracked files refer to {needle}, which a user's clone does not have: {offenders:?}");
}

/// Shipped specs for data the user brings, and the test that writes that data for them.
const USER_DATA_SPECS: &[(&str, &str)] = &[
    ("sweeps/shakespeare_char.yaml", "corpora::the_shipped_specs_for_a_nanogpt_folder_and_parquet_shards_read_such_data"),
    ("sweeps/fineweb_parquet.yaml", "corpora::the_shipped_specs_for_a_nanogpt_folder_and_parquet_shards_read_such_data"),
];

#[test]
fn every_corpus_a_shipped_spec_names_is_tracked() {
    let files = tracked_files();
    let specs: Vec<&String> = files.iter().filter(|f| f.starts_with("sweeps/") && f.ends_with(".yaml")).collect();
    assert!(!specs.is_empty());
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    for spec in specs {
        let parsed = sweep::Spec::from_path(&root.join(spec)).unwrap();
        assert_eq!(parsed.problems, [], "{spec}");
        let data = &parsed.spec.data.path;
        if let Some((_, test)) = USER_DATA_SPECS.iter().find(|(s, _)| s == spec) {
            assert!(!files.iter().any(|f| f.starts_with(data.trim_end_matches("*.parquet"))), "{spec}: its data is the user's, written by {test} in tests");
            continue;
        }
        assert!(files.contains(data), "{spec} trains on {data}, which is not tracked: a fresh clone would not have it");
    }
}
