//! What kube-controller-manager's auth controllers do, done by kauth synchronously, inside the
//! same atomic commit as the write that triggers them:
//! - a new namespace gets its `default` ServiceAccount and the `kube-root-ca.crt` ConfigMap
//!   (kept as it should be after every later write, [`root_ca`]);
//! - a `kubernetes.io/service-account-token` Secret is filled (token, ca.crt, namespace);
//! - deleting a namespace deletes what is in it; deleting a ServiceAccount deletes its token Secrets;
//! - ClusterRoles with an `aggregationRule` hold the union of the rules of the roles they select,
//!   recomputed to a fixed point whenever a ClusterRole is created, updated or deleted
//!   ([`aggregation`]).
//!
//! And, with bootstrap tokens on, right after the write or on a timer: `kube-public/cluster-info`
//! stays signed by every bootstrap token that may sign ([`bootstrap_signer`]) and expired tokens
//! are deleted ([`token_cleaner`]).

pub mod aggregation;
pub mod bootstrap_signer;
pub mod escalation;
pub mod garbage_collector;
pub mod heartbeat;
pub mod keyring;
pub mod root_ca;
pub mod token_cleaner;

use base64::Engine;
use kauth::token::claims::ObjectRef;
use kauth::user::UserInfo;
use serde_json::{json, Value};

use crate::api::resources::{self, meta_str, metadata_mut, ResourceType};
use crate::api::status::{ApiError, Cause};
use crate::registry::Change;
use crate::state::State;
use aggregation::Pending;

/// The annotation naming a token Secret's ServiceAccount.
pub const SA_NAME_ANNOTATION: &str = "kubernetes.io/service-account.name";
/// The annotation holding that ServiceAccount's uid.
pub const SA_UID_ANNOTATION: &str = "kubernetes.io/service-account.uid";
/// The legacy token Secret type.
pub const SA_TOKEN_TYPE: &str = "kubernetes.io/service-account-token";
/// The ConfigMap with the cluster CA in every namespace.
pub const ROOT_CA_CONFIGMAP: &str = root_ca::NAME;

fn rt(kind: &str) -> Result<&'static ResourceType, ApiError> {
    resources::by_kind("", kind).ok_or_else(|| ApiError::internal(format!("no resource of kind {kind}")))
}

fn b64(s: &[u8]) -> Value {
    Value::String(base64::engine::general_purpose::STANDARD.encode(s))
}

fn new_meta(state: &State, ns: &str, name: &str) -> Result<Value, ApiError> {
    Ok(json!({
        "name": name,
        "namespace": ns,
        "uid": crate::api::meta::new_uid()?,
        "creationTimestamp": kauth::timestamp::rfc3339(state.now()),
    }))
}

/// The default ServiceAccount of a namespace.
pub fn default_service_account(state: &State, ns: &str) -> Result<Value, ApiError> {
    Ok(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": new_meta(state, ns, "default")?}))
}

/// The `kube-root-ca.crt` ConfigMap of a namespace ([`root_ca::configmap`]).
pub fn root_ca_configmap(state: &State, ns: &str) -> Result<Value, ApiError> {
    root_ca::configmap(state, ns)
}

/// What the controllers that follow a write do once it is committed: the bootstrap signer
/// re-signs `cluster-info` when a token or it changed; the root CA publisher restores a
/// namespace's `kube-root-ca.crt`. Called by the API's write handlers after each commit.
pub fn after_write(state: &State, rt: &ResourceType, namespace: &str) {
    bootstrap_signer::after_write(state, rt, namespace);
    root_ca::after_write(state, rt, namespace);
}

fn invalid(rt: &ResourceType, name: &str, field: &str, reason: &'static str, message: String) -> ApiError {
    ApiError::invalid(rt.group, rt.kind, name, vec![Cause { reason, field: field.into(), message }])
}

/// Defaults, validation and follow-up objects for a create.
pub fn prepare_create(
    state: &State,
    rt: &'static ResourceType,
    obj: &mut Value,
    user: &UserInfo,
) -> Result<Vec<Change>, ApiError> {
    let name = meta_str(obj, "name").to_owned();
    let ns = meta_str(obj, "namespace").to_owned();
    let mut extra = Vec::new();
    match rt.kind {
        "Namespace" => {
            let labels = metadata_mut(obj).entry("labels").or_insert_with(|| json!({}));
            labels["kubernetes.io/metadata.name"] = json!(name);
            obj["spec"] = json!({"finalizers": ["kubernetes"]});
            obj["status"] = json!({"phase": "Active"});
            extra.push(Change::Create(rt_sa()?, default_service_account(state, &name)?));
            extra.push(Change::Create(rt_of("ConfigMap")?, root_ca_configmap(state, &name)?));
        }
        "Secret" => {
            if obj.get("type").and_then(Value::as_str).unwrap_or("").is_empty() {
                obj["type"] = json!("Opaque");
            }
            if obj["type"] == SA_TOKEN_TYPE {
                fill_token_secret(state, rt, obj, &ns, &name)?;
            }
        }
        "ClusterRole" | "Role" | "ClusterRoleBinding" | "RoleBinding" => {
            validate_rbac(rt, obj)?;
            escalation::check(state, rt, obj, user)?;
        }
        _ => {}
    }
    if rt.kind == "ClusterRole" {
        extra.extend(aggregation::aggregate(state, Pending::Write(obj))?);
    }
    Ok(extra)
}

fn rt_sa() -> Result<&'static ResourceType, ApiError> {
    rt("ServiceAccount")
}

fn fill_token_secret(state: &State, rt: &ResourceType, obj: &mut Value, ns: &str, name: &str) -> Result<(), ApiError> {
    let sa_name = obj
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(SA_NAME_ANNOTATION))
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    if sa_name.is_empty() {
        return Err(invalid(
            rt,
            name,
            &format!("metadata.annotations[{SA_NAME_ANNOTATION}]"),
            "FieldValueRequired",
            "Required value".into(),
        ));
    }
    let sa = state
        .registry
        .get(rt_sa()?, ns, &sa_name)
        .ok_or_else(|| ApiError::not_found("", "serviceaccounts", &sa_name))?;
    let sa_uid = sa.names().uid;
    if let Some(want) =
        obj.pointer("/metadata/annotations").and_then(|a| a.get(SA_UID_ANNOTATION)).and_then(Value::as_str)
    {
        if !want.is_empty() && want != sa_uid {
            return Err(invalid(
                rt,
                name,
                &format!("metadata.annotations[{SA_UID_ANNOTATION}]"),
                "FieldValueInvalid",
                format!("Invalid value: {want:?}: does not match serviceaccount {sa_name:?} (uid {sa_uid})"),
            ));
        }
    }
    obj["metadata"]["annotations"][SA_UID_ANNOTATION] = json!(sa_uid);
    let token = state
        .keys
        .active()
        .issuer
        .issue_legacy(ns, &ObjectRef { name: sa_name.into(), uid: sa_uid.into() }, name)
        .map_err(ApiError::internal)?;
    state.metrics.token_issued("legacy");
    let data = obj
        .as_object_mut()
        .map(|m| m.entry("data").or_insert_with(|| json!({})))
        .ok_or_else(|| ApiError::internal("secret is not an object"))?;
    data["token"] = b64(token.as_str().as_bytes());
    data["ca.crt"] = b64(state.config.ca_pem.as_bytes());
    data["namespace"] = b64(ns.as_bytes());
    Ok(())
}

/// The label Kubernetes keeps on a legacy token Secret: the day (UTC) it was last used.
pub const LEGACY_LAST_USED_LABEL: &str = "kubernetes.io/legacy-token-last-used";

/// Records that the legacy token in Secret `ns/name` was used today (UTC), as kube-apiserver does:
/// at most one write a day per Secret, and none when the label already says today or tomorrow
/// (written by a replica whose clock is ahead: moving it back would only make the replicas take
/// turns rewriting it). A failed write is logged, never fails the request.
pub fn track_legacy_token_use(state: &State, secret: &str) {
    let Some((ns, name)) = secret.split_once('/') else { return };
    let Ok(srt) = rt("Secret") else { return };
    let day = |t| kauth::timestamp::rfc3339(t)[..10].to_owned();
    let now = state.now();
    let (today, tomorrow) = (day(now), day(now + time::Duration::days(1)));
    let Some(s) = state.registry.get(srt, ns, name) else { return };
    let mut v = s.value();
    let last_used = v.pointer("/metadata/labels").and_then(|l| l.get(LEGACY_LAST_USED_LABEL)).and_then(Value::as_str);
    if last_used.is_some_and(|d| d == today || d == tomorrow) {
        return;
    }
    let labels = metadata_mut(&mut v).entry("labels").or_insert_with(|| json!({}));
    labels[LEGACY_LAST_USED_LABEL] = json!(today);
    if let Err(e) = state.registry.commit(vec![Change::Update(srt, v, s.revision)]) {
        tracing::warn!(secret, "recording legacy token use: {}", e.message);
    }
}

/// Defaults and follow-ups for an update.
pub fn prepare_update(
    state: &State,
    rt: &'static ResourceType,
    old: &Value,
    obj: &mut Value,
    user: &UserInfo,
) -> Result<Vec<Change>, ApiError> {
    match rt.kind {
        "Namespace" => {
            obj["spec"] = old.get("spec").cloned().unwrap_or(json!({"finalizers": ["kubernetes"]}));
            obj["status"] = old.get("status").cloned().unwrap_or(json!({"phase": "Active"}));
            let name = meta_str(obj, "name").to_owned();
            let labels = metadata_mut(obj).entry("labels").or_insert_with(|| json!({}));
            labels["kubernetes.io/metadata.name"] = json!(name);
        }
        "Secret" => {
            if old.get("type") != obj.get("type") && obj.get("type").is_some() {
                let name = meta_str(obj, "name").to_owned();
                return Err(invalid(
                    rt,
                    &name,
                    "type",
                    "FieldValueInvalid",
                    format!("Invalid value: {}: field is immutable", obj["type"]),
                ));
            }
            obj["type"] = old.get("type").cloned().unwrap_or(json!("Opaque"));
        }
        "ClusterRole" | "Role" | "ClusterRoleBinding" | "RoleBinding" => {
            validate_rbac(rt, obj)?;
            escalation::check(state, rt, obj, user)?;
        }
        _ => {}
    }
    if rt.kind == "ClusterRole" {
        return aggregation::aggregate(state, Pending::Write(obj));
    }
    Ok(Vec::new())
}

/// Checks that an update only changes what may change.
pub fn validate_update(rt: &'static ResourceType, old: &Value, new: &Value) -> Result<(), ApiError> {
    if matches!(rt.kind, "RoleBinding" | "ClusterRoleBinding") && old.get("roleRef") != new.get("roleRef") {
        let name = meta_str(new, "name");
        return Err(invalid(
            rt,
            name,
            "roleRef",
            "FieldValueInvalid",
            format!("Invalid value: {}: cannot change roleRef", go_role_ref(new.get("roleRef"))),
        ));
    }
    Ok(())
}

/// What else goes when `obj` is deleted: a namespace's objects, a ServiceAccount's token
/// Secrets. (The roles that aggregated a deleted ClusterRole change once per commit, in
/// [`reaggregate_after_deletes`].)
pub fn cascade_delete(state: &State, rt: &'static ResourceType, obj: &Value) -> Vec<Change> {
    let mut out = Vec::new();
    match rt.kind {
        "Namespace" => {
            let ns = meta_str(obj, "name");
            for r in resources::RESOURCES.iter().filter(|r| r.namespaced && r.stored) {
                for o in state.registry.list(r, ns) {
                    out.push(Change::Delete(r, ns.to_owned(), o.names().name, Some(o.revision)));
                }
            }
        }
        "ServiceAccount" => {
            let (ns, name, uid) = (meta_str(obj, "namespace"), meta_str(obj, "name"), meta_str(obj, "uid"));
            if let Ok(secrets) = rt_of("Secret") {
                for s in state.registry.list(secrets, ns) {
                    let value = s.value();
                    let ann = value.pointer("/metadata/annotations");
                    let points_here = value.get("type").and_then(Value::as_str) == Some(SA_TOKEN_TYPE)
                        && ann.and_then(|a| a.get(SA_NAME_ANNOTATION)).and_then(Value::as_str) == Some(name)
                        && ann.and_then(|a| a.get(SA_UID_ANNOTATION)).and_then(Value::as_str).is_none_or(|u| u == uid);
                    if points_here {
                        out.push(Change::Delete(secrets, ns.to_owned(), s.names().name, Some(s.revision)));
                    }
                }
            }
        }
        _ => {}
    }
    out
}

/// The aggregated ClusterRoles whose rules change when the ClusterRoles that `changes` deletes
/// are gone: recomputed once for the whole commit, so that deleting several roles aggregated
/// into one (`kubectl delete clusterroles -l ...`) updates that role once, without all of them.
/// Empty when `changes` deletes no ClusterRole.
pub fn reaggregate_after_deletes(state: &State, changes: &[Change]) -> Vec<Change> {
    let deleted: Vec<&str> = changes
        .iter()
        .filter_map(|c| match c {
            Change::Delete(rt, _, name, _) if rt.group == resources::RBAC_GROUP && rt.kind == "ClusterRole" => {
                Some(name.as_str())
            }
            _ => None,
        })
        .collect();
    if deleted.is_empty() {
        return Vec::new();
    }
    match aggregation::aggregate(state, Pending::Delete(&deleted)) {
        Ok(changes) => changes,
        // Only a stored ClusterRole that no longer decodes gets here (every write is decoded
        // first); its writes fail the same way, and say so to their client.
        Err(e) => {
            tracing::error!(clusterroles = ?deleted, "aggregating without them: {}", e.message);
            Vec::new()
        }
    }
}

fn rt_of(kind: &str) -> Result<&'static ResourceType, ApiError> {
    rt(kind)
}

/// A list of strings as Go's `%#v` prints a `[]string` (kube-apiserver's field errors do).
fn go_strings(list: &Value) -> String {
    let items: Vec<String> =
        list.as_array().into_iter().flatten().map(|v| format!("{:?}", v.as_str().unwrap_or_default())).collect();
    format!("[]string{{{}}}", items.join(", "))
}

/// A roleRef as Go's `%#v` prints kube-apiserver's internal `rbac.RoleRef`.
fn go_role_ref(role_ref: Option<&Value>) -> String {
    let f = |k: &str| role_ref.and_then(|r| r.get(k)).and_then(Value::as_str).unwrap_or_default().to_owned();
    format!("rbac.RoleRef{{APIGroup:{:?}, Kind:{:?}, Name:{:?}}}", f("apiGroup"), f("kind"), f("name"))
}

fn validate_rbac(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    let name = meta_str(obj, "name");
    let mut causes = Vec::new();
    let namespaced = rt.kind == "Role";
    if matches!(rt.kind, "Role" | "ClusterRole") {
        for (i, rule) in obj.get("rules").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let list = |f: &str| rule.get(f).and_then(Value::as_array).map(|a| a.len()).unwrap_or(0);
            if list("verbs") == 0 {
                causes.push(Cause {
                    reason: "FieldValueRequired",
                    field: format!("rules[{i}].verbs"),
                    message: "Required value: verbs must contain at least one value".into(),
                });
            }
            if list("nonResourceURLs") > 0 {
                let urls = go_strings(&rule["nonResourceURLs"]);
                if namespaced {
                    causes.push(Cause {
                        reason: "FieldValueInvalid",
                        field: format!("rules[{i}].nonResourceURLs"),
                        message: format!("Invalid value: {urls}: namespaced rules cannot apply to non-resource URLs"),
                    });
                }
                if list("apiGroups") > 0 || list("resources") > 0 || list("resourceNames") > 0 {
                    causes.push(Cause {
                        reason: "FieldValueInvalid",
                        field: format!("rules[{i}].nonResourceURLs"),
                        message: format!(
                            "Invalid value: {urls}: rules cannot apply to both regular resources and non-resource URLs"
                        ),
                    });
                }
            } else {
                if list("apiGroups") == 0 {
                    causes.push(Cause {
                        reason: "FieldValueRequired",
                        field: format!("rules[{i}].apiGroups"),
                        message: "Required value: resource rules must supply at least one api group".into(),
                    });
                }
                if list("resources") == 0 {
                    causes.push(Cause {
                        reason: "FieldValueRequired",
                        field: format!("rules[{i}].resources"),
                        message: "Required value: resource rules must supply at least one resource".into(),
                    });
                }
            }
        }
    } else {
        let role_ref = obj.get("roleRef").cloned().unwrap_or(Value::Null);
        let kind = role_ref.get("kind").and_then(Value::as_str).unwrap_or("");
        let allowed: &[&str] =
            if rt.kind == "ClusterRoleBinding" { &["ClusterRole"] } else { &["Role", "ClusterRole"] };
        if !allowed.contains(&kind) {
            let supported = allowed.iter().map(|k| format!("{k:?}")).collect::<Vec<_>>().join(", ");
            causes.push(Cause {
                reason: "FieldValueNotSupported",
                field: "roleRef.kind".into(),
                message: format!("Unsupported value: {kind:?}: supported values: {supported}"),
            });
        }
        if role_ref.get("apiGroup").and_then(Value::as_str) != Some(resources::RBAC_GROUP) {
            causes.push(Cause {
                reason: "FieldValueNotSupported",
                field: "roleRef.apiGroup".into(),
                message: format!(
                    "Unsupported value: {}: supported values: \"rbac.authorization.k8s.io\"",
                    role_ref.get("apiGroup").cloned().unwrap_or(json!(""))
                ),
            });
        }
        if role_ref.get("name").and_then(Value::as_str).unwrap_or("").is_empty() {
            causes.push(Cause {
                reason: "FieldValueRequired",
                field: "roleRef.name".into(),
                message: "Required value".into(),
            });
        }
        for (i, s) in obj.get("subjects").and_then(Value::as_array).into_iter().flatten().enumerate() {
            let kind = s.get("kind").and_then(Value::as_str).unwrap_or("");
            if !matches!(kind, "User" | "Group" | "ServiceAccount") {
                causes.push(Cause {
                    reason: "FieldValueNotSupported",
                    field: format!("subjects[{i}].kind"),
                    message: format!(
                        "Unsupported value: {kind:?}: supported values: \"ServiceAccount\", \"User\", \"Group\""
                    ),
                });
            }
            if s.get("name").and_then(Value::as_str).unwrap_or("").is_empty() {
                causes.push(Cause {
                    reason: "FieldValueRequired",
                    field: format!("subjects[{i}].name"),
                    message: "Required value".into(),
                });
            }
            if kind == "ServiceAccount"
                && rt.kind == "ClusterRoleBinding"
                && s.get("namespace").and_then(Value::as_str).unwrap_or("").is_empty()
            {
                causes.push(Cause {
                    reason: "FieldValueRequired",
                    field: format!("subjects[{i}].namespace"),
                    message: "Required value".into(),
                });
            }
        }
    }
    if causes.is_empty() {
        Ok(())
    } else {
        Err(ApiError::invalid(rt.group, rt.kind, name, causes))
    }
}
