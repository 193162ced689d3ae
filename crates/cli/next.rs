//! `sweep next SWEEP_DIR [-o FILE] [--budget-flops X | --budget-hours H]`: the spec of the
//! next sweep (sweep::report::next), written and checked by a dry run's own checks.

use crate::args::NextArgs;
use sweep::exit_code;

pub fn next(a: NextArgs) -> anyhow::Result<u8> {
    let (text, cautions) = sweep::report::next::next_spec(&a.sweep_dir, a.budget_flops, a.budget_hours)?;
    let name = sweep::Spec::saved(&a.sweep_dir)?.name;
    let output = a.output.unwrap_or_else(|| std::path::PathBuf::from(format!("sweeps/{name}_next.yaml")));
    if let Some(parent) = output.parent().filter(|p| !p.as_os_str().is_empty()) {
        std::fs::create_dir_all(parent)?;
    }
    std::fs::write(&output, &text)?;
    println!("{}: the next sweep; check it with `sweep run {} --dry-run`", output.display(), output.display());
    for c in &cautions {
        println!("caution: {c}");
    }
    Ok(exit_code::OK)
}
