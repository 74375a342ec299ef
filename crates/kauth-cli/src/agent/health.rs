//! `/healthz` and `/metrics` on a loopback address: plain HTTP/1.1 through hyper.
//!
//! `/healthz` is 200 while every token is published and unexpired, 503 otherwise; either way
//! one line per token says how it stands (no token is ever shown).

use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::service::service_fn;
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;

use super::clock::AgentClock;
use super::driver::Status;

/// The health answer at `now_mono`: status code and body.
pub fn healthz(status: &Status, now_mono: i64) -> (u16, String) {
    let mut healthy = true;
    let mut body = String::new();
    for (name, t) in status.tokens() {
        let line = match t.expires_at_mono {
            None => {
                healthy = false;
                format!("{name}: no token yet")
            }
            Some(at) if at <= now_mono => {
                healthy = false;
                format!("{name}: expired {}s ago", (now_mono - at) / 1000)
            }
            Some(at) => format!("{name}: ok, expires in {}s", (at - now_mono) / 1000),
        };
        body.push_str(&line);
        if t.failures > 0 {
            body.push_str(&format!(" ({} failures in a row", t.failures));
            if let Some(e) = &t.last_error {
                body.push_str(&format!(": {e}"));
            }
            body.push(')');
        }
        body.push('\n');
    }
    (if healthy { 200 } else { 503 }, body)
}

fn answer(code: u16, content_type: &str, body: String) -> hyper::Response<Full<Bytes>> {
    let mut r = hyper::Response::new(Full::new(Bytes::from(body)));
    *r.status_mut() = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    if let Ok(v) = http::HeaderValue::from_str(content_type) {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

/// Serves `/healthz` and `/metrics` on `listener` until the task is dropped.
pub async fn serve<C: AgentClock>(listener: TcpListener, status: Arc<Status>, clock: C) {
    loop {
        let stream = match listener.accept().await {
            Ok((stream, _)) => stream,
            Err(e) => {
                // Out of file descriptors, say: wait rather than spin.
                tracing::warn!("health endpoint: accepting a connection: {e}");
                tokio::time::sleep(std::time::Duration::from_millis(200)).await;
                continue;
            }
        };
        let status = status.clone();
        let clock = clock.clone();
        tokio::spawn(async move {
            let service = service_fn(move |req: hyper::Request<hyper::body::Incoming>| {
                let now = clock.read().mono_ms;
                let resp = match req.uri().path() {
                    "/healthz" | "/livez" | "/readyz" => {
                        let (code, body) = healthz(&status, now);
                        answer(code, "text/plain; charset=utf-8", body)
                    }
                    "/metrics" => {
                        status.refresh_gauges(now);
                        answer(200, "text/plain; version=0.0.4; charset=utf-8", status.metrics.render())
                    }
                    _ => answer(404, "text/plain; charset=utf-8", "not found\n".into()),
                };
                async move { Ok::<_, std::convert::Infallible>(resp) }
            });
            let _ = hyper::server::conn::http1::Builder::new().serve_connection(TokioIo::new(stream), service).await;
        });
    }
}
