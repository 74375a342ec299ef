//! `AuthenticationConfiguration` (`apiserver.config.k8s.io/v1beta1` and `v1alpha1`, the same
//! shape in Kubernetes 1.32): the file `--authentication-config` names. These are the types as
//! written; `decode.rs` reads them strictly from YAML or JSON, `validation.rs` judges
//! them and compiles their CEL into a `ValidConfig`.
//!
//! Field for field as kube-apiserver's `k8s.io/apiserver/pkg/apis/apiserver/v1beta1/types.go`,
//! with the same JSON names. Kubernetes defaults nothing in this kind (its only defaulting
//! function is for the authorization webhook), so neither does kauth.

use serde::{Deserialize, Serialize};

/// The group of the kind.
pub const GROUP: &str = "apiserver.config.k8s.io";
/// The kind.
pub const KIND: &str = "AuthenticationConfiguration";
/// The versions kube-apiserver 1.32 reads the kind in.
pub const VERSIONS: [&str; 2] = ["v1beta1", "v1alpha1"];

/// The whole file.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthenticationConfiguration {
    /// `apiserver.config.k8s.io/v1beta1` or `.../v1alpha1`.
    #[serde(default)]
    pub api_version: String,
    /// `AuthenticationConfiguration`.
    #[serde(default)]
    pub kind: String,
    /// The JWT issuers (at most 64; none is fine: they may come with a reload).
    #[serde(default)]
    pub jwt: Vec<JwtAuthenticator>,
    /// Anonymous requests, and on which paths (replaces `--anonymous-auth`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anonymous: Option<AnonymousAuthConfig>,
}

/// `anonymous`: whether requests without a credential are served as `system:anonymous`, and
/// if conditions are given, only on those paths.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnonymousAuthConfig {
    /// Anonymous requests are allowed.
    #[serde(default)]
    pub enabled: bool,
    /// Only on these paths (exact match); none: on every path.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<AnonymousAuthCondition>,
}

/// One path anonymous requests are allowed on.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AnonymousAuthCondition {
    /// The request path (`/healthz`).
    #[serde(default)]
    pub path: String,
}

/// One JWT issuer and what its tokens mean.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct JwtAuthenticator {
    /// Who issues the tokens, and for whom.
    #[serde(default)]
    pub issuer: Issuer,
    /// Rules every token's claims must pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub claim_validation_rules: Vec<ClaimValidationRule>,
    /// How claims become the user.
    #[serde(default)]
    pub claim_mappings: ClaimMappings,
    /// Rules the resulting user must pass.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub user_validation_rules: Vec<UserValidationRule>,
}

/// The issuer: its URL (the tokens' `iss`), where its discovery document is, the CA to fetch it
/// with, and the audiences its tokens must carry.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Issuer {
    /// `https://...`: must equal the tokens' `iss`, and (without `discoveryURL`) is where
    /// `/.well-known/openid-configuration` is fetched from.
    #[serde(default)]
    pub url: String,
    /// Where to fetch the discovery document instead (a provider inside the cluster).
    #[serde(default, rename = "discoveryURL", skip_serializing_if = "Option::is_none")]
    pub discovery_url: Option<String>,
    /// PEM CA certificates to verify the issuer's serving certificate (else the system roots).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub certificate_authority: String,
    /// At least one of these must be among the token's `aud`.
    #[serde(default)]
    pub audiences: Vec<String>,
    /// `MatchAny` (the only policy; required with several audiences).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub audience_match_policy: String,
}

impl Issuer {
    /// `discoveryURL`, empty when unset (Kubernetes' internal type is a plain string).
    pub fn discovery_url(&self) -> &str {
        self.discovery_url.as_deref().unwrap_or("")
    }
}

/// A rule on the claims: a claim that must have a value, or a CEL expression that must be true.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimValidationRule {
    /// The claim (a top-level string claim).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub claim: String,
    /// Its required value (may be empty: then the claim must be present and empty).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub required_value: String,
    /// A CEL expression over `claims`, returning bool.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expression: String,
    /// What to say when the expression is false.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// How claims become the user's name, groups, uid and extra.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimMappings {
    /// The user name (required).
    #[serde(default)]
    pub username: PrefixedClaimOrExpression,
    /// The groups.
    #[serde(default)]
    pub groups: PrefixedClaimOrExpression,
    /// The uid.
    #[serde(default)]
    pub uid: ClaimOrExpression,
    /// Extra attributes.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub extra: Vec<ExtraMapping>,
}

/// A claim with a prefix, or a CEL expression.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PrefixedClaimOrExpression {
    /// The claim.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub claim: String,
    /// Prepended to the claim's value; required with `claim` (may be `""`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prefix: Option<String>,
    /// A CEL expression over `claims`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expression: String,
}

/// A claim, or a CEL expression.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ClaimOrExpression {
    /// The claim.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub claim: String,
    /// A CEL expression over `claims`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub expression: String,
}

/// One extra attribute: a domain-prefixed lowercase key and a CEL expression for its values.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExtraMapping {
    /// The key (`example.com/tenant`).
    #[serde(default)]
    pub key: String,
    /// A CEL expression over `claims` returning a string or a list of strings.
    #[serde(default)]
    pub value_expression: String,
}

/// A rule the mapped user must pass.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserValidationRule {
    /// A CEL expression over `user`, returning bool.
    #[serde(default)]
    pub expression: String,
    /// What to say when it is false.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}
