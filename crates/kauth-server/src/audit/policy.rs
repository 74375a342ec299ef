//! The audit policy (`--audit-policy-file`, `audit.k8s.io/v1` `Policy`): which requests are
//! recorded and how much of each, matched as kube-apiserver matches it. Rules are tried in order
//! and the first that matches gives the level (none matching: `None`); a rule matches when each
//! of its non-empty lists does: `users` (the user's name), `userGroups` (any of its groups),
//! `verbs`; then `namespaces` and `resources` (group, resources as `res`, `res/sub`, `*`,
//! `*/sub`, `res/*`, optionally `resourceNames`) for resource requests only, or
//! `nonResourceURLs` (exact, `*`, or a `prefix*`) for the others. `omitStages` is the union of the
//! policy's and the rule's; `omitManagedFields` is the rule's when set, else the policy's.

use serde::Deserialize;

use crate::api::request_info::RequestInfo;

/// How much of a request is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Deserialize, Default)]
pub enum Level {
    /// Nothing.
    #[default]
    None,
    /// Who, what, when, the outcome.
    Metadata,
    /// Plus the request body.
    Request,
    /// Plus the response body.
    RequestResponse,
}

impl std::str::FromStr for Level {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, String> {
        match s {
            "None" => Ok(Level::None),
            "Metadata" => Ok(Level::Metadata),
            "Request" => Ok(Level::Request),
            "RequestResponse" => Ok(Level::RequestResponse),
            other => Err(format!("unknown audit level {other:?} (None, Metadata, Request, RequestResponse)")),
        }
    }
}

impl Level {
    /// Its name in events.
    pub fn as_str(self) -> &'static str {
        match self {
            Level::None => "None",
            Level::Metadata => "Metadata",
            Level::Request => "Request",
            Level::RequestResponse => "RequestResponse",
        }
    }
}

/// A point in a request's life where an event is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum Stage {
    /// As soon as the request is received (after authentication).
    RequestReceived,
    /// When a long-running request (a watch) starts its answer.
    ResponseStarted,
    /// When the answer is complete.
    ResponseComplete,
    /// When a handler panicked.
    Panic,
}

impl Stage {
    /// Its name in events.
    pub fn as_str(self) -> &'static str {
        match self {
            Stage::RequestReceived => "RequestReceived",
            Stage::ResponseStarted => "ResponseStarted",
            Stage::ResponseComplete => "ResponseComplete",
            Stage::Panic => "Panic",
        }
    }
}

/// A group's resources a rule names.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GroupResources {
    /// The API group (`""`: core).
    #[serde(default)]
    pub group: String,
    /// Resources (`pods`, `pods/log`, `*`, `*/status`, `pods/*`); empty: all of the group.
    #[serde(default)]
    pub resources: Vec<String>,
    /// Object names; empty: any.
    #[serde(default)]
    pub resource_names: Vec<String>,
}

/// One rule.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PolicyRule {
    /// The level of what it matches.
    pub level: Level,
    /// User names.
    #[serde(default)]
    pub users: Vec<String>,
    /// Groups.
    #[serde(default)]
    pub user_groups: Vec<String>,
    /// Verbs.
    #[serde(default)]
    pub verbs: Vec<String>,
    /// Resources.
    #[serde(default)]
    pub resources: Vec<GroupResources>,
    /// Namespaces (`""` for cluster-scoped resources).
    #[serde(default)]
    pub namespaces: Vec<String>,
    /// Non-resource URL paths.
    #[serde(default, rename = "nonResourceURLs")]
    pub non_resource_urls: Vec<String>,
    /// Stages not recorded for what it matches.
    #[serde(default)]
    pub omit_stages: Vec<Stage>,
    /// Whether managedFields are left out of bodies.
    #[serde(default)]
    pub omit_managed_fields: Option<bool>,
}

/// The policy.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Policy {
    /// `audit.k8s.io/v1`.
    #[serde(default)]
    pub api_version: String,
    /// `Policy`.
    #[serde(default)]
    pub kind: String,
    /// The rules, in order.
    #[serde(default)]
    pub rules: Vec<PolicyRule>,
    /// Stages never recorded.
    #[serde(default)]
    pub omit_stages: Vec<Stage>,
    /// Whether managedFields are left out of bodies.
    #[serde(default)]
    pub omit_managed_fields: bool,
}

/// What the policy says of one request.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Decision {
    /// How much is recorded.
    pub level: Level,
    /// Stages not recorded.
    pub omit_stages: Vec<Stage>,
    /// Whether managedFields are left out of bodies.
    pub omit_managed_fields: bool,
}

/// Why a policy file was refused. Names the file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("audit policy {file}: {problem}")]
pub struct PolicyError {
    /// The file.
    pub file: String,
    /// What is wrong.
    pub problem: String,
}

/// The request as the policy sees it.
#[derive(Debug, Clone, Copy)]
pub struct Attributes<'a> {
    /// The authenticated user's name and groups (`None` when authentication failed).
    pub user: Option<(&'a str, &'a [String])>,
    /// The request.
    pub info: &'a RequestInfo,
}

impl Policy {
    /// Parses a policy file's text (YAML or JSON), refusing another kind, a missing level and
    /// unknown fields in rules.
    pub fn parse(file: &str, text: &str) -> Result<Self, PolicyError> {
        let bad = |problem: String| PolicyError { file: file.to_owned(), problem };
        let policy: Policy = serde_norway::from_str(text).map_err(|e| bad(e.to_string()))?;
        if policy.kind != "Policy" {
            return Err(bad(format!("kind is {:?}, expected \"Policy\"", policy.kind)));
        }
        if !matches!(policy.api_version.as_str(), "audit.k8s.io/v1" | "audit.k8s.io/v1beta1") {
            return Err(bad(format!("apiVersion is {:?}, expected \"audit.k8s.io/v1\"", policy.api_version)));
        }
        for (i, rule) in policy.rules.iter().enumerate() {
            if !rule.non_resource_urls.is_empty() && (!rule.resources.is_empty() || !rule.namespaces.is_empty()) {
                return Err(bad(format!(
                    "rules[{i}]: rules cannot apply to both regular resources and non-resource URLs"
                )));
            }
        }
        Ok(policy)
    }

    /// A policy with one rule: everything at `level` (kauth's `--audit-level`).
    pub fn everything_at(level: Level) -> Self {
        Policy {
            api_version: "audit.k8s.io/v1".into(),
            kind: "Policy".into(),
            rules: vec![PolicyRule { level, ..PolicyRule::default() }],
            ..Policy::default()
        }
    }

    /// What the policy says of a request.
    pub fn evaluate(&self, attrs: &Attributes<'_>) -> Decision {
        for rule in &self.rules {
            if rule_matches(rule, attrs) {
                let mut omit_stages = self.omit_stages.clone();
                omit_stages.extend(rule.omit_stages.iter().filter(|s| !self.omit_stages.contains(s)));
                return Decision {
                    level: rule.level,
                    omit_stages,
                    omit_managed_fields: rule.omit_managed_fields.unwrap_or(self.omit_managed_fields),
                };
            }
        }
        Decision { level: Level::None, omit_stages: self.omit_stages.clone(), omit_managed_fields: false }
    }
}

fn has(list: &[String], s: &str) -> bool {
    list.iter().any(|x| x == s)
}

fn rule_matches(rule: &PolicyRule, attrs: &Attributes<'_>) -> bool {
    if !rule.users.is_empty() && !attrs.user.is_some_and(|(name, _)| has(&rule.users, name)) {
        return false;
    }
    if !rule.user_groups.is_empty()
        && !attrs.user.is_some_and(|(_, groups)| groups.iter().any(|g| has(&rule.user_groups, g)))
    {
        return false;
    }
    if !rule.verbs.is_empty() && !has(&rule.verbs, attrs.info.verb()) {
        return false;
    }
    if !rule.namespaces.is_empty() || !rule.resources.is_empty() {
        return resource_matches(rule, attrs.info);
    }
    if !rule.non_resource_urls.is_empty() {
        return attrs.info.resource().is_none()
            && rule.non_resource_urls.iter().any(|spec| path_matches(attrs.info.path(), spec));
    }
    true
}

fn path_matches(path: &str, spec: &str) -> bool {
    spec == "*"
        || spec == path
        || spec.strip_suffix('*').is_some_and(|prefix| path.starts_with(prefix.trim_end_matches('*')))
}

fn resource_matches(rule: &PolicyRule, info: &RequestInfo) -> bool {
    let Some(r) = info.resource() else { return false };
    if !rule.namespaces.is_empty() && !has(&rule.namespaces, &r.namespace) {
        return false;
    }
    if rule.resources.is_empty() {
        return true;
    }
    let combined =
        if r.subresource.is_empty() { r.resource.clone() } else { format!("{}/{}", r.resource, r.subresource) };
    for gr in rule.resources.iter().filter(|gr| gr.group == r.group) {
        if gr.resources.is_empty() {
            return true;
        }
        if !gr.resource_names.is_empty() && !has(&gr.resource_names, &r.name) {
            continue;
        }
        for res in &gr.resources {
            if res == &combined || res == "*" {
                return true;
            }
            if !r.subresource.is_empty() && res.strip_prefix("*/") == Some(r.subresource.as_str()) {
                return true;
            }
            if res.strip_suffix("/*") == Some(r.resource.as_str()) {
                return true;
            }
        }
    }
    false
}

#[cfg(test)]
mod tests;
