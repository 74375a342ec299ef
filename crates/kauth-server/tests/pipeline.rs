//! The request pipeline in process, without TLS, HTTP or kubectl: a state prepared in a temporary
//! data directory with a fake clock (`common`), requests handed to the pipeline (the whole stack
//! of filters), answers checked as Kubernetes clients read them.

#![allow(clippy::unwrap_used)] // a test: a failed step is the failure to report

mod common;

use common::{handle, json_of, request, send, server, server_with, FakeClock, ADMIN, ALICE, START};
use http::{HeaderValue, Method};
use kauth_server::api::request::Request;
use serde_json::{json, Value};

/// `r` asking to act as `user` (`Impersonate-User`).
fn impersonating(mut r: Request, user: &str) -> Request {
    r.headers.insert("impersonate-user", HeaderValue::from_str(user).unwrap());
    r
}

#[test]
fn a_bad_credential_gets_the_plain_401_never_anonymous() {
    let s = server();
    for token in ["not-a-known-token", "a.b.c"] {
        let r = s.send(Method::GET, "/api/v1/namespaces", None, Some(token));
        assert_eq!(r.status, 401, "{token}");
        let status = json_of(&r);
        assert_eq!(status["reason"], "Unauthorized");
        assert_eq!(status["message"], "Unauthorized");
    }
    // No credential at all is anonymous, whom RBAC does not let list namespaces.
    let r = s.send(Method::GET, "/api/v1/namespaces", None, None);
    assert_eq!(r.status, 403);
    assert_eq!(
        json_of(&r)["message"],
        "namespaces is forbidden: User \"system:anonymous\" cannot list resource \"namespaces\" in API group \"\" at the cluster scope"
    );
}

#[test]
fn a_connections_remembered_token_key_still_sees_the_service_account_deleted() {
    let s = server();
    s.admin(
        Method::POST,
        "/api/v1/namespaces/default/serviceaccounts",
        Some(json!({"metadata": {"name": "app"}})),
        201,
    );
    let issued = s.admin(
        Method::POST,
        "/api/v1/namespaces/default/serviceaccounts/app/token",
        Some(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})),
        201,
    );
    let token = issued["status"]["token"].as_str().unwrap().to_owned();
    // One keep-alive connection: its requests share a memo.
    let connection = std::sync::Arc::new(kauth::authn::token_key_memo::TokenKeyMemo::new());
    let on_connection = |method: Method, path: &str| {
        let mut r = request(method, path, None, Some(&token));
        r.token_key = Some(connection.clone());
        handle(&s.state, r)
    };
    let path = "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews";
    let review = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
        "spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}});
    let ask = || {
        let mut r = request(Method::POST, path, Some(&review), Some(&token));
        r.token_key = Some(connection.clone());
        handle(&s.state, r)
    };
    for _ in 0..3 {
        assert_eq!(ask().status, 201, "the token is accepted, its key remembered after the first");
    }
    assert_eq!(on_connection(Method::GET, "/api/v1/namespaces/default/pods").status, 403);
    s.admin(Method::DELETE, "/api/v1/namespaces/default/serviceaccounts/app", None, 200);
    let refused = ask();
    assert_eq!(refused.status, 401, "the same connection, the same token: refused at once");
    assert_eq!(json_of(&refused)["message"], "Unauthorized");
}

#[test]
fn rbac_decides_and_system_masters_may_do_anything() {
    let s = server();
    let r = s.send(Method::GET, "/api/v1/namespaces", None, Some(ADMIN));
    assert_eq!(r.status, 200);
    assert!(json_of(&r)["items"].as_array().unwrap().iter().any(|n| n["metadata"]["name"] == "kube-system"));
    let r = s.send(Method::GET, "/api/v1/namespaces/default/secrets", None, Some(ALICE));
    assert_eq!(r.status, 403);
    assert_eq!(json_of(&r)["details"]["kind"], "secrets");
}

#[test]
fn access_reviews_refuse_both_kinds_of_attributes_and_answer_with_rbac_reasons() {
    let s = server();
    let sar = |spec: Value| {
        s.send(
            Method::POST,
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            Some(json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": spec})),
            Some(ADMIN),
        )
    };
    let both = sar(json!({"user": "alice", "resourceAttributes": {"verb": "get", "resource": "pods"},
                          "nonResourceAttributes": {"verb": "get", "path": "/metrics"}}));
    assert_eq!(both.status, 422);
    assert_eq!(json_of(&both)["details"]["causes"][0]["field"], "spec.nonResourceAttributes");
    let neither = sar(json!({"user": "alice"}));
    assert_eq!(neither.status, 422);
    let allowed = sar(
        json!({"user": "admin", "groups": ["system:masters"], "resourceAttributes": {"verb": "get", "resource": "pods"}}),
    );
    assert_eq!(allowed.status, 201);
    assert_eq!(json_of(&allowed)["status"]["allowed"], true);
    let discovery = sar(
        json!({"user": "alice", "groups": ["system:authenticated"], "nonResourceAttributes": {"verb": "get", "path": "/version"}}),
    );
    let status = &json_of(&discovery)["status"];
    assert_eq!(status["allowed"], true);
    assert!(status["reason"].as_str().unwrap().starts_with("RBAC: allowed by ClusterRoleBinding"), "{status}");
}

#[test]
fn token_review_reports_the_precise_reason_and_time_comes_from_the_fake_clock() {
    let s = server();
    let issue = s.send(
        Method::POST,
        "/api/v1/namespaces/default/serviceaccounts/default/token",
        Some(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": 600}})),
        Some(ADMIN),
    );
    assert_eq!(issue.status, 201);
    let issued = json_of(&issue);
    let token = issued["status"]["token"].as_str().unwrap().to_owned();
    let review = || {
        json_of(&send(
            &s.state,
            Method::POST,
            "/apis/authentication.k8s.io/v1/tokenreviews",
            Some(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}})),
            Some(ADMIN),
        ))
    };
    let ok = review();
    assert_eq!(ok["status"]["authenticated"], true);
    assert_eq!(ok["status"]["user"]["username"], "system:serviceaccount:default:default");
    // At exp + the 60 s leeway it is still valid; a second later, by the fake clock, it is not.
    s.clock.advance(660);
    s.state.tokens.invalidate();
    assert_eq!(review()["status"]["authenticated"], true);
    s.clock.advance(1);
    s.state.tokens.invalidate();
    let expired = review();
    assert_eq!(expired["status"].get("authenticated"), None);
    let error = expired["status"]["error"].as_str().unwrap();
    assert!(error.contains("expired"), "{error}");
}

#[test]
fn impersonation_needs_the_impersonate_verb_and_then_acts_as_the_user() {
    let s = server();
    let refused =
        handle(&s.state, impersonating(request(Method::GET, "/api/v1/namespaces", None, Some(ALICE)), "admin"));
    assert_eq!(refused.status, 403);
    assert_eq!(
        json_of(&refused)["message"],
        "users \"admin\" is forbidden: User \"alice\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"
    );
    // system:masters may impersonate; the request is then alice's, whom RBAC refuses.
    let r = handle(&s.state, impersonating(request(Method::GET, "/api/v1/namespaces", None, Some(ADMIN)), "alice"));
    assert_eq!(r.status, 403);
    assert!(json_of(&r)["message"].as_str().unwrap().contains("User \"alice\" cannot list"), "{}", json_of(&r));
}

#[test]
fn the_audit_filter_records_what_every_filter_learnt_whoever_answered() {
    let audit = tempfile::NamedTempFile::new().unwrap();
    let s = server_with(FakeClock::at(START), |o| o.audit_log_path = Some(audit.path().to_owned()));
    let get = |path: &str, token: &str| request(Method::GET, path, None, Some(token));
    let statuses = [
        handle(&s.state, get("/api/v1/namespaces", "not-a-known-token")),
        handle(&s.state, get("/api/v1/namespaces/default/secrets", ALICE)),
        handle(&s.state, impersonating(get("/api/v1/namespaces/default/secrets", ALICE), "bob")),
        // A write to the store: run on the blocking pool, recorded all the same.
        handle(
            &s.state,
            request(
                Method::POST,
                "/api/v1/namespaces",
                Some(&json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team"}})),
                Some(ADMIN),
            ),
        ),
        handle(&s.state, impersonating(get("/api/v1/namespaces/team", ADMIN), "alice")),
    ]
    .map(|r| r.status);
    assert_eq!(statuses, [401, 403, 403, 201, 403]);
    let all: Vec<Value> =
        std::fs::read_to_string(audit.path()).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect();
    // Each authenticated request at RequestReceived then ResponseComplete, one auditID; the one
    // that failed authentication at ResponseStarted only, as kube-apiserver records it.
    let stages: Vec<&str> = all.iter().map(|e| e["stage"].as_str().unwrap()).collect();
    assert_eq!(
        stages,
        [
            "ResponseStarted",
            "RequestReceived",
            "ResponseComplete",
            "RequestReceived",
            "ResponseComplete",
            "RequestReceived",
            "ResponseComplete",
            "RequestReceived",
            "ResponseComplete"
        ]
    );
    for pair in all[1..].chunks(2) {
        assert_eq!(pair[0]["auditID"], pair[1]["auditID"]);
        assert_eq!(pair[0].get("responseStatus"), None);
        assert_eq!(pair[0]["requestReceivedTimestamp"], pair[1]["requestReceivedTimestamp"]);
    }
    assert_eq!(all[0]["responseStatus"]["message"], "Authentication failed, attempted: bearer");
    assert!(all[0].get("requestObject").is_none(), "never the body of a request that failed authentication");
    let events: Vec<&Value> = all.iter().filter(|e| e["stage"] != "RequestReceived").collect();
    assert_eq!(events.len(), 5);
    let codes: Vec<&Value> = events.iter().map(|e| &e["responseStatus"]["code"]).collect();
    assert_eq!(codes, [401, 403, 403, 201, 403]);

    let unauthenticated = events[0];
    assert_eq!(unauthenticated["user"], json!({}));
    assert!(unauthenticated["annotations"]["authentication.kauth.dev/failure"].is_string(), "{unauthenticated}");
    assert_eq!(unauthenticated["annotations"].get("authorization.k8s.io/decision"), None);

    let forbidden = events[1];
    assert_eq!(forbidden["user"]["username"], "alice");
    assert_eq!(forbidden["verb"], "list");
    assert_eq!(forbidden["objectRef"], json!({"resource": "secrets", "apiVersion": "v1", "namespace": "default"}));
    assert_eq!(forbidden["annotations"]["authorization.k8s.io/decision"], "forbid");
    assert!(forbidden["annotations"]["authorization.kauth.dev/explanation"].is_string(), "{forbidden}");

    // Refused by the impersonation filter: the real user, no decision on the request itself.
    let impersonation_refused = events[2];
    assert_eq!(impersonation_refused["user"]["username"], "alice");
    assert_eq!(impersonation_refused.get("impersonatedUser"), None);
    assert_eq!(impersonation_refused["annotations"].get("authorization.k8s.io/decision"), None);

    let created = events[3];
    assert_eq!((&created["verb"], &created["objectRef"]["resource"]), (&json!("create"), &json!("namespaces")));
    assert_eq!(created["annotations"]["authorization.k8s.io/decision"], "allow");

    let impersonated = events[4];
    assert_eq!(impersonated["user"]["username"], "admin");
    assert_eq!(impersonated["impersonatedUser"]["username"], "alice");
    assert_eq!(impersonated["objectRef"]["name"], "team");
}

#[test]
fn impersonating_groups_uid_or_extras_without_a_user_is_kube_apiservers_plain_500() {
    let s = server();
    let mut r = request(Method::GET, "/api", None, Some(ADMIN));
    r.query = vec![("a".into(), "1".into())];
    for (k, v) in [("impersonate-group", "g1"), ("impersonate-group", "g<2>"), ("impersonate-extra-scopes", "a")] {
        r.headers.append(k, HeaderValue::from_static(v));
    }
    r.headers.insert("impersonate-uid", HeaderValue::from_static("u"));
    let answer = handle(&s.state, r);
    assert_eq!(answer.status, 500);
    // Not a Status: Go's http.Error, as kube-apiserver 1.32 writes it (checked side by side).
    assert_eq!(answer.content_type, "text/plain; charset=utf-8");
    assert!(answer.headers.contains(&("x-content-type-options", "nosniff".into())), "{:?}", answer.headers);
    assert_eq!(
        std::str::from_utf8(&answer.body).unwrap(),
        "Internal Server Error: \"/api?a=1\": requested [{Group  g1    } {Group  g&lt;2&gt;    } \
         {UserExtra  a  authentication.k8s.io/v1  scopes} {UID  u  authentication.k8s.io/v1  }] without impersonating a user\n"
    );
}

#[test]
fn bodies_of_another_kind_get_kube_apiservers_400() {
    let s = server();
    let cases = [
        (
            "/api/v1/namespaces/default/configmaps",
            json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "x"}}),
            "Secret in version \"v1\" cannot be handled as a ConfigMap: converting (v1.Secret) to (core.ConfigMap): unknown conversion",
        ),
        (
            "/api/v1/namespaces/default/configmaps",
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "metadata": {"name": "x"}}),
            "ConfigMap in version \"v1\" cannot be handled as a ConfigMap: no kind \"ConfigMap\" is registered for version \"rbac.authorization.k8s.io/v1\" in scheme \"pkg/api/legacyscheme/scheme.go:30\"",
        ),
        (
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview"}),
            "SelfSubjectAccessReview in version \"v1\" cannot be handled as a SubjectAccessReview: converting (v1.SelfSubjectAccessReview) to (authorization.SubjectAccessReview): unknown conversion",
        ),
        (
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            json!({"apiVersion": "authorization.k8s.io/v1", "kind": "Foo"}),
            "Foo in version \"v1\" cannot be handled as a SubjectAccessReview: no kind \"Foo\" is registered for version \"authorization.k8s.io/v1\" in scheme \"pkg/api/legacyscheme/scheme.go:30\"",
        ),
        (
            "/api/v1/namespaces/default/serviceaccounts/default/token",
            json!({"apiVersion": "v1", "kind": "ConfigMap"}),
            "ConfigMap in version \"v1\" cannot be handled as a TokenRequest: converting (v1.ConfigMap) to (authentication.TokenRequest): unknown conversion",
        ),
    ];
    for (path, body, message) in cases {
        let r = s.send(Method::POST, path, Some(body), Some(ADMIN));
        assert_eq!(
            json_of(&r),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": message, "reason": "BadRequest", "code": 400}),
            "{path}"
        );
    }
}

#[test]
fn the_jwks_refused_for_another_media_type_is_kube_apiservers_406() {
    let s = server();
    let mut r = request(Method::GET, "/openid/v1/jwks", None, Some(ADMIN));
    r.headers.insert("accept", HeaderValue::from_static("application/json"));
    let answer = handle(&s.state, r);
    assert_eq!(answer.status, 406);
    assert_eq!(
        json_of(&answer),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "details": {},
               "message": "406: Not Acceptable\n\nAvailable representations: application/jwk-set+json",
               "reason": "NotAcceptable", "code": 406})
    );
}

/// Bodies that are not a JSON object, or not JSON at all: kube-apiserver's 400, naming the kind
/// the endpoint takes and summarizing the body (30 bytes, as text when it starts like an object,
/// else hex). A body cut short reads as Go's "unexpected end of JSON input"; other syntax errors
/// keep serde_json's line and column (kube-apiserver's are Go's scanner's).
#[test]
fn bodies_that_are_not_objects_get_kube_apiservers_400() {
    let s = server();
    let unrecognized = |kind: &str, why: &str, summary: &str| {
        format!("the object provided is unrecognized (must be of type {kind}): couldn't get version/kind; json parse error: {why} ({summary})")
    };
    let go_struct = "struct { APIVersion string \"json:\\\"apiVersion,omitempty\\\"\"; Kind string \"json:\\\"kind,omitempty\\\"\" }";
    let cases = [
        (
            "/api/v1/namespaces/default/configmaps",
            "{\"apiVersion\": \"v1\", \"kind\": \"ConfigMap\", \"metadata\": {\"name\": \"x\"",
            unrecognized("ConfigMap", "unexpected end of JSON input", "{\"apiVersion\": \"v1\", \"kind\": \" ..."),
        ),
        (
            "/api/v1/namespaces/default/configmaps",
            "",
            unrecognized("ConfigMap", "unexpected end of JSON input", "<empty>"),
        ),
        (
            "/api/v1/namespaces/default/configmaps",
            "\"str\"",
            unrecognized(
                "ConfigMap",
                &format!("json: cannot unmarshal string into Go value of type {go_struct}"),
                "2273747222",
            ),
        ),
        (
            "/api/v1/namespaces/default/configmaps",
            "12",
            unrecognized(
                "ConfigMap",
                &format!("json: cannot unmarshal number into Go value of type {go_struct}"),
                "3132",
            ),
        ),
        (
            "/api/v1/namespaces/default/configmaps",
            "true",
            unrecognized(
                "ConfigMap",
                &format!("json: cannot unmarshal bool into Go value of type {go_struct}"),
                "74727565",
            ),
        ),
        (
            "/apis/authorization.k8s.io/v1/subjectaccessreviews",
            "{\"apiVersion\": \"authorization.k8s.io/v1\", \"kind\": \"SubjectAccessReview\", \"spec\": ",
            unrecognized(
                "SubjectAccessReview",
                "unexpected end of JSON input",
                "{\"apiVersion\": \"authorization. ...",
            ),
        ),
    ];
    for (path, body, message) in cases {
        let mut req = request(Method::POST, path, None, Some(ADMIN));
        req.body = bytes::Bytes::from(body.as_bytes().to_vec());
        let r = handle(&s.state, req);
        assert_eq!(r.status, 400, "{body}");
        assert_eq!(json_of(&r)["message"], message.as_str(), "{body}");
    }
    // `null` is an empty object, as for Go: the name is then missing.
    let mut req = request(Method::POST, "/api/v1/namespaces/default/configmaps", None, Some(ADMIN));
    req.body = bytes::Bytes::from_static(b"null");
    let r = handle(&s.state, req);
    assert_eq!(r.status, 422);
    assert_eq!(
        json_of(&r)["message"],
        "ConfigMap \"\" is invalid: metadata.name: Required value: name or generateName is required"
    );
    // Other syntax errors: the same start, then serde_json's position.
    let mut req = request(Method::POST, "/api/v1/namespaces/default/configmaps", None, Some(ADMIN));
    req.body = bytes::Bytes::from_static(b"not json at all");
    let message = json_of(&handle(&s.state, req))["message"].as_str().unwrap().to_owned();
    assert!(message.starts_with("the object provided is unrecognized (must be of type ConfigMap): couldn't get version/kind; json parse error: "), "{message}");
    assert!(message.ends_with("line 1 column 2 (6e6f74206a736f6e20617420616c6c)"), "{message}");
}
