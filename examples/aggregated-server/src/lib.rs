//! An aggregated API server in Rust, the way k8s.io/sample-apiserver is one in Go: it serves
//! `wardle.example.com/v1alpha1` `flunders` behind kube-apiserver's aggregator, and leaves who
//! and may-they to the cluster through `kauth-delegation`:
//!
//! 1. At start it reads `kube-system/extension-apiserver-authentication` (the client CA, the
//!    front proxy's CA, allowed names and headers) with the identity of its kubeconfig, then
//!    watches it: a change applies to the next requests.
//! 2. Each request passes the delegating layer: the aggregator's front-proxy certificate and
//!    its `X-Remote-*` headers, or a client certificate, or a bearer token (TokenReview,
//!    cached 10 s), then a SubjectAccessReview for what the path means (cached 10 s);
//!    `/healthz`, `/readyz`, `/livez` pass unjudged.
//! 3. The handler reads the user from the request's extensions, typed.
//!
//! The handlers are a sketch (one made-up flunder per namespace, naming who asked); the
//! authentication and authorization are the real thing.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kauth::authn::Authenticated;
use kauth_delegation::access_review::{SubjectAccessReviewAuthorizer, DEFAULT_ALLOWED_TTL, DEFAULT_DENIED_TTL};
use kauth_delegation::authentication::{AuthenticationOptions, DelegatingAuthenticator};
use kauth_delegation::cluster::{Cluster, ClusterSettings};
use kauth_delegation::extension_authentication::{ExtensionAuthentication, PATH, WATCH_LIST};
use kauth_delegation::layer::{DelegatingLayer, PeerCertificates};
use kauth_delegation::token_review::TokenReviewAuthenticator;
use kauth_delegation::watched::Watched;
use tower::{Layer, Service};

/// The API group served.
pub const GROUP: &str = "wardle.example.com";
/// The version served.
pub const VERSION: &str = "v1alpha1";

/// How to start.
#[derive(Debug, Clone)]
pub struct Options {
    /// The kubeconfig of the cluster (None: the pod's service account).
    pub kubeconfig: Option<PathBuf>,
    /// The serving certificate (PEM).
    pub tls_cert_file: PathBuf,
    /// Its key (PEM).
    pub tls_private_key_file: PathBuf,
    /// Where to listen.
    pub listen: SocketAddr,
}

fn json(status: u16, value: &serde_json::Value) -> http::Response<Full<Bytes>> {
    let mut r = http::Response::new(Full::new(Bytes::from(value.to_string())));
    *r.status_mut() = http::StatusCode::from_u16(status).unwrap_or(http::StatusCode::OK);
    r.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    r
}

/// The API itself: discovery, and `flunders` listed per namespace.
fn api(request: &http::Request<hyper::body::Incoming>) -> http::Response<Full<Bytes>> {
    let user = request.extensions().get::<Authenticated>().map(|a| a.user.name.clone());
    let forged = request.headers().get("x-remote-user").and_then(|v| v.to_str().ok()).map(str::to_owned);
    let path = request.uri().path();
    let base = format!("/apis/{GROUP}/{VERSION}");
    if matches!(path, "/healthz" | "/readyz" | "/livez") {
        return http::Response::new(Full::new(Bytes::from_static(b"ok")));
    }
    if path == base {
        return json(
            200,
            &serde_json::json!({
                "kind": "APIResourceList", "apiVersion": "v1", "groupVersion": format!("{GROUP}/{VERSION}"),
                "resources": [{"name": "flunders", "singularName": "flunder", "namespaced": true,
                               "kind": "Flunder", "verbs": ["get", "list"]}]
            }),
        );
    }
    let rest = path.strip_prefix(&format!("{base}/namespaces/")).and_then(|r| r.strip_suffix("/flunders"));
    match rest.filter(|ns| !ns.contains('/')) {
        Some(ns) => json(
            200,
            &serde_json::json!({
                "kind": "FlunderList", "apiVersion": format!("{GROUP}/{VERSION}"), "metadata": {},
                "items": [{"kind": "Flunder", "apiVersion": format!("{GROUP}/{VERSION}"),
                           "metadata": {"name": "hello", "namespace": ns},
                           "spec": {"requestedBy": user, "xRemoteUserSeen": forged}}]
            }),
        ),
        None => kauth_delegation::refusals::status(404, "NotFound", "the server could not find the requested resource"),
    }
}

#[derive(Clone)]
struct Api;

impl Service<http::Request<hyper::body::Incoming>> for Api {
    type Response = http::Response<Full<Bytes>>;
    type Error = Infallible;
    type Future = std::future::Ready<Result<Self::Response, Infallible>>;

    fn poll_ready(&mut self, _cx: &mut std::task::Context<'_>) -> std::task::Poll<Result<(), Infallible>> {
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, request: http::Request<hyper::body::Incoming>) -> Self::Future {
        std::future::ready(Ok(api(&request)))
    }
}

async fn read_trust(cluster: &Cluster) -> Result<ExtensionAuthentication, String> {
    let c = cluster.clone();
    let config_map = tokio::task::spawn_blocking(move || c.get(PATH, "ConfigMap"))
        .await
        .map_err(|e| e.to_string())?
        .map_err(|e| format!("reading the front proxy's trust: {e}"))?;
    ExtensionAuthentication::from_config_map(&config_map).map_err(|e| e.to_string())
}

fn authenticator(cluster: &Cluster, trust: ExtensionAuthentication) -> Result<DelegatingAuthenticator, String> {
    DelegatingAuthenticator::new(AuthenticationOptions {
        trust,
        token_reviews: Some(TokenReviewAuthenticator::new(cluster.clone(), Vec::new())),
        ..Default::default()
    })
    .map_err(|e| e.to_string())
}

/// Watches the trust; a change replaces the layer's authenticator (a malformed ConfigMap, or
/// its absence, keeps the current one, and says so). The watch runs on its own thread
/// (`kauth_delegation::watched`).
fn follow_trust(cluster: Cluster, layer: DelegatingLayer, current: ExtensionAuthentication) {
    let watched = Watched::new(cluster.clone(), vec![WATCH_LIST]);
    let current = std::sync::Mutex::new(current);
    let w = watched.clone();
    watched.spawn(Arc::new(move || {
        let list = w.list_object(0);
        let Some(item) = list["items"].as_array().and_then(|items| items.first()) else {
            tracing::warn!("extension-apiserver-authentication is gone: keeping the current trust");
            return;
        };
        match serde_json::from_value(item.clone())
            .map_err(|e| format!("the ConfigMap does not decode: {e}"))
            .and_then(|cm| ExtensionAuthentication::from_config_map(&cm).map_err(|e| e.to_string()))
            .and_then(|t| authenticator(&cluster, t.clone()).map(|a| (t, a)))
        {
            Ok((trust, a)) => {
                let mut current = current.lock().unwrap_or_else(|p| p.into_inner());
                if trust != *current {
                    tracing::info!("extension-apiserver-authentication changed: the new trust applies from now on");
                    layer.replace_authenticator(a);
                    *current = trust;
                }
            }
            Err(e) => tracing::warn!("keeping the current trust: {e}"),
        }
    }));
}

/// Reads the cluster's trust, builds the layer and serves until the process ends; `ready`
/// gets the bound address once it listens.
pub async fn run(options: Options, ready: tokio::sync::oneshot::Sender<SocketAddr>) -> Result<(), String> {
    let settings = match &options.kubeconfig {
        Some(p) => ClusterSettings::from_kubeconfig(p),
        None => ClusterSettings::in_cluster(),
    }
    .map_err(|e| e.to_string())?;
    let cluster = Cluster::new(settings).map_err(|e| e.to_string())?;
    let trust = read_trust(&cluster).await?;

    let read = |p: &PathBuf| std::fs::read(p).map_err(|e| format!("{}: {e}", p.display()));
    let tls = kauth_delegation::tls::server_config(
        &read(&options.tls_cert_file)?,
        &read(&options.tls_private_key_file)?,
        &trust,
    )
    .map_err(|e| e.to_string())?;

    let authenticator = authenticator(&cluster, trust.clone())?;
    let reviews = SubjectAccessReviewAuthorizer::new(cluster.clone(), DEFAULT_ALLOWED_TTL, DEFAULT_DENIED_TTL);
    let layer = DelegatingLayer::builder(authenticator, Arc::new(reviews)).build();
    follow_trust(cluster, layer.clone(), trust);

    let listener = tokio::net::TcpListener::bind(options.listen).await.map_err(|e| e.to_string())?;
    let _ = ready.send(listener.local_addr().map_err(|e| e.to_string())?);
    let acceptor = tokio_rustls::TlsAcceptor::from(Arc::new(tls));
    loop {
        let Ok((tcp, client)) = listener.accept().await else { continue };
        let (acceptor, layer) = (acceptor.clone(), layer.clone());
        tokio::spawn(async move {
            let Ok(stream) = acceptor.accept(tcp).await else { return };
            let peer = stream.get_ref().1.peer_certificates().map(|c| PeerCertificates(c.to_vec().into()));
            let service = hyper::service::service_fn(move |mut request: http::Request<hyper::body::Incoming>| {
                if let Some(p) = &peer {
                    request.extensions_mut().insert(p.clone());
                }
                layer.layer(Api).call(request)
            });
            let builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            if let Err(e) = builder.serve_connection(TokioIo::new(stream), service).await {
                tracing::debug!(%client, "connection: {e}");
            }
        });
    }
}
