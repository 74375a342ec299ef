//! The handshake half of client-certificate authentication, as Go's `tls.RequestClientCert`
//! (kube-apiserver's, and k8s.io/apiserver's for delegating servers): ask for a certificate
//! naming the trusted CAs, check that the client holds its key (the handshake signature), and
//! leave the chain to request authentication.
//!
//! Deferred, never skipped: no request is authenticated by a certificate unless the x509
//! authenticator ([`super::x509`]) or the request-header authenticator ([`super::request_header`])
//! verifies its chain against its own CA at that request. So a foreign, expired or
//! serverAuth-only certificate gets the plain 401 with the precise reason in the log, rather than
//! a handshake alert nobody can read; and a request that also carries a bearer token is served
//! as the token's user, as kube-apiserver's authenticator union does.

use std::sync::Arc;

use rustls::client::danger::HandshakeSignatureValid;
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::{DigitallySignedStruct, DistinguishedName, SignatureScheme};
use rustls_pki_types::{CertificateDer, UnixTime};

/// A client-certificate verifier for the handshake: optional certificates, the root hints and
/// the handshake signature of `inner` (a WebPKI verifier over the trusted CAs), the chain left
/// to request authentication (see the module's docs).
#[derive(Debug)]
pub struct RequestClientCert(Arc<dyn ClientCertVerifier>);

impl RequestClientCert {
    /// Hints `inner`'s CAs and checks handshake signatures with it.
    pub fn new(inner: Arc<dyn ClientCertVerifier>) -> Self {
        RequestClientCert(inner)
    }
}

impl ClientCertVerifier for RequestClientCert {
    fn offer_client_auth(&self) -> bool {
        true
    }

    fn client_auth_mandatory(&self) -> bool {
        false
    }

    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.0.root_hint_subjects()
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        // Deferred, never skipped: see the module's docs.
        Ok(ClientCertVerified::assertion())
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.0.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.0.supported_verify_schemes()
    }
}
