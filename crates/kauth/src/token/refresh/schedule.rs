//! When a token is due for refresh: the kubelet's `requiresRefresh`
//! (`pkg/kubelet/token/token_manager.go`). A token is refreshed once it is older than 24 h, or
//! once less than 20% of its lifetime is left, each brought forward by a jitter of 0 to 9 whole
//! seconds (Go's `time.Duration(rand.Float64()*10) * time.Second`).
//!
//! The kubelet measures the token's age as its local wall clock minus an `iat` it derives from
//! the issuer's `expirationTimestamp`: a clock skew between the two, or a jump of the local
//! clock, moves the refresh (Kubernetes issues 123415, 124022, 132993). Here the age is counted
//! from the request on the local monotonic clock, and the lifetime is the token's own
//! (`exp - iat`, both the issuer's): the schedule depends on neither clock's absolute value.

/// The kubelet's `maxTTL`: a token is refreshed after a day whatever its lifetime.
pub const MAX_TTL_SECONDS: i64 = 24 * 60 * 60;

/// The kubelet's `maxJitter`, in whole seconds: the jitter is 0 to 9 seconds.
pub const MAX_JITTER_SECONDS: i64 = 10;

/// A refresh jitter in whole seconds, `0..MAX_JITTER_SECONDS`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Jitter(i64);

impl Jitter {
    /// The jitter for a uniform random `u` in `[0, 1)`, truncated to whole seconds as the kubelet
    /// does. Values outside `[0, 1)` are clamped.
    pub fn from_unit(u: f64) -> Jitter {
        let s = (u.clamp(0.0, 1.0) * MAX_JITTER_SECONDS as f64) as i64;
        Jitter(s.min(MAX_JITTER_SECONDS - 1))
    }

    /// No jitter.
    pub const NONE: Jitter = Jitter(0);

    /// The jitter in seconds.
    pub fn seconds(self) -> i64 {
        self.0
    }
}

/// The age (in milliseconds since issue) past which a token of `lifetime_seconds` is due for
/// refresh: `min(24 h, lifetime - lifetime*20/100) - jitter`, never below zero.
pub fn refresh_age_ms(lifetime_seconds: i64, jitter: Jitter) -> i64 {
    let lifetime = lifetime_seconds.max(0);
    // The kubelet's integer arithmetic: 20% rounded down, in whole seconds.
    let eighty_percent = lifetime - lifetime.saturating_mul(20) / 100;
    let age = eighty_percent.min(MAX_TTL_SECONDS) - jitter.seconds();
    age.max(0).saturating_mul(1000)
}

/// Whether a token of `lifetime_seconds` that is `age_ms` old is due for refresh (strictly past
/// [`refresh_age_ms`], as Go's `now.After`).
pub fn requires_refresh(age_ms: i64, lifetime_seconds: i64, jitter: Jitter) -> bool {
    age_ms > refresh_age_ms(lifetime_seconds, jitter)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The kubelet's `requiresRefresh`, transcribed with times in milliseconds: `iat` derived
    /// from `exp - expirationSeconds`, `now` the kubelet's clock, both agreeing.
    fn kubelet_requires_refresh(now_ms: i64, exp_ms: i64, expiration_seconds: i64, jitter_s: i64) -> bool {
        let iat = exp_ms - expiration_seconds * 1000;
        let jitter = jitter_s * 1000;
        if now_ms > iat + MAX_TTL_SECONDS * 1000 - jitter {
            return true;
        }
        now_ms > exp_ms - (expiration_seconds * 20 / 100) * 1000 - jitter
    }

    #[test]
    fn an_hour_token_is_refreshed_at_48_minutes_less_the_jitter() {
        assert_eq!(refresh_age_ms(3600, Jitter::NONE), 2880 * 1000);
        assert_eq!(refresh_age_ms(3600, Jitter::from_unit(0.95)), (2880 - 9) * 1000);
        assert!(!requires_refresh(2880 * 1000, 3600, Jitter::NONE));
        assert!(requires_refresh(2880 * 1000 + 1, 3600, Jitter::NONE));
    }

    #[test]
    fn a_year_token_is_refreshed_after_a_day() {
        assert_eq!(refresh_age_ms(365 * 86_400, Jitter::from_unit(0.35)), (86_400 - 3) * 1000);
    }

    #[test]
    fn the_minimum_lifetime_refreshes_at_eight_minutes() {
        assert_eq!(refresh_age_ms(600, Jitter::NONE), 480 * 1000);
    }

    #[test]
    fn jitter_is_whole_seconds_below_ten() {
        assert_eq!(Jitter::from_unit(0.0).seconds(), 0);
        assert_eq!(Jitter::from_unit(0.099).seconds(), 0);
        assert_eq!(Jitter::from_unit(0.1).seconds(), 1);
        assert_eq!(Jitter::from_unit(0.999_999).seconds(), 9);
        assert_eq!(Jitter::from_unit(1.0).seconds(), 9);
        assert_eq!(Jitter::from_unit(f64::NAN).seconds(), 0);
        assert_eq!(Jitter::from_unit(-3.0).seconds(), 0);
    }

    proptest! {
        /// With the clocks in agreement, the schedule is the kubelet's, to the millisecond.
        #[test]
        fn agrees_with_the_kubelet_when_clocks_agree(
            lifetime in 600i64..=(1i64 << 32),
            age_ms in 0i64..(3 * 86_400_000),
            u in 0.0f64..1.0,
            iat_s in 1_600_000_000i64..1_900_000_000,
        ) {
            let jitter = Jitter::from_unit(u);
            let exp_ms = (iat_s + lifetime) * 1000;
            let now_ms = iat_s * 1000 + age_ms;
            prop_assert_eq!(
                requires_refresh(age_ms, lifetime, jitter),
                kubelet_requires_refresh(now_ms, exp_ms, lifetime, jitter.seconds())
            );
        }

        /// Never later than 80% of the lifetime nor a day, never more than 10 s earlier.
        #[test]
        fn bounds(lifetime in 600i64..=(1i64 << 32), u in 0.0f64..1.0) {
            let at = refresh_age_ms(lifetime, Jitter::from_unit(u));
            let nominal = (lifetime * 4 / 5).min(MAX_TTL_SECONDS) * 1000;
            prop_assert!(at <= nominal + 1000, "{} > {}", at, nominal);
            prop_assert!(at >= nominal - 10_000);
            prop_assert!(at < lifetime * 1000);
        }
    }
}
