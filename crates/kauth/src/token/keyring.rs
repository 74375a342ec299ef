//! A key ring shared by replicas: the service-account signing keys and when each may sign.
//!
//! Rotation never rejects a token. A new key is first only *published* (in every replica's JWKS
//! and verification set); it starts *signing* only once every live replica reports publishing
//! it, so no replica or JWKS consumer ever meets a token signed by a key it does not know. The
//! key it replaces goes on *verifying* until every token it signed has expired (its signing end
//! plus the longest lifetime a token can have, plus the validation leeway), and is then retired.
//!
//! Pure logic: times are inputs (unix milliseconds); the server stores the ring and decides who
//! is live.

use serde::{Deserialize, Serialize};

/// What a key of the ring may do.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub enum KeyState {
    /// In JWKS and verification sets; not signing yet.
    Published,
    /// The one key that signs new tokens (also verifies).
    Signing,
    /// Verifies tokens it signed until `retire_after_ms`; signs nothing.
    Verifying,
}

/// One key of the ring.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RingKey {
    /// Its key id (as in tokens and JWKS).
    pub kid: String,
    /// The private key, PEM (PKCS#1, SEC1 or PKCS#8).
    pub private_key: String,
    /// What it may do.
    pub state: KeyState,
    /// When it was added.
    pub added_ms: i64,
    /// When it started signing, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_since_ms: Option<i64>,
    /// When it stopped signing, if it did.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub signing_until_ms: Option<i64>,
    /// When it may be removed (verifying keys).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub retire_after_ms: Option<i64>,
}

impl std::fmt::Debug for RingKey {
    // The private key never appears in Debug output.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RingKey")
            .field("kid", &self.kid)
            .field("private_key", &"<redacted>")
            .field("state", &self.state)
            .field("added_ms", &self.added_ms)
            .field("signing_since_ms", &self.signing_since_ms)
            .field("signing_until_ms", &self.signing_until_ms)
            .field("retire_after_ms", &self.retire_after_ms)
            .finish()
    }
}

/// Why a ring operation was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RingError {
    /// A rotation is already under way.
    #[error("key {kid} is still waiting for every replica to publish it; one rotation at a time")]
    RotationPending {
        /// The published key.
        kid: String,
    },
    /// The key is in the ring already.
    #[error("key {kid} is in the ring already")]
    Duplicate {
        /// Its kid.
        kid: String,
    },
}

/// The ring.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct KeyRing {
    /// Its keys, oldest first.
    pub keys: Vec<RingKey>,
}

/// What [`KeyRing::maintain`] changed.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Maintained {
    /// The key that started signing.
    pub promoted: Option<String>,
    /// Keys removed.
    pub retired: Vec<String>,
}

impl Maintained {
    /// Whether anything changed.
    pub fn changed(&self) -> bool {
        self.promoted.is_some() || !self.retired.is_empty()
    }
}

impl KeyRing {
    /// A ring whose one key signs from `now_ms`.
    pub fn seeded(kid: &str, private_key: &str, now_ms: i64) -> Self {
        KeyRing {
            keys: vec![RingKey {
                kid: kid.to_owned(),
                private_key: private_key.to_owned(),
                state: KeyState::Signing,
                added_ms: now_ms,
                signing_since_ms: Some(now_ms),
                signing_until_ms: None,
                retire_after_ms: None,
            }],
        }
    }

    /// The signing key.
    pub fn signing(&self) -> Option<&RingKey> {
        self.keys.iter().find(|k| k.state == KeyState::Signing)
    }

    /// The key waiting to be published everywhere, if a rotation is under way.
    pub fn pending(&self) -> Option<&RingKey> {
        self.keys.iter().find(|k| k.state == KeyState::Published)
    }

    /// Adds a key to be published (step one of a rotation).
    pub fn add(&mut self, kid: &str, private_key: &str, now_ms: i64) -> Result<(), RingError> {
        if let Some(p) = self.pending() {
            return Err(RingError::RotationPending { kid: p.kid.clone() });
        }
        if self.keys.iter().any(|k| k.kid == kid) {
            return Err(RingError::Duplicate { kid: kid.to_owned() });
        }
        self.keys.push(RingKey {
            kid: kid.to_owned(),
            private_key: private_key.to_owned(),
            state: KeyState::Published,
            added_ms: now_ms,
            signing_since_ms: None,
            signing_until_ms: None,
            retire_after_ms: None,
        });
        Ok(())
    }

    /// Moves the ring on at `now_ms`: the pending key signs once `published_everywhere(kid)`
    /// (every live replica publishes it), the key it replaces verifies until every token it
    /// signed has expired (`max_token_lifetime_ms` plus `leeway_ms` after it stopped signing),
    /// and verifying keys past that are retired.
    pub fn maintain(
        &mut self,
        now_ms: i64,
        published_everywhere: impl Fn(&str) -> bool,
        max_token_lifetime_ms: i64,
        leeway_ms: i64,
    ) -> Maintained {
        let mut done = Maintained::default();
        if let Some(i) = self.keys.iter().position(|k| k.state == KeyState::Published) {
            if published_everywhere(&self.keys[i].kid) {
                for k in self.keys.iter_mut().filter(|k| k.state == KeyState::Signing) {
                    k.state = KeyState::Verifying;
                    k.signing_until_ms = Some(now_ms);
                    k.retire_after_ms = Some(now_ms.saturating_add(max_token_lifetime_ms).saturating_add(leeway_ms));
                }
                let k = &mut self.keys[i];
                k.state = KeyState::Signing;
                k.signing_since_ms = Some(now_ms);
                done.promoted = Some(k.kid.clone());
            }
        }
        self.keys.retain(|k| {
            let retire = k.state == KeyState::Verifying && k.retire_after_ms.is_some_and(|t| t <= now_ms);
            if retire {
                done.retired.push(k.kid.clone());
            }
            !retire
        });
        done
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_rotation_publishes_then_signs_then_retires() {
        let mut ring = KeyRing::seeded("k1", "pem1", 0);
        ring.add("k2", "pem2", 1_000).unwrap();
        assert_eq!(ring.add("k3", "pem3", 1_001), Err(RingError::RotationPending { kid: "k2".into() }));
        // Not everyone publishes k2 yet: k1 keeps signing.
        assert!(!ring.maintain(2_000, |_| false, 3_600_000, 60_000).changed());
        assert_eq!(ring.signing().unwrap().kid, "k1");
        // Everyone does: k2 signs, k1 verifies until its tokens have expired.
        let m = ring.maintain(3_000, |kid| kid == "k2", 3_600_000, 60_000);
        assert_eq!(m.promoted.as_deref(), Some("k2"));
        assert_eq!(ring.signing().unwrap().kid, "k2");
        let k1 = ring.keys.iter().find(|k| k.kid == "k1").unwrap();
        assert_eq!(
            (k1.state, k1.signing_until_ms, k1.retire_after_ms),
            (KeyState::Verifying, Some(3_000), Some(3_663_000))
        );
        // Not before every token it signed expired (and the leeway passed) ...
        assert!(!ring.maintain(3_662_999, |_| true, 3_600_000, 60_000).changed());
        // ... then retired.
        let m = ring.maintain(3_663_000, |_| true, 3_600_000, 60_000);
        assert_eq!(m.retired, ["k1"]);
        assert_eq!(ring.keys.len(), 1);
        assert_eq!(ring.add("k2", "x", 4_000_000), Err(RingError::Duplicate { kid: "k2".into() }));
    }

    #[test]
    fn the_ring_round_trips_and_hides_private_keys_in_debug() {
        let mut ring = KeyRing::seeded("k1", "-----BEGIN PRIVATE KEY-----secret", 5);
        ring.add("k2", "-----BEGIN PRIVATE KEY-----other", 6).unwrap();
        let json = serde_json::to_string(&ring).unwrap();
        assert!(json.contains("\"state\":\"Published\"") && json.contains("\"privateKey\""));
        assert_eq!(serde_json::from_str::<KeyRing>(&json).unwrap(), ring);
        assert!(!format!("{ring:?}").contains("secret"));
    }
}
