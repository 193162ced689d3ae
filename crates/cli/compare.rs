//! `sweep compare RUN_DIR RUN_DIR… [-o FILE]`: the loss curves of any runs, from any
//! sweeps, overlaid in one picture (PNG or SVG by the file's extension).

use crate::args::CompareArgs;
use sweep::RunDir;
use sweep::exit_code;
use sweep::output::loss_csv;

pub fn compare(a: CompareArgs) -> anyhow::Result<u8> {
    let mut val = Vec::new();
    let mut train = Vec::new();
    for dir in &a.run_dirs {
        let run = RunDir::new(dir);
        let rows = loss_csv::read_complete(&run.loss_csv());
        anyhow::ensure!(!rows.is_empty(), "{} has no loss.csv rows: is it a run folder (runs/<sweep>/<run>) that has trained?", dir.display());
        // Runs of two sweeps may share an id: the sweep's name tells them apart.
        let sweep = dir.canonicalize().ok().and_then(|p| p.parent()?.file_name().map(|n| n.to_string_lossy().into_owned())).unwrap_or_default();
        let label = if sweep.is_empty() { run.id() } else { format!("{sweep}/{}", run.id()) };
        val.push((label.clone(), rows.iter().map(|r| (r.step, r.val_loss)).collect()));
        train.push((label, rows.iter().map(|r| (r.step, r.train_loss)).collect()));
    }
    sweep::report::charts::compare(&a.output, &format!("{} runs compared", a.run_dirs.len()), &val, &train)?;
    println!("{}", a.output.display());
    Ok(exit_code::OK)
}
