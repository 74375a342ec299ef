//! JWS compact serialization (RFC 7515): `BASE64URL(header).BASE64URL(payload).BASE64URL(sig)`.
//!
//! Parsing never verifies anything: it only splits, decodes and says precisely what is malformed.
//! Base64url is decoded without padding exactly as Go's `base64.RawURLEncoding` (go-jose's, so
//! kube-apiserver's) decodes it: padding is refused, non-zero trailing bits are accepted. The fast
//! path is SIMD (base64-simd), which refuses a superset of what Go refuses; anything it refuses is
//! decided again by a `base64` engine configured like Go, which also words the error.

use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, URL_SAFE_NO_PAD};
use base64::engine::DecodePaddingMode;
use base64::{alphabet, Engine};
use serde::{Deserialize, Serialize};

use super::Rejection;

/// Which part of a compact JWS.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Segment {
    /// The first part: the protected header.
    Header,
    /// The second part: the claims.
    Payload,
    /// The third part: the signature.
    Signature,
}

impl std::fmt::Display for Segment {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Segment::Header => "header (segment 1)",
            Segment::Payload => "payload (segment 2)",
            Segment::Signature => "signature (segment 3)",
        })
    }
}

/// The protected header fields kauth reads.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize, Serialize)]
pub struct Header {
    /// The signature algorithm (`RS256`, `ES256`, ...).
    pub alg: String,
    /// The key id, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kid: Option<String>,
    /// The media type, if any (`JWT` on old legacy tokens).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub typ: Option<String>,
    /// Whether the header has critical extensions (`crit`): kauth understands none, so a token
    /// with any is refused (RFC 7515 4.1.11).
    #[serde(default, skip_serializing, deserialize_with = "present")]
    pub crit: bool,
}

fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
    serde::de::IgnoredAny::deserialize(d).map(|_| true)
}

/// A split and decoded compact JWS.
#[derive(Debug, Clone)]
pub struct Jws<'a> {
    /// The decoded header.
    pub header: Header,
    /// The decoded payload bytes (the claims JSON).
    pub payload: Vec<u8>,
    /// `header.payload` as it appeared: the bytes the signature covers.
    pub signing_input: &'a [u8],
    /// The decoded signature.
    pub signature: Vec<u8>,
}

/// Longest token kauth will look at; a bigger one is refused before any decoding work.
pub const MAX_TOKEN_BYTES: usize = 64 * 1024;

/// Splits and decodes a compact JWS.
pub fn parse(token: &str) -> Result<Jws<'_>, Rejection> {
    let token = token.trim();
    if token.len() > MAX_TOKEN_BYTES {
        return Err(Rejection::Malformed {
            segment: None,
            problem: format!("token is {} bytes; at most {MAX_TOKEN_BYTES} are accepted", token.len()),
        });
    }
    if token.starts_with('{') {
        return Err(Rejection::Malformed {
            segment: None,
            problem: "JWS JSON serialization is not accepted; expected the compact form a.b.c".into(),
        });
    }
    let mut parts = token.split('.');
    let (Some(h), Some(p), Some(s), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        let n = token.split('.').count();
        return Err(Rejection::Malformed {
            segment: None,
            problem: format!("expected 3 dot-separated segments, found {n}"),
        });
    };
    let header_bytes = decode(Segment::Header, h)?;
    let header: Header = serde_json::from_slice(&header_bytes).map_err(|e| Rejection::Malformed {
        segment: Some(Segment::Header),
        problem: format!("not a JSON object with an \"alg\" string: {e}"),
    })?;
    let payload = decode(Segment::Payload, p)?;
    let signature = decode(Segment::Signature, s)?;
    let signing_input = &token.as_bytes()[..h.len() + 1 + p.len()];
    Ok(Jws { header, payload, signing_input, signature })
}

/// Go's `base64.RawURLEncoding`: URL alphabet, no padding, trailing bits not checked.
const GO_RAW_URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

fn decode(segment: Segment, text: &str) -> Result<Vec<u8>, Rejection> {
    if text.is_empty() && segment != Segment::Signature {
        return Err(Rejection::Malformed { segment: Some(segment), problem: "is empty".into() });
    }
    if let Ok(v) = base64_simd::URL_SAFE_NO_PAD.decode_to_vec(text) {
        return Ok(v);
    }
    GO_RAW_URL.decode(text).map_err(|e| Rejection::Malformed {
        segment: Some(segment),
        problem: format!("is not base64url without padding: {e}"),
    })
}

/// Encodes bytes as one segment.
pub fn encode(bytes: &[u8]) -> String {
    URL_SAFE_NO_PAD.encode(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg(problem: &Rejection) -> Option<Segment> {
        match problem {
            Rejection::Malformed { segment, .. } => *segment,
            _ => panic!("{problem:?}"),
        }
    }

    #[test]
    fn splits_and_decodes() {
        let t = format!("{}.{}.{}", encode(br#"{"alg":"RS256","kid":"k"}"#), encode(b"{}"), encode(b"sig"));
        let j = parse(&t).unwrap();
        assert_eq!(j.header.alg, "RS256");
        assert_eq!(j.header.kid.as_deref(), Some("k"));
        assert_eq!(j.payload, b"{}");
        assert_eq!(j.signature, b"sig");
        assert_eq!(j.signing_input, t.rsplit_once('.').unwrap().0.as_bytes());
    }

    #[test]
    fn names_the_bad_segment() {
        let h = encode(br#"{"alg":"RS256"}"#);
        assert_eq!(seg(&parse(&format!("{h}.e30.a+b")).unwrap_err()), Some(Segment::Signature));
        assert_eq!(seg(&parse(&format!("{h}.e30=.sig")).unwrap_err()), Some(Segment::Payload));
        assert_eq!(seg(&parse("eyJ.e30.sig").unwrap_err()), Some(Segment::Header));
        assert_eq!(seg(&parse(&format!("{}.e30.sig", encode(b"[1]"))).unwrap_err()), Some(Segment::Header));
        assert_eq!(seg(&parse("a.b").unwrap_err()), None);
        assert_eq!(seg(&parse("a.b.c.d").unwrap_err()), None);
        assert_eq!(seg(&parse(&format!("{h}..sig")).unwrap_err()), Some(Segment::Payload));
        // Like Go's RawURLEncoding: padding refused, non-zero trailing bits ("QR" for "A") accepted.
        assert_eq!(decode(Segment::Payload, "QR").unwrap(), b"A");
        assert_eq!(decode(Segment::Payload, "QQ").unwrap(), b"A");
        assert!(decode(Segment::Payload, "QQ==").is_err());
        assert!(decode(Segment::Payload, "Q").is_err());
        let big = "a".repeat(MAX_TOKEN_BYTES + 1);
        assert!(parse(&big).unwrap_err().to_string().contains("at most"));
    }
}
