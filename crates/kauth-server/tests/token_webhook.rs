//! The token webhook's cache TTL on the fake clock: a server in process asks a second kauth
//! server, served over HTTPS by its transport, whose TokenReview is the webhook. Successes are
//! kept for `--authentication-token-webhook-cache-ttl` (2 minutes by default) and asked again
//! once it has passed; the calls are counted on the webhook metrics. Time moves only with the
//! fake clock.
#![allow(clippy::unwrap_used)]

mod common;

use std::path::{Path, PathBuf};

use common::{server_with, FakeClock, Server, ADMIN, START};
use http::Method;
use kauth_delegation::webhook::WebhookVersion;
use kauth_server::bootstrap::prepare;
use kauth_server::Options;
use serde_json::{json, Value};

const TOKEN_REVIEWS: &str = "/apis/authentication.k8s.io/v1/tokenreviews";

/// A kauth server on HTTPS in its own runtime, stopped when dropped.
struct Webhook {
    url: String,
    ca: PathBuf,
    stop: Option<tokio::sync::oneshot::Sender<()>>,
    runtime: Option<tokio::runtime::Runtime>,
    _dir: tempfile::TempDir,
}

impl Drop for Webhook {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(rt) = self.runtime.take() {
            rt.shutdown_background();
        }
    }
}

/// The webhook's PKI is made on its own clock at the real time: rustls checks its serving
/// certificate against the system clock, whatever the fake one says.
fn webhook() -> Webhook {
    #[allow(clippy::disallowed_methods)] // the TLS peer's validity is judged on real time
    let clock = FakeClock::at(time::OffsetDateTime::now_utc().unix_timestamp());
    let dir = tempfile::tempdir().unwrap();
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(
        &tokens,
        "carol-token,carol,u-carol,\"team-a\"\napiserver-token,kube-apiserver,u-k,\"system:masters\"\n",
    )
    .unwrap();
    let options = Options {
        data_dir: dir.path().join("data"),
        secure_port: 0,
        token_auth_file: Some(tokens),
        ..Options::default()
    };
    let prepared = prepare(&options, clock.clock()).unwrap();
    let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(1).enable_all().build().unwrap();
    let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
    let url = format!("https://{}{TOKEN_REVIEWS}", listener.local_addr().unwrap());
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    runtime.spawn(kauth_server::transport::http::serve(prepared.state, listener, prepared.tls, async {
        let _ = stopped.await;
    }));
    Webhook { url, ca: dir.path().join("data/pki/ca.crt"), stop: Some(stop), runtime: Some(runtime), _dir: dir }
}

fn kubeconfig(dir: &Path, w: &Webhook) -> PathBuf {
    let yaml = format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: w\n  cluster:\n    server: {}\n    certificate-authority: {}\nusers:\n- name: u\n  user:\n    token: apiserver-token\ncontexts:\n- name: c\n  context: {{cluster: w, user: u}}\ncurrent-context: c\n",
        w.url,
        w.ca.display()
    );
    let path = dir.join("webhook.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn review(s: &Server, token: &str) -> Value {
    let body = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}});
    let r = s.send(Method::POST, TOKEN_REVIEWS, Some(body), Some(ADMIN));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    serde_json::from_slice::<Value>(&r.body).unwrap()["status"].clone()
}

/// Calls the server made to the webhook that were answered with 200.
fn calls(s: &Server) -> u64 {
    let text = s.state.metrics.render(s.clock.now(), (0, 0), None);
    text.lines()
        .find(|l| l.starts_with("kauth_authentication_webhook_request_total{code=\"200\"}"))
        .and_then(|l| l.rsplit(' ').next()?.parse().ok())
        .unwrap_or(0)
}

#[test]
fn a_success_is_kept_for_the_webhook_cache_ttl_on_the_fake_clock() {
    let clock = FakeClock::at(START);
    let w = webhook();
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(dir.path(), &w);
    let s = server_with(clock.clone(), |o| {
        o.authentication_token_webhook_config_file = Some(config);
        o.authentication_token_webhook_version = WebhookVersion::V1;
        // The server's own 10 s token cache off: only the webhook's cache is seen.
        o.token_cache_ttl = std::time::Duration::ZERO;
    });
    assert!(s.state.config.remote_authentication, "the chain waits on the network: off the workers");
    let status = review(&s, "carol-token");
    assert_eq!(
        (status["authenticated"].clone(), status["user"]["username"].clone()),
        (json!(true), json!("carol")),
        "{status}"
    );
    assert_eq!(calls(&s), 1);
    clock.advance(119);
    assert_eq!(review(&s, "carol-token")["authenticated"], true);
    assert_eq!(calls(&s), 1, "within the 2m TTL: the cached answer");
    clock.advance(1);
    assert_eq!(review(&s, "carol-token")["authenticated"], true);
    assert_eq!(calls(&s), 2, "at 2m the webhook is asked again");
    // A request through the pipeline, as carol: the same cache, still fresh.
    let whoami = json!({"apiVersion": "authentication.k8s.io/v1", "kind": "SelfSubjectReview"});
    let r =
        s.send(Method::POST, "/apis/authentication.k8s.io/v1/selfsubjectreviews", Some(whoami), Some("carol-token"));
    assert_eq!(r.status, 201, "{}", String::from_utf8_lossy(&r.body));
    assert_eq!(calls(&s), 2);
}

#[test]
fn without_a_webhook_the_chain_stays_on_the_workers() {
    let s = server_with(FakeClock::at(START), |_| {});
    assert!(!s.state.config.remote_authentication);
}

/// kube-apiserver 1.32's default version is v1beta1, which kube-apiserver (since 1.22) and
/// kauth no longer serve: the webhook refuses the review itself, and says why.
#[test]
fn the_default_v1beta1_review_is_refused_by_a_kauth_webhook_as_by_kube_apiserver() {
    let w = webhook();
    let dir = tempfile::tempdir().unwrap();
    let config = kubeconfig(dir.path(), &w);
    let s = server_with(FakeClock::at(START), |o| o.authentication_token_webhook_config_file = Some(config));
    assert_eq!(s.options.authentication_token_webhook_version, WebhookVersion::V1beta1, "kube-apiserver's default");
    let status = review(&s, "carol-token");
    let error = status["error"].as_str().unwrap();
    assert!(
        error.contains(&format!(
            "; webhook: the cluster at {url} refused the TokenReview: {url}: HTTP 400: TokenReview in version \"v1beta1\" cannot be handled as a TokenReview",
            url = w.url
        )),
        "{error}"
    );
}
