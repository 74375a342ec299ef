//! The delegating authenticator, as k8s.io/apiserver's `DelegatingAuthenticatorConfig` builds
//! it: the front proxy (its certificate judged against the request-header CA and allowed names,
//! the user read from its headers), then client certificates against the client CA, then bearer
//! tokens sent to the cluster's TokenReview behind an HMAC-keyed cache; the union wrapped so
//! every user gains `system:authenticated`. Service-account tokens may be validated locally
//! first ([`crate::local_authentication`]). Anonymous requests only when asked for.
//!
//! All of it is the `kauth` library's authenticators; this file only chooses and orders them.

use std::sync::Arc;

use kauth::authn::anonymous::Anonymous;
use kauth::authn::bearer::BearerAuthenticator;
use kauth::authn::cache::TokenCache;
use kauth::authn::group_adder::GroupAdder;
use kauth::authn::rejection::CaRole;
use kauth::authn::request_header::{self, HeaderNames, RequestHeaderAuthenticator};
use kauth::authn::union::{RequestUnion, TokenUnion};
use kauth::authn::x509::{ClientCaError, X509Authenticator};
use kauth::authn::{Authenticated, Credentials, Rejection, RequestAuthenticator, TokenAuthenticator};
use time::{Duration, OffsetDateTime};

use crate::extension_authentication::ExtensionAuthentication;
use crate::token_review::TokenReviewAuthenticator;

/// kube-apiserver's delegating default for cached TokenReview successes.
pub const DEFAULT_TOKEN_CACHE_TTL: Duration = Duration::seconds(10);

/// Why the authenticator could not be built.
#[derive(Debug, thiserror::Error)]
pub enum AuthenticationSetupError {
    /// A CA bundle is not usable.
    #[error(transparent)]
    Ca(#[from] ClientCaError),
    /// The random key of the token cache could not be made.
    #[error("the token cache's HMAC key could not be generated")]
    CacheKey,
}

/// What to authenticate with.
#[derive(Default)]
pub struct AuthenticationOptions {
    /// The client CA and the front proxy (from the cluster's ConfigMap or from flags).
    pub trust: ExtensionAuthentication,
    /// Where bearer tokens go; `None`: bearer tokens are not accepted.
    pub token_reviews: Option<TokenReviewAuthenticator>,
    /// How long a TokenReview's success is kept (zero: not cached).
    pub token_cache_ttl: Option<Duration>,
    /// Whether a request with no credential is `system:anonymous`.
    pub anonymous: bool,
    /// How old a cached TokenReview success may be and still answer while the cluster cannot
    /// be asked (none: never).
    pub serve_stale: Option<Duration>,
    /// Tokens validated locally (service-account tokens by
    /// [`crate::local_authentication::LocalServiceAccounts`], an OIDC issuer's by
    /// `kauth::authn::jwt`), tried before any TokenReview.
    pub local_tokens: Option<Arc<dyn TokenAuthenticator>>,
}

impl std::fmt::Debug for AuthenticationOptions {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AuthenticationOptions")
            .field("trust", &self.trust)
            .field("token_reviews", &self.token_reviews)
            .field("token_cache_ttl", &self.token_cache_ttl)
            .field("anonymous", &self.anonymous)
            .field("serve_stale", &self.serve_stale)
            .field("local_tokens", &self.local_tokens.as_ref().map(|t| t.name()))
            .finish()
    }
}

/// Authenticates requests as a delegating API server does.
pub struct DelegatingAuthenticator {
    chain: GroupAdder<RequestUnion>,
    strip: Vec<HeaderNames>,
    cache: Option<Arc<TokenCache<TokenReviewAuthenticator>>>,
}

impl std::fmt::Debug for DelegatingAuthenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelegatingAuthenticator").field("chain", self.chain.inner()).finish()
    }
}

/// Removes the impersonation headers kube-apiserver acts on, also spelled with `_` for `-` (as
/// CGI-style upstreams read them alike).
pub fn strip_impersonation(headers: &mut http::HeaderMap) {
    let doomed: Vec<http::HeaderName> = headers
        .keys()
        .filter(|k| {
            let k = k.as_str();
            ["impersonate-user", "impersonate-group", "impersonate-uid"]
                .iter()
                .any(|n| request_header::same_header(k, n))
                || request_header::header_has_prefix(k, "impersonate-extra-")
        })
        .cloned()
        .collect();
    for k in doomed {
        headers.remove(k);
    }
}

/// The identity headers removed from every request, trusted or not: kube-apiserver's standard
/// names (and `X-Remote-Uid`), whatever else is configured.
pub fn standard_identity_headers() -> HeaderNames {
    HeaderNames {
        username: vec![request_header::STANDARD_USERNAME_HEADER.into()],
        uid: vec![request_header::STANDARD_UID_HEADER.into()],
        group: vec![request_header::STANDARD_GROUP_HEADER.into()],
        extra_prefixes: vec![request_header::STANDARD_EXTRA_PREFIX.into()],
    }
}

impl DelegatingAuthenticator {
    /// Builds the chain `options` describe.
    pub fn new(options: AuthenticationOptions) -> Result<Self, AuthenticationSetupError> {
        let mut union = RequestUnion::new();
        let mut strip = vec![standard_identity_headers()];
        if let Some(rh) = &options.trust.request_header {
            let ca = X509Authenticator::from_pem("requestheader-client-ca-file", rh.ca_pem.as_bytes())?
                .in_role(CaRole::RequestHeaderCa);
            strip.push(rh.names.clone());
            union = union.with(RequestHeaderAuthenticator::new(ca, rh.allowed_names.clone(), rh.names.clone()));
        }
        if let Some(pem) = &options.trust.client_ca_pem {
            union = union.with(X509Authenticator::from_pem("client-ca-file", pem.as_bytes())?);
        }
        let mut cache = None;
        let mut tokens = TokenUnion::new();
        let mut any_tokens = false;
        if let Some(local) = options.local_tokens {
            tokens = tokens.with(local);
            any_tokens = true;
        }
        if let Some(reviews) = options.token_reviews {
            let ttl = options.token_cache_ttl.unwrap_or(DEFAULT_TOKEN_CACHE_TTL);
            let fresh = TokenCache::new(reviews, ttl).map_err(|_| AuthenticationSetupError::CacheKey)?;
            let cached = Arc::new(fresh.serve_stale(options.serve_stale.unwrap_or(Duration::ZERO)));
            cache = Some(cached.clone());
            tokens = tokens.with(cached);
            any_tokens = true;
        }
        if any_tokens {
            union = union.with(BearerAuthenticator::new(tokens));
        }
        if options.anonymous {
            union = union.with(Anonymous::new(true));
        }
        Ok(DelegatingAuthenticator { chain: GroupAdder::new(union), strip, cache })
    }

    /// The request's user at `now`; `Err` with the precise reason (for the log and metrics,
    /// never for the client). A request presenting nothing is [`Rejection::AnonymousDisabled`]
    /// unless anonymous requests are allowed.
    pub fn authenticate(&self, credentials: &Credentials<'_>, now: OffsetDateTime) -> Result<Authenticated, Rejection> {
        match self.chain.authenticate(credentials, now)? {
            Some(a) => Ok(a),
            None if credentials.presents_credential() => Err(Rejection::NotRecognised),
            None => Err(Rejection::AnonymousDisabled),
        }
    }

    /// Removes every identity header a client could forge (the standard ones and the front
    /// proxy's configured ones) and the impersonation headers (`Impersonate-User`, `-Group`,
    /// `-Uid`, `Impersonate-Extra-*`): nothing here judges impersonation, so what is behind must
    /// never see a request naming someone who was not judged. Call it on every request after
    /// authenticating.
    pub fn strip_identity_headers(&self, headers: &mut http::HeaderMap) {
        for names in &self.strip {
            request_header::clear(headers, names);
        }
        strip_impersonation(headers);
    }

    /// The token cache's (hits, misses), when bearer tokens are accepted.
    pub fn token_cache_stats(&self) -> Option<(u64, u64)> {
        self.cache.as_ref().map(|c| c.stats())
    }

    /// How many stale TokenReview successes answered while the cluster could not be asked.
    pub fn stale_served(&self) -> u64 {
        self.cache.as_ref().map_or(0, |c| c.stale_served())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_presented_is_anonymous_only_when_allowed() {
        let headers = http::HeaderMap::new();
        let none = Credentials::new(&headers, None);
        let closed = DelegatingAuthenticator::new(AuthenticationOptions::default()).unwrap();
        assert_eq!(closed.authenticate(&none, OffsetDateTime::UNIX_EPOCH), Err(Rejection::AnonymousDisabled));
        let open =
            DelegatingAuthenticator::new(AuthenticationOptions { anonymous: true, ..Default::default() }).unwrap();
        let user = open.authenticate(&none, OffsetDateTime::UNIX_EPOCH).unwrap().user;
        assert_eq!(user.name, "system:anonymous");
    }

    #[test]
    fn a_token_without_token_reviews_is_not_recognised() {
        let mut headers = http::HeaderMap::new();
        headers.insert(http::header::AUTHORIZATION, http::HeaderValue::from_static("Bearer abc"));
        let a = DelegatingAuthenticator::new(AuthenticationOptions::default()).unwrap();
        assert_eq!(
            a.authenticate(&Credentials::new(&headers, None), OffsetDateTime::UNIX_EPOCH),
            Err(Rejection::NotRecognised)
        );
    }

    #[test]
    fn identity_headers_are_stripped_in_any_case() {
        let mut headers = http::HeaderMap::new();
        for (k, v) in [
            ("x-remote-user", "root"),
            ("X-Remote-Group", "system:masters"),
            ("x-remote-extra-a", "b"),
            ("x-remote-uid", "0"),
            ("impersonate-user", "root"),
            ("Impersonate-Group", "system:masters"),
            ("impersonate-extra-scopes", "all"),
            ("X_Remote_User", "root"),
            ("x_remote_group", "system:masters"),
            ("Impersonate_User", "root"),
            ("impersonate_extra_scopes", "all"),
            ("other", "kept"),
        ] {
            headers.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), http::HeaderValue::from_static(v));
        }
        DelegatingAuthenticator::new(AuthenticationOptions::default()).unwrap().strip_identity_headers(&mut headers);
        assert_eq!(headers.len(), 1, "{headers:?}");
        assert!(headers.contains_key("other"));
    }
}
