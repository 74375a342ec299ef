//! The review APIs through the pipeline (`handlers/reviews.rs`): the SubjectAccessReview family
//! answering with RBAC's reasons, SelfSubjectRulesReview listing what a user may do, TokenReview
//! and SelfSubjectReview saying who a credential is.
#![allow(clippy::unwrap_used)]

mod common;

use common::{json_of, server, Server, ADMIN, ALICE, BOB};
use http::Method;
use serde_json::{json, Value};

const AUTHZ: &str = "/apis/authorization.k8s.io/v1";
const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Namespace `team`, where group `dev` (alice) is bound to ClusterRole `view`.
fn team() -> Server {
    let s = server();
    s.admin(Method::POST, "/api/v1/namespaces", Some(json!({"metadata": {"name": "team"}})), 201);
    s.admin(
        Method::POST,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings",
        Some(json!({"metadata": {"name": "dev-view"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view"},
                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "Group", "name": "dev"}]})),
        201,
    );
    s
}

fn post(s: &Server, path: &str, kind: &str, spec: Value, token: &str) -> common::Response {
    let group = if kind == "TokenReview" || kind == "SelfSubjectReview" { "authentication" } else { "authorization" };
    s.send(
        Method::POST,
        path,
        Some(json!({"apiVersion": format!("{group}.k8s.io/v1"), "kind": kind, "spec": spec})),
        Some(token),
    )
}

/// A review's status, the request having been accepted (201).
fn status(r: common::Response) -> Value {
    let v = json_of(&r);
    assert_eq!(r.status, 201, "{v}");
    v["status"].clone()
}

fn sar(s: &Server, spec: Value) -> Value {
    status(post(s, &format!("{AUTHZ}/subjectaccessreviews"), "SubjectAccessReview", spec, ADMIN))
}

#[test]
fn a_subject_access_review_answers_with_the_binding_that_allows() {
    let s = team();
    let pods = |verb: &str| json!({"namespace": "team", "verb": verb, "resource": "pods"});
    assert_eq!(
        sar(&s, json!({"user": "alice", "groups": ["dev"], "resourceAttributes": pods("get")})),
        json!({"allowed": true, "reason": "RBAC: allowed by RoleBinding \"dev-view/team\" of ClusterRole \"view\" to Group \"dev\""})
    );
    // RBAC has no opinion: not allowed, not denied, no reason (as kube-apiserver answers).
    assert_eq!(
        sar(&s, json!({"user": "alice", "groups": ["dev"], "resourceAttributes": pods("delete")})),
        json!({"allowed": false})
    );
    assert_eq!(
        sar(&s, json!({"user": "alice", "resourceAttributes": pods("get")})),
        json!({"allowed": false}),
        "not in dev"
    );
    assert_eq!(
        sar(&s, json!({"user": "x", "groups": ["system:masters"], "resourceAttributes": pods("delete")})),
        json!({"allowed": true}),
        "system:masters comes before RBAC and gives no reason"
    );
    assert_eq!(
        sar(
            &s,
            json!({"groups": ["system:unauthenticated"], "nonResourceAttributes": {"verb": "get", "path": "/version"}})
        ),
        json!({"allowed": true, "reason": "RBAC: allowed by ClusterRoleBinding \"system:public-info-viewer\" of ClusterRole \"system:public-info-viewer\" to Group \"system:unauthenticated\""})
    );
}

#[test]
fn a_subject_access_review_needs_a_subject_and_a_right_to_ask() {
    let s = team();
    let r = post(
        &s,
        &format!("{AUTHZ}/subjectaccessreviews"),
        "SubjectAccessReview",
        json!({"resourceAttributes": {"verb": "get", "resource": "pods"}}),
        ADMIN,
    );
    // kube-apiserver names the decoded object's kind, empty by then, and gives no details.kind.
    assert_eq!(r.status, 422);
    assert_eq!(
        json_of(&r),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "Invalid", "code": 422,
               "message": ".authorization.k8s.io \"\" is invalid: spec.user: Invalid value: \"\": at least one of user or group must be specified",
               "details": {"group": "authorization.k8s.io", "causes": [{"reason": "FieldValueInvalid", "field": "spec.user",
                           "message": "Invalid value: \"\": at least one of user or group must be specified"}]}})
    );
    // Every reason at once, in kube-apiserver's order.
    let r = post(&s, &format!("{AUTHZ}/subjectaccessreviews"), "SubjectAccessReview", json!({}), ADMIN);
    assert_eq!(r.status, 422);
    assert_eq!(
        json_of(&r)["message"],
        ".authorization.k8s.io \"\" is invalid: [spec.resourceAttributes: Invalid value: \"null\": exactly one of nonResourceAttributes or resourceAttributes must be specified, spec.user: Invalid value: \"\": at least one of user or group must be specified]"
    );
    assert_eq!(json_of(&r)["details"]["causes"][0]["reason"], "FieldValueInvalid");
    let r = post(
        &s,
        &format!("{AUTHZ}/subjectaccessreviews"),
        "SubjectAccessReview",
        json!({"user": "bob", "resourceAttributes": {"verb": "get", "resource": "pods"}}),
        ALICE,
    );
    assert_eq!(r.status, 403);
    assert_eq!(
        json_of(&r)["message"],
        "subjectaccessreviews.authorization.k8s.io is forbidden: User \"alice\" cannot create resource \"subjectaccessreviews\" in API group \"authorization.k8s.io\" at the cluster scope"
    );
}

#[test]
fn a_local_subject_access_review_is_about_its_own_namespace() {
    let s = team();
    let lsar = |spec: Value| {
        post(&s, &format!("{AUTHZ}/namespaces/team/localsubjectaccessreviews"), "LocalSubjectAccessReview", spec, ADMIN)
    };
    let ok = lsar(
        json!({"user": "alice", "groups": ["dev"], "resourceAttributes": {"namespace": "team", "verb": "list", "resource": "configmaps"}}),
    );
    let ok = status(ok);
    assert_eq!(ok["allowed"], true);
    assert_eq!(ok["reason"], "RBAC: allowed by RoleBinding \"dev-view/team\" of ClusterRole \"view\" to Group \"dev\"");
    let other = lsar(
        json!({"user": "alice", "groups": ["dev"], "resourceAttributes": {"namespace": "default", "verb": "list", "resource": "configmaps"}}),
    );
    assert_eq!(other.status, 422);
    let other = json_of(&other);
    assert_eq!(
        other["message"],
        ".authorization.k8s.io \"\" is invalid: spec.resourceAttributes.namespace: Invalid value: \"default\": must match metadata.namespace"
    );
    assert_eq!(
        other["details"]["causes"],
        json!([{"reason": "FieldValueInvalid", "field": "spec.resourceAttributes.namespace", "message": "Invalid value: \"default\": must match metadata.namespace"}])
    );
    // Non-resource attributes have no namespace: disallowed, with the attributes as Go prints them.
    let urls = lsar(json!({"user": "alice", "nonResourceAttributes": {"verb": "get", "path": "/version"}}));
    assert_eq!(urls.status, 422);
    assert_eq!(
        json_of(&urls)["details"]["causes"],
        json!([{"reason": "FieldValueInvalid", "field": "spec.nonResourceAttributes",
                "message": "Invalid value: authorization.NonResourceAttributes{Path:\"/version\", Verb:\"get\"}: disallowed on this kind of request"}])
    );
    // No subject and another namespace: both reasons, the subject's first.
    let both = lsar(json!({"resourceAttributes": {"namespace": "x", "verb": "get", "resource": "pods"}}));
    assert_eq!(
        json_of(&both)["message"],
        ".authorization.k8s.io \"\" is invalid: [spec.user: Invalid value: \"\": at least one of user or group must be specified, spec.resourceAttributes.namespace: Invalid value: \"x\": must match metadata.namespace]"
    );
    // An object naming another namespace than the path's: the 400 of any create.
    let r = s.send(
        Method::POST,
        &format!("{AUTHZ}/namespaces/team/localsubjectaccessreviews"),
        Some(json!({"apiVersion": "authorization.k8s.io/v1", "kind": "LocalSubjectAccessReview",
                    "metadata": {"namespace": "other"},
                    "spec": {"user": "a", "resourceAttributes": {"namespace": "other", "verb": "get", "resource": "pods"}}})),
        Some(ADMIN),
    );
    assert_eq!(r.status, 400);
    assert_eq!(
        json_of(&r)["message"],
        "the namespace of the provided object does not match the namespace sent on the request"
    );
}

#[test]
fn a_self_subject_access_review_asks_for_the_requesting_user() {
    let s = team();
    let ssar = |token: &str, attrs: Value| {
        status(post(
            &s,
            &format!("{AUTHZ}/selfsubjectaccessreviews"),
            "SelfSubjectAccessReview",
            json!({"resourceAttributes": attrs}),
            token,
        ))
    };
    assert_eq!(
        ssar(ALICE, json!({"namespace": "team", "verb": "watch", "resource": "pods"})),
        json!({"allowed": true, "reason": "RBAC: allowed by RoleBinding \"dev-view/team\" of ClusterRole \"view\" to Group \"dev\""})
    );
    assert_eq!(
        ssar(ALICE, json!({"namespace": "team", "verb": "get", "resource": "secrets"})),
        json!({"allowed": false})
    );
    assert_eq!(ssar(BOB, json!({"namespace": "team", "verb": "watch", "resource": "pods"})), json!({"allowed": false}));
    let both = post(
        &s,
        &format!("{AUTHZ}/selfsubjectaccessreviews"),
        "SelfSubjectAccessReview",
        json!({"resourceAttributes": {"verb": "get"}, "nonResourceAttributes": {"verb": "get", "path": "/x"}}),
        BOB,
    );
    assert_eq!(both.status, 422);
    assert_eq!(
        json_of(&both)["message"],
        ".authorization.k8s.io \"\" is invalid: spec.nonResourceAttributes: Invalid value: authorization.NonResourceAttributes{Path:\"/x\", Verb:\"get\"}: cannot be specified in combination with resourceAttributes"
    );
}

#[test]
fn a_self_subject_rules_review_lists_what_the_user_may_do_in_the_namespace() {
    let s = team();
    let ssrr = |token: &str, ns: &str| {
        status(post(
            &s,
            &format!("{AUTHZ}/selfsubjectrulesreviews"),
            "SelfSubjectRulesReview",
            json!({"namespace": ns}),
            token,
        ))
    };
    let basic = json!([
        {"verbs": ["create"], "apiGroups": ["authorization.k8s.io"], "resources": ["selfsubjectaccessreviews", "selfsubjectrulesreviews"]},
        {"verbs": ["create"], "apiGroups": ["authentication.k8s.io"], "resources": ["selfsubjectreviews"]},
    ]);
    let default = ssrr(ALICE, "default");
    assert_eq!(default["resourceRules"], basic);
    assert_eq!(default["incomplete"], false);
    assert_eq!(
        default["nonResourceRules"],
        json!([
            {"verbs": ["get"], "nonResourceURLs": ["/api", "/api/*", "/apis", "/apis/*", "/healthz", "/livez", "/openapi", "/openapi/*", "/readyz", "/version", "/version/"]},
            {"verbs": ["get"], "nonResourceURLs": ["/healthz", "/livez", "/readyz", "/version", "/version/"]},
        ])
    );
    // In team, view's rules too (through the binding to dev): Kubernetes' aggregated view, which
    // reads workloads but not secrets.
    let team_rules = ssrr(ALICE, "team")["resourceRules"].as_array().unwrap().clone();
    assert_eq!(json!(team_rules[..2]), basic);
    let view = &team_rules[2..];
    assert!(view.contains(&json!({"verbs": ["get", "list", "watch"], "apiGroups": [""], "resources": ["namespaces"]})));
    let readable = |group: &str, resource: &str| {
        view.iter().any(|r| {
            r["apiGroups"].as_array().unwrap().contains(&json!(group))
                && r["resources"].as_array().unwrap().contains(&json!(resource))
        })
    };
    assert!(readable("", "pods") && readable("apps", "deployments") && readable("batch", "cronjobs"));
    assert!(!readable("", "secrets"), "view does not read secrets");
    assert_eq!(ssrr(BOB, "team")["resourceRules"], basic);
    let admin = ssrr(ADMIN, "team");
    assert_eq!(admin["resourceRules"][0], json!({"verbs": ["*"], "apiGroups": ["*"], "resources": ["*"]}));
    assert_eq!(admin["nonResourceRules"][0], json!({"verbs": ["*"], "nonResourceURLs": ["*"]}));
}

#[test]
fn a_self_subject_rules_review_answers_as_kube_apiserver() {
    let s = team();
    let path = format!("{AUTHZ}/selfsubjectrulesreviews");
    // A binding to a role that does not exist: the error in evaluationError, the list complete.
    s.admin(
        Method::POST,
        "/apis/rbac.authorization.k8s.io/v1/namespaces/team/rolebindings",
        Some(json!({"metadata": {"name": "ghost"},
                    "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "ghost"},
                    "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "alice"}]})),
        201,
    );
    let r = post(&s, &path, "SelfSubjectRulesReview", json!({"namespace": "team"}), ALICE);
    let v = json_of(&r);
    assert_eq!(r.status, 201, "{v}");
    assert_eq!(v["spec"], json!({}), "the namespace is not echoed");
    assert_eq!(v["status"]["incomplete"], false);
    assert_eq!(v["status"]["evaluationError"], "role.rbac.authorization.k8s.io \"ghost\" not found");
    // No namespace: 400.
    let r = post(&s, &path, "SelfSubjectRulesReview", json!({}), ALICE);
    assert_eq!(r.status, 400);
    assert_eq!(
        json_of(&r),
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
               "message": "no namespace on request", "reason": "BadRequest", "code": 400})
    );
}

fn token_review(s: &Server, spec: Value) -> Value {
    status(post(s, "/apis/authentication.k8s.io/v1/tokenreviews", "TokenReview", spec, ADMIN))
}

fn service_account_token(s: &Server, audiences: Value) -> String {
    let r = s.admin(
        Method::POST,
        "/api/v1/namespaces/team/serviceaccounts/default/token",
        Some(
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"audiences": audiences}}),
        ),
        201,
    );
    r["status"]["token"].as_str().unwrap().to_owned()
}

#[test]
fn a_token_review_says_who_a_token_is_for_which_audiences_or_exactly_why_not() {
    let s = team();
    let sa = s.admin(Method::GET, "/api/v1/namespaces/team/serviceaccounts/default", None, 200);
    let api = service_account_token(&s, json!([]));
    let ok = token_review(&s, json!({"token": api}));
    assert_eq!(ok["authenticated"], true);
    assert_eq!(ok["audiences"], json!([ISSUER]));
    let user = &ok["user"];
    assert_eq!(user["username"], "system:serviceaccount:team:default");
    assert_eq!(user["uid"], sa["metadata"]["uid"]);
    assert_eq!(
        user["groups"],
        json!(["system:serviceaccounts", "system:serviceaccounts:team", "system:authenticated"])
    );
    let jti = kauth::token::validate::parse(&api).unwrap().claims.jti.unwrap().into_owned();
    assert_eq!(user["extra"], json!({"authentication.kubernetes.io/credential-id": [format!("JTI={jti}")]}));

    // A token for another audience is reviewed for it, and refused for the API.
    let vault = service_account_token(&s, json!(["vault"]));
    assert_eq!(token_review(&s, json!({"token": vault, "audiences": ["vault"]}))["audiences"], json!(["vault"]));
    assert_eq!(
        token_review(&s, json!({"token": vault})),
        json!({"user": {}, "error": format!("[invalid bearer token, token audiences [\"vault\"] is invalid for the target audiences [{ISSUER:?}]]; kauth: service-account: token audiences [\"vault\"] have none in common with the accepted audiences [{ISSUER:?}]")})
    );
    // Static tokens, and tokens nobody recognises.
    let alice = token_review(&s, json!({"token": ALICE}));
    assert_eq!(
        alice["user"],
        json!({"username": "alice", "uid": "u-alice", "groups": ["dev", "system:authenticated"]})
    );
    assert_eq!(alice["audiences"], json!([ISSUER]));
    // A token that is no JWT: kube-apiserver's text (its service-account authenticator says "not
    // mine", so only the bearer's "invalid bearer token" is left), then the precise reason.
    assert_eq!(
        token_review(&s, json!({"token": "no-such-token"})),
        json!({"user": {}, "error": "invalid bearer token; kauth: service-account: malformed token: expected 3 dot-separated segments, found 1"})
    );
    // A JWT from another issuer is nobody's.
    let foreign = {
        let pem = kauth::pki::PrivateKey::generate(kauth::pki::KeyType::EcdsaP256).unwrap().to_pem().unwrap();
        let key = kauth::token::keys::SigningKey::from_pem("k", pem.as_bytes()).unwrap();
        let claims = kauth::token::claims::Claims { iss: Some("https://elsewhere".into()), ..Default::default() };
        kauth::token::issue::TokenIssuer::new("https://elsewhere", key).sign(&claims).unwrap().into_string()
    };
    assert_eq!(
        token_review(&s, json!({"token": foreign})),
        json!({"user": {}, "error": "invalid bearer token; kauth: bearer: no authenticator recognised the token (not a static token, not a JWT from an accepted issuer)"})
    );
    // Asking needs the right to: alice may not.
    let r = post(&s, "/apis/authentication.k8s.io/v1/tokenreviews", "TokenReview", json!({"token": ALICE}), ALICE);
    assert_eq!(r.status, 403);
}

#[test]
fn a_token_review_without_a_token_is_refused_as_kube_apiserver_does() {
    let s = server();
    for spec in [json!({"token": ""}), json!({})] {
        let r = post(&s, "/apis/authentication.k8s.io/v1/tokenreviews", "TokenReview", spec, ADMIN);
        assert_eq!(r.status, 400);
        assert_eq!(
            json_of(&r),
            json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                   "message": "token is required for TokenReview in authentication", "reason": "BadRequest", "code": 400})
        );
    }
}

#[test]
fn a_self_subject_review_is_whoami() {
    let s = server();
    let me =
        status(post(&s, "/apis/authentication.k8s.io/v1/selfsubjectreviews", "SelfSubjectReview", json!({}), ALICE));
    assert_eq!(
        me,
        json!({"userInfo": {"username": "alice", "uid": "u-alice", "groups": ["dev", "system:authenticated"]}})
    );
}

fn token_request(s: &Server, sa: &str, body: Value) -> common::Response {
    s.send(Method::POST, &format!("/api/v1/namespaces/team/serviceaccounts/{sa}/token"), Some(body), Some(ADMIN))
}

fn request_with(spec: Value) -> Value {
    json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": spec})
}

/// A Status as kube-apiserver writes it: `{code, reason, message}` plus what `extra` adds.
fn failure(code: u16, reason: &str, message: &str, extra: Value) -> Value {
    let mut v = json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
                       "message": message, "reason": reason, "code": code});
    for (k, x) in extra.as_object().unwrap() {
        v[k] = x.clone();
    }
    v
}

#[test]
fn a_token_request_is_refused_as_kube_apiserver_refuses_it() {
    let s = team();
    s.admin(Method::POST, "/api/v1/namespaces/team/serviceaccounts", Some(json!({"metadata": {"name": "x"}})), 201);
    s.admin(Method::POST, "/api/v1/namespaces/team/configmaps", Some(json!({"metadata": {"name": "cm"}})), 201);
    s.admin(
        Method::POST,
        "/api/v1/namespaces/team/pods",
        Some(json!({"metadata": {"name": "web"}, "spec": {"serviceAccountName": "default", "nodeName": "ghost-node",
                    "containers": [{"name": "c", "image": "busybox"}]}})),
        201,
    );
    let expiration = |v: i64, text: &str| {
        let message = format!("Invalid value: {v}: {text}");
        failure(
            422,
            "Invalid",
            &format!("TokenRequest.authentication.k8s.io \"\" is invalid: spec.expirationSeconds: {message}"),
            json!({"details": {"group": "authentication.k8s.io", "kind": "TokenRequest",
                               "causes": [{"reason": "FieldValueInvalid", "field": "spec.expirationSeconds", "message": message}]}}),
        )
    };
    let cases = [
        // Validation names no object; it comes before the bound object is looked at.
        (
            request_with(json!({"expirationSeconds": 10, "boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "cm"}})),
            expiration(10, "may not specify a duration less than 10 minutes"),
        ),
        (
            request_with(json!({"expirationSeconds": 5_000_000_000_i64})),
            expiration(5_000_000_000, "may not specify a duration larger than 2^32 seconds"),
        ),
        // A name other than the URL's: the 422 names the service account.
        (
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": {"name": "y"}, "spec": {}}),
            failure(
                422,
                "Invalid",
                "TokenRequest.authentication.k8s.io \"x\" is invalid: metadata.name: Invalid value: \"y\": must match the service account name if specified",
                json!({"details": {"name": "x", "group": "authentication.k8s.io", "kind": "TokenRequest",
                                   "causes": [{"reason": "FieldValueInvalid", "field": "metadata.name",
                                               "message": "Invalid value: \"y\": must match the service account name if specified"}]}}),
            ),
        ),
        (
            json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "metadata": {"namespace": "other"}}),
            failure(400, "BadRequest", "the namespace of the provided object does not match the namespace sent on the request", json!({})),
        ),
        // Kinds a token cannot be bound to: Go's GroupVersionKind as kube-apiserver prints it.
        (
            request_with(json!({"boundObjectRef": {"kind": "ConfigMap", "apiVersion": "v1", "name": "cm"}})),
            failure(400, "BadRequest", "cannot bind token to object of type /v1, Kind=ConfigMap", json!({})),
        ),
        (
            request_with(json!({"boundObjectRef": {"kind": "Secret", "apiVersion": "apps/v1", "name": "s"}})),
            failure(400, "BadRequest", "cannot bind token to object of type apps/v1, Kind=Secret", json!({})),
        ),
        (
            request_with(json!({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web"}})),
            failure(
                400,
                "BadRequest",
                "cannot bind token for serviceaccount \"x\" to pod running with different serviceaccount name.",
                json!({}),
            ),
        ),
    ];
    for (body, want) in cases {
        let r = token_request(&s, "x", body.clone());
        assert_eq!(json_of(&r), want, "{body}");
        assert_eq!(r.status, want["code"], "{body}");
    }
}

#[test]
fn a_token_for_a_pod_on_a_node_that_does_not_exist_names_the_node() {
    let s = team();
    s.admin(
        Method::POST,
        "/api/v1/namespaces/team/pods",
        Some(json!({"metadata": {"name": "web"}, "spec": {"serviceAccountName": "default", "nodeName": "ghost-node",
                    "containers": [{"name": "c", "image": "busybox"}]}})),
        201,
    );
    let r = token_request(
        &s,
        "default",
        request_with(json!({"boundObjectRef": {"kind": "Pod", "apiVersion": "v1", "name": "web"}})),
    );
    let issued = json_of(&r);
    assert_eq!(r.status, 201, "{issued}");
    let token = issued["status"]["token"].as_str().unwrap();
    let claims = kauth::token::validate::parse(token).unwrap().claims;
    let k = serde_json::to_value(&claims).unwrap()["kubernetes.io"].clone();
    assert_eq!(k["node"], json!({"name": "ghost-node"}), "the name, no uid");
    let user = token_review(&s, json!({"token": token}))["user"].clone();
    assert_eq!(user["extra"]["authentication.kubernetes.io/node-name"], json!(["ghost-node"]));
    assert!(user["extra"].get("authentication.kubernetes.io/node-uid").is_none(), "{user}");
    assert_eq!(user["extra"]["authentication.kubernetes.io/pod-name"], json!(["web"]));
}

#[test]
fn a_token_request_with_an_empty_spec_gets_the_defaults() {
    let s = team();
    for body in [json!({}), request_with(json!({}))] {
        let r = token_request(&s, "default", body);
        let v = json_of(&r);
        assert_eq!(r.status, 201, "{v}");
        assert_eq!(v["metadata"]["name"], "default");
        assert_eq!(v["metadata"]["namespace"], "team");
        assert_eq!(
            v["spec"],
            json!({"audiences": [ISSUER], "expirationSeconds": 3600, "boundObjectRef": null}),
            "as kube-apiserver answers"
        );
    }
}

/// An access review's metadata must be empty (a LocalSubjectAccessReview's but for its
/// namespace): kube-apiserver's 422 on `metadata`, after the spec's causes. kube-apiserver prints
/// the value as Go's ObjectMeta; kauth as the JSON of the fields set (README, Decisions).
#[test]
fn an_access_review_with_metadata_is_refused_after_its_spec() {
    let s = server();
    let send = |path: &str, kind: &str, metadata: Value, spec: Value| {
        let body = json!({"apiVersion": "authorization.k8s.io/v1", "kind": kind, "metadata": metadata, "spec": spec});
        let r = s.send(Method::POST, path, Some(body), Some(ADMIN));
        (r.status, json_of(&r))
    };
    let spec = json!({"user": "alice", "resourceAttributes": {"verb": "get", "resource": "pods"}});
    let (code, v) =
        send(&format!("{AUTHZ}/subjectaccessreviews"), "SubjectAccessReview", json!({"name": "x"}), spec.clone());
    assert_eq!(code, 422);
    assert_eq!(
        v["message"],
        ".authorization.k8s.io \"\" is invalid: metadata: Invalid value: {\"name\":\"x\"}: must be empty"
    );
    let (code, v) =
        send(&format!("{AUTHZ}/subjectaccessreviews"), "SubjectAccessReview", json!({"labels": {"a": "b"}}), json!({}));
    assert_eq!(code, 422);
    let fields: Vec<&Value> = v["details"]["causes"].as_array().unwrap().iter().map(|c| &c["field"]).collect();
    assert_eq!(fields, ["spec.resourceAttributes", "spec.user", "metadata"], "{v}");
    // A LocalSubjectAccessReview may name its namespace, nothing else.
    let local =
        json!({"user": "alice", "resourceAttributes": {"verb": "get", "resource": "pods", "namespace": "default"}});
    let path = format!("{AUTHZ}/namespaces/default/localsubjectaccessreviews");
    let (code, _) = send(&path, "LocalSubjectAccessReview", json!({"namespace": "default"}), local.clone());
    assert_eq!(code, 201);
    let (code, v) = send(&path, "LocalSubjectAccessReview", json!({"namespace": "default", "name": "n"}), local);
    assert_eq!(code, 422);
    assert!(
        v["message"]
            .as_str()
            .unwrap()
            .ends_with("metadata: Invalid value: {\"name\":\"n\"}: must be empty except for namespace"),
        "{v}"
    );
    // Empty metadata, or zero values (kubectl's protobuf bodies carry a zero creationTimestamp), is fine.
    let (code, _) = send(&format!("{AUTHZ}/subjectaccessreviews"), "SubjectAccessReview", json!({}), spec.clone());
    assert_eq!(code, 201);
    let zero = json!({"creationTimestamp": "1970-01-01T00:00:00Z", "labels": {}});
    let (code, _) = send(&format!("{AUTHZ}/subjectaccessreviews"), "SubjectAccessReview", zero, spec);
    assert_eq!(code, 201);
}

/// TokenReview and SubjectAccessReview bodies whose fields are all known are answered by a fast
/// path (`handlers/typed_review.rs`); a body with one more field, even a null one that nobody
/// warns about, goes the general way. Both must give the same answer, field for field.
#[test]
fn the_typed_review_path_answers_as_the_general_path_does() {
    let s = team();
    let api = service_account_token(&s, json!([]));
    let vault = service_account_token(&s, json!(["vault"]));
    let token_reviews = [
        json!({"token": api}),
        json!({"token": vault, "audiences": ["vault"]}),
        json!({"token": vault}),
        json!({"token": ALICE}),
        json!({"token": ALICE, "audiences": ["other"]}),
        json!({"token": "no-such-token"}),
    ];
    let pods = |verb: &str| json!({"namespace": "team", "verb": verb, "resource": "pods"});
    let access_reviews = [
        json!({"user": "alice", "groups": ["dev"], "resourceAttributes": pods("get")}),
        json!({"user": "alice", "groups": ["dev"], "resourceAttributes": pods("delete")}),
        json!({"user": "x", "groups": ["system:masters"], "uid": "u", "extra": {"k": ["v"]}, "resourceAttributes": pods("delete")}),
        json!({"groups": ["system:unauthenticated"], "nonResourceAttributes": {"verb": "get", "path": "/version"}}),
    ];
    let cases = token_reviews
        .into_iter()
        .map(|spec| ("/apis/authentication.k8s.io/v1/tokenreviews", "authentication.k8s.io/v1", "TokenReview", spec))
        .chain(access_reviews.into_iter().map(|spec| {
            (
                "/apis/authorization.k8s.io/v1/subjectaccessreviews",
                "authorization.k8s.io/v1",
                "SubjectAccessReview",
                spec,
            )
        }));
    for (path, api_version, kind, spec) in cases {
        // As kube-apiserver's webhooks send them: empty metadata, an empty status.
        let body = json!({"apiVersion": api_version, "kind": kind, "metadata": {"creationTimestamp": null}, "spec": spec, "status": {}});
        let mut general = body.clone();
        general["unknownButNull"] = Value::Null;
        let typed = s.send(Method::POST, path, Some(body), Some(ADMIN));
        let general = s.send(Method::POST, path, Some(general), Some(ADMIN));
        assert_eq!((typed.status, general.status), (201, 201), "{spec}");
        assert_eq!(json_of(&typed), json_of(&general), "{spec}");
        assert_eq!(json_of(&typed)["kind"], kind);
    }
    // A named review keeps its name; a SubjectAccessReview with metadata is the general path's 422.
    let named = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "metadata": {"name": "n", "labels": {"a": "b"}}, "spec": {"token": ALICE}});
    let r = s.send(Method::POST, "/apis/authentication.k8s.io/v1/tokenreviews", Some(named), Some(ADMIN));
    assert_eq!(json_of(&r)["metadata"], json!({"name": "n"}));
    let labelled = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "metadata": {"labels": {"a": "b"}}, "spec": {"user": "alice", "resourceAttributes": pods("get")}});
    let r = s.send(Method::POST, &format!("{AUTHZ}/subjectaccessreviews"), Some(labelled), Some(ADMIN));
    assert_eq!(r.status, 422, "{}", json_of(&r));
}
