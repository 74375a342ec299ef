//! Replicas' heartbeats (`controllers/heartbeat.rs`, `replicas.rs`): one `beat` is one tick by the
//! state's clock; a peer's heartbeat, seen through the store, measures its clock skew, which
//! shows in `/readyz?verbose`, `/metrics` and the reason a token from that peer is refused; a
//! peer that stops beating is forgotten.
//!
//! Two replicas of one cluster (one PKI, one signing key), each on its own fake clock and its own
//! embedded store: what one writes is handed to the other as the store's watch would hand it.
#![allow(clippy::unwrap_used)]

mod common;

use common::{replica, server, FakeClock, Server, ADMIN, START};
use http::Method;
use kauth_server::controllers::heartbeat::beat;
use kauth_server::replicas::{Heartbeat, HEARTBEAT_PREFIX};
use serde_json::json;

fn key(name: &str) -> String {
    format!("{HEARTBEAT_PREFIX}{name}")
}

fn stored_beat(s: &Server, name: &str) -> Heartbeat {
    serde_json::from_slice(&s.state.registry.get_raw(&key(name)).unwrap().unwrap().value).unwrap()
}

/// `from`'s heartbeat as it reaches `to` through the store, seen at `to`'s now.
fn deliver(from: &Server, name: &str, to: &Server) {
    let kv = from.state.registry.get_raw(&key(name)).unwrap().unwrap();
    to.state.replicas.as_ref().unwrap().observe(&kv.key, &kv.value, to.clock.now());
}

fn text(s: &Server, path: &str) -> String {
    let r = s.send(Method::GET, path, None, Some(ADMIN));
    assert_eq!(r.status, 200, "{path}");
    String::from_utf8(r.body.to_vec()).unwrap()
}

#[test]
fn a_beat_writes_this_replicas_clock_and_the_keys_it_publishes() {
    let b = replica("b", FakeClock::at(START + 90), |_| {});
    beat(&b.state).unwrap();
    let kids = b.state.keys.published_kids();
    assert_eq!(
        stored_beat(&b, "b"),
        Heartbeat { replica: "b".into(), time_ms: (START + 90) * 1000, published_kids: kids.clone() }
    );
    // The next tick overwrites it, stamped with the clock's new time.
    b.clock.advance(5);
    beat(&b.state).unwrap();
    assert_eq!(stored_beat(&b, "b").time_ms, (START + 95) * 1000);
}

#[test]
fn on_the_embedded_store_a_beat_writes_nothing() {
    let s = server();
    let revision = s.state.registry.revision().unwrap();
    beat(&s.state).unwrap();
    assert_eq!(s.state.registry.revision().unwrap(), revision);
    assert!(!text(&s, "/readyz?verbose").contains("clock-skew"));
}

#[test]
fn a_peer_90s_ahead_is_measured_reported_and_named_for_its_tokens_then_forgotten_when_silent() {
    let a = replica("a", FakeClock::at(START), |_| {});
    let b = replica("b", FakeClock::at(START + 90), |_| {});
    beat(&b.state).unwrap();
    deliver(&b, "b", &a);
    // Its own heartbeat is no peer's.
    beat(&a.state).unwrap();
    deliver(&a, "a", &a);

    let replicas = a.state.replicas.as_ref().unwrap();
    let skews = replicas.skews(a.clock.now());
    assert_eq!(skews.len(), 1);
    assert_eq!((skews[0].peer.as_str(), skews[0].ahead_seconds), ("b", 90.0));
    let kid = b.state.keys.published_kids()[0].clone();
    assert_eq!(replicas.publishers(&kid, a.clock.now()), ["b"]);

    let ready = text(&a, "/readyz?verbose");
    assert!(
        ready.contains(
            "[!]clock-skew warning (not counted against readiness): replica \"b\"'s clock is 90.0s ahead of this replica's: beyond the 60s validation leeway, tokens it issues are rejected here as not yet valid for 30s after issue; sync the clocks (chrony/NTP)\n"
        ),
        "{ready}"
    );
    assert!(ready.ends_with("readyz check passed\n"), "skew never makes a replica unready: {ready}");
    assert!(text(&a, "/metrics").contains("kauth_replica_clock_skew_seconds{replica=\"b\"} 90.000\n"));

    // A token b issues is from a's future: refused, and b named as its likely issuer.
    let issued = b.admin(
        Method::POST,
        "/api/v1/namespaces/default/serviceaccounts/default/token",
        Some(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenRequest", "spec": {}})),
        201,
    );
    let review = a.admin(
        Method::POST,
        "/apis/authentication.k8s.io/v1/tokenreviews",
        Some(json!({"apiVersion": "authentication.k8s.io/v1", "kind": "TokenReview",
                    "spec": {"token": issued["status"]["token"]}})),
        201,
    );
    assert_eq!(
        review["status"]["error"],
        "[invalid bearer token, service account token is not valid yet]; kauth: service-account: token not valid yet: nbf 2027-01-15T08:01:30Z is 1m30s after this server's time 2027-01-15T08:00:00Z, beyond the 60s leeway: the issuer's clock is at least 1m30s ahead of this server's; likely issued by replica \"b\", whose clock this replica measures 90.0s ahead through the store's heartbeats"
    );

    // b falls silent: two minutes on, it is forgotten.
    a.clock.advance(120);
    assert_eq!(a.state.replicas.as_ref().unwrap().skews(a.clock.now()).len(), 1, "heard from 120 s ago");
    a.clock.advance(1);
    let replicas = a.state.replicas.as_ref().unwrap();
    assert!(replicas.skews(a.clock.now()).is_empty());
    assert!(replicas.publishers(&kid, a.clock.now()).is_empty());
    assert!(text(&a, "/readyz?verbose").contains("[+]clock-skew ok\n"));
    assert!(!text(&a, "/metrics").contains("kauth_replica_clock_skew_seconds{"));
    // It beats again: measured again.
    b.clock.advance(121);
    beat(&b.state).unwrap();
    deliver(&b, "b", &a);
    assert_eq!(a.state.replicas.as_ref().unwrap().skews(a.clock.now())[0].ahead_seconds, 90.0);
}

#[test]
fn a_peer_behind_within_half_the_leeway_is_fine() {
    let a = replica("a", FakeClock::at(START), |_| {});
    let b = replica("b", FakeClock::at(START - 20), |_| {});
    beat(&b.state).unwrap();
    deliver(&b, "b", &a);
    let skews = a.state.replicas.as_ref().unwrap().skews(a.clock.now());
    assert_eq!(skews[0].ahead_seconds, -20.0);
    assert!(text(&a, "/readyz?verbose").contains("[+]clock-skew ok\n"));
}
