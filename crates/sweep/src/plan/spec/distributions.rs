//! `space:` for random and tpe searches: each setting's distribution (uniform, log_uniform,
//! int_uniform, choice) read with its arguments, checked against the setting's kind.

use crate::plan::space::{Dist, Space};
use crate::plan::spec::did_you_mean;
use crate::plan::spec::reader::Reader;
use crate::plan::yaml;
use marked_yaml::Node;
use serde_json::Value;
use sweep_config::ValueKind;

/// The distributions a `space:` setting may name.
const DISTRIBUTIONS: &[&str] = &["uniform", "log_uniform", "int_uniform", "choice"];

impl Reader {
    /// `space:`: each setting a list (one value is picked) or `{distribution: [low, high]}`.
    pub(super) fn space(&mut self, node: &Node, line: Option<usize>) -> Space {
        let mut out = Space::new();
        self.places.insert_at("space".into(), line, node);
        let Some(map) = self.mapping("space", node, line) else { return out };
        for (key, value) in map.iter() {
            let (key, key_line) = (key.as_str(), yaml::line_of_key(key));
            let Some((kind, nullable)) = self.known_setting("space", key, key_line) else { continue };
            self.places.insert_at(format!("space.{key}"), key_line, value);
            let (name, args) = match (value.as_sequence(), value.as_mapping()) {
                (Some(_), _) => ("choice", value),
                (_, Some(m)) if m.len() == 1 => {
                    let (k, v) = m.iter().next().expect("one entry");
                    (k.as_str(), v)
                }
                _ => {
                    self.problem(
                        key_line,
                        format!(
                            "space.{key} must be a list like [a, b] or one distribution like {{uniform: [0.0, 0.3]}} ({}), got {}; put a single value under settings",
                            DISTRIBUTIONS.join(", "),
                            yaml::shown(value)
                        ),
                    );
                    continue;
                }
            };
            let dist = match self.distribution(key, name, args, kind, nullable, key_line) {
                Some(d) => d,
                None => continue,
            };
            out.insert(key.to_string(), dist);
        }
        out
    }

    /// One distribution of `space:`, typed by the setting it draws.
    fn distribution(&mut self, key: &str, name: &str, args: &Node, kind: ValueKind, nullable: bool, line: Option<usize>) -> Option<Dist> {
        if !DISTRIBUTIONS.contains(&name) {
            let hint = did_you_mean(name, DISTRIBUTIONS).map(|s| format!("; did you mean `{s}`?")).unwrap_or_default();
            self.problem(line, format!("space.{key}: {name} is not a known distribution{hint} (known: {})", DISTRIBUTIONS.join(", ")));
            return None;
        }
        let Some(items) = args.as_sequence().filter(|items| !items.is_empty()) else {
            self.problem(
                line,
                format!(
                    "space.{key}: {name} needs a list, like {name}: {}, got {}",
                    if name == "choice" { "[16, 32]" } else { "[low, high]" },
                    yaml::shown(args)
                ),
            );
            return None;
        };
        if name == "choice" {
            let mut values = Vec::new();
            for item in items.iter() {
                match yaml::scalar(item, kind, nullable) {
                    Ok(v) if values.contains(&v) => self.problem(yaml::line(item).or(line), format!("space.{key} lists {} twice", yaml::shown(item))),
                    Ok(v) => values.push(v),
                    Err(rule) => self.problem(yaml::line(item).or(line), format!("space.{key} {rule}")),
                }
            }
            return (!values.is_empty()).then_some(Dist::Choice(values));
        }
        let wanted = if name == "int_uniform" { ValueKind::Whole } else { ValueKind::Number };
        if kind != wanted {
            let fix = if kind == ValueKind::Whole {
                "use int_uniform or a list".to_string()
            } else {
                format!("use a list of its values (it takes {})", kind.describe())
            };
            self.problem(line, format!("space.{key}: {name} cannot draw {key}, which takes {}; {fix}", kind.describe()));
            return None;
        }
        if items.len() != 2 {
            self.problem(line, format!("space.{key}: {name} needs two numbers [low, high], got {} values", items.len()));
            return None;
        }
        let bounds: Vec<Value> = items
            .iter()
            .filter_map(|item| yaml::scalar(item, wanted, false).map_err(|rule| self.problem(line, format!("space.{key}: {name} bound {rule}"))).ok())
            .collect();
        let [lo, hi] = bounds.as_slice() else { return None };
        let (l, h) = (lo.as_f64().unwrap_or_default(), hi.as_f64().unwrap_or_default());
        if l >= h {
            self.problem(line, format!("space.{key}: {name} [{}, {}] needs low < high", yaml::shown(&items[0]), yaml::shown(&items[1])));
            return None;
        }
        if name == "log_uniform" && l <= 0.0 {
            self.problem(line, format!("space.{key}: log_uniform needs a positive low bound, got {}; use uniform to include 0", yaml::shown(&items[0])));
            return None;
        }
        Some(match name {
            "uniform" => Dist::Uniform(l, h),
            "log_uniform" => Dist::LogUniform(l, h),
            _ => Dist::IntUniform(lo.as_u64().unwrap_or_default(), hi.as_u64().unwrap_or_default()),
        })
    }
}
