//! What an explanation of an RBAC decision holds, for operators: the bindings naming the user,
//! the rules nearest to allowing the request with what each lacks ([`Miss`]), and the smallest
//! grant that would allow it; rendered as text (`Display`), one log line ([`Explanation::summary`])
//! or JSON/YAML (`Serialize`). `explain.rs` builds them.
//!
//! A leaf below both `authz` (whose `Authorizer::explain` returns an [`Explanation`])
//! and the rest of `rbac`: it imports neither.

use std::fmt;

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, Role, RoleBinding};
use serde::Serialize;

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

/// At most this many bindings that do not apply are named in [`Explanation::summary`].
const ELSEWHERE_SHOWN: usize = 3;

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

/// An explanation with its one-line summary, as `kauth policy explain -o json` prints it.
#[derive(Debug, Clone, Serialize)]
pub struct Report<'a> {
    /// The explanation.
    #[serde(flatten)]
    pub explanation: &'a Explanation,
    /// [`Explanation::summary`].
    pub summary: String,
}

impl Explanation {
    /// The explanation with its summary, for JSON.
    pub fn report(&self) -> Report<'_> {
        Report { explanation: self, summary: self.summary() }
    }

    /// One line for logs and audit annotations: how many bindings name the user and apply, the
    /// nearest rule and what it lacks, and the bindings that do not apply here.
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
        // Bindings that name the user but cannot apply (RoleBindings of other namespaces) are
        // named: they are often what the operator meant.
        let elsewhere: Vec<&str> =
            self.bindings.iter().filter(|b| !b.applies).map(|b| b.description.as_str()).collect();
        if !elsewhere.is_empty() {
            let shown = elsewhere.len().min(ELSEWHERE_SHOWN);
            s.push_str(&format!("; not applying here: {}", elsewhere[..shown].join(", ")));
            if elsewhere.len() > shown {
                s.push_str(&format!(" and {} more", elsewhere.len() - shown));
            }
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
            writeln!(f, "  why: {}", self.summary())?;
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
