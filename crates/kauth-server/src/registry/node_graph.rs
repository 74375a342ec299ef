//! The Node authorizer's graph kept in step with the registry: every committed pod change is
//! fed to [`kauth::authz::node::NodeGraph`] in the same step that updates the mirror and the
//! RBAC index; `RegistryNodes` (beside `RegistryPolicy`) decides over it.
//!
//! kauth serves pods, secrets, configmaps, service accounts and nodes: the pod edges are fed.
//! It serves no PersistentVolumes, VolumeAttachments or ResourceSlices, so those edges stay
//! empty and a node asking for such objects is told "no relationship found", as kube-apiserver
//! says for objects its graph does not hold.

use super::Stored;
use k8s_openapi::api::core::v1::Pod;
use kauth::authz::node::NodeGraph;

/// The name a pod without one runs as: kube-apiserver's ServiceAccount admission writes it
/// into the pod before it is stored; kauth runs no admission, so the graph supplies it.
const DEFAULT_SERVICE_ACCOUNT: &str = "default";

/// Applies one change of the object at `key` (its new value, or `None` when deleted).
pub(super) fn apply_node_graph(graph: &mut NodeGraph, key: &str, stored: Option<&Stored>) {
    let Some(rest) = key.strip_prefix("/registry/pods/") else { return };
    let Some((ns, name)) = rest.split_once('/') else { return };
    let pod = stored.and_then(|s| match s.decode::<Pod>() {
        Ok(p) => Some(p),
        Err(e) => {
            tracing::warn!(%key, "a stored pod the node graph cannot read, left out: {e}");
            None
        }
    });
    match pod {
        Some(mut pod) => {
            if let Some(spec) = pod.spec.as_mut() {
                if spec.service_account_name.as_deref().unwrap_or_default().is_empty() {
                    // `serviceAccount` is the deprecated spelling the API still converts.
                    let name = spec.service_account.clone().filter(|s| !s.is_empty());
                    spec.service_account_name = Some(name.unwrap_or_else(|| DEFAULT_SERVICE_ACCOUNT.to_owned()));
                }
            }
            graph.put_pod(&pod);
        }
        None => graph.remove_pod(ns, name),
    }
}
