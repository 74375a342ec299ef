//! Why RBAC decided as it did, for operators: the bindings naming the user (in every
//! namespace), the rules nearest to allowing the request with what each lacks, and the
//! smallest Role and RoleBinding (or ClusterRole and ClusterRoleBinding) that would allow it.
//!
//! The API keeps Kubernetes' semantics (a denial's reason stays empty); this goes to logs, the
//! audit log and `kauth policy explain`.

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

pub use super::explanation::{BindingView, Explanation, Grant, Miss, NearMiss};
use super::index::Binding;
use super::rules::{self, compact};
use super::RbacIndex;
use crate::authz::{Attributes, Authorizer, Target};
use crate::user::split_service_account_username;

/// At most this many near misses are reported.
const NEAREST: usize = 5;

fn strs(l: &Option<Vec<String>>) -> Vec<String> {
    l.clone().unwrap_or_default()
}

/// What `rule` lacks to allow `a` (empty when it allows it).
pub fn misses(a: &Attributes, rule: &PolicyRule) -> Vec<Miss> {
    let mut out = Vec::new();
    if !rules::verb_matches(rule, &a.verb) {
        out.push(Miss::Verb { wanted: a.verb.clone(), has: rule.verbs.clone() });
    }
    let url_rule = rule.non_resource_urls.as_ref().is_some_and(|u| !u.is_empty());
    match &a.target {
        Target::Resource { api_group, resource, subresource, name, .. } => {
            let combined = if subresource.is_empty() { resource.clone() } else { format!("{resource}/{subresource}") };
            if url_rule && rule.resources.as_ref().is_none_or(Vec::is_empty) {
                out.push(Miss::RuleKind { wanted: "resource".into() });
                return out;
            }
            if !rules::api_group_matches(rule, api_group) {
                out.push(Miss::ApiGroup { wanted: api_group.clone(), has: strs(&rule.api_groups) });
            }
            if !rules::resource_matches(rule, &combined, subresource) {
                out.push(Miss::Resource { wanted: combined, has: strs(&rule.resources) });
            }
            if !rules::resource_name_matches(rule, name) {
                out.push(Miss::ResourceName { wanted: name.clone(), has: strs(&rule.resource_names) });
            }
        }
        Target::NonResource { path } => {
            if !url_rule {
                out.push(Miss::RuleKind { wanted: "nonResourceURL".into() });
            } else if !rules::non_resource_url_matches(rule, path) {
                out.push(Miss::NonResourceUrl { wanted: path.clone(), has: strs(&rule.non_resource_urls) });
            }
        }
    }
    out
}

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

/// The smallest grant allowing `a` to its user: one verb, one group, one resource (and the
/// object's name when the request names one), or one path.
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

impl RbacIndex {
    /// Explains RBAC's decision on `a`.
    pub fn explain(&self, a: &Attributes) -> Explanation {
        let decision = self.authorize(a);
        let request_ns = a.target.namespace();
        let is_resource = matches!(a.target, Target::Resource { .. });
        let mut bindings = Vec::new();
        let mut near: Vec<NearMiss> = Vec::new();
        for b in self.bindings_of(&a.user) {
            let Some(subject) = b.subject_index_for(&a.user) else { continue };
            let applies = b.is_cluster() || (is_resource && *b.namespace == *request_ns);
            let source = Binding::source(&b, subject).to_string();
            let rules = self.role_rules_of(&b.role_ref, &b.namespace);
            bindings.push(BindingView { description: source.clone(), applies, role_error: rules.clone().err() });
            let Ok(rules) = rules else { continue };
            for rule in rules.iter() {
                let mut m = misses(a, rule);
                if !applies {
                    m.insert(0, Miss::Namespace { wanted: request_ns.to_owned(), binding: b.namespace.to_string() });
                }
                if !m.is_empty() {
                    near.push(NearMiss { rule: compact(rule), source: source.clone(), misses: m });
                }
            }
        }
        near.sort_by_key(|n| n.misses.len());
        if let Some(best) = near.first().map(|n| n.misses.len()) {
            near.retain(|n| n.misses.len() == best);
        }
        near.truncate(NEAREST);
        let allowed = decision.is_allowed();
        Explanation {
            allowed,
            reason: decision.reason().to_string(),
            request: a.forbidden_message(),
            bindings,
            nearest: if allowed { Vec::new() } else { near },
            grant: (!allowed).then(|| smallest_grant(a)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::UserInfo;

    fn index() -> RbacIndex {
        let yaml = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: prod}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
- apiGroups: [""]
  resources: [secrets]
  resourceNames: [app-config]
  verbs: [get]
"#;
        let role: Role = serde_norway::from_str(yaml).expect("role");
        let binding: RoleBinding = serde_norway::from_str(
            r#"
metadata: {name: devs-read, namespace: prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: Group, name: devs}]
"#,
        )
        .expect("binding");
        let mut idx = RbacIndex::new();
        idx.put_role(&role);
        idx.put_role_binding(&binding);
        idx
    }

    fn req(verb: &str, ns: &str, resource: &str, sub: &str, name: &str) -> Attributes {
        Attributes {
            user: UserInfo { name: "ann".into(), groups: vec!["devs".into()], ..UserInfo::default() },
            verb: verb.into(),
            target: Target::Resource {
                namespace: ns.into(),
                api_group: "".into(),
                api_version: "v1".into(),
                resource: resource.into(),
                subresource: sub.into(),
                name: name.into(),
            },
        }
    }

    #[test]
    fn names_what_each_rule_lacks() {
        let e = index().explain(&req("delete", "prod", "pods", "", "web"));
        assert!(!e.allowed);
        assert_eq!(e.bindings.len(), 1);
        assert!(e.bindings[0].applies);
        assert_eq!(e.nearest.len(), 1, "{e}");
        assert_eq!(
            e.nearest[0].misses,
            vec![Miss::Verb { wanted: "delete".into(), has: vec!["get".into(), "list".into()] }]
        );
        assert!(e.summary().contains(r#"verb "delete" not in ["get", "list"]"#), "{}", e.summary());

        let e = index().explain(&req("get", "staging", "pods", "", "web"));
        assert_eq!(
            e.nearest[0].misses,
            vec![Miss::Namespace { wanted: "staging".into(), binding: "prod".into() }],
            "{e}"
        );
        let e = index().explain(&req("get", "prod", "pods", "log", "web"));
        assert_eq!(
            e.nearest[0].misses[0].to_string(),
            r#"resource "pods/log" not in ["pods"] (a subresource needs "pods/log" or "*/log" listed)"#
        );
        let e = index().explain(&req("get", "prod", "secrets", "", "other"));
        assert!(
            e.nearest.iter().any(|n| matches!(&n.misses[..], [Miss::ResourceName { wanted, .. }] if wanted == "other")),
            "{e}"
        );
        let named = PolicyRule {
            verbs: vec!["list".into()],
            api_groups: Some(vec!["".into()]),
            resources: Some(vec!["secrets".into()]),
            resource_names: Some(vec!["a".into()]),
            non_resource_urls: None,
        };
        let m = misses(&req("list", "prod", "secrets", "", ""), &named);
        assert!(m[0].to_string().contains("the request names no object"), "{}", m[0]);
    }

    #[test]
    fn the_suggested_grant_allows_exactly_the_request() {
        let a = req("delete", "prod", "pods", "", "web");
        let mut idx = index();
        let Grant::Namespaced { role, binding } = idx.explain(&a).grant.expect("a grant") else {
            panic!("a namespaced request gets a Role")
        };
        assert!(idx.explain(&a).to_string().contains("kind: RoleBinding"));
        idx.put_role(&role);
        idx.put_role_binding(&binding);
        let e = idx.explain(&a);
        assert!(e.allowed, "{e}");
        assert!(e.grant.is_none());
        assert!(!idx.authorize(&req("delete", "prod", "pods", "", "other")).is_allowed(), "the grant names the object");
        let cluster = req("get", "", "nodes", "", "");
        assert!(matches!(idx.explain(&cluster).grant, Some(Grant::Cluster { .. })));
    }
}
