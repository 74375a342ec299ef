//! Tries authenticators in order, as Kubernetes' union does: the first success wins; a
//! rejection does not stop the others (a request whose client certificate fails but whose bearer
//! token is valid is the token's user); when none succeeds, every rejection is returned, typed
//! and in order ([`Rejection::Union`]), each naming its authenticator (Kubernetes joins them
//! into one anonymous string).

use time::OffsetDateTime;

use super::{Authenticated, Credentials, Rejection, RequestAuthenticator, TokenAuthenticator};

/// Token authenticators, tried in order.
#[derive(Default)]
pub struct TokenUnion {
    members: Vec<Box<dyn TokenAuthenticator>>,
}

impl std::fmt::Debug for TokenUnion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.members.iter().map(|m| m.name())).finish()
    }
}

impl TokenUnion {
    /// An empty union (it recognises nothing).
    pub fn new() -> Self {
        TokenUnion::default()
    }

    /// Appends an authenticator.
    pub fn with(mut self, a: impl TokenAuthenticator + 'static) -> Self {
        self.members.push(Box::new(a));
        self
    }
}

impl TokenAuthenticator for TokenUnion {
    fn name(&self) -> &'static str {
        "union"
    }

    /// The first success; `Ok(None)` when no member recognised the token; else every member's
    /// rejection.
    fn authenticate_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        now: OffsetDateTime,
    ) -> Result<Option<Authenticated>, Rejection> {
        let mut rejections = Vec::new();
        for m in &self.members {
            match m.authenticate_token(token, audiences, now) {
                Ok(Some(a)) => return Ok(Some(a)),
                Ok(None) => {}
                Err(r) => rejections.push(r),
            }
        }
        if rejections.is_empty() {
            Ok(None)
        } else {
            Err(Rejection::of_all(rejections))
        }
    }
}

/// Request authenticators, tried in order.
#[derive(Default)]
pub struct RequestUnion {
    members: Vec<Box<dyn RequestAuthenticator>>,
}

impl std::fmt::Debug for RequestUnion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.members.iter().map(|m| m.name())).finish()
    }
}

impl RequestUnion {
    /// An empty union (it recognises nothing).
    pub fn new() -> Self {
        RequestUnion::default()
    }

    /// Appends an authenticator.
    pub fn with(mut self, a: impl RequestAuthenticator + 'static) -> Self {
        self.members.push(Box::new(a));
        self
    }
}

impl RequestAuthenticator for RequestUnion {
    fn name(&self) -> &'static str {
        "union"
    }

    /// The first success; `Ok(None)` when no member recognised the credentials; else every
    /// member's rejection.
    fn authenticate(&self, request: &Credentials<'_>, now: OffsetDateTime) -> Result<Option<Authenticated>, Rejection> {
        let mut rejections = Vec::new();
        for m in &self.members {
            match m.authenticate(request, now) {
                Ok(Some(a)) => return Ok(Some(a)),
                Ok(None) => {}
                Err(r) => rejections.push(r),
            }
        }
        if rejections.is_empty() {
            Ok(None)
        } else {
            Err(Rejection::of_all(rejections))
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;
    use crate::token::Rejection as TokenRejection;
    use crate::user::UserInfo;

    /// Accepts "good", rejects "bad" (as expired), ignores the rest.
    pub(crate) struct Fixed(pub &'static str);

    impl TokenAuthenticator for Fixed {
        fn name(&self) -> &'static str {
            self.0
        }
        fn authenticate_token(
            &self,
            token: &str,
            _audiences: Option<&[String]>,
            _now: OffsetDateTime,
        ) -> Result<Option<Authenticated>, Rejection> {
            match token {
                "good" => Ok(Some(Authenticated::new(self.0, UserInfo { name: "u".into(), ..UserInfo::default() }))),
                "bad" => Err(Rejection::Token {
                    authenticator: self.0,
                    rejection: TokenRejection::Expired { exp: 0, now: 100, leeway: 60 },
                }),
                _ => Ok(None),
            }
        }
    }

    fn now() -> OffsetDateTime {
        OffsetDateTime::UNIX_EPOCH
    }

    #[test]
    fn token_union_keeps_every_rejection_in_order() {
        let union = TokenUnion::new().with(Fixed("a")).with(Fixed("b"));
        match union.authenticate_token("bad", None, now()) {
            Err(Rejection::Union(all)) => {
                assert_eq!(all.iter().map(Rejection::authenticator).collect::<Vec<_>>(), ["a", "b"]);
                assert!(all
                    .iter()
                    .all(|r| matches!(r, Rejection::Token { rejection: TokenRejection::Expired { .. }, .. })));
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(union.authenticate_token("good", None, now()).unwrap().unwrap().authenticator, "a");
        assert_eq!(union.authenticate_token("other", None, now()), Ok(None));
        let one = TokenUnion::new().with(Fixed("a"));
        assert!(matches!(one.authenticate_token("bad", None, now()), Err(Rejection::Token { authenticator: "a", .. })));
    }
}
