//! Every built-in resource of Kubernetes 1.32 and its complete default policy, through the real
//! kubectl: `kubectl api-resources` lists what a 1.32 server lists; every default ClusterRole,
//! ClusterRoleBinding, Role and RoleBinding is served as Kubernetes' bootstrap policy has it;
//! a chart's manifests apply and read back, and `kubectl auth can-i` answers for admin, edit and
//! view holders as a 1.32 server does.
#![allow(clippy::unwrap_used)]

mod common;

use std::collections::{BTreeMap, BTreeSet};

use common::server::Server;
use common::tools::{require, Tool};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, Role, RoleBinding};
use serde_json::Value;

fn server() -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    (dir, s)
}

fn json(s: &Server, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&s.kubectl(&a).ok()).unwrap()
}

/// The listing a Kubernetes 1.32 server gives `kubectl api-resources -o wide` for the groups it
/// serves by default (derived from Kubernetes 1.32's discovery documents).
const API_RESOURCES: &str = include_str!("data/api-resources-1.32.txt");

#[test]
fn api_resources_list_what_kubernetes_1_32_lists() {
    require!(Tool::Kubectl);
    let (_d, s) = server();
    let got = s.kubectl(&["api-resources", "-o", "wide"]).ok();
    let lines = |t: &str| t.lines().map(|l| l.split_whitespace().collect::<Vec<_>>().join(" ")).collect::<Vec<_>>();
    assert_eq!(lines(&got), lines(API_RESOURCES));
    // Subresources are in discovery too, as kube-apiserver lists them.
    let core: Value = serde_json::from_str(&s.kubectl(&["get", "--raw", "/api/v1"]).ok()).unwrap();
    let names: BTreeSet<&str> =
        core["resources"].as_array().unwrap().iter().filter_map(|r| r["name"].as_str()).collect();
    for sub in ["pods/log", "pods/status", "pods/exec", "pods/eviction", "serviceaccounts/token", "nodes/proxy"] {
        assert!(names.contains(sub), "{sub} missing from /api/v1");
    }
    let apps: Value = serde_json::from_str(&s.kubectl(&["get", "--raw", "/apis/apps/v1"]).ok()).unwrap();
    let scale = apps["resources"].as_array().unwrap().iter().find(|r| r["name"] == "deployments/scale").unwrap();
    assert_eq!(
        (&scale["group"], &scale["version"], &scale["kind"]),
        (&"autoscaling".into(), &"v1".into(), &"Scale".into())
    );
}

fn items<T: serde::de::DeserializeOwned>(s: &Server, args: &[&str]) -> Vec<T> {
    serde_json::from_value(json(s, args)["items"].clone()).unwrap()
}

fn golden<T: serde::de::DeserializeOwned>(file: &str) -> Vec<T> {
    let (_, text) = kauth::rbac::defaults::KUBERNETES_FILES.iter().find(|(n, _)| *n == file).unwrap();
    let doc: serde_norway::Value = serde_norway::from_str(text).unwrap();
    serde_norway::from_value(doc["items"].clone()).unwrap()
}

fn key(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> (String, String) {
    (m.namespace.clone().unwrap_or_default(), m.name.clone().unwrap_or_default())
}

/// Only what the bootstrap policy sets: labels, annotations, name and namespace.
fn meta(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> Value {
    serde_json::json!({"name": m.name, "namespace": m.namespace, "labels": m.labels, "annotations": m.annotations})
}

fn rule_set(rules: &[PolicyRule]) -> BTreeSet<String> {
    rules.iter().map(|r| serde_json::to_string(r).unwrap()).collect()
}

/// The rules a ClusterRole has once aggregated: its own, or for an aggregated role the union of
/// those of every role its selectors pick, aggregated in turn.
fn expected_rules(all: &[ClusterRole], role: &ClusterRole) -> BTreeSet<String> {
    let Some(agg) = &role.aggregation_rule else { return rule_set(role.rules.as_deref().unwrap_or_default()) };
    let mut union = BTreeSet::new();
    for sel in agg.cluster_role_selectors.iter().flatten() {
        let labels = sel.match_labels.clone().unwrap_or_default();
        for r in all.iter().filter(|r| r.metadata.name != role.metadata.name) {
            let have = r.metadata.labels.clone().unwrap_or_default();
            if labels.iter().all(|(k, v)| have.get(k) == Some(v)) {
                union.extend(expected_rules(all, r));
            }
        }
    }
    union
}

#[test]
fn the_default_policy_is_kubernetes_1_32_s() {
    require!(Tool::Kubectl);
    let (_d, s) = server();
    let defaults = ["-l", "kubernetes.io/bootstrapping=rbac-defaults"];

    let want: Vec<ClusterRole> =
        [golden::<ClusterRole>("cluster-roles.yaml"), golden("controller-roles.yaml")].concat();
    let got: BTreeMap<_, ClusterRole> = items::<ClusterRole>(&s, &[&["get", "clusterroles"][..], &defaults].concat())
        .into_iter()
        .map(|r| (key(&r.metadata), r))
        .collect();
    assert_eq!(
        got.keys().cloned().collect::<BTreeSet<_>>(),
        want.iter().map(|r| key(&r.metadata)).collect::<BTreeSet<_>>()
    );
    for w in &want {
        let g = &got[&key(&w.metadata)];
        assert_eq!(meta(&g.metadata), meta(&w.metadata), "{:?}", w.metadata.name);
        assert_eq!(g.aggregation_rule, w.aggregation_rule, "{:?}", w.metadata.name);
        match &w.aggregation_rule {
            // admin, edit and view: the union of the rules of the roles their selectors pick
            // (edit and view are themselves picked, with their own aggregated rules).
            Some(_) => {
                let union = expected_rules(&want, w);
                assert!(!union.is_empty(), "{:?}", w.metadata.name);
                assert_eq!(rule_set(g.rules.as_deref().unwrap_or_default()), union, "{:?}", w.metadata.name);
            }
            None => assert_eq!(g.rules, w.rules, "{:?}", w.metadata.name),
        }
    }

    let want: Vec<ClusterRoleBinding> =
        [golden::<ClusterRoleBinding>("cluster-role-bindings.yaml"), golden("controller-role-bindings.yaml")].concat();
    let got: BTreeMap<_, ClusterRoleBinding> =
        items::<ClusterRoleBinding>(&s, &[&["get", "clusterrolebindings"][..], &defaults].concat())
            .into_iter()
            .map(|r| (key(&r.metadata), r))
            .collect();
    assert_eq!(got.len(), want.len());
    for w in &want {
        let g = got.get(&key(&w.metadata)).unwrap_or_else(|| panic!("{:?} missing", w.metadata.name));
        assert_eq!((meta(&g.metadata), &g.role_ref, &g.subjects), (meta(&w.metadata), &w.role_ref, &w.subjects));
    }

    let want: Vec<Role> = golden("namespace-roles.yaml");
    let got: BTreeMap<_, Role> = items::<Role>(&s, &[&["get", "roles", "-A"][..], &defaults].concat())
        .into_iter()
        .map(|r| (key(&r.metadata), r))
        .collect();
    assert_eq!(got.len(), want.len());
    for w in &want {
        let g = got.get(&key(&w.metadata)).unwrap_or_else(|| panic!("{:?} missing", w.metadata.name));
        assert_eq!((meta(&g.metadata), &g.rules), (meta(&w.metadata), &w.rules));
    }

    let want: Vec<RoleBinding> = golden("namespace-role-bindings.yaml");
    let got: BTreeMap<_, RoleBinding> =
        items::<RoleBinding>(&s, &[&["get", "rolebindings", "-A"][..], &defaults].concat())
            .into_iter()
            .map(|r| (key(&r.metadata), r))
            .collect();
    assert_eq!(got.len(), want.len());
    for w in &want {
        let g = got.get(&key(&w.metadata)).unwrap_or_else(|| panic!("{:?} missing", w.metadata.name));
        assert_eq!((meta(&g.metadata), &g.role_ref, &g.subjects), (meta(&w.metadata), &w.role_ref, &w.subjects));
    }
}

const CHART: &str = include_str!("data/chart.yaml");

/// (verb, resource, subresource, view, edit, admin): a Kubernetes 1.32 server's answers, derived
/// from its aggregated default policy.
const CAN_I: &[(&str, &str, &str, bool, bool, bool)] = &[
    ("get", "deployments.apps", "", true, true, true),
    ("create", "deployments.apps", "", false, true, true),
    ("update", "deployments.apps", "scale", false, true, true),
    ("get", "deployments.apps", "scale", true, true, true),
    ("update", "deployments.apps", "status", false, false, false),
    ("get", "secrets", "", false, true, true),
    ("list", "pods", "", true, true, true),
    ("get", "pods", "log", true, true, true),
    ("create", "pods", "exec", false, true, true),
    ("create", "pods", "eviction", false, true, true),
    ("get", "horizontalpodautoscalers.autoscaling", "", true, true, true),
    ("patch", "horizontalpodautoscalers.autoscaling", "", false, true, true),
    ("get", "poddisruptionbudgets.policy", "", true, true, true),
    ("create", "poddisruptionbudgets.policy", "", false, true, true),
    ("get", "networkpolicies.networking.k8s.io", "", true, true, true),
    ("create", "networkpolicies.networking.k8s.io", "", false, true, true),
    ("get", "ingresses.networking.k8s.io", "", true, true, true),
    ("get", "cronjobs.batch", "", true, true, true),
    ("delete", "cronjobs.batch", "", false, true, true),
    ("get", "configmaps", "", true, true, true),
    ("create", "services", "", false, true, true),
    ("create", "serviceaccounts", "token", false, true, true),
    ("impersonate", "serviceaccounts", "", false, true, true),
    ("get", "roles.rbac.authorization.k8s.io", "", false, false, true),
    ("create", "roles.rbac.authorization.k8s.io", "", false, false, true),
    ("create", "rolebindings.rbac.authorization.k8s.io", "", false, false, true),
    ("create", "localsubjectaccessreviews.authorization.k8s.io", "", false, false, true),
];

#[test]
fn a_chart_applies_and_admin_edit_and_view_answer_as_on_kubernetes() {
    require!(Tool::Kubectl);
    let (_d, s) = server();
    let out = s.kubectl_in(&["apply", "-f", "-"], Some(CHART.as_bytes()));
    assert_eq!(out.code, 0, "{}\n{}", out.stdout, out.stderr);
    for (kind, name) in [
        ("deployment", "web"),
        ("service", "web"),
        ("ingress", "web"),
        ("cronjob", "cleanup"),
        ("hpa", "web"),
        ("pdb", "web"),
        ("networkpolicy", "web"),
        ("configmap", "web-config"),
        ("role", "web"),
        ("rolebinding", "web"),
    ] {
        let v = json(&s, &["-n", "shop", "get", kind, name]);
        assert_eq!(v["metadata"]["name"], name, "{kind}");
    }
    let d = json(&s, &["-n", "shop", "get", "deployment", "web"]);
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["resources"]["requests"]["cpu"], "100m");
    let hpa = json(&s, &["-n", "shop", "get", "hpa", "web"]);
    assert_eq!((hpa["apiVersion"].as_str(), hpa["spec"]["maxReplicas"].as_i64()), (Some("autoscaling/v2"), Some(5)));
    // Applying again changes nothing; `kubectl get all` finds the workload by category.
    let again = s.kubectl_in(&["apply", "-f", "-"], Some(CHART.as_bytes())).ok();
    assert!(again.contains("deployment.apps/web unchanged"), "{again}");
    // A changed manifest applies as a strategic merge: the container merges by name.
    let changed = CHART.replace("nginx:1.27", "nginx:1.28");
    s.kubectl_in(&["apply", "-f", "-"], Some(changed.as_bytes())).ok();
    let d = json(&s, &["-n", "shop", "get", "deployment", "web"]);
    let containers = d["spec"]["template"]["spec"]["containers"].as_array().unwrap();
    assert_eq!(containers.len(), 1);
    assert_eq!(containers[0]["image"], "nginx:1.28");
    assert_eq!(containers[0]["ports"][0]["containerPort"], 80);
    assert_eq!(containers[0]["envFrom"][0]["configMapRef"]["name"], "web-config");
    // Selectors and paging on the new kinds, through the same code as every kind.
    let by_label =
        s.kubectl(&["-n", "shop", "get", "deploy,pdb", "-l", "app.kubernetes.io/name=web", "-o", "name"]).ok();
    assert_eq!(by_label.trim(), "deployment.apps/web");
    let all = s.kubectl(&["-n", "shop", "get", "all", "--chunk-size=1", "-o", "name"]).ok();
    for want in
        ["deployment.apps/web", "service/web", "cronjob.batch/cleanup", "horizontalpodautoscaler.autoscaling/web"]
    {
        assert!(all.lines().any(|l| l == want), "{want} not in {all}");
    }

    let mut wrong = Vec::new();
    for &(verb, resource, sub, view, edit, admin) in CAN_I {
        for (user, want) in [("carol", view), ("bob", edit), ("alice", admin)] {
            let mut args = vec!["-n", "shop", "auth", "can-i", verb, resource, "--as", user];
            let subresource = format!("--subresource={sub}");
            if !sub.is_empty() {
                args.push(&subresource);
            }
            let out = s.kubectl(&args);
            let got = out.stdout.trim() == "yes";
            if got != want || !out.stderr.is_empty() {
                wrong.push(format!(
                    "{user} {verb} {resource}/{sub}: got {} (stderr {:?}), want {want}",
                    out.stdout.trim(),
                    out.stderr
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
    // Outside the namespace they are bound in, none of them can.
    let out = s.kubectl(&["-n", "default", "auth", "can-i", "get", "deployments", "--as", "alice"]);
    assert_eq!(out.stdout.trim(), "no");
}

#[test]
fn kubectl_create_deployment_scale_and_status() {
    require!(Tool::Kubectl);
    let (_d, s) = server();
    s.kubectl(&["create", "deployment", "web", "--image=nginx", "--replicas=2", "--port=80"]).ok();
    let d = json(&s, &["get", "deployment", "web"]);
    assert_eq!(d["spec"]["replicas"], 2);
    assert_eq!(d["spec"]["selector"]["matchLabels"]["app"], "web");
    assert_eq!(d["spec"]["template"]["spec"]["containers"][0]["ports"][0]["containerPort"], 80);

    // deployments/scale: an autoscaling/v1 Scale; scaling sets spec.replicas (no controller follows).
    let out = s.kubectl(&["scale", "deployment", "web", "--replicas=4"]).ok();
    assert!(out.contains("deployment.apps/web scaled"), "{out}");
    let scale = json(&s, &["get", "deployment", "web", "--subresource=scale"]);
    assert_eq!((scale["kind"].as_str(), scale["spec"]["replicas"].as_i64()), (Some("Scale"), Some(4)));
    assert_eq!(scale["status"]["selector"], "app=web");

    // status: written through /status only; the main endpoint keeps the stored status.
    let patch = r#"{"status":{"replicas":4,"readyReplicas":3}}"#;
    s.kubectl(&["patch", "deployment", "web", "--subresource=status", "--type=merge", "-p", patch]).ok();
    let d = json(&s, &["get", "deployment", "web"]);
    assert_eq!(d["status"]["readyReplicas"], 3);
    s.kubectl(&["patch", "deployment", "web", "--type=merge", "-p", r#"{"status":{"readyReplicas":1}}"#]).ok();
    let d = json(&s, &["get", "deployment", "web"]);
    assert_eq!(d["status"]["readyReplicas"], 3, "the main endpoint must not change status");

    // A pod never runs on kauth: its logs are kube-apiserver's answer for an unscheduled pod.
    s.kubectl(&["run", "p", "--image=nginx"]).ok();
    let logs = s.kubectl(&["logs", "p"]);
    assert_ne!(logs.code, 0);
    assert!(logs.stderr.contains("pod p does not have a host assigned; kauth: "), "{}", logs.stderr);
}
