//! Keeping the shared service-account key ring moving (on etcd): loading a ring another replica
//! changed, and promoting and retiring keys as every replica's heartbeat allows. See
//! [`crate::keyring`] for the ring itself.

use std::collections::BTreeSet;

use kauth::token::keyring::KeyRing;
use serde_json::Value;

use crate::keyring::{read_ring, unix_ms, KEYRING_KEY};
use crate::state::State;
use crate::store::StoreError;

/// The ring changed in the store (a rotation, a promotion, a retirement): use it, and forget
/// cached token decisions (a retired key's tokens must fail at once).
pub fn on_ring_change(state: &State, value: &[u8]) {
    match serde_json::from_slice::<KeyRing>(value) {
        Ok(ring) => match state.keys.load(ring) {
            Ok(()) => {
                state.tokens.invalidate();
                tracing::info!(kids = ?state.keys.published_kids(), signing = state.keys.active().issuer.key().kid(), "key ring loaded");
            }
            Err(e) => tracing::error!("key ring not loaded, keeping the keys in use: {e}"),
        },
        Err(e) => tracing::error!("{KEYRING_KEY}: not a key ring, keeping the keys in use: {e}"),
    }
}

/// The longest a token signed now can live: the max expiration flag, else TokenRequest's 2^32 s
/// limit; at least a year when 3607 s tokens are extended; in milliseconds.
pub fn max_token_lifetime_ms(state: &State) -> i64 {
    let max = state.config.expiration.max_seconds.unwrap_or(1 << 32);
    let max = if state.config.expiration.extend { max.max(31_536_000) } else { max };
    max.saturating_mul(1000)
}

/// The kids that signed a token still held by a legacy token Secret: never retired.
fn kids_in_legacy_secrets(state: &State) -> BTreeSet<String> {
    let Some(rt) = crate::api::resources::by_kind("", "Secret") else { return BTreeSet::new() };
    let mut kids = BTreeSet::new();
    for s in state.registry.list(rt, "") {
        let value = s.value();
        if value.get("type").and_then(Value::as_str) != Some("kubernetes.io/service-account-token") {
            continue;
        }
        let token = value.pointer("/data/token").and_then(Value::as_str).and_then(|b| {
            use base64::Engine;
            base64::engine::general_purpose::STANDARD.decode(b).ok()
        });
        let kid = token
            .and_then(|t| String::from_utf8(t).ok())
            .and_then(|t| kauth::token::jws::parse(&t).ok().and_then(|j| j.header.kid));
        if let Some(kid) = kid {
            kids.insert(kid);
        }
    }
    kids
}

/// Moves the ring on (promote a key published everywhere, retire expired ones), with a
/// compare-and-swap; another replica doing it first is fine.
pub fn maintain(state: &State) {
    let (Some(replicas), Some(_)) = (&state.replicas, state.keys.active().ring.as_ref()) else { return };
    let (mut ring, revision) = match read_ring(&state.registry) {
        Ok(Some(r)) => r,
        Ok(None) => return,
        Err(e) => {
            tracing::warn!("key ring: {e}");
            return;
        }
    };
    let now = state.now();
    let mine = state.keys.published_kids();
    let everywhere = |kid: &str| mine.iter().any(|k| k == kid) && replicas.published_everywhere(kid, now);
    // Only a retirement needs to know which keys legacy tokens still hold: scan the Secrets
    // only while some key verifies without signing.
    let retiring = ring.keys.iter().any(|k| k.state == kauth::token::keyring::KeyState::Verifying);
    let in_use = if retiring { kids_in_legacy_secrets(state) } else { BTreeSet::new() };
    let leeway_ms = kauth::token::validate::DEFAULT_LEEWAY_SECONDS * 1000;
    // Keys a legacy token still needs are not retired: keep their deadline out of reach.
    let kept: Vec<(String, Option<i64>)> = ring
        .keys
        .iter_mut()
        .filter(|k| in_use.contains(&k.kid))
        .map(|k| (k.kid.clone(), k.retire_after_ms.take()))
        .collect();
    let done = ring.maintain(unix_ms(now), everywhere, max_token_lifetime_ms(state), leeway_ms);
    for (kid, deadline) in kept {
        if let Some(k) = ring.keys.iter_mut().find(|k| k.kid == kid) {
            if k.retire_after_ms.is_none() {
                k.retire_after_ms = deadline;
            }
        }
    }
    if !done.changed() {
        return;
    }
    let Ok(value) = serde_json::to_vec(&ring) else { return };
    match state.registry.update_raw(KEYRING_KEY, &value, revision) {
        Ok(_) => {
            if let Some(kid) = &done.promoted {
                tracing::info!(%kid, "key ring: every replica publishes {kid}; it signs from now on");
            }
            for kid in &done.retired {
                tracing::info!(%kid, "key ring: every token {kid} signed has expired; retired");
            }
        }
        Err(StoreError::Conflict { .. }) => {}
        Err(e) => tracing::warn!("key ring: {e}"),
    }
}
