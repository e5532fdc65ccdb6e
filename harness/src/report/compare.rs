//! `drdrill report --compare RUN_A RUN_B`: two runs side by side, the headline numbers
//! and then objective by objective, with the change from A to B and whether it is
//! better or worse. The output is a Markdown table (readable in a terminal too).

use super::view::{fmt_target, fmt_value, objective_title};
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

fn change(a: Option<f64>, b: Option<f64>, unit: &str, better: Better) -> String {
    match (a, b) {
        (Some(a), Some(b)) if (a - b).abs() < 1e-9 => "same".into(),
        (Some(a), Some(b)) => {
            let d = b - a;
            let sign = if d > 0.0 { "+" } else { "−" };
            let good = match better {
                Better::Lower => d < 0.0,
                Better::Higher => d > 0.0,
            };
            format!(
                "{sign}{} ({})",
                fmt_value(d.abs(), unit),
                if good { "better" } else { "worse" }
            )
        }
        (None, Some(_)) | (Some(_), None) => "not comparable".into(),
        (None, None) => String::new(),
    }
}

fn value(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "—".into(), |v| fmt_value(v, unit))
}

fn metric(name: &str, a: Option<f64>, b: Option<f64>, unit: &str, better: Better) -> CompareRow {
    CompareRow {
        name: name.into(),
        a: value(a, unit),
        b: value(b, unit),
        change: change(a, b, unit, better),
    }
}

fn objective_cell(o: Option<&ObjectiveResult>) -> String {
    match o {
        None => "not set".into(),
        Some(o) => format!(
            "{} {}",
            o.measured
                .map_or_else(|| "not measured".into(), |m| fmt_value(m, &o.unit)),
            if o.pass { "✅" } else { "❌" }
        ),
    }
}

/// The compared rows: headline numbers, then the objectives of A, then those only B has.
pub fn rows(a: &Report, b: &Report) -> Vec<CompareRow> {
    let ms = |v: Option<i64>| v.map(|v| v as f64);
    let mut out = vec![
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
        metric("RTO", ms(a.rto_ms), ms(b.rto_ms), "ms", Better::Lower),
        metric("outage", ms(a.outage_ms), ms(b.outage_ms), "ms", Better::Lower),
        metric(
            "RPO",
            ms(a.data_loss.as_ref().map(|d| d.rpo_ms)),
            ms(b.data_loss.as_ref().map(|d| d.rpo_ms)),
            "ms",
            Better::Lower,
        ),
        metric(
            "lost writes",
            a.data_loss.as_ref().map(|d| d.lost_writes as f64),
            b.data_loss.as_ref().map(|d| d.lost_writes as f64),
            "count",
            Better::Lower,
        ),
        metric(
            "availability during fault",
            a.availability_during_fault,
            b.availability_during_fault,
            "ratio",
            Better::Higher,
        ),
        metric(
            "p99 during fault",
            a.p99_during_fault_ms,
            b.p99_during_fault_ms,
            "ms",
            Better::Lower,
        ),
        metric(
            "failed probes",
            Some(a.probes.failed as f64),
            Some(b.probes.failed as f64),
            "count",
            Better::Lower,
        ),
    ];
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
        out.push(CompareRow {
            name: format!("objective {} ({target})", objective_title(name)),
            a: objective_cell(oa),
            b: objective_cell(ob),
            change: change(oa.and_then(|o| o.measured), ob.and_then(|o| o.measured), unit, better),
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
    let rows = rows(a, b);
    let head = [
        String::new(),
        format!("A: {}", a.run_id),
        format!("B: {}", b.run_id),
        "change (B − A)".to_string(),
    ];
    let all: Vec<[String; 4]> = std::iter::once(head)
        .chain(rows.into_iter().map(|r| [r.name, r.a, r.b, r.change]))
        .collect();
    let widths: Vec<usize> = (0..4)
        .map(|c| all.iter().map(|r| r[c].chars().count()).max().unwrap_or(0).max(3))
        .collect();
    let line = |cells: &[String]| {
        let padded: Vec<String> = cells
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c}{}", " ".repeat(w - c.chars().count())))
            .collect();
        format!("| {} |\n", padded.join(" | "))
    };
    let mut out = line(&all[0]);
    out.push_str(&line(&widths.iter().map(|w| "-".repeat(*w)).collect::<Vec<_>>()));
    for r in &all[1..] {
        out.push_str(&line(r));
    }
    out
}
