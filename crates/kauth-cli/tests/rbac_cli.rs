//! `kauth who-can`, `kauth access-matrix`, `kauth policy lint` and `kauth policy explain` on
//! policy files, as users run them: output, JSON, exit codes, bad input.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use common::{kauth, kauth_in, s};
use serde_json::Value;

const POLICY: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: prod}
rules:
- apiGroups: [""]
  resources: [pods, pods/log]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: devs-read, namespace: prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: Group, name: devs}, {kind: ServiceAccount, name: ci}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: dangling}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gone}
subjects: [{kind: User, name: bob}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: secret-reader}
rules:
- apiGroups: [""]
  resources: [secrets]
  verbs: [get, list, watch]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: auditors-secrets}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secret-reader}
subjects: [{kind: Group, name: auditors}, {kind: Group, name: system:masters}]
---
apiVersion: v1
kind: ConfigMap
metadata: {name: unrelated}
"#;

fn policy_dir() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("policy.yaml"), POLICY).unwrap();
    std::fs::write(dir.path().join("README.md"), "not read: only .yaml, .yml and .json").unwrap();
    dir
}

#[test]
fn who_can_lists_subjects_with_the_binding_that_grants() {
    let dir = policy_dir();
    let r = kauth(&["who-can", "get", "pods", "-n", "prod", "-f", s(dir.path())]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let lines: Vec<&str> = r.stdout.lines().collect();
    assert!(lines[0].starts_with("KIND"), "{}", r.stdout);
    assert!(lines.iter().any(|l| l.contains("system:masters")));
    assert!(lines.iter().any(|l| l.starts_with("Group")
        && l.contains("devs")
        && l.contains(r#"RoleBinding "devs-read/prod" of Role "pod-reader""#)));
    assert!(lines.iter().any(|l| l.starts_with("ServiceAccount") && l.contains("ci") && l.contains("prod")));
    assert_eq!(lines.len(), 4, "{}", r.stdout);
    // Another namespace: only the privileged group.
    let r = kauth(&["who-can", "get", "pods", "-n", "dev", "-f", s(dir.path()), "-o", "json"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["subjects"].as_array().unwrap().len(), 1, "{v}");
    // Subresources and cluster scope.
    let r = kauth(&["who-can", "get", "pods/log", "-n", "prod", "-f", s(dir.path())]);
    assert!(r.stdout.contains("devs"));
    let r = kauth(&["who-can", "list", "secrets", "-A", "-f", s(dir.path()), "-o", "json"]);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let names: Vec<&str> = v["subjects"].as_array().unwrap().iter().map(|g| g["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["system:masters", "auditors", "system:masters"], "{v}");
    assert!(
        v["errors"][0].as_str().unwrap().contains(r#"clusterrole.rbac.authorization.k8s.io "gone" not found"#),
        "{v}"
    );
}

#[test]
fn lint_finds_missing_roles_risky_grants_and_unused_roles() {
    let dir = policy_dir();
    let r = kauth(&["policy", "lint", "-f", s(&dir.path().join("policy.yaml")), "-o", "json"]);
    assert_eq!(r.code, 1, "errors and warnings exit 1: {}", r.stdout);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let found: Vec<(String, String)> = v["findings"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| (f["code"].as_str().unwrap().to_owned(), f["object"].as_str().unwrap().to_owned()))
        .collect();
    let has = |code: &str, object: &str| found.contains(&(code.to_owned(), object.to_owned()));
    assert!(has("missing-role", r#"ClusterRoleBinding "dangling""#), "{found:?}");
    assert!(has("secrets-read", r#"ClusterRole "secret-reader""#), "{found:?}");
    assert!(has("system-masters", r#"ClusterRoleBinding "auditors-secrets""#), "{found:?}");
    assert!(!found.iter().any(|(c, _)| c == "unused-role"), "every role is bound: {found:?}");
    assert_eq!(v["objects"], 5);
    // A clean policy exits 0; an unused role is only informational.
    let clean = tempfile::tempdir().unwrap();
    std::fs::write(
        clean.path().join("r.yaml"),
        "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r, namespace: a}\nrules: [{apiGroups: [\"\"], resources: [pods], verbs: [get]}]\n",
    )
    .unwrap();
    let r = kauth(&["policy", "lint", "-f", s(clean.path())]);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.contains("unused-role"), "{}", r.stdout);
    assert!(r.stdout.contains("1 finding(s): 0 error(s), 0 warning(s), 1 info"), "{}", r.stdout);
}

#[test]
fn explain_denial_and_its_grant_closes_the_gap() {
    let dir = policy_dir();
    let args = ["policy", "explain", "delete", "pods", "web", "-n", "prod", "--as", "ann", "--as-group", "devs"];
    let mut with_file = args.to_vec();
    with_file.extend(["-f", s(dir.path())]);
    let r = kauth(&with_file);
    assert_eq!(r.code, 1, "denied exits 1");
    assert!(
        r.stdout
            .starts_with(r#"DENIED: User "ann" cannot delete resource "pods" in API group "" in the namespace "prod""#),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains(r#"- verb "delete" not in ["get", "list"]"#), "{}", r.stdout);
    // The suggested grant, applied to the policy, allows exactly this request.
    let grant = r.stdout.split("(kubectl apply -f -):\n").nth(1).expect("a grant");
    std::fs::write(dir.path().join("grant.yaml"), grant).unwrap();
    let r = kauth(&with_file);
    assert_eq!(r.code, 0, "{}", r.stdout);
    assert!(r.stdout.starts_with(r#"ALLOWED: RBAC: allowed by RoleBinding "kauth-allow-delete-pods-web/prod" of Role "kauth-allow-delete-pods-web" to User "ann""#), "{}", r.stdout);
    // JSON; a service account gets its groups the way impersonation gives them.
    let r = kauth(&[
        "policy",
        "explain",
        "get",
        "pods",
        "-n",
        "prod",
        "--as",
        "system:serviceaccount:prod:ci",
        "-f",
        s(dir.path()),
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 0);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(
        v["reason"],
        r#"RBAC: allowed by RoleBinding "devs-read/prod" of Role "pod-reader" to ServiceAccount "ci/prod""#
    );
    // Members of system:masters are allowed before RBAC.
    let r = kauth(&[
        "policy",
        "explain",
        "delete",
        "nodes",
        "--as",
        "root",
        "--as-group",
        "system:masters",
        "-f",
        s(dir.path()),
    ]);
    assert_eq!(r.code, 0, "{}", r.stdout);
}

#[test]
fn access_matrix_marks_each_verb() {
    let dir = policy_dir();
    let r = kauth(&[
        "access-matrix",
        "--as",
        "system:serviceaccount:prod:ci",
        "-n",
        "prod",
        "-f",
        s(dir.path()),
        "-o",
        "json",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let v: Value = serde_json::from_str(&r.stdout).unwrap();
    let row = |name: &str| v["resources"].as_array().unwrap().iter().find(|r| r["resource"] == name).cloned().unwrap();
    assert_eq!(
        row("pods")["verbs"],
        serde_json::json!({"get": true, "list": true, "watch": false, "create": false, "update": false, "patch": false, "delete": false})
    );
    assert_eq!(row("pods/log")["verbs"]["get"], true, "subresources named by the policy get rows");
    assert_eq!(row("secrets")["verbs"]["get"], false);
    assert_eq!(row("deployments.apps")["verbs"]["list"], false);
    let r = kauth(&[
        "access-matrix",
        "--as",
        "x",
        "--as-group",
        "auditors",
        "-A",
        "-f",
        s(dir.path()),
        "--verbs",
        "get,list",
    ]);
    let secrets = r.stdout.lines().find(|l| l.starts_with("secrets ")).unwrap();
    assert_eq!(secrets.split_whitespace().collect::<Vec<_>>(), ["secrets", "✔", "✔"], "{}", r.stdout);
}

#[test]
fn kubectl_list_output_and_stdin_are_read() {
    let list = serde_json::json!({
        "apiVersion": "v1", "kind": "List",
        "items": [
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": "view-nodes"},
             "rules": [{"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]}]},
            {"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRoleBinding", "metadata": {"name": "ops"},
             "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "view-nodes"},
             "subjects": [{"kind": "User", "name": "ops"}]}
        ]
    });
    let r = kauth_in(&["who-can", "get", "nodes", "-f", "-"], Some(list.to_string().as_bytes()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.lines().any(|l| l.starts_with("User") && l.contains("ops")), "{}", r.stdout);
}

#[test]
fn bad_input_names_the_file_and_exits_2() {
    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("bad.yaml");
    std::fs::write(&bad, "apiVersion: rbac.authorization.k8s.io/v1\nkind: Role\nmetadata: {name: r}\nrules: 7\n")
        .unwrap();
    let r = kauth(&["policy", "lint", "-f", s(&bad)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("bad.yaml: document 1: Role \"r\" is not valid"), "{}", r.stderr);
    std::fs::write(&bad, "key: [unclosed\n").unwrap();
    let r = kauth(&["who-can", "get", "pods", "-f", s(&bad)]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("not valid YAML or JSON"), "{}", r.stderr);
    let r = kauth(&["who-can", "get", "pods", "-f", s(&dir.path().join("missing.yaml"))]);
    assert_eq!(r.code, 2);
    let r = kauth(&["who-can", "get", "/healthz", "name", "-f", s(dir.path())]);
    assert_eq!(r.code, 2, "{}", r.stderr);
    let r = kauth(&["who-can", "get", "pods", "--kubeconfig", s(&dir.path().join("nope"))]);
    assert_eq!(r.code, 2, "{}", r.stderr);
}
