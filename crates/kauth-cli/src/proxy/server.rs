//! `kauth proxy`'s request path, in kube-rbac-proxy's order: `--allow-paths` (404 outside
//! them), `--ignore-paths` (passed on unjudged), then the delegating layer (authentication,
//! authorization), then the auth header fields, then the upstream. Identity headers a client
//! wrote never reach the upstream, whichever way the request goes. Every request is logged at
//! its refusal with kauth's precise reason and counted by outcome.

use std::convert::Infallible;
use std::future::Future;
use std::net::SocketAddr;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use bytes::Bytes;
use http_body_util::combinators::UnsyncBoxBody;
use http_body_util::BodyExt;
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kauth::authn::Authenticated;
use kauth_delegation::access_review::SubjectAccessReviewAuthorizer;
use kauth_delegation::layer::{DelegatingLayer, PeerCertificates};
use kauth_delegation::rbac_proxy::path_pattern::PathPattern;
use kauth_delegation::refusals::Outcome;
use tokio::net::TcpListener;
use tower::{Layer, Service};

use super::metrics::Metrics;
use super::refusals::{not_found, question};
use super::upstream::{Upstream, UpstreamBody};

/// A handler's answer, for [`serve`].
pub type Answer = Pin<Box<dyn Future<Output = Result<http::Response<Body>, Infallible>> + Send>>;

/// Any body the proxy answers with.
pub type Body = UnsyncBoxBody<Bytes, Box<dyn std::error::Error + Send + Sync>>;

fn boxed<B>(b: B) -> Body
where
    B: hyper::body::Body<Data = Bytes> + Send + 'static,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    b.map_err(Into::into).boxed_unsync()
}

/// `--auth-header-*`: what the upstream is told about the user.
#[derive(Debug, Clone)]
pub struct AuthHeaders {
    /// `--auth-header-fields-enabled`.
    pub enabled: bool,
    /// `--auth-header-user-field-name`.
    pub user: http::HeaderName,
    /// `--auth-header-groups-field-name`.
    pub groups: http::HeaderName,
    /// `--auth-header-groups-field-separator`.
    pub separator: String,
}

impl AuthHeaders {
    /// Removes the fields a client may have written (in any case, and spelled with `_` for `-`,
    /// which CGI-style upstreams read alike), then (when enabled) writes the user's.
    fn apply(&self, headers: &mut http::HeaderMap, user: Option<&Authenticated>) {
        use kauth::authn::request_header::same_header;
        let forged: Vec<http::HeaderName> = headers
            .keys()
            .filter(|k| same_header(k.as_str(), self.user.as_str()) || same_header(k.as_str(), self.groups.as_str()))
            .cloned()
            .collect();
        for k in forged {
            headers.remove(k);
        }
        let Some(a) = user.filter(|_| self.enabled) else { return };
        if let Ok(v) = http::HeaderValue::from_str(&a.user.name) {
            headers.insert(self.user.clone(), v);
        }
        if let Ok(v) = http::HeaderValue::from_str(&a.user.groups.join(&self.separator)) {
            headers.insert(self.groups.clone(), v);
        }
    }
}

/// Everything the request path needs.
pub struct Proxy {
    /// `--allow-paths`.
    pub allow: Vec<PathPattern>,
    /// `--ignore-paths`.
    pub ignore: Vec<PathPattern>,
    /// Authentication and authorization.
    pub layer: DelegatingLayer,
    /// The SubjectAccessReviews, for their cache's statistics.
    pub reviews: Arc<SubjectAccessReviewAuthorizer>,
    /// The upstream.
    pub upstream: Upstream,
    /// The auth header fields.
    pub headers: AuthHeaders,
    /// The metrics.
    pub metrics: Metrics,
}

/// The layer's inner service: the auth header fields, then the upstream.
#[derive(Clone)]
struct Forward {
    proxy: Arc<Proxy>,
    client: SocketAddr,
}

impl Service<http::Request<Incoming>> for Forward {
    type Response = http::Response<UpstreamBody>;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, _cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        Poll::Ready(Ok(()))
    }

    fn call(&mut self, mut request: http::Request<Incoming>) -> Self::Future {
        let (proxy, client) = (self.proxy.clone(), self.client);
        Box::pin(async move {
            let user = request.extensions().get::<Authenticated>().cloned();
            proxy.headers.apply(request.headers_mut(), user.as_ref());
            Ok(proxy.upstream.forward(request, client).await.unwrap_or_else(|(response, problem)| {
                tracing::warn!(%client, "upstream: {problem}");
                proxy.metrics.request("upstream_error");
                response
            }))
        })
    }
}

fn log(outcome: &Outcome, client: SocketAddr, method: &http::Method, path: &str) {
    match outcome {
        Outcome::Unauthenticated(r) => {
            let text = r.kubernetes_text().unwrap_or_default();
            tracing::info!(%client, %method, path, code = r.code(), "Unauthorized: {text}; kauth: {r}");
        }
        Outcome::Forbidden(a, d, explanation) => {
            let reason = d.reason().to_string();
            let kauth = match explanation {
                Some(e) => e.replace('\n', "; "),
                None => format!("no authorizer allowed it: {}", a.forbidden_message()),
            };
            tracing::info!(%client, %method, path, "Forbidden {}. Reason: {reason:?}; kauth: {kauth}", question(a));
        }
        Outcome::Failed(problem) => tracing::warn!(%client, %method, path, "Authorization error; kauth: {problem}"),
        Outcome::Unavailable(problem) => tracing::warn!(
            %client, %method, path,
            "Service Unavailable; kauth: {problem} (no answer from the cluster, no young enough cached answer, no young enough local copy)"
        ),
        Outcome::Unjudgeable => tracing::info!(
            %client, %method, path,
            "Bad Request. The request or configuration is malformed.; kauth: the config's rewrites found no value in the request"
        ),
        Outcome::Allowed | Outcome::AlwaysAllowed => {}
    }
}

/// Judges and forwards one request.
async fn handle(
    proxy: Arc<Proxy>,
    mut request: http::Request<Incoming>,
    peer: Option<PeerCertificates>,
    client: SocketAddr,
) -> Result<http::Response<Body>, Infallible> {
    let path = request.uri().path().to_owned();
    // Paths are matched decoded, as kube-rbac-proxy matches Go's `URL.Path`: `/public/..%2Fadmin`
    // is `/public/../admin`, which `/public/*` does not match (`*` stops at `/`).
    let decoded = percent_encoding::percent_decode_str(&path).decode_utf8_lossy().into_owned();
    if !proxy.allow.is_empty() && !proxy.allow.iter().any(|p| p.matches(&decoded)) {
        proxy.metrics.request("not_found");
        return Ok(not_found().map(boxed));
    }
    if proxy.ignore.iter().any(|p| p.matches(&decoded)) {
        proxy.layer.authenticator().strip_identity_headers(request.headers_mut());
        proxy.metrics.request("ignored");
        let mut forward = Forward { proxy: proxy.clone(), client };
        let Ok(response) = forward.call(request).await;
        return Ok(response.map(boxed));
    }
    if let Some(p) = peer {
        request.extensions_mut().insert(p);
    }
    let method = request.method().clone();
    let mut service = proxy.layer.layer(Forward { proxy: proxy.clone(), client });
    let Ok(response) = service.call(request).await;
    if let Some(outcome) = response.extensions().get::<Outcome>() {
        log(outcome, client, &method, &path);
        proxy.metrics.request(outcome.code());
    }
    if let Some(stats) = proxy.layer.authenticator().token_cache_stats() {
        proxy.metrics.cache("tokenreview", stats);
    }
    proxy.metrics.cache("subjectaccessreview", proxy.reviews.stats());
    proxy.metrics.stale("tokenreview", proxy.layer.authenticator().stale_served());
    proxy.metrics.stale("subjectaccessreview", proxy.reviews.stale_served());
    Ok(response.map(boxed))
}

/// HTTP/2 towards clients, as kube-rbac-proxy configures Go's `http2.Server` from its
/// `--http2-*` flags; `None` (`--http2-disable`): HTTP/1.1 only.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Http2 {
    /// Streams a connection may have open at once.
    pub max_concurrent_streams: u32,
    /// The largest frame a client may send.
    pub max_frame_size: u32,
    /// Each stream's receive window.
    pub stream_window: u32,
    /// The connection's receive window.
    pub connection_window: u32,
}

impl Http2 {
    /// Go's defaults where its `http2.Server` would use them: a frame size outside HTTP/2's
    /// range (16 KiB to 16 MiB - 1) is 1 MiB, a window that does not fit Go's `int32` or is
    /// smaller than HTTP/2's initial 65,535 bytes (the connection's) is 1 MiB.
    pub fn from_flags(disable: bool, max_concurrent_streams: u32, max_size: u32) -> Option<Http2> {
        const DEFAULT: u32 = 1 << 20;
        if disable {
            return None;
        }
        let max_frame_size = if (16_384..=16_777_215).contains(&max_size) { max_size } else { DEFAULT };
        let stream_window = match i32::try_from(max_size) {
            Ok(w) if w > 0 => max_size,
            _ => DEFAULT,
        };
        // Go multiplies two int32s; a product that overflows is not a window it would use.
        let connection_window =
            match i32::try_from(max_size).ok().and_then(|w| w.checked_mul(i32::try_from(max_concurrent_streams).ok()?))
            {
                Some(w) if w >= 65_535 => w as u32,
                _ => DEFAULT,
            };
        Some(Http2 { max_concurrent_streams, max_frame_size, stream_window, connection_window })
    }
}

/// Serves TLS connections from `listener` with `service`, forever.
pub async fn serve<F, Fut>(listener: TcpListener, tls: Arc<rustls::ServerConfig>, http2: Option<Http2>, service: F)
where
    F: Fn(http::Request<Incoming>, Option<PeerCertificates>, SocketAddr) -> Fut + Clone + Send + Sync + 'static,
    Fut: Future<Output = Result<http::Response<Body>, Infallible>> + Send + 'static,
{
    let acceptor = tokio_rustls::TlsAcceptor::from(tls);
    loop {
        let (tcp, client) = match listener.accept().await {
            Ok(c) => c,
            Err(e) => {
                tracing::warn!("accept: {e}");
                continue;
            }
        };
        let (acceptor, service) = (acceptor.clone(), service.clone());
        tokio::spawn(async move {
            let stream = match acceptor.accept(tcp).await {
                Ok(s) => s,
                Err(e) => {
                    tracing::debug!(%client, "TLS handshake: {e}");
                    return;
                }
            };
            let peer = stream
                .get_ref()
                .1
                .peer_certificates()
                .filter(|c| !c.is_empty())
                .map(|c| PeerCertificates(c.to_vec().into()));
            let svc = hyper::service::service_fn(move |req| service(req, peer.clone(), client));
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            match http2 {
                None => builder = builder.http1_only(),
                Some(h2) => {
                    builder
                        .http2()
                        .max_concurrent_streams(h2.max_concurrent_streams)
                        .max_frame_size(h2.max_frame_size)
                        .initial_stream_window_size(h2.stream_window)
                        .initial_connection_window_size(h2.connection_window);
                }
            }
            if let Err(e) = builder.serve_connection_with_upgrades(TokioIo::new(stream), svc).await {
                tracing::debug!(%client, "connection: {e}");
            }
        });
    }
}

/// The proxy's own request handler, for [`serve`].
pub fn proxy_service(
    proxy: Arc<Proxy>,
) -> impl Fn(http::Request<Incoming>, Option<PeerCertificates>, SocketAddr) -> Answer + Clone + Send + Sync + 'static {
    move |req, peer, client| Box::pin(handle(proxy.clone(), req, peer, client))
}

/// `--proxy-endpoints-port`'s handler: `/healthz` and `/metrics`.
pub fn endpoints_service(
    metrics: Metrics,
) -> impl Fn(http::Request<Incoming>, Option<PeerCertificates>, SocketAddr) -> Answer + Clone + Send + Sync + 'static {
    move |req, _peer, _client| {
        let metrics = metrics.clone();
        Box::pin(async move {
            let body = match req.uri().path() {
                "/healthz" => "ok".to_owned(),
                "/metrics" => metrics.render(),
                _ => return Ok(not_found().map(boxed)),
            };
            Ok(http::Response::new(boxed(http_body_util::Full::new(Bytes::from(body)))))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::{AuthHeaders, Http2};

    #[test]
    fn auth_header_fields_a_client_wrote_are_removed_in_any_spelling() {
        let fields = AuthHeaders {
            enabled: false,
            user: http::HeaderName::from_static("x-remote-user"),
            groups: http::HeaderName::from_static("x-remote-groups"),
            separator: "|".into(),
        };
        let mut headers = http::HeaderMap::new();
        for k in ["X-Remote-User", "x_remote_user", "X_Remote_Groups", "x-remote-groups", "x-remote-usr"] {
            headers.append(http::HeaderName::from_bytes(k.as_bytes()).unwrap(), http::HeaderValue::from_static("root"));
        }
        fields.apply(&mut headers, None);
        assert_eq!(headers.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["x-remote-usr"]);
    }

    #[test]
    fn http2_settings_follow_kube_rbac_proxy_and_go_defaults() {
        assert_eq!(Http2::from_flags(true, 100, 262_144), None);
        assert_eq!(
            Http2::from_flags(false, 100, 262_144),
            Some(Http2 {
                max_concurrent_streams: 100,
                max_frame_size: 262_144,
                stream_window: 262_144,
                connection_window: 26_214_400
            })
        );
        // Out of HTTP/2's frame range, or windows Go would not take: Go's 1 MiB.
        let small = Http2::from_flags(false, 1, 1_000).unwrap();
        assert_eq!((small.max_frame_size, small.stream_window, small.connection_window), (1 << 20, 1_000, 1 << 20));
        let huge = Http2::from_flags(false, 1_000, u32::MAX).unwrap();
        assert_eq!((huge.max_frame_size, huge.stream_window, huge.connection_window), (1 << 20, 1 << 20, 1 << 20));
    }
}
