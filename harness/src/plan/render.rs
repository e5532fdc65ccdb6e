//! The plan as text, for `drdrill plan` and the start of `drdrill run`.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use super::{DnsEntry, Plan, PlannedAction};

/// The plan as text for `drdrill plan` and the start of `drdrill run`: the load balancer
/// (and the Route 53 name), the targets per zone, the fault's actions and what they hit,
/// and what AWS would reject.
pub fn render(plan: &Plan) -> String {
    let mut s = String::new();
    let lb = &plan.load_balancer;
    let _ = writeln!(s, "scenario {}", plan.scenario);
    let _ = writeln!(
        s,
        "load balancer {} → {} ({}; listener {}:{})",
        lb.name, lb.base_url, lb.arn, plan.listener.protocol, plan.listener.port
    );
    if let Some(d) = &plan.dns {
        render_dns(&mut s, d);
    }
    render_targets(&mut s, plan);
    match &plan.existing_template_id {
        Some(id) => {
            let _ = writeln!(s, "fault: existing experiment template {id}");
        }
        None if plan.template.is_null() => {
            let _ = writeln!(
                s,
                "fault: none (a restore test: no disaster template, nothing injected; the restore job starts after the baseline and its creation is t_inject)"
            );
        }
        None => {
            let _ = writeln!(s, "fault: experiment template created for the run");
        }
    }
    for a in &plan.actions {
        render_action(&mut s, a);
    }
    if let Some(r) = &plan.restore {
        super::restore::render(&mut s, r);
    }
    if !plan.aws_rejections.is_empty() {
        let _ = writeln!(s, "AWS would reject ({}):", plan.aws_rejections.len());
        for r in &plan.aws_rejections {
            let _ = writeln!(s, "  {r}");
        }
    }
    s
}

/// The Route 53 name's lines: where it leads, its zone and health checks.
fn render_dns(s: &mut String, d: &DnsEntry) {
    let _ = writeln!(
        s,
        "app by Route 53 name → {} (resolver {}: {}; answers {})",
        d.base_url,
        d.resolver,
        d.nameserver(),
        d.answers.join(", ")
    );
    let checks = if d.route53.health_check_ids.is_empty() {
        "none".to_string()
    } else {
        d.route53.health_check_ids.join(", ")
    };
    let _ = writeln!(
        s,
        "  hosted zone {}; health checks of its records: {checks}",
        match (&d.route53.zone_name, &d.route53.zone_id) {
            (Some(n), Some(id)) => format!("{n} ({id})"),
            _ => "not found in this account".to_string(),
        }
    );
}

/// The targets, one line per zone.
fn render_targets(s: &mut String, plan: &Plan) {
    let mut by_zone: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for t in &plan.targets {
        by_zone
            .entry(t.zone.as_deref().unwrap_or("?"))
            .or_default()
            .push(format!("{} [{}]", t.id, t.health));
    }
    let _ = writeln!(s, "targets ({}):", plan.targets.len());
    for (zone, ts) in by_zone {
        let _ = writeln!(s, "  {zone}: {}", ts.join(", "));
    }
}

/// One action's line, and what its target hits.
fn render_action(s: &mut String, a: &PlannedAction) {
    let after = if a.start_after.is_empty() {
        String::new()
    } else {
        format!(" after {}", a.start_after.join(", "))
    };
    let params: Vec<String> = a.parameters.iter().map(|(k, v)| format!("{k}={v}")).collect();
    let _ = writeln!(s, "  action {} ({}){after} {}", a.name, a.action_id, params.join(" "));
    let Some(t) = &a.target else {
        return;
    };
    let mode = a.selection.as_deref().unwrap_or("ALL");
    let picked = if !a.previewed || mode == "ALL" {
        String::new()
    } else if a.selected == 0 && !a.resources.is_empty() {
        format!(
            " (selects 0 of {}: FIS would find no target and the experiment would fail)",
            a.resources.len()
        )
    } else {
        format!(" ({} of {} chosen at random)", a.selected, a.resources.len())
    };
    let _ = writeln!(
        s,
        "    hits {mode} {} of {t}{picked}: {}",
        a.resource_type.as_deref().unwrap_or("?"),
        if a.hits.is_empty() {
            "nothing".to_string()
        } else {
            a.hits.join(", ")
        }
    );
}
