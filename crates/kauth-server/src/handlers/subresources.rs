//! Subresources of stored objects (`pods/status`, `deployments/scale`, `pods/log`).
//!
//! - **Parts** (`*/status`, `pods/ephemeralcontainers`, `namespaces/finalize`,
//!   `certificatesigningrequests/approval`): `get` returns the whole object; `update` and
//!   `patch` change only that part of the stored object (the status, the ephemeral containers,
//!   the finalizers, the conditions) and keep the rest, as kube-apiserver's status strategies
//!   do. The other half, the main endpoint leaving status alone on update and patch, is in
//!   `crud`. Not done: kube-apiserver's create strategies also reset or initialise the status
//!   of most kinds on create (a Pod's `Pending` phase, a Deployment's empty status); kauth keeps
//!   the status a create sends (a Namespace's phase is set by kauth's namespace controller).
//! - **Scale** (`deployments|replicasets|statefulsets|replicationcontrollers/scale`): an
//!   autoscaling/v1 `Scale` built from the object (`spec.replicas`, `status.replicas`, the
//!   selector as a string); `update` and `patch` set the object's `spec.replicas`. kauth runs no
//!   controller, so `status.replicas` stays what was written.
//! - **Connections and actions** kauth cannot perform: it runs no kubelet, scheduler or
//!   endpoints controller. `pods/log|exec|attach|portforward|proxy` answer 400 `pod <name> does
//!   not have a host assigned` (kube-apiserver's own answer for an unscheduled pod: kauth
//!   schedules nothing) or, when a node is named, 503 ServiceUnavailable; `nodes/proxy` 503;
//!   `services/proxy` kube-apiserver's 503 `no endpoints available for service`; `pods/eviction`
//!   and `pods/binding` 405 MethodNotAllowed. Each text ends with `; kauth: ` and why.

use serde_json::{json, Value};

use super::patch;
use crate::api::body::{body_object, decode_checked};
use crate::api::request::{Request, MAX_BODY_BYTES};
use crate::api::request_info::ResourceRequest;
use crate::api::resources::{self, meta_str, scope_namespace, ResourceType};
use crate::api::response::Response;
use crate::api::status::ApiError;
use crate::registry::{Change, Stored};
use crate::state::State;

/// The JSON pointer of the part a subresource writes, if it is one of those.
fn part(rt: &ResourceType, sub: &str) -> Option<&'static str> {
    match (rt.plural, sub) {
        (_, "status") => Some("/status"),
        ("pods", "ephemeralcontainers") => Some("/spec/ephemeralContainers"),
        ("namespaces", "finalize") => Some("/spec/finalizers"),
        ("certificatesigningrequests", "approval") => Some("/status/conditions"),
        _ => None,
    }
}

/// Serves `info.subresource` of `rt` (already authorized; the table lists it).
pub fn handle(
    state: &State,
    req: &Request,
    info: &ResourceRequest,
    rt: &'static ResourceType,
) -> Result<Response, ApiError> {
    let sub = rt.subresource(&info.subresource).ok_or_else(ApiError::no_route)?;
    if !sub.verbs.contains(&info.verb.as_str()) || info.name.is_empty() {
        return Err(ApiError::method_not_allowed());
    }
    let ns = scope_namespace(rt, info);
    let current =
        || state.registry.get(rt, ns, &info.name).ok_or_else(|| ApiError::not_found(rt.group, rt.plural, &info.name));
    if let Some(pointer) = part(rt, sub.name) {
        return match info.verb.as_str() {
            "get" => Ok(Response::json_bytes(200, current()?.to_json())),
            "update" => {
                let body = body_object(req, rt.kind)?;
                let (obj, warnings) = decode_checked(req, rt, body)?;
                write_part(state, req, rt, &*current()?, &obj, pointer, warnings)
            }
            // A patch is applied to the latest object again when another write won the race,
            // as the main endpoint's (unless the patch itself names a resourceVersion).
            _ => retry_conflicts(|| {
                let cur = current()?;
                let patched = patch::apply(patch_kind(req)?, &cur.value(), &req.body)?;
                let (obj, warnings) = decode_checked(req, rt, patched)?;
                let precondition = meta_str(&obj, "resourceVersion") != cur.revision.to_string();
                Ok((write_part(state, req, rt, &cur, &obj, pointer, warnings), precondition))
            }),
        };
    }
    if sub.name == "scale" {
        let cur = current()?;
        return match info.verb.as_str() {
            "get" => Ok(Response::json(200, &scale_of(&cur.value())?)),
            "update" => {
                let body = body_object(req, "Scale")?;
                let (scale, _) = decode_checked(req, &resources::SCALE, body)?;
                set_scale(state, req, rt, &cur, &scale)
            }
            _ => retry_conflicts(|| {
                let cur = current()?;
                let current_scale = scale_of(&cur.value())?;
                let patched = patch::apply(patch_kind(req)?, &current_scale, &req.body)?;
                let (scale, _) = decode_checked(req, &resources::SCALE, patched)?;
                let precondition = meta_str(&scale, "resourceVersion") != meta_str(&current_scale, "resourceVersion");
                Ok((set_scale(state, req, rt, &cur, &scale), precondition))
            }),
        };
    }
    Err(unserved(state, rt, ns, &info.name, sub.name)?)
}

/// Runs `attempt` again (up to 5 times in all) while it loses a race: a Conflict from a write
/// that carried no precondition of the client's. `attempt` says whether it carried one.
fn retry_conflicts(
    mut attempt: impl FnMut() -> Result<(Result<Response, ApiError>, bool), ApiError>,
) -> Result<Response, ApiError> {
    let mut last = None;
    for _ in 0..5 {
        match attempt()? {
            (Err(e), false) if e.reason == "Conflict" => last = Some(e),
            (result, _) => return result,
        }
    }
    Err(last.unwrap_or_else(|| ApiError::internal("a patch made no attempt")))
}

fn patch_kind(req: &Request) -> Result<patch::PatchKind, ApiError> {
    if req.body.len() > MAX_BODY_BYTES {
        return Err(ApiError::too_large(MAX_BODY_BYTES));
    }
    let ct = req.headers.get(http::header::CONTENT_TYPE).and_then(|v| v.to_str().ok()).unwrap_or("");
    patch::PatchKind::from_content_type(ct).ok_or_else(|| ApiError::new_unsupported_patch(ct))
}

/// The revision a write expects: the body's `resourceVersion` when set (optimistic
/// concurrency), else the one just read.
fn expected(obj: &Value, current: u64) -> Result<u64, ApiError> {
    match meta_str(obj, "resourceVersion") {
        "" => Ok(current),
        rv => rv.parse::<u64>().map_err(|_| ApiError::bad_request(format!("invalid resourceVersion {rv:?}"))),
    }
}

fn write_part(
    state: &State,
    req: &Request,
    rt: &'static ResourceType,
    current: &Stored,
    obj: &Value,
    pointer: &str,
    warnings: Vec<String>,
) -> Result<Response, ApiError> {
    let current_name = current.names().name;
    if meta_str(obj, "name") != current_name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({})",
            meta_str(obj, "name"),
            current_name
        )));
    }
    let mut next = current.value();
    set_pointer(&mut next, pointer, obj.pointer(pointer).cloned());
    let revision = expected(obj, current.revision)?;
    commit(state, req, rt, next, revision, &warnings)
}

/// Sets (or, for `None`, removes) the value at a `/a/b` pointer, creating objects on the way.
fn set_pointer(target: &mut Value, pointer: &str, value: Option<Value>) {
    let mut parts: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    let Some(last) = parts.pop() else { return };
    let mut at = target;
    for p in parts {
        if !at.get(p).is_some_and(Value::is_object) {
            at[p] = json!({});
        }
        at = &mut at[p];
    }
    match (value, at.as_object_mut()) {
        (Some(v), Some(m)) => {
            m.insert(last.to_owned(), v);
        }
        (None, Some(m)) => {
            m.remove(last);
        }
        _ => {}
    }
}

fn commit(
    state: &State,
    req: &Request,
    rt: &'static ResourceType,
    next: Value,
    revision: u64,
    warnings: &[String],
) -> Result<Response, ApiError> {
    let ns = meta_str(&next, "namespace").to_owned();
    if dry_run(req) {
        return Ok(with_warnings(Response::json(200, &next), warnings));
    }
    let out = state.registry.commit(vec![Change::Update(rt, next, revision)])?;
    crate::controllers::after_write(state, rt, &ns);
    let updated = out.into_iter().next().flatten().ok_or_else(|| ApiError::internal("update returned nothing"))?;
    Ok(with_warnings(Response::json_bytes(200, updated.to_json()), warnings))
}

fn dry_run(req: &Request) -> bool {
    req.param("dryRun") == Some("All")
}

fn with_warnings(mut r: Response, warnings: &[String]) -> Response {
    for w in warnings {
        r = r.warn(w);
    }
    r
}

/// The autoscaling/v1 Scale of a scalable object.
fn scale_of(v: &Value) -> Result<Value, ApiError> {
    let meta = v.get("metadata").cloned().unwrap_or_else(|| json!({}));
    let keep = ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"];
    let meta: serde_json::Map<String, Value> = meta
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, _)| keep.contains(&k.as_str()))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    // kube-apiserver defaults `spec.replicas` to 1 on create; kauth keeps what was written.
    let replicas = v.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let mut status = json!({"replicas": v.pointer("/status/replicas").and_then(Value::as_i64).unwrap_or(0)});
    let selector = selector_string(v.pointer("/spec/selector"));
    if !selector.is_empty() {
        status["selector"] = json!(selector);
    }
    Ok(
        json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": meta, "spec": {"replicas": replicas}, "status": status}),
    )
}

/// A label selector (a LabelSelector, or a ReplicationController's plain map) as the string
/// `Scale.status.selector` carries: requirements sorted by key, as Kubernetes prints them.
fn selector_string(selector: Option<&Value>) -> String {
    let Some(sel) = selector.and_then(Value::as_object) else { return String::new() };
    let labels = if sel.contains_key("matchLabels") || sel.contains_key("matchExpressions") {
        sel.get("matchLabels").and_then(Value::as_object).cloned().unwrap_or_default()
    } else {
        sel.clone()
    };
    let mut reqs: Vec<(String, String)> =
        labels.iter().map(|(k, v)| (k.clone(), format!("{k}={}", v.as_str().unwrap_or_default()))).collect();
    for e in sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let key = e.get("key").and_then(Value::as_str).unwrap_or_default();
        let mut values: Vec<&str> =
            e.get("values").and_then(Value::as_array).into_iter().flatten().filter_map(Value::as_str).collect();
        values.sort_unstable();
        let text = match e.get("operator").and_then(Value::as_str).unwrap_or_default() {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.to_owned(),
            "DoesNotExist" => format!("!{key}"),
            _ => continue,
        };
        reqs.push((key.to_owned(), text));
    }
    reqs.sort();
    reqs.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(",")
}

fn set_scale(
    state: &State,
    req: &Request,
    rt: &'static ResourceType,
    current: &Stored,
    scale: &Value,
) -> Result<Response, ApiError> {
    let current_value = current.value();
    let name = meta_str(&current_value, "name");
    if meta_str(scale, "name") != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({}) does not match the name on the URL ({name})",
            meta_str(scale, "name")
        )));
    }
    let replicas = scale.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(0);
    if replicas < 0 {
        return Err(ApiError::invalid(
            "autoscaling",
            "Scale",
            name,
            vec![crate::api::status::Cause {
                reason: "FieldValueInvalid",
                field: "spec.replicas".into(),
                message: format!("Invalid value: {replicas}: must be greater than or equal to 0"),
            }],
        ));
    }
    let mut next = current_value.clone();
    set_pointer(&mut next, "/spec/replicas", Some(json!(replicas)));
    let revision = expected(scale, current.revision)?;
    let ns = meta_str(&next, "namespace").to_owned();
    if dry_run(req) {
        return Ok(Response::json(200, &scale_of(&next)?));
    }
    let out = state.registry.commit(vec![Change::Update(rt, next, revision)])?;
    crate::controllers::after_write(state, rt, &ns);
    let updated = out.into_iter().next().flatten().ok_or_else(|| ApiError::internal("update returned nothing"))?;
    Ok(Response::json(200, &scale_of(&updated.value())?))
}

/// The answer for a resource kauth lists but does not serve (`bindings`, `componentstatuses`).
pub fn unserved_resource(rt: &ResourceType) -> ApiError {
    let why = match rt.plural {
        "componentstatuses" => "kauth has no scheduler, controller manager or etcd of its own to report on",
        _ => "kauth runs no scheduler and binds no pods",
    };
    ApiError {
        code: 405,
        reason: "MethodNotAllowed",
        message: format!("the server does not allow this method on the requested resource; kauth: {} is listed in discovery but not served: {why}", rt.plural),
        details: None,
    }
}

/// The answer for a subresource kauth lists but cannot serve (see the module doc).
fn unserved(state: &State, rt: &'static ResourceType, ns: &str, name: &str, sub: &str) -> Result<ApiError, ApiError> {
    let obj = state.registry.get(rt, ns, name).ok_or_else(|| ApiError::not_found(rt.group, rt.plural, name))?;
    Ok(match (rt.plural, sub) {
        ("pods", "log" | "exec" | "attach" | "portforward" | "proxy") => {
            match obj.value().pointer("/spec/nodeName").and_then(Value::as_str).filter(|n| !n.is_empty()) {
                None => ApiError::bad_request(format!(
                    "pod {name} does not have a host assigned; kauth: kauth runs no scheduler and no kubelet, so pods never run"
                )),
                Some(node) => ApiError::unavailable(format!(
                    "unable to reach the kubelet of node {node:?}; kauth: kauth runs no kubelet, so pods/{sub} has nothing to connect to"
                )),
            }
        }
        ("nodes", _) => ApiError::unavailable(format!(
            "unable to reach the kubelet of node {name:?}; kauth: kauth runs no kubelet, so nodes/{sub} has nothing to connect to"
        )),
        ("services", _) => ApiError::unavailable(format!(
            "no endpoints available for service {name:?}; kauth: kauth runs no pods behind services"
        )),
        _ => ApiError {
            code: 405,
            reason: "MethodNotAllowed",
            message: format!(
                "the server does not allow this method on the requested resource; kauth: {}/{sub} is listed in discovery but kauth does not serve it (it runs no scheduler and no disruption controller)",
                rt.plural
            ),
            details: None,
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_print_as_kubernetes_does() {
        let s = json!({"matchLabels": {"b": "2", "a": "1"}, "matchExpressions": [{"key": "c", "operator": "In", "values": ["y", "x"]}, {"key": "a0", "operator": "DoesNotExist"}]});
        assert_eq!(selector_string(Some(&s)), "a=1,!a0,b=2,c in (x,y)");
        assert_eq!(selector_string(Some(&json!({"app": "web"}))), "app=web");
        assert_eq!(selector_string(None), "");
    }

    #[test]
    fn parts_are_set_and_removed() {
        let mut v = json!({"spec": {"a": 1}});
        set_pointer(&mut v, "/status/conditions", Some(json!([1])));
        assert_eq!(v, json!({"spec": {"a": 1}, "status": {"conditions": [1]}}));
        set_pointer(&mut v, "/spec/a", None);
        assert_eq!(v["spec"], json!({}));
    }
}
