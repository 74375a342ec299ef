//! `kauth token explain --authentication-config FILE`: a token from an external issuer judged
//! against an `AuthenticationConfiguration`, check by check, offline: the keys come from
//! `--jwks`/`--key` files (or `--jwks-url`), the same set for every issuer. The judging is the
//! library's (`kauth::authn::jwt::JwtIssuers::explain`); this file reads the files and words it.

use std::path::Path;
use std::sync::Arc;

use kauth::authn::jwt::{AuthenticationConfiguration, JwtIssuers, StaticKeys, ALL_ALGORITHMS};
use kauth::authn::Rejection;
use kauth::token::keys::KeySet;
use serde_json::json;
use time::OffsetDateTime;

use crate::args::{print_json, Output};
use crate::failure::Failure;

/// Explains `token` against the configuration in `config`; exit 0 accepted, 1 refused.
pub fn run(token: &str, config: &Path, keys: KeySet, now: OffsetDateTime, output: Output) -> Result<u8, Failure> {
    let data = std::fs::read(config).map_err(|e| Failure::bad_input(format!("reading {}: {e}", config.display())))?;
    let valid = AuthenticationConfiguration::load(&data, &config.display().to_string(), &[])
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let keys = Arc::new(StaticKeys(Arc::new(keys)));
    let issuers = JwtIssuers::from_config(&valid, &ALL_ALGORITHMS, |_| keys.clone());
    let e = issuers.explain(token, now).ok_or_else(|| {
        Failure::bad_input(
            "the token is not a JWT (three base64url segments with a JSON payload); no JWT issuer would look at it",
        )
    })?;
    let code = u8::from(e.verdict.is_err());
    let (kube, kauth) = match &e.verdict {
        Ok(_) => (None, None),
        Err(r) => {
            let r = Rejection::Jwt(r.clone());
            (Some(r.kubernetes_text().unwrap_or_else(|| "Unauthorized".into())), Some(r.to_string()))
        }
    };
    if output == Output::Json {
        let steps: Vec<_> =
            e.steps.iter().map(|s| json!({"check": s.check, "passed": true, "detail": s.detail})).collect();
        let user = e.verdict.as_ref().ok().map(|u| {
            let extra: serde_json::Map<String, serde_json::Value> =
                u.extra.iter().map(|(k, v)| (k.to_owned(), v.to_vec().into())).collect();
            json!({"username": u.name, "uid": u.uid, "groups": u.groups, "extra": extra})
        });
        print_json(&json!({
            "issuer": e.iss,
            "configuredIssuers": e.configured,
            "valid": e.verdict.is_ok(),
            "checks": steps,
            "failure": e.verdict.as_ref().err().map(|r| json!({"code": r.code(), "kubernetes": kube, "kauth": kauth})),
            "user": user,
        }))?;
        return Ok(code);
    }
    let mut out = String::new();
    out.push_str(&format!("Token: JWT from issuer {:?}\n", e.iss.as_deref().unwrap_or("")));
    out.push_str(&format!(
        "Configured issuers: {}\n",
        if e.configured.is_empty() { "none".into() } else { e.configured.join(", ") }
    ));
    out.push_str(&format!("Verdict: {}\n\nChecks:\n", if e.verdict.is_ok() { "VALID" } else { "INVALID" }));
    for s in &e.steps {
        out.push_str(&format!("  ok   {:<22} {}\n", s.check, s.detail));
    }
    match &e.verdict {
        Ok(u) => {
            out.push_str(&format!(
                "\nUser:\n  username: {}\n  uid:      {}\n  groups:   {:?}\n",
                u.name, u.uid, u.groups
            ));
            for (k, v) in u.extra.iter() {
                out.push_str(&format!("  extra:    {k}: {:?}\n", v.to_vec()));
            }
        }
        Err(r) => {
            out.push_str(&format!("  FAIL {:<22} {r}\n", r.code()));
            out.push_str(&format!("\nkube-apiserver would say: {}\n", kube.unwrap_or_default()));
            out.push_str(&format!("kauth: {}\n", kauth.unwrap_or_default()));
        }
    }
    out!("{out}");
    Ok(code)
}
