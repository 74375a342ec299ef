//! External identities through the real `kauth serve` and kubectl: two OIDC issuers of the
//! tests' own (HTTPS, their own CAs) in an `--authentication-config` file, tokens minted by the
//! test code and by PyJWT, `kubectl auth whoami` showing the mapped users; key rotation at an
//! issuer, the issuer down (the last good keys still used), a forged-kid flood whose fetches
//! the issuer counts, the file reloaded (a good change used, a bad one refused and counted),
//! and the legacy `--oidc-*` flags. Waits are bounded loops on a condition kauth makes true
//! (an issuer initialized, a reload seen), never assertions on time.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::Path;
use std::process::Command;
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::oidc_issuer::{mint_with_pyjwt, OidcIssuer};
use common::server::Server;
use common::tools::{pyjwt_python, require, Tool};
use common::{kauth, s};
use serde_json::Value;

fn indent(pem: &str) -> String {
    pem.lines().map(|l| format!("      {l}\n")).collect()
}

/// A configuration with issuer `a` (usernames and groups prefixed `<prefix>`) and, if given,
/// issuer `b` (usernames made by a CEL expression).
fn config(a: &OidcIssuer, prefix: &str, b: Option<&OidcIssuer>) -> String {
    let mut c = format!(
        "apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\njwt:\n\
         - issuer:\n    url: {}\n    audiences: [kauth]\n    certificateAuthority: |\n{}  \
         claimMappings:\n    username:\n      claim: sub\n      prefix: \"{prefix}\"\n    groups:\n      claim: groups\n      prefix: \"{prefix}\"\n",
        a.url,
        indent(&a.ca_pem)
    );
    if let Some(b) = b {
        c.push_str(&format!(
            "- issuer:\n    url: {}\n    audiences: [kauth-b]\n    certificateAuthority: |\n{}  \
             claimMappings:\n    username:\n      expression: \"'b:' + claims.sub\"\n  \
             claimValidationRules:\n  - expression: \"claims.team == 'blue'\"\n    message: team must be blue\n",
            b.url,
            indent(&b.ca_pem)
        ));
    }
    c
}

/// `kubectl auth whoami -o json` with `token` alone (no client certificate): the review, or
/// the error kubectl printed.
fn whoami(srv: &Server, home: &Path, token: &str) -> Result<Value, String> {
    let out = Command::new("kubectl")
        .env("HOME", home)
        .env("KUBECONFIG", "/dev/null")
        .args(["--server", &srv.url, "--certificate-authority", s(&srv.dir.join("pki/ca.crt"))])
        .args(["--token", token, "auth", "whoami", "-o", "json"])
        .output()
        .unwrap();
    if !out.status.success() {
        return Err(String::from_utf8_lossy(&out.stderr).into_owned());
    }
    Ok(serde_json::from_slice(&out.stdout).unwrap())
}

fn user(review: &Value) -> (String, Vec<String>) {
    let u = &review["status"]["userInfo"];
    let groups = u["groups"].as_array().map(|g| g.iter().map(|v| v.as_str().unwrap().to_owned()).collect());
    (u["username"].as_str().unwrap().to_owned(), groups.unwrap_or_default())
}

/// Polls `check` (bounded: 60 s) until it returns `Some`.
fn until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let start = Instant::now();
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(start.elapsed() < Duration::from_secs(60), "gave up waiting for {what}");
        std::thread::sleep(Duration::from_millis(200));
    }
}

fn readyz(srv: &Server) -> String {
    srv.kubectl(&["get", "--raw", "/readyz?verbose"]).ok()
}

fn metrics(srv: &Server) -> String {
    srv.kubectl(&["get", "--raw", "/metrics"]).ok()
}

/// An HTTPS client trusting the server's CA, for many requests quickly.
fn agent(srv: &Server) -> ureq::Agent {
    let pem = std::fs::read(srv.dir.join("pki/ca.crt")).unwrap();
    let certs: Vec<_> = ureq::tls::parse_pem(&pem)
        .filter_map(|i| match i {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect();
    let tls = ureq::tls::TlsConfig::builder()
        .provider(ureq::tls::TlsProvider::Rustls)
        .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
        .root_certs(ureq::tls::RootCerts::new_with_certs(&certs))
        .build();
    ureq::Agent::config_builder().tls_config(tls).http_status_as_error(false).proxy(None).build().into()
}

#[test]
fn two_issuers_rotation_outage_flood_and_reload() {
    require!(Tool::Kubectl, Tool::PyJwt);
    let a = OidcIssuer::start("a");
    let b = OidcIssuer::start("b");
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let file = dir.path().join("authentication.yaml");
    std::fs::write(&file, config(&a, "a:", Some(&b))).unwrap();
    let srv = Server::start_in(&dir.path().join("data"), &["--authentication-config", s(&file)]);
    until("both issuers initialized", || {
        let r = readyz(&srv);
        (r.contains(&format!("[+]jwt-authenticator:{} ok", a.url))
            && r.contains(&format!("[+]jwt-authenticator:{} ok", b.url)))
        .then_some(())
    });

    // Issuer a, token from the test code: prefixed user and groups.
    let mut claims = a.claims("alice", "kauth");
    claims["groups"] = serde_json::json!(["devs", "ops"]);
    let (name, groups) = user(&whoami(&srv, home.path(), &a.mint(&claims)).unwrap());
    assert_eq!(name, "a:alice");
    assert_eq!(groups, ["a:devs", "a:ops", "system:authenticated"]);

    // Issuer b, token from PyJWT: the CEL username; its claim validation rule enforced.
    let mut claims_b = b.claims("bob", "kauth-b");
    claims_b["team"] = "blue".into();
    let token_b = mint_with_pyjwt(&pyjwt_python(), &b.signing_key_pem(), &b.kid(), &claims_b).unwrap();
    assert_eq!(user(&whoami(&srv, home.path(), &token_b).unwrap()).0, "b:bob");
    claims_b["team"] = "red".into();
    let red = mint_with_pyjwt(&pyjwt_python(), &b.signing_key_pem(), &b.kid(), &claims_b).unwrap();
    assert!(whoami(&srv, home.path(), &red).unwrap_err().contains("Unauthorized"));
    // A token for b's audience signed by a: refused.
    assert!(whoami(&srv, home.path(), &a.mint(&a.claims("alice", "kauth-b"))).is_err());
    assert_eq!(a.fetches().discovery, 1);
    assert_eq!(a.fetches().jwks, 1);

    // Rotation at a: the old key withdrawn, tokens signed with a new one. kauth fetches again
    // on the new kid once 10 s have passed since its last fetch; until then it answers 401.
    a.rotate(false);
    let rotated = a.mint(&a.claims("alice", "kauth"));
    let review = until("the rotated key accepted", || whoami(&srv, home.path(), &rotated).ok());
    assert_eq!(user(&review).0, "a:alice");
    assert_eq!(a.fetches().jwks, 2, "one more fetch for the new key, however many tries");

    // a down: the last good keys go on verifying a's tokens.
    a.set_down(true);
    let fresh = a.mint(&a.claims("carol", "kauth"));
    assert_eq!(user(&whoami(&srv, home.path(), &fresh).unwrap()).0, "a:carol");
    // A forged kid makes kauth try a (when 10 s allow); the failure shows in /readyz.
    let forged = a.mint_forged("forged-while-down", &a.claims("mallory", "kauth"));
    until("a's failed fetch in /readyz", || {
        assert!(whoami(&srv, home.path(), &forged).is_err());
        readyz(&srv).contains(&format!("[!]jwt-authenticator:{} warning", a.url)).then_some(())
    });
    assert!(readyz(&srv).contains("readyz check passed"), "an issuer down is not counted against readiness");
    assert_eq!(user(&whoami(&srv, home.path(), &fresh).unwrap()).0, "a:carol", "still the last good keys");
    a.set_down(false);

    // A flood of forged kids: a is asked at most once per 10 s.
    let http = agent(&srv);
    let before = a.fetches();
    let start = Instant::now();
    for i in 0..300 {
        let forged = a.mint_forged(&format!("forged-{i}"), &a.claims("mallory", "kauth"));
        let resp = http
            .get(&format!("{}/api/v1/namespaces", srv.url))
            .header("Authorization", &format!("Bearer {forged}"))
            .call()
            .unwrap();
        assert_eq!(resp.status().as_u16(), 401);
    }
    let allowed = start.elapsed().as_secs() as usize / 10 + 1;
    let after = a.fetches();
    assert!(after.jwks - before.jwks <= allowed, "{before:?} -> {after:?} in {:?}", start.elapsed());
    assert_eq!(after.discovery, 1, "the discovery document is read once");
    let m = metrics(&srv);
    assert!(m.contains("kauth_jwt_issuer_refresh_refused_total{jwt_issuer_hash=\"sha256:"), "{m}");
    assert!(m.contains("kauth_jwt_issuer_last_success_timestamp_seconds"), "{m}");

    // Reload: a's prefix changed and b dropped; then a bad file, refused, the good one kept.
    std::fs::write(&file, config(&a, "a2:", None)).unwrap();
    let fresh = a.mint(&a.claims("alice", "kauth"));
    until("the new configuration in use", || {
        whoami(&srv, home.path(), &fresh).ok().filter(|r| user(r).0 == "a2:alice")
    });
    assert!(whoami(&srv, home.path(), &token_b).is_err(), "b is no longer configured");
    std::fs::write(&file, config(&a, "a3:", None).replace("https://", "http://")).unwrap();
    until("the bad file counted", || {
        metrics(&srv)
            .lines()
            .any(|l| {
                l.starts_with("apiserver_authentication_config_controller_automatic_reloads_total")
                    && l.contains("status=\"failure\"")
                    && l.ends_with(" 1")
            })
            .then_some(())
    });
    assert_eq!(user(&whoami(&srv, home.path(), &fresh).unwrap()).0, "a2:alice", "the good configuration stays");
    assert!(metrics(&srv)
        .lines()
        .any(|l| l.starts_with("apiserver_authentication_config_controller_automatic_reloads_total")
            && l.contains("status=\"success\"")
            && l.ends_with(" 1")));
}

#[test]
fn the_legacy_oidc_flags_make_one_issuer() {
    require!(Tool::Kubectl);
    let a = OidcIssuer::start("");
    let dir = tempfile::tempdir().unwrap();
    let home = tempfile::tempdir().unwrap();
    let ca = a.write_ca(dir.path(), "oidc-ca.crt");
    let srv = Server::start_in(
        &dir.path().join("data"),
        &[
            "--oidc-issuer-url",
            &a.url,
            "--oidc-client-id",
            "kauth",
            "--oidc-ca-file",
            s(&ca),
            "--oidc-username-claim",
            "email",
            "--oidc-groups-claim",
            "groups",
            "--oidc-groups-prefix",
            "oidc:",
            "--oidc-required-claim",
            "hd=example.com",
        ],
    );
    let mut claims = a.claims("1234", "kauth");
    claims["email"] = "dana@example.com".into();
    claims["email_verified"] = true.into();
    claims["groups"] = serde_json::json!(["admins"]);
    claims["hd"] = "example.com".into();
    let token = a.mint(&claims);
    let review = until("the issuer initialized", || whoami(&srv, home.path(), &token).ok());
    let (name, groups) = user(&review);
    assert_eq!(name, "dana@example.com", "the email claim is not prefixed");
    assert_eq!(groups, ["oidc:admins", "system:authenticated"]);
    claims["hd"] = "elsewhere.com".into();
    assert!(whoami(&srv, home.path(), &a.mint(&claims)).is_err(), "the required claim is enforced");
}

#[test]
fn the_file_and_the_flags_are_mutually_exclusive() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("authentication.yaml");
    std::fs::write(&file, "apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\njwt: []\n")
        .unwrap();
    let data = dir.path().join("data");
    let r = kauth(&[
        "serve",
        "--data-dir",
        s(&data),
        "--secure-port",
        "0",
        "--authentication-config",
        s(&file),
        "--oidc-issuer-url",
        "https://idp.example",
    ]);
    assert_ne!(r.code, 0);
    assert!(r.stderr.contains("authentication-config file and oidc-* flags are mutually exclusive"), "{}", r.stderr);
}

/// The file's `anonymous.conditions`: requests without credential are anonymous on the listed
/// paths only (matched exactly, as kube-apiserver matches the URL path), 401 elsewhere.
#[test]
fn anonymous_conditions_limit_anonymous_requests_to_their_paths() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("authentication.yaml");
    std::fs::write(
        &file,
        "apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\n\
         anonymous:\n  enabled: true\n  conditions:\n  - path: /livez\n  - path: /readyz\n",
    )
    .unwrap();
    let srv = Server::start_in(&dir.path().join("data"), &["--authentication-config", s(&file)]);
    let agent = agent(&srv);
    let status = |path: &str| match agent.get(format!("{}{path}", srv.url)).call() {
        Ok(r) => r.status().as_u16(),
        Err(e) => panic!("{path}: {e}"),
    };
    assert_eq!(status("/livez"), 200);
    assert_eq!(status("/readyz"), 200);
    assert_eq!(status("/healthz"), 401, "anonymous, but not on a listed path");
    assert_eq!(status("/livez/ping"), 401, "paths match exactly");
    assert_eq!(status("/api"), 401);
    // Credentials work everywhere, as before.
    assert!(srv.kubectl(&["get", "--raw", "/healthz"]).ok().contains("ok"));
}
