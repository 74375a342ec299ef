//! `kauth inspect` in a real headless Chromium (Debian's chromium and chromium-driver, over
//! WebDriver): seed 000's clock skew on the token page and the validator's clock slider moved
//! with the keyboard until the token is valid; a kubeconfig's chain; an access matrix and a
//! denied cell's explanation; who-can. Every page is checked to load nothing from outside
//! 127.0.0.1 (a recording proxy is the browser's only way out, and the page's own resource
//! entries are read), and a request without the URL's key gets 403. Screenshots of each step go
//! to the target directory's `tmp/inspect-screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod inspect;

use std::time::Duration;

use bytes::Bytes;
use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client as HttpClient;
use hyper_util::rt::TokioExecutor;

use common::tools::{require, Tool};
use common::{kauth, s};
use inspect::{artifacts, capabilities, Driver, Inspect, RecordingProxy};

const ISSUER: &str = "https://kubernetes.default.svc.cluster.local";

/// Ann may read pods in team, nothing more.
const POLICY: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: team}
rules:
- apiGroups: [""]
  resources: [pods]
  verbs: [get, list]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ann-reads-pods, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: User, name: ann}]
"#;

/// A cluster's PKI, its JWKS, a policy file, and seed 000's situation: a token issued by a node
/// whose clock is 90 s ahead of this one (iat = nbf = 00:01:30 while this machine reads 00:00:00).
struct Fixture {
    dir: tempfile::TempDir,
    token: String,
}

const NOW: &str = "2026-01-01T00:00:00Z";

impl Fixture {
    fn new() -> Fixture {
        let dir = tempfile::tempdir().unwrap();
        let r = kauth(&["pki", "init", "--dir", s(dir.path()), "--node-name", "cp-1"]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        let sa_pub = dir.path().join("pki/sa.pub");
        let r = kauth(&["token", "jwks", "--key", s(&sa_pub)]);
        std::fs::write(dir.path().join("jwks.json"), r.stdout).unwrap();
        std::fs::write(dir.path().join("policy.yaml"), POLICY).unwrap();
        let sa_key = dir.path().join("pki/sa.key");
        let r = kauth(&[
            "token",
            "create",
            "--key",
            s(&sa_key),
            "-n",
            "argo-run",
            "--service-account",
            "loofah",
            "--uid",
            "4e35d20f-58b7-415b-8fa1-5a9929d3f2ea",
            "--bound-pod",
            "jz-20:9357673e",
            "--duration",
            "3607s",
            "--now",
            "2026-01-01T00:01:30Z",
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        Fixture { token: r.stdout.trim().to_owned(), dir }
    }

    fn inspect(&self) -> Inspect {
        let d = self.dir.path();
        Inspect::start(&[
            "--jwks",
            s(&d.join("jwks.json")),
            "--issuer",
            ISSUER,
            "-f",
            s(&d.join("policy.yaml")),
            "--now",
            NOW,
        ])
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// GET `url` without a browser: status and body.
async fn get(url: &str) -> (u16, String) {
    let client = HttpClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let resp = client.get(url.parse().unwrap()).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

#[test]
fn without_the_url_key_every_request_is_forbidden() {
    let f = Fixture::new();
    let page = f.inspect();
    runtime().block_on(async {
        let (status, body) = get(&page.url).await;
        assert_eq!(status, 200, "{body}");
        assert!(body.contains("kauth inspect"));
        let origin = page.origin().to_owned();
        for path in ["/", "/token", "/cert", "/policy?as=ann", "/assets/inspect.js", "/0000/token"] {
            let (status, body) = get(&format!("{origin}{path}")).await;
            assert_eq!(status, 403, "{path}: {body}");
            assert!(body.starts_with("Forbidden"), "{body}");
        }
        // One character off.
        let mut wrong = page.url.clone();
        let at = wrong.len() - 2;
        let c = if &wrong[at..at + 1] == "0" { "1" } else { "0" };
        wrong.replace_range(at..at + 1, c);
        assert_eq!(get(&format!("{wrong}token")).await.0, 403);
    });
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.unwrap();
    std::fs::write(artifacts().join(format!("{name}.png")), png).unwrap();
}

/// Every resource the current page loaded, and every one it names, is of its own origin (or
/// inline `data:`).
async fn loaded_only_from(c: &Client, origin: &str) {
    let names = c
        .execute(
            "return performance.getEntriesByType('navigation').concat(performance.getEntriesByType('resource')).map(e => e.name).concat(Array.from(document.querySelectorAll('[src],[href]')).map(e => e.src || e.href));",
            vec![],
        )
        .await
        .unwrap();
    let names: Vec<String> = serde_json::from_value(names).unwrap();
    assert!(!names.is_empty());
    for n in names {
        assert!(n.starts_with(&format!("{origin}/")) || n.starts_with("data:"), "the page loaded {n:?}");
    }
}

async fn scroll_to(c: &Client, id: &str) {
    c.execute(&format!("document.getElementById('{id}').scrollIntoView({{block: 'start'}});"), vec![]).await.unwrap();
}

#[test]
fn the_page_in_a_real_browser() {
    require!(Tool::Chromium);
    let f = Fixture::new();
    let page = f.inspect();
    let origin = page.origin().to_owned();
    let profile = tempfile::tempdir().unwrap();
    let driver = Driver::start();
    runtime().block_on(async {
        let proxy = RecordingProxy::start().await;
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
            .capabilities(capabilities(profile.path(), proxy.port))
            .connect(&driver.url)
            .await
            .expect("a WebDriver session");

        // Without the key: refused.
        c.goto(&format!("{origin}/token")).await.unwrap();
        let text = c.find(Locator::Css("body")).await.unwrap().text().await.unwrap();
        assert!(text.starts_with("Forbidden"), "{text}");

        // Seed 000: the token from a node 90 s ahead is not valid yet here.
        c.goto(&format!("{}token", page.url)).await.unwrap();
        loaded_only_from(&c, &origin).await;
        c.find(Locator::Id("token")).await.unwrap().send_keys(&f.token).await.unwrap();
        c.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
        let verdict = match c.wait().at_most(Duration::from_secs(10)).for_element(Locator::Id("verdict")).await {
            Ok(v) => v,
            Err(e) => {
                shot(&c, "debug-submit").await;
                let v = c.execute("return [location.href, document.body.innerText.slice(0, 600)];", vec![]).await;
                panic!("{e}: {v:?}");
            }
        };
        assert_eq!(verdict.attr("data-verdict").await.unwrap().as_deref(), Some("invalid"));
        assert!(verdict.text().await.unwrap().starts_with("INVALID"));
        let check = c.find(Locator::Css("tr[data-check=not-before]")).await.unwrap().text().await.unwrap();
        assert!(
            check.contains("FAIL token not valid yet: nbf 2026-01-01T00:01:30Z is 1m30s after this server's time"),
            "{check}"
        );
        let cause = c.find(Locator::Id("cause")).await.unwrap().text().await.unwrap();
        assert!(cause.starts_with("Cause: clock skew: the token starts at 2026-01-01T00:01:30Z, 1m30s after"), "{cause}");
        let signature = c.find(Locator::Css("tr[data-check=signature]")).await.unwrap().text().await.unwrap();
        assert!(signature.contains("ok verified with key"), "{signature}");
        loaded_only_from(&c, &origin).await;
        scroll_to(&c, "result-title").await;
        shot(&c, "1-token-invalid").await;

        // The validator's clock, moved 90 s ahead with the keyboard: the same check passes.
        let slider = c.find(Locator::Id("skew")).await.unwrap();
        let right: String = std::iter::repeat_n(char::from(Key::Right), 90).collect();
        slider.send_keys(&right).await.unwrap();
        let verdict = match c.wait().at_most(Duration::from_secs(30)).for_element(Locator::Css("#verdict[data-skew='90']")).await {
            Ok(v) => v,
            Err(e) => {
                shot(&c, "debug-slider").await;
                let v = c.execute("return [document.getElementById('skew').value, document.getElementById('verdict').outerHTML, document.activeElement.id];", vec![]).await;
                panic!("{e}: {v:?}");
            }
        };
        assert_eq!(verdict.attr("data-verdict").await.unwrap().as_deref(), Some("valid"));
        assert!(verdict.text().await.unwrap().starts_with("VALID"));
        let check = c.find(Locator::Css("tr[data-check=not-before]")).await.unwrap().text().await.unwrap();
        assert!(check.contains("ok nbf 2026-01-01T00:01:30Z (now), leeway 60s"), "{check}");
        let out = c.find(Locator::Id("skew-out")).await.unwrap().text().await.unwrap();
        assert_eq!(out, "90 s ahead of this machine's");
        let focused = c.execute("return document.activeElement.id;", vec![]).await.unwrap();
        assert_eq!(focused, "skew", "the slider keeps the keyboard's focus");
        scroll_to(&c, "verdict").await;
        shot(&c, "2-token-valid-with-skew").await;
        scroll_to(&c, "checks").await;
        shot(&c, "3-token-timeline").await;

        // A kubeconfig, chosen as a file: its chain.
        c.goto(&format!("{}cert", page.url)).await.unwrap();
        let admin = f.dir.path().join("admin.conf");
        c.find(Locator::Id("cert-file")).await.unwrap().send_keys(s(&admin)).await.unwrap();
        let area = c.find(Locator::Id("cert-input")).await.unwrap();
        c.wait()
            .for_element(Locator::XPath("//textarea[@id='cert-input' and string-length(.) >= 0]"))
            .await
            .unwrap();
        let mut filled = false;
        for _ in 0..100 {
            if area.prop("value").await.unwrap().is_some_and(|v| v.contains("client-certificate-data")) {
                filled = true;
                break;
            }
            tokio::task::yield_now().await;
        }
        assert!(filled, "the file's text did not reach the text area");
        c.find(Locator::Css("form button[type=submit]")).await.unwrap().click().await.unwrap();
        let kc = c.wait().for_element(Locator::Id("kubeconfig")).await.unwrap();
        let text = kc.text().await.unwrap();
        assert!(text.contains("Kubeconfig, context kubernetes-admin@kubernetes"), "{text}");
        assert!(text.contains("Client key matches the certificate\nyes"), "{text}");
        let result = c.find(Locator::Id("cert-result")).await.unwrap().text().await.unwrap();
        assert!(result.contains("Certificate authority (certificate-authority-data): kubernetes"), "{result}");
        assert!(result.contains("↓ signed"), "{result}");
        assert!(result.contains("Client certificate (client-certificate-data): kubernetes-admin"), "{result}");
        assert!(result.contains("user kubernetes-admin, groups kubeadm:cluster-admins"), "{result}");
        loaded_only_from(&c, &origin).await;
        scroll_to(&c, "cert-result").await;
        shot(&c, "4-kubeconfig-chain").await;

        // Ann's access matrix in team, and why she may not delete pods.
        c.goto(&format!("{}policy", page.url)).await.unwrap();
        c.find(Locator::Id("as")).await.unwrap().send_keys("ann").await.unwrap();
        let ns = c.find(Locator::Id("namespace")).await.unwrap();
        ns.clear().await.unwrap();
        ns.send_keys("team").await.unwrap();
        ns.send_keys(&char::from(Key::Enter).to_string()).await.unwrap();
        c.wait().for_element(Locator::Id("matrix")).await.unwrap();
        let allowed = c.find(Locator::Css("a[data-cell='get:pods']")).await.unwrap();
        assert_eq!(allowed.text().await.unwrap(), "✔");
        let denied = c.find(Locator::Css("a[data-cell='delete:pods']")).await.unwrap();
        assert_eq!(denied.text().await.unwrap(), "✖");
        loaded_only_from(&c, &origin).await;
        scroll_to(&c, "matrix-title").await;
        shot(&c, "5-access-matrix").await;
        denied.click().await.unwrap();
        let e = c.wait().for_element(Locator::Id("explanation")).await.unwrap();
        let text = e.text().await.unwrap();
        assert!(text.starts_with("Why delete pods: DENIED"), "{text}");
        assert!(text.contains("User \"ann\" cannot delete resource \"pods\" in API group \"\" in the namespace \"team\""), "{text}");
        assert!(text.contains("RoleBinding \"ann-reads-pods/team\" of Role \"pod-reader\" to User \"ann\""), "{text}");
        assert!(text.contains("Nearest rules and what they lack"), "{text}");
        assert!(text.contains("The smallest grant that allows it"), "{text}");
        let selected = c.find(Locator::Css("td.selected a")).await.unwrap().attr("data-cell").await.unwrap();
        assert_eq!(selected.as_deref(), Some("delete:pods"));
        loaded_only_from(&c, &origin).await;
        shot(&c, "6-denied-cell-explained").await;

        // Who can list pods in team.
        c.find(Locator::Id("verb")).await.unwrap().send_keys("list").await.unwrap();
        c.find(Locator::Id("resource")).await.unwrap().send_keys("pods").await.unwrap();
        let wns = c.find(Locator::Id("wns")).await.unwrap();
        wns.clear().await.unwrap();
        wns.send_keys("team").await.unwrap();
        wns.send_keys(&char::from(Key::Enter).to_string()).await.unwrap();
        let who = c.wait().for_element(Locator::Id("who-can")).await.unwrap().text().await.unwrap();
        assert!(who.contains("User ann -"), "{who}");
        loaded_only_from(&c, &origin).await;
        scroll_to(&c, "who-can").await;
        shot(&c, "7-who-can").await;

        // Nothing the pages did left 127.0.0.1; and the proxy does see what leaves it.
        let outside = proxy.take();
        assert!(outside.is_empty(), "requests left loopback: {outside:?}");
        c.goto("http://kauth-inspect-probe.invalid/probe").await.unwrap();
        let probe = proxy.take();
        assert!(probe.iter().any(|r| r.contains("kauth-inspect-probe.invalid/probe")), "{probe:?}");
        c.close().await.unwrap();
    });
    drop(driver);
    eprintln!("screenshots: {}", artifacts().display());
}
