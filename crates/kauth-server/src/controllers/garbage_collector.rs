//! Garbage collection through `ownerReferences` (kube-controller-manager's garbage collector),
//! done in the same commit as the delete that orphans the dependents:
//! - **Background** (the default) and **Foreground**: an object whose owners are all gone is
//!   deleted too, and so on down the tree (with each deleted object's own cascade: a
//!   ServiceAccount's token Secrets, a namespace's contents); a dependent that still has a
//!   living owner only loses its references to the deleted ones, as the collector removes
//!   dangling references.
//! - **Orphan** (`propagationPolicy: Orphan`, or the old `orphanDependents: true`): the deleted
//!   object's dependents stay and lose their reference to it.
//!
//! kube-apiserver answers a Foreground or Orphan delete with the object, now carrying a
//! `deletionTimestamp` and the `foregroundDeletion` or `orphan` finalizer, and the collector
//! finishes later; kauth finishes in the commit, so the answer is the delete's usual success
//! Status and `blockOwnerDeletion` has nothing to wait for. Dependents are found through the
//! registry's owner index, never by reading every object.

use std::collections::{BTreeMap, HashSet, VecDeque};

use serde_json::{json, Value};

use crate::api::resources::{self, meta_str, ResourceType};
use crate::api::status::{ApiError, Cause};
use crate::registry::Change;
use crate::state::State;

/// What happens to the dependents of a deleted object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Propagation {
    /// Deleted with it (kauth: in the same commit).
    #[default]
    Background,
    /// Deleted before it (kauth: in the same commit).
    Foreground,
    /// Kept, without their reference to it.
    Orphan,
}

fn invalid_options(reason: &'static str, message: String) -> ApiError {
    ApiError::invalid(
        "meta.k8s.io",
        "DeleteOptions",
        "",
        vec![Cause { reason, field: "propagationPolicy".into(), message }],
    )
}

/// The propagation a delete asks for, from its DeleteOptions body (`propagationPolicy`,
/// `orphanDependents`) and the `propagationPolicy` query parameter, validated as kube-apiserver
/// validates them.
pub fn propagation(body: Option<&Value>, query: Option<&str>) -> Result<Propagation, ApiError> {
    let policy = body.and_then(|b| b.get("propagationPolicy")).and_then(Value::as_str).or(query);
    let orphan = body.and_then(|b| b.get("orphanDependents")).and_then(Value::as_bool);
    let chosen = match policy {
        None => None,
        Some("Background") => Some(Propagation::Background),
        Some("Foreground") => Some(Propagation::Foreground),
        Some("Orphan") => Some(Propagation::Orphan),
        Some(other) => {
            return Err(invalid_options(
                "FieldValueNotSupported",
                format!(
                "Unsupported value: {other:?}: supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
            ),
            ))
        }
    };
    match (chosen, orphan, policy) {
        (Some(_), Some(_), Some(p)) => Err(invalid_options(
            "FieldValueInvalid",
            format!("Invalid value: {p:?}: orphanDependents and deletionPropagation cannot be both set"),
        )),
        (Some(p), _, _) => Ok(p),
        (None, Some(true), _) => Ok(Propagation::Orphan),
        _ => Ok(Propagation::default()),
    }
}

/// A dependent's fate, decided once per key.
enum Fate {
    Delete(&'static ResourceType, Value, u64),
    Update(&'static ResourceType, Value, u64),
}

/// `value` without its references to any of `gone`.
fn without_refs(mut value: Value, gone: &HashSet<String>) -> Value {
    if let Some(refs) = value.pointer_mut("/metadata/ownerReferences").and_then(Value::as_array_mut) {
        refs.retain(|r| !r.get("uid").and_then(Value::as_str).is_some_and(|u| gone.contains(u)));
        if refs.is_empty() {
            resources::metadata_mut(&mut value).remove("ownerReferences");
        }
    }
    value
}

/// Whether the owner a reference names exists (same uid), looked up by kind and name in the
/// dependent's namespace or, for a cluster-scoped kind, the cluster. An owner of a kind kauth
/// does not store (a ReplicaSet, a custom resource) cannot be looked up and counts as living,
/// as Kubernetes' collector keeps a dependent whose owner it cannot resolve.
fn owner_exists(state: &State, reference: &Value, namespace: &str) -> bool {
    let (kind, name, uid) = (
        reference.get("kind").and_then(Value::as_str).unwrap_or(""),
        reference.get("name").and_then(Value::as_str).unwrap_or(""),
        reference.get("uid").and_then(Value::as_str).unwrap_or(""),
    );
    let group =
        reference.get("apiVersion").and_then(Value::as_str).and_then(|v| v.rsplit_once('/')).map_or("", |(g, _)| g);
    let Some(rt) = resources::by_kind(group, kind) else { return true };
    let ns = if rt.namespaced { namespace } else { "" };
    state.registry.get(rt, ns, name).is_some_and(|o| o.object_state().uid == uid)
}

/// Adds to `changes` what deleting its objects does to their dependents: `primary` names the
/// objects the client asked to delete (they follow `propagation`); every other delete in the
/// batch (a cascade's) propagates in the background. Objects already deleted by the batch are
/// neither deleted twice nor updated.
pub fn collect(
    state: &State,
    changes: &mut Vec<Change>,
    primary: &[String],
    propagation: Propagation,
) -> Result<(), ApiError> {
    let key_of = |c: &Change| match c {
        Change::Create(rt, v) | Change::Update(rt, v, _) => rt.key(meta_str(v, "namespace"), meta_str(v, "name")),
        Change::Delete(rt, ns, name, _) => rt.key(ns, name),
    };
    let mut in_batch: HashSet<String> = changes.iter().map(key_of).collect();
    // The deleted objects, whose dependents are looked at: (uid, orphaning?).
    let mut gone: HashSet<String> = HashSet::new();
    let mut queue: VecDeque<(String, bool)> = VecDeque::new();
    for c in changes.iter() {
        if let Change::Delete(rt, ns, name, _) = c {
            if let Some(o) = state.registry.get(rt, ns, name) {
                let uid = o.names().uid;
                let orphan = propagation == Propagation::Orphan && primary.contains(&rt.key(ns, name));
                gone.insert(uid.clone());
                queue.push_back((uid, orphan));
            }
        }
    }
    let mut fates: BTreeMap<String, Fate> = BTreeMap::new();
    let mut cascaded: Vec<Change> = Vec::new();
    while let Some((owner, orphan)) = queue.pop_front() {
        for (rt, dependent) in state.registry.dependents(&owner) {
            let names = dependent.names();
            let (ns, name) = (names.namespace, names.name);
            let key = rt.key(&ns, &name);
            if in_batch.contains(&key)
                || cascaded.iter().any(|c| key_of(c) == key)
                || matches!(fates.get(&key), Some(Fate::Delete(..)))
            {
                continue;
            }
            let current = match fates.get(&key) {
                Some(Fate::Update(_, v, _)) => v.clone(),
                _ => dependent.value(),
            };
            let refs: Vec<Value> =
                current.pointer("/metadata/ownerReferences").and_then(Value::as_array).cloned().unwrap_or_default();
            let living = refs.iter().any(|r| {
                let uid = r.get("uid").and_then(Value::as_str).unwrap_or("");
                !gone.contains(uid) && owner_exists(state, r, &ns)
            });
            if orphan || living {
                fates.insert(key, Fate::Update(rt, without_refs(current, &gone), dependent.revision));
            } else {
                let uid = dependent.names().uid;
                gone.insert(uid.clone());
                queue.push_back((uid, false));
                fates.insert(key, Fate::Delete(rt, dependent.value(), dependent.revision));
                // What its own cascade deletes (a ServiceAccount's token Secrets) is walked too.
                for c in super::cascade_delete(state, rt, &dependent.value()) {
                    if let Change::Delete(crt, cns, cname, _) = &c {
                        if let Some(o) = state.registry.get(crt, cns, cname) {
                            let cuid = o.names().uid;
                            if gone.insert(cuid.clone()) {
                                queue.push_back((cuid, false));
                            }
                        }
                    }
                    cascaded.push(c);
                }
            }
        }
    }
    // The cascades' deletes first: an object a cascade deletes is not also updated.
    for c in cascaded {
        if in_batch.insert(key_of(&c)) {
            changes.push(c);
        }
    }
    for (key, fate) in fates {
        if !in_batch.insert(key) {
            continue;
        }
        match fate {
            Fate::Update(rt, value, revision) => {
                // Owners deleted later in the walk are gone from it too.
                changes.push(Change::Update(rt, without_refs(value, &gone), revision));
            }
            Fate::Delete(rt, value, revision) => {
                let (ns, name) = (meta_str(&value, "namespace").to_owned(), meta_str(&value, "name").to_owned());
                changes.push(Change::Delete(rt, ns, name, Some(revision)));
            }
        }
    }
    Ok(())
}

/// A reference to `owner` (its apiVersion, kind, name and uid), for tests and callers that make
/// dependents.
pub fn owner_reference(owner: &Value) -> Value {
    json!({
        "apiVersion": owner.get("apiVersion").cloned().unwrap_or(Value::Null),
        "kind": owner.get("kind").cloned().unwrap_or(Value::Null),
        "name": meta_str(owner, "name"),
        "uid": meta_str(owner, "uid"),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn propagation_is_read_and_validated_as_kube_apiserver_does() {
        assert_eq!(propagation(None, None).unwrap(), Propagation::Background);
        assert_eq!(propagation(Some(&json!({"propagationPolicy": "Orphan"})), None).unwrap(), Propagation::Orphan);
        assert_eq!(propagation(None, Some("Foreground")).unwrap(), Propagation::Foreground);
        assert_eq!(propagation(Some(&json!({"orphanDependents": true})), None).unwrap(), Propagation::Orphan);
        assert_eq!(propagation(Some(&json!({"orphanDependents": false})), None).unwrap(), Propagation::Background);
        let e = propagation(Some(&json!({"propagationPolicy": "Sideways"})), None).unwrap_err();
        assert_eq!(e.code, 422);
        assert_eq!(
            e.message,
            "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"Sideways\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
        );
        let both = propagation(Some(&json!({"propagationPolicy": "Orphan", "orphanDependents": true})), None);
        assert_eq!(
            both.unwrap_err().message,
            "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Invalid value: \"Orphan\": orphanDependents and deletionPropagation cannot be both set"
        );
    }

    #[test]
    fn removing_references_keeps_the_others_and_drops_an_empty_list() {
        let gone: HashSet<String> = ["u1".to_owned()].into();
        let v = json!({"metadata": {"ownerReferences": [{"uid": "u1"}, {"uid": "u2"}]}});
        assert_eq!(without_refs(v, &gone)["metadata"]["ownerReferences"], json!([{"uid": "u2"}]));
        let v = json!({"metadata": {"name": "x", "ownerReferences": [{"uid": "u1"}]}});
        assert_eq!(without_refs(v, &gone), json!({"metadata": {"name": "x"}}));
    }
}
