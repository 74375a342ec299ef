//! The token webhook (`--authentication-token-webhook-config-file`), through real processes: a
//! second `kauth serve` is the webhook. A token only it knows authenticates on the first server,
//! seen by kubectl and by a TokenReview there; a token it denies carries its reason; the
//! webhook's answers are cached (counted on both servers' metrics, no timing); with the webhook
//! down, the reason says it could not be asked.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use common::server::{Out, Server};
use serde_json::{json, Value};

/// Static tokens of the webhook: carol exists only there; kube-apiserver is who the first
/// server presents itself as; webhook-admin reads the webhook's metrics.
const WEBHOOK_TOKENS: &str = "carol-token,carol,u-carol,\"team-a\"\napiserver-token,kube-apiserver,u-apiserver\n\
                              webhook-admin-token,webhook-admin,u-wa,\"system:masters\"\n";
/// The first server's own admin, for its TokenReviews and metrics.
const FRONT_TOKENS: &str = "front-admin-token,front-admin,u-front,\"system:masters\"\n";
const TOKEN_REVIEWS: &str = "/apis/authentication.k8s.io/v1/tokenreviews";

fn write(path: &Path, text: &str) -> PathBuf {
    std::fs::write(path, text).unwrap();
    path.to_owned()
}

/// The webhook as kube-apiserver's flag takes it: a kubeconfig whose server is the full URL.
fn webhook_kubeconfig(dir: &Path, webhook: &Server) -> PathBuf {
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: authn\n  cluster:\n    server: {}{TOKEN_REVIEWS}\n    certificate-authority: {}\nusers:\n- name: kube-apiserver\n  user:\n    token: apiserver-token\ncontexts:\n- name: webhook\n  context: {{cluster: authn, user: kube-apiserver}}\ncurrent-context: webhook\n",
        webhook.url,
        webhook.dir.join("pki/ca.crt").display()
    );
    write(&dir.join("webhook.yaml"), &yaml)
}

/// kubectl against `server` with only `token` (no client certificate).
fn kubectl_as(server: &Server, home: &Path, token: &str, args: &[&str]) -> Out {
    let out = Command::new("kubectl")
        .env("KUBECONFIG", "/dev/null")
        .env("HOME", home)
        .args(["--server", &server.url, "--certificate-authority", server.dir.join("pki/ca.crt").to_str().unwrap()])
        .args(["--token", token])
        .args(args)
        .output()
        .unwrap();
    Out {
        code: out.status.code().unwrap_or(-1),
        stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
    }
}

fn token_review(server: &Server, token: &str) -> Value {
    let review = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
    server.post_json("front-admin-token", TOKEN_REVIEWS, &review)["status"].clone()
}

/// The value of the sample of `metric` whose labels contain `labels` (0 when absent).
fn sample(server: &Server, token: &str, metric: &str, labels: &str) -> u64 {
    let out = server.curl(&["-H", &format!("Authorization: Bearer {token}")], "/metrics").ok();
    out.lines()
        .filter(|l| l.starts_with(&format!("{metric}{{")) && l.contains(labels))
        .filter_map(|l| l.rsplit(' ').next()?.parse::<u64>().ok())
        .sum()
}

struct Pair {
    webhook: Server,
    front: Server,
    _dir: tempfile::TempDir,
    home: tempfile::TempDir,
}

/// The webhook, with kube-apiserver allowed to create TokenReviews there (system:auth-delegator),
/// and the first server asking it; `extra` flags for the first.
fn pair(extra: &[&str]) -> Pair {
    let dir = tempfile::tempdir().unwrap();
    let webhook_tokens = write(&dir.path().join("webhook-tokens.csv"), WEBHOOK_TOKENS);
    let webhook =
        Server::start_in(&dir.path().join("webhook"), &["--token-auth-file", webhook_tokens.to_str().unwrap()]);
    webhook
        .kubectl(&[
            "create",
            "clusterrolebinding",
            "webhook-caller",
            "--clusterrole=system:auth-delegator",
            "--user=kube-apiserver",
        ])
        .ok();
    let config = webhook_kubeconfig(dir.path(), &webhook);
    let front_tokens = write(&dir.path().join("front-tokens.csv"), FRONT_TOKENS);
    let mut args = vec![
        "--token-auth-file",
        front_tokens.to_str().unwrap(),
        "--authentication-token-webhook-config-file",
        config.to_str().unwrap(),
        "--authentication-token-webhook-version=v1",
    ];
    args.extend_from_slice(extra);
    let front = Server::start_in(&dir.path().join("front"), &args);
    Pair { webhook, front, _dir: dir, home: tempfile::tempdir().unwrap() }
}

#[test]
fn a_token_only_the_webhook_knows_authenticates_on_the_first_server() {
    let p = pair(&[]);
    // Not known to the first server's own authenticators: the webhook vouches for carol.
    let whoami = kubectl_as(&p.front, p.home.path(), "carol-token", &["auth", "whoami"]).ok();
    println!("$ kubectl --token carol-token auth whoami\n{whoami}");
    assert!(whoami.contains("carol"), "{whoami}");
    assert!(whoami.contains("u-carol"), "{whoami}");
    assert!(whoami.contains("[team-a system:authenticated]"), "{whoami}");
    // RBAC on the first server judges the webhook's user.
    let denied = kubectl_as(&p.front, p.home.path(), "carol-token", &["get", "namespaces"]);
    assert_ne!(denied.code, 0);
    assert!(denied.stderr.contains("User \"carol\" cannot list resource \"namespaces\""), "{}", denied.stderr);
    p.front.kubectl(&["create", "clusterrolebinding", "team-a-view", "--clusterrole=view", "--group=team-a"]).ok();
    let listed = kubectl_as(&p.front, p.home.path(), "carol-token", &["get", "namespaces"]).ok();
    assert!(listed.contains("kube-system"), "{listed}");
    // A TokenReview on the first server says the same, with the API audiences.
    let status = token_review(&p.front, "carol-token");
    assert_eq!(status["authenticated"], true, "{status}");
    assert_eq!(status["user"]["username"], "carol");
    assert_eq!(status["user"]["groups"], json!(["team-a", "system:authenticated"]));
}

#[test]
fn a_denied_token_carries_the_webhook_s_reason() {
    let p = pair(&[]);
    let status = token_review(&p.front, "nobody-knows-this-token");
    let error = status["error"].as_str().unwrap();
    println!("TokenReview status.error: {error}");
    assert_eq!(status["authenticated"], Value::Null, "{status}");
    // kube-apiserver's text first, the webhook's status.error in its list (here the webhook's
    // own kauth text); then kauth's verdicts: this server's service-account authenticator's,
    // then the webhook's, with its reason.
    assert!(error.starts_with("[invalid bearer token, invalid bearer token; kauth: "), "{error}");
    let webhook_verdict = format!(
        "; webhook: the TokenReview at {}{TOKEN_REVIEWS} did not authenticate the token: invalid bearer token; kauth: ",
        p.webhook.url
    );
    assert!(error.contains(&webhook_verdict), "{error}");
    let out = kubectl_as(&p.front, p.home.path(), "nobody-knows-this-token", &["auth", "whoami"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("Unauthorized"), "{}", out.stderr);
    let refused = "authenticator=\"webhook\",code=\"tokenreview_unauthenticated\"";
    assert!(sample(&p.front, "front-admin-token", "authentication_attempts", refused) >= 1);
}

#[test]
fn answers_are_cached_for_the_webhook_ttl_and_errors_never() {
    // The first server's own token cache off, so every request reaches the webhook's cache.
    let p = pair(&["--token-cache-ttl=0s"]);
    for _ in 0..3 {
        assert_eq!(token_review(&p.front, "carol-token")["authenticated"], true);
    }
    kubectl_as(&p.front, p.home.path(), "carol-token", &["auth", "whoami"]).ok();
    let asked = sample(&p.webhook, "webhook-admin-token", "kauth_tokenreviews_total", "result=\"authenticated\"");
    let sent = sample(&p.front, "front-admin-token", "kauth_authentication_webhook_request_total", "code=\"200\"");
    assert_eq!((asked, sent), (1, 1), "one review for four authentications within the TTL");
    // A denial with a reason is an error: asked every time.
    for _ in 0..2 {
        assert!(token_review(&p.front, "wrong-token")["error"].is_string());
    }
    let sent = sample(&p.front, "front-admin-token", "kauth_authentication_webhook_request_total", "code=\"200\"");
    assert_eq!(sent, 3);
}

#[test]
fn the_webhook_down_is_said_to_be_unreachable() {
    let p = pair(&[]);
    let url = format!("{}{TOKEN_REVIEWS}", p.webhook.url);
    p.webhook.kill9();
    let status = token_review(&p.front, "carol-token");
    let error = status["error"].as_str().unwrap();
    println!("TokenReview status.error: {error}");
    assert!(error.starts_with("invalid bearer token; kauth: "), "{error}");
    let webhook_verdict = format!("; webhook: the TokenReview at {url} could not be made: {url}: Connection refused");
    assert!(error.contains(&webhook_verdict), "{error}");
    let errors =
        sample(&p.front, "front-admin-token", "kauth_authentication_webhook_request_total", "code=\"<error>\"");
    assert_eq!(errors, 1, "a refused connection is not retried");
    let out = kubectl_as(&p.front, p.home.path(), "carol-token", &["auth", "whoami"]);
    assert_ne!(out.code, 0);
    assert!(out.stderr.contains("Unauthorized"), "{}", out.stderr);
    let errors =
        sample(&p.front, "front-admin-token", "kauth_authentication_webhook_request_total", "code=\"<error>\"");
    assert!(errors >= 2, "kubectl's request asked the webhook too: {errors}");
}

#[test]
fn a_bad_webhook_kubeconfig_stops_the_server_with_kube_apiserver_s_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.yaml");
    let run = common::kauth(&[
        "serve",
        "--data-dir",
        dir.path().join("data").to_str().unwrap(),
        "--secure-port=0",
        "--authentication-token-webhook-config-file",
        missing.to_str().unwrap(),
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains(&format!(
            "--authentication-token-webhook-config-file: stat {}: no such file or directory; kauth: the webhook's kubeconfig does not exist",
            missing.display()
        )),
        "{}",
        run.stderr
    );
}
