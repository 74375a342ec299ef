//! The `kauth` binary as users run it: output, exit codes (0 ok, 1 unsound, 2 bad input), and
//! one clear line for every kind of bad input, never a panic.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

mod common;

use common::tools::{require, Tool};
use common::{kauth, kauth_in, s, Run};

/// A fresh PKI (ECDSA, for speed) in a temp dir.
fn pki() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let r = kauth(&["pki", "init", "--dir", s(dir.path()), "--node-name", "cp-1", "--key-type", "ecdsa-p256"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    dir
}

/// Asserts a bad-input failure: exit 2 and exactly one line on stderr, which contains `needle`.
fn assert_bad_input(r: &Run, needle: &str) {
    assert_eq!(r.code, 2, "stdout: {} stderr: {}", r.stdout, r.stderr);
    assert_eq!(r.stderr.lines().count(), 1, "{}", r.stderr);
    assert!(r.stderr.contains(needle), "expected {needle:?} in {:?}", r.stderr);
}

#[test]
fn init_reports_then_keeps() {
    let dir = pki();
    let r = kauth(&["pki", "init", "--dir", s(dir.path()), "--node-name", "cp-1", "--key-type", "ecdsa-p256"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("[pki] Using existing \"ca\" certificate and key: pki/ca.crt, pki/ca.key"),
        "{}",
        r.stdout
    );
    let r = kauth(&["pki", "init", "--dir", s(dir.path()), "--node-name", "cp-2", "--key-type", "ecdsa-p256"]);
    assert_eq!(r.code, 1, "a different node name conflicts with the existing certs");
    assert!(r.stderr.starts_with("kauth: pki/apiserver.crt: missing SANs DNS:cp-2"), "{}", r.stderr);
}

#[test]
fn check_table_json_window_and_missing_dir() {
    let dir = pki();
    let r = kauth(&["pki", "check", "--dir", s(dir.path())]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let header = r.stdout.lines().next().unwrap();
    assert!(
        header.starts_with("CERTIFICATE")
            && header.contains("RESIDUAL TIME")
            && header.contains("CERTIFICATE AUTHORITY")
    );
    assert!(
        r.stdout.lines().any(|l| l.starts_with("apiserver ") && l.contains("364d") && l.contains(" ca ")),
        "{}",
        r.stdout
    );
    let r = kauth(&["pki", "check", "--dir", s(dir.path()), "--warn-within", "400d", "-o", "json"]);
    assert_eq!(r.code, 1, "everything expires within 400 days");
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["certificates"].as_array().unwrap().len(), 12);
    assert_eq!(v["certificates"][0]["status"], "expires-soon");
    let r = kauth(&["pki", "check", "--dir", s(dir.path()), "--at", "2099-01-01T00:00:00Z"]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.contains("<invalid>"), "{}", r.stdout);
    let missing = dir.path().join("nope");
    assert_bad_input(&kauth(&["pki", "check", "--dir", s(&missing)]), "no such directory");
}

#[test]
fn verify_ok_then_findings_then_expired_ca() {
    let dir = pki();
    let r = kauth(&["pki", "verify", "--dir", s(dir.path())]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.starts_with("PKI in "));
    let pki = dir.path().join("pki");
    let r = kauth(&[
        "pki",
        "verify",
        "--dir",
        s(dir.path()),
        "--client-ca-file",
        s(&pki.join("ca.crt")),
        "--requestheader-client-ca-file",
        s(&pki.join("ca.crt")),
    ]);
    assert_eq!(r.code, 1);
    assert_eq!(r.stdout.lines().count(), 1, "{}", r.stdout);
    assert!(r.stdout.contains("share the CA") && r.stdout.contains("; fix: point --requestheader-client-ca-file"));
    let r = kauth(&["pki", "verify", "--dir", s(dir.path()), "--at", "2040-01-01T00:00:00Z", "-o", "json"]);
    assert_eq!(r.code, 1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert!(v
        .as_array()
        .unwrap()
        .iter()
        .any(|f| f["file"] == "pki/ca.crt" && f["problem"].as_str().unwrap().starts_with("CA expired")));
}

#[test]
fn renew_one_and_unknown_name() {
    let dir = pki();
    let r = kauth(&["pki", "renew", "apiserver", "admin.conf", "--dir", s(dir.path())]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert_eq!(r.stdout.lines().count(), 2);
    assert!(r.stdout.starts_with("[renew] apiserver (pki/apiserver.crt): renewed, now valid until"));
    assert_bad_input(&kauth(&["pki", "renew", "apiservr", "--dir", s(dir.path())]), "unknown certificate \"apiservr\"");
}

#[test]
fn bad_options_are_usage_errors() {
    let dir = tempfile::tempdir().unwrap();
    let r = kauth(&["pki", "init", "--dir", s(dir.path()), "--key-type", "dsa-1024"]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("is not one of rsa-2048, rsa-3072, rsa-4096, ecdsa-p256"), "{}", r.stderr);
    assert_bad_input(
        &kauth(&["pki", "init", "--dir", s(dir.path()), "--service-cidr", "10.96.0.0"]),
        "invalid service CIDR",
    );
    assert_bad_input(&kauth(&["pki", "init", "--dir", s(dir.path()), "--node-name", "Bad_Node"]), "invalid node name");
    assert_bad_input(
        &kauth(&["pki", "init", "--dir", s(dir.path()), "--apiserver-cert-extra-sans", "ok.example.com,not a name"]),
        "invalid SAN: \"not a name\"",
    );
    // Nothing was written by any of those.
    assert_eq!(std::fs::read_dir(dir.path()).unwrap().count(), 0);
}

#[test]
fn init_into_an_unwritable_place_is_one_line() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("file");
    std::fs::write(&file, b"x").unwrap();
    let r = kauth(&["pki", "init", "--dir", s(&file.join("sub")), "--key-type", "ecdsa-p256"]);
    assert_bad_input(&r, "create directory");
}

#[test]
fn inspect_explains_certificates_in_kubernetes_terms() {
    let dir = pki();
    let pki = dir.path().join("pki");
    let r = kauth(&["cert", "inspect", s(&pki.join("apiserver-kubelet-client.crt"))]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("authenticates as user \"kube-apiserver-kubelet-client\" in groups [\"system:masters\"]"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("usable for:   client auth"));
    assert!(r.stdout.contains("note:         group system:masters: every request is allowed before RBAC runs"));
    let r = kauth(&["cert", "inspect", s(&pki.join("apiserver.crt")), "--ca", s(&pki.join("ca.crt"))]);
    assert_eq!(r.code, 0);
    assert!(r.stdout.contains("serves:       cp-1, kubernetes, kubernetes.default"), "{}", r.stdout);
    assert!(r.stdout.contains("chain:        verified, signed by CN=kubernetes"), "{}", r.stdout);
    let r = kauth(&["cert", "inspect", s(&pki.join("apiserver.crt")), "--ca", s(&pki.join("front-proxy-ca.crt"))]);
    assert_eq!(r.code, 1, "a chain that does not verify is a finding");
    assert!(
        r.stdout
            .contains("chain:        NOT VERIFIED: issued by \"CN=kubernetes\", not by the CA \"CN=front-proxy-ca\""),
        "{}",
        r.stdout
    );
    let r = kauth(&["cert", "inspect", s(&pki.join("ca.crt")), "--at", "2040-01-01T00:00:00Z"]);
    assert!(r.stdout.contains("EXPIRED"), "{}", r.stdout);
    // A chain file: leaf then CA; the leaf verifies against the next certificate.
    let chain = dir.path().join("chain.pem");
    let mut data = std::fs::read(pki.join("etcd/server.crt")).unwrap();
    data.extend(std::fs::read(pki.join("etcd/ca.crt")).unwrap());
    std::fs::write(&chain, data).unwrap();
    let r = kauth(&["cert", "inspect", s(&chain), "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v.as_array().unwrap().len(), 2);
    assert_eq!(v[0]["type"], "certificate");
    assert_eq!(v[0]["chain"]["verified"], true);
    assert_eq!(v[0]["serves"][1], "localhost");
    // Standard input and a kubeconfig.
    let r = kauth_in(&["cert", "inspect", "-"], Some(&std::fs::read(dir.path().join("kubelet.conf")).unwrap()));
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("authenticates as user \"system:node:cp-1\" in groups [\"system:nodes\"]"),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("the kubelet identity of node \"cp-1\""));
    assert!(!r.stdout.contains("PRIVATE"), "key material must never be printed");
}

#[test]
fn inspect_reads_der_and_csrs() {
    require!(Tool::Openssl);
    let dir = pki();
    let pki = dir.path().join("pki");
    let der = dir.path().join("ca.der");
    let st = Command::new("openssl")
        .args(["x509", "-in", s(&pki.join("ca.crt")), "-outform", "DER", "-out", s(&der)])
        .status()
        .unwrap();
    assert!(st.success());
    let r = kauth(&["cert", "inspect", s(&der)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(
        r.stdout.contains("Certificate CN=kubernetes") && r.stdout.contains("a CA (self-signed root)"),
        "{}",
        r.stdout
    );
    // DER where PEM is expected (a CA bundle must be PEM, as kube-apiserver's --client-ca-file).
    let r = kauth(&["cert", "inspect", s(&pki.join("apiserver.crt")), "--ca", s(&der)]);
    assert_bad_input(&r, "contains DER (binary) data where PEM was expected");
    // A CSR made by openssl for a user in two groups.
    let csr = dir.path().join("jane.csr");
    let st = Command::new("openssl")
        .args(["req", "-new", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout"])
        .arg(dir.path().join("jane.key"))
        .args(["-subj", "/O=dev/O=ops/CN=jane", "-out", s(&csr)])
        .output()
        .unwrap();
    assert!(st.status.success(), "{}", String::from_utf8_lossy(&st.stderr));
    let r = kauth(&["cert", "inspect", s(&csr)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("would authenticate as user \"jane\" in groups [\"dev\", \"ops\"]"), "{}", r.stdout);
    assert!(r.stdout.contains("signature:    valid"));
}

#[test]
fn inspect_bad_inputs_are_one_line_each() {
    let dir = pki();
    let pki = dir.path().join("pki");
    let write = |name: &str, data: &[u8]| {
        let p = dir.path().join(name);
        std::fs::write(&p, data).unwrap();
        p
    };
    let pem = std::fs::read_to_string(pki.join("apiserver.crt")).unwrap();
    let cut = write("cut.crt", &pem.as_bytes()[..pem.len() - 40]);
    assert_bad_input(
        &kauth(&["cert", "inspect", s(&cut)]),
        "cut.crt: truncated PEM: no -----END CERTIFICATE----- line",
    );
    assert_bad_input(
        &kauth(&["cert", "inspect", s(&pki.join("ca.key"))]),
        "contains a private key (EC PRIVATE KEY), not a certificate",
    );
    let garbage = write("garbage.crt", b"\x00\x01\x02 not a certificate \xff");
    assert_bad_input(&kauth(&["cert", "inspect", s(&garbage)]), "is neither PEM, DER nor a kubeconfig");
    let empty = write("empty.crt", b"");
    assert_bad_input(&kauth(&["cert", "inspect", s(&empty)]), "is neither PEM, DER nor a kubeconfig");
    let bad_b64 = write("b64.crt", b"-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n");
    assert_bad_input(&kauth(&["cert", "inspect", s(&bad_b64)]), "PEM body is not valid base64");
    let bad_der = write("der.crt", b"-----BEGIN CERTIFICATE-----\nMAMCAQA=\n-----END CERTIFICATE-----\n");
    assert_bad_input(&kauth(&["cert", "inspect", s(&bad_der)]), "not a valid X.509 certificate");
    let bad_conf = write("bad.conf", b"apiVersion: v1\nkind: Config\nclusters: []\ncurrent-context: x\n");
    assert_bad_input(&kauth(&["cert", "inspect", s(&bad_conf)]), "current-context \"x\" does not name a context");
    assert_bad_input(&kauth(&["cert", "inspect", s(dir.path())]), "is a directory");
    assert_bad_input(&kauth(&["cert", "inspect", s(&dir.path().join("absent.crt"))]), "absent.crt");
    assert_bad_input(&kauth_in(&["cert", "inspect", "-"], Some(b"")), "-: is neither PEM, DER nor a kubeconfig");
}
