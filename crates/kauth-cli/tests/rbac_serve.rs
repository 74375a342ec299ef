//! The RBAC tools online against `kauth serve`, cross-checked with the real kubectl: policy
//! created with `kubectl create role/rolebinding`, then `kauth access-matrix` compared cell by
//! cell with `kubectl auth can-i --as`, `kauth who-can`, `kauth policy explain` and `lint`
//! reading the server, and the explanation of a denial in the audit log.
#![allow(clippy::unwrap_used)]

mod common;

use common::server::Server;
use common::tools::{require, Tool};
use common::{kauth, s};
use serde_json::Value;

#[test]
fn rbac_tools_against_kauth_serve_agree_with_kubectl() {
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.log");
    let srv = Server::start_in(&dir.path().join("data"), &["--audit-log-path", s(&audit)]);
    let kubeconfig = srv.dir.join("admin.conf");
    let kc = s(&kubeconfig);
    for args in [
        &["create", "namespace", "prod"][..],
        &["create", "sa", "ci", "-n", "prod"],
        &["create", "role", "pod-reader", "--verb=get,list,watch", "--resource=pods,pods/log", "-n", "prod"],
        &[
            "create",
            "rolebinding",
            "devs-read",
            "--role=pod-reader",
            "--group=devs",
            "--serviceaccount=prod:ci",
            "-n",
            "prod",
        ],
        &["create", "clusterrole", "secret-reader", "--verb=get,list", "--resource=secrets"],
        &[
            "create",
            "rolebinding",
            "ci-secrets",
            "--clusterrole=secret-reader",
            "--serviceaccount=prod:ci",
            "-n",
            "prod",
        ],
    ] {
        srv.kubectl(args).ok();
    }

    // access-matrix, cell by cell against kubectl auth can-i through the server's authorizer.
    for (user, groups) in [("ann", vec!["devs"]), ("system:serviceaccount:prod:ci", vec![])] {
        let mut args = vec!["access-matrix", "--as", user, "-n", "prod", "--kubeconfig", kc, "-o", "json"];
        for g in &groups {
            args.extend(["--as-group", g]);
        }
        let r = kauth(&args);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let matrix: Value = serde_json::from_str(&r.stdout).unwrap();
        for resource in
            ["pods", "pods/log", "secrets", "configmaps", "serviceaccounts", "deployments.apps", "namespaces"]
        {
            let row = matrix["resources"].as_array().unwrap().iter().find(|r| r["resource"] == resource);
            let row = row.unwrap_or_else(|| panic!("no row {resource}"));
            for verb in ["get", "list", "create", "delete"] {
                let mut can_i = vec!["auth", "can-i", verb, resource, "-n", "prod", "--as", user];
                for g in &groups {
                    can_i.extend(["--as-group", g]);
                }
                let out = srv.kubectl(&can_i);
                let kubectl_says = out.stdout.trim() == "yes";
                assert_eq!(
                    row["verbs"][verb],
                    kubectl_says,
                    "{user} {verb} {resource}: kubectl says {}",
                    out.stdout.trim()
                );
            }
        }
    }

    // who-can reads the server's bindings.
    let r = kauth(&["who-can", "list", "secrets", "-n", "prod", "--kubeconfig", kc, "-o", "json"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let subjects: Vec<(String, String)> = v["subjects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|g| (g["kind"].as_str().unwrap().to_owned(), g["name"].as_str().unwrap().to_owned()))
        .collect();
    assert!(subjects.contains(&("ServiceAccount".into(), "ci".into())), "{subjects:?}");
    assert!(!subjects.iter().any(|(_, n)| n == "devs"), "{subjects:?}");

    // explain: denied with the verb named; the server's own 403 carries Kubernetes' text and
    // the explanation goes to the audit log.
    let r = kauth(&[
        "policy",
        "explain",
        "delete",
        "pods",
        "web",
        "-n",
        "prod",
        "--as",
        "ann",
        "--as-group",
        "devs",
        "--kubeconfig",
        kc,
    ]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(r.stdout.contains(r#"verb "delete" not in ["get", "list", "watch"]"#), "{}", r.stdout);
    let out = srv.kubectl(&["delete", "pod", "web", "-n", "prod", "--as", "ann", "--as-group", "devs"]);
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains(r#"pods "web" is forbidden: User "ann" cannot delete resource "pods" in API group "" in the namespace "prod""#),
        "{}",
        out.stderr
    );
    // A SubjectAccessReview naming both kinds of attributes is refused as kube-apiserver refuses it.
    let both = br#"{"apiVersion":"authorization.k8s.io/v1","kind":"SubjectAccessReview","spec":{"user":"ann","resourceAttributes":{"verb":"get","resource":"pods"},"nonResourceAttributes":{"verb":"get","path":"/metrics"}}}"#;
    let out = srv.kubectl_in(&["create", "-f", "-", "-o", "json"], Some(both));
    assert_ne!(out.code, 0);
    assert!(
        out.stderr.contains("spec.nonResourceAttributes: Invalid value: ")
            && out.stderr.contains("cannot be specified in combination with resourceAttributes"),
        "{}",
        out.stderr
    );
    let log = std::fs::read_to_string(&audit).unwrap();
    let denied = log
        .lines()
        .find(|l| l.contains("authorization.kauth.dev/explanation") && l.contains("\"ann\""))
        .expect("an explained denial");
    assert!(denied.contains(r#"verb \"delete\" not in [\"get\", \"list\", \"watch\"]"#), "{denied}");

    // lint reads the server: the service account can read secrets; Kubernetes' defaults are skipped.
    let r = kauth(&["policy", "lint", "--kubeconfig", kc, "-o", "json"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let codes: Vec<(&str, &str)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["code"].as_str().unwrap(), f["object"].as_str().unwrap()))
        .collect();
    assert!(codes.contains(&("secrets-read", r#"ClusterRole "secret-reader""#)), "{codes:?}");
    assert!(!codes.iter().any(|(_, o)| o.contains("system:")), "defaults are skipped: {codes:?}");

    // A user without list rights on RBAC objects gets the server's message, exit 1.
    let sa_token = srv.kubectl(&["create", "token", "ci", "-n", "prod"]).ok();
    let limited = dir.path().join("limited.conf");
    let mut cfg: Value = serde_json::from_str(&srv.kubectl(&["config", "view", "--raw", "-o", "json"]).ok()).unwrap();
    cfg["users"][0]["user"] = serde_json::json!({"token": sa_token.trim()});
    std::fs::write(&limited, cfg.to_string()).unwrap();
    let r = kauth(&["who-can", "get", "pods", "--kubeconfig", s(&limited)]);
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    assert!(
        r.stderr.contains("HTTP 403") && r.stderr.contains("cannot list resource \"clusterroles\""),
        "{}",
        r.stderr
    );
}

/// The audit event of the first denial of `user` (the user a request acted as) whose
/// explanation contains `needle`.
fn explained_denial(audit: &std::path::Path, user: &str, needle: &str) -> Value {
    let log = std::fs::read_to_string(audit).unwrap();
    log.lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|e| {
            // The user the request acted as: the impersonated one when there is one.
            let acting = if e["impersonatedUser"].is_object() { &e["impersonatedUser"] } else { &e["user"] };
            acting["username"] == user
                && e["annotations"]["authorization.kauth.dev/explanation"].as_str().is_some_and(|x| x.contains(needle))
        })
        .unwrap_or_else(|| panic!("no explained denial of {user} with {needle:?} in {log}"))
}

#[test]
fn the_server_explains_a_denial_as_kauth_policy_explain_does() {
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let audit = dir.path().join("audit.log");
    let srv = Server::start_in(&dir.path().join("data"), &["--audit-log-path", s(&audit)]);
    let kubeconfig = srv.dir.join("admin.conf");
    let kc = s(&kubeconfig);
    for args in [
        &["create", "namespace", "prod"][..],
        &["create", "namespace", "staging"],
        &["create", "sa", "ci", "-n", "prod"],
        &[
            "create",
            "role",
            "app-config",
            "--verb=get",
            "--resource=secrets",
            "--resource-name=app-config",
            "-n",
            "prod",
        ],
        &["create", "rolebinding", "devs-config", "--role=app-config", "--group=devs", "-n", "prod"],
        &["create", "clusterrole", "secret-editor", "--verb=get,update", "--resource=secrets"],
        &["create", "rolebinding", "devs-staging", "--clusterrole=secret-editor", "--group=devs", "-n", "staging"],
    ] {
        srv.kubectl(args).ok();
    }
    // Denied by the server: the Role misses only by its resourceNames.
    let out = srv.kubectl(&["get", "secret", "other", "-n", "prod", "--as", "ann", "--as-group", "devs"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains(r#"secrets "other" is forbidden"#), "{}", out.stderr);
    let event = explained_denial(&audit, "ann", "binding(s)");
    let server_says = event["annotations"]["authorization.kauth.dev/explanation"].as_str().unwrap();

    // The CLI reading the same server's policy says the same line.
    let args = [
        "policy",
        "explain",
        "get",
        "secrets",
        "other",
        "-n",
        "prod",
        "--as",
        "ann",
        "--as-group",
        "devs",
        "--kubeconfig",
        kc,
    ];
    let r = kauth(&[&args[..], &["-o", "json"]].concat());
    assert_eq!(r.code, 1, "{} {}", r.stdout, r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["summary"], server_says, "CLI {} vs server {server_says}", v["summary"]);
    let text = kauth(&args);
    assert!(text.stdout.contains(&format!("  why: {server_says}\n")), "{}", text.stdout);
    // The line is the right one: the Role's rule and its resourceNames, not a path rule of
    // system:discovery; the binding of another namespace is named.
    assert!(server_says.contains(r#"from RoleBinding "devs-config/prod""#), "{server_says}");
    assert!(server_says.contains(r#"resourceName "other" not in ["app-config"]"#), "{server_says}");
    assert!(!server_says.contains("system:discovery"), "{server_says}");
    assert!(
        server_says.contains(r#"not applying here: RoleBinding "devs-staging/staging" of ClusterRole "secret-editor""#),
        "{server_says}"
    );

    // An impersonation the real user may not make is explained too.
    let token = srv.kubectl(&["create", "token", "ci", "-n", "prod"]).ok();
    let limited = dir.path().join("ci.conf");
    let mut cfg: Value = serde_json::from_str(&srv.kubectl(&["config", "view", "--raw", "-o", "json"]).ok()).unwrap();
    cfg["users"][0]["user"] = serde_json::json!({"token": token.trim()});
    std::fs::write(&limited, cfg.to_string()).unwrap();
    let out = srv.kubectl(&["get", "pods", "-n", "prod", "--kubeconfig", s(&limited), "--as", "root"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains(r#"cannot impersonate resource "users""#), "{}", out.stderr);
    let event = explained_denial(&audit, "system:serviceaccount:prod:ci", "binding(s)");
    let why = event["annotations"]["authorization.kauth.dev/explanation"].as_str().unwrap();
    let r = kauth(&[
        "policy",
        "explain",
        "impersonate",
        "users",
        "root",
        "-A",
        "--as",
        "system:serviceaccount:prod:ci",
        "--kubeconfig",
        kc,
        "-o",
        "json",
    ]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap_or_else(|_| panic!("{} {}", r.stdout, r.stderr));
    assert_eq!(v["summary"], why, "impersonation: CLI {} vs server {why}", v["summary"]);
}

#[test]
fn who_can_and_the_access_matrix_include_the_node_authorizer_when_reading_a_cluster() {
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start_in(&dir.path().join("data"), &[]);
    let kubeconfig = srv.dir.join("admin.conf");
    let kc = s(&kubeconfig);
    srv.kubectl(&["create", "namespace", "prod"]).ok();
    let pod = br#"{"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "web", "namespace": "prod"},
        "spec": {"nodeName": "n1", "containers": [{"name": "c", "image": "nginx"}],
                 "volumes": [{"name": "s", "secret": {"secretName": "s1"}}]}}"#;
    srv.kubectl_in(&["create", "-f", "-"], Some(pod)).ok();

    let who = |args: &[&str]| -> Vec<(String, String, String)> {
        let r = kauth(&[args, &["-n", "prod", "--kubeconfig", kc, "-o", "json"]].concat());
        assert_eq!(r.code, 0, "{}", r.stderr);
        let v: Value = serde_json::from_str(&r.stdout).unwrap();
        v["subjects"]
            .as_array()
            .unwrap()
            .iter()
            .map(|g| {
                let text = |k: &str| g[k].as_str().unwrap_or_default().to_owned();
                (text("kind"), text("name"), text("via"))
            })
            .collect()
    };
    // The secret its pod mounts: node n1 by the graph, and kubectl agrees through the server.
    let subjects = who(&["who-can", "get", "secrets", "s1"]);
    assert!(
        subjects
            .iter()
            .any(|(k, n, via)| k == "User" && n == "system:node:n1" && via.contains("Node authorizer's graph")),
        "{subjects:?}"
    );
    assert!(!subjects.iter().any(|(_, n, _)| n == "system:nodes"), "{subjects:?}");
    let can_i = |args: &[&str], node: &str| {
        let user = format!("system:node:{node}");
        srv.kubectl(&[args, &["-n", "prod", "--as", &user, "--as-group", "system:nodes"]].concat())
            .stdout
            .split_whitespace()
            .next()
            .unwrap_or_default()
            .to_owned()
    };
    assert_eq!(can_i(&["auth", "can-i", "get", "secrets/s1"], "n1"), "yes");
    assert_eq!(can_i(&["auth", "can-i", "get", "secrets/s1"], "n2"), "no");
    assert!(who(&["who-can", "get", "secrets", "s2"]).iter().all(|(_, n, _)| !n.starts_with("system:node")));
    // A static rule: every node.
    let subjects = who(&["who-can", "list", "services"]);
    assert!(
        subjects.iter().any(|(k, n, via)| k == "Group" && n == "system:nodes" && via.contains("static rules")),
        "{subjects:?}"
    );

    // The matrix of node n1 marks what the Node authorizer allows; kubectl agrees cell by cell.
    let r = kauth(&[
        "access-matrix",
        "--as",
        "system:node:n1",
        "--as-group",
        "system:nodes",
        "-n",
        "prod",
        "--kubeconfig",
        kc,
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let matrix: Value = serde_json::from_str(&r.stdout).unwrap();
    let row =
        |name: &str| matrix["resources"].as_array().unwrap().iter().find(|r| r["resource"] == name).unwrap().clone();
    assert_eq!(row("services")["nodeAuthorizer"], serde_json::json!(["get", "list", "watch"]));
    assert!(row("roles.rbac.authorization.k8s.io").get("nodeAuthorizer").is_none());
    for resource in ["services", "events", "pods", "secrets", "roles.rbac.authorization.k8s.io"] {
        for verb in ["get", "list", "create", "delete"] {
            assert_eq!(
                row(resource)["verbs"][verb],
                can_i(&["auth", "can-i", verb, resource], "n1") == "yes",
                "{verb} {resource}"
            );
        }
    }
    let text = kauth(&[
        "access-matrix",
        "--as",
        "system:node:n1",
        "--as-group",
        "system:nodes",
        "-n",
        "prod",
        "--kubeconfig",
        kc,
    ]);
    assert!(text.stdout.contains("✔N: allowed by the Node authorizer"), "{}", text.stdout);
}
