//! A request as the pipeline sees it: read in full from the connection (method, path, decoded
//! query, headers, body), with the client certificate chain the TLS handshake presented.

use std::sync::Arc;

use bytes::Bytes;
use http::{HeaderMap, Method};

/// The largest request body accepted (kube-apiserver's 3 MiB).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;

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
    /// The connection's memory of its last bearer token's cache key; `None` for a request that
    /// came on no connection (in-process callers, tests).
    pub token_key: Option<Arc<kauth::authn::token_key_memo::TokenKeyMemo>>,
}

impl Request {
    /// A query parameter.
    pub fn param(&self, name: &str) -> Option<&str> {
        self.query.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }
}

/// Whether the client asked for a `meta.k8s.io` Table (`kubectl get`).
pub fn wants_table(req: &Request) -> bool {
    req.headers.get_all(http::header::ACCEPT).iter().filter_map(|v| v.to_str().ok()).any(|a| a.contains("as=Table"))
}
