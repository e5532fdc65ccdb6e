//! Verdicts: each objective checked against what was measured, the run's verdict, and
//! its exit code (the codes are [`crate::exit_codes`]'). A missed objective is an
//! outcome, not an error.

use serde::{Deserialize, Serialize};

use crate::scenario::Objectives;

pub use crate::exit_codes::{EXIT_ABORTED, EXIT_ERROR, EXIT_FAIL, EXIT_PASS};

/// The outcome of a run.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    /// Every objective met.
    Pass,
    /// At least one objective missed.
    Fail,
    /// Stopped by a guardrail, a signal or the fault-duration cap.
    Aborted,
    /// Could not be carried out.
    Error,
}

impl Verdict {
    /// The process exit code for this verdict.
    pub fn exit_code(self) -> i32 {
        match self {
            Verdict::Pass => EXIT_PASS,
            Verdict::Fail => EXIT_FAIL,
            Verdict::Error => EXIT_ERROR,
            Verdict::Aborted => EXIT_ABORTED,
        }
    }

    /// Lower-case name.
    pub fn as_str(self) -> &'static str {
        match self {
            Verdict::Pass => "pass",
            Verdict::Fail => "fail",
            Verdict::Aborted => "aborted",
            Verdict::Error => "error",
        }
    }
}

/// The verdict of a run that got to check its objectives: `error` (with the reason) when
/// the measurement is degraded — numbers from a prober that could not keep its schedule
/// are no evidence either way — else `pass` when every objective was met, `fail` otherwise.
pub fn of_checked(objectives: &[ObjectiveResult], degraded: Option<&str>) -> (Verdict, Option<String>) {
    match degraded {
        Some(why) => (Verdict::Error, Some(format!("measurement degraded: {why}"))),
        None if objectives.iter().all(|o| o.pass) => (Verdict::Pass, None),
        None => (Verdict::Fail, None),
    }
}

/// One objective's result.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ObjectiveResult {
    /// `rto`, `rpo`, `lost_writes`, `availability_during_fault`, `p99_during_fault`.
    pub name: String,
    /// The target, in the objective's unit (ms, count or ratio).
    pub target: f64,
    /// What was measured; `None` when it could not be (e.g. never recovered).
    pub measured: Option<f64>,
    /// Unit of target and measured: `ms`, `count` or `ratio`.
    pub unit: String,
    /// Whether it was met.
    pub pass: bool,
    /// One sentence: by how much it was met or missed.
    pub message: String,
}

/// What the objectives are checked against.
#[derive(Debug, Clone, Default)]
pub struct Measured {
    /// Measured RTO, ms (None: never recovered).
    pub rto_ms: Option<i64>,
    /// Measured RPO, ms.
    pub rpo_ms: Option<i64>,
    /// Lost writes.
    pub lost_writes: Option<u64>,
    /// Success ratio between injection and the end of the experiment.
    pub availability_during_fault: Option<f64>,
    /// p99 latency between injection and the end of the experiment, ms.
    pub p99_during_fault_ms: Option<f64>,
}

fn at_most(name: &str, unit: &str, target: f64, measured: Option<f64>) -> ObjectiveResult {
    let (pass, message) = match measured {
        None => (
            false,
            format!("{name} could not be measured (target ≤ {target} {unit})"),
        ),
        Some(m) if m <= target => (
            true,
            format!("{name} {m} {unit} ≤ {target} {unit} ({} {unit} to spare)", target - m),
        ),
        Some(m) => (
            false,
            format!("{name} {m} {unit} > {target} {unit} (over by {} {unit})", m - target),
        ),
    };
    ObjectiveResult {
        name: name.into(),
        target,
        measured,
        unit: unit.into(),
        pass,
        message,
    }
}

fn at_least(name: &str, target: f64, measured: Option<f64>) -> ObjectiveResult {
    let (pass, message) = match measured {
        None => (false, format!("{name} could not be measured (target ≥ {target})")),
        Some(m) if m >= target => (true, format!("{name} {m:.4} ≥ {target}")),
        Some(m) => (false, format!("{name} {m:.4} < {target} (short by {:.4})", target - m)),
    };
    ObjectiveResult {
        name: name.into(),
        target,
        measured,
        unit: "ratio".into(),
        pass,
        message,
    }
}

/// Checks every objective the scenario sets.
pub fn check(objectives: &Objectives, m: &Measured) -> Vec<ObjectiveResult> {
    let ms = |d: &crate::scenario::DurationStr| d.get().as_millis() as f64;
    let mut out = Vec::new();
    if let Some(t) = &objectives.rto {
        out.push(at_most("rto", "ms", ms(t), m.rto_ms.map(|v| v as f64)));
    }
    if let Some(t) = &objectives.rpo {
        out.push(at_most("rpo", "ms", ms(t), m.rpo_ms.map(|v| v as f64)));
    }
    if let Some(t) = objectives.lost_writes {
        out.push(at_most(
            "lost_writes",
            "writes",
            t as f64,
            m.lost_writes.map(|v| v as f64),
        ));
    }
    if let Some(t) = objectives.availability_during_fault {
        out.push(at_least("availability_during_fault", t, m.availability_during_fault));
    }
    if let Some(t) = &objectives.p99_during_fault {
        out.push(at_most("p99_during_fault", "ms", ms(t), m.p99_during_fault_ms));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    /// Objectives pass or fail by comparison with the measured value, and say by how much.
    #[test]
    fn objectives_compare_and_explain() {
        let o = Objectives {
            rto: Some(Duration::from_secs(10).into()),
            rpo: Some(Duration::ZERO.into()),
            lost_writes: Some(0),
            availability_during_fault: Some(0.9),
            p99_during_fault: None,
            backup_coverage: None,
        };
        let m = Measured {
            rto_ms: Some(12_000),
            rpo_ms: Some(0),
            lost_writes: Some(3),
            availability_during_fault: Some(0.95),
            p99_during_fault_ms: None,
        };
        let r = check(&o, &m);
        assert_eq!(r.len(), 4);
        assert!(!r[0].pass && r[0].message.contains("over by 2000"));
        assert!(r[1].pass);
        assert!(!r[2].pass);
        assert!(r[3].pass);
        let never = check(&o, &Measured { rto_ms: None, ..m });
        assert!(!never[0].pass && never[0].measured.is_none());
    }

    /// A degraded measurement is an error (exit 2) with the reason, whether its objectives
    /// passed or failed; otherwise the objectives decide.
    #[test]
    fn a_degraded_measurement_is_never_a_pass() {
        let o = Objectives {
            rto: Some(Duration::from_secs(10).into()),
            ..Default::default()
        };
        let pass = check(
            &o,
            &Measured {
                rto_ms: Some(1_000),
                ..Default::default()
            },
        );
        let fail = check(
            &o,
            &Measured {
                rto_ms: Some(11_000),
                ..Default::default()
            },
        );
        assert_eq!(of_checked(&pass, None), (Verdict::Pass, None));
        assert_eq!(of_checked(&fail, None), (Verdict::Fail, None));
        for r in [&pass, &fail] {
            let (v, why) = of_checked(r, Some("3 probes not sent"));
            assert_eq!(v, Verdict::Error);
            assert_eq!(v.exit_code(), EXIT_ERROR);
            assert_eq!(why.as_deref(), Some("measurement degraded: 3 probes not sent"));
        }
    }
}
