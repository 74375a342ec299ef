//! Request bodies: JSON, YAML or Kubernetes protobuf by `Content-Type`, decoded into a resource's
//! typed form with `fieldValidation` applied.

use std::borrow::Cow;

use serde_json::Value;

use super::request::{Request, MAX_BODY_BYTES};
use super::resources::ResourceType;
use super::status::ApiError;

/// The request body as JSON (JSON or YAML by Content-Type), or a 400/413/415.
pub fn body_json(req: &Request) -> Result<Value, ApiError> {
    if req.body.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    match content_type(req).as_ref() {
        "application/json" | "" | "*/*" => serde_json::from_slice(&req.body)
            .map_err(|e| ApiError::bad_request(format!("couldn't get version/kind; json parse error: {e}"))),
        crate::api::protobuf::CONTENT_TYPE => crate::api::protobuf::to_json(&req.body),
        "application/yaml" | "application/x-yaml" | "text/yaml" => serde_norway::from_slice(&req.body)
            .map_err(|e| ApiError::bad_request(format!("error converting YAML to JSON: {e}"))),
        other => Err(ApiError::unsupported_media_type(other)),
    }
}

/// kube-apiserver's summary of a body it could not read: up to 30 bytes, as text when it starts
/// like a JSON object, else in hex; `<empty>` for none.
fn summarize(data: &[u8]) -> String {
    const MAX: usize = 30;
    let head = &data[..data.len().min(MAX)];
    let more = if data.len() > MAX { " ..." } else { "" };
    match data.first() {
        None => "<empty>".into(),
        Some(b'{') => format!("{}{more}", String::from_utf8_lossy(head)),
        Some(_) => format!("{}{more}", hex::encode(head)),
    }
}

/// The body of a request to an endpoint that takes a `kind`, as a JSON object. A JSON body that
/// does not parse, or is not an object, gets kube-apiserver's 400: `the object provided is
/// unrecognized (must be of type <kind>): couldn't get version/kind; json parse error: <why>
/// (<the body's start>)`, where a body cut short reads as Go's `unexpected end of JSON input`,
/// another value as Go's unmarshal error, and other syntax errors are serde_json's, which name
/// the line and column. `null` is an empty object, as for Go.
pub fn body_object(req: &Request, kind: &str) -> Result<Value, ApiError> {
    if !is_json(req) {
        return body_json(req);
    }
    if req.body.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    let unrecognized = |why: String| {
        ApiError::bad_request(format!(
            "the object provided is unrecognized (must be of type {kind}): couldn't get version/kind; json parse error: {why} ({})",
            summarize(&req.body)
        ))
    };
    let value: Value = serde_json::from_slice(&req.body)
        .map_err(|e| unrecognized(if e.is_eof() { "unexpected end of JSON input".into() } else { e.to_string() }))?;
    let go_type = match &value {
        Value::Object(_) => return Ok(value),
        Value::Null => return Ok(Value::Object(serde_json::Map::new())),
        Value::Array(_) => "array",
        Value::String(_) => "string",
        Value::Number(_) => "number",
        Value::Bool(_) => "bool",
    };
    Err(unrecognized(format!(
        "json: cannot unmarshal {go_type} into Go value of type struct {{ APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }}"
    )))
}

/// Whether the body is JSON by its `Content-Type` (none, or `*/*`, read as JSON too).
pub fn is_json(req: &Request) -> bool {
    matches!(content_type(req).as_ref(), "application/json" | "" | "*/*")
}

/// The media type of the body, lower-cased (copied only when it has an upper-case letter: this
/// runs on every request with a body). A missing header, or one that is not visible ASCII, reads
/// as JSON.
fn content_type(req: &Request) -> Cow<'_, str> {
    let value = req.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("application/json");
    let media_type = value.split_once(';').map_or(value, |(t, _)| t).trim_ascii();
    if media_type.bytes().any(|b| b.is_ascii_uppercase()) {
        Cow::Owned(media_type.to_ascii_lowercase())
    } else {
        Cow::Borrowed(media_type)
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

#[cfg(test)]
mod tests {
    use super::*;

    fn with_content_type(value: Option<&str>) -> Request {
        let mut headers = http::HeaderMap::new();
        if let Some(v) = value {
            headers.insert(http::header::CONTENT_TYPE, http::HeaderValue::from_str(v).unwrap());
        }
        Request {
            method: http::Method::POST,
            path: "/".into(),
            query: Vec::new(),
            headers,
            body: bytes::Bytes::new(),
            peer: None,
            source_ip: String::new(),
            token_key: None,
        }
    }

    #[test]
    fn the_media_type_is_read_without_regard_to_case_or_parameters() {
        for json in [None, Some("application/json"), Some("Application/JSON; charset=utf-8"), Some(" */* "), Some("")] {
            assert!(is_json(&with_content_type(json)), "{json:?}");
        }
        for other in [Some("application/yaml"), Some("APPLICATION/YAML"), Some("application/vnd.kubernetes.protobuf")] {
            assert!(!is_json(&with_content_type(other)), "{other:?}");
        }
        assert_eq!(content_type(&with_content_type(Some("Application/YAML;x=y"))), "application/yaml");
        assert!(matches!(content_type(&with_content_type(Some("application/yaml"))), Cow::Borrowed(_)));
    }
}
