//! hyper on 127.0.0.1: reads each request (its body at most [`MAX_BODY`]), asks
//! [`routes::route`] on the blocking pool (a JWKS or policy may be read from the server), and
//! writes the answer with the security headers. Nothing about a request is logged: its body
//! may be a credential.

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::{BodyExt, Full, Limited};
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::app::App;
use super::form::MAX_BODY;
use super::routes::{self, Reply, SECURITY_HEADERS};

/// Serves `app` on `listener` until the future is dropped.
pub async fn serve(listener: TcpListener, app: Arc<App>) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(_) => {
                // Out of file descriptors, say: wait rather than spin.
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
        };
        let app = app.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let app = app.clone();
                async move { Ok::<_, std::convert::Infallible>(answer(app, req).await) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}

async fn answer(app: Arc<App>, req: hyper::Request<hyper::body::Incoming>) -> hyper::Response<Full<Bytes>> {
    let (parts, body) = req.into_parts();
    let header = |name: http::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let (host, origin) = (header(http::header::HOST), header(http::header::ORIGIN));
    let reply = match Limited::new(body, MAX_BODY).collect().await {
        Err(_) => Reply {
            status: 413,
            content_type: "text/plain; charset=utf-8",
            body: format!("Payload Too Large: at most {MAX_BODY} bytes\n"),
            allow: None,
        },
        Ok(collected) => {
            let body = collected.to_bytes();
            let method = parts.method.clone();
            let path = parts.uri.path().to_owned();
            let query = parts.uri.query().unwrap_or("").to_owned();
            let app = app.clone();
            let task = tokio::task::spawn_blocking(move || {
                routes::route(
                    &app,
                    &routes::Request {
                        method: &method,
                        path: &path,
                        query: &query,
                        host: host.as_deref(),
                        origin: origin.as_deref(),
                        body: &body,
                    },
                )
            });
            task.await.unwrap_or_else(|_| Reply {
                status: 500,
                content_type: "text/plain; charset=utf-8",
                body: "Internal Server Error: kauth inspect failed on this request\n".into(),
                allow: None,
            })
        }
    };
    let head = parts.method == http::Method::HEAD;
    let mut resp = hyper::Response::new(Full::new(if head { Bytes::new() } else { Bytes::from(reply.body) }));
    *resp.status_mut() = http::StatusCode::from_u16(reply.status).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    let headers = resp.headers_mut();
    headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static(reply.content_type));
    if let Some(allow) = reply.allow {
        headers.insert(http::header::ALLOW, http::HeaderValue::from_static(allow));
    }
    for (name, value) in SECURITY_HEADERS {
        headers.insert(name, http::HeaderValue::from_static(value));
    }
    resp
}
