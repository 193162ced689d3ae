//! A diagnosis as readable text.

use crate::Diagnosis;

/// `title`, the verdict, then per finding: severity, code, message, evidence and action.
pub fn render_text(title: &str, d: &Diagnosis) -> String {
    let n = d.findings.len();
    let mut out = format!("{title}\n  {}\n\n  {n} finding{}:\n", d.verdict, if n == 1 { "" } else { "s" });
    for f in &d.findings {
        out.push_str(&format!("  {:<8} {:<20} {}\n", f.severity.as_str(), f.code, f.message));
        out.push_str(&format!("  {:<29} evidence: {}\n", "", f.evidence));
        if f.action != "none" {
            out.push_str(&format!("  {:<29} action:   {}\n", "", f.action));
        }
    }
    out
}
