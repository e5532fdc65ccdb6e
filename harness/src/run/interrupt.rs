//! Interruption: the request to stop a run early (a signal, or a panic in any task), as
//! a cancellation the phases `select!` on, with the reason the report gives.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use tokio_util::sync::CancellationToken;

/// A request to stop the run early (a signal, or a failure such as a panic in any task),
/// with its reason. Clones share the request: the signal listener triggers it, the run
/// waits on [`Interrupt::cancelled`].
#[derive(Clone, Default)]
pub struct Interrupt {
    token: CancellationToken,
    reason: Arc<Mutex<Option<String>>>,
    failure: Arc<AtomicBool>,
}

impl Interrupt {
    /// A fresh, untriggered interrupt.
    pub fn new() -> Interrupt {
        Interrupt::default()
    }

    /// Asks the run to stop (`SIGINT`, `SIGTERM`, ...). The first reason given is kept.
    pub fn trigger(&self, reason: &str) {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        r.get_or_insert_with(|| reason.to_string());
        self.token.cancel();
    }

    /// Asks the run to stop because something failed (a panic in a task): the
    /// experiment is stopped as for a signal, and the verdict is `error` (exit 2).
    pub fn fail(&self, reason: &str) {
        let mut r = self.reason.lock().unwrap_or_else(|p| p.into_inner());
        if r.is_none() {
            *r = Some(reason.to_string());
            self.failure.store(true, Ordering::SeqCst);
        }
        self.token.cancel();
    }

    /// Whether it was triggered, and why.
    pub fn reason(&self) -> Option<String> {
        self.reason.lock().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// Whether it was triggered by a failure ([`Interrupt::fail`]) rather than a signal.
    pub fn is_failure(&self) -> bool {
        self.failure.load(Ordering::SeqCst)
    }

    /// Completes once the interrupt is triggered (at once if it already was): the future
    /// the phases and the game day's pauses `select!` on.
    pub async fn cancelled(&self) {
        self.token.cancelled().await
    }

    /// Installs a panic hook (kept for the life of the process, after the previous one
    /// has run) that fails this interrupt: a panic in any task, including ones the run
    /// spawned, makes the run stop the experiment and end with `error`.
    pub fn stop_on_panic(&self) {
        let interrupt = self.clone();
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            let message = panic_message(info.payload()).unwrap_or_else(|| "(no message)".into());
            let at = info
                .location()
                .map(|l| format!(" at {}:{}", l.file(), l.line()))
                .unwrap_or_default();
            interrupt.fail(&format!("panic{at}: {message}"));
        }));
    }

    pub(super) fn triggered(&self) -> bool {
        self.token.is_cancelled()
    }
}

/// The message a panic was raised with (`&str` or `String` payloads), if it has one.
pub(super) fn panic_message(payload: &(dyn std::any::Any + Send)) -> Option<String> {
    payload
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| payload.downcast_ref::<String>().cloned())
}
