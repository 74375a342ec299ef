//! Who can do something: every subject named by a binding whose role allows the request, and
//! the privileged group that is allowed everything before RBAC (`kauth who-can`). The question
//! is asked of the bindings that can apply: every ClusterRoleBinding, and the RoleBindings of
//! the request's namespace.

use std::fmt;
use std::sync::Arc;

use k8s_openapi::api::rbac::v1::Subject;
use serde::{Serialize, Serializer};

use super::binding::Binding;
use super::index::RbacIndex;
use super::object_ref::ObjectRef;
use super::rules::Request;
use crate::authz::node::{self, NodeGraph, NODES_GROUP, NODE_USER_PREFIX};
use crate::authz::{Attributes, SYSTEM_MASTERS};
use crate::user::UserInfo;

/// The kinds of subject a binding can name usefully.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum SubjectKind {
    /// A group.
    Group,
    /// A service account (with its namespace).
    ServiceAccount,
    /// A user.
    User,
}

impl SubjectKind {
    /// The kind as Kubernetes spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            SubjectKind::Group => "Group",
            SubjectKind::ServiceAccount => "ServiceAccount",
            SubjectKind::User => "User",
        }
    }
}

impl fmt::Display for SubjectKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Why a subject may do it.
#[derive(Debug, Clone, PartialEq)]
pub enum Via {
    /// Membership of `system:masters`, allowed every request before RBAC runs.
    PrivilegedGroup,
    /// A binding whose role allows the request.
    Binding(Arc<Binding>),
    /// The Node authorizer (before RBAC): its static rules allow every node
    /// (`graph: false`), or the graph leads from the object to this node (`graph: true`).
    NodeAuthorizer {
        /// Whether the graph (a pod of the node referencing the object, or the node's own
        /// object) allows it rather than the static rules.
        graph: bool,
    },
}

impl fmt::Display for Via {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Via::PrivilegedGroup => f.write_str("the system:masters group (allowed every request before RBAC)"),
            Via::Binding(b) => write!(f, "{} of {} {:?}", ObjectRef::binding(b), b.role_ref.kind, b.role_ref.name),
            Via::NodeAuthorizer { graph: false } => f.write_str("the Node authorizer's static rules (every node)"),
            Via::NodeAuthorizer { graph: true } => {
                f.write_str("the Node authorizer's graph (the object is this node's, or its pods')")
            }
        }
    }
}

fn as_text<T: fmt::Display, S: Serializer>(value: &T, s: S) -> Result<S::Ok, S::Error> {
    s.collect_str(value)
}

/// A subject that may do it, and why. JSON: `kind`, `name`, `namespace` (service accounts
/// only) and `via` as text.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Grantee {
    /// The subject's kind.
    #[serde(serialize_with = "as_text")]
    pub kind: SubjectKind,
    /// The subject's name.
    pub name: String,
    /// A service account's namespace; empty for users and groups.
    #[serde(skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    /// What allows it.
    #[serde(serialize_with = "as_text")]
    pub via: Via,
}

impl Grantee {
    /// The order of the answer: kind, name, namespace, then the text of `via`.
    fn order_key(&self) -> (&'static str, String, String, String) {
        (self.kind.as_str(), self.name.clone(), self.namespace.clone(), self.via.to_string())
    }
}

/// A binding that might allow it but whose role cannot be read (so it grants nothing).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// The binding.
    pub binding: ObjectRef,
    /// Kubernetes' text for why (`clusterrole.rbac.authorization.k8s.io "r" not found`).
    pub error: String,
}

impl fmt::Display for Unresolved {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: {}", self.binding, self.error)
    }
}

/// The answer to "who can".
#[derive(Debug, Clone, PartialEq)]
pub struct WhoCan {
    /// The subjects that may: the group `system:masters` first, then the rest ordered by kind,
    /// name, namespace and binding, each pair of subject and binding once.
    pub subjects: Vec<Grantee>,
    /// The bindings whose role could not be read, in the order visited.
    pub unresolved: Vec<Unresolved>,
}

/// The grantee a binding's subject stands for; None for a subject that matches nobody (an
/// unknown kind, or a ClusterRoleBinding's ServiceAccount without a namespace).
fn grantee(s: &Subject, b: &Arc<Binding>) -> Option<Grantee> {
    let (kind, namespace) = match s.kind.as_str() {
        "User" => (SubjectKind::User, String::new()),
        "Group" => (SubjectKind::Group, String::new()),
        "ServiceAccount" => {
            let ns = s.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or(&b.namespace);
            if ns.is_empty() {
                return None;
            }
            (SubjectKind::ServiceAccount, ns.to_owned())
        }
        _ => return None,
    };
    Some(Grantee { kind, name: s.name.clone(), namespace, via: Via::Binding(Arc::clone(b)) })
}

/// Who may do what `request` asks (its user is ignored).
pub fn who_can(index: &RbacIndex, request: &Attributes) -> WhoCan {
    let allows = Request::new(request);
    let namespace = request.target.namespace();
    let mut bindings: Vec<Arc<Binding>> = index.bindings().into_iter().filter(|b| b.is_cluster()).collect();
    if !namespace.is_empty() {
        bindings.extend(index.role_bindings_in(namespace));
    }
    let mut subjects = Vec::new();
    let mut unresolved = Vec::new();
    for b in &bindings {
        match index.role_rules_of(&b.role_ref, &b.namespace) {
            Err(error) => unresolved.push(Unresolved { binding: ObjectRef::binding(b), error }),
            Ok(rules) if rules.iter().any(|r| allows.allowed_by(r)) => {
                subjects.extend(b.subjects.iter().filter_map(|s| grantee(s, b)));
            }
            Ok(_) => {}
        }
    }
    subjects.sort_by_cached_key(Grantee::order_key);
    subjects.dedup_by(|a, b| a.order_key() == b.order_key());
    let masters = Grantee {
        kind: SubjectKind::Group,
        name: SYSTEM_MASTERS.into(),
        namespace: String::new(),
        via: Via::PrivilegedGroup,
    };
    subjects.insert(0, masters);
    WhoCan { subjects, unresolved }
}

/// Who the Node authorizer allows to do what `request` asks, from `graph`: the group
/// `system:nodes` when its static rules allow any node, otherwise each node of the graph (as
/// `system:node:<name>`) the graph allows. Kubernetes runs it before RBAC in
/// `--authorization-mode=Node,RBAC`; `kauth who-can` reading a cluster adds these.
pub fn node_grantees(graph: &NodeGraph, request: &Attributes) -> Vec<Grantee> {
    let as_node = |name: &str| Attributes {
        user: UserInfo {
            name: format!("{NODE_USER_PREFIX}{name}"),
            groups: vec![NODES_GROUP.into()],
            ..UserInfo::default()
        },
        ..request.clone()
    };
    let grantee = |kind, name: String, graph| Grantee {
        kind,
        name,
        namespace: String::new(),
        via: Via::NodeAuthorizer { graph },
    };
    // No node of that name exists: only the static rules can allow it.
    if node::authorize(graph, &as_node("\u{0}")).is_allowed() {
        return vec![grantee(SubjectKind::Group, NODES_GROUP.into(), false)];
    }
    graph
        .nodes()
        .into_iter()
        .filter(|n| node::authorize(graph, &as_node(n)).is_allowed())
        .map(|n| grantee(SubjectKind::User, format!("{NODE_USER_PREFIX}{n}"), true))
        .collect()
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};

    use super::*;
    use crate::authz::Target;
    use crate::rbac::testing::{meta, role_ref, subject};
    use crate::user::UserInfo;

    fn rule(verbs: &[&str], resources: &[&str]) -> PolicyRule {
        PolicyRule {
            verbs: verbs.iter().map(|v| v.to_string()).collect(),
            api_groups: Some(vec!["".into()]),
            resources: Some(resources.iter().map(|r| r.to_string()).collect()),
            ..PolicyRule::default()
        }
    }

    fn index() -> RbacIndex {
        let mut idx = RbacIndex::new();
        idx.put_role(&Role { metadata: meta(Some("prod"), "reader"), rules: Some(vec![rule(&["get"], &["pods"])]) });
        idx.put_role_binding(&RoleBinding {
            metadata: meta(Some("prod"), "readers"),
            role_ref: role_ref("Role", "reader"),
            subjects: Some(vec![
                subject("User", "zed", None),
                subject("ServiceAccount", "ci", None),
                subject("User", "ann", None),
                subject("Robot", "r2", None),
                subject("User", "ann", None),
            ]),
        });
        idx.put_cluster_role(&ClusterRole {
            metadata: meta(None, "all-pods"),
            rules: Some(vec![rule(&["*"], &["pods"])]),
            ..ClusterRole::default()
        });
        idx.put_cluster_role_binding(&ClusterRoleBinding {
            metadata: meta(None, "ops"),
            role_ref: role_ref("ClusterRole", "all-pods"),
            subjects: Some(vec![subject("Group", "ops", None), subject("ServiceAccount", "nowhere", None)]),
        });
        idx.put_cluster_role_binding(&ClusterRoleBinding {
            metadata: meta(None, "dangling"),
            role_ref: role_ref("ClusterRole", "gone"),
            subjects: Some(vec![subject("User", "bob", None)]),
        });
        idx
    }

    fn get_pods(namespace: &str) -> Attributes {
        Attributes {
            user: UserInfo::default(),
            verb: "get".into(),
            target: Target::Resource {
                namespace: namespace.into(),
                api_group: "".into(),
                api_version: "*".into(),
                resource: "pods".into(),
                subresource: "".into(),
                name: "".into(),
            },
        }
    }

    fn who(w: &WhoCan) -> Vec<(SubjectKind, &str, &str)> {
        w.subjects.iter().map(|g| (g.kind, g.name.as_str(), g.namespace.as_str())).collect()
    }

    #[test]
    fn bindings_that_apply_name_their_subjects_in_order() {
        let w = who_can(&index(), &get_pods("prod"));
        assert_eq!(
            who(&w),
            [
                (SubjectKind::Group, "system:masters", ""),
                (SubjectKind::Group, "ops", ""),
                (SubjectKind::ServiceAccount, "ci", "prod"),
                (SubjectKind::User, "ann", ""),
                (SubjectKind::User, "zed", ""),
            ],
            "unknown kinds and a namespaceless ServiceAccount of a ClusterRoleBinding name nobody; ann once"
        );
        assert_eq!(w.subjects[0].via, Via::PrivilegedGroup);
        assert_eq!(w.subjects[3].via.to_string(), r#"RoleBinding "readers/prod" of Role "reader""#);
        assert_eq!(
            serde_json::to_value(&w.subjects[2]).ok(),
            Some(serde_json::json!({"kind": "ServiceAccount", "name": "ci", "namespace": "prod",
                "via": "RoleBinding \"readers/prod\" of Role \"reader\""}))
        );
        assert_eq!(
            w.unresolved.iter().map(ToString::to_string).collect::<Vec<_>>(),
            [r#"ClusterRoleBinding "dangling": clusterrole.rbac.authorization.k8s.io "gone" not found"#]
        );
    }

    #[test]
    fn other_namespaces_and_cluster_scope_see_only_cluster_role_bindings() {
        for ns in ["staging", ""] {
            let w = who_can(&index(), &get_pods(ns));
            assert_eq!(who(&w), [(SubjectKind::Group, "system:masters", ""), (SubjectKind::Group, "ops", "")]);
        }
        let mut delete = get_pods("prod");
        delete.verb = "delete".into();
        assert_eq!(who(&who_can(&index(), &delete)).len(), 2, "the reader role does not allow delete");
    }

    #[test]
    fn the_node_authorizer_grants_nodes_by_static_rule_or_graph() {
        let pod: k8s_openapi::api::core::v1::Pod = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "p1", "namespace": "prod"},
            "spec": {"nodeName": "n1", "containers": [{"name": "c"}],
                     "volumes": [{"name": "s", "secret": {"secretName": "s1"}}]}
        }))
        .expect("pod");
        let mut graph = NodeGraph::new();
        graph.put_pod(&pod);
        let mut other = pod.clone();
        other.metadata.name = Some("p2".into());
        other.spec.as_mut().expect("spec").node_name = Some("n2".into());
        other.spec.as_mut().expect("spec").volumes = None;
        graph.put_pod(&other);
        let ask = |verb: &str, resource: &str, name: &str| {
            let mut a = get_pods("prod");
            a.verb = verb.into();
            if let Target::Resource { resource: r, name: n, .. } = &mut a.target {
                *r = resource.into();
                *n = name.into();
            }
            node_grantees(&graph, &a)
        };
        let secret = ask("get", "secrets", "s1");
        assert_eq!(secret.len(), 1, "{secret:?}");
        assert_eq!((secret[0].kind, secret[0].name.as_str()), (SubjectKind::User, "system:node:n1"));
        assert_eq!(secret[0].via, Via::NodeAuthorizer { graph: true });
        let services = ask("get", "services", "web");
        assert_eq!((services[0].kind, services[0].name.as_str()), (SubjectKind::Group, "system:nodes"));
        assert!(services[0].via.to_string().contains("static rules"));
        assert!(ask("delete", "secrets", "s1").is_empty());
        assert!(ask("get", "secrets", "nobody-mounts-it").is_empty());
    }
}
