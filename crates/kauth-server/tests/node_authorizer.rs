//! The Node authorizer in the server (`--authorization-mode=Node,RBAC`, the default): the graph
//! follows committed pods; a node's requests, through SubjectAccessReview, with a static token
//! and with the kubelet's client certificate (`kubelet.conf`), are answered as kube-apiserver
//! 1.32 answers them; the explanation names the missing edge; the decision's cost does not
//! follow the number of pods; the other authorization modes.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::Arc;

use common::{handle, json_of, request, server, server_with, FakeClock, Server, ADMIN, ALICE, NODE1, START};
use http::Method;
use serde_json::{json, Value};

const AUTHZ: &str = "/apis/authorization.k8s.io/v1";
const NS: &str = "/api/v1/namespaces/default";
const NO_REL: &str = "no relationship found between node 'n1' and this object";

fn create(s: &Server, path: &str, body: Value) -> Value {
    s.admin(Method::POST, path, Some(body), 201)
}

/// Pod `web` on n1 (service account sa1, secret s1 as a volume, configmap cm1 in its env) and
/// pod `db` on n2 (secret s2); the objects they name exist.
fn cluster() -> Server {
    cluster_with(|_| {})
}

fn cluster_with(configure: impl FnOnce(&mut kauth_server::Options)) -> Server {
    let s = server_with(FakeClock::at(START), configure);
    for sa in ["sa1", "sa2"] {
        create(&s, &format!("{NS}/serviceaccounts"), json!({"metadata": {"name": sa}}));
    }
    for secret in ["s1", "s2", "lonely"] {
        create(&s, &format!("{NS}/secrets"), json!({"metadata": {"name": secret}, "data": {}}));
    }
    create(&s, &format!("{NS}/configmaps"), json!({"metadata": {"name": "cm1"}, "data": {}}));
    create(&s, &format!("{NS}/pods"), pod("web", "n1", "sa1", "s1"));
    create(&s, &format!("{NS}/pods"), pod("db", "n2", "sa2", "s2"));
    s
}

fn pod(name: &str, node: &str, sa: &str, secret: &str) -> Value {
    json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": name},
           "spec": {"nodeName": node, "serviceAccountName": sa,
                    "containers": [{"name": "c", "image": "registry.k8s.io/pause",
                                    "envFrom": [{"configMapRef": {"name": "cm1"}}]}],
                    "volumes": [{"name": "v", "secret": {"secretName": secret}}]}})
}

/// A SubjectAccessReview for `system:node:n1` in `system:nodes`, as admin.
fn node_sar(s: &Server, attributes: Value) -> Value {
    let r = s.send(
        Method::POST,
        &format!("{AUTHZ}/subjectaccessreviews"),
        Some(json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
                    "spec": {"user": "system:node:n1", "groups": ["system:nodes", "system:authenticated"],
                             "resourceAttributes": attributes}})),
        Some(ADMIN),
    );
    let v = json_of(&r);
    assert_eq!(r.status, 201, "{v}");
    v["status"].clone()
}

fn attrs(verb: &str, resource: &str, sub: &str, name: &str) -> Value {
    json!({"namespace": "default", "verb": verb, "resource": resource, "subresource": sub, "name": name})
}

#[test]
fn a_subject_access_review_follows_the_pods_on_the_node() {
    let s = cluster();
    let allowed = json!({"allowed": true});
    let denied = json!({"allowed": false, "reason": NO_REL});
    assert_eq!(node_sar(&s, attrs("get", "secrets", "", "s1")), allowed);
    assert_eq!(node_sar(&s, attrs("watch", "configmaps", "", "cm1")), allowed);
    assert_eq!(node_sar(&s, attrs("create", "serviceaccounts", "token", "sa1")), allowed);
    assert_eq!(node_sar(&s, attrs("get", "pods", "", "web")), allowed);
    // n2's objects and an object no pod names.
    assert_eq!(node_sar(&s, attrs("get", "secrets", "", "s2")), denied);
    assert_eq!(node_sar(&s, attrs("create", "serviceaccounts", "token", "sa2")), denied);
    assert_eq!(node_sar(&s, attrs("get", "pods", "", "db")), denied);
    assert_eq!(node_sar(&s, attrs("get", "secrets", "", "lonely")), denied);
    // Kauth serves no persistent volumes: nothing leads to one.
    assert_eq!(
        node_sar(&s, json!({"verb": "get", "resource": "persistentvolumes", "name": "pv1"})),
        json!({"allowed": false, "reason": NO_REL})
    );
    // Denials with their own texts, and the static rules.
    assert_eq!(
        node_sar(&s, attrs("create", "secrets", "", "")),
        json!({"allowed": false, "reason": "can only read resources of this type"})
    );
    assert_eq!(
        node_sar(&s, json!({"verb": "list", "resource": "nodes"})),
        json!({"allowed": false, "reason": "node 'n1' cannot read all nodes, only its own Node object"})
    );
    assert_eq!(node_sar(&s, json!({"verb": "get", "resource": "nodes", "name": "n1"})), allowed);
    assert_eq!(node_sar(&s, attrs("create", "events", "", "")), allowed);
    // The graph follows the store: the pod moves to n2, then comes back, then goes.
    let web = s.admin(Method::GET, &format!("{NS}/pods/web"), None, 200);
    let mut moved = web.clone();
    moved["spec"]["nodeName"] = json!("n2");
    s.admin(Method::PUT, &format!("{NS}/pods/web"), Some(moved), 200);
    assert_eq!(node_sar(&s, attrs("get", "secrets", "", "s1")), denied);
    create(&s, &format!("{NS}/pods"), pod("web2", "n1", "sa1", "s1"));
    assert_eq!(node_sar(&s, attrs("get", "secrets", "", "s1")), allowed);
    s.admin(Method::DELETE, &format!("{NS}/pods/web2"), None, 200);
    assert_eq!(node_sar(&s, attrs("get", "secrets", "", "s1")), denied);
    // A restart rebuilds the graph from the store.
    create(&s, &format!("{NS}/pods"), pod("web3", "n1", "sa1", "s1"));
    let s = s.restart();
    assert_eq!(node_sar(&s, attrs("get", "secrets", "", "s1")), allowed);
}

#[test]
fn a_kubelet_token_reads_what_its_pods_reference_and_nothing_else() {
    let audit = tempfile::NamedTempFile::new().unwrap();
    let s = cluster_with(|o| o.audit_log_path = Some(audit.path().to_owned()));
    let get = |path: &str| s.send(Method::GET, path, None, Some(NODE1));
    assert_eq!(get(&format!("{NS}/secrets/s1")).status, 200);
    assert_eq!(get(&format!("{NS}/configmaps/cm1")).status, 200);
    assert_eq!(get(&format!("{NS}/pods/web")).status, 200);
    let r = get(&format!("{NS}/secrets/s2"));
    assert_eq!(r.status, 403);
    assert_eq!(
        json_of(&r)["message"],
        format!(
            "secrets \"s2\" is forbidden: User \"system:node:n1\" cannot get resource \"secrets\" in API group \"\" in the namespace \"default\": {NO_REL}"
        )
    );
    let r = get("/api/v1/nodes/n2");
    assert_eq!(
        json_of(&r)["message"],
        "nodes \"n2\" is forbidden: User \"system:node:n1\" cannot get resource \"nodes\" in API group \"\" at the cluster scope: node 'n1' cannot read 'n2', only its own Node object"
    );
    // Its own Node may be read before it exists.
    assert_eq!(get("/api/v1/nodes/n1").status, 404);
    // The explanation in the audit event names the missing edge.
    let events: Vec<Value> =
        std::fs::read_to_string(audit.path()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    let forbidden = events
        .iter()
        .find(|e| e["stage"] == "ResponseComplete" && e["objectRef"]["name"] == "s2")
        .expect("the refused read of s2 is audited");
    assert_eq!(forbidden["annotations"]["authorization.k8s.io/reason"], NO_REL);
    let explanation = forbidden["annotations"]["authorization.kauth.dev/explanation"].as_str().unwrap();
    assert!(
        explanation.starts_with(
            "Node: node 'n1' cannot get secret default/s2, no relationship to this object was found in the node authorizer graph"
        ),
        "{explanation}"
    );
    assert!(explanation.contains("missing edge: secret default/s2 -> pod"), "{explanation}");
}

#[test]
fn a_kubelet_requests_tokens_for_its_pods_service_accounts_only() {
    let s = cluster();
    let uid = s.admin(Method::GET, &format!("{NS}/pods/web"), None, 200)["metadata"]["uid"].clone();
    let token_request = |sa: &str, pod: &str, uid: &Value| {
        s.send(
            Method::POST,
            &format!("{NS}/serviceaccounts/{sa}/token"),
            Some(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest",
                        "spec": {"audiences": [], "expirationSeconds": 3607,
                                 "boundObjectRef": {"apiVersion": "v1", "kind": "Pod", "name": pod, "uid": uid}}})),
            Some(NODE1),
        )
    };
    let r = token_request("sa1", "web", &uid);
    assert_eq!(r.status, 201, "{}", json_of(&r));
    let db_uid = s.admin(Method::GET, &format!("{NS}/pods/db"), None, 200)["metadata"]["uid"].clone();
    let r = token_request("sa2", "db", &db_uid);
    assert_eq!(r.status, 403);
    assert!(json_of(&r)["message"].as_str().unwrap().ends_with(NO_REL));
}

#[test]
fn the_kubelet_client_certificate_is_a_node_too() {
    let s = cluster();
    // kubelet.conf's certificate: CN=system:node:localhost, O=system:nodes.
    let kubeconfig = std::fs::read_to_string(s.options.data_dir.join("kubelet.conf")).unwrap();
    let data = kubeconfig.lines().find_map(|l| l.trim().strip_prefix("client-certificate-data: ")).unwrap();
    let pem = base64::Engine::decode(&base64::engine::general_purpose::STANDARD, data.trim()).unwrap();
    let certs = kauth_server::transport::tls::certificates("kubelet", &pem).unwrap();
    let send = |method: Method, path: &str, body: Option<Value>| {
        let mut req = request(method, path, body.as_ref(), None);
        req.peer = Some(Arc::new(certs.clone()));
        handle(&s.state, req)
    };
    assert_eq!(send(Method::GET, "/api/v1/nodes/localhost", None).status, 404);
    assert_eq!(send(Method::GET, "/api/v1/nodes/n1", None).status, 403);
    assert_eq!(send(Method::GET, &format!("{NS}/secrets/s1"), None).status, 403);
    create(&s, &format!("{NS}/pods"), pod("local", "localhost", "sa1", "s1"));
    assert_eq!(send(Method::GET, &format!("{NS}/secrets/s1"), None).status, 200);
    let node = json!({"apiVersion": "v1", "kind": "Node", "metadata": {"name": "localhost"}});
    assert_eq!(send(Method::POST, "/api/v1/nodes", Some(node)).status, 201);
    assert_eq!(send(Method::GET, "/api/v1/nodes/localhost", None).status, 200);
}

#[test]
fn a_decision_costs_the_same_lookups_at_3_and_at_203_pods() {
    let s = cluster();
    let cost = |s: &Server| {
        let before = s.state.registry.node_graph().lookups();
        for a in [
            attrs("get", "secrets", "", "s1"),
            attrs("get", "secrets", "", "s2"),
            attrs("create", "serviceaccounts", "token", "sa1"),
            attrs("get", "pods", "", "web"),
        ] {
            node_sar(s, a);
        }
        s.state.registry.node_graph().lookups() - before
    };
    let few = cost(&s);
    assert!(few > 0);
    for i in 0..200 {
        // Every pod shares s1 and sa1, as a DaemonSet's would, on three nodes.
        create(&s, &format!("{NS}/pods"), pod(&format!("d{i}"), &format!("n{}", i % 3), "sa1", "s1"));
    }
    assert_eq!(s.state.registry.node_graph().pod_count(), 202);
    assert_eq!(cost(&s), few);
}

#[test]
fn a_node_is_told_its_rules_and_that_they_are_incomplete() {
    let s = cluster();
    let r = s.send(
        Method::POST,
        &format!("{AUTHZ}/selfsubjectrulesreviews"),
        Some(json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectRulesReview", "spec": {"namespace": "default"}})),
        Some(NODE1),
    );
    let v = json_of(&r);
    assert_eq!(r.status, 201, "{v}");
    assert_eq!(v["status"]["incomplete"], true);
    assert_eq!(v["status"]["evaluationError"], "node authorizer does not support user rule resolution");
    let rules = v["status"]["resourceRules"].as_array().unwrap();
    assert!(rules.contains(&json!({"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["secrets"], "resourceNames": ["s1"]})), "{v}");
    assert!(rules.contains(&json!({"verbs": ["create"], "apiGroups": [""], "resources": ["serviceaccounts/token"], "resourceNames": ["sa1"]})), "{v}");
    assert!(
        rules.contains(&json!({"verbs": ["create", "update", "patch"], "apiGroups": [""], "resources": ["events"]})),
        "{v}"
    );
}

#[test]
fn authorization_modes_chain_in_order_after_system_masters() {
    // RBAC alone: the default policy binds no role to system:nodes, so the kubelet is refused.
    let s = cluster_with(|o| o.authorization_mode = vec!["RBAC".into()]);
    assert_eq!(node_sar(&s, attrs("get", "secrets", "", "s1")), json!({"allowed": false}));
    // AlwaysDeny: system:masters still first; everyone else forbidden with kube-apiserver's text.
    let s = server_with(FakeClock::at(START), |o| o.authorization_mode = vec!["AlwaysDeny".into()]);
    assert_eq!(s.send(Method::GET, "/api/v1/namespaces", None, Some(ADMIN)).status, 200);
    let r = s.send(Method::GET, "/api/v1/namespaces", None, Some(ALICE));
    assert_eq!(
        json_of(&r)["message"],
        "namespaces is forbidden: User \"alice\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope: Everything is forbidden."
    );
    let s = server_with(FakeClock::at(START), |o| o.authorization_mode = vec!["AlwaysAllow".into()]);
    assert_eq!(s.send(Method::GET, "/api/v1/namespaces", None, Some(ALICE)).status, 200);
    // kube-apiserver's texts for a mode it does not know and one given twice.
    let refused = |modes: &[&str]| {
        server().restart_with(|o| o.authorization_mode = modes.iter().map(|m| (*m).to_owned()).collect()).err().unwrap()
    };
    assert_eq!(refused(&["Node", "Foo"]), "authorization-mode \"Foo\" is not a valid mode");
    assert_eq!(
        refused(&["RBAC", "Node", "RBAC"]),
        "authorization-mode [\"RBAC\" \"Node\" \"RBAC\"] has mode specified more than once"
    );
}
