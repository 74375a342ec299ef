//! A front proxy in front of `kauth serve`, through HTTPS with curl and kubectl: kauth pki's
//! front-proxy-client certificate names users, groups and extras in headers; an ordinary client
//! certificate's headers are ignored; a trusted proxy that names no one is refused and explained;
//! the trust ConfigMap says what the flags say.
#![allow(clippy::unwrap_used)]

mod common;

use common::server::Server;
use common::tools::{require, Tool};
use serde_json::{json, Value};

const WHOAMI: &str = "/apis/authentication.k8s.io/v1/selfsubjectreviews";

fn whoami(s: &Server, args: &[&str]) -> Value {
    let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"}).to_string();
    let mut all = vec!["-X", "POST", "-H", "Content-Type: application/json", "--data-binary", &body];
    all.extend_from_slice(args);
    let out = s.curl(&all, WHOAMI);
    serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {} {}", out.stdout, out.stderr))
}

fn pki(s: &Server, name: &str) -> String {
    s.dir.join("pki").join(name).to_str().unwrap().to_owned()
}

#[test]
fn a_front_proxy_names_users_and_nothing_else_can() {
    require!(Tool::Curl);
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let audit_path = dir.path().join("audit.log");
    let s = Server::start_in(&dir.path().join("data"), &["--audit-log-path", audit_path.to_str().unwrap()]);
    let (proxy_crt, proxy_key) = (pki(&s, "front-proxy-client.crt"), pki(&s, "front-proxy-client.key"));
    let proxy = ["--cert", proxy_crt.as_str(), "--key", proxy_key.as_str()];

    let mut args = proxy.to_vec();
    args.extend([
        "-H",
        "X-Remote-User: alice",
        "-H",
        "x-remote-uid: 1001",
        "-H",
        "X-Remote-Group: dev",
        "-H",
        "X-Remote-Group: ops",
        "-H",
        "X-Remote-Extra-Example.com%2fTeam: blue",
    ]);
    let review = whoami(&s, &args);
    assert_eq!(
        review["status"]["userInfo"],
        json!({
            "username": "alice",
            "groups": ["dev", "ops", "system:authenticated"],
            "extra": {"example.com/team": ["blue"]}
        }),
        "kubeadm's names read no uid header: {review}"
    );

    // An ordinary client certificate is its own user: the headers it sends are ignored.
    let (admin_crt, admin_key) = admin_identity(&s, dir.path());
    let review = whoami(
        &s,
        &["--cert", admin_crt.to_str().unwrap(), "--key", admin_key.to_str().unwrap(), "-H", "X-Remote-User: mallory"],
    );
    assert_eq!(review["status"]["userInfo"]["username"], "kubernetes-admin", "{review}");

    // A trusted proxy that names no one: the plain 401, and the reason in the audit event.
    let mut args = proxy.to_vec();
    args.extend(["-H", "X-Remote-Group: dev"]);
    let refused = whoami(&s, &args);
    assert_eq!(refused["code"], 401, "{refused}");
    assert_eq!(refused["message"], "Unauthorized");
    let audit = std::fs::read_to_string(&audit_path).unwrap();
    assert!(
        audit.contains(r#"front proxy \"front-proxy-client\" is trusted, but the request has no user: none of the headers [\"X-Remote-User\"] has a value"#),
        "{audit}"
    );
    assert!(
        audit.contains("verifying certificate SN="),
        "kube-apiserver's text for the client CA's verdict comes first: {audit}"
    );

    // The trust ConfigMap aggregated API servers read.
    let cm: Value = serde_json::from_str(
        &s.kubectl(&["get", "configmap", "-n", "kube-system", "extension-apiserver-authentication", "-o", "json"]).ok(),
    )
    .unwrap();
    let data = &cm["data"];
    assert_eq!(data["client-ca-file"], std::fs::read_to_string(pki(&s, "ca.crt")).unwrap());
    assert_eq!(data["requestheader-client-ca-file"], std::fs::read_to_string(pki(&s, "front-proxy-ca.crt")).unwrap());
    assert_eq!(data["requestheader-allowed-names"], r#"["front-proxy-client"]"#);
    assert_eq!(data["requestheader-username-headers"], r#"["X-Remote-User"]"#);
    assert_eq!(data["requestheader-uid-headers"], "[]");
    assert_eq!(data["requestheader-group-headers"], r#"["X-Remote-Group"]"#);
    assert_eq!(data["requestheader-extra-headers-prefix"], r#"["X-Remote-Extra-"]"#);
}

#[test]
fn a_front_proxy_ca_reused_as_client_ca_lets_an_allowed_client_certificate_name_anyone() {
    require!(Tool::Curl);
    // Seed 003's trap, reproduced on purpose: the client CA trusted as request-header CA, any CN
    // allowed. kauth warns at start (see the log); here, what it means.
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let first = Server::start_in(&data, &[]);
    let ca = first.dir.join("pki/ca.crt");
    drop(first);
    let s = Server::start_in(
        &data,
        &["--requestheader-client-ca-file", ca.to_str().unwrap(), "--requestheader-username-headers", "X-Remote-User"],
    );
    let (admin_crt, admin_key) = admin_identity(&s, dir.path());
    let review = whoami(
        &s,
        &["--cert", admin_crt.to_str().unwrap(), "--key", admin_key.to_str().unwrap(), "-H", "X-Remote-User: mallory"],
    );
    assert_eq!(review["status"]["userInfo"]["username"], "mallory", "{review}");
}

/// admin.conf's client certificate and key, written as files in `dir` for curl.
fn admin_identity(s: &Server, dir: &std::path::Path) -> (std::path::PathBuf, std::path::PathBuf) {
    use base64::Engine;
    let kubeconfig: Value =
        serde_norway::from_str(&std::fs::read_to_string(s.dir.join("admin.conf")).unwrap()).unwrap();
    let user = &kubeconfig["users"][0]["user"];
    let (crt, key) = (dir.join("admin.crt"), dir.join("admin.key"));
    for (path, field) in [(&crt, "client-certificate-data"), (&key, "client-key-data")] {
        let der = base64::engine::general_purpose::STANDARD.decode(user[field].as_str().unwrap()).unwrap();
        std::fs::write(path, der).unwrap();
    }
    (crt, key)
}
