//! Unit tests of the timeline chart.

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
