//! kauth serve's JWT issuers: from an `AuthenticationConfiguration` file
//! (`--authentication-config`, re-read when it changes) or the legacy `--oidc-*` flags, as
//! kube-apiserver 1.32 makes them. The library judges the tokens ([`kauth::authn::jwt`]); this
//! module gives it the keys ([`crate::jwks`]) and swaps the whole set of issuers when a new file
//! is good.
//!
//! - `source.rs`: which of the two, their exclusions, the anonymous section, in kube-apiserver's
//!   words.
//! - `build.rs`: one [`crate::jwks::RemoteKeys`] per issuer, fetching at once in the background.
//! - `reload.rs`: the file watched, a changed one loaded, validated, its issuers initialized,
//!   then put in use; a bad one logged and counted, the old configuration kept.

pub mod build;
pub mod reload;
pub mod source;

use std::sync::{Arc, RwLock};

use kauth::authn::jwt::JwtIssuers;
use kauth::authn::{Authenticated, Rejection, TokenAuthenticator};
use time::OffsetDateTime;

use crate::jwks::RemoteKeys;

/// The JWT issuers in use: the token authenticator the chain holds (between bootstrap tokens
/// and the webhook), and their keys' health. Replaced whole on reload; a token being judged
/// keeps the set it started with.
#[derive(Debug, Default)]
pub struct JwtAuthentication {
    issuers: RwLock<Arc<JwtIssuers>>,
    keys: crate::jwks::JwtIssuers,
}

impl JwtAuthentication {
    /// Puts `issuers`, verifying with `keys`, in use; the keys they replace stop fetching.
    pub fn install(&self, issuers: JwtIssuers, keys: Vec<Arc<RemoteKeys>>) {
        *self.issuers.write().unwrap_or_else(|p| p.into_inner()) = Arc::new(issuers);
        self.keys.replace(keys);
    }

    /// The issuers in use.
    pub fn current(&self) -> Arc<JwtIssuers> {
        self.issuers.read().unwrap_or_else(|p| p.into_inner()).clone()
    }

    /// The `/readyz?verbose` lines, one per issuer.
    pub fn readiness_lines(&self) -> Vec<String> {
        self.keys.readiness_lines()
    }
}

impl TokenAuthenticator for JwtAuthentication {
    fn name(&self) -> &'static str {
        kauth::authn::jwt::NAME
    }

    fn authenticate_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        now: OffsetDateTime,
    ) -> Result<Option<Authenticated>, Rejection> {
        self.current().authenticate_token(token, audiences, now)
    }
}
