//! How every report writes numbers and times: seconds, signed offsets, a measured figure
//! with its ± bound ([`with_uncertainty`]), objectives' values, targets and messages, and
//! UTC times.

use crate::report::Report;
use crate::verdict::ObjectiveResult;

/// `1234` ms as `1.23 s`.
pub fn secs(ms: i64) -> String {
    format!("{:.2} s", ms as f64 / 1000.0)
}

/// `1234` ms as `+1.23 s` (always signed).
pub fn signed_secs(ms: i64) -> String {
    let sign = if ms < 0 { "−" } else { "+" };
    format!("{sign}{:.2} s", ms.unsigned_abs() as f64 / 1000.0)
}

/// An optional duration, `—` when absent.
pub fn opt_secs(ms: Option<i64>) -> String {
    ms.map_or_else(|| "—".into(), secs)
}

/// Whether [`with_uncertainty`] writes a sign.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sign {
    /// A duration: `1.98 s ± 0.02 s`.
    Unsigned,
    /// An offset from the injection: `+1.98 s ± 0.02 s`, `−0.45 s ± 0.10 s`.
    Signed,
}

/// A measured figure with its uncertainty, the one way every report writes it:
/// `1.98 s ± 0.02 s` (RTO, RPO, the data-loss window's ends; in summary.md, junit.xml,
/// report.html, the summary printed at the end of a run, the game-day tables, the
/// history and the comparison).
///
/// - The bound is rounded **up** to the printed precision, never down: a figure is never
///   claimed more precise than it is (15 ms prints as `± 0.02 s`).
/// - The precision is 2 decimals of seconds (10 ms) — at least that, always — and 3
///   (1 ms, the resolution of the report's times) when the bound is below 10 ms, where
///   2 decimals would overstate it (3 ms is `± 0.003 s`, not `± 0.01 s`).
/// - The value is rounded (half away from zero) to the same number of decimals as the
///   bound, so the two read together.
/// - `bound_ms` `None` — a report written before the uncertainty was recorded, or a
///   figure that is exact by definition (an RPO of 0 when nothing was lost) — prints the
///   value alone, exactly as such reports always printed it: `1.98 s` (`+1.98 s`).
pub fn with_uncertainty(value_ms: i64, bound_ms: Option<i64>, sign: Sign) -> String {
    let Some(bound_ms) = bound_ms else {
        return match sign {
            Sign::Unsigned => secs(value_ms),
            Sign::Signed => signed_secs(value_ms),
        };
    };
    let bound = bound_ms.max(0).unsigned_abs();
    let (decimals, step) = if bound < 10 { (3, 1) } else { (2, 10) };
    let value = (value_ms.unsigned_abs() + step / 2) / step;
    let bound = bound.div_ceil(step);
    let scale = 10u64.pow(decimals as u32);
    let num = |n: u64| format!("{}.{:0decimals$}", n / scale, n % scale);
    let sign = match (sign, value_ms < 0) {
        (Sign::Unsigned, true) => "-",
        (Sign::Signed, true) => "−",
        (Sign::Signed, false) => "+",
        (Sign::Unsigned, false) => "",
    };
    format!("{sign}{} s ± {} s", num(value), num(bound))
}

/// A bound in fractional ms rounded up to whole ms.
pub(super) fn ceil_ms(ms: f64) -> i64 {
    ms.max(0.0).ceil() as i64
}

/// The ± bound of the report's RTO, ms (rounded up): `rto_uncertainty_ms`, else derived
/// from `uncertainty` (probe interval + `t_inject` precision + clock offset); `None` in
/// reports written before uncertainties were recorded.
pub fn rto_bound_ms(r: &Report) -> Option<i64> {
    r.rto_uncertainty_ms
        .or_else(|| r.uncertainty.map(|u| ceil_ms(u.rto_ms())))
}

/// The ± bound of the report's RPO and of the data-loss window's ends relative to the
/// injection, ms (rounded up): `rpo_uncertainty_ms`, else derived from `uncertainty`
/// (`t_inject` precision + clock offset). `None` in reports written before uncertainties
/// were recorded, and when no write was lost: the RPO is then 0 by definition, not a
/// measurement.
pub fn rpo_bound_ms(r: &Report) -> Option<i64> {
    if r.data_loss.as_ref().is_some_and(|d| d.lost_writes == 0) {
        return None;
    }
    r.rpo_uncertainty_ms
        .or_else(|| r.uncertainty.map(|u| ceil_ms(u.rpo_ms())))
}

/// The ± bound of an objective's measured value, ms: the RTO's for `rto`, the RPO's for
/// `rpo`, `None` for the others (counts and ratios carry none).
pub fn objective_bound_ms(r: &Report, o: &ObjectiveResult) -> Option<i64> {
    objective_bound(o, rto_bound_ms(r), rpo_bound_ms(r))
}

/// The ± bound of an objective's measured value given the RTO's and the RPO's bounds
/// (for rows that keep them, like a game day's).
pub fn objective_bound(o: &ObjectiveResult, rto_bound_ms: Option<i64>, rpo_bound_ms: Option<i64>) -> Option<i64> {
    match o.name.as_str() {
        "rto" => rto_bound_ms,
        "rpo" => rpo_bound_ms,
        _ => None,
    }
}

/// A value in an objective's unit, for a reader: durations in s or ms, ratios in %.
pub fn fmt_value(v: f64, unit: &str) -> String {
    match unit {
        "ms" if v.abs() >= 1000.0 => format!("{:.2} s", v / 1000.0),
        "ms" => format!("{} ms", trim_float(v, 1)),
        "ratio" => format!("{}%", trim_float(v * 100.0, 2)),
        "count" | "writes" => trim_float(v, 0),
        other => format!("{} {other}", trim_float(v, 3)),
    }
}

fn trim_float(v: f64, decimals: usize) -> String {
    let s = format!("{v:.decimals$}");
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

/// The objective's target with its comparison, e.g. `≤ 10.00 s` or `≥ 50%`.
pub fn fmt_target(o: &ObjectiveResult) -> String {
    let op = if o.unit == "ratio" { "≥" } else { "≤" };
    format!("{op} {}", fmt_value(o.target, &o.unit))
}

/// The objective's measured value, with its uncertainty when `bound_ms` is given
/// ([`objective_bound_ms`]); `not measured` when absent.
pub fn fmt_measured(o: &ObjectiveResult, bound_ms: Option<i64>) -> String {
    match (o.measured, bound_ms) {
        (None, _) => "not measured".into(),
        (Some(m), Some(b)) if o.unit == "ms" => with_uncertainty(m.round() as i64, Some(b), Sign::Unsigned),
        (Some(m), _) => fmt_value(m, &o.unit),
    }
}

/// The objective's one-sentence result. With a bound ([`objective_bound_ms`]) the
/// measured value carries its uncertainty: `RTO 1.99 s ± 0.12 s ≤ 10.00 s (8.01 s to
/// spare)`, `RPO 0.999 s ± 0.005 s > 0 ms (over by 999 ms)`; without one (older reports,
/// counts, ratios, nothing measured) it is the message the run recorded.
pub fn objective_message(o: &ObjectiveResult, bound_ms: Option<i64>) -> String {
    match (o.measured, bound_ms) {
        (Some(m), Some(_)) if o.unit == "ms" => {
            let title = objective_title(&o.name);
            let measured = fmt_measured(o, bound_ms);
            let target = fmt_value(o.target, &o.unit);
            if m <= o.target {
                let spare = fmt_value(o.target - m, &o.unit);
                format!("{title} {measured} ≤ {target} ({spare} to spare)")
            } else {
                let over = fmt_value(m - o.target, &o.unit);
                format!("{title} {measured} > {target} (over by {over})")
            }
        }
        _ => o.message.clone(),
    }
}

/// A human name for an objective id.
pub fn objective_title(name: &str) -> String {
    match name {
        "rto" => "RTO".into(),
        "rpo" => "RPO".into(),
        "lost_writes" => "lost writes".into(),
        "availability_during_fault" => "availability during the fault".into(),
        "p99_during_fault" => "p99 latency during the fault".into(),
        other => other.replace('_', " "),
    }
}

/// Unix ms as an RFC 3339 UTC time with ms (`2026-01-02T03:04:05.678Z`).
pub fn utc(unix_ms: i64) -> String {
    let t = std::time::UNIX_EPOCH + std::time::Duration::from_millis(unix_ms.max(0) as u64);
    humantime::format_rfc3339_millis(t).to_string()
}

/// Unix ms as a short UTC time (`2026-01-02 03:04:05 UTC`).
pub fn utc_short(unix_ms: i64) -> String {
    let full = utc(unix_ms);
    format!("{} UTC", full.get(..19).unwrap_or(&full).replace('T', " "))
}
