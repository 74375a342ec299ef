//! One JWT issuer's keys, fetched over HTTPS: [`RemoteKeys`], the server's
//! [`IssuerKeys`].
//!
//! As kube-apiserver: the first fetch runs in the background and is retried every 10 s until it
//! succeeds (`wait.PollUntilContextCancel(ctx, 10*time.Second, ...)` in its OIDC authenticator);
//! until then the issuer is "not initialized" and its tokens are refused, but the server serves.
//! That lets the identity provider run on the cluster kauth authenticates for. kauth counts an
//! issuer initialized once it has a key set (kube-apiserver, once its discovery document was
//! read; its keys come on the first token).
//!
//! Then keys are fetched again only when a token names a `kid` the set lacks, through the
//! [`super::gate`] (one fetch per 10 s, callers during a fetch share it). The discovery document
//! is read until it has been read once, then only the `jwks_uri` (go-oidc's provider is made
//! once). A failed fetch keeps the last good set: tokens signed with known keys go on being
//! accepted while the issuer is down.

use std::sync::mpsc;
use std::sync::{Arc, Condvar, Mutex, MutexGuard, Weak};
use std::time::{Duration, Instant};

use kauth::authn::jwt::{IssuerKeys, KeysUnavailable};
use kauth::token::keys::KeySet;
use time::OffsetDateTime;

use super::client::Fetch;
use super::documents::{discovery_url, fetch_jwks_uri, fetch_keys};
use super::error::{Document, FetchError};
use super::gate::{Admit, RefreshGate, MIN_INTERVAL};
use crate::metrics::IssuerMetrics;

/// The pause between two start-up attempts (kube-apiserver's).
pub const INITIAL_RETRY: Duration = Duration::from_secs(10);

/// The server's clock (the state's `Clock`; a fake one in tests).
pub type Clock = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// Where an issuer's keys are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerSource {
    /// `issuer.url`: what the discovery document must name.
    pub issuer: String,
    /// The configured `discoveryURL`, if any.
    pub discovery_url: Option<String>,
}

/// What is known of an issuer's keys, for health and `/readyz`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct IssuerHealth {
    /// `issuer.url`.
    pub issuer: String,
    /// When the keys in use were fetched; `None`: never (not initialized).
    pub last_success: Option<OffsetDateTime>,
    /// The last fetch's failure, if the last fetch failed.
    pub last_error: Option<FetchError>,
    /// How many keys are in use.
    pub keys: usize,
}

#[derive(Debug)]
struct Inner {
    gate: RefreshGate,
    keys: Option<Arc<KeySet>>,
    jwks_uri: Option<String>,
    last_error: Option<FetchError>,
    last_success: Option<OffsetDateTime>,
    /// Callers waiting for the fetch under way.
    followers: usize,
}

/// One issuer's keys, fetched and cached.
pub struct RemoteKeys {
    issuer: String,
    discovery_url: String,
    fetch: Box<dyn Fetch>,
    clock: Clock,
    metrics: IssuerMetrics,
    inner: Mutex<Inner>,
    fetched: Condvar,
    /// Dropping it (with this value) ends the start-up retries.
    stop: Mutex<Option<mpsc::Sender<()>>>,
}

impl std::fmt::Debug for RemoteKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RemoteKeys").field("issuer", &self.issuer).field("discovery_url", &self.discovery_url).finish()
    }
}

/// Ends a fetch however the leader leaves (a panic in the HTTP client included), so followers
/// are never left waiting.
struct Finish<'a>(&'a RemoteKeys);

impl Drop for Finish<'_> {
    fn drop(&mut self) {
        self.0.lock().gate.finish();
        self.0.fetched.notify_all();
    }
}

impl RemoteKeys {
    /// An issuer's keys, read through `fetch`, nothing fetched yet (see [`RemoteKeys::start`]).
    pub fn new(source: IssuerSource, fetch: Box<dyn Fetch>, clock: Clock, metrics: IssuerMetrics) -> Self {
        RemoteKeys {
            discovery_url: discovery_url(&source.issuer, source.discovery_url.as_deref()),
            issuer: source.issuer,
            fetch,
            clock,
            metrics,
            inner: Mutex::new(Inner {
                gate: RefreshGate::new(MIN_INTERVAL),
                keys: None,
                jwks_uri: None,
                last_error: None,
                last_success: None,
                followers: 0,
            }),
            fetched: Condvar::new(),
            stop: Mutex::new(None),
        }
    }

    /// `issuer.url`.
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    fn lock(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// Starts the background start-up fetch: now, then every [`INITIAL_RETRY`] until a key set
    /// is had, [`RemoteKeys::stop`] is called or the keys are dropped.
    pub fn start(self: &Arc<Self>) {
        let (tx, rx) = mpsc::channel::<()>();
        *self.stop.lock().unwrap_or_else(|p| p.into_inner()) = Some(tx);
        let weak: Weak<RemoteKeys> = Arc::downgrade(self);
        let spawned = std::thread::Builder::new().name("jwks-initial-fetch".into()).spawn(move || loop {
            match weak.upgrade() {
                Some(keys) if keys.lock().keys.is_none() => {
                    let _ = keys.fetch_shared(true);
                    if keys.lock().keys.is_some() {
                        return;
                    }
                }
                _ => return,
            }
            if !matches!(rx.recv_timeout(INITIAL_RETRY), Err(mpsc::RecvTimeoutError::Timeout)) {
                return;
            }
        });
        if let Err(e) = spawned {
            tracing::error!("issuer {:?}: starting the key fetch: {e}", self.issuer);
        }
    }

    /// Ends the start-up retries (the configuration that named this issuer was replaced).
    pub fn stop(&self) {
        self.stop.lock().unwrap_or_else(|p| p.into_inner()).take();
    }

    /// The health of this issuer's keys.
    pub fn health(&self) -> IssuerHealth {
        let inner = self.lock();
        IssuerHealth {
            issuer: self.issuer.clone(),
            last_success: inner.last_success,
            last_error: inner.last_error.clone(),
            keys: inner.keys.as_ref().map_or(0, |k| k.keys().len()),
        }
    }

    fn answer(&self, inner: &Inner) -> Result<Arc<KeySet>, KeysUnavailable> {
        match (&inner.keys, &inner.last_error) {
            (Some(keys), _) => Ok(keys.clone()),
            (None, Some(e)) => Err(e.unavailable()),
            (None, None) => Err(KeysUnavailable {
                url: self.discovery_url.clone(),
                error: "no answer yet: the first fetch is under way".into(),
            }),
        }
    }

    /// Fetches if the gate lets this caller lead, waits for the fetch under way if there is
    /// one, and answers with the set there is then.
    fn fetch_shared(&self, forced: bool) -> Result<Arc<KeySet>, KeysUnavailable> {
        let now = (self.clock)();
        let mut inner = self.lock();
        match inner.gate.admit(now, forced) {
            Admit::Lead => {}
            Admit::Follow { completed } => {
                inner.followers += 1;
                while inner.gate.completed() == completed {
                    inner = self.fetched.wait(inner).unwrap_or_else(|p| p.into_inner());
                }
                inner.followers -= 1;
                return self.answer(&inner);
            }
            Admit::Refuse { .. } => {
                self.metrics.refused();
                return self.answer(&inner);
            }
        }
        let jwks_uri = inner.jwks_uri.clone();
        drop(inner);
        let finish = Finish(self);
        let (jwks_uri, result) = self.fetch_now(jwks_uri);
        let mut inner = self.lock();
        if jwks_uri.is_some() {
            inner.jwks_uri = jwks_uri;
        }
        match result {
            Ok(set) => {
                let at = (self.clock)();
                self.metrics.succeeded(at.unix_timestamp());
                inner.keys = Some(Arc::new(set));
                inner.last_error = None;
                inner.last_success = Some(at);
            }
            Err(e) => {
                match inner.keys {
                    Some(_) => tracing::warn!(
                        "issuer {:?}: fetching keys failed, the last good set stays in use: {e}",
                        self.issuer
                    ),
                    None => tracing::error!(
                        "oidc authenticator: initializing plugin: issuer {:?}: {} ({e})",
                        self.issuer,
                        e.url()
                    ),
                }
                inner.last_error = Some(e);
            }
        }
        drop(inner);
        drop(finish);
        self.answer(&self.lock())
    }

    /// One fetch, no lock held: the discovery document if `jwks_uri` is not known yet, then the
    /// JWKS. Returns the `jwks_uri` discovered (if it was) and the outcome.
    fn fetch_now(&self, jwks_uri: Option<String>) -> (Option<String>, Result<KeySet, FetchError>) {
        let (discovered, uri) = match jwks_uri {
            Some(uri) => (None, uri),
            None => match self
                .timed(Document::Discovery, || fetch_jwks_uri(&*self.fetch, &self.issuer, &self.discovery_url))
            {
                Ok(uri) => (Some(uri.clone()), uri),
                Err(e) => return (None, Err(e)),
            },
        };
        (discovered, self.timed(Document::Jwks, || fetch_keys(&*self.fetch, &uri)))
    }

    fn timed<T>(&self, document: Document, f: impl FnOnce() -> Result<T, FetchError>) -> Result<T, FetchError> {
        let start = Instant::now();
        let r = f();
        self.metrics.fetched(document.label(), r.as_ref().err().map(FetchError::code), start.elapsed());
        r
    }
}

impl IssuerKeys for RemoteKeys {
    fn current(&self) -> Result<Arc<KeySet>, KeysUnavailable> {
        self.answer(&self.lock())
    }

    fn refresh(&self, _kid: Option<&str>) -> Result<Arc<KeySet>, KeysUnavailable> {
        self.fetch_shared(false)
    }
}

#[cfg(test)]
#[path = "remote_tests.rs"]
mod tests;
