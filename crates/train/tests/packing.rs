//! Packed training against training alone: with dropout off a packed member's losses are
//! the lone run's up to float rounding; a member that diverges or is stopped leaves the
//! pack without changing the others; a packed member resumes from its own saved state.

use corpus::TokenData;
use sweep_config::{ModelConfig, RunConfig};
use tch::Device;
use train::{EvalRow, Observer, PackMember, Stop, train, train_packed};

/// libtorch's random generator is global to the process: tests that train take turns.
static TORCH_RNG: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    TORCH_RNG.lock().unwrap_or_else(|e| e.into_inner())
}

/// Records evaluations; stops after `stop_after` polls when set, saving to `path`.
#[derive(Default)]
struct Rows {
    rows: Vec<EvalRow>,
    polls: u64,
    stop_after: Option<u64>,
    path: Option<std::path::PathBuf>,
}

impl Observer for Rows {
    fn on_eval(&mut self, row: &EvalRow) {
        self.rows.push(row.clone());
    }
    fn on_checkpoint(&mut self, s: &train::Snapshot) -> Result<(), train::TrainError> {
        match &self.path {
            Some(p) => s.save(p),
            None => Ok(()),
        }
    }
    fn should_stop(&mut self) -> bool {
        self.polls += 1;
        self.stop_after.is_some_and(|n| self.polls >= n)
    }
}

fn data() -> TokenData {
    let text = "夏天的飞鸟，飞到我的窗前唱歌，又飞去了。the quick brown fox jumps over the lazy dog. ".repeat(30);
    TokenData::split(&corpus::Tokenizer::char_from_text(&text), &text, 0.1).unwrap()
}

fn config(lr: f64, seed: u64, dropout: f64) -> RunConfig {
    let mut cfg = RunConfig::with_data("inline");
    cfg.model = ModelConfig { dropout, ..ModelConfig::tiny() };
    (cfg.train.batch_size, cfg.train.max_iters, cfg.train.eval_interval, cfg.train.eval_iters) = (8, 40, 10, 3);
    (cfg.train.lr, cfg.train.seed, cfg.train.warmup_iters, cfg.train.device) = (lr, seed, 5, "cpu".into());
    cfg
}

fn val_losses(rows: &[EvalRow]) -> Vec<f64> {
    rows.iter().map(|r| r.val_loss).collect()
}

/// Largest difference between a packed member's val losses and the same run's alone.
fn worst_gap(packed: &[EvalRow], alone: &[EvalRow]) -> f64 {
    assert_eq!(packed.iter().map(|r| r.step).collect::<Vec<_>>(), alone.iter().map(|r| r.step).collect::<Vec<_>>());
    packed.iter().zip(alone).map(|(a, b)| (a.val_loss - b.val_loss).abs()).fold(0.0, f64::max)
}

/// Packed and alone agree within this many nats of val loss (dropout off): float rounding
/// of batched against single matrix products over 40 steps. Two seeds of the same run
/// differ by far more (checked below), so the tolerance is not a loose one.
const PACKED_TOLERANCE: f64 = 2e-3;

#[test]
fn packed_members_match_the_same_runs_trained_alone() {
    let _turn = serial();
    tch::set_num_threads(1);
    let data = data();
    let configs = [config(1e-3, 1, 0.0), config(3e-3, 2, 0.0), config(1e-2, 3, 0.0)];
    let alone: Vec<Vec<EvalRow>> = configs
        .iter()
        .map(|c| {
            let mut rows = Rows::default();
            train(c, &data, Device::Cpu, &mut rows, None).unwrap();
            rows.rows
        })
        .collect();
    let mut observers: Vec<Rows> = configs.iter().map(|_| Rows::default()).collect();
    let members = configs.iter().zip(observers.iter_mut()).map(|(config, o)| PackMember { config, observer: o, resume_from: None }).collect();
    let results = train_packed(members, &data, Device::Cpu);
    for (i, r) in results.iter().enumerate() {
        let out = r.as_ref().unwrap();
        assert_eq!((&out.stop, out.steps), (&Stop::Finished, 40));
        let gap = worst_gap(&observers[i].rows, &alone[i]);
        assert!(gap < PACKED_TOLERANCE, "member {i}: packed {:?} vs alone {:?}", val_losses(&observers[i].rows), val_losses(&alone[i]));
    }
    // The seed-to-seed spread the tolerance is measured against.
    let mut other_seed = Rows::default();
    train(&config(1e-3, 9, 0.0), &data, Device::Cpu, &mut other_seed, None).unwrap();
    let spread = worst_gap(&other_seed.rows, &alone[0]);
    assert!(spread > 10.0 * PACKED_TOLERANCE, "seed spread {spread} should dwarf the tolerance");
    // The learning rates really differ inside the pack.
    assert_ne!(val_losses(&observers[0].rows), val_losses(&observers[2].rows));
}

#[test]
fn a_diverging_member_fails_alone_and_the_rest_train_on() {
    let _turn = serial();
    tch::set_num_threads(1);
    let data = data();
    let mut wild = config(50.0, 2, 0.1);
    wild.train.grad_clip = 0.0;
    let configs = [config(3e-3, 1, 0.0), wild, config(3e-3, 3, 0.2)];
    let mut observers: Vec<Rows> = configs.iter().map(|_| Rows::default()).collect();
    let members = configs.iter().zip(observers.iter_mut()).map(|(config, o)| PackMember { config, observer: o, resume_from: None }).collect();
    let results: Vec<_> = train_packed(members, &data, Device::Cpu).into_iter().map(Result::unwrap).collect();
    assert!(matches!(results[1].stop, Stop::Diverged { .. }), "{:?}", results[1].stop);
    for i in [0, 2] {
        assert_eq!((&results[i].stop, results[i].steps), (&Stop::Finished, 40), "member {i}");
        let losses = val_losses(&observers[i].rows);
        assert!(losses.iter().all(|l| l.is_finite()) && losses.last() < losses.first(), "member {i} learned: {losses:?}");
    }
    // Member 0 has dropout off: the diverged neighbour did not change its losses.
    let mut alone = Rows::default();
    train(&configs[0], &data, Device::Cpu, &mut alone, None).unwrap();
    assert!(worst_gap(&observers[0].rows, &alone.rows) < PACKED_TOLERANCE);
}

#[test]
fn a_stopped_member_saves_its_state_and_resumes_alone_or_packed() {
    let _turn = serial();
    tch::set_num_threads(1);
    let data = data();
    let dir = tempfile::tempdir().unwrap();
    let configs = [config(2e-3, 1, 0.0), config(5e-3, 2, 0.0)];
    let paths: Vec<_> = (0..2).map(|i| dir.path().join(format!("resume{i}.safetensors"))).collect();
    // Member 0 is stopped after 23 steps; member 1 trains to the end.
    let mut observers =
        [Rows { stop_after: Some(23), path: Some(paths[0].clone()), ..Default::default() }, Rows { path: Some(paths[1].clone()), ..Default::default() }];
    let members = configs.iter().zip(observers.iter_mut()).map(|(config, o)| PackMember { config, observer: o, resume_from: None }).collect();
    let results: Vec<_> = train_packed(members, &data, Device::Cpu).into_iter().map(Result::unwrap).collect();
    assert_eq!(results[0].stop, Stop::Interrupted { next_step: 23 });
    assert_eq!(results[1].stop, Stop::Finished);
    // Resumed alone from the state the pack saved: the whole curve is the lone run's.
    let mut rest = Rows::default();
    let out = train(&configs[0], &data, Device::Cpu, &mut rest, Some(&paths[0])).unwrap();
    assert_eq!((out.resumed_at, out.steps), (23, 40));
    let joined: Vec<EvalRow> = observers[0].rows.iter().chain(rest.rows.iter()).cloned().collect();
    let mut whole = Rows::default();
    train(&configs[0], &data, Device::Cpu, &mut whole, None).unwrap();
    assert!(worst_gap(&joined, &whole.rows) < PACKED_TOLERANCE);
    // Resumed packed: members at another step than the first are refused, with the reason.
    let mut fresh = Rows::default();
    let mut resumed = Rows::default();
    let members = vec![
        PackMember { config: &configs[0], observer: &mut resumed, resume_from: Some(&paths[0]) },
        PackMember { config: &configs[1], observer: &mut fresh, resume_from: None },
    ];
    let results = train_packed(members, &data, Device::Cpu);
    assert_eq!(results[0].as_ref().unwrap().resumed_at, 23);
    let err = results[1].as_ref().err().unwrap().to_string();
    assert!(err.contains("resumes at step 0") && err.contains("step 23"), "{err}");
}
