//! The Node authorizer against a graph fed by hand: each relationship kind, each denial with
//! kube-apiserver's text, and a decision's cost against the number of pods.

use k8s_openapi::api::core::v1::Pod;
use serde_json::json;

use super::*;
use crate::authz::{Attributes, Decision, Reason, Target};
use crate::user::UserInfo;

fn node_user(name: &str) -> UserInfo {
    UserInfo {
        name: format!("system:node:{name}"),
        groups: vec!["system:nodes".into(), "system:authenticated".into()],
        ..UserInfo::default()
    }
}

fn req(verb: &str, group: &str, resource: &str, sub: &str, ns: &str, name: &str) -> Attributes {
    Attributes {
        user: node_user("n1"),
        verb: verb.into(),
        target: Target::Resource {
            namespace: ns.into(),
            api_group: group.into(),
            api_version: "v1".into(),
            resource: resource.into(),
            subresource: sub.into(),
            name: name.into(),
        },
    }
}

fn pod(ns: &str, name: &str, node: &str, spec: serde_json::Value) -> Pod {
    let mut spec = spec;
    spec["nodeName"] = json!(node);
    if spec.get("containers").is_none() {
        spec["containers"] = json!([{"name": "c"}]);
    }
    serde_json::from_value(json!({"metadata": {"name": name, "namespace": ns}, "spec": spec})).unwrap()
}

/// A graph with pod `ns/p1` on n1 referencing one object of each kind, and `ns/p2` on n2.
fn graph() -> NodeGraph {
    let mut g = NodeGraph::new();
    g.put_pod(&pod(
        "ns",
        "p1",
        "n1",
        json!({
            "serviceAccountName": "sa1",
            "containers": [{"name": "c", "envFrom": [{"configMapRef": {"name": "cm1"}}]}],
            "volumes": [{"name": "s", "secret": {"secretName": "s1"}},
                        {"name": "d", "persistentVolumeClaim": {"claimName": "claim1"}}],
            "resourceClaims": [{"name": "gpu", "resourceClaimName": "rc1"}]
        }),
    ));
    g.put_pod(&pod(
        "ns",
        "p2",
        "n2",
        json!({"serviceAccountName": "sa2", "volumes": [{"name": "s", "secret": {"secretName": "s2"}}]}),
    ));
    g.put_persistent_volume("pv1", Some(("ns", "claim1")), &[("ns", "pv-secret")]);
    g.put_volume_attachment("va1", "n1");
    g.put_volume_attachment("va2", "n2");
    g.put_resource_slice("slice1", "n1");
    g
}

fn said(d: &Decision) -> (bool, String) {
    (d.is_allowed(), d.reason().to_string())
}

const NO_REL: &str = "no relationship found between node 'n1' and this object";

#[test]
fn each_relationship_kind_allows_its_node_only() {
    let g = graph();
    for (verb, group, resource, sub, ns, name) in [
        ("get", "", "secrets", "", "ns", "s1"),
        ("list", "", "secrets", "", "ns", "s1"),
        ("watch", "", "configmaps", "", "ns", "cm1"),
        ("get", "", "persistentvolumeclaims", "", "ns", "claim1"),
        ("patch", "", "persistentvolumeclaims", "status", "ns", "claim1"),
        ("get", "", "persistentvolumes", "", "", "pv1"),
        ("get", "", "secrets", "", "ns", "pv-secret"),
        ("get", "resource.k8s.io", "resourceclaims", "", "ns", "rc1"),
        ("get", "storage.k8s.io", "volumeattachments", "", "", "va1"),
        ("create", "", "serviceaccounts", "token", "ns", "sa1"),
        ("get", "", "pods", "", "ns", "p1"),
        ("watch", "", "pods", "", "ns", "p1"),
        ("get", "resource.k8s.io", "resourceslices", "", "", "slice1"),
    ] {
        let a = req(verb, group, resource, sub, ns, name);
        assert_eq!(said(&authorize(&g, &a)), (true, String::new()), "{verb} {resource}/{sub} {ns}/{name}");
    }
    // The same objects' counterparts on n2 are n2's only.
    for (resource, sub, verb, ns, name) in [
        ("secrets", "", "get", "ns", "s2"),
        ("serviceaccounts", "token", "create", "ns", "sa2"),
        ("pods", "", "get", "ns", "p2"),
    ] {
        let d = authorize(&g, &req(verb, "", resource, sub, ns, name));
        assert_eq!(said(&d), (false, NO_REL.into()), "{resource} {name}");
    }
    let d = authorize(&g, &req("get", "storage.k8s.io", "volumeattachments", "", "", "va2"));
    assert_eq!(said(&d), (false, NO_REL.into()));
}

#[test]
fn graph_misses_say_kube_apiserver_log_text_and_name_the_missing_edge() {
    let g = graph();
    let miss = |a: &Attributes| match authorize(&g, a) {
        Decision::NoOpinion(Reason::Node(NodeDenial::NoRelationship { miss, .. })) => miss,
        other => panic!("{other:?}"),
    };
    // Another node's secret: in the graph, no path to n1.
    let m = miss(&req("get", "", "secrets", "", "ns", "s2"));
    assert!(matches!(m, GraphMiss::NoPath { other_nodes: 1, .. }));
    assert_eq!(
        m.to_string(),
        "node 'n1' cannot get secret ns/s2, no relationship to this object was found in the node authorizer graph"
    );
    assert!(m.missing_edge().ends_with("missing edge: secret ns/s2 -> pod (or -> pv -> pvc -> pod) on node \"n1\""));
    // An object nothing references.
    let m = miss(&req("get", "", "configmaps", "", "ns", "nobody"));
    assert_eq!(m.to_string(), "node 'n1' cannot get unknown configmap ns/nobody");
    // A node with no pods, attachments or slices.
    let mut a = req("get", "", "secrets", "", "ns", "s1");
    a.user = node_user("n9");
    let m = match authorize(&g, &a) {
        Decision::NoOpinion(Reason::Node(d)) => {
            assert_eq!(d.to_string(), "no relationship found between node 'n9' and this object");
            assert!(d.detail().contains("no pod, volume attachment or resource slice is bound to node \"n9\""));
            match d {
                NodeDenial::NoRelationship { miss, .. } => miss,
                other => panic!("{other:?}"),
            }
        }
        other => panic!("{other:?}"),
    };
    assert_eq!(m.to_string(), "unknown node 'n9' cannot get secret ns/s1");
    // Service accounts are named as kube-apiserver names them.
    let m = miss(&req("create", "", "serviceaccounts", "token", "ns", "sa2"));
    assert!(m.to_string().starts_with("node 'n1' cannot get serviceAccount ns/sa2"));
}

#[test]
fn every_denial_text_is_kube_apiservers() {
    let g = graph();
    let cases: &[(Attributes, &str)] = &[
        (req("create", "", "secrets", "", "ns", "s1"), "can only read resources of this type"),
        (req("get", "", "secrets", "status", "ns", "s1"), "cannot read subresource"),
        (req("list", "", "configmaps", "", "", ""), "can only read namespaced object of this type"),
        (req("list", "", "secrets", "", "ns", ""), "No Object name found"),
        (req("get", "", "persistentvolumeclaims", "status", "ns", "claim1"), "can only get/update/patch this type"),
        (req("list", "", "persistentvolumes", "", "", ""), "can only get individual resources of this type"),
        (req("get", "storage.k8s.io", "volumeattachments", "status", "", "va1"), "cannot get subresource"),
        (req("get", "", "serviceaccounts", "token", "ns", "sa1"), "can only create tokens for individual service accounts"),
        (req("create", "", "serviceaccounts", "", "ns", "sa1"), "can only create token subresource of serviceaccount"),
        (req("list", "coordination.k8s.io", "leases", "", "kube-node-lease", ""), "can only get, create, update, patch, or delete a node lease"),
        (req("get", "coordination.k8s.io", "leases", "", "default", "n1"), "can only access leases in the \"kube-node-lease\" system namespace"),
        (req("update", "coordination.k8s.io", "leases", "", "kube-node-lease", "n2"), "can only access node lease with the same name as the requesting node"),
        (req("list", "storage.k8s.io", "csinodes", "", "", ""), "can only get, create, update, patch, or delete a CSINode"),
        (req("get", "storage.k8s.io", "csinodes", "status", "", "n1"), "cannot authorize CSINode subresources"),
        (req("delete", "storage.k8s.io", "csinodes", "", "", "n2"), "can only access CSINode with the same name as the requesting node"),
        (req("get", "resource.k8s.io", "resourceslices", "status", "", "slice1"), "cannot authorize ResourceSlice subresources"),
        (req("list", "resource.k8s.io", "resourceslices", "", "", ""), "can only list/watch/deletecollection resourceslices with nodeName field selector"),
        (req("escalate", "resource.k8s.io", "resourceslices", "", "", ""), "only the following verbs are allowed for a ResourceSlice: get, watch, list, create, update, patch, delete, deletecollection"),
        (req("list", "", "nodes", "", "", ""), "node 'n1' cannot read all nodes, only its own Node object"),
        (req("get", "", "nodes", "", "", "n2"), "node 'n1' cannot read 'n2', only its own Node object"),
        (req("list", "", "pods", "", "", ""), "can only list/watch pods with spec.nodeName field selector"),
        (req("get", "", "pods", "", "ns", "gone"), NO_REL),
        // No text where kube-apiserver gives none.
        (req("delete", "", "nodes", "", "", "n1"), ""),
        (req("update", "", "pods", "", "ns", "p1"), ""),
        (req("get", "", "pods", "log", "ns", "p1"), ""),
        (req("delete", "", "services", "", "ns", "x"), ""),
    ];
    for (a, text) in cases {
        let d = authorize(&g, a);
        assert_eq!(said(&d), (false, (*text).to_owned()), "{a:?}");
        assert!(matches!(d, Decision::NoOpinion(_)), "the Node authorizer never denies");
    }
    let mut nameless = req("get", "", "secrets", "", "ns", "s1");
    nameless.user.name = "system:node:".into();
    assert_eq!(said(&authorize(&g, &nameless)), (false, "unknown node for user \"system:node:\"".into()));
}

#[test]
fn own_objects_by_name_and_static_rules_for_the_rest() {
    let g = graph();
    for a in [
        req("get", "", "nodes", "", "", "n1"),
        req("create", "", "nodes", "", "", ""),
        req("patch", "", "nodes", "status", "", "n2"),
        req("create", "coordination.k8s.io", "leases", "", "kube-node-lease", ""),
        req("update", "coordination.k8s.io", "leases", "", "kube-node-lease", "n1"),
        req("get", "storage.k8s.io", "csinodes", "", "", "n1"),
        req("create", "resource.k8s.io", "resourceslices", "", "", ""),
        req("create", "", "pods", "", "ns", ""),
        req("patch", "", "pods", "status", "ns", "p2"),
        req("create", "", "pods", "eviction", "ns", "p2"),
        req("create", "", "events", "", "ns", ""),
        req("list", "", "services", "", "", ""),
        req("create", "certificates.k8s.io", "certificatesigningrequests", "", "", ""),
        req("create", "authentication.k8s.io", "tokenreviews", "", "", ""),
        req("get", "", "endpoints", "", "ns", "e"),
    ] {
        assert_eq!(said(&authorize(&g, &a)), (true, String::new()), "{a:?}");
    }
}

#[test]
fn only_nodes_are_judged() {
    let g = graph();
    let mut a = req("get", "", "secrets", "", "ns", "s1");
    a.user =
        UserInfo { name: "system:node:n1".into(), groups: vec!["system:authenticated".into()], ..UserInfo::default() };
    assert_eq!(authorize(&g, &a), Decision::NoOpinion(Reason::None));
    a.user = UserInfo { name: "alice".into(), groups: vec!["system:nodes".into()], ..UserInfo::default() };
    assert_eq!(authorize(&g, &a), Decision::NoOpinion(Reason::None));
    assert_eq!(rules_for(&g, &a.user, "ns"), crate::authz::Rules::default());
}

#[test]
fn changes_keep_the_graph_current() {
    let mut g = graph();
    let get_s1 = req("get", "", "secrets", "", "ns", "s1");
    // A second pod on n1 sharing s1: deleting one keeps the edge, deleting both drops it.
    g.put_pod(&pod("ns", "p3", "n1", json!({"volumes": [{"name": "s", "secret": {"secretName": "s1"}}]})));
    g.remove_pod("ns", "p1");
    assert!(authorize(&g, &get_s1).is_allowed());
    g.remove_pod("ns", "p3");
    assert!(!authorize(&g, &get_s1).is_allowed());
    // The claim's pod is gone: the volume and its secret no longer lead to n1.
    assert!(!authorize(&g, &req("get", "", "persistentvolumes", "", "", "pv1")).is_allowed());
    assert!(!authorize(&g, &req("get", "", "secrets", "", "ns", "pv-secret")).is_allowed());
    // A pod moved to n1 (kauth does not forbid rebinding) takes its references along.
    g.put_pod(&pod("ns", "p2", "n1", json!({"volumes": [{"name": "s", "secret": {"secretName": "s2"}}]})));
    assert!(authorize(&g, &req("get", "", "secrets", "", "ns", "s2")).is_allowed());
    // Unbinding removes it.
    g.put_pod(&pod("ns", "p2", "", json!({})));
    assert!(!authorize(&g, &req("get", "", "secrets", "", "ns", "s2")).is_allowed());
    // Attachments move and go.
    g.put_volume_attachment("va2", "n1");
    assert!(authorize(&g, &req("get", "storage.k8s.io", "volumeattachments", "", "", "va2")).is_allowed());
    g.remove_volume_attachment("va2");
    assert!(!authorize(&g, &req("get", "storage.k8s.io", "volumeattachments", "", "", "va2")).is_allowed());
    g.remove_resource_slice("slice1");
    g.remove_volume_attachment("va1");
    g.remove_persistent_volume("pv1");
    assert_eq!(g.pod_count(), 0);
}

#[test]
fn mirror_pods_grant_nothing_but_themselves() {
    let mut g = NodeGraph::new();
    let mut p = pod(
        "ns",
        "static",
        "n1",
        json!({"serviceAccountName": "sa", "volumes": [{"name": "s", "secret": {"secretName": "s"}}]}),
    );
    p.metadata.annotations = Some([("kubernetes.io/config.mirror".to_owned(), "h".to_owned())].into());
    g.put_pod(&p);
    assert!(authorize(&g, &req("get", "", "pods", "", "ns", "static")).is_allowed());
    assert!(!authorize(&g, &req("get", "", "secrets", "", "ns", "s")).is_allowed());
    assert!(!authorize(&g, &req("create", "", "serviceaccounts", "token", "ns", "sa")).is_allowed());
}

#[test]
fn decision_cost_does_not_grow_with_pods() {
    let cost = |pods: usize| {
        let mut g = graph();
        for i in 0..pods {
            let node = format!("n{}", i % 3);
            // Every pod shares s1 and sa1, as a DaemonSet's would.
            g.put_pod(&pod(
                "ns",
                &format!("d{i}"),
                &node,
                json!({"serviceAccountName": "sa1", "volumes": [{"name": "s", "secret": {"secretName": "s1"}}]}),
            ));
        }
        let before = g.lookups();
        for a in [
            req("get", "", "secrets", "", "ns", "s1"),
            req("get", "", "secrets", "", "ns", "s2"),
            req("create", "", "serviceaccounts", "token", "ns", "sa1"),
            req("get", "", "pods", "", "ns", "d7"),
            req("get", "", "configmaps", "", "ns", "nobody"),
        ] {
            authorize(&g, &a);
        }
        g.lookups() - before
    };
    let small = cost(10);
    assert!(small > 0);
    assert_eq!(cost(10_000), small);
}

#[test]
fn rules_name_what_the_node_may_read_in_the_namespace() {
    let g = graph();
    let r = rules_for(&g, &node_user("n1"), "ns");
    assert!(r.incomplete);
    assert_eq!(r.evaluation_error, "node authorizer does not support user rule resolution");
    let find = |res: &str| {
        r.resource_rules
            .iter()
            .find(|x| x.resources == [res] && !x.resource_names.is_empty())
            .map(|x| x.resource_names.clone())
    };
    assert_eq!(find("secrets"), Some(vec!["s1".to_owned()]));
    assert_eq!(find("configmaps"), Some(vec!["cm1".to_owned()]));
    assert_eq!(find("serviceaccounts/token"), Some(vec!["sa1".to_owned()]));
    assert_eq!(find("pods"), Some(vec!["p1".to_owned()]));
    // Static rules of resources the graph does not subdivide come whole.
    assert!(r.resource_rules.iter().any(|x| x.resources == ["events"] && x.resource_names.is_empty()));
    // No secret or configmap rule without names.
    assert!(!r
        .resource_rules
        .iter()
        .any(|x| x.resources.iter().any(|s| s == "secrets") && x.resource_names.is_empty()));
    let other = rules_for(&g, &node_user("n1"), "elsewhere");
    assert_eq!(other.resource_rules.iter().find(|x| x.resources == ["secrets"]), None);
}
