//! The PKI's life through the public API, with a fake clock: init, re-init, conflicts, interrupted
//! runs, expiry, every verify finding, renewal.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::path::Path;

use kauth::pki::check::{check, Status};
use kauth::pki::init::{init, Outcome};
use kauth::pki::kubeconfig::Kubeconfig;
use kauth::pki::layout::Layout;
use kauth::pki::renew::renew;
use kauth::pki::spec::PkiConfig;
use kauth::pki::verify::{verify, ApiserverFlags, Finding, Severity};
use kauth::pki::{KeyType, PkiError, PrivateKey};
use time::{Duration, OffsetDateTime};

fn t0() -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp(1_800_000_000).unwrap()
}

fn cfg() -> PkiConfig {
    // ECDSA keeps the tests fast; the openssl test covers RSA too.
    PkiConfig { node_name: "cp-1".into(), key_type: KeyType::EcdsaP256, ..PkiConfig::default() }
}

/// Every file under `dir` with its bytes.
fn snapshot(dir: &Path) -> BTreeMap<String, Vec<u8>> {
    let mut out = BTreeMap::new();
    let mut stack = vec![dir.to_path_buf()];
    while let Some(d) = stack.pop() {
        for e in std::fs::read_dir(&d).unwrap() {
            let p = e.unwrap().path();
            if p.is_dir() {
                stack.push(p);
            } else {
                out.insert(p.strip_prefix(dir).unwrap().display().to_string(), std::fs::read(&p).unwrap());
            }
        }
    }
    out
}

fn fresh() -> (tempfile::TempDir, Layout) {
    let dir = tempfile::tempdir().unwrap();
    let layout = Layout::new(dir.path());
    init(&layout, &cfg(), false, t0()).unwrap();
    (dir, layout)
}

fn errors(findings: &[Finding]) -> Vec<String> {
    findings.iter().filter(|f| f.severity == Severity::Error).map(|f| f.to_string()).collect()
}

#[test]
fn second_init_keeps_everything_byte_for_byte() {
    let (dir, layout) = fresh();
    let before = snapshot(dir.path());
    assert_eq!(before.len(), 27, "{:?}", before.keys());
    let report = init(&layout, &cfg(), false, t0() + Duration::days(1)).unwrap();
    assert!(report.entries.iter().all(|e| e.outcome == Outcome::Kept), "{report:?}");
    assert_eq!(snapshot(dir.path()), before);
    assert!(verify(&layout, &ApiserverFlags::default(), t0()).is_empty());
}

#[test]
fn force_regenerates_everything() {
    let (dir, layout) = fresh();
    let before = snapshot(dir.path());
    let report = init(&layout, &cfg(), true, t0()).unwrap();
    assert!(report.entries.iter().all(|e| e.outcome == Outcome::Regenerated), "{report:?}");
    let after = snapshot(dir.path());
    assert_ne!(after["pki/ca.crt"], before["pki/ca.crt"]);
    assert_ne!(after["pki/sa.key"], before["pki/sa.key"]);
    assert!(verify(&layout, &ApiserverFlags::default(), t0()).is_empty());
}

#[test]
fn a_key_that_does_not_match_its_cert_is_refused_and_nothing_changes() {
    let (dir, layout) = fresh();
    let other = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    std::fs::write(layout.key_path("apiserver"), other.to_pem().unwrap()).unwrap();
    std::fs::remove_file(layout.cert_path("etcd/peer")).unwrap();
    let before = snapshot(dir.path());
    let err = init(&layout, &cfg(), false, t0()).unwrap_err();
    assert!(matches!(err, PkiError::KeyMismatch { .. }), "{err}");
    assert_eq!(err.to_string(), "pki/apiserver.key: private key does not match the public key of pki/apiserver.crt");
    // The missing etcd/peer.crt was not written either: conflicts stop the run before any write.
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn new_sans_conflict_with_an_existing_apiserver_cert() {
    let (dir, layout) = fresh();
    let before = snapshot(dir.path());
    let wider = PkiConfig { apiserver_cert_sans: vec!["api.example.com".into(), "192.0.2.7".into()], ..cfg() };
    let err = init(&layout, &wider, false, t0()).unwrap_err().to_string();
    assert!(err.starts_with("pki/apiserver.crt: missing SANs DNS:api.example.com, IP:192.0.2.7"), "{err}");
    assert!(err.ends_with("(use --force to regenerate it, or fix the file)"), "{err}");
    assert_eq!(snapshot(dir.path()), before);
}

#[test]
fn an_interrupted_run_is_completed_by_the_next_one() {
    let (dir, layout) = fresh();
    // As if the process died after writing apiserver.key but before apiserver.crt, and before
    // anything that followed.
    let key_before = std::fs::read(layout.key_path("apiserver")).unwrap();
    for f in ["pki/apiserver.crt", "pki/etcd/server.crt", "pki/etcd/server.key", "pki/sa.pub", "admin.conf"] {
        std::fs::remove_file(dir.path().join(f)).unwrap();
    }
    let report = init(&layout, &cfg(), false, t0()).unwrap();
    let outcome = |n: &str| report.entries.iter().find(|e| e.name == n).unwrap().outcome;
    assert_eq!(outcome("apiserver"), Outcome::Completed);
    assert_eq!(outcome("etcd-server"), Outcome::Created);
    assert_eq!(outcome("sa"), Outcome::Completed);
    assert_eq!(outcome("admin.conf"), Outcome::Created);
    assert_eq!(outcome("ca"), Outcome::Kept);
    assert_eq!(std::fs::read(layout.key_path("apiserver")).unwrap(), key_before, "the key is kept");
    assert!(verify(&layout, &ApiserverFlags::default(), t0()).is_empty());
}

#[test]
fn unwritable_location_fails_without_writing_anything() {
    let dir = tempfile::tempdir().unwrap();
    let blocker = dir.path().join("not-a-dir");
    std::fs::write(&blocker, b"x").unwrap();
    let layout = Layout::new(blocker.join("cluster"));
    let err = init(&layout, &cfg(), false, t0()).unwrap_err();
    assert!(matches!(err, PkiError::Io { action: "create directory", .. }), "{err}");
    assert_eq!(snapshot(dir.path()).len(), 1);
}

#[cfg(unix)]
#[test]
fn read_only_directory_fails_before_any_write() {
    use std::os::unix::fs::PermissionsExt;
    let dir = tempfile::tempdir().unwrap();
    let ro = dir.path().join("ro");
    std::fs::create_dir(&ro).unwrap();
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o555)).unwrap();
    // Root ignores directory permissions; then the probe succeeds and init must simply work.
    let root_bypasses = std::fs::File::create(ro.join("probe")).is_ok();
    let _ = std::fs::remove_file(ro.join("probe"));
    let result = init(&Layout::new(&ro), &cfg(), false, t0());
    if root_bypasses {
        assert!(result.is_ok());
    } else {
        let err = result.unwrap_err();
        assert!(matches!(err, PkiError::Io { .. }), "{err}");
        assert!(snapshot(&ro).is_empty());
    }
    std::fs::set_permissions(&ro, std::fs::Permissions::from_mode(0o755)).unwrap();
}

#[test]
fn malformed_existing_files_are_named() {
    let (_dir, layout) = fresh();
    let pem = std::fs::read_to_string(layout.cert_path("apiserver")).unwrap();
    std::fs::write(layout.cert_path("apiserver"), &pem[..pem.len() / 2]).unwrap();
    let err = init(&layout, &cfg(), false, t0()).unwrap_err().to_string();
    assert_eq!(err, "pki/apiserver.crt: truncated PEM: no -----END CERTIFICATE----- line");
    std::fs::copy(layout.key_path("apiserver"), layout.cert_path("apiserver")).unwrap();
    let err = init(&layout, &cfg(), false, t0()).unwrap_err().to_string();
    assert_eq!(err, "pki/apiserver.crt: expected a CERTIFICATE, found EC PRIVATE KEY");
}

#[test]
fn an_expired_ca_is_not_reused() {
    let (_dir, layout) = fresh();
    let later = t0() + Duration::days(11 * 365);
    let err = init(&layout, &cfg(), false, later).unwrap_err().to_string();
    assert!(err.starts_with("pki/ca.crt: CA expired at 2037-01-1"), "{err}");
}

#[test]
fn check_rates_expiry_with_a_fake_clock() {
    let (_dir, layout) = fresh();
    let window = Duration::days(30);
    let report = check(&layout, t0(), window);
    assert!(!report.failing());
    assert_eq!(report.certificates.len(), 12);
    assert!(report.certificates.iter().all(|r| r.status == Status::Ok), "{report:?}");
    let soon = check(&layout, t0() + Duration::days(340), window);
    assert!(soon.failing());
    assert!(soon.certificates.iter().all(|r| r.status == Status::ExpiresSoon));
    assert!(soon.authorities.iter().all(|r| r.status == Status::Ok));
    let late = check(&layout, t0() + Duration::days(366), window);
    assert!(late.certificates.iter().all(|r| r.status == Status::Expired));
    let early = check(&layout, t0() - Duration::minutes(10), window);
    assert!(early.certificates.iter().all(|r| r.status == Status::NotYetValid));
    // Backdated by 5 minutes: a peer whose clock is 4 minutes behind still accepts the certs.
    assert!(!check(&layout, t0() - Duration::minutes(4), window).failing());
}

#[test]
fn check_reports_missing_and_foreign_certificates() {
    let (dir, layout) = fresh();
    std::fs::remove_file(dir.path().join("scheduler.conf")).unwrap();
    let other = tempfile::tempdir().unwrap();
    init(&Layout::new(other.path()), &cfg(), false, t0()).unwrap();
    std::fs::copy(other.path().join("pki/apiserver.crt"), layout.cert_path("apiserver")).unwrap();
    let report = check(&layout, t0(), Duration::days(30));
    let row = |n: &str| report.certificates.iter().find(|r| r.name == n).unwrap().clone();
    assert_eq!(row("scheduler.conf").status, Status::Missing);
    assert_eq!(row("apiserver").status, Status::Invalid);
    assert!(row("apiserver").problem.unwrap().starts_with("not signed by ca: signature does not verify"));
}

#[test]
fn verify_finds_the_front_proxy_ca_reused_as_client_ca() {
    let (_dir, layout) = fresh();
    std::fs::copy(layout.cert_path("ca"), layout.cert_path("front-proxy-ca")).unwrap();
    std::fs::copy(layout.key_path("ca"), layout.key_path("front-proxy-ca")).unwrap();
    let found = errors(&verify(&layout, &ApiserverFlags::default(), t0()));
    assert!(
        found.iter().any(|f| f.starts_with("pki/front-proxy-ca.crt: error: the front-proxy CA is the cluster CA")),
        "{found:#?}"
    );
    assert!(
        found.iter().any(|f| f.starts_with("pki/front-proxy-client.crt: error: not signed by the front-proxy-ca CA")),
        "{found:#?}"
    );
}

#[test]
fn verify_finds_shared_client_and_requestheader_ca_flags() {
    let (_dir, layout) = fresh();
    let flags = ApiserverFlags {
        client_ca_file: Some(layout.cert_path("ca")),
        requestheader_client_ca_file: Some(layout.cert_path("ca")),
    };
    let found = errors(&verify(&layout, &flags, t0()));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(found[0].contains("--requestheader-client-ca-file and --client-ca-file share the CA \"CN=kubernetes\""));
    assert!(found[0].contains("not in the allowed list"));
    let right = ApiserverFlags { requestheader_client_ca_file: Some(layout.cert_path("front-proxy-ca")), ..flags };
    assert!(verify(&layout, &right, t0()).is_empty());
}

#[test]
fn verify_finds_a_server_the_apiserver_cert_does_not_cover() {
    let (dir, layout) = fresh();
    let path = dir.path().join("admin.conf");
    let mut k = Kubeconfig::parse("admin.conf", &std::fs::read(&path).unwrap()).unwrap();
    k.clusters[0].cluster.server = "https://lb.example.net:6443".into();
    std::fs::write(&path, k.to_yaml().unwrap()).unwrap();
    let found = errors(&verify(&layout, &ApiserverFlags::default(), t0()));
    assert_eq!(found.len(), 1, "{found:#?}");
    assert!(
        found[0].starts_with("pki/apiserver.crt: error: missing SANs DNS:lb.example.net that clients dial"),
        "{}",
        found[0]
    );
}

#[test]
fn verify_finds_wrong_identity_usage_and_keys() {
    let (_dir, layout) = fresh();
    // A serving cert put where a client cert belongs.
    std::fs::copy(layout.cert_path("apiserver"), layout.cert_path("apiserver-kubelet-client")).unwrap();
    std::fs::copy(layout.key_path("apiserver"), layout.key_path("apiserver-kubelet-client")).unwrap();
    // sa.pub from another key.
    let other = PrivateKey::generate(KeyType::EcdsaP256).unwrap();
    std::fs::write(layout.sa_pub_path(), other.public_key_pem()).unwrap();
    // A leaf key that does not match.
    std::fs::write(layout.key_path("front-proxy-client"), other.to_pem().unwrap()).unwrap();
    let found = errors(&verify(&layout, &ApiserverFlags::default(), t0()));
    let has = |s: &str| found.iter().any(|f| f.starts_with(s));
    assert!(has("pki/apiserver-kubelet-client.crt: error: subject CN=\"kube-apiserver\" but this role needs CN=kube-apiserver-kubelet-client"), "{found:#?}");
    assert!(
        has(
            "pki/apiserver-kubelet-client.crt: error: subject O=[] (groups) but this role needs O=[\"system:masters\"]"
        ),
        "{found:#?}"
    );
    assert!(has("pki/apiserver-kubelet-client.crt: error: no clientAuth in ExtendedKeyUsage"), "{found:#?}");
    assert!(has("pki/sa.pub: error: does not match sa.key"), "{found:#?}");
    assert!(
        has("pki/front-proxy-client.key: error: private key does not match pki/front-proxy-client.crt"),
        "{found:#?}"
    );
    assert_eq!(found.len(), 5, "{found:#?}");
}

#[test]
fn verify_reports_expiry_with_the_clock_given() {
    let (_dir, layout) = fresh();
    let found = errors(&verify(&layout, &ApiserverFlags::default(), t0() + Duration::days(400)));
    assert!(found.iter().any(|f| f.starts_with("pki/apiserver.crt: error: expired 35d0h ago")), "{found:#?}");
    assert!(found.iter().any(|f| f.starts_with("admin.conf: error: client certificate: expired")), "{found:#?}");
}

#[test]
fn renew_keeps_keys_and_identities_and_extends_validity() {
    let (dir, layout) = fresh();
    // Add a second user to admin.conf: renew must keep what it does not own.
    let path = dir.path().join("admin.conf");
    let text =
        std::fs::read_to_string(&path).unwrap().replace("users:\n", "users:\n- name: extra\n  user:\n    token: abc\n");
    std::fs::write(&path, text).unwrap();
    let before = snapshot(dir.path());
    let later = t0() + Duration::days(300);
    let entries = renew(&layout, &["all".to_owned()], later, std::time::Duration::from_secs(365 * 86_400)).unwrap();
    assert_eq!(entries.len(), 12);
    for e in &entries {
        assert_eq!(e.new_not_after, Some(later + Duration::days(365)), "{e:?}");
    }
    let after = snapshot(dir.path());
    for (name, bytes) in &before {
        if name.ends_with(".key")
            || name.starts_with("pki/sa")
            || name.contains("/ca.")
            || name.starts_with("pki/ca.")
            || name.contains("front-proxy-ca")
        {
            assert_eq!(&after[name], bytes, "{name} must not change");
        } else {
            assert_ne!(&after[name], bytes, "{name} must be renewed");
        }
    }
    assert!(std::fs::read_to_string(&path).unwrap().contains("token: abc"));
    assert!(verify(&layout, &ApiserverFlags::default(), later + Duration::days(100)).is_empty());
    // Same identity as before.
    let admin = layout.load_kubeconfig("admin.conf").unwrap().unwrap();
    assert_eq!(admin.cert.subject, "O=kubeadm:cluster-admins, CN=kubernetes-admin");
}

#[test]
fn renew_caps_at_the_ca_and_rejects_unknown_names() {
    let (_dir, layout) = fresh();
    let near_ca_end = t0() + Duration::days(10 * 365 - 30);
    let entries =
        renew(&layout, &["apiserver".to_owned()], near_ca_end, std::time::Duration::from_secs(365 * 86_400)).unwrap();
    assert_eq!(entries.len(), 1);
    let ca = layout.load_cert("ca").unwrap().unwrap();
    assert_eq!(entries[0].new_not_after, Some(ca.not_after));
    assert!(entries[0].note.as_deref().unwrap().starts_with("capped at the CA's expiry"));
    let err = renew(&layout, &["apiservr".to_owned()], t0(), std::time::Duration::from_secs(1)).unwrap_err();
    assert!(matches!(err, PkiError::UnknownName { .. }));
    assert!(
        err.to_string().starts_with("unknown certificate \"apiservr\"; known: all, admin.conf, apiserver,"),
        "{err}"
    );
}
