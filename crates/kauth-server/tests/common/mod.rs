//! kauth servers in process, for the scenario tests: a state prepared by `bootstrap::prepare` in
//! a temporary data directory with a fake clock, and requests handed to the pipeline, without
//! TLS, HTTP or kubectl. Time moves only when a test moves the clock.
//!
//! [`handle`] is the one place that calls the pipeline: when its signature changes, only it does.
#![allow(dead_code, clippy::unwrap_used, clippy::expect_used)]

#[path = "../../../kauth/tests/common/tools.rs"]
pub mod tools;
pub mod watch;

use std::path::Path;
use std::sync::{Arc, Mutex, OnceLock, Weak};

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, Method};
use kauth_server::api::request::Request;
pub use kauth_server::api::response::Response;
use kauth_server::bootstrap::prepare;
use kauth_server::replicas::Replicas;
use kauth_server::state::State;
use kauth_server::{pipeline, Options};
use serde_json::Value;
use time::OffsetDateTime;

/// Where every fake clock starts: 2027-01-15T08:00:00Z.
pub const START: i64 = 1_800_000_000;

/// The static tokens every server accepts (kube-apiserver's `--token-auth-file`).
pub const ADMIN: &str = "admin-token";
/// User `alice`, in group `dev`.
pub const ALICE: &str = "alice-token";
/// User `bob`, in no group of his own.
pub const BOB: &str = "bob-token";
/// User `system:node:n1` in group `system:nodes`: a kubelet's identity.
pub const NODE1: &str = "node1-token";
const TOKENS: &str =
    "admin-token,admin,u-admin,\"system:masters\"\nalice-token,alice,u-alice,\"dev\"\nbob-token,bob,u-bob\n\
                      node1-token,system:node:n1,u-n1,\"system:nodes\"\n";

/// A clock that moves only when told to.
#[derive(Clone, Debug)]
pub struct FakeClock(Arc<Mutex<OffsetDateTime>>);

impl FakeClock {
    /// A clock at `unix` seconds.
    pub fn at(unix: i64) -> Self {
        FakeClock(Arc::new(Mutex::new(OffsetDateTime::from_unix_timestamp(unix).unwrap())))
    }

    /// Now.
    pub fn now(&self) -> OffsetDateTime {
        *self.0.lock().unwrap()
    }

    /// Moves the clock on by `seconds` (back when negative).
    pub fn advance(&self, seconds: i64) {
        *self.0.lock().unwrap() += time::Duration::seconds(seconds);
    }

    /// The server's view of this clock.
    pub fn clock(&self) -> kauth_server::Clock {
        let c = self.0.clone();
        Arc::new(move || *c.lock().unwrap())
    }
}

/// A prepared server, its clock and its data directory.
pub struct Server {
    /// Its state.
    pub state: Arc<State>,
    /// Its clock.
    pub clock: FakeClock,
    /// What it was prepared with (to prepare it again: a restart).
    pub options: Options,
    dir: tempfile::TempDir,
    _pki: Arc<tempfile::TempDir>,
}

/// One PKI for every server of this test binary, made once while servers are alive (kauth
/// serve's PKI has some 15 RSA keys: minting them for each test would dominate its time).
/// Sharing it also gives replicas of one cluster the same CA and service-account key.
fn shared_pki() -> Arc<tempfile::TempDir> {
    static PKI: OnceLock<Mutex<Weak<tempfile::TempDir>>> = OnceLock::new();
    let mut slot = PKI.get_or_init(|| Mutex::new(Weak::new())).lock().unwrap();
    if let Some(pki) = slot.upgrade() {
        return pki;
    }
    let dir = tempfile::tempdir().unwrap();
    let options = Options { data_dir: dir.path().to_owned(), secure_port: 0, ..Options::default() };
    // The PKI as `kauth serve` makes it, then without the store.
    drop(prepare(&options, FakeClock::at(START).clock()).unwrap());
    std::fs::remove_file(dir.path().join("kauth.redb")).unwrap();
    let pki = Arc::new(dir);
    *slot = Arc::downgrade(&pki);
    pki
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).unwrap();
    for e in std::fs::read_dir(from).unwrap() {
        let e = e.unwrap();
        let target = to.join(e.file_name());
        if e.file_type().unwrap().is_dir() {
            copy_dir(&e.path(), &target);
        } else {
            std::fs::copy(e.path(), &target).unwrap();
        }
    }
}

/// A server with the default options (RBAC, the embedded store) and the static tokens above,
/// its clock at [`START`].
pub fn server() -> Server {
    server_with(FakeClock::at(START), |_| {})
}

/// A server on `clock` whose options `configure` adjusts.
pub fn server_with(clock: FakeClock, configure: impl FnOnce(&mut Options)) -> Server {
    let pki = shared_pki();
    let dir = tempfile::tempdir().unwrap();
    copy_dir(pki.path(), &dir.path().join("data"));
    let tokens = dir.path().join("tokens.csv");
    std::fs::write(&tokens, TOKENS).unwrap();
    let mut options = Options {
        data_dir: dir.path().join("data"),
        secure_port: 0,
        token_auth_file: Some(tokens),
        ..Options::default()
    };
    configure(&mut options);
    let state = prepare(&options, clock.clock()).unwrap().state;
    Server { state, clock, options, dir, _pki: pki }
}

/// A replica named `name` among others on a shared store, as on etcd, but on the embedded
/// store: the replica set and the shared key ring of `kauth serve --etcd-servers`, which a test
/// drives by hand (heartbeats of peers through [`Replicas::observe`], the ring through
/// `controllers::keyring`). Token decisions are not cached: the store's change hooks point at
/// the state `prepare` made, which this one replaces.
pub fn replica(name: &str, clock: FakeClock, configure: impl FnOnce(&mut Options)) -> Server {
    let mut s = server_with(clock, |o| {
        o.replica_name = Some(name.to_owned());
        o.token_cache_ttl = std::time::Duration::ZERO;
        configure(o);
    });
    let state = Arc::try_unwrap(s.state).expect("the only reference to a state just prepared");
    let replicas = Replicas::new(name, kauth::token::validate::DEFAULT_LEEWAY_SECONDS);
    let state = State { replicas: Some(Arc::new(replicas)), ..state };
    kauth_server::keyring::join_ring(&state.keys, s.clock.now()).unwrap();
    s.state = Arc::new(state);
    s
}

impl Server {
    /// Sends a request through the pipeline (see [`send`]).
    pub fn send(&self, method: Method, path: &str, body: Option<Value>, token: Option<&str>) -> Response {
        send(&self.state, method, path, body, token)
    }

    /// [`Server::send`] as `admin` (system:masters), expecting `status`; the body as JSON.
    pub fn admin(&self, method: Method, path: &str, body: Option<Value>, status: u16) -> Value {
        let r = self.send(method, path, body, Some(ADMIN));
        let v = json_of(&r);
        assert_eq!(r.status, status, "{path}: {v}");
        v
    }

    /// Stops the server and tries to prepare it again on the same data directory and clock,
    /// with its options adjusted by `configure`: the start's error, if it fails.
    pub fn restart_with(self, configure: impl FnOnce(&mut Options)) -> Result<Server, String> {
        let Server { state, clock, mut options, dir, _pki } = self;
        drop(state);
        configure(&mut options);
        let state = prepare(&options, clock.clock())?.state;
        Ok(Server { state, clock, options, dir, _pki })
    }

    /// Stops the server and prepares it again on the same data directory and clock.
    pub fn restart(self) -> Server {
        let Server { state, clock, options, dir, _pki } = self;
        drop(state);
        let state = prepare(&options, clock.clock()).unwrap().state;
        Server { state, clock, options, dir, _pki }
    }
}

/// A request: `path` may carry a query (`?watch=true&resourceVersion=5`); `body` is sent as
/// JSON; `token` as `Authorization: Bearer`.
pub fn request(method: Method, path: &str, body: Option<&Value>, token: Option<&str>) -> Request {
    let (path, query) = path.split_once('?').unwrap_or((path, ""));
    let mut headers = HeaderMap::new();
    if let Some(t) = token {
        headers.insert(http::header::AUTHORIZATION, HeaderValue::from_str(&format!("Bearer {t}")).unwrap());
    }
    if body.is_some() {
        headers.insert(http::header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    }
    Request {
        method,
        path: path.into(),
        query: form_urlencoded::parse(query.as_bytes()).into_owned().collect(),
        headers,
        body: body.map(|b| Bytes::from(serde_json::to_vec(b).unwrap())).unwrap_or_default(),
        peer: None,
        source_ip: "127.0.0.1".into(),
        token_key: None,
    }
}

/// The whole pipeline for one request: the one call into it. The pipeline is async; this runs it
/// to its end on one current-thread runtime shared by the test binary, so tests stay synchronous
/// and a store write still goes through the blocking pool, as in `kauth serve`. Call it outside
/// any runtime (a `#[tokio::test]` could not block on it).
pub fn handle(state: &Arc<State>, req: Request) -> Response {
    // Current-thread runtimes take `block_on` from many threads at once (the test harness's).
    static RUNTIME: OnceLock<tokio::runtime::Runtime> = OnceLock::new();
    let runtime = RUNTIME.get_or_init(|| tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap());
    runtime.block_on(pipeline::handle(state, req))
}

/// Sends `method path` with `body` and the bearer `token` through the pipeline.
pub fn send(state: &Arc<State>, method: Method, path: &str, body: Option<Value>, token: Option<&str>) -> Response {
    handle(state, request(method, path, body.as_ref(), token))
}

/// A response's JSON body.
pub fn json_of(r: &Response) -> Value {
    serde_json::from_slice(&r.body).unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&r.body)))
}

/// The `kid` in a token's header.
pub fn kid_of(token: &str) -> String {
    kauth::token::validate::parse(token).unwrap().jws.header.kid.unwrap()
}
