//! `sweep fit SWEEP_DIR`: the scaling law across a sweep's runs (sweep::report::scaling
//! over the scaling crate), as text or JSON; with `--predict-run`, a run the fit did not see.

use crate::args::FitArgs;
use sweep::RunDir;
use sweep::exit_code;
use sweep::report::scaling;

pub fn fit(a: FitArgs) -> anyhow::Result<u8> {
    let points = scaling::points(&a.sweep_dir, a.use_evals)?;
    let name = a.sweep_dir.file_name().map_or_else(|| a.sweep_dir.display().to_string(), |n| n.to_string_lossy().into_owned());
    let Some(analysis) = scaling::analyse(&points, a.budget_flops) else {
        let used = points.runs.iter().filter(|r| r.left_out.is_none()).count();
        anyhow::bail!(
            "{}: {used} finished run(s) with a final val loss; a fit of E, A, α, B and β needs at least 5, at several sizes and token budgets",
            a.sweep_dir.display()
        );
    };
    let prediction = match &a.predict_run {
        Some(dir) => {
            let held: Vec<_> = scaling::points(dir.parent().unwrap_or(dir), false)?.runs.into_iter().filter(|r| dir.ends_with(&r.run)).collect();
            let run = held
                .first()
                .and_then(|r| r.obs.first().copied())
                .ok_or_else(|| anyhow::anyhow!("{} is not a finished run folder with a final val loss", RunDir::new(dir).path.display()))?;
            Some((run, analysis.predict(run.n, run.d)))
        }
        None => None,
    };
    if a.format == "json" {
        let mut v = serde_json::to_value(&analysis)?;
        if let Some((run, p)) = prediction {
            v["prediction"] = serde_json::json!({ "n": run.n, "d": run.d, "loss": p, "real": run.loss });
        }
        v["notes"] = serde_json::json!(points.notes);
        println!("{}", serde_json::to_string_pretty(&v)?);
    } else {
        print!("{}", scaling::render(&name, &analysis, &points, false));
        if let Some((run, p)) = prediction {
            println!(
                "prediction for {} (N {:.3e}, D {:.3e}): {:.4} [{:.4}, {:.4}]; its final val loss is {:.4} ({:+.2}%)",
                a.predict_run.as_ref().map(|d| d.display().to_string()).unwrap_or_default(),
                run.n,
                run.d,
                p.value,
                p.low,
                p.high,
                run.loss,
                100.0 * (p.value - run.loss) / run.loss
            );
        }
    }
    Ok(exit_code::OK)
}
