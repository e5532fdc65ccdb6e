//! Charts drawn with plotters' SVG backend: the run timeline of `report.html` and the
//! trend chart of `history.html`.
//!
//! The timeline has three panels on one time axis (seconds from the injection):
//! success ratio and p99 latency with the fault window shaded; requests per second by
//! zone (from `served-by`); and a strip of lanes for the fault, the outage, the
//! data-loss window and the observers' events (ELB target health, DNS).

use plotters::chart::MeshStyle;
use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::view::{Lane, View};

mod lanes;
mod trend;

pub use trend::{trend_svg, TrendPoint};

/// Colour of the success-ratio line (a browser test looks for it in the screenshot).
pub const SUCCESS_RGB: (u8, u8, u8) = (0x1f, 0x77, 0xb4);
/// Fill of the fault window (opaque, drawn under the series).
pub const FAULT_RGB: (u8, u8, u8) = (0xfb, 0xdd, 0xd8);
/// Colour of the p99 latency line.
pub const LATENCY_RGB: (u8, u8, u8) = (0xe0, 0x7b, 0x10);
/// Colour of the data-loss window.
pub const DATA_LOSS_RGB: (u8, u8, u8) = (0x7b, 0x3f, 0xb5);
/// Colour of the outage bar and bad-news markers.
pub const BAD_RGB: (u8, u8, u8) = (0xd6, 0x27, 0x28);
/// Colour of good-news markers (healthy again, recovered).
pub const GOOD_RGB: (u8, u8, u8) = (0x2c, 0xa0, 0x2c);
/// Fill of an observer's blind interval, drawn across its lane (FIS: the fault lane, ELBv2:
/// targets, Route 53: DNS): what it watched may have changed unseen there.
pub const BLIND_RGB: (u8, u8, u8) = (0x9a, 0x9f, 0xa8);

pub(super) const NEUTRAL_RGB: (u8, u8, u8) = (0x55, 0x5b, 0x66);
pub(super) const GRID_RGB: (u8, u8, u8) = (0xe4, 0xe6, 0xea);
const ZONE_PALETTE: [(u8, u8, u8); 8] = [
    (0x4e, 0x79, 0xa7),
    (0x59, 0xa1, 0x4f),
    (0xed, 0xc9, 0x48),
    (0xb0, 0x7a, 0xa1),
    (0x76, 0xb7, 0xb2),
    (0xff, 0x9d, 0xa7),
    (0x9c, 0x75, 0x5f),
    (0xba, 0xb0, 0xac),
];

/// Width of the timeline SVG, px.
pub const TIMELINE_WIDTH: u32 = 1200;
const TOP_H: u32 = 360;
const ZONES_H: u32 = 200;
const LANE_ROW_H: u32 = 44;
const LEFT_W: u32 = 96;
/// The top of the success-ratio panel: 100% plus room for the legend above the data.
const TOP_HEADROOM: f64 = 1.32;
/// The top of the zones panel relative to the busiest zone (room for the legend).
const ZONES_HEADROOM: f64 = 1.7;
const RIGHT_W: u32 = 72;

pub(super) fn rgb(c: (u8, u8, u8)) -> RGBColor {
    RGBColor(c.0, c.1, c.2)
}

/// A chart could not be drawn.
#[derive(Debug, thiserror::Error)]
#[error("cannot draw the {chart} chart: {message}")]
pub struct ChartError {
    /// Which chart.
    pub chart: &'static str,
    /// What plotters said.
    pub message: String,
}

fn err<E: std::fmt::Display>(chart: &'static str) -> impl Fn(E) -> ChartError {
    move |e| ChartError {
        chart,
        message: e.to_string(),
    }
}

pub(super) fn font(size: u32) -> TextStyle<'static> {
    ("sans-serif", size).into_font().color(&rgb(NEUTRAL_RGB))
}

/// Draws the series legend of `chart` at `position`, in the charts' common style.
pub(super) fn draw_legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
    position: SeriesLabelPosition,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(position)
        .background_style(WHITE.mix(0.9))
        .border_style(rgb(GRID_RGB))
        .label_font(font(12))
        .draw()
}

/// Renders the run timeline as an SVG document.
pub fn timeline_svg(view: &View) -> Result<String, ChartError> {
    let lanes_h = LANE_ROW_H * Lane::ALL.len() as u32 + 44;
    let height = TOP_H + ZONES_H + lanes_h;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (TIMELINE_WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(err("timeline"))?;
        let (top, rest) = root.split_vertically(TOP_H);
        let (zones, lanes) = rest.split_vertically(ZONES_H);
        let x = x_range(view);
        draw_success_latency(view, &top, x.clone())?;
        draw_zones(view, &zones, x.clone())?;
        lanes::draw_lanes(view, &lanes, x)?;
        root.present().map_err(err("timeline"))?;
    }
    Ok(svg)
}

/// Seconds relative to the view's origin.
fn sec(view: &View, t_ms: i64) -> f64 {
    (t_ms - view.origin_ms) as f64 / 1000.0
}

fn x_range(view: &View) -> std::ops::Range<f64> {
    sec(view, view.range.from_ms)..sec(view, view.range.to_ms)
}

fn x_desc(view: &View) -> String {
    format!("seconds since {}", view.origin_label)
}

/// A timeline panel's mesh in the charts' common style: the grid, the time axis in signed
/// seconds, the label fonts (each panel adds its axis descriptions and labels).
fn panel_mesh<'m, 'a, 'b, DB: DrawingBackend>(
    mesh: &'m mut MeshStyle<'a, 'b, RangedCoordf64, RangedCoordf64, DB>,
) -> &'m mut MeshStyle<'a, 'b, RangedCoordf64, RangedCoordf64, DB> {
    mesh.bold_line_style(rgb(GRID_RGB))
        .light_line_style(TRANSPARENT)
        .x_label_formatter(&signed_tick)
        .label_style(font(12))
        .axis_desc_style(font(13))
}

/// A tick of the time axis: `+3`, `-1`.
fn signed_tick(v: &f64) -> String {
    format!("{v:+.0}")
}

/// A timeline panel: seconds across, its own measure up.
type Panel<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn shade_fault<DB: DrawingBackend>(view: &View, chart: &mut Panel<'_, DB>, y: (f64, f64)) -> Result<(), ChartError> {
    if let Some(f) = view.fault {
        let style = rgb(FAULT_RGB).filled();
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(sec(view, f.from_ms), y.0), (sec(view, f.to_ms), y.1)],
                style,
            )))
            .map_err(err("timeline"))?
            .label("fault window")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], style));
    }
    Ok(())
}

/// The data-loss window as a band along the bottom of the success-ratio panel.
fn band_data_loss<DB: DrawingBackend>(view: &View, chart: &mut Panel<'_, DB>) -> Result<(), ChartError> {
    if let Some(d) = view.data_loss {
        let style = rgb(DATA_LOSS_RGB).filled();
        let to = d.to_ms.max(d.from_ms + 100);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(sec(view, d.from_ms), 0.0), (sec(view, to), 0.04)],
                style,
            )))
            .map_err(err("timeline"))?
            .label("data-loss window")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], style));
    }
    Ok(())
}

fn draw_success_latency<DB: DrawingBackend>(
    view: &View,
    area: &DrawingArea<DB, Shift>,
    x: std::ops::Range<f64>,
) -> Result<(), ChartError> {
    let e = err("timeline");
    let max_p99 = view
        .report
        .timeline
        .iter()
        .filter_map(|p| p.p99_ms)
        .fold(1.0_f64, f64::max);
    let mut chart = ChartBuilder::on(area)
        .margin_top(12)
        .margin_right(8)
        .caption("success ratio and p99 latency", font(15))
        .x_label_area_size(34)
        .y_label_area_size(LEFT_W)
        .right_y_label_area_size(RIGHT_W)
        .build_cartesian_2d(x.clone(), 0.0..TOP_HEADROOM)
        .map_err(&e)?
        .set_secondary_coord(x, 0.0..max_p99 * TOP_HEADROOM);
    panel_mesh(&mut chart.configure_mesh())
        .y_desc("success ratio")
        .y_label_formatter(&|v| {
            if *v <= 1.0 + 1e-9 {
                format!("{:.0}%", v * 100.0)
            } else {
                String::new()
            }
        })
        .x_desc(x_desc(view))
        .draw()
        .map_err(&e)?;
    chart
        .configure_secondary_axes()
        .y_desc("p99 latency (ms)")
        .label_style(font(12))
        .axis_desc_style(font(13))
        .draw()
        .map_err(&e)?;
    shade_fault(view, &mut chart, (0.0, TOP_HEADROOM))?;
    band_data_loss(view, &mut chart)?;
    let latency = rgb(LATENCY_RGB).stroke_width(2);
    chart
        .draw_secondary_series(LineSeries::new(
            view.report
                .timeline
                .iter()
                .filter_map(|p| Some((sec(view, p.t_ms + 50), p.p99_ms?))),
            latency,
        ))
        .map_err(&e)?
        .label("p99 latency (right axis)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], latency));
    let success = rgb(SUCCESS_RGB).stroke_width(3);
    chart
        .draw_series(LineSeries::new(
            view.report
                .timeline
                .iter()
                .filter(|p| p.ok + p.failed > 0)
                .map(|p| (sec(view, p.t_ms + 50), p.ok as f64 / (p.ok + p.failed) as f64)),
            success,
        ))
        .map_err(&e)?
        .label("success ratio (per 100 ms)")
        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], success));
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(&e)?;
    Ok(())
}

fn draw_zones<DB: DrawingBackend>(
    view: &View,
    area: &DrawingArea<DB, Shift>,
    x: std::ops::Range<f64>,
) -> Result<(), ChartError> {
    let e = err("timeline");
    let points = per_second(&view.requests_by_zone());
    let max = points
        .iter()
        .flat_map(|(_, c)| c.iter().copied())
        .fold(1.0_f64, f64::max);
    let mut chart = ChartBuilder::on(area)
        .margin_top(8)
        .margin_right(8)
        .caption("requests per second by zone (served-by)", font(15))
        .x_label_area_size(24)
        .y_label_area_size(LEFT_W)
        .right_y_label_area_size(RIGHT_W)
        .build_cartesian_2d(x, 0.0..max * ZONES_HEADROOM)
        .map_err(&e)?;
    panel_mesh(&mut chart.configure_mesh())
        .y_desc("req/s")
        .y_labels(5)
        .draw()
        .map_err(&e)?;
    shade_fault(view, &mut chart, (0.0, max * ZONES_HEADROOM))?;
    if view.zones.is_empty() || points.iter().all(|(_, c)| c.iter().all(|n| *n == 0.0)) {
        let mid = chart.plotting_area().get_pixel_range();
        area.draw(&Text::new(
            "no served-by data in this report",
            ((mid.0.start + mid.0.end) / 2 - 100, (mid.1.start + mid.1.end) / 2),
            font(13),
        ))
        .map_err(&e)?;
        return Ok(());
    }
    for (i, zone) in view.zones.iter().enumerate() {
        let colour = rgb(ZONE_PALETTE[i % ZONE_PALETTE.len()]).stroke_width(2);
        chart
            .draw_series(LineSeries::new(
                points.iter().map(|(t, rates)| (sec(view, t + 50), rates[i])),
                colour,
            ))
            .map_err(&e)?
            .label(zone.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 16, y)], colour));
    }
    draw_legend(&mut chart, SeriesLabelPosition::UpperRight).map_err(&e)?;
    Ok(())
}

/// Requests per second around each 100 ms point: the probes of the 1 s centred on it
/// (round robin makes single 100 ms counts jump between 0 and 2 per target).
fn per_second(points: &[(i64, Vec<u64>)]) -> Vec<(i64, Vec<f64>)> {
    let mut from = 0;
    let mut to = 0;
    let mut sum: Vec<u64> = vec![0; points.first().map_or(0, |p| p.1.len())];
    points
        .iter()
        .map(|(t, _)| {
            while to < points.len() && points[to].0 < t + 500 {
                sum.iter_mut().zip(&points[to].1).for_each(|(s, n)| *s += n);
                to += 1;
            }
            while from < to && points[from].0 < t - 500 {
                sum.iter_mut().zip(&points[from].1).for_each(|(s, n)| *s -= n);
                from += 1;
            }
            (*t, sum.iter().map(|n| *n as f64).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests;
