//! The corpus crate's layers, lowest first: its root files (error, text, tokenizer, gpt2,
//! tokens), then `source/`, then `cache/`. A file never names a layer above its own.
//! Read from the source: `crate::source`/`crate::cache` paths outside comments.

use std::path::Path;

fn code_of(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap().lines().map(|l| l.split("//").next().unwrap_or("")).collect::<Vec<_>>().join("\n")
}

fn rs_files(dir: &Path) -> Vec<std::path::PathBuf> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|e| e == "rs")).collect()
}

#[test]
fn no_file_names_a_layer_above_its_own() {
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("src");
    let mut checked = 0;
    for file in rs_files(&src).into_iter().filter(|f| !f.ends_with("lib.rs")) {
        let code = code_of(&file);
        for above in ["crate::source", "crate::cache"] {
            assert!(!code.contains(above), "{} (a root file) names {above}", file.display());
        }
        checked += 1;
    }
    for file in rs_files(&src.join("source")) {
        assert!(!code_of(&file).contains("crate::cache"), "{} (source/) names crate::cache", file.display());
        checked += 1;
    }
    assert!(checked >= 10, "only {checked} files found under {}", src.display());
    // The test can fail: a root file that names the cache is caught.
    assert!(code_of(&src.join("cache/mod.rs")).contains("crate::source"), "cache/ builds on source/");
}
