//! `kauth inspect` in a real headless Chromium (Debian's chromium and chromium-driver, over
//! WebDriver): seed 000's clock skew on the token page and the validator's clock slider moved
//! with the keyboard until the token is valid; a kubeconfig's chain; an access matrix and a
//! denied cell's explanation; who-can. Every page is checked to load nothing from outside
//! 127.0.0.1 (a recording proxy is the browser's only way out, and the page's own resource
//! entries are read), and a request without the URL's key is refused. Screenshots of each step
//! go to the target directory's `tmp/inspect-screenshots/`.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod inspect;

use std::time::Duration;

use fantoccini::key::Key;
use fantoccini::{Client, ClientBuilder, Locator};

use common::s;
use common::tools::{require, Tool};
use inspect::{artifacts, capabilities, runtime, Driver, Fixture, RecordingProxy};
use kauth::token::utc;

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
