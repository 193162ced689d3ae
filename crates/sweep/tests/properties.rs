//! Property tests of the spec parser, grid expansion and random search: no input panics,
//! expansion count is the product of the list lengths, run ids are unique and stable, and
//! random draws are reproducible and inside every distribution's bounds.

use proptest::prelude::*;
use std::collections::HashSet;
use sweep::{Plan, Spec};

/// Sweepable settings with values that are always valid together (n_heads 1 divides any width).
fn axis() -> impl Strategy<Value = (&'static str, Vec<String>)> {
    prop_oneof![
        prop::collection::hash_set(1usize..64, 1..4).prop_map(|v| ("batch_size", v.into_iter().map(|x| x.to_string()).collect())),
        prop::collection::hash_set(1usize..128, 1..4).prop_map(|v| ("embed_dim", v.into_iter().map(|x| x.to_string()).collect())),
        prop::collection::hash_set(1usize..6, 1..4).prop_map(|v| ("n_layers", v.into_iter().map(|x| x.to_string()).collect())),
        prop::collection::hash_set(1u32..1000, 1..4).prop_map(|v| ("lr", v.into_iter().map(|x| format!("{}e-4", x)).collect())),
        prop::collection::hash_set(0u32..90, 1..4).prop_map(|v| ("dropout", v.into_iter().map(|x| format!("0.{x:02}")).collect())),
        prop::collection::hash_set(0u64..1_000_000, 1..4).prop_map(|v| ("seed", v.into_iter().map(|x| x.to_string()).collect())),
    ]
}

fn spec_text(axes: &[(&str, Vec<String>)]) -> String {
    let mut text = String::from("name: p\ndata:\n  path: d.txt\nsettings:\n  n_heads: 1\ngrid:\n");
    for (k, vs) in axes {
        text.push_str(&format!("  {k}: [{}]\n", vs.join(", ")));
    }
    text
}

proptest! {
    #[test]
    fn parsing_arbitrary_text_never_panics(text in "\\PC{0,300}") {
        let _ = Spec::parse(&text);
    }

    #[test]
    fn planning_arbitrary_yaml_values_never_panics(key in "[a-z_]{1,12}", values in prop::collection::vec("[-a-z0-9.:e\"\\[\\]{} ]{0,8}", 0..4)) {
        let text = format!("name: p\ndata:\n  path: d.txt\ngrid:\n  {key}: [{}]\n", values.join(", "));
        let parsed = Spec::parse(&text);
        let _ = Plan::build(&parsed.spec, &parsed.places);
    }

    #[test]
    fn expansion_is_the_product_with_unique_stable_ids(axes in prop::collection::vec(axis(), 0..4)) {
        // One list per setting name (a name twice is a YAML duplicate key).
        let mut seen = HashSet::new();
        let axes: Vec<_> = axes.into_iter().filter(|(k, _)| seen.insert(*k)).collect();
        let text = spec_text(&axes);
        let plan = Plan::from_spec_text(&text).unwrap();
        let product: usize = axes.iter().map(|(_, v)| v.len()).product();
        prop_assert_eq!(plan.runs.len(), product);
        let ids: HashSet<&str> = plan.runs.iter().map(|r| r.id.as_str()).collect();
        prop_assert_eq!(ids.len(), plan.runs.len(), "ids are unique");
        let again = Plan::from_spec_text(&text).unwrap();
        prop_assert_eq!(plan.runs.iter().map(|r| &r.id).collect::<Vec<_>>(), again.runs.iter().map(|r| &r.id).collect::<Vec<_>>());
    }
}

/// A random-search spec over every kind of distribution, with bounds from the strategy.
fn random_spec(seed: u64, n: usize, lr: (f64, f64), dropout: (f64, f64), layers: (u64, u64), batches: &[u64]) -> String {
    let batches: Vec<String> = batches.iter().map(u64::to_string).collect();
    format!(
        "name: p\ndata:\n  path: d.txt\nsettings:\n  n_heads: 1\nmethod: random\nn_runs: {n}\nsearch_seed: {seed}\nspace:\n  lr: {{log_uniform: [{:e}, {:e}]}}\n  dropout: {{uniform: [{}, {}]}}\n  n_layers: {{int_uniform: [{}, {}]}}\n  batch_size: {{choice: [{}]}}\n",
        lr.0,
        lr.1,
        dropout.0,
        dropout.1,
        layers.0,
        layers.1,
        batches.join(", ")
    )
}

proptest! {
    #[test]
    fn random_search_is_reproducible_and_inside_the_bounds(
        seed in any::<u64>(),
        n in 1usize..40,
        lr_lo in 1e-6f64..1e-2, lr_span in 1.5f64..100.0,
        do_lo in 0.0f64..0.5, do_span in 0.01f64..0.4,
        l_lo in 1u64..4, l_span in 1u64..4,
        batches in prop::collection::btree_set(1u64..128, 1..4),
    ) {
        let batches: Vec<u64> = batches.into_iter().collect();
        let (lr, dropout, layers) = ((lr_lo, lr_lo * lr_span), (do_lo, do_lo + do_span), (l_lo, l_lo + l_span));
        let text = random_spec(seed, n, lr, dropout, layers, &batches);
        let plan = Plan::from_spec_text(&text).map_err(|p| TestCaseError::fail(format!("{p:?}\n{text}")))?;
        let again = Plan::from_spec_text(&text).unwrap();
        prop_assert_eq!(plan.runs.iter().map(|r| &r.id).collect::<Vec<_>>(), again.runs.iter().map(|r| &r.id).collect::<Vec<_>>());
        prop_assert_eq!(plan.runs.len(), n);
        let ids: HashSet<&String> = plan.runs.iter().map(|r| &r.id).collect();
        prop_assert_eq!(ids.len(), n);
        for run in &plan.runs {
            let t = &run.config.train;
            prop_assert!(t.lr >= lr.0 && t.lr <= lr.1, "lr {} outside {:?}", t.lr, lr);
            prop_assert!(run.config.model.dropout >= dropout.0 && run.config.model.dropout <= dropout.1);
            prop_assert!((layers.0..=layers.1).contains(&(run.config.model.n_layers as u64)));
            prop_assert!(batches.contains(&(t.batch_size as u64)));
        }
    }
}
