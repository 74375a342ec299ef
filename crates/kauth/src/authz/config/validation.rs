//! kube-apiserver 1.32's validation of an `AuthorizationConfiguration`
//! (`ValidateAuthorizationConfiguration`, `ValidateWebhookConfiguration`, then
//! `LoadAndValidateData`'s name check), with its field errors, and the match conditions
//! compiled. A webhook's fields are reported under `authorizers[i].<field>`, without
//! `.webhook`, as kube-apiserver's validation names them.

use std::path::{Path, PathBuf};
use std::time::Duration;

use super::go_duration::{self, Nanos};
use super::{decode, AuthorizationConfiguration, MatchConditions, WebhookConfiguration};
use crate::authn::jwt::field_error::{aggregate, go_quote, FieldError};
use crate::cel::{compile, Returns, Variable};
use crate::pki::spec::is_dns1123_subdomain;

/// The types kube-apiserver knows (`modes.AuthorizationModeChoices`), sorted as its message lists them.
const KNOWN_TYPES: [&str; 6] = ["ABAC", "AlwaysAllow", "AlwaysDeny", "Node", "RBAC", "Webhook"];
/// At most this many match conditions per webhook.
const MAX_MATCH_CONDITIONS: usize = 64;
/// The longest webhook timeout kube-apiserver accepts.
const MAX_TIMEOUT_NANOS: Nanos = 30_000_000_000;

/// The SubjectAccessReview version a webhook is sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReviewVersion {
    /// `authorization.k8s.io/v1`.
    V1,
    /// `authorization.k8s.io/v1beta1`.
    V1beta1,
}

impl ReviewVersion {
    /// The `apiVersion` on the wire.
    pub fn api_version(self) -> &'static str {
        match self {
            ReviewVersion::V1 => "authorization.k8s.io/v1",
            ReviewVersion::V1beta1 => "authorization.k8s.io/v1beta1",
        }
    }
}

/// What a webhook that cannot be asked (or whose match conditions fail) decides.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FailurePolicy {
    /// The next authorizer decides.
    NoOpinion,
    /// The request is denied; the chain stops.
    Deny,
}

/// Where a webhook is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Connection {
    /// A kubeconfig file (absolute path) whose cluster `server` is the URL.
    KubeConfigFile(PathBuf),
    /// The API server of the cluster this runs in (its service account's token and CA).
    InClusterConfig,
}

/// One webhook, validated.
#[derive(Debug)]
pub struct ValidWebhook {
    /// Its name.
    pub name: String,
    /// Allowed answers are cached this long.
    pub authorized_ttl: Duration,
    /// Denied and no-opinion answers are cached this long.
    pub unauthorized_ttl: Duration,
    /// The longest a call may take.
    pub timeout: Duration,
    /// The review version sent.
    pub version: ReviewVersion,
    /// What failures decide.
    pub failure_policy: FailurePolicy,
    /// Where it is.
    pub connection: Connection,
    /// When it is asked.
    pub match_conditions: MatchConditions,
}

/// One authorizer of a valid chain.
#[derive(Debug)]
pub enum ValidAuthorizer {
    /// The Node authorizer.
    Node,
    /// RBAC.
    Rbac,
    /// Allows everything.
    AlwaysAllow,
    /// Denies everything.
    AlwaysDeny,
    /// A webhook.
    Webhook(ValidWebhook),
}

/// A configuration that can be built: its authorizers in order.
#[derive(Debug)]
pub struct ValidConfig {
    /// The chain.
    pub authorizers: Vec<ValidAuthorizer>,
}

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// Not an `AuthorizationConfiguration` (YAML/JSON, kind, unknown fields).
    Decode(String),
    /// Field errors, in kube-apiserver's order.
    Invalid(Vec<FieldError>),
    /// kube-apiserver's own checks after validation (`expected name node for authorizer Node instead of n`).
    Names(Vec<String>),
    /// A type kube-apiserver knows and kauth does not serve (`ABAC`).
    Unsupported(String),
}

impl ConfigError {
    /// kube-apiserver's text (kauth's reason after `; kauth: ` where kauth differs).
    pub fn kubernetes_text(&self) -> String {
        match self {
            ConfigError::Decode(e) => format!("failed to load AuthorizationConfiguration from file: {e}"),
            ConfigError::Invalid(errors) => aggregate(errors),
            ConfigError::Names(errors) => aggregate(errors),
            ConfigError::Unsupported(kind) => {
                format!("authorizer type {kind:?}; kauth: kauth serves Node, RBAC, Webhook, AlwaysAllow and AlwaysDeny")
            }
        }
    }

    /// A stable identifier for metrics and logs.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::Decode(_) => "authorization_config_undecodable",
            ConfigError::Invalid(_) => "authorization_config_invalid",
            ConfigError::Names(_) => "authorization_config_bad_name",
            ConfigError::Unsupported(_) => "authorization_config_unsupported_type",
        }
    }
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.kubernetes_text())
    }
}

/// Reads, validates and compiles a configuration file's bytes, as kube-apiserver's
/// `LoadAndValidateData`. `file_exists` answers for a kubeconfig path what `os.Stat` would
/// (`Err(text)` or whether it is a regular file), so tests need no files.
pub fn load(data: &[u8], file_exists: &dyn Fn(&Path) -> Result<bool, String>) -> Result<ValidConfig, ConfigError> {
    let config = decode(data).map_err(ConfigError::Decode)?;
    validate(&config, file_exists)
}

/// Validates a decoded configuration (also the one the legacy flags stand for).
pub fn validate(
    config: &AuthorizationConfiguration,
    file_exists: &dyn Fn(&Path) -> Result<bool, String>,
) -> Result<ValidConfig, ConfigError> {
    let mut errors = Vec::new();
    if config.authorizers.is_empty() {
        errors.push(FieldError::required("authorizers", "at least one authorization mode must be defined"));
    }
    let mut seen_types: Vec<&str> = Vec::new();
    let mut seen_names: Vec<&str> = Vec::new();
    let mut authorizers = Vec::new();
    for (i, a) in config.authorizers.iter().enumerate() {
        let path = format!("authorizers[{i}]");
        let kind = a.kind.as_str();
        if kind.is_empty() {
            errors.push(FieldError::required(format!("{path}.type"), ""));
            continue;
        }
        if !KNOWN_TYPES.contains(&kind) {
            errors.push(not_supported(format!("{path}.type"), &go_quote(kind), &KNOWN_TYPES));
            continue;
        }
        if seen_types.contains(&kind) && kind != "Webhook" {
            errors.push(FieldError::duplicate(format!("{path}.type"), kind));
            continue;
        }
        seen_types.push(kind);
        if a.name.is_empty() {
            errors.push(FieldError::required(format!("{path}.name"), ""));
        } else if seen_names.contains(&a.name.as_str()) {
            errors.push(FieldError::duplicate(format!("{path}.name"), &a.name));
        } else if !is_dns1123_subdomain(&a.name) {
            errors.push(FieldError::invalid(
                format!("{path}.name"),
                &a.name,
                format!("authorizer name is invalid: {}", dns1123_subdomain_errors(&a.name)),
            ));
        }
        seen_names.push(&a.name);
        match (kind, &a.webhook) {
            ("Webhook", None) => {
                errors.push(FieldError::required(format!("{path}.webhook"), "required when type=Webhook"))
            }
            ("Webhook", Some(w)) => {
                if let Some(webhook) = validate_webhook(&path, &a.name, w, file_exists, &mut errors) {
                    authorizers.push(ValidAuthorizer::Webhook(webhook));
                }
            }
            (_, Some(_)) => errors.push(FieldError::invalid(
                format!("{path}.webhook"),
                "non-null",
                "may only be specified when type=Webhook",
            )),
            (_, None) => {}
        }
        authorizers.push(match kind {
            "Node" => ValidAuthorizer::Node,
            "RBAC" => ValidAuthorizer::Rbac,
            "AlwaysAllow" => ValidAuthorizer::AlwaysAllow,
            "AlwaysDeny" => ValidAuthorizer::AlwaysDeny,
            _ => continue,
        });
    }
    if !errors.is_empty() {
        return Err(ConfigError::Invalid(errors));
    }
    // kube-apiserver's LoadAndValidateData: a non-webhook authorizer is named after its type.
    let names: Vec<String> = config
        .authorizers
        .iter()
        .filter(|a| a.kind != "Webhook" && a.name != a.kind.to_lowercase())
        .map(|a| format!("expected name {} for authorizer {} instead of {}", a.kind.to_lowercase(), a.kind, a.name))
        .collect();
    if !names.is_empty() {
        return Err(ConfigError::Names(names));
    }
    if config.authorizers.iter().any(|a| a.kind == "ABAC") {
        return Err(ConfigError::Unsupported("ABAC".into()));
    }
    Ok(ValidConfig { authorizers })
}

/// `Unsupported value: <v>: supported values: "a", "b"`, as Go's `field.NotSupported`.
fn not_supported(field: String, value: &str, supported: &[&str]) -> FieldError {
    let list: Vec<String> = supported.iter().map(|s| go_quote(s)).collect();
    let mut e = FieldError::invalid_raw(field, value.to_owned(), format!("supported values: {}", list.join(", ")));
    e.kind = crate::authn::jwt::field_error::FieldErrorKind::NotSupported;
    e
}

/// Go's `IsDNS1123Subdomain` messages.
fn dns1123_subdomain_errors(name: &str) -> String {
    let mut errs = Vec::new();
    if name.len() > 253 {
        errs.push("must be no more than 253 characters".to_owned());
    }
    errs.push("a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')".to_owned());
    errs.join(", ")
}

/// A Go duration field: `None` when absent or zero (Required), the nanos otherwise; a value Go
/// cannot parse is a decoding error in kube-apiserver, reported here on the field.
fn duration(
    path: &str,
    field: &str,
    value: &Option<String>,
    default: Option<Nanos>,
    errors: &mut Vec<FieldError>,
) -> Option<Nanos> {
    let nanos = match value.as_deref() {
        None | Some("") => default.unwrap_or(0),
        Some(text) => match go_duration::parse(text) {
            Ok(n) => n,
            Err(e) => {
                errors.push(FieldError::invalid(format!("{path}.{field}"), text, e));
                return None;
            }
        },
    };
    let nanos = if nanos == 0 { default.unwrap_or(0) } else { nanos };
    if nanos == 0 {
        errors.push(FieldError::required(format!("{path}.{field}"), ""));
        return None;
    }
    Some(nanos)
}

fn validate_webhook(
    path: &str,
    name: &str,
    w: &WebhookConfiguration,
    file_exists: &dyn Fn(&Path) -> Result<bool, String>,
    errors: &mut Vec<FieldError>,
) -> Option<ValidWebhook> {
    let before = errors.len();
    let timeout = duration(path, "timeout", &w.timeout, None, errors);
    if let Some(t) = timeout.filter(|t| *t > MAX_TIMEOUT_NANOS || *t < 0) {
        errors.push(FieldError::invalid(format!("{path}.timeout"), &go_duration::format(t), "must be > 0s and <= 30s"));
    }
    // v1beta1 and v1alpha1 default the TTLs (SetDefaults_WebhookConfiguration).
    let authorized = duration(path, "authorizedTTL", &w.authorized_ttl, Some(300_000_000_000), errors);
    if let Some(t) = authorized.filter(|t| *t < 0) {
        errors.push(FieldError::invalid(format!("{path}.authorizedTTL"), &go_duration::format(t), "must be > 0s"));
    }
    let unauthorized = duration(path, "unauthorizedTTL", &w.unauthorized_ttl, Some(30_000_000_000), errors);
    if let Some(t) = unauthorized.filter(|t| *t < 0) {
        errors.push(FieldError::invalid(format!("{path}.unauthorizedTTL"), &go_duration::format(t), "must be > 0s"));
    }
    let version = match w.subject_access_review_version.as_str() {
        "" => {
            errors.push(FieldError::required(format!("{path}.subjectAccessReviewVersion"), ""));
            None
        }
        "v1" => Some(ReviewVersion::V1),
        "v1beta1" => Some(ReviewVersion::V1beta1),
        other => {
            errors.push(not_supported(
                format!("{path}.subjectAccessReviewVersion"),
                &go_quote(other),
                &["v1", "v1beta1"],
            ));
            None
        }
    };
    match w.match_condition_subject_access_review_version.as_str() {
        "" if !w.match_conditions.is_empty() => errors.push(FieldError::required(
            format!("{path}.matchConditionSubjectAccessReviewVersion"),
            "required if match conditions are specified",
        )),
        "" | "v1" => {}
        other => errors.push(not_supported(
            format!("{path}.matchConditionSubjectAccessReviewVersion"),
            &go_quote(other),
            &["v1"],
        )),
    }
    let failure_policy = match w.failure_policy.as_str() {
        "" => {
            errors.push(FieldError::required(format!("{path}.failurePolicy"), ""));
            None
        }
        "NoOpinion" => Some(FailurePolicy::NoOpinion),
        "Deny" => Some(FailurePolicy::Deny),
        other => {
            errors.push(not_supported(format!("{path}.failurePolicy"), &go_quote(other), &["NoOpinion", "Deny"]));
            None
        }
    };
    let file = w.connection_info.kube_config_file.as_deref();
    let connection = match w.connection_info.kind.as_str() {
        "" => {
            errors.push(FieldError::required(format!("{path}.connectionInfo.type"), ""));
            None
        }
        "InClusterConfig" => {
            if let Some(f) = file {
                errors.push(FieldError::invalid(
                    format!("{path}.connectionInfo.kubeConfigFile"),
                    f,
                    "can only be set when type=KubeConfigFile",
                ));
            }
            Some(Connection::InClusterConfig)
        }
        "KubeConfigFile" => match file {
            None | Some("") => {
                errors.push(FieldError::required(format!("{path}.connectionInfo.kubeConfigFile"), ""));
                None
            }
            Some(f) if !Path::new(f).is_absolute() => {
                errors.push(FieldError::invalid(
                    format!("{path}.connectionInfo.kubeConfigFile"),
                    f,
                    "must be an absolute path",
                ));
                None
            }
            Some(f) => match file_exists(Path::new(f)) {
                Err(e) => {
                    errors.push(FieldError::invalid(
                        format!("{path}.connectionInfo.kubeConfigFile"),
                        f,
                        format!("error loading file: {e}"),
                    ));
                    None
                }
                Ok(false) => {
                    errors.push(FieldError::invalid(
                        format!("{path}.connectionInfo.kubeConfigFile"),
                        f,
                        "must be a regular file",
                    ));
                    None
                }
                Ok(true) => Some(Connection::KubeConfigFile(PathBuf::from(f))),
            },
        },
        other => {
            let printed = format!(
                "apiserver.WebhookConnectionInfo{{Type:{}, KubeConfigFile:(*string)({})}}",
                go_quote(other),
                if file.is_some() { "non-nil" } else { "nil" }
            );
            errors.push(not_supported(
                format!("{path}.connectionInfo.type"),
                &printed,
                &["InClusterConfig", "KubeConfigFile"],
            ));
            None
        }
    };
    let match_conditions = compile_match_conditions(path, w, errors);
    if errors.len() > before {
        return None;
    }
    let to_std = |n: Option<Nanos>| Duration::from_nanos(u64::try_from(n.unwrap_or(0)).unwrap_or(0));
    Some(ValidWebhook {
        name: name.to_owned(),
        authorized_ttl: to_std(authorized),
        unauthorized_ttl: to_std(unauthorized),
        timeout: to_std(timeout),
        version: version?,
        failure_policy: failure_policy?,
        connection: connection?,
        match_conditions,
    })
}

fn compile_match_conditions(path: &str, w: &WebhookConfiguration, errors: &mut Vec<FieldError>) -> MatchConditions {
    if w.match_conditions.len() > MAX_MATCH_CONDITIONS {
        errors.push(FieldError::too_many(
            format!("{path}.matchConditions"),
            w.match_conditions.len(),
            MAX_MATCH_CONDITIONS,
        ));
        return MatchConditions::default();
    }
    let mut seen: Vec<&str> = Vec::new();
    let mut compiled = Vec::new();
    for (i, condition) in w.match_conditions.iter().enumerate() {
        let field = format!("{path}.matchConditions[{i}].expression");
        let source = condition.expression.as_str();
        if source.trim().is_empty() {
            errors.push(FieldError::required(field, ""));
            continue;
        }
        if seen.contains(&source) {
            errors.push(FieldError::duplicate(field, source));
            continue;
        }
        seen.push(source);
        match compile(source, Variable::Request, Returns::Bool) {
            Ok(e) => compiled.push(e),
            Err(e) => errors.push(FieldError::invalid(field, source, e.detail)),
        }
    }
    MatchConditions::new(compiled)
}
