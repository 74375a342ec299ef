//! Why the Node authorizer did not allow a node's request. `Display` gives kube-apiserver's
//! reason text exactly (what a 403 and a SubjectAccessReview say); [`NodeDenial::detail`] gives
//! operators the cause behind it, naming the missing edge of the graph.

use std::fmt;

use super::vertex::VertexKind;

/// The namespace node leases live in.
pub const NODE_LEASE_NAMESPACE: &str = "kube-node-lease";

/// Why the graph holds no path from an object to the requesting node (kube-apiserver logs these
/// and answers "no relationship found" for all of them).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum GraphMiss {
    /// No pod, volume attachment or resource slice is bound to the node: it is not in the graph.
    UnknownNode {
        /// The requesting node.
        node: String,
        /// The object's kind.
        kind: VertexKind,
        /// The object's namespace (empty for cluster-scoped kinds).
        namespace: String,
        /// The object's name.
        name: String,
    },
    /// Nothing bound to any node references the object: it is not in the graph.
    UnknownObject {
        /// The requesting node.
        node: String,
        /// The object's kind.
        kind: VertexKind,
        /// The object's namespace.
        namespace: String,
        /// The object's name.
        name: String,
    },
    /// The object is in the graph, but only on paths to other nodes.
    NoPath {
        /// The requesting node.
        node: String,
        /// The object's kind.
        kind: VertexKind,
        /// The object's namespace.
        namespace: String,
        /// The object's name.
        name: String,
        /// How many other nodes it leads to.
        other_nodes: usize,
    },
}

impl GraphMiss {
    /// The edge that would have allowed the request, in words.
    pub fn missing_edge(&self) -> String {
        let (node, kind, ns, name) = match self {
            GraphMiss::UnknownNode { node, kind, namespace, name }
            | GraphMiss::UnknownObject { node, kind, namespace, name }
            | GraphMiss::NoPath { node, kind, namespace, name, .. } => (node, *kind, namespace, name),
        };
        let via = kind.path_to_node();
        match self {
            GraphMiss::UnknownNode { .. } => {
                format!("no pod, volume attachment or resource slice is bound to node {node:?}; missing edge: {kind} {ns}/{name} {via} node {node:?}")
            }
            GraphMiss::UnknownObject { .. } => {
                format!("nothing bound to any node references {kind} {ns}/{name}; missing edge: {kind} {ns}/{name} {via} node {node:?}")
            }
            GraphMiss::NoPath { other_nodes, .. } => format!(
                "{kind} {ns}/{name} leads to {other_nodes} other node(s) only; missing edge: {kind} {ns}/{name} {via} node {node:?}"
            ),
        }
    }
}

impl fmt::Display for GraphMiss {
    /// kube-apiserver's log text (`hasPathFrom`'s errors).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            GraphMiss::UnknownNode { node, kind, namespace, name } => {
                write!(f, "unknown node '{node}' cannot get {kind} {namespace}/{name}")
            }
            GraphMiss::UnknownObject { node, kind, namespace, name } => {
                write!(f, "node '{node}' cannot get unknown {kind} {namespace}/{name}")
            }
            GraphMiss::NoPath { node, kind, namespace, name, .. } => write!(
                f,
                "node '{node}' cannot get {kind} {namespace}/{name}, no relationship to this object was found in the node authorizer graph"
            ),
        }
    }
}

/// The Node authorizer's no-opinion reasons, one variant per text kube-apiserver 1.32 gives.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NodeDenial {
    /// The user is `system:node:` with no name.
    UnknownNodeUser {
        /// The user's name.
        user: String,
    },
    /// The object is not related to the node in the graph.
    NoRelationship {
        /// The requesting node.
        node: String,
        /// Why (for operators).
        miss: GraphMiss,
    },
    /// A request with no object name where one is needed.
    NoObjectName,
    /// Secrets and configmaps: a verb other than get, list, watch.
    OnlyRead,
    /// Secrets and configmaps: a subresource.
    ReadSubresource,
    /// Secrets and configmaps: a request across namespaces.
    OnlyNamespacedRead,
    /// PVCs, PVs, resource claims, volume attachments, pods: a verb other than get.
    OnlyGet,
    /// The same kinds: a subresource.
    GetSubresource,
    /// A PVC's status: a verb other than update or patch.
    OnlyStatusVerbs,
    /// A PVC's subresource other than status.
    OnlyStatusSubresource,
    /// Service accounts: anything but creating a named one's token.
    OnlyCreateToken,
    /// Service accounts: a subresource other than token.
    OnlyTokenSubresource,
    /// Leases: a verb outside get, create, update, patch, delete.
    LeaseVerb,
    /// Leases outside `kube-node-lease`.
    LeaseNamespace,
    /// Another node's lease.
    LeaseName,
    /// CSINodes: a verb outside get, create, update, patch, delete.
    CsiNodeVerb,
    /// CSINodes: a subresource.
    CsiNodeSubresource,
    /// Another node's CSINode.
    CsiNodeName,
    /// ResourceSlices: a subresource.
    ResourceSliceSubresource,
    /// ResourceSlices: a list, watch or deletecollection without the node's field selector.
    ResourceSliceSelector,
    /// ResourceSlices: another verb.
    ResourceSliceVerb,
    /// Nodes: a list or watch of every node.
    ReadAllNodes {
        /// The requesting node.
        node: String,
    },
    /// Nodes: a read of another node.
    ReadOtherNode {
        /// The requesting node.
        node: String,
        /// The node asked for.
        other: String,
    },
    /// Pods: a list or watch without the node's field selector.
    PodSelector,
    /// Nodes and pods: a verb or subresource the authorizer leaves to no one (kube-apiserver
    /// gives no text).
    NotAllowed,
}

impl NodeDenial {
    /// What operators read in the log and the audit event: the cause behind the text.
    pub fn detail(&self) -> String {
        match self {
            NodeDenial::NoRelationship { miss, .. } => format!("{miss} ({})", miss.missing_edge()),
            NodeDenial::NotAllowed => {
                "the Node authorizer allows nodes this verb and subresource on no object".to_owned()
            }
            other => other.to_string(),
        }
    }
}

impl fmt::Display for NodeDenial {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            NodeDenial::UnknownNodeUser { user } => write!(f, "unknown node for user {user:?}"),
            NodeDenial::NoRelationship { node, .. } => {
                write!(f, "no relationship found between node '{node}' and this object")
            }
            NodeDenial::NoObjectName => f.write_str("No Object name found"),
            NodeDenial::OnlyRead => f.write_str("can only read resources of this type"),
            NodeDenial::ReadSubresource => f.write_str("cannot read subresource"),
            NodeDenial::OnlyNamespacedRead => f.write_str("can only read namespaced object of this type"),
            NodeDenial::OnlyGet => f.write_str("can only get individual resources of this type"),
            NodeDenial::GetSubresource => f.write_str("cannot get subresource"),
            NodeDenial::OnlyStatusVerbs => f.write_str("can only get/update/patch this type"),
            NodeDenial::OnlyStatusSubresource => f.write_str("can only update status subresource"),
            NodeDenial::OnlyCreateToken => f.write_str("can only create tokens for individual service accounts"),
            NodeDenial::OnlyTokenSubresource => f.write_str("can only create token subresource of serviceaccount"),
            NodeDenial::LeaseVerb => f.write_str("can only get, create, update, patch, or delete a node lease"),
            NodeDenial::LeaseNamespace => {
                write!(f, "can only access leases in the {NODE_LEASE_NAMESPACE:?} system namespace")
            }
            NodeDenial::LeaseName => f.write_str("can only access node lease with the same name as the requesting node"),
            NodeDenial::CsiNodeVerb => f.write_str("can only get, create, update, patch, or delete a CSINode"),
            NodeDenial::CsiNodeSubresource => f.write_str("cannot authorize CSINode subresources"),
            NodeDenial::CsiNodeName => f.write_str("can only access CSINode with the same name as the requesting node"),
            NodeDenial::ResourceSliceSubresource => f.write_str("cannot authorize ResourceSlice subresources"),
            NodeDenial::ResourceSliceSelector => {
                f.write_str("can only list/watch/deletecollection resourceslices with nodeName field selector")
            }
            NodeDenial::ResourceSliceVerb => f.write_str(
                "only the following verbs are allowed for a ResourceSlice: get, watch, list, create, update, patch, delete, deletecollection",
            ),
            NodeDenial::ReadAllNodes { node } => {
                write!(f, "node '{node}' cannot read all nodes, only its own Node object")
            }
            NodeDenial::ReadOtherNode { node, other } => {
                write!(f, "node '{node}' cannot read '{other}', only its own Node object")
            }
            NodeDenial::PodSelector => f.write_str("can only list/watch pods with spec.nodeName field selector"),
            NodeDenial::NotAllowed => Ok(()),
        }
    }
}
