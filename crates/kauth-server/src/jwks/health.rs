//! The JWT issuers in use and their lines in `/readyz?verbose`.
//!
//! kube-apiserver 1.32 has no readiness check for its JWT authenticators: their health only
//! gates a reloaded configuration. kauth shows each issuer as `jwt-authenticator:<issuer.url>`
//! (kauth's name) but does not count it against readiness, as kube-apiserver serves while an
//! issuer is unreachable: an identity provider that runs on the cluster itself must be able to
//! come up after the API server, and one provider down must not take away client certificates
//! and service-account tokens. The lines are warnings (`[!]`), like `clock-skew`.

use std::sync::{Arc, RwLock};

use time::format_description::well_known::Rfc3339;

use super::remote::{IssuerHealth, RemoteKeys};

/// The issuers of the configuration in use (replaced whole when the configuration is reloaded).
#[derive(Debug, Default)]
pub struct JwtIssuers {
    issuers: RwLock<Vec<Arc<RemoteKeys>>>,
}

impl JwtIssuers {
    /// Puts `issuers` in use; the ones they replace stop their start-up retries.
    pub fn replace(&self, issuers: Vec<Arc<RemoteKeys>>) {
        let old = std::mem::replace(&mut *self.issuers.write().unwrap_or_else(|p| p.into_inner()), issuers);
        for o in old {
            o.stop();
        }
    }

    /// Each issuer's health, in configuration order.
    pub fn health(&self) -> Vec<IssuerHealth> {
        self.issuers.read().unwrap_or_else(|p| p.into_inner()).iter().map(|i| i.health()).collect()
    }

    /// The `/readyz?verbose` lines, one per issuer.
    pub fn readiness_lines(&self) -> Vec<String> {
        self.health().iter().map(readiness_line).collect()
    }
}

fn rfc3339(t: time::OffsetDateTime) -> String {
    t.format(&Rfc3339).unwrap_or_else(|_| t.unix_timestamp().to_string())
}

/// `[+]jwt-authenticator:<issuer> ok`, or a warning saying what is wrong.
pub fn readiness_line(h: &IssuerHealth) -> String {
    let name = format!("jwt-authenticator:{}", h.issuer);
    const WARN: &str = "warning (not counted against readiness)";
    match (&h.last_success, &h.last_error) {
        (Some(_), None) => format!("[+]{name} ok"),
        (Some(at), Some(e)) => format!(
            "[!]{name} {WARN}: the last fetch failed, the {} key(s) fetched at {} stay in use: {e}",
            h.keys,
            rfc3339(*at)
        ),
        (None, e) => format!(
            "[!]{name} {WARN}: oidc: authenticator for issuer {:?} is not initialized; kauth: {}",
            h.issuer,
            e.as_ref()
                .map_or_else(|| "the first fetch has not finished".to_owned(), |e| format!("{} ({})", e, e.url()))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::jwks::error::{Document, FetchError};

    #[test]
    fn lines_say_what_is_wrong() {
        let mut h = IssuerHealth { issuer: "https://a".into(), last_success: None, last_error: None, keys: 0 };
        assert!(readiness_line(&h).contains(r#"oidc: authenticator for issuer "https://a" is not initialized"#));
        h.last_error = Some(FetchError::Unreachable {
            document: Document::Discovery,
            url: "https://a/.well-known/openid-configuration".into(),
            problem: "connection refused".into(),
        });
        assert!(readiness_line(&h).starts_with("[!]jwt-authenticator:https://a warning"));
        assert!(readiness_line(&h).contains("connection refused"));
        h.last_success = Some(time::OffsetDateTime::UNIX_EPOCH);
        h.keys = 2;
        assert!(readiness_line(&h).contains("the 2 key(s) fetched at 1970-01-01T00:00:00Z stay in use"));
        h.last_error = None;
        assert_eq!(readiness_line(&h), "[+]jwt-authenticator:https://a ok");
    }
}
