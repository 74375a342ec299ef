//! Service-account tokens as a [`TokenAuthenticator`]: the [`Validator`] with a [`Lookup`].
//!
//! The validator sits in one swappable cell: when the verification keys change (a key ring
//! rotation), [`ServiceAccountAuthenticator::replace_validator`] puts a new one in place and
//! requests already validating finish with the one they took. The authenticator itself is
//! shared (`Arc`) between the token chain and whoever swaps its keys.

use std::borrow::Cow;
use std::sync::{Arc, RwLock};

use time::OffsetDateTime;

use super::{Authenticated, Rejection, TokenAuthenticator};
use crate::token::validate::{Lookup, TokenKind, Validator};

/// Audit annotation for a token used after its `warnafter`.
pub const STALE_TOKEN_ANNOTATION: &str = "authentication.k8s.io/stale-token";
/// Audit annotation for a request made with a legacy (Secret-based) token.
pub const LEGACY_TOKEN_ANNOTATION: &str = "authentication.k8s.io/legacy-token";
/// Audit annotation naming the Secret (`namespace/name`) of a legacy token, so the server can
/// record its last use (Kubernetes' `kubernetes.io/legacy-token-last-used` label).
pub const LEGACY_TOKEN_SECRET_ANNOTATION: &str = "authentication.kauth.dev/legacy-token-secret";

/// The authenticator's name, in rejections and responses.
pub const NAME: &str = "service-account";

/// A validator with its API audiences shared, so every response valid for exactly them shares
/// one list (the validator lends them; a response outlives it).
#[derive(Debug)]
struct Current {
    validator: Validator,
    api_audiences: Arc<[String]>,
}

impl Current {
    fn new(validator: Validator) -> Arc<Self> {
        let api_audiences = validator.config().api_audiences.as_slice().into();
        Arc::new(Current { validator, api_audiences })
    }
}

/// Authenticates service-account tokens, bound and legacy, with a validator that can be
/// replaced while requests are served.
#[derive(Debug)]
pub struct ServiceAccountAuthenticator<L> {
    current: RwLock<Arc<Current>>,
    lookup: L,
}

impl<L: Lookup + Send + Sync> ServiceAccountAuthenticator<L> {
    /// An authenticator validating with `validator`, reading objects through `lookup`.
    pub fn new(validator: Validator, lookup: L) -> Self {
        ServiceAccountAuthenticator { current: RwLock::new(Current::new(validator)), lookup }
    }

    /// The lookup.
    pub fn lookup(&self) -> &L {
        &self.lookup
    }

    /// Validates with `validator` from now on (new verification keys). Requests validating
    /// now finish with the validator they started with.
    pub fn replace_validator(&self, validator: Validator) {
        let next = Current::new(validator);
        *self.current.write().unwrap_or_else(|p| p.into_inner()) = next;
    }

    fn current(&self) -> Arc<Current> {
        // A clone of the Arc (no allocation): the lock is held for no longer than that.
        self.current.read().unwrap_or_else(|p| p.into_inner()).clone()
    }
}

impl<L: Lookup + Send + Sync> TokenAuthenticator for ServiceAccountAuthenticator<L> {
    fn name(&self) -> &'static str {
        NAME
    }

    fn authenticate_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        now: OffsetDateTime,
    ) -> Result<Option<Authenticated>, Rejection> {
        // A bootstrap token (`[a-z0-9]{6}.[a-z0-9]{16}`) is never a JWT: saying it is a malformed
        // one would bury the bootstrap authenticator's reason under a wrong one.
        if super::bootstrap_token::parse(token).is_some() {
            return Ok(None);
        }
        let current = self.current();
        match current.validator.validate(token, audiences, now, &self.lookup) {
            Ok(None) => Ok(None),
            Ok(Some(ok)) => {
                let mut annotations = Vec::new();
                if let Some(stale) = &ok.stale {
                    annotations.push((STALE_TOKEN_ANNOTATION, stale.audit_annotation()));
                }
                if let TokenKind::Legacy { secret } = &ok.kind {
                    annotations.push((LEGACY_TOKEN_ANNOTATION, ok.user.name.clone()));
                    annotations.push((LEGACY_TOKEN_SECRET_ANNOTATION, secret.clone()));
                }
                let audiences = match ok.audiences {
                    Cow::Borrowed(_) => current.api_audiences.clone(),
                    Cow::Owned(own) => own.into(),
                };
                Ok(Some(Authenticated { user: ok.user, audiences, annotations, authenticator: NAME }))
            }
            Err(rejection) => Err(Rejection::Token { authenticator: NAME, rejection }),
        }
    }
}
