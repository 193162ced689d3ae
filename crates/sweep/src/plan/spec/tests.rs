//! The spec reader on good and bad specs: order, places, and every problem at its line.

use crate::plan::space::Dist;
use crate::plan::spec::*;
use serde_json::Value;

const SPEC: &str = "\
name: demo
data:
  path: data/tiny.txt
settings:
  max_iters: 100   # fixed
grid:
  lr: [1e-3, 3e-4]
  dropout:
    - 0.0
    - 0.1
";

fn messages(text: &str) -> Vec<String> {
    Spec::parse(text).problems.iter().map(|p| format!("{}: {}", p.line.unwrap_or(0), p.message)).collect()
}

#[test]
fn parses_and_keeps_grid_order_and_places() {
    let parsed = Spec::parse(SPEC);
    assert_eq!(parsed.problems, []);
    let spec = parsed.spec;
    assert_eq!(spec.name, "demo");
    assert_eq!(spec.grid.keys().collect::<Vec<_>>(), ["lr", "dropout"]);
    assert_eq!(spec.grid["lr"], [serde_json::json!(1e-3), serde_json::json!(3e-4)]);
    assert_eq!(spec.settings["max_iters"], serde_json::json!(100));
    assert_eq!(spec.data.val_fraction, 0.1);
    let places = parsed.places;
    assert_eq!(places.get("grid.lr[1]"), Some(&Place { line: 7, text: "3e-4".into() }));
    assert_eq!(places.get("grid.dropout[1]"), Some(&Place { line: 10, text: "0.1".into() }));
    assert_eq!(places.line("grid.dropout"), Some(8));
    assert_eq!(places.line("settings.max_iters"), Some(5));
    assert_eq!(places.line("data.path"), Some(3));
}

#[test]
fn every_unknown_key_is_reported_with_its_line() {
    let text = SPEC.replace("grid:", "gird:").replace("  path:", "  pth: x\n  path:");
    assert_eq!(
        messages(&text),
        [
            "3: data.pth is not a known key of data:; did you mean `path`? (known: path, format, tokenizer, vocab_size, tokenizer_path, text_column, text_field, val, val_fraction, cache)",
            "7: gird is not a known top-level key; did you mean `grid`? (known: name, data, settings, grid, sample, max_retries, method, n_runs, search_seed, n_startup, space, early_stop, slurm, constraints, objectives, warm_start, enqueue, stop)",
        ]
    );
}

#[test]
fn type_errors_read_as_a_person_would_write_them() {
    let text = "name: t\ndata:\n  path: d.txt\n  val_fraction: lots\nsettings:\n  bias: yes\n  batch_size: 3.5\ngrid:\n  lr: [1e-3, \"3e-4\"]\n  n_layers: [1, -2]\nsample:\n  top_k: 0.5\n  prompts: hello\n";
    assert_eq!(
        messages(text),
        [
            "4: data.val_fraction must be a number, got lots",
            "6: settings.bias must be true or false, got yes",
            "7: settings.batch_size must be a whole number, got 3.5",
            "9: grid.lr must be a number, got \"3e-4\" (quoted, so it is text) (value 2)",
            "10: grid.n_layers must be a whole number of 0 or more, got -2 (value 2)",
            "12: sample.top_k must be a whole number, got 0.5",
            "13: sample.prompts must be a list like [a, b], got hello",
        ]
    );
}

#[test]
fn malformed_yaml_has_line_and_column() {
    let problems = Spec::parse("name: x\ndata: {path: a\ngrid: 3").problems;
    assert_eq!(problems.len(), 1);
    assert_eq!(problems[0].line, Some(3), "{problems:?}");
    assert!(problems[0].message.starts_with("YAML syntax error at column"), "{problems:?}");
}

#[test]
fn grid_shapes_and_duplicates() {
    let text = "name: t\ndata:\n  path: d.txt\nsettings:\n  lr: 0.1\ngrid:\n  lr: [0.1, 0.2]\n  dropout: 0.1\n  n_layers: []\n  seed: [1, 1]\n";
    assert_eq!(
        messages(text),
        [
            "8: grid.dropout must be a list like [a, b] (got 0.1); put a single value under settings",
            "9: grid.n_layers is an empty list; give at least one value or remove it",
            "10: grid.seed lists 1 twice",
            "5: lr is both in settings and in grid; keep it in one place",
        ]
    );
}

#[test]
fn missing_name_and_data() {
    assert_eq!(
        messages("grid:\n  lr: [1]\n"),
        ["1: name: is missing; give the sweep a name (its runs go to runs/<name>/)", "1: data: is missing; give at least data: {path: <text file>}"]
    );
    assert_eq!(messages("name: t\ndata:\n  tokenizer: bpe\n"), ["2: data.path is missing"]);
    // A misspelt required key is reported once, as the typo.
    assert_eq!(messages("nme: t\ndata:\n  pth: x\n").len(), 2);
    assert!(messages("name: t\ndata:\n  path: x\nsettings:\n  n_embd: 64\n")[0].contains("did you mean `embed_dim`?"));
    assert_eq!(messages("name: t\ndata:\n  path: x\n  tokenizer: word\n"), ["4: data.tokenizer must be one of char, bpe, gpt2, got word"]);
    assert_eq!(
        messages("name: ''\ndata:\n  path: \"\"\n"),
        ["1: name is empty; give the sweep a name (its runs go to runs/<name>/)", "3: data.path is empty; give the path of the text file to train on"]
    );
}

#[test]
fn the_slurm_section_is_read_and_its_mistakes_point_at_their_lines() {
    let ok = Spec::parse("name: s\ndata:\n  path: d.txt\nslurm:\n  partition: gpu\n  time: \"01:00:00\"\n  max_parallel: 4\n  sbatch_args: [--qos=short]\n");
    assert!(ok.problems.is_empty(), "{:?}", ok.problems);
    let slurm = ok.spec.slurm.unwrap();
    assert_eq!((slurm.partition.as_deref(), slurm.time.as_deref(), slurm.max_parallel), (Some("gpu"), Some("01:00:00"), Some(4)));
    assert_eq!(slurm.sbatch_args, ["--qos=short"]);
    let text = "name: s\ndata:\n  path: d.txt\nslurm:\n  time: 1h\n  mem: lots\n  gpus: 1\n";
    assert_eq!(
        messages(text),
        [
            "7: slurm.gpus is not a known key of slurm:; did you mean `gpus_per_task`? (known: partition, gpus_per_task, cpus_per_task, mem, time, max_parallel, sbatch_args)",
            "5: slurm.time \"1h\" must be a Slurm time limit such as 90 (minutes), 01:30:00 or 2-00:00:00 (days-hours:minutes:seconds)",
            "6: slurm.mem \"lots\" must be a whole number with an optional unit K, M, G or T (e.g. 16G), as sbatch --mem takes",
        ]
    );
}

#[test]
fn search_and_early_stop_problems_point_at_their_lines() {
    let text = "name: bad\ndata:\n  path: d.txt\nmethod: random\nspace:\n  lr: {log_uniform: [0, 1e-2]}\n  dropout: {uniform: [0.3, 0.1]}\n\
            \x20 n_layers: {uniform: [1, 3]}\n  batch_size: {normal: [1, 2]}\n  embed_dim: 64\nearly_stop:\n  method: hyperband\n  min_steps: 50\n  reduction_factor: 1\n";
    assert_eq!(
        messages(text),
        [
            "6: space.lr: log_uniform needs a positive low bound, got 0; use uniform to include 0",
            "7: space.dropout: uniform [0.3, 0.1] needs low < high",
            "8: space.n_layers: uniform cannot draw n_layers, which takes a whole number; use int_uniform or a list",
            "9: space.batch_size: normal is not a known distribution (known: uniform, log_uniform, int_uniform, choice)",
            "10: space.embed_dim must be a list like [a, b] or one distribution like {uniform: [0.0, 0.3]} (uniform, log_uniform, int_uniform, choice), got 64; put a single value under settings",
            "12: early_stop.method must be one of asha, median, got hyperband",
            "14: early_stop.reduction_factor 1 must be at least 2 (3 keeps the best third at each rung)",
            "4: method: random needs n_runs: the number of runs to propose",
        ]
    );
    let order = "name: o\ndata:\n  path: d.txt\ngrid:\n  lr: [1e-3]\nearly_stop:\n  min_steps: 50\n  order: first\n  noise: 0\n";
    assert_eq!(
        messages(order),
        ["8: early_stop.order must be one of plan, arrival, got first", "9: early_stop.noise 0 must be a positive val-loss difference (e.g. 0.02)"]
    );
    let fine = Spec::parse("name: o\ndata:\n  path: d.txt\ngrid:\n  lr: [1e-3]\nearly_stop:\n  min_steps: 50\n  order: arrival\n  noise: 0.02\n");
    let es = fine.spec.early_stop.expect("read");
    assert_eq!((es.order, es.noise), (crate::plan::early_stop::Order::Arrival, Some(0.02)));
    assert_eq!(
        Spec::parse("name: o\ndata:\n  path: d.txt\ngrid:\n  lr: [1e-3]\nearly_stop:\n  min_steps: 50\n").spec.early_stop.unwrap().order,
        crate::plan::early_stop::Order::Plan,
        "plan order by default"
    );
    let grid = "name: g\ndata:\n  path: d.txt\nn_runs: 5\ngrid:\n  lr: [1e-3]\nspace:\n  dropout: [0.1]\n";
    assert_eq!(
        messages(grid),
        [
            "4: n_runs applies to method: random or tpe; this spec's method is grid (every combination of grid:)",
            "7: space: applies to method: random or tpe; add `method: random` (or tpe), or list the values under grid:",
        ]
    );
    let random = "name: r\ndata:\n  path: d.txt\nmethod: random\nn_runs: 3\n";
    assert_eq!(
        messages(&format!("{random}space:\n  lr: [0.1]\ngrid:\n  dropout: [0.1]\n")),
        ["8: grid: applies to method: grid; with method: random put the settings under space: (a list stays a list: each run picks one of its values)"]
    );
    assert_eq!(
        messages(&format!("{random}space: {{}}\n")),
        ["6: method: random needs space: the settings to search, e.g. space: {lr: {log_uniform: [1e-4, 1e-2]}}"]
    );
    assert_eq!(messages("name: r\ndata:\n  path: d.txt\nmethod: bayes\nn_runs: 3\n"), ["4: method must be one of grid, random, tpe, got bayes"]);
    let parsed = Spec::parse("name: r\ndata:\n  path: d.txt\nmethod: tpe\nn_runs: 9\nspace:\n  lr: {log_uniform: [1e-4, 1e-2]}\n  n_layers: [1, 2]\n");
    assert_eq!(parsed.problems, []);
    assert_eq!(parsed.spec.space["lr"], Dist::LogUniform(1e-4, 1e-2));
    assert_eq!(parsed.spec.space["n_layers"], Dist::Choice(vec![Value::from(1), Value::from(2)]));
    assert_eq!(parsed.spec.swept_keys(), ["lr", "n_layers"]);
}

#[test]
fn search_keys_are_read_and_their_mistakes_point_at_their_lines() {
    let text = "name: t\ndata:\n  path: d.txt\nmethod: random\nn_runs: 4\nspace:\n  lr: [1e-3, 2e-3]\nconstraints:\n  - \"embed_dims % n_heads == 0\"\n  - \"lr < 1e-2\"\n\
                objectives: [val_loss, {max: tokens_per_second}, paramz]\nenqueue:\n  - {lr: 1e-3, dropout: 0.1}\nstop:\n  patience_runs: 3\n";
    let parsed = Spec::parse(text);
    let problems: Vec<String> = parsed.problems.iter().map(|p| format!("{}: {}", p.line.unwrap_or(0), p.message)).collect();
    assert_eq!(
        problems,
        [
            "9: constraint `embed_dims % n_heads == 0` names embed_dims, which is neither a setting nor one of params, flops, tokens, tokens_per_param, epochs; did you mean `embed_dim`?",
            "11: objectives: paramz is not a number in summary.json; did you mean `params`? (known: val_loss, best_val_loss, final_val_loss, final_train_loss, perplexity, params, n_params, n_params_no_pos, tokens_seen, epochs, steps, wall_seconds, tokens_per_second, gflops, peak_rss_mb)",
            "13: enqueue item 1 sets dropout, which space: does not sweep; put a fixed value under settings:",
            "14: stop needs min_delta: (the val-loss gain that counts as an improvement, e.g. 0.01) unless the space repeats seeds, whose spread is then used",
        ]
    );
    assert_eq!(parsed.spec.constraints, ["lr < 1e-2"]);
    assert_eq!(parsed.spec.objectives.iter().map(|o| o.label()).collect::<Vec<_>>(), ["val_loss", "max: tokens_per_second"]);
    let grid = Spec::parse("name: t\ndata:\n  path: d.txt\ngrid:\n  lr: [1e-3]\nstop: {patience_runs: 2, min_delta: 0.01}\n");
    assert_eq!(grid.problems.len(), 1);
    assert!(grid.problems[0].message.starts_with("stop applies to method: random or tpe"), "{:?}", grid.problems);
}
