//! `kauth inspect` over HTTP: the page and the CLI print the same (token explain, cert inspect,
//! policy explain) at every position of the validator's clock; the keys, issuer and policy of a
//! server reached through --kubeconfig; and without the URL's key, 403 for every path.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;
mod inspect;

use common::server::Server;
use common::{kauth, s};
use inspect::{get, post, runtime, Fixture, Inspect, ISSUER};

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
        // A chain file, leaf first.
        let pki = f.dir.path().join("pki");
        let chain =
            [pki.join("apiserver.crt"), pki.join("ca.crt")].map(|p| std::fs::read_to_string(p).unwrap()).concat();
        let chain_file = f.dir.path().join("chain.pem");
        std::fs::write(&chain_file, &chain).unwrap();
        let cli = kauth(&["cert", "inspect", s(&chain_file), "--at", &format!("@{}", f.now)]);
        let (_, html) = post(&format!("{}cert", page.url), &[("input", &chain)]).await;
        assert_eq!(cli_block(&html, "kauth cert inspect"), cli.stdout.replace(s(&chain_file), "the pasted input"));
        assert!(html.contains("<li class=\"arrow\" aria-hidden=\"true\">↓ issued by</li>"), "{html}");
        assert!(html.contains("<span class=\"badge ok\">verified</span> signed by CN=kubernetes"), "{html}");
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
