//! `Authorization: Bearer <token>`: a request authenticator wrapping a token authenticator.
//!
//! As in kube-apiserver, a request without the header, with another scheme (`Basic …`) or with an
//! empty bearer token (`Bearer `, or `Bearer  x` whose token is the empty text before the second
//! space) presents no bearer credential (`Ok(None)`: anonymous, when anonymous requests are
//! allowed). A bearer token that is not UTF-8 or is followed by a space and more text is a
//! failure ([`Rejection::Malformed`], with the byte where it goes wrong): kube-apiserver would
//! take the text before the space as the token; kauth refuses a credential it would have to cut.
//! So is a token no token authenticator recognises ([`Rejection::NotRecognised`]).

use time::OffsetDateTime;

use super::{Authenticated, Credentials, Rejection, RequestAuthenticator, TokenAuthenticator};

pub use super::authorization_header::{bearer_token, presents_bearer};

/// Authenticates a request by its bearer token, with a token authenticator.
#[derive(Debug)]
pub struct BearerAuthenticator<T> {
    tokens: T,
}

impl<T: TokenAuthenticator> BearerAuthenticator<T> {
    /// Authenticates bearer tokens with `tokens`.
    pub fn new(tokens: T) -> Self {
        BearerAuthenticator { tokens }
    }
}

impl<T: TokenAuthenticator> RequestAuthenticator for BearerAuthenticator<T> {
    fn name(&self) -> &'static str {
        "bearer"
    }

    /// Bearer tokens are for the API audiences: the token authenticator is asked with `None`.
    fn authenticate(&self, request: &Credentials<'_>, now: OffsetDateTime) -> Result<Option<Authenticated>, Rejection> {
        let Some(value) = request.headers.get(http::header::AUTHORIZATION) else { return Ok(None) };
        let token = match bearer_token(value.as_bytes()) {
            Ok(token) => token,
            Err(r) if !presents_bearer(&r) => return Ok(None),
            Err(r) => return Err(r),
        };
        let verdict = match request.token_key {
            Some(memo) => self.tokens.authenticate_connection_token(token, None, now, memo),
            None => self.tokens.authenticate_token(token, None, now),
        };
        match verdict? {
            Some(a) => Ok(Some(a)),
            None => Err(Rejection::NotRecognised),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::union::tests::Fixed;
    use crate::authn::Malformation;
    use http::{HeaderMap, HeaderValue};

    fn malformed(value: &[u8]) -> (Malformation, usize) {
        match bearer_token(value) {
            Err(Rejection::Malformed { what, position }) => (what, position),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn headers() {
        assert_eq!(bearer_token(b"Bearer abc"), Ok("abc"));
        assert_eq!(bearer_token(b"bearer abc "), Ok("abc"));
        assert_eq!(bearer_token(b" BEARER abc"), Ok("abc"));
        assert_eq!(malformed(b"Basic abc"), (Malformation::NotBearer, 0));
        assert_eq!(malformed(b"Bearer ").0, Malformation::EmptyToken);
        assert_eq!(malformed(b"Bearer").0, Malformation::EmptyToken);
        assert_eq!(malformed(b"Bearer  abc").0, Malformation::EmptyToken, "kube-apiserver reads an empty token");
        assert_eq!(malformed(b"Bearer a b"), (Malformation::SpaceInToken, 8));
        assert_eq!(malformed(b"ab\xff"), (Malformation::NotUtf8, 2));
    }

    #[test]
    fn another_scheme_or_an_empty_token_is_no_credential_and_a_cut_token_is_refused() {
        let bearer = BearerAuthenticator::new(Fixed("a"));
        let now = OffsetDateTime::UNIX_EPOCH;
        let mut headers = HeaderMap::new();
        assert_eq!(bearer.authenticate(&Credentials::new(&headers, None), now), Ok(None));
        for (value, want) in
            [("Bearer good", "ok"), ("Bearer bad", "token"), ("Bearer other", "none"), ("Bearer a b", "malformed")]
        {
            headers.insert(http::header::AUTHORIZATION, HeaderValue::from_static(value));
            let got = bearer.authenticate(&Credentials::new(&headers, None), now);
            match want {
                "ok" => assert_eq!(got.unwrap().unwrap().authenticator, "a"),
                "token" => assert!(matches!(got, Err(Rejection::Token { .. }))),
                "none" => assert_eq!(got, Err(Rejection::NotRecognised)),
                _ => assert!(matches!(got, Err(Rejection::Malformed { what: Malformation::SpaceInToken, .. }))),
            }
        }
        for value in ["Basic YWxpY2U6cHc=", "Bearer ", "Bearer", "Bearer  good"] {
            headers.insert(http::header::AUTHORIZATION, HeaderValue::from_static(value));
            let c = Credentials::new(&headers, None);
            assert_eq!(bearer.authenticate(&c, now), Ok(None), "{value:?}");
            assert!(!c.presents_credential(), "{value:?}");
        }
    }
}
