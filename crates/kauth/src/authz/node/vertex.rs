//! The kinds of object the Node authorizer's graph holds: a leaf the graph, the pod references
//! and the denials share.

use std::fmt;

/// The kinds of object the graph holds, named as kube-apiserver's messages name them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum VertexKind {
    /// ConfigMap.
    ConfigMap,
    /// ResourceSlice.
    ResourceSlice,
    /// Node.
    Node,
    /// Pod.
    Pod,
    /// PersistentVolumeClaim.
    Pvc,
    /// PersistentVolume.
    Pv,
    /// ResourceClaim.
    ResourceClaim,
    /// Secret.
    Secret,
    /// VolumeAttachment.
    VolumeAttachment,
    /// ServiceAccount.
    ServiceAccount,
}

impl VertexKind {
    /// The edges from this kind to a node, in words (for explanations).
    pub(crate) fn path_to_node(self) -> &'static str {
        match self {
            VertexKind::Pod => "->",
            VertexKind::Pv => "-> pvc -> pod on",
            VertexKind::Secret => "-> pod (or -> pv -> pvc -> pod) on",
            VertexKind::VolumeAttachment | VertexKind::ResourceSlice => "->",
            VertexKind::Node => "=",
            _ => "-> pod on",
        }
    }
}

impl fmt::Display for VertexKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            VertexKind::ConfigMap => "configmap",
            VertexKind::ResourceSlice => "resourceslice",
            VertexKind::Node => "node",
            VertexKind::Pod => "pod",
            VertexKind::Pvc => "pvc",
            VertexKind::Pv => "pv",
            VertexKind::ResourceClaim => "resourceclaim",
            VertexKind::Secret => "secret",
            VertexKind::VolumeAttachment => "volumeattachment",
            VertexKind::ServiceAccount => "serviceAccount",
        })
    }
}
