//! The compressed clock of AWS Backup in the local stack: a stack file's
//! `backup.time_factor` N makes N seconds of AWS time pass per real second, so that a
//! daily plan runs every few seconds. Schedules, start and completion windows and
//! lifecycle days are read in AWS time; everything the API answers (creation, completion,
//! `CalculatedLifecycle`) is the real wall clock at which it happens.

use crate::backup_model::schedule::{Schedule, DEFAULT_EXPRESSION};
use crate::config::BackupConfig;

/// Milliseconds in a day.
pub const DAY_MS: i64 = 86_400_000;

/// AWS time against real time: AWS time is `aws0` at real time `real0` (when the stack
/// started) and runs `factor` times faster.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct AwsClock {
    /// The real moment (unix ms) the clock starts from: when the stack started.
    pub real0: i64,
    /// The AWS time (unix ms) at `real0`.
    pub aws0: i64,
    /// Seconds of AWS time per real second (1 on AWS itself).
    pub factor: f64,
}

impl AwsClock {
    /// A clock agreeing with real time at `real0`, running `factor` times faster.
    pub fn new(real0: i64, factor: f64) -> AwsClock {
        AwsClock::starting_at(real0, real0, factor)
    }

    /// A clock reading `aws0` at real time `real0`, running `factor` times faster.
    pub fn starting_at(real0: i64, aws0: i64, factor: f64) -> AwsClock {
        AwsClock { real0, aws0, factor }
    }

    /// The AWS time (unix ms) at real time `real_ms`.
    pub fn to_aws(&self, real_ms: i64) -> i64 {
        self.aws0 + ((real_ms - self.real0) as f64 * self.factor).round() as i64
    }

    /// The real time (unix ms) at which AWS time reaches `aws_ms`.
    pub fn to_real(&self, aws_ms: i64) -> i64 {
        self.real0 + ((aws_ms - self.aws0) as f64 / self.factor).ceil() as i64
    }

    /// A span of AWS time as real milliseconds.
    pub fn real_span(&self, aws_ms: i64) -> i64 {
        (aws_ms as f64 / self.factor).round() as i64
    }
}

/// How long after the stack starts the first rule fires with `first_backup_at_start`
/// (real time: long enough for the plans to be created before it comes).
pub const FIRST_FIRING_AFTER_MS: f64 = 20.0;

/// The compressed clock from real time `now`: AWS time equal to it, or (with
/// `first_backup_at_start`) [`FIRST_FIRING_AFTER_MS`] of real time before the first
/// rule's next firing.
pub fn start_clock(config: Option<&BackupConfig>, now: i64) -> AwsClock {
    let Some(c) = config else {
        return AwsClock::new(now, 1.0);
    };
    let first = c
        .plans
        .first()
        .and_then(|p| p.plan.rules.first())
        .filter(|_| c.first_backup_at_start)
        .and_then(|r| Schedule::parse(r.schedule_expression.as_deref().unwrap_or(DEFAULT_EXPRESSION)).ok())
        .and_then(|s| s.next_after(now));
    let lead = (FIRST_FIRING_AFTER_MS * c.time_factor).round() as i64;
    AwsClock::starting_at(now, first.map_or(now, |t| t - lead), c.time_factor)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// With factor 900 an AWS hour is 4 real seconds, and the two conversions invert each other.
    #[test]
    fn an_aws_hour_at_factor_900_is_four_real_seconds() {
        let c = AwsClock::new(1_000_000, 900.0);
        assert_eq!(c.real_span(3_600_000), 4_000);
        assert_eq!(c.to_aws(1_004_000), 1_000_000 + 3_600_000);
        assert_eq!(c.to_real(c.to_aws(1_004_000)), 1_004_000);
        assert_eq!(c.real_span(DAY_MS), 96_000);
    }

    /// A clock started at another AWS time keeps the rate and inverts as well.
    #[test]
    fn a_clock_may_start_at_another_aws_time() {
        let c = AwsClock::starting_at(1_000_000, 5_000_000, 10.0);
        assert_eq!(c.to_aws(1_000_000), 5_000_000);
        assert_eq!(c.to_aws(1_000_100), 5_001_000);
        assert_eq!(c.to_real(5_001_000), 1_000_100);
    }
}
