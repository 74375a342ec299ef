//! Keeping a TokenRequest token fresh outside the kubelet: when to refresh, how long to back off,
//! and what the clocks say. Pure logic over clock readings the caller takes (`kauth agent` reads
//! the machine's clocks; tests pass a fake clock that never sleeps).
//!
//! - [`schedule`]: the kubelet's `requiresRefresh` (80% of the lifetime or 24 h, less a jitter),
//!   counted on the local monotonic clock from the request, so neither the issuer's clock nor a
//!   jump of the local wall clock moves it.
//! - [`backoff`]: exponential backoff between failed requests.
//! - [`skew`]: the issuer's clock against ours (a token's `iat` against the request's window),
//!   and jumps of the local wall clock against the monotonic one.
//! - [`refresher`]: one token's state machine over those three: fetch, publish, wait.

pub mod backoff;
pub mod refresher;
pub mod schedule;
pub mod skew;

pub use backoff::Backoff;
pub use refresher::{Event, Issued, Policy, Refresher, Step};

/// One reading of the local clocks, in milliseconds: the wall clock (Unix time, which may jump)
/// and a monotonic clock (any origin; never goes back, does not jump with the wall clock).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ClockReading {
    /// Unix time in milliseconds.
    pub wall_ms: i64,
    /// Milliseconds on a monotonic clock.
    pub mono_ms: i64,
}
