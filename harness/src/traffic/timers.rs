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
    timers: [Pin<Box<Sleep>>; 2],
    current: usize,
}

impl AheadTimers {
    /// Two timers, neither set yet.
    pub(crate) fn new() -> Self {
        let unset = || Box::pin(tokio::time::sleep(Duration::from_secs(86_400)));
        Self {
            timers: [unset(), unset()],
            current: 0,
        }
    }

    /// A wait until `due`, with the other timer set for `then`, the deadline after it.
    /// (When the next wait turns out to be for another deadline, e.g. above 1000
    /// probes/s, that timer is set again, and Tokio may wake itself once, as before.)
    pub(crate) fn until(&mut self, due: Instant, then: Instant) -> Pin<&mut Sleep> {
        let due = tokio::time::Instant::from_std(due);
        let then = tokio::time::Instant::from_std(then);
        // The timer that was ahead waits now.
        self.current ^= 1;
        let [first, second] = &mut self.timers;
        let (now, ahead) = if self.current == 0 {
            (first, second)
        } else {
            (second, first)
        };
        if now.deadline() != due {
            now.as_mut().reset(due);
        }
        if ahead.deadline() != then {
            ahead.as_mut().reset(then);
        }
        now.as_mut()
    }
}
