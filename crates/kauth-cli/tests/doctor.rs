//! `kauth doctor` through the real binary against a `kauth serve` made broken on purpose: one
//! test per finding (expired client certificate, CA mismatch, a host not in the serving
//! certificate's SANs, a token for another audience, a token from a foreign key, the server's
//! clock 90 s ahead, a user with no permissions), each asserting the finding's cause and fix; a
//! healthy kubeconfig exits 0 and a broken one 2.
#![allow(clippy::unwrap_used)]

mod common;

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use common::server::Server;
use common::tools::{require, Tool};
use common::{kauth, s, Run};
use kauth::pki::cert::CertInfo;
use kauth::pki::kubeconfig::{AuthInfo, Cluster, Context, Kubeconfig, NamedCluster, NamedContext, NamedUser};
use kauth::pki::sign::{issue, Signer};
use kauth::pki::spec::{Profile, Usage};
use kauth::pki::{pem, KeyType, PrivateKey};
use serde_json::Value;
use time::OffsetDateTime;

/// Runs `kauth doctor --kubeconfig PATH ARGS` with no proxy in its environment.
fn doctor(kubeconfig: &Path, args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_kauth"))
        .args(["doctor", "--kubeconfig", s(kubeconfig)])
        .args(args)
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let run = Run {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    };
    assert!(!run.stderr.contains("panicked"), "kauth panicked: {}", run.stderr);
    run
}

/// The JSON report, with the exit code checked.
fn report(kubeconfig: &Path, code: i32) -> Value {
    let r = doctor(kubeconfig, &["-o", "json"]);
    assert_eq!(r.code, code, "{}\n{}", r.stdout, r.stderr);
    serde_json::from_str(&r.stdout).unwrap_or_else(|e| panic!("{e}: {}", r.stdout))
}

/// The findings of one check: (severity, cause, fix).
fn findings(report: &Value, check: &str) -> Vec<(String, String, String)> {
    report["findings"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["check"] == check)
        .map(|f| {
            let s = |k: &str| f[k].as_str().unwrap().to_owned();
            (s("severity"), s("cause"), s("fix"))
        })
        .collect()
}

/// The one finding of `check` whose cause contains `needle`.
fn finding(report: &Value, check: &str, needle: &str) -> (String, String, String) {
    findings(report, check)
        .into_iter()
        .find(|(_, cause, _)| cause.contains(needle))
        .unwrap_or_else(|| panic!("no {check} finding with {needle:?} in {report:#}"))
}

const YEAR: Duration = Duration::from_secs(365 * 86_400);

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// A CA (the server's, read from its data directory, or a new one).
struct Ca {
    cert: CertInfo,
    key: PrivateKey,
}

impl Ca {
    fn of(srv: &Server) -> Ca {
        let pki = srv.dir.join("pki");
        Ca {
            cert: CertInfo::from_pem("ca.crt", &std::fs::read(pki.join("ca.crt")).unwrap()).unwrap(),
            key: PrivateKey::from_pem("ca.key", &std::fs::read(pki.join("ca.key")).unwrap()).unwrap(),
        }
    }

    fn new(name: &str) -> Ca {
        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let profile = Profile {
            common_name: name.into(),
            organizations: vec![],
            is_ca: true,
            usage: Usage { server: false, client: false },
            dns_names: vec![],
            ip_addresses: vec![],
        };
        let cert = issue(name, &profile, &key, None, now(), YEAR).unwrap();
        Ca { cert, key }
    }

    fn pem(&self) -> String {
        pem::encode("CERTIFICATE", &self.cert.der)
    }

    /// A leaf certificate and key (PEM), valid from `from - 5 min` for `validity`.
    fn leaf(&self, profile: &Profile, from: OffsetDateTime, validity: Duration) -> (String, String) {
        let key = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
        let cert =
            issue("leaf", profile, &key, Some(Signer { cert: &self.cert, key: &self.key }), from, validity).unwrap();
        (pem::encode("CERTIFICATE", &cert.der), key.to_pem().unwrap())
    }

    fn client(&self, cn: &str, orgs: &[&str], from: OffsetDateTime, validity: Duration) -> (String, String) {
        let profile = Profile {
            common_name: cn.into(),
            organizations: orgs.iter().map(|o| o.to_string()).collect(),
            is_ca: false,
            usage: Usage { server: false, client: true },
            dns_names: vec![],
            ip_addresses: vec![],
        };
        self.leaf(&profile, from, validity)
    }
}

fn write_kubeconfig(dir: &Path, name: &str, cfg: &Kubeconfig) -> PathBuf {
    let p = dir.join(name);
    std::fs::write(&p, cfg.to_yaml().unwrap()).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o600)).unwrap();
    p
}

fn cert_kubeconfig(dir: &Path, name: &str, server: &str, ca_pem: &str, (cert, key): (String, String)) -> PathBuf {
    write_kubeconfig(dir, name, &Kubeconfig::with_client_cert("kubernetes", server, ca_pem, "user", &cert, &key))
}

fn token_kubeconfig(dir: &Path, name: &str, server: &str, ca_pem: &str, token: &str) -> PathBuf {
    use base64::Engine;
    let cfg = Kubeconfig {
        api_version: "v1".into(),
        kind: "Config".into(),
        clusters: vec![NamedCluster {
            name: "kubernetes".into(),
            cluster: Cluster {
                server: server.into(),
                certificate_authority_data: Some(base64::engine::general_purpose::STANDARD.encode(ca_pem)),
                ..Cluster::default()
            },
        }],
        contexts: vec![NamedContext {
            name: "robot".into(),
            context: Context { cluster: "kubernetes".into(), user: "robot".into(), namespace: None },
        }],
        current_context: "robot".into(),
        preferences: Default::default(),
        users: vec![NamedUser {
            name: "robot".into(),
            user: AuthInfo { token: Some(token.into()), ..AuthInfo::default() },
        }],
    };
    write_kubeconfig(dir, name, &cfg)
}

fn server_ca_pem(srv: &Server) -> String {
    std::fs::read_to_string(srv.dir.join("pki/ca.crt")).unwrap()
}

#[test]
fn a_healthy_kubeconfig_exits_0_and_says_who_it_is() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start_in(&dir.path().join("data"), &[]);
    let admin = srv.dir.join("admin.conf");
    let r = report(&admin, 0);
    assert_eq!(r["healthy"], true, "{r:#}");
    assert_eq!(r["findings"], Value::Array(vec![]));
    let text = doctor(&admin, &[]);
    assert_eq!(text.code, 0, "{}", text.stdout);
    for want in [
        "chain verified: CN=kube-apiserver <- CN=kubernetes (the kubeconfig's CA)",
        "the certificate's SANs cover 127.0.0.1, the host dialled:",
        "its issuer CN=kubernetes is among the CAs the server asks for: CN=kubernetes, CN=front-proxy-ca",
        "the server authenticates the credential as user \"kubernetes-admin\", groups [\"kubeadm:cluster-admins\", \"system:authenticated\"]",
        "No findings: this credential works against this server.",
    ] {
        assert!(text.stdout.contains(want), "{want:?} not in\n{}", text.stdout);
    }
    // Never a secret whole: the client key is nowhere in the output.
    let key_data = std::fs::read_to_string(&admin).unwrap();
    let key_line = key_data.lines().find(|l| l.contains("client-key-data")).unwrap();
    let key_b64 = key_line.split(':').nth(1).unwrap().trim();
    assert!(!text.stdout.contains(&key_b64[..40]));
}

#[test]
fn a_broken_kubeconfig_is_bad_input() {
    let dir = tempfile::tempdir().unwrap();
    let broken = dir.path().join("broken.conf");
    std::fs::write(&broken, "apiVersion: v1\nkind: Config\nclusters: [{name: x, cluster: {server: 1}\n").unwrap();
    let r = doctor(&broken, &[]);
    assert_eq!(r.code, 2, "{}{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("not a valid kubeconfig"), "{}", r.stderr);
    let r = doctor(&dir.path().join("absent.conf"), &[]);
    assert_eq!(r.code, 2);
    let ok = dir.path().join("ok.conf");
    std::fs::write(&ok, "apiVersion: v1\nkind: Config\ncurrent-context: gone\n").unwrap();
    let r = doctor(&ok, &[]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("no context \"gone\""), "{}", r.stderr);
}

#[test]
fn an_expired_client_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start_in(&dir.path().join("data"), &[]);
    let ca = Ca::of(&srv);
    let long_ago = now() - time::Duration::days(400);
    let kc = cert_kubeconfig(
        dir.path(),
        "alice.conf",
        &srv.url,
        &ca.pem(),
        ca.client("alice", &["devs"], long_ago, Duration::from_secs(86_400)),
    );
    let r = report(&kc, 1);
    let (sev, cause, fix) = finding(&r, "client-certificate", "expired");
    assert_eq!(sev, "error");
    assert!(cause.starts_with("the client certificate O=devs, CN=alice expired 39"), "{cause}");
    assert!(cause.contains("d ago ("), "{cause}");
    assert!(cause.contains("the API server answers only 401 Unauthorized"), "{cause}");
    assert!(fix.contains("kubeadm kubeconfig user --client-name=NAME"), "{fix}");
    // The 401 is told as a consequence, not as an unexplained refusal.
    assert!(findings(&r, "identity").is_empty(), "{r:#}");
}

#[test]
fn a_ca_mismatch_after_the_ca_was_regenerated() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start_in(&dir.path().join("data"), &[]);
    let ca = Ca::of(&srv);
    // Seed 002: a new CA of the same name; the kubeconfig still trusts the old one.
    let old = Ca::new("kubernetes");
    let kc = cert_kubeconfig(dir.path(), "old-ca.conf", &srv.url, &old.pem(), ca.client("alice", &[], now(), YEAR));
    let r = report(&kc, 1);
    let (sev, cause, fix) = finding(&r, "server", "CA mismatch");
    assert_eq!(sev, "error");
    assert!(
        cause.contains("is issued by CN=kubernetes, and the kubeconfig's CA has that name but another key"),
        "{cause}"
    );
    assert!(cause.contains("the cluster's CA was regenerated"), "{cause}");
    assert!(fix.starts_with("take the cluster's current CA into the kubeconfig (kubectl config set-cluster NAME --certificate-authority=ca.crt --embed-certs"), "{fix}");

    // A CA of another name: another cluster's kubeconfig.
    let other = Ca::new("other-cluster-ca");
    let kc = cert_kubeconfig(dir.path(), "other.conf", &srv.url, &other.pem(), ca.client("alice", &[], now(), YEAR));
    let r = report(&kc, 1);
    let (_, cause, fix) = finding(&r, "server", "CA mismatch");
    assert!(cause.contains("but the kubeconfig trusts only CN=other-cluster-ca"), "{cause}");
    assert!(fix.contains("set certificate-authority-data to the CA of the cluster this server belongs to"), "{fix}");
}

#[test]
fn a_server_dialled_by_a_name_not_in_its_sans() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let r = kauth(&["pki", "init", "--dir", s(&data)]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    // A serving certificate for DNS names only: dialling 127.0.0.1 is not covered.
    let pki = data.join("pki");
    let ca = Ca {
        cert: CertInfo::from_pem("ca.crt", &std::fs::read(pki.join("ca.crt")).unwrap()).unwrap(),
        key: PrivateKey::from_pem("ca.key", &std::fs::read(pki.join("ca.key")).unwrap()).unwrap(),
    };
    let profile = Profile {
        common_name: "kube-apiserver".into(),
        organizations: vec![],
        is_ca: false,
        usage: Usage { server: true, client: false },
        dns_names: vec!["kubernetes".into(), "api.example.com".into()],
        ip_addresses: vec![],
    };
    let (cert, key) = ca.leaf(&profile, now(), YEAR);
    std::fs::write(dir.path().join("serving.crt"), cert).unwrap();
    std::fs::write(dir.path().join("serving.key"), key).unwrap();
    let serving = dir.path().join("serving.crt");
    let serving_key = dir.path().join("serving.key");
    let srv = Server::start_in(&data, &["--tls-cert-file", s(&serving), "--tls-private-key-file", s(&serving_key)]);
    let r = report(&srv.dir.join("admin.conf"), 1);
    let (sev, cause, fix) = finding(&r, "server", "does not cover the host dialled");
    assert_eq!(sev, "error");
    assert!(cause.contains("127.0.0.1 (from https://127.0.0.1:"), "{cause}");
    assert!(cause.contains("is not among its SANs [DNS:kubernetes, DNS:api.example.com]"), "{cause}");
    assert!(fix.contains("tls-server-name: kubernetes"), "{fix}");
    assert!(fix.contains("--apiserver-cert-extra-sans=127.0.0.1"), "{fix}");
}

#[test]
fn the_server_clock_90_seconds_ahead() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start_in(&dir.path().join("data"), &["--clock-offset", "90s"]);
    let r = report(&srv.dir.join("admin.conf"), 1);
    let (sev, cause, fix) = finding(&r, "clock", "clock skew");
    assert_eq!(sev, "error");
    // One-second resolution of Date, and the request's own time: 89 to 91 seconds.
    assert!(["1m29s ahead", "1m30s ahead", "1m31s ahead"].iter().any(|w| cause.contains(w)), "{cause}");
    assert!(cause.contains("beyond the 60 s leeway"), "{cause}");
    assert!(cause.contains("refuses them as not valid yet"), "{cause}");
    assert!(fix.starts_with("synchronize the clocks of this machine, every API server and every node"), "{fix}");
}

#[test]
fn a_user_with_no_permissions() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start_in(&dir.path().join("data"), &[]);
    let ca = Ca::of(&srv);
    let kc = cert_kubeconfig(
        dir.path(),
        "nobody.conf",
        &srv.url,
        &server_ca_pem(&srv),
        ca.client("nobody", &[], now(), YEAR),
    );
    let r = report(&kc, 1);
    assert_eq!(r["findings"].as_array().unwrap().len(), 1, "{r:#}");
    let (sev, cause, fix) = finding(&r, "identity", "may do nothing");
    assert_eq!(sev, "warning");
    assert!(cause.starts_with("user \"nobody\" may do nothing in namespace \"default\""), "{cause}");
    assert!(cause.contains("no RoleBinding or ClusterRoleBinding names it or its groups"), "{cause}");
    assert!(
        fix.starts_with(
            "bind a role to it: kubectl create rolebinding nobody-view --clusterrole=view --user=nobody -n default"
        ),
        "{fix}"
    );
}

/// A server whose issuer and keys anyone may read (as clusters that publish OIDC discovery do),
/// with a service account `robot`; returns it and the account's uid.
fn server_with_robot(data: &Path) -> (Server, String) {
    let srv = Server::start_in(data, &[]);
    srv.kubectl(&["create", "sa", "robot"]).ok();
    srv.kubectl(&[
        "create",
        "clusterrolebinding",
        "oidc-anonymous",
        "--clusterrole=system:service-account-issuer-discovery",
        "--group=system:unauthenticated",
    ])
    .ok();
    let uid = srv.kubectl(&["get", "sa", "robot", "-o", "jsonpath={.metadata.uid}"]).ok();
    (srv, uid)
}

#[test]
fn a_token_for_another_audience() {
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let (srv, _) = server_with_robot(&dir.path().join("data"));
    let token = srv.kubectl(&["create", "token", "robot", "--audience", "vault"]).ok();
    let kc = token_kubeconfig(dir.path(), "vault.conf", &srv.url, &server_ca_pem(&srv), token.trim());
    let r = report(&kc, 1);
    let (sev, cause, fix) = finding(&r, "token", "audience");
    assert_eq!(sev, "error");
    assert!(cause.contains("[\"vault\"]"), "{cause}");
    assert!(cause.contains("https://kubernetes.default.svc.cluster.local"), "{cause}");
    assert!(fix.starts_with("request the token for an accepted audience (kubectl create token SA --audience https://kubernetes.default.svc.cluster.local)"), "{fix}");
    assert!(fix.contains("taken from its discovery issuer"), "{fix}");
    // The token is never printed whole.
    let text = doctor(&kc, &[]);
    assert!(!text.stdout.contains(token.trim()));
    assert!(!text.stdout.contains(token.trim().rsplit('.').next().unwrap()));
}

#[test]
fn a_token_from_a_foreign_key() {
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let (srv, uid) = server_with_robot(&dir.path().join("data"));
    // Seed 002: a token signed by a key the server no longer has.
    let foreign = dir.path().join("old-sa.key");
    std::fs::write(&foreign, PrivateKey::generate(KeyType::Rsa2048).unwrap().to_pem().unwrap()).unwrap();
    let r = kauth(&["token", "create", "--key", s(&foreign), "--service-account", "robot", "--uid", &uid]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let kc = token_kubeconfig(dir.path(), "foreign.conf", &srv.url, &server_ca_pem(&srv), r.stdout.trim());
    let r = report(&kc, 1);
    let (sev, cause, fix) = finding(&r, "token", "kid");
    assert_eq!(sev, "error");
    assert!(cause.starts_with("no verification key has the token's kid"), "{cause}");
    assert!(fix.starts_with("the token was signed by a key this server does not have: its service-account signing key was regenerated (seed 002)"), "{fix}");
    assert!(fix.contains("kubectl create token SA"), "{fix}");
}
