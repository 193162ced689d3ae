use crate::util::{SweepDir, stderr, stdout};
use corpus::Tokenizer;
use std::path::{Path, PathBuf};
use std::process::Command;

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// Runs a Python script with the project's .venv (made by `cargo xtask setup`/`test`).
fn python(script: &str, cwd: &Path, envs: &[(&str, &Path)]) -> String {
    let py = repo().join(".venv/bin/python");
    assert!(py.exists(), "{} is missing: run the tests with `cargo xtask test`, which makes .venv", py.display());
    let mut cmd = Command::new(&py);
    cmd.arg("-c").arg(script).current_dir(cwd);
    for (k, v) in envs {
        cmd.env(k, v);
    }
    let out = cmd.output().unwrap();
    assert!(out.status.success(), "python failed:\n{}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

fn shakespeare() -> String {
    std::fs::read_to_string(repo().join("data/tinyshakespeare.txt")).unwrap()
}

fn prefix(text: &str, bytes: usize) -> &str {
    let mut cut = bytes.min(text.len());
    while !text.is_char_boundary(cut) {
        cut -= 1;
    }
    &text[..cut]
}

const TINY: &str = "settings:\n  block_size: 16\n  embed_dim: 16\n  n_layers: 1\n  n_heads: 2\n  batch_size: 4\n  max_iters: 10\n  \
                    warmup_iters: 2\n  eval_interval: 5\n  eval_iters: 2\n";

/// tiktoken's `gpt2` encoding, offline: its cache holds data/gpt2's two files under the
/// names tiktoken derives from their URLs (and it checks their SHA-256).
#[test]
fn gpt2_ids_equal_tiktokens_on_kilobytes_of_varied_text() {
    let tmp = tempfile::tempdir().unwrap();
    let cache = tmp.path().join("tiktoken");
    std::fs::create_dir(&cache).unwrap();
    let feiniao = std::fs::read_to_string(repo().join("data/feiniao.txt")).unwrap();
    let english = std::fs::read_to_string(repo().join("data/stray_birds_en.txt")).unwrap();
    let fixture = std::fs::read_to_string(repo().join("tests/fixtures/gpt2_text.txt")).unwrap();
    let text = [fixture.as_str(), prefix(&shakespeare(), 3000), prefix(&feiniao, 1500), prefix(&english, 2000)].join("\n");
    assert!(text.len() > 8000, "{} bytes", text.len());
    std::fs::write(tmp.path().join("text.txt"), &text).unwrap();
    let script = format!(
        "import hashlib, json, shutil, tiktoken\n\
         for name in ['vocab.bpe', 'encoder.json']:\n    \
             url = 'https://openaipublic.blob.core.windows.net/gpt-2/encodings/main/' + name\n    \
             shutil.copy('{}/data/gpt2/' + name, '{}/' + hashlib.sha1(url.encode()).hexdigest())\n\
         text = open('text.txt', encoding='utf-8').read()\n\
         print(json.dumps(tiktoken.get_encoding('gpt2').encode_ordinary(text)))\n",
        repo().display(),
        cache.display()
    );
    let out = python(&script, tmp.path(), &[("TIKTOKEN_CACHE_DIR", &cache)]);
    let want: Vec<u32> = serde_json::from_str(out.trim()).unwrap();
    let ours = Tokenizer::gpt2().unwrap().encode(&text).unwrap();
    assert_eq!(ours.len(), want.len(), "token counts differ");
    if let Some(i) = ours.iter().zip(&want).position(|(a, b)| a != b) {
        panic!("first difference at token {i}: ours {:?}, tiktoken {:?}", &ours[i..(i + 5).min(ours.len())], &want[i..(i + 5).min(want.len())]);
    }
}

/// FineWeb's layout (a `text` column in parquet shards), tokenized with GPT-2 once: the
/// second sweep over the same shards reuses the cache.
#[test]
fn parquet_shards_train_with_gpt2_and_a_second_sweep_reuses_their_tokens() {
    let w = SweepDir::new();
    std::fs::create_dir_all(w.path().join("data/shards")).unwrap();
    let docs: Vec<String> = shakespeare().split("\n\n").take(300).map(str::to_string).collect();
    let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    corpus::source::parquet::write_for_tests(&w.path().join("data/shards/000.parquet"), "text", &refs[..150], 50).unwrap();
    corpus::source::parquet::write_for_tests(&w.path().join("data/shards/001.parquet"), "text", &refs[150..], 50).unwrap();
    let tok = Tokenizer::gpt2().unwrap();
    let n: usize = docs.iter().map(|d| tok.encode(d).unwrap().len() + 1).sum();
    let n_train = (n as f64 * 0.9).floor() as u64;
    let spec = format!("name: web\ndata:\n  path: data/shards/*.parquet\n  tokenizer: gpt2\n{TINY}grid:\n  lr: [0.001]\nsample:\n  prompts: [\"ROMEO:\"]\n");
    w.write("sweeps/web.yaml", &spec);
    w.write("sweeps/web2.yaml", &spec.replace("name: web", "name: web2"));

    let dry = w.sweep(&["run", "sweeps/web.yaml", "--dry-run"]);
    assert!(dry.status.success(), "{}{}", stdout(&dry), stderr(&dry));
    assert!(stdout(&dry).contains(&format!("{n_train} training tokens")) && stdout(&dry).contains("vocab 50257"), "{}", stdout(&dry));
    assert!(stdout(&dry).contains("not cached yet"), "{}", stdout(&dry));

    let out = w.sweep(&["run", "sweeps/web.yaml"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("tokenized data/shards/*.parquet:") && stdout(&out).contains(&format!("{n} tokens")), "{}", stdout(&out));
    let s = w.summary("web", "lr1e-3");
    assert_eq!((s["status"].as_str(), s["train_tokens"].as_u64(), s["vocab_size"].as_u64()), (Some("done"), Some(n_train), Some(50257)));
    let samples = std::fs::read_to_string(w.run_dir("web", "lr1e-3").join("samples.txt")).unwrap();
    assert!(samples.contains("ROMEO:"), "{samples}");

    let again = w.sweep(&["run", "sweeps/web2.yaml"]);
    assert!(again.status.success(), "{}{}", stdout(&again), stderr(&again));
    assert!(!stdout(&again).contains("tokenized "), "the second sweep tokenizes nothing:\n{}", stdout(&again));
    assert_eq!(w.summary("web2", "lr1e-3")["train_tokens"].as_u64(), Some(n_train));
    let dry = stdout(&w.sweep(&["run", "sweeps/web2.yaml", "--dry-run"]));
    assert!(dry.contains("corpus: tokenized, cached in runs/.tokens/"), "{dry}");
}

/// A data folder as nanoGPT's shakespeare_char/prepare.py writes it (its code, run here on
/// a slice of the text, with Python's array module for numpy's): uint16 train.bin and
/// val.bin, and meta.pkl.
fn nanogpt_char_folder(dir: &Path, n_chars: usize) {
    std::fs::create_dir_all(dir).unwrap();
    std::fs::write(dir.join("input.txt"), prefix(&shakespeare(), n_chars)).unwrap();
    let script = "import pickle, array\n\
        data = open('input.txt').read()\n\
        chars = sorted(list(set(data)))\n\
        stoi = { ch:i for i,ch in enumerate(chars) }\n\
        itos = { i:ch for i,ch in enumerate(chars) }\n\
        n = len(data)\n\
        train_ids = array.array('H', [stoi[c] for c in data[:int(n*0.9)]])\n\
        val_ids = array.array('H', [stoi[c] for c in data[int(n*0.9):]])\n\
        train_ids.tofile(open('train.bin', 'wb'))\n\
        val_ids.tofile(open('val.bin', 'wb'))\n\
        pickle.dump({'vocab_size': len(chars), 'itos': itos, 'stoi': stoi}, open('meta.pkl', 'wb'))\n";
    python(script, dir, &[]);
}

#[test]
fn a_nanogpt_char_folder_trains_in_place_and_its_samples_decode_with_meta_pkl() {
    let w = SweepDir::new();
    nanogpt_char_folder(&w.path().join("data/shakespeare_char"), 20_000);
    let vocab = shakespeare()[..20_000].chars().collect::<std::collections::BTreeSet<char>>().len() as u64;
    w.write("sweeps/nano.yaml", &format!("name: nano\ndata:\n  path: data/shakespeare_char\n{TINY}grid:\n  lr: [0.001]\nsample:\n  prompts: [\"ROMEO:\"]\n"));
    let out = w.sweep(&["run", "sweeps/nano.yaml"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains("checked data/shakespeare_char: 20000 tokens, ids within the vocabulary"), "{}", stdout(&out));
    let s = w.summary("nano", "lr1e-3");
    assert_eq!((s["train_tokens"].as_u64(), s["vocab_size"].as_u64()), (Some(18_000), Some(vocab)));
    let samples = std::fs::read_to_string(w.run_dir("nano", "lr1e-3").join("samples.txt")).unwrap();
    assert!(samples.contains("ROMEO:"), "{samples}");
    assert!(
        !w.path().join("runs/.tokens").read_dir().unwrap().any(|e| e.unwrap().path().join("train").exists()),
        "the .bin files are used in place, not copied"
    );
}

#[test]
fn jsonl_documents_with_a_validation_file_of_their_own() {
    let w = SweepDir::new();
    let lines = |docs: &[&str]| docs.iter().map(|d| format!("{}\n", serde_json::json!({"id": 1, "content": d}))).collect::<String>();
    let train: Vec<String> = crate::util::corpus().lines().map(str::to_string).collect();
    let train_refs: Vec<&str> = train.iter().map(String::as_str).collect();
    w.write("data/train.jsonl", &lines(&train_refs));
    w.write("data/val.jsonl", &lines(&train_refs[..6]));
    w.write(
        "sweeps/j.yaml",
        &format!("name: j\ndata:\n  path: data/train.jsonl\n  text_field: content\n  val: data/val.jsonl\n{TINY}grid:\n  lr: [0.001]\nsample:\n  prompts: [\"夏天\"]\n"),
    );
    let out = w.sweep(&["run", "sweeps/j.yaml"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    // Every document and its newline, all of them training tokens.
    let n_train: usize = train.iter().map(|d| d.chars().count() + 1).sum();
    assert_eq!(w.summary("j", "lr1e-3")["train_tokens"].as_u64(), Some(n_train as u64));
}

/// Each bad input stops the sweep before training with the file and what to do.
#[test]
fn bad_data_is_refused_with_its_file_and_the_fix() {
    let w = SweepDir::new();
    let spec = |name: &str, data: &str| {
        w.write(&format!("sweeps/{name}.yaml"), &format!("name: {name}\ndata:\n{data}{TINY}grid:\n  lr: [0.001]\n"));
        format!("sweeps/{name}.yaml")
    };
    let refused = |args: &[&str], want: &[&str]| {
        let out = w.sweep(args);
        let text = format!("{}{}", stdout(&out), stderr(&out));
        assert_eq!(out.status.code(), Some(2), "{args:?} should be refused:\n{text}");
        for wanted in want {
            assert!(text.contains(wanted), "{args:?}: missing {wanted:?} in:\n{text}");
        }
    };
    // A parquet file without the column: its columns named, at data.text_column's line.
    corpus::source::parquet::write_for_tests(&w.path().join("data/p.parquet"), "body", &["one doc", "another"], 1).unwrap();
    let p = spec("p", "  path: data/p.parquet\n  text_column: text\n");
    refused(
        &["run", &p, "--dry-run"],
        &["sweeps/p.yaml:4: parquet file data/p.parquet has no column \"text\"; its columns are body, id; set data.text_column"],
    );
    // A shard folder with no matching files.
    std::fs::create_dir_all(w.path().join("data/empty")).unwrap();
    let g = spec("g", "  path: data/empty/*.parquet\n");
    refused(&["run", &g, "--dry-run"], &["sweeps/g.yaml:3: no files match data.path data/empty/*.parquet; the folder data/empty is empty"]);
    // nanoGPT folders: a .bin of odd size; an id at or above meta.pkl's vocabulary; a spec
    // whose tokenizer is not the one the tokens were made with.
    nanogpt_char_folder(&w.path().join("data/nano"), 5_000);
    let bin = w.path().join("data/nano/train.bin");
    let good = std::fs::read(&bin).unwrap();
    std::fs::write(&bin, &good[..good.len() - 1]).unwrap();
    let n = spec("n", "  path: data/nano\n");
    refused(&["run", &n, "--dry-run"], &["data/nano/train.bin is 8999 bytes, not a whole number of 2-byte token ids"]);
    let mut bad = good.clone();
    bad[10..12].copy_from_slice(&700u16.to_le_bytes());
    std::fs::write(&bin, &bad).unwrap();
    refused(&["prepare", &n], &["train.bin: token id 700 at position 5 is not below the vocabulary size", "(meta.pkl's)"]);
    std::fs::write(&bin, &good).unwrap();
    let m = spec("m", "  path: data/nano\n  tokenizer: gpt2\n");
    refused(&["run", &m, "--dry-run"], &["sweeps/m.yaml:4: data.tokenizer is gpt2 but", "meta.pkl is a char-level vocabulary"]);
    // A corpus shorter than one block.
    w.write("data/short.txt", "just a few words");
    let s = spec("s", "  path: data/short.txt\n");
    refused(&["run", &s], &["data/short.txt: 16 tokens is too short for block_size 16", "lower block_size"]);
}

/// A run folder whose tokenizer is not the one its corpus was cached with (say, the corpus
/// gained characters and was tokenized again): the trial refuses to train on ids it would
/// misread.
#[test]
fn a_trial_refuses_a_cache_made_by_another_tokenizer() {
    let w = SweepDir::new();
    w.spec("t", "  lr: [0.001]\n");
    let out = w.sweep(&["run", "sweeps/t.yaml"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    let dir = w.run_dir("t", "lr1e-3");
    std::fs::write(dir.join("tokenizer.json"), r#"{"type":"char","chars":"abc"}"#).unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_sweep")).args(["trial"]).arg(&dir).current_dir(w.path()).output().unwrap();
    let text = format!("{}{}", stdout(&out), stderr(&out));
    let summary: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(dir.join("summary.json")).unwrap()).unwrap();
    assert_eq!(summary["status"], "failed", "{text}");
    assert!(summary["error"].as_str().unwrap().contains("was tokenized with another tokenizer"), "{summary}");
    assert!(text.contains("the corpus data/tiny.txt in the token cache was tokenized with another tokenizer than this run's"), "{text}");
}

/// A trial maps the token cache: its peak memory does not grow with the corpus. Two
/// nanoGPT folders of 2 M and 200 M tokens (the larger a sparse file: 400 MB that take no
/// disk), one identical run on each.
#[test]
fn a_trials_memory_does_not_grow_with_the_corpus() {
    let w = SweepDir::new();
    let mut peaks = Vec::new();
    for (name, n_tokens) in [("small", 2_000_000u64), ("large", 200_000_000)] {
        let dir = w.path().join("data").join(name);
        std::fs::create_dir_all(&dir).unwrap();
        for f in ["train.bin", "val.bin"] {
            std::fs::File::create(dir.join(f)).unwrap().set_len(2 * n_tokens).unwrap();
        }
        // Two characters; the file's zeros are all the first.
        let script = "import pickle\npickle.dump({'vocab_size': 2, 'itos': {0: 'a', 1: 'b'}, 'stoi': {'a': 0, 'b': 1}}, open('meta.pkl', 'wb'))\n";
        python(script, &dir, &[]);
        w.write(
            &format!("sweeps/{name}.yaml"),
            &format!("name: {name}\ndata:\n  path: data/{name}\n{TINY}grid:\n  lr: [0.001]\nsample:\n  prompts: [\"a\"]\n"),
        );
        let out = w.sweep(&["run", &format!("sweeps/{name}.yaml")]);
        assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
        let s = w.summary(name, "lr1e-3");
        assert_eq!(s["train_tokens"].as_u64(), Some(n_tokens));
        peaks.push(s["peak_rss_mb"].as_f64().expect("peak_rss_mb in summary.json"));
    }
    // Read whole, 200 M tokens would take 400 MB as uint16 (1.6 GB as i64 on the device).
    assert!(peaks[1] - peaks[0] < 20.0, "peak memory {:.0} MB with 2 M tokens, {:.0} MB with 200 M", peaks[0], peaks[1]);
}

/// `sweep prepare` killed while it tokenizes: no manifest (nothing a trial would read), and
/// the rerun keeps the shards that were whole and ends with the ids of an uninterrupted
/// build.
#[test]
fn a_prepare_killed_while_it_tokenizes_leaves_no_manifest_and_the_rerun_continues() {
    let w = SweepDir::new();
    // 24 files of about 1.1 MB: one shard each, GPT-2 tokenizing takes seconds.
    let text = shakespeare();
    for i in 0..24 {
        w.write(&format!("data/books/{i:02}.txt"), &text);
    }
    w.write("sweeps/books.yaml", "name: books\ndata:\n  path: data/books/*.txt\n  tokenizer: gpt2\ngrid:\n  lr: [0.001]\n");
    let mut child = w.spawn(&["prepare", "sweeps/books.yaml"]);
    let entry = || w.path().join("runs/.tokens").read_dir().ok()?.next()?.ok().map(|e| e.path());
    crate::util::wait_for("the first shards", std::time::Duration::from_secs(120), || {
        entry()
            .and_then(|e| e.join("train").read_dir().ok())
            .is_some_and(|d| d.filter_map(Result::ok).any(|f| f.path().extension().is_some_and(|x| x == "bin")))
    });
    nix::sys::signal::kill(nix::unistd::Pid::from_raw(child.id() as i32), nix::sys::signal::Signal::SIGKILL).unwrap();
    child.wait().unwrap();
    let entry = entry().unwrap();
    let whole = entry.join("train").read_dir().unwrap().filter_map(Result::ok).filter(|f| f.path().extension().is_some_and(|x| x == "bin")).count();
    assert!(whole < 24, "killed too late: all {whole} shards were done");
    assert!(!entry.join("manifest.json").exists(), "a killed build has no manifest");
    let out = w.sweep(&["prepare", "sweeps/books.yaml"]);
    assert!(out.status.success(), "{}{}", stdout(&out), stderr(&out));
    assert!(stdout(&out).contains(&format!("({whole} of 24 shards kept from an interrupted run)")), "{}", stdout(&out));
    let one = Tokenizer::gpt2().unwrap().encode(&text).unwrap();
    // The same entry from anywhere: the cache is keyed by the absolute path.
    let mut data = sweep_config::RunConfig::with_data(w.path().join("data/books/*.txt").display().to_string()).data;
    data.tokenizer = sweep_config::TokenizerKind::Gpt2;
    let p = corpus::cache::open(&data, &w.path().join("runs/.tokens")).unwrap();
    assert_eq!(p.dir, entry);
    let all = p.token_data(0.0).unwrap().train;
    let n = one.len() as u64;
    assert_eq!(all.len() as u64, 24 * n);
    assert_eq!(all.slice(23 * n, n).to_vec(), one, "the last file's ids, as tokenizing it alone gives");
}

/// `sweeps/shakespeare_char.yaml` on a folder laid out as nanoGPT's prepare.py writes it,
/// and `sweeps/fineweb_parquet.yaml` on a parquet shard with a `text` column: `sweep
/// prepare` checks each spec, reads the data into the cache, and a second prepare counts
/// it from the cache. (Not a dry run: that would time the specs' large shapes on the CPU.)
#[test]
fn the_shipped_specs_for_a_nanogpt_folder_and_parquet_shards_read_such_data() {
    let w = SweepDir::new();
    nanogpt_char_folder(&w.path().join("data/shakespeare_char"), 40_000);
    std::fs::create_dir_all(w.path().join("data/fineweb")).unwrap();
    let docs: Vec<String> = shakespeare().split("\n\n").take(400).map(str::to_string).collect();
    let refs: Vec<&str> = docs.iter().map(String::as_str).collect();
    corpus::source::parquet::write_for_tests(&w.path().join("data/fineweb/000_00000.parquet"), "text", &refs, 100).unwrap();
    for (spec, says) in [("shakespeare_char", "36000 train and 4000 val tokens"), ("fineweb_parquet", "vocab 50257")] {
        w.write(&format!("sweeps/{spec}.yaml"), &std::fs::read_to_string(repo().join(format!("sweeps/{spec}.yaml"))).unwrap());
        let first = w.sweep(&["prepare", &format!("sweeps/{spec}.yaml")]);
        assert!(first.status.success(), "{spec}: {}{}", stdout(&first), stderr(&first));
        let again = w.sweep(&["prepare", &format!("sweeps/{spec}.yaml")]);
        assert!(stdout(&again).contains("is tokenized already") && stdout(&again).contains(says), "{spec}: {}", stdout(&again));
    }
}
