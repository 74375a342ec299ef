//! `kauth agent` through the real binary against `kauth serve`: `--once` writes tokens (bound
//! and unbound, with their modes, in the kubelet's layout) that `kauth token verify` and the
//! server's TokenReview accept; a stopped server fails `--once` and leaves the old token; an
//! issuer 2 minutes ahead is reported; the long-running agent serves /healthz and /metrics,
//! backs off from a dead server without spinning, and exits 0 on SIGTERM.
#![allow(clippy::unwrap_used)]

mod common;

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use common::server::Server;
use common::tools::{require, Tool};
use common::{kauth, s, Run};
use serde_json::Value;

/// Runs `kauth agent ARGS` to its end.
fn agent(args: &[&str]) -> Run {
    let out = Command::new(env!("CARGO_BIN_EXE_kauth"))
        .arg("agent")
        .args(args)
        .env("KAUTH_LOG", "info")
        .env_remove("HTTPS_PROXY")
        .env_remove("https_proxy")
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

/// A config file for `tokens` (YAML list items) in `dir`.
fn config(dir: &Path, tokens: &str) -> std::path::PathBuf {
    let path = dir.join("agent.yaml");
    std::fs::write(&path, format!("tokens:\n{tokens}")).unwrap();
    path
}

/// The server with namespace `ci`, service account `runner` and a secret to bind to.
fn cluster(dir: &Path, extra: &[&str]) -> Server {
    let srv = Server::start_in(dir, extra);
    srv.kubectl(&["create", "namespace", "ci"]).ok();
    srv.kubectl(&["-n", "ci", "create", "serviceaccount", "runner"]).ok();
    srv.kubectl(&["-n", "ci", "create", "secret", "generic", "runner-binding"]).ok();
    srv
}

fn token_review(srv: &Server, token: &str) -> Value {
    let review =
        serde_json::json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
    let out = srv.kubectl_in(
        &["create", "--raw", "/apis/authentication.k8s.io/v1/tokenreviews", "-f", "-"],
        Some(review.to_string().as_bytes()),
    );
    serde_json::from_str(&out.ok()).unwrap()
}

const TWO_TOKENS: &str = "\
- name: vault
  path: tokens/vault
  namespace: ci
  serviceAccount: runner
  audiences: [vault]
  expirationSeconds: 3600
  mode: \"0644\"
- name: api
  path: tokens/api
  namespace: ci
  serviceAccount: runner
  boundObjectRef: {kind: Secret, name: runner-binding}
";

#[test]
fn once_writes_tokens_the_server_and_verify_accept_and_a_stopped_server_leaves_them() {
    require!(Tool::Kubectl);
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let srv = cluster(data.path(), &[]);
    let cfg = config(work.path(), TWO_TOKENS);
    let kubeconfig = srv.dir.join("admin.conf");
    let r = agent(&["--config", s(&cfg), "--kubeconfig", s(&kubeconfig), "--once"]);
    assert_eq!(r.code, 0, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("vault: wrote a new token to"), "{}", r.stderr);

    // The kubelet's layout: user-visible symlinks into ..data, a timestamped directory.
    let tokens = work.path().join("tokens");
    assert_eq!(std::fs::read_link(tokens.join("vault")).unwrap(), Path::new("..data/vault"));
    assert_eq!(std::fs::read_link(tokens.join("api")).unwrap(), Path::new("..data/api"));
    let ts = std::fs::read_link(tokens.join("..data")).unwrap();
    assert!(ts.to_str().unwrap().starts_with("..20"), "{ts:?}");
    let mode = |n: &str| std::fs::metadata(tokens.join(n)).unwrap().permissions().mode() & 0o777;
    assert_eq!((mode("vault"), mode("api")), (0o644, 0o600));

    // The vault token: audience vault, an hour, verified with the server's key.
    let vault = tokens.join("vault");
    let key = srv.dir.join("pki/sa.pub");
    let issuer = "https://kubernetes.default.svc.cluster.local";
    let v = kauth(&[
        "token",
        "verify",
        s(&vault),
        "--key",
        s(&key),
        "--audience",
        "vault",
        "--issuer",
        issuer,
        "-o",
        "json",
    ]);
    assert_eq!(v.code, 0, "{}\n{}", v.stdout, v.stderr);
    let v: Value = serde_json::from_str(&v.stdout).unwrap();
    // Every check passes (the service account's existence is left to the server, offline).
    assert_eq!(v["verdict"], "valid", "{v:#}");
    for c in v["checks"].as_array().unwrap() {
        let expected = if c["name"] == "objects" { "not-checked" } else { "passed" };
        assert_eq!(c["status"], expected, "{c:#}");
    }
    // An hour's token, read from its claims: the rendered "(in 1h)" would depend on how many
    // wall-clock seconds passed between writing and verifying.
    let lifetime = v["claims"]["exp"].as_i64().unwrap() - v["claims"]["iat"].as_i64().unwrap();
    assert_eq!(lifetime, 3600, "an hour's token: {v:#}");
    let wrong = kauth(&["token", "verify", s(&vault), "--key", s(&key), "--audience", "other"]);
    assert_eq!(wrong.code, 1, "a verify that can fail: {}", wrong.stdout);

    // The API token, bound to the secret: the server's TokenReview accepts it.
    let api = std::fs::read_to_string(tokens.join("api")).unwrap();
    let review = token_review(&srv, api.trim());
    assert_eq!(review["status"]["authenticated"], true, "{review:#}");
    assert_eq!(review["status"]["user"]["username"], "system:serviceaccount:ci:runner");
    let claims = api.trim().split('.').nth(1).unwrap();
    let claims: Value = serde_json::from_slice(&URL_SAFE_NO_PAD.decode(claims).unwrap()).unwrap();
    assert_eq!(claims["kubernetes.io"]["secret"]["name"], "runner-binding", "{claims:#}");
    // Bound for real: with the secret gone, the server refuses it.
    srv.kubectl(&["-n", "ci", "delete", "secret", "runner-binding"]).ok();
    let review = token_review(&srv, api.trim());
    assert_ne!(review["status"]["authenticated"], true, "{review:#}");

    // The server stops: --once fails with exit 1 and leaves both files as they were.
    let before = std::fs::read_to_string(&vault).unwrap();
    drop(srv);
    let r = agent(&["--config", s(&cfg), "--kubeconfig", s(&kubeconfig), "--once"]);
    assert_eq!(r.code, 1, "{}\n{}", r.stdout, r.stderr);
    assert!(r.stderr.contains("not written, their files left as they were"), "{}", r.stderr);
    assert!(r.stderr.contains("no answer"), "{}", r.stderr);
    assert_eq!(std::fs::read_to_string(&vault).unwrap(), before);
    assert_eq!(std::fs::read_to_string(tokens.join("api")).unwrap(), api);
}

#[test]
fn an_issuer_two_minutes_ahead_is_reported() {
    require!(Tool::Kubectl);
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let srv = cluster(data.path(), &["--clock-offset", "2m"]);
    let cfg = config(work.path(), "- {path: t/token, namespace: ci, serviceAccount: runner}\n");
    let r = agent(&["--config", s(&cfg), "--kubeconfig", s(&srv.dir.join("admin.conf")), "--once"]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let line = r
        .stderr
        .lines()
        .find(|l| l.contains("the issuer's clock is at least"))
        .unwrap_or_else(|| panic!("{}", r.stderr));
    // At least 1m5x s ahead (the request's window takes the rest), past the 60 s leeway.
    assert!(line.contains("at least 1m5") && line.contains("ahead of this machine's"), "{line}");
    assert!(line.contains("rejects them as not valid yet for 5"), "{line}");
    assert!(line.contains("sync the clocks"), "{line}");
    assert!(work.path().join("t/token").exists());
}

/// A long-running agent, stopped by PID when dropped.
struct Running {
    child: Child,
    address: String,
}

impl Running {
    fn start(cfg: &Path, kubeconfig: &Path) -> Running {
        let mut child = Command::new(env!("CARGO_BIN_EXE_kauth"))
            .args(["agent", "--config", s(cfg), "--kubeconfig", s(kubeconfig), "--health-address", "127.0.0.1:0"])
            .env_remove("HTTPS_PROXY")
            .env_remove("https_proxy")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
        let address = line
            .split("http://")
            .nth(1)
            .and_then(|r| r.split('/').next())
            .unwrap_or_else(|| panic!("unexpected first line {line:?}"))
            .to_owned();
        Running { child, address }
    }

    /// GET `path`: status code and body.
    fn get(&self, path: &str) -> (u16, String) {
        let mut c = std::net::TcpStream::connect(&self.address).unwrap();
        write!(c, "GET {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", self.address).unwrap();
        let mut text = String::new();
        c.read_to_string(&mut text).unwrap();
        let code = text.split(' ').nth(1).and_then(|c| c.parse().ok()).unwrap();
        let body = text.split_once("\r\n\r\n").map(|(_, b)| b.to_owned()).unwrap_or_default();
        (code, body)
    }

    fn metric(&self, name: &str) -> Option<f64> {
        let (_, text) = self.get("/metrics");
        text.lines().find(|l| l.starts_with(name)).and_then(|l| l.rsplit(' ').next()).and_then(|v| v.parse().ok())
    }

    /// Polls until `f` holds (a bound against hanging, not a timing assertion).
    fn until(&self, what: &str, f: impl Fn(&Running) -> bool) {
        for _ in 0..600 {
            if f(self) {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("never: {what}; healthz: {:?}", self.get("/healthz"));
    }

    /// SIGTERM, then the exit code.
    fn terminate(mut self) -> i32 {
        let pid = self.child.id().to_string();
        assert!(Command::new("kill").args(["-TERM", &pid]).status().unwrap().success());
        for _ in 0..600 {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code().unwrap_or(-1);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        panic!("did not exit on SIGTERM")
    }
}

impl Drop for Running {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

#[test]
fn the_agent_reports_health_and_metrics_and_exits_on_sigterm() {
    require!(Tool::Kubectl);
    let data = tempfile::tempdir().unwrap();
    let work = tempfile::tempdir().unwrap();
    let srv = cluster(data.path(), &[]);
    let cfg = config(work.path(), TWO_TOKENS);
    let a = Running::start(&cfg, &srv.dir.join("admin.conf"));
    a.until("healthy", |a| a.get("/healthz").0 == 200);
    let (_, body) = a.get("/healthz");
    assert!(body.contains("vault: ok, expires in 3") && body.contains("api: ok, expires in"), "{body}");
    let (code, text) = a.get("/metrics");
    assert_eq!(code, 200);
    let expiry = a.metric("kauth_agent_token_expiry_seconds{token=\"vault\"}").unwrap();
    assert!((3500.0..=3600.0).contains(&expiry), "{expiry}\n{text}");
    assert_eq!(a.metric("kauth_agent_token_refreshes_total{token=\"vault\"}"), Some(1.0), "{text}");
    let skew = a.metric("kauth_agent_issuer_clock_ahead_seconds{token=\"vault\"}").unwrap();
    assert!(skew.abs() < 5.0, "{skew}");
    assert_eq!(a.get("/nothing").0, 404);
    assert_eq!(a.terminate(), 0);
    assert!(work.path().join("tokens/vault").exists(), "the files stay after exit");
}

#[test]
fn a_dead_server_is_retried_with_growing_backoff_not_in_a_loop() {
    let work = tempfile::tempdir().unwrap();
    // A kubeconfig for a server that is not there.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let kubeconfig = work.path().join("dead.conf");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {{server: \"https://127.0.0.1:{port}\", insecure-skip-tls-verify: true}}\nusers:\n- name: u\n  user: {{token: abc}}\ncontexts:\n- name: x\n  context: {{cluster: c, user: u}}\ncurrent-context: x\n"
        ),
    )
    .unwrap();
    let cfg = config(work.path(), "- {name: t, path: t/token, namespace: ci, serviceAccount: runner}\n");
    let a = Running::start(&cfg, &kubeconfig);
    a.until("three failures", |a| a.metric("kauth_agent_refresh_failures_total").unwrap_or(0.0) >= 3.0);
    let (code, body) = a.get("/healthz");
    assert_eq!(code, 503);
    assert!(body.starts_with("t: no token yet (") && body.contains("no answer"), "{body}");
    // The third failure waits 4 s (plus at most 10%): the backoff grew from 1 s and 2 s, and
    // the failures are counted one per attempt, not thousands.
    let backoff = a.metric("kauth_agent_refresh_backoff_seconds").unwrap();
    let failures = a.metric("kauth_agent_refresh_failures_total").unwrap();
    assert!(backoff >= 2.0f64.powf(failures - 1.0), "backoff {backoff} after {failures} failures");
    assert!(failures < 6.0, "{failures} failures");
    assert!(!work.path().join("t/token").exists());
    assert_eq!(a.terminate(), 0);
}
