//! Random draws for jitter and directory names: std's randomly keyed SipHash, fresh keys per
//! draw. Not for secrets; enough to keep many agents from acting in step.

use std::hash::{BuildHasher, RandomState};

/// A random `u64`.
pub fn u64() -> u64 {
    RandomState::new().hash_one(0u8)
}

/// A uniform draw in `[0, 1)`.
pub fn unit() -> f64 {
    (u64() >> 11) as f64 / (1u64 << 53) as f64
}

#[cfg(test)]
mod tests {
    #[test]
    fn draws_differ_and_stay_in_range() {
        let draws: Vec<f64> = (0..100).map(|_| super::unit()).collect();
        assert!(draws.iter().all(|u| (0.0..1.0).contains(u)));
        let distinct: std::collections::BTreeSet<u64> = draws.iter().map(|u| u.to_bits()).collect();
        assert!(distinct.len() > 90);
    }
}
