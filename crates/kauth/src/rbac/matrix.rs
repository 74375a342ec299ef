//! An access matrix: what one user may do to every resource, verb by verb (`kauth
//! access-matrix`). The resources are Kubernetes' built-in ones ([`super::resources`]) and every
//! resource the policy's roles name (custom resources, subresources such as `pods/exec`).

use std::collections::BTreeMap;

use super::load::PolicyDocuments;
use super::resources::{is_namespaced, KNOWN_RESOURCES};
use crate::authz::{Attributes, Authorizer, Target};
use crate::user::UserInfo;

/// One resource's row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MatrixRow {
    /// The API group (`""` for core).
    pub group: String,
    /// The resource as RBAC rules name it: `pods`, or `pods/log` for a subresource.
    pub resource: String,
    /// Whether it is namespaced (a cluster-scoped one is asked at cluster scope).
    pub namespaced: bool,
    /// Whether each verb is allowed, in the matrix's verb order.
    pub allowed: Vec<bool>,
}

impl MatrixRow {
    /// kubectl's name for it: `pods`, `pods/exec`, `deployments.apps`, `deployments.apps/scale`.
    pub fn name(&self) -> String {
        if self.group.is_empty() {
            return self.resource.clone();
        }
        let at = self.resource.find('/').unwrap_or(self.resource.len());
        let (resource, subresource) = self.resource.split_at(at);
        format!("{resource}.{}{subresource}", self.group)
    }

    /// The request one cell of the row stands for: `verb` by `user` on this resource in
    /// `namespace` (at cluster scope when the resource is cluster-scoped). `kauth inspect`
    /// explains a cell with exactly the request the matrix decided.
    pub fn attributes(&self, user: &UserInfo, verb: &str, namespace: &str) -> Attributes {
        let (resource, subresource) = self.resource.split_once('/').unwrap_or((&self.resource, ""));
        let target = Target::Resource {
            namespace: if self.namespaced { namespace.to_owned() } else { String::new() },
            api_group: self.group.clone(),
            api_version: "*".into(),
            resource: resource.to_owned(),
            subresource: subresource.to_owned(),
            name: String::new(),
        };
        Attributes { user: user.clone(), verb: verb.to_owned(), target }
    }
}

/// What one user may do, resource by resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AccessMatrix {
    /// The verbs asked, in the order given (each row's `allowed` follows it).
    pub verbs: Vec<String>,
    /// The namespace asked in (empty: cluster scope).
    pub namespace: String,
    /// The rows, by group (core first) and then resource name.
    pub rows: Vec<MatrixRow>,
}

/// The resources to ask about, `(group, resource[/subresource]) → namespaced`: the built-in
/// ones and every concrete one the roles of `policy` name (not `*`, not in group `*`).
fn resources(policy: &PolicyDocuments) -> BTreeMap<(String, String), bool> {
    let mut rows: BTreeMap<(String, String), bool> =
        KNOWN_RESOURCES.iter().map(|k| ((k.group.to_owned(), k.resource.to_owned()), k.namespaced)).collect();
    let rules = policy
        .cluster_roles
        .iter()
        .flat_map(|r| r.rules.iter().flatten())
        .chain(policy.roles.iter().flat_map(|r| r.rules.iter().flatten()));
    for rule in rules {
        for g in rule.api_groups.iter().flatten().filter(|g| *g != "*") {
            for r in rule.resources.iter().flatten().filter(|r| !r.starts_with('*')) {
                rows.entry((g.clone(), r.clone())).or_insert_with(|| is_namespaced(g, r));
            }
        }
    }
    rows
}

/// What `authorizer` allows `user` to do in `namespace` (empty: cluster scope), for each of
/// `verbs` on every resource of the matrix. A cluster-scoped resource is asked at cluster scope
/// whatever the namespace. `policy` only says which resources to list.
pub fn access_matrix(
    authorizer: &dyn Authorizer,
    policy: &PolicyDocuments,
    user: &UserInfo,
    namespace: &str,
    verbs: &[String],
) -> AccessMatrix {
    let rows = resources(policy)
        .into_iter()
        .map(|((group, resource), namespaced)| {
            let mut row = MatrixRow { group, resource, namespaced, allowed: Vec::with_capacity(verbs.len()) };
            row.allowed = verbs
                .iter()
                .map(|verb| authorizer.authorize(&row.attributes(user, verb, namespace)).is_allowed())
                .collect();
            row
        })
        .collect();
    AccessMatrix { verbs: verbs.to_vec(), namespace: namespace.to_owned(), rows }
}

#[cfg(test)]
mod tests {
    use super::*;

    const POLICY: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: deployer, namespace: team}
rules:
- apiGroups: [apps]
  resources: [deployments, deployments/scale]
  verbs: [get, update]
- apiGroups: [example.com]
  resources: [widgets, "*"]
  verbs: [get]
- apiGroups: ["*"]
  resources: [gadgets]
  verbs: [list]
- apiGroups: [""]
  resources: [nodes/proxy]
  verbs: [get]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: deployers, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: deployer}
subjects: [{kind: User, name: ann}]
"#;

    fn matrix(namespace: &str) -> AccessMatrix {
        let mut docs = PolicyDocuments::new();
        docs.parse("test", POLICY).expect("parses");
        let user = UserInfo { name: "ann".into(), ..UserInfo::default() };
        access_matrix(&docs.index(), &docs, &user, namespace, &["get".into(), "update".into()])
    }

    fn row<'m>(m: &'m AccessMatrix, name: &str) -> &'m MatrixRow {
        m.rows.iter().find(|r| r.name() == name).unwrap_or_else(|| panic!("no row {name}"))
    }

    #[test]
    fn rows_hold_built_in_and_named_resources_with_each_verb() {
        let m = matrix("team");
        assert_eq!(
            m.rows.len(),
            KNOWN_RESOURCES.len() + 3,
            "deployments/scale, widgets and nodes/proxy added; not `*`, not in group `*`"
        );
        assert_eq!(row(&m, "deployments.apps").allowed, [true, true]);
        assert_eq!(row(&m, "deployments.apps/scale").allowed, [true, true]);
        assert_eq!(row(&m, "widgets.example.com").allowed, [true, false]);
        assert_eq!(row(&m, "pods").allowed, [false, false]);
        let proxy = row(&m, "nodes/proxy");
        assert!(!proxy.namespaced, "a subresource has its resource's scope");
        assert_eq!(proxy.allowed, [false, false], "a cluster-scoped resource is asked at cluster scope");
        assert!(row(&m, "widgets.example.com").namespaced, "unknown resources are namespaced");
        assert_eq!(m.rows.first().map(MatrixRow::name).as_deref(), Some("configmaps"), "core first, by name");
        assert!(matrix("elsewhere").rows.iter().all(|r| r.allowed == [false, false]));
    }
}
