//! The log of refused requests at the default level: every refusal says why, at `warn`, up to
//! [`PER_SECOND`] lines in a second of the server's clock; past that, the refusals of the second
//! are counted and the count is logged once the next second begins. A flood of bad credentials
//! cannot drown the log, and no refusal goes unaccounted for.

use std::sync::Mutex;

/// Refusals logged in full per second.
pub const PER_SECOND: u32 = 20;

/// A per-second budget of refusal lines.
#[derive(Debug, Default)]
pub struct Refusals {
    window: Mutex<Window>,
}

#[derive(Debug, Default)]
struct Window {
    second: i64,
    logged: u32,
    suppressed: u64,
}

/// What to do with one refusal.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Log it; before it, say how many of the previous second's were not logged (if any).
    Log {
        /// Refusals of an earlier second that were counted, not logged.
        suppressed_before: u64,
    },
    /// Count it only.
    Suppress,
}

impl Refusals {
    /// One refusal at `now` (unix seconds of the server's clock).
    pub fn admit(&self, now: i64) -> Verdict {
        let mut w = self.window.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut suppressed_before = 0;
        if now != w.second {
            suppressed_before = std::mem::take(&mut w.suppressed);
            w.second = now;
            w.logged = 0;
        }
        if w.logged < PER_SECOND {
            w.logged += 1;
            Verdict::Log { suppressed_before }
        } else {
            w.suppressed += 1;
            Verdict::Suppress
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_second_logs_its_budget_then_counts_and_the_next_says_how_many() {
        let r = Refusals::default();
        for _ in 0..PER_SECOND {
            assert_eq!(r.admit(100), Verdict::Log { suppressed_before: 0 });
        }
        assert_eq!(r.admit(100), Verdict::Suppress);
        assert_eq!(r.admit(100), Verdict::Suppress);
        assert_eq!(r.admit(101), Verdict::Log { suppressed_before: 2 });
        assert_eq!(r.admit(101), Verdict::Log { suppressed_before: 0 });
    }
}
