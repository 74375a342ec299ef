//! Does one PolicyRule allow a request? (`pkg/apis/rbac/v1/evaluation_helpers.go`.)

use k8s_openapi::api::rbac::v1::PolicyRule;

use crate::authz::{Attributes, Target};

const ALL: &str = "*";

fn has(list: &Option<Vec<String>>, value: &str) -> bool {
    list.iter().flatten().any(|v| v == ALL || v == value)
}

/// The rule lists the verb (or `*`).
pub fn verb_matches(rule: &PolicyRule, verb: &str) -> bool {
    rule.verbs.iter().any(|v| v == ALL || v == verb)
}

/// The rule lists the API group (or `*`).
pub fn api_group_matches(rule: &PolicyRule, group: &str) -> bool {
    has(&rule.api_groups, group)
}

/// The rule lists `resource` (`res` or `res/sub`), `*`, or `*/sub` for the subresource.
pub fn resource_matches(rule: &PolicyRule, combined: &str, subresource: &str) -> bool {
    rule.resources.iter().flatten().any(|r| {
        r == ALL
            || r == combined
            || (!subresource.is_empty()
                && r.len() == subresource.len() + 2
                && r.starts_with("*/")
                && r.ends_with(subresource))
    })
}

/// No resourceNames means every name; otherwise the name must be listed.
pub fn resource_name_matches(rule: &PolicyRule, name: &str) -> bool {
    match &rule.resource_names {
        None => true,
        Some(names) if names.is_empty() => true,
        Some(names) => names.iter().any(|n| n == name),
    }
}

/// The rule lists the path exactly, `*`, or a `prefix*` the path starts with.
pub fn non_resource_url_matches(rule: &PolicyRule, path: &str) -> bool {
    rule.non_resource_urls
        .iter()
        .flatten()
        .any(|u| u == ALL || u == path || (u.ends_with('*') && path.starts_with(u.trim_end_matches('*'))))
}

/// A request prepared for matching against many rules (the `resource/subresource` string is
/// built once, not per rule).
#[derive(Debug, Clone)]
pub struct Request<'a> {
    verb: &'a str,
    target: RequestTarget<'a>,
}

#[derive(Debug, Clone)]
enum RequestTarget<'a> {
    Resource { group: &'a str, combined: std::borrow::Cow<'a, str>, subresource: &'a str, name: &'a str },
    NonResource { path: &'a str },
}

impl<'a> Request<'a> {
    /// Prepares `a`.
    pub fn new(a: &'a Attributes) -> Self {
        let target = match &a.target {
            Target::Resource { api_group, resource, subresource, name, .. } => RequestTarget::Resource {
                group: api_group,
                combined: if subresource.is_empty() {
                    resource.as_str().into()
                } else {
                    format!("{resource}/{subresource}").into()
                },
                subresource,
                name,
            },
            Target::NonResource { path } => RequestTarget::NonResource { path },
        };
        Request { verb: &a.verb, target }
    }

    /// Whether `rule` allows this request.
    pub fn allowed_by(&self, rule: &PolicyRule) -> bool {
        match &self.target {
            RequestTarget::Resource { group, combined, subresource, name } => {
                verb_matches(rule, self.verb)
                    && api_group_matches(rule, group)
                    && resource_matches(rule, combined, subresource)
                    && resource_name_matches(rule, name)
            }
            RequestTarget::NonResource { path } => {
                verb_matches(rule, self.verb) && non_resource_url_matches(rule, path)
            }
        }
    }
}

/// Whether `rule` allows `a`.
pub fn rule_allows(a: &Attributes, rule: &PolicyRule) -> bool {
    Request::new(a).allowed_by(rule)
}

/// A rule in Kubernetes' compact text (`{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}`).
pub fn compact(rule: &PolicyRule) -> String {
    let q = |l: &[String]| l.iter().map(|s| format!("{s:?}")).collect::<Vec<_>>().join(" ");
    let mut parts = Vec::new();
    if let Some(g) = rule.api_groups.as_ref().filter(|g| !g.is_empty()) {
        parts.push(format!("APIGroups:[{}]", q(g)));
    }
    if let Some(r) = rule.resources.as_ref().filter(|r| !r.is_empty()) {
        parts.push(format!("Resources:[{}]", q(r)));
    }
    if let Some(n) = rule.resource_names.as_ref().filter(|n| !n.is_empty()) {
        parts.push(format!("ResourceNames:[{}]", q(n)));
    }
    if let Some(u) = rule.non_resource_urls.as_ref().filter(|u| !u.is_empty()) {
        parts.push(format!("NonResourceURLs:[{}]", q(u)));
    }
    parts.push(format!("Verbs:[{}]", q(&rule.verbs)));
    format!("{{{}}}", parts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::UserInfo;

    fn rule(verbs: &[&str], groups: &[&str], resources: &[&str], names: &[&str]) -> PolicyRule {
        let v = |l: &[&str]| Some(l.iter().map(|s| s.to_string()).collect::<Vec<_>>());
        PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            api_groups: v(groups),
            resources: v(resources),
            resource_names: if names.is_empty() { None } else { v(names) },
            non_resource_urls: None,
        }
    }

    fn req(verb: &str, group: &str, resource: &str, sub: &str, name: &str) -> Attributes {
        Attributes {
            user: UserInfo::default(),
            verb: verb.into(),
            target: Target::Resource {
                namespace: "ns".into(),
                api_group: group.into(),
                api_version: "v1".into(),
                resource: resource.into(),
                subresource: sub.into(),
                name: name.into(),
            },
        }
    }

    #[test]
    fn resources_subresources_and_wildcards() {
        let r = rule(&["get"], &[""], &["pods"], &[]);
        assert!(rule_allows(&req("get", "", "pods", "", "p"), &r));
        assert!(!rule_allows(&req("get", "", "pods", "log", "p"), &r), "a resource does not cover its subresources");
        assert!(!rule_allows(&req("list", "", "pods", "", ""), &r));
        assert!(!rule_allows(&req("get", "apps", "pods", "", "p"), &r));
        let sub = rule(&["create"], &[""], &["serviceaccounts/token"], &[]);
        assert!(rule_allows(&req("create", "", "serviceaccounts", "token", "sa"), &sub));
        let star_sub = rule(&["get"], &["*"], &["*/status"], &[]);
        assert!(rule_allows(&req("get", "x", "pods", "status", "p"), &star_sub));
        assert!(!rule_allows(&req("get", "x", "pods", "", "p"), &star_sub));
        let named = rule(&["get"], &[""], &["secrets"], &["a"]);
        assert!(rule_allows(&req("get", "", "secrets", "", "a"), &named));
        assert!(!rule_allows(&req("get", "", "secrets", "", "b"), &named));
        assert!(!rule_allows(&req("list", "", "secrets", "", ""), &rule(&["list"], &[""], &["secrets"], &["a"])));
    }

    #[test]
    fn non_resource_urls_exact_and_prefix() {
        let r = PolicyRule {
            verbs: vec!["get".into()],
            non_resource_urls: Some(vec!["/healthz".into(), "/api/*".into()]),
            ..PolicyRule::default()
        };
        let at = |p: &str| Attributes {
            user: UserInfo::default(),
            verb: "get".into(),
            target: Target::NonResource { path: p.into() },
        };
        assert!(rule_allows(&at("/healthz"), &r));
        assert!(!rule_allows(&at("/healthz/ping"), &r));
        assert!(rule_allows(&at("/api/v1"), &r));
        assert!(rule_allows(&at("/api/"), &r));
        assert!(!rule_allows(&at("/apis"), &r));
    }
}
