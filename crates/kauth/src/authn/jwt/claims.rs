//! A JWT's payload as go-oidc reads it: the registered claims with their Go types checked
//! (`aud` a string or a list, `exp`/`iat`/`nbf` numbers), and the whole set kept as JSON for the
//! claim mappings and CEL.

use serde_json::{Map, Value};

/// The claims of a token, with the registered ones read.
#[derive(Debug, Clone)]
pub struct Claims {
    /// Every claim.
    pub all: Map<String, Value>,
    /// `iss`.
    pub iss: String,
    /// `aud`, a string read as a one-item list.
    pub aud: Vec<String>,
    /// `exp` (`None`: absent, which go-oidc reads as the zero time).
    pub exp: Option<i64>,
    /// `nbf`.
    pub nbf: Option<i64>,
}

fn go_json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Go's `json.Unmarshal` error for `v` into a Go value of type `go_type`.
pub fn go_type_error(v: &Value, go_type: &str) -> String {
    format!("json: cannot unmarshal {} into Go value of type {go_type}", go_json_type(v))
}

/// A JSON number as go-oidc's `jsonTime` reads it (an integer, or a float truncated).
fn unix(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| v.as_f64().map(|f| f as i64))
}

/// Parses the payload; `Err((kube text, kauth's problem))`.
pub fn parse(payload: &[u8]) -> Result<Claims, (String, String)> {
    let all: Map<String, Value> = serde_json::from_slice(payload).map_err(|e| {
        (format!("oidc: failed to unmarshal claims: {e}"), format!("the payload is not a JSON object: {e}"))
    })?;
    let field_error = |field: &str, v: &Value, go: &str| {
        (
            format!(
                "oidc: failed to unmarshal claims: json: cannot unmarshal {} into Go struct field idToken.{field} of type {go}",
                go_json_type(v)
            ),
            format!("claim {field:?} is a {}, not a {go}", go_json_type(v)),
        )
    };
    let string = |field: &str| -> Result<String, (String, String)> {
        match all.get(field) {
            None | Some(Value::Null) => Ok(String::new()),
            Some(Value::String(s)) => Ok(s.clone()),
            Some(v) => Err(field_error(field, v, "string")),
        }
    };
    let iss = string("iss")?;
    string("sub")?;
    string("nonce")?;
    string("at_hash")?;
    let aud = match all.get("aud") {
        None | Some(Value::Null) => Vec::new(),
        Some(Value::String(s)) => vec![s.clone()],
        Some(Value::Array(items)) => items
            .iter()
            .map(|i| match i {
                Value::String(s) => Ok(s.clone()),
                Value::Null => Ok(String::new()),
                v => Err(field_error("aud", v, "string")),
            })
            .collect::<Result<_, _>>()?,
        Some(v) => Err(field_error("aud", v, "oidc.audience"))?,
    };
    let time = |field: &str| -> Result<Option<i64>, (String, String)> {
        match all.get(field) {
            None | Some(Value::Null) => Ok(None),
            Some(v @ Value::Number(_)) => Ok(unix(v)),
            Some(v) => Err(field_error(field, v, "oidc.jsonTime")),
        }
    };
    let exp = time("exp")?;
    time("iat")?;
    let nbf = time("nbf")?;
    Ok(Claims { all, iss, aud, exp, nbf })
}

/// The token's `iss` without verifying anything, as kube-apiserver's `untrustedIssuer`: `None`
/// when the token is not a compact JWT with a JSON payload (then it is not an OIDC token at all).
/// `accounts.google.com` is read as `https://accounts.google.com`.
pub fn untrusted_issuer(token: &str) -> Option<String> {
    if token.trim_start().starts_with('{') {
        return None;
    }
    let mut parts = token.split('.');
    let (Some(_), Some(payload), Some(_), None) = (parts.next(), parts.next(), parts.next(), parts.next()) else {
        return None;
    };
    use base64::engine::{general_purpose::GeneralPurpose, DecodePaddingMode, GeneralPurposeConfig};
    use base64::{alphabet, Engine as _};
    // Go's `base64.RawURLEncoding`: no padding, trailing bits not checked.
    const GO_RAW_URL: GeneralPurpose = GeneralPurpose::new(
        &alphabet::URL_SAFE,
        GeneralPurposeConfig::new()
            .with_decode_padding_mode(DecodePaddingMode::RequireNone)
            .with_decode_allow_trailing_bits(true),
    );
    let bytes = GO_RAW_URL.decode(payload).ok()?;
    #[derive(serde::Deserialize)]
    struct Iss {
        #[serde(default)]
        iss: Option<Value>,
    }
    let claims: Iss = serde_json::from_slice(&bytes).ok()?;
    let iss = match claims.iss {
        None | Some(Value::Null) => String::new(),
        Some(Value::String(s)) => s,
        Some(_) => return None,
    };
    Some(if iss == "accounts.google.com" { "https://accounts.google.com".into() } else { iss })
}
