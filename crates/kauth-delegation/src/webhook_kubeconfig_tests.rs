//! The webhook kubeconfig's loading errors, each with clientcmd's text first.
#![allow(clippy::unwrap_used)]

use super::*;

fn write(dir: &Path, yaml: &str) -> PathBuf {
    let p = dir.join("webhook.yaml");
    std::fs::write(&p, yaml).unwrap();
    p
}

const GOOD: &str = "apiVersion: v1
kind: Config
clusters:
- name: authn
  cluster:
    server: https://127.0.0.1:9443/authenticate
    certificate-authority: ca.crt
users:
- name: apiserver
  user:
    token: secret-token
contexts:
- name: webhook
  context: {cluster: authn, user: apiserver}
current-context: webhook
";

#[test]
fn a_good_file_names_the_url_the_ca_and_the_credential() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.crt"), CA).unwrap();
    let s = load(&write(dir.path(), GOOD)).unwrap();
    assert_eq!(s.server, "https://127.0.0.1:9443/authenticate");
    assert_eq!(s.ca_pem.as_deref(), Some(CA.as_bytes()), "relative to the kubeconfig's directory");
    assert_eq!(s.bearer.as_deref(), Some("secret-token"));
    assert_eq!(s.timeout, Duration::from_secs(30), "kube-apiserver's webhook request timeout");
    assert!(!format!("{s:?}").contains("secret-token"), "the token never in Debug");
}

/// A certificate as PEM (any will do: only its shape is read here).
const CA: &str = "-----BEGIN CERTIFICATE-----\nMIIBszCCAVmgAwIBAgIUR0bR3Hb2vVj0mOeGZ0n0kA3Gf5MwCgYIKoZIzj0EAwIw\n-----END CERTIFICATE-----\n";

#[test]
fn a_ca_without_a_certificate_is_client_go_s_error() {
    let dir = tempfile::tempdir().unwrap();
    for (text, kube) in [
        ("not pem at all", "unable to parse bytes as PEM block"),
        ("-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n", "no valid certificate authority data seen"),
    ] {
        std::fs::write(dir.path().join("ca.crt"), text).unwrap();
        let e = load(&write(dir.path(), GOOD)).unwrap_err();
        assert_eq!(e.kubernetes, kube, "{e}");
    }
}

#[test]
fn a_missing_file_is_stat_s_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = dir.path().join("nope.yaml");
    let e = load(&p).unwrap_err();
    assert_eq!(e.kubernetes, format!("stat {}: no such file or directory", p.display()));
    assert!(e.to_string().contains("; kauth: the webhook's kubeconfig does not exist"), "{e}");
}

#[test]
fn a_file_that_is_not_a_kubeconfig_is_a_loading_error() {
    let dir = tempfile::tempdir().unwrap();
    let p = write(dir.path(), "clusters: [oops");
    let e = load(&p).unwrap_err();
    assert!(e.kubernetes.starts_with(&format!("error loading config file \"{}\": ", p.display())), "{e}");
}

#[test]
fn no_current_context_is_no_configuration() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("ca.crt"), CA).unwrap();
    let e = load(&write(dir.path(), &GOOD.replace("current-context: webhook", ""))).unwrap_err();
    assert_eq!(
        e.kubernetes,
        "invalid configuration: no configuration has been provided, try setting KUBERNETES_MASTER environment variable"
    );
    assert!(e.reason.contains("no current-context"), "{e}");
    let e = load(&write(dir.path(), "apiVersion: v1\nkind: Config\n")).unwrap_err();
    assert!(e.kubernetes.starts_with("invalid configuration: no configuration has been provided"), "{e}");
}

#[test]
fn an_unknown_context_is_clientcmd_s_aggregate() {
    let dir = tempfile::tempdir().unwrap();
    let e = load(&write(dir.path(), &GOOD.replace("current-context: webhook", "current-context: other"))).unwrap_err();
    assert_eq!(
        e.kubernetes,
        "invalid configuration: [context was not found for specified context: other, cluster has no server defined]"
    );
}

#[test]
fn a_cluster_without_server_and_unreadable_files_are_each_named() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = GOOD
        .replace("    server: https://127.0.0.1:9443/authenticate\n", "")
        .replace("    token: secret-token", "    client-certificate: client.crt");
    let e = load(&write(dir.path(), &yaml)).unwrap_err();
    let ca = dir.path().join("ca.crt");
    let cert = dir.path().join("client.crt");
    assert_eq!(
        e.kubernetes,
        format!(
            "invalid configuration: [client-key-data or client-key must be specified for apiserver to use the clientCert authentication method., \
             unable to read client-cert {c} for apiserver due to open {c}: no such file or directory, \
             no server found for cluster \"authn\", \
             unable to read certificate-authority {a} for authn due to open {a}: no such file or directory]",
            c = cert.display(),
            a = ca.display()
        )
    );
}

#[test]
fn insecure_skip_tls_verify_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let yaml = GOOD.replace("    certificate-authority: ca.crt", "    insecure-skip-tls-verify: true");
    let e = load(&write(dir.path(), &yaml)).unwrap_err();
    assert!(e.reason.contains("certificate-authority"), "{e}");
}
