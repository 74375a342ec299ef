//! The shared service-account key ring (`keyring.rs`, `controllers/keyring.rs`), moved on by the
//! maintenance step with a fake clock: a new key is published before it signs, the old one
//! verifies until every token it signed has expired (and while a legacy token Secret holds one),
//! then it is retired and its tokens fail with the typed reason.
//!
//! One replica is real (`common::replica`); its peer exists only as the heartbeats it would
//! write, and the ring reaches the replica as the store's watch would bring it on etcd.
#![allow(clippy::unwrap_used)]

mod common;

use std::time::Duration;

use common::{kid_of, replica, server, FakeClock, Server, ADMIN, START};
use http::Method;
use kauth::authn::{Rejection, TokenAuthenticator};
use kauth::token::Rejection as TokenRejection;
use kauth_server::controllers::keyring::{maintain, on_ring_change};
use kauth_server::keyring::KEYRING_KEY;
use kauth_server::replicas::{Heartbeat, HEARTBEAT_PREFIX};
use serde_json::{json, Value};

/// Tokens live at most two hours: a key is retired 2 h + the 60 s leeway after it stopped signing.
fn two_hour_tokens() -> impl FnOnce(&mut kauth_server::Options) {
    |o| {
        o.service_account_max_token_expiration = Some(Duration::from_secs(7200));
        o.service_account_extend_token_expiration = false;
    }
}

/// `(kid, state)` of each key, as `kauth keys list` shows them.
fn ring(s: &Server) -> Vec<(String, String)> {
    let list = s.admin(Method::GET, "/kauth/v1/keys", None, 200);
    list["keys"]
        .as_array()
        .unwrap()
        .iter()
        .map(|k| (k["kid"].as_str().unwrap().to_owned(), k["state"].as_str().unwrap().to_owned()))
        .collect()
}

fn pair(kid: &str, state: &str) -> (String, String) {
    (kid.to_owned(), state.to_owned())
}

/// What the store's watch does on etcd when the ring changes: the replica loads it.
fn deliver_ring(s: &Server) {
    let kv = s.state.registry.get_raw(KEYRING_KEY).unwrap().unwrap();
    on_ring_change(&s.state, &kv.value);
}

/// Moves the ring on, then delivers it.
fn maintain_and_deliver(s: &Server) {
    maintain(&s.state);
    deliver_ring(s);
}

/// A heartbeat of `peer`, stamped by this replica's clock, seen through the store.
fn peer_publishes(s: &Server, peer: &str, kids: &[&str]) {
    let beat = Heartbeat {
        replica: peer.into(),
        time_ms: s.clock.now().unix_timestamp() * 1000,
        published_kids: kids.iter().map(|k| k.to_string()).collect(),
    };
    let replicas = s.state.replicas.as_ref().unwrap();
    replicas.observe(&format!("{HEARTBEAT_PREFIX}{peer}"), &serde_json::to_vec(&beat).unwrap(), s.clock.now());
}

fn token(s: &Server, seconds: i64) -> String {
    let r = s.admin(
        Method::POST,
        "/api/v1/namespaces/default/serviceaccounts/default/token",
        Some(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {"expirationSeconds": seconds}})),
        201,
    );
    r["status"]["token"].as_str().unwrap().to_owned()
}

fn review(s: &Server, token: &str) -> Value {
    s.admin(
        Method::POST,
        "/apis/authentication.k8s.io/v1/tokenreviews",
        Some(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview", "spec": {"token": token}})),
        201,
    )["status"]
        .clone()
}

fn jwks_kids(s: &Server) -> Vec<String> {
    let r = s.send(Method::GET, "/openid/v1/jwks", None, Some(ADMIN));
    let jwks: Value = serde_json::from_slice(&r.body).unwrap();
    jwks["keys"].as_array().unwrap().iter().map(|k| k["kid"].as_str().unwrap().to_owned()).collect()
}

/// Starts a rotation: the new key's kid.
fn rotate(s: &Server) -> String {
    let ring = s.admin(Method::POST, "/kauth/v1/keys/rotate", None, 201);
    let new = &ring["keys"][1];
    assert_eq!(new["state"], "Published", "{ring}");
    assert_eq!(new["addedAt"], kauth::timestamp::rfc3339(s.clock.now()));
    new["kid"].as_str().unwrap().to_owned()
}

#[test]
fn a_new_key_is_published_before_it_signs_and_the_old_one_retires_after_its_last_token_expired() {
    let s = replica("a", FakeClock::at(START), two_hour_tokens());
    let k1 = s.state.keys.active().issuer.key().kid().to_owned();
    assert_eq!(ring(&s), [pair(&k1, "Signing")]);
    peer_publishes(&s, "b", &[&k1]);

    // A rotation publishes the new key everywhere this replica answers, and it does not sign yet.
    let k2 = rotate(&s);
    deliver_ring(&s);
    assert_eq!(ring(&s), [pair(&k1, "Signing"), pair(&k2, "Published")]);
    assert_eq!(jwks_kids(&s).len(), 2);
    assert!(jwks_kids(&s).contains(&k2));
    assert_eq!(kid_of(&token(&s, 600)), k1);
    // The peer does not publish it yet: it may not sign.
    maintain_and_deliver(&s);
    assert_eq!(ring(&s), [pair(&k1, "Signing"), pair(&k2, "Published")]);
    assert_eq!(s.send(Method::POST, "/kauth/v1/keys/rotate", None, Some(ADMIN)).status, 409, "one rotation at a time");

    // The last token the old key signs, for the longest a token may live.
    let old = token(&s, 7200);
    assert_eq!(kid_of(&old), k1);
    peer_publishes(&s, "b", &[&k1, &k2]);
    maintain_and_deliver(&s);
    assert_eq!(ring(&s), [pair(&k1, "Verifying"), pair(&k2, "Signing")]);
    let keys = s.admin(Method::GET, "/kauth/v1/keys", None, 200)["keys"].clone();
    assert_eq!(keys[0]["signingUntil"], "2027-01-15T08:00:00Z");
    assert_eq!(keys[0]["retireAfter"], "2027-01-15T10:01:00Z", "2 h of token life and the 60 s leeway later");
    assert_eq!(keys[1]["signingSince"], "2027-01-15T08:00:00Z");
    assert_eq!(kid_of(&token(&s, 600)), k2);
    assert_eq!(review(&s, &old)["authenticated"], true, "the old key still verifies");

    // A second before its deadline the old key is kept; its token is valid (exp + 59 s).
    s.clock.advance(7259);
    maintain_and_deliver(&s);
    assert_eq!(ring(&s), [pair(&k1, "Verifying"), pair(&k2, "Signing")]);
    assert_eq!(review(&s, &old)["authenticated"], true);
    // At the deadline it is retired: its token fails for that reason, not its age.
    s.clock.advance(1);
    maintain_and_deliver(&s);
    assert_eq!(ring(&s), [pair(&k2, "Signing")]);
    assert_eq!(jwks_kids(&s), std::slice::from_ref(&k2));
    assert_eq!(
        s.state.tokens.authenticate_token(&old, None, s.clock.now()),
        Err(Rejection::Token {
            authenticator: "service-account",
            rejection: TokenRejection::UnknownKeyId { kid: k1.clone(), known: vec![k2.clone()] },
        })
    );
    assert_eq!(
        review(&s, &old)["error"],
        format!(
            "[invalid bearer token, invalid signature, no keys found]; kauth: service-account: no verification key has the token's kid {k1:?} (known kids: [{k2:?}])"
        )
    );
}

#[test]
fn a_key_a_legacy_token_secret_holds_is_kept_until_the_secret_goes() {
    let s = replica("a", FakeClock::at(START), two_hour_tokens());
    let k1 = s.state.keys.active().issuer.key().kid().to_owned();
    s.admin(
        Method::POST,
        "/api/v1/namespaces/default/serviceaccounts",
        Some(json!({"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "builder"}})),
        201,
    );
    let secret = s.admin(
        Method::POST,
        "/api/v1/namespaces/default/secrets",
        Some(json!({"apiVersion": "v1", "kind": "Secret", "type": "kubernetes.io/service-account-token",
                    "metadata": {"name": "builder-token", "annotations": {"kubernetes.io/service-account.name": "builder"}}})),
        201,
    );
    let legacy = {
        use base64::Engine;
        let b = base64::engine::general_purpose::STANDARD.decode(secret["data"]["token"].as_str().unwrap()).unwrap();
        String::from_utf8(b).unwrap()
    };
    assert_eq!(kid_of(&legacy), k1);
    let k2 = rotate(&s);
    deliver_ring(&s);
    // No live peer: every replica there is publishes the new key.
    maintain_and_deliver(&s);
    assert_eq!(ring(&s), [pair(&k1, "Verifying"), pair(&k2, "Signing")]);

    // Long past the deadline, the Secret still holds a token the old key signed: it stays.
    s.clock.advance(30 * 86_400);
    maintain_and_deliver(&s);
    assert_eq!(ring(&s), [pair(&k1, "Verifying"), pair(&k2, "Signing")]);
    assert_eq!(review(&s, &legacy)["user"]["username"], "system:serviceaccount:default:builder");
    // The Secret goes: so does the key, at the next step.
    s.admin(Method::DELETE, "/api/v1/namespaces/default/secrets/builder-token", None, 200);
    maintain_and_deliver(&s);
    assert_eq!(ring(&s), [pair(&k2, "Signing")]);
}

#[test]
fn a_ring_that_is_not_one_leaves_the_keys_in_use() {
    let s = replica("a", FakeClock::at(START), two_hour_tokens());
    let before = s.state.keys.published_kids();
    on_ring_change(&s.state, b"{\"keys\": 5}");
    on_ring_change(&s.state, b"{\"keys\": []}");
    assert_eq!(s.state.keys.published_kids(), before);
    assert_eq!(kid_of(&token(&s, 600)), before[0]);
}

#[test]
fn on_the_embedded_store_the_keys_are_the_files_and_rotation_says_how_to_rotate() {
    let s = server();
    let keys = s.admin(Method::GET, "/kauth/v1/keys", None, 200);
    let kid = s.state.keys.active().issuer.key().kid().to_owned();
    assert_eq!(keys["keys"], json!([{"kid": kid, "state": "Signing", "source": "file"}]));
    let r = s.send(Method::POST, "/kauth/v1/keys/rotate", None, Some(ADMIN));
    assert_eq!(r.status, 400);
    assert_eq!(
        common::json_of(&r)["message"],
        "key rotation needs the shared key ring of kauth on etcd (--etcd-servers); with the embedded store, replace pki/sa.key and list the old public key with --service-account-key-file"
    );
    // Maintenance has nothing to move: no replicas, no ring.
    maintain(&s.state);
    assert!(s.state.registry.get_raw(KEYRING_KEY).unwrap().is_none());
}
