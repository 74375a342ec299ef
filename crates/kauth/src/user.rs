//! The authenticated user, as Kubernetes' `user.Info` carries it.

use std::borrow::Cow;
use std::collections::BTreeMap;

use serde::Serialize;

/// Group every authenticated request gets (added by the authentication chain, not authenticators).
pub const AUTHENTICATED_GROUP: &str = "system:authenticated";
/// Group of every service account.
pub const SERVICE_ACCOUNTS_GROUP: &str = "system:serviceaccounts";
/// Extra key carrying the token's credential id (`JTI=<jti>`).
pub const EXTRA_CREDENTIAL_ID: &str = "authentication.kubernetes.io/credential-id";
/// Extra key: the bound pod's name.
pub const EXTRA_POD_NAME: &str = "authentication.kubernetes.io/pod-name";
/// Extra key: the bound pod's uid.
pub const EXTRA_POD_UID: &str = "authentication.kubernetes.io/pod-uid";
/// Extra key: the node's name (node-bound tokens, or pod-bound with node info).
pub const EXTRA_NODE_NAME: &str = "authentication.kubernetes.io/node-name";
/// Extra key: the node's uid.
pub const EXTRA_NODE_UID: &str = "authentication.kubernetes.io/node-uid";

/// A user: name, uid, groups and extra attributes, exactly as Kubernetes builds them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct UserInfo {
    /// The user name (`system:serviceaccount:<ns>:<name>` for service accounts).
    pub name: String,
    /// The uid (the service account's uid).
    pub uid: String,
    /// The groups, in Kubernetes' order.
    pub groups: Vec<String>,
    /// Extra attributes; keys sorted. Kubernetes' own keys are static strings (no allocation).
    pub extra: BTreeMap<Cow<'static, str>, Vec<String>>,
}

/// The prefix of every service account's user name.
pub const SERVICE_ACCOUNT_USER_PREFIX: &str = "system:serviceaccount:";

/// `system:serviceaccount:<namespace>:<name>`.
pub fn service_account_username(namespace: &str, name: &str) -> String {
    // Built with push_str: this runs for every service-account request, and `format!` costs more.
    const PREFIX: &str = SERVICE_ACCOUNT_USER_PREFIX;
    let mut s = String::with_capacity(PREFIX.len() + namespace.len() + 1 + name.len());
    s.push_str(PREFIX);
    s.push_str(namespace);
    s.push(':');
    s.push_str(name);
    s
}

/// Splits `system:serviceaccount:<ns>:<name>` into its namespace and name.
pub fn split_service_account_username(user: &str) -> Option<(&str, &str)> {
    let rest = user.strip_prefix(SERVICE_ACCOUNT_USER_PREFIX)?;
    let (ns, name) = rest.split_once(':')?;
    (!ns.is_empty() && !name.is_empty() && !name.contains(':')).then_some((ns, name))
}

/// `system:anonymous`.
pub const ANONYMOUS_USER: &str = "system:anonymous";
/// `system:unauthenticated`.
pub const UNAUTHENTICATED_GROUP: &str = "system:unauthenticated";

/// The groups an impersonated user ends up with, as kube-apiserver's impersonation filter
/// sets them: a service account named without groups gets its service-account groups;
/// anonymous gets `system:unauthenticated`; everyone else `system:authenticated` (unless
/// either group was named).
pub fn impersonated_groups(username: &str, requested: &[String]) -> Vec<String> {
    let mut groups = requested.to_vec();
    if requested.is_empty() {
        if let Some((ns, _)) = split_service_account_username(username) {
            groups = service_account_groups(ns);
        }
    }
    if username == ANONYMOUS_USER {
        if !groups.iter().any(|g| g == UNAUTHENTICATED_GROUP) {
            groups.push(UNAUTHENTICATED_GROUP.into());
        }
    } else if !groups.iter().any(|g| g == AUTHENTICATED_GROUP || g == UNAUTHENTICATED_GROUP) {
        groups.push(AUTHENTICATED_GROUP.into());
    }
    groups
}

/// The groups of a service account: `system:serviceaccounts`, `system:serviceaccounts:<ns>`.
pub fn service_account_groups(namespace: &str) -> Vec<String> {
    let mut ns_group = String::with_capacity(SERVICE_ACCOUNTS_GROUP.len() + 1 + namespace.len());
    ns_group.push_str(SERVICE_ACCOUNTS_GROUP);
    ns_group.push(':');
    ns_group.push_str(namespace);
    vec![SERVICE_ACCOUNTS_GROUP.to_owned(), ns_group]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn service_account_names() {
        assert_eq!(service_account_username("ns", "sa"), "system:serviceaccount:ns:sa");
        assert_eq!(split_service_account_username("system:serviceaccount:ns:sa"), Some(("ns", "sa")));
        assert_eq!(split_service_account_username("system:serviceaccount:ns"), None);
        assert_eq!(split_service_account_username("system:serviceaccount:ns:a:b"), None);
        assert_eq!(service_account_groups("ns"), ["system:serviceaccounts", "system:serviceaccounts:ns"]);
    }
}
