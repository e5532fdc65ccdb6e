//! How old a rule's newest recovery point may be: the longest gap between two consecutive
//! firings of its schedule, plus its start window and its completion window — AWS Backup
//! may start a job up to `StartWindowMinutes` after the scheduled time and let it run
//! until `CompletionWindowMinutes` after that
//! (<https://docs.aws.amazon.com/aws-backup/latest/devguide/API_BackupRule.html>). All in
//! AWS time; divided by the time factor for the wall clock.

use drdrill_localstack::backup::schedule::Schedule;

/// How far ahead of now the schedule's firings are examined for the longest gap: a bit
/// over a year, so that monthly and yearly schedules show their real gaps.
pub const HORIZON_MS: i64 = 400 * 86_400_000;

/// At most this many firings are examined (an hourly schedule has 9,600 in the horizon).
pub const MAX_FIRINGS: usize = 20_000;

/// A rule's age bound, in AWS time, and what it is made of.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
pub struct AgeBound {
    /// Longest gap between consecutive firings, ms of AWS time.
    pub gap_ms: i64,
    /// Start window, ms.
    pub start_window_ms: i64,
    /// Completion window, ms.
    pub completion_window_ms: i64,
}

impl AgeBound {
    /// The bound in AWS time, ms.
    pub fn total_ms(&self) -> i64 {
        self.gap_ms + self.start_window_ms + self.completion_window_ms
    }

    /// The bound on the wall clock, ms, at `time_factor` seconds of AWS time per second.
    pub fn wall_ms(&self, time_factor: f64) -> i64 {
        (self.total_ms() as f64 / time_factor).round() as i64
    }
}

/// Why a rule's bound cannot be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum BoundError {
    /// The schedule expression does not parse.
    #[error("{0}")]
    Schedule(String),
    /// Fewer than two firings within the horizon: no gap to bound the age with.
    #[error("schedule {0} fires less than twice in the next 400 days, so no recovery point age can be required")]
    Rare(String),
}

/// The longest gap between consecutive firings of `expression` in the [`HORIZON_MS`]
/// after `from_ms` (AWS time, unix ms), over at most [`MAX_FIRINGS`] firings.
pub fn longest_gap_ms(expression: &str, from_ms: i64) -> Result<i64, BoundError> {
    let schedule = Schedule::parse(expression).map_err(|e| BoundError::Schedule(e.to_string()))?;
    let Some(first) = schedule.next_after(from_ms) else {
        return Err(BoundError::Rare(expression.to_string()));
    };
    let (mut prev, mut longest, mut seen) = (first, None::<i64>, 1usize);
    while seen < MAX_FIRINGS {
        let Some(next) = schedule.next_after(prev) else {
            break;
        };
        if next - first > HORIZON_MS {
            // The gap that crosses the horizon still counts: it is a real gap.
            longest = Some(longest.map_or(next - prev, |l| l.max(next - prev)));
            break;
        }
        longest = Some(longest.map_or(next - prev, |l| l.max(next - prev)));
        prev = next;
        seen += 1;
    }
    longest.ok_or_else(|| BoundError::Rare(expression.to_string()))
}

/// The age bound of a rule with this schedule and these windows (minutes), judged from
/// `from_ms` (AWS time).
pub fn age_bound(
    expression: &str,
    start_window_minutes: i64,
    completion_window_minutes: i64,
    from_ms: i64,
) -> Result<AgeBound, BoundError> {
    Ok(AgeBound {
        gap_ms: longest_gap_ms(expression, from_ms)?,
        start_window_ms: start_window_minutes * 60_000,
        completion_window_ms: completion_window_minutes * 60_000,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2026-01-05T00:00:00Z, a Monday.
    const MONDAY: i64 = 1_767_571_200_000;
    const HOUR: i64 = 3_600_000;
    const DAY: i64 = 24 * HOUR;

    /// The gaps of AWS's documented example schedules: hourly (1 h), daily at 05:00 UTC
    /// (AWS's default; 1 day), weekdays only (the weekend makes it 3 days), monthly on
    /// the 1st (31 days, the longest month).
    #[test]
    fn longest_gaps_of_documented_schedules() {
        assert_eq!(longest_gap_ms("cron(0 * ? * * *)", MONDAY).unwrap(), HOUR);
        assert_eq!(longest_gap_ms("cron(0 5 ? * * *)", MONDAY).unwrap(), DAY);
        assert_eq!(longest_gap_ms("cron(0 5 ? * MON-FRI *)", MONDAY).unwrap(), 3 * DAY);
        assert_eq!(longest_gap_ms("cron(0 5 1 * ? *)", MONDAY).unwrap(), 31 * DAY);
    }

    /// A schedule that fires once a year still has a gap (365 or 366 days); one that
    /// never fires again has none.
    #[test]
    fn rare_schedules() {
        let gap = longest_gap_ms("cron(0 5 1 1 ? *)", MONDAY).unwrap();
        assert!(gap == 365 * DAY || gap == 366 * DAY, "{gap}");
        assert!(matches!(
            longest_gap_ms("cron(0 5 1 1 ? 2020)", MONDAY),
            Err(BoundError::Rare(_))
        ));
        assert!(matches!(
            longest_gap_ms("rate(1 hour)", MONDAY),
            Err(BoundError::Schedule(_))
        ));
    }

    /// The bound adds both windows; the wall clock divides by the time factor.
    #[test]
    fn bound_adds_windows_and_scales() {
        let b = age_bound("cron(0 * ? * * *)", 60, 120, MONDAY).unwrap();
        assert_eq!(b.total_ms(), HOUR + 3 * HOUR);
        assert_eq!(b.wall_ms(1.0), 4 * HOUR);
        assert_eq!(b.wall_ms(3600.0), 4_000);
    }
}
