//! Anonymous requests: `system:anonymous` in group `system:unauthenticated`, for a request that
//! presents no credential at all (`--anonymous-auth`, or `AuthenticationConfiguration`'s
//! `anonymous`, whose `conditions` may limit it to some paths, matched exactly as
//! kube-apiserver matches the request's URL path).
//!
//! Invariant: a request presenting a credential (a client certificate, an `Authorization`
//! header, well-formed or not) is never anonymous: [`Anonymous`] answers `Ok(None)` for it,
//! wherever it stands in a union. A failed credential so never falls back to anonymous.

use std::sync::Arc;

use time::OffsetDateTime;

use super::{Authenticated, Credentials, Rejection, RequestAuthenticator};
use crate::user::{UserInfo, ANONYMOUS_USER, UNAUTHENTICATED_GROUP};

/// The anonymous authenticator.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Anonymous {
    /// Whether anonymous requests are allowed; when not, a request without credential is
    /// rejected with [`Rejection::AnonymousDisabled`].
    pub enabled: bool,
    /// The only paths anonymous requests may reach (`None`: all); elsewhere a request without
    /// credential is rejected with [`Rejection::AnonymousPathNotAllowed`].
    pub paths: Option<Arc<[String]>>,
}

impl Anonymous {
    /// Anonymous requests allowed (`true`) or refused.
    pub fn new(enabled: bool) -> Self {
        Anonymous { enabled, paths: None }
    }

    /// Anonymous requests allowed on `paths` only (all when empty, as kube-apiserver reads
    /// empty `conditions`).
    pub fn on_paths(paths: Vec<String>) -> Self {
        Anonymous { enabled: true, paths: (!paths.is_empty()).then(|| paths.into()) }
    }
}

/// The anonymous user: `system:anonymous`, groups `system:unauthenticated`.
pub fn anonymous_user() -> UserInfo {
    UserInfo { name: ANONYMOUS_USER.into(), groups: vec![UNAUTHENTICATED_GROUP.into()], ..UserInfo::default() }
}

impl RequestAuthenticator for Anonymous {
    fn name(&self) -> &'static str {
        "anonymous"
    }

    fn authenticate(
        &self,
        request: &Credentials<'_>,
        _now: OffsetDateTime,
    ) -> Result<Option<Authenticated>, Rejection> {
        if request.presents_credential() {
            Ok(None)
        } else if !self.enabled {
            Err(Rejection::AnonymousDisabled)
        } else if let Some(paths) = self.paths.as_ref().filter(|p| !p.iter().any(|p| p == request.path)) {
            Err(Rejection::AnonymousPathNotAllowed { path: request.path.to_owned(), allowed: paths.to_vec() })
        } else {
            Ok(Some(Authenticated::new("anonymous", anonymous_user())))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderMap;

    #[test]
    fn only_a_request_without_credential_is_anonymous() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let none = HeaderMap::new();
        let bare = Credentials::new(&none, None);
        assert_eq!(Anonymous::new(true).authenticate(&bare, now).unwrap().unwrap().user.name, ANONYMOUS_USER);
        assert_eq!(Anonymous::new(false).authenticate(&bare, now), Err(Rejection::AnonymousDisabled));
        let mut with_header = HeaderMap::new();
        with_header.insert(http::header::AUTHORIZATION, http::HeaderValue::from_static("Bearer x"));
        assert_eq!(Anonymous::new(true).authenticate(&Credentials::new(&with_header, None), now), Ok(None));
        // Another scheme is no credential, as in kube-apiserver.
        with_header.insert(http::header::AUTHORIZATION, http::HeaderValue::from_static("Basic x"));
        let basic = Anonymous::new(true).authenticate(&Credentials::new(&with_header, None), now);
        assert_eq!(basic.unwrap().unwrap().user.name, ANONYMOUS_USER);
        let chain = [rustls_pki_types::CertificateDer::from(vec![0u8])];
        assert_eq!(Anonymous::new(true).authenticate(&Credentials::new(&none, Some(&chain)), now), Ok(None));
        assert_eq!(
            Anonymous::new(true).authenticate(&Credentials::new(&none, Some(&[])), now).unwrap().unwrap().authenticator,
            "anonymous"
        );
    }

    #[test]
    fn conditions_limit_anonymous_to_their_paths_exactly() {
        let now = OffsetDateTime::UNIX_EPOCH;
        let none = HeaderMap::new();
        let a = Anonymous::on_paths(vec!["/livez".into(), "/readyz".into()]);
        let on = |path| a.authenticate(&Credentials::new(&none, None).on_path(path), now);
        assert_eq!(on("/livez").unwrap().unwrap().user.name, ANONYMOUS_USER);
        assert_eq!(on("/readyz").unwrap().unwrap().user.name, ANONYMOUS_USER);
        for path in ["/livez/", "/livez/ping", "/healthz", "/api"] {
            let got = on(path).unwrap_err();
            assert_eq!(got.code(), "anonymous_path_not_allowed", "{path}");
            assert!(got.to_string().contains(&format!("not on {path:?}")), "{got}");
        }
        assert_eq!(Anonymous::on_paths(Vec::new()), Anonymous::new(true), "no conditions: every path");
    }
}
