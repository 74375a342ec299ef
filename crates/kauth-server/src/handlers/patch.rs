//! PATCH bodies: RFC 6902 JSON patch and RFC 7386 merge patch (the json-patch crate), and the
//! strategic merge patch kubectl sends (`apply`, `edit`, `label`, `annotate`).
//!
//! Strategic merge, for the resources kauth serves: maps merge recursively, `null` deletes;
//! lists replace unless Kubernetes gives them a merge key (`ownerReferences` by `uid`,
//! ServiceAccount `secrets` and `imagePullSecrets` by `name`; in a pod spec wherever it sits,
//! containers, init and ephemeral containers, volumes by `name`, a container's `ports` by
//! `containerPort`, `env` by `name`, `volumeMounts` by `mountPath`; a Service's `ports` by
//! `port`; `status.conditions` by `type`), then elements merge by that key;
//! `finalizers` merge as a set. The directives `$patch: replace|delete`, `$retainKeys`,
//! `$deleteFromPrimitiveList/<field>` and `$setElementOrder/<field>` are honoured.

use serde_json::{Map, Value};

use crate::api::status::ApiError;

/// The patch formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/json-patch+json`.
    Json,
    /// `application/merge-patch+json`.
    Merge,
    /// `application/strategic-merge-patch+json`.
    Strategic,
}

impl PatchKind {
    /// From a Content-Type.
    pub fn from_content_type(ct: &str) -> Option<Self> {
        match ct.split(';').next().unwrap_or("").trim() {
            "application/json-patch+json" => Some(PatchKind::Json),
            "application/merge-patch+json" => Some(PatchKind::Merge),
            "application/strategic-merge-patch+json" => Some(PatchKind::Strategic),
            _ => None,
        }
    }
}

/// Applies a patch body to `current`.
pub fn apply(kind: PatchKind, current: &Value, body: &[u8]) -> Result<Value, ApiError> {
    let mut doc = current.clone();
    match kind {
        PatchKind::Json => {
            let p: json_patch::Patch = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("the JSON patch is not valid: {e}")))?;
            json_patch::patch(&mut doc, &p).map_err(|e| ApiError {
                code: 422,
                reason: "Invalid",
                message: format!("the server rejected our request due to an error in our request: {e}"),
                details: None,
            })?;
        }
        PatchKind::Merge => {
            let p: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("the merge patch is not valid JSON: {e}")))?;
            json_patch::merge(&mut doc, &p);
        }
        PatchKind::Strategic => {
            let p: Value = serde_json::from_slice(body)
                .map_err(|e| ApiError::bad_request(format!("the strategic merge patch is not valid JSON: {e}")))?;
            if !p.is_object() {
                return Err(ApiError::bad_request("the strategic merge patch must be a JSON object"));
            }
            doc = strategic_merge(&doc, &p, "");
        }
    }
    Ok(doc)
}

/// Whether `path` is `field` or ends in `.field` (a pod spec sits at `spec`, `spec.template.spec`
/// or `spec.jobTemplate.spec.template.spec` depending on the kind).
fn at(path: &str, field: &str) -> bool {
    path.strip_suffix(field).is_some_and(|rest| rest.is_empty() || rest.ends_with('.'))
}

/// The `patchMergeKey` Kubernetes' types give a list at `path` (lists without one are replaced).
fn merge_key(path: &str) -> Option<&'static str> {
    match path {
        "metadata.ownerReferences" => return Some("uid"),
        "secrets" | "imagePullSecrets" => return Some("name"),
        // A Service's ports.
        "spec.ports" => return Some("port"),
        _ => {}
    }
    let pod_lists: [(&str, &'static str); 11] = [
        ("spec.containers", "name"),
        ("spec.initContainers", "name"),
        ("spec.ephemeralContainers", "name"),
        ("spec.volumes", "name"),
        ("spec.imagePullSecrets", "name"),
        ("spec.hostAliases", "ip"),
        ("containers.ports", "containerPort"),
        ("containers.env", "name"),
        ("containers.volumeMounts", "mountPath"),
        ("containers.volumeDevices", "devicePath"),
        ("status.conditions", "type"),
    ];
    pod_lists
        .iter()
        .find(|(field, _)| at(path, field) || at(path, &format!("init{}", capitalize(field))))
        .map(|(_, k)| *k)
}

/// `containers.env` → `Containers.env`, so `initContainers.env` matches too.
fn capitalize(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_ascii_uppercase().to_string() + c.as_str()).unwrap_or_default()
}

fn set_list(path: &str) -> bool {
    path == "metadata.finalizers"
}

fn strategic_merge(original: &Value, patch: &Value, path: &str) -> Value {
    let (Value::Object(orig), Value::Object(p)) = (original, patch) else {
        return patch.clone();
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            let mut m = p.clone();
            m.remove("$patch");
            return Value::Object(m);
        }
        Some("delete") => return Value::Null,
        _ => {}
    }
    let mut out = orig.clone();
    if let Some(Value::Array(keep)) = p.get("$retainKeys") {
        let keep: Vec<&str> = keep.iter().filter_map(Value::as_str).collect();
        out.retain(|k, _| keep.contains(&k.as_str()));
    }
    for (k, v) in p {
        if k == "$patch" || k == "$retainKeys" || k.starts_with("$setElementOrder/") {
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(Value::Array(list)), Value::Array(remove)) = (out.get_mut(field), v) {
                list.retain(|x| !remove.contains(x));
            }
            continue;
        }
        let child = if path.is_empty() { k.clone() } else { format!("{path}.{k}") };
        if v.is_null() {
            out.remove(k);
            continue;
        }
        let merged = match (out.get(k), v) {
            (Some(o @ Value::Object(_)), Value::Object(_)) => strategic_merge(o, v, &child),
            (Some(Value::Array(o)), Value::Array(pl)) => merge_list(o, pl, &child),
            _ => strip_directives(v),
        };
        if merged.is_null() {
            out.remove(k);
        } else {
            out.insert(k.clone(), merged);
        }
    }
    Value::Object(out)
}

fn merge_list(orig: &[Value], patch: &[Value], path: &str) -> Value {
    if set_list(path) {
        let mut out = orig.to_vec();
        for v in patch {
            if !out.contains(v) {
                out.push(v.clone());
            }
        }
        return Value::Array(out);
    }
    let Some(key) = merge_key(path) else {
        return Value::Array(patch.iter().map(strip_directives).collect());
    };
    let mut out: Vec<Value> = orig.to_vec();
    for item in patch {
        let id = item.get(key).cloned();
        let pos = id.as_ref().and_then(|id| out.iter().position(|o| o.get(key) == Some(id)));
        let directive = item.get("$patch").and_then(Value::as_str);
        match (pos, directive) {
            (Some(i), Some("delete")) => {
                out.remove(i);
            }
            (None, Some("delete")) => {}
            (Some(i), _) => out[i] = strategic_merge(&out[i], item, path),
            (None, _) => out.push(strip_directives(item)),
        }
    }
    Value::Array(out)
}

fn strip_directives(v: &Value) -> Value {
    match v {
        Value::Object(m) => {
            let mut out = Map::new();
            for (k, x) in m {
                if !k.starts_with('$') {
                    out.insert(k.clone(), strip_directives(x));
                }
            }
            Value::Object(out)
        }
        Value::Array(a) => Value::Array(a.iter().map(strip_directives).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn smp(orig: Value, patch: Value) -> Value {
        apply(PatchKind::Strategic, &orig, patch.to_string().as_bytes()).unwrap()
    }

    #[test]
    fn strategic_merge_maps_lists_and_directives() {
        let sa = json!({"metadata": {"name": "a", "labels": {"x": "1", "y": "2"}, "finalizers": ["f1"]},
                        "secrets": [{"name": "s1"}, {"name": "s2"}]});
        let out = smp(
            sa.clone(),
            json!({"metadata": {"labels": {"x": null, "z": "3"}, "finalizers": ["f2"]}, "secrets": [{"name": "s3"}]}),
        );
        assert_eq!(out["metadata"]["labels"], json!({"y": "2", "z": "3"}));
        assert_eq!(out["metadata"]["finalizers"], json!(["f1", "f2"]));
        assert_eq!(out["secrets"], json!([{"name": "s1"}, {"name": "s2"}, {"name": "s3"}]));
        let out = smp(
            sa.clone(),
            json!({"secrets": [{"name": "s1", "$patch": "delete"}], "$setElementOrder/secrets": [{"name": "s2"}]}),
        );
        assert_eq!(out["secrets"], json!([{"name": "s2"}]));
        let out = smp(sa.clone(), json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["f1"]}}));
        assert_eq!(out["metadata"]["finalizers"], json!([]));
        // RBAC rules have no merge key: replaced whole.
        let role = json!({"rules": [{"verbs": ["get"]}, {"verbs": ["list"]}]});
        assert_eq!(smp(role, json!({"rules": [{"verbs": ["watch"]}]}))["rules"], json!([{"verbs": ["watch"]}]));
        let out = smp(
            json!({"metadata": {"labels": {"a": "1"}}}),
            json!({"metadata": {"labels": {"$patch": "replace", "b": "2"}}}),
        );
        assert_eq!(out["metadata"]["labels"], json!({"b": "2"}));
    }

    #[test]
    fn a_pod_template_s_containers_merge_by_name_wherever_the_template_is() {
        let orig = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "web", "image": "nginx:1", "ports": [{"containerPort": 80}]},
            {"name": "side", "image": "busybox"}
        ]}}}});
        let patch = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "web"}, {"name": "side"}],
            "containers": [{"name": "web", "image": "nginx:2", "env": [{"name": "A", "value": "1"}]}]
        }}}});
        let out = smp(orig, patch);
        let containers = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(
            containers[0],
            json!({"name": "web", "image": "nginx:2", "ports": [{"containerPort": 80}], "env": [{"name": "A", "value": "1"}]})
        );
        assert_eq!(containers[1]["name"], "side");
        assert_eq!(merge_key("spec.jobTemplate.spec.template.spec.initContainers"), Some("name"));
        assert_eq!(merge_key("spec.template.spec.initContainers.env"), Some("name"));
        assert_eq!(merge_key("spec.ingress.ports"), None, "NetworkPolicy ports are replaced");
    }

    #[test]
    fn json_and_merge_patches() {
        let o = json!({"metadata": {"labels": {"a": "1"}}});
        let out = apply(PatchKind::Json, &o, br#"[{"op":"add","path":"/metadata/labels/b","value":"2"}]"#).unwrap();
        assert_eq!(out["metadata"]["labels"]["b"], "2");
        assert_eq!(apply(PatchKind::Json, &o, br#"[{"op":"remove","path":"/nope"}]"#).unwrap_err().code, 422);
        assert_eq!(apply(PatchKind::Json, &o, b"{").unwrap_err().code, 400);
        let out = apply(PatchKind::Merge, &o, br#"{"metadata":{"labels":{"a":null}}}"#).unwrap();
        assert_eq!(out["metadata"]["labels"], json!({}));
    }
}
