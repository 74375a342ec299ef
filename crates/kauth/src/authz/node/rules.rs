//! The Node authorizer's static rules: kube-apiserver 1.32's `bootstrappolicy.NodeRules()` with
//! its default feature gates (no DynamicResourceAllocation, no ClusterTrustBundle rules), matched
//! as RBAC matches a rule. They decide every request of a node the graph does not subdivide.

use crate::authz::{Attributes, ResourceRule, Target};

/// One static rule: verbs, API groups, resources (`res` or `res/sub`). None of them has
/// resource names or wildcards.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StaticRule {
    /// Verbs.
    pub verbs: &'static [&'static str],
    /// API groups.
    pub api_groups: &'static [&'static str],
    /// Resources.
    pub resources: &'static [&'static str],
}

const READ: &[&str] = &["get", "list", "watch"];
const fn rule(
    verbs: &'static [&'static str],
    group: &'static [&'static str],
    resources: &'static [&'static str],
) -> StaticRule {
    StaticRule { verbs, api_groups: group, resources }
}

/// `NodeRules()`, in its order.
pub const NODE_RULES: &[StaticRule] = &[
    rule(&["create"], &["authentication.k8s.io"], &["tokenreviews"]),
    rule(&["create"], &["authorization.k8s.io"], &["subjectaccessreviews", "localsubjectaccessreviews"]),
    rule(READ, &[""], &["services"]),
    rule(&["create", "get", "list", "watch"], &[""], &["nodes"]),
    rule(&["update", "patch"], &[""], &["nodes/status"]),
    rule(&["update", "patch"], &[""], &["nodes"]),
    rule(&["create", "update", "patch"], &[""], &["events"]),
    rule(READ, &[""], &["pods"]),
    rule(&["create", "delete"], &[""], &["pods"]),
    rule(&["update", "patch"], &[""], &["pods/status"]),
    rule(&["create"], &[""], &["pods/eviction"]),
    rule(READ, &[""], &["secrets", "configmaps"]),
    rule(&["get"], &[""], &["persistentvolumeclaims", "persistentvolumes"]),
    rule(&["get"], &[""], &["endpoints"]),
    rule(&["create", "get", "list", "watch"], &["certificates.k8s.io"], &["certificatesigningrequests"]),
    rule(&["get", "create", "update", "patch", "delete"], &["coordination.k8s.io"], &["leases"]),
    rule(&["get"], &["storage.k8s.io"], &["volumeattachments"]),
    rule(&["create"], &[""], &["serviceaccounts/token"]),
    rule(&["get", "update", "patch"], &[""], &["persistentvolumeclaims/status"]),
    rule(&["get", "watch", "list"], &["storage.k8s.io"], &["csidrivers"]),
    rule(&["get", "create", "update", "patch", "delete"], &["storage.k8s.io"], &["csinodes"]),
    rule(READ, &["node.k8s.io"], &["runtimeclasses"]),
];

impl StaticRule {
    /// Whether the rule allows the request (RBAC's `RuleAllows`; these rules hold no
    /// wildcards, no names and no URLs, so a path is never allowed).
    pub fn allows(&self, a: &Attributes) -> bool {
        let Target::Resource { api_group, resource, subresource, .. } = &a.target else { return false };
        let matches = |r: &&str| match r.split_once('/') {
            Some((res, sub)) => res == resource && sub == subresource,
            None => subresource.is_empty() && *r == resource,
        };
        self.verbs.contains(&a.verb.as_str())
            && self.api_groups.contains(&api_group.as_str())
            && self.resources.iter().any(matches)
    }

    /// As a SelfSubjectRulesReview rule.
    pub fn to_resource_rule(&self) -> ResourceRule {
        let own = |l: &[&str]| l.iter().map(|s| (*s).to_owned()).collect();
        ResourceRule {
            verbs: own(self.verbs),
            api_groups: own(self.api_groups),
            resources: own(self.resources),
            resource_names: vec![],
        }
    }
}

/// Whether any static rule allows the request.
pub fn static_rules_allow(a: &Attributes) -> bool {
    NODE_RULES.iter().any(|r| r.allows(a))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::user::UserInfo;

    fn req(verb: &str, group: &str, resource: &str, sub: &str) -> Attributes {
        Attributes {
            user: UserInfo::default(),
            verb: verb.into(),
            target: Target::Resource {
                namespace: "ns".into(),
                api_group: group.into(),
                api_version: "v1".into(),
                resource: resource.into(),
                subresource: sub.into(),
                name: String::new(),
            },
        }
    }

    #[test]
    fn rules_match_as_rbac_does() {
        assert!(static_rules_allow(&req("create", "", "events", "")));
        assert!(static_rules_allow(&req("watch", "", "services", "")));
        assert!(static_rules_allow(&req("create", "", "serviceaccounts", "token")));
        assert!(static_rules_allow(&req("list", "node.k8s.io", "runtimeclasses", "")));
        // Not the events.k8s.io group, not a subresource the rule does not name, not delete.
        assert!(!static_rules_allow(&req("create", "events.k8s.io", "events", "")));
        assert!(!static_rules_allow(&req("get", "", "services", "proxy")));
        assert!(!static_rules_allow(&req("delete", "", "services", "")));
        let mut path = req("get", "", "", "");
        path.target = Target::NonResource { path: "/healthz".into() };
        assert!(!static_rules_allow(&path));
    }
}
