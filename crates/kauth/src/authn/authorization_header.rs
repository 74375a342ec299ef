//! The `Authorization` header as kube-apiserver reads it: `Bearer <token>`, the scheme in any
//! case. A leaf: the request credentials (`Credentials`) and the bearer authenticator
//! (`bearer.rs`) both read headers through it.

use super::rejection::{Malformation, Rejection};

/// The bearer token of an `Authorization` header value, or what is wrong with it and where.
///
/// The scheme is matched without regard to case; surrounding whitespace is ignored; the token
/// is everything after the single space that follows the scheme and may not contain a space.
pub fn bearer_token(value: &[u8]) -> Result<&str, Rejection> {
    let malformed = |what, position| Rejection::Malformed { what, position };
    let s = std::str::from_utf8(value).map_err(|e| malformed(Malformation::NotUtf8, e.valid_up_to()))?;
    let start = s.len() - s.trim_start().len();
    let s = s.trim();
    let (scheme, rest) = s.split_once(' ').unwrap_or((s, ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(malformed(Malformation::NotBearer, start));
    }
    let token_start = start + scheme.len() + 1;
    if rest.is_empty() || rest.starts_with(' ') {
        return Err(malformed(Malformation::EmptyToken, token_start.min(start + s.len())));
    }
    if let Some(space) = rest.find(' ') {
        return Err(malformed(Malformation::SpaceInToken, token_start + space));
    }
    Ok(rest)
}

/// Whether a header `bearer_token` refused with `r` still presents a bearer credential: not when
/// its scheme is another or its token is empty (kube-apiserver ignores those headers).
pub fn presents_bearer(r: &Rejection) -> bool {
    !matches!(r, Rejection::Malformed { what: Malformation::NotBearer | Malformation::EmptyToken, .. })
}
