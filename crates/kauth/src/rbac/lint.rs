//! Linting a policy (`kauth policy lint`): bindings to roles that do not exist (errors), grants
//! that hand out more than they seem to and bindings of `system:masters` (warnings), and roles
//! nothing uses (info). Kubernetes' own defaults (labelled `kubernetes.io/bootstrapping:
//! rbac-defaults`) are skipped unless asked for; a binding to a missing role is reported
//! whatever its labels.

use std::collections::BTreeMap;
use std::fmt;

use k8s_openapi::api::rbac::v1::{PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use serde::ser::SerializeStruct;
use serde::{Serialize, Serializer};

use super::aggregate::is_aggregated;
use super::defaults::is_default;
use super::index::RbacIndex;
use super::load::PolicyDocuments;
use super::object_ref::{ObjectRef, RbacKind};
use super::rules::compact;
use crate::authz::SYSTEM_MASTERS;

/// How bad a finding is; errors sort first.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// The policy does not do what it says (a binding grants nothing).
    Error,
    /// A grant worth a second look.
    Warning,
    /// Worth knowing.
    Info,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

/// A rule that grants more than it seems to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Risk {
    /// Verb `*`.
    WildcardVerbs,
    /// Resource `*`.
    WildcardResources,
    /// `escalate` on roles or clusterroles.
    Escalate,
    /// `bind` on roles or clusterroles.
    Bind,
    /// `impersonate` on users, groups, service accounts, uids or user extras.
    Impersonate,
    /// Reading Secrets.
    SecretsRead,
    /// `create` on `serviceaccounts/token`.
    TokenCreate,
}

impl Risk {
    /// A stable name for scripts (`wildcard-verbs`).
    pub fn code(self) -> &'static str {
        match self {
            Risk::WildcardVerbs => "wildcard-verbs",
            Risk::WildcardResources => "wildcard-resources",
            Risk::Escalate => "escalate",
            Risk::Bind => "bind",
            Risk::Impersonate => "impersonate",
            Risk::SecretsRead => "secrets-read",
            Risk::TokenCreate => "token-create",
        }
    }

    /// What the rule allows, for people.
    pub fn what(self) -> &'static str {
        match self {
            Risk::WildcardVerbs => "grants every verb (`*`), including verbs such as escalate, bind and impersonate",
            Risk::WildcardResources => "grants every resource (`*`), including ones added later",
            Risk::Escalate => "can create or change roles to hold permissions it does not have (escalate)",
            Risk::Bind => "can bind any role, granting permissions it does not have (bind)",
            Risk::Impersonate => "can act as other users, groups or service accounts (impersonate)",
            Risk::SecretsRead => "can read Secrets (service-account tokens, TLS keys, credentials)",
            Risk::TokenCreate => "can mint tokens for service accounts (serviceaccounts/token create)",
        }
    }
}

/// What was found.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum FindingKind {
    /// A binding refers to a role that does not exist: it grants nothing.
    MissingRole,
    /// No binding refers to a role and no aggregation rule selects it.
    UnusedRole,
    /// A binding names the group `system:masters`, which bypasses RBAC anyway.
    SystemMasters,
    /// A role grants something risky.
    Risk(Risk),
}

impl FindingKind {
    /// A stable name for scripts (`missing-role`, `unused-role`, `system-masters`, or the risk's).
    pub fn code(self) -> &'static str {
        match self {
            FindingKind::MissingRole => "missing-role",
            FindingKind::UnusedRole => "unused-role",
            FindingKind::SystemMasters => "system-masters",
            FindingKind::Risk(r) => r.code(),
        }
    }

    /// How bad it is.
    pub fn severity(self) -> Severity {
        match self {
            FindingKind::MissingRole => Severity::Error,
            FindingKind::SystemMasters | FindingKind::Risk(_) => Severity::Warning,
            FindingKind::UnusedRole => Severity::Info,
        }
    }
}

impl fmt::Display for FindingKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// One finding. JSON: `severity`, `code`, `object` and `message`, as text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    /// What was found (its severity follows from it).
    pub kind: FindingKind,
    /// The binding or role it is about.
    pub object: ObjectRef,
    /// The details, for people: the missing role, who is bound, the rule.
    pub message: String,
}

impl Finding {
    /// How bad it is.
    pub fn severity(&self) -> Severity {
        self.kind.severity()
    }

    /// The order of a report: severity, code, object, message.
    fn order_key(&self) -> (Severity, &'static str, String, String) {
        (self.severity(), self.kind.code(), self.object.to_string(), self.message.clone())
    }
}

impl Serialize for Finding {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut f = s.serialize_struct("Finding", 4)?;
        f.serialize_field("severity", &self.severity())?;
        f.serialize_field("code", self.kind.code())?;
        f.serialize_field("object", &self.object)?;
        f.serialize_field("message", &self.message)?;
        f.end()
    }
}

/// Whether Kubernetes' own default roles and bindings are linted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Defaults {
    /// Skip them (they are Kubernetes' to change): only missing roles are reported for them.
    Skip,
    /// Lint them as any other object.
    Include,
}

fn lists(l: &Option<Vec<String>>, any: &[&str]) -> bool {
    l.iter().flatten().any(|v| v == "*" || any.contains(&v.as_str()))
}

/// The risky grants of one rule, in a fixed order.
pub fn risks(rule: &PolicyRule) -> Vec<Risk> {
    let mut out = Vec::new();
    let verb = |v: &[&str]| rule.verbs.iter().any(|x| x == "*" || v.contains(&x.as_str()));
    let group = |g: &[&str]| lists(&rule.api_groups, g);
    let resource = |r: &[&str]| lists(&rule.resources, r);
    if rule.verbs.iter().any(|v| v == "*") {
        out.push(Risk::WildcardVerbs);
    }
    if rule.resources.iter().flatten().any(|r| r == "*") {
        out.push(Risk::WildcardResources);
    }
    let rbac = group(&["rbac.authorization.k8s.io"]) && resource(&["roles", "clusterroles"]);
    if rbac && verb(&["escalate"]) {
        out.push(Risk::Escalate);
    }
    if rbac && verb(&["bind"]) {
        out.push(Risk::Bind);
    }
    if verb(&["impersonate"])
        && (group(&[""]) && resource(&["users", "groups", "serviceaccounts"])
            || group(&["authentication.k8s.io"]) && resource(&["uids", "userextras"]))
    {
        out.push(Risk::Impersonate);
    }
    if group(&[""]) && resource(&["secrets"]) && verb(&["get", "list", "watch"]) {
        out.push(Risk::SecretsRead);
    }
    if group(&[""]) && resource(&["serviceaccounts/token"]) && verb(&["create"]) {
        out.push(Risk::TokenCreate);
    }
    out
}

/// A role as the bindings refer to it: (kind, namespace, name).
type RoleKey = (String, String, String);

/// The findings on one policy's objects, in report order (see [`Finding`]). `policy` is taken
/// as read and aggregated: an aggregated ClusterRole is judged on the rules it aggregates.
pub fn lint(policy: &PolicyDocuments, defaults: Defaults) -> Vec<Finding> {
    let index = policy.index();
    let keep = |m: &ObjectMeta| defaults == Defaults::Include || !is_default(m);
    let mut findings = Vec::new();
    // Who is bound to which role: role → "<binding> to <subjects>".
    let mut bound: BTreeMap<RoleKey, Vec<String>> = BTreeMap::new();
    let subjects = |s: &Option<Vec<Subject>>| {
        s.iter().flatten().map(|s| format!("{} {:?}", s.kind, s.name)).collect::<Vec<_>>().join(", ")
    };
    for b in &policy.cluster_role_bindings {
        let object = ObjectRef::cluster(RbacKind::ClusterRoleBinding, b.metadata.name.as_deref().unwrap_or_default());
        findings.extend(missing_role(&index, &b.role_ref, "", &object));
        let key = (b.role_ref.kind.clone(), String::new(), b.role_ref.name.clone());
        bound.entry(key).or_default().push(format!("{object} to {}", subjects(&b.subjects)));
        if keep(&b.metadata) {
            findings.extend(masters(&b.subjects, &object));
        }
    }
    for b in &policy.role_bindings {
        let ns = b.metadata.namespace.as_deref().unwrap_or_default();
        let object = ObjectRef::namespaced(RbacKind::RoleBinding, ns, b.metadata.name.as_deref().unwrap_or_default());
        findings.extend(missing_role(&index, &b.role_ref, ns, &object));
        let role_ns = if b.role_ref.kind == "Role" { ns } else { "" };
        let key = (b.role_ref.kind.clone(), role_ns.to_owned(), b.role_ref.name.clone());
        bound.entry(key).or_default().push(format!("{object} to {}", subjects(&b.subjects)));
        if keep(&b.metadata) {
            findings.extend(masters(&b.subjects, &object));
        }
    }
    let roles = policy
        .cluster_roles
        .iter()
        .map(|r| (RbacKind::ClusterRole, &r.metadata, r.rules.as_deref().unwrap_or_default()))
        .chain(policy.roles.iter().map(|r| (RbacKind::Role, &r.metadata, r.rules.as_deref().unwrap_or_default())));
    for (kind, meta, rules) in roles {
        if !keep(meta) {
            continue;
        }
        let ns = if kind.is_namespaced() { meta.namespace.as_deref().unwrap_or_default() } else { "" };
        let object = ObjectRef::namespaced(kind, ns, meta.name.as_deref().unwrap_or_default());
        let users = bound.get(&(kind.as_str().to_owned(), ns.to_owned(), object.name.clone()));
        let aggregated_into =
            kind == RbacKind::ClusterRole && is_aggregated(meta.labels.as_ref(), &policy.cluster_roles);
        findings.extend(role_findings(object, users.map(Vec::as_slice), aggregated_into, rules));
    }
    findings.sort_by_cached_key(Finding::order_key);
    findings
}

/// A binding's role that cannot be resolved.
fn missing_role(index: &RbacIndex, role_ref: &RoleRef, namespace: &str, object: &ObjectRef) -> Option<Finding> {
    let e = index.role_rules_of(role_ref, namespace).err()?;
    Some(Finding {
        kind: FindingKind::MissingRole,
        object: object.clone(),
        message: format!(
            "refers to {} {:?}, which does not exist ({e}); it grants nothing",
            role_ref.kind, role_ref.name
        ),
    })
}

/// A binding of `system:masters`.
fn masters(subjects: &Option<Vec<Subject>>, object: &ObjectRef) -> Option<Finding> {
    subjects.iter().flatten().any(|s| s.kind == "Group" && s.name == SYSTEM_MASTERS).then(|| Finding {
        kind: FindingKind::SystemMasters,
        object: object.clone(),
        message: "binds the system:masters group, whose members bypass RBAC entirely and cannot be restricted; the binding is redundant and suggests system:masters credentials are in use".into(),
    })
}

/// An unused role, and each kind of risk its rules grant (once per role, first rule named).
fn role_findings(
    object: ObjectRef,
    users: Option<&[String]>,
    aggregated_into: bool,
    rules: &[PolicyRule],
) -> Vec<Finding> {
    let mut out = Vec::new();
    if users.is_none() && !aggregated_into {
        out.push(Finding {
            kind: FindingKind::UnusedRole,
            object: object.clone(),
            message: "no binding refers to it and no aggregation rule selects it".into(),
        });
    }
    let whom = match users {
        Some(u) => format!("bound by {}", u.join("; ")),
        None if aggregated_into => "aggregated into another ClusterRole".into(),
        None => "not bound".into(),
    };
    let mut seen = Vec::new();
    for rule in rules {
        for risk in risks(rule) {
            if seen.contains(&risk) {
                continue;
            }
            seen.push(risk);
            out.push(Finding {
                kind: FindingKind::Risk(risk),
                object: object.clone(),
                message: format!("{}; {whom}; rule {}", risk.what(), compact(rule)),
            });
        }
    }
    out
}

#[cfg(test)]
mod tests;
