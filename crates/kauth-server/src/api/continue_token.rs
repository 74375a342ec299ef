//! Continue tokens of paged lists, in kube-apiserver's format (`k8s.io/apiserver/pkg/storage`,
//! `continue.go`): unpadded URL-safe base64 of `{"v":"meta.k8s.io/v1","rv":N,"start":"<key>"}`,
//! where `start` is the first key of the next page relative to the list's key prefix and `rv`
//! the revision the list was read at (`-1`: continue at the latest revision).
//!
//! Clients treat tokens as opaque, but they come back from them, so decoding is strict the way
//! kube-apiserver's is, and a refusal says what kube-apiserver says.

use base64::alphabet::URL_SAFE;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig};
use base64::engine::DecodePaddingMode;
use base64::{DecodeError, Engine};
use serde::{Deserialize, Serialize};
use serde_json::Value;

/// The only token version there is.
const VERSION: &str = "meta.k8s.io/v1";

/// Go's `base64.RawURLEncoding`: no padding, and (unlike the `base64` crate's default) lenient
/// about unused trailing bits.
const RAW_URL: GeneralPurpose = GeneralPurpose::new(
    &URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

#[derive(Serialize)]
struct Wire<'a> {
    v: &'a str,
    rv: i64,
    start: &'a str,
}

/// As Go reads it: a missing or `null` field stays at its zero value.
#[derive(Deserialize, Default)]
#[serde(default)]
struct Read {
    v: Option<String>,
    rv: Option<i64>,
    start: Option<String>,
}

/// Why a continue token was refused. `Display` is kube-apiserver's text after
/// `invalid continue token: `.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ContinueError {
    /// Not unpadded URL-safe base64; `at` is the offending byte, as Go reports it.
    Base64 {
        /// The offset of the first byte that cannot be decoded.
        at: usize,
    },
    /// Not the token's JSON; `detail` is what Go's `encoding/json` would say.
    Json {
        /// Go's words for it.
        detail: String,
    },
    /// A version other than `meta.k8s.io/v1`.
    Version {
        /// The version the token names.
        version: String,
    },
    /// `rv` is zero.
    ZeroRevision,
    /// `start` is empty.
    EmptyStart,
    /// `start` is not a clean path (it would reach outside the list's prefix).
    UncleanStart {
        /// The key as the token has it.
        start: String,
    },
}

impl ContinueError {
    /// A short code for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ContinueError::Base64 { .. } => "continue_not_base64",
            ContinueError::Json { .. } => "continue_not_json",
            ContinueError::Version { .. } => "continue_unknown_version",
            ContinueError::ZeroRevision => "continue_zero_revision",
            ContinueError::EmptyStart => "continue_empty_start",
            ContinueError::UncleanStart { .. } => "continue_unclean_start",
        }
    }
}

impl std::fmt::Display for ContinueError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ContinueError::Base64 { at } => {
                write!(f, "continue key is not valid: illegal base64 data at input byte {at}")
            }
            ContinueError::Json { detail } => write!(f, "continue key is not valid: {detail}"),
            ContinueError::Version { version } => {
                write!(f, "continue key is not valid: server does not recognize this encoded version {version}")
            }
            ContinueError::ZeroRevision => {
                write!(f, "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)")
            }
            ContinueError::EmptyStart => {
                write!(f, "continue key is not valid: encoded start key empty (version meta.k8s.io/v1)")
            }
            ContinueError::UncleanStart { start } => write!(f, "continue key is not valid: {start}"),
        }
    }
}

impl std::error::Error for ContinueError {}

/// Where a continued list starts and at which revision.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Continue {
    /// The full storage key to start at (inclusive).
    pub key: String,
    /// The revision the first page was read at; negative: the latest.
    pub revision: i64,
}

/// The token for a list under `prefix`, read at `revision`, whose next page starts at `key`.
pub fn encode(key: &str, prefix: &str, revision: i64) -> String {
    let start = key.strip_prefix(prefix).unwrap_or(key);
    let wire = Wire { v: VERSION, rv: revision, start };
    // Serializing a struct of strings and an integer cannot fail.
    let json = serde_json::to_vec(&wire).unwrap_or_default();
    RAW_URL.encode(json)
}

/// Decodes `token` for a list under `prefix` (which ends in `/`).
pub fn decode(token: &str, prefix: &str) -> Result<Continue, ContinueError> {
    let bytes = RAW_URL.decode(token).map_err(|e| ContinueError::Base64 { at: base64_offset(token, &e) })?;
    let read: Option<Read> =
        serde_json::from_slice(&bytes).map_err(|e| ContinueError::Json { detail: go_json_error(&bytes, &e) })?;
    let read = read.unwrap_or_default();
    let (version, revision, start) = (read.v.unwrap_or_default(), read.rv.unwrap_or(0), read.start.unwrap_or_default());
    if version != VERSION {
        return Err(ContinueError::Version { version });
    }
    if revision == 0 {
        return Err(ContinueError::ZeroRevision);
    }
    if start.is_empty() {
        return Err(ContinueError::EmptyStart);
    }
    let rooted = if start.starts_with('/') { start.clone() } else { format!("/{start}") };
    if clean_path(&rooted) != rooted {
        return Err(ContinueError::UncleanStart { start });
    }
    Ok(Continue { key: format!("{prefix}{}", &rooted[1..]), revision })
}

/// The input offset Go's decoder reports for `e`.
fn base64_offset(token: &str, e: &DecodeError) -> usize {
    match e {
        DecodeError::InvalidByte(at, _) | DecodeError::InvalidLastSymbol(at, _) => *at,
        // A lone last character: Go reports where it is.
        DecodeError::InvalidLength(len) => len.saturating_sub(1),
        DecodeError::InvalidPadding => token.find('=').unwrap_or(token.len()),
    }
}

/// Go's `path.Clean` for a rooted path: no empty, `.` or `..` elements, no trailing slash.
fn clean_path(rooted: &str) -> String {
    let mut parts: Vec<&str> = Vec::new();
    for part in rooted.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            p => parts.push(p),
        }
    }
    format!("/{}", parts.join("/"))
}

/// What Go's `encoding/json` says when `bytes` do not unmarshal into the token's struct, for
/// the mistakes a client makes (not JSON at all, cut short, wrong types); serde's words
/// otherwise.
fn go_json_error(bytes: &[u8], e: &serde_json::Error) -> String {
    let first = bytes.iter().position(|b| !b" \t\r\n".contains(b));
    let Some(first) = first else { return "unexpected end of JSON input".into() };
    if e.is_eof() {
        return "unexpected end of JSON input".into();
    }
    let c = bytes[first];
    if !matches!(c, b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n') {
        return format!("invalid character {} looking for beginning of value", go_quote_char(c));
    }
    // Valid JSON of the wrong shape: name what Go would have found.
    if let Ok(v) = serde_json::from_slice::<Value>(bytes) {
        let kind = |v: &Value| match v {
            Value::Null => "null",
            Value::Bool(_) => "bool",
            Value::Number(_) => "number",
            Value::String(_) => "string",
            Value::Array(_) => "array",
            Value::Object(_) => "object",
        };
        match &v {
            Value::Object(m) => {
                for (field, want) in [("v", "string"), ("rv", "int64"), ("start", "string")] {
                    let Some(got) = m.get(field) else { continue };
                    let fits = match want {
                        "int64" => got.is_i64() || got.is_null(),
                        _ => got.is_string() || got.is_null(),
                    };
                    if !fits {
                        let got = if got.is_number() { format!("number {got}") } else { kind(got).to_owned() };
                        return format!(
                            "json: cannot unmarshal {got} into Go struct field continueToken.{field} of type {want}"
                        );
                    }
                }
            }
            other => {
                return format!("json: cannot unmarshal {} into Go value of type storage.continueToken", kind(other))
            }
        }
    }
    e.to_string()
}

/// Go's `quoteChar`: a byte as `encoding/json` quotes it in an error.
fn go_quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".into(),
        b'"' => "'\"'".into(),
        _ => {
            let s = format!("{:?}", char::from(c));
            let inner = &s[1..s.len() - 1];
            let inner = if c < 0x20 || c == 0x7f { format!("\\x{c:02x}") } else { inner.to_owned() };
            format!("'{inner}'")
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "/registry/serviceaccounts/";

    #[test]
    fn round_trips_kube_apiservers_tokens() {
        // A token kube-apiserver 1.32 issued for `GET /api/v1/serviceaccounts?limit=2`.
        let kube = "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MjA3LCJzdGFydCI6InAxL3NhLTJcdTAwMDAifQ";
        let c = decode(kube, PREFIX).unwrap();
        assert_eq!(c, Continue { key: format!("{PREFIX}p1/sa-2\0"), revision: 207 });
        assert_eq!(encode(&c.key, PREFIX, 207), kube);
        // Unused trailing bits are accepted, as Go does.
        let loose = "eyJ2IjoibWV0YS5rOHMuaW8vdjEiLCJydiI6MjA3LCJzdGFydCI6InAxL3NhLTJcdTAwMDAifR";
        assert_eq!(decode(loose, PREFIX).unwrap(), c);
        // A latest-revision token (what a 410 offers).
        assert_eq!(decode(&encode(&c.key, PREFIX, -1), PREFIX).unwrap().revision, -1);
    }

    fn b64(s: &str) -> String {
        RAW_URL.encode(s)
    }

    #[test]
    fn refuses_what_kube_apiserver_refuses_with_its_words() {
        let cases: &[(String, &str)] = &[
            ("abc$".into(), "continue key is not valid: illegal base64 data at input byte 3"),
            ("abc=".into(), "continue key is not valid: illegal base64 data at input byte 3"),
            ("abcde".into(), "continue key is not valid: illegal base64 data at input byte 4"),
            ("abc".into(), "continue key is not valid: invalid character 'i' looking for beginning of value"),
            (b64("xyz"), "continue key is not valid: invalid character 'x' looking for beginning of value"),
            ("eyJ2Ijo".into(), "continue key is not valid: unexpected end of JSON input"),
            (b64("[1]"), "continue key is not valid: json: cannot unmarshal array into Go value of type storage.continueToken"),
            (
                b64(r#"{"v":"meta.k8s.io/v1","rv":"5","start":"a"}"#),
                "continue key is not valid: json: cannot unmarshal string into Go struct field continueToken.rv of type int64",
            ),
            (
                b64(r#"{"v":"meta.k8s.io/v2","rv":5,"start":"a"}"#),
                "continue key is not valid: server does not recognize this encoded version meta.k8s.io/v2",
            ),
            (
                b64(r#"{"v":"meta.k8s.io/v1","rv":0,"start":"a"}"#),
                "continue key is not valid: incorrect encoded start resourceVersion (version meta.k8s.io/v1)",
            ),
            (
                b64(r#"{"v":"meta.k8s.io/v1","rv":5,"start":""}"#),
                "continue key is not valid: encoded start key empty (version meta.k8s.io/v1)",
            ),
            (b64(r#"{"v":"meta.k8s.io/v1","rv":5,"start":"../a"}"#), "continue key is not valid: ../a"),
        ];
        for (token, text) in cases {
            let e = decode(token, PREFIX).unwrap_err();
            assert_eq!(e.to_string(), *text, "{token}");
        }
        assert_eq!(decode("abc$", PREFIX).unwrap_err(), ContinueError::Base64 { at: 3 });
        assert_eq!(
            decode(&b64(r#"{"v":"meta.k8s.io/v1","rv":5,"start":"a//b"}"#), PREFIX).unwrap_err(),
            ContinueError::UncleanStart { start: "a//b".into() }
        );
    }

    #[test]
    fn a_start_key_never_leaves_the_prefix() {
        let c = decode(&b64(r#"{"v":"meta.k8s.io/v1","rv":5,"start":"/ns/a\u0000"}"#), PREFIX).unwrap();
        assert_eq!(c.key, format!("{PREFIX}ns/a\0"));
    }
}
