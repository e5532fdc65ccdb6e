//! The request mix: a deterministic write/read sequence and the random pick of
//! which acknowledged write a read targets.

use super::probe::ProbeKind;

/// Chooses write or read for each request so that, over any run of requests,
/// the share of writes tracks `write_ratio` exactly (an accumulating fraction,
/// no randomness).
#[derive(Debug, Clone)]
pub struct Mix {
    write_ratio: f64,
    accumulated: f64,
}

impl Mix {
    /// A mix with `write_ratio` in `[0, 1]`.
    pub fn new(write_ratio: f64) -> Self {
        // Start "full" so that the very first request is a write when any are due.
        Self {
            write_ratio,
            accumulated: if write_ratio > 0.0 { 1.0 - write_ratio } else { 0.0 },
        }
    }

    /// The kind of the next request.
    pub fn next_kind(&mut self) -> ProbeKind {
        self.accumulated += self.write_ratio;
        // Tolerance so that e.g. 0.1 * 10 counts as one whole write.
        if self.accumulated >= 1.0 - 1e-9 {
            self.accumulated -= 1.0;
            ProbeKind::Write
        } else {
            ProbeKind::Read
        }
    }
}

/// A small, fast pseudo-random generator (SplitMix64) for picking read targets.
/// Not for anything security related.
#[derive(Debug, Clone)]
pub struct PickRng(u64);

impl PickRng {
    /// Seeds the generator.
    pub fn new(seed: u64) -> Self {
        Self(seed)
    }

    /// The next 64 random bits.
    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// A value in `0..n`; `n` must be non-zero.
    pub fn below(&mut self, n: usize) -> usize {
        // Widening multiply: unbiased enough for picking probe targets.
        ((u128::from(self.next_u64()) * n as u128) >> 64) as usize
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn writes_in(ratio: f64, n: usize) -> usize {
        let mut mix = Mix::new(ratio);
        (0..n).filter(|_| mix.next_kind() == ProbeKind::Write).count()
    }

    #[test]
    fn the_share_of_writes_follows_the_ratio() {
        assert_eq!(writes_in(0.0, 100), 0);
        assert_eq!(writes_in(1.0, 100), 100);
        assert_eq!(writes_in(0.5, 100), 50);
        assert_eq!(writes_in(0.1, 1000), 100);
        assert_eq!(writes_in(0.3, 1000), 300);
    }

    #[test]
    fn the_first_request_is_a_write() {
        assert_eq!(Mix::new(0.1).next_kind(), ProbeKind::Write);
    }

    #[test]
    fn picks_stay_in_range() {
        let mut rng = PickRng::new(7);
        assert!((0..1000).all(|_| rng.below(3) < 3));
    }
}
