//! Why a request was not accepted from a front proxy.

use std::fmt;

use super::certificate::{CertificateName, CertificateRejection};

/// Why a request was not accepted from a front proxy.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RequestHeaderRejection {
    /// The certificate is not a valid front-proxy certificate (not signed by the request-header
    /// CA, expired, ...). Every ordinary client certificate gets this verdict too: it is only
    /// reported when no other authenticator accepted the request.
    Certificate(CertificateRejection),
    /// The certificate verifies but its CN is not among `--requestheader-allowed-names`.
    NameNotAllowed {
        /// The certificate.
        certificate: CertificateName,
        /// Its CN.
        common_name: String,
        /// The allowed names.
        allowed: Vec<String>,
    },
    /// A trusted front proxy sent no user: none of the username headers has a value.
    NoUser {
        /// The proxy's CN.
        proxy: String,
        /// The username headers looked at.
        headers: Vec<String>,
    },
}

impl RequestHeaderRejection {
    /// A stable identifier for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            RequestHeaderRejection::Certificate(_) => "front_proxy_certificate_invalid",
            RequestHeaderRejection::NameNotAllowed { .. } => "front_proxy_name_not_allowed",
            RequestHeaderRejection::NoUser { .. } => "front_proxy_no_user",
        }
    }
}

impl fmt::Display for RequestHeaderRejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            RequestHeaderRejection::Certificate(c) => write!(f, "not a front-proxy certificate: {c}"),
            RequestHeaderRejection::NameNotAllowed { certificate, common_name, allowed } => write!(
                f,
                "front-proxy certificate {certificate} verifies, but its CN {common_name:?} is not among the allowed names {allowed:?} (--requestheader-allowed-names)"
            ),
            RequestHeaderRejection::NoUser { proxy, headers } => write!(
                f,
                "front proxy {proxy:?} is trusted, but the request has no user: none of the headers {headers:?} has a value (a front-proxy certificate presented as a client certificate names no one: only requests the proxy relays with one of those headers do)"
            ),
        }
    }
}
