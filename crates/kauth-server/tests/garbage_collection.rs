//! Garbage collection through `ownerReferences` (`controllers/garbage_collector.rs`), in the
//! commit of the delete: dependents go with their last owner, down the tree; a dependent with a
//! living owner only loses the dangling reference; Orphan keeps dependents; DeleteOptions are
//! validated with kube-apiserver's texts; a token bound to a collected Secret is refused; and
//! tokens bound into a deleted namespace are refused with kube-apiserver's texts.
#![allow(clippy::unwrap_used)]

mod common;

use common::{server, Server, ADMIN};
use http::Method;
use kauth_server::controllers::garbage_collector::owner_reference;
use serde_json::{json, Value};

const CMS: &str = "/api/v1/namespaces/default/configmaps";
const SECRETS: &str = "/api/v1/namespaces/default/secrets";

fn configmap(s: &Server, name: &str, owners: &[&Value]) -> Value {
    let refs: Vec<Value> = owners.iter().map(|o| owner_reference(o)).collect();
    let body = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": name, "ownerReferences": refs}});
    s.admin(Method::POST, CMS, Some(body), 201)
}

fn secret(s: &Server, name: &str, owners: &[&Value]) -> Value {
    let refs: Vec<Value> = owners.iter().map(|o| owner_reference(o)).collect();
    let body = json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": name, "ownerReferences": refs}});
    s.admin(Method::POST, SECRETS, Some(body), 201)
}

fn exists(s: &Server, path: &str) -> bool {
    s.send(Method::GET, path, None, Some(ADMIN)).status == 200
}

fn delete_with(s: &Server, path: &str, options: Option<Value>) -> (u16, Value) {
    let r = s.send(Method::DELETE, path, options, Some(ADMIN));
    (r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null))
}

#[test]
fn dependents_go_with_their_owner_down_the_tree_in_one_commit() {
    let s = server();
    let owner = configmap(&s, "owner", &[]);
    let child = secret(&s, "child", &[&owner]);
    let grandchild = configmap(&s, "grandchild", &[&child]);
    let unrelated = configmap(&s, "unrelated", &[]);
    let before = s.state.registry.applied_revision();
    let (status, body) = delete_with(&s, &format!("{CMS}/owner"), None);
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["status"], "Success");
    assert_eq!(s.state.registry.applied_revision(), before + 1, "one commit");
    assert!(!exists(&s, &format!("{SECRETS}/child")));
    assert!(!exists(&s, &format!("{CMS}/grandchild")));
    assert!(exists(&s, &format!("{CMS}/unrelated")));
    let _ = (grandchild, unrelated);
}

#[test]
fn a_dependent_with_a_living_owner_only_loses_the_dangling_reference() {
    let s = server();
    let a = configmap(&s, "a", &[]);
    let b = configmap(&s, "b", &[]);
    secret(&s, "shared", &[&a, &b]);
    delete_with(&s, &format!("{CMS}/a"), None);
    let shared = s.admin(Method::GET, &format!("{SECRETS}/shared"), None, 200);
    assert_eq!(shared["metadata"]["ownerReferences"], json!([owner_reference(&b)]));
    // Its last owner gone, it goes.
    delete_with(&s, &format!("{CMS}/b"), None);
    assert!(!exists(&s, &format!("{SECRETS}/shared")));
}

#[test]
fn orphan_keeps_dependents_without_the_reference_and_foreground_deletes_them() {
    let s = server();
    let owner = configmap(&s, "owner", &[]);
    secret(&s, "kept", &[&owner]);
    let (status, _) = delete_with(&s, &format!("{CMS}/owner"), Some(json!({"propagationPolicy": "Orphan"})));
    assert_eq!(status, 200);
    let kept = s.admin(Method::GET, &format!("{SECRETS}/kept"), None, 200);
    assert!(kept["metadata"].get("ownerReferences").is_none(), "{kept}");

    let owner = configmap(&s, "owner2", &[]);
    secret(&s, "kept2", &[&owner]);
    delete_with(&s, &format!("{CMS}/owner2"), Some(json!({"orphanDependents": true})));
    assert!(exists(&s, &format!("{SECRETS}/kept2")));

    let owner = configmap(&s, "owner3", &[]);
    secret(&s, "gone3", &[&owner]);
    delete_with(&s, &format!("{CMS}/owner3?propagationPolicy=Foreground"), None);
    assert!(!exists(&s, &format!("{SECRETS}/gone3")));
}

#[test]
fn bad_delete_options_are_refused_as_kube_apiserver_refuses_them_and_nothing_is_deleted() {
    let s = server();
    let owner = configmap(&s, "owner", &[]);
    secret(&s, "child", &[&owner]);
    let (status, body) = delete_with(&s, &format!("{CMS}/owner"), Some(json!({"propagationPolicy": "Sideways"})));
    assert_eq!(status, 422);
    assert_eq!(
        body["message"],
        "DeleteOptions.meta.k8s.io \"\" is invalid: propagationPolicy: Unsupported value: \"Sideways\": supported values: \"Foreground\", \"Background\", \"Orphan\", \"nil\""
    );
    assert_eq!(body["details"]["kind"], "DeleteOptions");
    assert_eq!(body["details"]["group"], "meta.k8s.io");
    let (status, body) = delete_with(
        &s,
        &format!("{CMS}/owner"),
        Some(json!({"propagationPolicy": "Orphan", "orphanDependents": true})),
    );
    assert_eq!(status, 422);
    assert!(body["message"].as_str().unwrap().ends_with("orphanDependents and deletionPropagation cannot be both set"));
    assert!(exists(&s, &format!("{CMS}/owner")) && exists(&s, &format!("{SECRETS}/child")));
}

#[test]
fn a_collection_delete_collects_every_members_dependents_once() {
    let s = server();
    let a = configmap(&s, "a", &[]);
    let b = configmap(&s, "b", &[]);
    secret(&s, "of-a", &[&a]);
    secret(&s, "of-both", &[&a, &b]);
    let (status, body) = delete_with(&s, CMS, None);
    assert_eq!(status, 200, "{body}");
    assert!(!exists(&s, &format!("{SECRETS}/of-a")));
    assert!(!exists(&s, &format!("{SECRETS}/of-both")));
}

#[test]
fn a_cluster_scoped_owner_takes_namespaced_dependents_across_namespaces() {
    let s = server();
    let role = s.admin(
        Method::POST,
        "/apis/rbac.authorization.k8s.io/v1/clusterroles",
        Some(json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "owner-role"}, "rules": []})),
        201,
    );
    let binding = |ns: &str| {
        json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
            "metadata": {"name": "b", "namespace": ns, "ownerReferences": [owner_reference(&role)]},
            "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "owner-role"},
            "subjects": [{"kind": "User", "name": "alice", "apiGroup": "rbac.authorization.k8s.io"}]})
    };
    for ns in ["default", "kube-public"] {
        s.admin(
            Method::POST,
            &format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings"),
            Some(binding(ns)),
            201,
        );
    }
    s.admin(Method::DELETE, "/apis/rbac.authorization.k8s.io/v1/clusterroles/owner-role", None, 200);
    for ns in ["default", "kube-public"] {
        assert!(!exists(&s, &format!("/apis/rbac.authorization.k8s.io/v1/namespaces/{ns}/rolebindings/b")), "{ns}");
    }
}

fn review(s: &Server, token: &str) -> Value {
    let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
    s.admin(Method::POST, "/apis/authentication.k8s.io/v1/tokenreviews", Some(body), 201)["status"].clone()
}

fn token_request(s: &Server, ns: &str, sa: &str, bound: Option<Value>) -> String {
    let mut spec = json!({"audiences": [], "expirationSeconds": 3600});
    if let Some(b) = bound {
        spec["boundObjectRef"] = b;
    }
    let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec});
    let r = s.admin(Method::POST, &format!("/api/v1/namespaces/{ns}/serviceaccounts/{sa}/token"), Some(body), 201);
    r["status"]["token"].as_str().unwrap().to_owned()
}

#[test]
fn a_token_bound_to_a_collected_secret_is_invalidated() {
    let s = server();
    let owner = configmap(&s, "owner", &[]);
    let bound = secret(&s, "bound", &[&owner]);
    let token = token_request(
        &s,
        "default",
        "default",
        Some(json!({"kind": "Secret", "apiVersion": "v1", "name": "bound", "uid": bound["metadata"]["uid"]})),
    );
    assert_eq!(review(&s, &token)["authenticated"], true);
    delete_with(&s, &format!("{CMS}/owner"), None);
    let status = review(&s, &token);
    assert_ne!(status["authenticated"], true, "omitted when false, as kube-apiserver omits it");
    assert!(status["error"].as_str().unwrap().contains("service account token has been invalidated"), "{status}");
}

#[test]
fn tokens_into_a_deleted_namespace_are_refused_with_kube_apiservers_texts() {
    let s = server();
    s.admin(
        Method::POST,
        "/api/v1/namespaces",
        Some(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})),
        201,
    );
    s.admin(
        Method::POST,
        "/api/v1/namespaces/team/serviceaccounts",
        Some(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "builder"}})),
        201,
    );
    let bound = token_request(&s, "team", "builder", None);
    let legacy = s.admin(
        Method::POST,
        "/api/v1/namespaces/team/secrets",
        Some(json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
            "metadata": {"name": "builder-token", "annotations": {"kubernetes.io/service-account.name": "builder"}}})),
        201,
    );
    let legacy = {
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD.decode(legacy["data"]["token"].as_str().unwrap()).unwrap();
        String::from_utf8(b).unwrap()
    };
    assert_eq!(review(&s, &bound)["authenticated"], true);
    assert_eq!(review(&s, &legacy)["authenticated"], true);
    s.admin(Method::DELETE, "/api/v1/namespaces/team", None, 200);
    let bound = review(&s, &bound);
    assert!(bound["error"].as_str().unwrap().contains("serviceaccounts \"builder\" not found"), "{bound}");
    let legacy = review(&s, &legacy);
    assert!(legacy["error"].as_str().unwrap().contains("Token has been invalidated"), "{legacy}");
}

#[test]
fn an_owner_kauth_cannot_look_up_counts_as_living() {
    let s = server();
    let cm = configmap(&s, "owner", &[]);
    // A custom resource: kauth serves no CRDs, so it cannot tell whether this owner exists.
    let deployment =
        json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "web", "uid": "d-1"}});
    secret(&s, "both", &[&cm, &deployment]);
    delete_with(&s, &format!("{CMS}/owner"), None);
    let kept = s.admin(Method::GET, &format!("{SECRETS}/both"), None, 200);
    assert_eq!(kept["metadata"]["ownerReferences"], json!([owner_reference(&deployment)]));
}

#[test]
fn what_a_collected_objects_cascade_deletes_is_collected_too() {
    let s = server();
    let owner = configmap(&s, "owner", &[]);
    let sa = s.admin(
        Method::POST,
        "/api/v1/namespaces/default/serviceaccounts",
        Some(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "bot", "ownerReferences": [owner_reference(&owner)]}})),
        201,
    );
    let token_secret = s.admin(
        Method::POST,
        SECRETS,
        Some(json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
            "metadata": {"name": "bot-token", "annotations": {"kubernetes.io/service-account.name": "bot"}}})),
        201,
    );
    // Owned by the token Secret, which only the ServiceAccount's cascade deletes.
    configmap(&s, "of-token", &[&token_secret]);
    delete_with(&s, &format!("{CMS}/owner"), None);
    assert!(!exists(&s, "/api/v1/namespaces/default/serviceaccounts/bot"));
    assert!(!exists(&s, &format!("{SECRETS}/bot-token")));
    assert!(!exists(&s, &format!("{CMS}/of-token")));
    let _ = sa;
}
