//! The one bounded wait of the tests: poll a condition until it holds or a limit passes.

use std::future::Future;
use std::time::{Duration, Instant};

/// How often a condition is checked.
const POLL: Duration = Duration::from_millis(5);

/// Polls `condition` every 5 ms until it holds or `limit` passes; returns whether it
/// held. A condition that needs no `.await` returns `std::future::ready(..)`.
pub async fn wait_until<F, Fut>(limit: Duration, mut condition: F) -> bool
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    let deadline = Instant::now() + limit;
    loop {
        if condition().await {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        tokio::time::sleep(POLL).await;
    }
}

/// [`wait_until`], failing the test when `condition` does not hold within `limit`;
/// `what` names what was awaited.
pub async fn wait_for<F, Fut>(what: &str, limit: Duration, condition: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    assert!(
        wait_until(limit, condition).await,
        "timed out after {limit:?} waiting for {what}"
    );
}

/// [`wait_until`] for a test that is not async: polls `condition` on a runtime of its own.
pub fn wait_until_blocking(limit: Duration, mut condition: impl FnMut() -> bool) -> bool {
    tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .expect("a runtime")
        .block_on(wait_until(limit, || std::future::ready(condition())))
}
