//! The Node authorizer, as kube-apiserver 1.32's (`plugin/pkg/auth/authorizer/node`): a kubelet
//! (`system:node:<name>` in `system:nodes`) may read the secrets, configmaps, volumes and claims
//! its pods reference, request tokens for its pods' service accounts, read and write its own
//! Node, Lease and CSINode, and what the static node rules allow (events, services, CSRs, ...);
//! nothing else. Everyone else gets no opinion, so RBAC decides.
//!
//! - [`graph`]: the [`NodeGraph`], fed every change of pods (and volumes, attachments, slices),
//!   answering "does this object lead to that node" in a few hash lookups.
//! - [`pod_refs`]: what a pod's spec references.
//! - [`authorizer`]: the decision ([`authorize`]) and the rules a node can be told
//!   ([`rules_for`]).
//! - [`rules`]: the static node rules.
//! - [`vertex`]: the kinds of object in the graph.
//! - [`denial`]: the typed reasons, with kube-apiserver's texts and the missing edge.

pub mod authorizer;
pub mod denial;
pub mod graph;
pub mod pod_refs;
pub mod rules;
pub mod vertex;

pub use authorizer::{authorize, node_identity, rules_for, NODES_GROUP, NODE_USER_PREFIX};
pub use denial::{GraphMiss, NodeDenial};
pub use graph::NodeGraph;
pub use pod_refs::PodRefs;
pub use vertex::VertexKind;

#[cfg(test)]
mod tests;
