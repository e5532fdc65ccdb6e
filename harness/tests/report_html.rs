//! `report.html` as text: self-contained, escaped, complete, deterministic, and
//! tolerant of older reports (see `report_browser.rs` for the real browser).

mod support;

use support::fixtures::report;

/// Nothing in the page can make the browser fetch anything: no script, stylesheet,
/// image, font or frame reference, and a Content-Security-Policy that forbids them.
#[test]
fn page_is_self_contained() {
    let html = drdrill::report::html::render(&report("az-power-interruption")).unwrap();
    let lower = html.to_lowercase();
    for forbidden in [
        "<script", "<link", "<img", "<iframe", "src=", "@import", "url(", "https://",
    ] {
        assert!(!lower.contains(forbidden), "found {forbidden}");
    }
    // The only http: URLs are XML namespaces of the inline SVG.
    for (i, _) in lower.match_indices("http://") {
        let tail = &lower[i..];
        assert!(
            tail.starts_with("http://www.w3.org/"),
            "{}",
            &tail[..60.min(tail.len())]
        );
    }
    assert!(html.contains(r#"content="default-src 'none'; style-src 'unsafe-inline'""#));
}

/// The page carries the timeline SVG with the fault window, every objective with its
/// result, the recovery breakdown, data loss and the scenario used.
#[test]
fn page_has_timeline_objectives_and_scenario() {
    let r = report("db-failover-async");
    let html = drdrill::report::html::render(&r).unwrap();
    assert_eq!(html.matches("<svg").count(), 1, "one timeline");
    assert!(html.contains("fault window"), "legend names the fault window");
    assert!(html.contains("data-loss window"));
    let (fr, fg, fb) = drdrill::report::chart::FAULT_RGB;
    assert!(
        html.contains(&format!("#{fr:02X}{fg:02X}{fb:02X}")),
        "fault window drawn"
    );
    for o in &r.objectives {
        let row = format!(r#"data-objective="{}""#, o.name);
        let at = html.find(&row).unwrap_or_else(|| panic!("row for {}", o.name));
        let rest = &html[at..at + 400];
        assert!(rest.contains(if o.pass { ">pass<" } else { ">fail<" }), "{rest}");
    }
    assert!(html.contains("db-failover-async.yaml</code>"), "scenario file named");
    assert!(html.contains("aws:rds:failover-db-cluster"), "plan actions listed");
    assert!(html.contains(r#"data-verdict="fail""#));
    assert!(!html.contains(r#"id="incomplete""#));
}

/// Text from the report is escaped, so a hostile description cannot inject markup.
#[test]
fn report_text_is_escaped() {
    let mut r = report("az-power-interruption");
    r.scenario.description = Some("<script>alert(1)</script> & co".into());
    let html = drdrill::report::html::render(&r).unwrap();
    assert!(!html.contains("<script>alert(1)"));
    assert!(html.contains("&lt;script&gt;alert(1)&lt;&#x2f;script&gt; &amp; co"));
}

/// Rendering the same report twice gives the same bytes (nothing depends on the clock).
#[test]
fn rendering_is_deterministic() {
    let r = report("az-power-interruption");
    for f in drdrill::report::Format::ALL {
        assert_eq!(f.render(&r).unwrap(), f.render(&r).unwrap(), "{}", f.as_str());
    }
}

/// A killed run's page shows the incomplete banner and still draws what was recorded.
#[test]
fn killed_run_page_is_marked_incomplete() {
    let html = drdrill::report::html::render(&report("killed-mid-fault")).unwrap();
    assert!(html.contains(r#"id="incomplete""#));
    assert!(html.contains(r#"data-complete="false""#));
    assert!(html.contains("stopped in <em>observe</em>"));
    assert!(html.contains("<svg"));
}

/// A report.json written before per-interval `served_by` existed still loads and
/// renders, saying the zone data is missing.
#[test]
fn report_without_served_by_still_renders() {
    let (_tmp, dir) = support::fixtures::copy_fixture("az-power-interruption");
    let path = dir.join("report.json");
    let mut v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
    for p in v["timeline"].as_array_mut().unwrap() {
        p.as_object_mut().unwrap().remove("served_by");
    }
    v["probes"]["by_served_by"] = serde_json::json!({});
    v.as_object_mut().unwrap().remove("rto_breakdown");
    std::fs::write(&path, serde_json::to_string(&v).unwrap()).unwrap();
    let r = drdrill::report::load_run(&dir).unwrap().report;
    assert!(r.timeline.iter().all(|p| p.served_by.is_empty()));
    let html = drdrill::report::html::render(&r).unwrap();
    assert!(html.contains("no served-by data in this report"));
}
