//! Why an issuer's discovery document or key set could not be had, in go-oidc's words (what
//! kube-apiserver logs and answers), each variant carrying what was read and compared.

use kauth::authn::jwt::KeysUnavailable;

/// Which of an issuer's two documents a fetch was for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Document {
    /// `{issuer}/.well-known/openid-configuration`, or the configured `discoveryURL`.
    Discovery,
    /// The discovery document's `jwks_uri`.
    Jwks,
}

impl Document {
    /// The metric label: `discovery` or `jwks`.
    pub fn label(self) -> &'static str {
        match self {
            Document::Discovery => "discovery",
            Document::Jwks => "jwks",
        }
    }
}

/// A failed fetch of one document.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// No HTTP answer: DNS, connection, TLS (an unknown CA included), timeout.
    #[error("Get {url:?}: {problem}")]
    Unreachable {
        /// The document.
        document: Document,
        /// Its URL.
        url: String,
        /// What the HTTP client said.
        problem: String,
    },
    /// An answer other than 200 (go-oidc's texts: the status line, then the body).
    #[error("{}", status_text(*.document, *.status, .body))]
    Status {
        /// The document.
        document: Document,
        /// Its URL.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The start of the body.
        body: String,
    },
    /// The discovery document is not JSON with a string `issuer` and `jwks_uri`.
    #[error("oidc: failed to decode provider discovery object: {problem}")]
    BadDiscovery {
        /// Its URL.
        url: String,
        /// What is wrong.
        problem: String,
    },
    /// The discovery document names another issuer than the configured `issuer.url` (compared
    /// exactly, as go-oidc does, also when the document came from `discoveryURL`).
    #[error("oidc: issuer did not match the issuer returned by provider, expected {expected:?} got {got:?}")]
    IssuerMismatch {
        /// The discovery document's URL.
        url: String,
        /// `issuer.url`.
        expected: String,
        /// The document's `issuer`.
        got: String,
    },
    /// The discovery document's `jwks_uri` is empty or not `https://` (kauth reads verification
    /// keys over HTTPS only; go-oidc would follow any scheme).
    #[error("oidc: discovery document has no usable jwks_uri; kauth: jwks_uri {jwks_uri:?} is not an https:// URL")]
    BadJwksUri {
        /// The discovery document's URL.
        url: String,
        /// What it said.
        jwks_uri: String,
    },
    /// The JWKS is not a key set kauth can verify with.
    #[error("oidc: failed to decode keys: {problem}")]
    BadKeys {
        /// The JWKS URL.
        url: String,
        /// What is wrong ([`kauth::token::jwks::parse_jwks`]'s reason).
        problem: String,
    },
}

fn status_text(document: Document, status: u16, body: &str) -> String {
    let line = match http::StatusCode::from_u16(status) {
        Ok(s) => format!("{} {}", s.as_u16(), s.canonical_reason().unwrap_or("")),
        Err(_) => status.to_string(),
    };
    match document {
        Document::Discovery => format!("{}: {body}", line.trim_end()),
        Document::Jwks => format!("oidc: get keys failed: {} {body}", line.trim_end()),
    }
}

impl FetchError {
    /// The URL that could not be read.
    pub fn url(&self) -> &str {
        match self {
            FetchError::Unreachable { url, .. }
            | FetchError::Status { url, .. }
            | FetchError::BadDiscovery { url, .. }
            | FetchError::IssuerMismatch { url, .. }
            | FetchError::BadJwksUri { url, .. }
            | FetchError::BadKeys { url, .. } => url,
        }
    }

    /// The document the fetch was for.
    pub fn document(&self) -> Document {
        match self {
            FetchError::Unreachable { document, .. } | FetchError::Status { document, .. } => *document,
            FetchError::BadDiscovery { .. } | FetchError::IssuerMismatch { .. } | FetchError::BadJwksUri { .. } => {
                Document::Discovery
            }
            FetchError::BadKeys { .. } => Document::Jwks,
        }
    }

    /// A short code for metrics and tests.
    pub fn code(&self) -> &'static str {
        match self {
            FetchError::Unreachable { .. } => "unreachable",
            FetchError::Status { .. } => "status",
            FetchError::BadDiscovery { .. } => "bad_discovery",
            FetchError::IssuerMismatch { .. } => "issuer_mismatch",
            FetchError::BadJwksUri { .. } => "bad_jwks_uri",
            FetchError::BadKeys { .. } => "bad_keys",
        }
    }

    /// The library's form: the URL and the failure.
    pub fn unavailable(&self) -> KeysUnavailable {
        KeysUnavailable { url: self.url().to_owned(), error: self.to_string() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_are_go_oidcs() {
        let e = FetchError::Status {
            document: Document::Jwks,
            url: "https://i/k".into(),
            status: 503,
            body: "down".into(),
        };
        assert_eq!(e.to_string(), "oidc: get keys failed: 503 Service Unavailable down");
        let e = FetchError::Status {
            document: Document::Discovery,
            url: "https://i/.well-known/openid-configuration".into(),
            status: 404,
            body: "nope".into(),
        };
        assert_eq!(e.to_string(), "404 Not Found: nope");
        let e = FetchError::IssuerMismatch { url: "u".into(), expected: "https://a".into(), got: "https://b".into() };
        assert_eq!(
            e.to_string(),
            r#"oidc: issuer did not match the issuer returned by provider, expected "https://a" got "https://b""#
        );
        let u = e.unavailable();
        assert_eq!((u.url.as_str(), e.document(), e.code()), ("u", Document::Discovery, "issuer_mismatch"));
    }
}
