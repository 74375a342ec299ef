//! An issuer's two documents, read as go-oidc reads them: the discovery document (only its
//! `issuer` and `jwks_uri` matter here) and the JWK Set.

use kauth::token::jwks::parse_jwks;
use kauth::token::keys::KeySet;
use serde::Deserialize;

use super::client::{Answer, Fetch};
use super::error::{Document, FetchError};

/// The most of a refused answer's body quoted in an error.
const QUOTED_BODY: usize = 256;

/// Where the discovery document is: the configured `discoveryURL`, else go-oidc's
/// `{issuer without a trailing /}/.well-known/openid-configuration`.
pub fn discovery_url(issuer: &str, discovery_url: Option<&str>) -> String {
    match discovery_url.filter(|u| !u.is_empty()) {
        Some(u) => u.to_owned(),
        None => format!("{}/.well-known/openid-configuration", issuer.trim_end_matches('/')),
    }
}

#[derive(Deserialize)]
struct Discovery {
    issuer: String,
    #[serde(default)]
    jwks_uri: String,
}

fn quoted(body: &[u8]) -> String {
    let text = String::from_utf8_lossy(&body[..body.len().min(QUOTED_BODY)]);
    text.trim().to_owned()
}

fn answer(fetch: &dyn Fetch, document: Document, url: &str) -> Result<Vec<u8>, FetchError> {
    let Answer { status, body } =
        fetch.get(url).map_err(|problem| FetchError::Unreachable { document, url: url.to_owned(), problem })?;
    if status != 200 {
        return Err(FetchError::Status { document, url: url.to_owned(), status, body: quoted(&body) });
    }
    Ok(body)
}

/// Reads the discovery document at `url` and returns its `jwks_uri`; its `issuer` must equal
/// `issuer` exactly (go-oidc's check, kept when the document comes from `discoveryURL`).
pub fn fetch_jwks_uri(fetch: &dyn Fetch, issuer: &str, url: &str) -> Result<String, FetchError> {
    let body = answer(fetch, Document::Discovery, url)?;
    let doc: Discovery = serde_json::from_slice(&body)
        .map_err(|e| FetchError::BadDiscovery { url: url.to_owned(), problem: e.to_string() })?;
    if doc.issuer != issuer {
        return Err(FetchError::IssuerMismatch { url: url.to_owned(), expected: issuer.to_owned(), got: doc.issuer });
    }
    if !doc.jwks_uri.starts_with("https://") {
        return Err(FetchError::BadJwksUri { url: url.to_owned(), jwks_uri: doc.jwks_uri });
    }
    Ok(doc.jwks_uri)
}

/// Reads the JWK Set at `url` (keys not for signatures are skipped; an empty set is refused).
pub fn fetch_keys(fetch: &dyn Fetch, url: &str) -> Result<KeySet, FetchError> {
    let body = answer(fetch, Document::Jwks, url)?;
    parse_jwks(url, &body).map_err(|e| FetchError::BadKeys { url: url.to_owned(), problem: e.to_string() })
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    #[derive(Debug, Default)]
    struct Canned(HashMap<String, Result<Answer, String>>);

    impl Fetch for Canned {
        fn get(&self, url: &str) -> Result<Answer, String> {
            self.0.get(url).cloned().unwrap_or(Ok(Answer { status: 404, body: b"404 page not found\n".to_vec() }))
        }
    }

    fn ok(body: &str) -> Result<Answer, String> {
        Ok(Answer { status: 200, body: body.as_bytes().to_vec() })
    }

    #[test]
    fn discovery_url_is_go_oidcs_or_the_configured_one() {
        assert_eq!(discovery_url("https://a/x/", None), "https://a/x/.well-known/openid-configuration");
        assert_eq!(discovery_url("https://a", Some("")), "https://a/.well-known/openid-configuration");
        assert_eq!(discovery_url("https://a", Some("https://in/d")), "https://in/d");
    }

    #[test]
    fn the_issuer_must_match_exactly_also_from_a_discovery_url() {
        let mut c = Canned::default();
        c.0.insert("https://in/d".into(), ok(r#"{"issuer":"https://a/","jwks_uri":"https://in/k"}"#));
        let e = fetch_jwks_uri(&c, "https://a", "https://in/d").unwrap_err();
        assert!(
            matches!(&e, FetchError::IssuerMismatch { expected, got, .. } if expected == "https://a" && got == "https://a/")
        );
        assert_eq!(fetch_jwks_uri(&c, "https://a/", "https://in/d").unwrap(), "https://in/k");
    }

    #[test]
    fn each_bad_answer_has_its_variant() {
        let mut c = Canned::default();
        c.0.insert("https://a/d1".into(), ok("<html>"));
        c.0.insert("https://a/d2".into(), ok(r#"{"issuer":"https://a","jwks_uri":"http://a/k"}"#));
        c.0.insert("https://a/d3".into(), Err("connection refused".into()));
        c.0.insert("https://a/k".into(), ok(r#"{"keys":[]}"#));
        assert!(matches!(fetch_jwks_uri(&c, "https://a", "https://a/d1"), Err(FetchError::BadDiscovery { .. })));
        assert!(matches!(fetch_jwks_uri(&c, "https://a", "https://a/d2"), Err(FetchError::BadJwksUri { .. })));
        assert!(matches!(
            fetch_jwks_uri(&c, "https://a", "https://a/d3"),
            Err(FetchError::Unreachable { document: Document::Discovery, .. })
        ));
        assert!(matches!(
            fetch_jwks_uri(&c, "https://a", "https://a/none"),
            Err(FetchError::Status { status: 404, .. })
        ));
        let e = fetch_keys(&c, "https://a/k").unwrap_err();
        assert!(matches!(&e, FetchError::BadKeys { problem, .. } if problem.contains("holds no signature key")), "{e}");
        assert!(matches!(fetch_keys(&c, "https://a/k2"), Err(FetchError::Status { document: Document::Jwks, .. })));
    }
}
