//! Findings as readable text.

use crate::Finding;

/// `title: N findings` and, per finding, severity, code, message, evidence and action.
pub fn render_text(title: &str, findings: &[Finding]) -> String {
    let mut out = format!("{title}: {} finding{}\n", findings.len(), if findings.len() == 1 { "" } else { "s" });
    for f in findings {
        out.push_str(&format!("  {:<8} {:<20} {}\n", f.severity.as_str(), f.code, f.message));
        out.push_str(&format!("  {:<29} evidence: {}\n", "", f.evidence));
        if f.action != "none" {
            out.push_str(&format!("  {:<29} action:   {}\n", "", f.action));
        }
    }
    out
}
