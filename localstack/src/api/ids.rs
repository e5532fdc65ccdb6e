//! Ids and creation times derived from names, stable across restarts (ARN suffixes, the
//! VPC id), shared by the service modules.

use crate::world::World;

/// A stable 64-bit FNV-1a hash, for ids and ARN suffixes derived from names.
pub fn stable_hash(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// `n` lowercase hex digits derived from `seed` (n ≤ 32).
pub fn stable_hex(seed: &str, n: usize) -> String {
    let a = stable_hash(seed);
    let b = stable_hash(&format!("{seed}#2"));
    let mut s = format!("{a:016x}{b:016x}");
    s.truncate(n);
    s
}

/// The stack's one VPC id.
pub fn vpc_id(world: &World) -> String {
    format!("vpc-{}", stable_hex(&format!("vpc/{}", world.stack.name), 17))
}

/// When the stack's resources claim to have been created: the first time this process
/// was asked (the world keeps no start time).
pub fn created_unix_ms() -> i64 {
    static CREATED: std::sync::OnceLock<i64> = std::sync::OnceLock::new();
    *CREATED.get_or_init(crate::truth::now_unix_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Derived ids are stable and of the asked length.
    #[test]
    fn stable_ids() {
        assert_eq!(stable_hex("a", 16), stable_hex("a", 16));
        assert_ne!(stable_hex("a", 16), stable_hex("b", 16));
        assert_eq!(stable_hex("a", 17).len(), 17);
    }
}
