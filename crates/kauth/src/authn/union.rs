//! Tries authenticators in order, as Kubernetes' union does: the first success wins; a
//! rejection does not stop the others (a request whose client certificate fails but whose bearer
//! token is valid is the token's user); when none succeeds, every rejection is returned, typed
//! and in order ([`Rejection::Union`]), each naming its authenticator (Kubernetes joins them
//! into one anonymous string).

use time::OffsetDateTime;

use super::{Authenticated, Credentials, Rejection, RequestAuthenticator, TokenAuthenticator};

/// The first success of `attempts`, made one after the other and no further than it; `Ok(None)`
/// when none recognised the credential; else every rejection, in order.
fn first_success(
    attempts: impl Iterator<Item = Result<Option<Authenticated>, Rejection>>,
) -> Result<Option<Authenticated>, Rejection> {
    let mut rejections = Vec::new();
    for attempt in attempts {
        match attempt {
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
        first_success(self.members.iter().map(|m| m.authenticate_token(token, audiences, now)))
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
        first_success(self.members.iter().map(|m| m.authenticate(request, now)))
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

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

    /// Counts the calls reaching the wrapped authenticator.
    pub(crate) struct Counting(pub Arc<AtomicUsize>, pub Fixed);

    impl TokenAuthenticator for Counting {
        fn name(&self) -> &'static str {
            "counting"
        }
        fn authenticate_token(
            &self,
            token: &str,
            audiences: Option<&[String]>,
            now: OffsetDateTime,
        ) -> Result<Option<Authenticated>, Rejection> {
            self.0.fetch_add(1, Ordering::SeqCst);
            self.1.authenticate_token(token, audiences, now)
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

    #[test]
    fn members_after_the_first_success_are_not_asked() {
        let count = Arc::new(AtomicUsize::new(0));
        let union = TokenUnion::new().with(Fixed("a")).with(Counting(count.clone(), Fixed("b")));
        assert_eq!(union.authenticate_token("good", None, now()).unwrap().unwrap().authenticator, "a");
        assert_eq!(count.load(Ordering::SeqCst), 0);
        assert!(union.authenticate_token("bad", None, now()).is_err(), "a's rejection stands");
        assert_eq!(count.load(Ordering::SeqCst), 1, "a rejection does not stop the others");
    }
}
