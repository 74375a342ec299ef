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

use std::sync::{Arc, RwLock};

use kauth::authn::service_account::ServiceAccountAuthenticator;
use kauth::token::issue::TokenIssuer;
use kauth::token::keyring::KeyRing;
use kauth::token::keys::{KeySet, SigningKey, VerifyingKey};
use kauth::token::validate::{Validator, ValidatorConfig};
use time::OffsetDateTime;

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

pub(crate) fn unix_ms(t: OffsetDateTime) -> i64 {
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
