//! A generated PKI checked by a second, independent parser and verifier: the real `openssl`.
//!
//! Every leaf must verify with `openssl verify -purpose sslserver|sslclient` against its CA, and
//! its subject, key usage, extended key usage, basic constraints and SANs must equal the table
//! seed 003 gives for kubeadm's PKI (the same table our own x509-parser reading must match).
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use std::path::Path;
use std::process::Command;

use common::tools::{require, Tool};

use kauth::pki::cert::CertInfo;
use kauth::pki::init::init;
use kauth::pki::layout::Layout;
use kauth::pki::spec::PkiConfig;
use kauth::pki::KeyType;
use time::OffsetDateTime;

fn openssl(args: &[&str]) -> (bool, String) {
    let out = Command::new("openssl").args(args).output().expect("openssl is installed");
    let text = format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr));
    (out.status.success(), text)
}

/// The value lines of one extension as openssl prints them, joined with ", ".
fn ext(file: &Path, name: &str) -> String {
    let (ok, text) = openssl(&["x509", "-in", file.to_str().unwrap(), "-noout", "-ext", name]);
    assert!(ok, "{text}");
    let critical = text.lines().next().is_some_and(|h| h.trim_end().ends_with("critical"));
    let values = text.lines().skip(1).map(str::trim).filter(|l| !l.is_empty());
    (critical.then_some("critical")).into_iter().chain(values).collect::<Vec<_>>().join(", ")
}

fn field(file: &Path, flag: &str) -> String {
    let (ok, text) = openssl(&["x509", "-in", file.to_str().unwrap(), "-noout", flag, "-nameopt", "oneline"]);
    assert!(ok, "{text}");
    text.trim().split_once('=').map(|(_, v)| v.trim().replace(" = ", "=")).unwrap_or_default()
}

struct Row {
    file: &'static str,
    ca_file: &'static str,
    issuer: &'static str,
    subject: String,
    key_usage: &'static str,
    eku: &'static str,
    ca: bool,
    sans: String,
    purpose: Option<&'static str>,
}

fn expected_table(node: &str) -> Vec<Row> {
    const KU_CA: &str = "Digital Signature, Key Encipherment, Certificate Sign";
    const KU: &str = "Digital Signature, Key Encipherment";
    const SERVER: &str = "TLS Web Server Authentication";
    const CLIENT: &str = "TLS Web Client Authentication";
    const BOTH: &str = "TLS Web Server Authentication, TLS Web Client Authentication";
    let etcd_sans =
        format!("DNS:{node}, DNS:localhost, IP Address:10.1.2.3, IP Address:127.0.0.1, IP Address:0:0:0:0:0:0:0:1");
    let row = |file, ca_file, issuer, subject: &str, key_usage, eku, ca, sans: &str, purpose| Row {
        file,
        ca_file,
        issuer,
        subject: subject.to_owned(),
        key_usage,
        eku,
        ca,
        sans: sans.to_owned(),
        purpose,
    };
    vec![
        row("ca.crt", "ca.crt", "CN=kubernetes", "CN=kubernetes", KU_CA, "", true, "", None),
        row(
            "front-proxy-ca.crt",
            "front-proxy-ca.crt",
            "CN=front-proxy-ca",
            "CN=front-proxy-ca",
            KU_CA,
            "",
            true,
            "",
            None,
        ),
        row("etcd/ca.crt", "etcd/ca.crt", "CN=etcd-ca", "CN=etcd-ca", KU_CA, "", true, "", None),
        row(
            "apiserver.crt",
            "ca.crt",
            "CN=kubernetes",
            "CN=kube-apiserver",
            KU,
            SERVER,
            false,
            &format!(
                "DNS:{node}, DNS:kubernetes, DNS:kubernetes.default, DNS:kubernetes.default.svc, \
                 DNS:kubernetes.default.svc.cluster.local, DNS:api.example.com, IP Address:10.96.0.1, \
                 IP Address:10.1.2.3, IP Address:192.0.2.10"
            ),
            Some("sslserver"),
        ),
        row(
            "apiserver-kubelet-client.crt",
            "ca.crt",
            "CN=kubernetes",
            "O=system:masters, CN=kube-apiserver-kubelet-client",
            KU,
            CLIENT,
            false,
            "",
            Some("sslclient"),
        ),
        row(
            "apiserver-etcd-client.crt",
            "etcd/ca.crt",
            "CN=etcd-ca",
            "O=system:masters, CN=kube-apiserver-etcd-client",
            KU,
            CLIENT,
            false,
            "",
            Some("sslclient"),
        ),
        row(
            "front-proxy-client.crt",
            "front-proxy-ca.crt",
            "CN=front-proxy-ca",
            "CN=front-proxy-client",
            KU,
            CLIENT,
            false,
            "",
            Some("sslclient"),
        ),
        row(
            "etcd/healthcheck-client.crt",
            "etcd/ca.crt",
            "CN=etcd-ca",
            "O=system:masters, CN=kube-etcd-healthcheck-client",
            KU,
            CLIENT,
            false,
            "",
            Some("sslclient"),
        ),
        row(
            "etcd/server.crt",
            "etcd/ca.crt",
            "CN=etcd-ca",
            &format!("CN={node}"),
            KU,
            BOTH,
            false,
            &etcd_sans,
            Some("sslserver"),
        ),
        row(
            "etcd/peer.crt",
            "etcd/ca.crt",
            "CN=etcd-ca",
            &format!("CN={node}"),
            KU,
            BOTH,
            false,
            &etcd_sans,
            Some("sslclient"),
        ),
    ]
}

fn generate(dir: &Path, key_type: KeyType) -> Layout {
    let layout = Layout::new(dir);
    let cfg = PkiConfig {
        node_name: "cp-1".into(),
        advertise_address: "10.1.2.3".parse().unwrap(),
        apiserver_cert_sans: vec!["api.example.com".into(), "192.0.2.10".into()],
        key_type,
        ..PkiConfig::default()
    };
    init(&layout, &cfg, false, OffsetDateTime::now_utc()).unwrap();
    layout
}

fn check_against_openssl(key_type: KeyType) {
    let dir = tempfile::tempdir().unwrap();
    let layout = generate(dir.path(), key_type);
    let pki = layout.cert_dir();
    for row in expected_table("cp-1") {
        let file = pki.join(row.file);
        let ca = pki.join(row.ca_file);
        // openssl's reading.
        assert_eq!(field(&file, "-subject"), row.subject, "{} subject", row.file);
        assert_eq!(field(&file, "-issuer"), row.issuer, "{} issuer", row.file);
        assert_eq!(
            ext(&file, "keyUsage"),
            format!("critical, {}", row.key_usage).trim_end_matches(", "),
            "{} KU",
            row.file
        );
        assert_eq!(ext(&file, "extendedKeyUsage"), row.eku, "{} EKU", row.file);
        assert_eq!(
            ext(&file, "basicConstraints"),
            format!("critical, CA:{}", if row.ca { "TRUE" } else { "FALSE" }),
            "{}",
            row.file
        );
        assert_eq!(ext(&file, "subjectAltName"), row.sans, "{} SANs", row.file);
        // The authority key id names the CA's subject key id, so openssl finds the issuer.
        let aki = ext(&file, "authorityKeyIdentifier");
        let ca_ski = ext(&ca, "subjectKeyIdentifier");
        assert!(aki.contains(&ca_ski), "{}: AKI {aki} vs CA SKI {ca_ski}", row.file);
        if let Some(purpose) = row.purpose {
            let (ok, text) =
                openssl(&["verify", "-purpose", purpose, "-CAfile", ca.to_str().unwrap(), file.to_str().unwrap()]);
            assert!(ok && text.contains(": OK"), "{} {purpose}: {text}", row.file);
        }
        // Our own reading (x509-parser) agrees with openssl's.
        let ours = CertInfo::from_pem(row.file, &std::fs::read(&file).unwrap()).unwrap();
        let subject = row.subject.clone();
        assert_eq!(ours.subject, subject, "{} subject (x509-parser)", row.file);
        assert_eq!(ours.is_ca, Some(row.ca));
        assert_eq!(ours.server_auth, row.eku.contains("Server"));
        assert_eq!(ours.client_auth, row.eku.contains("Client"));
        // Backdated by kubeadm's 5 minutes.
        assert!(ours.not_before < OffsetDateTime::now_utc() - time::Duration::minutes(4));
    }
    // A leaf never verifies against another CA, and a client cert is not a server cert.
    let (ok, _) = openssl(&[
        "verify",
        "-CAfile",
        pki.join("front-proxy-ca.crt").to_str().unwrap(),
        pki.join("apiserver-kubelet-client.crt").to_str().unwrap(),
    ]);
    assert!(!ok, "a cluster-CA cert must not verify against the front-proxy CA");
    let (ok, _) = openssl(&[
        "verify",
        "-purpose",
        "sslserver",
        "-CAfile",
        pki.join("ca.crt").to_str().unwrap(),
        pki.join("apiserver-kubelet-client.crt").to_str().unwrap(),
    ]);
    assert!(!ok, "a clientAuth-only cert must fail -purpose sslserver");

    // Keys: openssl reads every one, each matches its certificate, and sa.pub is sa.key's public half.
    let key_cmd = if key_type == KeyType::EcdsaP256 { "ec" } else { "rsa" };
    for stem in ["ca", "apiserver", "etcd/server", "front-proxy-client", "sa"] {
        let key = pki.join(format!("{stem}.key"));
        let (ok, text) = openssl(&[key_cmd, "-in", key.to_str().unwrap(), "-check", "-noout"]);
        assert!(ok, "{stem}.key: {text}");
        let (_, key_pub) = openssl(&["pkey", "-in", key.to_str().unwrap(), "-pubout"]);
        let expected_pub = if stem == "sa" {
            std::fs::read_to_string(pki.join("sa.pub")).unwrap()
        } else {
            openssl(&["x509", "-in", pki.join(format!("{stem}.crt")).to_str().unwrap(), "-noout", "-pubkey"]).1
        };
        assert_eq!(key_pub, expected_pub, "{stem}: key does not match");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600, "{stem}.key mode");
        }
    }

    // Kubeconfigs: the embedded client certs verify against ca.crt with the right identities.
    let idents = [
        ("admin.conf", "O=kubeadm:cluster-admins, CN=kubernetes-admin"),
        ("super-admin.conf", "O=system:masters, CN=kubernetes-super-admin"),
        ("kubelet.conf", "O=system:nodes, CN=system:node:cp-1"),
        ("controller-manager.conf", "CN=system:kube-controller-manager"),
        ("scheduler.conf", "CN=system:kube-scheduler"),
    ];
    for (file, subject) in idents {
        let loaded = layout.load_kubeconfig(file).unwrap().unwrap();
        let pem = kauth::pki::pem::encode("CERTIFICATE", &loaded.cert.der);
        let tmp = dir.path().join(format!("{file}.crt"));
        std::fs::write(&tmp, pem).unwrap();
        assert_eq!(field(&tmp, "-subject"), subject, "{file}");
        let (ok, text) = openssl(&[
            "verify",
            "-purpose",
            "sslclient",
            "-CAfile",
            pki.join("ca.crt").to_str().unwrap(),
            tmp.to_str().unwrap(),
        ]);
        assert!(ok, "{file}: {text}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(layout.kubeconfig_path(file)).unwrap().permissions().mode() & 0o777;
            assert_eq!(mode, 0o600, "{file} embeds a key and must be 0600");
        }
    }
}

#[test]
fn rsa_pki_matches_kubeadm_table_in_openssl() {
    require!(Tool::Openssl);
    check_against_openssl(KeyType::Rsa2048);
}

#[test]
fn ecdsa_pki_matches_kubeadm_table_in_openssl() {
    require!(Tool::Openssl);
    check_against_openssl(KeyType::EcdsaP256);
}
