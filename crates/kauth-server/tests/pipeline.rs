//! The request pipeline in process, without TLS, HTTP or kubectl: a state prepared in a temporary
//! data directory with a fake clock, requests handed to `pipeline::handle` (the whole stack of
//! filters), answers checked as Kubernetes clients read them.

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
    server_with(|_| {})
}

/// A server whose options `adjust` changes (a temporary directory holds what they name).
fn server_with(adjust: impl FnOnce(&mut Options)) -> Server {
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "admin-token,admin,u-admin,\"system:masters\"\nalice-token,alice,u-alice,\"dev\"\n")
        .unwrap();
    let mut options = Options {
        data_dir: dir.path().join("data"),
        secure_port: 0,
        token_auth_file: Some(tokens),
        ..Options::default()
    };
    adjust(&mut options);
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

fn impersonating(mut r: Request, user: &str) -> Request {
    r.headers.insert("impersonate-user", HeaderValue::from_str(user).unwrap());
    r
}

#[tokio::test]
async fn a_bad_credential_gets_the_plain_401_never_anonymous() {
    let s = server();
    for token in ["not-a-known-token", "a.b.c"] {
        let r = pipeline::handle(&s.state, request(Method::GET, "/api/v1/namespaces", Some(token), None)).await;
        assert_eq!(r.status, 401, "{token}");
        let status = json_of(&r);
        assert_eq!(status["reason"], "Unauthorized");
        assert_eq!(status["message"], "Unauthorized");
    }
    // No credential at all is anonymous, whom RBAC does not let list namespaces.
    let r = pipeline::handle(&s.state, request(Method::GET, "/api/v1/namespaces", None, None)).await;
    assert_eq!(r.status, 403);
    assert_eq!(
        json_of(&r)["message"],
        "namespaces is forbidden: User \"system:anonymous\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
    );
}

#[tokio::test]
async fn rbac_decides_and_system_masters_may_do_anything() {
    let s = server();
    let r = pipeline::handle(&s.state, request(Method::GET, "/api/v1/namespaces", Some("admin-token"), None)).await;
    assert_eq!(r.status, 200);
    assert!(json_of(&r)["items"].as_array().unwrap().iter().any(|n| n["metadata"]["name"] == "kube-system"));
    let r = pipeline::handle(
        &s.state,
        request(Method::GET, "/api/v1/namespaces/default/secrets", Some("alice-token"), None),
    )
    .await;
    assert_eq!(r.status, 403);
    assert_eq!(json_of(&r)["details"]["kind"], "secrets");
}

#[tokio::test]
async fn access_reviews_refuse_both_kinds_of_attributes_and_answer_with_rbac_reasons() {
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
        sar(json!({"user": "alice", "resourceAttributes": {"verb": "get", "resource": "pods"},
                    "nonResourceAttributes": {"verb": "get", "path": "/metrics"}})),
    )
    .await;
    assert_eq!(both.status, 422);
    assert_eq!(json_of(&both)["details"]["causes"][0]["field"], "spec.nonResourceAttributes");
    let neither = pipeline::handle(&s.state, sar(json!({"user": "alice"}))).await;
    assert_eq!(neither.status, 422);
    let allowed = pipeline::handle(
        &s.state,
        sar(
            json!({"user": "admin", "groups": ["system:masters"], "resourceAttributes": {"verb": "get", "resource": "pods"}}),
        ),
    ).await;
    assert_eq!(allowed.status, 201);
    assert_eq!(json_of(&allowed)["status"]["allowed"], true);
    let discovery = pipeline::handle(
        &s.state,
        sar(
            json!({"user": "alice", "groups": ["system:authenticated"], "nonResourceAttributes": {"verb": "get", "path": "/version"}}),
        ),
    ).await;
    let status = &json_of(&discovery)["status"];
    assert_eq!(status["allowed"], true);
    assert!(status["reason"].as_str().unwrap().starts_with("RBAC: allowed by ClusterRoleBinding"), "{status}");
}

#[tokio::test]
async fn token_review_reports_the_precise_reason_and_time_comes_from_the_fake_clock() {
    let s = server();
    let issue = pipeline::handle(
        &s.state,
        request(
            Method::POST,
            "/api/v1/namespaces/default/serviceaccounts/default/token",
            Some("admin-token"),
            Some(
                json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}}),
            ),
        ),
    ).await;
    assert_eq!(issue.status, 201);
    let issued = json_of(&issue);
    let token = issued["status"]["token"].as_str().unwrap().to_owned();
    let review = async |s: &Server| {
        json_of(
            &pipeline::handle(
                &s.state,
                request(
                    Method::POST,
                    "/apis/authentication.k8s.io/v1/tokenreviews",
                    Some("admin-token"),
                    Some(
                        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}}),
                    ),
                ),
            )
            .await,
        )
    };
    let ok = review(&s).await;
    assert_eq!(ok["status"]["authenticated"], true);
    assert_eq!(ok["status"]["user"]["username"], "system:serviceaccount:default:default");
    // At exp + the 60 s leeway it is still valid; a second later, by the fake clock, it is not.
    *s.clock.lock().unwrap() += time::Duration::seconds(660);
    s.state.tokens.invalidate();
    assert_eq!(review(&s).await["status"]["authenticated"], true);
    *s.clock.lock().unwrap() += time::Duration::seconds(1);
    s.state.tokens.invalidate();
    let expired = review(&s).await;
    assert_eq!(expired["status"].get("authenticated"), None);
    let error = expired["status"]["error"].as_str().unwrap();
    assert!(error.contains("expired"), "{error}");
}

#[tokio::test]
async fn impersonation_needs_the_impersonate_verb_and_then_acts_as_the_user() {
    let s = server();
    let refused = pipeline::handle(
        &s.state,
        impersonating(request(Method::GET, "/api/v1/namespaces", Some("alice-token"), None), "admin"),
    )
    .await;
    assert_eq!(refused.status, 403);
    assert_eq!(
        json_of(&refused)["message"],
        "users \"admin\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
    );
    // system:masters may impersonate; the request is then alice's, whom RBAC refuses.
    let r = pipeline::handle(
        &s.state,
        impersonating(request(Method::GET, "/api/v1/namespaces", Some("admin-token"), None), "alice"),
    )
    .await;
    assert_eq!(r.status, 403);
    assert!(json_of(&r)["message"].as_str().unwrap().contains("User \"alice\" cannot list"), "{}", json_of(&r));
}

#[tokio::test]
async fn the_audit_filter_records_what_every_filter_learnt_whoever_answered() {
    let audit = tempfile::NamedTempFile::new().unwrap();
    let s = server_with(|o| o.audit_log_path = Some(audit.path().to_owned()));
    let statuses = [
        pipeline::handle(&s.state, request(Method::GET, "/api/v1/namespaces", Some("not-a-known-token"), None)).await,
        pipeline::handle(
            &s.state,
            request(Method::GET, "/api/v1/namespaces/default/secrets", Some("alice-token"), None),
        )
        .await,
        pipeline::handle(
            &s.state,
            impersonating(request(Method::GET, "/api/v1/namespaces/default/secrets", Some("alice-token"), None), "bob"),
        )
        .await,
        // A write to the store: run on the blocking pool, recorded all the same.
        pipeline::handle(
            &s.state,
            request(
                Method::POST,
                "/api/v1/namespaces",
                Some("admin-token"),
                Some(json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})),
            ),
        )
        .await,
        pipeline::handle(
            &s.state,
            impersonating(request(Method::GET, "/api/v1/namespaces/team", Some("admin-token"), None), "alice"),
        )
        .await,
    ]
    .map(|r| r.status);
    assert_eq!(statuses, [401, 403, 403, 201, 403]);
    let events: Vec<Value> =
        std::fs::read_to_string(audit.path()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    assert_eq!(events.len(), 5);
    let codes: Vec<&Value> = events.iter().map(|e| &e["responseStatus"]["code"]).collect();
    assert_eq!(codes, [401, 403, 403, 201, 403]);

    let unauthenticated = &events[0];
    assert_eq!(unauthenticated["user"], json!({}));
    assert!(unauthenticated["annotations"]["authentication.kauth.dev/failure"].is_string(), "{unauthenticated}");
    assert_eq!(unauthenticated["annotations"].get("authorization.k8s.io/decision"), None);

    let forbidden = &events[1];
    assert_eq!(forbidden["user"]["username"], "alice");
    assert_eq!(forbidden["verb"], "list");
    assert_eq!(forbidden["objectRef"], json!({"resource": "secrets", "apiVersion": "v1", "namespace": "default"}));
    assert_eq!(forbidden["annotations"]["authorization.k8s.io/decision"], "forbid");
    assert!(forbidden["annotations"]["authorization.kauth.dev/explanation"].is_string(), "{forbidden}");

    // Refused by the impersonation filter: the real user, no decision on the request itself.
    let impersonation_refused = &events[2];
    assert_eq!(impersonation_refused["user"]["username"], "alice");
    assert_eq!(impersonation_refused.get("impersonatedUser"), None);
    assert_eq!(impersonation_refused["annotations"].get("authorization.k8s.io/decision"), None);

    let created = &events[3];
    assert_eq!((&created["verb"], &created["objectRef"]["resource"]), (&json!("create"), &json!("namespaces")));
    assert_eq!(created["annotations"]["authorization.k8s.io/decision"], "allow");

    let impersonated = &events[4];
    assert_eq!(impersonated["user"]["username"], "admin");
    assert_eq!(impersonated["impersonatedUser"]["username"], "alice");
    assert_eq!(impersonated["objectRef"]["name"], "team");
}
