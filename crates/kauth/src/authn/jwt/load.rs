//! Loading an `AuthenticationConfiguration` file: decode strictly, validate, compile, in one
//! call, with kube-apiserver's error text first and kauth's after.

use std::fmt;
use std::sync::Arc;

use super::config::{AnonymousAuthConfig, AuthenticationConfiguration};
use super::decode::{decode, DecodeError};
use super::field_error::{aggregate, FieldError};
use super::validation::{validate, ValidIssuer};

/// A configuration that decoded and validated: its issuers with their CEL compiled.
#[derive(Debug, Clone)]
pub struct ValidConfig {
    /// The configuration as read.
    pub config: AuthenticationConfiguration,
    /// Its JWT issuers, in the file's order.
    pub issuers: Vec<Arc<ValidIssuer>>,
}

impl ValidConfig {
    /// The `anonymous` section, if the file has one.
    pub fn anonymous(&self) -> Option<&AnonymousAuthConfig> {
        self.config.anonymous.as_ref()
    }
}

/// Why a configuration cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConfigError {
    /// The file is not an `AuthenticationConfiguration` (YAML/JSON, kind, unknown fields, types).
    Decode {
        /// The file's name, for kauth's part of the message.
        source: String,
        /// What is wrong.
        error: DecodeError,
    },
    /// It is one, but invalid: every field error, in kube-apiserver's order.
    Invalid {
        /// The file's name.
        source: String,
        /// The field errors.
        errors: Vec<FieldError>,
    },
}

impl ConfigError {
    /// kube-apiserver's text for it (what it logs and fails to start with).
    pub fn kubernetes_text(&self) -> String {
        match self {
            ConfigError::Decode { error, .. } => error.message.clone(),
            ConfigError::Invalid { errors, .. } => aggregate(errors),
        }
    }

    /// A stable identifier for metrics.
    pub fn code(&self) -> &'static str {
        match self {
            ConfigError::Decode { .. } => "authentication_config_undecodable",
            ConfigError::Invalid { .. } => "authentication_config_invalid",
        }
    }
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let kube = self.kubernetes_text();
        match self {
            ConfigError::Decode { source, .. } => {
                write!(f, "{kube}; kauth: {source} is not an AuthenticationConfiguration kauth can read")
            }
            ConfigError::Invalid { source, errors } => {
                write!(f, "{kube}; kauth: {source} has {} invalid field(s)", errors.len())
            }
        }
    }
}

impl std::error::Error for ConfigError {}

impl AuthenticationConfiguration {
    /// Reads, validates and compiles `data` (the file named `source`), as kube-apiserver does at
    /// start and on reload. `disallowed_issuers` are the service-account issuers
    /// (`--service-account-issuer`): a JWT issuer may not reuse one.
    pub fn load(data: &[u8], source: &str, disallowed_issuers: &[String]) -> Result<ValidConfig, ConfigError> {
        let config = decode(data).map_err(|error| ConfigError::Decode { source: source.to_owned(), error })?;
        Self::validated(config, source, disallowed_issuers)
    }

    /// Validates and compiles a configuration already in hand (the legacy flags' issuer).
    pub fn validated(
        config: AuthenticationConfiguration,
        source: &str,
        disallowed_issuers: &[String],
    ) -> Result<ValidConfig, ConfigError> {
        let issuers = validate(&config, disallowed_issuers)
            .map_err(|errors| ConfigError::Invalid { source: source.to_owned(), errors })?;
        Ok(ValidConfig { config, issuers })
    }
}
