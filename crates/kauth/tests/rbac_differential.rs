//! The indexed authorizer against the reference walk of Kubernetes' algorithm: random policies,
//! built by random sequences of puts and removes (so the incremental index maintenance is
//! exercised, not just a bulk build), then random requests. Decisions must be equal, reason
//! text included, and so must every user's rule list (SelfSubjectRulesReview).

use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kauth::authz::{Attributes, Authorizer, Target};
use kauth::rbac::{MemoryPolicy, RbacAuthorizer, RbacIndex};
use kauth::user::UserInfo;
use proptest::prelude::*;
use proptest::sample::select;

const USERS: &[&str] = &[
    "alice",
    "bob",
    "system:serviceaccount:ns1:sa1",
    "system:serviceaccount:ns2:sa1",
    "system:serviceaccount:ns1:sa2",
    "system:serviceaccount:ns1:x:y",
];
const GROUPS: &[&str] = &["g1", "g2", "system:authenticated", "system:serviceaccounts"];
const NAMESPACES: &[&str] = &["ns1", "ns2"];
const ROLES: &[&str] = &["r1", "r2", "r3"];
const BINDINGS: &[&str] = &["b1", "b2", "b3", "b4", "b5"];

fn strings(pool: &'static [&'static str], max: usize) -> impl Strategy<Value = Vec<String>> + Clone {
    prop::collection::vec(select(pool), 1..=max).prop_map(|v| v.into_iter().map(String::from).collect())
}

fn policy_rule() -> impl Strategy<Value = PolicyRule> {
    let verbs = strings(&["get", "list", "create", "delete", "*"], 3);
    let resource_rule = (
        verbs.clone(),
        strings(&["", "apps", "*"], 2),
        strings(&["pods", "secrets", "pods/log", "*", "*/status", "deployments"], 3),
        prop_oneof![Just(None), Just(Some(vec![])), strings(&["a", "b"], 2).prop_map(Some)],
    )
        .prop_map(|(verbs, groups, resources, names)| PolicyRule {
            verbs,
            api_groups: Some(groups),
            resources: Some(resources),
            resource_names: names,
            non_resource_urls: None,
        });
    let url_rule = (verbs, strings(&["/healthz", "/api/*", "*", "/version"], 2)).prop_map(|(verbs, urls)| PolicyRule {
        verbs,
        non_resource_urls: Some(urls),
        ..PolicyRule::default()
    });
    prop_oneof![4 => resource_rule, 1 => url_rule]
}

fn subject() -> impl Strategy<Value = Subject> {
    (
        select(&["User", "Group", "ServiceAccount", "ServiceAccount", "Bogus"][..]),
        select(&["alice", "bob", "g1", "g2", "system:authenticated", "sa1", "sa2", "x:y"][..]),
        prop_oneof![Just(None), Just(Some(String::new())), select(NAMESPACES).prop_map(|n| Some(n.to_string()))],
    )
        .prop_map(|(kind, name, namespace)| Subject {
            kind: kind.into(),
            name: name.into(),
            namespace,
            api_group: None,
        })
}

fn role_ref() -> impl Strategy<Value = RoleRef> {
    (select(&["Role", "ClusterRole", "ClusterRole"][..]), select(ROLES)).prop_map(|(kind, name)| RoleRef {
        api_group: "rbac.authorization.k8s.io".into(),
        kind: kind.into(),
        name: name.into(),
    })
}

#[derive(Debug, Clone)]
enum Op {
    PutClusterRole(&'static str, Vec<PolicyRule>),
    RemoveClusterRole(&'static str),
    PutRole(&'static str, &'static str, Vec<PolicyRule>),
    RemoveRole(&'static str, &'static str),
    PutCrb(&'static str, RoleRef, Vec<Subject>),
    RemoveCrb(&'static str),
    PutRb(&'static str, &'static str, RoleRef, Vec<Subject>),
    RemoveRb(&'static str, &'static str),
}

fn op() -> impl Strategy<Value = Op> {
    let rules = || prop::collection::vec(policy_rule(), 0..4);
    let subjects = || prop::collection::vec(subject(), 0..4);
    prop_oneof![
        3 => (select(ROLES), rules()).prop_map(|(n, r)| Op::PutClusterRole(n, r)),
        1 => select(ROLES).prop_map(Op::RemoveClusterRole),
        3 => (select(NAMESPACES), select(ROLES), rules()).prop_map(|(ns, n, r)| Op::PutRole(ns, n, r)),
        1 => (select(NAMESPACES), select(ROLES)).prop_map(|(ns, n)| Op::RemoveRole(ns, n)),
        4 => (select(BINDINGS), role_ref(), subjects()).prop_map(|(n, r, s)| Op::PutCrb(n, r, s)),
        1 => select(BINDINGS).prop_map(Op::RemoveCrb),
        4 => (select(NAMESPACES), select(BINDINGS), role_ref(), subjects()).prop_map(|(ns, n, r, s)| Op::PutRb(ns, n, r, s)),
        1 => (select(NAMESPACES), select(BINDINGS)).prop_map(|(ns, n)| Op::RemoveRb(ns, n)),
    ]
}

fn meta(ns: Option<&str>, name: &str) -> ObjectMeta {
    ObjectMeta { name: Some(name.into()), namespace: ns.map(Into::into), ..ObjectMeta::default() }
}

fn apply(op: &Op, reference: &mut MemoryPolicy, index: &mut RbacIndex) {
    match op {
        Op::PutClusterRole(n, rules) => {
            let r = ClusterRole { metadata: meta(None, n), rules: Some(rules.clone()), ..Default::default() };
            reference.put_cluster_role(&r);
            index.put_cluster_role(&r);
        }
        Op::RemoveClusterRole(n) => {
            reference.remove_cluster_role(n);
            index.remove_cluster_role(n);
        }
        Op::PutRole(ns, n, rules) => {
            let r = Role { metadata: meta(Some(ns), n), rules: Some(rules.clone()) };
            reference.put_role(&r);
            index.put_role(&r);
        }
        Op::RemoveRole(ns, n) => {
            reference.remove_role(ns, n);
            index.remove_role(ns, n);
        }
        Op::PutCrb(n, role_ref, subjects) => {
            let b = ClusterRoleBinding {
                metadata: meta(None, n),
                role_ref: role_ref.clone(),
                subjects: Some(subjects.clone()),
            };
            reference.put_cluster_role_binding(&b);
            index.put_cluster_role_binding(&b);
        }
        Op::RemoveCrb(n) => {
            reference.remove_cluster_role_binding(n);
            index.remove_cluster_role_binding(n);
        }
        Op::PutRb(ns, n, role_ref, subjects) => {
            let b = RoleBinding {
                metadata: meta(Some(ns), n),
                role_ref: role_ref.clone(),
                subjects: Some(subjects.clone()),
            };
            reference.put_role_binding(&b);
            index.put_role_binding(&b);
        }
        Op::RemoveRb(ns, n) => {
            reference.remove_role_binding(ns, n);
            index.remove_role_binding(ns, n);
        }
    }
}

fn user() -> impl Strategy<Value = UserInfo> {
    (select(USERS), prop::collection::vec(select(GROUPS), 0..4)).prop_map(|(name, groups)| UserInfo {
        name: name.into(),
        groups: groups.into_iter().map(String::from).collect(),
        ..UserInfo::default()
    })
}

fn request() -> impl Strategy<Value = Attributes> {
    let resource = (
        select(&["", "ns1", "ns2", "ns3"][..]),
        select(&["", "", "apps", "batch"][..]),
        select(&["pods", "pods", "secrets", "deployments", "configmaps"][..]),
        select(&["", "", "log", "status"][..]),
        select(&["", "a", "b", "c"][..]),
    )
        .prop_map(|(ns, g, r, sub, name)| Target::Resource {
            namespace: ns.into(),
            api_group: g.into(),
            api_version: "v1".into(),
            resource: r.into(),
            subresource: sub.into(),
            name: name.into(),
        });
    let url = select(&["/healthz", "/healthz/ready", "/api/v1", "/api", "/version", "/apis"][..])
        .prop_map(|p| Target::NonResource { path: p.into() });
    (user(), select(&["get", "get", "list", "create", "delete", "watch"][..]), prop_oneof![4 => resource, 1 => url])
        .prop_map(|(user, verb, target)| Attributes { user, verb: verb.into(), target })
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 3000, ..ProptestConfig::default() })]

    #[test]
    fn index_decides_like_the_reference_walk(
        ops in prop::collection::vec(op(), 0..40),
        requests in prop::collection::vec(request(), 1..40),
    ) {
        let mut reference = MemoryPolicy::new();
        let mut index = RbacIndex::new();
        for op in &ops {
            apply(op, &mut reference, &mut index);
        }
        let walk = RbacAuthorizer::new(reference);
        for a in &requests {
            prop_assert_eq!(index.authorize(a), walk.authorize(a), "request {:?}", a);
            let ns = a.target.namespace();
            prop_assert_eq!(index.rules_for(&a.user, ns), walk.rules_for(&a.user, ns), "rules of {:?} in {:?}", a.user.name, ns);
        }
    }
}

/// The generators reach the interesting cases: allows through each kind of binding, and
/// denials carrying missing-role errors. Without this the property above could pass on
/// policies that never allow anything.
#[test]
fn generated_policies_cover_allows_and_errors() {
    use proptest::strategy::ValueTree;
    use proptest::test_runner::TestRunner;
    let mut runner = TestRunner::deterministic();
    let (mut crb, mut rb, mut err) = (0, 0, 0);
    for _ in 0..300 {
        let ops = prop::collection::vec(op(), 20..40).new_tree(&mut runner).expect("ops").current();
        let requests = prop::collection::vec(request(), 40).new_tree(&mut runner).expect("requests").current();
        let mut reference = MemoryPolicy::new();
        let mut index = RbacIndex::new();
        for op in &ops {
            apply(op, &mut reference, &mut index);
        }
        for a in &requests {
            let reason = index.authorize(a).reason().to_string();
            crb += usize::from(reason.contains("allowed by ClusterRoleBinding"));
            rb += usize::from(reason.contains("allowed by RoleBinding"));
            err += usize::from(reason.contains("not found"));
        }
    }
    assert!(crb > 100 && rb > 20 && err > 20, "allows by CRB {crb}, by RB {rb}, missing-role errors {err}");
}
