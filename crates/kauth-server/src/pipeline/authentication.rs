//! The authentication filter (kube-apiserver's `WithAuthentication`): the state's request chain
//! ([`crate::authentication`]) decides who is asking, from the client certificate chain and the
//! headers. The attempt is timed into the authentication metrics by its authenticator and, on
//! failure, its rejection's `code()`. A failure ends the request with Kubernetes' plain 401; the
//! typed rejection becomes text here, once, for the log and the audit annotation
//! `authentication.kauth.dev/failure`. A success hands its annotations to the audit event (and a
//! legacy token's use to its Secret's label) and passes the request on as [`Authenticated`].
//! Either way, the front-proxy headers (the standard `X-Remote-*` and the configured ones) are
//! removed from the request here, before anything else can read them. A chain that may wait on
//! the network (the token webhook) runs off the async workers
//! ([`crate::authentication::off_workers`]); the default chain runs inline.

use std::convert::Infallible;
use std::sync::Arc;
use std::task::{Context, Poll};

use kauth::authn::request_header::{self, HeaderNames};
use kauth::authn::service_account::{LEGACY_TOKEN_SECRET_ANNOTATION, STALE_TOKEN_ANNOTATION};
use kauth::authn::{Credentials, Rejection, RequestAuthenticator};
use tower::{Layer, Service};

use super::context::{Answer, Answered, Authenticated, Ctx, RequestUser};
use crate::api::request::Request;
use crate::api::response::Response;
use crate::api::status::ApiError;
use crate::authentication::rejection_reason;
use crate::controllers;
use crate::metrics::Stale;
use crate::refusals::Verdict;
use crate::state::State;

/// The standard front-proxy headers, removed from every request.
static STANDARD_HEADERS: std::sync::LazyLock<HeaderNames> = std::sync::LazyLock::new(HeaderNames::standard);

/// Why authentication failed (for logs, audit and metrics; the client sees only 401).
#[derive(Debug, Clone)]
pub struct Unauthenticated {
    /// Every authenticator's verdict, typed (boxed: failures are the rare path).
    pub rejection: Box<Rejection>,
    /// The rejection as operators read it (with the replica a token from the future likely
    /// came from).
    pub reason: String,
}

/// Authenticates a request from its client certificate chain (not yet verified) and headers.
pub fn authenticate(state: &State, request: &Request) -> Result<kauth::authn::Authenticated, Unauthenticated> {
    let mut credentials =
        Credentials::new(&request.headers, request.peer.as_deref().map(Vec::as_slice)).on_path(&request.path);
    if let Some(memo) = &request.token_key {
        credentials = credentials.on_connection(memo);
    }
    let rejection = match state.authenticator.authenticate(&credentials, state.now()) {
        Ok(Some(authenticated)) => return Ok(authenticated),
        // Anonymous answers every request without credential: only a presented credential
        // nobody recognised gets here.
        Ok(None) => Rejection::NotRecognised,
        Err(r) => r,
    };
    Err(Unauthenticated {
        reason: rejection_reason(&rejection, state.replicas.as_deref(), state.now()),
        rejection: Box::new(rejection),
    })
}

/// Adds [`WithAuthentication`] to a stack.
#[derive(Debug, Clone)]
pub struct AuthenticationLayer {
    state: Arc<State>,
}

impl AuthenticationLayer {
    /// Authenticates with `state`'s request chain.
    pub fn new(state: Arc<State>) -> Self {
        AuthenticationLayer { state }
    }
}

impl<S> Layer<S> for AuthenticationLayer {
    type Service = WithAuthentication<S>;

    fn layer(&self, inner: S) -> Self::Service {
        WithAuthentication { inner, state: self.state.clone() }
    }
}

/// Authenticates each request; answers 401 itself when that fails.
#[derive(Debug, Clone)]
pub struct WithAuthentication<S> {
    inner: S,
    state: Arc<State>,
}

impl<S> Service<Ctx> for WithAuthentication<S>
where
    S: Service<Authenticated, Response = Answered, Error = Infallible>,
    S::Future: Unpin,
{
    type Response = Answered;
    type Error = Infallible;
    type Future = Answer<S::Future>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut ctx: Ctx) -> Self::Future {
        let state = &*self.state;
        let start = std::time::Instant::now();
        // Off the async workers only when the chain may wait on a remote authenticator.
        let authenticated = crate::authentication::off_workers(state.config.remote_authentication, || {
            authenticate(state, &ctx.request)
        });
        let took = start.elapsed();
        // Whatever the outcome, nothing after this filter reads a user from a header a client
        // may have written (kube-apiserver clears them after a success only).
        request_header::clear(&mut ctx.request.headers, &STANDARD_HEADERS);
        if let Some(names) = &state.config.request_header_names {
            request_header::clear(&mut ctx.request.headers, names);
        }
        let authenticated = match authenticated {
            Ok(a) => a,
            Err(why) => {
                state.metrics.authentication(why.rejection.authenticator(), Err(why.rejection.code()), took);
                // At the default level, rate-limited: see `crate::refusals`.
                if let Verdict::Log { suppressed_before } = state.refusals.admit(state.now().unix_timestamp()) {
                    if suppressed_before > 0 {
                        tracing::warn!(
                            "{suppressed_before} more refused requests in the previous second were not logged"
                        );
                    }
                    tracing::warn!(
                        authenticator = why.rejection.authenticator(),
                        code = why.rejection.code(),
                        path = %ctx.request.path,
                        source = %ctx.request.source_ip,
                        "unauthorized: {}",
                        why.reason
                    );
                }
                ctx.annotate("authentication.kauth.dev/failure", || why.reason);
                return Answer::now(Answered { ctx, user: None, response: Response::error(&ApiError::unauthorized()) });
            }
        };
        let stale = authenticated.annotations.iter().any(|(k, _)| *k == STALE_TOKEN_ANNOTATION);
        state.metrics.authentication(authenticated.authenticator, Ok(if stale { Stale::Yes } else { Stale::No }), took);
        for (k, v) in authenticated.annotations {
            if k == LEGACY_TOKEN_SECRET_ANNOTATION {
                controllers::track_legacy_token_use(state, &v);
            }
            ctx.annotate(k, || v);
        }
        let user =
            RequestUser { user: authenticated.user, authenticator: authenticated.authenticator, impersonated_by: None };
        Answer::Below(self.inner.call(Authenticated { ctx, user }))
    }
}
