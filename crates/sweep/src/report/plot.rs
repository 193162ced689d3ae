//! `loss.png`: train and val loss against step for one run (plotters).

use crate::output::loss_csv::LossRow;
use plotters::prelude::*;
use std::path::Path;

const SIZE: (u32, u32) = (900, 540);

/// Draws a run's loss.png through a temporary file renamed into place, so that a reader
/// never sees half a picture; the temporary file is removed when drawing fails. The logged
/// training loss of every logged step comes from the run's steps.csv, when it has one.
pub fn write_loss_png(dir: &crate::output::run_dir::RunDir, title: &str, rows: &[LossRow], verdict: Option<&str>) -> anyhow::Result<()> {
    let tmp = dir.path.join("loss.tmp.png");
    let steps = crate::output::steps_csv::read(&dir.steps_csv());
    let drawn = loss_curves(&tmp, title, rows, &steps, verdict).and_then(|_| Ok(std::fs::rename(&tmp, dir.loss_png())?));
    if drawn.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    drawn
}

/// `text` in lines of at most `width` characters, cut at words; past `max_lines` the last
/// line ends in "…".
fn wrap(text: &str, width: usize, max_lines: usize) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for word in text.split_whitespace() {
        match lines.last_mut() {
            Some(line) if line.chars().count() + 1 + word.chars().count() <= width => {
                line.push(' ');
                line.push_str(word);
            }
            _ => lines.push(word.to_string()),
        }
    }
    if lines.len() > max_lines {
        lines.truncate(max_lines);
        let last = &mut lines[max_lines - 1];
        let kept: String = last.chars().take(width.saturating_sub(1)).collect();
        *last = format!("{kept}…");
    }
    lines
}

/// Train (thin: every logged step; dots: each evaluation) and val loss against step, the
/// best val step marked, the run id as title and the diagnosis's one-line verdict under it.
pub fn loss_curves(path: &Path, title: &str, rows: &[LossRow], steps: &[(u64, f64)], verdict: Option<&str>) -> anyhow::Result<()> {
    let finite = |v: f64| v.is_finite();
    let losses: Vec<f64> = rows.iter().flat_map(|r| [r.train_loss, r.val_loss]).chain(steps.iter().map(|s| s.1)).filter(|v| finite(*v)).collect();
    anyhow::ensure!(!losses.is_empty(), "no finite losses to plot");
    let max_step = rows.iter().map(|r| r.step).chain(steps.iter().map(|s| s.0)).max().unwrap_or(1).max(1);
    let lo = losses.iter().copied().fold(f64::INFINITY, f64::min);
    let hi = losses.iter().copied().fold(f64::NEG_INFINITY, f64::max);
    let pad = ((hi - lo) * 0.05).max(1e-3);

    let root = BitMapBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    let lines = verdict.map(|v| wrap(v, 125, 3)).unwrap_or_default();
    let (top, body) = root.split_vertically(40 + 20 * lines.len() as i32 + if lines.is_empty() { 0 } else { 4 });
    top.draw(&Text::new(title.to_string(), (16, 8), ("sans-serif", 22).into_font()))?;
    for (i, line) in lines.into_iter().enumerate() {
        top.draw(&Text::new(line, (16, 38 + 20 * i as i32), ("sans-serif", 14).into_font().color(&RGBColor(90, 90, 90))))?;
    }
    let mut chart =
        ChartBuilder::on(&body).margin(16).x_label_area_size(48).y_label_area_size(64).build_cartesian_2d(0u64..max_step, (lo - pad)..(hi + pad))?;
    chart
        .configure_mesh()
        .x_desc("step")
        .y_desc("loss (nats / token)")
        .light_line_style(RGBColor(238, 238, 238))
        .axis_desc_style(("sans-serif", 18))
        .label_style(("sans-serif", 14))
        .draw()?;
    let logged: Vec<(u64, f64)> = steps.iter().copied().filter(|s| s.1.is_finite()).collect();
    if !logged.is_empty() {
        chart
            .draw_series(LineSeries::new(logged, BLUE.mix(0.35).stroke_width(1)))?
            .label("train (every logged step)")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], BLUE.mix(0.35).stroke_width(1)));
    }
    let series = |pick: fn(&LossRow) -> f64| rows.iter().filter(move |r| pick(r).is_finite()).map(move |r| (r.step, pick(r))).collect::<Vec<_>>();
    for (name, color, pick) in [("train (evaluated)", BLUE, (|r: &LossRow| r.train_loss) as fn(&LossRow) -> f64), ("val", RED, |r: &LossRow| r.val_loss)] {
        let points = series(pick);
        chart
            .draw_series(LineSeries::new(points.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color.stroke_width(2)));
        chart.draw_series(points.into_iter().map(|p| Circle::new(p, 3, color.filled())))?;
    }
    if let Some(best) = rows.iter().filter(|r| r.val_loss.is_finite()).min_by(|a, b| a.val_loss.total_cmp(&b.val_loss)) {
        let (y0, y1) = (lo - pad, hi + pad);
        chart
            .draw_series(DashedLineSeries::new(vec![(best.step, y0), (best.step, y1)], 6, 4, RGBColor(120, 120, 120).stroke_width(1)))?
            .label(format!("best val {:.4} @ {}", best.val_loss, best.step))
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RGBColor(120, 120, 120).stroke_width(1)));
        chart.draw_series(std::iter::once(Circle::new((best.step, best.val_loss), 6, RED.stroke_width(2))))?;
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
    fn verdicts_wrap_at_words() {
        assert_eq!(wrap("aa bb cc", 5, 2), ["aa bb", "cc"]);
        assert_eq!(wrap("aa bb cc dd ee", 5, 2), ["aa bb", "cc d…"]);
        assert!(wrap("", 5, 2).is_empty());
    }

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
        let steps: Vec<(u64, f64)> = (0..40).map(|i| (i, 4.2 - i as f64 * 0.05)).collect();
        loss_curves(&path, "bs8_lr1e-3", &rows, &steps, Some("overfitting: val loss rose 0.3 after its best")).unwrap();
        let bytes = std::fs::read(&path).unwrap();
        assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
        assert!(bytes.len() > 5_000, "a plot with text and two curves is more than {} bytes", bytes.len());
        let be = |i: usize| u32::from_be_bytes([bytes[i], bytes[i + 1], bytes[i + 2], bytes[i + 3]]);
        assert_eq!((be(16), be(20)), SIZE, "the size asked");
        // One evaluation, no logged steps, no verdict: still a picture.
        loss_curves(&path, "one", &rows[..1], &[], None).unwrap();
    }
}
