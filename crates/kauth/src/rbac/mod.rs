//! RBAC as Kubernetes decides it (`plugin/pkg/auth/authorizer/rbac`): ClusterRoleBindings, then
//! the request namespace's RoleBindings; the first rule that matches allows, naming its binding;
//! RBAC never denies. [`RbacAuthorizer`] is the reference walk over a [`PolicySource`];
//! [`RbacIndex`] decides the same faster.
//!
//! Around the decision: [`grant`] (the typed reason of an allow), [`explain`] and
//! [`explanation`] (why a request was denied, for operators), [`escalation`], [`aggregate`],
//! [`defaults`] (Kubernetes' default policy, as data), [`load`] (policy files), and the tools'
//! questions as functions returning typed answers: [`who_can`], [`matrix`] (an access matrix),
//! [`lint`].

pub mod aggregate;
pub mod binding;
pub mod defaults;
pub mod escalation;
pub mod explain;
pub mod explanation;
pub mod grant;
pub mod index;
pub mod lint;
pub mod load;
pub mod matrix;
pub mod object_ref;
pub mod policy;
pub mod resources;
pub mod rules;
pub mod smallest_grant;
pub mod subject;
pub mod who_can;

use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef};

use crate::authz::{join_errors, Attributes, Authorizer, Decision, NonResourceRule, Reason, ResourceRule, Rules};
use crate::user::UserInfo;
pub use explanation::Explanation;
pub use grant::{RbacGrant, RuleSource};
pub use index::RbacIndex;
pub use policy::{MemoryPolicy, PolicySource};
pub use rules::rule_allows;
pub use subject::{service_account_username_is, subject_matches};

/// The rules a roleRef points at, or Kubernetes' error text when it cannot be resolved.
pub fn role_ref_rules(
    policy: &dyn PolicySource,
    role_ref: &RoleRef,
    binding_namespace: &str,
) -> Result<Arc<Vec<PolicyRule>>, String> {
    resolve_role_ref(
        role_ref,
        |name| policy.cluster_role_rules(name),
        |name| policy.role_rules(binding_namespace, name),
    )
}

/// Resolves a roleRef with the given lookups; a missing role or an unknown kind is an error
/// worded as Kubernetes words it.
pub fn resolve_role_ref<R>(
    role_ref: &RoleRef,
    cluster_role: impl FnOnce(&str) -> Option<R>,
    role: impl FnOnce(&str) -> Option<R>,
) -> Result<R, String> {
    match role_ref.kind.as_str() {
        "ClusterRole" => cluster_role(&role_ref.name)
            .ok_or_else(|| format!("clusterrole.rbac.authorization.k8s.io {:?} not found", role_ref.name)),
        "Role" => {
            role(&role_ref.name).ok_or_else(|| format!("role.rbac.authorization.k8s.io {:?} not found", role_ref.name))
        }
        other => Err(format!("unsupported role reference kind: {other:?}")),
    }
}

/// A rule (with its source) or a resolution error; return false to stop.
pub type RuleVisitor<'v> = dyn FnMut(Result<(&RuleSource<'_>, &PolicyRule), String>) -> bool + 'v;

/// Visits every rule that applies to `user` in `namespace`, in Kubernetes' order; `visit`
/// returns false to stop. Resolution errors (missing roles) are passed as `Err`.
pub fn visit_rules(policy: &dyn PolicySource, user: &UserInfo, namespace: &str, visit: &mut RuleVisitor<'_>) {
    for crb in policy.cluster_role_bindings().iter() {
        let Some(subject) = crb.subjects.iter().flatten().position(|s| subject_matches(user, s, "")) else {
            continue;
        };
        match role_ref_rules(policy, &crb.role_ref, "") {
            Err(e) => {
                if !visit(Err(e)) {
                    return;
                }
            }
            Ok(rules) => {
                let source = RuleSource::ClusterRoleBinding { binding: crb, subject };
                for rule in rules.iter() {
                    if !visit(Ok((&source, rule))) {
                        return;
                    }
                }
            }
        }
    }
    if namespace.is_empty() {
        return;
    }
    for rb in policy.role_bindings(namespace).iter() {
        let Some(subject) = rb.subjects.iter().flatten().position(|s| subject_matches(user, s, namespace)) else {
            continue;
        };
        match role_ref_rules(policy, &rb.role_ref, namespace) {
            Err(e) => {
                if !visit(Err(e)) {
                    return;
                }
            }
            Ok(rules) => {
                let source = RuleSource::RoleBinding { binding: rb, subject };
                for rule in rules.iter() {
                    if !visit(Ok((&source, rule))) {
                        return;
                    }
                }
            }
        }
    }
}

/// Kubernetes' RBAC authorizer: a walk over every binding that could apply.
pub struct RbacAuthorizer<P> {
    policy: P,
}

impl<P> std::fmt::Debug for RbacAuthorizer<P> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RbacAuthorizer")
    }
}

impl<P: PolicySource> RbacAuthorizer<P> {
    /// An authorizer reading `policy`.
    pub fn new(policy: P) -> Self {
        RbacAuthorizer { policy }
    }

    /// The policy it reads.
    pub fn policy(&self) -> &P {
        &self.policy
    }
}

impl<P: PolicySource + Send + Sync> Authorizer for RbacAuthorizer<P> {
    fn authorize(&self, a: &Attributes) -> Decision {
        decide(a, |visit| visit_rules(&self.policy, &a.user, a.target.namespace(), visit))
    }

    fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules {
        collect_rules(|visit| visit_rules(&self.policy, user, namespace, visit))
    }
}

/// Kubernetes' decision over the rules `walk` visits: the first rule that allows the request
/// allows it, naming its source; otherwise no opinion, with the resolution errors met on the way.
pub fn decide(a: &Attributes, walk: impl FnOnce(&mut RuleVisitor<'_>)) -> Decision {
    let request = rules::Request::new(a);
    let mut allowed = None;
    let mut errors = Vec::new();
    walk(&mut |item| match item {
        Ok((source, rule)) => {
            if request.allowed_by(rule) {
                allowed = Some(source.to_grant());
                return false;
            }
            true
        }
        Err(e) => {
            errors.push(e);
            true
        }
    });
    if let Some(grant) = allowed {
        return Decision::Allow(Reason::Rbac(grant));
    }
    if errors.is_empty() {
        Decision::NoOpinion(Reason::None)
    } else {
        Decision::NoOpinion(Reason::RbacUnresolved(errors))
    }
}

/// Every rule `walk` visits, as SelfSubjectRulesReview reports them (no merging, in visiting
/// order), incomplete with the joined errors when a role could not be resolved.
pub fn collect_rules(walk: impl FnOnce(&mut RuleVisitor<'_>)) -> Rules {
    let mut out = Rules::default();
    let mut errors = Vec::new();
    walk(&mut |item| {
        match item {
            Ok((_, rule)) => {
                let verbs = rule.verbs.clone();
                match rule.non_resource_urls.as_ref().filter(|u| !u.is_empty()) {
                    Some(urls) => {
                        out.non_resource_rules.push(NonResourceRule { verbs, non_resource_urls: urls.clone() })
                    }
                    None => out.resource_rules.push(ResourceRule {
                        verbs,
                        api_groups: rule.api_groups.clone().unwrap_or_default(),
                        resources: rule.resources.clone().unwrap_or_default(),
                        resource_names: rule.resource_names.clone().unwrap_or_default(),
                    }),
                }
            }
            Err(e) => errors.push(e),
        }
        true
    });
    // As kube-apiserver's RBAC authorizer: a missing role is an evaluation error, and the list
    // is still reported complete (`incomplete` is for authorizers that cannot list rules).
    if !errors.is_empty() {
        out.evaluation_error = join_errors(&errors);
    }
    out
}

/// Object builders shared by the RBAC unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use crate::authz::Decision;

    /// A decision as Kubernetes reports it: allowed, and the reason's text (`text()`, held to
    /// `to_string()` here).
    pub fn said(d: &Decision) -> (bool, String) {
        let text = d.reason().text();
        assert_eq!(text, d.reason().to_string(), "text() and Display differ");
        (d.is_allowed(), text)
    }

    use k8s_openapi::api::rbac::v1::{RoleRef, Subject};
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    pub fn meta(ns: Option<&str>, name: &str) -> ObjectMeta {
        ObjectMeta { name: Some(name.into()), namespace: ns.map(Into::into), ..ObjectMeta::default() }
    }

    pub fn subject(kind: &str, name: &str, ns: Option<&str>) -> Subject {
        Subject { kind: kind.into(), name: name.into(), namespace: ns.map(Into::into), api_group: None }
    }

    pub fn role_ref(kind: &str, name: &str) -> RoleRef {
        RoleRef { api_group: "rbac.authorization.k8s.io".into(), kind: kind.into(), name: name.into() }
    }
}
