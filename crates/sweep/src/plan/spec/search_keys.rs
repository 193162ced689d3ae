//! The keys that say what a search is judged by and where it starts: `constraints:`
//! (expressions every run must satisfy), `objectives:` (summary fields, minimised unless
//! `max:`), `warm_start:` (earlier sweep folders), `enqueue:` (configurations to train
//! first) and `stop:` (the stop rule), each typed and placed at its line.

use crate::plan::constraints::Constraint;
use crate::plan::objectives::{self, Objective};
use crate::plan::spec::did_you_mean;
use crate::plan::spec::reader::Reader;
use crate::plan::stop_rule::StopRule;
use crate::plan::yaml::{self, Field};
use indexmap::IndexMap;
use marked_yaml::Node;
use serde_json::Value;
use sweep_config::ValueKind;

const STOP_FIELDS: &[(&str, Field)] = &[("patience_runs", Field::Scalar(ValueKind::Whole, false)), ("min_delta", Field::Scalar(ValueKind::Number, true))];

impl Reader {
    /// The items of a list key, or a problem when it is not a list.
    fn items<'n>(&mut self, name: &str, node: &'n Node, line: Option<usize>, example: &str) -> &'n [Node] {
        self.places.insert_at(name.into(), line, node);
        match node.as_sequence() {
            Some(items) => items,
            None => {
                self.problem(line, format!("{name} must be a list, e.g. {example}; got {}", yaml::shown(node)));
                &[]
            }
        }
    }

    pub(super) fn constraints(&mut self, node: &Node, line: Option<usize>) -> Vec<String> {
        let mut out = Vec::new();
        for (i, item) in self.items("constraints", node, line, "[\"params <= 2e6\", \"embed_dim % n_heads == 0\"]").iter().enumerate() {
            let at = yaml::line(item).or(line);
            let text = match yaml::scalar(item, ValueKind::Text, false) {
                Ok(Value::String(s)) => s,
                _ => {
                    self.problem(at, format!("constraints item {} must be an expression in quotes, e.g. \"params <= 2e6\"; got {}", i + 1, yaml::shown(item)));
                    continue;
                }
            };
            self.places.insert(format!("constraints[{}]", out.len()), item);
            match Constraint::parse(&text, at) {
                Ok(_) => out.push(text),
                Err(e) => self.problem(at, e),
            }
        }
        out
    }

    pub(super) fn objectives(&mut self, node: &Node, line: Option<usize>) -> Vec<Objective> {
        let mut out: Vec<Objective> = Vec::new();
        for item in self.items("objectives", node, line, "[val_loss, params] or [val_loss, {max: tokens_per_second}]") {
            let at = yaml::line(item).or(line);
            let read = match (item.as_scalar(), item.as_mapping()) {
                (Some(s), _) => Some(Objective::min(s.as_str())),
                (_, Some(m)) if m.len() == 1 => {
                    let (k, v) = m.iter().next().expect("one entry");
                    match (k.as_str(), v.as_scalar()) {
                        ("max" | "min", Some(name)) => Some(Objective { name: name.as_str().into(), maximize: k.as_str() == "max" }),
                        _ => None,
                    }
                }
                _ => None,
            };
            let Some(o) = read else {
                self.problem(at, format!("objectives items are a summary field (minimised) or {{max: field}}; got {}", yaml::shown(item)));
                continue;
            };
            if !objectives::FIELDS.contains(&o.name.as_str()) {
                let hint = did_you_mean(&o.name, objectives::FIELDS).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
                self.problem(at, format!("objectives: {} is not a number in summary.json{hint} (known: {})", o.name, objectives::FIELDS.join(", ")));
                continue;
            }
            if out.iter().any(|x| x.field() == o.field()) {
                self.problem(at, format!("objectives lists {} twice", o.name));
                continue;
            }
            out.push(o);
        }
        out
    }

    pub(super) fn warm_start(&mut self, node: &Node, line: Option<usize>) -> Vec<String> {
        let mut out = Vec::new();
        for item in self.items("warm_start", node, line, "[runs/earlier_sweep]") {
            match yaml::scalar(item, ValueKind::Text, false) {
                Ok(Value::String(s)) => {
                    self.places.insert(format!("warm_start[{}]", out.len()), item);
                    out.push(s)
                }
                _ => {
                    self.problem(yaml::line(item).or(line), format!("warm_start items are sweep folders such as runs/earlier_sweep; got {}", yaml::shown(item)))
                }
            }
        }
        out
    }

    pub(super) fn enqueue(&mut self, node: &Node, line: Option<usize>) -> Vec<IndexMap<String, Value>> {
        let mut out = Vec::new();
        for item in self.items("enqueue", node, line, "[{lr: 3e-3, embed_dim: 64}]") {
            let at = yaml::line(item).or(line);
            let Some(map) = item.as_mapping() else {
                self.problem(at, format!("enqueue items are mappings of setting: value, e.g. {{lr: 3e-3}}; got {}", yaml::shown(item)));
                continue;
            };
            let mut point = IndexMap::new();
            let mut ok = true;
            for (key, value) in map.iter() {
                let key_line = yaml::line_of_key(key).or(at);
                let Some((kind, nullable)) = self.known_setting("enqueue", key.as_str(), key_line) else {
                    ok = false;
                    continue;
                };
                match yaml::scalar(value, kind, nullable) {
                    Ok(v) => {
                        point.insert(key.as_str().to_string(), v);
                    }
                    Err(rule) => {
                        ok = false;
                        self.problem(key_line, format!("enqueue.{} {rule}", key.as_str()))
                    }
                }
            }
            if ok {
                self.places.insert_at(format!("enqueue[{}]", out.len()), at, item);
                out.push(point);
            }
        }
        out
    }

    pub(super) fn stop(&mut self, node: &Node, line: Option<usize>) -> Option<StopRule> {
        self.places.insert_at("stop".into(), line, node);
        let read: StopRule = self.section("stop", node, line, STOP_FIELDS, &["patience_runs"], StopRule::default());
        let at = |r: &Self, key: &str| r.places.line(&format!("stop.{key}")).or(line);
        if read.patience_runs == 0 {
            if self.places.get("stop.patience_runs").is_some() {
                self.problem(at(self, "patience_runs"), "stop.patience_runs 0 stops before any run; give the runs to wait for an improvement (e.g. 10)".into());
            }
            return None;
        }
        if read.min_delta.is_some_and(|d| !(d.is_finite() && d >= 0.0)) {
            self.problem(
                at(self, "min_delta"),
                format!("stop.min_delta {} must be a val-loss difference of 0 or more (e.g. 0.01)", read.min_delta.unwrap_or_default()),
            );
            return None;
        }
        Some(read)
    }
}
