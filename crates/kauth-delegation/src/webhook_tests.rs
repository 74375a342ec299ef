//! The webhook's wire format, its answers judged, and its retries with a fake sleep.
#![allow(clippy::unwrap_used)]

use std::sync::Mutex;
use std::time::Duration;

use serde_json::json;

use super::*;
use crate::webhook_call::{should_retry, with_retries};

fn s(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| (*s).to_owned()).collect()
}

const URL: &str = "https://webhook.example/authenticate";

#[test]
fn the_review_is_the_one_kube_apiserver_sends() {
    let v1 = review(WebhookVersion::V1, "tok", &s(&["api"]));
    assert_eq!(
        v1,
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "metadata": {},
               "spec": {"token": "tok", "audiences": ["api"]}})
    );
    let beta = review(WebhookVersion::V1beta1, "tok", &[]);
    assert_eq!(beta["apiVersion"], "authentication.k8s.io/v1beta1");
    assert!(beta["spec"].get("audiences").is_none(), "no audiences asked for: none sent");
    assert_eq!("v1beta1".parse::<WebhookVersion>(), Ok(WebhookVersion::V1beta1));
    assert_eq!(
        "v2".parse::<WebhookVersion>().unwrap_err(),
        "unsupported authentication webhook version \"v2\", supported versions are \"v1\", \"v1beta1\""
    );
}

#[test]
fn answers_of_either_version_decode_anything_else_is_named() {
    let answer = |api: &str, kind: &str| json!({"apiVersion": api, "kind": kind, "status": {"authenticated": true, "user": {"username": "alice"}}});
    for api in ["authentication.k8s.io/v1", "authentication.k8s.io/v1beta1"] {
        let st = decode_answer(&answer(api, "TokenReview")).unwrap();
        assert_eq!(st.user.unwrap().username.as_deref(), Some("alice"));
    }
    assert!(decode_answer(&answer("v1", "Status")).unwrap_err().contains("kind is \"Status\""));
    assert!(decode_answer(&answer("authentication.k8s.io/v2", "TokenReview")).unwrap_err().contains("apiVersion"));
    let bad =
        json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "status": {"authenticated": "yes"}});
    assert!(decode_answer(&bad).unwrap_err().contains("not a TokenReview"));
    assert!(decode_answer(&json!([1, 2])).is_err());
}

fn status(authenticated: bool, audiences: &[&str], error: &str) -> TokenReviewStatus {
    TokenReviewStatus {
        authenticated: Some(authenticated),
        audiences: (!audiences.is_empty()).then(|| s(audiences)),
        error: (!error.is_empty()).then(|| error.to_owned()),
        user: Some(k8s_openapi::api::authentication::v1::UserInfo {
            username: Some("alice".into()),
            groups: Some(s(&["dev"])),
            ..Default::default()
        }),
    }
}

#[test]
fn audiences_as_kube_apiserver_s_webhook_authenticator_checks_them() {
    let api = s(&["https://kubernetes.default.svc"]);
    // The answer names none: the API audiences stand in.
    let a = judge(URL, status(true, &[], ""), &api, &api).unwrap();
    assert_eq!(&*a.audiences, &api[..]);
    assert_eq!((a.user.name.as_str(), a.authenticator), ("alice", "webhook"));
    // It names some: those asked for among them.
    let a = judge(URL, status(true, &["vault", "api"], ""), &s(&["api", "x"]), &api).unwrap();
    assert_eq!(&*a.audiences, &s(&["api"])[..]);
    // None in common: refused without an error, even if authenticated.
    let r = judge(URL, status(true, &["vault"], ""), &api, &api).unwrap_err();
    assert_eq!(r, Rejection::Webhook(WebhookRejection::AudienceMismatch { wanted: api.clone(), got: s(&["vault"]) }));
    assert!(r.is_silent_failure());
    // Checked before `authenticated`, as kube-apiserver does.
    assert!(matches!(
        judge(URL, status(false, &["vault"], "expired"), &api, &api),
        Err(Rejection::Webhook(WebhookRejection::AudienceMismatch { .. }))
    ));
    // Nothing asked for: nothing checked.
    assert!(judge(URL, status(true, &["vault"], ""), &[], &api).unwrap().audiences.is_empty());
}

#[test]
fn a_denial_carries_the_webhook_s_reason_in_kube_apiserver_s_text() {
    let api = s(&["api"]);
    let r = judge(URL, status(false, &[], "token revoked by the IdP"), &api, &api).unwrap_err();
    assert!(!r.is_silent_failure());
    assert_eq!(r.kubernetes_text().unwrap(), "[invalid bearer token, token revoked by the IdP]");
    assert_eq!(
        r.explained(),
        format!("[invalid bearer token, token revoked by the IdP]; kauth: webhook: the TokenReview at {URL} did not authenticate the token: token revoked by the IdP")
    );
    let silent = judge(URL, status(false, &[], ""), &api, &api).unwrap_err();
    assert!(silent.is_silent_failure());
    assert_eq!(silent.kubernetes_text().unwrap(), "invalid bearer token");
}

#[test]
fn kube_s_default_backoff() {
    let b = Backoff::DEFAULT;
    let waits: Vec<u128> = (0..4).map(|n| b.delay(n, 0.0).as_millis()).collect();
    assert_eq!(waits, [500, 750, 1125, 1687]);
    assert_eq!(b.delay(0, 0.999_999).as_millis(), 599, "jitter adds up to 20%");
}

/// Records the waits instead of waiting.
#[derive(Default)]
struct FakeSleep(Mutex<Vec<Duration>>);

impl Sleep for FakeSleep {
    fn sleep(&self, d: Duration) {
        self.0.lock().unwrap().push(d);
    }
}

fn status_error(status: u16, retry_after: Option<u64>) -> ClusterError {
    ClusterError::Status { url: URL.into(), status, message: "m".into(), retry_after }
}

#[test]
fn only_what_kube_retries_is_retried_and_at_most_five_times() {
    let b = Backoff { jitter: 0.0, ..Backoff::DEFAULT };
    // Five 500s: five attempts, four waits, the last error.
    let sleep = FakeSleep::default();
    let mut calls = 0;
    let r: Result<(), _> = with_retries(&b, &sleep, || {
        calls += 1;
        Err(status_error(500, None))
    });
    assert!(matches!(r, Err(ClusterError::Status { status: 500, .. })));
    assert_eq!(calls, 5);
    let waits: Vec<u128> = sleep.0.lock().unwrap().iter().map(Duration::as_millis).collect();
    assert_eq!(waits, [500, 750, 1125, 1687]);
    // A 429, then an answer.
    let sleep = FakeSleep::default();
    let mut calls = 0;
    let r = with_retries(&b, &sleep, || {
        calls += 1;
        if calls == 1 {
            Err(status_error(429, None))
        } else {
            Ok(7)
        }
    });
    assert_eq!((r.unwrap(), calls), (7, 2));
    // Final at once: refused connection, timeout, 403, 503 without Retry-After.
    let finals = [
        ClusterError::Unreachable { url: URL.into(), problem: "refused".into(), reset: false },
        ClusterError::TimedOut { url: URL.into(), seconds: 30 },
        status_error(403, None),
        status_error(503, None),
    ];
    for e in finals {
        assert!(!should_retry(&e), "{e}");
    }
    for e in [
        ClusterError::Unreachable { url: URL.into(), problem: "reset".into(), reset: true },
        status_error(504, None),
        status_error(503, Some(1)),
    ] {
        assert!(should_retry(&e), "{e}");
    }
}

#[test]
fn an_unreachable_webhook_is_unavailable_at_once() {
    let cluster = Cluster::new(crate::cluster::ClusterSettings {
        server: "http://127.0.0.1:1/authenticate".into(),
        ca_pem: None,
        client_cert: None,
        bearer: None,
        bearer_file: None,
        timeout: Duration::from_secs(5),
    })
    .unwrap();
    let sleep = Arc::new(FakeSleep::default());
    let w = WebhookTokenAuthenticator::new(cluster, WebhookVersion::V1, s(&["api"]))
        .with_backoff(Backoff::DEFAULT, sleep.clone());
    let r = w.authenticate_token("t", None, OffsetDateTime::UNIX_EPOCH).unwrap_err();
    match &r {
        Rejection::Webhook(WebhookRejection::Unavailable { cluster, .. }) => {
            assert_eq!(cluster, "http://127.0.0.1:1/authenticate")
        }
        other => panic!("{other:?}"),
    }
    assert!(sleep.0.lock().unwrap().is_empty(), "a refused connection is not retried");
    assert!(r.explained().starts_with("invalid bearer token; kauth: webhook: the TokenReview at http://127.0.0.1:1/authenticate could not be made"), "{}", r.explained());
}

#[test]
fn a_webhook_that_does_not_answer_in_time_is_timed_out_not_retried() {
    // The kernel completes the connection; nothing ever reads the request or answers it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}/authenticate", listener.local_addr().unwrap());
    let cluster = Cluster::new(crate::cluster::ClusterSettings {
        server: url.clone(),
        ca_pem: None,
        client_cert: None,
        bearer: None,
        bearer_file: None,
        timeout: Duration::from_millis(300),
    })
    .unwrap();
    let sleep = Arc::new(FakeSleep::default());
    let w = WebhookTokenAuthenticator::new(cluster, WebhookVersion::V1, s(&["api"]))
        .with_backoff(Backoff::DEFAULT, sleep.clone());
    let r = w.authenticate_token("t", None, OffsetDateTime::UNIX_EPOCH).unwrap_err();
    assert!(matches!(&r, Rejection::Webhook(WebhookRejection::TimedOut { cluster, .. }) if *cluster == url), "{r:?}");
    assert_eq!(r.code(), "tokenreview_timeout");
    assert!(r.only_unavailable(), "an outage: a stale answer may stand in where one is served");
    assert_eq!(
        r.kubernetes_text().unwrap(),
        format!("[invalid bearer token, Post {url:?}: context deadline exceeded (Client.Timeout exceeded while awaiting headers)]")
    );
    assert!(sleep.0.lock().unwrap().is_empty(), "kube-apiserver does not retry its client's timeout");
    drop(listener);
}
