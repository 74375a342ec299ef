//! How an issuer's documents are read: one HTTPS GET, blocking (the library's
//! [`kauth::authn::jwt::IssuerKeys::refresh`] is a synchronous call; the server runs remote
//! authenticators off its async workers).
//!
//! As kube-apiserver's OIDC client: the issuer's `certificateAuthority` alone when one is given,
//! else the host's root certificates (Go's `crypto/x509` system pool; read here with
//! rustls-native-certs, Mozilla's roots only when the host has none); a 30 s limit per request;
//! proxies from the environment (`HTTPS_PROXY`, `NO_PROXY`). kauth also refuses anything but
//! `https://`, redirects included, and reads at most [`MAX_BODY`] bytes.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

/// kube-apiserver's `http.Client` timeout for its OIDC issuers.
pub const TIMEOUT: Duration = Duration::from_secs(30);

/// The largest discovery document or JWKS read (real ones are a few KiB).
pub const MAX_BODY: u64 = 1 << 20;

/// An HTTP answer, whatever its status.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Answer {
    /// The status code.
    pub status: u16,
    /// The body (at most [`MAX_BODY`] bytes).
    pub body: Vec<u8>,
}

/// Reads a URL. `Err` is no answer at all (connection, TLS, timeout), with the client's words.
pub trait Fetch: Send + Sync + fmt::Debug {
    /// One GET.
    fn get(&self, url: &str) -> Result<Answer, String>;
}

/// Why the client could not be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClientError {
    /// `certificateAuthority` (or `--oidc-ca-file`) holds no PEM certificate.
    #[error("Failed to read the CA contents: data does not contain any valid RSA or ECDSA certificates; kauth: {what} holds no PEM CERTIFICATE block")]
    NoCertificates {
        /// Where the CA came from.
        what: String,
    },
}

/// The HTTPS client of one issuer.
#[derive(Clone)]
pub struct HttpsClient {
    agent: ureq::Agent,
    roots: &'static str,
}

impl fmt::Debug for HttpsClient {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "HttpsClient(roots: {})", self.roots)
    }
}

fn pem_certificates(pem: &[u8]) -> Vec<ureq::tls::Certificate<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect()
}

/// The host's roots, as Go reads them (`SSL_CERT_FILE`, `SSL_CERT_DIR`, the distribution's
/// bundle); `None` when the host has none.
fn host_roots() -> Option<Vec<ureq::tls::Certificate<'static>>> {
    let found = rustls_native_certs::load_native_certs();
    for e in &found.errors {
        tracing::warn!("reading the host's root certificates: {e}");
    }
    let certs: Vec<_> = found.certs.iter().map(|c| ureq::tls::Certificate::from_der(c.as_ref()).to_owned()).collect();
    (!certs.is_empty()).then_some(certs)
}

impl HttpsClient {
    /// A client trusting `ca_pem` alone (named `what` in errors), or the host's roots.
    pub fn new(what: &str, ca_pem: Option<&[u8]>) -> Result<Self, ClientError> {
        let (roots, label) = match ca_pem {
            Some(pem) => {
                let certs = pem_certificates(pem);
                if certs.is_empty() {
                    return Err(ClientError::NoCertificates { what: what.to_owned() });
                }
                (ureq::tls::RootCerts::new_with_certs(&certs), "the configured CA")
            }
            None => match host_roots() {
                Some(certs) => (ureq::tls::RootCerts::new_with_certs(&certs), "the host's roots"),
                None => {
                    tracing::warn!("{what}: the host has no root certificates; trusting Mozilla's (webpki-roots)");
                    (ureq::tls::RootCerts::WebPki, "Mozilla's roots")
                }
            },
        };
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .root_certs(roots)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .https_only(true)
            .http_status_as_error(false)
            .timeout_global(Some(TIMEOUT))
            .build()
            .into();
        Ok(HttpsClient { agent, roots: label })
    }
}

impl Fetch for HttpsClient {
    fn get(&self, url: &str) -> Result<Answer, String> {
        let mut resp = self.agent.get(url).call().map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let body = resp.body_mut().with_config().limit(MAX_BODY).read_to_vec().map_err(|e| e.to_string())?;
        Ok(Answer { status, body })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_without_certificates_is_refused() {
        let e = HttpsClient::new("issuer \"https://a\" certificateAuthority", Some(b"not pem")).unwrap_err();
        assert!(matches!(e, ClientError::NoCertificates { .. }));
        assert!(e.to_string().starts_with("Failed to read the CA contents"), "{e}");
    }

    #[test]
    fn plain_http_is_never_fetched() {
        let c = HttpsClient::new("test", None).unwrap();
        let e = c.get("http://127.0.0.1:9/jwks").unwrap_err();
        assert!(e.to_lowercase().contains("https"), "{e}");
    }
}
