//! What the command line gave the page: token verification keys (files, a JWKS, a JWKS URL, the
//! connected server's), the accepted issuers and audiences, the leeway, the RBAC policy's
//! source, and a fixed time to evaluate at. Read once at start; the policy is read again on
//! each request, so edits to its files show.

use std::path::PathBuf;

use kauth::token::keys::KeySet;
use time::OffsetDateTime;

use crate::api_client::ApiClient;
use crate::args::{now_or, parse_duration, parse_time};
use crate::failure::Failure;
use crate::rbac_cmd::PolicySource;

/// The flags that say where keys, issuers and policy come from.
#[derive(Debug, clap::Args)]
pub struct SourceArgs {
    /// A kubeconfig whose server gives the token keys and issuer (its discovery and JWKS) and,
    /// without -f, the RBAC policy.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// RBAC policy: files or directories of YAML or JSON (read again on each request).
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    pub policy: Vec<PathBuf>,
    /// Token verification key files (public keys, certificates or private keys; repeatable).
    #[arg(long = "key", value_name = "FILE")]
    pub keys: Vec<PathBuf>,
    /// A JWKS document of token verification keys.
    #[arg(long, value_name = "FILE")]
    pub jwks: Option<PathBuf>,
    /// Fetch the token verification keys (a JWKS or an OIDC discovery document) over HTTPS at start.
    #[arg(long, value_name = "URL")]
    pub jwks_url: Option<String>,
    /// CA bundle to trust for --jwks-url (default: the public web roots).
    #[arg(long, value_name = "FILE")]
    pub certificate_authority: Option<PathBuf>,
    /// Accepted token issuers (repeatable; default: the server's, with --kubeconfig).
    #[arg(long = "issuer")]
    pub issuers: Vec<String>,
    /// Accepted token audiences (repeatable; default: the issuers).
    #[arg(long = "audience")]
    pub audiences: Vec<String>,
    /// The token time leeway, as kube-apiserver's 60s.
    #[arg(long, default_value = "60s", value_parser = parse_duration)]
    pub leeway: std::time::Duration,
    /// Evaluate as of this time instead of the clock (RFC 3339 or @unix), to replay a case.
    #[arg(long, visible_alias = "at", value_parser = parse_time)]
    pub now: Option<OffsetDateTime>,
}

/// The page's settings.
pub struct Sources {
    /// Verification keys, if any were given or found.
    pub keys: Option<KeySet>,
    /// Where the keys came from, in words.
    pub keys_from: Vec<String>,
    /// Accepted issuers (prefilled in the token form).
    pub issuers: Vec<String>,
    /// Accepted audiences (prefilled in the token form).
    pub audiences: Vec<String>,
    /// The leeway in seconds (prefilled).
    pub leeway: i64,
    /// Where the policy comes from; `None` without -f or --kubeconfig.
    pub policy: Option<PolicySource>,
    /// A fixed time to evaluate at instead of the clock.
    pub fixed_now: Option<OffsetDateTime>,
    /// What could not be read at start (shown on the page too).
    pub notes: Vec<String>,
}

impl Sources {
    /// Reads what the flags name. Unreadable files are errors; a server that does not publish
    /// its keys is a note.
    pub fn gather(a: &SourceArgs) -> Result<Self, Failure> {
        let mut keys = crate::token_cmd::load_keys(&a.keys)?;
        let mut keys_from: Vec<String> = a.keys.iter().map(|k| k.display().to_string()).collect();
        let mut issuers = a.issuers.clone();
        let mut notes = Vec::new();
        if let Some(p) = &a.jwks {
            for k in crate::token_cmd::read_jwks(p)?.keys() {
                keys.push(k.clone());
            }
            keys_from.push(p.display().to_string());
        }
        if let Some(url) = &a.jwks_url {
            for k in crate::token_cmd::fetch_jwks(url, a.certificate_authority.as_ref(), None)?.keys() {
                keys.push(k.clone());
            }
            keys_from.push(url.clone());
        }
        if let Some(path) = &a.kubeconfig {
            let api = ApiClient::from_kubeconfig(path)?;
            let d = crate::doctor::token::discover(&api, None);
            if let Some(k) = &d.keys {
                for key in k.keys() {
                    keys.push(key.clone());
                }
                keys_from.push(format!("the server {} (/openid/v1/jwks)", api.server()));
            }
            if issuers.is_empty() {
                issuers.extend(d.issuer.clone());
            }
            notes.extend(d.problems.iter().map(|p| format!("the server's token keys: {p}")));
        }
        let audiences = if a.audiences.is_empty() { issuers.clone() } else { a.audiences.clone() };
        let policy = if a.policy.is_empty() && a.kubeconfig.is_none() {
            None
        } else {
            Some(PolicySource::new(a.policy.clone(), a.kubeconfig.clone()))
        };
        Ok(Sources {
            keys: (!keys_from.is_empty()).then_some(keys),
            keys_from,
            issuers,
            audiences,
            leeway: i64::try_from(a.leeway.as_secs()).unwrap_or(60),
            policy,
            fixed_now: a.now,
            notes,
        })
    }

    /// The time to evaluate at: the fixed one, or the clock (read here, at the edge).
    pub fn now(&self) -> OffsetDateTime {
        now_or(self.fixed_now)
    }
}

#[cfg(test)]
impl Sources {
    /// Nothing given, evaluated at `now`.
    pub fn empty(now: i64) -> Self {
        Sources {
            keys: None,
            keys_from: vec![],
            issuers: vec![],
            audiences: vec![],
            leeway: 60,
            policy: None,
            fixed_now: OffsetDateTime::from_unix_timestamp(now).ok(),
            notes: vec![],
        }
    }
}
