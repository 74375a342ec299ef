//! The smallest grant that would allow a denied request: one verb, one API group, one resource
//! (and the object's name when the request names one), or one non-resource path, in a Role and
//! RoleBinding for a namespaced request or a ClusterRole and ClusterRoleBinding otherwise, bound
//! to the request's user (a ServiceAccount subject for a service account's name).
//!
//! `explain` offers it with every RBAC denial; the objects are named `kauth-allow-<verb>-<what>`
//! so that an operator can tell them apart from the cluster's own.

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use super::explanation::Grant;
use crate::authz::{Attributes, Target};
use crate::user::split_service_account_username;

fn subject_for_grant(a: &Attributes) -> Subject {
    match split_service_account_username(&a.user.name) {
        Some((ns, name)) => {
            Subject { kind: "ServiceAccount".into(), name: name.into(), namespace: Some(ns.into()), api_group: None }
        }
        None => Subject {
            kind: "User".into(),
            name: a.user.name.clone(),
            namespace: None,
            api_group: Some("rbac.authorization.k8s.io".into()),
        },
    }
}

/// The smallest grant allowing `a` to its user (see the module's docs).
pub fn smallest_grant(a: &Attributes) -> Grant {
    let subject = subject_for_grant(a);
    let one = |s: &str| Some(vec![s.to_owned()]);
    let (rule, namespace, slug) = match &a.target {
        Target::Resource { namespace, api_group, resource, subresource, name, .. } => {
            let combined = if subresource.is_empty() { resource.clone() } else { format!("{resource}/{subresource}") };
            let mut slug = format!("{}-{}", a.verb, combined.replace('/', "-"));
            if !name.is_empty() {
                slug.push('-');
                slug.push_str(name);
            }
            let rule = PolicyRule {
                verbs: vec![a.verb.clone()],
                api_groups: one(api_group),
                resources: Some(vec![combined]),
                resource_names: (!name.is_empty()).then(|| vec![name.clone()]),
                non_resource_urls: None,
            };
            (rule, namespace.clone(), slug)
        }
        Target::NonResource { path } => {
            let rule =
                PolicyRule { verbs: vec![a.verb.clone()], non_resource_urls: one(path), ..PolicyRule::default() };
            let slug = format!("{}-{}", a.verb, path.trim_matches('/').replace('/', "-"));
            (rule, String::new(), slug)
        }
    };
    let slug: String =
        slug.chars().map(|c| if c.is_ascii_alphanumeric() || c == '-' || c == '.' { c } else { '-' }).collect();
    let name = format!("kauth-allow-{}", slug.to_ascii_lowercase());
    let meta = |ns: Option<&str>| ObjectMeta {
        name: Some(name.clone()),
        namespace: ns.map(str::to_owned),
        ..ObjectMeta::default()
    };
    let role_ref =
        |kind: &str| RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: kind.into(), name: name.clone() };
    if namespace.is_empty() {
        Grant::Cluster {
            role: ClusterRole { metadata: meta(None), rules: Some(vec![rule]), ..ClusterRole::default() },
            binding: ClusterRoleBinding {
                metadata: meta(None),
                role_ref: role_ref("ClusterRole"),
                subjects: Some(vec![subject]),
            },
        }
    } else {
        Grant::Namespaced {
            role: Role { metadata: meta(Some(&namespace)), rules: Some(vec![rule]) },
            binding: RoleBinding {
                metadata: meta(Some(&namespace)),
                role_ref: role_ref("Role"),
                subjects: Some(vec![subject]),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::UserInfo;

    fn attrs(user: &str, verb: &str, target: Target) -> Attributes {
        Attributes { user: UserInfo { name: user.into(), ..UserInfo::default() }, verb: verb.into(), target }
    }

    #[test]
    fn a_service_account_gets_a_role_in_the_request_s_namespace() {
        let target = Target::Resource {
            namespace: "prod".into(),
            api_group: "apps".into(),
            api_version: "v1".into(),
            resource: "deployments".into(),
            subresource: "scale".into(),
            name: "web".into(),
        };
        let Grant::Namespaced { role, binding } =
            smallest_grant(&attrs("system:serviceaccount:ci:deployer", "update", target))
        else {
            panic!("a namespaced request gets a Role")
        };
        assert_eq!(role.metadata.name.as_deref(), Some("kauth-allow-update-deployments-scale-web"));
        assert_eq!(role.metadata.namespace.as_deref(), Some("prod"));
        let rule = &role.rules.as_ref().unwrap()[0];
        assert_eq!(rule.verbs, ["update"]);
        assert_eq!(rule.api_groups.as_deref(), Some(&["apps".to_owned()][..]));
        assert_eq!(rule.resources.as_deref(), Some(&["deployments/scale".to_owned()][..]));
        assert_eq!(rule.resource_names.as_deref(), Some(&["web".to_owned()][..]));
        let subject = &binding.subjects.as_ref().unwrap()[0];
        assert_eq!((subject.kind.as_str(), subject.name.as_str()), ("ServiceAccount", "deployer"));
        assert_eq!(subject.namespace.as_deref(), Some("ci"));
        assert_eq!(
            (binding.role_ref.kind.as_str(), binding.role_ref.name.as_str()),
            ("Role", "kauth-allow-update-deployments-scale-web")
        );
    }

    #[test]
    fn a_path_gets_a_cluster_role_with_a_name_kubernetes_accepts() {
        let Grant::Cluster { role, binding } =
            smallest_grant(&attrs("Alice", "get", Target::NonResource { path: "/metrics/Cadvisor".into() }))
        else {
            panic!("a non-resource request gets a ClusterRole")
        };
        assert_eq!(role.metadata.name.as_deref(), Some("kauth-allow-get-metrics-cadvisor"));
        let rule = &role.rules.as_ref().unwrap()[0];
        assert_eq!(rule.non_resource_urls.as_deref(), Some(&["/metrics/Cadvisor".to_owned()][..]));
        assert!(rule.resources.is_none() && rule.api_groups.is_none());
        let subject = &binding.subjects.as_ref().unwrap()[0];
        assert_eq!((subject.kind.as_str(), subject.name.as_str()), ("User", "Alice"));
        assert_eq!(subject.api_group.as_deref(), Some("rbac.authorization.k8s.io"));
    }
}
