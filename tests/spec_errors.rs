//! Every mistake in a spec or its data is found before anything trains, and reported at
//! the line where it was written, in a person's words. Each test feeds a bad spec to
//! `sweep run` (or `--dry-run`) and checks the exact line and message.

use crate::util::{SweepDir, TINY, stderr, stdout};

/// Runs `sweep run ARGS`, checks that it stopped with exit 2 before making `runs/`, and
/// returns the problem lines ("sweeps/x.yaml:N: message") it printed.
fn problems(w: &SweepDir, args: &[&str]) -> Vec<String> {
    let out = w.sweep(args);
    let err = stderr(&out);
    assert_eq!(out.status.code(), Some(2), "{}\n{err}", stdout(&out));
    assert!(!w.path().join("runs").exists(), "nothing may be trained or created:\n{err}");
    assert!(!err.contains("panicked"), "{err}");
    err.lines().skip(1).map(|l| l.trim().to_string()).collect()
}

const HEAD: &str = "name: x\ndata:\n  path: data/tiny.txt\n";

#[test]
fn a_value_problem_points_at_the_value_as_written() {
    let w = SweepDir::new();
    let spec = format!("{HEAD}{TINY}grid:\n  lr:\n    - 1e-3\n    - -0.01\n  dropout: [0.0, 1.0]\n");
    // HEAD is 3 lines and TINY 12: grid: is line 16, `- -0.01` line 19, dropout line 20.
    w.write("sweeps/x.yaml", &spec);
    assert_eq!(
        problems(&w, &["run", "sweeps/x.yaml"]),
        [
            "sweeps/x.yaml:19: grid.lr -0.01 must be a positive number (in lr-1e-2_do0, lr-1e-2_do1)",
            "sweeps/x.yaml:20: grid.dropout 1.0 must be in [0, 1) (in lr1e-3_do1, lr-1e-2_do1)",
        ]
    );
}

#[test]
fn sample_and_tokenizer_values_point_at_their_keys() {
    let w = SweepDir::new();
    w.write("sweeps/x.yaml", "name: x\ndata:\n  path: data/tiny.txt\n  tokenizer: bpe\n  vocab_size: 200\nsample:\n  temperature: 0\n  top_k: 0\n");
    assert_eq!(
        problems(&w, &["run", "sweeps/x.yaml"]),
        [
            "sweeps/x.yaml:5: data.vocab_size 200 must be larger than 256 for tokenizer: bpe (the byte alphabet)",
            "sweeps/x.yaml:7: sample.temperature 0 must be positive",
            "sweeps/x.yaml:8: sample.top_k 0 must be at least 1 (or left out to keep every token)",
        ]
    );
}

#[test]
fn every_parse_problem_is_reported_at_once() {
    let w = SweepDir::new();
    // A misspelt key under data:, a misspelt top-level key, an empty grid list, a type
    // error and a missing data file: five lines, none hiding another.
    w.write("sweeps/x.yaml", "name: x\ndata:\n  path: data/missing.txt\n  tokenzer: char\nsetings:\n  lr: 1e-3\ngrid:\n  batch_size: [8, 3.5]\n  lr: []\n");
    assert_eq!(
        problems(&w, &["run", "sweeps/x.yaml"]),
        [
            "sweeps/x.yaml:3: data file data/missing.txt not found; put the data there or fix data.path (a path relative to the folder you run sweep in)",
            "sweeps/x.yaml:4: data.tokenzer is not a known key of data:; did you mean `tokenizer`? (known: path, format, tokenizer, vocab_size, tokenizer_path, text_column, text_field, val, val_fraction, cache)",
            "sweeps/x.yaml:5: setings is not a known top-level key; did you mean `settings`? (known: name, data, settings, grid, sample, max_retries, method, n_runs, search_seed, n_startup, space, early_stop, slurm, constraints, objectives, warm_start, enqueue, stop)",
            "sweeps/x.yaml:8: grid.batch_size must be a whole number, got 3.5 (value 2)",
            "sweeps/x.yaml:9: grid.lr is an empty list; give at least one value or remove it",
        ]
    );
}

#[test]
fn a_corpus_too_short_for_a_block_size_is_reported_with_the_other_problems() {
    let w = SweepDir::new();
    // Every run is invalid (dropout 1.0), and one block_size is longer than the corpus.
    w.write("sweeps/x.yaml", &format!("{HEAD}grid:\n  dropout: [1.0]\n  block_size: [16, 100000]\n"));
    let got = problems(&w, &["run", "sweeps/x.yaml"]);
    assert_eq!(got.len(), 2, "{got:?}");
    assert_eq!(got[0], "sweeps/x.yaml:5: grid.dropout 1.0 must be in [0, 1)");
    assert!(got[1].starts_with("sweeps/x.yaml:6: data file data/tiny.txt: ") && got[1].contains("too short for block_size 100000"), "{got:?}");
}

#[test]
fn type_errors_name_the_kind_of_value_wanted() {
    let w = SweepDir::new();
    w.write("sweeps/x.yaml", &format!("{HEAD}settings:\n  batch_size: 3.5\n  bias: maybe\n  lr: fast\n  max_iters: \"10\"\n"));
    assert_eq!(
        problems(&w, &["run", "sweeps/x.yaml"]),
        [
            "sweeps/x.yaml:5: settings.batch_size must be a whole number, got 3.5",
            "sweeps/x.yaml:6: settings.bias must be true or false, got maybe",
            "sweeps/x.yaml:7: settings.lr must be a number, got fast",
            "sweeps/x.yaml:8: settings.max_iters must be a whole number, got \"10\" (quoted, so it is text)",
        ]
    );
}

#[test]
fn prompts_the_tokenizer_cannot_encode_are_found_before_training() {
    let w = SweepDir::new();
    w.write("sweeps/x.yaml", &format!("{HEAD}sample:\n  prompts:\n    - 夏天\n    - \"Zebra ☃\"\n"));
    assert_eq!(
        problems(&w, &["run", "sweeps/x.yaml", "--dry-run"]),
        [
            "sweeps/x.yaml:7: sample.prompts[1] \"Zebra ☃\" has characters that data/tiny.txt never uses, so the char tokenizer cannot encode them: 'Z' '☃'; use characters from the corpus"
        ]
    );
}

#[test]
fn data_paths_that_are_not_text_files_are_refused_without_reading() {
    let w = SweepDir::new();
    let cases = [
        ("/dev/zero".to_string(), "data file /dev/zero is a character device, not a text file; give data.path the path of a UTF-8 text file".to_string()),
        (
            "sweeps".to_string(),
            "no files match data.path sweeps (the folder sweeps holds no .parquet, .jsonl or .txt files, and no nanoGPT train.bin); point data.path at the files, e.g. sweeps/*.parquet".to_string(),
        ),
    ];
    for (path, want) in cases {
        w.write("sweeps/x.yaml", &format!("name: x\ndata:\n  path: {path}\n"));
        let started = std::time::Instant::now();
        assert_eq!(problems(&w, &["run", "sweeps/x.yaml", "--dry-run"]), [format!("sweeps/x.yaml:3: {want}")]);
        assert!(started.elapsed().as_secs() < 60, "{path} must be refused, not read");
    }
    let fifo = w.path().join("data/fifo");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    w.write("sweeps/x.yaml", "name: x\ndata:\n  path: data/fifo\n");
    assert_eq!(
        problems(&w, &["run", "sweeps/x.yaml", "--dry-run"]),
        ["sweeps/x.yaml:3: data file data/fifo is a FIFO (named pipe), not a text file; give data.path the path of a UTF-8 text file"]
    );
    // A sparse file of 1 GiB: the dry run reads its first MiB, not all of it, and says its
    // counts are estimates.
    std::fs::File::create(w.path().join("data/huge.txt")).unwrap().set_len((1 << 30) + 1).unwrap();
    w.write("sweeps/x.yaml", "name: x\ndata:\n  path: data/huge.txt\n");
    let started = std::time::Instant::now();
    let out = w.sweep(&["run", "sweeps/x.yaml", "--dry-run"]);
    assert!(started.elapsed().as_secs() < 60, "the corpus must not be read whole for a dry run");
    let text = crate::util::stdout(&out);
    assert!(text.starts_with("sweep x: 1 run; about 966367642 training tokens, about 107374183 val tokens, vocab at least 1\n"), "{text}");
    assert!(text.contains("corpus: 1.07 GB not tokenized yet: counts estimated at 1.00 bytes per token from its first MiB; `sweep prepare` tokenizes it for exact counts (the cache takes about 2.15 GB)"), "{text}");
}

#[test]
fn dry_run_names_the_run_folders_that_conflict_with_the_spec() {
    let w = SweepDir::new();
    w.spec("c", "  lr: [1e-3, 2e-3]\n");
    let out = w.sweep(&["run", "sweeps/c.yaml"]);
    assert_eq!(out.status.code(), Some(0), "{}", stderr(&out));
    let changed = std::fs::read_to_string(w.path().join("sweeps/c.yaml")).unwrap().replace("max_iters: 20", "max_iters: 30");
    w.write("sweeps/c.yaml", &changed);
    let out = w.sweep(&["run", "sweeps/c.yaml", "--dry-run"]);
    assert_eq!(out.status.code(), Some(2), "the real run would refuse, so the dry run says so");
    let err = stderr(&out);
    assert!(
        err.contains(
            "2 run folder(s) hold results trained with different settings than the spec now gives; give the sweep a new name, or move those folders away:"
        ),
        "{err}"
    );
    assert!(err.contains("runs/c/lr1e-3: train.max_iters was 20, now 30"), "{err}");
    assert!(err.contains("runs/c/lr2e-3: train.max_iters was 20, now 30"), "{err}");
    // The plan itself is still printed, and the folders are left as they were.
    assert!(stdout(&out).contains("sweep c: 2 runs"), "{}", stdout(&out));
    assert_eq!(w.summary("c", "lr1e-3")["status"], "done");
}

#[test]
fn small_sweeps_are_estimated_in_seconds_and_top_zero_is_a_usage_error() {
    let w = SweepDir::new();
    w.spec("s", "  lr: [1e-3, 2e-3]\n");
    let out = w.sweep(&["run", "sweeps/s.yaml", "--dry-run"]);
    let text = stdout(&out);
    assert_eq!(out.status.code(), Some(0), "{text}\n{}", stderr(&out));
    let total = text.lines().find(|l| l.starts_with("total:")).unwrap_or_default();
    assert!(!total.contains("0 minutes") && !total.contains(" min "), "{total}");
    // "about 3 s on this machine" or "under a second on this machine"
    let when = total.split("; ").nth(1).and_then(|t| t.split(" on this machine").next()).unwrap_or_default();
    let seconds = when.strip_prefix("about ").and_then(|t| t.strip_suffix(" s")).and_then(|n| n.parse::<u64>().ok());
    assert!(when == "under a second" || seconds.is_some_and(|n| (1..60).contains(&n)), "{total}");

    let out = w.sweep(&["report", "runs/s", "--top", "0"]);
    assert_eq!(out.status.code(), Some(2));
    assert!(stderr(&out).contains("invalid value '0' for '--top <TOP>': must be at least 1"), "{}", stderr(&out));
}

#[test]
fn a_device_flag_that_cannot_work_is_refused_before_training() {
    let w = SweepDir::new();
    w.spec("d", "  lr: [1e-3]\n");
    assert_eq!(problems_line(&w, &["run", "sweeps/d.yaml", "--device", "tpu"]), "sweep: error: --device tpu must be auto, cpu, cuda or cuda:N");
    // This machine kind has no GPU (CI's neither); on a GPU machine cuda:99 is still absent.
    let line = problems_line(&w, &["run", "sweeps/d.yaml", "--device", "cuda:99"]);
    assert!(line.starts_with("sweep: error: --device cuda:99: device \"cuda:99\" is not available"), "{line}");
}

/// The one error line of a command that must stop with exit 2 before training.
fn problems_line(w: &SweepDir, args: &[&str]) -> String {
    let out = w.sweep(args);
    assert_eq!(out.status.code(), Some(2), "{}", stderr(&out));
    assert!(!w.path().join("runs").exists());
    stderr(&out).trim().to_string()
}
