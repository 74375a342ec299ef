//! The `Authorization` header as kube-apiserver reads it: `Bearer <token>`, the scheme in any
//! case. A leaf: the request credentials (`Credentials`) and the bearer authenticator
//! (`bearer.rs`) both read headers through it.

use super::rejection::{Malformation, Rejection};

/// The bearer token of an `Authorization` header value, or what is wrong with it and where.
///
/// The scheme is matched without regard to case; surrounding whitespace is ignored; the token
/// is everything after the single space that follows the scheme and may not contain a space.
pub fn bearer_token(value: &[u8]) -> Result<&str, Rejection> {
    match plain_bearer(value) {
        Some(token) => Ok(token),
        None => read_bearer(value),
    }
}

/// The header as nearly every client sends it, read in one pass: `Bearer` in any case, one
/// space, and a token of visible ASCII (every JWT, bootstrap and static token is). `None` for
/// anything else, which [`read_bearer`] reads. The two agree on every value this accepts
/// (a property test holds them to it); this one does not search the token for a space
/// byte by byte and then check it for UTF-8 again, which cost 2,000 instructions for a
/// 1 KB service-account token on every request.
fn plain_bearer(value: &[u8]) -> Option<&str> {
    let (scheme, token) = value.split_at_checked(7)?;
    if !scheme.eq_ignore_ascii_case(b"bearer ") || !visible_ascii(token) {
        return None;
    }
    std::str::from_utf8(token).ok()
}

/// Whether every byte is visible ASCII (`!` to `~`), and there is at least one. An OR over
/// every byte, with no early exit, so that the compiler checks sixteen bytes per instruction.
fn visible_ascii(bytes: &[u8]) -> bool {
    let outside = bytes.iter().fold(0u8, |any, b| any | u8::from(b.wrapping_sub(b'!') > b'~' - b'!'));
    !bytes.is_empty() && outside == 0
}

/// Any header value, every refusal named with its position.
fn read_bearer(value: &[u8]) -> Result<&str, Rejection> {
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

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn the_plain_form_is_read_in_one_pass_and_anything_else_the_general_way() {
        assert_eq!(plain_bearer(b"Bearer abc.def-_~"), Some("abc.def-_~"));
        assert_eq!(plain_bearer(b"bEaReR x"), Some("x"));
        for other in [
            &b"Bearer "[..],
            b"Bearer",
            b" Bearer abc",
            b"Bearer abc ",
            b"Bearer a b",
            b"Bearer  abc",
            b"Bearer\tabc",
            b"Bearer ab\tc",
            b"Bearer ab\x7fc",
            b"Bearer \xc3\xa9",
            b"Basic abc",
            b"Bearerabc",
        ] {
            assert_eq!(plain_bearer(other), None, "{:?}", String::from_utf8_lossy(other));
        }
        assert_eq!(bearer_token(b"Bearer \xc3\xa9"), Ok("\u{e9}"), "a UTF-8 token is read the general way");
        let long = format!("Bearer {}", "a".repeat(1000) + "!");
        assert_eq!(bearer_token(long.as_bytes()), Ok(&long[7..]));
        let spaced = format!("Bearer {} x", "a".repeat(100));
        assert!(matches!(read_bearer(spaced.as_bytes()), Err(Rejection::Malformed { position: 107, .. })));
        assert_eq!(bearer_token(spaced.as_bytes()), read_bearer(spaced.as_bytes()));
    }

    /// Header values near the plain form: a scheme in some case, spaces and tabs, and token
    /// bytes that are mostly visible ASCII, sometimes not.
    fn near_plain() -> impl Strategy<Value = Vec<u8>> {
        let scheme =
            prop_oneof![Just(b"Bearer".to_vec()), Just(b"bEARER".to_vec()), Just(b"Basic".to_vec()), Just(Vec::new())];
        let gap = prop_oneof![Just(b" ".to_vec()), Just(b"  ".to_vec()), Just(b"\t".to_vec()), Just(Vec::new())];
        let byte = prop_oneof![8 => b'!'..=b'~', 1 => Just(b' '), 1 => any::<u8>()];
        (gap.clone(), scheme, gap.clone(), proptest::collection::vec(byte, 0..200), gap)
            .prop_map(|(a, s, b, t, c)| [a, s, b, t, c].concat())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(4000))]

        #[test]
        fn reads_every_value_as_the_general_reading_does(value in prop_oneof![near_plain(), any::<Vec<u8>>()]) {
            prop_assert_eq!(bearer_token(&value), read_bearer(&value));
            if let Some(token) = plain_bearer(&value) {
                prop_assert_eq!(read_bearer(&value), Ok(token));
            }
        }
    }
}
