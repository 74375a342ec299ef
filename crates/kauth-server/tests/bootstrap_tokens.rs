//! Bootstrap tokens end to end in one server (`--enable-bootstrap-token-auth`): a token Secret
//! made as kubeadm makes it authenticates as `system:bootstrap:<id>`; the bootstrap signer keeps
//! `kube-public/cluster-info` signed by it (readable without credentials, as `kubeadm join`
//! reads it); the token cleaner deletes it once expired, and its signature goes with it. Time
//! moves only with the fake clock; the cleaner's pass is called as its timer would.
#![allow(clippy::unwrap_used)]

mod common;

use common::{server_with, FakeClock, Server, START};
use http::Method;
use kauth::authn::bootstrap_token::kubeadm::TokenSpec;
use kauth::authn::bootstrap_token::signature;
use kauth_server::controllers::token_cleaner::clean;
use serde_json::{json, Value};

const TOKEN: &str = "abcdef.0123456789abcdef";
const CLUSTER_INFO: &str = "/api/v1/namespaces/kube-public/configmaps/cluster-info";
const SECRETS: &str = "/api/v1/namespaces/kube-system/secrets";

fn bootstrap_server() -> Server {
    server_with(FakeClock::at(START), |o| o.enable_bootstrap_token_auth = true)
}

/// Creates the token's Secret as `kauth token bootstrap create` does, valid for `ttl_hours`.
fn create_token(s: &Server, token: &str, edit: impl FnOnce(&mut TokenSpec)) {
    let mut spec = TokenSpec::new(Some(token)).unwrap();
    edit(&mut spec);
    let secret = spec.to_secret(s.clock.now()).unwrap();
    s.admin(Method::POST, SECRETS, Some(serde_json::to_value(secret).unwrap()), 201);
}

/// cluster-info as anyone reads it: no credentials.
fn cluster_info(s: &Server) -> Value {
    let r = s.send(Method::GET, CLUSTER_INFO, None, None);
    assert_eq!(r.status, 200, "{}", String::from_utf8_lossy(&r.body));
    serde_json::from_slice(&r.body).unwrap()
}

fn signatures(cm: &Value) -> Vec<String> {
    cm["data"].as_object().unwrap().keys().filter(|k| k.starts_with("jws-kubeconfig-")).cloned().collect()
}

fn whoami(s: &Server, token: &str) -> (u16, Value) {
    let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let r = s.send(Method::POST, "/apis/authentication.k8s.io/v1/selfsubjectreviews", Some(body), Some(token));
    (r.status, serde_json::from_slice(&r.body).unwrap_or(Value::Null))
}

#[test]
fn cluster_info_is_published_unsigned_until_a_token_may_sign() {
    let s = bootstrap_server();
    let cm = cluster_info(&s);
    let kubeconfig = cm["data"]["kubeconfig"].as_str().unwrap();
    let parsed = kauth::pki::kubeconfig::Kubeconfig::parse("cluster-info", kubeconfig.as_bytes()).unwrap();
    assert_eq!(parsed.clusters[0].cluster.server, format!("https://{}", s.state.config.advertise));
    assert!(signatures(&cm).is_empty());
}

#[test]
fn a_new_token_signs_cluster_info_before_the_create_returns() {
    let s = bootstrap_server();
    create_token(&s, TOKEN, |_| {});
    let cm = cluster_info(&s);
    assert_eq!(signatures(&cm), ["jws-kubeconfig-abcdef"]);
    let content = cm["data"]["kubeconfig"].as_str().unwrap();
    let sig = cm["data"]["jws-kubeconfig-abcdef"].as_str().unwrap();
    assert!(signature::verify(sig, content, "abcdef", "0123456789abcdef"));
    // A token only for authentication does not sign; deleting the signer takes its signature.
    create_token(&s, "ghijkl.0123456789abcdef", |t| t.usages = vec!["authentication".into()]);
    assert_eq!(signatures(&cluster_info(&s)), ["jws-kubeconfig-abcdef"]);
    s.admin(Method::DELETE, &format!("{SECRETS}/bootstrap-token-abcdef"), None, 200);
    assert!(signatures(&cluster_info(&s)).is_empty());
}

#[test]
fn a_changed_kubeconfig_is_signed_again() {
    let s = bootstrap_server();
    create_token(&s, TOKEN, |_| {});
    let mut cm = cluster_info(&s);
    cm["data"]["kubeconfig"] = json!("apiVersion: v1\nkind: Config\n");
    cm["data"]["jws-kubeconfig-zzzzzz"] = json!("forged");
    s.admin(Method::PUT, CLUSTER_INFO, Some(cm), 200);
    let cm = cluster_info(&s);
    assert_eq!(signatures(&cm), ["jws-kubeconfig-abcdef"], "the forged signature is removed");
    let sig = cm["data"]["jws-kubeconfig-abcdef"].as_str().unwrap();
    assert!(signature::verify(sig, "apiVersion: v1\nkind: Config\n", "abcdef", "0123456789abcdef"));
}

#[test]
fn the_token_authenticates_as_its_bootstrap_user() {
    let s = bootstrap_server();
    create_token(&s, TOKEN, |_| {});
    let (status, review) = whoami(&s, TOKEN);
    assert_eq!(status, 201, "{review}");
    let user = &review["status"]["userInfo"];
    assert_eq!(user["username"], "system:bootstrap:abcdef");
    assert_eq!(
        user["groups"],
        json!(["system:bootstrappers", "system:bootstrappers:kubeadm:default-node-token", "system:authenticated"])
    );
    // kubeadm's RBAC lets that group post CSRs and read Nodes, nothing more.
    let can = |verb: &str, resource: &str, group: &str| {
        let body = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": verb, "resource": resource, "group": group}}});
        let r = s.send(Method::POST, "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews", Some(body), Some(TOKEN));
        serde_json::from_slice::<Value>(&r.body).unwrap()["status"]["allowed"] == json!(true)
    };
    assert!(can("create", "certificatesigningrequests", "certificates.k8s.io"));
    assert!(can("get", "nodes", ""));
    assert!(!can("list", "secrets", ""));
    // A wrong secret is the plain 401.
    assert_eq!(whoami(&s, "abcdef.0123456789abcdeg").0, 401);
}

#[test]
fn an_expired_token_is_refused_then_cleaned_and_unsigned() {
    let s = bootstrap_server();
    create_token(&s, TOKEN, |t| t.ttl = Some(time::Duration::hours(1)));
    create_token(&s, "ghijkl.0123456789abcdef", |t| t.ttl = None);
    assert!(clean(&s.state).unwrap().is_empty(), "nothing has expired yet");
    s.clock.advance(3600);
    // Refused from the second it expires, whether or not the cleaner has run.
    assert_eq!(whoami(&s, TOKEN).0, 401);
    assert_eq!(clean(&s.state).unwrap(), ["bootstrap-token-abcdef"]);
    let r = s.send(Method::GET, &format!("{SECRETS}/bootstrap-token-abcdef"), None, Some(common::ADMIN));
    assert_eq!(r.status, 404);
    assert_eq!(signatures(&cluster_info(&s)), ["jws-kubeconfig-ghijkl"], "the token without expiry stays");
    assert!(clean(&s.state).unwrap().is_empty());
}

#[test]
fn without_bootstrap_tokens_nothing_is_signed_or_cleaned() {
    let s = server_with(FakeClock::at(START), |_| {});
    assert_eq!(s.send(Method::GET, CLUSTER_INFO, None, Some(common::ADMIN)).status, 404);
    create_token(&s, TOKEN, |t| t.ttl = Some(time::Duration::hours(1)));
    assert_eq!(whoami(&s, TOKEN).0, 401);
    s.clock.advance(7200);
    assert!(clean(&s.state).unwrap().is_empty());
}

#[test]
fn a_restart_on_another_address_rewrites_and_resigns_cluster_info() {
    let s = bootstrap_server();
    create_token(&s, TOKEN, |_| {});
    let before = cluster_info(&s);
    let mut s = s;
    s.options.secure_port += 1;
    let s = s.restart();
    let after = cluster_info(&s);
    assert_ne!(before["data"]["kubeconfig"], after["data"]["kubeconfig"]);
    let sig = after["data"]["jws-kubeconfig-abcdef"].as_str().unwrap();
    assert!(signature::verify(sig, after["data"]["kubeconfig"].as_str().unwrap(), "abcdef", "0123456789abcdef"));
}

#[test]
fn a_refused_bootstrap_token_is_explained_by_its_own_authenticator() {
    let s = bootstrap_server();
    let review = |token: &str| {
        let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
        let r = s.admin(Method::POST, "/apis/authentication.k8s.io/v1/tokenreviews", Some(body), 201);
        r["status"]["error"].as_str().unwrap_or_default().to_owned()
    };
    // Not a malformed JWT: a bootstrap token whose Secret does not exist.
    assert_eq!(
        review(TOKEN),
        "invalid bearer token; kauth: bootstrap-token: no Secret kube-system/bootstrap-token-abcdef \
         (never created, deleted, or removed by the token cleaner once expired)"
    );
    create_token(&s, TOKEN, |t| t.ttl = Some(time::Duration::hours(1)));
    assert!(review("abcdef.0123456789abcdeg").starts_with("invalid bearer token; kauth: bootstrap-token: "));
    s.clock.advance(3601);
    let expired = review(TOKEN);
    assert!(expired.starts_with("invalid bearer token; kauth: bootstrap-token: "), "{expired}");
    assert!(expired.contains("expired"), "{expired}");
}

#[test]
fn a_token_collected_with_its_owner_takes_its_signature_along() {
    let s = bootstrap_server();
    let owner = s.admin(
        Method::POST,
        "/api/v1/namespaces/kube-system/configmaps",
        Some(json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "owner"}})),
        201,
    );
    let mut secret =
        serde_json::to_value(TokenSpec::new(Some(TOKEN)).unwrap().to_secret(s.clock.now()).unwrap()).unwrap();
    secret["metadata"]["ownerReferences"] =
        json!([kauth_server::controllers::garbage_collector::owner_reference(&owner)]);
    s.admin(Method::POST, SECRETS, Some(secret), 201);
    assert_eq!(signatures(&cluster_info(&s)), ["jws-kubeconfig-abcdef"]);
    s.admin(Method::DELETE, "/api/v1/namespaces/kube-system/configmaps/owner", None, 200);
    assert!(signatures(&cluster_info(&s)).is_empty());
}
