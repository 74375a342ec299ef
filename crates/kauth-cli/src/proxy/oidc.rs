//! kube-rbac-proxy's `--oidc-*` flags: bearer tokens of one OpenID Connect issuer validated in
//! the proxy, with no TokenReview, as kube-rbac-proxy's `OIDCAuthenticator` does it (one
//! `JWTAuthenticator` of k8s.io/apiserver: the issuer URL, the client id as the one audience,
//! the username and groups claims with their prefixes exactly as given, the signing algorithms).
//! The validation is the library's (`kauth::authn::jwt`), the keys kauth serve's fetcher's
//! (`kauth_server::jwks`: discovery, JWKS over HTTPS with `--oidc-ca-file` or the host's roots,
//! refreshed on an unknown key id at most once per 10 s, the last good set kept when the issuer
//! is down).
//!
//! One difference, on purpose: kube-rbac-proxy with `--oidc-issuer` stops accepting anything
//! else; kauth proxy also keeps client certificates when `--client-ca-file` is given (the
//! operator asked for both), and `--local-authentication`'s service-account tokens when that is
//! given too. TokenReview is not used for tokens once an OIDC issuer is configured, as in
//! kube-rbac-proxy.

use std::path::PathBuf;
use std::sync::Arc;

use kauth::authn::jwt::config::{ClaimMappings, Issuer, JwtAuthenticator, PrefixedClaimOrExpression};
use kauth::authn::jwt::{AuthenticationConfiguration, JwtIssuers};
use kauth::token::keys::Algorithm;
use kauth_server::authentication_config::build;
use kauth_server::metrics::JwksMetrics;

use crate::failure::Failure;

/// kube-rbac-proxy's OIDC flags, with its defaults.
#[derive(Debug, Clone, clap::Args)]
pub struct OidcArgs {
    /// The URL of the OpenID issuer (https only); when set, bearer tokens are validated against
    /// its keys in the proxy instead of by TokenReview.
    #[arg(long = "oidc-issuer")]
    pub issuer: Option<String>,
    /// The client ID: the audience the tokens must name; required with --oidc-issuer.
    #[arg(long = "oidc-clientID", requires = "issuer")]
    pub client_id: Option<String>,
    /// The claim holding the groups.
    #[arg(long = "oidc-groups-claim", default_value = "groups")]
    pub groups_claim: String,
    /// The claim holding the user name.
    #[arg(long = "oidc-username-claim", default_value = "email")]
    pub username_claim: String,
    /// Prepended to the user name (none by default).
    #[arg(long = "oidc-username-prefix", default_value = "")]
    pub username_prefix: String,
    /// Prepended to each group (none by default).
    #[arg(long = "oidc-groups-prefix", default_value = "")]
    pub groups_prefix: String,
    /// An accepted signing algorithm; repeat for several.
    #[arg(long = "oidc-sign-alg", default_value = "RS256")]
    pub sign_alg: Vec<String>,
    /// CA certificates (PEM) to verify the issuer's serving certificate with, instead of the
    /// host's roots.
    #[arg(long = "oidc-ca-file")]
    pub ca_file: Option<PathBuf>,
}

/// The issuer the flags describe, its keys already being fetched; `None` without
/// `--oidc-issuer`. Fetch metrics go to `registry`.
pub fn authenticator(args: &OidcArgs, registry: &prometheus::Registry) -> Result<Option<Arc<JwtIssuers>>, Failure> {
    let Some(url) = &args.issuer else { return Ok(None) };
    let client_id =
        args.client_id.clone().ok_or_else(|| Failure::bad_input("--oidc-clientID must be set with --oidc-issuer"))?;
    let ca = match &args.ca_file {
        Some(p) => std::fs::read_to_string(p)
            .map_err(|e| Failure::bad_input(format!("--oidc-ca-file {}: {e}", p.display())))?,
        None => String::new(),
    };
    let algorithms = args
        .sign_alg
        .iter()
        .map(|a| {
            Algorithm::from_name(a)
                .ok_or_else(|| Failure::bad_input(format!("--oidc-sign-alg: unsupported signing algorithm {a:?}")))
        })
        .collect::<Result<Vec<_>, _>>()?;
    let prefixed = |claim: &str, prefix: &str| PrefixedClaimOrExpression {
        claim: claim.to_owned(),
        prefix: Some(prefix.to_owned()),
        expression: String::new(),
    };
    let issuer = JwtAuthenticator {
        issuer: Issuer {
            url: url.clone(),
            audiences: vec![client_id],
            certificate_authority: ca,
            ..Default::default()
        },
        claim_mappings: ClaimMappings {
            username: prefixed(&args.username_claim, &args.username_prefix),
            groups: prefixed(&args.groups_claim, &args.groups_prefix),
            ..Default::default()
        },
        ..Default::default()
    };
    let config = AuthenticationConfiguration { jwt: vec![issuer], ..Default::default() };
    let valid = AuthenticationConfiguration::validated(config, "the --oidc-* flags", &[])
        .map_err(|e| Failure::bad_input(e.to_string()))?;
    let metrics = JwksMetrics::register(registry).map_err(|e| Failure::bad_input(format!("metrics: {e}")))?;
    let context = build::Context {
        api_audiences: Vec::new(),
        service_account_issuers: Vec::new(),
        clock: Arc::new(time::OffsetDateTime::now_utc),
        metrics,
    };
    let (issuers, _keys) =
        build::issuers(&valid, &algorithms, &context).map_err(|e| Failure::bad_input(format!("--oidc-issuer: {e}")))?;
    Ok(Some(Arc::new(issuers)))
}
