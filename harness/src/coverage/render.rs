//! The gate's findings as sentences, its section of `drdrill plan`, and its result as an
//! objective (`backup_coverage`) beside the run's others.

use std::fmt::{self, Write as _};

use super::check::{Coverage, Finding, Problem};
use crate::verdict::ObjectiveResult;

/// A duration on the wall clock, ms, as `1h 2m 3s` or `850ms` (humantime's form).
fn dur(ms: i64) -> String {
    let ms = ms.max(0) as u64;
    let rounded = if ms >= 10_000 { ms / 1000 * 1000 } else { ms };
    humantime::format_duration(std::time::Duration::from_millis(rounded)).to_string()
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.resource {
            Some(r) => write!(f, "resource {r}, plan {}, rule {}", self.plan, self.rule)?,
            None => write!(f, "plan {}, rule {}", self.plan, self.rule)?,
        }
        if let Some(to) = &self.copy_to {
            write!(f, ", copy to {to}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Problem::NoRecoveryPoint { vault } => write!(f, "no COMPLETED recovery point in vault {vault}"),
            Problem::TooOld {
                vault,
                recovery_point,
                age_ms,
                allowed_ms,
                bound,
            } => write!(
                f,
                "newest recovery point in vault {vault} is {} old, allowed {} (schedule gap {} + start window {} + completion window {}, AWS time): {recovery_point}",
                dur(*age_ms),
                dur(*allowed_ms),
                dur(bound.gap_ms),
                dur(bound.start_window_ms),
                dur(bound.completion_window_ms)
            ),
            Problem::Retention {
                recovery_point,
                found,
                expected,
            } => write!(
                f,
                "retention differs from the plan: recovery point {recovery_point} has {}, the plan says {}",
                found.map_or("no lifecycle".to_string(), |l| l.to_string()),
                expected.map_or("no lifecycle".to_string(), |l| l.to_string())
            ),
            Problem::Overdue {
                recovery_point,
                age_aws_ms,
                delete_after_days,
            } => write!(
                f,
                "recovery point {recovery_point} is {} old (AWS time) but should have been deleted after {delete_after_days} days",
                dur(*age_aws_ms)
            ),
            Problem::VaultMissing { vault, error } => write!(f, "vault {vault} cannot be listed: {error}"),
            Problem::Schedule { reason } => write!(f, "{reason}"),
            Problem::BadDestination { arn } => write!(f, "copy destination {arn} is not a backup vault ARN"),
            Problem::EmptySelection { selection } => write!(f, "selection {selection} covers no resource"),
        }
    }
}

/// The coverage section of `drdrill plan`: each resource checked with its newest recovery
/// point's age and the bound, then the findings (or that there are none).
pub fn render(c: &Coverage) -> String {
    let mut s = String::new();
    let _ = writeln!(
        s,
        "backup coverage: {} ({} resource check(s), {} finding(s))",
        if c.pass() { "pass" } else { "FAIL" },
        c.checked.len(),
        c.findings.len()
    );
    for k in &c.checked {
        let age = match (k.age_ms, k.allowed_ms) {
            (Some(a), Some(b)) => format!("newest {} old, allowed {}", dur(a), dur(b)),
            (Some(a), None) => format!("newest {} old", dur(a)),
            _ => "no recovery point".to_string(),
        };
        let _ = writeln!(s, "  {} / {}: {} — {age}", k.plan, k.rule, k.resource);
    }
    for f in &c.findings {
        let _ = writeln!(s, "  FAIL {f}");
    }
    s
}

/// The gate as the `backup_coverage` objective: the number of findings against a target
/// of none.
pub fn objective_result(c: &Coverage) -> ObjectiveResult {
    let n = c.findings.len();
    ObjectiveResult {
        name: "backup_coverage".to_string(),
        target: 0.0,
        measured: Some(n as f64),
        unit: "count".to_string(),
        pass: n == 0,
        message: match c.findings.first() {
            None => format!(
                "every one of {} resource check(s) has a recent enough recovery point",
                c.checked.len()
            ),
            Some(first) if n == 1 => format!("1 finding: {first}"),
            Some(first) => format!("{n} findings, the first: {first}"),
        },
    }
}
