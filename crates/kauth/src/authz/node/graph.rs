//! The Node authorizer's graph: which objects lead to which nodes, kept current by feeding it
//! every change of pods (and, where served, persistent volumes, volume attachments and resource
//! slices), as kube-apiserver's graph populator does from its informers.
//!
//! Edges point toward nodes, as in kube-apiserver:
//!
//! ```text
//! node <- pod <- secret, configmap, serviceaccount, pvc, resourceclaim
//! pvc  <- pv  <- secret
//! node <- volumeattachment, resourceslice
//! ```
//!
//! Unlike kube-apiserver, which indexes a vertex's destination nodes only past 200 edges and
//! walks the graph below that, every object here always carries the count of its pods on each
//! node: a decision is a few hash lookups whatever the number of pods ([`NodeGraph::lookups`]
//! counts them, for tests). Only a secret reached through persistent volumes costs one more
//! lookup per volume naming it.

use std::collections::{BTreeSet, HashMap};
use std::sync::atomic::{AtomicU64, Ordering};

use k8s_openapi::api::core::v1::Pod;

use super::denial::GraphMiss;
use super::pod_refs::PodRefs;
use super::vertex::VertexKind;

/// A namespace and a name.
type NsName = (String, String);

/// A pod bound to a node, as the graph holds it.
#[derive(Debug, Clone)]
struct BoundPod {
    node: String,
    refs: Vec<(VertexKind, String)>,
}

/// A persistent volume bound to a claim.
#[derive(Debug, Clone)]
struct BoundPv {
    claim: NsName,
    secrets: Vec<NsName>,
}

/// The graph. Not synchronized: the owner keeps it behind a lock and feeds it changes in order.
#[derive(Debug, Default)]
pub struct NodeGraph {
    /// Bound pods by namespace and name.
    pods: HashMap<NsName, BoundPod>,
    /// Pods by node (for rule listings, never for decisions).
    pods_on_node: HashMap<String, BTreeSet<NsName>>,
    /// The destination index: each object a pod references → node → how many of that node's
    /// pods reference it.
    reach: HashMap<(VertexKind, String, String), HashMap<String, u32>>,
    /// Edges into each node (pods, volume attachments, resource slices): the node is in the
    /// graph while this is above zero.
    node_edges: HashMap<String, u32>,
    /// Bound persistent volumes by name.
    pvs: HashMap<String, BoundPv>,
    /// Secret → the persistent volumes naming it.
    pvs_of_secret: HashMap<NsName, BTreeSet<String>>,
    /// Claim → the persistent volumes bound to it.
    pvs_of_claim: HashMap<NsName, BTreeSet<String>>,
    /// Volume attachment → node.
    attachments: HashMap<String, String>,
    /// Resource slice → node.
    slices: HashMap<String, String>,
    /// Hash lookups made by decisions so far.
    lookups: AtomicU64,
}

impl NodeGraph {
    /// An empty graph.
    pub fn new() -> Self {
        NodeGraph::default()
    }

    /// Adds or replaces a pod: its edges are worked out again from its spec. A pod bound to
    /// no node is removed (kube-apiserver never sees a pod lose its node; kauth does not
    /// forbid it, so the graph follows).
    pub fn put_pod(&mut self, pod: &Pod) {
        let ns = pod.metadata.namespace.clone().unwrap_or_default();
        let name = pod.metadata.name.clone().unwrap_or_default();
        match PodRefs::of(pod) {
            Some(refs) => self.put_pod_refs(&ns, &name, refs),
            None => self.remove_pod(&ns, &name),
        }
    }

    /// Adds or replaces a pod from what it references.
    pub fn put_pod_refs(&mut self, namespace: &str, name: &str, refs: PodRefs) {
        self.remove_pod(namespace, name);
        let key = (namespace.to_owned(), name.to_owned());
        *self.node_edges.entry(refs.node.clone()).or_default() += 1;
        self.pods_on_node.entry(refs.node.clone()).or_default().insert(key.clone());
        for (kind, object) in &refs.refs {
            let per_node = self.reach.entry((*kind, namespace.to_owned(), object.clone())).or_default();
            *per_node.entry(refs.node.clone()).or_default() += 1;
        }
        self.pods.insert(key, BoundPod { node: refs.node, refs: refs.refs });
    }

    /// Removes a pod and every edge it brought.
    pub fn remove_pod(&mut self, namespace: &str, name: &str) {
        let key = (namespace.to_owned(), name.to_owned());
        let Some(pod) = self.pods.remove(&key) else { return };
        release(&mut self.node_edges, &pod.node);
        if let Some(set) = self.pods_on_node.get_mut(&pod.node) {
            set.remove(&key);
            if set.is_empty() {
                self.pods_on_node.remove(&pod.node);
            }
        }
        for (kind, object) in pod.refs {
            let k = (kind, namespace.to_owned(), object);
            if let Some(per_node) = self.reach.get_mut(&k) {
                release(per_node, &pod.node);
                if per_node.is_empty() {
                    self.reach.remove(&k);
                }
            }
        }
    }

    /// Adds or replaces a persistent volume: bound to `claim` (`spec.claimRef`), naming
    /// `secrets` the kubelet reads (kube-apiserver's `VisitPVSecretNames`, kubelet-visible
    /// ones). A volume bound to no claim is removed.
    pub fn put_persistent_volume(&mut self, name: &str, claim: Option<(&str, &str)>, secrets: &[(&str, &str)]) {
        self.remove_persistent_volume(name);
        let Some((cns, cname)) = claim else { return };
        let claim = (cns.to_owned(), cname.to_owned());
        self.pvs_of_claim.entry(claim.clone()).or_default().insert(name.to_owned());
        let secrets: Vec<NsName> = secrets.iter().map(|(n, s)| ((*n).to_owned(), (*s).to_owned())).collect();
        for s in &secrets {
            self.pvs_of_secret.entry(s.clone()).or_default().insert(name.to_owned());
        }
        self.pvs.insert(name.to_owned(), BoundPv { claim, secrets });
    }

    /// Removes a persistent volume.
    pub fn remove_persistent_volume(&mut self, name: &str) {
        let Some(pv) = self.pvs.remove(name) else { return };
        unlink(&mut self.pvs_of_claim, &pv.claim, name);
        for s in &pv.secrets {
            unlink(&mut self.pvs_of_secret, s, name);
        }
    }

    /// Adds or replaces a volume attachment (`spec.nodeName`; empty: removed).
    pub fn put_volume_attachment(&mut self, name: &str, node: &str) {
        put_on_node(&mut self.attachments, &mut self.node_edges, name, node);
    }

    /// Removes a volume attachment.
    pub fn remove_volume_attachment(&mut self, name: &str) {
        put_on_node(&mut self.attachments, &mut self.node_edges, name, "");
    }

    /// Adds or replaces a resource slice (`spec.nodeName`; empty: removed).
    pub fn put_resource_slice(&mut self, name: &str, node: &str) {
        put_on_node(&mut self.slices, &mut self.node_edges, name, node);
    }

    /// Removes a resource slice.
    pub fn remove_resource_slice(&mut self, name: &str) {
        put_on_node(&mut self.slices, &mut self.node_edges, name, "");
    }

    /// How many bound pods the graph holds.
    pub fn pod_count(&self) -> usize {
        self.pods.len()
    }

    /// The nodes the graph knows (those with a pod, volume attachment or resource slice), by
    /// name: who-can asks each of them.
    pub fn nodes(&self) -> Vec<String> {
        let mut out: Vec<String> = self.node_edges.keys().cloned().collect();
        out.sort();
        out
    }

    /// Hash lookups decisions have made so far (a decision's cost, for tests and metrics).
    pub fn lookups(&self) -> u64 {
        self.lookups.load(Ordering::Relaxed)
    }

    fn looked(&self, n: u64) {
        self.lookups.fetch_add(n, Ordering::Relaxed);
    }

    /// Whether the object leads to `node` (kube-apiserver's `hasPathFrom`); why not otherwise.
    pub fn relationship(&self, node: &str, kind: VertexKind, namespace: &str, name: &str) -> Result<(), GraphMiss> {
        let miss = |known: bool, others: usize| {
            let (node, namespace, name) = (node.to_owned(), namespace.to_owned(), name.to_owned());
            if !known {
                GraphMiss::UnknownObject { node, kind, namespace, name }
            } else {
                GraphMiss::NoPath { node, kind, namespace, name, other_nodes: others }
            }
        };
        self.looked(1);
        if !self.node_edges.contains_key(node) {
            let (node, namespace, name) = (node.to_owned(), namespace.to_owned(), name.to_owned());
            return Err(GraphMiss::UnknownNode { node, kind, namespace, name });
        }
        let key = |ns: &str, n: &str| (ns.to_owned(), n.to_owned());
        match kind {
            VertexKind::Node => Ok(()),
            VertexKind::Pod => {
                self.looked(1);
                match self.pods.get(&key(namespace, name)) {
                    Some(p) if p.node == node => Ok(()),
                    Some(_) => Err(miss(true, 1)),
                    None => Err(miss(false, 0)),
                }
            }
            VertexKind::VolumeAttachment | VertexKind::ResourceSlice => {
                self.looked(1);
                let map = if kind == VertexKind::VolumeAttachment { &self.attachments } else { &self.slices };
                match map.get(name) {
                    Some(n) if n == node => Ok(()),
                    Some(_) => Err(miss(true, 1)),
                    None => Err(miss(false, 0)),
                }
            }
            VertexKind::Pv => {
                self.looked(1);
                let Some(pv) = self.pvs.get(name) else { return Err(miss(false, 0)) };
                self.reaches(VertexKind::Pvc, &pv.claim.0, &pv.claim.1, node).map_err(|others| miss(true, others))
            }
            VertexKind::Secret => {
                let direct = self.reaches(kind, namespace, name, node);
                let Err(mut others) = direct else { return Ok(()) };
                let mut known = others > 0 || self.reach.contains_key(&(kind, namespace.to_owned(), name.to_owned()));
                self.looked(1);
                if let Some(pvs) = self.pvs_of_secret.get(&key(namespace, name)) {
                    known = true;
                    for pv in pvs {
                        self.looked(1);
                        if let Some(pv) = self.pvs.get(pv) {
                            match self.reaches(VertexKind::Pvc, &pv.claim.0, &pv.claim.1, node) {
                                Ok(()) => return Ok(()),
                                Err(n) => others += n,
                            }
                        }
                    }
                }
                Err(miss(known, others))
            }
            VertexKind::Pvc => match self.reaches(kind, namespace, name, node) {
                Ok(()) => Ok(()),
                Err(others) => {
                    self.looked(1);
                    let known = others > 0 || self.pvs_of_claim.contains_key(&key(namespace, name));
                    Err(miss(known, others))
                }
            },
            VertexKind::ConfigMap | VertexKind::ServiceAccount | VertexKind::ResourceClaim => {
                self.reaches(kind, namespace, name, node).map_err(|others| miss(others > 0, others))
            }
        }
    }

    /// Whether a pod on `node` references the object; else how many other nodes' pods do.
    fn reaches(&self, kind: VertexKind, namespace: &str, name: &str, node: &str) -> Result<(), usize> {
        self.looked(1);
        match self.reach.get(&(kind, namespace.to_owned(), name.to_owned())) {
            Some(per_node) if per_node.contains_key(node) => Ok(()),
            Some(per_node) => Err(per_node.len()),
            None => Err(0),
        }
    }

    /// The names of objects of `kind` in `namespace` that pods on `node` reference, sorted
    /// (for rule listings; costs the node's pods, so never used for decisions).
    pub fn referenced_by_node(&self, node: &str, kind: VertexKind, namespace: &str) -> Vec<String> {
        let mut out = BTreeSet::new();
        for (ns, name) in self.pods_on_node.get(node).into_iter().flatten() {
            if ns != namespace {
                continue;
            }
            if kind == VertexKind::Pod {
                out.insert(name.clone());
                continue;
            }
            if let Some(pod) = self.pods.get(&(ns.clone(), name.clone())) {
                out.extend(pod.refs.iter().filter(|(k, _)| *k == kind).map(|(_, n)| n.clone()));
            }
        }
        out.into_iter().collect()
    }
}

/// Decrements a count, removing it at zero.
fn release(counts: &mut HashMap<String, u32>, key: &str) {
    if let Some(c) = counts.get_mut(key) {
        *c -= 1;
        if *c == 0 {
            counts.remove(key);
        }
    }
}

fn unlink(index: &mut HashMap<NsName, BTreeSet<String>>, key: &NsName, name: &str) {
    if let Some(set) = index.get_mut(key) {
        set.remove(name);
        if set.is_empty() {
            index.remove(key);
        }
    }
}

/// Moves an object bound to one node (an attachment, a slice) to `node`; empty: removes it.
fn put_on_node(map: &mut HashMap<String, String>, node_edges: &mut HashMap<String, u32>, name: &str, node: &str) {
    if let Some(old) = map.remove(name) {
        release(node_edges, &old);
    }
    if !node.is_empty() {
        map.insert(name.to_owned(), node.to_owned());
        *node_edges.entry(node.to_owned()).or_default() += 1;
    }
}
