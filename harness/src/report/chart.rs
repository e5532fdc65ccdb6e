//! Charts drawn with plotters' SVG backend: the run timeline of `report.html` and the
//! trend chart of `history.html`.
//!
//! The timeline has three panels on one time axis (seconds from the injection):
//! success ratio and p99 latency with the fault window shaded; requests per second by
//! zone (from `served-by`); and a strip of lanes for the fault, the outage, the
//! data-loss window and the observers' events (ELB target health, DNS).

use plotters::coord::Shift;
use plotters::prelude::*;

use super::history::TrendPoint;
use super::view::{Lane, Tone, View};

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
        draw_lanes(view, &lanes, x)?;
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

fn shade_fault<DB: DrawingBackend>(
    view: &View,
    chart: &mut ChartContext<
        '_,
        DB,
        Cartesian2d<plotters::coord::types::RangedCoordf64, plotters::coord::types::RangedCoordf64>,
    >,
    y: (f64, f64),
) -> Result<(), ChartError> {
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
    chart
        .configure_mesh()
        .bold_line_style(rgb(GRID_RGB))
        .light_line_style(TRANSPARENT)
        .y_desc("success ratio")
        .y_label_formatter(&|v| {
            if *v <= 1.0 + 1e-9 {
                format!("{:.0}%", v * 100.0)
            } else {
                String::new()
            }
        })
        .x_label_formatter(&|v| format!("{v:+.0}"))
        .x_desc(x_desc(view))
        .label_style(font(12))
        .axis_desc_style(font(13))
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
    if let Some(d) = view.data_loss {
        // The data-loss window as a band along the bottom of the chart.
        let style = rgb(DATA_LOSS_RGB).filled();
        let to = d.to_ms.max(d.from_ms + 100);
        chart
            .draw_series(std::iter::once(Rectangle::new(
                [(sec(view, d.from_ms), 0.0), (sec(view, to), 0.04)],
                style,
            )))
            .map_err(&e)?
            .label("data-loss window")
            .legend(move |(x, y)| Rectangle::new([(x, y - 5), (x + 16, y + 5)], style));
    }
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
    chart
        .configure_mesh()
        .bold_line_style(rgb(GRID_RGB))
        .light_line_style(TRANSPARENT)
        .y_desc("req/s")
        .y_labels(5)
        .x_label_formatter(&|v| format!("{v:+.0}"))
        .label_style(font(12))
        .axis_desc_style(font(13))
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

fn tone_rgb(t: Tone) -> (u8, u8, u8) {
    match t {
        Tone::Bad => BAD_RGB,
        Tone::Good => GOOD_RGB,
        Tone::Neutral => NEUTRAL_RGB,
    }
}

fn draw_lanes<DB: DrawingBackend>(
    view: &View,
    area: &DrawingArea<DB, Shift>,
    x: std::ops::Range<f64>,
) -> Result<(), ChartError> {
    let e = err("timeline");
    let n = Lane::ALL.len();
    // Lane i (top to bottom) is centred on y = n − 1 − i.
    let row = |lane: Lane| (n - 1 - Lane::ALL.iter().position(|l| *l == lane).unwrap_or(0)) as f64;
    let title = |y: f64| {
        let i = y.round();
        if (y - i).abs() > 0.01 || i < 0.0 || i >= n as f64 {
            return String::new();
        }
        Lane::ALL[n - 1 - i as usize].title().to_string()
    };
    let mut chart = ChartBuilder::on(area)
        .margin_top(6)
        .margin_right(8)
        .x_label_area_size(38)
        .y_label_area_size(LEFT_W)
        .right_y_label_area_size(RIGHT_W)
        .build_cartesian_2d(x, -0.5..n as f64 - 0.5)
        .map_err(&e)?;
    chart
        .configure_mesh()
        .bold_line_style(rgb(GRID_RGB))
        .light_line_style(TRANSPARENT)
        .disable_x_mesh()
        .y_labels(n)
        .y_label_formatter(&|y| title(*y))
        .x_label_formatter(&|v| format!("{v:+.0}"))
        .x_desc(x_desc(view))
        .label_style(font(12))
        .axis_desc_style(font(13))
        .draw()
        .map_err(&e)?;
    let bar = |lane: Lane, span: Option<super::view::Span>, colour: (u8, u8, u8)| {
        span.map(|s| {
            let y = row(lane);
            Rectangle::new(
                [
                    (sec(view, s.from_ms), y - 0.16),
                    (sec(view, s.to_ms.max(s.from_ms + 100)), y + 0.16),
                ],
                rgb(colour).filled(),
            )
        })
    };
    let bars = [
        bar(Lane::Experiment, view.fault, FAULT_RGB),
        bar(Lane::Outage, view.outage, BAD_RGB),
        bar(Lane::DataLoss, view.data_loss, DATA_LOSS_RGB),
    ];
    chart.draw_series(bars.into_iter().flatten()).map_err(&e)?;
    // Where an observer was blind, across its lane, under its markers.
    let blind_lane = |observer: &str| match observer {
        "fis" => Some(Lane::Experiment),
        "elbv2" => Some(Lane::Targets),
        "route53" => Some(Lane::Dns),
        _ => None,
    };
    let t0 = view.report.t0_unix_ms;
    let blind = view.report.observer_blind.iter().filter_map(|b| {
        let y = row(blind_lane(&b.observer)?);
        // Unix ms to the view's time (since t0), inside the displayed range.
        let (from, to) = (b.from_unix_ms - t0, (b.to_unix_ms - t0).max(b.from_unix_ms - t0 + 100));
        if to < view.range.from_ms || from > view.range.to_ms {
            return None;
        }
        let from = from.max(view.range.from_ms);
        let to = to.min(view.range.to_ms);
        (to > from).then(|| {
            Rectangle::new(
                [(sec(view, from), y - 0.32), (sec(view, to), y + 0.32)],
                rgb(BLIND_RGB).mix(0.55).filled(),
            )
        })
    });
    chart.draw_series(blind).map_err(&e)?;
    // A label goes above its marker, or below when that would overlap the previous
    // label above in the lane; when both would overlap, the marker has no label.
    let mut last_end: std::collections::HashMap<(Lane, bool), i32> = std::collections::HashMap::new();
    let right_edge = chart.plotting_area().get_pixel_range().0.end;
    for m in &view.markers {
        let coord = (sec(view, m.t_ms), row(m.lane));
        let px = chart.backend_coord(&coord).0;
        let width = m.label.chars().count() as i32 * 6 + 8;
        let slot = [false, true]
            .into_iter()
            .find(|below| last_end.get(&(m.lane, *below)).is_none_or(|end| px > *end));
        let colour = rgb(tone_rgb(m.tone));
        let marker = EmptyElement::at(coord) + Circle::new((0, 0), 4, colour.filled());
        match slot {
            Some(below) => {
                last_end.insert((m.lane, below), px + width);
                let dy = if below { 7 } else { -17 };
                // Near the right edge the label ends at the marker instead of starting there.
                let dx = if px + width > right_edge { 2 - width } else { 2 };
                chart
                    .draw_series(std::iter::once(marker + Text::new(m.label.clone(), (dx, dy), font(11))))
                    .map_err(&e)?;
            }
            None => {
                chart.draw_series(std::iter::once(marker)).map_err(&e)?;
            }
        }
    }
    Ok(())
}

/// Renders one scenario's trend (RTO and RPO per run, regressions marked) as SVG.
pub fn trend_svg(scenario: &str, points: &[TrendPoint]) -> Result<String, ChartError> {
    let e = err("trend");
    let (w, h) = (1000u32, 300u32);
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (w, h)).into_drawing_area();
        root.fill(&WHITE).map_err(&e)?;
        let n = points.len().max(1) as f64;
        let max = points
            .iter()
            .flat_map(|p| [p.rto_ms, p.rpo_ms])
            .flatten()
            .fold(1000_i64, i64::max) as f64
            / 1000.0;
        let mut chart = ChartBuilder::on(&root)
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
                .map_err(&e)?
                .label("regression")
                .legend(move |(x, y)| Circle::new((x + 8, y), 5, bad.stroke_width(2)));
        }
        draw_legend(&mut chart, SeriesLabelPosition::UpperLeft).map_err(&e)?;
        root.present().map_err(&e)?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::blind::BlindInterval;
    use crate::report::view::uncertain_report;

    /// An observer's blind interval is drawn across its lane in the blind colour; none
    /// without one, and none for a stretch outside the displayed range.
    #[test]
    fn blind_intervals_are_drawn_on_the_timeline() {
        let colour = format!("#{:02X}{:02X}{:02X}", BLIND_RGB.0, BLIND_RGB.1, BLIND_RGB.2);
        let mut r = uncertain_report();
        r.observer_blind.clear();
        let clean = timeline_svg(&View::new(&r)).unwrap();
        assert!(
            !clean.to_uppercase().contains(&colour),
            "no blind interval, no blind bar"
        );
        let from = r.t_inject_unix_ms.unwrap_or(r.t0_unix_ms) + 500;
        r.observer_blind.push(BlindInterval {
            observer: "elbv2".into(),
            service: "elasticloadbalancing".into(),
            operation: "DescribeTargetHealth".into(),
            from_unix_ms: from,
            to_unix_ms: from + 2_000,
            failed_calls: 4,
            throttled_calls: 4,
            error_code: Some("Throttling".into()),
            measured_while_blind: Vec::new(),
        });
        let blind = timeline_svg(&View::new(&r)).unwrap();
        assert_eq!(blind.to_uppercase().matches(&colour).count(), 1, "one blind bar");
        // A stretch wholly outside the displayed range is left out (not drawn off the chart).
        let mut outside = r.observer_blind[0].clone();
        (outside.from_unix_ms, outside.to_unix_ms) = (r.t0_unix_ms - 3_600_000, r.t0_unix_ms - 3_000_000);
        r.observer_blind.push(outside);
        let still = timeline_svg(&View::new(&r)).unwrap();
        assert_eq!(
            still.to_uppercase().matches(&colour).count(),
            1,
            "outside the range: not drawn"
        );
    }
}
