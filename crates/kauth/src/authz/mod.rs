//! Authorization: may this user do this? Kubernetes' shape: an [`Authorizer`] answers allow,
//! deny or no opinion with a reason; authorizers are chained ([`Chain`]); the first to allow or
//! deny decides. [`PrivilegedGroup`] (`system:masters`) runs before the [`node`] authorizer and
//! RBAC (the `rbac` module).

pub mod config;
pub mod lent_review;
pub mod node;
mod review;

use std::fmt;

// The RBAC types a reason and an explanation carry live in leaves of `rbac` that import
// nothing of `authz`: `authz` depends on them, and the rest of `rbac` depends on `authz`.
pub use crate::rbac::explanation::Explanation;
pub use crate::rbac::grant::RbacGrant;
use crate::user::UserInfo;
pub use review::{local_subject_access_review, InvalidReview, ReviewError};

/// The group allowed everything before any other authorizer runs.
pub const SYSTEM_MASTERS: &str = "system:masters";

/// What a request wants to do with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// An API object (or a collection).
    Resource {
        /// The namespace, empty for cluster-scoped requests.
        namespace: String,
        /// The API group (`""` for core).
        api_group: String,
        /// The API version.
        api_version: String,
        /// The resource (plural).
        resource: String,
        /// The subresource (`token`, `status`), or empty.
        subresource: String,
        /// The object's name, or empty for collections.
        name: String,
    },
    /// A path outside the API (`/healthz`, `/version`, `/openid/v1/jwks`).
    NonResource {
        /// The path.
        path: String,
    },
}

impl Target {
    /// The namespace of a resource request; empty for cluster-scoped and non-resource requests.
    pub fn namespace(&self) -> &str {
        match self {
            Target::Resource { namespace, .. } => namespace,
            Target::NonResource { .. } => "",
        }
    }
}

/// A request to authorize: who, which verb, on what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attributes {
    /// The user.
    pub user: UserInfo,
    /// The verb (`get`, `list`, `create`, `impersonate`, ...).
    pub verb: String,
    /// The target.
    pub target: Target,
}

impl Attributes {
    /// The message kube-apiserver puts in a 403 (`User "u" cannot get resource "pods" in API
    /// group "" in the namespace "default"`), without the authorizer's reason.
    pub fn forbidden_message(&self) -> String {
        let user = &self.user.name;
        match &self.target {
            Target::NonResource { path } => format!("User {user:?} cannot {} path {path:?}", self.verb),
            Target::Resource { namespace, api_group, resource, subresource, .. } => {
                let res = if subresource.is_empty() { resource.clone() } else { format!("{resource}/{subresource}") };
                if namespace.is_empty() {
                    format!(
                        "User {user:?} cannot {} resource {res:?} in API group {api_group:?} at the cluster scope",
                        self.verb
                    )
                } else {
                    format!(
                        "User {user:?} cannot {} resource {res:?} in API group {api_group:?} in the namespace {namespace:?}",
                        self.verb
                    )
                }
            }
        }
    }
}

impl Attributes {
    /// What kube-apiserver's 403 says after the resource (`ForbiddenStatusError`): the
    /// [`Attributes::forbidden_message`] with `&`, `<` and `>` escaped (so no error reads as
    /// HTML), then `: ` and the authorizer's reason when it gave one (not escaped).
    pub fn forbidden_error(&self, reason: &str) -> String {
        let message = self.forbidden_message().replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;");
        if reason.is_empty() {
            message
        } else {
            format!("{message}: {reason}")
        }
    }
}

/// Why an authorizer decided as it did: typed, turned into Kubernetes' text only by Display
/// (at the edges: the SubjectAccessReview status, the 403 message, the audit annotation).
#[derive(Debug, Clone, PartialEq)]
pub enum Reason {
    /// No reason (Kubernetes' empty string).
    None,
    /// A member of the privileged group (`system:masters`); Kubernetes gives no text.
    PrivilegedGroup,
    /// An RBAC binding allowed it: `RBAC: allowed by ClusterRoleBinding "b" of ClusterRole "r"
    /// to Group "g"`.
    Rbac(RbacGrant),
    /// RBAC had no opinion and could not resolve some roles: `RBAC: role... "r" not found`.
    RbacUnresolved(Vec<String>),
    /// The Node authorizer did not allow a node's request: kube-apiserver's text, with the
    /// cause (the missing edge) for operators ([`node::NodeDenial::detail`]).
    Node(node::NodeDenial),
    /// An authorization webhook's answer: its `status.reason` (what clients see), and, when the
    /// webhook could not be asked or its match conditions failed, why (for operators only, as
    /// kube-apiserver logs it and gives clients an empty reason).
    Webhook {
        /// The webhook's name.
        webhook: String,
        /// `status.reason`, empty on failure.
        reason: String,
        /// Why the failure policy decided, if it did.
        error: Option<String>,
    },
    /// Text from an authorizer whose reasons are text by nature, or several
    /// authorizers' no-opinion reasons joined by newlines.
    Text(String),
}

impl Reason {
    /// Whether the text is empty.
    pub fn is_empty(&self) -> bool {
        match self {
            Reason::None | Reason::PrivilegedGroup => true,
            Reason::Rbac(_) => false,
            Reason::RbacUnresolved(e) => e.is_empty(),
            Reason::Node(d) => d.to_string().is_empty(),
            Reason::Text(t) => t.is_empty(),
            Reason::Webhook { reason, .. } => reason.is_empty(),
        }
    }

    /// The text, as `to_string` gives it; an RBAC grant's is built once, where `to_string`
    /// builds it and then copies it into another string (every SubjectAccessReview answer
    /// carries one).
    pub fn text(&self) -> String {
        match self {
            Reason::Rbac(grant) => rbac_text(grant),
            other => other.to_string(),
        }
    }

    /// What operators should read beside kube-apiserver's text: the cause behind it, when the
    /// authorizer knows more than it may say on the wire (the Node authorizer's missing edge).
    pub fn detail(&self) -> Option<String> {
        match self {
            Reason::Node(d) => Some(d.detail()),
            Reason::Webhook { webhook, error: Some(error), .. } => {
                Some(format!("authorization webhook {webhook:?} failed, its failure policy decided: {error}"))
            }
            _ => None,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reason::None | Reason::PrivilegedGroup => Ok(()),
            Reason::Rbac(grant) => f.write_str(&rbac_text(grant)),
            Reason::RbacUnresolved(errors) if errors.is_empty() => Ok(()),
            Reason::RbacUnresolved(errors) => write!(f, "RBAC: {}", join_errors(errors)),
            Reason::Node(d) => d.fmt(f),
            Reason::Text(t) => f.write_str(t),
            Reason::Webhook { reason, .. } => f.write_str(reason),
        }
    }
}

/// "RBAC: allowed by ClusterRoleBinding ..." (the grant's parts are quoted one by one, so it is
/// built as a string and not written through a formatter).
fn rbac_text(grant: &RbacGrant) -> String {
    let mut s = String::with_capacity(128);
    s.push_str("RBAC: allowed by ");
    grant.push_to(&mut s);
    s
}

/// Kubernetes' text for several role-resolution errors (`a`, or `[a, b]`).
pub(crate) fn join_errors(errors: &[String]) -> String {
    // utilerrors.NewAggregate: one error prints bare, several as "[a, b]".
    match errors {
        [one] => one.clone(),
        many => format!("[{}]", many.join(", ")),
    }
}

/// An authorizer's answer.
#[derive(Debug, Clone, PartialEq)]
pub enum Decision {
    /// Allowed; the reason says by what.
    Allow(Reason),
    /// Explicitly denied.
    Deny(Reason),
    /// This authorizer does not allow it; the next one may. The reason may be empty.
    NoOpinion(Reason),
}

impl Decision {
    /// Whether the request may proceed.
    pub fn is_allowed(&self) -> bool {
        matches!(self, Decision::Allow(_))
    }

    /// The reason.
    pub fn reason(&self) -> &Reason {
        match self {
            Decision::Allow(r) | Decision::Deny(r) | Decision::NoOpinion(r) => r,
        }
    }
}

/// A rule on resources, as SelfSubjectRulesReview reports it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ResourceRule {
    /// Verbs.
    pub verbs: Vec<String>,
    /// API groups.
    pub api_groups: Vec<String>,
    /// Resources (`res`, `res/sub`, `*`).
    pub resources: Vec<String>,
    /// Names, empty for all.
    pub resource_names: Vec<String>,
}

/// A rule on non-resource URLs.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct NonResourceRule {
    /// Verbs.
    pub verbs: Vec<String>,
    /// URLs (exact, or `prefix*`).
    pub non_resource_urls: Vec<String>,
}

/// What a user may do in a namespace (SelfSubjectRulesReview's status).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Rules {
    /// Rules on resources.
    pub resource_rules: Vec<ResourceRule>,
    /// Rules on non-resource URLs.
    pub non_resource_rules: Vec<NonResourceRule>,
    /// Whether the list may miss rules: an authorizer could not list them. A missing role is
    /// not that (kube-apiserver's RBAC reports it in `evaluation_error` only).
    pub incomplete: bool,
    /// Why it is incomplete.
    pub evaluation_error: String,
}

/// Decides requests. Implementations must be pure: no clock, no I/O beyond reading their policy.
pub trait Authorizer: Send + Sync {
    /// The decision for `attributes`.
    fn authorize(&self, attributes: &Attributes) -> Decision;

    /// Every rule `user` has in `namespace` (SelfSubjectRulesReview).
    fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules;

    /// Explains the decision on `attributes` for operators (bindings, nearest rules and what
    /// they lack), when this authorizer can; None otherwise.
    fn explain(&self, _attributes: &Attributes) -> Option<Explanation> {
        None
    }
}

/// Allows everything to members of one group (`system:masters`), with an empty reason as
/// Kubernetes does; no opinion otherwise.
#[derive(Debug, Clone)]
pub struct PrivilegedGroup(pub String);

impl Authorizer for PrivilegedGroup {
    fn authorize(&self, a: &Attributes) -> Decision {
        if a.user.groups.contains(&self.0) {
            Decision::Allow(Reason::PrivilegedGroup)
        } else {
            Decision::NoOpinion(Reason::None)
        }
    }

    fn rules_for(&self, user: &UserInfo, _namespace: &str) -> Rules {
        if !user.groups.contains(&self.0) {
            return Rules::default();
        }
        let all = || vec!["*".to_string()];
        Rules {
            resource_rules: vec![ResourceRule {
                verbs: all(),
                api_groups: all(),
                resources: all(),
                resource_names: vec![],
            }],
            non_resource_rules: vec![NonResourceRule { verbs: all(), non_resource_urls: all() }],
            ..Rules::default()
        }
    }
}

/// Authorizers in order; the first allow or deny decides, no-opinion reasons are joined with
/// newlines (as Kubernetes' union does).
pub struct Chain(pub Vec<Box<dyn Authorizer>>);

impl fmt::Debug for Chain {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Chain({} authorizers)", self.0.len())
    }
}

impl Authorizer for Chain {
    fn authorize(&self, a: &Attributes) -> Decision {
        let mut reasons: Vec<Reason> = Vec::new();
        for z in &self.0 {
            match z.authorize(a) {
                Decision::NoOpinion(r) => {
                    // An empty reason that explains something to operators (a failed
                    // webhook) is kept while it is the only one.
                    if !r.is_empty() || r.detail().is_some() {
                        reasons.push(r);
                    }
                }
                decided => return decided,
            }
        }
        Decision::NoOpinion(match reasons.len() {
            0 => Reason::None,
            1 => reasons.swap_remove(0),
            _ => Reason::Text(
                reasons.iter().filter(|r| !r.is_empty()).map(ToString::to_string).collect::<Vec<_>>().join("\n"),
            ),
        })
    }

    /// The first member's explanation.
    fn explain(&self, a: &Attributes) -> Option<Explanation> {
        self.0.iter().find_map(|z| z.explain(a))
    }

    fn rules_for(&self, user: &UserInfo, namespace: &str) -> Rules {
        let mut out = Rules::default();
        let mut errors = Vec::new();
        for z in &self.0 {
            let r = z.rules_for(user, namespace);
            out.resource_rules.extend(r.resource_rules);
            out.non_resource_rules.extend(r.non_resource_rules);
            out.incomplete |= r.incomplete;
            if !r.evaluation_error.is_empty() {
                errors.push(r.evaluation_error);
            }
        }
        out.evaluation_error = errors.join(", ");
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn attrs(ns: &str, sub: &str) -> Attributes {
        Attributes {
            user: UserInfo { name: "alice".into(), ..UserInfo::default() },
            verb: "get".into(),
            target: Target::Resource {
                namespace: ns.into(),
                api_group: "".into(),
                api_version: "v1".into(),
                resource: "secrets".into(),
                subresource: sub.into(),
                name: "s".into(),
            },
        }
    }

    #[test]
    fn forbidden_messages_match_kube_apiserver() {
        assert_eq!(
            attrs("default", "").forbidden_message(),
            r#"User "alice" cannot get resource "secrets" in API group "" in the namespace "default""#
        );
        assert_eq!(
            attrs("", "status").forbidden_message(),
            r#"User "alice" cannot get resource "secrets/status" in API group "" at the cluster scope"#
        );
        let mut a = attrs("", "");
        a.target = Target::NonResource { path: "/healthz".into() };
        assert_eq!(a.forbidden_message(), r#"User "alice" cannot get path "/healthz""#);
    }

    #[test]
    fn forbidden_errors_escape_html_in_the_message_only() {
        let mut a = attrs("default", "");
        a.user.name = "<b>&co".into();
        assert_eq!(
            a.forbidden_error("RBAC: <none>"),
            r#"User "&lt;b&gt;&amp;co" cannot get resource "secrets" in API group "" in the namespace "default": RBAC: <none>"#
        );
        assert_eq!(attrs("default", "").forbidden_error(""), attrs("default", "").forbidden_message());
    }

    #[test]
    fn privileged_group_allows_with_empty_reason() {
        let z = Chain(vec![Box::new(PrivilegedGroup(SYSTEM_MASTERS.into()))]);
        let mut a = attrs("default", "");
        assert_eq!(z.authorize(&a), Decision::NoOpinion(Reason::None));
        a.user.groups.push(SYSTEM_MASTERS.into());
        assert_eq!(z.authorize(&a), Decision::Allow(Reason::PrivilegedGroup));
        assert_eq!(z.authorize(&a).reason().to_string(), "");
        assert_eq!(z.rules_for(&a.user, "x").resource_rules[0].verbs, ["*"]);
    }
}
