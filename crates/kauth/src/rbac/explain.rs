//! Why RBAC decided as it did, for operators: the bindings naming the user (in every
//! namespace), the rules nearest to allowing the request with what each lacks, and the
//! smallest Role and RoleBinding (or ClusterRole and ClusterRoleBinding) that would allow it.
//!
//! The API keeps Kubernetes' semantics (a denial's reason stays empty); this goes to logs, the
//! audit log and `kauth policy explain`.

use k8s_openapi::api::rbac::v1::PolicyRule;

pub use super::explanation::{BindingView, Explanation, Grant, Miss, NearMiss};
use super::index::Binding;
use super::rules::{self, compact};
use super::smallest_grant::smallest_grant;
use super::RbacIndex;
use crate::authz::{Attributes, Authorizer, Reason, Target, SYSTEM_MASTERS};

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

/// How far a miss is from an allow: a name the rule does not list is the closest (the rule is
/// right but for one object), then a verb, then another namespace, resource or path, and an API
/// group the farthest (the rule is about other things altogether). The kind of a rule never
/// counts: [`RbacIndex::explain`] drops rules of the wrong kind first.
fn distance(m: &Miss) -> u32 {
    match m {
        Miss::ResourceName { .. } => 1,
        Miss::Verb { .. } => 2,
        Miss::Namespace { .. } | Miss::Resource { .. } | Miss::NonResourceUrl { .. } => 3,
        Miss::ApiGroup { .. } => 4,
        Miss::RuleKind { .. } => 8,
    }
}

/// Keeps the nearest misses only (least distance, then fewest misses; ties in the order the
/// bindings came), at most [`NEAREST`].
fn nearest_first(near: &mut Vec<NearMiss>) {
    let key = |n: &NearMiss| (n.misses.iter().map(distance).sum::<u32>(), n.misses.len());
    near.sort_by_key(key);
    if let Some(best) = near.first().map(key) {
        near.retain(|n| key(n).0 == best.0);
    }
    near.truncate(NEAREST);
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
                // A rule of the other kind (paths for a resource, resources for a path) is
                // never near: no change to it short of a new rule would allow the request.
                if m.iter().any(|m| matches!(m, Miss::RuleKind { .. })) {
                    continue;
                }
                if !applies {
                    m.insert(0, Miss::Namespace { wanted: request_ns.to_owned(), binding: b.namespace.to_string() });
                }
                if !m.is_empty() {
                    near.push(NearMiss { rule: compact(rule), source: source.clone(), misses: m });
                }
            }
        }
        nearest_first(&mut near);
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

/// The explanation of `a` as kauth serve and kube-apiserver decide it: members of
/// `system:masters` are allowed before RBAC (no nearest rules, no grant), everyone else gets
/// [`RbacIndex::explain`]. `kauth policy explain` and `kauth inspect` explain with this.
pub fn explain_request(index: &RbacIndex, a: &Attributes) -> Explanation {
    let mut e = index.explain(a);
    if a.user.groups.iter().any(|g| g == SYSTEM_MASTERS) {
        e.allowed = true;
        e.reason = format!("member of {SYSTEM_MASTERS}: allowed every request before RBAC");
        e.nearest.clear();
        e.grant = None;
    }
    e
}

/// The one line operators get for a denial, in kauth serve's log and its audit annotation
/// `authorization.kauth.dev/explanation` (for the authorization and the impersonation filter):
/// the Node authorizer's cause first when it had one, then RBAC's
/// [`Explanation::summary`] — the line `kauth policy explain` prints as `why:` for the same
/// policy and request.
pub fn denial_summary(reason: &Reason, rbac: Option<&Explanation>) -> String {
    let rbac = rbac.map(Explanation::summary).unwrap_or_default();
    match reason.detail() {
        Some(node) => format!("Node: {node}; RBAC: {rbac}"),
        None => rbac,
    }
}

#[cfg(test)]
mod tests {
    use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};

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

    /// [`index`] with kube-apiserver's `system:discovery` bound to every authenticated user and
    /// a RoleBinding of `devs` in another namespace.
    fn index_with_defaults() -> RbacIndex {
        let mut idx = index();
        let discovery: ClusterRole = serde_norway::from_str(
            r#"
metadata: {name: "system:discovery"}
rules:
- nonResourceURLs: [/api, /api/*, /apis, /apis/*, /healthz, /livez, /openapi, /openapi/*, /readyz, /version, /version/]
  verbs: [get]
"#,
        )
        .expect("cluster role");
        let everyone: ClusterRoleBinding = serde_norway::from_str(
            r#"
metadata: {name: "system:discovery"}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "system:discovery"}
subjects: [{apiGroup: rbac.authorization.k8s.io, kind: Group, name: "system:authenticated"}]
"#,
        )
        .expect("cluster role binding");
        let staging: RoleBinding = serde_norway::from_str(
            r#"
metadata: {name: devs-staging, namespace: staging}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: "edit-secrets"}
subjects: [{kind: Group, name: devs}]
"#,
        )
        .expect("binding");
        let edit: ClusterRole = serde_norway::from_str(
            r#"
metadata: {name: edit-secrets}
rules: [{apiGroups: [""], resources: [secrets], verbs: [get, update]}]
"#,
        )
        .expect("cluster role");
        idx.put_cluster_role(&discovery);
        idx.put_cluster_role_binding(&everyone);
        idx.put_cluster_role(&edit);
        idx.put_role_binding(&staging);
        idx
    }

    fn authenticated(mut a: Attributes) -> Attributes {
        a.user.groups.push("system:authenticated".into());
        a
    }

    #[test]
    fn the_nearest_rule_is_of_the_request_s_kind_and_the_closest_miss() {
        let idx = index_with_defaults();
        // Missed only by its resourceNames: that rule, not system:discovery's paths.
        let e = idx.explain(&authenticated(req("get", "prod", "secrets", "", "other")));
        assert!(!e.allowed);
        assert_eq!(e.nearest.len(), 1, "{e}");
        assert!(e.nearest[0].source.contains("devs-read"), "{e}");
        assert_eq!(
            e.nearest[0].misses,
            vec![Miss::ResourceName { wanted: "other".into(), has: vec!["app-config".into()] }]
        );
        assert!(!e.summary().contains("system:discovery"), "{}", e.summary());
        // A verb away here is nearer than the same rule in another namespace.
        let e = idx.explain(&authenticated(req("delete", "prod", "pods", "", "web")));
        assert!(matches!(&e.nearest[0].misses[..], [Miss::Verb { .. }]), "{e}");
        // ... and a verb away nearer than another namespace.
        let e = idx.explain(&authenticated(req("update", "prod", "secrets", "", "app-config")));
        assert_eq!(e.nearest.len(), 1, "{e}");
        assert!(matches!(&e.nearest[0].misses[..], [Miss::Verb { .. }]), "{e}");
        // In a third namespace, the rule granted only in another namespace is the nearest.
        let e = idx.explain(&authenticated(req("get", "dev", "secrets", "", "x")));
        assert_eq!(e.nearest.len(), 1, "{e}");
        assert!(
            matches!(&e.nearest[0].misses[..], [Miss::Namespace { wanted, binding }] if wanted == "dev" && binding == "staging"),
            "{e}"
        );
        // A path is near only to path rules.
        let mut path = authenticated(req("get", "", "", "", ""));
        path.target = Target::NonResource { path: "/metrics".into() };
        let e = idx.explain(&path);
        assert!(!e.nearest.is_empty(), "{e}");
        assert!(e.nearest.iter().all(|n| n.source.contains("system:discovery")), "{e}");
        assert!(matches!(&e.nearest[0].misses[..], [Miss::NonResourceUrl { .. }]), "{e}");
    }

    #[test]
    fn the_summary_names_bindings_of_other_namespaces() {
        let idx = index_with_defaults();
        let e = idx.explain(&authenticated(req("get", "prod", "configmaps", "", "c")));
        let s = e.summary();
        assert!(s.starts_with("3 binding(s) name this user or its groups, 2 apply here"), "{s}");
        assert!(
            s.ends_with(r#"; not applying here: RoleBinding "devs-staging/staging" of ClusterRole "edit-secrets" to Group "devs""#),
            "{s}"
        );
        assert!(e.to_string().contains(&format!("  why: {s}\n")), "{e}");
        assert_eq!(denial_summary(&Reason::None, Some(&e)), s);
        assert_eq!(serde_json::to_value(e.report()).expect("json")["summary"], s.as_str());
    }

    #[test]
    fn system_masters_are_allowed_before_rbac() {
        let mut a = req("delete", "prod", "pods", "", "web");
        a.user.groups.push(SYSTEM_MASTERS.into());
        let e = explain_request(&index(), &a);
        assert!(e.allowed && e.nearest.is_empty() && e.grant.is_none(), "{e}");
        assert!(!explain_request(&index(), &req("delete", "prod", "pods", "", "web")).allowed);
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
