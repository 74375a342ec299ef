//! Why RBAC decided as it did, for operators: the bindings naming the user (in every
//! namespace), the rules nearest to allowing the request with what each lacks, and the
//! smallest Role and RoleBinding (or ClusterRole and ClusterRoleBinding) that would allow it.
//!
//! The API keeps Kubernetes' semantics (a denial's reason stays empty); this goes to logs, the
//! audit log and `kauth policy explain`.

use std::fmt;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::Serialize;

use super::index::Binding;
use super::rules::{self, compact};
use super::RbacIndex;
use crate::authz::{Attributes, Authorizer, Target};
use crate::user::split_service_account_username;

/// At most this many near misses are reported.
const NEAREST: usize = 5;

/// What one rule lacks to allow the request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "field", rename_all = "camelCase")]
pub enum Miss {
    /// The verb is not listed.
    Verb {
        /// The request's verb.
        wanted: String,
        /// The rule's verbs.
        has: Vec<String>,
    },
    /// The API group is not listed.
    ApiGroup {
        /// The request's group.
        wanted: String,
        /// The rule's groups.
        has: Vec<String>,
    },
    /// The resource (or `resource/subresource`) is not listed.
    Resource {
        /// The request's resource.
        wanted: String,
        /// The rule's resources.
        has: Vec<String>,
    },
    /// The rule is limited to names the request does not use (or the request names no object).
    ResourceName {
        /// The request's object name (empty for collections).
        wanted: String,
        /// The rule's names.
        has: Vec<String>,
    },
    /// The path is not listed.
    NonResourceUrl {
        /// The request's path.
        wanted: String,
        /// The rule's URLs.
        has: Vec<String>,
    },
    /// The rule is about paths and the request about resources, or the other way round.
    RuleKind {
        /// What the request is about: `resource` or `nonResourceURL`.
        wanted: String,
    },
    /// The rule comes from a RoleBinding in another namespace (or the request is cluster-scoped
    /// or a path, which RoleBindings never grant).
    Namespace {
        /// The request's namespace (empty for cluster scope).
        wanted: String,
        /// The RoleBinding's namespace.
        binding: String,
    },
}

impl fmt::Display for Miss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let list = |l: &[String]| format!("[{}]", l.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(", "));
        match self {
            Miss::Verb { wanted, has } => write!(f, "verb {wanted:?} not in {}", list(has)),
            Miss::ApiGroup { wanted, has } => write!(f, "API group {wanted:?} not in {}", list(has)),
            Miss::Resource { wanted, has } => {
                write!(f, "resource {wanted:?} not in {}", list(has))?;
                if let Some((_, sub)) = wanted.split_once('/') {
                    write!(f, " (a subresource needs {wanted:?} or \"*/{sub}\" listed)")?;
                }
                Ok(())
            }
            Miss::ResourceName { wanted, has } if wanted.is_empty() => write!(
                f,
                "the rule is limited to resourceNames {} and the request names no object (list, watch, create and deletecollection never do)",
                list(has)
            ),
            Miss::ResourceName { wanted, has } => write!(f, "resourceName {wanted:?} not in {}", list(has)),
            Miss::NonResourceUrl { wanted, has } => write!(f, "path {wanted:?} not in {}", list(has)),
            Miss::RuleKind { wanted } if wanted == "resource" => {
                f.write_str("the rule lists nonResourceURLs, the request is for a resource")
            }
            Miss::RuleKind { .. } => f.write_str("the rule is for resources, the request is for a path"),
            Miss::Namespace { wanted, binding } if wanted.is_empty() => write!(
                f,
                "granted by a RoleBinding in namespace {binding:?}; a cluster-scoped request needs a ClusterRoleBinding"
            ),
            Miss::Namespace { wanted, binding } => {
                write!(f, "granted in namespace {binding:?}, the request is in {wanted:?}")
            }
        }
    }
}

/// A binding naming the user.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BindingView {
    /// How Kubernetes names it in reasons (`RoleBinding "b/ns" of Role "r" to User "u"`).
    pub description: String,
    /// Whether it can apply to the request (a ClusterRoleBinding, or a RoleBinding in the
    /// request's namespace).
    pub applies: bool,
    /// Why its role cannot be read, when it cannot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub role_error: Option<String>,
}

/// A rule that came close, and what it lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NearMiss {
    /// The rule in Kubernetes' compact text.
    pub rule: String,
    /// Where it came from.
    pub source: String,
    /// What it lacks (never empty).
    pub misses: Vec<Miss>,
}

/// The smallest grant that would allow the request.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(untagged)]
pub enum Grant {
    /// A Role and a RoleBinding in the request's namespace.
    Namespaced {
        /// The Role.
        role: Role,
        /// The RoleBinding.
        binding: RoleBinding,
    },
    /// A ClusterRole and a ClusterRoleBinding.
    Cluster {
        /// The ClusterRole.
        role: ClusterRole,
        /// The ClusterRoleBinding.
        binding: ClusterRoleBinding,
    },
}

impl Grant {
    /// Both objects as a YAML stream for `kubectl apply -f -`.
    pub fn to_yaml(&self) -> String {
        let docs = match self {
            Grant::Namespaced { role, binding } => [serde_norway::to_string(role), serde_norway::to_string(binding)],
            Grant::Cluster { role, binding } => [serde_norway::to_string(role), serde_norway::to_string(binding)],
        };
        docs.into_iter().map(|d| format!("---\n{}", d.unwrap_or_default())).collect()
    }
}

/// The explanation of one decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Explanation {
    /// Whether RBAC allows the request.
    pub allowed: bool,
    /// The RBAC reason (Kubernetes' text; empty for a plain denial).
    pub reason: String,
    /// Kubernetes' forbidden message for the request.
    pub request: String,
    /// The user's bindings, in every namespace.
    pub bindings: Vec<BindingView>,
    /// The nearest rules, fewest misses first.
    pub nearest: Vec<NearMiss>,
    /// The smallest grant that would allow it (only for denials).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub grant: Option<Grant>,
}

impl Explanation {
    /// One line for logs and audit annotations.
    pub fn summary(&self) -> String {
        if self.allowed {
            return self.reason.clone();
        }
        let applying = self.bindings.iter().filter(|b| b.applies).count();
        let mut s = format!("{} binding(s) name this user or its groups, {applying} apply here", self.bindings.len());
        if let Some(n) = self.nearest.first() {
            let misses: Vec<String> = n.misses.iter().map(ToString::to_string).collect();
            s.push_str(&format!("; nearest rule {} from {}: {}", n.rule, n.source, misses.join("; ")));
        }
        if let Some(e) = self.bindings.iter().find_map(|b| b.role_error.as_ref()) {
            s.push_str(&format!("; {e}"));
        }
        s
    }
}

impl fmt::Display for Explanation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.allowed {
            writeln!(f, "ALLOWED: {}", self.reason)?;
        } else {
            writeln!(f, "DENIED: {}", self.request)?;
            if !self.reason.is_empty() {
                writeln!(f, "  reason: {}", self.reason)?;
            }
        }
        if self.bindings.is_empty() {
            writeln!(f, "\nNo binding names this user, its service account or any of its groups.")?;
        } else {
            writeln!(f, "\nBindings naming this user or its groups:")?;
            for b in &self.bindings {
                let note = if b.applies { "" } else { "  (does not apply here)" };
                writeln!(f, "  {}{note}", b.description)?;
                if let Some(e) = &b.role_error {
                    writeln!(f, "    role cannot be read: {e}")?;
                }
            }
        }
        if !self.allowed && !self.nearest.is_empty() {
            writeln!(f, "\nNearest rules and what they lack:")?;
            for n in &self.nearest {
                writeln!(f, "  {}\n    from {}", n.rule, n.source)?;
                for m in &n.misses {
                    writeln!(f, "    - {m}")?;
                }
            }
        }
        if let Some(g) = &self.grant {
            writeln!(f, "\nThe smallest grant that allows it (kubectl apply -f -):")?;
            write!(f, "{}", g.to_yaml())?;
        }
        Ok(())
    }
}

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
