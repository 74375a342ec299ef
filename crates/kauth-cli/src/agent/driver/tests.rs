//! The loop driven by a fake clock (time moves only when the loop sleeps or a test moves it)
//! and stand-in or real fetchers.

use std::future::Future;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use kauth::token::refresh::{ClockReading, Issued};

use super::*;
use crate::agent::config::DEFAULT_MODE;
use crate::agent::health::healthz;
use crate::agent::token_request::{ApiFetcher, FetchError, Fetched};
use crate::api_client::{ApiClient, Settings};

/// Fake clocks: the wall clock may be moved alone; sleeping moves both, at once.
#[derive(Clone)]
struct FakeClock(Arc<Mutex<ClockReading>>);

impl FakeClock {
    fn new() -> Self {
        FakeClock(Arc::new(Mutex::new(ClockReading { wall_ms: 1_800_000_000_000, mono_ms: 0 })))
    }
    fn advance(&self, ms: i64) {
        let mut r = self.0.lock().unwrap();
        r.wall_ms += ms;
        r.mono_ms += ms;
    }
    fn jump_wall(&self, ms: i64) {
        self.0.lock().unwrap().wall_ms += ms;
    }
}

impl AgentClock for FakeClock {
    fn read(&self) -> ClockReading {
        *self.0.lock().unwrap()
    }
    fn sleep_until(&self, mono_ms: i64) -> impl Future<Output = ()> + Send {
        let now = self.read().mono_ms;
        assert!(mono_ms > now, "a sleep must end in the future: the loop would spin");
        self.advance(mono_ms - now);
        std::future::ready(())
    }
}

/// An issuer whose clock is the fake monotonic clock plus a fixed origin (so it never jumps),
/// `ahead_ms` in front of the fake wall clock as it started; numbered tokens of `lifetime_s`.
/// After `up_for` tokens it answers through `then` (a dead server).
struct Issuer {
    clock: FakeClock,
    ahead_ms: i64,
    lifetime_s: i64,
    up_for: usize,
    calls: AtomicUsize,
    attempts: Mutex<Vec<i64>>,
    then: Option<ApiFetcher>,
}

impl Issuer {
    fn new(clock: &FakeClock, ahead_ms: i64) -> Self {
        Issuer {
            clock: clock.clone(),
            ahead_ms,
            lifetime_s: 600,
            up_for: usize::MAX,
            calls: AtomicUsize::new(0),
            attempts: Mutex::new(Vec::new()),
            then: None,
        }
    }
}

impl Fetch for Issuer {
    fn fetch(&self, spec: &TokenSpec) -> Result<Fetched, FetchError> {
        let now = self.clock.read();
        self.attempts.lock().unwrap().push(now.mono_ms);
        let n = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
        if n > self.up_for {
            return match &self.then {
                Some(f) => f.fetch(spec),
                None => Err(FetchError::Unreachable { url: "x".into(), reason: "down".into() }),
            };
        }
        let iat = (1_800_000_000_000 + now.mono_ms + self.ahead_ms) / 1000;
        Ok(Fetched {
            token: Secret::new(format!("token-{n}")),
            issued: Issued { iat, nbf: Some(iat), exp: iat + self.lifetime_s },
        })
    }
}

fn spec(dir: &Path, file: &str) -> TokenSpec {
    TokenSpec {
        name: file.into(),
        dir: dir.to_owned(),
        file: file.into(),
        namespace: "ci".into(),
        service_account: "runner".into(),
        audiences: vec![],
        expiration_seconds: Some(600),
        bound: None,
        mode: DEFAULT_MODE,
    }
}

fn agent(clock: &FakeClock, issuer: Issuer, specs: Vec<TokenSpec>) -> Agent<FakeClock, Issuer> {
    Agent::new(clock.clone(), issuer, specs, Policy::default(), Metrics::new().unwrap()).with_draw(|| 0.0)
}

fn metric(status: &Status, name: &str) -> f64 {
    let text = status.metrics.render();
    text.lines()
        .find(|l| l.starts_with(name))
        .and_then(|l| l.rsplit(' ').next())
        .and_then(|v| v.parse().ok())
        .unwrap_or_else(|| panic!("no {name} in\n{text}"))
}

/// Ticks and sleeps until `done`, at most `limit` ticks; the number of ticks.
async fn drive<F: Fetch>(
    a: &mut Agent<FakeClock, F>,
    clock: &FakeClock,
    limit: usize,
    done: impl Fn() -> bool,
) -> usize {
    for n in 1..=limit {
        let wake = a.tick().await;
        if done() {
            return n;
        }
        clock.sleep_until(wake).await;
    }
    panic!("not done after {limit} ticks")
}

fn read(dir: &Path, file: &str) -> String {
    std::fs::read_to_string(dir.join(file)).unwrap()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stopped_server_is_retried_with_growing_backoff_while_the_old_token_stays() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FakeClock::new();
    // A server that answered once and is gone: nothing listens on its port any more.
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let settings = Settings {
        server: format!("https://127.0.0.1:{port}"),
        ca_pem: None,
        client_cert: None,
        bearer: None,
        insecure: false,
        env_proxy: false,
    };
    let dead = ApiFetcher::new(ApiClient::new("test", settings).unwrap());
    let issuer = Issuer { up_for: 1, then: Some(dead), ..Issuer::new(&clock, 0) };
    let mut a = agent(&clock, issuer, vec![spec(tmp.path(), "token")]);
    let status = a.status();
    let ticks = drive(&mut a, &clock, 10_000, || status.tokens()["token"].failures >= 9).await;

    assert_eq!(read(tmp.path(), "token"), "token-1", "the old token stays");
    let attempts = a.fetcher.attempts.lock().unwrap().clone();
    assert_eq!(attempts.len(), 10);
    // The first refresh at 80% of 600 s; then 1, 2, 4 ... 256 s apart, each plus at most 10%.
    assert_eq!(attempts[1] - attempts[0], 480_001);
    for (n, pair) in attempts[1..].windows(2).enumerate() {
        let gap = pair[1] - pair[0];
        let nominal = 1000 << n;
        assert!((nominal..=nominal + nominal / 10).contains(&gap), "gap {n}: {gap} ms");
    }
    // No busy loop: a tick per attempt and per minute of waiting at most.
    let elapsed_min = (clock.read().mono_ms / 60_000) as usize;
    assert!(ticks <= attempts.len() + elapsed_min + 2, "{ticks} ticks in {elapsed_min} min");

    let t = &status.tokens()["token"];
    assert!(t.last_error.as_deref().unwrap().contains("no answer"), "{t:?}");
    assert_eq!(metric(&status, "kauth_agent_refresh_failures_total"), 9.0);
    assert_eq!(metric(&status, "kauth_agent_refresh_failures_consecutive"), 9.0);
    assert!(metric(&status, "kauth_agent_refresh_backoff_seconds") >= 256.0);
    // 480 s + 511 s of failures: the old token has expired, and /healthz says so.
    assert!(metric(&status, "kauth_agent_token_expiry_seconds") < 0.0);
    let (code, body) = healthz(&status, clock.read().mono_ms);
    assert_eq!(code, 503);
    assert!(body.starts_with("token: expired") && body.contains("9 failures in a row"), "{body}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backwards_jump_of_the_local_clock_is_detected_and_the_token_refreshed() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FakeClock::new();
    let issuer = Issuer { lifetime_s: 3600, ..Issuer::new(&clock, 0) };
    let mut a = agent(&clock, issuer, vec![spec(tmp.path(), "token")]);
    let status = a.status();
    a.tick().await;
    assert_eq!(read(tmp.path(), "token"), "token-1");
    assert_eq!(healthz(&status, clock.read().mono_ms).0, 200);
    clock.advance(600_000);
    clock.jump_wall(-3_600_000);
    a.tick().await;
    assert_eq!(read(tmp.path(), "token"), "token-2", "refreshed at once, not held");
    assert_eq!(metric(&status, "kauth_agent_clock_jumps_total"), 1.0);
    assert_eq!(metric(&status, "kauth_agent_clock_last_jump_seconds"), -3600.0);
    // The issuer is now an hour ahead of this machine's clock: measured and exported.
    let ahead = metric(&status, "kauth_agent_issuer_clock_ahead_seconds");
    assert!((3599.0..=3601.0).contains(&ahead), "{ahead}");
    // The schedule did not move: the next refresh is 48 minutes after this one.
    let before = clock.read().mono_ms;
    drive(&mut a, &clock, 1000, || a_fetches(&status) == 3).await;
    assert_eq!(clock.read().mono_ms - before, 2_880_001);
}

fn a_fetches(status: &Status) -> u64 {
    metric(status, "kauth_agent_token_refreshes_total") as u64
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issuer_two_minutes_ahead_is_measured_and_its_next_token_held_back() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FakeClock::new();
    let mut a = agent(&clock, Issuer::new(&clock, 120_000), vec![spec(tmp.path(), "token")]);
    let status = a.status();
    a.tick().await;
    // The first token is written at once (nothing better to serve), the skew measured.
    assert_eq!(read(tmp.path(), "token"), "token-1");
    let ahead = metric(&status, "kauth_agent_issuer_clock_ahead_seconds");
    assert!((119.0..=121.0).contains(&ahead), "{ahead}");
    // At the refresh, the new token is held until its nbf is within the 60 s leeway here.
    let start = clock.read().mono_ms;
    let fetcher = a.fetcher.clone();
    drive(&mut a, &clock, 1000, || fetcher.calls.load(Ordering::SeqCst) == 2).await;
    assert_eq!(clock.read().mono_ms - start, 480_001);
    assert_eq!(read(tmp.path(), "token"), "token-1", "the old token stays while the new one is not valid here");
    assert_eq!(metric(&status, "kauth_agent_tokens_held_total"), 1.0);
    drive(&mut a, &clock, 1000, || read(tmp.path(), "token") == "token-2").await;
    let held = clock.read().mono_ms - start - 480_001;
    assert!((59_000..=60_000).contains(&held), "{held}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tokens_sharing_a_directory_are_written_together() {
    let tmp = tempfile::tempdir().unwrap();
    let clock = FakeClock::new();
    let mut a = agent(&clock, Issuer::new(&clock, 0), vec![spec(tmp.path(), "vault"), spec(tmp.path(), "api")]);
    a.tick().await;
    assert_eq!((read(tmp.path(), "vault"), read(tmp.path(), "api")), ("token-1".into(), "token-2".into()));
    assert!(a.all_published());
    let (code, body) = healthz(&a.status(), clock.read().mono_ms);
    assert_eq!((code, body.as_str()), (200, "api: ok, expires in 600s\nvault: ok, expires in 600s\n"));
    // One jump, seen by both tokens' refreshers, is one jump; both tokens are refreshed.
    clock.advance(1000);
    clock.jump_wall(30_000);
    a.tick().await;
    assert_eq!(metric(&a.status(), "kauth_agent_clock_jumps_total"), 1.0);
    assert_eq!((read(tmp.path(), "vault"), read(tmp.path(), "api")), ("token-3".into(), "token-4".into()));
}
