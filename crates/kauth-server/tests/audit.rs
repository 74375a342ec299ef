//! The audit log as kube-apiserver writes it, driven by `--audit-policy-file`: levels per rule
//! (users, groups, verbs, resources, namespaces, non-resource URLs), omitted stages, request and
//! response bodies, never a Secret's or a token's; a bad policy file stops the start with its
//! name; `--audit-log-maxsize`/`--audit-log-maxbackup` rotate the file.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;

use common::{request, FakeClock, Server, ADMIN, ALICE, START};
use http::Method;
use serde_json::{json, Value};

const POLICY: &str = r#"
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  nonResourceURLs: ["/healthz*", "/version"]
- level: None
  users: ["bob"]
- level: RequestResponse
  resources:
  - group: ""
    resources: ["configmaps", "secrets"]
- level: Request
  userGroups: ["dev"]
  verbs: ["create"]
- level: Metadata
"#;

fn server_with_policy(dir: &Path, policy: &str) -> Server {
    let file = dir.join("policy.yaml");
    std::fs::write(&file, policy).unwrap();
    let log = dir.join("audit.log");
    common::server_with(FakeClock::at(START), |o| {
        o.audit_log_path = Some(log);
        o.audit_policy_file = Some(file);
    })
}

fn events(dir: &Path) -> Vec<Value> {
    std::fs::read_to_string(dir.join("audit.log")).unwrap().lines().map(|l| serde_json::from_str(l).unwrap()).collect()
}

#[test]
fn the_policy_decides_level_stages_and_bodies() {
    let dir = tempfile::tempdir().unwrap();
    let s = server_with_policy(dir.path(), POLICY);
    let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "settings"}, "data": {"a": "1"}});
    let secret =
        json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "pw"}, "stringData": {"pw": "hunter2"}});
    s.send(Method::GET, "/healthz", None, Some(ADMIN));
    s.send(Method::GET, "/api/v1/namespaces", None, Some(common::BOB));
    s.admin(Method::POST, "/api/v1/namespaces/default/configmaps", Some(cm), 201);
    s.admin(Method::POST, "/api/v1/namespaces/default/secrets", Some(secret), 201);
    s.send(
        Method::POST,
        "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews",
        Some(json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SelfSubjectAccessReview",
            "spec": {"resourceAttributes": {"verb": "get", "resource": "pods"}}})),
        Some(ALICE),
    );
    s.admin(Method::GET, "/api/v1/namespaces/default", None, 200);
    let all = events(dir.path());
    let summary: Vec<(String, String, String)> = all
        .iter()
        .map(|e| {
            (
                e["level"].as_str().unwrap().into(),
                e["stage"].as_str().unwrap().into(),
                e["requestURI"].as_str().unwrap().into(),
            )
        })
        .collect();
    let row = |l: &str, st: &str, uri: &str| (l.to_owned(), st.to_owned(), uri.to_owned());
    assert_eq!(
        summary,
        [
            row("RequestResponse", "ResponseComplete", "/api/v1/namespaces/default/configmaps"),
            row("RequestResponse", "ResponseComplete", "/api/v1/namespaces/default/secrets"),
            row("Request", "ResponseComplete", "/apis/authorization.k8s.io/v1/selfsubjectaccessreviews"),
            row("Metadata", "ResponseComplete", "/api/v1/namespaces/default"),
        ],
        "healthz and bob's requests at None; RequestReceived omitted"
    );
    assert_eq!(all[0]["requestObject"]["data"], json!({"a": "1"}));
    assert_eq!(all[0]["responseObject"]["metadata"]["name"], "settings");
    assert!(all[1].get("requestObject").is_none() && all[1].get("responseObject").is_none(), "never a Secret's body");
    assert!(!std::fs::read_to_string(dir.path().join("audit.log")).unwrap().contains("hunter2"));
    assert_eq!(all[2]["requestObject"]["kind"], "SelfSubjectAccessReview");
    assert!(all[2].get("responseObject").is_none(), "Request level: no response body");
    assert!(all[3].get("requestObject").is_none());
    // MicroTime stamps, as kube-apiserver writes them.
    assert_eq!(all[3]["stageTimestamp"], "2027-01-15T08:00:00.000000Z");
}

#[test]
fn a_bad_policy_file_stops_the_start_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("policy.yaml");
    std::fs::write(&file, "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n").unwrap();
    let log = dir.path().join("audit.log");
    let Err(e) = common::server().restart_with(|o| {
        o.audit_log_path = Some(log.clone());
        o.audit_policy_file = Some(file.clone());
    }) else {
        panic!("started")
    };
    assert!(e.starts_with(&format!("audit policy {}: ", file.display())), "{e}");
    assert!(e.contains("Loud"), "{e}");
    let Err(e) = common::server().restart_with(|o| {
        o.audit_log_path = Some(log.clone());
        o.audit_log_format = "legacy".into();
    }) else {
        panic!("started")
    };
    assert!(e.starts_with("--audit-log-format: unsupported \"legacy\""), "{e}");
}

#[test]
fn the_log_rotates_by_size_and_keeps_the_newest_backups() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let s = common::server_with(FakeClock::at(START), |o| {
        o.audit_log_path = Some(log.clone());
        o.audit_log_maxsize = 1;
        o.audit_log_maxbackup = 2;
        o.audit_level = kauth_server::audit::Level::Request;
    });
    // Each request writes its 4 KB body twice (RequestReceived, ResponseComplete): a megabyte
    // fills every 120 or so.
    let big = "x".repeat(4096);
    for i in 0..400 {
        s.clock.advance(1);
        let cm = json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": format!("c{i}")}, "data": {"big": big}});
        let r = common::handle(
            &s.state,
            request(Method::POST, "/api/v1/namespaces/default/configmaps?dryRun=All", Some(&cm), Some(ADMIN)),
        );
        assert_eq!(r.status, 201);
    }
    let mut names: Vec<String> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    assert_eq!(names.len(), 3, "the log and two backups: {names:?}");
    assert!(names[0].starts_with("audit-2027-01-15T08-") && names[0].ends_with(".log"), "{names:?}");
    assert!(std::fs::metadata(&log).unwrap().len() <= 1024 * 1024);
}

#[test]
fn a_request_that_failed_authentication_never_has_its_body_recorded() {
    let dir = tempfile::tempdir().unwrap();
    let log = dir.path().join("audit.log");
    let s = common::server_with(FakeClock::at(START), |o| {
        o.audit_log_path = Some(log.clone());
        o.audit_level = kauth_server::audit::Level::RequestResponse;
    });
    let cm =
        json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "graffiti"}, "data": {"spray": "paint"}});
    let r = common::handle(
        &s.state,
        request(Method::POST, "/api/v1/namespaces/default/configmaps", Some(&cm), Some("not-a-token")),
    );
    assert_eq!(r.status, 401);
    // The same body from an authenticated client is recorded: the level allows it.
    s.admin(Method::POST, "/api/v1/namespaces/default/configmaps", Some(cm), 201);
    let all = events(dir.path());
    assert_eq!(all[0]["stage"], "ResponseStarted");
    assert!(all[0].get("requestObject").is_none(), "{}", all[0]);
    assert!(all.iter().any(|e| e["requestObject"]["data"]["spray"] == "paint"));
}
