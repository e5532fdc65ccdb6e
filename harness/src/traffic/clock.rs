//! The run clock: one monotonic origin paired with the matching wall-clock time.
//!
//! Everything measured in a run is taken from the monotonic clock (immune to
//! wall-clock steps) and reported as unix time through one fixed pairing, so
//! that all components of a run agree on the timeline.

use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

/// A monotonic `Instant` paired with the unix time it corresponds to.
///
/// Cheap to copy; every part of a run shares the same clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RunClock {
    origin: Instant,
    origin_unix_us: i64,
}

impl RunClock {
    /// Captures the current instant and the current unix time.
    pub fn start() -> Self {
        let origin = Instant::now();
        Self::from_parts(origin, SystemTime::now())
    }

    /// Pairs `origin` with `unix` (useful in tests and for replay).
    pub fn from_parts(origin: Instant, unix: SystemTime) -> Self {
        let origin_unix_us = match unix.duration_since(UNIX_EPOCH) {
            Ok(d) => duration_us(d),
            Err(e) => -duration_us(e.duration()),
        };
        Self { origin, origin_unix_us }
    }

    /// The monotonic origin.
    pub fn origin(&self) -> Instant {
        self.origin
    }

    /// The unix time of the origin, in microseconds.
    pub fn origin_unix_us(&self) -> i64 {
        self.origin_unix_us
    }

    /// `at` as unix microseconds.
    pub fn unix_us(&self, at: Instant) -> i64 {
        match at.checked_duration_since(self.origin) {
            Some(after) => self.origin_unix_us.saturating_add(duration_us(after)),
            None => self
                .origin_unix_us
                .saturating_sub(duration_us(self.origin.duration_since(at))),
        }
    }

    /// `at` as unix milliseconds (floored).
    pub fn unix_ms(&self, at: Instant) -> i64 {
        self.unix_us(at).div_euclid(1000)
    }

    /// The current time as unix milliseconds.
    pub fn now_unix_ms(&self) -> i64 {
        self.unix_ms(Instant::now())
    }

    /// The current time as unix microseconds.
    pub fn now_unix_us(&self) -> i64 {
        self.unix_us(Instant::now())
    }

    /// The instant at unix microsecond `unix_us`; saturates at the origin when
    /// the platform cannot represent an instant that far before it.
    pub fn instant_at_unix_us(&self, unix_us: i64) -> Instant {
        let delta = unix_us.saturating_sub(self.origin_unix_us);
        let magnitude = Duration::from_micros(delta.unsigned_abs());
        if delta >= 0 {
            self.origin + magnitude
        } else {
            self.origin.checked_sub(magnitude).unwrap_or(self.origin)
        }
    }

    /// The instant at unix millisecond `unix_ms` (see [`Self::instant_at_unix_us`]).
    pub fn instant_at_unix_ms(&self, unix_ms: i64) -> Instant {
        self.instant_at_unix_us(unix_ms.saturating_mul(1000))
    }
}

/// A duration in whole microseconds, saturating at `i64::MAX`.
fn duration_us(d: Duration) -> i64 {
    i64::try_from(d.as_micros()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_between_instants_and_unix_time() {
        let origin = Instant::now();
        let unix = UNIX_EPOCH + Duration::from_millis(1_700_000_000_123);
        let clock = RunClock::from_parts(origin, unix);
        assert_eq!(clock.unix_ms(origin), 1_700_000_000_123);
        let later = origin + Duration::from_micros(2_500);
        assert_eq!(clock.unix_us(later), 1_700_000_000_125_500);
        assert_eq!(clock.unix_ms(later), 1_700_000_000_125);
        assert_eq!(clock.instant_at_unix_us(1_700_000_000_125_500), later);
        assert_eq!(clock.instant_at_unix_ms(1_700_000_000_123), origin);
    }
}
