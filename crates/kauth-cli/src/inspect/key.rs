//! The one-time key in the page's URL: 32 random bytes from aws-lc-rs, hex-encoded, made at
//! start and never stored. Every request must carry it as the path's first segment, so another
//! local user (or a web page in the operator's browser) that finds the port cannot read or post
//! to the page. Compared in constant time.

use std::fmt;

/// The URL key. `Debug` hides it; it is shown once, in the URL printed at start.
pub struct UrlKey(String);

impl UrlKey {
    /// A fresh random key.
    pub fn generate() -> Result<Self, String> {
        let mut bytes = [0u8; 32];
        aws_lc_rs::rand::fill(&mut bytes).map_err(|_| "the system's random generator failed".to_owned())?;
        Ok(UrlKey(bytes.iter().map(|b| format!("{b:02x}")).collect()))
    }

    /// The key as it appears in URLs.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `candidate` is the key, in time that does not depend on where they differ.
    pub fn matches(&self, candidate: &str) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(self.0.as_bytes(), candidate.as_bytes()).is_ok()
    }

    /// Splits a request path `/KEY/rest` into the rest (`/rest`, or `/` for `/KEY` and
    /// `/KEY/`) when its first segment is the key; `None` otherwise.
    pub fn strip<'p>(&self, path: &'p str) -> Option<&'p str> {
        let after = path.strip_prefix('/')?;
        let (first, rest) = match after.find('/') {
            Some(i) => after.split_at(i),
            None => (after, ""),
        };
        if !self.matches(first) {
            return None;
        }
        Some(if rest.is_empty() { "/" } else { rest })
    }
}

impl fmt::Debug for UrlKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("UrlKey(<redacted>)")
    }
}

#[cfg(test)]
impl UrlKey {
    /// A known key for tests.
    pub fn fixed(s: &str) -> Self {
        UrlKey(s.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_random_hex_and_hidden() {
        let (a, b) = (UrlKey::generate().unwrap(), UrlKey::generate().unwrap());
        assert_eq!(a.as_str().len(), 64);
        assert!(a.as_str().bytes().all(|c| c.is_ascii_hexdigit()));
        assert_ne!(a.as_str(), b.as_str());
        assert_eq!(format!("{a:?}"), "UrlKey(<redacted>)");
    }

    #[test]
    fn only_the_exact_first_segment_opens() {
        let k = UrlKey::fixed("abc123");
        assert_eq!(k.strip("/abc123"), Some("/"));
        assert_eq!(k.strip("/abc123/"), Some("/"));
        assert_eq!(k.strip("/abc123/token"), Some("/token"));
        assert_eq!(k.strip("/abc123/assets/inspect.js"), Some("/assets/inspect.js"));
        for bad in ["/", "", "/abc12", "/abc1234", "/ABC123/token", "/x/abc123/token", "abc123/token", "/token"] {
            assert_eq!(k.strip(bad), None, "{bad:?}");
        }
        assert!(k.matches("abc123"));
        assert!(!k.matches("abc12"));
        assert!(!k.matches(""));
    }
}
