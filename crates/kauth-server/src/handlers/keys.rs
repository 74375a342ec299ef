//! `/kauth/v1/keys`: the service-account key ring as operators see it (`kauth keys list`), and
//! the start of a rotation (`kauth keys rotate`).

use kauth::pki::{KeyType, PrivateKey};
use kauth::token::keyring::KeyRing;
use kauth::token::keys::{KeyKind, SigningKey};
use serde_json::{json, Value};
use time::OffsetDateTime;

use crate::api::status::ApiError;
use crate::keyring::{read_ring, unix_ms, KEYRING_KEY};
use crate::state::State;
use crate::store::StoreError;

/// Adds a new key to the ring (the start of a rotation), of the signing key's type.
pub fn rotate(state: &State) -> Result<Value, ApiError> {
    if state.keys.active().ring.is_none() {
        return Err(ApiError::bad_request(
            "key rotation needs the shared key ring of kauth on etcd (--etcd-servers); with the embedded store, replace pki/sa.key and list the old public key with --service-account-key-file",
        ));
    }
    let kind = match state.keys.active().issuer.key().verifying_key().kind() {
        KeyKind::Rsa => KeyType::Rsa2048,
        _ => KeyType::EcdsaP256,
    };
    let pem = PrivateKey::generate(kind).and_then(|k| k.to_pem()).map_err(ApiError::internal)?;
    let key = SigningKey::from_pem("new key", pem.as_bytes()).map_err(ApiError::internal)?;
    for _ in 0..3 {
        let (mut ring, revision) = read_ring(&state.registry)
            .map_err(ApiError::unavailable)?
            .ok_or_else(|| ApiError::internal("no key ring"))?;
        ring.add(key.kid(), &pem, unix_ms(state.now())).map_err(|e| ApiError::conflict_message(e.to_string()))?;
        let value = serde_json::to_vec(&ring).map_err(ApiError::internal)?;
        match state.registry.update_raw(KEYRING_KEY, &value, revision) {
            Ok(_) => return Ok(status(state, &ring)),
            Err(StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(ApiError::unavailable(e.to_string())),
        }
    }
    Err(ApiError::conflict_message("the key ring kept changing; try again".into()))
}

/// The ring as operators see it (never a private key).
pub fn status(state: &State, ring: &KeyRing) -> Value {
    let now = state.now();
    let time = |ms: Option<i64>| {
        ms.and_then(|ms| OffsetDateTime::from_unix_timestamp(ms / 1000).ok()).map(kauth::timestamp::rfc3339)
    };
    let keys: Vec<Value> = ring
        .keys
        .iter()
        .map(|k| {
            let mut published_by: Vec<String> =
                state.replicas.as_ref().map(|r| r.publishers(&k.kid, now)).unwrap_or_default();
            if state.keys.published_kids().contains(&k.kid) {
                if let Some(r) = &state.replicas {
                    published_by.insert(0, r.name.clone());
                }
            }
            json!({
                "kid": k.kid,
                "state": k.state,
                "addedAt": time(Some(k.added_ms)),
                "signingSince": time(k.signing_since_ms),
                "signingUntil": time(k.signing_until_ms),
                "retireAfter": time(k.retire_after_ms),
                "publishedBy": published_by,
            })
        })
        .collect();
    json!({"kind": "KeyRing", "apiVersion": "kauth.dev/v1", "keys": keys})
}

/// `GET /kauth/v1/keys`.
pub fn list(state: &State) -> Result<Value, ApiError> {
    match &state.keys.active().ring {
        Some(_) => {
            let (ring, _) = read_ring(&state.registry)
                .map_err(ApiError::unavailable)?
                .ok_or_else(|| ApiError::internal("no key ring"))?;
            Ok(status(state, &ring))
        }
        None => {
            let kids = state.keys.published_kids();
            let signing = state.keys.active().issuer.key().kid().to_owned();
            let keys: Vec<Value> = kids
                .iter()
                .map(|k| json!({"kid": k, "state": if *k == signing { "Signing" } else { "Verifying" }, "source": "file"}))
                .collect();
            Ok(json!({"kind": "KeyRing", "apiVersion": "kauth.dev/v1", "keys": keys}))
        }
    }
}
