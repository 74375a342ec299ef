//! The request pipeline in process, without TLS, HTTP or kubectl: a state prepared in a temporary
//! data directory with a fake clock, requests handed to `pipeline::handle`, answers checked as
//! Kubernetes clients read them.

#![allow(clippy::unwrap_used)] // a test: a failed step is the failure to report

use std::sync::{Arc, Mutex};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use kauth_server::api::request::Request;
use kauth_server::bootstrap::prepare;
use kauth_server::{pipeline, Options};
use serde_json::{json, Value};
use time::OffsetDateTime;

struct Server {
    state: Arc<kauth_server::state::State>,
    clock: Arc<Mutex<OffsetDateTime>>,
    _dir: tempfile::TempDir,
}

fn server() -> Server {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "admin-token,admin,u-admin,\"system:masters\"\nalice-token,alice,u-alice,\"dev\"\n")
        .unwrap();
    let options = Options {
        data_dir: dir.path().join("data"),
        secure_port: 0,
        token_auth_file: Some(tokens),
        ..Options::default()
    };
    let clock = Arc::new(Mutex::new(OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()));
    let c = clock.clone();
    let prepared = prepare(&options, Arc::new(move || *c.lock().unwrap())).unwrap();
    Server { state: prepared.state, clock, _dir: dir }
}

fn request(method: Method, path: &str, token: Option<&str>, body: Option<Value>) -> Request {
    let mut headers = HeaderMap::new();
    if let Some(t) = token {
        headers.insert(http::header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {t}")).unwrap());
    }
    Request {
        method,
        path: path.into(),
        query: Vec::new(),
        headers,
        body: body.map(|b| Bytes::from(serde_json::to_vec(&b).unwrap())).unwrap_or_default(),
        peer: None,
        source_ip: "127.0.0.1".into(),
    }
}

fn json_of(r: &kauth_server::api::response::Response) -> Value {
    serde_json::from_slice(&r.body).unwrap()
}

#[test]
fn a_bad_credential_gets_the_plain_401_never_anonymous() {
    let s = server();
    for token in ["not-a-known-token", "a.b.c"] {
        let r = pipeline::handle(&s.state, &request(Method::GET, "/api/v1/namespaces", Some(token), None));
        assert_eq!(r.status, 401, "{token}");
        let status = json_of(&r);
        assert_eq!(status["reason"], "Unauthorized");
        assert_eq!(status["message"], "Unauthorized");
    }
    // No credential at all is anonymous, whom RBAC does not let list namespaces.
    let r = pipeline::handle(&s.state, &request(Method::GET, "/api/v1/namespaces", None, None));
    assert_eq!(r.status, 403);
    assert_eq!(
        json_of(&r)["message"],
        "namespaces is forbidden: User \"system:anonymous\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
    );
}

#[test]
fn rbac_decides_and_system_masters_may_do_anything() {
    let s = server();
    let r = pipeline::handle(&s.state, &request(Method::GET, "/api/v1/namespaces", Some("admin-token"), None));
    assert_eq!(r.status, 200);
    assert!(json_of(&r)["items"].as_array().unwrap().iter().any(|n| n["metadata"]["name"] == "kube-system"));
    let r = pipeline::handle(
        &s.state,
        &request(Method::GET, "/api/v1/namespaces/default/secrets", Some("alice-token"), None),
    );
    assert_eq!(r.status, 403);
    assert_eq!(json_of(&r)["details"]["kind"], "secrets");
}

#[test]
fn access_reviews_refuse_both_kinds_of_attributes_and_answer_with_rbac_reasons() {
    let s = server();
    let sar = |spec: Value| {
        request(
            Method::POST,
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            Some("admin-token"),
            Some(json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec})),
        )
    };
    let both = pipeline::handle(
        &s.state,
        &sar(json!({"user": "alice", "resourceAttributes": {"verb": "get", "resource": "pods"},
                    "nonResourceAttributes": {"verb": "get", "path": "/metrics"}})),
    );
    assert_eq!(both.status, 422);
    assert_eq!(json_of(&both)["details"]["causes"][0]["field"], "spec.nonResourceAttributes");
    let neither = pipeline::handle(&s.state, &sar(json!({"user": "alice"})));
    assert_eq!(neither.status, 422);
    let allowed = pipeline::handle(
        &s.state,
        &sar(
            json!({"user": "admin", "groups": ["system:masters"], "resourceAttributes": {"verb": "get", "resource": "pods"}}),
        ),
    );
    assert_eq!(allowed.status, 201);
    assert_eq!(json_of(&allowed)["status"]["allowed"], true);
    let discovery = pipeline::handle(
        &s.state,
        &sar(
            json!({"user": "alice", "groups": ["system:authenticated"], "nonResourceAttributes": {"verb": "get", "path": "/version"}}),
        ),
    );
    let status = &json_of(&discovery)["status"];
    assert_eq!(status["allowed"], true);
    assert!(status["reason"].as_str().unwrap().starts_with("RBAC: allowed by ClusterRoleBinding"), "{status}");
}

#[test]
fn token_review_reports_the_precise_reason_and_time_comes_from_the_fake_clock() {
    let s = server();
    let issue = pipeline::handle(
        &s.state,
        &request(
            Method::POST,
            "/api/v1/namespaces/default/serviceaccounts/default/token",
            Some("admin-token"),
            Some(
                json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}}),
            ),
        ),
    );
    assert_eq!(issue.status, 201);
    let issued = json_of(&issue);
    let token = issued["status"]["token"].as_str().unwrap().to_owned();
    let review = |s: &Server| {
        json_of(&pipeline::handle(
            &s.state,
            &request(
                Method::POST,
                "/apis/authentication.k8s.io/v1/tokenreviews",
                Some("admin-token"),
                Some(
                    json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}),
                ),
            ),
        ))
    };
    let ok = review(&s);
    assert_eq!(ok["status"]["authenticated"], true);
    assert_eq!(ok["status"]["user"]["username"], "system:serviceaccount:default:default");
    // At exp + the 60 s leeway it is still valid; a second later, by the fake clock, it is not.
    *s.clock.lock().unwrap() += time::Duration::seconds(660);
    s.state.tokens.invalidate();
    assert_eq!(review(&s)["status"]["authenticated"], true);
    *s.clock.lock().unwrap() += time::Duration::seconds(1);
    s.state.tokens.invalidate();
    let expired = review(&s);
    assert_eq!(expired["status"].get("authenticated"), None);
    let error = expired["status"]["error"].as_str().unwrap();
    assert!(error.contains("expired"), "{error}");
}
