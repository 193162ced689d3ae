//! The sweep's comparison charts, drawn as SVG files for the HTML report (plotters): loss
//! curves of the best runs overlaid, the metric against each swept parameter, a heatmap over
//! two parameters, parallel coordinates of every run, and parameter importance bars. Each
//! function draws what it is given and draws an empty, labelled chart rather than failing
//! when there is little to draw (one run, one value, no finished run).

use plotters::prelude::*;
use std::path::Path;

const WIDE: (u32, u32) = (900, 480);
const FONT: &str = "sans-serif";

/// A qualitative palette for up to ten curves (Tableau 10), then repeated.
pub fn palette(i: usize) -> RGBColor {
    const C: [(u8, u8, u8); 10] = [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
    ];
    let (r, g, b) = C[i % C.len()];
    RGBColor(r, g, b)
}

/// Low values blue, high values yellow (viridis end points through teal), for `t` in 0..=1.
pub fn ramp(t: f64) -> RGBColor {
    let t = if t.is_finite() { t.clamp(0.0, 1.0) } else { 0.5 };
    let stops = [(68.0, 1.0, 84.0), (59.0, 82.0, 139.0), (33.0, 145.0, 140.0), (94.0, 201.0, 98.0), (253.0, 231.0, 37.0)];
    let x = t * (stops.len() - 1) as f64;
    let i = (x.floor() as usize).min(stops.len() - 2);
    let f = x - i as f64;
    let mix = |a: f64, b: f64| (a + (b - a) * f) as u8;
    RGBColor(mix(stops[i].0, stops[i + 1].0), mix(stops[i].1, stops[i + 1].1), mix(stops[i].2, stops[i + 1].2))
}

fn range(values: impl Iterator<Item = f64>) -> (f64, f64) {
    let (lo, hi) = values.filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(lo, hi), v| (lo.min(v), hi.max(v)));
    if !lo.is_finite() {
        return (0.0, 1.0);
    }
    let pad = ((hi - lo) * 0.06).max(1e-3);
    (lo - pad, hi + pad)
}

/// Curves of several runs on one chart, with a legend of run ids (SVG).
pub fn overlay(path: &Path, title: &str, y_desc: &str, curves: &[(String, Vec<(u64, f64)>)]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, WIDE).into_drawing_area();
    draw_overlay(&root, title, y_desc, curves, &[])?;
    root.present()?;
    Ok(())
}

/// Val loss of any runs overlaid (thick), with their train loss (thin, same colour): a PNG
/// when `path` ends in .png, else an SVG. For `sweep compare`.
pub fn compare(path: &Path, title: &str, val: &[(String, Vec<(u64, f64)>)], train: &[(String, Vec<(u64, f64)>)]) -> anyhow::Result<()> {
    if path.extension().is_some_and(|e| e.eq_ignore_ascii_case("png")) {
        let root = BitMapBackend::new(path, WIDE).into_drawing_area();
        draw_overlay(&root, title, "loss (nats / token); thick val, thin train", val, train)?;
        root.present()?;
    } else {
        let root = SVGBackend::new(path, WIDE).into_drawing_area();
        draw_overlay(&root, title, "loss (nats / token); thick val, thin train", val, train)?;
        root.present()?;
    }
    Ok(())
}

fn draw_overlay<DB: DrawingBackend>(
    root: &DrawingArea<DB, plotters::coord::Shift>,
    title: &str,
    y_desc: &str,
    curves: &[(String, Vec<(u64, f64)>)],
    thin: &[(String, Vec<(u64, f64)>)],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    root.fill(&WHITE)?;
    let all = || curves.iter().chain(thin);
    let max_step = all().flat_map(|(_, c)| c.iter().map(|p| p.0)).max().unwrap_or(1).max(1);
    let (lo, hi) = range(all().flat_map(|(_, c)| c.iter().map(|p| p.1)));
    let mut chart =
        ChartBuilder::on(root).caption(title, (FONT, 20)).margin(12).x_label_area_size(40).y_label_area_size(60).build_cartesian_2d(0u64..max_step, lo..hi)?;
    chart.configure_mesh().x_desc("step").y_desc(y_desc).light_line_style(RGBColor(238, 238, 238)).label_style((FONT, 13)).draw()?;
    for (i, (name, points)) in curves.iter().enumerate() {
        let color = palette(i);
        let points: Vec<(u64, f64)> = points.iter().copied().filter(|p| p.1.is_finite()).collect();
        chart
            .draw_series(LineSeries::new(points, color.stroke_width(2)))?
            .label(name.as_str())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(3)));
    }
    for (i, (_, points)) in thin.iter().enumerate() {
        let points: Vec<(u64, f64)> = points.iter().copied().filter(|p| p.1.is_finite()).collect();
        chart.draw_series(LineSeries::new(points, palette(i).mix(0.6).stroke_width(1)))?;
    }
    if !curves.is_empty() {
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.85))
            .border_style(BLACK)
            .label_font((FONT, 12))
            .draw()?;
    }
    Ok(())
}

/// One swept parameter: every run a point at its value, the mean per value a line, and
/// ± one standard deviation bars where a value has several runs.
pub struct ParamPoints {
    pub param: String,
    pub metric: String,
    /// The values in order, as shown.
    pub labels: Vec<String>,
    /// (value index, metric) per run.
    pub runs: Vec<(usize, f64)>,
}

pub fn param_chart(path: &Path, p: &ParamPoints) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (440, 320)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = p.labels.len().max(1);
    let (lo, hi) = range(p.runs.iter().map(|r| r.1));
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{} by {}", p.metric, p.param), (FONT, 16))
        .margin(10)
        .x_label_area_size(36)
        .y_label_area_size(56)
        .build_cartesian_2d(-0.5f64..(n as f64 - 0.5), lo..hi)?;
    let labels = p.labels.clone();
    chart
        .configure_mesh()
        .x_labels(n)
        .x_label_formatter(&move |x| {
            let i = x.round();
            if (x - i).abs() < 1e-6 && i >= 0.0 { labels.get(i as usize).cloned().unwrap_or_default() } else { String::new() }
        })
        .x_desc(p.param.as_str())
        .light_line_style(RGBColor(238, 238, 238))
        .label_style((FONT, 12))
        .draw()?;
    chart.draw_series(p.runs.iter().map(|&(i, y)| Circle::new((i as f64, y), 3, palette(0).mix(0.55).filled())))?;
    let mut means = Vec::new();
    for i in 0..p.labels.len() {
        let ys: Vec<f64> = p.runs.iter().filter(|r| r.0 == i).map(|r| r.1).collect();
        if ys.is_empty() {
            continue;
        }
        let (mean, sd) = crate::report::stats::mean_std(&ys);
        means.push((i as f64, mean));
        if let Some(sd) = sd {
            let x = i as f64;
            chart.draw_series(std::iter::once(PathElement::new(vec![(x, mean - sd), (x, mean + sd)], palette(3).stroke_width(2))))?;
            for y in [mean - sd, mean + sd] {
                chart.draw_series(std::iter::once(PathElement::new(vec![(x - 0.08, y), (x + 0.08, y)], palette(3).stroke_width(2))))?;
            }
        }
    }
    chart.draw_series(LineSeries::new(means.clone(), palette(3).stroke_width(2)))?;
    chart.draw_series(means.into_iter().map(|p| Circle::new(p, 4, palette(3).filled())))?;
    root.present()?;
    Ok(())
}

/// The best metric over two parameters: a coloured cell per pair of values, its number
/// written in it (empty cells: no finished run there).
pub fn heatmap(path: &Path, title: &str, x: (&str, &[String]), y: (&str, &[String]), cells: &[(usize, usize, f64)]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (560, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (nx, ny) = (x.1.len().max(1), y.1.len().max(1));
    let (lo, hi) = cells.iter().map(|c| c.2).filter(|v| v.is_finite()).fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| (a.min(v), b.max(v)));
    let mut chart = ChartBuilder::on(&root)
        .caption(title, (FONT, 16))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(70)
        .build_cartesian_2d(0f64..nx as f64, 0f64..ny as f64)?;
    let (xl, yl) = (x.1.to_vec(), y.1.to_vec());
    chart
        .configure_mesh()
        .disable_mesh()
        .x_labels(nx * 2 + 1)
        .y_labels(ny * 2 + 1)
        .x_label_formatter(&move |v| label_at(&xl, *v))
        .y_label_formatter(&move |v| label_at(&yl, *v))
        .x_desc(x.0)
        .y_desc(y.0)
        .label_style((FONT, 12))
        .draw()?;
    for &(i, j, v) in cells {
        let t = if hi > lo { (v - lo) / (hi - lo) } else { 0.5 };
        let (x0, y0) = (i as f64, j as f64);
        chart.draw_series(std::iter::once(Rectangle::new([(x0, y0), (x0 + 1.0, y0 + 1.0)], ramp(t).filled())))?;
        let ink = if t > 0.6 { BLACK } else { WHITE };
        chart.draw_series(std::iter::once(Text::new(format!("{v:.3}"), (x0 + 0.3, y0 + 0.55), (FONT, 13).into_font().color(&ink))))?;
    }
    root.present()?;
    Ok(())
}

/// The label of the cell whose centre is at `v` (labels sit at 0.5, 1.5, …).
fn label_at(labels: &[String], v: f64) -> String {
    let i = v - 0.5;
    if (i - i.round()).abs() < 1e-6 && i >= 0.0 { labels.get(i.round() as usize).cloned().unwrap_or_default() } else { String::new() }
}

/// Parallel coordinates: an axis per parameter (its values spread evenly) and a last axis
/// for the metric; each run a line coloured by its metric (blue best when lower is better).
pub fn parallel(path: &Path, axes: &[(String, Vec<String>)], metric: &str, runs: &[(Vec<usize>, f64)], lower_is_better: bool) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, WIDE).into_drawing_area();
    root.fill(&WHITE)?;
    let n_axes = axes.len() + 1;
    let (lo, hi) = range(runs.iter().map(|r| r.1));
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("every run across the swept parameters, coloured by {metric}"), (FONT, 16))
        .margin(16)
        .margin_top(24)
        .build_cartesian_2d(-0.2f64..(n_axes as f64 - 0.8), -0.08f64..1.08)?;
    for (a, (name, values)) in axes.iter().enumerate() {
        let x = a as f64;
        chart.draw_series(std::iter::once(PathElement::new(vec![(x, 0.0), (x, 1.0)], BLACK.stroke_width(1))))?;
        chart.draw_series(std::iter::once(Text::new(name.clone(), (x - 0.05, 1.06), (FONT, 13))))?;
        for (k, v) in values.iter().enumerate() {
            chart.draw_series(std::iter::once(Text::new(v.clone(), (x + 0.02, position(k, values.len())), (FONT, 11))))?;
        }
    }
    let last = (n_axes - 1) as f64;
    chart.draw_series(std::iter::once(PathElement::new(vec![(last, 0.0), (last, 1.0)], BLACK.stroke_width(1))))?;
    chart.draw_series(std::iter::once(Text::new(metric.to_string(), (last - 0.05, 1.06), (FONT, 13))))?;
    for (y, v) in [(0.0, lo), (1.0, hi)] {
        chart.draw_series(std::iter::once(Text::new(format!("{v:.3}"), (last + 0.02, y), (FONT, 11))))?;
    }
    let mut order: Vec<&(Vec<usize>, f64)> = runs.iter().collect();
    // The best runs last, on top.
    order.sort_by(|a, b| if lower_is_better { b.1.total_cmp(&a.1) } else { a.1.total_cmp(&b.1) });
    for (idx, metric_value) in order {
        let t = if hi > lo { (metric_value - lo) / (hi - lo) } else { 0.5 };
        let t = if lower_is_better { t } else { 1.0 - t };
        let mut points: Vec<(f64, f64)> = idx.iter().enumerate().map(|(a, &k)| (a as f64, position(k, axes[a].1.len()))).collect();
        points.push((last, if hi > lo { (metric_value - lo) / (hi - lo) } else { 0.5 }));
        chart.draw_series(std::iter::once(PathElement::new(points, ramp(t).stroke_width(2))))?;
    }
    root.present()?;
    Ok(())
}

fn position(k: usize, n: usize) -> f64 {
    if n <= 1 { 0.5 } else { k as f64 / (n - 1) as f64 }
}

/// Horizontal bars: each parameter's share of the metric's variance.
pub fn importance(path: &Path, shares: &[(String, f64)]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (560, (60 + 34 * shares.len().max(1)) as u32)).into_drawing_area();
    root.fill(&WHITE)?;
    let n = shares.len().max(1);
    let mut chart = ChartBuilder::on(&root)
        .caption("share of the variance of best val loss explained by each parameter", (FONT, 14))
        .margin(10)
        .x_label_area_size(30)
        .y_label_area_size(110)
        .build_cartesian_2d(0f64..1f64, 0f64..n as f64)?;
    let names: Vec<String> = shares.iter().map(|s| s.0.clone()).collect();
    chart
        .configure_mesh()
        .disable_mesh()
        .y_labels(n * 2 + 1)
        .y_label_formatter(&move |v| label_at(&names, *v))
        .x_label_formatter(&|v| format!("{:.0}%", v * 100.0))
        .label_style((FONT, 12))
        .draw()?;
    for (i, (_, share)) in shares.iter().enumerate() {
        let y = i as f64;
        chart.draw_series(std::iter::once(Rectangle::new([(0.0, y + 0.2), (share.clamp(0.0, 1.0), y + 0.8)], palette(0).filled())))?;
        chart.draw_series(std::iter::once(Text::new(format!("{:.0}%", share * 100.0), (share.clamp(0.0, 0.9) + 0.01, y + 0.65), (FONT, 12))))?;
    }
    root.present()?;
    Ok(())
}

/// An axis number as a person writes it: 85k, 1.2M, 5.64.
fn compact(v: f64) -> String {
    match v.abs() {
        a if a >= 1e6 => format!("{:.1}M", v / 1e6),
        a if a >= 1e4 => format!("{:.0}k", v / 1e3),
        a if a >= 100.0 => format!("{v:.0}"),
        _ => format!("{v:.3}"),
    }
}

/// Every finished run at its first two objectives: the Pareto front in colour, joined in a
/// line from one end to the other; the runs it dominates in grey.
pub fn pareto(path: &Path, x_label: &str, y_label: &str, points: &[(f64, f64, bool)]) -> anyhow::Result<()> {
    let root = SVGBackend::new(path, (560, 420)).into_drawing_area();
    root.fill(&WHITE)?;
    let (x0, x1) = range(points.iter().map(|p| p.0));
    let (y0, y1) = range(points.iter().map(|p| p.1));
    let mut chart = ChartBuilder::on(&root)
        .caption(format!("{y_label} against {x_label}: the Pareto front"), (FONT, 16))
        .margin(10)
        .x_label_area_size(40)
        .y_label_area_size(64)
        .build_cartesian_2d(x0..x1, y0..y1)?;
    chart
        .configure_mesh()
        .x_desc(x_label)
        .y_desc(y_label)
        .x_label_formatter(&|v| compact(*v))
        .y_label_formatter(&|v| compact(*v))
        .light_line_style(RGBColor(238, 238, 238))
        .label_style((FONT, 12))
        .draw()?;
    chart.draw_series(points.iter().filter(|p| !p.2).map(|p| Circle::new((p.0, p.1), 3, RGBColor(170, 170, 170).filled())))?;
    let mut front: Vec<(f64, f64)> = points.iter().filter(|p| p.2).map(|p| (p.0, p.1)).collect();
    front.sort_by(|a, b| a.0.total_cmp(&b.0));
    chart.draw_series(LineSeries::new(front.clone(), palette(3).stroke_width(2)))?;
    chart.draw_series(front.into_iter().map(|p| Circle::new(p, 5, palette(3).filled())))?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The width and height an SVG file declares.
    fn svg_size(path: &Path) -> (u32, u32) {
        let text = std::fs::read_to_string(path).unwrap();
        assert!(text.starts_with("<svg") && text.trim_end().ends_with("</svg>"), "{} is a whole SVG", path.display());
        let attr = |name: &str| -> u32 { text.split(&format!("{name}=\"")).nth(1).and_then(|r| r.split('"').next()).and_then(|v| v.parse().ok()).unwrap() };
        (attr("width"), attr("height"))
    }

    #[test]
    fn every_chart_draws_little_or_nothing_without_failing() {
        let dir = tempfile::tempdir().unwrap();
        let p = |name: &str| dir.path().join(name);
        // Runs of different lengths, one of them a single point, and none at all.
        let curves = vec![
            ("long".to_string(), (0..50).map(|i| (i * 10, 4.0 - i as f64 * 0.03)).collect()),
            ("short".to_string(), vec![(0, 4.2), (10, 3.9)]),
            ("one".to_string(), vec![(0, 4.1)]),
        ];
        overlay(&p("a.svg"), "val", "loss", &curves).unwrap();
        overlay(&p("b.svg"), "val", "loss", &[]).unwrap();
        assert_eq!(svg_size(&p("a.svg")), WIDE);
        assert_eq!(svg_size(&p("b.svg")), WIDE);
        // A parameter with one value, and one with no finished run.
        let one = ParamPoints { param: "lr".into(), metric: "val_loss".into(), labels: vec!["1e-3".into()], runs: vec![(0, 2.0), (0, 2.1)] };
        param_chart(&p("c.svg"), &one).unwrap();
        param_chart(&p("d.svg"), &ParamPoints { runs: Vec::new(), ..one }).unwrap();
        assert_eq!(svg_size(&p("c.svg")), (440, 320));
        heatmap(&p("e.svg"), "h", ("lr", &["1".to_string()]), ("dropout", &[]), &[]).unwrap();
        heatmap(&p("f.svg"), "h", ("lr", &["1".to_string(), "2".into()]), ("dropout", &["0".to_string()]), &[(0, 0, 2.0), (1, 0, 2.0)]).unwrap();
        parallel(&p("g.svg"), &[("lr".into(), vec!["1".into()])], "val", &[], true).unwrap();
        importance(&p("h.svg"), &[]).unwrap();
        importance(&p("i.svg"), &[("lr".into(), 0.7), ("dropout".into(), 0.1)]).unwrap();
        assert_eq!(svg_size(&p("i.svg")), (560, 60 + 34 * 2));
    }

    #[test]
    fn the_colour_ramp_runs_from_dark_blue_to_yellow() {
        assert_eq!(ramp(0.0), RGBColor(68, 1, 84));
        assert_eq!(ramp(1.0), RGBColor(253, 231, 37));
        assert_eq!(ramp(f64::NAN), ramp(0.5));
    }
}
