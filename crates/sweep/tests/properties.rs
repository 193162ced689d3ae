//! Property tests of the spec parser and grid expansion: no input panics, expansion count
//! is the product of the list lengths, and run ids are unique and stable.

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
