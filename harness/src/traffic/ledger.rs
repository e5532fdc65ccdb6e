//! The ack ledger: every write the system acknowledged, kept for read-backs
//! during the run and for the verify phase after it.

use std::sync::{Mutex, MutexGuard, PoisonError};

use super::mix::PickRng;

/// A write the system acknowledged with a 2xx status.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct AckedWrite {
    /// The unique id written.
    pub id: String,
    /// The body sent, which a read-back must return.
    pub body: String,
    /// When the write was scheduled (unix ms).
    pub scheduled_unix_ms: i64,
    /// When the acknowledgement arrived (unix ms).
    pub acked_unix_ms: i64,
}

/// Thread-safe, append-only list of acknowledged writes.
#[derive(Debug, Default)]
pub struct AckLedger {
    acked: Mutex<Vec<AckedWrite>>,
}

impl AckLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> MutexGuard<'_, Vec<AckedWrite>> {
        // A panic elsewhere cannot leave a Vec half-pushed; keep going.
        self.acked.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Records an acknowledged write.
    pub fn record(&self, write: AckedWrite) {
        self.lock().push(write);
    }

    /// How many writes were acknowledged so far.
    pub fn len(&self) -> usize {
        self.lock().len()
    }

    /// Whether nothing was acknowledged yet.
    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    /// A uniformly random acknowledged write, if any.
    pub(crate) fn pick(&self, rng: &mut PickRng) -> Option<AckedWrite> {
        let acked = self.lock();
        if acked.is_empty() {
            return None;
        }
        acked.get(rng.below(acked.len())).cloned()
    }

    /// Every acknowledged write, ordered by acknowledgement time.
    pub fn snapshot(&self) -> Vec<AckedWrite> {
        let mut all = self.lock().clone();
        all.sort_by_key(|w| (w.acked_unix_ms, w.scheduled_unix_ms));
        all
    }
}
