//! Horizontal bar charts (plotters SVG) for the game-day comparison: one bar per scenario
//! of the plan, top to bottom in plan order, the value written at the end of each bar,
//! and optional marks on a bar (e.g. when the failure was detected, within the RTO).

use plotters::coord::ranged1d::SegmentedCoord;
use plotters::coord::types::{RangedCoordf64, RangedCoordu32};
use plotters::prelude::*;

use super::chart::{draw_legend, font, rgb, ChartError, GRID_RGB};

/// Width of a bar chart, px.
pub const BAR_CHART_WIDTH: u32 = 1000;
const ROW_H: u32 = 34;
const FRAME_H: u32 = 96;
const LABEL_W: u32 = 260;
/// Colours of the marks, in the order they are given.
const MARK_RGB: [(u8, u8, u8); 3] = [(0xd6, 0x27, 0x28), (0xff, 0x7f, 0x0e), (0x2c, 0xa0, 0x2c)];

/// One bar.
#[derive(Debug, Clone)]
pub struct Bar {
    /// The label on the axis (strategy or scenario).
    pub label: String,
    /// The value in the chart's unit; `None` draws no bar and writes `missing`.
    pub value: Option<f64>,
    /// The value as written at the end of the bar (e.g. `12.3 s`).
    pub text: String,
    /// Marks on the bar, one per name of [`BarChart::marks`], in the chart's unit.
    pub marks: Vec<Option<f64>>,
}

/// A chart of one measure.
#[derive(Debug, Clone)]
pub struct BarChart<'a> {
    /// Title above the chart.
    pub title: &'a str,
    /// Axis description (unit).
    pub unit: &'a str,
    /// Fill of the bars.
    pub rgb: (u8, u8, u8),
    /// The axis ends at least here (e.g. 100 for percentages).
    pub min_max: f64,
    /// Names of the marks (legend), matching [`Bar::marks`].
    pub marks: &'a [&'a str],
    /// The bars, top to bottom.
    pub bars: &'a [Bar],
}

/// A bar chart: the measure across, one segment per bar up (segments count from the
/// bottom).
type Bars<'a, 'b> = ChartContext<'a, SVGBackend<'b>, Cartesian2d<RangedCoordf64, SegmentedCoord<RangedCoordu32>>>;

fn chart_err(err: &dyn std::fmt::Display) -> ChartError {
    ChartError {
        chart: "comparison",
        message: err.to_string(),
    }
}

/// Renders the chart as an SVG document.
pub fn bar_chart_svg(c: &BarChart<'_>) -> Result<String, ChartError> {
    let e = |x: DrawingAreaErrorKind<_>| chart_err(&x);
    let n = c.bars.len().max(1) as u32;
    let height = FRAME_H + ROW_H * n;
    // Row i (top to bottom) is segment n-1-i (segments count from the bottom).
    let seg = |i: usize| n - 1 - i as u32;
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (BAR_CHART_WIDTH, height)).into_drawing_area();
        root.fill(&WHITE).map_err(e)?;
        let mut chart = bar_axes(&root, c, n)?;
        let fill = rgb(c.rgb).filled();
        chart
            .draw_series(c.bars.iter().enumerate().filter_map(|(i, b)| {
                let v = b.value?;
                let s = seg(i);
                let mut r = Rectangle::new([(0.0, SegmentValue::Exact(s)), (v, SegmentValue::Exact(s + 1))], fill);
                r.set_margin(7, 7, 0, 0);
                Some(r)
            }))
            .map_err(e)?;
        chart
            .draw_series(c.bars.iter().enumerate().map(|(i, b)| {
                let at = (b.value.unwrap_or(0.0), SegmentValue::CenterOf(seg(i)));
                EmptyElement::at(at) + Text::new(b.text.clone(), (6, -7), font(12))
            }))
            .map_err(e)?;
        draw_marks(&mut chart, c, seg)?;
        root.present().map_err(e)?;
    }
    Ok(svg)
}

/// The chart with its title, bar labels and value axis drawn.
fn bar_axes<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, plotters::coord::Shift>,
    c: &BarChart<'_>,
    n: u32,
) -> Result<Bars<'a, 'b>, ChartError> {
    let max = c
        .bars
        .iter()
        .flat_map(|b| b.value.into_iter().chain(b.marks.iter().flatten().copied()))
        .fold(c.min_max, f64::max);
    // Room on the right for the value written after the longest bar, and the legend.
    let max = if max > 0.0 { max * 1.3 } else { 1.0 };
    let labels: Vec<String> = c.bars.iter().map(|b| truncate(&b.label, 34)).collect();
    let mut chart = ChartBuilder::on(root)
        .margin(10)
        .caption(c.title, font(15))
        .x_label_area_size(34)
        .y_label_area_size(LABEL_W)
        // Integer ranges are inclusive in plotters: 0..n-1 makes n segments.
        .build_cartesian_2d(0.0..max, (0u32..n - 1).into_segmented())
        .map_err(|x| chart_err(&x))?;
    let formatter = |v: &SegmentValue<u32>| match v {
        SegmentValue::CenterOf(k) if *k < n => labels.get((n - 1 - k) as usize).cloned().unwrap_or_default(),
        _ => String::new(),
    };
    chart
        .configure_mesh()
        .bold_line_style(rgb(GRID_RGB))
        .light_line_style(TRANSPARENT)
        .disable_y_mesh()
        .y_labels(n as usize)
        .y_label_formatter(&formatter)
        .x_label_formatter(&|v: &f64| {
            let s = format!("{v:.1}");
            s.strip_suffix(".0").map_or_else(|| s.clone(), str::to_owned)
        })
        .x_desc(c.unit)
        .label_style(font(12))
        .axis_desc_style(font(13))
        .draw()
        .map_err(|x| chart_err(&x))?;
    Ok(chart)
}

/// The marks on the bars (a triangle each, one colour per mark name) and their legend.
fn draw_marks<'a, 'b: 'a>(
    chart: &mut Bars<'a, 'b>,
    c: &BarChart<'_>,
    seg: impl Fn(usize) -> u32,
) -> Result<(), ChartError> {
    for (m, name) in c.marks.iter().enumerate() {
        let colour = rgb(MARK_RGB[m % MARK_RGB.len()]);
        let points: Vec<(f64, SegmentValue<u32>)> = c
            .bars
            .iter()
            .enumerate()
            .filter_map(|(i, b)| Some((b.marks.get(m).copied().flatten()?, SegmentValue::CenterOf(seg(i)))))
            .collect();
        chart
            .draw_series(
                points
                    .into_iter()
                    .map(move |p| TriangleMarker::new(p, 6, colour.filled())),
            )
            .map_err(|x| chart_err(&x))?
            .label(*name)
            .legend(move |(x, y)| TriangleMarker::new((x + 8, y), 6, colour.filled()));
    }
    if !c.marks.is_empty() {
        draw_legend(chart, SeriesLabelPosition::UpperRight).map_err(|x| chart_err(&x))?;
    }
    Ok(())
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(label: &str, value: Option<f64>) -> Bar {
        Bar {
            label: label.into(),
            value,
            text: value.map_or("not measured".into(), |v| format!("{v} s")),
            marks: vec![value.map(|v| v / 2.0)],
        }
    }

    /// Every bar's label and value text is in the SVG, one rectangle per measured bar,
    /// and the labels keep the plan's order from top to bottom.
    #[test]
    fn draws_a_bar_per_measured_row_in_order() {
        let bars = [
            bar("backup-restore", Some(40.0)),
            bar("pilot-light", None),
            bar("warm-standby", Some(8.0)),
        ];
        let svg = bar_chart_svg(&BarChart {
            title: "RTO",
            unit: "seconds",
            rgb: (0x1f, 0x77, 0xb4),
            min_max: 1.0,
            marks: &["detection"],
            bars: &bars,
        })
        .unwrap();
        for text in [
            "backup-restore",
            "pilot-light",
            "warm-standby",
            "40 s",
            "not measured",
            "detection",
        ] {
            assert!(svg.contains(text), "missing {text}");
        }
        assert_eq!(svg.matches("fill=\"#1F77B4\"").count(), 2, "{svg}");
        let y = |label: &str| {
            let at = svg.find(&format!("\n{label}\n")).unwrap();
            let tag = &svg[svg[..at].rfind("<text").unwrap()..at];
            let y = tag.split("y=\"").nth(1).unwrap().split('"').next().unwrap();
            y.parse::<f64>().unwrap()
        };
        assert!(y("backup-restore") < y("pilot-light") && y("pilot-light") < y("warm-standby"));
        assert_eq!(svg.matches("text-anchor=\"end\"").count(), 3, "one axis label per bar");
    }
}
