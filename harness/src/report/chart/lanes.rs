//! The timeline's strip of lanes: the fault, outage and data-loss bars, the observers'
//! blind intervals and the event markers with their labels.

use std::collections::HashMap;

use plotters::coord::types::RangedCoordf64;
use plotters::coord::Shift;
use plotters::prelude::*;

use super::{
    err, font, panel_mesh, rgb, sec, x_desc, ChartError, BAD_RGB, BLIND_RGB, DATA_LOSS_RGB, FAULT_RGB, GOOD_RGB,
    LEFT_W, NEUTRAL_RGB, RIGHT_W,
};
use crate::report::view::{Lane, Span, Tone, View};

/// The lanes' chart: time across, one row per lane.
type LaneChart<'a, DB> = ChartContext<'a, DB, Cartesian2d<RangedCoordf64, RangedCoordf64>>;

fn tone_rgb(t: Tone) -> (u8, u8, u8) {
    match t {
        Tone::Bad => BAD_RGB,
        Tone::Good => GOOD_RGB,
        Tone::Neutral => NEUTRAL_RGB,
    }
}

/// The y of a lane's centre: lane i (top to bottom) is centred on y = n − 1 − i.
fn row(lane: Lane) -> f64 {
    let n = Lane::ALL.len();
    (n - 1 - Lane::ALL.iter().position(|l| *l == lane).unwrap_or(0)) as f64
}

/// The lane whose row an observer's blind interval is drawn across.
fn blind_lane(observer: &str) -> Option<Lane> {
    match observer {
        "fis" => Some(Lane::Experiment),
        "elbv2" => Some(Lane::Targets),
        "route53" => Some(Lane::Dns),
        _ => None,
    }
}

pub(super) fn draw_lanes<DB: DrawingBackend>(
    view: &View,
    area: &DrawingArea<DB, Shift>,
    x: std::ops::Range<f64>,
) -> Result<(), ChartError> {
    let mut chart = lane_axes(view, area, x)?;
    draw_bars(view, &mut chart)?;
    draw_blind(view, &mut chart)?;
    draw_markers(view, &mut chart)
}

/// The chart with its lane titles and time axis drawn.
fn lane_axes<'a, DB: DrawingBackend>(
    view: &View,
    area: &'a DrawingArea<DB, Shift>,
    x: std::ops::Range<f64>,
) -> Result<LaneChart<'a, DB>, ChartError> {
    let e = err("timeline");
    let n = Lane::ALL.len();
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
    panel_mesh(&mut chart.configure_mesh())
        .disable_x_mesh()
        .y_labels(n)
        .y_label_formatter(&|y| title(*y))
        .x_desc(x_desc(view))
        .draw()
        .map_err(&e)?;
    Ok(chart)
}

/// The fault window, the outage and the data-loss window as bars in their lanes.
fn draw_bars<DB: DrawingBackend>(view: &View, chart: &mut LaneChart<'_, DB>) -> Result<(), ChartError> {
    let bar = |lane: Lane, span: Option<Span>, colour: (u8, u8, u8)| {
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
    chart.draw_series(bars.into_iter().flatten()).map_err(err("timeline"))?;
    Ok(())
}

/// Where an observer was blind, across its lane, under its markers.
fn draw_blind<DB: DrawingBackend>(view: &View, chart: &mut LaneChart<'_, DB>) -> Result<(), ChartError> {
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
    chart.draw_series(blind).map_err(err("timeline"))?;
    Ok(())
}

/// The observers' events as markers. A label goes above its marker, or below when that
/// would overlap the previous label above in the lane; when both would overlap, the
/// marker has no label.
fn draw_markers<DB: DrawingBackend>(view: &View, chart: &mut LaneChart<'_, DB>) -> Result<(), ChartError> {
    let e = err("timeline");
    let mut last_end: HashMap<(Lane, bool), i32> = HashMap::new();
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
