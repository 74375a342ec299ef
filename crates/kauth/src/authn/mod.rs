//! Authentication: who is making a request. Small pieces composed, as in Kubernetes.
//!
//! Two traits: a [`TokenAuthenticator`] judges a bearer token (TokenReview calls a token chain
//! directly), a [`RequestAuthenticator`] judges what a request presents ([`Credentials`]: its
//! headers and its client certificate chain). Authenticators: [`x509`] client certificates,
//! [`token_file`] static tokens, [`service_account`] tokens, [`anonymous`]. Wrappers implementing
//! the same traits: [`bearer`] (a token authenticator as a request authenticator), [`union`]
//! (try in order), [`cache`] (successes for a TTL; [`token_key_memo`] spares a keep-alive
//! connection recomputing its token's cache key), [`group_adder`] (`system:authenticated`).
//! [`impersonation`] holds the pure parts of `Impersonate-*` handling.
//!
//! An authenticator returns `Ok(Some(_))` (authenticated), `Ok(None)` ("not my kind of
//! credential": another may try) or `Err(Rejection)` ("mine, and invalid, and here is exactly
//! why"). The [`Rejection`] stays typed through unions and caches; it is formatted only at the
//! edges. The precise reason is for operators (logs, audit, TokenReview); HTTP clients get a
//! plain 401.

// Rejections carry the values they compared (certificate names, CA subjects, times) by design;
// they travel only on the refusal path, where their size costs nothing measurable.
#![allow(clippy::result_large_err)]

pub mod anonymous;
pub mod authorization_header;
pub mod bearer;
pub mod bootstrap_token;
pub mod cache;
pub mod group_adder;
pub mod handshake;
pub mod impersonation;
pub mod jwt;
pub mod kubernetes_text;
pub mod rejection;
pub mod request_header;
pub mod service_account;
pub mod token_file;
pub mod token_key_memo;
pub mod union;
pub mod x509;

use std::sync::Arc;

use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

pub use rejection::{
    CertificateName, CertificateRejection, Malformation, Rejection, RequestHeaderRejection, WebhookRejection,
};

use crate::user::UserInfo;
use token_key_memo::TokenKeyMemo;

/// A successful authentication.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authenticated {
    /// The user.
    pub user: UserInfo,
    /// The audiences the credential is valid for (empty: not audience-bound, e.g. a static token
    /// or a client certificate). Shared, as the validator hands them out: usually its own list of
    /// API audiences.
    pub audiences: Arc<[String]>,
    /// Audit annotations to record with the request (`authentication.k8s.io/stale-token`, ...).
    pub annotations: Vec<(&'static str, String)>,
    /// The authenticator that accepted the credential (`x509`, `token-file`, `service-account`,
    /// `anonymous`): always a leaf, never a wrapper.
    pub authenticator: &'static str,
}

impl Authenticated {
    /// `user`, accepted by `authenticator`, bound to no audience and without annotations.
    pub fn new(authenticator: &'static str, user: UserInfo) -> Self {
        Authenticated { user, audiences: Arc::from([]), annotations: Vec::new(), authenticator }
    }
}

/// What a request presents to authenticate with. Borrowed from the request: building one costs
/// nothing.
#[derive(Debug, Clone, Copy)]
pub struct Credentials<'a> {
    /// The request's headers (`Authorization`, ...).
    pub headers: &'a http::HeaderMap,
    /// The client certificate chain (leaf first) the TLS handshake presented, not yet verified:
    /// the handshake only proved the client holds the leaf's key. `None` or empty: no certificate.
    pub client_certificates: Option<&'a [CertificateDer<'static>]>,
    /// The request's path (`/livez`): anonymous access may be limited to some paths. Empty
    /// when the caller has no request (a TokenReview).
    pub path: &'a str,
    /// The connection's memory of its last bearer token's cache key, when the server keeps one
    /// per connection ([`token_key_memo`]).
    pub token_key: Option<&'a TokenKeyMemo>,
}

impl<'a> Credentials<'a> {
    /// The credentials of a request with `headers` and the client certificate chain `chain`.
    pub fn new(headers: &'a http::HeaderMap, chain: Option<&'a [CertificateDer<'static>]>) -> Self {
        Credentials { headers, client_certificates: chain, path: "", token_key: None }
    }

    /// The same credentials, presented on a connection that remembers its last bearer token's
    /// cache key in `memo`.
    pub fn on_connection(self, memo: &'a TokenKeyMemo) -> Self {
        Credentials { token_key: Some(memo), ..self }
    }

    /// The same credentials, presented on `path`.
    pub fn on_path(self, path: &'a str) -> Self {
        Credentials { path, ..self }
    }

    /// The presented chain, if one is (never an empty one).
    pub fn chain(&self) -> Option<&'a [CertificateDer<'static>]> {
        self.client_certificates.filter(|c| !c.is_empty())
    }

    /// True when the request presents a credential: a client certificate or an `Authorization`
    /// header with a bearer token (well-formed or not; another scheme or an empty token is none,
    /// as in kube-apiserver). Such a request is never anonymous.
    pub fn presents_credential(&self) -> bool {
        self.chain().is_some()
            || self.headers.get(http::header::AUTHORIZATION).is_some_and(|v| {
                match authorization_header::bearer_token(v.as_bytes()) {
                    Ok(_) => true,
                    Err(r) => authorization_header::presents_bearer(&r),
                }
            })
    }
}

/// Authenticates bearer tokens.
pub trait TokenAuthenticator: Send + Sync {
    /// A short name for logs and metrics (`token-file`, `service-account`, ...).
    fn name(&self) -> &'static str;

    /// Authenticates `token` for the `audiences` asked for (`None`: the API audiences) at `now`.
    fn authenticate_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        now: OffsetDateTime,
    ) -> Result<Option<Authenticated>, Rejection>;

    /// The same, for a bearer token presented on a connection whose [`TokenKeyMemo`] may
    /// remember the token's cache key: the token cache reuses it rather than computing
    /// it again; every other authenticator ignores the memo.
    fn authenticate_connection_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        now: OffsetDateTime,
        memo: &TokenKeyMemo,
    ) -> Result<Option<Authenticated>, Rejection> {
        let _ = memo;
        self.authenticate_token(token, audiences, now)
    }
}

/// Authenticates a request by what it presents.
pub trait RequestAuthenticator: Send + Sync {
    /// A short name for logs and metrics (`x509`, `bearer`, `anonymous`, ...).
    fn name(&self) -> &'static str;

    /// Authenticates the request presenting `request` at `now`.
    fn authenticate(&self, request: &Credentials<'_>, now: OffsetDateTime) -> Result<Option<Authenticated>, Rejection>;
}

impl<T: TokenAuthenticator + ?Sized> TokenAuthenticator for Arc<T> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn authenticate_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        now: OffsetDateTime,
    ) -> Result<Option<Authenticated>, Rejection> {
        (**self).authenticate_token(token, audiences, now)
    }

    fn authenticate_connection_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        now: OffsetDateTime,
        memo: &TokenKeyMemo,
    ) -> Result<Option<Authenticated>, Rejection> {
        (**self).authenticate_connection_token(token, audiences, now, memo)
    }
}

impl<T: RequestAuthenticator + ?Sized> RequestAuthenticator for Arc<T> {
    fn name(&self) -> &'static str {
        (**self).name()
    }

    fn authenticate(&self, request: &Credentials<'_>, now: OffsetDateTime) -> Result<Option<Authenticated>, Rejection> {
        (**self).authenticate(request, now)
    }
}
