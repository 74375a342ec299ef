//! A response as handlers produce it: a status, a content type, a body (whole, or a stream of
//! events sent as they happen) and extra headers. The transport turns it into HTTP.

use std::future::Future;
use std::pin::Pin;

use bytes::Bytes;
use serde_json::Value;
use tokio::sync::mpsc;

use super::status::ApiError;

/// A body produced over time (a watch's events): run once, it sends chunks until it ends or the
/// receiver goes away.
pub trait EventSource: Send + std::fmt::Debug + 'static {
    /// Sends the stream's chunks on `tx`.
    fn run(self: Box<Self>, tx: mpsc::Sender<Bytes>) -> Pin<Box<dyn Future<Output = ()> + Send>>;
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
    pub stream: Option<Box<dyn EventSource>>,
}

impl Response {
    /// A JSON response.
    pub fn json(status: u16, v: &Value) -> Self {
        Response {
            status,
            content_type: "application/json",
            body: Bytes::from(serde_json::to_vec(v).unwrap_or_default()),
            headers: Vec::new(),
            stream: None,
        }
    }

    /// A JSON body already serialized.
    pub fn json_bytes(status: u16, body: Vec<u8>) -> Self {
        Response {
            status,
            content_type: "application/json",
            body: Bytes::from(body),
            headers: Vec::new(),
            stream: None,
        }
    }

    /// A plain-text response.
    pub fn text(status: u16, s: &str) -> Self {
        Response {
            status,
            content_type: "text/plain; charset=utf-8",
            body: Bytes::from(s.to_owned()),
            headers: Vec::new(),
            stream: None,
        }
    }

    /// A watch's event stream (`application/json`, one event per line).
    pub fn watch(w: impl EventSource) -> Self {
        Response {
            status: 200,
            content_type: "application/json",
            body: Bytes::new(),
            headers: Vec::new(),
            stream: Some(Box::new(w)),
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
