//! A synthetic RBAC policy of N bindings, shaped like a multi-tenant cluster, shared by the RBAC
//! benches (and printed as JSON for the server load test):
//!
//! - N/20 namespaces (at least 1), each with 3 Roles (`role-0..2`, 2 to 4 rules each);
//! - 20 ClusterRoles (`cr-0..19`, 3 to 6 rules each) plus Kubernetes' three
//!   `system:authenticated` ClusterRoleBindings (basic-user, discovery, public-info-viewer);
//! - 10% of the bindings are ClusterRoleBindings, 90% RoleBindings spread over the namespaces,
//!   each to a ClusterRole or a Role;
//! - subjects: a User `user-J` (50%, J < N/2), a Group `group-J` (40%, J < N/20) or a
//!   ServiceAccount `sa-J` (10%);
//! - the probe user `user-7` in `group-3` (and system:authenticated) holds RoleBinding `probe`
//!   in `ns-0` to Role `role-0` (get/list pods); its own bindings and groups stay a handful at
//!   every N, as a real user's do.
#![allow(dead_code)]

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kauth::authz::{Attributes, Target};
use kauth::user::UserInfo;

/// A deterministic xorshift generator: the same policy on every run.
pub struct Rng(u64);

impl Rng {
    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n.max(1) as u64) as usize
    }
}

pub struct Policy {
    pub cluster_roles: Vec<ClusterRole>,
    pub roles: Vec<Role>,
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    pub role_bindings: Vec<RoleBinding>,
}

fn meta(ns: Option<&str>, name: String) -> ObjectMeta {
    ObjectMeta { name: Some(name), namespace: ns.map(str::to_owned), ..ObjectMeta::default() }
}

const RESOURCES: &[(&str, &str)] = &[
    ("", "pods"),
    ("", "services"),
    ("", "configmaps"),
    ("", "secrets"),
    ("apps", "deployments"),
    ("apps", "statefulsets"),
    ("batch", "jobs"),
    ("", "pods/log"),
    ("networking.k8s.io", "ingresses"),
    ("", "serviceaccounts"),
];
const VERBS: &[&str] = &["get", "list", "watch", "create", "update", "patch", "delete"];

fn rules(rng: &mut Rng, count: usize) -> Vec<PolicyRule> {
    (0..count)
        .map(|_| {
            let (g, r) = RESOURCES[rng.below(RESOURCES.len())];
            let v = 1 + rng.below(3);
            PolicyRule {
                verbs: (0..v).map(|_| VERBS[rng.below(VERBS.len())].to_owned()).collect(),
                api_groups: Some(vec![g.to_owned()]),
                resources: Some(vec![r.to_owned()]),
                ..PolicyRule::default()
            }
        })
        .collect()
}

fn role_ref(kind: &str, name: String) -> RoleRef {
    RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: kind.into(), name }
}

fn subject(rng: &mut Rng, n: usize, nns: usize) -> Subject {
    let roll = rng.below(10);
    let (kind, name, ns) = if roll < 5 {
        ("User", format!("user-{}", rng.below(n / 2)), None)
    } else if roll < 9 {
        ("Group", format!("group-{}", rng.below(n / 20)), None)
    } else {
        ("ServiceAccount", format!("sa-{}", rng.below(n / 2)), Some(format!("ns-{}", rng.below(nns))))
    };
    Subject { kind: kind.into(), name, namespace: ns, api_group: None }
}

pub fn generate(n: usize) -> Policy {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ n as u64);
    let nns = (n / 20).max(1);
    let mut p = Policy { cluster_roles: vec![], roles: vec![], cluster_role_bindings: vec![], role_bindings: vec![] };
    for k in 0..20 {
        let count = 3 + rng.below(4);
        p.cluster_roles.push(ClusterRole {
            metadata: meta(None, format!("cr-{k}")),
            rules: Some(rules(&mut rng, count)),
            ..ClusterRole::default()
        });
    }
    for name in ["system:basic-user", "system:discovery", "system:public-info-viewer"] {
        p.cluster_roles.push(ClusterRole {
            metadata: meta(None, name.into()),
            rules: Some(vec![PolicyRule {
                verbs: vec!["get".into()],
                non_resource_urls: Some(vec!["/healthz".into(), "/version".into(), "/api".into(), "/api/*".into()]),
                ..PolicyRule::default()
            }]),
            ..ClusterRole::default()
        });
        p.cluster_role_bindings.push(ClusterRoleBinding {
            metadata: meta(None, name.into()),
            role_ref: role_ref("ClusterRole", name.into()),
            subjects: Some(vec![Subject {
                kind: "Group".into(),
                name: "system:authenticated".into(),
                namespace: None,
                api_group: Some("rbac.authorization.k8s.io".into()),
            }]),
        });
    }
    for i in 0..nns {
        let ns = format!("ns-{i}");
        for k in 0..3 {
            let count = 2 + rng.below(3);
            let mut rs = rules(&mut rng, count);
            if i == 0 && k == 0 {
                rs = vec![PolicyRule {
                    verbs: vec!["get".into(), "list".into()],
                    api_groups: Some(vec!["".into()]),
                    resources: Some(vec!["pods".into()]),
                    ..PolicyRule::default()
                }];
            }
            p.roles.push(Role { metadata: meta(Some(&ns), format!("role-{k}")), rules: Some(rs) });
        }
    }
    p.role_bindings.push(RoleBinding {
        metadata: meta(Some("ns-0"), "probe".into()),
        role_ref: role_ref("Role", "role-0".into()),
        subjects: Some(vec![Subject { kind: "User".into(), name: "user-7".into(), namespace: None, api_group: None }]),
    });
    let total = n.saturating_sub(p.cluster_role_bindings.len() + p.role_bindings.len());
    for b in 0..total {
        let s = subject(&mut rng, n, nns);
        if rng.below(10) == 0 {
            p.cluster_role_bindings.push(ClusterRoleBinding {
                metadata: meta(None, format!("crb-{b}")),
                role_ref: role_ref("ClusterRole", format!("cr-{}", rng.below(20))),
                subjects: Some(vec![s]),
            });
        } else {
            let ns = format!("ns-{}", rng.below(nns));
            let role_ref = if rng.below(2) == 0 {
                role_ref("ClusterRole", format!("cr-{}", rng.below(20)))
            } else {
                role_ref("Role", format!("role-{}", rng.below(3)))
            };
            p.role_bindings.push(RoleBinding {
                metadata: meta(Some(&ns), format!("rb-{b}")),
                role_ref,
                subjects: Some(vec![s]),
            });
        }
    }
    p
}

impl Policy {
    pub fn bindings(&self) -> usize {
        self.cluster_role_bindings.len() + self.role_bindings.len()
    }

    pub fn index(&self) -> kauth::rbac::RbacIndex {
        let mut idx = kauth::rbac::RbacIndex::new();
        self.cluster_roles.iter().for_each(|r| idx.put_cluster_role(r));
        self.roles.iter().for_each(|r| idx.put_role(r));
        self.cluster_role_bindings.iter().for_each(|b| idx.put_cluster_role_binding(b));
        self.role_bindings.iter().for_each(|b| idx.put_role_binding(b));
        idx
    }

    pub fn reference(&self) -> kauth::rbac::MemoryPolicy {
        let mut m = kauth::rbac::MemoryPolicy::new();
        self.cluster_roles.iter().for_each(|r| m.put_cluster_role(r));
        self.roles.iter().for_each(|r| m.put_role(r));
        m.put_cluster_role_bindings(&self.cluster_role_bindings);
        self.role_bindings.iter().for_each(|b| m.put_role_binding(b));
        m
    }
}

/// The probe user.
pub fn probe_user() -> UserInfo {
    UserInfo {
        name: "user-7".into(),
        groups: vec!["group-3".into(), "system:authenticated".into()],
        ..UserInfo::default()
    }
}

/// `verb resource` in `ns-0` by the probe user: `get pods` is allowed (by RoleBinding
/// probe), `delete secrets` is denied.
pub fn probe(verb: &str, resource: &str) -> Attributes {
    Attributes {
        user: probe_user(),
        verb: verb.into(),
        target: Target::Resource {
            namespace: "ns-0".into(),
            api_group: "".into(),
            api_version: "v1".into(),
            resource: resource.into(),
            subresource: "".into(),
            name: "x".into(),
        },
    }
}
