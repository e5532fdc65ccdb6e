//! Test hooks, compiled in only with the `test-hooks` cargo feature (which the package's
//! own tests turn on through a dev-dependency on itself; a plain `cargo build` leaves it
//! off): `DRDRILL_TEST_PANIC=<point>` makes the run panic at that point (`observe`: the
//! run's own task; `task`: a task it spawns), so that tests can prove a panic still
//! stops the experiment. Without the feature the hooks are empty and the variable is
//! ignored.

/// Whether `DRDRILL_TEST_PANIC` names `point`.
#[cfg(feature = "test-hooks")]
fn test_panic_at(point: &str) -> bool {
    std::env::var("DRDRILL_TEST_PANIC").is_ok_and(|p| p == point)
}

/// `DRDRILL_TEST_PANIC=task`: spawns a task that panics.
pub(super) fn panic_in_a_task() {
    #[cfg(feature = "test-hooks")]
    if test_panic_at("task") {
        tokio::spawn(async { panic!("DRDRILL_TEST_PANIC=task") });
    }
}

/// `DRDRILL_TEST_PANIC=observe`: panics in the caller's task.
pub(super) fn panic_here() {
    #[cfg(feature = "test-hooks")]
    if test_panic_at("observe") {
        panic!("DRDRILL_TEST_PANIC=observe");
    }
}

#[cfg(test)]
mod tests;
