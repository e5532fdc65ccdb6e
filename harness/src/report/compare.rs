//! `drdrill report --compare RUN_A RUN_B`: two runs side by side, the headline numbers
//! and then objective by objective, with the change from A to B and whether it is
//! better or worse. The output is a Markdown table (readable in a terminal too).

use super::markdown_table::MarkdownTable;
use super::view::{
    fmt_measured, fmt_target, fmt_value, objective_bound_ms, objective_title, rpo_bound_ms, rto_bound_ms,
    with_uncertainty, Sign,
};
use super::Report;
use crate::verdict::ObjectiveResult;

/// Which way is better for a number.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Better {
    Lower,
    Higher,
}

/// One compared line.
#[derive(Debug, Clone, PartialEq)]
pub struct CompareRow {
    /// What is compared.
    pub name: String,
    /// Run A's value, formatted.
    pub a: String,
    /// Run B's value, formatted.
    pub b: String,
    /// B − A, formatted, with `better` / `worse`; empty when not comparable.
    pub change: String,
}

/// One value of a compared line with its ± bound (ms), when it has one.
#[derive(Debug, Clone, Copy)]
struct Value {
    v: Option<f64>,
    bound_ms: Option<i64>,
}

fn plain(v: Option<f64>) -> Value {
    Value { v, bound_ms: None }
}

fn change(a: Value, b: Value, unit: &str, better: Better) -> String {
    // The change between two uncertain values is known to within both bounds.
    let bound = a.bound_ms.zip(b.bound_ms).map(|(x, y)| x + y);
    match (a.v, b.v) {
        (Some(a), Some(b)) if (a - b).abs() < 1e-9 => "same".into(),
        (Some(a), Some(b)) => {
            let d = b - a;
            let sign = if d > 0.0 { "+" } else { "−" };
            let good = match better {
                Better::Lower => d < 0.0,
                Better::Higher => d > 0.0,
            };
            let size = match bound {
                Some(_) if unit == "ms" => with_uncertainty(d.abs().round() as i64, bound, Sign::Unsigned),
                _ => fmt_value(d.abs(), unit),
            };
            format!("{sign}{size} ({})", if good { "better" } else { "worse" })
        }
        (None, Some(_)) | (Some(_), None) => "not comparable".into(),
        (None, None) => String::new(),
    }
}

fn value(v: Value, unit: &str) -> String {
    match (v.v, v.bound_ms) {
        (None, _) => "—".into(),
        (Some(x), Some(b)) if unit == "ms" => with_uncertainty(x.round() as i64, Some(b), Sign::Unsigned),
        (Some(x), _) => fmt_value(x, unit),
    }
}

fn metric(name: &str, a: Value, b: Value, unit: &str, better: Better) -> CompareRow {
    CompareRow {
        name: name.into(),
        a: value(a, unit),
        b: value(b, unit),
        change: change(a, b, unit, better),
    }
}

fn objective_cell(r: &Report, o: Option<&ObjectiveResult>) -> String {
    match o {
        None => "not set".into(),
        Some(o) => format!(
            "{} {}",
            fmt_measured(o, objective_bound_ms(r, o)),
            if o.pass { "✅" } else { "❌" }
        ),
    }
}

/// The compared rows: headline numbers, then the objectives of A, then those only B has.
pub fn rows(a: &Report, b: &Report) -> Vec<CompareRow> {
    let mut out = headline_rows(a, b);
    out.extend(objective_rows(a, b));
    out
}

/// The scenario, the verdict and the headline numbers.
fn headline_rows(a: &Report, b: &Report) -> Vec<CompareRow> {
    let ms = |v: Option<i64>| plain(v.map(|v| v as f64));
    let with = |v: Option<i64>, bound_ms: Option<i64>| Value {
        v: v.map(|v| v as f64),
        bound_ms,
    };
    vec![
        CompareRow {
            name: "scenario".into(),
            a: a.scenario.name.clone(),
            b: b.scenario.name.clone(),
            change: if a.scenario.name == b.scenario.name {
                String::new()
            } else {
                "different scenarios".into()
            },
        },
        CompareRow {
            name: "verdict".into(),
            a: verdict(a),
            b: verdict(b),
            change: String::new(),
        },
        metric(
            "RTO",
            with(a.rto_ms, rto_bound_ms(a)),
            with(b.rto_ms, rto_bound_ms(b)),
            "ms",
            Better::Lower,
        ),
        metric("outage", ms(a.outage_ms), ms(b.outage_ms), "ms", Better::Lower),
        metric(
            "RPO",
            with(a.data_loss.as_ref().map(|d| d.rpo_ms), rpo_bound_ms(a)),
            with(b.data_loss.as_ref().map(|d| d.rpo_ms), rpo_bound_ms(b)),
            "ms",
            Better::Lower,
        ),
        metric(
            "lost writes",
            plain(a.data_loss.as_ref().map(|d| d.lost_writes as f64)),
            plain(b.data_loss.as_ref().map(|d| d.lost_writes as f64)),
            "count",
            Better::Lower,
        ),
        metric(
            "availability during fault",
            plain(a.availability_during_fault),
            plain(b.availability_during_fault),
            "ratio",
            Better::Higher,
        ),
        metric(
            "p99 during fault",
            plain(a.p99_during_fault_ms),
            plain(b.p99_during_fault_ms),
            "ms",
            Better::Lower,
        ),
        metric(
            "failed probes",
            plain(Some(a.probes.failed as f64)),
            plain(Some(b.probes.failed as f64)),
            "count",
            Better::Lower,
        ),
    ]
}

/// One row per objective: those of A, then those only B has.
fn objective_rows(a: &Report, b: &Report) -> Vec<CompareRow> {
    let mut out = Vec::new();
    let mut names: Vec<&str> = a.objectives.iter().map(|o| o.name.as_str()).collect();
    for o in &b.objectives {
        if !names.contains(&o.name.as_str()) {
            names.push(&o.name);
        }
    }
    for name in names {
        let oa = a.objectives.iter().find(|o| o.name == name);
        let ob = b.objectives.iter().find(|o| o.name == name);
        let any = oa.or(ob);
        let unit = any.map_or("", |o| o.unit.as_str());
        let better = if unit == "ratio" { Better::Higher } else { Better::Lower };
        let targets: Vec<String> = [oa, ob].into_iter().flatten().map(fmt_target).collect();
        let target = if targets.len() == 2 && targets[0] != targets[1] {
            format!("{} / {}", targets[0], targets[1])
        } else {
            targets.first().cloned().unwrap_or_default()
        };
        let measured = |r: &Report, o: Option<&ObjectiveResult>| Value {
            v: o.and_then(|o| o.measured),
            bound_ms: o.and_then(|o| objective_bound_ms(r, o)),
        };
        out.push(CompareRow {
            name: format!("objective {} ({target})", objective_title(name)),
            a: objective_cell(a, oa),
            b: objective_cell(b, ob),
            change: change(measured(a, oa), measured(b, ob), unit, better),
        });
    }
    out
}

fn verdict(r: &Report) -> String {
    format!(
        "{}{}",
        r.verdict.as_str().to_uppercase(),
        if r.complete { "" } else { " (incomplete)" }
    )
}

/// The comparison as a Markdown table with aligned columns.
pub fn render(a: &Report, b: &Report) -> String {
    let head = [
        String::new(),
        format!("A: {}", a.run_id),
        format!("B: {}", b.run_id),
        "change (B − A)".to_string(),
    ];
    MarkdownTable::new(head)
        .rows(rows(a, b).into_iter().map(|r| [r.name, r.a, r.b, r.change]))
        .aligned()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::report::view::uncertain_report;

    /// RTO and RPO are compared with their ±; the change is known to within both bounds.
    #[test]
    fn comparison_prints_every_figure_with_its_uncertainty() {
        let a = uncertain_report();
        let mut b = a.clone();
        b.rto_ms = Some(2_490);
        let rows = rows(&a, &b);
        let row = |name: &str| rows.iter().find(|r| r.name == name).unwrap().clone();
        let rto = row("RTO");
        assert_eq!((rto.a.as_str(), rto.b.as_str()), ("1.99 s ± 0.12 s", "2.49 s ± 0.12 s"));
        assert_eq!(rto.change, "+0.50 s ± 0.23 s (worse)");
        let rpo = row("RPO");
        assert_eq!((rpo.a.as_str(), rpo.change.as_str()), ("1.00 s ± 0.11 s", "same"));
        let objective = rows.iter().find(|r| r.name.starts_with("objective RPO")).unwrap();
        assert_eq!(objective.a, "1.00 s ± 0.11 s ❌");
        let mut old = a.clone();
        old.uncertainty = None;
        old.rto_uncertainty_ms = None;
        old.rpo_uncertainty_ms = None;
        let rows = super::rows(&old, &b);
        let rto = rows.iter().find(|r| r.name == "RTO").unwrap();
        assert_eq!((rto.a.as_str(), rto.change.as_str()), ("1.99 s", "+500 ms (worse)"));
    }
}
