//! Real training on CPU with tiny models: the model learns, its parameter count matches
//! the closed form, a fixed seed reproduces the same losses, and sampling works.

use corpus::{TokenData, Tokenizer};
use sweep_config::{ModelConfig, RunConfig, n_params};
use tch::Device;
use train::{EvalRow, Observer, Stop, train};

/// libtorch's random generator is global to the process: tests that train take turns, so
/// one test's dropout draws cannot change another's losses.
static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

#[derive(Default)]
struct Rows(Vec<EvalRow>);

impl Observer for Rows {
    fn on_eval(&mut self, row: &EvalRow) {
        self.0.push(row.clone());
    }
}

fn tiny_run(text: &str, max_iters: u64) -> (RunConfig, TokenData, Tokenizer) {
    let mut cfg = RunConfig::with_data("inline");
    cfg.model = ModelConfig::tiny();
    cfg.train.batch_size = 8;
    cfg.train.max_iters = max_iters;
    cfg.train.eval_interval = 25;
    cfg.train.eval_iters = 4;
    cfg.train.warmup_iters = 10;
    cfg.train.lr = 3e-3;
    let tok = Tokenizer::char_from_text(text);
    let data = TokenData::split(&tok, text, 0.1).unwrap();
    (cfg, data, tok)
}

#[test]
fn model_learns_a_repetitive_corpus() {
    let _turn = serial();
    tch::set_num_threads(1);
    let text = "the quick brown fox jumps over the lazy dog. ".repeat(40);
    let (cfg, data, _) = tiny_run(&text, 150);
    let mut rows = Rows::default();
    let out = train(&cfg, &data, Device::Cpu, &mut rows, None).unwrap();
    assert_eq!(out.stop, Stop::Finished);
    // A model that knows nothing scores ln(vocab) nats per token (uniform guess); this
    // corpus is a fixed 45-character cycle, so a learning model goes far below that.
    let uniform = (data.vocab_size as f64).ln();
    let first = &rows.0[0];
    let last = rows.0.last().unwrap();
    assert!((first.val_loss - uniform).abs() < 0.5, "untrained loss {} should be near ln(V) = {uniform}", first.val_loss);
    assert!(last.val_loss < 0.5, "after 150 steps val loss is {}, expected < 0.5 (uniform is {uniform:.2})", last.val_loss);
    assert_eq!(rows.0.iter().map(|r| r.step).collect::<Vec<_>>(), vec![0, 25, 50, 75, 100, 125, 150]);
    assert_eq!(last.tokens_seen, 150 * 8 * 16);
}

#[test]
fn parameter_count_matches_closed_form() {
    let _turn = serial();
    for bias in [false, true] {
        let cfg = ModelConfig { bias, hidden_dim: Some(48), ..ModelConfig::tiny() };
        let vs = tch::nn::VarStore::new(Device::Cpu);
        let _model = train::Gpt::new(&vs.root(), &cfg, 37);
        let real: i64 = vs.trainable_variables().iter().map(|t| t.numel() as i64).sum();
        assert_eq!(real as u64, n_params(&cfg, 37).total, "bias={bias}");
    }
}

#[test]
fn same_seed_same_losses_on_cpu() {
    let _turn = serial();
    tch::set_num_threads(1);
    let text = "abcabcabdabcabcabd hello world ".repeat(20);
    let (mut cfg, data, _) = tiny_run(&text, 30);
    cfg.model.dropout = 0.1;
    let run = |cfg: &RunConfig| {
        let mut rows = Rows::default();
        train(cfg, &data, Device::Cpu, &mut rows, None).unwrap();
        rows.0.iter().map(|r| (r.train_loss, r.val_loss)).collect::<Vec<_>>()
    };
    let a = run(&cfg);
    assert_eq!(a, run(&cfg));
    cfg.train.seed += 1;
    assert_ne!(a, run(&cfg), "a different seed should give different losses");
}

#[test]
fn checkpoint_round_trip_and_sampling() {
    let _turn = serial();
    tch::set_num_threads(1);
    let text = "飞鸟集 夏天的飞鸟，飞到我的窗前唱歌。".repeat(30);
    let (cfg, data, tok) = tiny_run(&text, 100);
    let out = train(&cfg, &data, Device::Cpu, &mut Rows::default(), None).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("model.safetensors");
    train::checkpoint::save(&out.vs, &path).unwrap();
    let (_vs, model) = train::checkpoint::load(&path, &cfg.model, data.vocab_size, Device::Cpu).unwrap();
    let prompt = tok.encode("夏天").unwrap();
    let ids = train::sample::generate(&model, &prompt, 20, 0.5, Some(5), Device::Cpu);
    assert_eq!(ids.len(), prompt.len() + 20);
    let text_out = tok.decode(&ids);
    assert!(text_out.starts_with("夏天"), "{text_out}");
    // A wrong shape is a clear error, not a panic.
    let other = ModelConfig { embed_dim: 64, ..cfg.model.clone() };
    let err = train::checkpoint::load(&path, &other, data.vocab_size, Device::Cpu).err().unwrap().to_string();
    assert!(err.contains("model.safetensors"), "{err}");
}

#[test]
fn bf16_mixed_precision_matches_float32() {
    let _turn = serial();
    // The CUDA path computes matmuls in bf16; CPU runs the same code, so it is checked here.
    tch::manual_seed(0);
    let vs = tch::nn::VarStore::new(Device::Cpu);
    let mut model = train::Gpt::new(&vs.root(), &ModelConfig::tiny(), 50);
    let x = tch::Tensor::randint(50, [4, 16], (tch::Kind::Int64, Device::Cpu));
    let y = tch::Tensor::randint(50, [4, 16], (tch::Kind::Int64, Device::Cpu));
    let full = f64::try_from(model.loss(&x, &y, false)).unwrap();
    model.compute_kind = tch::Kind::BFloat16;
    let mixed_loss = model.loss(&x, &y, true);
    assert_eq!(mixed_loss.kind(), tch::Kind::Float, "the loss is computed in float32");
    let mixed = f64::try_from(&mixed_loss).unwrap();
    assert!((full - mixed).abs() < 0.05, "float32 {full} vs bf16 {mixed}");
    mixed_loss.backward();
    let grads: Vec<_> = vs.trainable_variables().iter().map(|v| v.grad().kind()).collect();
    assert!(grads.iter().all(|k| *k == tch::Kind::Float), "weights and grads stay float32: {grads:?}");
}

/// Stops after `stop_after` steps, saving the snapshot it is given to `path`.
struct StopAndSave {
    rows: Vec<EvalRow>,
    polls: u64,
    stop_after: u64,
    path: std::path::PathBuf,
}

impl Observer for StopAndSave {
    fn on_eval(&mut self, row: &EvalRow) {
        self.rows.push(row.clone());
    }
    fn on_checkpoint(&mut self, s: &train::Snapshot) -> Result<(), train::TrainError> {
        s.save(&self.path)
    }
    fn should_stop(&mut self) -> bool {
        self.polls += 1;
        self.polls >= self.stop_after
    }
}

#[test]
fn resumed_training_matches_uninterrupted_training() {
    let _turn = serial();
    tch::set_num_threads(1);
    let text = "abcabcabdabcabcabd hello world ".repeat(20);
    let (mut cfg, data, _) = tiny_run(&text, 60);
    cfg.model.dropout = 0.1;
    cfg.train.eval_interval = 10;
    cfg.train.checkpoint_interval = Some(7);
    let mut whole = Rows::default();
    let full = train(&cfg, &data, Device::Cpu, &mut whole, None).unwrap();

    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resume.safetensors");
    let mut first = StopAndSave { rows: vec![], polls: 0, stop_after: 33, path: path.clone() };
    let part = train(&cfg, &data, Device::Cpu, &mut first, None).unwrap();
    assert_eq!(part.stop, Stop::Interrupted { next_step: 33 });
    let mut second = Rows::default();
    let rest = train(&cfg, &data, Device::Cpu, &mut second, Some(&path)).unwrap();
    assert_eq!(rest.resumed_at, 33);
    assert_eq!(rest.steps, 60);
    let mut joined: Vec<(u64, f64, f64)> = first.rows.iter().chain(second.0.iter()).map(|r| (r.step, r.train_loss, r.val_loss)).collect();
    joined.dedup_by_key(|r| r.0);
    let expected: Vec<(u64, f64, f64)> = whole.0.iter().map(|r| (r.step, r.train_loss, r.val_loss)).collect();
    assert_eq!(joined, expected, "interrupt + resume gives exactly the uninterrupted losses");
    assert_eq!(full.steps, rest.steps);

    // A damaged state file is an error naming it, not a panic.
    std::fs::write(&path, b"not a safetensors file").unwrap();
    let err = train(&cfg, &data, Device::Cpu, &mut Rows::default(), Some(&path)).err().unwrap().to_string();
    assert!(err.contains("resume.safetensors") && err.contains("damaged"), "{err}");
}

#[test]
fn an_exploding_learning_rate_is_diverged() {
    let _turn = serial();
    tch::set_num_threads(1);
    let text = "the quick brown fox jumps over the lazy dog. ".repeat(40);
    let (mut cfg, data, _) = tiny_run(&text, 100);
    cfg.train.lr = 50.0;
    cfg.train.grad_clip = 0.0;
    let out = train(&cfg, &data, Device::Cpu, &mut Rows::default(), None).unwrap();
    assert!(matches!(out.stop, Stop::Diverged { .. }), "{:?}", out.stop);
}

/// samples.txt's text: a header per prompt with its settings, the prompt continued by the
/// set number of tokens, the same text for the same seed, and a prompt the tokenizer cannot
/// encode said in its place.
#[test]
fn samples_text_continues_each_prompt_and_repeats_for_a_seed() {
    let _turn = serial();
    let text = "the quick brown fox jumps over the lazy dog. ".repeat(20);
    let (mut cfg, data, tok) = tiny_run(&text, 20);
    let out = train(&cfg, &data, Device::Cpu, &mut Rows::default(), None).unwrap();
    (cfg.sample.max_new_tokens, cfg.sample.temperature, cfg.sample.top_k) = (12, 0.8, Some(5));
    let prompts = vec!["the ".to_string(), "飞".to_string()];
    let a = train::sample::samples_text(&cfg.sample, &tok, &out.model, Device::Cpu, &prompts, 7);
    let b = train::sample::samples_text(&cfg.sample, &tok, &out.model, Device::Cpu, &prompts, 7);
    assert_eq!(a, b, "one seed, one text");
    let lines: Vec<&str> = a.lines().collect();
    assert_eq!(lines[0], "--- sample 1 (prompt \"the \", temperature 0.8, top_k 5) ---");
    assert!(lines[1].starts_with("the ") && lines[1].chars().count() >= 4 + 12 - 1, "the prompt and 12 new tokens: {:?}", lines[1]);
    assert_eq!(lines[3], "--- sample 2 (prompt \"飞\", temperature 0.8, top_k 5) ---");
    assert!(lines[4].starts_with("(cannot encode this prompt:"), "{:?}", lines[4]);
}
