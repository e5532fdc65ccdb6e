//! The gate's outcome: how many (resource, rule) pairs were checked and what is wrong,
//! each finding naming the resource ARN, the plan and the rule; and its text for
//! `drdrill plan`.

use std::fmt;

use serde::Serialize;

use super::model::Lifecycle;

/// How old a recovery point may be, in real milliseconds, and where that comes from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub struct Allowed {
    /// The longest gap between two consecutive firings of the schedule.
    pub gap_ms: i64,
    /// The rule's start window.
    pub start_window_ms: i64,
    /// The rule's completion window.
    pub completion_window_ms: i64,
    /// AWS seconds per real second the spans were divided by.
    #[serde(skip)]
    pub time_factor: f64,
}

impl Eq for Allowed {}

impl Allowed {
    /// The whole bound: gap + start window + completion window.
    pub fn total_ms(&self) -> i64 {
        self.gap_ms + self.start_window_ms + self.completion_window_ms
    }
}

impl fmt::Display for Allowed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} (schedule gap {} + start window {} + completion window {}",
            span(self.total_ms()),
            span(self.gap_ms),
            span(self.start_window_ms),
            span(self.completion_window_ms)
        )?;
        if self.time_factor != 1.0 {
            write!(f, ", AWS time ÷ {}", self.time_factor)?;
        }
        f.write_str(")")
    }
}

/// What is wrong.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Problem {
    /// The vault holds no completed recovery point of the resource.
    NoRecoveryPoint {
        /// The vault's region.
        region: String,
        /// The vault.
        vault: String,
        /// Whether the vault is a copy action's destination.
        copy: bool,
        /// How old the newest may be.
        allowed: Allowed,
    },
    /// The newest completed recovery point is older than allowed.
    TooOld {
        /// The vault's region.
        region: String,
        /// The vault.
        vault: String,
        /// Whether the vault is a copy action's destination.
        copy: bool,
        /// The newest recovery point.
        recovery_point: String,
        /// Its age, real milliseconds.
        age_ms: i64,
        /// How old it may be.
        allowed: Allowed,
    },
    /// A recovery point's lifecycle is not the rule's (or the copy action's).
    LifecycleDiffers {
        /// The recovery point.
        recovery_point: String,
        /// Its lifecycle.
        #[serde(skip)]
        found: Lifecycle,
        /// The rule's.
        #[serde(skip)]
        expected: Lifecycle,
    },
    /// A recovery point is still there after its `DeleteAfterDays`.
    PastRetention {
        /// The recovery point.
        recovery_point: String,
        /// Its age, real milliseconds.
        age_ms: i64,
        /// The rule's `DeleteAfterDays`.
        delete_after_days: i64,
        /// That, in real milliseconds.
        limit_ms: i64,
    },
    /// A copy action's destination is not a backup vault ARN.
    BadCopyDestination {
        /// The ARN given.
        arn: String,
    },
    /// The rule's schedule cannot be evaluated.
    BadSchedule {
        /// Why.
        reason: String,
    },
    /// A selection covers no resource.
    SelectionEmpty {
        /// The selection's name.
        selection: String,
    },
    /// A plan the objective names does not exist.
    PlanMissing,
}

impl fmt::Display for Problem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let which = |copy: &bool| if *copy { "copy vault" } else { "vault" };
        match self {
            Problem::NoRecoveryPoint {
                region,
                vault,
                copy,
                allowed,
            } => write!(
                f,
                "no completed recovery point in {} {vault} ({region}); one no older than {allowed} is required",
                which(copy)
            ),
            Problem::TooOld {
                region,
                vault,
                copy,
                recovery_point,
                age_ms,
                allowed,
            } => write!(
                f,
                "newest recovery point in {} {vault} ({region}) is {} old, allowed {allowed}: {recovery_point}",
                which(copy),
                span(*age_ms)
            ),
            Problem::LifecycleDiffers {
                recovery_point,
                found,
                expected,
            } => write!(f, "retention differs: {recovery_point} has {found}, the plan says {expected}"),
            Problem::PastRetention {
                recovery_point,
                age_ms,
                delete_after_days,
                limit_ms,
            } => write!(
                f,
                "{recovery_point} is {} old, past DeleteAfterDays {delete_after_days} ({}), and not deleted",
                span(*age_ms),
                span(*limit_ms)
            ),
            Problem::BadCopyDestination { arn } => write!(f, "copy destination {arn} is not a backup vault ARN"),
            Problem::BadSchedule { reason } => write!(f, "schedule: {reason}"),
            Problem::SelectionEmpty { selection } => write!(f, "selection {selection} covers no resource"),
            Problem::PlanMissing => f.write_str("no backup plan of this name"),
        }
    }
}

/// One failure of the gate.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The resource's ARN (none for a plan-level finding).
    pub resource: Option<String>,
    /// The plan's name.
    pub plan: String,
    /// The rule's name (none for a plan-level finding).
    pub rule: Option<String>,
    /// What is wrong.
    pub problem: Problem,
}

impl Finding {
    /// A finding about a resource under a plan's rule.
    pub fn resource(arn: &str, plan: &str, rule: &str, problem: Problem) -> Finding {
        Finding {
            resource: Some(arn.to_string()),
            plan: plan.to_string(),
            rule: Some(rule.to_string()),
            problem,
        }
    }

    /// A finding about a plan (or one of its rules) as a whole.
    pub fn plan_level(plan: &str, rule: Option<&str>, problem: Problem) -> Finding {
        Finding {
            resource: None,
            plan: plan.to_string(),
            rule: rule.map(str::to_string),
            problem,
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(r) = &self.resource {
            write!(f, "{r}: ")?;
        }
        write!(f, "plan {}", self.plan)?;
        if let Some(rule) = &self.rule {
            write!(f, ", rule {rule}")?;
        }
        write!(f, ": {}", self.problem)
    }
}

/// The gate's outcome.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Verdict {
    /// How many (resource, rule) pairs were checked.
    pub checked: usize,
    /// What is wrong; the gate passes when empty.
    pub findings: Vec<Finding>,
}

impl Verdict {
    /// Whether the gate passes.
    pub fn passed(&self) -> bool {
        self.findings.is_empty()
    }

    /// The `drdrill plan` section: a headline, then one line per finding.
    pub fn render(&self) -> String {
        use std::fmt::Write as _;
        let mut s = String::new();
        if self.passed() {
            let _ = writeln!(s, "backup coverage: passed ({} resource rule(s) checked)", self.checked);
        } else {
            let _ = writeln!(
                s,
                "backup coverage: FAILED ({} finding(s), {} resource rule(s) checked)",
                self.findings.len(),
                self.checked
            );
        }
        for f in &self.findings {
            let _ = writeln!(s, "  {f}");
        }
        s
    }
}

/// A span of real milliseconds as text (`850 ms`, `16.0 s`, `2.5 h`, `8.3 d`).
fn span(ms: i64) -> String {
    let s = ms as f64 / 1000.0;
    match ms.abs() {
        0..=999 => format!("{ms} ms"),
        1_000..=5_999_999 => format!("{s:.1} s"),
        6_000_000..=172_799_999 => format!("{:.1} h", s / 3600.0),
        _ => format!("{:.1} d", s / 86_400.0),
    }
}
