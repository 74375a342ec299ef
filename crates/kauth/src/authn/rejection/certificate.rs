//! Why a client certificate was refused, and how the certificate and its CAs are named.

use std::fmt;

use crate::token::{span, utc};

/// A certificate as operators recognise it: its subject, serial and issuer.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct CertificateName {
    /// The subject (`CN=kubernetes-admin, O=system:masters`; RFC 4514 order as x509-parser
    /// writes it).
    pub subject: String,
    /// The serial, hex.
    pub serial: String,
    /// The issuer.
    pub issuer: String,
    /// kube-apiserver's name for it in its messages: `SN=<decimal serial>, SKID=<hex>, AKID=<hex>`
    /// (hex upper-case, bytes separated by colons).
    pub identifier: String,
}

/// The role a CA plays for the server.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CaRole {
    /// `--client-ca-file`: client certificates name users.
    ClientCa,
    /// `--requestheader-client-ca-file`: client certificates name front proxies, which name
    /// users in headers.
    RequestHeaderCa,
}

impl fmt::Display for CaRole {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            CaRole::ClientCa => "client CA",
            CaRole::RequestHeaderCa => "request-header (front-proxy) CA",
        })
    }
}

/// The CA certificates a verifier trusts, in a role.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorities {
    /// What the CA is for.
    pub role: CaRole,
    /// The subjects of its certificates.
    pub subjects: Vec<String>,
}

impl fmt::Display for Authorities {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the {}", self.role)?;
        if !self.subjects.is_empty() {
            write!(f, " ({})", self.subjects.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "))?;
        }
        Ok(())
    }
}

impl fmt::Display for CertificateName {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?} (serial {}, issuer {:?})", self.subject, self.serial, self.issuer)
    }
}

/// Why a client certificate was refused. Every variant but [`CertificateRejection::Unreadable`]
/// names the certificate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CertificateRejection {
    /// The chain does not lead to the client CA (an unknown issuer, a bad signature, an
    /// unhandled critical extension, an unsupported algorithm).
    UnknownAuthority {
        /// The leaf.
        certificate: CertificateName,
        /// The CA it was judged against (shared by every rejection of the verifier).
        authorities: std::sync::Arc<Authorities>,
        /// rustls' name for the problem (`UnknownIssuer`, `BadSignature`, ...).
        cause: String,
    },
    /// The certificate's notAfter is before now.
    Expired {
        /// The leaf.
        certificate: CertificateName,
        /// Its notAfter, unix seconds.
        not_after: i64,
        /// This server's time, unix seconds.
        now: i64,
    },
    /// The certificate's notBefore is after now.
    NotYetValid {
        /// The leaf.
        certificate: CertificateName,
        /// Its notBefore, unix seconds.
        not_before: i64,
        /// This server's time, unix seconds.
        now: i64,
    },
    /// The extended key usage does not allow TLS client authentication.
    WrongUsage {
        /// The leaf.
        certificate: CertificateName,
        /// The usage required (`client authentication`).
        required: String,
        /// The usages the certificate allows.
        presented: Vec<String>,
    },
    /// The certificate verifies but has no common name: it names no user.
    NoCommonName {
        /// The leaf.
        certificate: CertificateName,
    },
    /// The leaf is not a readable X.509 certificate.
    Unreadable {
        /// What the parser said.
        problem: String,
    },
    /// No client CA is configured: no certificate can be accepted.
    NoClientCa {
        /// The leaf.
        certificate: CertificateName,
    },
    /// Verification failed otherwise (revoked, malformed extension, ...).
    Invalid {
        /// The leaf.
        certificate: CertificateName,
        /// What rustls said.
        problem: String,
    },
}

impl CertificateRejection {
    /// A stable identifier for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            CertificateRejection::UnknownAuthority { .. } => "certificate_unknown_authority",
            CertificateRejection::Expired { .. } => "certificate_expired",
            CertificateRejection::NotYetValid { .. } => "certificate_not_yet_valid",
            CertificateRejection::WrongUsage { .. } => "certificate_wrong_usage",
            CertificateRejection::NoCommonName { .. } => "certificate_no_user",
            CertificateRejection::Unreadable { .. } | CertificateRejection::Invalid { .. } => "certificate_invalid",
            CertificateRejection::NoClientCa { .. } => "certificate_not_accepted",
        }
    }
}

impl fmt::Display for CertificateRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            CertificateRejection::UnknownAuthority { certificate, authorities, cause } => write!(
                f,
                "verifying certificate {certificate} failed: it is signed by {:?}, not by {authorities} ({cause})",
                certificate.issuer
            ),
            CertificateRejection::Expired { certificate, not_after, now } => write!(
                f,
                "verifying certificate {certificate} failed: expired {} ago (notAfter {}, now {})",
                span(now - not_after),
                utc(*not_after),
                utc(*now)
            ),
            CertificateRejection::NotYetValid { certificate, not_before, now } => write!(
                f,
                "verifying certificate {certificate} failed: not valid yet by {} (notBefore {}, now {}): the issuer's clock is ahead, or this server's is behind",
                span(not_before - now),
                utc(*not_before),
                utc(*now)
            ),
            CertificateRejection::WrongUsage { certificate, required, presented } => {
                let allows = if presented.is_empty() { "nothing".to_owned() } else { presented.join(", ") };
                write!(
                    f,
                    "verifying certificate {certificate} failed: its extended key usage does not allow {required} (allows {allows})"
                )
            }
            CertificateRejection::NoCommonName { certificate } => {
                write!(f, "certificate {certificate} has no common name: it names no user")
            }
            CertificateRejection::Unreadable { problem } => write!(f, "unreadable certificate: {problem}"),
            CertificateRejection::NoClientCa { certificate } => {
                write!(f, "certificate {certificate}: no client CA is configured")
            }
            CertificateRejection::Invalid { certificate, problem } => {
                write!(f, "verifying certificate {certificate} failed: {problem}")
            }
        }
    }
}
