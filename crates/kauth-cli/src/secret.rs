//! A credential kauth holds (doctor's findings, the agent's tokens): never printed or logged whole.

use std::fmt;

/// A bearer token or private key text. `Debug` hides it; [`Secret::describe`] says what kind of
/// secret it is without showing any of it (a bootstrap token's public id excepted).
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    /// Wraps a secret, trimmed of surrounding white space (token files end in a newline).
    pub fn new(s: impl Into<String>) -> Self {
        Secret(s.into().trim().to_owned())
    }

    /// The secret itself, for the one place that sends it.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What it is, safe to print: `a JWT (812 characters)`, `bootstrap token abcdef.<secret>`.
    pub fn describe(&self) -> String {
        let t = &self.0;
        if t.split('.').count() == 3 && t.starts_with("eyJ") {
            return format!("a JWT ({} characters)", t.len());
        }
        if let Some((id, secret)) = t.split_once('.') {
            let lower_alnum =
                |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
            if lower_alnum(id, 6) && lower_alnum(secret, 16) {
                return format!("bootstrap token {id}.<secret>");
            }
        }
        format!("an opaque token ({} characters)", t.chars().count())
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn never_shows_the_secret() {
        let s = Secret::new("s3cr3t-static-token\n");
        assert_eq!(s.expose(), "s3cr3t-static-token");
        assert_eq!(format!("{s:?}"), "Secret(<redacted>)");
        assert_eq!(s.describe(), "an opaque token (19 characters)");
        assert_eq!(Secret::new("abcdef.0123456789abcdef").describe(), "bootstrap token abcdef.<secret>");
        assert_eq!(Secret::new("eyJhbGciOiJSUzI1NiJ9.eyJ9.c2ln").describe(), "a JWT (30 characters)");
    }
}
