//! The agent's clocks: the machine's wall clock and tokio's monotonic clock, read here at the
//! edge; tests pass a fake that never sleeps.

use std::future::Future;
use std::time::Duration;

use kauth::token::refresh::ClockReading;
use time::OffsetDateTime;

/// Readings and sleeps.
pub trait AgentClock: Clone + Send + Sync + 'static {
    /// Both clocks now.
    fn read(&self) -> ClockReading;
    /// Returns once the monotonic clock reaches `mono_ms`.
    fn sleep_until(&self, mono_ms: i64) -> impl Future<Output = ()> + Send;
}

/// The wall time of a reading (the timestamped directories' names).
pub fn wall(reading: ClockReading) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(reading.wall_ms) * 1_000_000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// The machine's clocks.
#[derive(Debug, Clone, Copy)]
pub struct SystemClock {
    origin: tokio::time::Instant,
}

impl SystemClock {
    /// Monotonic milliseconds count from now.
    pub fn new() -> Self {
        SystemClock { origin: tokio::time::Instant::now() }
    }
}

impl AgentClock for SystemClock {
    fn read(&self) -> ClockReading {
        #[allow(clippy::disallowed_methods)] // the edge of the program: the one place the clock is read
        let wall = OffsetDateTime::now_utc();
        let mono = self.origin.elapsed();
        ClockReading {
            wall_ms: (wall.unix_timestamp_nanos() / 1_000_000) as i64,
            mono_ms: i64::try_from(mono.as_millis()).unwrap_or(i64::MAX),
        }
    }

    fn sleep_until(&self, mono_ms: i64) -> impl Future<Output = ()> + Send {
        let at = self.origin + Duration::from_millis(u64::try_from(mono_ms).unwrap_or(0));
        tokio::time::sleep_until(at)
    }
}
