//! Rows of cells as a text table (comfy-table): the terminal's plain preset, or any other
//! (Markdown). Used by the ranked report and the Pareto front.

use comfy_table::Table;

/// A comfy-table preset with only a rule under the header: columns aligned by spaces.
pub(crate) const PLAIN: &str = "     ──            ";

/// `rows` under `header`, in `preset`.
pub(crate) fn table(preset: &str, header: Vec<String>, rows: Vec<Vec<String>>) -> String {
    let mut t = Table::new();
    t.load_preset(preset).set_header(header);
    for r in rows {
        t.add_row(r);
    }
    t.to_string()
}
