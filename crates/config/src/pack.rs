//! Which runs can train together as one packed model: runs whose tensors have the same
//! shapes and that take the same steps, differing only in scalars each member of a pack
//! keeps for itself (learning rate and its schedule, weight decay, clipping, dropout, seed,
//! sampling).

use crate::RunConfig;

/// Settings a packed run keeps for itself; every other setting must agree within a pack.
pub const PER_MEMBER_SETTINGS: &[&str] = &["lr", "min_lr", "warmup_iters", "lr_decay_iters", "weight_decay", "grad_clip", "dropout", "seed"];

/// `config` with every per-member setting cleared: runs with equal keys can share a pack.
pub fn pack_key(config: &RunConfig) -> RunConfig {
    let mut key = config.clone();
    let t = &mut key.train;
    (t.lr, t.min_lr, t.warmup_iters, t.lr_decay_iters, t.weight_decay, t.grad_clip, t.seed) = (0.0, None, 0, None, 0.0, 0.0, 0);
    key.model.dropout = 0.0;
    key.sample = Default::default();
    key
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::setting_kind;

    #[test]
    fn scalars_share_a_key_shapes_and_steps_do_not() {
        let a = RunConfig::with_data("d.txt");
        let mut b = a.clone();
        (b.train.lr, b.train.seed, b.model.dropout, b.train.weight_decay, b.train.warmup_iters) = (3e-3, 7, 0.2, 0.0, 5);
        b.sample.prompts = vec!["x".into()];
        assert_eq!(pack_key(&a), pack_key(&b));
        for change in [|c: &mut RunConfig| c.model.embed_dim = 32, |c: &mut RunConfig| c.train.max_iters = 10, |c: &mut RunConfig| c.train.batch_size = 4] {
            let mut c = a.clone();
            change(&mut c);
            assert_ne!(pack_key(&a), pack_key(&c));
        }
        assert!(PER_MEMBER_SETTINGS.iter().all(|s| setting_kind(s).is_some()), "every per-member setting is a real setting name");
    }
}
