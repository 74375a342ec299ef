//! ClusterRole aggregation, as kube-controller-manager's `clusterroleaggregation` controller does
//! it: a ClusterRole with an `aggregationRule` holds exactly the union of the rules of the other
//! ClusterRoles its label selectors pick (selector by selector, each selector's roles in name
//! order, without duplicates); the rules it is written with are replaced. Aggregated roles may
//! pick each other (`view` is labelled into `edit`, `edit` into `admin`): [`aggregate`] repeats
//! until nothing changes. This is the one implementation: policy files, the server's controller
//! and the lint all use it.

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
/// None when `role` has no `aggregationRule`: for each selector in turn, the rules of the roles
/// it picks, in name order; a rule equal to one already taken ([`same_rule`]) is dropped. The
/// picked roles' rules are taken as given: an aggregated one among them counts with the rules it
/// holds now (see [`aggregate`] for the whole set).
pub fn aggregated_rules(role: &ClusterRole, roles: &[ClusterRole]) -> Option<Vec<PolicyRule>> {
    let selectors = selectors(role)?;
    let me = role.metadata.name.as_deref().unwrap_or_default();
    let unlabelled = BTreeMap::new();
    let mut rules: Vec<PolicyRule> = Vec::new();
    for selector in selectors {
        let mut picked: Vec<&ClusterRole> = roles
            .iter()
            .filter(|r| {
                r.metadata.name.as_deref().unwrap_or_default() != me
                    && selector_matches(selector, r.metadata.labels.as_ref().unwrap_or(&unlabelled))
            })
            .collect();
        picked.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
        for rule in picked.into_iter().flat_map(|r| r.rules.iter().flatten()) {
            if !rules.iter().any(|taken| same_rule(taken, rule)) {
                rules.push(rule.clone());
            }
        }
    }
    Some(rules)
}

/// Whether two rules are the same, as Kubernetes compares them (`equality.Semantic`): field by
/// field, an absent list equal to an empty one.
pub fn same_rule(a: &PolicyRule, b: &PolicyRule) -> bool {
    fn list(l: &Option<Vec<String>>) -> &[String] {
        l.as_deref().unwrap_or_default()
    }
    a.verbs == b.verbs
        && list(&a.api_groups) == list(&b.api_groups)
        && list(&a.resources) == list(&b.resources)
        && list(&a.resource_names) == list(&b.resource_names)
        && list(&a.non_resource_urls) == list(&b.non_resource_urls)
}

/// Whether two lists of rules are the same, in the same order ([`same_rule`]; absent rules are
/// an empty list).
pub fn same_rules(a: Option<&[PolicyRule]>, b: Option<&[PolicyRule]>) -> bool {
    let (a, b) = (a.unwrap_or_default(), b.unwrap_or_default());
    a.len() == b.len() && a.iter().zip(b).all(|(a, b)| same_rule(a, b))
}

/// How [`aggregate`] ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Convergence {
    /// A round changed nothing: every aggregated role holds exactly what its selectors pick.
    Settled {
        /// The rounds taken, the last one changing nothing.
        rounds: usize,
    },
    /// Aggregated roles picking each other in a cycle still reordered their rules when the
    /// bound was reached; the last round's rules stand (the same every time: each run starts
    /// from scratch). No rule is missing or left over: only their order may not be a fixed point.
    Bounded {
        /// The rounds taken.
        rounds: usize,
    },
}

/// Fills every ClusterRole in `roles` that has an `aggregationRule` with the rules it aggregates,
/// round after round in name order until a round changes nothing, so that aggregated roles pick
/// up each other's rules (view into edit into admin) and drop what their sources lost.
///
/// Aggregated roles start each run empty: what they held before never counts, so a rule no
/// longer granted by any role that is not aggregated disappears everywhere, even around a cycle
/// of aggregations (where Kubernetes' controller, starting from the stored rules, could keep it
/// alive). Without cycles the result is the one fixed point, Kubernetes' own. The rounds are
/// bounded (`n + 1` rounds settle `n` aggregated roles without a cycle; twice that is allowed),
/// so a cycle always ends.
pub fn aggregate(roles: &mut [ClusterRole]) -> Convergence {
    let mut aggregating: Vec<usize> = (0..roles.len()).filter(|&i| roles[i].aggregation_rule.is_some()).collect();
    aggregating.sort_by(|&a, &b| roles[a].metadata.name.cmp(&roles[b].metadata.name));
    for &i in &aggregating {
        roles[i].rules = Some(Vec::new());
    }
    let bound = 2 * (aggregating.len() + 1);
    for round in 1..=bound {
        let mut changed = false;
        for &i in &aggregating {
            let rules = aggregated_rules(&roles[i], roles).unwrap_or_default();
            if !same_rules(roles[i].rules.as_deref(), Some(&rules)) {
                roles[i].rules = Some(rules);
                changed = true;
            }
        }
        if !changed {
            return Convergence::Settled { rounds: round };
        }
    }
    Convergence::Bounded { rounds: bound }
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
        assert_eq!(aggregate(&mut roles), Convergence::Settled { rounds: 2 });
        let got: Vec<_> = roles[0].rules.iter().flatten().flat_map(|r| r.resources.iter().flatten()).collect();
        assert_eq!(got, ["services", "pods"]);
    }

    fn resources(role: &ClusterRole) -> Vec<&str> {
        role.rules.iter().flatten().flat_map(|r| r.resources.iter().flatten()).map(String::as_str).collect()
    }

    fn named<'a>(roles: &'a [ClusterRole], name: &str) -> &'a ClusterRole {
        roles.iter().find(|r| r.metadata.name.as_deref() == Some(name)).expect("a role of that name")
    }

    /// Names chosen so that the role aggregated last sorts first: one round cannot do it.
    fn chain(source_labelled: bool) -> Vec<ClusterRole> {
        let source: &[(&str, &str)] = if source_labelled { &[("to-view", "true")] } else { &[] };
        vec![
            role("a-admin", &[], &["stale"], Some("to-admin")),
            role("b-edit", &[("to-admin", "true")], &["stale"], Some("to-edit")),
            role("c-view", &[("to-edit", "true")], &["stale"], Some("to-view")),
            role("d-widgets", source, &["widgets"], None),
            role("e-edit-only", &[("to-edit", "true")], &["deployments"], None),
        ]
    }

    #[test]
    fn aggregated_roles_feed_each_other_until_nothing_changes() {
        let mut roles = chain(true);
        assert_eq!(aggregate(&mut roles), Convergence::Settled { rounds: 4 });
        assert_eq!(resources(named(&roles, "c-view")), ["widgets"]);
        assert_eq!(resources(named(&roles, "b-edit")), ["widgets", "deployments"]);
        assert_eq!(resources(named(&roles, "a-admin")), ["widgets", "deployments"]);
        // Once more, from scratch again: the same.
        let before = roles.clone();
        assert_eq!(aggregate(&mut roles), Convergence::Settled { rounds: 4 });
        assert_eq!(roles, before);
    }

    #[test]
    fn what_a_source_loses_goes_from_every_role_aggregating_it() {
        let mut roles = chain(true);
        let _ = aggregate(&mut roles);
        roles[3].metadata.labels = None;
        let _ = aggregate(&mut roles);
        assert_eq!(resources(named(&roles, "c-view")), Vec::<&str>::new());
        assert_eq!(resources(named(&roles, "b-edit")), ["deployments"]);
        assert_eq!(resources(named(&roles, "a-admin")), ["deployments"]);
        // And so does a source that is gone.
        roles.retain(|r| r.metadata.name.as_deref() != Some("e-edit-only"));
        let _ = aggregate(&mut roles);
        for name in ["a-admin", "b-edit", "c-view"] {
            assert_eq!(resources(named(&roles, name)), Vec::<&str>::new(), "{name}");
        }
    }

    #[test]
    fn a_cycle_of_aggregations_ends_and_keeps_no_rule_alive_by_itself() {
        // a picks b and s1, b picks a and s2; both hold a rule nothing grants any more.
        let mut roles = vec![
            role("a", &[("to-b", "true")], &["stale"], Some("to-a")),
            role("b", &[("to-a", "true")], &["stale"], Some("to-b")),
            role("s1", &[("to-a", "true")], &["pods"], None),
            role("s2", &[("to-b", "true")], &["services"], None),
        ];
        assert!(matches!(aggregate(&mut roles), Convergence::Settled { .. }));
        assert_eq!(resources(&roles[0]), ["pods", "services"]);
        assert_eq!(resources(&roles[1]), ["pods", "services"]);
        let before = roles.clone();
        let _ = aggregate(&mut roles);
        assert_eq!(roles, before, "the same every run");
        // A role picking itself is skipped: it holds what the others give.
        let mut lone = vec![role("self", &[("to-self", "true")], &["stale"], Some("to-self"))];
        assert_eq!(aggregate(&mut lone), Convergence::Settled { rounds: 1 });
        assert_eq!(resources(&lone[0]), Vec::<&str>::new());
    }

    #[test]
    fn each_selector_takes_its_roles_in_name_order_in_turn() {
        let mut agg = role("agg", &[], &[], None);
        agg.aggregation_rule = Some(AggregationRule {
            cluster_role_selectors: Some(vec![
                LabelSelector { match_labels: Some(labels(&[("second", "true")])), match_expressions: None },
                LabelSelector { match_labels: Some(labels(&[("first", "true")])), match_expressions: None },
            ]),
        });
        let roles = vec![
            agg.clone(),
            role("a", &[("first", "true")], &["pods"], None),
            role("b", &[("first", "true"), ("second", "true")], &["secrets", "pods"], None),
            role("z", &[("second", "true")], &["services"], None),
        ];
        let got = aggregated_rules(&agg, &roles).unwrap_or_default();
        let got: Vec<&str> = got.iter().flat_map(|r| r.resources.iter().flatten()).map(String::as_str).collect();
        assert_eq!(got, ["secrets", "pods", "services"], "b then z, then a (b's again dropped)");
    }

    #[test]
    fn an_absent_list_and_an_empty_one_are_the_same_rule() {
        let rule = |names: Option<Vec<String>>| PolicyRule {
            verbs: vec!["get".into()],
            api_groups: Some(vec![String::new()]),
            resources: Some(vec!["pods".into()]),
            resource_names: names,
            ..PolicyRule::default()
        };
        assert!(same_rule(&rule(None), &rule(Some(vec![]))));
        assert!(!same_rule(&rule(None), &rule(Some(vec!["x".into()]))));
        assert!(same_rules(None, Some(&[])));
        assert!(!same_rules(Some(&[rule(None)]), Some(&[])));
        let (a, b) = (rule(None), rule(Some(vec!["x".into()])));
        assert!(!same_rules(Some(&[a.clone(), b.clone()]), Some(&[b, a])), "order counts");
    }

    #[test]
    fn a_cycle_whose_order_never_settles_stops_at_the_bound_with_every_rule_and_the_same_order_each_run() {
        // a picks b, c and e; b picks d and e; d picks a and c: each round reorders the cycle.
        let mut roles = vec![
            role("a", &[("to-d", "true")], &[], Some("to-a")),
            role("b", &[("to-a", "true")], &[], Some("to-b")),
            role("c", &[("to-a", "true"), ("to-d", "true")], &["pods", "x", "secrets"], None),
            role("d", &[("to-b", "true")], &[], Some("to-d")),
            role("e", &[("to-a", "true"), ("to-b", "true")], &["services", "x", "nodes"], None),
        ];
        assert_eq!(aggregate(&mut roles), Convergence::Bounded { rounds: 8 });
        for name in ["a", "b", "d"] {
            let mut got = resources(named(&roles, name));
            got.sort_unstable();
            assert_eq!(got, ["nodes", "pods", "secrets", "services", "x"], "{name}");
        }
        let before = roles.clone();
        assert_eq!(aggregate(&mut roles), Convergence::Bounded { rounds: 8 });
        assert_eq!(roles, before, "the same every run");
    }
}
