//! Bootstrap tokens (`--enable-bootstrap-token-auth`): `<id>.<secret>` tokens that kubeadm
//! creates for nodes to join, kept as Secrets `kube-system/bootstrap-token-<id>` of type
//! `bootstrap.kubernetes.io/token`.
//!
//! As kube-apiserver: the token must match `[a-z0-9]{6}\.[a-z0-9]{16}`; the Secret must exist,
//! not be being deleted, have the type, a `token-secret` equal to the token's (compared in
//! constant time), a `token-id` equal to its id, an `expiration` (RFC 3339) not passed (one that
//! does not parse counts as passed), and `usage-bootstrap-authentication: "true"`; its
//! `auth-extra-groups` (comma-separated) must each match
//! `system:bootstrappers:[a-z0-9:-]{0,255}[a-z0-9]`. The user is `system:bootstrap:<id>`, its
//! groups `system:bootstrappers` and the extra groups, sorted and without repeats.
//!
//! kube-apiserver treats every failure as "not my token" and only logs it at a verbose level;
//! kauth says which check failed ([`BootstrapTokenRejection`]), without the secret.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::Secret;
use time::format_description::well_known::Rfc3339;
use time::OffsetDateTime;

use super::{Authenticated, Rejection, TokenAuthenticator};

pub mod kubeadm;
pub mod signature;
use crate::user::UserInfo;

/// The authenticator's name.
pub const NAME: &str = "bootstrap-token";
/// The Secrets' namespace.
pub const NAMESPACE: &str = "kube-system";
/// The Secrets' name prefix.
pub const SECRET_PREFIX: &str = "bootstrap-token-";
/// The Secrets' type.
pub const SECRET_TYPE: &str = "bootstrap.kubernetes.io/token";
/// The user name prefix.
pub const USER_PREFIX: &str = "system:bootstrap:";
/// The group every bootstrap token's user is in.
pub const DEFAULT_GROUP: &str = "system:bootstrappers";
/// Data keys of the Secret.
pub mod keys {
    /// The token's id.
    pub const TOKEN_ID: &str = "token-id";
    /// The token's secret.
    pub const TOKEN_SECRET: &str = "token-secret";
    /// When it expires (RFC 3339).
    pub const EXPIRATION: &str = "expiration";
    /// `"true"`: it may authenticate.
    pub const USAGE_AUTHENTICATION: &str = "usage-bootstrap-authentication";
    /// `"true"`: the bootstrap signer signs `cluster-info` with it.
    pub const USAGE_SIGNING: &str = "usage-bootstrap-signing";
    /// Extra groups, comma-separated.
    pub const EXTRA_GROUPS: &str = "auth-extra-groups";
    /// A description.
    pub const DESCRIPTION: &str = "description";
}

/// A bootstrap token split into its id and secret, if it has the form `[a-z0-9]{6}.[a-z0-9]{16}`.
pub fn parse(token: &str) -> Option<(&str, &str)> {
    let (id, secret) = token.split_once('.')?;
    let ok = |s: &str, n: usize| s.len() == n && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit());
    (ok(id, 6) && ok(secret, 16)).then_some((id, secret))
}

/// Whether `group` may be an extra group of a bootstrap token.
pub fn valid_extra_group(group: &str) -> bool {
    let Some(rest) = group.strip_prefix("system:bootstrappers:") else { return false };
    let allowed = |b: u8| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b':' || b == b'-';
    let Some(last) = rest.bytes().last() else { return false };
    rest.len() <= 256 && rest.bytes().all(allowed) && (last.is_ascii_lowercase() || last.is_ascii_digit())
}

/// A bootstrap token Secret as the authenticator reads it.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct BootstrapSecret {
    /// Its type.
    pub type_: String,
    /// Its data, as text.
    pub data: BTreeMap<String, String>,
    /// It has a deletionTimestamp.
    pub deleting: bool,
}

impl std::fmt::Debug for BootstrapSecret {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the token's secret.
        f.debug_struct("BootstrapSecret")
            .field("type_", &self.type_)
            .field("keys", &self.data.keys().collect::<Vec<_>>())
            .field("deleting", &self.deleting)
            .finish()
    }
}

impl BootstrapSecret {
    /// Reads a Secret (its `data`; values that are not UTF-8 are read as empty).
    pub fn of(secret: &Secret) -> Self {
        let data = secret
            .data
            .iter()
            .flatten()
            .map(|(k, v)| (k.clone(), String::from_utf8(v.0.clone()).unwrap_or_default()))
            .collect();
        BootstrapSecret {
            type_: secret.type_.clone().unwrap_or_default(),
            data,
            deleting: secret.metadata.deletion_timestamp.is_some(),
        }
    }

    fn get(&self, key: &str) -> &str {
        self.data.get(key).map_or("", String::as_str)
    }

    /// When it expires: `Ok(None)` without an expiration, `Err` with the text when it does not
    /// parse.
    pub fn expiration(&self) -> Result<Option<OffsetDateTime>, &str> {
        match self.get(keys::EXPIRATION) {
            "" => Ok(None),
            text => OffsetDateTime::parse(text, &Rfc3339).map(Some).map_err(|_| text),
        }
    }
}

/// Where the authenticator finds Secrets `kube-system/<name>`.
pub trait BootstrapSecrets: Send + Sync {
    /// The Secret named `name` in kube-system; `Err` when the store cannot say.
    fn bootstrap_secret(&self, name: &str) -> Result<Option<BootstrapSecret>, String>;
}

pub use super::rejection::BootstrapTokenRejection;

/// Authenticates bootstrap tokens against their Secrets.
#[derive(Debug)]
pub struct BootstrapTokenAuthenticator<S> {
    secrets: S,
}

impl<S: BootstrapSecrets> BootstrapTokenAuthenticator<S> {
    /// Reading Secrets from `secrets`.
    pub fn new(secrets: S) -> Self {
        BootstrapTokenAuthenticator { secrets }
    }

    /// Judges `token` at `now`: `Ok(None)` when it is not of the bootstrap form.
    pub fn judge(&self, token: &str, now: OffsetDateTime) -> Result<Option<UserInfo>, BootstrapTokenRejection> {
        let Some((id, token_secret)) = parse(token) else { return Ok(None) };
        let name = format!("{SECRET_PREFIX}{id}");
        let secret = format!("{NAMESPACE}/{name}");
        let s = match self.secrets.bootstrap_secret(&name) {
            Ok(Some(s)) => s,
            Ok(None) => return Err(BootstrapTokenRejection::SecretNotFound { secret }),
            Err(problem) => return Err(BootstrapTokenRejection::LookupFailed { secret, problem }),
        };
        if s.deleting {
            return Err(BootstrapTokenRejection::Deleting { secret });
        }
        if s.type_ != SECRET_TYPE || s.data.is_empty() {
            return Err(BootstrapTokenRejection::WrongType { secret, type_: s.type_ });
        }
        let stored = s.get(keys::TOKEN_SECRET).as_bytes();
        if aws_lc_rs::constant_time::verify_slices_are_equal(stored, token_secret.as_bytes()).is_err() {
            return Err(BootstrapTokenRejection::WrongSecret { secret });
        }
        if s.get(keys::TOKEN_ID) != id {
            return Err(BootstrapTokenRejection::WrongId { secret, token_id: s.get(keys::TOKEN_ID).to_owned() });
        }
        match s.expiration() {
            Ok(Some(exp)) if exp <= now => {
                return Err(BootstrapTokenRejection::Expired {
                    secret,
                    expiration: exp.unix_timestamp(),
                    now: now.unix_timestamp(),
                })
            }
            Ok(_) => {}
            Err(text) => return Err(BootstrapTokenRejection::UnreadableExpiration { secret, expiration: text.into() }),
        }
        if s.get(keys::USAGE_AUTHENTICATION) != "true" {
            return Err(BootstrapTokenRejection::NotForAuthentication { secret });
        }
        let mut groups = vec![DEFAULT_GROUP.to_owned()];
        let extra = s.get(keys::EXTRA_GROUPS);
        if !extra.is_empty() {
            for group in extra.split(',') {
                if !valid_extra_group(group) {
                    return Err(BootstrapTokenRejection::InvalidExtraGroup { secret, group: group.into() });
                }
                groups.push(group.to_owned());
            }
        }
        groups.sort();
        groups.dedup();
        Ok(Some(UserInfo { name: format!("{USER_PREFIX}{id}"), uid: String::new(), groups, extra: Default::default() }))
    }
}

impl<S: BootstrapSecrets> TokenAuthenticator for BootstrapTokenAuthenticator<S> {
    fn name(&self) -> &'static str {
        NAME
    }

    /// Bootstrap tokens are not audience-bound: any audience asked for is accepted, as in
    /// kube-apiserver (its bootstrap authenticator is not audience-aware).
    fn authenticate_token(
        &self,
        token: &str,
        _audiences: Option<&[String]>,
        now: OffsetDateTime,
    ) -> Result<Option<Authenticated>, Rejection> {
        match self.judge(token, now) {
            Ok(Some(user)) => Ok(Some(Authenticated::new(NAME, user))),
            Ok(None) => Ok(None),
            Err(r) => Err(Rejection::BootstrapToken(r)),
        }
    }
}

#[cfg(test)]
mod tests;
