//! Line and grouped bar charts written as SVG and PNG into a run directory (each file atomically: drawn under a
//! temporary name, then renamed).

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

/// One named series of (x, y) points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

/// Labels of a chart.
pub struct Chart<'a> {
    pub title: &'a str,
    pub x_label: &'a str,
    pub y_label: &'a str,
}

/// Draws `series` as lines into `<dir>/<stem>.svg` and `<dir>/<stem>.png`.
pub fn line_chart(dir: &Path, stem: &str, chart: &Chart, series: &[Series]) -> anyhow::Result<()> {
    write_svg_and_png(
        dir,
        stem,
        |root| draw(root, chart, series, false),
        |root| draw(root, chart, series, false),
    )
}

/// Draws `series` as points (one colour per series) into `<dir>/<stem>.svg` and `.png`.
pub fn scatter_chart(
    dir: &Path,
    stem: &str,
    chart: &Chart,
    series: &[Series],
) -> anyhow::Result<()> {
    write_svg_and_png(
        dir,
        stem,
        |root| draw(root, chart, series, true),
        |root| draw(root, chart, series, true),
    )
}

/// One group of bars: a value per category.
pub struct BarGroup {
    pub name: String,
    pub values: Vec<f64>,
}

/// Grouped bars: for each category (x axis), one bar per group, side by side; written as
/// `<dir>/<stem>.svg` and `.png`.
pub fn bar_chart(
    dir: &Path,
    stem: &str,
    chart: &Chart,
    categories: &[String],
    groups: &[BarGroup],
) -> anyhow::Result<()> {
    write_svg_and_png(
        dir,
        stem,
        |root| draw_bars(root, chart, categories, groups),
        |root| draw_bars(root, chart, categories, groups),
    )
}

type Area<DB> = DrawingArea<DB, plotters::coord::Shift>;

/// Draws with each backend under a temporary name, then renames (so no half-drawn file keeps the
/// final name).
fn write_svg_and_png(
    dir: &Path,
    stem: &str,
    draw_svg: impl FnOnce(Area<SVGBackend>) -> anyhow::Result<()>,
    draw_png: impl FnOnce(Area<BitMapBackend>) -> anyhow::Result<()>,
) -> anyhow::Result<()> {
    let svg = dir.join(format!("{stem}.svg"));
    let png = dir.join(format!("{stem}.png"));
    let svg_tmp = dir.join(format!(".{stem}.tmp-{}.svg", std::process::id()));
    let png_tmp = dir.join(format!(".{stem}.tmp-{}.png", std::process::id()));
    draw_svg(SVGBackend::new(&svg_tmp, (900, 540)).into_drawing_area())
        .with_context(|| format!("drawing {}", svg.display()))?;
    std::fs::rename(&svg_tmp, &svg).with_context(|| format!("writing {}", svg.display()))?;
    draw_png(BitMapBackend::new(&png_tmp, (900, 540)).into_drawing_area())
        .with_context(|| format!("drawing {}", png.display()))?;
    std::fs::rename(&png_tmp, &png).with_context(|| format!("writing {}", png.display()))?;
    Ok(())
}

fn draw_bars<DB: DrawingBackend>(
    root: Area<DB>,
    chart: &Chart,
    categories: &[String],
    groups: &[BarGroup],
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let top = groups
        .iter()
        .flat_map(|g| g.values.iter().copied())
        .filter(|v| v.is_finite())
        .fold(0.0f64, f64::max);
    let top = if top > 0.0 { top * 1.1 } else { 1.0 };
    let n = categories.len().max(1);
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut ctx = ChartBuilder::on(&root)
        .caption(chart.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(60)
        .y_label_area_size(70)
        .build_cartesian_2d(0.0..n as f64, 0.0..top)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let labels = categories.to_vec();
    ctx.configure_mesh()
        .disable_x_mesh()
        .x_labels(n * 2 + 1)
        .x_label_formatter(&move |x: &f64| {
            let k = x.floor() as usize;
            if (x - x.floor() - 0.5).abs() < 1e-6 {
                labels.get(k).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let width = 0.8 / groups.len().max(1) as f64;
    for (g, group) in groups.iter().enumerate() {
        let color = Palette99::pick(g).to_rgba();
        ctx.draw_series(group.values.iter().enumerate().map(|(c, &v)| {
            let x0 = c as f64 + 0.1 + g as f64 * width;
            Rectangle::new([(x0, 0.0), (x0 + width * 0.9, v.max(0.0))], color.filled())
        }))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?
        .label(group.name.clone())
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    ctx.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    root.present().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(())
}

fn draw<DB: DrawingBackend>(
    root: Area<DB>,
    chart: &Chart,
    series: &[Series],
    points: bool,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let all = series.iter().flat_map(|s| &s.points);
    let (mut x0, mut x1, mut y0, mut y1) = (
        f64::INFINITY,
        f64::NEG_INFINITY,
        f64::INFINITY,
        f64::NEG_INFINITY,
    );
    for &(x, y) in all {
        x0 = x0.min(x);
        x1 = x1.max(x);
        y0 = y0.min(y);
        y1 = y1.max(y);
    }
    if !(x0.is_finite() && y0.is_finite()) {
        (x0, x1, y0, y1) = (0.0, 1.0, 0.0, 1.0);
    }
    if x1 <= x0 {
        x1 = x0 + 1.0;
    }
    let pad = if y1 > y0 { 0.05 * (y1 - y0) } else { 1.0 };
    let (y0, y1) = (y0 - pad, y1 + pad);
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut ctx = ChartBuilder::on(&root)
        .caption(chart.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(70)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    ctx.configure_mesh()
        .x_desc(chart.x_label)
        .y_desc(chart.y_label)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    for (k, s) in series.iter().enumerate() {
        let color = Palette99::pick(k).to_rgba();
        let drawn = if points {
            ctx.draw_series(
                s.points
                    .iter()
                    .map(|&(x, y)| Circle::new((x, y), 4, color.filled())),
            )
        } else {
            ctx.draw_series(LineSeries::new(
                s.points.iter().copied(),
                color.stroke_width(2),
            ))
        };
        drawn
            .map_err(|e| anyhow::anyhow!("{e:?}"))?
            .label(s.name.clone())
            .legend(move |(x, y)| {
                PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2))
            });
    }
    ctx.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    root.present().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(())
}
