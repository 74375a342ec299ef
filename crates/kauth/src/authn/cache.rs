//! Caches successful token authentications, as kube-apiserver does: keyed by an HMAC of the
//! audiences and the token (the token itself is never stored), successes kept for a TTL (10 s by
//! default), failures never cached. [`TokenCache::invalidate`] drops everything at once: the server
//! calls it when an object a cached token depends on changes (a service account, pod, node or
//! secret deleted or recreated), so a revoked token stops working at once, not after the TTL.
//!
//! [`TokenCache::cache_failures`] also keeps, for a failure TTL, the verdicts kube-apiserver's
//! authenticators give without an error ([`Rejection::is_silent_failure`]): kube-apiserver wraps
//! its token webhook in such a cache (success and failure TTL both
//! `--authentication-token-webhook-cache-ttl`; errors never kept).
//!
//! A bearer token on a connection with a [`TokenKeyMemo`] has its key computed once per
//! connection and token (`authenticate_connection_token`); the entries are looked up as always.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use aws_lc_rs::hmac;
use time::{Duration, OffsetDateTime};

use super::token_key_memo::TokenKeyMemo;
use super::{Authenticated, Rejection, TokenAuthenticator};

/// Each cache's id, so that a connection's memo reuses a key only with the cache (and the HMAC
/// key) that computed it.
static NEXT_CACHE_ID: AtomicU64 = AtomicU64::new(1);

/// kube-apiserver's success TTL for the token cache.
pub const DEFAULT_SUCCESS_TTL: Duration = Duration::seconds(10);
/// Entries kept at most; past it, expired entries are dropped, then the cache is cleared.
pub const MAX_ENTRIES: usize = 100_000;

struct Entry {
    stored: OffsetDateTime,
    expires: OffsetDateTime,
    generation: u64,
    /// A success, or a silent failure (with [`TokenCache::cache_failures`]).
    verdict: Result<Authenticated, Rejection>,
}

/// A caching wrapper around any token authenticator: successes are kept for the TTL under an
/// HMAC of the audiences and the token; rejections and unrecognised tokens are never cached.
pub struct TokenCache<A> {
    inner: A,
    key: hmac::Key,
    id: u64,
    ttl: Duration,
    generation: AtomicU64,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    hits: AtomicU64,
    misses: AtomicU64,
    stale_for: Duration,
    stale: AtomicU64,
    failure_ttl: Duration,
}

impl<A> std::fmt::Debug for TokenCache<A> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "TokenCache(ttl {}, {} hits, {} misses)",
            self.ttl,
            self.hits.load(Ordering::Relaxed),
            self.misses.load(Ordering::Relaxed)
        )
    }
}

impl<A: TokenAuthenticator> TokenCache<A> {
    /// Wraps `inner`, caching successes for `ttl`.
    pub fn new(inner: A, ttl: Duration) -> Result<Self, aws_lc_rs::error::Unspecified> {
        let key = hmac::Key::generate(hmac::HMAC_SHA256, &aws_lc_rs::rand::SystemRandom::new())?;
        Ok(TokenCache {
            inner,
            key,
            id: NEXT_CACHE_ID.fetch_add(1, Ordering::Relaxed),
            ttl,
            generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
            stale_for: Duration::ZERO,
            stale: AtomicU64::new(0),
            failure_ttl: Duration::ZERO,
        })
    }

    /// Answers from the entry under `key` (the HMAC of `audiences` and `token`), or asks the
    /// wrapped authenticator and keeps its answer.
    fn authenticate_keyed(
        &self,
        key: [u8; 32],
        token: &str,
        audiences: Option<&[String]>,
        now: OffsetDateTime,
    ) -> Result<Option<Authenticated>, Rejection> {
        let generation = self.generation.load(Ordering::SeqCst);
        if let Some(hit) = self.hit(&key, generation, now) {
            return hit.map(Some);
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let result = match self.inner.authenticate_token(token, audiences, now) {
            Err(r) if self.stale_for > Duration::ZERO && r.only_unavailable() => {
                return self.stale_hit(&key, generation, now).map(Some).ok_or(r);
            }
            Err(r) if self.failure_ttl > Duration::ZERO && r.is_silent_failure() => {
                self.store(key, generation, now, self.failure_ttl, Err(r.clone()));
                return Err(r);
            }
            other => other?,
        };
        if let Some(authenticated) = &result {
            self.store(key, generation, now, self.ttl, Ok(authenticated.clone()));
        }
        Ok(result)
    }

    /// Also keeps silent failures ([`Rejection::is_silent_failure`]) for `ttl` (zero: never),
    /// as kube-apiserver's token cache keeps `nil, false, nil` for its failure TTL.
    pub fn cache_failures(mut self, ttl: Duration) -> Self {
        self.failure_ttl = ttl;
        self
    }

    /// Also answers with a success stored less than `max_age` ago (expired or not) when the
    /// authenticator could not reach its cluster ([`super::WebhookRejection::Unavailable`]).
    pub fn serve_stale(mut self, max_age: Duration) -> Self {
        self.stale_for = max_age;
        self
    }
}

impl<A> TokenCache<A> {
    /// The wrapped authenticator.
    pub fn inner(&self) -> &A {
        &self.inner
    }

    /// Forgets every cached success.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// (hits, misses) so far, for `authentication_token_cache_request_total`.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed))
    }

    /// How many stale successes were served while the cluster could not be asked.
    pub fn stale_served(&self) -> u64 {
        self.stale.load(Ordering::Relaxed)
    }

    /// A success stored less than the stale age ago, whatever its TTL.
    fn stale_hit(&self, key: &[u8; 32], generation: u64, now: OffsetDateTime) -> Option<Authenticated> {
        let entries = self.entries.lock().ok()?;
        let e = entries.get(key).filter(|e| e.generation == generation && now < e.stored + self.stale_for)?;
        let authenticated = e.verdict.as_ref().ok()?.clone();
        self.stale.fetch_add(1, Ordering::Relaxed);
        Some(authenticated)
    }

    fn keep_until(&self, e: &Entry) -> OffsetDateTime {
        e.expires.max(e.stored + self.stale_for)
    }

    fn cache_key(&self, token: &str, audiences: Option<&[String]>) -> [u8; 32] {
        let mut ctx = hmac::Context::with_key(&self.key);
        // Length-prefixed, so no two (audiences, token) pairs share an input.
        for a in audiences.unwrap_or(&[]) {
            ctx.update(&(a.len() as u64).to_be_bytes());
            ctx.update(a.as_bytes());
        }
        ctx.update(&u64::MAX.to_be_bytes());
        ctx.update(token.as_bytes());
        let mut out = [0u8; 32];
        out.copy_from_slice(ctx.sign().as_ref());
        out
    }

    fn hit(&self, key: &[u8; 32], generation: u64, now: OffsetDateTime) -> Option<Result<Authenticated, Rejection>> {
        let entries = self.entries.lock().ok()?;
        let e = entries.get(key).filter(|e| e.generation == generation && now < e.expires)?;
        self.hits.fetch_add(1, Ordering::Relaxed);
        Some(e.verdict.clone())
    }

    fn store(
        &self,
        key: [u8; 32],
        generation: u64,
        now: OffsetDateTime,
        ttl: Duration,
        verdict: Result<Authenticated, Rejection>,
    ) {
        if let Ok(mut entries) = self.entries.lock() {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, e| e.generation == generation && now < self.keep_until(e));
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(key, Entry { stored: now, expires: now + ttl, generation, verdict });
        }
    }
}

impl<A: TokenAuthenticator> TokenAuthenticator for TokenCache<A> {
    fn name(&self) -> &'static str {
        self.inner.name()
    }

    fn authenticate_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        now: OffsetDateTime,
    ) -> Result<Option<Authenticated>, Rejection> {
        self.authenticate_keyed(self.cache_key(token, audiences), token, audiences, now)
    }

    fn authenticate_connection_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        now: OffsetDateTime,
        memo: &TokenKeyMemo,
    ) -> Result<Option<Authenticated>, Rejection> {
        // The audiences are part of the key: only the API audiences' keys are remembered.
        if audiences.is_some() {
            return self.authenticate_token(token, audiences, now);
        }
        let key = memo.key(self.id, token.as_bytes()).unwrap_or_else(|| {
            let key = self.cache_key(token, None);
            memo.remember(self.id, token.as_bytes(), key);
            key
        });
        self.authenticate_keyed(key, token, audiences, now)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;
    use std::sync::Arc;

    use super::*;
    use crate::authn::union::tests::{Counting, Fixed};
    use crate::authn::union::TokenUnion;

    fn now() -> OffsetDateTime {
        OffsetDateTime::from_unix_timestamp(1_700_000_000).unwrap()
    }

    #[test]
    fn successes_are_cached_for_the_ttl_failures_never() {
        let calls = Arc::new(AtomicUsize::new(0));
        let union = TokenUnion::new().with(Counting(calls.clone(), Fixed("counting")));
        let cache = TokenCache::new(union, DEFAULT_SUCCESS_TTL).unwrap();
        assert_eq!(cache.authenticate_token("good", None, now()).unwrap().unwrap().authenticator, "counting");
        let hit = cache.authenticate_token("good", None, now() + Duration::seconds(9)).unwrap().unwrap();
        assert_eq!(hit.authenticator, "counting", "a hit still says who accepted the token");
        assert_eq!(calls.load(Ordering::SeqCst), 1, "second call within the TTL is a hit");
        cache.authenticate_token("good", None, now() + Duration::seconds(10)).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "expired entry is re-validated");
        // Audiences are part of the key.
        cache.authenticate_token("good", Some(&["x".to_string()]), now()).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3);
        for _ in 0..3 {
            assert!(matches!(
                cache.authenticate_token("bad", None, now()),
                Err(Rejection::Token { rejection: crate::token::Rejection::Expired { .. }, .. })
            ));
        }
        assert_eq!(calls.load(Ordering::SeqCst), 6, "failures are not cached");
        assert_eq!(cache.authenticate_token("other", None, now()), Ok(None));
        cache.invalidate();
        cache.authenticate_token("good", None, now()).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 8, "invalidate drops successes");
        assert_eq!(cache.stats().0, 1);
    }

    #[test]
    fn a_connections_memo_changes_no_answer_ttl_or_invalidation() {
        let calls = Arc::new(AtomicUsize::new(0));
        let union = TokenUnion::new().with(Counting(calls.clone(), Fixed("counting")));
        let cache = TokenCache::new(union, DEFAULT_SUCCESS_TTL).unwrap();
        let memo = TokenKeyMemo::new();
        let ask = |token: &str, at: OffsetDateTime| cache.authenticate_connection_token(token, None, at, &memo);
        assert_eq!(ask("good", now()).unwrap().unwrap().authenticator, "counting");
        assert_eq!(memo.key(cache.id, b"good"), Some(cache.cache_key("good", None)), "the key is remembered");
        ask("good", now() + Duration::seconds(9)).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a hit through the remembered key");
        assert_eq!(
            cache.authenticate_token("good", None, now()).unwrap().unwrap().authenticator,
            "counting",
            "the same entry without the memo: the remembered key is the cache's key"
        );
        assert_eq!(calls.load(Ordering::SeqCst), 1);
        ask("good", now() + Duration::seconds(10)).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 2, "the TTL holds");
        cache.invalidate();
        ask("good", now() + Duration::seconds(11)).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 3, "invalidation holds");
        assert!(matches!(ask("bad", now()), Err(Rejection::Token { .. })), "another token: its own verdict");
        assert_eq!(ask("other", now()), Ok(None));
        ask("good", now() + Duration::seconds(12)).unwrap();
        assert_eq!(calls.load(Ordering::SeqCst), 5, "a hit again after the other tokens");
        // Another cache (another HMAC key) on the same connection computes its own key.
        let other = TokenCache::new(Fixed("other"), DEFAULT_SUCCESS_TTL).unwrap();
        other.authenticate_connection_token("good", None, now(), &memo).unwrap();
        assert_eq!(memo.key(other.id, b"good"), Some(other.cache_key("good", None)));
        assert_ne!(other.cache_key("good", None), cache.cache_key("good", None));
        // Audiences are never remembered.
        let audiences = ["x".to_string()];
        cache.authenticate_connection_token("good", Some(&audiences), now(), &memo).unwrap();
        assert_eq!(memo.key(other.id, b"good"), Some(other.cache_key("good", None)), "left as it was");
    }

    /// Accepts "good" while `up`, else says the cluster could not be asked; refuses "revoked".
    struct Remote(Arc<std::sync::atomic::AtomicBool>);

    impl TokenAuthenticator for Remote {
        fn name(&self) -> &'static str {
            "webhook"
        }
        fn authenticate_token(
            &self,
            token: &str,
            _audiences: Option<&[String]>,
            _now: OffsetDateTime,
        ) -> Result<Option<Authenticated>, Rejection> {
            if !self.0.load(Ordering::SeqCst) {
                return Err(Rejection::Webhook(super::super::WebhookRejection::Unavailable {
                    cluster: "https://c".into(),
                    problem: "connection refused".into(),
                }));
            }
            match token {
                "good" => Ok(Some(Authenticated::new("webhook", crate::user::UserInfo::default()))),
                _ => Err(Rejection::Webhook(super::super::WebhookRejection::Unauthenticated {
                    cluster: "https://c".into(),
                    error: "revoked".into(),
                })),
            }
        }
    }

    #[test]
    fn stale_successes_answer_only_while_the_cluster_cannot_be_asked() {
        let up = Arc::new(std::sync::atomic::AtomicBool::new(true));
        let cache =
            TokenCache::new(Remote(up.clone()), Duration::seconds(10)).unwrap().serve_stale(Duration::minutes(5));
        cache.authenticate_token("good", None, now()).unwrap().unwrap();
        up.store(false, Ordering::SeqCst);
        // Expired, the cluster down: the stored success answers, up to its stale age.
        assert!(cache.authenticate_token("good", None, now() + Duration::seconds(60)).unwrap().is_some());
        assert_eq!(cache.stale_served(), 1);
        assert!(matches!(
            cache.authenticate_token("good", None, now() + Duration::minutes(5)),
            Err(Rejection::Webhook(super::super::WebhookRejection::Unavailable { .. }))
        ));
        // A token never seen: the cluster's unavailability is the answer.
        assert!(cache.authenticate_token("other", None, now()).is_err());
        // The cluster back and refusing: refused, whatever is stored.
        up.store(true, Ordering::SeqCst);
        assert!(matches!(
            cache.authenticate_token("revoked", None, now() + Duration::seconds(60)),
            Err(Rejection::Webhook(super::super::WebhookRejection::Unauthenticated { .. }))
        ));
        // Without serve_stale, nothing stale is ever served.
        let plain = TokenCache::new(Remote(up.clone()), Duration::seconds(10)).unwrap();
        plain.authenticate_token("good", None, now()).unwrap();
        up.store(false, Ordering::SeqCst);
        assert!(plain.authenticate_token("good", None, now() + Duration::seconds(11)).is_err());
    }

    #[test]
    fn silent_failures_are_kept_for_the_failure_ttl_errors_never() {
        // kube-apiserver's webhook cache: success and failure TTL 2m; an error is never kept.
        struct Judge(Arc<AtomicUsize>);
        impl TokenAuthenticator for Judge {
            fn name(&self) -> &'static str {
                "webhook"
            }
            fn authenticate_token(
                &self,
                token: &str,
                _audiences: Option<&[String]>,
                _now: OffsetDateTime,
            ) -> Result<Option<Authenticated>, Rejection> {
                self.0.fetch_add(1, Ordering::SeqCst);
                let unauthenticated = |error: &str| {
                    Err(Rejection::Webhook(super::super::WebhookRejection::Unauthenticated {
                        cluster: "https://c".into(),
                        error: error.into(),
                    }))
                };
                match token {
                    "silent" => unauthenticated(""),
                    "explained" => unauthenticated("revoked"),
                    _ => Err(Rejection::Webhook(super::super::WebhookRejection::TimedOut {
                        cluster: "https://c".into(),
                        timeout_seconds: 30,
                    })),
                }
            }
        }
        let calls = Arc::new(AtomicUsize::new(0));
        let ttl = Duration::minutes(2);
        let cache = TokenCache::new(Judge(calls.clone()), ttl).unwrap().cache_failures(ttl);
        for t in [0, 60, 119] {
            assert!(cache.authenticate_token("silent", None, now() + Duration::seconds(t)).is_err());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 1, "a silent failure is kept for the failure TTL");
        assert!(cache.authenticate_token("silent", None, now() + Duration::seconds(120)).is_err());
        assert_eq!(calls.load(Ordering::SeqCst), 2, "and asked again once it expires");
        for token in ["explained", "explained", "down", "down"] {
            assert!(cache.authenticate_token(token, None, now()).is_err());
        }
        assert_eq!(calls.load(Ordering::SeqCst), 6, "a failure with a reason, or an outage, is never kept");
        let plain = TokenCache::new(Judge(calls.clone()), ttl).unwrap();
        let _ = plain.authenticate_token("silent", None, now());
        let _ = plain.authenticate_token("silent", None, now());
        assert_eq!(calls.load(Ordering::SeqCst), 8, "without cache_failures nothing failed is kept");
    }
}
