//! ClusterRole aggregation, as kube-controller-manager's `clusterroleaggregation` controller does
//! it: a ClusterRole with an `aggregationRule` holds the union of the rules of the other
//! ClusterRoles its label selectors pick, taken in name order, without duplicates. This is the one
//! implementation: policy files, the server's controller and the lint all use it.

use std::collections::BTreeMap;

use k8s_openapi::api::rbac::v1::{ClusterRole, PolicyRule};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, LabelSelectorRequirement};

/// Whether `selector` selects an object carrying `labels`: every `matchLabels` pair is present
/// and every `matchExpressions` requirement holds (In, NotIn, Exists, DoesNotExist). An unknown
/// operator selects nothing. An empty selector selects everything, as in Kubernetes.
pub fn selector_matches(selector: &LabelSelector, labels: &BTreeMap<String, String>) -> bool {
    let labels_ok = selector.match_labels.iter().flatten().all(|(k, v)| labels.get(k).is_some_and(|l| l == v));
    labels_ok && selector.match_expressions.iter().flatten().all(|r| requirement_matches(r, labels))
}

/// Whether one `matchExpressions` requirement holds for `labels`.
pub fn requirement_matches(r: &LabelSelectorRequirement, labels: &BTreeMap<String, String>) -> bool {
    let listed = |l: &String| r.values.iter().flatten().any(|v| v == l);
    match r.operator.as_str() {
        "In" => labels.get(&r.key).is_some_and(listed),
        "NotIn" => !labels.get(&r.key).is_some_and(listed),
        "Exists" => labels.contains_key(&r.key),
        "DoesNotExist" => !labels.contains_key(&r.key),
        _ => false,
    }
}

fn selectors(role: &ClusterRole) -> Option<&[LabelSelector]> {
    role.aggregation_rule.as_ref().map(|a| a.cluster_role_selectors.as_deref().unwrap_or_default())
}

fn selects(selectors: &[LabelSelector], labels: Option<&BTreeMap<String, String>>) -> bool {
    let empty = BTreeMap::new();
    let labels = labels.unwrap_or(&empty);
    selectors.iter().any(|s| selector_matches(s, labels))
}

/// The rules `role` aggregates from `roles` (which may include `role` itself; it is skipped), or
/// None when `role` has no `aggregationRule`. Sources are taken in name order; a rule equal to
/// one already taken is dropped.
pub fn aggregated_rules(role: &ClusterRole, roles: &[ClusterRole]) -> Option<Vec<PolicyRule>> {
    let selectors = selectors(role)?;
    let me = role.metadata.name.as_deref().unwrap_or_default();
    let mut picked: Vec<&ClusterRole> = roles
        .iter()
        .filter(|r| {
            r.metadata.name.as_deref().unwrap_or_default() != me && selects(selectors, r.metadata.labels.as_ref())
        })
        .collect();
    picked.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    let mut rules: Vec<PolicyRule> = Vec::new();
    for rule in picked.into_iter().flat_map(|r| r.rules.iter().flatten()) {
        if !rules.contains(rule) {
            rules.push(rule.clone());
        }
    }
    Some(rules)
}

/// Fills every ClusterRole in `roles` that has an `aggregationRule` with the rules it aggregates
/// (computed from the roles as given, so aggregated roles do not feed each other in one pass,
/// as in Kubernetes' controller).
pub fn aggregate(roles: &mut [ClusterRole]) {
    let filled: Vec<Option<Vec<PolicyRule>>> = roles.iter().map(|r| aggregated_rules(r, roles)).collect();
    for (role, rules) in roles.iter_mut().zip(filled) {
        if let Some(rules) = rules {
            role.rules = Some(rules);
        }
    }
}

/// Whether any aggregation rule among `roles` selects a ClusterRole carrying `labels` (so its
/// rules are used even when no binding names it).
pub fn is_aggregated(labels: Option<&BTreeMap<String, String>>, roles: &[ClusterRole]) -> bool {
    roles.iter().filter_map(selectors).any(|s| selects(s, labels))
}

#[cfg(test)]
mod tests {
    use super::*;
    use k8s_openapi::api::rbac::v1::AggregationRule;
    use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

    fn labels(l: &[(&str, &str)]) -> BTreeMap<String, String> {
        l.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    fn req(key: &str, op: &str, values: &[&str]) -> LabelSelectorRequirement {
        LabelSelectorRequirement {
            key: key.into(),
            operator: op.into(),
            values: (!values.is_empty()).then(|| values.iter().map(|v| v.to_string()).collect()),
        }
    }

    fn exprs(r: Vec<LabelSelectorRequirement>) -> LabelSelector {
        LabelSelector { match_expressions: Some(r), match_labels: None }
    }

    #[test]
    fn match_labels_need_every_pair() {
        let s = LabelSelector { match_labels: Some(labels(&[("a", "1"), ("b", "2")])), match_expressions: None };
        assert!(selector_matches(&s, &labels(&[("a", "1"), ("b", "2"), ("c", "3")])));
        assert!(!selector_matches(&s, &labels(&[("a", "1")])));
        assert!(!selector_matches(&s, &labels(&[("a", "1"), ("b", "3")])));
        assert!(selector_matches(&LabelSelector::default(), &labels(&[])), "empty selects everything");
    }

    #[test]
    fn match_expressions_operators() {
        let l = labels(&[("tier", "web"), ("env", "prod")]);
        assert!(selector_matches(&exprs(vec![req("tier", "In", &["web", "db"])]), &l));
        assert!(!selector_matches(&exprs(vec![req("tier", "In", &["db"])]), &l));
        assert!(!selector_matches(&exprs(vec![req("missing", "In", &["x"])]), &l));
        assert!(selector_matches(&exprs(vec![req("tier", "NotIn", &["db"])]), &l));
        assert!(!selector_matches(&exprs(vec![req("env", "NotIn", &["prod"])]), &l));
        assert!(selector_matches(&exprs(vec![req("missing", "NotIn", &["x"])]), &l));
        assert!(selector_matches(&exprs(vec![req("env", "Exists", &[])]), &l));
        assert!(!selector_matches(&exprs(vec![req("missing", "Exists", &[])]), &l));
        assert!(selector_matches(&exprs(vec![req("missing", "DoesNotExist", &[])]), &l));
        assert!(!selector_matches(&exprs(vec![req("env", "DoesNotExist", &[])]), &l));
        assert!(!selector_matches(&exprs(vec![req("env", "Gt", &["1"])]), &l), "unknown operators select nothing");
        let both = LabelSelector {
            match_labels: Some(labels(&[("env", "prod")])),
            match_expressions: Some(vec![req("tier", "In", &["db"])]),
        };
        assert!(!selector_matches(&both, &l), "labels and expressions must both hold");
    }

    fn role(name: &str, l: &[(&str, &str)], rules: &[&str], agg: Option<&str>) -> ClusterRole {
        ClusterRole {
            metadata: ObjectMeta { name: Some(name.into()), labels: Some(labels(l)), ..ObjectMeta::default() },
            rules: Some(
                rules
                    .iter()
                    .map(|r| PolicyRule {
                        verbs: vec!["get".into()],
                        api_groups: Some(vec![String::new()]),
                        resources: Some(vec![r.to_string()]),
                        ..PolicyRule::default()
                    })
                    .collect(),
            ),
            aggregation_rule: agg.map(|k| AggregationRule {
                cluster_role_selectors: Some(vec![LabelSelector {
                    match_labels: Some(labels(&[(k, "true")])),
                    match_expressions: None,
                }]),
            }),
        }
    }

    #[test]
    fn aggregation_unions_in_name_order_without_duplicates() {
        let mut roles = vec![
            role("view", &[], &[], Some("to-view")),
            role("z", &[("to-view", "true")], &["pods", "services"], None),
            role("a", &[("to-view", "true")], &["services"], None),
            role("other", &[], &["secrets"], None),
        ];
        assert!(is_aggregated(roles[1].metadata.labels.as_ref(), &roles));
        assert!(!is_aggregated(roles[3].metadata.labels.as_ref(), &roles));
        assert_eq!(aggregated_rules(&roles[3], &roles), None);
        aggregate(&mut roles);
        let got: Vec<_> = roles[0].rules.iter().flatten().flat_map(|r| r.resources.iter().flatten()).collect();
        assert_eq!(got, ["services", "pods"]);
    }
}
