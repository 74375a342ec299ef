//! One TokenRequest (`POST /api/v1/namespaces/{ns}/serviceaccounts/{name}/token`) through the
//! kubeconfig's client, and the times the schedule needs from its answer.

use k8s_openapi::api::authentication::v1::{BoundObjectReference, TokenRequest, TokenRequestSpec};
use kauth::token::claims::Claims;
use kauth::token::refresh::Issued;

use super::config::TokenSpec;
use crate::api_client::ApiClient;
use crate::secret::Secret;

/// A token and its times.
#[derive(Debug, Clone)]
pub struct Fetched {
    /// The token.
    pub token: Secret,
    /// Its times, the kubelet's way (see [`Issued`]).
    pub issued: Issued,
}

/// Why no token came.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum FetchError {
    /// No answer (connection refused, TLS, timeout).
    #[error("{url}: no answer: {reason}")]
    Unreachable {
        /// Where.
        url: String,
        /// The client's words.
        reason: String,
    },
    /// The server refused.
    #[error("{url}: HTTP {status}: {message}")]
    Refused {
        /// Where.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The Status message.
        message: String,
    },
    /// The answer is not a TokenRequest with a usable token.
    #[error("{url}: {reason}")]
    Malformed {
        /// Where.
        url: String,
        /// What is wrong.
        reason: String,
    },
}

/// Something that gets tokens: the API server, or a test's stand-in. Blocking.
pub trait Fetch: Send + Sync + 'static {
    /// One token for `spec`.
    fn fetch(&self, spec: &TokenSpec) -> Result<Fetched, FetchError>;
}

/// The API server, through the kubeconfig's client.
#[derive(Debug)]
pub struct ApiFetcher {
    client: ApiClient,
}

impl ApiFetcher {
    /// Fetches through `client`.
    pub fn new(client: ApiClient) -> Self {
        ApiFetcher { client }
    }
}

impl Fetch for ApiFetcher {
    fn fetch(&self, spec: &TokenSpec) -> Result<Fetched, FetchError> {
        let path = path(spec);
        let url = format!("{}{path}", self.client.server());
        let answer = self
            .client
            .call(&path, Some(&body(spec)))
            .map_err(|reason| FetchError::Unreachable { url: url.clone(), reason })?;
        parse_answer(&url, answer.status, &answer.body)
    }
}

/// The TokenRequest's path.
pub fn path(spec: &TokenSpec) -> String {
    format!("/api/v1/namespaces/{}/serviceaccounts/{}/token", spec.namespace, spec.service_account)
}

/// The TokenRequest's body.
pub fn body(spec: &TokenSpec) -> String {
    let request = TokenRequest {
        metadata: Default::default(),
        spec: TokenRequestSpec {
            audiences: spec.audiences.clone(),
            expiration_seconds: spec.expiration_seconds,
            bound_object_ref: spec.bound.as_ref().map(|b| BoundObjectReference {
                api_version: Some("v1".into()),
                kind: Some(b.kind.as_str().into()),
                name: Some(b.name.clone()),
                uid: b.uid.clone(),
            }),
        },
        status: None,
    };
    let mut v = serde_json::to_value(&request).unwrap_or_default();
    // k8s-openapi leaves out what is empty; TokenRequest's `spec.audiences` is required.
    v["spec"]["audiences"] = serde_json::json!(spec.audiences);
    v.to_string()
}

/// The answer read: the token and its times.
pub fn parse_answer(url: &str, status: u16, body: &str) -> Result<Fetched, FetchError> {
    let malformed = |reason: String| FetchError::Malformed { url: url.to_owned(), reason };
    if !(200..300).contains(&status) {
        let message = serde_json::from_str::<serde_json::Value>(body)
            .ok()
            .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
            .unwrap_or_else(|| body.chars().take(200).collect());
        return Err(FetchError::Refused { url: url.to_owned(), status, message });
    }
    let tr: TokenRequest =
        serde_json::from_str(body).map_err(|e| malformed(format!("the answer is not a TokenRequest: {e}")))?;
    let status = tr.status.ok_or_else(|| malformed("the TokenRequest has no status".into()))?;
    let token = Secret::new(status.token);
    if token.expose().is_empty() {
        return Err(malformed("the TokenRequest's status.token is empty".into()));
    }
    let jws = kauth::token::jws::parse(token.expose())
        .map_err(|e| malformed(format!("the token is not a JWT: {}", e.code())))?;
    let claims =
        Claims::from_json(&jws.payload).map_err(|e| malformed(format!("the token's claims cannot be read: {e}")))?;
    let exp = status.expiration_timestamp.0.as_second();
    let iat = match tr.spec.expiration_seconds {
        Some(granted) => exp - granted,
        None => claims.iat.map(|d| d.0).ok_or_else(|| malformed("neither spec.expirationSeconds nor iat".into()))?,
    };
    Ok(Fetched { token, issued: Issued { iat, nbf: claims.nbf.map(|d| d.0), exp } })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::agent::config::{BoundKind, BoundObject};

    fn spec() -> TokenSpec {
        TokenSpec {
            name: "t".into(),
            dir: "/run/t".into(),
            file: "token".into(),
            namespace: "ci".into(),
            service_account: "runner".into(),
            audiences: vec![],
            expiration_seconds: Some(3600),
            bound: Some(BoundObject { kind: BoundKind::Secret, name: "s".into(), uid: None }),
            mode: 0o600,
        }
    }

    #[test]
    fn the_request() {
        assert_eq!(path(&spec()), "/api/v1/namespaces/ci/serviceaccounts/runner/token");
        let v: serde_json::Value = serde_json::from_str(&body(&spec())).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": {},
                "spec": {"audiences": [], "expirationSeconds": 3600,
                         "boundObjectRef": {"apiVersion": "v1", "kind": "Secret", "name": "s"}}})
        );
    }

    fn jwt(claims: &str) -> String {
        let b = |s: &str| kauth::token::jws::encode(s.as_bytes());
        format!("{}.{}.{}", b(r#"{"alg":"RS256","kid":"k"}"#), b(claims), b("sig"))
    }

    #[test]
    fn times_come_from_the_token_request_not_the_jwt() {
        // A backdated iat/nbf (2 minutes) and the answer's lifetime of an hour.
        let token = jwt(r#"{"iat":1799999880,"nbf":1799999880,"exp":1800003600}"#);
        let body = serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
            "spec": {"audiences": ["a"], "expirationSeconds": 3600},
            "status": {"token": token, "expirationTimestamp": "2027-01-15T09:00:00Z"}});
        let f = parse_answer("u", 201, &body.to_string()).unwrap();
        assert_eq!(f.issued, Issued { iat: 1_800_000_000, nbf: Some(1_799_999_880), exp: 1_800_003_600 });
        assert_eq!(f.token.expose(), token);
    }

    #[test]
    fn refusals_and_nonsense_are_typed() {
        let e = parse_answer("u", 403, r#"{"kind":"Status","message":"forbidden: no"}"#).unwrap_err();
        assert_eq!(e, FetchError::Refused { url: "u".into(), status: 403, message: "forbidden: no".into() });
        assert!(matches!(parse_answer("u", 201, "{}"), Err(FetchError::Malformed { .. })));
        let body = serde_json::json!({"spec": {}, "status": {"token": "opaque", "expirationTimestamp": "2027-01-15T08:40:00Z"}});
        let e = parse_answer("u", 201, &body.to_string()).unwrap_err();
        assert!(
            matches!(&e, FetchError::Malformed { reason, .. } if reason.starts_with("the token is not a JWT")),
            "{e}"
        );
    }
}
