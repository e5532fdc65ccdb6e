//! AWS Backup's schedule expressions: `cron(Minutes Hours Day-of-month Month Day-of-week
//! Year)`, in UTC, with the Quartz-style fields AWS documents for EventBridge schedule
//! expressions (day of week 1–7 = SUN–SAT, `?` in one of the two day fields, `L`, `W`,
//! `#`, `1/10` steps). A backup rule without one uses AWS's default, `cron(0 5 ? * * *)`.
//!
//! Both sides use it: the local stack to run a plan's rules, and the harness's coverage
//! gate to know how old a resource's newest recovery point may be.
//!
//! AWS: <https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupRule.html>
//! (ScheduleExpression) and
//! <https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-scheduled-rule-pattern.html>
//! (the cron fields).

use chrono::{DateTime, Utc};
use croner::parser::{CronParser, Seconds, Year};
use croner::Cron;

/// AWS Backup's schedule when a rule gives none.
pub const DEFAULT_EXPRESSION: &str = "cron(0 5 ? * * *)";

/// AWS Backup's start window when a rule gives none: 8 hours, in minutes.
pub const DEFAULT_START_WINDOW_MINUTES: i64 = 480;

/// AWS Backup's completion window when a rule gives none: 7 days, in minutes.
pub const DEFAULT_COMPLETION_WINDOW_MINUTES: i64 = 10_080;

/// A schedule expression that cannot be used, and why.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// Not of the form `cron(...)`.
    #[error("{expression:?} is not a cron(...) expression (AWS Backup takes cron expressions only)")]
    NotCron {
        /// The expression as given.
        expression: String,
    },
    /// `cron(...)` without its six fields.
    #[error("{expression:?} has {found} fields; AWS cron expressions have six: Minutes Hours Day-of-month Month Day-of-week Year")]
    FieldCount {
        /// The expression as given.
        expression: String,
        /// How many fields it has.
        found: usize,
    },
    /// Six fields, but not a valid pattern.
    #[error("{expression:?} is not a valid cron expression: {reason}")]
    Invalid {
        /// The expression as given.
        expression: String,
        /// What the parser found wrong.
        reason: String,
    },
}

/// A parsed schedule: when a backup rule starts its jobs.
#[derive(Debug, Clone)]
pub struct Schedule {
    expression: String,
    cron: Cron,
}

impl Schedule {
    /// Parses `cron(m h dom month dow year)`; surrounding spaces are ignored.
    pub fn parse(expression: &str) -> Result<Schedule, ScheduleError> {
        let text = expression.trim();
        let fields = text
            .strip_prefix("cron(")
            .and_then(|rest| rest.strip_suffix(')'))
            .ok_or_else(|| ScheduleError::NotCron {
                expression: expression.to_string(),
            })?;
        let parts: Vec<&str> = fields.split_whitespace().collect();
        if parts.len() != 6 {
            return Err(ScheduleError::FieldCount {
                expression: expression.to_string(),
                found: parts.len(),
            });
        }
        if parts[2] != "?" && parts[4] != "?" {
            return Err(ScheduleError::Invalid {
                expression: expression.to_string(),
                reason: "one of Day-of-month and Day-of-week must be `?`".into(),
            });
        }
        let parser = CronParser::builder()
            .seconds(Seconds::Required)
            .year(Year::Required)
            .alternative_weekdays(true)
            .sloppy_ranges(true)
            .build();
        let cron = parser
            .parse(&format!("0 {}", parts.join(" ")))
            .map_err(|e| ScheduleError::Invalid {
                expression: expression.to_string(),
                reason: e.to_string(),
            })?;
        Ok(Schedule {
            expression: text.to_string(),
            cron,
        })
    }

    /// The expression as written.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The first firing strictly after `unix_ms` (epoch milliseconds), if the schedule has one.
    pub fn next_after(&self, unix_ms: i64) -> Option<i64> {
        let t = DateTime::<Utc>::from_timestamp_millis(unix_ms)?;
        self.cron
            .find_next_occurrence(&t, false)
            .ok()
            .map(|d| d.timestamp_millis())
    }

    /// The last firing strictly before `unix_ms`, if the schedule had one.
    pub fn previous_before(&self, unix_ms: i64) -> Option<i64> {
        let t = DateTime::<Utc>::from_timestamp_millis(unix_ms)?;
        self.cron
            .find_previous_occurrence(&t, false)
            .ok()
            .map(|d| d.timestamp_millis())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-12-07T00:00:00Z, a Monday.
    const MONDAY: i64 = 1_796_601_600_000;
    const HOUR: i64 = 3_600_000;

    #[test]
    fn the_documented_examples_fire_when_aws_says() {
        // AWS's examples: "15 * ? * * *" every hour at 15 past; "0 12 * * ? *" every day at noon UTC.
        let hourly = Schedule::parse("cron(15 * ? * * *)").unwrap();
        assert_eq!(hourly.next_after(MONDAY), Some(MONDAY + HOUR / 4));
        assert_eq!(hourly.next_after(MONDAY + HOUR / 4), Some(MONDAY + HOUR + HOUR / 4));
        let noon = Schedule::parse("cron(0 12 * * ? *)").unwrap();
        assert_eq!(noon.next_after(MONDAY), Some(MONDAY + 12 * HOUR));
        assert_eq!(noon.previous_before(MONDAY + 12 * HOUR), Some(MONDAY - 12 * HOUR));
        let default = Schedule::parse(DEFAULT_EXPRESSION).unwrap();
        assert_eq!(default.next_after(MONDAY), Some(MONDAY + 5 * HOUR));
    }

    #[test]
    fn day_of_week_counts_sunday_as_one() {
        // Quartz weekdays, as AWS documents: 2 = MON, so from Monday 00:00 the next is a week on.
        let mondays = Schedule::parse("cron(0 0 ? * 2 *)").unwrap();
        assert_eq!(mondays.next_after(MONDAY), Some(MONDAY + 7 * 24 * HOUR));
        let sundays = Schedule::parse("cron(0 0 ? * SUN *)").unwrap();
        assert_eq!(sundays.next_after(MONDAY), Some(MONDAY + 6 * 24 * HOUR));
    }

    #[test]
    fn malformed_expressions_say_what_is_wrong() {
        assert!(matches!(
            Schedule::parse("rate(1 hour)"),
            Err(ScheduleError::NotCron { .. })
        ));
        assert!(matches!(
            Schedule::parse("cron(0 5 * * *)"),
            Err(ScheduleError::FieldCount { found: 5, .. })
        ));
        assert!(matches!(
            Schedule::parse("cron(0 5 * * * *)"),
            Err(ScheduleError::Invalid { .. })
        ));
        assert!(matches!(
            Schedule::parse("cron(61 5 ? * * *)"),
            Err(ScheduleError::Invalid { .. })
        ));
    }
}
