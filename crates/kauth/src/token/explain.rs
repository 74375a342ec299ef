//! `kauth token decode` and `explain`: what a token says, and why it is (not) accepted, in words.
//!
//! `explain` runs the validator's checks one by one (the same functions, not a copy of them) and
//! keeps going after a failure, so an operator sees every problem at once, a timeline of the
//! token's life around "now", and the cause and fix of the first failure.

use serde::Serialize;
use time::OffsetDateTime;

use super::claims::{Binding, Claims, ServiceAccountClaims, LEGACY_ISSUER};
use super::issue::{EXTENDED_EXPIRATION_SECONDS, WARN_ONLY_EXPIRATION_SECONDS};
use super::jws::Header;
use super::keys::KeySet;
use super::validate::{check_algorithm, check_audience, check_times, parse, verify_signature};
use super::{span, utc, Rejection};

/// What `explain` checks against. Anything not given is reported as "not checked".
#[derive(Debug, Clone)]
pub struct ExplainOptions {
    /// Verification keys; `None`: the signature is not checked.
    pub keys: Option<KeySet>,
    /// Accepted issuers; empty: not checked.
    pub issuers: Vec<String>,
    /// Accepted audiences; empty: not checked.
    pub audiences: Vec<String>,
    /// This machine's time (or the time to evaluate at).
    pub now: OffsetDateTime,
    /// The leeway in seconds (kube-apiserver: 60).
    pub leeway: i64,
}

/// A check's outcome.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// It passed.
    Passed,
    /// It failed.
    Failed,
    /// Passed, with a warning (a stale token).
    Warning,
    /// Not checked (no key given, offline).
    NotChecked,
}

/// One check.
#[derive(Debug, Clone, Serialize)]
pub struct Check {
    /// Its name.
    pub name: &'static str,
    /// Its outcome.
    pub status: Status,
    /// What was compared, or why not checked.
    pub detail: String,
    /// The rejection code, when failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code: Option<&'static str>,
}

/// A point on the token's timeline.
#[derive(Debug, Clone, Serialize)]
pub struct Moment {
    /// What happens then.
    pub label: String,
    /// Unix seconds.
    pub at: i64,
    /// RFC 3339 UTC.
    pub utc: String,
    /// Relative to now: `in 52m`, `3d ago`, `now`.
    pub relative: String,
}

/// What a token says, without judging it.
#[derive(Debug, Clone, Serialize)]
pub struct Decoded {
    /// The header.
    pub header: Header,
    /// The claims as they are in the token.
    pub claims: serde_json::Value,
    /// `bound`, `legacy` or `other`.
    pub kind: &'static str,
    /// iat, nbf, warnafter, exp and now, in order.
    pub timeline: Vec<Moment>,
    /// What is notable: an extended lifetime, a legacy token, the binding.
    pub notes: Vec<String>,
}

/// The verdict.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Verdict {
    /// Every check passed.
    Valid,
    /// No check failed, but some were not made (no key given, offline).
    NoProblemFound,
    /// A check failed.
    Invalid,
}

/// The full explanation.
#[derive(Debug, Clone, Serialize)]
pub struct Explanation {
    /// The verdict.
    pub verdict: Verdict,
    /// The token's content.
    #[serde(flatten)]
    pub decoded: Decoded,
    /// Each check.
    pub checks: Vec<Check>,
    /// The first failure, in plain words.
    pub cause: Option<String>,
    /// What to do about it.
    pub fix: Option<String>,
}

fn relative(at: i64, now: i64) -> String {
    match at - now {
        0 => "now".into(),
        d if d > 0 => format!("in {}", span(d)),
        d => format!("{} ago", span(-d)),
    }
}

/// Decodes a token without checking anything. Fails only when it is not a readable JWT.
pub fn decode(token: &str, now: OffsetDateTime) -> Result<Decoded, Rejection> {
    let parsed = parse(token)?;
    let claims_json: serde_json::Value = serde_json::from_slice(&parsed.jws.payload).unwrap_or(serde_json::Value::Null);
    let c = &parsed.claims;
    let now_s = now.unix_timestamp();
    let mut timeline = Vec::new();
    let mut moment =
        |label: String, at: i64| timeline.push(Moment { label, at, utc: utc(at), relative: relative(at, now_s) });
    if let Some(t) = c.iat {
        moment("issued (iat)".into(), t.0);
    }
    if let Some(t) = c.nbf {
        moment("valid from (nbf)".into(), t.0);
    }
    let warnafter = c.kubernetes.as_ref().and_then(|k| k.warnafter);
    if let Some(t) = warnafter {
        moment("stale after (warnafter)".into(), t.0);
    }
    if let Some(t) = c.exp {
        moment("expires (exp)".into(), t.0);
    }
    moment("now".into(), now_s);
    timeline.sort_by_key(|m| m.at);

    let mut notes = Vec::new();
    let kind = match c.service_account() {
        Ok(ServiceAccountClaims::Bound(k)) => {
            let bound = match k.binding() {
                Ok(Some(Binding::Pod { pod, node })) => format!(
                    "bound to pod {}/{} (uid {}){}",
                    k.namespace,
                    pod.name,
                    pod.uid,
                    node.map(|n| format!(" on node {} (uid {})", n.name, n.uid)).unwrap_or_default()
                ),
                Ok(Some(Binding::Secret(s))) => format!("bound to secret {}/{} (uid {})", k.namespace, s.name, s.uid),
                Ok(Some(Binding::Node(n))) => format!("bound to node {} (uid {})", n.name, n.uid),
                Ok(None) => "not bound to any object: valid until it expires".into(),
                Err(e) => e,
            };
            notes.push(format!(
                "service account {}/{} (uid {}), {bound}",
                k.namespace, k.serviceaccount.name, k.serviceaccount.uid
            ));
            if let (Some(w), Some(iat), Some(exp)) = (warnafter, c.iat, c.exp) {
                notes.push(format!(
                    "extended token: requested {} s, valid {} (exp), stale after warnafter ({}); kube-apiserver extends pod-bound {WARN_ONLY_EXPIRATION_SECONDS}-second tokens to a year so clients that never re-read the projected file keep working; the kubelet refreshes the file, clients must re-read it",
                    w.0 - iat.0,
                    span(exp.0 - iat.0),
                    utc(w.0)
                ));
            } else if let (Some(iat), Some(exp)) = (c.iat, c.exp) {
                if exp.0 - iat.0 == EXTENDED_EXPIRATION_SECONDS {
                    notes.push("lives a year without warnafter: issued with a one-year expiration".into());
                }
            }
            "bound"
        }
        Ok(ServiceAccountClaims::Legacy { namespace, name, secret, .. }) => {
            notes.push(format!(
                "legacy token of service account {namespace}/{name}, stored in secret {namespace}/{secret}: it never expires and stays valid while that Secret exists and holds it; prefer TokenRequest (kubectl create token)"
            ));
            "legacy"
        }
        Err(_) => "other",
    };
    Ok(Decoded { header: parsed.jws.header.clone(), claims: claims_json, kind, timeline, notes })
}

/// Explains a token. `Err` only when it is not a readable JWT at all.
pub fn explain(token: &str, opts: &ExplainOptions) -> Result<Explanation, Rejection> {
    let decoded = decode(token, opts.now)?;
    let parsed = parse(token)?;
    let c: &Claims<'_> = &parsed.claims;
    let mut report = Report::default();

    report.record("algorithm", check_algorithm(&parsed.jws.header.alg).map(|a| format!("{} is accepted", a.name())));
    match &opts.keys {
        Some(keys) => report
            .record("signature", verify_signature(&parsed.jws, keys).map(|kid| format!("verified with key {kid}"))),
        None => report.push(Check {
            name: "signature",
            status: Status::NotChecked,
            detail: "no key given (--key, --jwks or --jwks-url)".into(),
            code: None,
        }),
    }
    let iss = c.iss.as_deref().unwrap_or_default().to_owned();
    if opts.issuers.is_empty() {
        report.push(Check {
            name: "issuer",
            status: Status::NotChecked,
            detail: format!("iss is {iss:?}; no --issuer given"),
            code: None,
        });
    } else {
        let ok = opts.issuers.contains(&iss) || (iss == LEGACY_ISSUER && decoded.kind == "legacy");
        report.record(
            "issuer",
            if ok {
                Ok(format!("{iss:?} is accepted"))
            } else {
                Err(Rejection::WrongIssuer { got: iss, accepted: opts.issuers.clone() })
            },
        );
    }
    if opts.audiences.is_empty() {
        let auds: Vec<&str> = c.aud.as_ref().map(|a| a.iter().collect()).unwrap_or_default();
        report.push(Check {
            name: "audience",
            status: Status::NotChecked,
            detail: format!("aud is {auds:?}; no --audience given"),
            code: None,
        });
    } else {
        report.record(
            "audience",
            check_audience(c, None, &opts.audiences).map(|common| format!("in common: {common:?}")),
        );
    }
    // The three time checks separately, so each shows.
    let only = |field: &str| Claims {
        nbf: if field == "nbf" { c.nbf } else { None },
        exp: if field == "exp" { c.exp } else { None },
        iat: if field == "iat" { c.iat } else { None },
        ..Claims::default()
    };
    let now_s = opts.now.unix_timestamp();
    for (name, field, present, at) in [
        ("not-before", "nbf", c.nbf.is_some(), c.nbf.map(|d| d.0)),
        ("expiry", "exp", c.exp.is_some(), c.exp.map(|d| d.0)),
        ("issued-at", "iat", c.iat.is_some(), c.iat.map(|d| d.0)),
    ] {
        if !present {
            report.push(Check { name, status: Status::Passed, detail: format!("no {field} claim"), code: None });
            continue;
        }
        let at = at.unwrap_or_default();
        report.record(
            name,
            check_times(&only(field), opts.now, opts.leeway)
                .map(|()| format!("{field} {} ({}), leeway {}s", utc(at), relative(at, now_s), opts.leeway)),
        );
    }
    report.record(
        "claims",
        c.service_account()
            .map(|_| "service-account claims present".to_owned())
            .map_err(|claim| Rejection::MissingClaim { claim }),
    );
    if let Some(w) = c.kubernetes.as_ref().and_then(|k| k.warnafter).filter(|w| now_s > w.0) {
        report.push(Check {
            name: "staleness",
            status: Status::Warning,
            detail: format!("stale: used {} s after warnafter {}; kube-apiserver annotates the audit event authentication.k8s.io/stale-token", now_s - w.0, utc(w.0)),
            code: None,
        });
    }
    report.push(Check {
        name: "objects",
        status: Status::NotChecked,
        detail: "offline: the service account and bound objects are checked by the server (TokenReview, or kauth serve's logs)".into(),
        code: None,
    });

    let Report { checks, failures } = report;
    let (cause, fix) = match failures.first() {
        Some(r) => {
            let (cause, fix) = cause_and_fix(r, opts);
            (Some(cause), Some(fix))
        }
        None => (None, None),
    };
    let verdict = if !failures.is_empty() {
        Verdict::Invalid
    } else if checks.iter().any(|c| c.status == Status::NotChecked && c.name != "objects") {
        Verdict::NoProblemFound
    } else {
        Verdict::Valid
    };
    Ok(Explanation { verdict, decoded, checks, cause, fix })
}

#[derive(Default)]
struct Report {
    checks: Vec<Check>,
    failures: Vec<Rejection>,
}

impl Report {
    fn push(&mut self, check: Check) {
        self.checks.push(check);
    }

    fn record(&mut self, name: &'static str, result: Result<String, Rejection>) {
        match result {
            Ok(detail) => self.checks.push(Check { name, status: Status::Passed, detail, code: None }),
            Err(r) => {
                self.checks.push(Check { name, status: Status::Failed, detail: r.to_string(), code: Some(r.code()) });
                self.failures.push(r);
            }
        }
    }
}

fn cause_and_fix(r: &Rejection, opts: &ExplainOptions) -> (String, String) {
    match r {
        Rejection::NotYetValid { nbf, now, leeway } | Rejection::IssuedInTheFuture { iat: nbf, now, leeway } => (
            format!(
                "clock skew: the token starts at {}, {} after this machine's clock ({}); the server that issued it has a clock at least {} ahead of this one, more than the {leeway}s leeway. kube-apiserver reports only \"Token could not be validated\" / \"service account token is not valid yet\"",
                utc(*nbf),
                span(nbf - now),
                utc(*now),
                span(nbf - now)
            ),
            format!(
                "synchronize the clocks of every node running kube-apiserver and the kubelets (NTP/chrony: chronyc tracking, timedatectl); until then this token becomes acceptable {} from now",
                span(nbf - now - leeway)
            ),
        ),
        Rejection::Expired { exp, now, .. } => (
            format!("the token expired {} ago, at {}", span(now - exp), utc(*exp)),
            "request a new one (kubectl create token SA); a pod's projected token is refreshed by the kubelet, so a client must re-read the file rather than keep its first copy".into(),
        ),
        Rejection::BadSignature { .. } => (
            r.to_string(),
            "verify with the issuer's current keys (sa.pub, or its /openid/v1/jwks); if sa.key was replaced, give the apiserver the old public key too (--service-account-key-file, repeatable) until old tokens expire".into(),
        ),
        Rejection::UnknownKeyId { .. } => (
            r.to_string(),
            "the key that signed it is not among those given: fetch the issuer's JWKS (/openid/v1/jwks) or pass the right --key; a server rejecting it lacks that key in --service-account-key-file".into(),
        ),
        Rejection::NoKeys => (r.to_string(), "pass --key, --jwks or --jwks-url".into()),
        Rejection::WrongIssuer { got, .. } => (
            r.to_string(),
            format!("the validating kube-apiserver must list {got:?} in --service-account-issuer (repeatable; the first one issues)"),
        ),
        Rejection::NoAudienceInCommon { token, .. } => (
            r.to_string(),
            format!(
                "request the token for an accepted audience (kubectl create token SA --audience {}), or accept one of {token:?} (--api-audiences, or TokenReview spec.audiences)",
                opts.audiences.first().map(String::as_str).unwrap_or("AUDIENCE")
            ),
        ),
        Rejection::ForbiddenAlgorithm { .. } | Rejection::UnsupportedAlgorithm { .. } => {
            (r.to_string(), "service-account tokens are signed with RS256 or ES256/384/512: this token was not made by a Kubernetes issuer".into())
        }
        Rejection::MissingClaim { .. } => (r.to_string(), "this is not a Kubernetes service-account token".into()),
        other => (other.to_string(), "see the cause".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Seed 000's token, copied from the write-up.
    const SEED_000: &str = "eyJhbGciOiJSUzI1NiIsImtpZCI6ImhGdk15S3F6REdtUkdXMUprelhzRTF0RHJuT2kwdlhrQWktdnphclJSSG8ifQ.eyJhdWQiOlsiaHR0cHM6Ly9rdWJlcm5ldGVzLmRlZmF1bHQuc3ZjLmt1YmVybmV0ZXMiXSwiZXhwIjoxNzAxMDcyODQxLCJpYXQiOjE2Njk1MzY4NDEsImlzcyI6Imh0dHBzOi8va3ViZXJuZXRlcy5kZWZhdWx0LnN2Yy5rdWJlcm5ldGVzIiwia3ViZXJuZXRlcy5pbyI6eyJuYW1lc3BhY2UiOiJhcmdvLXJ1biIsInBvZCI6eyJuYW1lIjoianotMjAtNTY0My01NjQzLWltcG9ydC0zOTY2MDk2NDU0IiwidWlkIjoiOTM1NzY3M2UtNWNiMi00YjVkLTk1NDAtYTM4NDY1YTE5YWQ2In0sInNlcnZpY2VhY2NvdW50Ijp7Im5hbWUiOiJsb29mYWgiLCJ1aWQiOiI0ZTM1ZDIwZi01OGI3LTQxNWItOGZhMS01YTk5MjlkM2YyZWEifSwid2FybmFmdGVyIjoxNjY5NTQwNDQ4fSwibmJmIjoxNjY5NTM2ODQxLCJzdWIiOiJzeXN0ZW06c2VydmljZWFjY291bnQ6YXJnby1ydW46bG9vZmFoIn0.bfxySo3e2rT3mToSEmSN5Pmi4YI4X2kE4aXA_BVIPyrg8DKc9pDUFEo_kvS608pm0u5b7e7wG3A48upBUjtm2uAMwEYiDqSLning7kCdycXT1-_aXVQjeASio4dZL6w3ddi_JGyFoZA76e9cQVfaWB9PGenKlg2uJXe5xFNJA12EuCvXgTLC7rXrNZIPksI0ZR6bRBt2ENWf_aaYPLTE7H7g8TJlYfP__H5DBaBr6sRkO15q8mCKpEyIqCx-t9mf6pCWfJ3D2KOBMc01n8g55EUvlaPDFngn5eV3izfMxuJADB4QqrVt_-mIgpPbJr3j3H5wYHmzcCSvTVg_Cp32Zg";

    fn opts(now: i64) -> ExplainOptions {
        ExplainOptions {
            keys: None,
            issuers: vec![],
            audiences: vec![],
            now: OffsetDateTime::from_unix_timestamp(now).unwrap(),
            leeway: 60,
        }
    }

    #[test]
    fn seed_000_on_the_lagging_node_is_clock_skew() {
        // Node A's clock was 90 s behind node B's, which issued the token (iat = nbf = 1669536841).
        let e = explain(SEED_000, &opts(1_669_536_841 - 90)).unwrap();
        assert_eq!(e.verdict, Verdict::Invalid);
        let nbf = e.checks.iter().find(|c| c.name == "not-before").unwrap();
        assert_eq!(nbf.status, Status::Failed);
        assert_eq!(nbf.code, Some("token_not_yet_valid"));
        assert!(
            e.cause
                .as_deref()
                .unwrap()
                .starts_with("clock skew: the token starts at 2022-11-27T08:14:01Z, 1m30s after this machine's clock"),
            "{:?}",
            e.cause
        );
        assert!(e.fix.as_deref().unwrap().contains("becomes acceptable 30s from now"), "{:?}", e.fix);
        assert!(
            e.decoded.notes.iter().any(|n| n.starts_with("extended token: requested 3607 s, valid 365d (exp)")),
            "{:?}",
            e.decoded.notes
        );
        assert_eq!(e.checks.iter().find(|c| c.name == "signature").unwrap().status, Status::NotChecked);
    }

    #[test]
    fn seed_000_in_its_own_time_has_no_problem_found_but_is_unverified() {
        let e = explain(SEED_000, &opts(1_669_536_841 + 100)).unwrap();
        assert_eq!(e.verdict, Verdict::NoProblemFound);
        assert_eq!(e.cause, None);
        let labels: Vec<&str> = e.decoded.timeline.iter().map(|m| m.label.as_str()).collect();
        assert_eq!(labels, ["issued (iat)", "valid from (nbf)", "now", "stale after (warnafter)", "expires (exp)"]);
    }

    #[test]
    fn seed_000_today_is_expired_and_stale() {
        let e = explain(SEED_000, &opts(1_800_000_000)).unwrap();
        assert_eq!(e.verdict, Verdict::Invalid);
        assert!(e.cause.as_deref().unwrap().starts_with("the token expired "));
        assert!(e.checks.iter().any(|c| c.name == "staleness" && c.status == Status::Warning));
    }
}
