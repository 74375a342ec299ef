//! `kauth inspect`: the page and the CLI agree (token explain, cert inspect, policy explain), and
//! in a real headless Chromium (Debian's chromium and chromium-driver, over
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

use common::server::Server;
use common::tools::{require, Tool};
use common::{kauth, s};
use inspect::{artifacts, capabilities, Driver, Inspect, RecordingProxy};
use kauth::token::utc;

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
/// whose clock is 90 s ahead of this one (iat = nbf = now + 90 s). The page evaluates at a fixed
/// `now` (`--now`), taken once from the clock so the PKI made for the test is valid then.
struct Fixture {
    dir: tempfile::TempDir,
    token: String,
    now: i64,
}

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
        #[allow(clippy::disallowed_methods)] // the test's one reading of the clock, as an input
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs() as i64;
        let issued = format!("@{}", now + 90);
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
            &issued,
        ]);
        assert_eq!(r.code, 0, "{}", r.stderr);
        Fixture { token: r.stdout.trim().to_owned(), dir, now }
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
            &format!("@{}", self.now),
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

/// POST a form to `url`: status and body.
async fn post(url: &str, form: &[(&str, &str)]) -> (u16, String) {
    let body = form_urlencoded::Serializer::new(String::new()).extend_pairs(form).finish();
    let client = HttpClient::builder(TokioExecutor::new()).build_http::<Full<Bytes>>();
    let req = http::Request::post(url)
        .header("content-type", "application/x-www-form-urlencoded")
        .body(Full::new(Bytes::from(body)))
        .unwrap();
    let resp = client.request(req).await.unwrap();
    let status = resp.status().as_u16();
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, String::from_utf8_lossy(&body).into_owned())
}

/// The text of the page's "As `kauth ...` prints it" block.
fn cli_block(html: &str, command: &str) -> String {
    let start = format!("<summary>As <code>{command}</code> prints it</summary><pre>");
    let from = html.find(&start).unwrap_or_else(|| panic!("no {command} block in {html}")) + start.len();
    let to = from + html[from..].find("</pre>").unwrap();
    html[from..to]
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&")
}

#[test]
fn the_page_and_the_cli_say_the_same() {
    let f = Fixture::new();
    let page = f.inspect();
    let jwks = f.dir.path().join("jwks.json");
    let admin = f.dir.path().join("admin.conf");
    let policy = f.dir.path().join("policy.yaml");
    runtime().block_on(async {
        for skew in [0, 29, 30, 90, -600] {
            let cli = kauth(&[
                "token",
                "explain",
                &f.token,
                "--jwks",
                s(&jwks),
                "--issuer",
                ISSUER,
                "--audience",
                ISSUER,
                "--now",
                &format!("@{}", f.now + skew),
            ]);
            assert_eq!(cli.code, if (30..=600).contains(&skew) { 0 } else { 1 }, "skew {skew}: {}", cli.stdout);
            let skew_text = skew.to_string();
            let form = [
                ("token", f.token.as_str()),
                ("issuer", ISSUER),
                ("audience", ISSUER),
                ("leeway", "60"),
                ("skew", &skew_text),
            ];
            let (status, html) = post(&format!("{}token", page.url), &form).await;
            assert_eq!(status, 200);
            assert_eq!(cli_block(&html, "kauth token explain"), cli.stdout, "skew {skew}");
        }
        let cli = kauth(&["cert", "inspect", s(&admin), "--at", &format!("@{}", f.now)]);
        let kubeconfig = std::fs::read_to_string(&admin).unwrap();
        let (_, html) = post(&format!("{}cert", page.url), &[("input", &kubeconfig)]).await;
        assert_eq!(cli_block(&html, "kauth cert inspect"), cli.stdout.replace(s(&admin), "the pasted input"));
        let cli = kauth(&["policy", "explain", "delete", "pods", "--as", "ann", "-n", "team", "-f", s(&policy)]);
        assert_eq!(cli.code, 1);
        let (_, html) = get(&format!("{}policy?as=ann&namespace=team&cell=delete%3Apods", page.url)).await;
        assert_eq!(cli_block(&html, "kauth policy explain"), cli.stdout);
        // Bad input is named, not a failure of the page.
        let (status, html) = post(&format!("{}token", page.url), &[("token", "not-a-jwt")]).await;
        assert_eq!(status, 200);
        assert!(html.contains("Cannot read this:</strong> not a readable JWT: "), "{html}");
        let (_, html) = post(&format!("{}token", page.url), &[("token", &f.token), ("skew", "9999")]).await;
        assert!(html.contains("skew: 9999 is out of range (-600 to 600)"), "{html}");
        let (_, html) = post(&format!("{}cert", page.url), &[("input", "hello")]).await;
        assert!(
            html.contains("Cannot read this:</strong> the pasted input: is neither PEM, DER nor a kubeconfig"),
            "{html}"
        );
    });
}

#[test]
fn the_connected_servers_keys_issuer_and_policy() {
    let dir = tempfile::tempdir().unwrap();
    let srv = Server::start_in(&dir.path().join("data"), &[]);
    let admin = srv.dir.join("admin.conf");
    let page = Inspect::start(&["--kubeconfig", s(&admin)]);
    let r = kauth(&[
        "token",
        "create",
        "--key",
        s(&srv.dir.join("pki/sa.key")),
        "-n",
        "default",
        "--service-account",
        "default",
        "--uid",
        "sa-uid",
    ]);
    assert_eq!(r.code, 0, "{}", r.stderr);
    let token = r.stdout.trim().to_owned();
    runtime().block_on(async {
        let (_, home) = get(&page.url).await;
        assert!(home.contains(&format!("the server {} (/openid/v1/jwks)", srv.url)), "{home}");
        // The form comes filled with the server's issuer, as audience too.
        let (_, form) = get(&format!("{}token", page.url)).await;
        let issuer = format!("value=\"{ISSUER}\"");
        assert_eq!(form.matches(&issuer).count(), 2, "{form}");
        let fields = [("token", token.as_str()), ("issuer", ISSUER), ("audience", ISSUER)];
        let (_, html) = post(&format!("{}token", page.url), &fields).await;
        assert!(html.contains("data-verdict=\"valid\""), "{html}");
        assert!(html.contains("verified with key "), "{html}");
        // Another cluster's key: the signature fails.
        let other = Fixture::new();
        let (_, html) = post(&format!("{}token", page.url), &[("token", other.token.as_str())]).await;
        assert!(html.contains("data-verdict=\"invalid\""), "{html}");
        assert!(html.contains("no verification key has the token&#39;s kid"), "{html}");
        // The policy is the server's.
        let q = "as=system%3Aserviceaccount%3Adefault%3Adefault&namespace=default&cell=get%3Asecrets";
        let (_, html) = get(&format!("{}policy?{q}", page.url)).await;
        assert!(html.contains("Why get secrets: <span class=\"badge bad\">DENIED</span>"), "{html}");
        assert!(html.contains("Groups: system:serviceaccounts, system:serviceaccounts:default, system:authenticated"));
        let (_, html) = get(&format!("{}policy?verb=get&resource=secrets&wns=default", page.url)).await;
        assert!(html.contains("<td>Group</td><td>kubeadm:cluster-admins</td>"), "{html}");
    });
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
    let rt = runtime();
    let proxy = rt.block_on(RecordingProxy::start());
    let c = rt
        .block_on(
            ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new())
                .capabilities(capabilities(profile.path(), proxy.port))
                .connect(&driver.url),
        )
        .expect("a WebDriver session");
    let session = c.clone();
    let (url, token, now, admin) = (page.url.clone(), f.token.clone(), f.now, f.dir.path().join("admin.conf"));
    // The steps run as a task, so the browser is closed whether they pass or panic.
    let steps = rt.spawn(async move {
        let page_url = url;
        // Without the key: refused.
        c.goto(&format!("{origin}/token")).await.unwrap();
        let text = c.find(Locator::Css("body")).await.unwrap().text().await.unwrap();
        assert!(text.starts_with("Forbidden"), "{text}");

        // Seed 000: the token from a node 90 s ahead is not valid yet here.
        c.goto(&format!("{}token", page_url)).await.unwrap();
        loaded_only_from(&c, &origin).await;
        c.find(Locator::Id("token")).await.unwrap().send_keys(&token).await.unwrap();
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
            check.contains(&format!("FAIL token not valid yet: nbf {} is 1m30s after this server's time", utc(now + 90))),
            "{check}"
        );
        let cause = c.find(Locator::Id("cause")).await.unwrap().text().await.unwrap();
        let expected = format!("Cause: clock skew: the token starts at {}, 1m30s after this machine's clock", utc(now + 90));
        assert!(cause.starts_with(&expected), "{cause}");
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
        assert!(check.contains(&format!("ok nbf {} (now), leeway 60s", utc(now + 90))), "{check}");
        let out = c.find(Locator::Id("skew-out")).await.unwrap().text().await.unwrap();
        assert_eq!(out, "90 s ahead of this machine's");
        let focused = c.execute("return document.activeElement.id;", vec![]).await.unwrap();
        assert_eq!(focused, "skew", "the slider keeps the keyboard's focus");
        scroll_to(&c, "verdict").await;
        shot(&c, "2-token-valid-with-skew").await;
        scroll_to(&c, "checks").await;
        shot(&c, "3-token-timeline").await;

        // A kubeconfig, chosen as a file: its chain.
        c.goto(&format!("{}cert", page_url)).await.unwrap();
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
        assert!(!result.contains("NOT YET VALID") && !result.contains("EXPIRED"), "{result}");
        assert!(result.contains("Client certificate (client-certificate-data): kubernetes-admin"), "{result}");
        assert!(result.contains("user kubernetes-admin, groups kubeadm:cluster-admins"), "{result}");
        loaded_only_from(&c, &origin).await;
        scroll_to(&c, "cert-result").await;
        shot(&c, "4-kubeconfig-chain").await;

        // Ann's access matrix in team, and why she may not delete pods.
        c.goto(&format!("{}policy", page_url)).await.unwrap();
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
    });
    let outcome = rt.block_on(steps);
    let _ = rt.block_on(session.close());
    drop(driver);
    if let Err(e) = outcome {
        std::panic::resume_unwind(e.into_panic());
    }
    eprintln!("screenshots: {}", artifacts().display());
}
