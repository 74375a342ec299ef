//! Exponential backoff between failed token requests: the first retry after [`Backoff::initial_ms`],
//! each next one twice as late, up to [`Backoff::cap_ms`], plus up to 10% of jitter so that many
//! agents a failing server sheds do not return in step.

/// The backoff's parameters.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Backoff {
    /// The delay after the first failure, in milliseconds.
    pub initial_ms: i64,
    /// The longest delay before jitter, in milliseconds.
    pub cap_ms: i64,
}

impl Default for Backoff {
    /// One second, doubling up to five minutes.
    fn default() -> Self {
        Backoff { initial_ms: 1_000, cap_ms: 300_000 }
    }
}

impl Backoff {
    /// The delay before the next attempt after `failures` consecutive failures (1 for the first),
    /// with `u` in `[0, 1)` the jitter's random draw (clamped).
    pub fn delay_ms(&self, failures: u32, u: f64) -> i64 {
        let initial = self.initial_ms.max(1);
        let cap = self.cap_ms.max(initial);
        let doublings = failures.saturating_sub(1).min(62);
        let nominal = initial.checked_mul(1i64 << doublings).unwrap_or(cap).min(cap);
        let u = if u.is_nan() { 0.0 } else { u.clamp(0.0, 1.0) };
        nominal + (nominal as f64 * 0.1 * u) as i64
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn doubles_from_one_second_to_five_minutes() {
        let b = Backoff::default();
        let delays: Vec<i64> = (1..=12).map(|n| b.delay_ms(n, 0.0)).collect();
        assert_eq!(
            delays,
            [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 64_000, 128_000, 256_000, 300_000, 300_000, 300_000]
        );
        assert_eq!(b.delay_ms(1, 0.5), 1_050);
        assert_eq!(b.delay_ms(u32::MAX, 0.99), 329_700);
    }

    proptest! {
        #[test]
        fn grows_and_stays_bounded(n in 1u32..200, u in 0.0f64..1.0) {
            let b = Backoff::default();
            let d = b.delay_ms(n, u);
            prop_assert!(d >= b.initial_ms);
            prop_assert!(d <= b.cap_ms + b.cap_ms / 10);
            prop_assert!(b.delay_ms(n + 1, u) >= d);
        }
    }
}
