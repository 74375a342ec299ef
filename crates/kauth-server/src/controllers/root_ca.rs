//! The root CA publisher (kube-controller-manager's `root-ca-cert-publisher`): every active
//! namespace holds the ConfigMap `kube-root-ca.crt` with exactly the cluster CA (`data` is
//! `{"ca.crt": <CA>}`) and its description annotation. Created with the namespace (in the same
//! commit, [`super::prepare_create`]); recreated right after it is deleted and restored right
//! after it is edited ([`after_write`], called by the API's write handlers), as the controller
//! does on its next sync.

use serde_json::{json, Value};

use crate::api::resources::{self, ResourceType};
use crate::api::status::ApiError;
use crate::registry::Change;
use crate::state::State;

/// The ConfigMap's name.
pub const NAME: &str = "kube-root-ca.crt";
/// The annotation saying what it is for.
pub const DESCRIPTION_ANNOTATION: &str = "kubernetes.io/description";
/// Its text, as Kubernetes writes it.
pub const DESCRIPTION: &str = "Contains a CA bundle that can be used to verify the kube-apiserver when using internal endpoints such as the internal service IP or kubernetes.default.svc. No other usage is guaranteed across distributions of Kubernetes clusters.";

fn rt(kind: &str) -> Result<&'static ResourceType, ApiError> {
    resources::by_kind("", kind).ok_or_else(|| ApiError::internal(format!("no resource of kind {kind}")))
}

/// The ConfigMap for namespace `ns`, new.
pub fn configmap(state: &State, ns: &str) -> Result<Value, ApiError> {
    Ok(json!({
        "apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {
            "name": NAME, "namespace": ns, "uid": crate::api::meta::new_uid()?,
            "creationTimestamp": kauth::timestamp::rfc3339(state.now()),
            "annotations": {DESCRIPTION_ANNOTATION: DESCRIPTION},
        },
        "data": {"ca.crt": state.config.ca_pem},
    }))
}

/// What brings namespace `ns`'s ConfigMap in step: a create, an update, or nothing. Nothing for
/// a namespace that does not exist or is being deleted.
pub fn sync(state: &State, ns: &str) -> Result<Option<Change>, ApiError> {
    let namespaces = rt("Namespace")?;
    let Some(namespace) = state.registry.get(namespaces, "", ns) else { return Ok(None) };
    let namespace = namespace.value();
    let terminating = namespace.pointer("/status/phase").and_then(Value::as_str) == Some("Terminating")
        || namespace.pointer("/metadata/deletionTimestamp").is_some();
    if terminating {
        return Ok(None);
    }
    let configmaps = rt("ConfigMap")?;
    let Some(cm) = state.registry.get(configmaps, ns, NAME) else {
        return Ok(Some(Change::Create(configmaps, configmap(state, ns)?)));
    };
    let want = json!({"ca.crt": state.config.ca_pem});
    let mut next = cm.value();
    let described = next
        .pointer("/metadata/annotations")
        .and_then(|a| a.get(DESCRIPTION_ANNOTATION))
        .and_then(Value::as_str)
        .is_some_and(|d| !d.is_empty());
    if next.get("data") == Some(&want) && described {
        return Ok(None);
    }
    next["data"] = want;
    let annotations = resources::metadata_mut(&mut next).entry("annotations").or_insert_with(|| json!({}));
    if !annotations.is_object() {
        *annotations = json!({});
    }
    annotations[DESCRIPTION_ANNOTATION] = json!(DESCRIPTION);
    Ok(Some(Change::Update(configmaps, next, cm.revision)))
}

/// After a write the API accepted to a ConfigMap: restores `kube-root-ca.crt` in its namespace.
/// A failure (a conflict with a concurrent write) is logged; the next write there retries.
pub fn after_write(state: &State, rt: &ResourceType, namespace: &str) {
    if rt.kind != "ConfigMap" || namespace.is_empty() {
        return;
    }
    let result = sync(state, namespace).and_then(|change| match change {
        Some(change) => state.registry.commit(vec![change]).map(|_| ()),
        None => Ok(()),
    });
    if let Err(e) = result {
        tracing::warn!(namespace, configmap = NAME, "root CA publisher: {}", e.message);
    }
}
