//! `loss.png`: train and val loss against step for one run (plotters).

use crate::output::loss_csv::LossRow;
use plotters::prelude::*;
use std::path::Path;

const SIZE: (u32, u32) = (900, 540);

/// Draws both loss curves with labelled axes and the run id as title.
/// Draws a run's loss.png through a temporary file renamed into place, so that a reader
/// never sees half a picture; the temporary file is removed when drawing fails.
pub fn write_loss_png(dir: &crate::output::run_dir::RunDir, title: &str, rows: &[LossRow]) -> anyhow::Result<()> {
    let tmp = dir.path.join("loss.tmp.png");
    let drawn = loss_curves(&tmp, title, rows).and_then(|_| Ok(std::fs::rename(&tmp, dir.loss_png())?));
    if drawn.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    drawn
}

pub fn loss_curves(path: &Path, title: &str, rows: &[LossRow]) -> anyhow::Result<()> {
    let finite = |v: f64| v.is_finite();
    let losses: Vec<f64> = rows.iter().flat_map(|r| [r.train_loss, r.val_loss]).filter(|v| finite(*v)).collect();
    anyhow::ensure!(!losses.is_empty(), "no finite losses to plot");
    let max_step = rows.iter().map(|r| r.step).max().unwrap_or(1).max(1);
    let lo = losses.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = losses.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.05).max(1e-3);

    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 22))
        .margin(16)
        .x_label_area_size(48)
        .y_label_area_size(64)
        .build_cartesian_2d(0u64..max_step, (lo - pad)..(hi + pad))?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("loss (nats / token)")
        .light_line_style(RGBColor(238, 238, 238))
        .axis_desc_style(("sans-serif", 18))
        .label_style(("sans-serif", 14))
        .draw()?;
    let series = |pick: fn(&LossRow) -> f64| rows.iter().filter(move |r| pick(r).is_finite()).map(move |r| (r.step, pick(r))).collect::<Vec<_>>();
    for (name, color, pick) in [("train", BLUE, (|r: &LossRow| r.train_loss) as fn(&LossRow) -> f64), ("val", RED, |r: &LossRow| r.val_loss)] {
        let points = series(pick);
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font(("sans-serif", 16))
        .draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_a_png() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("loss.png");
        let rows: Vec<LossRow> = (0..5)
            .map(|i| LossRow {
                step: i * 10,
                tokens_seen: i * 100,
                lr: 1e-3,
                train_loss: 4.0 - i as f64 * 0.5,
                val_loss: 4.1 - i as f64 * 0.4,
                elapsed_s: i as f64,
            })
            .collect();
        loss_curves(&path, "bs8_lr1e-3", &rows).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert!(bytes.len() > 5_000, "a plot with text and two curves is more than {} bytes", bytes.len());
    }
}
