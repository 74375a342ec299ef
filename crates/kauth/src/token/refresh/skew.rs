//! What the clocks say: the issuer's clock against ours, from a token's `iat` and the window of
//! the request that returned it; and jumps of the local wall clock, from two readings of the
//! wall and monotonic clocks.
//!
//! The issuer stamps `iat` (whole seconds, rounded down) while it handles the request, so at
//! that moment its clock read between `iat` and `iat + 1 s`, and ours between the request's
//! start and its answer. The issuer is therefore ahead of us by at least
//! `iat - answered` and at most `iat + 1 s - sent`: a bound, not a guess.

use super::ClockReading;

/// The issuer's clock against the local one, as one request bounds it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct IssuerOffset {
    /// The issuer is ahead of this machine by at least this many milliseconds (negative: it
    /// may be behind).
    pub min_ahead_ms: i64,
    /// The issuer is ahead of this machine by at most this many milliseconds.
    pub max_ahead_ms: i64,
}

/// The issuer's clock against ours, from the token's `iat` and the request's window.
pub fn issuer_offset(iat_seconds: i64, sent: ClockReading, answered: ClockReading) -> IssuerOffset {
    let iat_ms = iat_seconds.saturating_mul(1000);
    IssuerOffset { min_ahead_ms: iat_ms - answered.wall_ms, max_ahead_ms: iat_ms + 1000 - sent.wall_ms }
}

impl IssuerOffset {
    /// The middle of the bounds: the best single number for a gauge.
    pub fn estimate_ms(&self) -> i64 {
        self.min_ahead_ms + (self.max_ahead_ms - self.min_ahead_ms) / 2
    }

    /// How far the issuer is surely off by more than `threshold_ms`: positive when surely ahead,
    /// negative when surely behind, `None` when the bounds allow a skew within the threshold.
    pub fn beyond(&self, threshold_ms: i64) -> Option<i64> {
        if self.min_ahead_ms > threshold_ms {
            Some(self.min_ahead_ms)
        } else if self.max_ahead_ms < -threshold_ms {
            Some(self.max_ahead_ms)
        } else {
            None
        }
    }
}

/// How far the wall clock moved against the monotonic clock between two readings, in
/// milliseconds: negative when it jumped back, positive when it jumped forward (or the machine
/// slept: Linux's monotonic clock stops during suspend).
pub fn wall_drift_ms(earlier: ClockReading, later: ClockReading) -> i64 {
    (later.wall_ms - earlier.wall_ms) - (later.mono_ms - earlier.mono_ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(wall_ms: i64, mono_ms: i64) -> ClockReading {
        ClockReading { wall_ms, mono_ms }
    }

    #[test]
    fn an_issuer_two_minutes_ahead_is_bounded_within_the_request() {
        // Sent at 1_000_000.200 local, answered 150 ms later; the issuer read 1_000_120.3xx.
        let o = issuer_offset(1_000_120, at(1_000_000_200, 5), at(1_000_000_350, 155));
        assert_eq!(o, IssuerOffset { min_ahead_ms: 119_650, max_ahead_ms: 120_800 });
        assert_eq!(o.beyond(5_000), Some(119_650));
        assert_eq!(o.estimate_ms(), 120_225);
    }

    #[test]
    fn clocks_in_step_are_within_any_threshold() {
        // iat is the issuer's time rounded down: at most one second "behind".
        let o = issuer_offset(1_000_000, at(1_000_000_900, 0), at(1_000_000_950, 50));
        assert!(o.min_ahead_ms <= 0 && o.max_ahead_ms >= 0);
        assert_eq!(o.beyond(1_000), None);
    }

    #[test]
    fn an_issuer_behind_is_negative() {
        let o = issuer_offset(999_900, at(1_000_000_000, 0), at(1_000_000_100, 100));
        assert_eq!(o.beyond(5_000), Some(-99_000));
    }

    #[test]
    fn wall_drift_shows_jumps_both_ways() {
        assert_eq!(wall_drift_ms(at(10_000, 0), at(20_000, 10_000)), 0);
        assert_eq!(wall_drift_ms(at(10_000, 0), at(10_000 - 3_600_000 + 5_000, 5_000)), -3_600_000);
        assert_eq!(wall_drift_ms(at(10_000, 0), at(70_000, 1_000)), 59_000);
    }
}
