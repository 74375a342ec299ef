//! `kauth token ...` as users run it: create, decode, explain, verify, jwks; the seed tokens;
//! `--jwks-url` against a real HTTPS server on loopback.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::{BufRead, BufReader};
use std::path::PathBuf;
use std::process::{Command, Stdio};

mod common;

use common::tools::{require, Tool};
use common::{kauth, kauth_in, s, Run};

/// The bearer token in seed 000 (a one-year extended token, issued by a node 90 s ahead).
fn seed_000() -> String {
    include_str!("data/seed_000_token.txt").trim().to_owned()
}

const SEED_002: &str = include_str!("data/seed_002_token.txt");
const SEED_002_CORRUPT: &str = include_str!("data/seed_002_token_corrupt.txt");

struct Pki {
    dir: tempfile::TempDir,
}

impl Pki {
    fn new() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let r = kauth(&["pki", "init", "--dir", s(dir.path()), "--node-name", "cp-1"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        Pki { dir }
    }
    fn pki(&self, f: &str) -> PathBuf {
        self.dir.path().join("pki").join(f)
    }
    fn create(&self, extra: &[&str]) -> Run {
        let key = self.pki("sa.key");
        let mut args = vec![
            "token",
            "create",
            "--key",
            s(&key),
            "-n",
            "team-a",
            "--service-account",
            "builder",
            "--uid",
            "sa-uid-1",
        ];
        args.extend_from_slice(extra);
        kauth(&args)
    }
}

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

#[test]
fn create_then_explain_and_verify_with_the_public_key() {
    let p = Pki::new();
    let r = p.create(&["--bound-pod", "build-1:pod-uid-1", "--duration", "1h"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let token = r.stdout.trim().to_owned();
    assert_eq!(token.split('.').count(), 3);
    let r =
        kauth(&["token", "explain", &token, "--key", s(&p.pki("sa.pub")), "--issuer", ISSUER, "--audience", ISSUER]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    assert!(r.stdout.contains("Verdict: VALID"), "{}", r.stdout);
    assert!(r.stdout.contains("ok   signature   verified with key "), "{}", r.stdout);
    assert!(r.stdout.contains("bound to pod team-a/build-1 (uid pod-uid-1)"));
    let r = kauth(&["token", "verify", &token, "--key", s(&p.pki("sa.pub"))]);
    assert_eq!((r.code, r.stdout.trim()), (0, "valid: system:serviceaccount:team-a:builder"));
    // From standard input and from a file, as a pod reads its projected token.
    let r = kauth_in(&["token", "verify", "-", "--key", s(&p.pki("sa.pub"))], Some(format!("{token}\n").as_bytes()));
    assert_eq!(r.code, 0);
    let file = p.dir.path().join("token");
    std::fs::write(&file, &token).unwrap();
    assert_eq!(kauth(&["token", "verify", s(&file), "--key", s(&p.pki("sa.pub"))]).code, 0);
    // Another cluster's key: the kid is unknown.
    let other = Pki::new();
    let r = kauth(&["token", "verify", &token, "--key", s(&other.pki("sa.pub"))]);
    assert_eq!(r.code, 1);
    assert!(r.stdout.starts_with("invalid: no verification key has the token's kid"), "{}", r.stdout);
    // Wrong audience, as JSON.
    let r = kauth(&["token", "explain", &token, "--key", s(&p.pki("sa.pub")), "--audience", "vault", "-o", "json"]);
    assert_eq!(r.code, 1);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["verdict"], "invalid");
    assert!(v["checks"]
        .as_array()
        .unwrap()
        .iter()
        .any(|c| c["name"] == "audience" && c["code"] == "token_audience_mismatch"));
    assert!(v["fix"].as_str().unwrap().contains("--audience vault"));
    // verify needs a key.
    let r = kauth(&["token", "verify", &token]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains("verify needs --key"));
}

#[test]
fn expiration_rules_and_extension() {
    let p = Pki::new();
    let r = p.create(&["--duration", "5m"]);
    assert_eq!(r.code, 2);
    assert_eq!(
        r.stderr.trim(),
        "kauth: spec.expirationSeconds: Invalid value: 300: may not specify a duration less than 10 minutes"
    );
    let r = p.create(&["--duration", "2h", "--max-expiration", "1h", "-o", "json"]);
    assert_eq!(r.code, 0);
    assert_eq!(r.stderr.trim(), "Warning: requested expiration of 7200 seconds shortened to 3600 seconds");
    let r = p.create(&["--bound-pod", "p:u", "--duration", "3607s", "--now", "2026-01-01T00:00:00Z", "-o", "json"]);
    let v: serde_json::Value = serde_json::from_str(&r.stdout).unwrap();
    assert_eq!(v["expirationTimestamp"], "2026-01-01T01:00:07Z", "status reports the requested 3607 s");
    let token = v["token"].as_str().unwrap().to_owned();
    let r = kauth(&["token", "decode", &token, "--now", "2026-01-01T00:10:00Z"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains(
            "Note: extended token: requested 3607 s, valid 365d (exp), stale after warnafter (2026-01-01T01:00:07Z)"
        ),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("2027-01-01T00:00:00Z  expires (exp)"), "{}", r.stdout);
    let r = p.create(&[
        "--bound-pod",
        "p:u",
        "--duration",
        "3607s",
        "--extend-expiration",
        "false",
        "--now",
        "2026-01-01T00:00:00Z",
    ]);
    let r = kauth(&["token", "decode", r.stdout.trim(), "--now", "2026-01-01T00:00:00Z"]);
    assert!(r.stdout.contains("2026-01-01T01:00:07Z  expires (exp)"), "{}", r.stdout);
    let r = p.create(&["--legacy", "--secret", "builder-token-x"]);
    let r = kauth(&["token", "decode", r.stdout.trim()]);
    assert!(
        r.stdout.contains("legacy token of service account team-a/builder, stored in secret team-a/builder-token-x"),
        "{}",
        r.stdout
    );
}

#[test]
fn seed_000_explained_on_the_lagging_node() {
    // Node A's clock is 90 s behind node B's, which issued the token at 08:14:01.
    let r = kauth(&["token", "explain", &seed_000(), "--now", "2022-11-27T08:12:31Z"]);
    assert_eq!(r.code, 1, "{}", r.stdout);
    assert!(
        r.stdout.contains(
            "FAIL not-before  token not valid yet: nbf 2022-11-27T08:14:01Z is 1m30s after this server's time"
        ),
        "{}",
        r.stdout
    );
    assert!(r.stdout.contains("--   signature   no key given"));
    assert!(r.stdout.contains("Cause: clock skew: "));
    assert!(r.stdout.contains("Fix: synchronize the clocks"));
    // Decoded without a key, in its own time: nothing wrong that can be seen without the key.
    let r = kauth(&["token", "explain", &seed_000(), "--now", "2022-11-27T08:20:00Z"]);
    assert_eq!(r.code, 0);
    assert!(
        r.stdout.contains("Verdict: NO PROBLEM FOUND, but not checked: signature, issuer, audience"),
        "{}",
        r.stdout
    );
}

#[test]
fn seed_002_legacy_token_and_its_corrupted_copy() {
    let r = kauth(&["token", "decode", SEED_002.trim()]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    assert!(r.stdout.contains("\"kubernetes.io/serviceaccount/secret.name\": \"default-token-jvrkf\""));
    assert!(r.stdout.contains("legacy token of service account kube-system/default"));
    for cmd in ["decode", "explain"] {
        let r = kauth(&["token", cmd, SEED_002_CORRUPT.trim()]);
        assert_eq!(r.code, 2);
        assert_eq!(r.stderr.lines().count(), 1);
        assert!(
            r.stderr.starts_with("kauth: malformed token: payload (segment 2) claims are not UTF-8"),
            "{}",
            r.stderr
        );
    }
    for garbage in ["not-a-token", "a.b.c", ""] {
        let r = kauth(&["token", "decode", garbage]);
        assert_eq!(r.code, 2, "{garbage:?}");
    }
}

#[test]
fn jwks_file_and_url() {
    require!(Tool::Python3);
    let p = Pki::new();
    let token = p.create(&[]).stdout.trim().to_owned();
    let r = kauth(&["token", "jwks", "--key", s(&p.pki("sa.pub"))]);
    assert_eq!(r.code, 0);
    let jwks = p.dir.path().join("jwks.json");
    std::fs::write(&jwks, &r.stdout).unwrap();
    assert!(r.stdout.contains("\"kty\": \"RSA\"") && r.stdout.contains("\"alg\": \"RS256\""));
    assert_eq!(kauth(&["token", "verify", &token, "--jwks", s(&jwks)]).code, 0);

    // A real HTTPS server on a loopback port picked at run time, serving discovery and the JWKS
    // with the PKI's apiserver certificate; it stops itself after a few requests or 30 s.
    let server = r#"
import http.server, json, ssl, sys
cert, key, jwks = sys.argv[1:4]
class H(http.server.BaseHTTPRequestHandler):
    def log_message(self, *a): pass
    def do_GET(self):
        port = self.server.server_address[1]
        if self.path == "/.well-known/openid-configuration":
            body = json.dumps({"issuer": "x", "jwks_uri": f"https://127.0.0.1:{port}/openid/v1/jwks", "response_types_supported": ["id_token"], "subject_types_supported": ["public"], "id_token_signing_alg_values_supported": ["RS256"]}).encode()
        elif self.path == "/openid/v1/jwks":
            body = open(jwks, "rb").read()
        else:
            self.send_response(404); self.end_headers(); return
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
srv = http.server.HTTPServer(("127.0.0.1", 0), H)
ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
ctx.load_cert_chain(cert, key)
srv.socket = ctx.wrap_socket(srv.socket, server_side=True)
srv.timeout = 30
print(srv.server_address[1], flush=True)
for _ in range(4):
    srv.handle_request()
"#;
    let mut child = Command::new("python3")
        .arg("-c")
        .arg(server)
        .args([s(&p.pki("apiserver.crt")), s(&p.pki("apiserver.key")), s(&jwks)])
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let port: u16 = line.trim().parse().unwrap();
    let ca = p.pki("ca.crt");
    let url = format!("https://127.0.0.1:{port}/openid/v1/jwks");
    let r = kauth(&["token", "verify", &token, "--jwks-url", &url, "--certificate-authority", s(&ca)]);
    assert_eq!((r.code, r.stdout.trim()), (0, "valid: system:serviceaccount:team-a:builder"), "{}", r.stderr);
    let discovery = format!("https://127.0.0.1:{port}/.well-known/openid-configuration");
    let r = kauth(&["token", "verify", &token, "--jwks-url", &discovery, "--certificate-authority", s(&ca)]);
    assert_eq!(r.code, 0, "{}{}", r.stdout, r.stderr);
    // Without the cluster CA, the server is not trusted: a clear error, exit 2.
    let r = kauth(&["token", "verify", &token, "--jwks-url", &url]);
    assert_eq!(r.code, 2);
    assert!(r.stderr.contains(&url) && r.stderr.to_lowercase().contains("certificate"), "{}", r.stderr);
    let _ = child.kill();
    let _ = child.wait();
}
