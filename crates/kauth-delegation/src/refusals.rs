//! What a refused client is told, and what the server is told about it. The client gets the
//! plain words of the server it stands in for (kube-apiserver's Status by default); the
//! [`Outcome`] in the response's extensions carries kauth's precise reason for the log and
//! the metrics.

use bytes::Bytes;
use http_body_util::Full;
use kauth::authn::Rejection;
use kauth::authz::{Attributes, Decision, Target};

/// How the layer's judgement of a request went; put in the response's extensions.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// The path is always allowed (`/healthz`, ...): not authenticated, not authorized.
    AlwaysAllowed,
    /// Authenticated and allowed.
    Allowed,
    /// Not authenticated: why, precisely.
    Unauthenticated(Rejection),
    /// Authenticated, not allowed: the question, the decision, and the decider's explanation
    /// when it has one (local RBAC's bindings and nearest rules).
    Forbidden(Box<Attributes>, Decision, Option<String>),
    /// The request reads as no question to authorize.
    Unjudgeable,
    /// No decision could be had: what went wrong.
    Failed(String),
    /// The cluster could not be asked and no cached answer young enough stood in.
    Unavailable(String),
}

impl Outcome {
    /// A label for metrics: `allowed`, `always_allowed`, `forbidden`, `bad_request`,
    /// `error`, or the rejection's code.
    pub fn code(&self) -> &'static str {
        match self {
            Outcome::AlwaysAllowed => "always_allowed",
            Outcome::Allowed => "allowed",
            Outcome::Unauthenticated(r) => r.code(),
            Outcome::Forbidden(..) => "forbidden",
            Outcome::Unjudgeable => "bad_request",
            Outcome::Failed(_) => "error",
            Outcome::Unavailable(_) => "cluster_unavailable",
        }
    }
}

/// The answers to refused requests.
pub trait Refusals: Send + Sync {
    /// Not authenticated.
    fn unauthorized(&self) -> http::Response<Full<Bytes>>;
    /// Not allowed to do `attributes`.
    fn forbidden(&self, attributes: &Attributes, decision: &Decision) -> http::Response<Full<Bytes>>;
    /// The request reads as no question.
    fn bad_request(&self) -> http::Response<Full<Bytes>>;
    /// No decision could be had.
    fn internal_error(&self, attributes: Option<&Attributes>) -> http::Response<Full<Bytes>>;
    /// The cluster could not be asked, and no cached answer stood in.
    fn unavailable(&self) -> http::Response<Full<Bytes>> {
        status(
            503,
            "ServiceUnavailable",
            "the cluster that authenticates and authorizes requests cannot be reached; try again later",
        )
    }
}

/// kube-apiserver's answers: a `Status` object.
#[derive(Debug, Clone, Copy, Default)]
pub struct KubernetesStatus;

/// A `Status` response with `code`, `reason` and `message`.
pub fn status(code: u16, reason: &str, message: &str) -> http::Response<Full<Bytes>> {
    status_with_details(code, reason, message, None)
}

/// A `Status` response as [`status`], with `details` when given.
pub fn status_with_details(
    code: u16,
    reason: &str,
    message: &str,
    details: Option<serde_json::Value>,
) -> http::Response<Full<Bytes>> {
    let mut body = serde_json::json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    });
    if let Some(details) = details {
        body["details"] = details;
    }
    let mut resp = http::Response::new(Full::new(Bytes::from(body.to_string())));
    *resp.status_mut() = http::StatusCode::from_u16(code).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR);
    resp.headers_mut().insert(http::header::CONTENT_TYPE, http::HeaderValue::from_static("application/json"));
    resp
}

impl Refusals for KubernetesStatus {
    fn unauthorized(&self) -> http::Response<Full<Bytes>> {
        status(401, "Unauthorized", "Unauthorized")
    }

    /// k8s.io/apiserver's `responsewriters.Forbidden`: `<resource>[.<group>] ["<name>"] is
    /// forbidden: <message>[: <reason>]` (or `forbidden: ...` for a path), with the group,
    /// resource and name in `details`.
    fn forbidden(&self, attributes: &Attributes, decision: &Decision) -> http::Response<Full<Bytes>> {
        let message = attributes.forbidden_error(&decision.reason().to_string());
        let (group, resource, name) = match &attributes.target {
            Target::Resource { api_group, resource, name, .. } => {
                (api_group.as_str(), resource.as_str(), name.as_str())
            }
            Target::NonResource { .. } => ("", "", ""),
        };
        let qualified = if group.is_empty() { resource.to_owned() } else { format!("{resource}.{group}") };
        let text = if qualified.is_empty() {
            format!("forbidden: {message}")
        } else if name.is_empty() {
            format!("{qualified} is forbidden: {message}")
        } else {
            format!("{qualified} {name:?} is forbidden: {message}")
        };
        // Go's StatusDetails leaves empty fields out.
        let details: serde_json::Map<String, serde_json::Value> =
            [("name", name), ("group", group), ("kind", resource)]
                .into_iter()
                .filter(|(_, v)| !v.is_empty())
                .map(|(k, v)| (k.to_owned(), v.into()))
                .collect();
        let details = serde_json::Value::Object(details);
        status_with_details(403, "Forbidden", &text, Some(details))
    }

    fn bad_request(&self) -> http::Response<Full<Bytes>> {
        status(400, "BadRequest", "the request cannot be authorized")
    }

    fn internal_error(&self, _attributes: Option<&Attributes>) -> http::Response<Full<Bytes>> {
        status(500, "InternalError", "Internal error occurred: the authorization could not be decided")
    }
}
