//! The upstream: where allowed requests go, as Go's `httputil.NewSingleHostReverseProxy` sends
//! them for kube-rbac-proxy. The upstream URL's path is joined before the request's, queries
//! are joined, the client's `Host` is kept, the client's address is appended to
//! `X-Forwarded-For`, and hop-by-hop headers are handled as Go does (`hop_by_hop.rs`). The
//! answer's body is passed on frame by frame as it arrives (streaming responses, watches, long
//! polls), trailers included.
//!
//! Connections are pooled (hyper-util's client). Over TLS (`https://`, trusting
//! `--upstream-ca-file`, else the public web roots, presenting `--upstream-client-cert-file`
//! when given) HTTP/2 is offered by ALPN and used when the upstream picks it; plain `http://`
//! is HTTP/1.1, or HTTP/2 with prior knowledge under `--upstream-force-h2c`. Upgrade requests
//! go on their own HTTP/1.1 connections (HTTP/2 has no `Upgrade`, and Go's transport does the
//! same), and a 101 joins the two sides (`upgrade.rs`).

use std::net::SocketAddr;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper_rustls::{HttpsConnector, HttpsConnectorBuilder};
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::client::legacy::Client;
use hyper_util::rt::{TokioExecutor, TokioTimer};

use super::hop_by_hop;
use super::refusals::plain;

/// The body of a forwarded answer, or of the proxy's own 502.
pub type UpstreamBody = Either<Incoming, Full<Bytes>>;

/// Why `--upstream` is not usable.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    /// Not an absolute `http://` or `https://` URL.
    #[error("--upstream {url:?}: {problem}")]
    Url {
        /// The flag's value.
        url: String,
        /// What is wrong.
        problem: String,
    },
}

/// A pooled client, over TLS or not.
#[derive(Clone)]
enum Pool {
    Plain(Client<HttpConnector, Incoming>),
    Tls(Client<HttpsConnector<HttpConnector>, Incoming>),
}

impl Pool {
    fn request(&self, request: http::Request<Incoming>) -> hyper_util::client::legacy::ResponseFuture {
        match self {
            Pool::Plain(c) => c.request(request),
            Pool::Tls(c) => c.request(request),
        }
    }
}

/// How `forward` may speak to the upstream.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Protocols {
    /// HTTP/2 when TLS's ALPN picks it, else HTTP/1.1 (plain `http://`: HTTP/1.1).
    Negotiated,
    /// `--upstream-force-h2c`: HTTP/2 with prior knowledge over plain TCP, whatever the scheme
    /// (kube-rbac-proxy dials without TLS then too).
    ForceH2c,
}

/// The upstream.
#[derive(Clone)]
pub struct Upstream {
    origin: String,
    authority: http::uri::Authority,
    base_path: String,
    base_query: Option<String>,
    pooled: Pool,
    upgrades: Pool,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Upstream({}{})", self.origin, self.base_path)
    }
}

fn tcp() -> HttpConnector {
    let mut c = HttpConnector::new();
    c.enforce_http(false);
    c.set_nodelay(true);
    c
}

fn client(h2_only: bool) -> hyper_util::client::legacy::Builder {
    let mut b = Client::builder(TokioExecutor::new());
    b.pool_timer(TokioTimer::new()).timer(TokioTimer::new()).http2_only(h2_only);
    b
}

impl Upstream {
    /// The upstream at `url`; `tls` is the client configuration for an `https://` one.
    pub fn new(
        url: &str,
        protocols: Protocols,
        tls: impl FnOnce() -> Result<rustls::ClientConfig, String>,
    ) -> Result<Self, UpstreamError> {
        let bad = |problem: String| UpstreamError::Url { url: url.to_owned(), problem };
        let uri: http::Uri = url.parse().map_err(|e| bad(format!("{e}")))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("the scheme must be http or https".into())),
        };
        let authority = uri.authority().cloned().ok_or_else(|| bad("no host".into()))?;
        let (pooled, upgrades) = match (https, protocols) {
            (_, Protocols::ForceH2c) => {
                (Pool::Plain(client(true).build(tcp())), Pool::Plain(client(false).build(tcp())))
            }
            (false, Protocols::Negotiated) => {
                let c = Pool::Plain(client(false).build(tcp()));
                (c.clone(), c)
            }
            (true, Protocols::Negotiated) => {
                let config = tls().map_err(bad)?;
                let h2 = HttpsConnectorBuilder::new()
                    .with_tls_config(config.clone())
                    .https_only()
                    .enable_http1()
                    .enable_http2()
                    .wrap_connector(tcp());
                let h1 = HttpsConnectorBuilder::new()
                    .with_tls_config(config)
                    .https_only()
                    .enable_http1()
                    .wrap_connector(tcp());
                (Pool::Tls(client(false).build(h2)), Pool::Tls(client(false).build(h1)))
            }
        };
        Ok(Upstream {
            origin: format!("{}://{authority}", if https { "https" } else { "http" }),
            authority,
            base_path: uri.path().trim_end_matches('/').to_owned(),
            base_query: uri.query().filter(|q| !q.is_empty()).map(str::to_owned),
            pooled,
            upgrades,
        })
    }

    /// The path and query the upstream is sent for a request to `uri` (Go's
    /// `singleJoiningSlash` and query joining).
    pub fn target(&self, uri: &http::Uri) -> String {
        let path = uri.path();
        let mut out = format!("{}{}{path}", self.base_path, if path.starts_with('/') { "" } else { "/" });
        let query = match (&self.base_query, uri.query().filter(|q| !q.is_empty())) {
            (Some(a), Some(b)) => Some(format!("{a}&{b}")),
            (Some(a), None) => Some(a.clone()),
            (None, b) => b.map(str::to_owned),
        };
        if let Some(q) = query {
            out.push('?');
            out.push_str(&q);
        }
        out
    }

    /// Sends `request` from `client` on; a failure is a 502 and its reason.
    pub async fn forward(
        &self,
        mut request: http::Request<Incoming>,
        client: SocketAddr,
    ) -> Result<http::Response<UpstreamBody>, (http::Response<UpstreamBody>, String)> {
        let fail = |problem: String| (plain(502, "Bad Gateway").map(Either::Right), problem);
        let host = request
            .headers()
            .get(http::header::HOST)
            .cloned()
            .or_else(|| request.uri().authority().and_then(|a| http::HeaderValue::from_str(a.as_str()).ok()))
            .unwrap_or_else(|| {
                http::HeaderValue::from_str(self.authority.as_str()).unwrap_or(http::HeaderValue::from_static(""))
            });
        let target = format!("{}{}", self.origin, self.target(request.uri()));
        *request.uri_mut() = target.parse().map_err(|e| fail(format!("the upstream path {target:?}: {e}")))?;
        // The client's version is its hop's; the pool picks the upstream's (h2 by ALPN).
        *request.version_mut() = http::Version::HTTP_11;
        let headers = request.headers_mut();
        let asked = hop_by_hop::prepare_request(headers);
        headers.insert(http::header::HOST, host);
        let forwarded = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(prior) => format!("{prior}, {}", client.ip()),
            None => client.ip().to_string(),
        };
        if let Ok(v) = http::HeaderValue::from_str(&forwarded) {
            headers.insert("x-forwarded-for", v);
        }

        let (pool, client_side) = match &asked {
            Some(_) => (&self.upgrades, Some(hyper::upgrade::on(&mut request))),
            None => (&self.pooled, None),
        };
        let mut response =
            pool.request(request).await.map_err(|e| fail(format!("{}: {}", self.authority, chain(&e))))?;
        if response.status() == http::StatusCode::SWITCHING_PROTOCOLS {
            let offered = hop_by_hop::upgrade_type(response.headers());
            let (Some(asked), Some(client_side)) = (asked, client_side) else {
                return Err(fail(format!("{} switched protocols unasked", self.authority)));
            };
            if !offered.as_ref().is_some_and(|o| o.as_bytes().eq_ignore_ascii_case(asked.as_bytes())) {
                return Err(fail(format!("backend tried to switch protocol {offered:?} when {asked:?} was requested")));
            }
            let upstream_side = hyper::upgrade::on(&mut response);
            tokio::spawn(super::upgrade::relay(client_side, upstream_side, client));
            return Ok(response.map(Either::Left));
        }
        hop_by_hop::remove(response.headers_mut());
        Ok(response.map(Either::Left))
    }
}

/// An error and its causes, `: `-joined (hyper-util's own text is only "client error (Connect)").
fn chain(e: &dyn std::error::Error) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        out.push_str(": ");
        out.push_str(&s.to_string());
        source = s.source();
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(url: &str) -> Upstream {
        Upstream::new(url, Protocols::Negotiated, || Err("no TLS in this test".into())).unwrap()
    }

    #[tokio::test]
    async fn paths_and_queries_join_as_gos_reverse_proxy() {
        let u = |s: &str| s.parse::<http::Uri>().unwrap();
        assert_eq!(up("http://127.0.0.1:8080/").target(&u("/metrics?a=1")), "/metrics?a=1");
        assert_eq!(up("http://h/base/").target(&u("/metrics")), "/base/metrics");
        assert_eq!(up("http://h/base?x=1").target(&u("/m?y=2")), "/base/m?x=1&y=2");
        assert!(Upstream::new("ftp://h", Protocols::Negotiated, || Err(String::new())).is_err());
        assert!(Upstream::new("https://h", Protocols::Negotiated, || Err("no CA".into())).is_err());
    }
}
