//! Request bodies: JSON, YAML or Kubernetes protobuf by `Content-Type`, decoded into a resource's
//! typed form with `fieldValidation` applied.

use serde_json::Value;

use super::request::{Request, MAX_BODY_BYTES};
use super::resources::ResourceType;
use super::status::ApiError;

/// The request body as JSON (JSON or YAML by Content-Type), or a 400/413/415.
pub fn body_json(req: &Request) -> Result<Value, ApiError> {
    if req.body.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    let ct = req
        .headers
        .get(http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .split(';')
        .next()
        .unwrap_or("")
        .trim()
        .to_ascii_lowercase();
    match ct.as_str() {
        "application/json" | "" | "*/*" => serde_json::from_slice(&req.body)
            .map_err(|e| ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))),
        crate::api::protobuf::CONTENT_TYPE => crate::api::protobuf::to_json(&req.body),
        "application/yaml" | "application/x-yaml" | "text/yaml" => serde_norway::from_slice(&req.body)
            .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}"))),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

/// Decodes a body as `rt`, applying `fieldValidation` (default Warn, as kube-apiserver).
/// Returns the object and the warnings to send.
pub fn decode_checked(req: &Request, rt: &ResourceType, body: Value) -> Result<(Value, Vec<String>), ApiError> {
    let (obj, unknown) = rt.decode(body)?;
    let unknown: Vec<String> = unknown.into_iter().map(|p| format!("unknown field {p:?}")).collect();
    match req.param("fieldValidation").unwrap_or("Warn") {
        "Strict" if !unknown.is_empty() => Err(ApiError::bad_request(format!(
            "{} in version {:?} cannot be handled as a {}: strict decoding error: {}",
            rt.kind,
            rt.version,
            rt.kind,
            unknown.join(", ")
        ))),
        "Strict" | "Warn" => Ok((obj, unknown)),
        "Ignore" => Ok((obj, Vec::new())),
        other => Err(ApiError::bad_request(format!(
            "fieldValidation: Invalid value: {other:?}: fieldValidation must be one of \"Ignore\", \"Warn\", or \"Strict\""
        ))),
    }
}
