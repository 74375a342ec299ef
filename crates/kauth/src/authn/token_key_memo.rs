//! One connection's memory of the cache key of the bearer token it presented last.
//!
//! The token cache (`TokenCache`, in `cache.rs`) keys its entries by an HMAC-SHA-256 of the
//! token, so that it never holds a token. For a service-account token (about 1 KiB) that HMAC is
//! the largest single cost of a cached request. Clients send the same token on every request of
//! a keep-alive connection, so the server gives each connection a `TokenKeyMemo`: the cache
//! computes the key once per connection and token, and the next request presenting the very same
//! bytes (compared in constant time) reuses it.
//!
//! Only the key is reused: the cache is still asked, so its TTL, its invalidations and its
//! counters work exactly as without the memo. The memo holds one token while its connection
//! lives (the client holds it too); the token is zeroed when replaced and when the connection
//! ends, and never appears in `Debug`. A key is reused only by the cache that computed it (each
//! cache has its own HMAC key and id).

use std::sync::Mutex;

use zeroize::Zeroizing;

/// A connection's last bearer token and its cache key (see the module's docs).
#[derive(Default)]
pub struct TokenKeyMemo {
    last: Mutex<Option<Remembered>>,
}

struct Remembered {
    /// The id of the cache that computed `key`.
    cache: u64,
    token: Zeroizing<Vec<u8>>,
    key: [u8; 32],
}

impl std::fmt::Debug for TokenKeyMemo {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let remembers = self.last.try_lock().map(|last| last.is_some()).unwrap_or(true);
        write!(f, "TokenKeyMemo({})", if remembers { "a token's key" } else { "empty" })
    }
}

impl TokenKeyMemo {
    /// An empty memo, for a new connection.
    pub fn new() -> Self {
        Self::default()
    }

    /// The key `cache` computed for `token` on this connection, if `token` is the one it
    /// remembers. Never waits: a memo in use by another request of the connection (h2)
    /// answers `None`, and the caller computes the key.
    pub(crate) fn key(&self, cache: u64, token: &[u8]) -> Option<[u8; 32]> {
        let last = self.last.try_lock().ok()?;
        let r = last.as_ref()?;
        let same = r.cache == cache
            && r.token.len() == token.len()
            && aws_lc_rs::constant_time::verify_slices_are_equal(&r.token, token).is_ok();
        same.then_some(r.key)
    }

    /// Remembers that `cache` keys `token` by `key`, in place of what was remembered (zeroed).
    pub(crate) fn remember(&self, cache: u64, token: &[u8], key: [u8; 32]) {
        let Ok(mut last) = self.last.try_lock() else { return };
        match last.as_mut() {
            Some(r) => {
                // Zeroed, then refilled in the same buffer.
                zeroize::Zeroize::zeroize(&mut *r.token);
                r.token.extend_from_slice(token);
                r.cache = cache;
                r.key = key;
            }
            None => *last = Some(Remembered { cache, token: Zeroizing::new(token.to_vec()), key }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn answers_only_for_the_same_token_and_cache() {
        let memo = TokenKeyMemo::new();
        assert_eq!(memo.key(1, b"token-a"), None, "an empty memo knows nothing");
        memo.remember(1, b"token-a", [7; 32]);
        assert_eq!(memo.key(1, b"token-a"), Some([7; 32]));
        assert_eq!(memo.key(2, b"token-a"), None, "another cache has another HMAC key");
        assert_eq!(memo.key(1, b"token-b"), None, "same length, other bytes");
        assert_eq!(memo.key(1, b"token-a2"), None, "a longer token");
        assert_eq!(memo.key(1, b"token-"), None, "a prefix");
        memo.remember(1, b"other", [9; 32]);
        assert_eq!(memo.key(1, b"token-a"), None, "replaced");
        assert_eq!(memo.key(1, b"other"), Some([9; 32]));
    }

    #[test]
    fn debug_never_shows_the_token() {
        let memo = TokenKeyMemo::new();
        assert_eq!(format!("{memo:?}"), "TokenKeyMemo(empty)");
        memo.remember(1, b"secret-token-text", [0; 32]);
        let shown = format!("{memo:?}");
        assert!(!shown.contains("secret"), "{shown}");
    }

    #[test]
    fn a_memo_in_use_answers_nothing_rather_than_waiting() {
        let memo = TokenKeyMemo::new();
        memo.remember(1, b"t", [1; 32]);
        let held = memo.last.lock().unwrap();
        assert_eq!(memo.key(1, b"t"), None);
        memo.remember(1, b"u", [2; 32]);
        drop(held);
        assert_eq!(memo.key(1, b"t"), Some([1; 32]), "a remember during use is skipped");
    }
}
