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
use std::borrow::Cow;
use std::mem::MaybeUninit;

use serde::{Deserialize, Serialize};

// The segment lives with the rejections that name it; `jws::Segment` stays its public path.
pub use super::rejection::Segment;
use super::Rejection;

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

/// The protected header, borrowing its strings from the decoded header bytes (or, for a header
/// a key set recognises, from the key set): the validator reads headers through this without
/// allocating. [`Header`] is its owned form.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct HeaderRef<'a> {
    /// The signature algorithm.
    #[serde(borrow)]
    pub alg: Cow<'a, str>,
    /// The key id, if any.
    #[serde(default, borrow, deserialize_with = "super::claims::borrowed_opt")]
    pub kid: Option<Cow<'a, str>>,
    /// The media type, if any.
    #[serde(default, borrow, deserialize_with = "super::claims::borrowed_opt")]
    pub typ: Option<Cow<'a, str>>,
    /// Whether the header has critical extensions (`crit`).
    #[serde(default, deserialize_with = "present")]
    pub crit: bool,
}

impl HeaderRef<'_> {
    /// The owned form.
    pub fn to_owned_header(&self) -> Header {
        Header {
            alg: self.alg.to_string(),
            kid: self.kid.as_deref().map(str::to_owned),
            typ: self.typ.as_deref().map(str::to_owned),
            crit: self.crit,
        }
    }
}

impl Header {
    /// A borrowed view.
    pub fn borrowed(&self) -> HeaderRef<'_> {
        HeaderRef {
            alg: Cow::Borrowed(&self.alg),
            kid: self.kid.as_deref().map(Cow::Borrowed),
            typ: self.typ.as_deref().map(Cow::Borrowed),
            crit: self.crit,
        }
    }
}

/// The header JSON kauth and kube-apiserver (go-jose) sign with: `{"alg":..,"kid":..}`.
pub fn header_json(alg: &str, kid: &str) -> Vec<u8> {
    #[derive(Serialize)]
    struct H<'a> {
        alg: &'a str,
        kid: &'a str,
    }
    // Serializing two strings to a Vec cannot fail.
    serde_json::to_vec(&H { alg, kid }).unwrap_or_default()
}

/// Parses decoded header bytes.
pub fn parse_header(bytes: &[u8]) -> Result<HeaderRef<'_>, Rejection> {
    serde_json::from_slice(bytes).map_err(|e| Rejection::Malformed {
        segment: Some(Segment::Header),
        problem: format!("not a JSON object with an \"alg\" string: {e}"),
    })
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

/// The three segments of a compact JWS, still base64url, and the bytes the signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Split<'t> {
    /// The header segment.
    pub header: &'t str,
    /// The payload segment.
    pub payload: &'t str,
    /// The signature segment.
    pub signature: &'t str,
    /// `header.payload`.
    pub signing_input: &'t [u8],
}

/// Splits a compact JWS (surrounding whitespace trimmed) into its segments, refusing an
/// oversized token, the JSON serialization and a wrong number of segments.
pub fn split(token: &str) -> Result<Split<'_>, Rejection> {
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
    // The dots are found with the SIMD `memchr` (a token is ~1 KiB; `str::split` scans it a
    // word at a time, which showed up as a tenth of the parse).
    let bytes = token.as_bytes();
    let mut dots = memchr::memchr_iter(b'.', bytes);
    let (Some(d1), Some(d2), None) = (dots.next(), dots.next(), dots.next()) else {
        let n = memchr::memchr_iter(b'.', bytes).count() + 1;
        return Err(Rejection::Malformed {
            segment: None,
            problem: format!("expected 3 dot-separated segments, found {n}"),
        });
    };
    Ok(Split {
        header: &token[..d1],
        payload: &token[d1 + 1..d2],
        signature: &token[d2 + 1..],
        signing_input: &bytes[..d2],
    })
}

/// Splits and decodes a compact JWS.
pub fn parse(token: &str) -> Result<Jws<'_>, Rejection> {
    let parts = split(token)?;
    let header_bytes = decode(Segment::Header, parts.header)?;
    let header = parse_header(&header_bytes)?.to_owned_header();
    let payload = decode(Segment::Payload, parts.payload)?;
    let signature = decode(Segment::Signature, parts.signature)?;
    Ok(Jws { header, payload, signing_input: parts.signing_input, signature })
}

/// Go's `base64.RawURLEncoding`: URL alphabet, no padding, trailing bits not checked.
const GO_RAW_URL: GeneralPurpose = GeneralPurpose::new(
    &alphabet::URL_SAFE,
    GeneralPurposeConfig::new()
        .with_encode_padding(false)
        .with_decode_padding_mode(DecodePaddingMode::RequireNone)
        .with_decode_allow_trailing_bits(true),
);

/// Decodes one segment into `buf` when it fits (the validator's buffers live on its stack, so a
/// token of usual size is decoded without allocating), else into a new vector.
pub fn decode_into<'b>(
    segment: Segment,
    text: &str,
    buf: &'b mut [MaybeUninit<u8>],
) -> Result<Cow<'b, [u8]>, Rejection> {
    let engine = base64_simd::URL_SAFE_NO_PAD;
    // `decode` needs room for the decoded length, checked first (it would panic otherwise).
    if !text.is_empty() && engine.decoded_length(text.as_bytes()).is_ok_and(|n| n <= buf.len()) {
        if let Ok(out) = engine.decode(text.as_bytes(), base64_simd::Out::from_uninit_slice(buf)) {
            return Ok(Cow::Borrowed(out));
        }
    }
    decode(segment, text).map(Cow::Owned)
}

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
    fn decodes_into_the_buffer_when_it_fits_and_on_the_heap_otherwise() {
        let mut small = [MaybeUninit::uninit(); 4];
        let got = decode_into(Segment::Payload, &encode(b"abcd"), &mut small).unwrap();
        assert!(matches!(got, Cow::Borrowed(b"abcd")));
        let got = decode_into(Segment::Payload, &encode(b"abcde"), &mut small).unwrap();
        assert!(matches!(&got, Cow::Owned(v) if v == b"abcde"));
        // What the buffer path refuses is decided (and worded) like `decode`, with Go's leniency.
        assert_eq!(decode_into(Segment::Payload, "QR", &mut small).unwrap().as_ref(), b"A");
        for bad in ["QQ==", "Q", "a+b", ""] {
            assert_eq!(decode_into(Segment::Payload, bad, &mut small), decode(Segment::Payload, bad).map(Cow::Owned));
        }
        assert_eq!(decode_into(Segment::Signature, "", &mut small).unwrap().as_ref(), b"");
    }

    #[test]
    fn splits_like_parse() {
        let t = format!(" {}.{}.{}\n", encode(br#"{"alg":"RS256"}"#), encode(b"{}"), encode(b"sig"));
        let s = split(&t).unwrap();
        assert_eq!(s.signing_input, t.trim().rsplit_once('.').unwrap().0.as_bytes());
        assert_eq!((s.payload, s.signature), ("e30", encode(b"sig").as_str()));
        assert!(split("a.b.c.d").unwrap_err().to_string().contains("found 4"));
        assert!(split("abc").unwrap_err().to_string().contains("found 1"));
        assert!(split(r#"{"payload":"x"}"#).unwrap_err().to_string().contains("JSON serialization"));
    }

    #[test]
    fn borrowed_and_owned_headers_agree() {
        let h = parse_header(br#"{"alg":"ES256","kid":"k","typ":"JWT","crit":["b64"],"x":1}"#).unwrap();
        assert!(matches!(h.alg, Cow::Borrowed("ES256")));
        let owned = h.to_owned_header();
        assert_eq!(owned.borrowed(), h);
        assert!(owned.crit);
        assert_eq!(header_json("RS256", "k"), br#"{"alg":"RS256","kid":"k"}"#);
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
