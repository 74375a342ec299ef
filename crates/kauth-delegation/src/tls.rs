//! The serving side's TLS for a delegating server (rustls on aws-lc-rs): its certificate, and a
//! request for client certificates naming both the client CA and the request-header CA, so
//! kube-apiserver's front proxy and ordinary clients can present theirs. The handshake only
//! proves the client holds the key of the chain it presents: which CA signed it, and what it
//! may do, is the layer's to judge (the request-header CA's certificates vouch for other users
//! only if their CN is allowed, the client CA's only for themselves).

use std::sync::Arc;

use kauth::authn::handshake::RequestClientCert;
use kauth::pki::pem::{self, SectionKind};
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};

use crate::extension_authentication::ExtensionAuthentication;

/// Why the TLS configuration could not be made.
#[derive(Debug, thiserror::Error)]
pub enum TlsSetupError {
    /// A PEM input is unreadable or lacks what it should hold.
    #[error("{what}: {problem}")]
    Pem {
        /// The input.
        what: String,
        /// What is wrong.
        problem: String,
    },
    /// rustls refused the configuration.
    #[error("{what}: {source}")]
    Rustls {
        /// What was being set.
        what: String,
        /// rustls' error.
        source: rustls::Error,
    },
}

fn pem_err(what: &str, problem: impl ToString) -> TlsSetupError {
    TlsSetupError::Pem { what: what.to_owned(), problem: problem.to_string() }
}

/// Every certificate in a PEM bundle.
pub fn certificates(what: &str, data: &[u8]) -> Result<Vec<CertificateDer<'static>>, TlsSetupError> {
    let certs: Vec<_> = pem::sections(what, data)
        .map_err(|e| pem_err(what, e))?
        .into_iter()
        .filter(|s| s.kind == SectionKind::Certificate)
        .map(|s| CertificateDer::from(s.der))
        .collect();
    if certs.is_empty() {
        return Err(pem_err(what, "holds no CERTIFICATE block"));
    }
    Ok(certs)
}

/// The first private key in a PEM input.
pub fn private_key(what: &str, data: &[u8]) -> Result<PrivateKeyDer<'static>, TlsSetupError> {
    let s = pem::sections(what, data)
        .map_err(|e| pem_err(what, e))?
        .into_iter()
        .find(|s| pem::is_private_key(s.kind))
        .ok_or_else(|| pem_err(what, "holds no PRIVATE KEY block"))?;
    Ok(match s.kind {
        SectionKind::RsaPrivateKey => PrivateKeyDer::Pkcs1(s.der.into()),
        SectionKind::EcPrivateKey => PrivateKeyDer::Sec1(s.der.into()),
        _ => PrivateKeyDer::Pkcs8(s.der.into()),
    })
}

fn provider() -> Arc<rustls::crypto::CryptoProvider> {
    Arc::new(rustls::crypto::aws_lc_rs::default_provider())
}

/// A server configuration serving `cert_pem` with `key_pem`, asking for client certificates
/// of the CAs `trust` names (none asked when it names none); ALPN h2 and http/1.1.
pub fn server_config(
    cert_pem: &[u8],
    key_pem: &[u8],
    trust: &ExtensionAuthentication,
) -> Result<ServerConfig, TlsSetupError> {
    let chain = certificates("the serving certificate", cert_pem)?;
    let key = private_key("the serving key", key_pem)?;
    let builder = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(|source| TlsSetupError::Rustls { what: "protocol versions".into(), source })?;
    let mut roots = RootCertStore::empty();
    let bundles = [
        ("client-ca-file", trust.client_ca_pem.as_deref()),
        ("requestheader-client-ca-file", trust.request_header.as_ref().map(|r| r.ca_pem.as_str())),
    ];
    for (what, pem) in bundles {
        if let Some(pem) = pem {
            for c in certificates(what, pem.as_bytes())? {
                roots.add(c).map_err(|source| TlsSetupError::Rustls { what: what.into(), source })?;
            }
        }
    }
    let builder = if roots.is_empty() {
        builder.with_no_client_auth()
    } else {
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider())
            .allow_unauthenticated()
            .build()
            .map_err(|e| pem_err("client CAs", e))?;
        builder.with_client_cert_verifier(Arc::new(RequestClientCert::new(verifier)))
    };
    let mut config = builder
        .with_single_cert(chain, key)
        .map_err(|source| TlsSetupError::Rustls { what: "the serving certificate and key".into(), source })?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(config)
}
