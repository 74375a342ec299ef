//! One token's refresh as a state machine, driven by clock readings: [`Refresher::poll`] says
//! what to do now ([`Step::Fetch`] a new token, [`Step::Publish`] the one fetched, or
//! [`Step::Wait`] until a point on the monotonic clock), and the caller reports what happened
//! ([`Refresher::fetched`], [`Refresher::failed`], [`Refresher::published`]).
//!
//! Invariants:
//! - a [`Step::Wait`] always ends after the reading it was given: the caller never spins;
//! - a failure never drops the published token: it stays until a new one replaces it;
//! - the schedule runs on the monotonic clock from the request (see [`super::schedule`]), so a
//!   skewed issuer or a jump of the local wall clock does not move it;
//! - a jump of the local wall clock (against the monotonic one) is reported and triggers a
//!   refresh at once, as the token's age is no longer known for sure (the monotonic clock stops
//!   while the machine sleeps);
//! - a token from an issuer whose clock is ahead (its `nbf` in our future beyond the validators'
//!   leeway) is held back until it is valid by our clock, while the published token stays, so a
//!   validator with this machine's clock never sees a token that is not valid yet; when the old
//!   token would be within 5% of its end first, nothing is held (the skew is reported only).

use super::backoff::Backoff;
use super::schedule::{refresh_age_ms, Jitter};
use super::skew::{issuer_offset, wall_drift_ms, IssuerOffset};
use super::ClockReading;

/// The refresher's settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Policy {
    /// Backoff between failed requests.
    pub backoff: Backoff,
    /// The leeway validators allow on `nbf` and `iat` (Kubernetes' is 60 s).
    pub leeway_ms: i64,
    /// A skew of the issuer or a jump of the local clock beyond this is reported.
    pub report_over_ms: i64,
    /// The longest wait between two readings, so a jump is seen within this time.
    pub check_every_ms: i64,
    /// Hold back a token not yet valid by this machine's clock while the old one lasts.
    pub hold_early_tokens: bool,
}

impl Default for Policy {
    fn default() -> Self {
        Policy {
            backoff: Backoff::default(),
            leeway_ms: 60_000,
            report_over_ms: 5_000,
            check_every_ms: 60_000,
            hold_early_tokens: true,
        }
    }
}

/// A token's times, as its issuer wrote them (Unix seconds on the issuer's clock).
///
/// Take `iat` and `exp` from the TokenRequest as the kubelet does (`exp` its
/// `status.expirationTimestamp`, `iat` that less `spec.expirationSeconds`), not from the JWT: an
/// issuer may backdate the JWT's `iat` (kauth serve's `--service-account-token-backdate`) or
/// extend its `exp` (Kubernetes' 3607 s tokens live a year), and neither says when the token was
/// issued or how long it should be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Issued {
    /// When the issuer issued it.
    pub iat: i64,
    /// The JWT's `nbf`, when it has one: what a validator checks.
    pub nbf: Option<i64>,
    /// When it expires.
    pub exp: i64,
}

/// What to do now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    /// Request a new token, then call [`Refresher::fetched`] or [`Refresher::failed`].
    Fetch,
    /// Write the token last fetched, then call [`Refresher::published`].
    Publish,
    /// Nothing to do until this point on the monotonic clock (always after the reading).
    Wait {
        /// Milliseconds on the monotonic clock.
        until_mono_ms: i64,
    },
}

/// Something worth a log line or a metric.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
    /// The local wall clock moved this far against the monotonic clock since the last reading
    /// (negative: back).
    ClockJumped {
        /// Milliseconds.
        drift_ms: i64,
    },
    /// The issuer's clock is surely this far ahead of ours (negative: behind), beyond
    /// [`Policy::report_over_ms`].
    IssuerSkew {
        /// Milliseconds; a bound (the least the request allows), not an estimate.
        ahead_ms: i64,
    },
    /// A new token is held back this long because it is not valid yet by this machine's clock.
    Held {
        /// Milliseconds.
        for_ms: i64,
    },
    /// A new token arrived.
    Refreshed {
        /// Its lifetime (`exp - iat`), in seconds.
        lifetime_seconds: i64,
        /// When it will be refreshed, from now.
        refresh_in_ms: i64,
    },
    /// A request failed (or returned a token with no lifetime).
    Failed {
        /// Consecutive failures, this one included.
        failures: u32,
        /// When the next attempt is, from now.
        retry_in_ms: i64,
        /// How long the published token has left (negative: expired), if there is one.
        published_left_ms: Option<i64>,
    },
}

#[derive(Debug, Clone, Copy)]
struct Timeline {
    lifetime_ms: i64,
    refresh_at_mono: i64,
    expires_at_mono: i64,
}

/// One token's refresh state.
#[derive(Debug, Clone)]
pub struct Refresher {
    policy: Policy,
    published: Option<Timeline>,
    pending: Option<(Timeline, i64)>,
    failures: u32,
    retry_at_mono: Option<i64>,
    last: Option<ClockReading>,
    refresh_now: bool,
    offset: Option<IssuerOffset>,
}

impl Refresher {
    /// A refresher with no token yet.
    pub fn new(policy: Policy) -> Self {
        Refresher {
            policy,
            published: None,
            pending: None,
            failures: 0,
            retry_at_mono: None,
            last: None,
            refresh_now: false,
            offset: None,
        }
    }

    /// What to do at `now`, and what the reading revealed.
    pub fn poll(&mut self, now: ClockReading) -> (Step, Vec<Event>) {
        let mut events = Vec::new();
        if let Some(last) = self.last {
            let drift_ms = wall_drift_ms(last, now);
            if drift_ms.abs() > self.policy.report_over_ms {
                events.push(Event::ClockJumped { drift_ms });
                self.refresh_now = true;
                // A hold was reckoned against the wall clock that just moved.
                if let Some((_, at)) = &mut self.pending {
                    *at = now.mono_ms;
                }
            }
        }
        if self.last.is_none_or(|l| now.mono_ms >= l.mono_ms) {
            self.last = Some(now);
        }
        let check = now.mono_ms + self.policy.check_every_ms.max(1);
        if let Some((_, at)) = self.pending {
            return if now.mono_ms >= at {
                (Step::Publish, events)
            } else {
                (Step::Wait { until_mono_ms: at.min(check) }, events)
            };
        }
        if let Some(retry) = self.retry_at_mono.filter(|r| now.mono_ms < *r) {
            return (Step::Wait { until_mono_ms: retry.min(check) }, events);
        }
        match self.published {
            Some(t) if !self.refresh_now && now.mono_ms < t.refresh_at_mono => {
                (Step::Wait { until_mono_ms: t.refresh_at_mono.min(check) }, events)
            }
            _ => (Step::Fetch, events),
        }
    }

    /// A token arrived: the request was sent at `sent` and answered at `answered`; `u` in
    /// `[0, 1)` is the random draw for the jitter.
    pub fn fetched(&mut self, issued: Issued, sent: ClockReading, answered: ClockReading, u: f64) -> Vec<Event> {
        let lifetime_s = issued.exp.saturating_sub(issued.iat);
        if lifetime_s <= 0 {
            return vec![self.failed(answered, u)];
        }
        let mut events = Vec::new();
        let offset = issuer_offset(issued.iat, sent, answered);
        self.offset = Some(offset);
        if let Some(ahead_ms) = offset.beyond(self.policy.report_over_ms) {
            events.push(Event::IssuerSkew { ahead_ms });
        }
        // The token is at least as old as the request: its life counts from `sent`.
        let lifetime_ms = lifetime_s.saturating_mul(1000);
        let t = Timeline {
            lifetime_ms,
            refresh_at_mono: sent.mono_ms + refresh_age_ms(lifetime_s, Jitter::from_unit(u)) + 1,
            expires_at_mono: sent.mono_ms.saturating_add(lifetime_ms),
        };
        let mut publish_at = answered.mono_ms;
        let steady = !self.refresh_now;
        if let (true, true, Some(old)) = (self.policy.hold_early_tokens, steady, self.published) {
            // Valid to a validator with our clock once our wall clock reaches nbf - leeway.
            let valid_from_ms = issued.nbf.unwrap_or(issued.iat).saturating_mul(1000) - self.policy.leeway_ms;
            let wait = valid_from_ms - answered.wall_ms;
            // Held only when the hold cures it: valid here while the old token still has a
            // margin of life. A skew beyond that (most often this machine's clock, wrong) is
            // reported and not worked around: holding would only shorten the old token's margin.
            let margin = (old.lifetime_ms / 20).max(10_000);
            if wait > 0 && answered.mono_ms + wait <= old.expires_at_mono - margin {
                publish_at = answered.mono_ms + wait;
                events.push(Event::Held { for_ms: wait });
            }
        }
        events.push(Event::Refreshed {
            lifetime_seconds: lifetime_s,
            refresh_in_ms: t.refresh_at_mono - answered.mono_ms,
        });
        self.pending = Some((t, publish_at));
        self.failures = 0;
        self.retry_at_mono = None;
        self.refresh_now = false;
        events
    }

    /// The request (or, after a [`Step::Publish`], the write) failed at `now`; `u` in `[0, 1)`
    /// is the random draw for the backoff's jitter. A token waiting to be written is tried again
    /// after the same backoff.
    pub fn failed(&mut self, now: ClockReading, u: f64) -> Event {
        self.failures = self.failures.saturating_add(1);
        let retry_in_ms = self.policy.backoff.delay_ms(self.failures, u);
        self.retry_at_mono = Some(now.mono_ms + retry_in_ms);
        if let Some((_, at)) = &mut self.pending {
            *at = (*at).max(now.mono_ms + retry_in_ms);
        }
        Event::Failed { failures: self.failures, retry_in_ms, published_left_ms: self.expires_in_ms(now) }
    }

    /// The token last fetched is written.
    pub fn published(&mut self) {
        if let Some((t, _)) = self.pending.take() {
            self.published = Some(t);
        }
    }

    /// How long the published token has left at `now` (negative: expired), if there is one.
    pub fn expires_in_ms(&self, now: ClockReading) -> Option<i64> {
        self.published.map(|t| t.expires_at_mono - now.mono_ms)
    }

    /// The issuer's clock against ours, as the last token's request bounded it.
    pub fn issuer_offset(&self) -> Option<IssuerOffset> {
        self.offset
    }

    /// Consecutive failed requests.
    pub fn failures(&self) -> u32 {
        self.failures
    }
}

#[cfg(test)]
mod tests;
