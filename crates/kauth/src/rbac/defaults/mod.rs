//! Kubernetes 1.32's complete default RBAC policy (kube-apiserver's bootstrap ClusterRoles,
//! controller roles, ClusterRoleBindings, Roles and RoleBindings), and kubeadm's objects beside
//! it, as data: [`policy`].
//!
//! The objects live in YAML files beside this one, embedded with `include_str!` and parsed into
//! k8s-openapi types, rather than built by Rust functions, because:
//! - the default policy's six files are the expected output Kubernetes keeps for its bootstrap
//!   policy (`plugin/pkg/auth/authorizer/rbac/bootstrappolicy/testdata`), unchanged: a review
//!   compares them with Kubernetes' byte for byte, and a server test compares what kauth serves
//!   with them;
//! - kubeadm's objects (`kubeadm:get-nodes`, `kubeadm:cluster-admins`, the node bootstrap and
//!   auto-approval bindings, `kubeadm:bootstrap-signer-clusterinfo`) are kubeadm's, not
//!   kube-apiserver's: they are in their own `kubeadm-*.yaml` files, unlabelled, never reconciled;
//! - a role is data an operator reads (and `kubectl apply`s) as it is, not code to run in one's
//!   head.
//!
//! Parsing happens on each call (once at a server's start); the unit tests hold every file
//! parseable, so [`policy`]'s error is for a broken build, reported rather than panicked on.

use std::fmt;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::de::DeserializeOwned;
use serde::Deserialize;

/// The annotation that lets the server reset a default object to its default at start; an
/// operator removes it (or sets it to `false`) to keep their own changes.
pub const AUTOUPDATE_ANNOTATION: &str = "rbac.authorization.kubernetes.io/autoupdate";

/// The label every object of Kubernetes' default policy carries, with value [`BOOTSTRAPPING_VALUE`].
pub const BOOTSTRAPPING_LABEL: &str = "kubernetes.io/bootstrapping";

/// The value of [`BOOTSTRAPPING_LABEL`] on the default policy.
pub const BOOTSTRAPPING_VALUE: &str = "rbac-defaults";

/// A file, by name (the name is what an error reports).
type File = (&'static str, &'static str);

macro_rules! file {
    ($name:literal) => {
        ($name, include_str!($name))
    };
}

/// The files of each kind, in the order the server creates their objects.
const CLUSTER_ROLES: &[File] =
    &[file!("cluster-roles.yaml"), file!("controller-roles.yaml"), file!("kubeadm-cluster-roles.yaml")];
const CLUSTER_ROLE_BINDINGS: &[File] = &[
    file!("cluster-role-bindings.yaml"),
    file!("controller-role-bindings.yaml"),
    file!("kubeadm-cluster-role-bindings.yaml"),
];
const ROLES: &[File] = &[file!("namespace-roles.yaml"), file!("kubeadm-roles.yaml")];
const ROLE_BINDINGS: &[File] = &[file!("namespace-role-bindings.yaml"), file!("kubeadm-role-bindings.yaml")];

/// Kubernetes' own files of the default policy (no kubeadm object), by name: what a test compares
/// a server's objects with.
pub const KUBERNETES_FILES: &[File] = &[
    file!("cluster-roles.yaml"),
    file!("controller-roles.yaml"),
    file!("cluster-role-bindings.yaml"),
    file!("controller-role-bindings.yaml"),
    file!("namespace-roles.yaml"),
    file!("namespace-role-bindings.yaml"),
];

/// The default policy, in the order the server creates it.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct DefaultPolicy {
    /// ClusterRoles (`admin`, `edit` and `view` unfilled: aggregation fills them).
    pub cluster_roles: Vec<ClusterRole>,
    /// ClusterRoleBindings.
    pub cluster_role_bindings: Vec<ClusterRoleBinding>,
    /// Roles, each with its namespace.
    pub roles: Vec<Role>,
    /// RoleBindings, each with its namespace.
    pub role_bindings: Vec<RoleBinding>,
}

/// An embedded policy file that does not parse (a broken build: the unit tests parse them all).
#[derive(Debug)]
pub struct DefaultPolicyError {
    /// The file.
    pub file: &'static str,
    /// Why.
    pub source: serde_norway::Error,
}

impl fmt::Display for DefaultPolicyError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "the default RBAC policy's {} does not parse: {}", self.file, self.source)
    }
}

impl std::error::Error for DefaultPolicyError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// A `kind: List` document: only its items are read.
#[derive(Deserialize)]
struct List<T> {
    items: Vec<T>,
}

fn parse<T: DeserializeOwned>((file, text): (&'static str, &str)) -> Result<Vec<T>, DefaultPolicyError> {
    serde_norway::from_str::<List<T>>(text).map(|l| l.items).map_err(|source| DefaultPolicyError { file, source })
}

fn parse_all<T: DeserializeOwned>(files: &[File]) -> Result<Vec<T>, DefaultPolicyError> {
    let mut out = Vec::new();
    for f in files {
        out.extend(parse(*f)?);
    }
    Ok(out)
}

/// Kubernetes 1.32's default policy, then kubeadm's objects.
pub fn policy() -> Result<DefaultPolicy, DefaultPolicyError> {
    Ok(DefaultPolicy {
        cluster_roles: parse_all(CLUSTER_ROLES)?,
        cluster_role_bindings: parse_all(CLUSTER_ROLE_BINDINGS)?,
        roles: parse_all(ROLES)?,
        role_bindings: parse_all(ROLE_BINDINGS)?,
    })
}

/// Whether an object is part of Kubernetes' default policy ([`BOOTSTRAPPING_LABEL`] is
/// [`BOOTSTRAPPING_VALUE`]).
pub fn is_default(meta: &ObjectMeta) -> bool {
    meta.labels.as_ref().and_then(|l| l.get(BOOTSTRAPPING_LABEL)).is_some_and(|v| v == BOOTSTRAPPING_VALUE)
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use k8s_openapi::api::rbac::v1::RoleRef;

    use super::*;
    use crate::rbac::aggregate::aggregated_rules;

    fn name(meta: &ObjectMeta) -> (&str, &str) {
        (meta.namespace.as_deref().unwrap_or_default(), meta.name.as_deref().unwrap_or_default())
    }

    fn unique<'a>(kind: &str, metas: impl Iterator<Item = &'a ObjectMeta>) -> BTreeSet<(&'a str, &'a str)> {
        let mut seen = BTreeSet::new();
        for m in metas {
            assert!(!name(m).1.is_empty(), "a {kind} without a name");
            assert!(seen.insert(name(m)), "{kind} {:?} twice", name(m));
        }
        seen
    }

    #[test]
    fn every_file_parses_and_names_are_unique() {
        let p = policy().expect("the embedded policy parses");
        let roles = unique("ClusterRole", p.cluster_roles.iter().map(|r| &r.metadata));
        unique("ClusterRoleBinding", p.cluster_role_bindings.iter().map(|b| &b.metadata));
        unique("Role", p.roles.iter().map(|r| &r.metadata));
        unique("RoleBinding", p.role_bindings.iter().map(|b| &b.metadata));
        for must in ["cluster-admin", "admin", "edit", "view", "system:basic-user", "system:discovery"] {
            assert!(roles.contains(&("", must)), "{must} missing");
        }
        assert!(p.roles.iter().all(|r| r.metadata.namespace.is_some()), "a Role needs its namespace");
        assert!(p.role_bindings.iter().all(|b| b.metadata.namespace.is_some()), "a RoleBinding needs its namespace");
    }

    #[test]
    fn the_complete_policy_is_there() {
        let p = policy().expect("parses");
        // Kubernetes 1.32: 31 + 33 ClusterRoles, 12 + 33 ClusterRoleBindings, 7 Roles, 7 RoleBindings;
        // kubeadm adds 1, 5, 1 and 1.
        assert_eq!(p.cluster_roles.len(), 31 + 33 + 1);
        assert_eq!(p.cluster_role_bindings.len(), 12 + 33 + 5);
        assert_eq!((p.roles.len(), p.role_bindings.len()), (7 + 1, 7 + 1));
        let named = |n: &str| p.cluster_roles.iter().any(|r| r.metadata.name.as_deref() == Some(n));
        for n in
            ["system:node", "system:kube-scheduler", "system:controller:deployment-controller", "system:monitoring"]
        {
            assert!(named(n), "{n}");
        }
    }

    #[test]
    fn a_broken_file_is_an_error_naming_it() {
        let e = parse::<ClusterRole>(("broken.yaml", "items: [{metadata: 3}]")).expect_err("not a ClusterRole");
        assert_eq!(e.file, "broken.yaml");
        assert!(e.to_string().starts_with("the default RBAC policy's broken.yaml does not parse: "), "{e}");
    }

    #[test]
    fn every_binding_s_role_exists() {
        let p = policy().expect("parses");
        let cluster_roles: BTreeSet<&str> = p.cluster_roles.iter().map(|r| name(&r.metadata).1).collect();
        let roles: BTreeSet<(&str, &str)> = p.roles.iter().map(|r| name(&r.metadata)).collect();
        let exists = |r: &RoleRef, ns: &str| {
            assert_eq!(r.api_group, "rbac.authorization.k8s.io", "{r:?}");
            match r.kind.as_str() {
                "ClusterRole" => cluster_roles.contains(r.name.as_str()),
                "Role" => roles.contains(&(ns, r.name.as_str())),
                _ => false,
            }
        };
        for b in &p.cluster_role_bindings {
            assert_eq!(b.role_ref.kind, "ClusterRole", "{:?}", b.metadata.name);
            assert!(exists(&b.role_ref, ""), "{:?} binds a missing {:?}", b.metadata.name, b.role_ref);
            // Kubernetes keeps `system:node` bound to nobody (the Node authorizer serves nodes).
            let nobody = b.subjects.as_deref().unwrap_or_default().is_empty();
            assert_eq!(nobody, b.metadata.name.as_deref() == Some("system:node"), "{:?}", b.metadata.name);
        }
        for b in &p.role_bindings {
            let ns = name(&b.metadata).0;
            assert!(exists(&b.role_ref, ns), "{:?} binds a missing {:?}", name(&b.metadata), b.role_ref);
        }
    }

    #[test]
    fn defaults_carry_the_bootstrapping_label_and_autoupdate() {
        let p = policy().expect("parses");
        let metas = p
            .cluster_roles
            .iter()
            .map(|r| &r.metadata)
            .chain(p.cluster_role_bindings.iter().map(|b| &b.metadata))
            .chain(p.roles.iter().map(|r| &r.metadata))
            .chain(p.role_bindings.iter().map(|b| &b.metadata));
        for m in metas {
            // kubeadm's binding of admin.conf's group is kubeadm's, not Kubernetes' default.
            let kubeadm = name(m).1.starts_with("kubeadm:");
            assert_eq!(is_default(m), !kubeadm, "{:?}", m.name);
            let auto = m.annotations.as_ref().and_then(|a| a.get(AUTOUPDATE_ANNOTATION)).map(String::as_str);
            assert_eq!(auto, (!kubeadm).then_some("true"), "{:?}", m.name);
        }
    }

    /// admin, edit and view each aggregate `aggregate-to-<itself>` (and get its
    /// `system:aggregate-to-<itself>` rules), and edit and view are themselves labelled into the
    /// next one up, as in Kubernetes.
    #[test]
    fn admin_edit_and_view_aggregate_by_label() {
        let p = policy().expect("parses");
        let role = |n: &str| p.cluster_roles.iter().find(|r| r.metadata.name.as_deref() == Some(n)).expect(n);
        for (aggregate, labelled_into) in [("admin", None), ("edit", Some("admin")), ("view", Some("edit"))] {
            let r = role(aggregate);
            let selectors = r.aggregation_rule.as_ref().and_then(|a| a.cluster_role_selectors.as_deref());
            let want = format!("rbac.authorization.k8s.io/aggregate-to-{aggregate}");
            assert!(
                selectors
                    .unwrap_or_default()
                    .iter()
                    .any(|s| s.match_labels.as_ref().is_some_and(|l| l.get(&want).map(String::as_str) == Some("true"))),
                "{aggregate} does not select {want}"
            );
            assert!(r.rules.as_deref().unwrap_or_default().is_empty(), "{aggregate}: aggregation fills the rules");
            let aggregated = aggregated_rules(r, &p.cluster_roles).unwrap_or_default();
            assert!(!aggregated.is_empty(), "nothing is labelled into {aggregate}");
            if let Some(up) = labelled_into {
                let label = format!("rbac.authorization.k8s.io/aggregate-to-{up}");
                let labels = r.metadata.labels.as_ref();
                assert_eq!(labels.and_then(|l| l.get(&label)).map(String::as_str), Some("true"), "{aggregate}");
            }
            let own = role(&format!("system:aggregate-to-{aggregate}"));
            assert!(own.rules.iter().flatten().all(|rule| aggregated.contains(rule)), "{aggregate}");
        }
    }
}
