//! The token check: a bearer token (the kubeconfig's, a `tokenFile`, or an exec plugin's)
//! decoded and explained by `kauth::token::explain` against what the server publishes: its
//! issuer (`/.well-known/openid-configuration`, also kube-apiserver's default API audience) and
//! its keys (`/openid/v1/jwks`). Extended 3607 s tokens, staleness and legacy tokens are told.

use kauth::token::explain::{explain, ExplainOptions, Explanation, Status};
use kauth::token::jwks::{parse_jwks, OpenIdConfiguration};
use kauth::token::keys::KeySet;
use kauth::token::validate::DEFAULT_LEEWAY_SECONDS;
use kauth::token::{span, utc};
use time::OffsetDateTime;

use super::finding::{Check, Report};
use super::identity::Identity;
use super::kubeconfig::TokenSource;
use crate::api_client::{ApiClient, Settings};
use crate::secret::Secret;

/// What the server publishes about the tokens it accepts.
#[derive(Debug, Default)]
pub struct Discovery {
    /// Its (first) issuer.
    pub issuer: Option<String>,
    /// Its verification keys.
    pub keys: Option<KeySet>,
    /// Why something could not be read.
    pub problems: Vec<String>,
}

fn get_json(api: &ApiClient, path: &str) -> Result<Vec<u8>, String> {
    let a = api.call(path, None)?;
    if (200..300).contains(&a.status) {
        Ok(a.body.into_bytes())
    } else {
        Err(format!("{path}: HTTP {}", a.status))
    }
}

/// Reads the issuer and keys with the credential, then, if refused, anonymously (a cluster
/// that publishes discovery binds system:service-account-issuer-discovery to
/// system:unauthenticated).
pub fn discover(api: &ApiClient, anonymous: Option<Settings>) -> Discovery {
    let mut d = Discovery::default();
    let anon = anonymous.and_then(|s| ApiClient::new("discovery", s).ok());
    let fetch = |path: &str| -> Result<Vec<u8>, String> {
        get_json(api, path).or_else(|first| match &anon {
            Some(a) => get_json(a, path).map_err(|second| format!("{first}; anonymously {second}")),
            None => Err(first),
        })
    };
    match fetch("/.well-known/openid-configuration") {
        Ok(body) => match serde_json::from_slice::<OpenIdConfiguration>(&body) {
            Ok(c) => d.issuer = Some(c.issuer),
            Err(e) => d.problems.push(format!("the discovery document: {e}")),
        },
        Err(e) => d.problems.push(e),
    }
    match fetch("/openid/v1/jwks") {
        Ok(body) => match parse_jwks("the server's JWKS", &body) {
            Ok(k) => d.keys = Some(k),
            Err(e) => d.problems.push(e.to_string()),
        },
        Err(e) => d.problems.push(e),
    }
    d
}

fn source(s: &TokenSource) -> String {
    match s {
        TokenSource::Inline => "the kubeconfig's token".into(),
        TokenSource::File(p) => format!("tokenFile {}", p.display()),
        TokenSource::ExecPlugin => "the exec plugin's ExecCredential".into(),
    }
}

/// Checks the token; returns true when it found an error that explains a refusal.
pub fn check(
    token: &Secret,
    from: &TokenSource,
    discovery: &Discovery,
    identity: &Identity,
    now: OffsetDateTime,
    report: &mut Report,
) -> bool {
    report.note(Check::Token, format!("bearer token: {} from {}", token.describe(), source(from)));
    let opts = ExplainOptions {
        keys: discovery.keys.clone(),
        issuers: discovery.issuer.iter().cloned().collect(),
        audiences: discovery.issuer.iter().cloned().collect(),
        now,
        leeway: DEFAULT_LEEWAY_SECONDS,
    };
    let e = match explain(token.expose(), &opts) {
        Ok(e) => e,
        Err(_) if !token.expose().starts_with("eyJ") => {
            report.note(Check::Token, "not a JWT (a static or bootstrap token): only the server can judge it");
            return false;
        }
        Err(r) => {
            report.error(
                Check::Token,
                format!("the token is not a readable JWT: {r}"),
                "copy the token again, whole (a JWT is three base64url parts joined by dots)",
            );
            return true;
        }
    };
    if !discovery.problems.is_empty() {
        report.note(
            Check::Token,
            format!("the server's issuer and keys were not read ({}): issuer, audience and signature not checked; a cluster publishes them by binding system:service-account-issuer-discovery to system:unauthenticated", discovery.problems.join("; ")),
        );
    }
    summary(&e, now, report);
    let accepted = matches!(identity, Identity::Authenticated { .. });
    let failed: Vec<_> = e.checks.iter().filter(|c| c.status == Status::Failed).collect();
    for (i, c) in failed.iter().enumerate() {
        if accepted {
            let why = match c.name {
                "issuer" | "audience" => "it accepts more issuers or audiences than its discovery document names",
                "not-before" | "issued-at" | "expiry" => "it judges on its own clock; a server or client on this machine's clock would not, see the clock check",
                _ => "it knows more than it publishes",
            };
            report.note(
                Check::Token,
                format!("the server accepts the credential, although {}: {} ({why})", c.name, c.detail),
            );
            continue;
        }
        let (cause, fix) = if i == 0 {
            (e.cause.clone().unwrap_or_else(|| c.detail.clone()), fix_for(c.code, e.fix.clone()))
        } else {
            (c.detail.clone(), fix_for(c.code, None))
        };
        report.error(Check::Token, cause, fix);
    }
    stale_or_legacy(&e, now, report);
    !failed.is_empty() && !accepted
}

/// Doctor's fix where it knows more than `explain` (which does not know a server is asked).
fn fix_for(code: Option<&str>, explained: Option<String>) -> String {
    match code {
        Some("token_unknown_kid") | Some("token_bad_signature") => "the token was signed by a key this server does not have: its service-account signing key was regenerated (seed 002), or the token comes from another cluster. Get a new token from this server (kubectl create token SA); tokens stored in Secrets must be re-created (delete the Secret) and pods restarted to mount them; to keep old tokens working during a key change, give the API server the old public key too (--service-account-key-file, repeatable)".into(),
        Some("token_audience_mismatch") => format!(
            "{}. The server's API audience is taken from its discovery issuer (kube-apiserver's default for --api-audiences)",
            explained.unwrap_or_else(|| "request a token for the server's audience (kubectl create token SA without --audience)".into())
        ),
        _ => explained.unwrap_or_else(|| "see kauth token explain for every check".into()),
    }
}

fn claim(e: &Explanation, name: &str) -> Option<i64> {
    e.decoded.claims.get(name).and_then(serde_json::Value::as_i64)
}

fn summary(e: &Explanation, now: OffsetDateTime, report: &mut Report) {
    let get = |k: &str| e.decoded.claims.get(k).map(|v| v.to_string()).unwrap_or_else(|| "none".into());
    let exp = claim(e, "exp").map_or("never expires".to_owned(), |x| {
        let d = x - now.unix_timestamp();
        if d >= 0 {
            format!("expires {} (in {})", utc(x), span(d))
        } else {
            format!("expired {} ({} ago)", utc(x), span(-d))
        }
    });
    report.note(
        Check::Token,
        format!(
            "{} token: sub {}, iss {}, aud {}, kid {}; {exp}",
            e.decoded.kind,
            get("sub"),
            get("iss"),
            get("aud"),
            e.decoded.header.kid.as_deref().unwrap_or("none")
        ),
    );
    for c in
        e.checks.iter().filter(|c| c.status == Status::Passed && matches!(c.name, "signature" | "issuer" | "audience"))
    {
        report.note(Check::Token, format!("{}: {}", c.name, c.detail));
    }
}

fn stale_or_legacy(e: &Explanation, now: OffsetDateTime, report: &mut Report) {
    let warnafter =
        e.decoded.claims.get("kubernetes.io").and_then(|k| k.get("warnafter")).and_then(serde_json::Value::as_i64);
    let (iat, exp) = (claim(e, "iat"), claim(e, "exp"));
    if let (Some(w), Some(iat), Some(exp)) = (warnafter, iat, exp) {
        let requested = w - iat;
        let stale = now.unix_timestamp() - w;
        if stale > 0 {
            report.warn(
                Check::Token,
                format!(
                    "extended token, stale for {}: it was requested for {requested} s (\"expires in an hour\") but kube-apiserver extended it to {} so clients that never re-read it keep working (seed 004); its warnafter {} has passed, so the server audits every use as authentication.k8s.io/stale-token, and it stops working when extension is turned off (--service-account-extend-token-expiration=false) or the bound pod goes",
                    span(stale),
                    span(exp - iat),
                    utc(w)
                ),
                "the client must re-read the token file the kubelet refreshes (client-go does every minute; a kubeconfig should use tokenFile: pointing at the projected file, not a copy of the token); find the stale users in the audit log by the stale-token annotation",
            );
        } else {
            report.note(
                Check::Token,
                format!(
                    "extended token: requested {requested} s, valid {} by extension; stale after {} (in {})",
                    span(exp - iat),
                    utc(w),
                    span(-stale)
                ),
            );
        }
    }
    if e.decoded.kind == "legacy" {
        report.warn(
            Check::Token,
            "a legacy service-account token (from a kubernetes.io/service-account-token Secret): it never expires and works as long as that Secret exists; Kubernetes 1.29+ marks unused ones invalid and deletes them",
            "use a TokenRequest token instead (kubectl create token SA --duration=...), or a projected token file",
        );
    }
}
