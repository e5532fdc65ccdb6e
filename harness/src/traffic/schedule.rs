//! The open-loop schedule: when request `k` is due, independent of responses.

use std::time::{Duration, Instant};

/// Request `k` is due at `start + k / rate`.
#[derive(Debug, Clone, Copy)]
pub struct Schedule {
    start: Instant,
    rate_per_sec: f64,
}

impl Schedule {
    /// A schedule of `rate_per_sec` requests per second starting at `start`.
    /// `rate_per_sec` must be positive and finite (checked by the config).
    pub fn new(start: Instant, rate_per_sec: f64) -> Self {
        Self { start, rate_per_sec }
    }

    /// When the first request is due.
    pub fn start(&self) -> Instant {
        self.start
    }

    /// When request `k` (0-based) is due.
    pub fn at(&self, k: u64) -> Instant {
        // f64 holds integers exactly up to 2^53: far beyond any drill.
        self.start + Duration::from_secs_f64(k as f64 / self.rate_per_sec)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn requests_are_evenly_spaced() {
        let start = Instant::now();
        let s = Schedule::new(start, 200.0);
        assert_eq!(s.at(0), start);
        assert_eq!(s.at(1) - start, Duration::from_millis(5));
        assert_eq!(s.at(200) - start, Duration::from_secs(1));
    }
}
