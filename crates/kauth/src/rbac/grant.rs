//! The binding, role and subject behind an RBAC allow, and Kubernetes' text for it
//! (`ClusterRoleBinding "b" of ClusterRole "r" to Group "g"`).
//!
//! A leaf below both `authz` (whose `Reason::Rbac` carries an [`RbacGrant`]) and the
//! rest of `rbac` (which makes them): it imports neither.

use std::sync::Arc;

use k8s_openapi::api::rbac::v1::{ClusterRoleBinding, RoleBinding, RoleRef, Subject};

use super::binding::Binding;

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
    /// A binding of the `RbacIndex`.
    Indexed {
        /// The binding.
        binding: &'a Arc<Binding>,
        /// The matching subject's position in it.
        subject: usize,
    },
    /// A ClusterRoleBinding of a `PolicySource`.
    ClusterRoleBinding {
        /// The binding.
        binding: &'a Arc<ClusterRoleBinding>,
        /// The matching subject's position in it.
        subject: usize,
    },
    /// A RoleBinding of a `PolicySource`.
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
    Indexed(Arc<Binding>),
    ClusterRoleBinding(Arc<ClusterRoleBinding>),
    RoleBinding(Arc<RoleBinding>),
}

/// The binding, role and subject behind an RBAC allow: the typed reason of
/// `Reason::Rbac` (in `authz`). It shares the binding with the policy (no copy); Display is
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

impl Binding {
    /// The source of `binding`'s rules when its subject at position `subject` matched.
    pub fn source(binding: &Arc<Binding>, subject: usize) -> RuleSource<'_> {
        RuleSource::Indexed { binding, subject }
    }
}

#[cfg(test)]
mod tests {
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
