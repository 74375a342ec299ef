//! One TLS handshake with the server that looks and sends nothing: it records the chain the
//! server presents, rustls' verdict on it against the kubeconfig's CA (without failing the
//! handshake, so the rest is seen), and the CAs the server names in its CertificateRequest
//! (`acceptable_issuers`), answering that request with no certificate.

use std::net::{TcpStream, ToSocketAddrs};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::{ResolvesClientCert, WebPkiServerVerifier};
use rustls::crypto::CryptoProvider;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::{DigitallySignedStruct, RootCertStore, SignatureScheme};

/// What the handshake showed.
#[derive(Debug, Clone, Default)]
pub struct Captured {
    /// The server's chain, leaf first (DER).
    pub chain: Vec<Vec<u8>>,
    /// rustls' verdict on the chain and name; `None` when there was no CA to verify against.
    pub verdict: Option<Result<(), rustls::Error>>,
    /// The CA names (DER) the server asked client certificates from; `None`: it asked for none.
    pub acceptable_issuers: Option<Vec<Vec<u8>>>,
    /// The protocol version agreed.
    pub protocol: Option<String>,
}

/// Why the handshake did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ProbeError {
    /// The host name does not resolve.
    #[error("{host} does not resolve: {source}")]
    Resolve {
        /// The host.
        host: String,
        /// Why.
        source: std::io::Error,
    },
    /// No TCP connection.
    #[error("cannot connect to {addr}: {source}")]
    Connect {
        /// The address tried.
        addr: String,
        /// Why.
        source: std::io::Error,
    },
    /// The TLS handshake failed.
    #[error("the TLS handshake with {addr} failed: {reason}")]
    Handshake {
        /// The address.
        addr: String,
        /// Why.
        reason: String,
    },
}

#[derive(Debug)]
struct Recorder {
    inner: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
    captured: Arc<Mutex<Captured>>,
}

impl ServerCertVerifier for Recorder {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let verdict = self
            .inner
            .as_ref()
            .map(|v| v.verify_server_cert(end_entity, intermediates, server_name, ocsp, now).map(|_| ()));
        if let Ok(mut c) = self.captured.lock() {
            c.chain = std::iter::once(end_entity).chain(intermediates).map(|d| d.as_ref().to_vec()).collect();
            c.verdict = verdict;
        }
        // Recorded, not enforced: this connection carries no credential and no request.
        Ok(ServerCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls12_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        rustls::crypto::verify_tls13_signature(message, cert, dss, &self.provider.signature_verification_algorithms)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider.signature_verification_algorithms.supported_schemes()
    }
}

/// Records the CAs a CertificateRequest names and sends no certificate.
#[derive(Debug)]
struct IssuerRecorder(Arc<Mutex<Captured>>);

impl ResolvesClientCert for IssuerRecorder {
    fn resolve(&self, root_hint_subjects: &[&[u8]], _: &[SignatureScheme]) -> Option<Arc<rustls::sign::CertifiedKey>> {
        if let Ok(mut c) = self.0.lock() {
            c.acceptable_issuers = Some(root_hint_subjects.iter().map(|s| s.to_vec()).collect());
        }
        None
    }

    fn has_certs(&self) -> bool {
        true
    }
}

/// Shakes hands with `host:port`, verifying against `roots` (when given) for `server_name`.
pub fn probe(
    host: &str,
    port: u16,
    server_name: &str,
    roots: Option<Vec<CertificateDer<'static>>>,
    timeout: Duration,
) -> Result<Captured, ProbeError> {
    let addr = format!("{host}:{port}");
    let bare = host.trim_start_matches('[').trim_end_matches(']');
    let sock = (bare, port)
        .to_socket_addrs()
        .map_err(|source| ProbeError::Resolve { host: host.to_owned(), source })?
        .next()
        .ok_or_else(|| ProbeError::Resolve {
            host: host.to_owned(),
            source: std::io::Error::new(std::io::ErrorKind::NotFound, "no address"),
        })?;
    let mut tcp = TcpStream::connect_timeout(&sock, timeout)
        .map_err(|source| ProbeError::Connect { addr: addr.clone(), source })?;
    let _ = tcp.set_read_timeout(Some(timeout));
    let _ = tcp.set_write_timeout(Some(timeout));

    let provider = kauth_server::transport::tls::provider();
    let captured = Arc::new(Mutex::new(Captured::default()));
    let handshake_error = |reason: String| ProbeError::Handshake { addr: addr.clone(), reason };
    let inner = match roots {
        Some(certs) => {
            let mut store = RootCertStore::empty();
            let (_, _) = store.add_parsable_certificates(certs);
            WebPkiServerVerifier::builder_with_provider(Arc::new(store), provider.clone()).build().ok()
        }
        None => None,
    };
    let verifier = Recorder { inner, provider: provider.clone(), captured: captured.clone() };
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| handshake_error(e.to_string()))?
        .dangerous()
        .with_custom_certificate_verifier(Arc::new(verifier))
        .with_client_cert_resolver(Arc::new(IssuerRecorder(captured.clone())));
    let name = ServerName::try_from(server_name.trim_start_matches('[').trim_end_matches(']').to_owned())
        .map_err(|e| handshake_error(format!("{server_name:?} is not a valid server name: {e}")))?;
    let mut conn = rustls::ClientConnection::new(Arc::new(config), name).map_err(|e| handshake_error(e.to_string()))?;
    while conn.is_handshaking() {
        conn.complete_io(&mut tcp).map_err(|e| handshake_error(e.to_string()))?;
    }
    conn.send_close_notify();
    let _ = conn.complete_io(&mut tcp);
    let mut out = captured.lock().map(|c| c.clone()).unwrap_or_default();
    out.protocol = conn.protocol_version().map(|v| format!("{v:?}").replace('_', "."));
    Ok(out)
}
