//! Line charts, projections of scored plans and grouped bar charts written as SVG and PNG into a run directory (each file atomically: drawn under a
//! temporary name, then renamed).

use std::path::Path;

use anyhow::Context;
use plotters::prelude::*;

/// One named series of (x, y) points.
pub struct Series {
    pub name: String,
    pub points: Vec<(f64, f64)>,
}

impl Series {
    /// One series per name in `names`, each of the points `point` gives for the items that
    /// `name_of` names so (in the items' order; an item for which `point` gives none is left
    /// out).
    pub fn by_name<T>(
        names: &[String],
        items: &[T],
        name_of: impl Fn(&T) -> &str,
        point: impl Fn(&T) -> Option<(f64, f64)>,
    ) -> Vec<Series> {
        names
            .iter()
            .map(|name| Series {
                name: name.clone(),
                points: items
                    .iter()
                    .filter(|item| name_of(item) == name)
                    .filter_map(&point)
                    .collect(),
            })
            .collect()
    }
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
        |root| draw(root, chart, series),
        |root| draw(root, chart, series),
    )
}

/// One group of bars: a value per category.
pub struct BarGroup {
    pub name: String,
    pub values: Vec<f64>,
}

/// Grouped bars: for each category, one bar per group, side by side (horizontal bars, the
/// categories down the vertical axis: `chart.x_label` names them, `chart.y_label` the values);
/// written as `<dir>/<stem>.svg` and `.png`.
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

/// Horizontal bars, so that long category names (method names) stay readable: categories down
/// the vertical axis (the first at the top), values along the horizontal one; the legend in the
/// upper right, beside the bars' room.
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
    // Room to the right of the longest bar for the legend.
    let top = if top > 0.0 { top * 1.45 } else { 1.0 };
    let n = categories.len().max(1);
    let longest = categories
        .iter()
        .map(|c| c.chars().count())
        .max()
        .unwrap_or(0);
    let label_area = (longest as u32 * 8 + 24).clamp(60, 340);
    root.fill(&WHITE).map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let mut ctx = ChartBuilder::on(&root)
        .caption(chart.title, ("sans-serif", 22))
        .margin(12)
        .x_label_area_size(50)
        .y_label_area_size(label_area)
        .build_cartesian_2d(0.0..top, 0.0..n as f64)
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let labels = categories.to_vec();
    ctx.configure_mesh()
        .disable_y_mesh()
        .y_labels(n * 2 + 1)
        .y_label_formatter(&move |y: &f64| {
            // Band k from the bottom holds category n - 1 - k.
            let k = y.floor() as usize;
            if (y - y.floor() - 0.5).abs() < 1e-6 && k < n {
                labels.get(n - 1 - k).cloned().unwrap_or_default()
            } else {
                String::new()
            }
        })
        .x_desc(chart.y_label)
        .y_desc(chart.x_label)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    let height = 0.8 / groups.len().max(1) as f64;
    for (g, group) in groups.iter().enumerate() {
        let color = Palette99::pick(g).to_rgba();
        ctx.draw_series(group.values.iter().enumerate().map(|(c, &v)| {
            // The first group at the top of the category's band.
            let y1 = (n - 1 - c) as f64 + 0.9 - g as f64 * height;
            Rectangle::new([(0.0, y1 - height * 0.9), (v.max(0.0), y1)], color.filled())
        }))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?
        .label(group.name.clone())
        .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 12, y + 5)], color.filled()));
    }
    ctx.configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    root.present().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(())
}

fn draw<DB: DrawingBackend>(root: Area<DB>, chart: &Chart, series: &[Series]) -> anyhow::Result<()>
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
        ctx.draw_series(LineSeries::new(
            s.points.iter().copied(),
            color.stroke_width(2),
        ))
        .map_err(|e| anyhow::anyhow!("{e:?}"))?
        .label(s.name.clone())
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], color.stroke_width(2)));
    }
    ctx.configure_series_labels()
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .draw()
        .map_err(|e| anyhow::anyhow!("{e:?}"))?;
    root.present().map_err(|e| anyhow::anyhow!("{e:?}"))?;
    Ok(())
}

/// One axis of a [`projection_chart`]: its label and whether it is logarithmic (TTFTs span
/// seconds to minutes).
pub struct Axis<'a> {
    pub label: &'a str,
    pub log: bool,
}

/// Every method's plans in one projection of the objectives: each series as points, `front`
/// (the exact front's plans) also drawn as the staircase of its points non-dominated in this
/// projection, the legend beside the plot
/// (never over the data), a logarithmic axis where asked (values at or below 0 are left out
/// there). Written as `<dir>/<stem>.svg` and `.png`.
pub fn projection_chart(
    dir: &Path,
    stem: &str,
    title: &str,
    (x_axis, y_axis): (&Axis, &Axis),
    series: &[Series],
    front: &str,
) -> anyhow::Result<()> {
    write_svg_and_png(
        dir,
        stem,
        |root| draw_projection(root, title, (x_axis, y_axis), series, front),
        |root| draw_projection(root, title, (x_axis, y_axis), series, front),
    )
}

fn draw_projection<DB: DrawingBackend>(
    root: Area<DB>,
    title: &str,
    (x_axis, y_axis): (&Axis, &Axis),
    series: &[Series],
    front: &str,
) -> anyhow::Result<()>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| anyhow::anyhow!("{e:?}");
    // Logarithmic axes plot log10 of the value, their ticks labelled with the value.
    let to = |log: bool, v: f64| if log { v.log10() } else { v };
    let shown: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.points
                .iter()
                .filter(|(x, y)| (!x_axis.log || *x > 0.0) && (!y_axis.log || *y > 0.0))
                .map(|&(x, y)| (to(x_axis.log, x), to(y_axis.log, y)))
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect()
        })
        .collect();
    let range = |pick: fn(&(f64, f64)) -> f64| {
        let (lo, hi) = shown
            .iter()
            .flatten()
            .map(pick)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        if !lo.is_finite() {
            return (0.0, 1.0);
        }
        let pad = if hi > lo { 0.05 * (hi - lo) } else { 0.5 };
        (lo - pad, hi + pad)
    };
    let ((x0, x1), (y0, y1)) = (range(|p| p.0), range(|p| p.1));
    root.fill(&WHITE).map_err(err)?;
    let (plot, legend) = root.split_horizontally(660);
    let mut ctx = ChartBuilder::on(&plot)
        .caption(title, ("sans-serif", 20))
        .margin(12)
        .x_label_area_size(42)
        .y_label_area_size(80)
        .build_cartesian_2d(x0..x1, y0..y1)
        .map_err(err)?;
    // Tick labels: whole numbers from 100 on, else two significant digits.
    let label = |log: bool| {
        move |v: &f64| {
            let v = if log { 10f64.powf(*v) } else { *v };
            if v.abs() >= 100.0 {
                format!("{v:.0}")
            } else if v == 0.0 {
                "0".to_owned()
            } else {
                let decimals = (1.0 - v.abs().log10().floor()).max(0.0) as usize;
                format!("{v:.decimals$}")
            }
        }
    };
    let (x_label, y_label) = (label(x_axis.log), label(y_axis.log));
    let desc = |a: &Axis| {
        if a.log {
            format!("{} (log scale)", a.label)
        } else {
            a.label.to_owned()
        }
    };
    ctx.configure_mesh()
        .x_desc(desc(x_axis))
        .y_desc(desc(y_axis))
        .x_label_formatter(&x_label)
        .y_label_formatter(&y_label)
        .draw()
        .map_err(err)?;
    let legend_style = ("sans-serif", 14).into_font();
    for (k, (s, points)) in series.iter().zip(&shown).enumerate() {
        let color = Palette99::pick(k).to_rgba();
        if s.name == front {
            // The front in this projection: its points no other of its points dominates here,
            // joined as a staircase.
            let flat: Vec<f64> = points.iter().flat_map(|&(x, y)| [x, y]).collect();
            let mut line: Vec<(f64, f64)> = verdant::pareto::nondominated(&flat, 2)
                .into_iter()
                .map(|i| points[i])
                .collect();
            line.sort_by(|a, b| a.0.total_cmp(&b.0));
            let steps: Vec<(f64, f64)> = line
                .windows(2)
                .flat_map(|w| [w[0], (w[1].0, w[0].1)])
                .chain(line.last().copied())
                .collect();
            ctx.draw_series(LineSeries::new(steps, color.stroke_width(2)))
                .map_err(err)?;
        }
        ctx.draw_series(
            points
                .iter()
                .map(|&(x, y)| Circle::new((x, y), 4, color.filled())),
        )
        .map_err(err)?;
        // The legend: one row per series beside the plot.
        let y = 40 + 22 * k as i32;
        legend
            .draw(&Circle::new((12, y), 5, color.filled()))
            .map_err(err)?;
        legend
            .draw(&Text::new(
                s.name.clone(),
                (24, y - 8),
                legend_style.clone(),
            ))
            .map_err(err)?;
    }
    root.present().map_err(err)?;
    Ok(())
}
