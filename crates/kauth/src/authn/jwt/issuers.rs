//! Every configured JWT issuer as one [`TokenAuthenticator`]: a token goes to the issuer its
//! (unverified) `iss` names, as kube-apiserver's per-issuer authenticators each take only their
//! own issuer's tokens. A token that is not a compact JWT, or whose `iss` is a service-account
//! issuer, is not ours (`Ok(None)`); one whose `iss` is no configured issuer is refused with
//! [`JwtRejection::IssuerNotConfigured`], which lists the configured issuers (kube-apiserver
//! says nothing of it: its text stays `invalid bearer token`).
//!
//! Audiences as kube-apiserver's `WrapAudienceAgnosticToken`: asked for audiences none of which
//! is an API audience, the token is not ours; else the response carries the audiences asked for
//! that are API audiences.

use std::sync::Arc;

use time::OffsetDateTime;

use super::authenticator::JwtAuthenticator;
use super::claims::untrusted_issuer;
use super::keys::IssuerKeys;
use super::load::ValidConfig;
use super::rejection::JwtRejection;
use super::trace::{Step, Trace};
use super::validation::ValidIssuer;
use crate::authn::{Authenticated, Rejection, TokenAuthenticator};
use crate::token::keys::Algorithm;
use crate::user::UserInfo;

/// The authenticator's name, in rejections and responses.
pub const NAME: &str = "jwt";

/// The configured issuers.
#[derive(Debug, Clone, Default)]
pub struct JwtIssuers {
    issuers: Vec<JwtAuthenticator>,
    api_audiences: Arc<[String]>,
    ignored_issuers: Vec<String>,
}

/// What `kauth token explain --authentication-config` shows: the issuer that took the token
/// (or none), every check it passed, and the verdict.
#[derive(Debug, Clone)]
pub struct Explanation {
    /// The token's unverified `iss`, if it is a JWT.
    pub iss: Option<String>,
    /// The configured issuers.
    pub configured: Vec<String>,
    /// The checks passed, in order.
    pub steps: Vec<Step>,
    /// The user, or why not.
    pub verdict: Result<UserInfo, JwtRejection>,
}

impl JwtIssuers {
    /// The issuers of `config`, each verifying with the keys `keys_for` gives it and accepting
    /// `algorithms` (a configuration file: [`super::ALL_ALGORITHMS`]).
    pub fn from_config(
        config: &ValidConfig,
        algorithms: &[Algorithm],
        mut keys_for: impl FnMut(&ValidIssuer) -> Arc<dyn IssuerKeys>,
    ) -> Self {
        let issuers =
            config.issuers.iter().map(|i| JwtAuthenticator::new(i.clone(), keys_for(i), algorithms)).collect();
        JwtIssuers { issuers, api_audiences: Arc::from([]), ignored_issuers: Vec::new() }
    }

    /// With the API audiences (`--api-audiences`; empty: none asked for is checked).
    pub fn with_api_audiences(mut self, audiences: &[String]) -> Self {
        self.api_audiences = audiences.into();
        self
    }

    /// Tokens from these issuers (the service-account issuers) are not ours.
    pub fn ignoring_issuers(mut self, issuers: &[String]) -> Self {
        self.ignored_issuers = issuers.to_vec();
        self
    }

    /// The issuers, in order.
    pub fn issuers(&self) -> &[JwtAuthenticator] {
        &self.issuers
    }

    fn configured(&self) -> Vec<String> {
        self.issuers.iter().map(|i| i.url().to_owned()).collect()
    }

    /// Judges `token` at `now`: `None` when it is not a JWT at all.
    fn judge(
        &self,
        token: &str,
        now: OffsetDateTime,
        trace: &mut Trace,
    ) -> Option<(String, Result<UserInfo, JwtRejection>)> {
        let iss = untrusted_issuer(token)?;
        let verdict = match self.issuers.iter().find(|i| i.url() == iss) {
            Some(issuer) => issuer.verify(token, now, trace),
            None => Err(JwtRejection::IssuerNotConfigured { iss: iss.clone(), configured: self.configured() }),
        };
        Some((iss, verdict))
    }

    /// Each issuer's health, for `/readyz` (kube-apiserver's `jwt-authenticator` check): `Err`
    /// with kube-apiserver's text while its keys were never obtained.
    pub fn health(&self) -> Vec<(String, Result<(), String>)> {
        self.issuers
            .iter()
            .map(|i| {
                let url = i.url().to_owned();
                let state = i
                    .keys()
                    .current()
                    .map(|_| ())
                    .map_err(|e| format!("oidc: authenticator for issuer {url:?} is not healthy: {e}"));
                (url, state)
            })
            .collect()
    }

    /// Every check `token` goes through at `now`, for explaining.
    pub fn explain(&self, token: &str, now: OffsetDateTime) -> Option<Explanation> {
        let mut trace = Trace::recording();
        let (iss, verdict) = self.judge(token, now, &mut trace)?;
        Some(Explanation { iss: Some(iss), configured: self.configured(), steps: trace.into_steps(), verdict })
    }
}

impl TokenAuthenticator for JwtIssuers {
    fn name(&self) -> &'static str {
        NAME
    }

    fn authenticate_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        now: OffsetDateTime,
    ) -> Result<Option<Authenticated>, Rejection> {
        let bound: Arc<[String]> = match audiences {
            Some(asked) if !asked.is_empty() => {
                let both: Vec<String> = asked.iter().filter(|a| self.api_audiences.contains(a)).cloned().collect();
                if both.is_empty() {
                    return Ok(None);
                }
                both.into()
            }
            _ => self.api_audiences.clone(),
        };
        if self.issuers.is_empty() {
            return Ok(None);
        }
        let Some((iss, verdict)) = self.judge(token, now, &mut Trace::off()) else {
            return Ok(None);
        };
        match verdict {
            Ok(user) => {
                let mut a = Authenticated::new(NAME, user);
                a.audiences = bound;
                Ok(Some(a))
            }
            Err(JwtRejection::IssuerNotConfigured { .. }) if self.ignored_issuers.contains(&iss) => Ok(None),
            Err(r) => Err(Rejection::Jwt(r)),
        }
    }
}
