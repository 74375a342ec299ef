//! API errors as Kubernetes `Status` objects: the same code, reason and message text as
//! kube-apiserver (`k8s.io/apimachinery/pkg/api/errors`).

use serde_json::{json, Value};

/// A failed request, rendered as a `Status`.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    /// HTTP status code.
    pub code: u16,
    /// `reason` (`NotFound`, `Forbidden`, ...).
    pub reason: &'static str,
    /// `message`.
    pub message: String,
    /// `details`, if any.
    pub details: Option<Value>,
}

/// A field error for 422 Invalid.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, ...
    pub reason: &'static str,
    /// The path (`metadata.name`).
    pub field: String,
    /// The message without the field (`Invalid value: "X": ...`).
    pub message: String,
}

fn group_resource(group: &str, resource: &str) -> String {
    if group.is_empty() {
        resource.to_owned()
    } else {
        format!("{resource}.{group}")
    }
}

impl ApiError {
    fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError { code, reason, message: message.into(), details: None }
    }

    /// 401: the plain answer every unauthenticated client gets.
    pub fn unauthorized() -> Self {
        ApiError::new(401, "Unauthorized", "Unauthorized")
    }

    /// 403 from authorization: `<resource> "<name>" is forbidden: <message>[: <reason>]`.
    pub fn forbidden(group: &str, resource: &str, name: &str, message: &str) -> Self {
        let gr = group_resource(group, resource);
        let text = if gr.is_empty() {
            format!("forbidden: {message}")
        } else if name.is_empty() {
            format!("{gr} is forbidden: {message}")
        } else {
            format!("{gr} {name:?} is forbidden: {message}")
        };
        ApiError {
            details: Some(json!({"name": name, "group": group, "kind": resource})),
            ..ApiError::new(403, "Forbidden", text)
        }
        .compact()
    }

    /// 404 for an object.
    pub fn not_found(group: &str, resource: &str, name: &str) -> Self {
        ApiError {
            details: Some(json!({"name": name, "group": group, "kind": resource})),
            ..ApiError::new(404, "NotFound", format!("{} {name:?} not found", group_resource(group, resource)))
        }
        .compact()
    }

    /// 404 for a path the server does not serve.
    pub fn no_route() -> Self {
        ApiError {
            details: Some(json!({})),
            ..ApiError::new(404, "NotFound", "the server could not find the requested resource")
        }
    }

    /// 409 AlreadyExists.
    pub fn already_exists(group: &str, resource: &str, name: &str) -> Self {
        ApiError {
            details: Some(json!({"name": name, "group": group, "kind": resource})),
            ..ApiError::new(
                409,
                "AlreadyExists",
                format!("{} {name:?} already exists", group_resource(group, resource)),
            )
        }
        .compact()
    }

    /// 409 Conflict on a stale resourceVersion.
    pub fn conflict(group: &str, resource: &str, name: &str) -> Self {
        ApiError {
            details: Some(json!({"name": name, "group": group, "kind": resource})),
            ..ApiError::new(
                409,
                "Conflict",
                format!(
                    "Operation cannot be fulfilled on {} {name:?}: the object has been modified; please apply your changes to the latest version and try again",
                    group_resource(group, resource)
                ),
            )
        }
        .compact()
    }

    /// 422 Invalid: `<Kind> "<name>" is invalid: <field>: <message>` (several causes in brackets).
    pub fn invalid(group: &str, kind: &str, name: &str, causes: Vec<Cause>) -> Self {
        let list: Vec<String> = causes.iter().map(|c| format!("{}: {}", c.field, c.message)).collect();
        let joined = if list.len() == 1 { list[0].clone() } else { format!("[{}]", list.join(", ")) };
        let gk = if group.is_empty() { kind.to_owned() } else { format!("{kind}.{group}") };
        ApiError {
            details: Some(json!({
                "name": name, "group": group, "kind": kind,
                "causes": causes.iter().map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field})).collect::<Vec<_>>(),
            })),
            ..ApiError::new(422, "Invalid", format!("{gk} {name:?} is invalid: {joined}"))
        }
        .compact()
    }

    /// 400 BadRequest.
    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    /// 405 MethodNotAllowed.
    pub fn method_not_allowed() -> Self {
        ApiError::new(405, "MethodNotAllowed", "the server does not allow this method on the requested resource")
    }

    /// 406 from a route kube-apiserver serves through go-restful (`/openid/v1/jwks`): its text,
    /// and an empty `details`.
    pub fn not_acceptable_route(available: &str) -> Self {
        ApiError {
            details: Some(json!({})),
            ..ApiError::new(
                406,
                "NotAcceptable",
                format!("406: Not Acceptable\n\nAvailable representations: {available}"),
            )
        }
    }

    /// 409 Conflict with a message of its own (not about one object).
    pub fn conflict_message(message: String) -> Self {
        ApiError::new(409, "Conflict", message)
    }

    /// 410 Expired: a watch asked for a resourceVersion older than the server still holds.
    pub fn expired(message: impl Into<String>) -> Self {
        ApiError::new(410, "Expired", message)
    }

    /// 413 RequestEntityTooLarge.
    pub fn too_large(limit: usize) -> Self {
        ApiError::new(413, "RequestEntityTooLarge", format!("Request entity too large: limit is {limit}"))
    }

    /// 415 UnsupportedMediaType.
    pub fn unsupported_media_type(content_type: &str) -> Self {
        let _ = content_type;
        ApiError::new(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json, application/yaml, application/vnd.kubernetes.protobuf",
        )
    }

    /// 415 for a PATCH with a Content-Type that is not a patch kauth applies.
    pub fn new_unsupported_patch(content_type: &str) -> Self {
        let _ = content_type;
        ApiError::new(
            415,
            "UnsupportedMediaType",
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/strategic-merge-patch+json",
        )
    }

    /// 500 InternalError.
    pub fn internal(message: impl std::fmt::Display) -> Self {
        ApiError::new(500, "InternalError", format!("Internal error occurred: {message}"))
    }

    /// 500 with no reason: what kube-apiserver answers for an error no status code was given
    /// to (its watch cache's unparsable resourceVersion).
    pub fn bare(message: impl Into<String>) -> Self {
        ApiError::new(500, "", message)
    }

    /// 504 Timeout: a list asked for a resourceVersion newer than this server has seen.
    pub fn too_large_resource_version(requested: u64, current: u64) -> Self {
        ApiError {
            details: Some(json!({
                "causes": [{"reason": "ResourceVersionTooLarge", "message": "Too large resource version"}],
                "retryAfterSeconds": 1,
            })),
            ..ApiError::new(
                504,
                "Timeout",
                format!("Timeout: Too large resource version: {requested}, current: {current}"),
            )
        }
    }

    /// 503 ServiceUnavailable.
    pub fn unavailable(message: impl Into<String>) -> Self {
        ApiError::new(503, "ServiceUnavailable", message)
    }

    // Kubernetes omits empty detail fields (`omitempty`).
    fn compact(mut self) -> Self {
        if let Some(Value::Object(map)) = &mut self.details {
            map.retain(|_, v| v.as_str() != Some(""));
        }
        self
    }

    /// The `Status` object.
    pub fn to_status(&self) -> Value {
        let mut v = json!({
            "kind": "Status",
            "apiVersion": "v1",
            "metadata": {},
            "status": "Failure",
            "message": self.message,
        });
        if !self.reason.is_empty() {
            v["reason"] = json!(self.reason);
        }
        if let Some(d) = &self.details {
            v["details"] = d.clone();
        }
        v["code"] = json!(self.code);
        v
    }
}

/// The `Status` a successful delete of a collection-less object returns (namespaces return the object).
pub fn success_status(group: &str, kind: &str, name: &str, uid: &str) -> Value {
    json!({
        "kind": "Status",
        "apiVersion": "v1",
        "metadata": {},
        "status": "Success",
        "details": {"name": name, "group": group, "kind": kind, "uid": uid},
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn texts_match_kube_apiserver() {
        assert_eq!(
            ApiError::unauthorized().to_status().to_string(),
            r#"{"apiVersion":"v1","code":401,"kind":"Status","message":"Unauthorized","metadata":{},"reason":"Unauthorized","status":"Failure"}"#
        );
        let f = ApiError::forbidden(
            "",
            "secrets",
            "",
            r#"User "a" cannot list resource "secrets" in API group "" in the namespace "x""#,
        );
        assert_eq!(
            f.message,
            r#"secrets is forbidden: User "a" cannot list resource "secrets" in API group "" in the namespace "x""#
        );
        assert_eq!(f.details, Some(json!({"kind": "secrets"})));
        let f = ApiError::forbidden("rbac.authorization.k8s.io", "roles", "r", "m");
        assert_eq!(f.message, r#"roles.rbac.authorization.k8s.io "r" is forbidden: m"#);
        assert_eq!(ApiError::not_found("", "serviceaccounts", "x").message, r#"serviceaccounts "x" not found"#);
        let inv = ApiError::invalid(
            "",
            "ServiceAccount",
            "A",
            vec![Cause {
                reason: "FieldValueInvalid",
                field: "metadata.name".into(),
                message: "Invalid value: \"A\": bad".into(),
            }],
        );
        assert_eq!(inv.message, r#"ServiceAccount "A" is invalid: metadata.name: Invalid value: "A": bad"#);
        assert_eq!(inv.code, 422);
    }
}
