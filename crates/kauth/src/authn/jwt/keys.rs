//! Where a JWT issuer's verification keys come from.
//!
//! The authenticator asks [`IssuerKeys::current`] for every token; when the token's `kid` is not
//! in that set it asks [`IssuerKeys::refresh`] once, as go-oidc's remote key set refetches on an
//! unknown key id, so a key the issuer just rotated in is accepted on first sight. Whoever
//! implements `refresh` bounds how often it really fetches (a flood of tokens with forged `kid`s
//! must not hammer the issuer) and keeps the last good set when the issuer is down.

use std::fmt;
use std::sync::Arc;

use crate::token::keys::KeySet;

/// An issuer's keys, as of now.
pub trait IssuerKeys: Send + Sync + fmt::Debug {
    /// The keys to verify with. `Err` only when no set was ever obtained (the issuer has not been
    /// reachable since start): kube-apiserver's "authenticator for issuer … is not initialized".
    fn current(&self) -> Result<Arc<KeySet>, KeysUnavailable>;

    /// A token names `kid` (or none), which [`IssuerKeys::current`]'s set lacks: fetch again if
    /// the rate limit allows, waiting at most for that one fetch, and return the set to verify
    /// with: the new one, or the last good one when the fetch failed or was not allowed.
    fn refresh(&self, kid: Option<&str>) -> Result<Arc<KeySet>, KeysUnavailable>;
}

/// Why an issuer has no keys to verify with: what was fetched and how it failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeysUnavailable {
    /// The URL that could not be read (the discovery document or the JWKS).
    pub url: String,
    /// How reading it failed.
    pub error: String,
}

impl fmt::Display for KeysUnavailable {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "fetching {} failed: {}", self.url, self.error)
    }
}

impl std::error::Error for KeysUnavailable {}

/// A fixed key set: tests, and `kauth token explain` with keys from a file.
#[derive(Debug, Clone)]
pub struct StaticKeys(pub Arc<KeySet>);

impl IssuerKeys for StaticKeys {
    fn current(&self) -> Result<Arc<KeySet>, KeysUnavailable> {
        Ok(self.0.clone())
    }

    fn refresh(&self, _kid: Option<&str>) -> Result<Arc<KeySet>, KeysUnavailable> {
        Ok(self.0.clone())
    }
}
