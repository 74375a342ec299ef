//! RBAC as Kubernetes decides it (`plugin/pkg/auth/authorizer/rbac`): ClusterRoleBindings, then
//! the request namespace's RoleBindings; the first rule that matches allows, naming its binding;
//! RBAC never denies. [`RbacAuthorizer`] is the reference walk over a [`PolicySource`].

pub mod aggregate;
pub mod binding;
pub mod escalation;
pub mod explain;
pub mod index;
pub mod load;
pub mod policy;
pub mod rules;
pub mod subject;

use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, PolicyRule, RoleBinding, RoleRef, Subject};

use crate::authz::{Attributes, Authorizer, Decision, NonResourceRule, Reason, ResourceRule, Rules};
use crate::user::UserInfo;
pub use index::RbacIndex;
pub use policy::{MemoryPolicy, PolicySource};
pub use rules::rule_allows;
pub use subject::{service_account_username_is, subject_matches};

/// Appends `parts` joined, quoted as Go's `%q` and Rust's `{:?}` quote them. Plain printable
/// ASCII (the usual case for Kubernetes names) is copied as is; anything else goes through
/// `{:?}`. This runs for every allowed request, and the formatter's escaping cost more than the
/// decision itself.
fn push_quoted(out: &mut String, parts: &[&str]) {
    let plain = |p: &&str| p.bytes().all(|b| (0x20..0x7f).contains(&b) && b != b'"' && b != b'\\');
    if parts.iter().all(plain) {
        out.push('"');
        parts.iter().for_each(|p| out.push_str(p));
        out.push('"');
    } else {
        use std::fmt::Write;
        let _ = write!(out, "{:?}", parts.concat());
    }
}

fn push_subject(out: &mut String, s: &Subject, binding_namespace: &str) {
    out.push_str(&s.kind);
    out.push(' ');
    if s.kind == "ServiceAccount" {
        let ns = s.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or(binding_namespace);
        push_quoted(out, &[&s.name, "/", ns]);
    } else {
        push_quoted(out, &[&s.name]);
    }
}

/// The parts of a granting binding that a reason names.
struct Parts<'a> {
    cluster: bool,
    namespace: &'a str,
    name: &'a str,
    role_ref: &'a RoleRef,
    subject: &'a Subject,
}

static NO_SUBJECT: Subject = Subject { api_group: None, kind: String::new(), name: String::new(), namespace: None };

fn nth_subject(subjects: &Option<Vec<Subject>>, at: usize) -> &Subject {
    subjects.as_deref().and_then(|s| s.get(at)).unwrap_or(&NO_SUBJECT)
}

impl Parts<'_> {
    fn push_to(&self, out: &mut String) {
        if self.cluster {
            out.push_str("ClusterRoleBinding ");
            push_quoted(out, &[self.name]);
        } else {
            out.push_str("RoleBinding ");
            push_quoted(out, &[self.name, "/", self.namespace]);
        }
        out.push_str(" of ");
        out.push_str(&self.role_ref.kind);
        out.push(' ');
        push_quoted(out, &[&self.role_ref.name]);
        out.push_str(" to ");
        push_subject(out, self.subject, if self.cluster { "" } else { self.namespace });
    }
}

/// Where a rule came from: a binding, as the authorizer holds it, and the index of its subject
/// that named the user. Turning it into an owned [`RbacGrant`] clones one `Arc`.
#[derive(Debug, Clone, Copy)]
pub enum RuleSource<'a> {
    /// A binding of the [`RbacIndex`].
    Indexed {
        /// The binding.
        binding: &'a Arc<binding::Binding>,
        /// The matching subject's position in it.
        subject: usize,
    },
    /// A ClusterRoleBinding of a [`PolicySource`].
    ClusterRoleBinding {
        /// The binding.
        binding: &'a Arc<ClusterRoleBinding>,
        /// The matching subject's position in it.
        subject: usize,
    },
    /// A RoleBinding of a [`PolicySource`].
    RoleBinding {
        /// The binding.
        binding: &'a Arc<RoleBinding>,
        /// The matching subject's position in it.
        subject: usize,
    },
}

impl RuleSource<'_> {
    fn parts(&self) -> Parts<'_> {
        match *self {
            RuleSource::Indexed { binding, subject } => Parts {
                cluster: binding.is_cluster(),
                namespace: &binding.namespace,
                name: &binding.name,
                role_ref: &binding.role_ref,
                subject: binding.subjects.get(subject).unwrap_or(&NO_SUBJECT),
            },
            RuleSource::ClusterRoleBinding { binding, subject } => Parts {
                cluster: true,
                namespace: "",
                name: binding.metadata.name.as_deref().unwrap_or_default(),
                role_ref: &binding.role_ref,
                subject: nth_subject(&binding.subjects, subject),
            },
            RuleSource::RoleBinding { binding, subject } => Parts {
                cluster: false,
                namespace: binding.metadata.namespace.as_deref().unwrap_or_default(),
                name: binding.metadata.name.as_deref().unwrap_or_default(),
                role_ref: &binding.role_ref,
                subject: nth_subject(&binding.subjects, subject),
            },
        }
    }

    /// Appends Kubernetes' text for this source (`ClusterRoleBinding "n" of ClusterRole "r" to
    /// Group "g"`, `RoleBinding "n/ns" of Role "r" to ServiceAccount "sa/ns"`).
    pub fn push_to(&self, out: &mut String) {
        self.parts().push_to(out)
    }

    /// The owned grant naming this source.
    pub fn to_grant(&self) -> RbacGrant {
        match *self {
            RuleSource::Indexed { binding, subject } => {
                RbacGrant { binding: GrantingBinding::Indexed(Arc::clone(binding)), subject }
            }
            RuleSource::ClusterRoleBinding { binding, subject } => {
                RbacGrant { binding: GrantingBinding::ClusterRoleBinding(Arc::clone(binding)), subject }
            }
            RuleSource::RoleBinding { binding, subject } => {
                RbacGrant { binding: GrantingBinding::RoleBinding(Arc::clone(binding)), subject }
            }
        }
    }
}

impl std::fmt::Display for RuleSource<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let mut s = String::with_capacity(96);
        self.push_to(&mut s);
        f.write_str(&s)
    }
}

#[derive(Debug, Clone)]
enum GrantingBinding {
    Indexed(Arc<binding::Binding>),
    ClusterRoleBinding(Arc<ClusterRoleBinding>),
    RoleBinding(Arc<RoleBinding>),
}

/// The binding, role and subject behind an RBAC allow: the typed reason of
/// [`crate::authz::Reason::Rbac`]. It shares the binding with the policy (no copy); Display is
/// Kubernetes' text without the `RBAC: allowed by ` prefix.
#[derive(Debug, Clone)]
pub struct RbacGrant {
    binding: GrantingBinding,
    subject: usize,
}

impl RbacGrant {
    fn source(&self) -> RuleSource<'_> {
        let subject = self.subject;
        match &self.binding {
            GrantingBinding::Indexed(binding) => RuleSource::Indexed { binding, subject },
            GrantingBinding::ClusterRoleBinding(binding) => RuleSource::ClusterRoleBinding { binding, subject },
            GrantingBinding::RoleBinding(binding) => RuleSource::RoleBinding { binding, subject },
        }
    }

    /// `ClusterRoleBinding` or `RoleBinding`.
    pub fn binding_kind(&self) -> &'static str {
        if self.source().parts().cluster {
            "ClusterRoleBinding"
        } else {
            "RoleBinding"
        }
    }

    /// The binding's namespace; empty for a ClusterRoleBinding.
    pub fn binding_namespace(&self) -> &str {
        match &self.binding {
            GrantingBinding::Indexed(b) => &b.namespace,
            GrantingBinding::ClusterRoleBinding(_) => "",
            GrantingBinding::RoleBinding(b) => b.metadata.namespace.as_deref().unwrap_or_default(),
        }
    }

    /// The binding's name.
    pub fn binding_name(&self) -> &str {
        match &self.binding {
            GrantingBinding::Indexed(b) => &b.name,
            GrantingBinding::ClusterRoleBinding(b) => b.metadata.name.as_deref().unwrap_or_default(),
            GrantingBinding::RoleBinding(b) => b.metadata.name.as_deref().unwrap_or_default(),
        }
    }

    /// The role it grants (kind and name).
    pub fn role_ref(&self) -> &RoleRef {
        match &self.binding {
            GrantingBinding::Indexed(b) => &b.role_ref,
            GrantingBinding::ClusterRoleBinding(b) => &b.role_ref,
            GrantingBinding::RoleBinding(b) => &b.role_ref,
        }
    }

    /// The subject that named the user.
    pub fn subject(&self) -> &Subject {
        match &self.binding {
            GrantingBinding::Indexed(b) => b.subjects.get(self.subject).unwrap_or(&NO_SUBJECT),
            GrantingBinding::ClusterRoleBinding(b) => nth_subject(&b.subjects, self.subject),
            GrantingBinding::RoleBinding(b) => nth_subject(&b.subjects, self.subject),
        }
    }

    /// Appends Kubernetes' text (`ClusterRoleBinding "n" of ClusterRole "r" to Group "g"`).
    pub fn push_to(&self, out: &mut String) {
        self.source().push_to(out)
    }
}

/// Equal when they name the same binding, role and subject, however the policy holds them.
impl PartialEq for RbacGrant {
    fn eq(&self, other: &Self) -> bool {
        self.binding_kind() == other.binding_kind()
            && self.binding_namespace() == other.binding_namespace()
            && self.binding_name() == other.binding_name()
            && self.role_ref() == other.role_ref()
            && self.subject() == other.subject()
    }
}

impl std::fmt::Display for RbacGrant {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        self.source().fmt(f)
    }
}

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
pub fn resolve_role_ref(
    role_ref: &RoleRef,
    cluster_role: impl FnOnce(&str) -> Option<Arc<Vec<PolicyRule>>>,
    role: impl FnOnce(&str) -> Option<Arc<Vec<PolicyRule>>>,
) -> Result<Arc<Vec<PolicyRule>>, String> {
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

/// Kubernetes' text for several role-resolution errors (`a`, or `[a, b]`).
pub(crate) fn join_errors(errors: &[String]) -> String {
    // utilerrors.NewAggregate: one error prints bare, several as "[a, b]".
    match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
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
    if !errors.is_empty() {
        out.incomplete = true;
        out.evaluation_error = join_errors(&errors);
    }
    out
}

/// Object builders shared by the RBAC unit tests.
#[cfg(test)]
pub(crate) mod testing {
    use crate::authz::Decision;

    /// A decision as Kubernetes reports it: allowed, and the reason's text.
    pub fn said(d: &Decision) -> (bool, String) {
        (d.is_allowed(), d.reason().to_string())
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

#[cfg(test)]
mod quote_tests {
    use super::push_quoted;

    #[test]
    fn quoting_matches_debug() {
        for parts in [&["plain-name"][..], &["a\"b"], &["back\\slash"], &["tab\there"], &["ünï", "/", "ns"], &["it's"]]
        {
            let mut out = String::new();
            push_quoted(&mut out, parts);
            assert_eq!(out, format!("{:?}", parts.concat()));
        }
    }
}

impl binding::Binding {
    /// The source of `binding`'s rules when its subject at position `subject` matched.
    pub fn source(binding: &Arc<binding::Binding>, subject: usize) -> RuleSource<'_> {
        RuleSource::Indexed { binding, subject }
    }
}
