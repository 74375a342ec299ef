//! The Node authorizer's part in `kauth who-can` and `kauth access-matrix` when they read a
//! cluster: kube-apiserver runs it before RBAC (`--authorization-mode=Node,RBAC`, kauth serve's
//! default), so a node may do more than its bindings say. Its graph is built here from the
//! cluster's pods, persistent volumes (their claims) and volume attachments, each listed in pages
//! of 500; a policy read from files carries none of them, so there is no graph.

use k8s_openapi::api::core::v1::{PersistentVolume, Pod};
use k8s_openapi::api::storage::v1::VolumeAttachment;
use kauth::authz::node::NodeGraph;
use serde::de::DeserializeOwned;
use serde::Deserialize;

use crate::api_client::ApiClient;
use crate::failure::Failure;

/// One page of a list.
#[derive(Deserialize)]
struct Page<T> {
    #[serde(default = "Vec::new")]
    items: Vec<T>,
    #[serde(default)]
    metadata: PageMeta,
}

#[derive(Deserialize, Default)]
struct PageMeta {
    #[serde(rename = "continue", default)]
    next: Option<String>,
}

/// Every object of the list at `path`, page by page.
fn list<T: DeserializeOwned>(client: &ApiClient, path: &str) -> Result<Vec<T>, Failure> {
    let mut out = Vec::new();
    let mut next: Option<String> = None;
    loop {
        let mut query = form_urlencoded::Serializer::new(String::new());
        query.append_pair("limit", "500");
        if let Some(c) = &next {
            query.append_pair("continue", c);
        }
        let url = format!("{path}?{}", query.finish());
        let body = client.get(&url)?;
        let page: Page<T> =
            serde_json::from_str(&body).map_err(|e| Failure::bad_input(format!("{path}: not a list: {e}")))?;
        out.extend(page.items);
        match page.metadata.next.filter(|c| !c.is_empty()) {
            Some(c) => next = Some(c),
            None => return Ok(out),
        }
    }
}

/// The Node authorizer's graph of the cluster `client` talks to.
pub(crate) fn node_graph(client: &ApiClient) -> Result<NodeGraph, Failure> {
    let mut graph = NodeGraph::new();
    for pod in list::<Pod>(client, "/api/v1/pods")? {
        graph.put_pod(&pod);
    }
    for pv in list::<PersistentVolume>(client, "/api/v1/persistentvolumes")? {
        let claim = pv.spec.as_ref().and_then(|s| s.claim_ref.as_ref());
        let claim = claim.and_then(|c| Some((c.namespace.as_deref()?, c.name.as_deref()?)));
        graph.put_persistent_volume(pv.metadata.name.as_deref().unwrap_or_default(), claim, &[]);
    }
    for va in list::<VolumeAttachment>(client, "/apis/storage.k8s.io/v1/volumeattachments")? {
        graph.put_volume_attachment(va.metadata.name.as_deref().unwrap_or_default(), &va.spec.node_name);
    }
    Ok(graph)
}
