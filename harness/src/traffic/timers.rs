//! Waiting on a series of deadlines without the runtime waking itself: [`AheadTimers`].

use std::pin::Pin;
use std::time::{Duration, Instant};

use tokio::time::Sleep;

/// A wait on a known series of deadlines (probes due, log drains), on two Tokio timers
/// taking turns: while one waits for this deadline, the other is already set for the
/// next.
///
/// Tokio wakes its own thread (an eventfd write and one more `epoll_wait`) whenever a
/// timer is set earlier than every timer it holds. A single timer set again after each
/// firing always is, once per probe at low rates; when the next deadline is already
/// held, setting the fired timer for the one after is not.
pub(crate) struct AheadTimers {
    /// The timer waited on last, then the one set ahead.
    timers: [Pin<Box<Sleep>>; 2],
}

impl AheadTimers {
    /// Two timers, neither set yet.
    pub(crate) fn new() -> Self {
        let unset = || Box::pin(tokio::time::sleep(Duration::from_secs(86_400)));
        Self {
            timers: [unset(), unset()],
        }
    }

    /// A wait until `due`, with the other timer set for `then`, the deadline after it.
    /// (When the next wait turns out to be for another deadline, e.g. above 1000
    /// probes/s, that timer is set again, and Tokio may wake itself once, as before.)
    pub(crate) fn until(&mut self, due: Instant, then: Instant) -> Pin<&mut Sleep> {
        let due = tokio::time::Instant::from_std(due);
        let then = tokio::time::Instant::from_std(then);
        // The timer that was ahead waits now.
        self.timers.swap(0, 1);
        let [now, ahead] = &mut self.timers;
        if now.deadline() != due {
            now.as_mut().reset(due);
        }
        if ahead.deadline() != then {
            ahead.as_mut().reset(then);
        }
        now.as_mut()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Each wait ends at its deadline, not before; the next one is the timer already set
    /// ahead for it, not set again.
    #[tokio::test]
    async fn the_timer_set_ahead_waits_next() {
        let mut timers = AheadTimers::new();
        let start = Instant::now();
        let deadlines: Vec<Instant> = (1..=4).map(|k| start + Duration::from_millis(10 * k)).collect();
        for pair in deadlines.windows(2) {
            let (due, then) = (pair[0], pair[1]);
            let ahead_before: *const Sleep = &*timers.timers[1];
            timers.until(due, then).await;
            assert!(Instant::now() >= due, "the wait ended before its deadline");
            if due != deadlines[0] {
                let waited: *const Sleep = &*timers.timers[0];
                assert_eq!(waited, ahead_before, "the wait was not on the timer set ahead");
            }
            assert_eq!(timers.timers[1].deadline(), tokio::time::Instant::from_std(then));
        }
    }
}
