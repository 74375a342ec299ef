//! TLS for the apiserver role: a serving certificate, and client certificates that are
//! *optional* (as kube-apiserver: a client without one may still present a token).
//!
//! Like kube-apiserver (Go's `tls.RequestClientCert`, the library's
//! `kauth::authn::handshake::RequestClientCert`), the handshake asks for a certificate and checks that the client holds its key, but does not judge the chain: the library's
//! `kauth::authn::x509::X509Authenticator` does, when a request is authenticated (chain to the
//! client CA, validity, EKU clientAuth). A foreign, expired or serverAuth-only certificate so
//! gets the plain 401 `Status` with the precise reason in the log and audit, rather than a
//! handshake alert nobody can read; and a request that also carries a valid bearer token is
//! served as the token's user, as kube-apiserver's authenticator union does.

use std::sync::Arc;

use kauth::authn::handshake::RequestClientCert;
use kauth::pki::pem::{self, SectionKind};
use rustls::crypto::CryptoProvider;
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// Why a TLS configuration could not be built. Each names the input at fault.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM input was unreadable or held the wrong kind of block.
    #[error(transparent)]
    Pem(#[from] kauth::pki::PkiError),
    /// The input holds no block of the needed kind.
    #[error("{what}: holds no {expected} block")]
    Missing {
        /// The input.
        what: String,
        /// The PEM label expected.
        expected: &'static str,
    },
    /// rustls refused the material (a key that does not match the certificate, a CA it cannot use).
    #[error("{what}: {source}")]
    Rustls {
        /// The input.
        what: String,
        /// rustls' error.
        source: rustls::Error,
    },
    /// The client CA bundle could not be turned into a verifier.
    #[error("client CA: {0}")]
    Verifier(String),
}

/// The only crypto provider kauth uses.
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// Every certificate in a PEM bundle, in order.
pub fn certificates(what: &str, data: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let certs: Vec<_> = pem::sections(what, data)?
        .into_iter()
        .filter(|s| s.kind == SectionKind::Certificate)
        .map(|s| CertificateDer::from(s.der))
        .collect();
    if certs.is_empty() {
        return Err(TlsError::Missing { what: what.to_owned(), expected: "CERTIFICATE" });
    }
    Ok(certs)
}

/// The first private key in a PEM input (PKCS#1, SEC1 or PKCS#8).
pub fn private_key(what: &str, data: &[u8]) -> Result<PrivateKeyDer<'static>, TlsError> {
    let section = pem::sections(what, data)?
        .into_iter()
        .find(|s| pem::is_private_key(s.kind))
        .ok_or_else(|| TlsError::Missing { what: what.to_owned(), expected: "PRIVATE KEY" })?;
    let der = match section.kind {
        SectionKind::RsaPrivateKey => PrivateKeyDer::Pkcs1(section.der.into()),
        SectionKind::EcPrivateKey => PrivateKeyDer::Sec1(section.der.into()),
        _ => PrivateKeyDer::Pkcs8(section.der.into()),
    };
    Ok(der)
}

/// The client CA as the handshake uses it: the CA names offered to clients, and rustls' WebPKI
/// verifier for the client's handshake signature. It never judges a chain: request
/// authentication does (`kauth::authn::x509`).
#[derive(Debug, Clone)]
pub struct ClientCertificates {
    verifier: Arc<dyn ClientCertVerifier>,
}

impl ClientCertificates {
    /// From a PEM bundle of CA certificates (`--client-ca-file`).
    pub fn from_pem(what: &str, data: &[u8]) -> Result<Self, TlsError> {
        let mut roots = RootCertStore::empty();
        for c in certificates(what, data)? {
            roots.add(c).map_err(|source| TlsError::Rustls { what: what.to_owned(), source })?;
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()
            .map_err(|e| TlsError::Verifier(e.to_string()))?;
        Ok(ClientCertificates { verifier })
    }
}

/// A server configuration serving `cert` (chain) with `key`. With `client_certs`, clients may
/// present a certificate; the handshake proves they hold its key, and the chain is left to
/// the x509 authenticator when a request is authenticated. ALPN offers h2 and
/// http/1.1, as kube-apiserver does.
pub fn server_config(
    cert: (&str, &[u8]),
    key: (&str, &[u8]),
    client_certs: Option<&ClientCertificates>,
) -> Result<ServerConfig, TlsError> {
    let provider = provider();
    let chain = certificates(cert.0, cert.1)?;
    let key_der = private_key(key.0, key.1)?;
    let builder = ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsError::Rustls { what: "protocol versions".into(), source })?;
    let builder = match client_certs {
        Some(c) => builder.with_client_cert_verifier(Arc::new(RequestClientCert::new(c.verifier.clone()))),
        None => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(chain, key_der)
        .map_err(|source| TlsError::Rustls { what: format!("{} with {}", cert.0, key.0), source })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn missing_blocks_are_named() {
        let err = certificates("ca.crt", pem::encode("PRIVATE KEY", &[0x30, 0]).as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "ca.crt: holds no CERTIFICATE block");
        let err = private_key("tls.key", pem::encode("CERTIFICATE", &[0x30, 0]).as_bytes()).unwrap_err();
        assert_eq!(err.to_string(), "tls.key: holds no PRIVATE KEY block");
    }
}
