//! The flat vocabulary of settings a spec may fix or sweep (`lr`, `dropout`, …) and
//! reading or writing one of them by name on a `RunConfig`.

use crate::RunConfig;
use serde_json::Value;

/// Every setting a spec may name under `settings:` or `grid:`, model settings first.
/// The same name is used in YAML, config.json, CSV headers and `sweep report --by`.
pub const SETTING_NAMES: &[&str] = &[
    "block_size",
    "embed_dim",
    "n_layers",
    "n_heads",
    "hidden_dim",
    "dropout",
    "bias",
    "batch_size",
    "grad_accum_steps",
    "max_iters",
    "lr",
    "min_lr",
    "warmup_iters",
    "lr_decay_iters",
    "weight_decay",
    "beta1",
    "beta2",
    "grad_clip",
    "eval_interval",
    "eval_iters",
    "checkpoint_interval",
    "seed",
    "device",
];

/// What kind of value a setting takes, for reading it from YAML and for error messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ValueKind {
    /// A count: 0, 1, 2, …
    Whole,
    /// Any real number: 0.1, 3e-4, 2.
    Number,
    /// true or false.
    Bool,
    /// Free text.
    Text,
}

impl ValueKind {
    /// "a whole number", "a number", "true or false", "text": what the user must write.
    pub fn describe(self) -> &'static str {
        match self {
            ValueKind::Whole => "a whole number",
            ValueKind::Number => "a number",
            ValueKind::Bool => "true or false",
            ValueKind::Text => "text",
        }
    }
}

/// The kind of value `name` takes, and whether it may be left empty (null = its default).
pub fn setting_kind(name: &str) -> Option<(ValueKind, bool)> {
    use ValueKind::*;
    Some(match name {
        "block_size" | "embed_dim" | "n_layers" | "n_heads" | "batch_size" | "grad_accum_steps" | "max_iters" | "warmup_iters" | "eval_interval"
        | "eval_iters" | "seed" => (Whole, false),
        "hidden_dim" | "lr_decay_iters" | "checkpoint_interval" => (Whole, true),
        "dropout" | "lr" | "weight_decay" | "beta1" | "beta2" | "grad_clip" => (Number, false),
        "min_lr" => (Number, true),
        "bias" => (Bool, false),
        "device" => (Text, false),
        _ => return None,
    })
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SettingError {
    #[error("unknown setting {0:?}")]
    Unknown(String),
    #[error("{name} {message}")]
    BadValue { name: String, message: String },
}

const MODEL_SETTINGS: usize = 7;

impl RunConfig {
    /// The current value of a setting, as JSON.
    pub fn get(&self, name: &str) -> Option<Value> {
        let section = if is_model(name)? { serde_json::to_value(&self.model) } else { serde_json::to_value(&self.train) };
        section.ok()?.get(name).cloned()
    }

    /// Sets one setting by name; the value is type-checked against the field.
    pub fn set(&mut self, name: &str, value: Value) -> Result<(), SettingError> {
        let model = is_model(name).ok_or_else(|| SettingError::Unknown(name.to_string()))?;
        let bad = |_: serde_json::Error| {
            let kind = setting_kind(name).map_or("another kind of value", |(k, _)| k.describe());
            SettingError::BadValue { name: name.to_string(), message: format!("must be {kind}, got {value}") }
        };
        if model {
            self.model = with_field(&self.model, name, value.clone()).map_err(bad)?;
        } else {
            self.train = with_field(&self.train, name, value.clone()).map_err(bad)?;
        }
        Ok(())
    }
}

fn is_model(name: &str) -> Option<bool> {
    SETTING_NAMES.iter().position(|n| *n == name).map(|i| i < MODEL_SETTINGS)
}

fn with_field<T: serde::Serialize + serde::de::DeserializeOwned>(section: &T, name: &str, value: Value) -> serde_json::Result<T> {
    let mut map = serde_json::to_value(section)?;
    map[name] = value;
    serde_json::from_value(map)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn set_and_get_by_name() {
        let mut c = RunConfig::with_data("x");
        c.set("lr", json!(3e-4)).unwrap();
        c.set("n_layers", json!(6)).unwrap();
        c.set("hidden_dim", json!(100)).unwrap();
        assert_eq!(c.train.lr, 3e-4);
        assert_eq!(c.model.n_layers, 6);
        assert_eq!(c.model.hidden_dim(), 100);
        assert_eq!(c.get("n_layers"), Some(json!(6)));
    }

    #[test]
    fn wrong_type_names_the_setting_and_value() {
        let mut c = RunConfig::with_data("x");
        let err = c.set("batch_size", json!("big")).unwrap_err().to_string();
        assert_eq!(err, "batch_size must be a whole number, got \"big\"");
        assert_eq!(c.set("lr", json!(true)).unwrap_err().to_string(), "lr must be a number, got true");
        assert_eq!(c.set("lrr", json!(1)).unwrap_err(), SettingError::Unknown("lrr".into()));
    }

    #[test]
    fn every_name_is_a_field() {
        let c = RunConfig::with_data("x");
        for name in SETTING_NAMES {
            assert!(c.get(name).is_some(), "{name} is not a field of ModelConfig or TrainConfig");
        }
    }

    /// The kind table agrees with the fields: a value of the stated kind is accepted, a
    /// value of another kind is refused, and only optional settings take null.
    #[test]
    fn every_name_has_the_kind_of_its_field() {
        for name in SETTING_NAMES {
            let (kind, optional) = setting_kind(name).unwrap_or_else(|| panic!("{name} has no kind"));
            let (good, bad) = match kind {
                ValueKind::Whole => (json!(3), json!(2.5)),
                ValueKind::Number => (json!(0.5), json!("x")),
                ValueKind::Bool => (json!(true), json!(1)),
                ValueKind::Text => (json!("cpu"), json!(1)),
            };
            let mut c = RunConfig::with_data("x");
            assert!(c.set(name, good).is_ok(), "{name}");
            assert!(c.set(name, bad).is_err(), "{name}");
            assert_eq!(c.set(name, Value::Null).is_ok(), optional, "{name} null");
        }
    }
}
