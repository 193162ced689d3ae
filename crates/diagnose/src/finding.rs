//! A finding: code, severity, one plain sentence, the numbers behind it, and what to do.

use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Worth knowing; nothing is wrong.
    Info,
    /// The run is wasting compute or data, or its numbers mislead.
    Warning,
    /// The run is broken (diverged, memorised its data).
    Problem,
}

impl Severity {
    pub fn as_str(self) -> &'static str {
        match self {
            Severity::Info => "info",
            Severity::Warning => "warning",
            Severity::Problem => "problem",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Finding {
    /// Short stable code, e.g. `overfitting`, `plateau`, `tokens_per_param`.
    pub code: String,
    pub severity: Severity,
    /// One sentence in plain words.
    pub message: String,
    /// The numbers from the curve and config that triggered it.
    pub evidence: String,
    /// A concrete next step.
    pub action: String,
}

impl Finding {
    pub fn new(code: &str, severity: Severity, message: String, evidence: String, action: String) -> Self {
        Finding { code: code.to_string(), severity, message, evidence, action }
    }
}
