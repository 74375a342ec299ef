//! RBAC escalation prevention (`pkg/registry/rbac/validation`): a user may grant, through a role
//! they write or a role they bind, only permissions they already hold. [`check_escalation`] is the
//! pure check; the server does the wiring (the `escalate` and `bind` verbs, reading the bound
//! role, the 403).

use std::fmt;

use k8s_openapi::api::rbac::v1::PolicyRule;

use super::rules::compact;
use crate::authz::{NonResourceRule, ResourceRule, Rules};
use crate::user::UserInfo;

const ALL: &str = "*";

/// A grant refused because the granting user does not hold every permission in it. Display is
/// kube-apiserver's text: the user, their groups, and one compact rule per missing permission.
#[derive(Debug, Clone, PartialEq)]
pub struct Escalation {
    /// The user's name.
    pub user: String,
    /// The user's groups.
    pub groups: Vec<String>,
    /// The permissions granted but not held, one verb, group, resource (and name) or URL each.
    pub missing: Vec<PolicyRule>,
}

impl fmt::Display for Escalation {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "user {:?} (groups=[", self.user)?;
        for (i, g) in self.groups.iter().enumerate() {
            if i > 0 {
                f.write_str(" ")?;
            }
            write!(f, "{g:?}")?;
        }
        f.write_str("]) is attempting to grant RBAC permissions not currently held:")?;
        for line in missing_lines(&self.missing) {
            f.write_str("\n")?;
            f.write_str(&line)?;
        }
        Ok(())
    }
}

/// The missing permissions as kube-apiserver lists them (`CompactRules`, then a sorted set of
/// `CompactString`s): the one-verb rules of one group, one resource and at most one name are
/// merged, their verbs together in the order found; the others stay one line each.
fn missing_lines(missing: &[PolicyRule]) -> Vec<String> {
    let mut merged: Vec<PolicyRule> = Vec::new();
    let mut lines: Vec<String> = Vec::new();
    for rule in missing {
        let simple = rule.non_resource_urls.as_ref().is_none_or(Vec::is_empty)
            && rule.api_groups.as_ref().is_some_and(|g| g.len() == 1)
            && rule.resources.as_ref().is_some_and(|r| r.len() == 1)
            && rule.resource_names.as_ref().is_none_or(|n| n.len() <= 1);
        if !simple {
            lines.push(compact(rule));
            continue;
        }
        let names = |r: &PolicyRule| r.resource_names.clone().unwrap_or_default();
        match merged
            .iter_mut()
            .find(|m| m.api_groups == rule.api_groups && m.resources == rule.resources && names(m) == names(rule))
        {
            Some(m) => m.verbs.extend(rule.verbs.iter().cloned()),
            None => merged.push(rule.clone()),
        }
    }
    lines.extend(merged.iter().map(compact));
    lines.sort();
    lines.dedup();
    lines
}

impl std::error::Error for Escalation {}

/// Checks that `held` (what `user` may do, as [`crate::authz::Authorizer::rules_for`] lists it)
/// covers every permission in `granted`; otherwise the error lists what is missing.
pub fn check_escalation(user: &UserInfo, held: &Rules, granted: &[PolicyRule]) -> Result<(), Escalation> {
    let missing: Vec<PolicyRule> = granted.iter().flat_map(|g| uncovered(held, g)).collect();
    if missing.is_empty() {
        return Ok(());
    }
    Err(Escalation { user: user.name.clone(), groups: user.groups.clone(), missing })
}

fn resource_rule_covers(r: &ResourceRule, verb: &str, group: &str, resource: &str, name: Option<&str>) -> bool {
    let verb_ok = r.verbs.iter().any(|x| x == ALL || x == verb);
    let group_ok = r.api_groups.iter().any(|x| x == ALL || x == group);
    let resource_ok = r.resources.iter().any(|x| {
        x == ALL
            || x == resource
            || (x.starts_with("*/") && resource.split_once('/').is_some_and(|(_, sub)| x[2..] == *sub))
    });
    let name_ok = match name {
        None => r.resource_names.is_empty(),
        Some(n) => r.resource_names.is_empty() || r.resource_names.iter().any(|x| x == n),
    };
    verb_ok && group_ok && resource_ok && name_ok
}

fn non_resource_rule_covers(r: &NonResourceRule, verb: &str, url: &str) -> bool {
    r.verbs.iter().any(|x| x == ALL || x == verb)
        && r.non_resource_urls
            .iter()
            .any(|x| x == ALL || x == url || (x.ends_with('*') && url.starts_with(x.trim_end_matches('*'))))
}

/// The parts of `requested` that no rule in `held` covers, as one-verb, one-group,
/// one-resource (one-name) rules: empty when `held` holds every permission `requested`
/// grants (Kubernetes' `validation.Covers`). `*` is covered only by `*`.
pub fn uncovered(held: &Rules, requested: &PolicyRule) -> Vec<PolicyRule> {
    let one = |s: &String| Some(vec![s.clone()]);
    let mut out = Vec::new();
    for verb in &requested.verbs {
        for url in requested.non_resource_urls.iter().flatten() {
            if !held.non_resource_rules.iter().any(|r| non_resource_rule_covers(r, verb, url)) {
                out.push(PolicyRule {
                    verbs: vec![verb.clone()],
                    non_resource_urls: one(url),
                    ..PolicyRule::default()
                });
            }
        }
        for group in requested.api_groups.iter().flatten() {
            for resource in requested.resources.iter().flatten() {
                let names: Vec<Option<&String>> = match &requested.resource_names {
                    Some(n) if !n.is_empty() => n.iter().map(Some).collect(),
                    _ => vec![None],
                };
                for name in names {
                    let name_str = name.map(String::as_str);
                    if !held.resource_rules.iter().any(|r| resource_rule_covers(r, verb, group, resource, name_str)) {
                        out.push(PolicyRule {
                            verbs: vec![verb.clone()],
                            api_groups: one(group),
                            resources: one(resource),
                            resource_names: name.and_then(one),
                            non_resource_urls: None,
                        });
                    }
                }
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(l: &[&str]) -> Vec<String> {
        l.iter().map(|x| x.to_string()).collect()
    }

    fn held(verbs: &[&str], groups: &[&str], res: &[&str]) -> ResourceRule {
        ResourceRule { verbs: s(verbs), api_groups: s(groups), resources: s(res), resource_names: vec![] }
    }

    fn rule(verbs: &[&str], groups: &[&str], res: &[&str]) -> PolicyRule {
        PolicyRule { verbs: s(verbs), api_groups: Some(s(groups)), resources: Some(s(res)), ..PolicyRule::default() }
    }

    fn rules(r: Vec<ResourceRule>) -> Rules {
        Rules { resource_rules: r, ..Rules::default() }
    }

    #[test]
    fn coverage() {
        let owner = rules(vec![held(&["get", "list"], &[""], &["secrets", "pods"])]);
        assert!(uncovered(&owner, &rule(&["get"], &[""], &["secrets"])).is_empty());
        let missing = uncovered(&owner, &rule(&["get", "delete"], &[""], &["secrets"]));
        assert_eq!(missing, vec![rule(&["delete"], &[""], &["secrets"])]);
        assert_eq!(uncovered(&owner, &rule(&["*"], &[""], &["secrets"])).len(), 1, "a wildcard needs a wildcard");
        let all = rules(vec![held(&["*"], &["*"], &["*"])]);
        assert!(uncovered(&all, &rule(&["*"], &["x"], &["y/z"])).is_empty());
        let sub = rules(vec![held(&["get"], &[""], &["*/status"])]);
        assert!(uncovered(&sub, &rule(&["get"], &[""], &["pods/status"])).is_empty());
    }

    #[test]
    fn names_and_urls() {
        let mut named = held(&["get"], &[""], &["secrets"]);
        named.resource_names = s(&["a"]);
        let owner = Rules {
            resource_rules: vec![named],
            non_resource_rules: vec![NonResourceRule { verbs: s(&["get"]), non_resource_urls: s(&["/logs/*"]) }],
            ..Rules::default()
        };
        let mut want = rule(&["get"], &[""], &["secrets"]);
        want.resource_names = Some(s(&["a", "b"]));
        let missing = uncovered(&owner, &want);
        assert_eq!(missing.len(), 1);
        assert_eq!(missing[0].resource_names.as_deref(), Some(&s(&["b"])[..]));
        assert_eq!(
            uncovered(&owner, &rule(&["get"], &[""], &["secrets"])).len(),
            1,
            "a named rule covers no collection"
        );
        let url =
            |u: &str| PolicyRule { verbs: s(&["get"]), non_resource_urls: Some(s(&[u])), ..PolicyRule::default() };
        assert!(uncovered(&owner, &url("/logs/x")).is_empty());
        assert_eq!(uncovered(&owner, &url("/metrics")).len(), 1);
    }

    #[test]
    fn error_text_is_kube_apiservers() {
        let user = UserInfo { name: "x".into(), groups: s(&["a", "b"]), ..UserInfo::default() };
        let owner = rules(vec![held(&["get"], &[""], &["pods"])]);
        assert_eq!(check_escalation(&user, &owner, &[rule(&["get"], &[""], &["pods"])]), Ok(()));
        let e =
            check_escalation(&user, &owner, &[rule(&["get", "delete"], &[""], &["secrets"])]).expect_err("escalates");
        assert_eq!(e.missing.len(), 2);
        assert_eq!(
            e.to_string(),
            "user \"x\" (groups=[\"a\" \"b\"]) is attempting to grant RBAC permissions not currently held:\n\
             {APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"delete\"]}"
        );
    }

    #[test]
    fn missing_permissions_are_compacted_as_kube_apiserver_lists_them() {
        let user = UserInfo { name: "eve".into(), groups: s(&["system:authenticated"]), ..UserInfo::default() };
        let owner = rules(vec![held(&["get"], &[""], &["pods"])]);
        let mut named = rule(&["delete"], &["apps"], &["deployments"]);
        named.resource_names = Some(s(&["a"]));
        let url = PolicyRule {
            verbs: s(&["get", "post"]),
            non_resource_urls: Some(s(&["/b", "/a"])),
            ..PolicyRule::default()
        };
        let e = check_escalation(
            &user,
            &owner,
            &[rule(&["get", "list", "watch"], &[""], &["pods", "secrets"]), named, url],
        )
        .expect_err("escalates");
        // Merged per group, resource and name, verbs in the order found; URLs one line per
        // verb; the lines sorted. (Checked against kube-apiserver 1.32.)
        assert_eq!(
            e.to_string(),
            "user \"eve\" (groups=[\"system:authenticated\"]) is attempting to grant RBAC permissions not currently held:\n\
             {APIGroups:[\"\"], Resources:[\"pods\"], Verbs:[\"list\" \"watch\"]}\n\
             {APIGroups:[\"\"], Resources:[\"secrets\"], Verbs:[\"get\" \"list\" \"watch\"]}\n\
             {APIGroups:[\"apps\"], Resources:[\"deployments\"], ResourceNames:[\"a\"], Verbs:[\"delete\"]}\n\
             {NonResourceURLs:[\"/a\"], Verbs:[\"get\"]}\n\
             {NonResourceURLs:[\"/a\"], Verbs:[\"post\"]}\n\
             {NonResourceURLs:[\"/b\"], Verbs:[\"get\"]}\n\
             {NonResourceURLs:[\"/b\"], Verbs:[\"post\"]}"
        );
    }
}
