//! Unit tests of the view and of how figures are written.

use super::figures::ceil_ms;
use super::*;

/// The value is printed to the bound's precision — 2 decimals of seconds, 3 when the
/// bound is under 10 ms — and the bound is rounded up, never down.
#[test]
fn a_figure_is_printed_with_its_bound_rounded_up() {
    let f = |v, b| with_uncertainty(v, Some(b), Sign::Unsigned);
    assert_eq!(f(1_980, 20), "1.98 s ± 0.02 s");
    assert_eq!(f(450, 100), "0.45 s ± 0.10 s");
    assert_eq!(f(1_984, 15), "1.98 s ± 0.02 s", "15 ms rounds up to 0.02 s");
    assert_eq!(f(1_984, 11), "1.98 s ± 0.02 s", "11 ms rounds up, not to 0.01 s");
    assert_eq!(f(1_985, 10), "1.99 s ± 0.01 s", "the value rounds half up");
    assert_eq!(f(1_984, 9), "1.984 s ± 0.009 s", "under 10 ms: ms precision");
    assert_eq!(f(1_984, 0), "1.984 s ± 0.000 s");
    assert_eq!(f(0, 115), "0.00 s ± 0.12 s");
    assert_eq!(f(41_500, 1_234), "41.50 s ± 1.24 s");
    assert_eq!(f(3_600_004, 20), "3600.00 s ± 0.02 s");
    assert_eq!(f(1_980, -5), "1.980 s ± 0.000 s", "a negative bound is no bound");
}

/// Offsets from the injection carry their sign (a true minus for negative ones).
#[test]
fn an_offset_is_signed() {
    let f = |v, b| with_uncertainty(v, b, Sign::Signed);
    assert_eq!(f(1_980, Some(20)), "+1.98 s ± 0.02 s");
    assert_eq!(f(-999, Some(105)), "−1.00 s ± 0.11 s");
    assert_eq!(f(-19, Some(105)), "−0.02 s ± 0.11 s");
    assert_eq!(f(-19, None), "−0.02 s");
    assert_eq!(f(0, None), "+0.00 s");
}

/// A report written before uncertainties were recorded prints the value alone, as it
/// always did.
#[test]
fn without_a_bound_the_value_is_printed_alone() {
    assert_eq!(with_uncertainty(1_984, None, Sign::Unsigned), "1.98 s");
    assert_eq!(with_uncertainty(1_984, None, Sign::Unsigned), secs(1_984));
    assert_eq!(with_uncertainty(1_984, None, Sign::Signed), signed_secs(1_984));
}

/// The bounds come from the report's rounded-up fields, else from what they are made
/// of; none for old reports, and none for an RPO of 0 with nothing lost.
#[test]
fn bounds_come_from_the_report() {
    let mut r = uncertain_report();
    assert_eq!((rto_bound_ms(&r), rpo_bound_ms(&r)), (Some(115), Some(105)));
    r.rto_uncertainty_ms = None;
    r.rpo_uncertainty_ms = None;
    assert_eq!(
        (rto_bound_ms(&r), rpo_bound_ms(&r)),
        (Some(115), Some(105)),
        "114.2 ms and 104.2 ms rounded up"
    );
    r.uncertainty = None;
    assert_eq!((rto_bound_ms(&r), rpo_bound_ms(&r)), (None, None), "an old report");
    let mut r = uncertain_report();
    if let Some(d) = r.data_loss.as_mut() {
        d.lost_writes = 0;
        d.rpo_ms = 0;
    }
    assert_eq!(rpo_bound_ms(&r), None, "nothing lost: RPO is exactly 0");
    assert_eq!(rto_bound_ms(&r), Some(115));
}

/// RTO and RPO objectives say their measured value with its uncertainty and keep
/// saying by how much they were met or missed; the others keep the run's message.
#[test]
fn objectives_carry_the_uncertainty() {
    let r = uncertain_report();
    let by = |name: &str| r.objectives.iter().find(|o| o.name == name).unwrap();
    let (rto, rpo, lost) = (by("rto"), by("rpo"), by("lost_writes"));
    assert_eq!(fmt_measured(rto, objective_bound_ms(&r, rto)), "1.99 s ± 0.12 s");
    assert_eq!(
        objective_message(rto, objective_bound_ms(&r, rto)),
        "RTO 1.99 s ± 0.12 s ≤ 10.00 s (8.01 s to spare)"
    );
    assert_eq!(
        objective_message(rpo, objective_bound_ms(&r, rpo)),
        "RPO 1.00 s ± 0.11 s > 0 ms (over by 999 ms)"
    );
    assert_eq!(objective_bound_ms(&r, lost), None);
    assert_eq!(objective_message(lost, None), lost.message);
    assert_eq!(fmt_measured(rto, None), "1.99 s", "old reports");
    assert_eq!(objective_message(rto, None), rto.message);
}

/// The view writes the headline numbers, the data-loss window's ends and the
/// recovery moment (the RTO) with their bounds.
#[test]
fn the_view_writes_rto_rpo_and_the_window_with_their_bounds() {
    let r = uncertain_report();
    let v = View::new(&r);
    assert_eq!(v.rto(), "1.99 s ± 0.12 s");
    assert_eq!(v.rpo(), "1.00 s ± 0.11 s");
    assert_eq!(v.data_loss_window(), "−1.00 s ± 0.11 s → −0.02 s ± 0.11 s");
    let recovered = v.moments.iter().find(|m| m.label.contains("recovered")).unwrap();
    assert_eq!(recovered.bound_ms, Some(115));
    assert!(v.moments.iter().filter(|m| m.bound_ms.is_some()).count() == 1);
}

/// A real report (the fixture run of `db-failover-async`: RTO 1.99 s, RPO 0.999 s, 70
/// writes lost from −0.999 s to −0.019 s) with the uncertainty a run records: probes every
/// 10 ms, `t_inject` to within the 100 ms polling interval, a clock offset within 4.2 ms.
pub(crate) fn uncertain_report() -> Report {
    let mut r: Report = serde_json::from_str(include_str!(concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/tests/fixtures/reports/db-failover-async/report.json"
    )))
    .expect("fixture report.json");
    let u = crate::analysis::Uncertainty {
        probe_interval_ms: 10.0,
        t_inject_ms: 100.0,
        clock_offset_ms: 4.2,
    };
    r.uncertainty = Some(u);
    r.rto_uncertainty_ms = Some(ceil_ms(u.rto_ms()));
    r.rpo_uncertainty_ms = Some(ceil_ms(u.rpo_ms()));
    r
}
