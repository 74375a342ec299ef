//! `AuthorizationConfiguration` (`apiserver.config.k8s.io` v1, v1beta1 and v1alpha1; KEP-3221),
//! the file `kube-apiserver --authorization-config` reads: an ordered chain of authorizers
//! (`Node`, `RBAC`, `Webhook`, `AlwaysAllow`, `AlwaysDeny`), each webhook with its connection,
//! timeout, review versions, caches, failure policy and CEL match conditions.
//!
//! The way in is [`load`]: decode strictly ([`decode`]), default (`authorizedTTL` 5m,
//! `unauthorizedTTL` 30s, as `SetDefaults_WebhookConfiguration`), validate with kube-apiserver
//! 1.32's field errors and compile the match conditions ([`validation`]), then kube-apiserver's
//! own check of the names of non-webhook authorizers. The result, [`ValidConfig`], is what the
//! server builds its chain from; the legacy flags become one too ([`from_modes`]).
//! `go_duration.rs` reads and prints Go durations; `match_conditions.rs` evaluates the CEL.

mod decode;
pub mod go_duration;
mod match_conditions;
pub mod validation;

use serde::Deserialize;

pub use decode::decode;
pub use match_conditions::{MatchConditions, MatchError};
pub use validation::{load, ConfigError, ValidAuthorizer, ValidConfig, ValidWebhook};

/// The API group of the kind.
pub const GROUP: &str = "apiserver.config.k8s.io";
/// The versions kube-apiserver 1.32's scheme knows the kind in.
pub const VERSIONS: [&str; 3] = ["v1", "v1beta1", "v1alpha1"];
/// The kind.
pub const KIND: &str = "AuthorizationConfiguration";

/// The document as written (after decoding, before defaults and validation).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizationConfiguration {
    /// The authorizers, in the order they are asked.
    #[serde(default)]
    pub authorizers: Vec<AuthorizerConfiguration>,
}

/// One authorizer of the chain.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AuthorizerConfiguration {
    /// `Node`, `RBAC`, `Webhook`, `AlwaysAllow`, `AlwaysDeny` (`ABAC` is known and refused by kauth).
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The name in metrics and logs; a non-webhook authorizer's must be its type in lowercase.
    #[serde(default)]
    pub name: String,
    /// Required exactly when the type is `Webhook`.
    #[serde(default)]
    pub webhook: Option<WebhookConfiguration>,
}

/// A webhook authorizer's settings, durations as written (Go durations).
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConfiguration {
    /// How long an allowed answer is cached (default 5m).
    #[serde(default, rename = "authorizedTTL")]
    pub authorized_ttl: Option<String>,
    /// How long a denied or no-opinion answer is cached (default 30s).
    #[serde(default, rename = "unauthorizedTTL")]
    pub unauthorized_ttl: Option<String>,
    /// The longest a call may take (required; at most 30s).
    #[serde(default)]
    pub timeout: Option<String>,
    /// `v1` or `v1beta1`: the SubjectAccessReview sent.
    #[serde(default)]
    pub subject_access_review_version: String,
    /// `v1`: the SubjectAccessReview the match conditions see (required with match conditions).
    #[serde(default)]
    pub match_condition_subject_access_review_version: String,
    /// `NoOpinion` or `Deny`: what a failed call (or a match condition's error) decides.
    #[serde(default)]
    pub failure_policy: String,
    /// Where the webhook is.
    #[serde(default)]
    pub connection_info: WebhookConnectionInfo,
    /// CEL conditions over `request`; the webhook is asked only when all are true.
    #[serde(default)]
    pub match_conditions: Vec<WebhookMatchCondition>,
}

/// Where a webhook is: `KubeConfigFile` (with its absolute path) or `InClusterConfig`.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookConnectionInfo {
    /// `KubeConfigFile` or `InClusterConfig`.
    #[serde(default, rename = "type")]
    pub kind: String,
    /// The kubeconfig's path, for `KubeConfigFile`.
    #[serde(default)]
    pub kube_config_file: Option<String>,
}

/// One match condition.
#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WebhookMatchCondition {
    /// A CEL expression over `request` returning bool.
    #[serde(default)]
    pub expression: String,
}

/// The legacy flags as kube-apiserver's `buildAuthorizationConfiguration` turns them into a
/// configuration: each mode an authorizer named after it in lowercase; `Webhook` named
/// `webhook`, with the flags' TTLs and version, a 30 s timeout and `NoOpinion`.
#[derive(Debug, Clone, PartialEq)]
pub struct LegacyWebhookFlags {
    /// `--authorization-webhook-config-file`.
    pub config_file: Option<String>,
    /// `--authorization-webhook-version` (default `v1beta1`).
    pub version: String,
    /// `--authorization-webhook-cache-authorized-ttl` (default 5m).
    pub authorized_ttl: std::time::Duration,
    /// `--authorization-webhook-cache-unauthorized-ttl` (default 30s).
    pub unauthorized_ttl: std::time::Duration,
}

/// The configuration `--authorization-mode` and the webhook flags stand for, or kube-apiserver's
/// error (`authorization-mode Webhook's authorization config file not passed`, ...).
pub fn from_modes(modes: &[String], webhook: &LegacyWebhookFlags) -> Result<AuthorizationConfiguration, String> {
    if modes.is_empty() {
        return Err("at least one authorization-mode must be passed".into());
    }
    for mode in modes {
        if !["AlwaysAllow", "AlwaysDeny", "ABAC", "Webhook", "RBAC", "Node"].contains(&mode.as_str()) {
            return Err(format!("authorization-mode {mode:?} is not a valid mode"));
        }
    }
    let has_webhook = modes.iter().any(|m| m == "Webhook");
    if has_webhook && webhook.config_file.as_deref().unwrap_or("").is_empty() {
        return Err("authorization-mode Webhook's authorization config file not passed".into());
    }
    if !has_webhook && webhook.config_file.is_some() {
        return Err("cannot specify --authorization-webhook-config-file without mode Webhook".into());
    }
    let mut seen = std::collections::HashSet::new();
    if !modes.iter().all(|m| seen.insert(m)) {
        let quoted: Vec<String> = modes.iter().map(|m| format!("{m:?}")).collect();
        return Err(format!("authorization-mode [{}] has mode specified more than once", quoted.join(" ")));
    }
    let go = |d: std::time::Duration| go_duration::format(i64::try_from(d.as_nanos()).unwrap_or(i64::MAX));
    let authorizers = modes
        .iter()
        .map(|mode| AuthorizerConfiguration {
            kind: mode.clone(),
            name: if mode == "Webhook" { "webhook".into() } else { mode.to_lowercase() },
            webhook: (mode == "Webhook").then(|| WebhookConfiguration {
                authorized_ttl: Some(go(webhook.authorized_ttl)),
                unauthorized_ttl: Some(go(webhook.unauthorized_ttl)),
                timeout: Some("30s".into()),
                subject_access_review_version: webhook.version.clone(),
                match_condition_subject_access_review_version: String::new(),
                failure_policy: "NoOpinion".into(),
                connection_info: WebhookConnectionInfo {
                    kind: "KubeConfigFile".into(),
                    kube_config_file: webhook.config_file.clone(),
                },
                match_conditions: Vec::new(),
            }),
        })
        .collect();
    Ok(AuthorizationConfiguration { authorizers })
}

#[cfg(test)]
mod tests;
