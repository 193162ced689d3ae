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

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum SettingError {
    #[error("unknown setting {0:?}")]
    Unknown(String),
    #[error("{name}: {message}")]
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
        let bad = |e: serde_json::Error| SettingError::BadValue { name: name.to_string(), message: clean(&e.to_string(), &value) };
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

/// serde's messages mention positions in a JSON document that the user never wrote.
fn clean(msg: &str, value: &Value) -> String {
    let msg = msg.split(" at line ").next().unwrap_or(msg);
    format!("{msg} (got {value})")
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
        assert!(err.starts_with("batch_size: invalid type"), "{err}");
        assert!(err.contains("\"big\""), "{err}");
        assert_eq!(c.set("lrr", json!(1)).unwrap_err(), SettingError::Unknown("lrr".into()));
    }

    #[test]
    fn every_name_is_a_field() {
        let c = RunConfig::with_data("x");
        for name in SETTING_NAMES {
            assert!(c.get(name).is_some(), "{name} is not a field of ModelConfig or TrainConfig");
        }
    }
}
