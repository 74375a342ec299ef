//! Replicas on a shared store: each writes a heartbeat stamped with its clock every few seconds,
//! and measures its clock skew to every other from theirs ([`kauth::clock::SkewMonitor`]).
//!
//! The skew is exposed where operators look: a `/metrics` gauge per peer
//! (`kauth_replica_clock_skew_seconds`), a `clock-skew` line in `/readyz?verbose`, a warning in
//! the log when it passes half the validation leeway, and, when a token is rejected as not yet
//! valid (or issued in the future), the replica that most likely issued it with its measured
//! skew, in the log, the audit event and TokenReview's `status.error`. Skew never makes a replica
//! unready: every replica would see it at once, and taking them all out is worse than the skew.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use kauth::clock::{Skew, SkewLevel, SkewMonitor};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

/// Where heartbeats live in the store (outside every Kubernetes resource's prefix).
pub const HEARTBEAT_PREFIX: &str = "/registry/kauth.dev/replicas/";

/// How often a replica writes its heartbeat.
pub const HEARTBEAT_EVERY: Duration = Duration::from_secs(5);

/// A heartbeat as stored.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Heartbeat {
    /// The replica's name (`--replica-name`).
    pub replica: String,
    /// Its clock when it wrote this, unix milliseconds.
    pub time_ms: i64,
    /// The key ids it verifies and publishes in JWKS (a key signs only once all publish it).
    #[serde(default)]
    pub published_kids: Vec<String>,
}

/// This replica among its peers.
#[derive(Debug)]
pub struct Replicas {
    /// This replica's name.
    pub name: String,
    leeway_seconds: i64,
    monitor: Mutex<SkewMonitor>,
    /// The level last logged per peer, so a warning is logged when it changes, not every beat.
    logged: Mutex<BTreeMap<String, SkewLevel>>,
    /// Each peer's last heartbeat: the kids it publishes, and when it was seen (our clock, ms).
    published: Mutex<BTreeMap<String, (Vec<String>, i64)>>,
}

fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl Replicas {
    /// This replica, validating tokens with `leeway_seconds`.
    pub fn new(name: impl Into<String>, leeway_seconds: i64) -> Self {
        Replicas {
            name: name.into(),
            leeway_seconds,
            monitor: Mutex::new(SkewMonitor::new()),
            logged: Mutex::new(BTreeMap::new()),
            published: Mutex::new(BTreeMap::new()),
        }
    }

    /// Records a heartbeat seen through the store at `now` (this replica's clock).
    pub fn observe(&self, key: &str, value: &[u8], now: OffsetDateTime) {
        let Some(name) = key.strip_prefix(HEARTBEAT_PREFIX) else { return };
        if name == self.name {
            return;
        }
        let beat: Heartbeat = match serde_json::from_slice(value) {
            Ok(b) => b,
            Err(e) => {
                tracing::warn!(%key, "a heartbeat that is not one: {e}");
                return;
            }
        };
        let now_ms = unix_ms(now);
        self.published
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .insert(name.to_owned(), (beat.published_kids.clone(), now_ms));
        let skew = {
            let mut monitor = self.monitor.lock().unwrap_or_else(|p| p.into_inner());
            monitor.record(name, beat.time_ms, now_ms);
            monitor.skew(name, now_ms)
        };
        if let Some(skew) = skew {
            let level = skew.level(self.leeway_seconds);
            let mut logged = self.logged.lock().unwrap_or_else(|p| p.into_inner());
            if logged.insert(name.to_owned(), level) != Some(level) {
                match level {
                    SkewLevel::Fine => tracing::info!(
                        peer = name,
                        skew_seconds = skew.ahead_seconds,
                        "clock skew: {}",
                        skew.describe(self.leeway_seconds)
                    ),
                    _ => tracing::warn!(
                        peer = name,
                        skew_seconds = skew.ahead_seconds,
                        "clock skew: {}",
                        skew.describe(self.leeway_seconds)
                    ),
                }
            }
        }
    }

    /// The live peers (heard from within [`kauth::clock::FORGET_AFTER_MS`]) that publish `kid`.
    pub fn publishers(&self, kid: &str, now: OffsetDateTime) -> Vec<String> {
        let now_ms = unix_ms(now);
        let published = self.published.lock().unwrap_or_else(|p| p.into_inner());
        published
            .iter()
            .filter(|(_, (kids, seen))| now_ms - seen <= kauth::clock::FORGET_AFTER_MS && kids.iter().any(|k| k == kid))
            .map(|(peer, _)| peer.clone())
            .collect()
    }

    /// Whether every live peer publishes `kid` (this replica is for the caller to check).
    pub fn published_everywhere(&self, kid: &str, now: OffsetDateTime) -> bool {
        let now_ms = unix_ms(now);
        let published = self.published.lock().unwrap_or_else(|p| p.into_inner());
        published
            .values()
            .filter(|(_, seen)| now_ms - seen <= kauth::clock::FORGET_AFTER_MS)
            .all(|(kids, _)| kids.iter().any(|k| k == kid))
    }

    /// Every peer heard from recently.
    pub fn skews(&self, now: OffsetDateTime) -> Vec<Skew> {
        self.monitor.lock().unwrap_or_else(|p| p.into_inner()).skews(unix_ms(now))
    }

    /// The `/readyz?verbose` line: `[+]clock-skew ok` or a warning naming the peers.
    pub fn readiness_line(&self, now: OffsetDateTime) -> String {
        let far: Vec<String> = self
            .skews(now)
            .into_iter()
            .filter(|s| s.level(self.leeway_seconds) != SkewLevel::Fine)
            .map(|s| s.describe(self.leeway_seconds))
            .collect();
        if far.is_empty() {
            "[+]clock-skew ok".into()
        } else {
            format!("[!]clock-skew warning (not counted against readiness): {}", far.join("; "))
        }
    }

    /// For a token dated `ahead_seconds` in this replica's future: which replica likely issued
    /// it, and its measured skew.
    pub fn attribute(&self, ahead_seconds: i64, now: OffsetDateTime) -> String {
        let monitor = self.monitor.lock().unwrap_or_else(|p| p.into_inner());
        match monitor.attribute(ahead_seconds as f64, 5.0, unix_ms(now)) {
            Some(s) => format!(
                "likely issued by replica {:?}, whose clock this replica measures {:.1}s ahead through the store's heartbeats",
                s.peer, s.ahead_seconds
            ),
            None => {
                let known = monitor.skews(unix_ms(now));
                let known: Vec<String> =
                    known.iter().map(|s| format!("{:?} {:+.1}s", s.peer, s.ahead_seconds)).collect();
                format!(
                    "no replica measured explains it (measured skews: {}); its issuer may be outside this cluster",
                    if known.is_empty() { "none".to_owned() } else { known.join(", ") }
                )
            }
        }
    }

    /// The gauge lines for `/metrics`.
    pub fn metrics(&self, now: OffsetDateTime) -> String {
        let mut out = String::from(
            "# HELP kauth_replica_clock_skew_seconds How far each peer replica's clock is ahead of this one's (negative: behind), from heartbeats through the store.\n# TYPE kauth_replica_clock_skew_seconds gauge\n",
        );
        for s in self.skews(now) {
            out.push_str(&format!("kauth_replica_clock_skew_seconds{{replica={:?}}} {:.3}\n", s.peer, s.ahead_seconds));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(ms: i64) -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp_nanos(i128::from(ms) * 1_000_000).unwrap()
    }

    #[test]
    fn heartbeats_of_peers_measure_skew_and_own_ones_are_ignored() {
        let r = Replicas::new("a", 60);
        let beat = |name: &str, ms: i64| {
            serde_json::to_vec(&Heartbeat {
                replica: name.into(),
                time_ms: ms,
                published_kids: vec![format!("kid-{name}")],
            })
            .unwrap()
        };
        r.observe(&format!("{HEARTBEAT_PREFIX}a"), &beat("a", 5_000_000), at(1_000_000));
        r.observe(&format!("{HEARTBEAT_PREFIX}b"), &beat("b", 1_090_000), at(1_000_005));
        r.observe(&format!("{HEARTBEAT_PREFIX}c"), b"not json", at(1_000_005));
        let skews = r.skews(at(1_000_010));
        assert_eq!(skews.len(), 1);
        assert_eq!(skews[0].peer, "b");
        assert!((skews[0].ahead_seconds - 89.995).abs() < 1e-9);
        assert!(r.readiness_line(at(1_000_010)).starts_with("[!]clock-skew warning"));
        assert!(r.metrics(at(1_000_010)).contains("kauth_replica_clock_skew_seconds{replica=\"b\"} 89.995"));
        assert!(r.attribute(88, at(1_002_000)).starts_with("likely issued by replica \"b\""));
        assert!(r.attribute(400, at(1_002_000)).contains("\"b\" +90.0s"));
        assert_eq!(r.publishers("kid-b", at(1_000_010)), ["b"]);
        assert!(r.published_everywhere("kid-b", at(1_000_010)));
        assert!(!r.published_everywhere("kid-z", at(1_000_010)));
    }
}
