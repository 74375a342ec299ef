//! Client certificates (`--client-ca-file`): the chain the TLS handshake presented, judged
//! here against the client CA at `now`, by rustls' WebPKI verifier (aws-lc-rs): it must chain
//! to a client CA, be valid now and allow TLS client authentication (EKU clientAuth).
//!
//! The user is the leaf's subject: CN is the name, each O a group; as kube-apiserver 1.32 does,
//! the extra `authentication.kubernetes.io/credential-id` is `X509SHA256=<hex SHA-256 of the
//! leaf's DER>`. Unlike kube-apiserver, a verified certificate without a CN is a rejection, not
//! ignored: a presented credential that names no user must not turn into another user.
//!
//! The handshake only asks for the certificate and checks the client holds its key; judging it
//! here, per request, means a foreign or expired certificate gets the plain 401 with the precise
//! reason for the operator, rather than a handshake alert nobody can read.
//!
//! A certificate that verified is remembered by its SHA-256 (which the credential id needs
//! anyway), with its validity period: the next request presenting it is only checked against the
//! clock, not verified again (a signature and a path build each time cost a client-certificate
//! request two thirds of its rate). The CA set of an authenticator never changes, so a verdict
//! can only change with time, which every hit re-checks. Kept are the verdicts that only time can
//! change: verified, and not signed by this CA set (every ordinary client certificate gets that
//! verdict from the front proxy's verifier, on every request). Other refusals are judged afresh;
//! a chain with intermediates is not kept.

use std::sync::Arc;

use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, RootCertStore};
use rustls_pki_types::{CertificateDer, UnixTime};
use time::OffsetDateTime;

use super::rejection::{Authorities, CaRole};
use super::{Authenticated, CertificateName, CertificateRejection, Credentials, Rejection, RequestAuthenticator};
use crate::pki::pem::{self, SectionKind};
use crate::user::{UserInfo, EXTRA_CREDENTIAL_ID};

/// The authenticator's name.
pub const NAME: &str = "x509";

/// Why a client CA could not be used. Names the input.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{what}: {problem}")]
pub struct ClientCaError {
    /// The input (a file name).
    pub what: String,
    /// What is wrong.
    pub problem: String,
}

/// How many verified certificates are remembered; when full, the memory starts again empty.
const VERIFIED_CAPACITY: usize = 4096;

/// A verdict on a certificate, and the period it holds in (the certificate's validity, unix
/// seconds, inclusive).
#[derive(Debug)]
struct Remembered {
    verdict: Result<VerifiedCertificate, CertificateRejection>,
    not_before: i64,
    not_after: i64,
}

/// Verified certificates by the SHA-256 of their DER.
type VerifiedMemory = std::sync::RwLock<hashbrown::HashMap<[u8; 32], Arc<Remembered>, foldhash::fast::RandomState>>;

/// Authenticates requests by their client certificate, against the client CA.
#[derive(Clone)]
pub struct X509Authenticator {
    /// `None`: no client CA is configured, every presented certificate is rejected.
    verifier: Option<Arc<dyn ClientCertVerifier>>,
    /// The CA's role and its certificates' subjects, named when a certificate is not its.
    authorities: Arc<Authorities>,
    /// Certificates that verified against this CA set (see the module docs).
    verified: Arc<VerifiedMemory>,
}

impl std::fmt::Debug for X509Authenticator {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(if self.verifier.is_some() { "X509Authenticator" } else { "X509Authenticator(no client CA)" })
    }
}

impl X509Authenticator {
    /// Trusting the CA certificates `roots`.
    pub fn new(what: &str, roots: impl IntoIterator<Item = CertificateDer<'static>>) -> Result<Self, ClientCaError> {
        let bad = |problem: String| ClientCaError { what: what.to_owned(), problem };
        let mut store = RootCertStore::empty();
        let mut subjects = Vec::new();
        for c in roots {
            if let Ok((_, ca)) = x509_parser::parse_x509_certificate(&c) {
                subjects.push(ca.subject().to_string());
            }
            store.add(c).map_err(|e| bad(e.to_string()))?;
        }
        if store.is_empty() {
            return Err(bad("holds no CERTIFICATE block".into()));
        }
        let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
        let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(store), provider)
            .allow_unauthenticated()
            .build()
            .map_err(|e| bad(e.to_string()))?;
        Ok(X509Authenticator {
            verifier: Some(verifier),
            authorities: Arc::new(Authorities { role: CaRole::ClientCa, subjects }),
            verified: Arc::default(),
        })
    }

    /// The same CA in another role (the request-header CA of a front proxy), named so in
    /// rejections.
    pub fn in_role(mut self, role: CaRole) -> Self {
        Arc::make_mut(&mut self.authorities).role = role;
        self
    }

    /// Trusting the CA certificates of a PEM bundle named `what`.
    pub fn from_pem(what: &str, data: &[u8]) -> Result<Self, ClientCaError> {
        let sections =
            pem::sections(what, data).map_err(|e| ClientCaError { what: what.into(), problem: e.to_string() })?;
        let roots = sections.into_iter().filter(|s| s.kind == SectionKind::Certificate).map(|s| s.der.into());
        Self::new(what, roots)
    }

    /// Without a client CA: every presented certificate is rejected
    /// ([`CertificateRejection::NoClientCa`]).
    pub fn without_client_ca() -> Self {
        X509Authenticator {
            verifier: None,
            authorities: Arc::new(Authorities { role: CaRole::ClientCa, subjects: Vec::new() }),
            verified: Arc::default(),
        }
    }

    /// Verifies `chain` (leaf first, not empty) at `now` against the CA: it must chain to it,
    /// be valid now and allow TLS client authentication. Reads nothing of the user yet.
    pub fn verify_chain(
        &self,
        chain: &[CertificateDer<'_>],
        now: OffsetDateTime,
    ) -> Result<VerifiedCertificate, CertificateRejection> {
        let (leaf, intermediates) = chain
            .split_first()
            .ok_or(CertificateRejection::Unreadable { problem: "empty certificate chain".into() })?;
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, leaf.as_ref());
        let key: Option<[u8; 32]> = if intermediates.is_empty() { digest.as_ref().try_into().ok() } else { None };
        let seconds = now.unix_timestamp();
        if let Some(known) = key.and_then(|k| self.remembered(&k)) {
            if known.not_before <= seconds && seconds <= known.not_after {
                return known.verdict.clone();
            }
        }
        let (_, cert) = x509_parser::parse_x509_certificate(leaf)
            .map_err(|e| CertificateRejection::Unreadable { problem: e.to_string() })?;
        let name = || CertificateName::of(&cert);
        let Some(verifier) = &self.verifier else {
            return Err(CertificateRejection::NoClientCa { certificate: name() });
        };
        let secs = u64::try_from(now.unix_timestamp()).unwrap_or(0);
        let at = UnixTime::since_unix_epoch(std::time::Duration::from_secs(secs));
        let validity = cert.validity();
        let (not_before, not_after) = (validity.not_before.timestamp(), validity.not_after.timestamp());
        if let Err(e) = verifier.verify_client_cert(leaf, intermediates, at) {
            let rejection = judge(e, name(), &self.authorities, now.unix_timestamp(), not_before, not_after);
            if let (Some(key), CertificateRejection::UnknownAuthority { .. }) = (key, &rejection) {
                self.remember(key, Remembered { verdict: Err(rejection.clone()), not_before, not_after });
            }
            return Err(rejection);
        }
        let subject = cert.subject();
        let common_name =
            subject.iter_common_name().next().and_then(|cn| cn.as_str().ok()).unwrap_or_default().to_owned();
        let organizations = subject.iter_organization().filter_map(|o| o.as_str().ok().map(str::to_owned)).collect();
        let verified =
            VerifiedCertificate { name: name(), common_name, organizations, sha256: digest.as_ref().to_vec() };
        if let Some(key) = key {
            self.remember(key, Remembered { verdict: Ok(verified.clone()), not_before, not_after });
        }
        Ok(verified)
    }

    fn remembered(&self, key: &[u8; 32]) -> Option<Arc<Remembered>> {
        self.verified.read().unwrap_or_else(|p| p.into_inner()).get(key).cloned()
    }

    fn remember(&self, key: [u8; 32], what: Remembered) {
        let mut memory = self.verified.write().unwrap_or_else(|p| p.into_inner());
        if memory.len() >= VERIFIED_CAPACITY {
            memory.clear();
        }
        memory.insert(key, Arc::new(what));
    }

    /// Verifies `chain` (leaf first, not empty) at `now` and reads its user.
    pub fn verify(&self, chain: &[CertificateDer<'_>], now: OffsetDateTime) -> Result<UserInfo, CertificateRejection> {
        let verified = self.verify_chain(chain, now)?;
        if verified.common_name.is_empty() {
            return Err(CertificateRejection::NoCommonName { certificate: verified.name });
        }
        // Room for the `system:authenticated` the chain adds.
        let mut groups = Vec::with_capacity(verified.organizations.len() + 1);
        groups.extend(verified.organizations);
        let mut extra = crate::user::Extra::with_capacity(1, 11 + 64);
        extra.push_concat(EXTRA_CREDENTIAL_ID, &["X509SHA256=", &hex::encode(&verified.sha256)]);
        Ok(UserInfo { name: verified.common_name, uid: String::new(), groups, extra })
    }
}

/// A certificate chain that verified against the CA: its leaf's name and subject.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifiedCertificate {
    /// The leaf as operators recognise it.
    pub name: CertificateName,
    /// The subject's first CN (empty when it has none).
    pub common_name: String,
    /// The subject's O values, in order.
    pub organizations: Vec<String>,
    /// The SHA-256 of the leaf's DER.
    pub sha256: Vec<u8>,
}

impl CertificateName {
    /// The name of a parsed certificate.
    pub fn of(cert: &x509_parser::certificate::X509Certificate<'_>) -> Self {
        use x509_parser::extensions::ParsedExtension;
        let mut skid: &[u8] = &[];
        let mut akid: &[u8] = &[];
        for ext in cert.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(k) => skid = k.0,
                ParsedExtension::AuthorityKeyIdentifier(a) => {
                    if let Some(k) = &a.key_identifier {
                        akid = k.0;
                    }
                }
                _ => {}
            }
        }
        CertificateName {
            subject: cert.subject().to_string(),
            serial: cert.raw_serial_as_string(),
            issuer: cert.issuer().to_string(),
            identifier: format!("SN={}, SKID={}, AKID={}", cert.serial, colon_hex(skid), colon_hex(akid)),
        }
    }
}

/// Bytes as upper-case hex pairs separated by colons (`AB:CD:EF`), as kube-apiserver prints key
/// identifiers.
fn colon_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02X}")).collect::<Vec<_>>().join(":")
}

fn unix(t: UnixTime) -> i64 {
    i64::try_from(t.as_secs()).unwrap_or(i64::MAX)
}

/// rustls' verdict as a [`CertificateRejection`], with the compared values (the certificate's
/// own validity when rustls gives none).
fn judge(
    e: rustls::Error,
    certificate: CertificateName,
    authorities: &Arc<Authorities>,
    now: i64,
    not_before: i64,
    not_after: i64,
) -> CertificateRejection {
    use CertificateError as C;
    let rustls::Error::InvalidCertificate(c) = e else {
        return CertificateRejection::Invalid { certificate, problem: e.to_string() };
    };
    match c {
        C::ExpiredContext { time, not_after } => {
            CertificateRejection::Expired { certificate, not_after: unix(not_after), now: unix(time) }
        }
        C::Expired => CertificateRejection::Expired { certificate, not_after, now },
        C::NotValidYetContext { time, not_before } => {
            CertificateRejection::NotYetValid { certificate, not_before: unix(not_before), now: unix(time) }
        }
        C::NotValidYet => CertificateRejection::NotYetValid { certificate, not_before, now },
        C::InvalidPurposeContext { required, presented } => CertificateRejection::WrongUsage {
            certificate,
            required: required.to_string(),
            presented: presented.iter().map(ToString::to_string).collect(),
        },
        C::InvalidPurpose => CertificateRejection::WrongUsage {
            certificate,
            required: "client authentication".into(),
            presented: Vec::new(),
        },
        C::UnknownIssuer | C::BadSignature | C::UnhandledCriticalExtension => CertificateRejection::UnknownAuthority {
            certificate,
            authorities: authorities.clone(),
            cause: format!("{c:?}"),
        },
        #[allow(deprecated)]
        C::UnsupportedSignatureAlgorithm
        | C::UnsupportedSignatureAlgorithmContext { .. }
        | C::UnsupportedSignatureAlgorithmForPublicKeyContext { .. } => CertificateRejection::UnknownAuthority {
            certificate,
            authorities: authorities.clone(),
            cause: "UnsupportedSignatureAlgorithm".into(),
        },
        other => CertificateRejection::Invalid { certificate, problem: other.to_string() },
    }
}

impl RequestAuthenticator for X509Authenticator {
    fn name(&self) -> &'static str {
        NAME
    }

    /// `Ok(None)` without a client certificate.
    fn authenticate(&self, request: &Credentials<'_>, now: OffsetDateTime) -> Result<Option<Authenticated>, Rejection> {
        let Some(chain) = request.chain() else { return Ok(None) };
        match self.verify(chain, now) {
            Ok(user) => Ok(Some(Authenticated::new(NAME, user))),
            Err(r) => Err(Rejection::Certificate(r)),
        }
    }
}

#[cfg(test)]
pub(crate) mod tests;
