//! Test hooks, in debug builds only: `DRDRILL_TEST_PANIC=<point>` makes the run panic at
//! that point (`observe`: the run's own task; `task`: a task it spawns), so that tests
//! can prove a panic still stops the experiment.

/// Whether `DRDRILL_TEST_PANIC` names `point`.
fn test_panic_at(point: &str) -> bool {
    cfg!(debug_assertions) && std::env::var("DRDRILL_TEST_PANIC").is_ok_and(|p| p == point)
}

/// `DRDRILL_TEST_PANIC=task`: spawns a task that panics.
pub(super) fn panic_in_a_task() {
    if test_panic_at("task") {
        tokio::spawn(async { panic!("DRDRILL_TEST_PANIC=task") });
    }
}

/// `DRDRILL_TEST_PANIC=observe`: panics in the caller's task.
pub(super) fn panic_here() {
    if test_panic_at("observe") {
        panic!("DRDRILL_TEST_PANIC=observe");
    }
}
