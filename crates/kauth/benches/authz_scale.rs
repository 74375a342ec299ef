//! The whole authorization chain's decision costs, one core, one run:
//!
//! - the Node authorizer over an in-memory graph of 100, 10,000 and 100,000 pods (30 pods a
//!   node, 50 pods a namespace; every pod mounts its own Secret and ConfigMap, runs as its own
//!   ServiceAccount, and every third claims a PersistentVolumeClaim), for an allowed get of a
//!   Secret a pod of the node mounts, a denied get of a Secret only another node's pod mounts,
//!   and the node's get of its own Node object;
//! - RBAC's indexed authorizer with Kubernetes' complete default policy (what `kauth serve`
//!   creates at start, admin/edit/view aggregated) beside a small synthetic policy of 10
//!   bindings, each with the benches' probe RoleBinding, for the same allowed and denied
//!   requests.
//!
//! Prints a Markdown table (BENCHMARKS.md). `cargo bench -p kauth --bench authz_scale`
//! (sizes: `KAUTH_NODE_PODS=100,10000,100000`).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

#[path = "common/policy.rs"]
mod policy;

use std::hint::black_box;
use std::time::{Duration, Instant};

use k8s_openapi::api::core::v1::Pod;
use kauth::authz::node::{self, NodeGraph};
use kauth::authz::{Attributes, Authorizer, Target};
use kauth::rbac::{aggregate, defaults, RbacIndex};
use kauth::user::UserInfo;
use serde_json::json;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

const PODS_PER_NODE: usize = 30;
const PODS_PER_NAMESPACE: usize = 50;

fn sizes() -> Vec<usize> {
    std::env::var("KAUTH_NODE_PODS")
        .ok()
        .map(|s| s.split(',').filter_map(|n| n.trim().parse().ok()).collect())
        .unwrap_or_else(|| vec![100, 10_000, 100_000])
}

fn pod(i: usize) -> Pod {
    let ns = format!("ns-{}", i / PODS_PER_NAMESPACE);
    let mut volumes = vec![json!({"name": "s", "secret": {"secretName": format!("secret-{i}")}})];
    if i.is_multiple_of(3) {
        volumes.push(json!({"name": "d", "persistentVolumeClaim": {"claimName": format!("claim-{i}")}}));
    }
    serde_json::from_value(json!({
        "metadata": {"name": format!("pod-{i}"), "namespace": ns},
        "spec": {
            "nodeName": format!("node-{}", i / PODS_PER_NODE),
            "serviceAccountName": format!("sa-{i}"),
            "containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": format!("cm-{i}")}}]}],
            "volumes": volumes,
        }
    }))
    .unwrap()
}

fn node_user(node: &str) -> UserInfo {
    UserInfo {
        name: format!("system:node:{node}"),
        groups: vec!["system:nodes".into(), "system:authenticated".into()],
        ..UserInfo::default()
    }
}

fn get(user: UserInfo, namespace: &str, resource: &str, name: &str) -> Attributes {
    Attributes {
        user,
        verb: "get".into(),
        target: Target::Resource {
            namespace: namespace.into(),
            api_group: String::new(),
            api_version: "v1".into(),
            resource: resource.into(),
            subresource: String::new(),
            name: name.into(),
        },
    }
}

/// Decisions per second of `decide` over about `budget`, and the mean time of one.
fn rate(budget: Duration, mut decide: impl FnMut() -> bool) -> (f64, Duration) {
    for _ in 0..1_000 {
        black_box(decide());
    }
    let start = Instant::now();
    let mut n = 0u64;
    while start.elapsed() < budget {
        for _ in 0..1_000 {
            black_box(decide());
        }
        n += 1_000;
    }
    let took = start.elapsed();
    (n as f64 / took.as_secs_f64(), took / n as u32)
}

fn row(what: &str, size: &str, expect: &str, (per_s, each): (f64, Duration)) {
    println!("| {what} | {size} | {expect} | {:.2} M/s | {:.0} ns |", per_s / 1e6, each.as_nanos());
}

fn node_rows(budget: Duration) {
    for n in sizes() {
        let started = Instant::now();
        let mut graph = NodeGraph::new();
        for i in 0..n {
            graph.put_pod(&pod(i));
        }
        let built = started.elapsed();
        eprintln!("graph of {n} pods built in {built:?}");
        // Pod 0 runs on node-0; the last pod on the last node (another node when n > 30).
        let last = n - 1;
        let me = node_user("node-0");
        let allowed = get(me.clone(), "ns-0", "secrets", "secret-0");
        let denied_ns = format!("ns-{}", last / PODS_PER_NAMESPACE);
        let denied = get(me.clone(), &denied_ns, "secrets", &format!("secret-{last}"));
        let own = get(me, "", "nodes", "node-0");
        assert!(node::authorize(&graph, &allowed).is_allowed());
        assert!(node::authorize(&graph, &own).is_allowed());
        if last / PODS_PER_NODE != 0 {
            assert!(!node::authorize(&graph, &denied).is_allowed());
        }
        let size = format!("{n} pods");
        row(
            "Node: get a Secret its pod mounts",
            &size,
            "allow",
            rate(budget, || node::authorize(&graph, black_box(&allowed)).is_allowed()),
        );
        row(
            "Node: get another node's pod's Secret",
            &size,
            "deny",
            rate(budget, || node::authorize(&graph, black_box(&denied)).is_allowed()),
        );
        row(
            "Node: get its own Node",
            &size,
            "allow",
            rate(budget, || node::authorize(&graph, black_box(&own)).is_allowed()),
        );
    }
}

/// Kubernetes' default policy as kauth serve holds it (aggregated), with the probe's Role and
/// RoleBinding added.
fn default_policy() -> (RbacIndex, usize) {
    let mut p = defaults::policy().expect("the default policy parses");
    aggregate::aggregate(&mut p.cluster_roles);
    let probe = policy::generate(10);
    let mut idx = RbacIndex::new();
    for r in &p.cluster_roles {
        idx.put_cluster_role(r);
    }
    for b in &p.cluster_role_bindings {
        idx.put_cluster_role_binding(b);
    }
    for r in p.roles.iter().chain(probe.roles.iter().filter(|r| r.metadata.name.as_deref() == Some("role-0"))) {
        idx.put_role(r);
    }
    for b in
        p.role_bindings.iter().chain(probe.role_bindings.iter().filter(|b| b.metadata.name.as_deref() == Some("probe")))
    {
        idx.put_role_binding(b);
    }
    (idx, p.cluster_roles.len() + p.cluster_role_bindings.len() + p.roles.len() + p.role_bindings.len())
}

fn rbac_rows(budget: Duration) {
    let (full, objects) = default_policy();
    let small = policy::generate(10);
    let small_objects =
        small.cluster_roles.len() + small.roles.len() + small.cluster_role_bindings.len() + small.role_bindings.len();
    let small = small.index();
    let allowed = policy::probe("get", "pods");
    let denied = policy::probe("delete", "secrets");
    for (what, idx, size) in [
        ("RBAC, Kubernetes' default policy", &full, format!("{objects} objects")),
        ("RBAC, small policy", &small, format!("{small_objects} objects")),
    ] {
        assert!(idx.authorize(&allowed).is_allowed(), "{what}");
        assert!(!idx.authorize(&denied).is_allowed(), "{what}");
        row(
            &format!("{what}: get pods"),
            &size,
            "allow",
            rate(budget, || idx.authorize(black_box(&allowed)).is_allowed()),
        );
        row(
            &format!("{what}: delete secrets"),
            &size,
            "deny",
            rate(budget, || idx.authorize(black_box(&denied)).is_allowed()),
        );
    }
}

fn main() {
    // `cargo test --benches` runs each bench once with --bench absent: keep that quick.
    let quick = !std::env::args().any(|a| a == "--bench");
    let budget = if quick { Duration::from_millis(5) } else { Duration::from_secs(1) };
    println!("| decision | size | answer | decisions/s | mean |");
    println!("|---|---|---|---|---|");
    node_rows(budget);
    rbac_rows(budget);
}
