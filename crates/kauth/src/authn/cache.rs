//! Caches successful token authentications, as kube-apiserver does: keyed by an HMAC of the
//! audiences and the token (the token itself is never stored), successes kept for a TTL (10 s by
//! default), failures never cached. [`TokenCache::invalidate`] drops everything at once: the server
//! calls it when an object a cached token depends on changes (a service account, pod, node or
//! secret deleted or recreated), so a revoked token stops working at once, not after the TTL.

use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Mutex;

use aws_lc_rs::hmac;
use time::{Duration, OffsetDateTime};

use super::{Failure, Response, TokenAuthenticator};

/// kube-apiserver's success TTL for the token cache.
pub const DEFAULT_SUCCESS_TTL: Duration = Duration::seconds(10);
/// Entries kept at most; past it, expired entries are dropped, then the cache is cleared.
pub const MAX_ENTRIES: usize = 100_000;

struct Entry {
    expires: OffsetDateTime,
    generation: u64,
    response: Response,
}

/// A caching wrapper around a token authenticator.
pub struct TokenCache<A> {
    inner: A,
    key: hmac::Key,
    ttl: Duration,
    generation: AtomicU64,
    entries: Mutex<HashMap<[u8; 32], Entry>>,
    hits: AtomicU64,
    misses: AtomicU64,
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
            ttl,
            generation: AtomicU64::new(0),
            entries: Mutex::new(HashMap::new()),
            hits: AtomicU64::new(0),
            misses: AtomicU64::new(0),
        })
    }

    /// Forgets every cached success.
    pub fn invalidate(&self) {
        self.generation.fetch_add(1, Ordering::SeqCst);
    }

    /// (hits, misses) so far, for `authentication_token_cache_request_total`.
    pub fn stats(&self) -> (u64, u64) {
        (self.hits.load(Ordering::Relaxed), self.misses.load(Ordering::Relaxed))
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
    ) -> Result<Option<Response>, Failure> {
        let key = self.cache_key(token, audiences);
        let generation = self.generation.load(Ordering::SeqCst);
        if let Ok(entries) = self.entries.lock() {
            if let Some(e) = entries.get(&key).filter(|e| e.generation == generation && now < e.expires) {
                self.hits.fetch_add(1, Ordering::Relaxed);
                return Ok(Some(e.response.clone()));
            }
        }
        self.misses.fetch_add(1, Ordering::Relaxed);
        let result = self.inner.authenticate_token(token, audiences, now)?;
        if let (Some(response), Ok(mut entries)) = (&result, self.entries.lock()) {
            if entries.len() >= MAX_ENTRIES {
                entries.retain(|_, e| e.generation == generation && now < e.expires);
                if entries.len() >= MAX_ENTRIES {
                    entries.clear();
                }
            }
            entries.insert(key, Entry { expires: now + self.ttl, generation, response: response.clone() });
        }
        Ok(result)
    }
}
