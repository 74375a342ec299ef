//! kauth serve's JWKS fetcher (`kauth_server::jwks`) against the tests' own OIDC issuer over
//! real HTTPS: the configured CA and nothing else, go-oidc's issuer match (also through a
//! `discoveryURL`), key rotation, the last good set while the issuer is down, a forged-kid
//! flood bounded by the issuer's own fetch counter, and a PyJWT token verified with the
//! fetched keys. The clock is a fake one: the rate limit moves only when a test moves it.
#![allow(clippy::unwrap_used)]

mod common;

use std::sync::{Arc, Mutex};

use common::oidc_issuer::{mint_with_pyjwt, Fetches, OidcIssuer};
use common::tools::{pyjwt_python, require, Tool};
use kauth::authn::jwt::IssuerKeys;
use kauth::token::jws;
use kauth::token::keys::{Algorithm, KeySet};
use kauth_server::jwks::{Document, FetchError, HttpsClient, IssuerSource, RemoteKeys};
use kauth_server::metrics::Metrics;
use time::{Duration, OffsetDateTime};

struct Fetcher {
    now: Arc<Mutex<OffsetDateTime>>,
    keys: RemoteKeys,
}

impl Fetcher {
    fn new(issuer: &str, discovery_url: Option<&str>, ca_pem: Option<&str>) -> Fetcher {
        let now = Arc::new(Mutex::new(OffsetDateTime::now_utc()));
        let n = now.clone();
        let client = HttpsClient::new("test issuer", ca_pem.map(str::as_bytes)).unwrap();
        let source = IssuerSource { issuer: issuer.into(), discovery_url: discovery_url.map(str::to_owned) };
        let metrics = Metrics::new().unwrap().jwks.issuer(issuer);
        Fetcher { now, keys: RemoteKeys::new(source, Box::new(client), Arc::new(move || *n.lock().unwrap()), metrics) }
    }

    fn advance(&self, seconds: i64) {
        *self.now.lock().unwrap() += Duration::seconds(seconds);
    }
}

fn for_issuer(idp: &OidcIssuer) -> Fetcher {
    Fetcher::new(&idp.url, None, Some(&idp.ca_pem))
}

/// Whether `token`'s signature verifies with a key of `set` named by its kid.
fn verifies(set: &KeySet, token: &str) -> bool {
    let jws = jws::parse(token).unwrap();
    let alg = Algorithm::from_name(&jws.header.alg).unwrap();
    set.keys()
        .iter()
        .filter(|k| jws.header.kid.as_deref().is_none_or(|kid| kid == k.kid()))
        .any(|k| k.verify(alg, jws.signing_input, &jws.signature))
}

#[test]
fn keys_are_fetched_over_https_with_the_configured_ca() {
    let idp = OidcIssuer::start("");
    let f = for_issuer(&idp);
    let set = f.keys.refresh(None).unwrap();
    assert_eq!(set.kids(), idp.key_set().kids());
    assert!(verifies(&set, &idp.mint(&idp.claims("alice", "kauth"))));
    assert_eq!(idp.fetches(), Fetches { discovery: 1, jwks: 1 });
    let h = f.keys.health();
    assert_eq!((h.keys, h.last_error), (1, None));
}

#[test]
fn only_the_configured_ca_is_trusted() {
    let idp = OidcIssuer::start("");
    let other = OidcIssuer::start("other");
    for f in [Fetcher::new(&idp.url, None, Some(&other.ca_pem)), Fetcher::new(&idp.url, None, None)] {
        let e = f.keys.refresh(None).unwrap_err();
        assert!(e.error.contains("certificate"), "{e}");
        assert!(matches!(
            f.keys.health().last_error,
            Some(FetchError::Unreachable { document: Document::Discovery, .. })
        ));
    }
    assert_eq!(idp.fetches(), Fetches { discovery: 0, jwks: 0 }, "no request passed the handshake");
}

#[test]
fn the_discovery_document_must_name_the_configured_issuer() {
    let idp = OidcIssuer::start("tenant");
    idp.claim_issuer(Some("https://someone-else.example"));
    let f = for_issuer(&idp);
    let e = f.keys.refresh(None).unwrap_err();
    assert!(
        e.error.contains(&format!(
            "oidc: issuer did not match the issuer returned by provider, expected {:?} got \"https://someone-else.example\"",
            idp.url
        )),
        "{e}"
    );
    assert_eq!(idp.fetches(), Fetches { discovery: 1, jwks: 0 });
}

#[test]
fn a_discovery_url_is_read_instead_and_its_issuer_must_still_match() {
    // The issuer URL tokens carry is not where its documents are (an in-cluster provider).
    let idp = OidcIssuer::start("dex");
    let issuer = "https://dex.example.com";
    idp.claim_issuer(Some(issuer));
    let discovery = format!("{}/.well-known/openid-configuration", idp.url);
    let f = Fetcher::new(issuer, Some(&discovery), Some(&idp.ca_pem));
    assert_eq!(f.keys.refresh(None).unwrap().kids(), idp.key_set().kids());
    idp.claim_issuer(None);
    let g = Fetcher::new(issuer, Some(&discovery), Some(&idp.ca_pem));
    assert!(matches!(g.keys.refresh(None), Err(e) if e.error.contains("issuer did not match")));
}

#[test]
fn rotation_down_and_a_forged_kid_flood() {
    let idp = OidcIssuer::start("");
    let f = for_issuer(&idp);
    let first = f.keys.refresh(None).unwrap();
    let old_token = idp.mint(&idp.claims("alice", "kauth"));

    // Rotation: the new key is fetched on its first token once 10 s have passed.
    idp.rotate(true);
    let new_token = idp.mint(&idp.claims("alice", "kauth"));
    assert!(!verifies(&f.keys.refresh(Some(&idp.kid())).unwrap(), &new_token), "refused: within 10 s");
    f.advance(10);
    let rotated = f.keys.refresh(Some(&idp.kid())).unwrap();
    assert!(verifies(&rotated, &new_token) && verifies(&rotated, &old_token));
    assert_eq!(idp.fetches(), Fetches { discovery: 1, jwks: 2 });

    // Down: the last good set is used; the failure is recorded.
    idp.set_down(true);
    f.advance(10);
    let kept = f.keys.refresh(Some("unknown")).unwrap();
    assert_eq!(kept.kids(), rotated.kids());
    assert!(matches!(f.keys.health().last_error, Some(FetchError::Status { status: 503, .. })));
    idp.set_down(false);

    // A flood of 500 forged kids over 30 s of fake time: one fetch per 10 s, no more.
    let before = idp.fetches();
    for i in 0..500 {
        if i % 50 == 49 {
            f.advance(3);
        }
        let forged = idp.mint_forged(&format!("forged-{i}"), &idp.claims("mallory", "kauth"));
        let kid = jws::parse(&forged).unwrap().header.kid.unwrap();
        assert!(!verifies(&f.keys.refresh(Some(&kid)).unwrap(), &forged));
    }
    let after = idp.fetches();
    assert_eq!(after.discovery, before.discovery);
    assert!(after.jwks - before.jwks <= 3, "{before:?} -> {after:?}");
    assert_ne!(first.kids(), rotated.kids());
}

#[test]
fn a_pyjwt_token_verifies_with_the_fetched_keys() {
    require!(Tool::PyJwt);
    let idp = OidcIssuer::start("");
    let token =
        mint_with_pyjwt(&pyjwt_python(), &idp.signing_key_pem(), &idp.kid(), &idp.claims("bob", "kauth")).unwrap();
    let f = for_issuer(&idp);
    assert!(verifies(&f.keys.refresh(None).unwrap(), &token));
}
