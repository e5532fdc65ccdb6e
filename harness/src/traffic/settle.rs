//! Tracks the low watermark of finished probes: the first schedule position
//! whose probe has not finished yet.

use std::collections::BTreeSet;

/// Probes finish out of order; this finds the longest finished prefix.
#[derive(Debug, Clone, Default)]
pub(crate) struct SettleTracker {
    /// Every probe with `seq < watermark` has finished.
    watermark: u64,
    /// Finished probes at or above the watermark.
    finished_above: BTreeSet<u64>,
}

impl SettleTracker {
    /// Marks `seq` finished; returns whether the watermark moved.
    pub(crate) fn finish(&mut self, seq: u64) -> bool {
        if seq < self.watermark {
            return false;
        }
        if seq != self.watermark {
            self.finished_above.insert(seq);
            return false;
        }
        self.watermark += 1;
        while self.finished_above.remove(&self.watermark) {
            self.watermark += 1;
        }
        true
    }

    /// The first schedule position whose probe has not finished.
    pub(crate) fn watermark(&self) -> u64 {
        self.watermark
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_watermark_follows_the_finished_prefix() {
        let mut t = SettleTracker::default();
        assert!(!t.finish(1));
        assert!(!t.finish(2));
        assert_eq!(t.watermark(), 0);
        assert!(t.finish(0));
        assert_eq!(t.watermark(), 3);
        assert!(!t.finish(4));
        assert_eq!(t.watermark(), 3);
    }
}
