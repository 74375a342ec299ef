//! Anonymous requests: `system:anonymous` in group `system:unauthenticated`, for a request that
//! presents no credential at all (`--anonymous-auth`).
//!
//! Invariant: a request presenting a credential (a client certificate, an `Authorization`
//! header, well-formed or not) is never anonymous: [`Anonymous`] answers `Ok(None)` for it,
//! wherever it stands in a union. A failed credential so never falls back to anonymous.

use time::OffsetDateTime;

use super::{Authenticated, Credentials, Rejection, RequestAuthenticator};
use crate::user::{UserInfo, ANONYMOUS_USER, UNAUTHENTICATED_GROUP};

/// The anonymous authenticator.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Anonymous {
    /// Whether anonymous requests are allowed; when not, a request without credential is
    /// rejected with [`Rejection::AnonymousDisabled`].
    pub enabled: bool,
}

impl Anonymous {
    /// Anonymous requests allowed (`true`) or refused.
    pub fn new(enabled: bool) -> Self {
        Anonymous { enabled }
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
        } else if self.enabled {
            Ok(Some(Authenticated::new("anonymous", anonymous_user())))
        } else {
            Err(Rejection::AnonymousDisabled)
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
}
