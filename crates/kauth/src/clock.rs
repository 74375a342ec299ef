//! Clock skew between replicas, measured through the store they share.
//!
//! Seed 000's failure: one apiserver's clock runs 90 s ahead, every token it issues has an `nbf`
//! 90 s in the future elsewhere, and a 60 s leeway turns that into "not valid yet" for 30 s after
//! each issue. Replicas see it coming here: each writes a heartbeat stamped with its own clock
//! into the store, every other replica sees it through the store's watch and stamps it with its
//! clock. `sent - received` is the peer's lead over us minus the propagation delay, so the
//! largest recent value is a lower bound on the peer's lead that is tight to the fastest
//! propagation (milliseconds on a healthy etcd), whatever the direction of the skew.
//!
//! Pure logic: every time is an input (unix milliseconds).

use std::collections::{BTreeMap, VecDeque};

/// How many recent heartbeats of each peer are kept.
pub const SAMPLES: usize = 8;

/// A peer silent for this long is forgotten (a replica stopped).
pub const FORGET_AFTER_MS: i64 = 120_000;

#[derive(Debug, Clone, Copy)]
struct Sample {
    sent_ms: i64,
    received_ms: i64,
}

/// How far one peer's clock is from ours.
#[derive(Debug, Clone, PartialEq)]
pub struct Skew {
    /// The peer (a replica's name).
    pub peer: String,
    /// How far the peer's clock is ahead of ours, in seconds (negative: behind). Measured as a
    /// lower bound, short of the truth by at most the store's fastest recent propagation.
    pub ahead_seconds: f64,
    /// How many heartbeats it rests on.
    pub samples: usize,
    /// When we last heard from the peer (our clock, unix ms).
    pub last_seen_ms: i64,
}

/// What a skew means for token validation with a given leeway.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SkewLevel {
    /// Well inside the leeway.
    Fine,
    /// More than half the leeway: tokens still validate, but little margin is left.
    NearLeeway,
    /// Beyond the leeway: tokens one side issues are rejected by the other as not yet valid
    /// (or, the other way, expire early there).
    BeyondLeeway,
}

impl Skew {
    /// This skew against a validation leeway.
    pub fn level(&self, leeway_seconds: i64) -> SkewLevel {
        let s = self.ahead_seconds.abs();
        let leeway = leeway_seconds as f64;
        if s > leeway {
            SkewLevel::BeyondLeeway
        } else if s > leeway / 2.0 {
            SkewLevel::NearLeeway
        } else {
            SkewLevel::Fine
        }
    }

    /// One line for operators: whose clock is ahead, by how much, and what it does to tokens.
    pub fn describe(&self, leeway_seconds: i64) -> String {
        let (whose, by) = if self.ahead_seconds >= 0.0 {
            (
                format!("replica {:?}'s clock is {:.1}s ahead of this replica's", self.peer, self.ahead_seconds),
                self.ahead_seconds,
            )
        } else {
            (
                format!("replica {:?}'s clock is {:.1}s behind this replica's", self.peer, -self.ahead_seconds),
                -self.ahead_seconds,
            )
        };
        match self.level(leeway_seconds) {
            SkewLevel::Fine => whose,
            SkewLevel::NearLeeway => format!(
                "{whose}: more than half the {leeway_seconds}s validation leeway; sync the clocks (chrony/NTP) before tokens start failing"
            ),
            SkewLevel::BeyondLeeway if self.ahead_seconds >= 0.0 => format!(
                "{whose}: beyond the {leeway_seconds}s validation leeway, tokens it issues are rejected here as not yet valid for {:.0}s after issue; sync the clocks (chrony/NTP)",
                by - leeway_seconds as f64
            ),
            SkewLevel::BeyondLeeway => format!(
                "{whose}: beyond the {leeway_seconds}s validation leeway, tokens this replica issues are rejected there as not yet valid for {:.0}s after issue; sync the clocks (chrony/NTP)",
                by - leeway_seconds as f64
            ),
        }
    }
}

/// The heartbeats seen from each peer.
#[derive(Debug, Clone, Default)]
pub struct SkewMonitor {
    peers: BTreeMap<String, VecDeque<Sample>>,
}

impl SkewMonitor {
    /// An empty monitor.
    pub fn new() -> Self {
        SkewMonitor::default()
    }

    /// Records a heartbeat `peer` stamped `sent_ms` by its clock, seen at `received_ms` by ours.
    pub fn record(&mut self, peer: &str, sent_ms: i64, received_ms: i64) {
        let samples = self.peers.entry(peer.to_owned()).or_default();
        if samples.len() == SAMPLES {
            samples.pop_front();
        }
        samples.push_back(Sample { sent_ms, received_ms });
    }

    /// The skew to `peer`, if it was heard from within [`FORGET_AFTER_MS`] of `now_ms`.
    pub fn skew(&self, peer: &str, now_ms: i64) -> Option<Skew> {
        let samples = self.peers.get(peer)?;
        let last = samples.back()?;
        if now_ms - last.received_ms > FORGET_AFTER_MS {
            return None;
        }
        let lead_ms = samples.iter().map(|s| s.sent_ms - s.received_ms).max()?;
        Some(Skew {
            peer: peer.to_owned(),
            ahead_seconds: lead_ms as f64 / 1000.0,
            samples: samples.len(),
            last_seen_ms: last.received_ms,
        })
    }

    /// Every peer heard from recently, by name.
    pub fn skews(&self, now_ms: i64) -> Vec<Skew> {
        self.peers.keys().filter_map(|p| self.skew(p, now_ms)).collect()
    }

    /// The peer whose clock best explains a token dated `ahead_seconds` into our future (its
    /// `nbf` or `iat` minus our now): the one whose lead is closest to it, among those ahead by
    /// at least that much less `tolerance_seconds` (the token may have waited before use).
    pub fn attribute(&self, ahead_seconds: f64, tolerance_seconds: f64, now_ms: i64) -> Option<Skew> {
        self.skews(now_ms).into_iter().filter(|s| s.ahead_seconds >= ahead_seconds - tolerance_seconds).min_by(
            |a, b| {
                let da = (a.ahead_seconds - ahead_seconds).abs();
                let db = (b.ahead_seconds - ahead_seconds).abs();
                da.total_cmp(&db)
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_largest_recent_lead_is_the_estimate_whatever_the_direction() {
        let mut m = SkewMonitor::new();
        // The peer is 90 s ahead; heartbeats take 3, 40 and 1 ms to arrive.
        for (sent, delay) in [(1_000_000, 3), (1_005_000, 40), (1_010_000, 1)] {
            m.record("b", sent + 90_000, sent + delay);
        }
        let s = m.skew("b", 1_010_001).unwrap();
        assert!((s.ahead_seconds - 89.999).abs() < 1e-9, "{s:?}");
        assert_eq!(s.samples, 3);
        // A peer 30 s behind.
        m.record("c", 1_000_000 - 30_000, 1_000_002);
        assert!((m.skew("c", 1_000_002).unwrap().ahead_seconds + 30.002).abs() < 1e-9);
        // Only the last SAMPLES heartbeats count.
        for i in 0..SAMPLES as i64 {
            m.record("b", 2_000_000 + i, 2_000_000 + i);
        }
        assert_eq!(m.skew("b", 2_000_010).unwrap().ahead_seconds, 0.0);
    }

    #[test]
    fn silent_peers_are_forgotten() {
        let mut m = SkewMonitor::new();
        m.record("b", 1_000, 1_000);
        assert!(m.skew("b", 1_000 + FORGET_AFTER_MS).is_some());
        assert!(m.skew("b", 1_001 + FORGET_AFTER_MS).is_none());
        assert!(m.skews(1_001 + FORGET_AFTER_MS).is_empty());
    }

    #[test]
    fn levels_and_descriptions_follow_the_leeway() {
        let s = |ahead: f64| Skew { peer: "b".into(), ahead_seconds: ahead, samples: 1, last_seen_ms: 0 };
        assert_eq!(s(10.0).level(60), SkewLevel::Fine);
        assert_eq!(s(-31.0).level(60), SkewLevel::NearLeeway);
        assert_eq!(s(90.0).level(60), SkewLevel::BeyondLeeway);
        assert_eq!(
            s(90.0).describe(60),
            "replica \"b\"'s clock is 90.0s ahead of this replica's: beyond the 60s validation leeway, tokens it issues are rejected here as not yet valid for 30s after issue; sync the clocks (chrony/NTP)"
        );
        assert!(s(-90.0).describe(60).contains("tokens this replica issues are rejected there"));
        assert_eq!(s(1.5).describe(60), "replica \"b\"'s clock is 1.5s ahead of this replica's");
    }

    #[test]
    fn a_token_from_the_future_is_attributed_to_the_peer_that_explains_it() {
        let mut m = SkewMonitor::new();
        m.record("fast", 1_090_000, 1_000_000);
        m.record("slow", 995_000, 1_000_000);
        m.record("slightly", 1_002_000, 1_000_000);
        // A token dated 88 s ahead (used 2 s after issue): "fast".
        assert_eq!(m.attribute(88.0, 5.0, 1_000_000).unwrap().peer, "fast");
        // 1.9 s ahead: "slightly", the closest that is far enough ahead.
        assert_eq!(m.attribute(1.9, 5.0, 1_000_000).unwrap().peer, "slightly");
        // 300 s ahead: nobody measured explains it.
        assert!(m.attribute(300.0, 5.0, 1_000_000).is_none());
    }
}
