//! The legacy `--oidc-*` flags as one JWT issuer, exactly as kube-apiserver 1.32 turns them into
//! a `JWTAuthenticator` (`pkg/kubeapiserver/options/authentication.go`): username claim `sub`
//! by default; without `--oidc-username-prefix`, a claim other than `email` is prefixed with
//! `<issuer URL>#`; the prefix `-` means none; the groups claim with its prefix; each
//! `--oidc-required-claim` a claim validation rule; signing algorithms default to RS256.

use super::config::{
    AuthenticationConfiguration, ClaimMappings, ClaimValidationRule, Issuer, JwtAuthenticator,
    PrefixedClaimOrExpression,
};
use super::load::{ConfigError, ValidConfig};
use crate::token::keys::Algorithm;

/// The `--oidc-*` flags.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OidcFlags {
    /// `--oidc-issuer-url`.
    pub issuer_url: String,
    /// `--oidc-client-id`.
    pub client_id: String,
    /// `--oidc-ca-file`'s contents (PEM), if given.
    pub ca: Option<String>,
    /// `--oidc-username-claim` (default `sub`).
    pub username_claim: String,
    /// `--oidc-username-prefix` (default empty).
    pub username_prefix: String,
    /// `--oidc-groups-claim`.
    pub groups_claim: String,
    /// `--oidc-groups-prefix`.
    pub groups_prefix: String,
    /// `--oidc-signing-algs` (default RS256).
    pub signing_algs: Vec<String>,
    /// `--oidc-required-claim` key=value pairs, in order.
    pub required_claims: Vec<(String, String)>,
}

impl Default for OidcFlags {
    fn default() -> Self {
        OidcFlags {
            issuer_url: String::new(),
            client_id: String::new(),
            ca: None,
            username_claim: "sub".into(),
            username_prefix: String::new(),
            groups_claim: String::new(),
            groups_prefix: String::new(),
            signing_algs: vec!["RS256".into()],
            required_claims: Vec::new(),
        }
    }
}

/// Why the flags cannot make an issuer.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum OidcFlagsError {
    /// Some `--oidc-*` flag is set without both the issuer URL and the client id.
    #[error("oidc-issuer-url and oidc-client-id must be specified together when any oidc-* flags are set; kauth: set both --oidc-issuer-url and --oidc-client-id")]
    IncompleteIssuer,
    /// A signing algorithm kube-apiserver does not accept.
    #[error("oidc: unsupported signing alg: {0:?}; kauth: --oidc-signing-algs takes RS256, RS384, RS512, ES256, ES384, ES512, PS256, PS384, PS512")]
    UnsupportedAlgorithm(String),
    /// The issuer the flags make is invalid (an http URL, ...).
    #[error("{0}")]
    Invalid(ConfigError),
}

impl OidcFlags {
    /// Whether any flag differs from its default (kube-apiserver's `areFlagsConfigured`).
    pub fn any_set(&self) -> bool {
        *self != OidcFlags::default()
    }

    /// The `JWTAuthenticator` kube-apiserver makes of the flags.
    pub fn jwt_authenticator(&self) -> JwtAuthenticator {
        let mut prefix = self.username_prefix.clone();
        if prefix.is_empty() && self.username_claim != "email" {
            prefix = format!("{}#", self.issuer_url);
        }
        if prefix == "-" {
            prefix.clear();
        }
        let mut mappings = ClaimMappings {
            username: PrefixedClaimOrExpression {
                claim: self.username_claim.clone(),
                prefix: Some(prefix),
                expression: String::new(),
            },
            ..Default::default()
        };
        if !self.groups_claim.is_empty() {
            mappings.groups = PrefixedClaimOrExpression {
                claim: self.groups_claim.clone(),
                prefix: Some(self.groups_prefix.clone()),
                expression: String::new(),
            };
        }
        JwtAuthenticator {
            issuer: Issuer {
                url: self.issuer_url.clone(),
                audiences: vec![self.client_id.clone()],
                certificate_authority: self.ca.clone().unwrap_or_default(),
                ..Default::default()
            },
            claim_validation_rules: self
                .required_claims
                .iter()
                .map(|(claim, value)| ClaimValidationRule {
                    claim: claim.clone(),
                    required_value: value.clone(),
                    ..Default::default()
                })
                .collect(),
            claim_mappings: mappings,
            user_validation_rules: Vec::new(),
        }
    }

    /// The flags as a validated configuration of one issuer (none when no flag is set) and the
    /// algorithms it accepts. `disallowed_issuers` are the service-account issuers.
    pub fn to_config(
        &self,
        disallowed_issuers: &[String],
    ) -> Result<Option<(ValidConfig, Vec<Algorithm>)>, OidcFlagsError> {
        if !self.any_set() {
            return Ok(None);
        }
        if self.issuer_url.is_empty() || self.client_id.is_empty() {
            return Err(OidcFlagsError::IncompleteIssuer);
        }
        let algorithms = self
            .signing_algs
            .iter()
            .map(|a| Algorithm::from_name(a).ok_or_else(|| OidcFlagsError::UnsupportedAlgorithm(a.clone())))
            .collect::<Result<Vec<_>, _>>()?;
        let config = AuthenticationConfiguration { jwt: vec![self.jwt_authenticator()], ..Default::default() };
        let valid = AuthenticationConfiguration::validated(config, "--oidc-* flags", disallowed_issuers)
            .map_err(OidcFlagsError::Invalid)?;
        Ok(Some((valid, algorithms)))
    }
}
