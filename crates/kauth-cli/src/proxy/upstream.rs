//! The upstream: where allowed requests go, as Go's `httputil.NewSingleHostReverseProxy` sends
//! them for kube-rbac-proxy. The upstream URL's path is joined before the request's, queries
//! are joined, the client's `Host` is kept, the client's address is appended to
//! `X-Forwarded-For`, and hop-by-hop headers are removed both ways. The answer's body is
//! passed on frame by frame as it arrives (streaming responses, watches, long polls).
//!
//! HTTP/1.1 to the upstream, one connection per request (no pool), over TLS for `https://`
//! (trusting `--upstream-ca-file`, else the public web roots; presenting
//! `--upstream-client-cert-file` when given).

use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{Either, Full};
use hyper::body::Incoming;
use hyper_util::rt::TokioIo;
use rustls::pki_types::ServerName;
use tokio::net::TcpStream;

use super::refusals::plain;

/// Headers that belong to one hop (RFC 9110 §7.6.1, and Go's list).
const HOP_BY_HOP: [&str; 9] = [
    "connection",
    "proxy-connection",
    "keep-alive",
    "proxy-authenticate",
    "proxy-authorization",
    "te",
    "trailer",
    "transfer-encoding",
    "upgrade",
];

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

/// The upstream.
#[derive(Clone)]
pub struct Upstream {
    authority: http::uri::Authority,
    host: String,
    port: u16,
    base_path: String,
    base_query: Option<String>,
    tls: Option<(tokio_rustls::TlsConnector, ServerName<'static>)>,
}

impl std::fmt::Debug for Upstream {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "Upstream({}://{}{})",
            if self.tls.is_some() { "https" } else { "http" },
            self.authority,
            self.base_path
        )
    }
}

impl Upstream {
    /// The upstream at `url`; `tls` is the client configuration for an `https://` one.
    pub fn new(url: &str, tls: impl FnOnce() -> Result<rustls::ClientConfig, String>) -> Result<Self, UpstreamError> {
        let bad = |problem: String| UpstreamError::Url { url: url.to_owned(), problem };
        let uri: http::Uri = url.parse().map_err(|e| bad(format!("{e}")))?;
        let https = match uri.scheme_str() {
            Some("https") => true,
            Some("http") => false,
            _ => return Err(bad("the scheme must be http or https".into())),
        };
        let authority = uri.authority().cloned().ok_or_else(|| bad("no host".into()))?;
        let host = authority.host().trim_start_matches('[').trim_end_matches(']').to_owned();
        let port = authority.port_u16().unwrap_or(if https { 443 } else { 80 });
        let tls = if https {
            let name = ServerName::try_from(host.clone()).map_err(|e| bad(format!("the host as a TLS name: {e}")))?;
            let config = tls().map_err(bad)?;
            Some((tokio_rustls::TlsConnector::from(Arc::new(config)), name))
        } else {
            None
        };
        Ok(Upstream {
            authority,
            host,
            port,
            base_path: uri.path().trim_end_matches('/').to_owned(),
            base_query: uri.query().filter(|q| !q.is_empty()).map(str::to_owned),
            tls,
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
    pub async fn forward<B>(
        &self,
        mut request: http::Request<B>,
        client: SocketAddr,
    ) -> Result<http::Response<UpstreamBody>, (http::Response<UpstreamBody>, String)>
    where
        B: hyper::body::Body + Send + 'static,
        B::Data: Send,
        B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
    {
        let fail = |problem: String| (plain(502, "Bad Gateway").map(Either::Right), problem);
        let host = request
            .headers()
            .get(http::header::HOST)
            .cloned()
            .or_else(|| request.uri().authority().and_then(|a| http::HeaderValue::from_str(a.as_str()).ok()))
            .unwrap_or_else(|| {
                http::HeaderValue::from_str(self.authority.as_str()).unwrap_or(http::HeaderValue::from_static(""))
            });
        let target = self.target(request.uri());
        *request.uri_mut() = target.parse().map_err(|e| fail(format!("the upstream path {target:?}: {e}")))?;
        *request.version_mut() = http::Version::HTTP_11;
        let headers = request.headers_mut();
        remove_hop_by_hop(headers);
        headers.insert(http::header::HOST, host);
        let forwarded = match headers.get("x-forwarded-for").and_then(|v| v.to_str().ok()) {
            Some(prior) => format!("{prior}, {}", client.ip()),
            None => client.ip().to_string(),
        };
        if let Ok(v) = http::HeaderValue::from_str(&forwarded) {
            headers.insert("x-forwarded-for", v);
        }

        let tcp = TcpStream::connect((self.host.as_str(), self.port))
            .await
            .map_err(|e| fail(format!("connecting to {}: {e}", self.authority)))?;
        let _ = tcp.set_nodelay(true);
        let response = match &self.tls {
            Some((connector, name)) => {
                let stream = connector
                    .connect(name.clone(), tcp)
                    .await
                    .map_err(|e| fail(format!("TLS with {}: {e}", self.authority)))?;
                send(TokioIo::new(stream), request).await
            }
            None => send(TokioIo::new(tcp), request).await,
        };
        let mut response = response.map_err(|e| fail(format!("{}: {e}", self.authority)))?;
        remove_hop_by_hop(response.headers_mut());
        Ok(response.map(Either::Left))
    }
}

async fn send<IO, B>(io: IO, request: http::Request<B>) -> Result<http::Response<Incoming>, hyper::Error>
where
    IO: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<Box<dyn std::error::Error + Send + Sync>>,
{
    let (mut sender, connection) = hyper::client::conn::http1::handshake(io).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::debug!("upstream connection: {e}");
        }
    });
    sender.send_request(request).await
}

/// Removes hop-by-hop headers, and those the `Connection` header names.
pub fn remove_hop_by_hop(headers: &mut http::HeaderMap) {
    let named: Vec<String> = headers
        .get_all(http::header::CONNECTION)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(|s| s.trim().to_ascii_lowercase())
        .filter(|s| !s.is_empty())
        .collect();
    for h in HOP_BY_HOP.iter().copied().chain(named.iter().map(String::as_str)) {
        headers.remove(h);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn up(url: &str) -> Upstream {
        Upstream::new(url, || Err("no TLS in this test".into())).unwrap()
    }

    #[test]
    fn paths_and_queries_join_as_gos_reverse_proxy() {
        let u = |s: &str| s.parse::<http::Uri>().unwrap();
        assert_eq!(up("http://127.0.0.1:8080/").target(&u("/metrics?a=1")), "/metrics?a=1");
        assert_eq!(up("http://h/base/").target(&u("/metrics")), "/base/metrics");
        assert_eq!(up("http://h/base?x=1").target(&u("/m?y=2")), "/base/m?x=1&y=2");
        assert!(Upstream::new("ftp://h", || Err(String::new())).is_err());
        assert!(Upstream::new("https://h", || Err("no CA".into())).is_err());
    }

    #[test]
    fn hop_by_hop_headers_go() {
        let mut h = http::HeaderMap::new();
        h.insert("connection", http::HeaderValue::from_static("keep-alive, X-Secret"));
        h.insert("x-secret", http::HeaderValue::from_static("1"));
        h.insert("upgrade", http::HeaderValue::from_static("websocket"));
        h.insert("x-kept", http::HeaderValue::from_static("1"));
        remove_hop_by_hop(&mut h);
        assert_eq!(h.keys().map(|k| k.as_str()).collect::<Vec<_>>(), ["x-kept"]);
    }
}
