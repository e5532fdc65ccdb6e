//! The trend chart of `history.html`: RTO and RPO per run of one scenario, regressions
//! circled.

use plotters::coord::types::RangedCoordf64;
use plotters::prelude::*;

use super::{draw_legend, err, font, rgb, ChartError, BAD_RGB, DATA_LOSS_RGB, GRID_RGB, SUCCESS_RGB};

/// One point of a trend chart.
#[derive(Debug, Clone, PartialEq)]
pub struct TrendPoint {
    /// RTO, ms.
    pub rto_ms: Option<i64>,
    /// RPO, ms.
    pub rpo_ms: Option<i64>,
    /// Flagged as a regression.
    pub regression: bool,
}

/// The trend's chart: run number across, seconds up.
type TrendChart<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

/// Renders one scenario's trend (RTO and RPO per run, regressions marked) as SVG.
pub fn trend_svg(scenario: &str, points: &[TrendPoint]) -> Result<String, ChartError> {
    let e = err("trend");
    let (w, h) = (1000u32, 300u32);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(&e)?;
        let mut chart = trend_axes(&root, scenario, points)?;
        draw_series(&mut chart, points)?;
        draw_regressions(&mut chart, points)?;
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft).map_err(&e)?;
        root.present().map_err(&e)?;
    }
    Ok(svg)
}

/// The chart with its caption, run-number axis and seconds axis drawn.
fn trend_axes<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    scenario: &str,
    points: &[TrendPoint],
) -> Result<TrendChart<'a, 'b>, ChartError> {
    let e = err("trend");
    let n = points.len().max(1) as f64;
    let max = points
        .iter()
        .flat_map(|p| [p.rto_ms, p.rpo_ms])
        .flatten()
        .fold(1000_i64, i64::max) as f64
        / 1000.0;
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .caption(format!("{scenario}: RTO and RPO per run"), font(15))
        .x_label_area_size(36)
        .y_label_area_size(64)
        .build_cartesian_2d(0.5..n + 0.5, 0.0..max * 1.2)
        .map_err(&e)?;
    chart
        .configure_mesh()
        .bold_line_style(rgb(GRID_RGB))
        .light_line_style(TRANSPARENT)
        .x_labels(points.len().clamp(1, 20))
        .x_label_formatter(&|v| {
            if (v.fract()).abs() < 1e-9 && *v >= 1.0 {
                format!("#{v:.0}")
            } else {
                String::new()
            }
        })
        .x_desc("run (oldest first)")
        .y_desc("seconds")
        .label_style(font(12))
        .axis_desc_style(font(13))
        .draw()
        .map_err(&e)?;
    Ok(chart)
}

/// The RTO and RPO lines, a dot per run.
fn draw_series(chart: &mut TrendChart<'_, '_>, points: &[TrendPoint]) -> Result<(), ChartError> {
    let e = err("trend");
    let series = |get: fn(&TrendPoint) -> Option<i64>| {
        points
            .iter()
            .enumerate()
            .filter_map(move |(i, p)| Some(((i + 1) as f64, get(p)? as f64 / 1000.0)))
            .collect::<Vec<_>>()
    };
    for (name, colour, data) in [
        ("RTO", SUCCESS_RGB, series(|p| p.rto_ms)),
        ("RPO", DATA_LOSS_RGB, series(|p| p.rpo_ms)),
    ] {
        let style = rgb(colour).stroke_width(2);
        chart
            .draw_series(LineSeries::new(data.clone(), style))
            .map_err(&e)?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], style));
        chart
            .draw_series(data.iter().map(|c| Circle::new(*c, 3, rgb(colour).filled())))
            .map_err(&e)?;
    }
    Ok(())
}

/// A circle around each run flagged as a regression.
fn draw_regressions(chart: &mut TrendChart<'_, '_>, points: &[TrendPoint]) -> Result<(), ChartError> {
    let flagged: Vec<_> = points
        .iter()
        .enumerate()
        .filter(|(_, p)| p.regression)
        .map(|(i, p)| {
            let y = p.rto_ms.into_iter().chain(p.rpo_ms).max().unwrap_or(0) as f64 / 1000.0;
            ((i + 1) as f64, y)
        })
        .collect();
    if !flagged.is_empty() {
        let bad = rgb(BAD_RGB);
        chart
            .draw_series(flagged.iter().map(|c| Circle::new(*c, 8, bad.stroke_width(2))))
            .map_err(err("trend"))?
            .label("regression")
            .legend(move |(x, y)| Circle::new((x + 8, y), 5, bad.stroke_width(2)));
    }
    Ok(())
}
