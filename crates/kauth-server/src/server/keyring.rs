//! Service-account keys a replica signs and verifies with; on etcd, a key ring shared by every
//! replica ([`kauth::token::keyring::KeyRing`], stored at [`KEYRING_KEY`]).
//!
//! On the embedded store the keys are the files, as in kube-apiserver (`pki/sa.key` signs,
//! `--service-account-key-file` adds verification keys). On etcd the first replica seeds the
//! ring with its signing key; from then on every replica signs with the ring's signing key and
//! verifies with (and publishes in JWKS) all of its keys plus its own extra key files.
//! `kauth keys rotate` adds a key; each replica reports the keys it publishes in its heartbeat,
//! and every few seconds one of them moves the ring on (compare-and-swap): the new key signs once
//! every live replica publishes it, and the old one verifies until every token it signed has
//! expired, and longer while a legacy token Secret still holds a token it signed.

use std::collections::BTreeSet;
use std::sync::{Arc, RwLock};

use kauth::authn::service_account::ServiceAccountAuthenticator;
use kauth::pki::{KeyType, PrivateKey};
use kauth::token::issue::TokenIssuer;
use kauth::token::keyring::KeyRing;
use kauth::token::keys::{KeyKind, KeySet, SigningKey, VerifyingKey};
use kauth::token::validate::{Validator, ValidatorConfig};
use serde_json::{json, Value};
use time::OffsetDateTime;

use super::State;
use crate::registry::Registry;
use crate::store::StoreError;

/// Where the ring lives in a shared store.
pub const KEYRING_KEY: &str = "/registry/kauth.dev/keyring";

/// What a replica signs and verifies with now; replaced whole when the ring changes.
#[derive(Debug)]
pub struct ActiveKeys {
    /// Signs TokenRequest tokens and legacy token Secrets.
    pub issuer: TokenIssuer,
    /// Every verification key (JWKS).
    pub keys: KeySet,
    /// The ring these came from (`None`: the key files).
    pub ring: Option<KeyRing>,
}

/// The service-account authenticator, shared with the token chain; its validator is replaced
/// when the keys change.
pub type SharedAuthenticator = Arc<ServiceAccountAuthenticator<Arc<Registry>>>;

/// A replica's keys.
pub struct Keys {
    active: RwLock<Arc<ActiveKeys>>,
    authenticator: SharedAuthenticator,
    issuer_name: String,
    backdate: i64,
    /// `--service-account-key-file` keys: always verified, never in the ring.
    extra: Vec<VerifyingKey>,
    validator: ValidatorConfig,
    registry: Arc<Registry>,
    /// The signing key file's PEM, to seed a new ring.
    signing_pem: String,
}

impl std::fmt::Debug for Keys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Keys").field("issuer", &self.issuer_name).finish_non_exhaustive()
    }
}

fn unix_ms(t: OffsetDateTime) -> i64 {
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).unwrap_or(i64::MAX)
}

impl Keys {
    /// Keys from the files: `signing` signs; it and `extra` verify.
    pub fn from_files(
        issuer_name: String,
        backdate: i64,
        signing_pem: String,
        signing: SigningKey,
        extra: Vec<VerifyingKey>,
        validator: ValidatorConfig,
        registry: Arc<Registry>,
    ) -> Self {
        let mut all = vec![signing.verifying_key().clone()];
        all.extend(extra.iter().cloned());
        let keys = KeySet::new(all);
        let config = ValidatorConfig { keys: keys.clone(), ..validator.clone() };
        let authenticator = Arc::new(ServiceAccountAuthenticator::new(Validator::new(config), registry.clone()));
        let issuer = TokenIssuer::new(issuer_name.clone(), signing).with_backdate(backdate);
        Keys {
            active: RwLock::new(Arc::new(ActiveKeys { issuer, keys, ring: None })),
            authenticator,
            issuer_name,
            backdate,
            extra,
            validator,
            registry,
            signing_pem,
        }
    }

    /// What the token chain authenticates service-account tokens with.
    pub fn authenticator(&self) -> SharedAuthenticator {
        self.authenticator.clone()
    }

    /// The keys in use now.
    pub fn active(&self) -> Arc<ActiveKeys> {
        self.active.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The kids this replica verifies and publishes in JWKS.
    pub fn published_kids(&self) -> Vec<String> {
        self.active().keys.kids()
    }

    /// Starts using `ring`: its signing key signs; its keys and the extra files verify.
    pub fn load(&self, ring: KeyRing) -> Result<(), String> {
        let signing = ring.signing().ok_or("the key ring has no signing key")?;
        let signing = SigningKey::from_pem(&format!("key ring key {}", signing.kid), signing.private_key.as_bytes())
            .map_err(|e| e.to_string())?;
        let mut all = Vec::new();
        for k in &ring.keys {
            let key = SigningKey::from_pem(&format!("key ring key {}", k.kid), k.private_key.as_bytes())
                .map_err(|e| e.to_string())?;
            all.push(key.verifying_key().clone());
        }
        all.extend(self.extra.iter().cloned());
        let keys = KeySet::new(all);
        let validator = Validator::new(ValidatorConfig { keys: keys.clone(), ..self.validator.clone() });
        let issuer = TokenIssuer::new(self.issuer_name.clone(), signing).with_backdate(self.backdate);
        // Verification first, signing second: never sign with a key this replica cannot verify.
        self.authenticator.replace_validator(validator);
        *self.active.write().unwrap_or_else(|p| p.into_inner()) =
            Arc::new(ActiveKeys { issuer, keys, ring: Some(ring) });
        Ok(())
    }
}

/// Reads the ring from the store.
pub fn read_ring(registry: &Registry) -> Result<Option<(KeyRing, u64)>, String> {
    match registry.get_raw(KEYRING_KEY).map_err(|e| e.to_string())? {
        None => Ok(None),
        Some(kv) => serde_json::from_slice(&kv.value)
            .map(|r| Some((r, kv.mod_revision)))
            .map_err(|e| format!("{KEYRING_KEY}: not a key ring: {e}")),
    }
}

/// At start on a shared store: the ring, seeded with this replica's signing key when there is
/// none yet.
pub fn join_ring(keys: &Keys, now: OffsetDateTime) -> Result<(), String> {
    let ring = match read_ring(&keys.registry)? {
        Some((ring, _)) => ring,
        None => {
            let active = keys.active();
            let ring = KeyRing::seeded(active.issuer.key().kid(), &keys.signing_pem, unix_ms(now));
            let value = serde_json::to_vec(&ring).map_err(|e| e.to_string())?;
            match keys.registry.create_raw(KEYRING_KEY, &value) {
                Ok(_) => ring,
                // Another replica seeded it first: use theirs.
                Err(StoreError::Exists { .. }) => read_ring(&keys.registry)?.ok_or("the key ring vanished")?.0,
                Err(e) => return Err(e.to_string()),
            }
        }
    };
    keys.load(ring)
}

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
    let Some(rt) = crate::resources::by_kind("Secret") else { return BTreeSet::new() };
    let mut kids = BTreeSet::new();
    for s in state.registry.list(rt, "") {
        if s.value.get("type").and_then(Value::as_str) != Some("kubernetes.io/service-account-token") {
            continue;
        }
        let token = s.value.pointer("/data/token").and_then(Value::as_str).and_then(|b| {
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

/// Adds a new key to the ring (the start of a rotation), of the signing key's type.
pub fn rotate(state: &State) -> Result<Value, crate::api::status::ApiError> {
    use crate::api::status::ApiError;
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
    let time =
        |ms: Option<i64>| ms.and_then(|ms| OffsetDateTime::from_unix_timestamp(ms / 1000).ok()).map(super::timestamp);
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
pub fn list(state: &State) -> Result<Value, crate::api::status::ApiError> {
    use crate::api::status::ApiError;
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
