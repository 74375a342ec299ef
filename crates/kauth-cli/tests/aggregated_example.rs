//! The example aggregated API server (`examples/aggregated-server`, on `kauth-delegation`)
//! against `kauth serve` as the cluster, driven by curl: it reads the front proxy's trust from
//! `kube-system/extension-apiserver-authentication`; `kauth pki`'s front-proxy-client
//! certificate names users in `X-Remote-*` headers and RBAC decides (SubjectAccessReview); a
//! front-proxy-CA certificate with another CN is refused; bearer tokens are delegated
//! (TokenReview); a client's forged `X-Remote-User` never reaches the handler; `/healthz` is
//! open.
#![allow(clippy::unwrap_used)]

mod common;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Command;

use common::server::Server;
use common::tools::{require, Tool};
use serde_json::Value;

const FLUNDERS: &str = "/apis/wardle.example.com/v1alpha1/namespaces/team-a/flunders";

fn pki(s: &Server, name: &str) -> String {
    s.dir.join("pki").join(name).to_str().unwrap().to_owned()
}

fn start_example(s: &Server) -> SocketAddr {
    let options = aggregated_server::Options {
        kubeconfig: Some(s.dir.join("admin.conf")),
        tls_cert_file: pki(s, "apiserver.crt").into(),
        tls_private_key_file: pki(s, "apiserver.key").into(),
        listen: "127.0.0.1:0".parse().unwrap(),
    };
    let (ready, bound) = tokio::sync::oneshot::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        let result = rt.block_on(aggregated_server::run(options, ready));
        panic!("the example server stopped: {result:?}");
    });
    tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(bound).unwrap()
}

/// (HTTP code, JSON body or text).
fn curl(s: &Server, url: &str, args: &[&str]) -> (u16, Value) {
    let out = Command::new("curl")
        .args(["-sS", "--cacert", &pki(s, "ca.crt"), "-w", "\n%{http_code}"])
        .args(args)
        .arg(url)
        .output()
        .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    let (body, code) =
        text.rsplit_once('\n').unwrap_or_else(|| panic!("{text} {}", String::from_utf8_lossy(&out.stderr)));
    (code.parse().unwrap(), serde_json::from_str(body).unwrap_or(Value::String(body.to_owned())))
}

/// A client certificate for `cn`, signed by the front-proxy CA.
fn front_proxy_cert(s: &Server, dir: &Path, cn: &str) -> (String, String) {
    let key = dir.join(format!("{cn}.key"));
    let csr = dir.join(format!("{cn}.csr"));
    let crt = dir.join(format!("{cn}.crt"));
    let ext = dir.join("ext.cnf");
    std::fs::write(&ext, "extendedKeyUsage=clientAuth\nkeyUsage=digitalSignature,keyEncipherment\n").unwrap();
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).output().unwrap();
        assert!(out.status.success(), "openssl {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    };
    let s_ = |p: &Path| p.to_str().unwrap().to_owned();
    run(&[
        "req",
        "-new",
        "-newkey",
        "rsa:2048",
        "-nodes",
        "-keyout",
        &s_(&key),
        "-out",
        &s_(&csr),
        "-subj",
        &format!("/CN={cn}"),
    ]);
    run(&[
        "x509",
        "-req",
        "-in",
        &s_(&csr),
        "-CA",
        &pki(s, "front-proxy-ca.crt"),
        "-CAkey",
        &pki(s, "front-proxy-ca.key"),
        "-CAcreateserial",
        "-days",
        "1",
        "-extfile",
        &s_(&ext),
        "-out",
        &s_(&crt),
    ]);
    (s_(&crt), s_(&key))
}

#[test]
fn the_example_trusts_the_front_proxy_and_delegates_tokens_and_decisions() {
    require!(Tool::Curl);
    require!(Tool::Kubectl);
    require!(Tool::Openssl);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    let apply = |yaml: &str| s.kubectl_in(&["apply", "-f", "-"], Some(yaml.as_bytes())).ok();
    s.kubectl(&["create", "namespace", "team-a"]).ok();
    s.kubectl(&["create", "serviceaccount", "reader"]).ok();
    s.kubectl(&["create", "serviceaccount", "nobody"]).ok();
    apply(
        r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: flunder-reader}
rules:
- apiGroups: [wardle.example.com]
  resources: [flunders]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: flunder-readers, namespace: team-a}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: flunder-reader}
subjects:
- {kind: Group, name: wardle-readers, apiGroup: rbac.authorization.k8s.io}
- {kind: ServiceAccount, name: reader, namespace: default}
"#,
    );
    let reader = s.kubectl(&["create", "token", "reader"]).ok().trim().to_owned();
    let nobody = s.kubectl(&["create", "token", "nobody"]).ok().trim().to_owned();
    let addr = start_example(&s);
    let url = |p: &str| format!("https://{addr}{p}");
    let (proxy_crt, proxy_key) = (pki(&s, "front-proxy-client.crt"), pki(&s, "front-proxy-client.key"));
    let as_proxy = |headers: &[&str]| {
        let mut args = vec!["--cert", proxy_crt.as_str(), "--key", proxy_key.as_str()];
        for h in headers {
            args.extend(["-H", *h]);
        }
        curl(&s, &url(FLUNDERS), &args)
    };

    // The aggregator's certificate names alice in group wardle-readers: RBAC allows her.
    let (code, body) = as_proxy(&["X-Remote-User: alice", "X-Remote-Group: wardle-readers"]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["items"][0]["spec"]["requestedBy"], "alice");
    assert_eq!(body["items"][0]["spec"]["xRemoteUserSeen"], Value::Null, "identity headers reach the handler: {body}");
    // bob has no binding: Kubernetes' 403 Status, with the SubjectAccessReview's question.
    let (code, body) = as_proxy(&["X-Remote-User: bob"]);
    assert_eq!(code, 403, "{body}");
    assert_eq!(
        body["message"],
        r#"flunders.wardle.example.com is forbidden: User "bob" cannot list resource "flunders" in API group "wardle.example.com" in the namespace "team-a""#
    );
    assert_eq!(body["details"], serde_json::json!({"group": "wardle.example.com", "kind": "flunders"}), "{body}");
    // The trusted certificate with no user header names no one.
    assert_eq!(as_proxy(&[]).0, 401);

    // A front-proxy-CA certificate whose CN is not allowed is not the front proxy.
    let (crt, key) = front_proxy_cert(&s, dir.path(), "intruder");
    let (code, body) = curl(
        &s,
        &url(FLUNDERS),
        &["--cert", &crt, "--key", &key, "-H", "X-Remote-User: alice", "-H", "X-Remote-Group: wardle-readers"],
    );
    assert_eq!((code, body["message"].as_str()), (401, Some("Unauthorized")), "{body}");

    // Bearer tokens go to TokenReview; a forged X-Remote-User beside one is stripped.
    let auth = format!("Authorization: Bearer {reader}");
    let (code, body) = curl(&s, &url(FLUNDERS), &["-H", &auth, "-H", "X-Remote-User: alice"]);
    assert_eq!(code, 200, "{body}");
    assert_eq!(body["items"][0]["spec"]["requestedBy"], "system:serviceaccount:default:reader");
    assert_eq!(body["items"][0]["spec"]["xRemoteUserSeen"], Value::Null, "{body}");
    let (code, _) = curl(&s, &url(FLUNDERS), &["-H", &format!("Authorization: Bearer {nobody}")]);
    assert_eq!(code, 403);
    let (code, _) = curl(&s, &url(FLUNDERS), &["-H", "Authorization: Bearer nonsense"]);
    assert_eq!(code, 401);

    // Health is always allowed, without any credential.
    let (code, body) = curl(&s, &url("/healthz"), &[]);
    assert_eq!((code, body), (200, Value::String("ok".into())));
    // Discovery is an ordinary non-resource path: anonymous is refused.
    assert_eq!(curl(&s, &url("/apis/wardle.example.com/v1alpha1"), &[]).0, 401);

    // The trust is watched: allowing only "intruder" as the front proxy applies to the next
    // requests, with no restart and no periodic re-read.
    let patch = r#"{"data":{"requestheader-allowed-names":"[\"intruder\"]"}}"#;
    s.kubectl(&["-n", "kube-system", "patch", "configmap", "extension-apiserver-authentication", "-p", patch]).ok();
    let intruder = || {
        curl(
            &s,
            &url(FLUNDERS),
            &["--cert", &crt, "--key", &key, "-H", "X-Remote-User: alice", "-H", "X-Remote-Group: wardle-readers"],
        )
        .0
    };
    let mut code = 0;
    for _ in 0..100 {
        code = intruder();
        if code == 200 {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
    assert_eq!(code, 200, "the changed allowed names reached the example");
    assert_eq!(
        as_proxy(&["X-Remote-User: alice", "X-Remote-Group: wardle-readers"]).0,
        401,
        "the old name is no longer the proxy"
    );
}
