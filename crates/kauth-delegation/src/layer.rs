//! The tower layer: authentication, then authorization, in front of any hyper or axum
//! service, as k8s.io/apiserver's `WithAuthentication` and `WithAuthorization` filters.
//!
//! For each request: an always-allowed path (`/healthz`, `/readyz`, `/livez` by default) passes
//! with nothing judged; otherwise the [`DelegatingAuthenticator`] names the user (401 if it
//! cannot), the identity headers are removed whatever the outcome, the [`RequestAttributes`]
//! reading gives the questions and the [`Decide`]r answers each (403 unless all are allowed,
//! 500 if one cannot be answered, 503 when the cluster cannot be reached and no cached answer
//! young enough stands in). The inner service sees the user as a typed
//! [`kauth::authn::Authenticated`] in the request's extensions; the response carries the
//! [`Outcome`] in its extensions. Reviews block on the cluster: they run on tokio's blocking
//! pool.
//!
//! A client certificate reaches the authenticator through a [`PeerCertificates`] extension the
//! server puts on each request of a TLS connection.

use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::{Either, Full};
use kauth::authn::{Authenticated, Credentials};
use kauth::authz::{Attributes, Decision};
use rustls_pki_types::CertificateDer;
use time::OffsetDateTime;

use crate::attributes::{KubernetesPaths, RequestAttributes};
use crate::authentication::DelegatingAuthenticator;
use crate::decide::Decide;
use crate::refusals::{KubernetesStatus, Outcome, Refusals};

/// The paths k8s.io/apiserver's delegating authorization always allows.
pub const ALWAYS_ALLOWED: [&str; 3] = ["/healthz", "/readyz", "/livez"];

/// The client certificate chain of the request's TLS connection (leaf first).
#[derive(Debug, Clone)]
pub struct PeerCertificates(pub Arc<[CertificateDer<'static>]>);

/// A clock: the layer reads the time once per request, here.
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// The machine's clock.
pub fn system_clock() -> Clock {
    Arc::new(OffsetDateTime::now_utc)
}

/// The body of the layer's responses: the inner service's, or a refusal's.
pub type DelegatedBody<B> = Either<B, Full<Bytes>>;

struct Shared {
    authenticator: RwLock<Arc<DelegatingAuthenticator>>,
    decider: Arc<dyn Decide>,
    attributes: Arc<dyn RequestAttributes>,
    refusals: Arc<dyn Refusals>,
    always_allowed: Vec<String>,
    clock: Clock,
}

/// The layer; cheap to clone.
#[derive(Clone)]
pub struct DelegatingLayer {
    shared: Arc<Shared>,
}

impl std::fmt::Debug for DelegatingLayer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelegatingLayer")
            .field("authenticator", &self.authenticator())
            .field("always_allowed", &self.shared.always_allowed)
            .finish()
    }
}

impl DelegatingLayer {
    /// Authenticating with `authenticator` and deciding with `decider`; paths read as
    /// kube-apiserver reads them, refusals as kube-apiserver's Status, the machine's clock.
    /// The builder changes any of those.
    pub fn builder(authenticator: DelegatingAuthenticator, decider: Arc<dyn Decide>) -> DelegatingLayerBuilder {
        DelegatingLayerBuilder {
            shared: Shared {
                authenticator: RwLock::new(Arc::new(authenticator)),
                decider,
                attributes: Arc::new(KubernetesPaths),
                refusals: Arc::new(KubernetesStatus),
                always_allowed: ALWAYS_ALLOWED.iter().map(|p| (*p).to_owned()).collect(),
                clock: system_clock(),
            },
        }
    }

    /// The authenticator in use (for its cache statistics).
    pub fn authenticator(&self) -> Arc<DelegatingAuthenticator> {
        self.shared.authenticator()
    }

    /// Puts `authenticator` in place for the requests that start from now on (the cluster's
    /// trust changed: a rotated client CA or front-proxy CA); requests already judging finish
    /// with the one they took. Every service the layer made shares the change.
    pub fn replace_authenticator(&self, authenticator: DelegatingAuthenticator) {
        if let Ok(mut a) = self.shared.authenticator.write() {
            *a = Arc::new(authenticator);
        }
    }
}

/// Builds a [`DelegatingLayer`].
pub struct DelegatingLayerBuilder {
    shared: Shared,
}

impl std::fmt::Debug for DelegatingLayerBuilder {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DelegatingLayerBuilder").field("always_allowed", &self.shared.always_allowed).finish()
    }
}

impl DelegatingLayerBuilder {
    /// Reads requests as questions with `attributes`.
    pub fn attributes(mut self, attributes: Arc<dyn RequestAttributes>) -> Self {
        self.shared.attributes = attributes;
        self
    }

    /// Answers refusals with `refusals`.
    pub fn refusals(mut self, refusals: Arc<dyn Refusals>) -> Self {
        self.shared.refusals = refusals;
        self
    }

    /// Always allows exactly `paths` (no authentication, no authorization).
    pub fn always_allowed(mut self, paths: Vec<String>) -> Self {
        self.shared.always_allowed = paths;
        self
    }

    /// Reads the time from `clock`.
    pub fn clock(mut self, clock: Clock) -> Self {
        self.shared.clock = clock;
        self
    }

    /// The layer.
    pub fn build(self) -> DelegatingLayer {
        DelegatingLayer { shared: Arc::new(self.shared) }
    }
}

impl<S> tower::Layer<S> for DelegatingLayer {
    type Service = DelegatingService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        DelegatingService { inner, shared: self.shared.clone() }
    }
}

/// The layer's service around `S`.
#[derive(Clone)]
pub struct DelegatingService<S> {
    inner: S,
    shared: Arc<Shared>,
}

impl Shared {
    fn authenticator(&self) -> Arc<DelegatingAuthenticator> {
        // A poisoned lock still holds a whole authenticator: a replacement never panics midway.
        match self.authenticator.read() {
            Ok(a) => a.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// What the blocking half decided.
#[allow(clippy::large_enum_variant)] // one per request, moved once
enum Verdict {
    Pass(Box<Authenticated>),
    Refuse(http::Response<Full<Bytes>>, Outcome),
}

fn judge(shared: &Shared, request: &http::Request<()>, chain: Option<&PeerCertificates>) -> Verdict {
    let now = (shared.clock)();
    let credentials = Credentials::new(request.headers(), chain.map(|c| &c.0[..])).on_path(request.uri().path());
    let authenticated = match shared.authenticator().authenticate(&credentials, now) {
        Ok(a) => a,
        Err(rejection) if rejection.only_unavailable() => {
            return Verdict::Refuse(shared.refusals.unavailable(), Outcome::Unavailable(rejection.to_string()))
        }
        Err(rejection) => return Verdict::Refuse(shared.refusals.unauthorized(), Outcome::Unauthenticated(rejection)),
    };
    let questions: Vec<Attributes> = shared.attributes.attributes(request, &authenticated.user);
    if questions.is_empty() {
        return Verdict::Refuse(shared.refusals.bad_request(), Outcome::Unjudgeable);
    }
    for q in questions {
        match shared.decider.decide(&q, now) {
            Ok(Decision::Allow(_)) => {}
            Ok(d) => {
                let explanation = shared.decider.explain(&q);
                return Verdict::Refuse(
                    shared.refusals.forbidden(&q, &d),
                    Outcome::Forbidden(Box::new(q), d, explanation),
                );
            }
            Err(e) if e.is_unavailable() => {
                return Verdict::Refuse(shared.refusals.unavailable(), Outcome::Unavailable(e.to_string()))
            }
            Err(e) => return Verdict::Refuse(shared.refusals.internal_error(Some(&q)), Outcome::Failed(e.to_string())),
        }
    }
    Verdict::Pass(Box::new(authenticated))
}

impl<S, B, ResBody> tower::Service<http::Request<B>> for DelegatingService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<ResBody>> + Clone + Send + 'static,
    S::Future: Send,
    B: Send + 'static,
{
    type Response = http::Response<DelegatedBody<ResBody>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, S::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, request: http::Request<B>) -> Self::Future {
        // The clone that was polled ready is the one called (tower's rule).
        let clone = self.inner.clone();
        let mut inner = std::mem::replace(&mut self.inner, clone);
        let shared = self.shared.clone();
        Box::pin(async move {
            let (mut parts, body) = request.into_parts();
            let outcome = if shared.always_allowed.iter().any(|p| p == parts.uri.path()) {
                Outcome::AlwaysAllowed
            } else {
                let mut head = http::Request::new(());
                *head.method_mut() = parts.method.clone();
                *head.uri_mut() = parts.uri.clone();
                *head.headers_mut() = parts.headers.clone();
                let chain = parts.extensions.get::<PeerCertificates>().cloned();
                let s = shared.clone();
                let verdict = tokio::task::spawn_blocking(move || judge(&s, &head, chain.as_ref())).await;
                match verdict {
                    Ok(Verdict::Pass(authenticated)) => {
                        parts.extensions.insert(*authenticated);
                        Outcome::Allowed
                    }
                    Ok(Verdict::Refuse(response, outcome)) => {
                        let mut response = response.map(Either::Right);
                        response.extensions_mut().insert(outcome);
                        return Ok(response);
                    }
                    Err(e) => {
                        let mut response = shared.refusals.internal_error(None).map(Either::Right);
                        response.extensions_mut().insert(Outcome::Failed(format!("the judgement panicked: {e}")));
                        return Ok(response);
                    }
                }
            };
            shared.authenticator().strip_identity_headers(&mut parts.headers);
            let mut response = inner.call(http::Request::from_parts(parts, body)).await?.map(Either::Left);
            response.extensions_mut().insert(outcome);
            Ok(response)
        })
    }
}

#[cfg(test)]
mod tests;
