//! Reading an `AuthorizationConfiguration` file as kube-apiserver 1.32's `load.LoadFromData`:
//! YAML or JSON, the kind in one of its versions, decoded **strictly** (a field the kind does
//! not have is `strict decoding error: unknown field "authorizers[0].foo"`).

use serde_json::Value;

use super::{AuthorizationConfiguration, GROUP, KIND, VERSIONS};

/// The fields each object of the kind has (`None`: a leaf or a list of strings).
fn fields(object: &str) -> &'static [(&'static str, Option<&'static str>)] {
    match object {
        "root" => &[("apiVersion", None), ("kind", None), ("authorizers", Some("authorizer"))],
        "authorizer" => &[("type", None), ("name", None), ("webhook", Some("webhook"))],
        "webhook" => &[
            ("authorizedTTL", None),
            ("unauthorizedTTL", None),
            ("timeout", None),
            ("subjectAccessReviewVersion", None),
            ("matchConditionSubjectAccessReviewVersion", None),
            ("failurePolicy", None),
            ("connectionInfo", Some("connectionInfo")),
            ("matchConditions", Some("matchCondition")),
        ],
        "connectionInfo" => &[("type", None), ("kubeConfigFile", None)],
        "matchCondition" => &[("expression", None)],
        _ => &[],
    }
}

fn unknown_fields(value: &Value, object: &str, path: &str, out: &mut Vec<String>) {
    match value {
        Value::Array(items) => {
            for (i, item) in items.iter().enumerate() {
                unknown_fields(item, object, &format!("{path}[{i}]"), out);
            }
        }
        Value::Object(map) => {
            let known = fields(object);
            for (key, v) in map {
                let here = if path.is_empty() { key.clone() } else { format!("{path}.{key}") };
                match known.iter().find(|(k, _)| k == key) {
                    None => out.push(format!("unknown field {here:?}")),
                    Some((_, Some(child))) => unknown_fields(v, child, &here, out),
                    Some((_, None)) => {}
                }
            }
        }
        _ => {}
    }
}

/// Reads `data` as kube-apiserver does; the error is its text after `failed to load
/// AuthorizationConfiguration from file: `.
pub fn decode(data: &[u8]) -> Result<AuthorizationConfiguration, String> {
    let trimmed = data.trim_ascii_start();
    if trimmed.is_empty() {
        return Err("Object 'Kind' is missing in ''".into());
    }
    let value: Value = if trimmed.first() == Some(&b'{') {
        serde_json::from_slice(data).map_err(|e| format!("couldn't get version/kind; json parse error: {e}"))?
    } else {
        serde_norway::from_slice(data).map_err(|e| format!("error converting YAML to JSON: yaml: {e}"))?
    };
    let Value::Object(root) = &value else {
        return Err("couldn't get version/kind; json parse error: the document is not an object".into());
    };
    let text = |k: &str| root.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let (api_version, kind) = (text("apiVersion"), text("kind"));
    if kind.is_empty() {
        return Err(format!("Object 'Kind' is missing in '{}'", String::from_utf8_lossy(data).trim()));
    }
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version.as_str()));
    if group != GROUP || !VERSIONS.contains(&version) || kind != KIND {
        return Err(format!(
            "no kind {kind:?} is registered for version {api_version:?} in scheme \"pkg/runtime/scheme.go:100\""
        ));
    }
    let mut unknown = Vec::new();
    unknown_fields(&value, "root", "", &mut unknown);
    let config: AuthorizationConfiguration = serde_json::from_value(value).map_err(|e| e.to_string())?;
    if !unknown.is_empty() {
        return Err(format!("strict decoding error: {}", unknown.join(", ")));
    }
    Ok(config)
}
