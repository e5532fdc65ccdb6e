//! A single-threaded Tokio runtime that runs on a thread of its own: the prober's (so
//! that nothing else of the process delays the probe schedule and no probe pays for
//! waking another worker thread) and the probe log writer's (so that writing never waits
//! for a turn among the probes).

use std::future::Future;

use tokio::sync::oneshot;

use super::TrafficError;

/// A single-threaded runtime, until its thread takes it. Dropped without
/// running (a failed start), it shuts down without blocking, so that it may be dropped
/// inside another runtime.
pub(crate) struct ThreadRuntime {
    runtime: Option<tokio::runtime::Runtime>,
    pub(crate) handle: tokio::runtime::Handle,
}

impl ThreadRuntime {
    /// A single-threaded runtime with I/O and timers.
    pub(crate) fn new() -> Result<Self, TrafficError> {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .map_err(TrafficError::Thread)?;
        Ok(Self {
            handle: runtime.handle().clone(),
            runtime: Some(runtime),
        })
    }

    /// Makes the runtime the current one (for `tokio::spawn`) until the guard drops.
    pub(crate) fn enter(&self) -> tokio::runtime::EnterGuard<'_> {
        self.handle.enter()
    }

    /// Runs `work` to its end on a new thread named `name`, then the runtime's leftovers
    /// are dropped there; the result comes back through the receiver.
    pub(crate) fn run_until<T: Send + 'static>(
        self,
        name: &str,
        work: impl Future<Output = T> + Send + 'static,
    ) -> Result<oneshot::Receiver<T>, TrafficError> {
        let (tx, rx) = oneshot::channel();
        // Should the thread not start, the closure drops this without blocking.
        let mut slot = self;
        std::thread::Builder::new()
            .name(name.to_owned())
            .spawn(move || {
                if let Some(runtime) = slot.runtime.take() {
                    let finished = runtime.block_on(work);
                    // The stopping handle may have gone away: nobody to tell.
                    let _ = tx.send(finished);
                }
            })
            .map_err(TrafficError::Thread)?;
        Ok(rx)
    }
}

impl Drop for ThreadRuntime {
    fn drop(&mut self) {
        if let Some(runtime) = self.runtime.take() {
            runtime.shutdown_background();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The work runs on the runtime's own thread, and its result comes back.
    #[tokio::test]
    async fn runs_the_work_on_its_own_thread() {
        let caller = std::thread::current().id();
        let runtime = ThreadRuntime::new().expect("runtime");
        let spawned = {
            let _entered = runtime.enter();
            tokio::spawn(async { std::thread::current().name().map(str::to_owned) })
        };
        let done = runtime
            .run_until(
                "drdrill-prober",
                async move { (std::thread::current().id(), spawned.await) },
            )
            .expect("thread");
        let (thread, spawned_on) = done.await.expect("the result comes back");
        assert_ne!(thread, caller);
        assert_eq!(spawned_on.expect("joined").as_deref(), Some("drdrill-prober"));
    }

    /// A runtime that never ran can be dropped inside another one (a failed start):
    /// dropping a Tokio runtime there would panic.
    #[tokio::test]
    async fn an_unstarted_runtime_drops_inside_another() {
        let runtime = ThreadRuntime::new().expect("runtime");
        let _entered = runtime.enter();
        drop(_entered);
        drop(runtime);
    }
}
