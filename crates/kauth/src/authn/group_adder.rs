//! Adds `system:authenticated` to every authenticated user, as kube-apiserver's group adder
//! wraps its authenticators (anonymous is outside it: `system:anonymous` is not authenticated).
//!
//! The group is pushed onto the user's groups: where the authenticator left room (service-account
//! users are built with it), the vector does not move. Put it inside a cache, so a cache hit
//! returns a user that already has it.

use time::OffsetDateTime;

use super::{Authenticated, Credentials, Rejection, RequestAuthenticator, TokenAuthenticator};
use crate::user::{UserInfo, AUTHENTICATED_GROUP};

/// Adds `system:authenticated` to `user`'s groups unless it is there.
pub fn add_authenticated_group(user: &mut UserInfo) {
    if !user.groups.iter().any(|g| g == AUTHENTICATED_GROUP) {
        user.groups.push(AUTHENTICATED_GROUP.to_owned());
    }
}

/// A wrapper adding `system:authenticated` to what its inner authenticator accepts; a token
/// authenticator or a request authenticator, as the inner one is.
#[derive(Debug)]
pub struct GroupAdder<A> {
    inner: A,
}

impl<A> GroupAdder<A> {
    /// Wraps `inner`.
    pub fn new(inner: A) -> Self {
        GroupAdder { inner }
    }

    /// The wrapped authenticator.
    pub fn inner(&self) -> &A {
        &self.inner
    }
}

fn add(mut a: Authenticated) -> Authenticated {
    add_authenticated_group(&mut a.user);
    a
}

impl<A: TokenAuthenticator> TokenAuthenticator for GroupAdder<A> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn authenticate_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        now: OffsetDateTime,
    ) -> Result<Option<Authenticated>, Rejection> {
        self.inner.authenticate_token(token, audiences, now).map(|a| a.map(add))
    }
}

impl<A: RequestAuthenticator> RequestAuthenticator for GroupAdder<A> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn authenticate(&self, request: &Credentials<'_>, now: OffsetDateTime) -> Result<Option<Authenticated>, Rejection> {
        self.inner.authenticate(request, now).map(|a| a.map(add))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::authn::union::tests::Fixed;
    use crate::user::service_account_groups;

    #[test]
    fn adds_the_group_once_without_moving_a_service_accounts_groups() {
        let adder = GroupAdder::new(Fixed("a"));
        let a = adder.authenticate_token("good", None, OffsetDateTime::UNIX_EPOCH).unwrap().unwrap();
        assert_eq!(a.user.groups, [AUTHENTICATED_GROUP]);
        let mut user = UserInfo { groups: service_account_groups("ns"), ..UserInfo::default() };
        let before = user.groups.as_ptr();
        add_authenticated_group(&mut user);
        add_authenticated_group(&mut user);
        assert_eq!(user.groups.as_ptr(), before);
        assert_eq!(user.groups.len(), 3);
        assert!(matches!(
            adder.authenticate_token("bad", None, OffsetDateTime::UNIX_EPOCH),
            Err(Rejection::Token { .. })
        ));
    }
}
