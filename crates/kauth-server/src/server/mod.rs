//! The API server: shared state, the request pipeline (authenticate, impersonate, authorize,
//! handle, audit, metrics) and its handlers. Handlers are synchronous functions of a parsed
//! request; [`http`] runs them on tokio (writes on the blocking pool: a commit waits for fsync).

pub mod audit;
pub mod authn;
pub mod bootstrap;
pub mod controllers;
pub mod crud;
pub mod discovery;
pub mod escalation;
pub mod http;
pub mod keyring;
pub mod metrics;
pub mod patch;
pub mod replicas;
pub mod reviews;
pub mod watch;

use std::sync::Arc;

use ::http::{HeaderMap, Method};
use bytes::Bytes;
use kauth::authn::union::RequestUnion;
use kauth::authz::{Attributes, Authorizer, Decision, Target};
use kauth::token::issue::ExpirationPolicy;
use kauth::user::UserInfo;
use serde_json::Value;
use time::OffsetDateTime;

use crate::api::request::{self, RequestInfo};
use crate::api::status::ApiError;
use crate::registry::Registry;

/// The largest request body accepted (kube-apiserver's 3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

/// Server settings that handlers read.
#[derive(Debug, Clone)]
pub struct Config {
    /// `--anonymous-auth`.
    pub anonymous_auth: bool,
    /// `--service-account-issuer` (the first signs; all are accepted).
    pub issuers: Vec<String>,
    /// `--api-audiences` (default: the issuer).
    pub api_audiences: Vec<String>,
    /// TokenRequest's expiration flags.
    pub expiration: ExpirationPolicy,
    /// `host:port` clients reach this server at (discovery, kubeconfigs).
    pub advertise: String,
    /// The cluster CA (PEM), published in `kube-root-ca.crt` and token Secrets.
    pub ca_pem: String,
    /// Whether RBAC runs (`--authorization-mode=RBAC`); `AlwaysAllow` otherwise.
    pub rbac: bool,
}

/// Everything a request handler needs.
pub struct State {
    /// Settings.
    pub config: Config,
    /// The objects.
    pub registry: Arc<Registry>,
    /// The token chain (static tokens, service-account tokens), cached; TokenReview calls it
    /// directly, the request chain through the bearer authenticator.
    pub tokens: Arc<authn::TokenChain>,
    /// The request chain: client certificate, bearer token, anonymous ([`authn::request_chain`]).
    pub authenticator: RequestUnion,
    /// The authorizer chain.
    pub authorizer: Box<dyn Authorizer>,
    /// Service-account keys: what signs TokenRequest tokens and legacy token Secrets, and the
    /// verification keys (JWKS); on etcd, the shared key ring.
    pub keys: keyring::Keys,
    /// Audit log, if configured.
    pub audit: Option<audit::AuditLog>,
    /// Metrics.
    pub metrics: metrics::Metrics,
    /// The clock (a fake one in tests).
    pub clock: Arc<dyn Fn() -> OffsetDateTime + Send + Sync>,
    /// This replica among others on a shared store (etcd); `None` on the embedded store.
    pub replicas: Option<Arc<replicas::Replicas>>,
}

impl std::fmt::Debug for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("State").field("config", &self.config).finish_non_exhaustive()
    }
}

/// A connection's client certificate chain, shared by its requests.
pub type PeerCertificates = Arc<Vec<rustls_pki_types::CertificateDer<'static>>>;

/// A request, read in full.
#[derive(Debug)]
pub struct Request {
    /// Method.
    pub method: Method,
    /// Path.
    pub path: String,
    /// Query parameters, decoded.
    pub query: Vec<(String, String)>,
    /// Headers.
    pub headers: HeaderMap,
    /// Body.
    pub body: Bytes,
    /// The client certificate chain the connection presented (leaf first), not yet verified:
    /// authentication judges it against the client CA.
    pub peer: Option<PeerCertificates>,
    /// The client's address, for audit.
    pub source_ip: String,
}

impl Request {
    /// A query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// A response.
#[derive(Debug)]
pub struct Response {
    /// HTTP status.
    pub status: u16,
    /// Content-Type.
    pub content_type: &'static str,
    /// Body.
    pub body: Bytes,
    /// Extra headers (`Warning`, `Cache-Control`).
    pub headers: Vec<(&'static str, String)>,
    /// A watch: the body is its event stream, sent as it happens.
    pub watch: Option<Box<watch::Watch>>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, v: &Value) -> Self {
        Response {
            status,
            content_type: "application/json",
            body: Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
            headers: Vec::new(),
            watch: None,
        }
    }

    /// A plain-text response.
    pub fn text(status: u16, s: &str) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: Bytes::from(s.to_owned()),
            headers: Vec::new(),
            watch: None,
        }
    }

    /// A watch's event stream (`application/json`, one event per line).
    pub fn watch(w: watch::Watch) -> Self {
        Response {
            status: 200,
            content_type: "application/json",
            body: Bytes::new(),
            headers: Vec::new(),
            watch: Some(Box::new(w)),
        }
    }

    /// A Status error.
    pub fn error(e: &ApiError) -> Self {
        Response::json(e.code, &e.to_status())
    }

    /// Adds a `Warning: 299 - "<text>"` header, as kube-apiserver sends warnings.
    pub fn warn(mut self, text: &str) -> Self {
        self.headers.push(("warning", format!("299 - {:?}", text)));
        self
    }
}

/// What happened, for audit and metrics.
#[derive(Debug, Clone, Default)]
pub struct Outcome {
    /// The user, if authenticated.
    pub user: Option<UserInfo>,
    /// The impersonating user.
    pub impersonated_by: Option<UserInfo>,
    /// Audit annotations.
    pub annotations: Vec<(String, String)>,
}

impl State {
    /// Now, from the server's clock.
    pub fn now(&self) -> OffsetDateTime {
        (self.clock)()
    }

    /// Runs the authorizer, timing it.
    pub fn authorize(&self, a: &Attributes) -> Decision {
        let start = std::time::Instant::now();
        let d = self.authorizer.authorize(a);
        self.metrics.authorization(&d, start.elapsed());
        d
    }

    /// The whole pipeline for one request.
    pub fn handle(&self, req: &Request) -> Response {
        let watch = req.param("watch").is_some_and(|v| v == "true" || v == "1");
        let info = request::parse(req.method.as_str(), &req.path, watch);
        let mut outcome = Outcome::default();
        let response = self.pipeline(req, &info, &mut outcome);
        if let Some(audit) = &self.audit {
            audit.record(self, req, &info, &outcome, &response);
        }
        response
    }

    fn pipeline(&self, req: &Request, info: &RequestInfo, outcome: &mut Outcome) -> Response {
        let start = std::time::Instant::now();
        let authn = authn::authenticate(self, req.peer.as_deref().map(Vec::as_slice), &req.headers);
        self.metrics.authentication(&authn, start.elapsed());
        let user = match authn {
            Ok(u) => u,
            Err(why) => {
                tracing::info!(
                    authenticator = why.rejection.authenticator(),
                    code = why.rejection.code(),
                    path = %req.path,
                    source = %req.source_ip,
                    "unauthorized: {}",
                    why.reason
                );
                // The reason names each authenticator itself.
                outcome.annotations.push(("authentication.kauth.dev/failure".into(), why.reason));
                return Response::error(&ApiError::unauthorized());
            }
        };
        for (k, v) in &user.annotations {
            outcome.annotations.push(((*k).to_owned(), v.clone()));
            if *k == kauth::authn::service_account::LEGACY_TOKEN_SECRET_ANNOTATION {
                controllers::track_legacy_token_use(self, v);
            }
        }
        outcome.user = Some(user.user.clone());
        let user = match authn::impersonate(self, user, &req.headers) {
            Ok(u) => u,
            Err(e) => return Response::error(&e),
        };
        outcome.user = Some(user.user.clone());
        outcome.impersonated_by = user.impersonated_by.clone();
        let attrs = attributes(&user.user, info);
        let decision = self.authorize(&attrs);
        let (verdict, reason) = match &decision {
            Decision::Allow(r) => ("allow", r.clone()),
            Decision::Deny(r) | Decision::NoOpinion(r) => ("forbid", r.clone()),
        };
        outcome.annotations.push(("authorization.k8s.io/decision".into(), verdict.into()));
        outcome.annotations.push(("authorization.k8s.io/reason".into(), reason.clone()));
        if !decision.is_allowed() {
            let msg = attrs.forbidden_message();
            let msg = if reason.is_empty() { msg } else { format!("{msg}: {reason}") };
            // Kubernetes' reason stays as it is on the wire; operators get the explanation
            // (bindings, nearest rule and what it lacks) in the log and the audit event.
            let explanation = self.registry.policy().explain(&attrs).summary();
            tracing::info!(user = %user.user.name, path = %req.path, verb = %info.verb, %explanation, "forbidden: {msg}");
            outcome.annotations.push(("authorization.kauth.dev/explanation".into(), explanation));
            return Response::error(&if info.is_resource {
                ApiError::forbidden(&info.group, &info.resource, &info.name, &msg)
            } else {
                ApiError::forbidden("", "", "", &msg)
            });
        }
        if info.is_resource {
            crud::handle_resource(self, req, info, &user.user)
        } else {
            discovery::handle_non_resource(self, req, info)
        }
    }
}

/// The authorization attributes of a request.
pub fn attributes(user: &UserInfo, info: &RequestInfo) -> Attributes {
    Attributes {
        user: user.clone(),
        verb: info.verb.clone(),
        target: if info.is_resource {
            Target::Resource {
                namespace: info.namespace.clone(),
                api_group: info.group.clone(),
                api_version: info.version.clone(),
                resource: info.resource.clone(),
                subresource: info.subresource.clone(),
                name: info.name.clone(),
            }
        } else {
            Target::NonResource { path: info.path.clone() }
        },
    }
}

/// RFC 3339 UTC with seconds, as Kubernetes writes timestamps.
pub fn timestamp(t: OffsetDateTime) -> String {
    let t = t.to_offset(time::UtcOffset::UTC);
    format!(
        "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
        t.year(),
        u8::from(t.month()),
        t.day(),
        t.hour(),
        t.minute(),
        t.second()
    )
}
