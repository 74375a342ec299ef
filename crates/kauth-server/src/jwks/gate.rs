//! When an issuer's keys may be fetched again.
//!
//! A token whose `kid` is not in the cached set makes the authenticator ask for a refresh
//! (go-oidc refetches on every unknown `kid`). Anyone can send tokens with made-up `kid`s, so
//! without a bound every such token would be a request to the issuer: a flood of them would be
//! relayed to the identity provider, and each request would wait for its own fetch. The gate
//! allows **at most one fetch per [`MIN_INTERVAL`] per issuer**, and a caller that arrives while
//! a fetch is under way **waits for that fetch** instead of starting another (go-oidc's
//! `inflight`). A refused caller verifies with the set it has.
//!
//! The cost: a key the issuer rotated in within [`MIN_INTERVAL`] of the last fetch is accepted
//! on the first token that arrives after the interval, at most ten seconds late, instead of at
//! once. Identity providers publish new keys well before signing with them, so in practice the
//! new key is already in the set. Whatever the flood, an issuer sees at most six requests for
//! keys a minute from one kauth replica.
//!
//! The clock is an input; a clock that went back (now before the last fetch) allows a fetch,
//! so a wall-clock step never locks refreshes out for its length.

use time::{Duration, OffsetDateTime};

/// The shortest time between two fetches of one issuer's keys on demand.
pub const MIN_INTERVAL: Duration = Duration::seconds(10);

/// What a caller asking for a fetch is to do.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Admit {
    /// Fetch, then call [`RefreshGate::finish`].
    Lead,
    /// A fetch is under way: wait until [`RefreshGate::completed`] moves past this count.
    Follow {
        /// The count of finished fetches when the caller arrived.
        completed: u64,
    },
    /// Too soon after the last fetch: use the set there is.
    Refuse {
        /// When a fetch will be allowed again.
        next: OffsetDateTime,
    },
}

/// The state of one issuer's fetches (kept under its lock by the caller).
#[derive(Debug, Clone)]
pub struct RefreshGate {
    min_interval: Duration,
    last_start: Option<OffsetDateTime>,
    in_flight: bool,
    completed: u64,
}

impl RefreshGate {
    /// A gate allowing one fetch per `min_interval`.
    pub fn new(min_interval: Duration) -> Self {
        RefreshGate { min_interval, last_start: None, in_flight: false, completed: 0 }
    }

    /// A caller asks at `now`; `forced` (the start-up retries, already paced) skips the
    /// interval but still joins a fetch under way.
    pub fn admit(&mut self, now: OffsetDateTime, forced: bool) -> Admit {
        if self.in_flight {
            return Admit::Follow { completed: self.completed };
        }
        if let (false, Some(last)) = (forced, self.last_start) {
            let next = last + self.min_interval;
            if now >= last && now < next {
                return Admit::Refuse { next };
            }
        }
        self.in_flight = true;
        self.last_start = Some(now);
        Admit::Lead
    }

    /// The leader's fetch ended (well or not).
    pub fn finish(&mut self) {
        self.in_flight = false;
        self.completed += 1;
    }

    /// How many fetches have finished.
    pub fn completed(&self) -> u64 {
        self.completed
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: i64) -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH + Duration::seconds(1_700_000_000 + s)
    }

    #[test]
    fn one_fetch_per_interval_whatever_the_flood() {
        let mut g = RefreshGate::new(MIN_INTERVAL);
        assert_eq!(g.admit(t(0), false), Admit::Lead);
        g.finish();
        let mut fetches = 1;
        // 10,000 forged kids over 60 s of fake time: one fetch per 10 s.
        for i in 0..10_000 {
            if g.admit(t(i * 60 / 10_000), false) == Admit::Lead {
                fetches += 1;
                g.finish();
            }
        }
        assert_eq!(fetches, 6, "t=0,10,20,30,40,50");
        assert_eq!(g.admit(t(59), false), Admit::Refuse { next: t(60) });
        assert_eq!(g.admit(t(60), false), Admit::Lead);
    }

    #[test]
    fn callers_during_a_fetch_follow_it() {
        let mut g = RefreshGate::new(MIN_INTERVAL);
        assert_eq!(g.admit(t(0), false), Admit::Lead);
        assert_eq!(g.admit(t(0), false), Admit::Follow { completed: 0 });
        assert_eq!(g.admit(t(30), true), Admit::Follow { completed: 0 }, "even forced ones");
        g.finish();
        assert_eq!(g.completed(), 1);
        assert!(matches!(g.admit(t(1), false), Admit::Refuse { .. }));
        assert_eq!(g.admit(t(1), true), Admit::Lead, "the start-up retry is paced by its own timer");
    }

    #[test]
    fn a_clock_that_went_back_does_not_lock_fetches_out() {
        let mut g = RefreshGate::new(MIN_INTERVAL);
        assert_eq!(g.admit(t(100), false), Admit::Lead);
        g.finish();
        assert_eq!(g.admit(t(-3600), false), Admit::Lead);
    }
}
