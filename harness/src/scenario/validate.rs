//! Semantic checks of a parsed [`Scenario`]: ranges, names and rules across fields.

use std::time::Duration;

use drdrill_probe_contract::ID_PLACEHOLDER;

use super::dns::{name_problem, ResolverSpec};
use super::fault::FaultSource;
use super::model::{App, Scenario};
use super::probe::RequestTemplate;
use super::target::{AwsTarget, Target};
use super::traffic::ConnectionPolicy;

/// Highest allowed traffic rate, in requests per second.
pub const MAX_RATE_PER_SECOND: f64 = 100_000.0;
/// Per-request timeouts must be below this.
pub const MAX_TIMEOUT: Duration = Duration::from_secs(600);
/// Longest scenario name.
pub const MAX_NAME_LEN: usize = 64;

/// A rule a scenario breaks: the key path and what is wrong.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Violation {
    /// Key path, e.g. `traffic.write_ratio`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

type Checked = Result<(), Violation>;

fn fail(key: impl Into<String>, message: impl Into<String>) -> Checked {
    Err(Violation {
        key: key.into(),
        message: message.into(),
    })
}

/// Checks every rule, in file order, and returns the first one broken.
pub fn validate(scenario: &Scenario) -> Checked {
    check_name(&scenario.name)?;
    check_target(&scenario.target)?;
    check_app(&scenario.app, &scenario.target)?;
    check_probe(scenario)?;
    check_traffic(scenario)?;
    match &scenario.fault.source {
        Some(source) => check_fault(source)?,
        None => check_restore_test(&scenario.fault)?,
    }
    if let Some(r) = &scenario.fault.restore {
        if let Err((key, message)) = super::restore::check(r, scenario.fault.has_disaster()) {
            return fail(key, message);
        }
    }
    check_steady_state(scenario)?;
    check_objectives(scenario)?;
    check_guardrails(scenario)?;
    check_blast_radius(scenario)?;
    check_dead_man_switch(scenario)?;
    if let Some((key, d)) = scenario.observers.as_ref().and_then(super::observers::too_short) {
        return fail(
            format!("observers.{key}"),
            format!(
                "{d} is too short; at least {}",
                super::DurationStr::new(super::MIN_CADENCE)
            ),
        );
    }
    check_timings(scenario)
}

fn check_name(name: &str) -> Checked {
    if name.is_empty() || name.len() > MAX_NAME_LEN {
        return fail("name", format!("must be 1 to {MAX_NAME_LEN} characters"));
    }
    if !name
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
    {
        return fail(
            "name",
            format!("{name:?} may only contain lowercase letters, digits and '-'"),
        );
    }
    Ok(())
}

fn check_target(target: &Target) -> Checked {
    match target {
        Target::Local { stack } => {
            if stack.as_os_str().is_empty() {
                return fail("target.local", "the stack file path is empty");
            }
            Ok(())
        }
        Target::Aws(aws) => check_aws(aws),
    }
}

fn check_aws(aws: &AwsTarget) -> Checked {
    let region_ok = !aws.region.is_empty()
        && aws
            .region
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if !region_ok {
        return fail(
            "target.aws.region",
            format!("{:?} is not an AWS region (e.g. us-east-1)", aws.region),
        );
    }
    if aws.profile.as_deref().is_some_and(str::is_empty) {
        return fail("target.aws.profile", "must not be empty; omit it for the default");
    }
    if let Some(url) = &aws.endpoint_url {
        if !(url.starts_with("http://") || url.starts_with("https://")) || url.len() < 9 {
            return fail(
                "target.aws.endpoint_url",
                format!("{url:?} is not an http:// or https:// URL"),
            );
        }
    }
    if aws.account_ids.is_empty() {
        return fail(
            "target.aws.account_ids",
            "list at least one account id the drill may touch",
        );
    }
    for (index, id) in aws.account_ids.iter().enumerate() {
        if id.len() != 12 || !id.bytes().all(|b| b.is_ascii_digit()) {
            return fail(
                format!("target.aws.account_ids[{index}]"),
                format!("{id:?} is not a 12-digit account id"),
            );
        }
    }
    Ok(())
}

fn check_app(app: &App, target: &Target) -> Checked {
    check_load_balancer(&app.load_balancer)?;
    let Some(r53) = &app.route53 else {
        return Ok(());
    };
    if let Some(problem) = name_problem(&r53.name) {
        return fail("app.route53.name", format!("{:?} {problem}", r53.name));
    }
    if r53.port == Some(0) {
        return fail(
            "app.route53.port",
            "must be 1 to 65535 (omit it for the load balancer's port)",
        );
    }
    if let (Some(ResolverSpec::Local), Target::Aws(_)) = (r53.resolver, target) {
        return fail(
            "app.route53.resolver",
            "local names the local stack's DNS server, but the target is aws: use system or IP:PORT",
        );
    }
    if let Some(ResolverSpec::Address(addr)) = r53.resolver {
        if addr.port() == 0 || addr.ip().is_unspecified() {
            return fail(
                "app.route53.resolver",
                format!("{addr} is not a DNS server address (IP:PORT, port above 0)"),
            );
        }
    }
    Ok(())
}

fn check_load_balancer(load_balancer: &str) -> Checked {
    let key = "app.load_balancer";
    let chars_ok = load_balancer.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-');
    if load_balancer.is_empty()
        || load_balancer.len() > 32
        || !chars_ok
        || load_balancer.starts_with('-')
        || load_balancer.ends_with('-')
    {
        return fail(
            key,
            format!(
                "{load_balancer:?} is not a load balancer name (1-32 letters, digits or '-', not starting or ending with '-')"
            ),
        );
    }
    Ok(())
}

fn check_request(template: &RequestTemplate, key: &str) -> Checked {
    let method_ok = !template.method.is_empty() && template.method.bytes().all(|b| b.is_ascii_uppercase());
    if !method_ok {
        return fail(
            format!("{key}.method"),
            format!("{:?} is not an HTTP method (e.g. GET, PUT, POST)", template.method),
        );
    }
    check_path(&template.path, &format!("{key}.path"))
}

fn check_path(path: &str, key: &str) -> Checked {
    if !path.starts_with('/') || path.chars().any(char::is_whitespace) {
        return fail(key, format!("{path:?} must start with '/' and contain no whitespace"));
    }
    Ok(())
}

fn check_probe(scenario: &Scenario) -> Checked {
    let probe = &scenario.probe;
    check_request(&probe.write, "probe.write")?;
    check_request(&probe.read, "probe.read")?;
    check_path(&probe.health.path, "probe.health.path")?;
    if scenario.traffic.write_ratio > 0.0 {
        if !probe.write.path_has_id() {
            return fail(
                "probe.write.path",
                format!("must contain {ID_PLACEHOLDER} so each write has its own record"),
            );
        }
        if !probe.read.path_has_id() {
            return fail(
                "probe.read.path",
                format!("must contain {ID_PLACEHOLDER} so each write can be read back"),
            );
        }
    }
    if let Some(codes) = &probe.expect_status {
        if codes.is_empty() {
            return fail(
                "probe.expect_status",
                "list at least one status code, or omit it for any 2xx",
            );
        }
        for (index, code) in codes.iter().enumerate() {
            if !(100..=599).contains(code) {
                return fail(
                    format!("probe.expect_status[{index}]"),
                    format!("{code} is not an HTTP status code (100-599)"),
                );
            }
        }
    }
    Ok(())
}

fn check_traffic(scenario: &Scenario) -> Checked {
    let traffic = &scenario.traffic;
    let per_second = traffic.rate.per_second();
    if !(per_second > 0.0 && per_second <= MAX_RATE_PER_SECOND) {
        return fail(
            "traffic.rate",
            format!("{} must be above 0 and at most {MAX_RATE_PER_SECOND}/s", traffic.rate),
        );
    }
    check_ratio("traffic.write_ratio", traffic.write_ratio, true)?;
    if traffic.timeout.is_zero() || traffic.timeout.get() >= MAX_TIMEOUT {
        return fail(
            "traffic.timeout",
            format!("{} must be above 0 and below 10m", traffic.timeout),
        );
    }
    if let ConnectionPolicy::KeepAlive { max_age } = traffic.connection {
        if max_age.is_zero() {
            return fail("traffic.connection.max_age", "must be above 0");
        }
    }
    Ok(())
}

/// `value` must be in `0..=1` (`zero_ok`) or `(0, 1]`.
fn check_ratio(key: &str, value: f64, zero_ok: bool) -> Checked {
    let ok = if zero_ok {
        (0.0..=1.0).contains(&value)
    } else {
        value > 0.0 && value <= 1.0
    };
    if !ok {
        let range = if zero_ok { "0 to 1" } else { "above 0 and at most 1" };
        return fail(key, format!("{value} is out of range (must be {range})"));
    }
    Ok(())
}

fn check_fault(source: &FaultSource) -> Checked {
    match source {
        FaultSource::TemplateFile(path) if path.as_os_str().is_empty() => {
            fail("fault.template_file", "the path is empty")
        }
        FaultSource::TemplateId(id) if id.is_empty() || !id.bytes().all(|b| b.is_ascii_alphanumeric()) => fail(
            "fault.template_id",
            format!("{id:?} is not an experiment template id (e.g. EXT123abc)"),
        ),
        _ => Ok(()),
    }
}

/// A restore test (no disaster template): the keys that only apply to a template are
/// refused rather than ignored.
fn check_restore_test(fault: &super::fault::Fault) -> Checked {
    const WHY: &str =
        "applies to the disaster template (template_file, template, template_id), and this restore test has none";
    if let Some(name) = fault.parameters.keys().next() {
        return fail(format!("fault.parameters.{name}"), WHY);
    }
    if fault.accept_unreverted {
        return fail("fault.accept_unreverted", WHY);
    }
    if fault.accept_beyond_max_fault_duration {
        return fail("fault.accept_beyond_max_fault_duration", WHY);
    }
    Ok(())
}

fn check_steady_state(scenario: &Scenario) -> Checked {
    let steady = &scenario.steady_state;
    check_ratio("steady_state.success_ratio", steady.success_ratio, false)?;
    if steady.p99.is_some_and(|p| p.is_zero()) {
        return fail("steady_state.p99", "must be above 0");
    }
    Ok(())
}

fn check_objectives(scenario: &Scenario) -> Checked {
    let objectives = &scenario.objectives;
    if objectives.is_empty() {
        return fail(
            "objectives",
            "set at least one of rto, rpo, lost_writes, availability_during_fault, p99_during_fault",
        );
    }
    if let Some(ratio) = objectives.availability_during_fault {
        check_ratio("objectives.availability_during_fault", ratio, true)?;
    }
    if objectives.p99_during_fault.is_some_and(|p| p.is_zero()) {
        return fail("objectives.p99_during_fault", "must be above 0");
    }
    Ok(())
}

fn check_guardrails(scenario: &Scenario) -> Checked {
    let Some(guardrails) = &scenario.guardrails else {
        return Ok(());
    };
    check_ratio(
        "guardrails.abort_when_success_below",
        guardrails.abort_when_success_below,
        false,
    )?;
    if guardrails.for_duration.is_zero() {
        return fail("guardrails.for", "must be above 0");
    }
    Ok(())
}

fn check_blast_radius(scenario: &Scenario) -> Checked {
    let Some(blast) = &scenario.blast_radius else {
        return Ok(());
    };
    if blast.max_targets.is_none() && blast.max_percent.is_none() && blast.allowed_azs.is_none() {
        return fail(
            "blast_radius",
            "set at least one of max_targets, max_percent, allowed_azs (or omit the section)",
        );
    }
    if blast.max_targets == Some(0) {
        return fail(
            "blast_radius.max_targets",
            "0 would refuse every fault; it must be at least 1",
        );
    }
    if let Some(percent) = blast.max_percent {
        if !(1..=100).contains(&percent) {
            return fail(
                "blast_radius.max_percent",
                format!("{percent} is out of range (must be 1 to 100)"),
            );
        }
    }
    if let Some(zones) = &blast.allowed_azs {
        if zones.is_empty() {
            return fail("blast_radius.allowed_azs", "list at least one availability zone");
        }
        for (index, zone) in zones.iter().enumerate() {
            let zone_ok = zone.len() >= 3
                && zone
                    .bytes()
                    .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
                && zone.bytes().last().is_some_and(|b| b.is_ascii_lowercase());
            if !zone_ok {
                return fail(
                    format!("blast_radius.allowed_azs[{index}]"),
                    format!("{zone:?} is not an availability zone name (e.g. us-east-1a)"),
                );
            }
        }
    }
    Ok(())
}

fn check_dead_man_switch(scenario: &Scenario) -> Checked {
    // Absent means on, with the defaults.
    let switch = scenario.dead_man_switch.clone().unwrap_or_default();
    if !switch.enabled {
        return Ok(());
    }
    let every = switch.heartbeat_every.get();
    if every.is_zero() || every.subsec_nanos() != 0 {
        return fail(
            "dead_man_switch.heartbeat_every",
            format!(
                "{} must be a whole number of seconds, at least 1 s",
                switch.heartbeat_every
            ),
        );
    }
    let after = switch.fires_after.get();
    if after.subsec_nanos() != 0 || !after.as_secs().is_multiple_of(every.as_secs()) || after < every * 2 {
        return fail(
            "dead_man_switch.fires_after",
            format!(
                "{} must be a whole number of heartbeat periods ({}), at least two, so that one late heartbeat does not end the fault",
                switch.fires_after, switch.heartbeat_every
            ),
        );
    }
    if matches!(scenario.fault.source, Some(FaultSource::TemplateId(_))) {
        return fail(
            "dead_man_switch",
            "a fault given by template_id cannot get the switch's stop condition (drdrill does not change templates it did not create): use template or template_file, or set dead_man_switch: { enabled: false }",
        );
    }
    Ok(())
}

fn check_timings(scenario: &Scenario) -> Checked {
    let timings = &scenario.timings;
    if timings.stable_for.is_zero() {
        return fail("timings.stable_for", "must be above 0");
    }
    if timings.max_fault_duration.is_zero() {
        return fail("timings.max_fault_duration", "must be above 0");
    }
    if timings.recovery_timeout < timings.stable_for {
        return fail(
            "timings.recovery_timeout",
            format!(
                "{} is shorter than timings.stable_for ({}); recovery can never be confirmed",
                timings.recovery_timeout, timings.stable_for
            ),
        );
    }
    Ok(())
}
