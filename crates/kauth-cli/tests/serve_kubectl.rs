//! `kauth serve` driven by the real kubectl (and curl), each test with its own server.
#![allow(clippy::unwrap_used)]

mod common;

use common::server::Server;
use common::tools::{require, Tool};
use serde_json::{json, Value};

fn server(extra: &[&str]) -> (tempfile::TempDir, Server) {
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), extra);
    (dir, s)
}

fn yaml(s: &Server, args: &[&str]) -> Value {
    let mut a = args.to_vec();
    a.extend(["-o", "json"]);
    serde_json::from_str(&s.kubectl(&a).ok()).unwrap()
}

const MANIFEST: &str = r#"
apiVersion: v1
kind: Namespace
metadata:
  name: team
---
apiVersion: v1
kind: ServiceAccount
metadata:
  name: deployer
  namespace: team
  labels: {app: web}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata:
  name: secret-reader
  namespace: team
rules:
- apiGroups: [""]
  resources: ["secrets"]
  verbs: ["get", "list"]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata:
  name: deployer-reads-secrets
  namespace: team
subjects:
- kind: ServiceAccount
  name: deployer
roleRef:
  apiGroup: rbac.authorization.k8s.io
  kind: Role
  name: secret-reader
"#;

#[test]
fn kubectl_creates_applies_edits_and_deletes() {
    require!(Tool::Kubectl);
    let (_d, s) = server(&[]);
    let ns = s.kubectl(&["get", "namespaces"]).ok();
    for n in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(ns.contains(n), "{ns}");
    }
    let out = s.kubectl_in(&["apply", "-f", "-"], Some(MANIFEST.as_bytes())).ok();
    assert!(out.contains("serviceaccount/deployer created"), "{out}");
    assert!(out.contains("rolebinding.rbac.authorization.k8s.io/deployer-reads-secrets created"), "{out}");
    // What the namespace controller does: default SA and the CA ConfigMap.
    let sa = yaml(&s, &["get", "sa", "default", "-n", "team"]);
    assert!(!sa["metadata"]["uid"].as_str().unwrap().is_empty());
    let cm = yaml(&s, &["get", "configmap", "kube-root-ca.crt", "-n", "team"]);
    let ca = std::fs::read_to_string(s.dir.join("pki/ca.crt")).unwrap();
    assert_eq!(cm["data"]["ca.crt"], ca);
    // apply again: unchanged; then a change: configured, and the store has it.
    assert!(s
        .kubectl_in(&["apply", "-f", "-"], Some(MANIFEST.as_bytes()))
        .ok()
        .contains("serviceaccount/deployer unchanged"));
    let changed = MANIFEST.replace("app: web", "app: api");
    assert!(s
        .kubectl_in(&["apply", "-f", "-"], Some(changed.as_bytes()))
        .ok()
        .contains("serviceaccount/deployer configured"));
    let before = yaml(&s, &["get", "sa", "deployer", "-n", "team"]);
    assert_eq!(before["metadata"]["labels"]["app"], "api");
    let y = s.kubectl(&["get", "sa", "deployer", "-n", "team", "-o", "yaml"]).ok();
    assert!(
        y.contains("kind: ServiceAccount") && y.contains("resourceVersion:") && y.contains("creationTimestamp:"),
        "{y}"
    );
    // label, then edit through an editor script (strategic merge patch).
    s.kubectl(&["label", "sa", "deployer", "-n", "team", "tier=gold"]).ok();
    let editor = s.dir.join("edit.sh");
    std::fs::write(&editor, "#!/bin/sh\nsed -i 's/tier: gold/tier: silver/' \"$1\"\n").unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out = std::process::Command::new("kubectl")
        .env("KUBECONFIG", s.dir.join("admin.conf"))
        .env("KUBE_EDITOR", &editor)
        .args(["edit", "sa", "deployer", "-n", "team"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let after = yaml(&s, &["get", "sa", "-n", "team", "-l", "tier=silver"]);
    assert_eq!(after["items"].as_array().unwrap().len(), 1);
    assert_eq!(after["items"][0]["metadata"]["uid"], before["metadata"]["uid"]);
    assert!(
        after["items"][0]["metadata"]["resourceVersion"].as_str().unwrap().parse::<u64>().unwrap()
            > before["metadata"]["resourceVersion"].as_str().unwrap().parse::<u64>().unwrap()
    );
    // kubectl create for each kind, and tables.
    s.kubectl(&["create", "secret", "generic", "db", "-n", "team", "--from-literal=password=s3cret"]).ok();
    s.kubectl(&["create", "clusterrole", "pod-reader", "--verb=get,list", "--resource=pods"]).ok();
    s.kubectl(&["create", "clusterrolebinding", "ops-read", "--clusterrole=pod-reader", "--group=ops"]).ok();
    let table = s.kubectl(&["get", "secrets", "-n", "team"]).ok();
    assert!(table.contains("db") && table.contains("Opaque"), "{table}");
    // Deleting the namespace deletes what is in it.
    s.kubectl(&["delete", "namespace", "team"]).ok();
    assert!(s.kubectl(&["get", "ns", "team"]).stderr.contains(r#"namespaces "team" not found"#));
    let left = yaml(&s, &["get", "secrets,serviceaccounts,roles,rolebindings,configmaps", "-n", "team"]);
    assert_eq!(left["items"], json!([]));
}

#[test]
fn kubectl_errors_are_kubernetes_statuses() {
    require!(Tool::Kubectl);
    let (_d, s) = server(&[]);
    let e = s.kubectl(&["create", "sa", "Bad_Name"]);
    assert_eq!(e.code, 1);
    assert!(e.stderr.contains(r#"ServiceAccount "Bad_Name" is invalid: metadata.name: Invalid value: "Bad_Name": a lowercase RFC 1123 subdomain"#), "{}", e.stderr);
    let e = s.kubectl_in(
        &["apply", "-f", "-"],
        Some(b"apiVersion: v1\nkind: ServiceAccount\nmetadata:\n  name: x\nbogus: 1\n"),
    );
    assert!(e.stderr.contains(r#"strict decoding error: unknown field "bogus""#), "{}", e.stderr);
    s.kubectl(&["create", "sa", "dup"]).ok();
    let e = s.kubectl(&["create", "sa", "dup"]);
    assert!(e.stderr.contains(r#"serviceaccounts "dup" already exists"#), "{}", e.stderr);
    let e = s.kubectl(&["get", "sa", "missing"]);
    assert!(e.stderr.contains(r#"serviceaccounts "missing" not found"#), "{}", e.stderr);
    let e = s.kubectl(&["create", "sa", "x", "-n", "nowhere"]);
    assert!(e.stderr.contains(r#"namespaces "nowhere" not found"#), "{}", e.stderr);
    assert_eq!(s.kubectl(&["get", "sa", "x"]).code, 1, "nothing was stored");
}

#[test]
fn tokens_and_can_i_through_kubectl() {
    require!(Tool::Kubectl, Tool::Curl);
    let (_d, s) = server(&["--service-account-max-token-expiration", "2h"]);
    s.kubectl_in(&["apply", "-f", "-"], Some(MANIFEST.as_bytes())).ok();
    let token = s
        .kubectl(&[
            "create",
            "token",
            "deployer",
            "-n",
            "team",
            "--duration",
            "20m",
            "--audience",
            "vault",
            "--audience",
            "api",
        ])
        .ok();
    let decoded = common::kauth(&["token", "decode", token.trim(), "-o", "json"]);
    let claims: Value = serde_json::from_str(&decoded.stdout).unwrap();
    let c = &claims["claims"];
    assert_eq!(c["aud"], json!(["vault", "api"]), "{claims}");
    assert_eq!(c["sub"], "system:serviceaccount:team:deployer");
    assert_eq!(c["exp"].as_i64().unwrap() - c["iat"].as_i64().unwrap(), 1200);
    // Too short; and longer than the maximum is shortened with Kubernetes' warning.
    let e = s.kubectl(&["create", "token", "deployer", "-n", "team", "--duration", "5m"]);
    assert!(e.stderr.contains("may not specify a duration less than 10 minutes"), "{}", e.stderr);
    let long = s.kubectl(&["create", "token", "deployer", "-n", "team", "--duration", "10h"]);
    assert_eq!(long.code, 0, "{}", long.stderr);
    assert!(long.stderr.contains("requested expiration of 36000 seconds shortened to 7200 seconds"), "{}", long.stderr);
    // Bound to a pod; the token stops working the moment the pod is deleted.
    let pod = "apiVersion: v1\nkind: Pod\nmetadata:\n  name: web\n  namespace: team\nspec:\n  serviceAccountName: deployer\n  containers:\n  - name: c\n    image: busybox\n";
    s.kubectl_in(&["apply", "-f", "-"], Some(pod.as_bytes())).ok();
    let bound = s
        .kubectl(&[
            "create",
            "token",
            "deployer",
            "-n",
            "team",
            "--bound-object-kind",
            "Pod",
            "--bound-object-name",
            "web",
        ])
        .ok();
    let bound = bound.trim();
    let who = s.curl(&["-H", &format!("Authorization: Bearer {bound}")], "/api/v1/namespaces/team/secrets");
    assert!(who.stdout.contains(r#""kind":"SecretList""#), "{}", who.stdout);
    s.kubectl(&["delete", "pod", "web", "-n", "team"]).ok();
    let denied = s.curl(&["-H", &format!("Authorization: Bearer {bound}")], "/api/v1/namespaces/team/secrets");
    assert!(denied.stdout.contains(r#""code":401"#), "{}", denied.stdout);
    // can-i: --as, --as-group, subresources, non-resource URLs, --list; whoami.
    let can = |args: &[&str]| s.kubectl(&[&["auth", "can-i"], args].concat()).stdout.trim().to_owned();
    assert_eq!(can(&["get", "secrets", "-n", "team", "--as", "system:serviceaccount:team:deployer"]), "yes");
    assert_eq!(can(&["delete", "secrets", "-n", "team", "--as", "system:serviceaccount:team:deployer"]), "no");
    assert_eq!(can(&["get", "secrets", "-n", "default", "--as", "system:serviceaccount:team:deployer"]), "no");
    assert_eq!(can(&["create", "serviceaccounts", "--subresource=token", "-n", "team"]), "yes");
    assert_eq!(can(&["get", "/healthz", "--as", "nobody"]), "yes");
    assert_eq!(can(&["get", "/metrics", "--as", "nobody"]), "no");
    assert_eq!(can(&["get", "/metrics", "--as", "nobody", "--as-group", "system:monitoring"]), "yes");
    let list =
        s.kubectl(&["auth", "can-i", "--list", "-n", "team", "--as", "system:serviceaccount:team:deployer"]).ok();
    assert!(list.lines().any(|l| l.starts_with("secrets ") && l.contains("[get list]")), "{list}");
    let whoami = s.kubectl(&["auth", "whoami", "--as", "alice", "--as-group", "devs"]).ok();
    assert!(whoami.contains("alice") && whoami.contains("devs") && whoami.contains("system:authenticated"), "{whoami}");
    // Impersonation itself is authorized: a service account cannot impersonate.
    let api_token = s.kubectl(&["create", "token", "deployer", "-n", "team"]).ok();
    let imp = s.curl(
        &["-H", &format!("Authorization: Bearer {}", api_token.trim()), "-H", "Impersonate-User: admin"],
        "/api/v1/namespaces",
    );
    assert!(imp.stdout.contains(r#"users \"admin\" is forbidden: User \"system:serviceaccount:team:deployer\" cannot impersonate resource \"users\" in API group \"\" at the cluster scope"#), "{}", imp.stdout);
}

#[test]
fn token_review_and_subject_access_review_for_webhooks() {
    require!(Tool::Kubectl, Tool::Curl);
    let (_d, s) = server(&[]);
    s.kubectl(&["create", "sa", "webhook"]).ok();
    s.kubectl(&[
        "create",
        "clusterrolebinding",
        "webhook",
        "--clusterrole=system:auth-delegator",
        "--serviceaccount=default:webhook",
    ])
    .ok();
    s.kubectl(&["create", "sa", "app"]).ok();
    let caller = s.kubectl(&["create", "token", "webhook"]).ok();
    let app = s.kubectl(&["create", "token", "app", "--audience", "vault"]).ok();
    let review = |token: &str, auds: &[&str]| {
        s.post_json(
            caller.trim(),
            "/apis/authentication.k8s.io/v1/tokenreviews",
            &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token, "audiences": auds}}),
        )
    };
    let ok = review(app.trim(), &["vault"]);
    assert_eq!(ok["status"]["authenticated"], true, "{ok}");
    assert_eq!(ok["status"]["user"]["username"], "system:serviceaccount:default:app");
    assert_eq!(ok["status"]["audiences"], json!(["vault"]));
    let wrong = review(app.trim(), &["other"]);
    assert_eq!(wrong["status"].get("authenticated"), None);
    assert!(wrong["status"]["error"].as_str().unwrap().contains("vault"), "names the audiences: {wrong}");
    let garbage = review("not-a-token", &[]);
    assert!(garbage["status"]["error"].is_string());
    let sar = s.post_json(
        caller.trim(),
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        &json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {"user": "system:serviceaccount:default:webhook", "groups": ["system:serviceaccounts"], "resourceAttributes": {"verb": "create", "group": "authentication.k8s.io", "resource": "tokenreviews"}}}),
    );
    assert_eq!(sar["status"]["allowed"], true, "{sar}");
    assert_eq!(
        sar["status"]["reason"],
        r#"RBAC: allowed by ClusterRoleBinding "webhook" of ClusterRole "system:auth-delegator" to ServiceAccount "webhook/default""#
    );
    let denied = s.post_json(
        caller.trim(),
        "/apis/authorization.k8s.io/v1/subjectaccessreviews",
        &json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "spec": {"user": "bob", "nonResourceAttributes": {"verb": "get", "path": "/metrics"}}}),
    );
    assert_eq!(denied["status"]["allowed"], false, "{denied}");
    // The app's token may not review tokens; without a credential: anonymous, forbidden.
    let forbidden =
        s.post_json(app.trim(), "/apis/authentication.k8s.io/v1/tokenreviews", &json!({"spec": {"token": "x"}}));
    assert_eq!(forbidden["code"], 401, "a vault-audience token is not valid for the API: {forbidden}");
    // OIDC discovery: service accounts may read it; anonymous may not.
    let oidc =
        s.curl(&["-H", &format!("Authorization: Bearer {}", caller.trim())], "/.well-known/openid-configuration");
    let doc: Value = serde_json::from_str(&oidc.stdout).unwrap();
    assert_eq!(doc["issuer"], "https://kubernetes.default.svc.cluster.local");
    let anon = s.curl(&[], "/openid/v1/jwks");
    assert!(anon.stdout.contains(r#""code":403"#), "{}", anon.stdout);
    let jwks = s.curl(&["-i", "-H", &format!("Authorization: Bearer {}", caller.trim())], "/openid/v1/jwks");
    assert!(jwks.stdout.contains("application/jwk-set+json"), "{}", jwks.stdout);
}

#[test]
fn bad_credentials_get_a_plain_401_and_never_anonymous() {
    require!(Tool::Curl);
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.log");
    let s = Server::start_in(&dir.path().join("data"), &["--audit-log-path", audit_path.to_str().unwrap()]);
    let plain = r#"{"apiVersion":"v1","code":401,"kind":"Status","message":"Unauthorized","metadata":{},"reason":"Unauthorized","status":"Failure"}"#;
    for header in ["Authorization: Bearer garbage", "Authorization: Bearer eyJhbGciOiJub25lIn0.e30."] {
        assert_eq!(s.curl(&["-H", header], "/healthz").stdout, plain, "{header}");
    }
    // As in kube-apiserver, another scheme or an empty bearer token is no credential: anonymous.
    for header in ["Authorization: Basic YTpi", "Authorization: Bearer "] {
        assert_eq!(s.curl(&["-H", header], "/healthz").stdout, "ok", "{header}");
    }
    let giant = format!("Authorization: Bearer {}", "a".repeat(60_000));
    assert_eq!(s.curl(&["-H", &giant], "/healthz").stdout, plain);
    assert_eq!(s.curl(&[], "/healthz").stdout, "ok", "no credential: anonymous may read /healthz");
    let audit = std::fs::read_to_string(&audit_path).unwrap();
    assert!(audit.contains("authentication.kauth.dev/failure"), "the reason goes to the audit log");
}

#[test]
fn acknowledged_writes_survive_kill_9() {
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Server::start_in(&data, &[]);
    for i in 0..15 {
        s.kubectl(&["create", "sa", &format!("sa-{i}")]).ok();
    }
    let before = yaml(&s, &["get", "sa"]);
    s.kill9();
    let s = Server::start_in(&data, &[]);
    let after = yaml(&s, &["get", "sa"]);
    assert_eq!(before["items"], after["items"]);
    assert_eq!(after["items"].as_array().unwrap().len(), 16);
}

#[test]
fn acknowledged_concurrent_writes_survive_kill_9_mid_write() {
    require!(Tool::Kubectl, Tool::Curl);
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::{Arc, Mutex};
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "static-admin-token,root,u-1,\"system:masters\"\n").unwrap();
    let flags = ["--token-auth-file", tokens.to_str().unwrap()];
    let s = Server::start_in(&data, &flags);
    let url = format!("{}/api/v1/namespaces/default/serviceaccounts", s.url);
    let ca = data.join("pki/ca.crt");
    // 16 writers create ServiceAccounts one after another (commits share transactions), each
    // noting the names the server acknowledged; the server is killed while they write.
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let writers: Vec<_> = (0..16)
        .map(|w| {
            let (url, ca, acknowledged, stop) = (url.clone(), ca.clone(), acknowledged.clone(), stop.clone());
            std::thread::spawn(move || {
                for i in 0.. {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let name = format!("w{w}-{i}");
                    let body =
                        format!(r#"{{"apiVersion":"v1","kind":"ServiceAccount","metadata":{{"name":"{name}"}}}}"#);
                    let out = std::process::Command::new("curl")
                        .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert", ca.to_str().unwrap()])
                        .args([
                            "-H",
                            "Authorization: Bearer static-admin-token",
                            "-H",
                            "Content-Type: application/json",
                        ])
                        .args(["--data-binary", &body, &url])
                        .output()
                        .unwrap();
                    if out.stdout == b"201" {
                        acknowledged.lock().unwrap().push(name);
                    }
                }
            })
        })
        .collect();
    while acknowledged.lock().unwrap().len() < 300 {
        std::thread::yield_now();
    }
    s.kill9();
    stop.store(true, Ordering::SeqCst);
    for w in writers {
        w.join().unwrap();
    }
    let s = Server::start_in(&data, &flags);
    let stored = s.kubectl(&["get", "sa", "-o", "name"]).ok();
    let stored: std::collections::BTreeSet<&str> =
        stored.lines().map(|l| l.trim_start_matches("serviceaccount/")).collect();
    let acknowledged = acknowledged.lock().unwrap();
    let lost: Vec<&String> = acknowledged.iter().filter(|n| !stored.contains(n.as_str())).collect();
    assert!(lost.is_empty(), "{} of {} acknowledged creates lost: {lost:?}", lost.len(), acknowledged.len());
}

#[test]
fn serve_reuses_the_pki_of_kauth_pki_init() {
    require!(Tool::Kubectl);
    // `kauth pki init` names the node (by default after the host); `kauth serve` on the same
    // directory keeps that PKI as it is instead of asking for another node name's SANs.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let init = common::kauth(&["pki", "init", "--dir", data.to_str().unwrap(), "--node-name", "cp-1"]);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let cert = std::fs::read(data.join("pki/apiserver.crt")).unwrap();
    let s = Server::start_in(&data, &[]);
    s.kubectl(&["create", "sa", "builder"]).ok();
    assert_eq!(yaml(&s, &["get", "sa", "builder"])["metadata"]["name"], "builder");
    assert_eq!(std::fs::read(data.join("pki/apiserver.crt")).unwrap(), cert, "the certificate is reused");
}

#[test]
fn legacy_token_secrets_static_tokens_and_escalation() {
    require!(Tool::Kubectl, Tool::Curl);
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, "static-admin-token,root,u-1,\"system:masters\"\nstatic-dev-token,dev,u-2,devs\n").unwrap();
    let s = Server::start_in(&dir.path().join("data"), &["--token-auth-file", tokens.to_str().unwrap()]);
    s.kubectl(&["create", "sa", "legacy"]).ok();
    let secret = "apiVersion: v1\nkind: Secret\nmetadata:\n  name: legacy-token\n  annotations:\n    kubernetes.io/service-account.name: legacy\ntype: kubernetes.io/service-account-token\n";
    s.kubectl_in(&["apply", "-f", "-"], Some(secret.as_bytes())).ok();
    let sec = yaml(&s, &["get", "secret", "legacy-token"]);
    use base64::Engine;
    let token = String::from_utf8(
        base64::engine::general_purpose::STANDARD.decode(sec["data"]["token"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let ns = String::from_utf8(
        base64::engine::general_purpose::STANDARD.decode(sec["data"]["namespace"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    assert_eq!(ns, "default");
    assert!(!sec["metadata"]["annotations"]["kubernetes.io/service-account.uid"].as_str().unwrap().is_empty());
    // The legacy token authenticates, and its use is recorded on the Secret.
    let review = s.post_json(
        "static-admin-token",
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        &json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}),
    );
    assert_eq!(review["status"]["userInfo"]["username"], "root");
    let who = s.post_json(
        &token,
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
        &json!({"kind": "SelfSubjectReview", "apiVersion": "authentication.k8s.io/v1"}),
    );
    assert_eq!(who["status"]["userInfo"]["username"], "system:serviceaccount:default:legacy", "{who}");
    let sec = yaml(&s, &["get", "secret", "legacy-token"]);
    assert!(sec["metadata"]["labels"]["kubernetes.io/legacy-token-last-used"].is_string(), "{sec}");
    // Deleting the ServiceAccount deletes its token Secret, and the token stops working at once.
    s.kubectl(&["delete", "sa", "legacy"]).ok();
    assert!(s.kubectl(&["get", "secret", "legacy-token"]).stderr.contains("not found"));
    let gone = s.curl(&["-H", &format!("Authorization: Bearer {token}")], "/api");
    assert!(gone.stdout.contains(r#""code":401"#), "{}", gone.stdout);
    // Escalation: "dev" may manage roles in "default" but not grant what it does not hold.
    // (`*` would include escalate and bind, which lift the check, as in Kubernetes.)
    s.kubectl(&[
        "create",
        "role",
        "role-admin",
        "--verb=create,get,list,update,delete",
        "--resource=roles,rolebindings",
    ])
    .ok();
    s.kubectl(&["create", "rolebinding", "dev-roles", "--role=role-admin", "--user=dev"]).ok();
    let ok = s.post_json("static-dev-token", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "ok"}, "rules": [{"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["roles"], "verbs": ["get"]}]}));
    assert_eq!(ok["kind"], "Role", "{ok}");
    let esc = s.post_json("static-dev-token", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/roles", &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role", "metadata": {"name": "steal"}, "rules": [{"apiGroups": [""], "resources": ["secrets"], "verbs": ["get"]}]}));
    assert_eq!(esc["code"], 403, "{esc}");
    assert!(
        esc["message"].as_str().unwrap().contains(r#"is attempting to grant RBAC permissions not currently held:"#),
        "{esc}"
    );
    assert!(
        esc["message"].as_str().unwrap().contains(r#"{APIGroups:[""], Resources:["secrets"], Verbs:["get"]}"#),
        "{esc}"
    );
    let bind = s.post_json("static-dev-token", "/apis/rbac.authorization.k8s.io/v1/namespaces/default/rolebindings", &json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding", "metadata": {"name": "b"}, "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "cluster-admin"}, "subjects": [{"kind": "User", "name": "dev"}]}));
    assert_eq!(bind["code"], 403, "binding cluster-admin needs its permissions or the bind verb: {bind}");
}

#[test]
fn bad_bodies_change_nothing() {
    require!(Tool::Kubectl);
    let (_d, s) = server(&[]);
    let rv = |s: &Server| yaml(s, &["get", "sa"])["metadata"]["resourceVersion"].clone();
    let before = rv(&s);
    // Through kubectl's raw client as the admin: each is a Status, nothing stored.
    let cases: &[(&str, &str)] = &[
        ("{not json", "json parse error"),
        (r#"{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}"#, "unknown conversion"),
        (r#"{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":"UPPER"}}"#, "is invalid"),
        (r#"{"apiVersion":"v1","kind":"ServiceAccount","metadata":{"name":5}}"#, "cannot be handled"),
        (r#"[]"#, "the object provided is unrecognized (must be of type ServiceAccount)"),
    ];
    for (body, text) in cases {
        let out = s.kubectl_in(
            &["create", "--raw", "/api/v1/namespaces/default/serviceaccounts", "-f", "-"],
            Some(body.as_bytes()),
        );
        assert_ne!(out.code, 0, "{body}");
        assert!(out.stderr.contains(text), "{body}: {}", out.stderr);
    }
    let big = format!(
        r#"{{"apiVersion":"v1","kind":"ServiceAccount","metadata":{{"name":"big","annotations":{{"a":"{}"}}}}}}"#,
        "x".repeat(4 << 20)
    );
    let path = s.dir.parent().unwrap().join("big.json");
    std::fs::write(&path, big).unwrap();
    let out =
        s.kubectl(&["create", "--raw", "/api/v1/namespaces/default/serviceaccounts", "-f", path.to_str().unwrap()]);
    assert!(out.stderr.contains("Request entity too large"), "{}", out.stderr);
    assert_eq!(rv(&s), before, "the store is unchanged");
}

#[test]
fn bad_client_certificates_get_a_plain_401_and_a_valid_token_still_works() {
    require!(Tool::Kubectl, Tool::Curl);
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.log");
    let s = Server::start_in(&dir.path().join("data"), &["--audit-log-path", audit_path.to_str().unwrap()]);
    let plain = r#"{"apiVersion":"v1","code":401,"kind":"Status","message":"Unauthorized","metadata":{},"reason":"Unauthorized","status":"Failure"}"#;
    // A second cluster's PKI: its CA is also "CN=kubernetes", but it is not this server's.
    let other = dir.path().join("other");
    let init = common::kauth_in(&["pki", "init", "--dir", other.to_str().unwrap(), "--node-name", "elsewhere"], None);
    assert_eq!(init.code, 0, "{}", init.stderr);
    let pki = |root: &std::path::Path, name: &str| {
        let p = |ext: &str| root.join(format!("pki/{name}.{ext}")).to_str().unwrap().to_owned();
        (p("crt"), p("key"))
    };
    let cases = [
        ("foreign CA", pki(&other, "apiserver-kubelet-client"), "certificate_unknown_authority"),
        ("serverAuth only", pki(&s.dir, "apiserver"), "certificate_wrong_usage"),
        ("front-proxy CA", pki(&s.dir, "front-proxy-client"), "certificate_unknown_authority"),
    ];
    for (what, (cert, key), _) in &cases {
        let out = s.curl(&["--cert", cert, "--key", key], "/api/v1/namespaces");
        assert_eq!(out.stdout, plain, "{what}: the handshake succeeds and the request gets the plain 401");
        // Not anonymous either, even where anonymous may read.
        assert_eq!(s.curl(&["--cert", cert, "--key", key], "/healthz").stdout, plain, "{what}");
    }
    // The operator learns exactly why, per certificate.
    let audit = std::fs::read_to_string(&audit_path).unwrap();
    for (what, (cert, _), _) in &cases {
        let cn =
            kauth::pki::cert::CertInfo::from_pem(cert, &std::fs::read(cert).unwrap()).unwrap().common_name.unwrap();
        let named = format!("CN={cn}");
        assert!(
            audit.lines().any(|l| l.contains("x509: verifying certificate") && l.contains(&named)),
            "{what}: {cn} named in the audit log: {audit}"
        );
    }
    assert!(audit.contains("UnknownIssuer") || audit.contains("BadSignature"), "{audit}");
    assert!(audit.contains("client authentication"), "the EKU problem is named: {audit}");

    // A bad certificate with a valid bearer token: the token's user, as kube-apiserver's union.
    s.kubectl(&["create", "namespace", "team"]).ok();
    s.kubectl(&["-n", "team", "create", "serviceaccount", "builder"]).ok();
    let token = s.kubectl(&["-n", "team", "create", "token", "builder"]).ok();
    let (cert, key) = &cases[0].1;
    let auth = format!("Authorization: Bearer {}", token.trim());
    let who = s.curl(
        &[
            "--cert",
            cert,
            "--key",
            key,
            "-X",
            "POST",
            "-H",
            &auth,
            "-H",
            "Content-Type: application/json",
            "--data-binary",
            r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#,
        ],
        "/apis/authentication.k8s.io/v1/selfsubjectreviews",
    );
    let who: Value = serde_json::from_str(&who.stdout).unwrap();
    assert_eq!(who["status"]["userInfo"]["username"], "system:serviceaccount:team:builder");
    // And a good certificate (admin.conf's) is the certificate's user.
    assert_eq!(yaml(&s, &["auth", "whoami"])["status"]["userInfo"]["username"], "kubernetes-admin");
}

#[test]
fn keys_on_the_embedded_store_are_the_files_and_rotation_says_how() {
    require!(Tool::Kubectl);
    let (_d, s) = server(&[]);
    let kubeconfig = s.dir.join("admin.conf");
    let kc = kubeconfig.to_str().unwrap();
    let list = common::kauth_in(&["keys", "list", "--kubeconfig", kc], None);
    assert_eq!(list.code, 0, "{}", list.stderr);
    let jwks: Value = serde_json::from_str(&s.kubectl(&["get", "--raw", "/openid/v1/jwks"]).ok()).unwrap();
    let kid = jwks["keys"][0]["kid"].as_str().unwrap();
    assert!(list.stdout.lines().nth(1).unwrap().starts_with(kid) && list.stdout.contains("Signing"), "{}", list.stdout);
    let rotate = common::kauth_in(&["keys", "rotate", "--kubeconfig", kc], None);
    assert_eq!(rotate.code, 1);
    assert!(
        rotate.stderr.contains("HTTP 400: key rotation needs the shared key ring of kauth on etcd"),
        "{}",
        rotate.stderr
    );
    // Only who may (cluster-admin's nonResourceURLs "*"): a service account may not.
    s.kubectl(&["create", "serviceaccount", "nobody"]).ok();
    let denied = s.kubectl(&["get", "--raw", "/kauth/v1/keys", "--as", "system:serviceaccount:default:nobody"]);
    assert!(denied.stderr.contains("Forbidden") || denied.stderr.contains("forbidden"), "{}", denied.stderr);
}

#[test]
fn kubectl_prints_an_invalid_access_review_as_for_kube_apiserver() {
    require!(Tool::Kubectl);
    let (_d, s) = server(&[]);
    // The Status names no kind (as kube-apiserver's), so kubectl says "The request is invalid".
    let sar = "apiVersion: authorization.k8s.io/v1\nkind: SubjectAccessReview\nspec:\n  resourceAttributes: {verb: get, resource: pods}\n";
    let out = s.kubectl_in(&["create", "-f", "-"], Some(sar.as_bytes()));
    assert_ne!(out.code, 0);
    assert_eq!(
        out.stderr.trim(),
        "The request is invalid: spec.user: Invalid value: \"\": at least one of user or group must be specified"
    );
}
