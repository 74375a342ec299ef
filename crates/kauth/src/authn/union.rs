//! Tries token authenticators in order, as Kubernetes' union does: the first success wins; a
//! failure does not stop the others; when none succeeds, every failure is returned, each naming
//! its authenticator (Kubernetes joins them into one anonymous string).

use time::OffsetDateTime;

use super::{Failure, Response, TokenAuthenticator};

/// Authenticators in order.
#[derive(Default)]
pub struct TokenUnion {
    members: Vec<Box<dyn TokenAuthenticator>>,
}

impl std::fmt::Debug for TokenUnion {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.members.iter().map(|m| m.name())).finish()
    }
}

/// The union's outcome.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// One authenticator accepted the token.
    Authenticated {
        /// Which.
        by: &'static str,
        /// Its response.
        response: Response,
    },
    /// None recognised the token.
    NotRecognised,
    /// None accepted it, and these recognised it and said why not.
    Rejected(Vec<Failure>),
}

impl TokenUnion {
    /// An empty union.
    pub fn new() -> Self {
        TokenUnion::default()
    }

    /// Appends an authenticator.
    pub fn with(mut self, a: impl TokenAuthenticator + 'static) -> Self {
        self.members.push(Box::new(a));
        self
    }

    /// Tries each authenticator in order.
    pub fn authenticate(&self, token: &str, audiences: Option<&[String]>, now: OffsetDateTime) -> Outcome {
        let mut failures = Vec::new();
        for m in &self.members {
            match m.authenticate_token(token, audiences, now) {
                Ok(Some(response)) => return Outcome::Authenticated { by: m.name(), response },
                Ok(None) => {}
                Err(f) => failures.push(f),
            }
        }
        if failures.is_empty() {
            Outcome::NotRecognised
        } else {
            Outcome::Rejected(failures)
        }
    }
}

impl TokenAuthenticator for TokenUnion {
    fn name(&self) -> &'static str {
        "union"
    }

    /// The first success, or the first failure (use [`TokenUnion::authenticate`] for all of them).
    fn authenticate_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        now: OffsetDateTime,
    ) -> Result<Option<Response>, Failure> {
        match self.authenticate(token, audiences, now) {
            Outcome::Authenticated { response, .. } => Ok(Some(response)),
            Outcome::NotRecognised => Ok(None),
            Outcome::Rejected(mut f) => Err(f.remove(0)),
        }
    }
}
