//! Serving: TLS (rustls) on a TCP listener, HTTP/1.1 and h2 (hyper-util's auto builder), each
//! request read in full (at most [`MAX_BODY_BYTES`]) and handed to the request pipeline
//! ([`pipeline::stack`], built once for the server).

use std::future::Future;
use std::net::SocketAddr;
use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderName, HeaderValue, StatusCode};
use http_body_util::{BodyExt, Either, Full, Limited};
use hyper::body::Incoming;
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo};
use kauth::authn::token_key_memo::TokenKeyMemo;
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio_rustls::TlsAcceptor;

use super::request_text;
use crate::api::request::{PeerCertificates, Request, MAX_BODY_BYTES};
use crate::api::response::Response;
use crate::api::status::ApiError;
use crate::pipeline::{self, Pipeline};
use crate::state::{Clock, State};

/// The largest request header block accepted.
pub const MAX_HEADER_BYTES: usize = 1 << 20;

/// A response body: whole, or a watch's events as they come.
pub type Body = Either<Full<Bytes>, EventStream>;

/// A watch's event stream as an HTTP body (chunked on HTTP/1.1, DATA frames on h2).
#[derive(Debug)]
pub struct EventStream(mpsc::Receiver<Bytes>);

impl hyper::body::Body for EventStream {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        self.0.poll_recv(cx).map(|chunk| chunk.map(|c| Ok(hyper::body::Frame::data(c))))
    }
}

fn to_hyper(r: Response) -> hyper::Response<Body> {
    let body = match r.stream {
        Some(watch) => {
            // A small buffer: a slow client holds the watch back, and the watch in turn lets
            // the live feed drop it rather than the server buffering without bound.
            let (tx, rx) = mpsc::channel(16);
            tokio::spawn(watch.run(tx));
            Either::Right(EventStream(rx))
        }
        None => Either::Left(Full::new(r.body)),
    };
    let mut resp = hyper::Response::new(body);
    *resp.status_mut() = StatusCode::from_u16(r.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    // The content type and `Date` (see `dated`), then the handler's own.
    headers.reserve(2 + r.headers.len());
    // A static text is shared, not copied; it is still checked.
    if let Ok(v) = HeaderValue::from_maybe_shared(Bytes::from_static(r.content_type.as_bytes())) {
        headers.insert(http::header::CONTENT_TYPE, v);
    }
    for (name, value) in r.headers {
        // Names and values are kauth's own; one that is not a valid header is left out.
        if let (Ok(name), Ok(value)) = (HeaderName::from_bytes(name.as_bytes()), HeaderValue::try_from(value)) {
            headers.append(name, value);
        }
    }
    resp
}

/// Sets the `Date` header from the server's clock rather than hyper's reading of the system
/// clock, so a replica whose clock is off says so on the wire (`kauth doctor` measures skew
/// from it; `--clock-offset` reproduces a skewed replica).
fn dated(mut resp: hyper::Response<Body>, clock: &Clock) -> hyper::Response<Body> {
    if let Some(v) = request_text::http_date(clock()) {
        resp.headers_mut().insert(http::header::DATE, v);
    }
    resp
}

/// What the requests of one connection share.
#[derive(Debug, Clone)]
pub struct Connection {
    /// The client certificate chain the handshake presented, if any.
    pub peer: Option<PeerCertificates>,
    /// The client's address.
    pub source: SocketAddr,
    /// The cache key of the last bearer token the connection presented (see
    /// [`TokenKeyMemo`]): a keep-alive client's token is HMACed once, not on every request.
    pub token_key: Arc<TokenKeyMemo>,
}

async fn serve_request(
    mut pipeline: Pipeline,
    clock: Clock,
    connection: Connection,
    req: hyper::Request<Incoming>,
) -> Result<hyper::Response<Body>, std::convert::Infallible> {
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(b) => b.to_bytes(),
        Err(e) => {
            let err = if e.downcast_ref::<http_body_util::LengthLimitError>().is_some() {
                ApiError::too_large(MAX_BODY_BYTES)
            } else {
                ApiError::bad_request(format!("reading the request body: {e}"))
            };
            return Ok(dated(to_hyper(Response::error(&err)), &clock));
        }
    };
    let query = parts
        .uri
        .query()
        .map(|q| form_urlencoded::parse(q.as_bytes()).map(|(k, v)| (k.into_owned(), v.into_owned())).collect())
        .unwrap_or_default();
    let request = Request {
        method: parts.method.clone(),
        path: parts.uri.path().to_owned(),
        query,
        headers: parts.headers,
        body,
        peer: connection.peer,
        source_ip: request_text::address(connection.source.ip()),
        token_key: Some(connection.token_key),
    };
    let resp = to_hyper(pipeline::call(&mut pipeline, request).await);
    Ok(dated(resp, &clock))
}

/// Serves until `shutdown` completes.
pub async fn serve(
    state: Arc<State>,
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()>,
) {
    let clock = state.clock.clone();
    let pipeline = pipeline::stack(state);
    serve_connections(listener, tls, shutdown, move |connection, req| {
        serve_request(pipeline.clone(), clock.clone(), connection, req)
    })
    .await
}

/// The transport under [`serve`], for any request handler: accepts TCP connections, does the TLS
/// handshake with `tls`, and serves HTTP/1.1 or h2 on each with hyper-util's auto builder and
/// kauth's limits, calling `handle` with what the connection's requests share ([`Connection`]:
/// the client's certificates, its address, its token key memo) and the request.
///
/// Public so that the HTTPS ceiling benchmark (`examples/ceiling.rs`) serves a fixed response
/// through exactly this code: what it measures is what kauth's transport costs, and the
/// difference to `kauth serve` is what the pipeline and handlers cost.
pub async fn serve_connections<H, F>(
    listener: TcpListener,
    tls: Arc<rustls::ServerConfig>,
    shutdown: impl Future<Output = ()>,
    handle: H,
) where
    H: Fn(Connection, hyper::Request<Incoming>) -> F + Clone + Send + Sync + 'static,
    F: Future<Output = Result<hyper::Response<Body>, std::convert::Infallible>> + Send + 'static,
{
    let acceptor = TlsAcceptor::from(tls);
    tokio::pin!(shutdown);
    loop {
        let (tcp, source) = tokio::select! {
            _ = &mut shutdown => return,
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    tracing::warn!("accept: {e}");
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let handle = handle.clone();
        tokio::spawn(async move {
            let tls = match acceptor.accept(tcp).await {
                Ok(t) => t,
                Err(e) => {
                    tracing::info!(%source, "TLS handshake failed: {e}");
                    return;
                }
            };
            let peer = tls.get_ref().1.peer_certificates().filter(|c| !c.is_empty()).map(|c| Arc::new(c.to_vec()));
            let connection = Connection { peer, source, token_key: Arc::new(TokenKeyMemo::new()) };
            let service = service_fn(move |req| handle(connection.clone(), req));
            // Headers up to 1 MiB, as Go's net/http allows kube-apiserver: a giant bearer token
            // must reach authentication and get its 401, not be cut off by the transport.
            let mut builder = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new());
            builder.http1().max_buf_size(MAX_HEADER_BYTES + 64 * 1024);
            builder.http2().max_header_list_size(MAX_HEADER_BYTES as u32);
            if let Err(e) = builder.serve_connection(TokioIo::new(tls), service).await {
                tracing::debug!(%source, "connection: {e}");
            }
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_response_keeps_its_status_type_headers_and_body() {
        let mut r = Response::text(404, "gone").warn("first").warn("second");
        r.headers.push(("cache-control", "public, max-age=3600".into()));
        let resp = to_hyper(r);
        assert_eq!(resp.status(), StatusCode::NOT_FOUND);
        let h = resp.headers();
        assert_eq!(h[http::header::CONTENT_TYPE], "text/plain; charset=utf-8");
        let warnings: Vec<_> = h.get_all("warning").iter().collect();
        assert_eq!(warnings, [r#"299 - "first""#, r#"299 - "second""#], "appended, in order");
        assert_eq!(h["cache-control"], "public, max-age=3600");
        assert_eq!(h.len(), 4);
        match resp.into_body() {
            Either::Left(full) => {
                let body = full.collect().await.map(|c| c.to_bytes());
                assert_eq!(body.ok().as_deref(), Some(&b"gone"[..]));
            }
            Either::Right(_) => panic!("a whole body, not a stream"),
        }
    }

    #[test]
    fn a_header_that_is_not_valid_is_left_out_and_a_bad_status_is_a_500() {
        let mut r = Response::json_bytes(200, b"{}".to_vec());
        r.headers.push(("bad name", "v".into()));
        r.headers.push(("x-ok", "line\nbreak".into()));
        r.headers.push(("x-kept", "yes".into()));
        r.status = 42;
        let resp = to_hyper(r);
        assert_eq!(resp.status(), StatusCode::INTERNAL_SERVER_ERROR);
        let names: Vec<_> = resp.headers().keys().map(|k| k.as_str()).collect();
        assert_eq!(names, ["content-type", "x-kept"]);
    }
}
