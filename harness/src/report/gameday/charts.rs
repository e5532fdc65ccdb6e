//! The bar charts of the game day's `report.html`, one per measure: RTO with its
//! detection and failover marks, RPO, lost writes, availability during the fault, and
//! standing cost when any target states a strategy.

use serde::Serialize;

use super::{thousands, ComparisonRow, GamedayReport};
use crate::report::bars::{bar_chart_svg, Bar, BarChart};
use crate::report::chart::{DATA_LOSS_RGB, GOOD_RGB, SUCCESS_RGB};
use crate::report::error::RenderError;

const COST_RGB: (u8, u8, u8) = (0x55, 0x5b, 0x66);

/// One chart of the page.
#[derive(Serialize)]
pub(super) struct ChartView {
    id: &'static str,
    title: &'static str,
    svg: String,
}

/// What a chart shows and how, besides its bars.
struct Measure {
    id: &'static str,
    title: &'static str,
    unit: &'static str,
    rgb: (u8, u8, u8),
    /// The axis ends at least here.
    min_max: f64,
    /// Names of the marks on the bars.
    marks: &'static [&'static str],
}

fn bar(r: &ComparisonRow, value: Option<f64>, text: String, marks: Vec<Option<f64>>) -> Bar {
    Bar {
        label: r.label().to_owned(),
        value,
        text,
        marks,
    }
}

/// ms as seconds.
fn s(ms: Option<i64>) -> Option<f64> {
    ms.map(|v| v as f64 / 1000.0)
}

/// What a bar says when its scenario has no value.
fn missing(r: &ComparisonRow) -> String {
    if r.verdict.is_none() { "not run" } else { "not measured" }.to_owned()
}

fn rto_bar(r: &ComparisonRow) -> Bar {
    let text = match (r.rto_ms, r.never_recovered, r.verdict) {
        (Some(_), _, _) | (None, true, _) => r.rto_text(),
        (None, _, None) => "not run".into(),
        _ => "not measured".into(),
    };
    bar(r, s(r.rto_ms), text, vec![s(r.detection_ms), s(r.failover_ms)])
}

fn rpo_bar(r: &ComparisonRow) -> Bar {
    let text = if r.rpo_ms.is_some() { r.rpo_text() } else { missing(r) };
    bar(r, s(r.rpo_ms), text, Vec::new())
}

fn lost_bar(r: &ComparisonRow) -> Bar {
    let text = match (r.lost_writes, r.acked_writes) {
        (Some(l), Some(a)) => format!("{l} of {a}"),
        _ => missing(r),
    };
    bar(r, r.lost_writes.map(|l| l as f64), text, Vec::new())
}

fn availability_bar(r: &ComparisonRow) -> Bar {
    let v = r.availability_during_fault.map(|a| a * 100.0);
    bar(r, v, v.map_or_else(|| missing(r), |v| format!("{v:.2}%")), Vec::new())
}

fn cost_bar(r: &ComparisonRow) -> Bar {
    let v = r.strategy.as_ref().map(|s| s.usd_per_month);
    let text = v.map_or_else(
        || "no strategy".into(),
        |v| format!("${}/month", thousands(v.round() as i64)),
    );
    bar(r, v, text, Vec::new())
}

/// How one scenario's bar of a measure is made.
type BarOf = fn(&ComparisonRow) -> Bar;

/// The measures charted, each with how a scenario's bar is made.
const MEASURES: [(Measure, BarOf); 4] = [
    (
        Measure {
            id: "rto",
            title: "RTO (measured)",
            unit: "seconds after injection",
            rgb: SUCCESS_RGB,
            min_max: 1.0,
            marks: &["detection", "failover"],
        },
        rto_bar,
    ),
    (
        Measure {
            id: "rpo",
            title: "RPO (measured)",
            unit: "seconds of acknowledged writes lost",
            rgb: DATA_LOSS_RGB,
            min_max: 1.0,
            marks: &[],
        },
        rpo_bar,
    ),
    (
        Measure {
            id: "lost",
            title: "Lost writes",
            unit: "acknowledged writes not readable after recovery",
            rgb: DATA_LOSS_RGB,
            min_max: 1.0,
            marks: &[],
        },
        lost_bar,
    ),
    (
        Measure {
            id: "availability",
            title: "Availability during the fault",
            unit: "% of probes that succeeded",
            rgb: GOOD_RGB,
            min_max: 100.0,
            marks: &[],
        },
        availability_bar,
    ),
];

/// The standing-cost chart, drawn when any target states a strategy.
const COST: Measure = Measure {
    id: "cost",
    title: "Standing cost",
    unit: "US dollars per month",
    rgb: COST_RGB,
    min_max: 1.0,
    marks: &[],
};

/// Every chart of the page, in order.
pub(super) fn charts(g: &GamedayReport) -> Result<Vec<ChartView>, RenderError> {
    let mut out = MEASURES
        .iter()
        .map(|(m, make)| chart(m, &g.rows.iter().map(make).collect::<Vec<_>>()))
        .collect::<Result<Vec<_>, _>>()?;
    if g.rows.iter().any(|r| r.strategy.is_some()) {
        out.push(chart(&COST, &g.rows.iter().map(cost_bar).collect::<Vec<_>>())?);
    }
    Ok(out)
}

fn chart(m: &Measure, bars: &[Bar]) -> Result<ChartView, RenderError> {
    let svg = bar_chart_svg(&BarChart {
        title: m.title,
        unit: m.unit,
        rgb: m.rgb,
        min_max: m.min_max,
        marks: m.marks,
        bars,
    })?;
    Ok(ChartView {
        id: m.id,
        title: m.title,
        svg,
    })
}
