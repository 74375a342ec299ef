//! kube-rbac-proxy's `static` authorizations: requests allowed by the configuration alone, no
//! SubjectAccessReview. An entry matches when each non-empty field equals the request's (the
//! user by name only: kube-rbac-proxy never compares groups) and the kind (resource or path)
//! is the same; a match allows, anything else is no opinion (the cluster is asked next).

use kauth::authz::{Attributes, Authorizer, Decision, Reason, Rules, Target};
use kauth::user::UserInfo;

use super::config::StaticRule;

/// kube-rbac-proxy's reason for a static allow.
pub const REASON: &str = "found corresponding static auth config";

/// The `static` entries as an authorizer.
#[derive(Debug, Clone, Default)]
pub struct StaticRules(pub Vec<StaticRule>);

fn any_or(rule: &str, value: &str) -> bool {
    rule.is_empty() || rule == value
}

/// Whether `rule` matches `a`.
pub fn matches(rule: &StaticRule, a: &Attributes) -> bool {
    let fields_match = match &a.target {
        Target::Resource { namespace, api_group, resource, subresource, name, .. } => {
            // A resource request has no path: a rule naming one never matches it (as in
            // kube-rbac-proxy, whose resource attributes carry an empty path).
            rule.resource_request
                && rule.path.is_empty()
                && any_or(&rule.namespace, namespace)
                && any_or(&rule.api_group, api_group)
                && any_or(&rule.resource, resource)
                && any_or(&rule.subresource, subresource)
                && any_or(&rule.name, name)
        }
        Target::NonResource { path } => {
            !rule.resource_request
                && rule.namespace.is_empty()
                && rule.api_group.is_empty()
                && rule.resource.is_empty()
                && rule.subresource.is_empty()
                && rule.name.is_empty()
                && any_or(&rule.path, path)
        }
    };
    fields_match && any_or(&rule.user.name, &a.user.name) && any_or(&rule.verb, &a.verb)
}

impl Authorizer for StaticRules {
    fn authorize(&self, a: &Attributes) -> Decision {
        if self.0.iter().any(|r| matches(r, a)) {
            Decision::Allow(Reason::Text(REASON.into()))
        } else {
            Decision::NoOpinion(Reason::None)
        }
    }

    fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> Rules {
        Rules { incomplete: true, evaluation_error: "static rules are not listed".into(), ..Rules::default() }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::rbac_proxy::config::StaticUser;

    fn attrs(user: &str, verb: &str, target: Target) -> Attributes {
        Attributes { user: UserInfo { name: user.into(), ..Default::default() }, verb: verb.into(), target }
    }

    #[test]
    fn empty_fields_match_anything_of_the_same_kind() {
        let rules = StaticRules(vec![StaticRule {
            user: StaticUser { name: "prom".into(), groups: vec!["ignored".into()] },
            verb: "get".into(),
            path: "/metrics".into(),
            ..Default::default()
        }]);
        let path = |p: &str| Target::NonResource { path: p.into() };
        assert!(rules.authorize(&attrs("prom", "get", path("/metrics"))).is_allowed());
        assert!(!rules.authorize(&attrs("other", "get", path("/metrics"))).is_allowed());
        assert!(!rules.authorize(&attrs("prom", "create", path("/metrics"))).is_allowed());
        assert!(!rules.authorize(&attrs("prom", "get", path("/debug"))).is_allowed());
        let resource = Target::Resource {
            namespace: "".into(),
            api_group: "".into(),
            api_version: "v1".into(),
            resource: "pods".into(),
            subresource: "".into(),
            name: "".into(),
        };
        assert!(!rules.authorize(&attrs("prom", "get", resource.clone())).is_allowed());
        let any_resource = StaticRules(vec![StaticRule { resource_request: true, ..Default::default() }]);
        assert!(any_resource.authorize(&attrs("x", "delete", resource)).is_allowed());
    }
}
