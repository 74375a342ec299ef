//! The Node authorizer's decision, as kube-apiserver 1.32's `NodeAuthorizer.Authorize` with its
//! default feature gates (`AuthorizeNodeWithSelectors` on): secrets, configmaps, persistent
//! volumes and claims, resource claims, volume attachments, service-account tokens and pods
//! through the graph; leases, CSINodes, resource slices and nodes by name; everything else by
//! the static rules. Requests from anyone but a node get no opinion, and so does every request
//! it does not allow: the next authorizer (RBAC) decides.

use super::denial::{NodeDenial, NODE_LEASE_NAMESPACE};
use super::graph::NodeGraph;
use super::rules::{static_rules_allow, NODE_RULES};
use super::vertex::VertexKind;
use crate::authz::{Attributes, Authorizer, Decision, Reason, ResourceRule, Rules, Target};
use crate::user::UserInfo;

/// The group every node's user is in.
pub const NODES_GROUP: &str = "system:nodes";
/// The prefix of a node's user name.
pub const NODE_USER_PREFIX: &str = "system:node:";

/// kube-apiserver's text when a node asks for its rules.
pub const RULES_NOT_SUPPORTED: &str = "node authorizer does not support user rule resolution";

/// The node a user is (`system:node:<name>` in `system:nodes`); `Some("")` for a node user
/// without a name; `None` for anyone else.
pub fn node_identity(user: &UserInfo) -> Option<&str> {
    let name = user.name.strip_prefix(NODE_USER_PREFIX)?;
    user.groups.iter().any(|g| g == NODES_GROUP).then_some(name)
}

fn no(d: NodeDenial) -> Decision {
    Decision::NoOpinion(Reason::Node(d))
}

const ALLOW: Decision = Decision::Allow(Reason::None);

/// The request as the switch reads it.
struct Req<'a> {
    node: &'a str,
    verb: &'a str,
    namespace: &'a str,
    subresource: &'a str,
    name: &'a str,
}

/// The Node authorizer's decision on `a`, reading `graph`.
pub fn authorize(graph: &NodeGraph, a: &Attributes) -> Decision {
    let Some(node) = node_identity(&a.user) else { return Decision::NoOpinion(Reason::None) };
    if node.is_empty() {
        return no(NodeDenial::UnknownNodeUser { user: a.user.name.clone() });
    }
    if let Target::Resource { namespace, api_group, resource, subresource, name, .. } = &a.target {
        let r = Req { node, verb: &a.verb, namespace, subresource, name };
        let decided = match (api_group.as_str(), resource.as_str()) {
            ("", "secrets") => Some(read_namespaced(graph, &r, VertexKind::Secret)),
            ("", "configmaps") => Some(read_namespaced(graph, &r, VertexKind::ConfigMap)),
            ("", "persistentvolumeclaims") if r.subresource == "status" => Some(status_update(graph, &r)),
            ("", "persistentvolumeclaims") => Some(get(graph, &r, VertexKind::Pvc)),
            ("", "persistentvolumes") => Some(get(graph, &r, VertexKind::Pv)),
            ("resource.k8s.io", "resourceclaims") => Some(get(graph, &r, VertexKind::ResourceClaim)),
            ("storage.k8s.io", "volumeattachments") => Some(get(graph, &r, VertexKind::VolumeAttachment)),
            ("", "serviceaccounts") => Some(create_token(graph, &r)),
            ("coordination.k8s.io", "leases") => Some(lease(&r)),
            ("storage.k8s.io", "csinodes") => Some(csi_node(&r)),
            ("resource.k8s.io", "resourceslices") => Some(resource_slice(graph, &r)),
            ("", "nodes") => Some(node_object(&r)),
            ("", "pods") => Some(pod(graph, &r)),
            _ => None,
        };
        if let Some(d) = decided {
            return d;
        }
    }
    if static_rules_allow(a) {
        ALLOW
    } else {
        Decision::NoOpinion(Reason::None)
    }
}

/// `authorizeStatusUpdate`: a PVC's status, update or patch.
fn status_update(graph: &NodeGraph, r: &Req<'_>) -> Decision {
    if !matches!(r.verb, "update" | "patch") {
        return no(NodeDenial::OnlyStatusVerbs);
    }
    if r.subresource != "status" {
        return no(NodeDenial::OnlyStatusSubresource);
    }
    related(graph, r, VertexKind::Pvc)
}

/// `authorizeGet`: one object, get only, no subresource.
fn get(graph: &NodeGraph, r: &Req<'_>, kind: VertexKind) -> Decision {
    if r.verb != "get" {
        return no(NodeDenial::OnlyGet);
    }
    if !r.subresource.is_empty() {
        return no(NodeDenial::GetSubresource);
    }
    related(graph, r, kind)
}

/// `authorizeReadNamespacedObject`: get, list or watch one named object in a namespace.
fn read_namespaced(graph: &NodeGraph, r: &Req<'_>, kind: VertexKind) -> Decision {
    if !matches!(r.verb, "get" | "list" | "watch") {
        return no(NodeDenial::OnlyRead);
    }
    if !r.subresource.is_empty() {
        return no(NodeDenial::ReadSubresource);
    }
    if r.namespace.is_empty() {
        return no(NodeDenial::OnlyNamespacedRead);
    }
    related(graph, r, kind)
}

/// `authorize`: a named object related to the node in the graph.
fn related(graph: &NodeGraph, r: &Req<'_>, kind: VertexKind) -> Decision {
    if r.name.is_empty() {
        return no(NodeDenial::NoObjectName);
    }
    path(graph, r, kind)
}

fn path(graph: &NodeGraph, r: &Req<'_>, kind: VertexKind) -> Decision {
    match graph.relationship(r.node, kind, r.namespace, r.name) {
        Ok(()) => ALLOW,
        Err(miss) => no(NodeDenial::NoRelationship { node: r.node.to_owned(), miss }),
    }
}

/// `authorizeCreateToken`: a token for a service account a pod on the node runs as.
fn create_token(graph: &NodeGraph, r: &Req<'_>) -> Decision {
    if r.verb != "create" || r.name.is_empty() {
        return no(NodeDenial::OnlyCreateToken);
    }
    if r.subresource != "token" {
        return no(NodeDenial::OnlyTokenSubresource);
    }
    path(graph, r, VertexKind::ServiceAccount)
}

/// `authorizeLease`: the node's own lease in `kube-node-lease`.
fn lease(r: &Req<'_>) -> Decision {
    if !matches!(r.verb, "get" | "create" | "update" | "patch" | "delete") {
        return no(NodeDenial::LeaseVerb);
    }
    if r.namespace != NODE_LEASE_NAMESPACE {
        return no(NodeDenial::LeaseNamespace);
    }
    // A create names no object; kube-apiserver's NodeRestriction admission checks it.
    if r.verb != "create" && r.name != r.node {
        return no(NodeDenial::LeaseName);
    }
    ALLOW
}

/// `authorizeCSINode`: the node's own CSINode.
fn csi_node(r: &Req<'_>) -> Decision {
    if !matches!(r.verb, "get" | "create" | "update" | "patch" | "delete") {
        return no(NodeDenial::CsiNodeVerb);
    }
    if !r.subresource.is_empty() {
        return no(NodeDenial::CsiNodeSubresource);
    }
    if r.verb != "create" && r.name != r.node {
        return no(NodeDenial::CsiNodeName);
    }
    ALLOW
}

/// `authorizeResourceSlice`. kauth's attributes carry no field selector, so a list, watch or
/// deletecollection is never scoped to the node and gets the selector denial.
fn resource_slice(graph: &NodeGraph, r: &Req<'_>) -> Decision {
    if !r.subresource.is_empty() {
        return no(NodeDenial::ResourceSliceSubresource);
    }
    match r.verb {
        "create" => ALLOW,
        "get" | "update" | "patch" | "delete" => related(graph, r, VertexKind::ResourceSlice),
        "watch" | "list" | "deletecollection" => no(NodeDenial::ResourceSliceSelector),
        _ => no(NodeDenial::ResourceSliceVerb),
    }
}

/// `authorizeNode`: writes (NodeRestriction limits them to the node's own object), reads of
/// its own object only.
fn node_object(r: &Req<'_>) -> Decision {
    match (r.subresource, r.verb) {
        ("", "create" | "update" | "patch") | ("status", "update" | "patch") => ALLOW,
        ("", "get" | "list" | "watch") if r.name == r.node => ALLOW,
        ("", "get" | "list" | "watch") if r.name.is_empty() => no(NodeDenial::ReadAllNodes { node: r.node.to_owned() }),
        ("", "get" | "list" | "watch") => {
            no(NodeDenial::ReadOtherNode { node: r.node.to_owned(), other: r.name.to_owned() })
        }
        _ => no(NodeDenial::NotAllowed),
    }
}

/// `authorizePod`: a pod bound to the node; mirror pods' create and delete, status, eviction.
/// A list or watch scoped by `spec.nodeName` is allowed by kube-apiserver; kauth's attributes
/// carry no field selector, so only a named one is.
fn pod(graph: &NodeGraph, r: &Req<'_>) -> Decision {
    match (r.subresource, r.verb) {
        ("", "get") => get(graph, r, VertexKind::Pod),
        ("", "list" | "watch") if !r.name.is_empty() => path(graph, r, VertexKind::Pod),
        ("", "list" | "watch") => no(NodeDenial::PodSelector),
        ("", "create" | "delete") | ("status", "update" | "patch") | ("eviction", "create") => ALLOW,
        _ => no(NodeDenial::NotAllowed),
    }
}

/// What a node may do in `namespace`, as far as rules can say it: the static rules of the
/// resources the graph does not subdivide, the node's own objects by name, and the objects its
/// pods reference by name. Always `incomplete` with kube-apiserver's text, which lists nothing:
/// a pod list scoped by `spec.nodeName` and the persistent-volume paths have no rule form.
/// Nobody else gets anything from this authorizer.
pub fn rules_for(graph: &NodeGraph, user: &UserInfo, namespace: &str) -> Rules {
    let Some(node) = node_identity(user) else { return Rules::default() };
    let mut out = Rules { incomplete: true, evaluation_error: RULES_NOT_SUPPORTED.to_owned(), ..Rules::default() };
    if node.is_empty() {
        return out;
    }
    let subdivided = |group: &str, resource: &str| {
        let resource = resource.split('/').next().unwrap_or_default();
        matches!(
            (group, resource),
            (
                "",
                "secrets"
                    | "configmaps"
                    | "persistentvolumeclaims"
                    | "persistentvolumes"
                    | "serviceaccounts"
                    | "nodes"
                    | "pods"
            ) | ("storage.k8s.io", "volumeattachments" | "csinodes")
                | ("coordination.k8s.io", "leases")
                | ("resource.k8s.io", _)
        )
    };
    for r in NODE_RULES {
        let mut rule = r.to_resource_rule();
        rule.resources.retain(|res| !subdivided(r.api_groups[0], res));
        if !rule.resources.is_empty() {
            out.resource_rules.push(rule);
        }
    }
    let own = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect::<Vec<_>>();
    let mut push = |verbs: &[&str], group: &str, resources: &[&str], names: Vec<String>| {
        out.resource_rules.push(ResourceRule {
            verbs: own(verbs),
            api_groups: vec![group.to_owned()],
            resources: own(resources),
            resource_names: names,
        })
    };
    let me = || vec![node.to_owned()];
    push(&["create", "update", "patch"], "", &["nodes"], vec![]);
    push(&["update", "patch"], "", &["nodes/status"], vec![]);
    push(&["get", "list", "watch"], "", &["nodes"], me());
    push(&["create", "delete"], "", &["pods"], vec![]);
    push(&["update", "patch"], "", &["pods/status"], vec![]);
    push(&["create"], "", &["pods/eviction"], vec![]);
    push(&["create"], "storage.k8s.io", &["csinodes"], vec![]);
    push(&["get", "update", "patch", "delete"], "storage.k8s.io", &["csinodes"], me());
    push(&["create"], "resource.k8s.io", &["resourceslices"], vec![]);
    if namespace == NODE_LEASE_NAMESPACE {
        push(&["create"], "coordination.k8s.io", &["leases"], vec![]);
        push(&["get", "update", "patch", "delete"], "coordination.k8s.io", &["leases"], me());
    }
    if !namespace.is_empty() {
        let names = |kind| graph.referenced_by_node(node, kind, namespace);
        for (verbs, resources, kind) in [
            (&["get", "list", "watch"][..], &["pods"][..], VertexKind::Pod),
            (&["get", "list", "watch"], &["secrets"], VertexKind::Secret),
            (&["get", "list", "watch"], &["configmaps"], VertexKind::ConfigMap),
            (&["create"], &["serviceaccounts/token"], VertexKind::ServiceAccount),
            (&["get"], &["persistentvolumeclaims"], VertexKind::Pvc),
            (&["update", "patch"], &["persistentvolumeclaims/status"], VertexKind::Pvc),
        ] {
            let names = names(kind);
            if !names.is_empty() {
                push(verbs, "", resources, names);
            }
        }
        let claims = names(VertexKind::ResourceClaim);
        if !claims.is_empty() {
            push(&["get"], "resource.k8s.io", &["resourceclaims"], claims);
        }
    }
    out
}

/// The Node authorizer over a graph held by the caller (the CLI's graph of a cluster's pods;
/// kauth serve's is behind the registry's lock).
impl Authorizer for NodeGraph {
    fn authorize(&self, a: &Attributes) -> Decision {
        authorize(self, a)
    }

    fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules {
        rules_for(self, user, namespace)
    }
}
