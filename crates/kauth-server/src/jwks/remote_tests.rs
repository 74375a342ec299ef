//! [`RemoteKeys`] against a fake issuer and a fake clock: start-up, rotation, the rate limit,
//! the last good set while the issuer is down, one fetch shared by concurrent callers.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use kauth::pki::{KeyType, PrivateKey};
use kauth::token::jwks::jwks;
use kauth::token::keys::KeySet;
use time::{Duration, OffsetDateTime};

use super::*;
use crate::jwks::client::Answer;

const ISSUER: &str = "https://issuer.test";

/// A fake issuer: its documents, a switch to take it down, a gate to hold a fetch, counters.
#[derive(Debug, Default)]
struct FakeIssuer {
    jwks: Mutex<String>,
    down: Mutex<bool>,
    discovery_fetches: AtomicUsize,
    jwks_fetches: AtomicUsize,
    /// When set, a JWKS fetch announces itself and waits for a message.
    hold: Mutex<Option<(std::sync::mpsc::Sender<()>, std::sync::mpsc::Receiver<()>)>>,
}

impl Fetch for Arc<FakeIssuer> {
    fn get(&self, url: &str) -> Result<Answer, String> {
        if *self.down.lock().unwrap() {
            return Err("connect: connection refused".into());
        }
        if url == format!("{ISSUER}/.well-known/openid-configuration") {
            self.discovery_fetches.fetch_add(1, Ordering::SeqCst);
            let doc = format!(r#"{{"issuer":"{ISSUER}","jwks_uri":"{ISSUER}/keys"}}"#);
            return Ok(Answer { status: 200, body: doc.into_bytes() });
        }
        if url == format!("{ISSUER}/keys") {
            self.jwks_fetches.fetch_add(1, Ordering::SeqCst);
            if let Some((entered, release)) = &*self.hold.lock().unwrap() {
                entered.send(()).unwrap();
                release.recv().unwrap();
            }
            return Ok(Answer { status: 200, body: self.jwks.lock().unwrap().clone().into_bytes() });
        }
        Ok(Answer { status: 404, body: b"not found".to_vec() })
    }
}

fn key_set(n: usize) -> KeySet {
    let mut set = KeySet::default();
    for _ in 0..n {
        let pem = PrivateKey::generate(KeyType::EcdsaP256).unwrap().to_pem().unwrap();
        set.add_pem("k", pem.as_bytes()).unwrap();
    }
    set
}

fn publish(issuer: &FakeIssuer, set: &KeySet) {
    *issuer.jwks.lock().unwrap() = serde_json::to_string(&jwks(set).unwrap()).unwrap();
}

struct Fixture {
    issuer: Arc<FakeIssuer>,
    now: Arc<Mutex<OffsetDateTime>>,
    keys: RemoteKeys,
}

impl Fixture {
    fn new() -> Self {
        let issuer = Arc::new(FakeIssuer::default());
        let now = Arc::new(Mutex::new(OffsetDateTime::UNIX_EPOCH + Duration::days(20_000)));
        let clock_now = now.clone();
        let clock: Clock = Arc::new(move || *clock_now.lock().unwrap());
        let metrics = crate::metrics::Metrics::new().unwrap().jwks.issuer(ISSUER);
        let source = IssuerSource { issuer: ISSUER.into(), discovery_url: None };
        let keys = RemoteKeys::new(source, Box::new(issuer.clone()), clock, metrics);
        Fixture { issuer, now, keys }
    }

    fn advance(&self, seconds: i64) {
        *self.now.lock().unwrap() += Duration::seconds(seconds);
    }

    fn fetches(&self) -> (usize, usize) {
        (self.issuer.discovery_fetches.load(Ordering::SeqCst), self.issuer.jwks_fetches.load(Ordering::SeqCst))
    }
}

#[test]
fn not_initialized_until_a_set_is_had() {
    let f = Fixture::new();
    let e = f.keys.current().unwrap_err();
    assert!(e.error.contains("first fetch is under way"), "{e}");
    *f.issuer.down.lock().unwrap() = true;
    let e = f.keys.refresh(None).unwrap_err();
    assert_eq!(e.url, format!("{ISSUER}/.well-known/openid-configuration"));
    assert!(e.error.contains("connection refused"), "{e}");
    assert!(matches!(f.keys.health().last_error, Some(FetchError::Unreachable { document: Document::Discovery, .. })));
    *f.issuer.down.lock().unwrap() = false;
    let a = key_set(1);
    publish(&f.issuer, &a);
    assert!(f.keys.refresh(None).is_err(), "within 10 s of the failed attempt: not fetched again");
    f.advance(10);
    assert_eq!(f.keys.refresh(None).unwrap().kids(), a.kids());
    assert_eq!(f.keys.current().unwrap().kids(), a.kids());
    assert_eq!(f.fetches(), (1, 1), "the failed attempt never reached the issuer's documents");
}

#[test]
fn a_rotated_key_is_fetched_on_its_first_token_once_the_interval_allows() {
    let f = Fixture::new();
    let a = key_set(1);
    publish(&f.issuer, &a);
    assert_eq!(f.keys.refresh(None).unwrap().kids(), a.kids());
    let b = key_set(1);
    publish(&f.issuer, &b);
    f.advance(9);
    let kid = b.kids()[0].clone();
    assert_eq!(f.keys.refresh(Some(&kid)).unwrap().kids(), a.kids(), "9 s after the last fetch: refused");
    f.advance(1);
    assert_eq!(f.keys.refresh(Some(&kid)).unwrap().kids(), b.kids());
    assert_eq!(f.fetches(), (1, 2), "discovery read once; the JWKS twice");
    assert_eq!(f.keys.health().last_success, Some(*f.now.lock().unwrap()));
}

#[test]
fn the_last_good_set_stays_while_the_issuer_is_down() {
    let f = Fixture::new();
    let a = key_set(2);
    publish(&f.issuer, &a);
    f.keys.refresh(None).unwrap();
    let fetched_at = *f.now.lock().unwrap();
    *f.issuer.down.lock().unwrap() = true;
    f.advance(3600);
    assert_eq!(f.keys.refresh(Some("forged")).unwrap().kids(), a.kids());
    assert_eq!(f.keys.current().unwrap().kids(), a.kids());
    let h = f.keys.health();
    assert_eq!((h.last_success, h.keys), (Some(fetched_at), 2));
    assert!(matches!(h.last_error, Some(FetchError::Unreachable { document: Document::Jwks, .. })));
    *f.issuer.down.lock().unwrap() = false;
    // A JWKS the issuer breaks is a failure too: the last good set stays.
    *f.issuer.jwks.lock().unwrap() = r#"{"keys":[]}"#.into();
    f.advance(10);
    assert_eq!(f.keys.refresh(None).unwrap().kids(), a.kids());
    assert!(matches!(f.keys.health().last_error, Some(FetchError::BadKeys { .. })));
}

#[test]
fn a_forged_kid_flood_fetches_once_per_ten_seconds() {
    let f = Fixture::new();
    publish(&f.issuer, &key_set(1));
    f.keys.refresh(None).unwrap();
    for i in 0..6_000 {
        if i % 100 == 0 {
            f.advance(1);
        }
        f.keys.refresh(Some(&format!("forged-{i}"))).unwrap();
    }
    // 60 s of fake time after the first fetch: fetches at +10, +20, ..., +60.
    assert_eq!(f.fetches(), (1, 1 + 6));
}

#[test]
fn concurrent_callers_share_the_fetch_under_way() {
    let f = Arc::new(Fixture::new());
    let a = key_set(1);
    publish(&f.issuer, &a);
    f.keys.refresh(None).unwrap();
    let b = key_set(1);
    publish(&f.issuer, &b);
    f.advance(10);
    let (entered_tx, entered) = std::sync::mpsc::channel();
    let (release, release_rx) = std::sync::mpsc::channel();
    *f.issuer.hold.lock().unwrap() = Some((entered_tx, release_rx));
    let leader = {
        let f = f.clone();
        std::thread::spawn(move || f.keys.refresh(Some("new")).unwrap().kids())
    };
    entered.recv().unwrap();
    // The clock moves past the interval while the fetch is held: a caller now would lead a
    // fetch of its own, were it not for the one under way.
    f.advance(60);
    let followers: Vec<_> = (0..8)
        .map(|_| {
            let f = f.clone();
            std::thread::spawn(move || f.keys.refresh(Some("new")).unwrap().kids())
        })
        .collect();
    while f.keys.lock().followers < 8 {
        std::thread::yield_now();
    }
    release.send(()).unwrap();
    assert_eq!(leader.join().unwrap(), b.kids());
    for t in followers {
        assert_eq!(t.join().unwrap(), b.kids());
    }
    assert_eq!(f.fetches(), (1, 2), "nine callers, one fetch");
}

#[test]
fn start_fetches_in_the_background() {
    let f = Fixture::new();
    publish(&f.issuer, &key_set(1));
    let keys = Arc::new(f.keys);
    keys.start();
    // Bounded wait for the background thread's first attempt (no timing asserted).
    for _ in 0..3000 {
        if keys.current().is_ok() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    assert!(keys.current().is_ok());
    assert_eq!(f.issuer.discovery_fetches.load(Ordering::SeqCst), 1);
}
