//! Service-account tokens as a [`TokenAuthenticator`]: the [`Validator`] with a [`Lookup`].

use std::borrow::Cow;
use std::sync::Arc;

use time::OffsetDateTime;

use super::{Failure, Response, TokenAuthenticator};
use crate::token::validate::{Lookup, TokenKind, Validator};

/// Audit annotation for a token used after its `warnafter`.
pub const STALE_TOKEN_ANNOTATION: &str = "authentication.k8s.io/stale-token";
/// Audit annotation for a request made with a legacy (Secret-based) token.
pub const LEGACY_TOKEN_ANNOTATION: &str = "authentication.k8s.io/legacy-token";
/// Audit annotation naming the Secret (`namespace/name`) of a legacy token, so the server can
/// record its last use (Kubernetes' `kubernetes.io/legacy-token-last-used` label).
pub const LEGACY_TOKEN_SECRET_ANNOTATION: &str = "authentication.kauth.dev/legacy-token-secret";

/// Authenticates service-account tokens, bound and legacy.
#[derive(Debug)]
pub struct ServiceAccountAuthenticator<L> {
    validator: Validator,
    lookup: L,
    /// The validator's API audiences, shared by every response valid for exactly them (the
    /// validator lends them; a response outlives it).
    api_audiences: Arc<[String]>,
}

impl<L: Lookup + Send + Sync> ServiceAccountAuthenticator<L> {
    /// An authenticator validating with `validator`, reading objects through `lookup`.
    pub fn new(validator: Validator, lookup: L) -> Self {
        let api_audiences = validator.config().api_audiences.as_slice().into();
        ServiceAccountAuthenticator { validator, lookup, api_audiences }
    }

    /// The lookup (the server swaps in its store).
    pub fn lookup(&self) -> &L {
        &self.lookup
    }
}

impl<L: Lookup + Send + Sync> TokenAuthenticator for ServiceAccountAuthenticator<L> {
    fn name(&self) -> &'static str {
        "service-account"
    }

    fn authenticate_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        now: OffsetDateTime,
    ) -> Result<Option<Response>, Failure> {
        match self.validator.validate(token, audiences, now, &self.lookup) {
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
                    Cow::Borrowed(_) => self.api_audiences.clone(),
                    Cow::Owned(own) => own.into(),
                };
                Ok(Some(Response { user: ok.user, audiences, annotations }))
            }
            Err(r) => Err(Failure {
                authenticator: "service-account",
                code: r.code(),
                clock_skew_at_least: r.clock_skew_at_least(),
                message: r.to_string(),
            }),
        }
    }
}
