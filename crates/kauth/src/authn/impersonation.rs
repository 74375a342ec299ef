//! Impersonation (`Impersonate-*` headers), as kube-apiserver's `WithImpersonation` filter,
//! in pure functions: [`parse`] reads the headers, [`checks`] lists what the real user must be
//! allowed (verb `impersonate` on each impersonated attribute), [`impersonated_user`] builds the
//! user the request then acts as. The server runs the authorizer on each check.

use http::HeaderMap;

use crate::authz::{Attributes, Target};
use crate::user::{impersonated_groups, split_service_account_username, Extra, UserInfo};

/// What every impersonation header's name starts with.
const IMPERSONATE_PREFIX: &str = "impersonate-";

/// `Impersonate-User`.
pub const USER_HEADER: &str = "impersonate-user";
/// `Impersonate-Group` (may be repeated).
pub const GROUP_HEADER: &str = "impersonate-group";
/// `Impersonate-Uid`.
pub const UID_HEADER: &str = "impersonate-uid";
/// `Impersonate-Extra-<key>`: the key percent-encoded, lower-cased after decoding.
pub const EXTRA_HEADER_PREFIX: &str = "impersonate-extra-";

/// What a request asks to impersonate.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Impersonation {
    /// The user name.
    pub user: String,
    /// The groups, in header order.
    pub groups: Vec<String>,
    /// The uid, if asked for.
    pub uid: Option<String>,
    /// The extras, keys decoded and lower-cased.
    pub extra: Extra,
}

/// One impersonated attribute, as kube-apiserver lists it in its error (an `ObjectReference`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requested {
    /// `Impersonate-Group`.
    Group(String),
    /// One value of an `Impersonate-Extra-<key>` header.
    Extra {
        /// The decoded, lower-cased key.
        key: String,
        /// The value.
        value: String,
    },
    /// `Impersonate-Uid`.
    Uid(String),
}

impl std::fmt::Display for Requested {
    /// Go's `%v` of kube-apiserver's `ObjectReference` (Kind, Namespace, Name, UID, APIVersion,
    /// ResourceVersion, FieldPath), which its error prints.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        const V1: &str = "authentication.k8s.io/v1";
        match self {
            Requested::Group(g) => write!(f, "{{Group  {g}    }}"),
            Requested::Extra { key, value } => write!(f, "{{UserExtra  {value}  {V1}  {key}}}"),
            Requested::Uid(u) => write!(f, "{{UID  {u}  {V1}  }}"),
        }
    }
}

/// Impersonation headers that cannot be honoured.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ImpersonationError {
    /// Groups, a uid or extras without a user; Display is kube-apiserver's text, listing them.
    #[error("requested [{}] without impersonating a user", .0.iter().map(ToString::to_string).collect::<Vec<_>>().join(" "))]
    WithoutUser(Vec<Requested>),
}

/// An extra key as it is named in an `Impersonate-Extra-` header: percent-decoded (invalid
/// UTF-8 replaced), lower-cased.
pub fn extra_key(encoded: &str) -> String {
    percent_encoding::percent_decode_str(encoded).decode_utf8_lossy().to_lowercase()
}

/// The impersonation a request's headers ask for: `Ok(None)` without any `Impersonate-*`
/// header. Header values that are not visible ASCII are ignored, as before.
pub fn parse(headers: &HeaderMap) -> Result<Option<Impersonation>, ImpersonationError> {
    // Nearly every request impersonates no one: one look at the names (stored in lower case)
    // settles it before anything is read or copied.
    if !headers.keys().any(|name| name.as_str().starts_with(IMPERSONATE_PREFIX)) {
        return Ok(None);
    }
    let user = headers.get(USER_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let groups: Vec<String> =
        headers.get_all(GROUP_HEADER).iter().filter_map(|v| v.to_str().ok()).map(str::to_owned).collect();
    let uid = headers.get(UID_HEADER).and_then(|v| v.to_str().ok()).map(str::to_owned);
    let mut extra = Extra::new();
    for (name, value) in headers {
        if let Some(key) = name.as_str().strip_prefix(EXTRA_HEADER_PREFIX) {
            if let Ok(v) = value.to_str() {
                extra.push(extra_key(key), v);
            }
        }
    }
    match user {
        Some(user) => Ok(Some(Impersonation { user, groups, uid, extra })),
        None if !groups.is_empty() || uid.is_some() || !extra.is_empty() => {
            // In kube-apiserver's order: groups, extras, uid.
            let mut requested: Vec<Requested> = groups.into_iter().map(Requested::Group).collect();
            for (key, values) in extra.iter() {
                requested.extend(values.map(|v| Requested::Extra { key: key.to_owned(), value: v.to_owned() }));
            }
            requested.extend(uid.map(Requested::Uid));
            Err(ImpersonationError::WithoutUser(requested))
        }
        None => Ok(None),
    }
}

fn check(
    real: &UserInfo,
    api_group: &str,
    resource: &str,
    subresource: &str,
    namespace: &str,
    name: &str,
) -> Attributes {
    Attributes {
        user: real.clone(),
        verb: "impersonate".into(),
        target: Target::Resource {
            namespace: namespace.into(),
            api_group: api_group.into(),
            api_version: String::new(),
            resource: resource.into(),
            subresource: subresource.into(),
            name: name.into(),
        },
    }
}

/// The authorization checks, in order, that `real` must pass to impersonate `imp`: the user
/// (`serviceaccounts` in its namespace for a service account, else `users`), each group
/// (`groups`), each extra value (`userextras/<key>` in `authentication.k8s.io`) and the uid
/// (`uids`). Every one must be allowed.
pub fn checks(real: &UserInfo, imp: &Impersonation) -> Vec<Attributes> {
    let mut out = Vec::with_capacity(1 + imp.groups.len() + imp.extra.len() + usize::from(imp.uid.is_some()));
    match split_service_account_username(&imp.user) {
        Some((ns, sa)) => out.push(check(real, "", "serviceaccounts", "", ns, sa)),
        None => out.push(check(real, "", "users", "", "", &imp.user)),
    }
    for g in &imp.groups {
        out.push(check(real, "", "groups", "", "", g));
    }
    for (k, values) in imp.extra.iter() {
        for v in values {
            out.push(check(real, "authentication.k8s.io", "userextras", k, "", v));
        }
    }
    if let Some(uid) = &imp.uid {
        out.push(check(real, "authentication.k8s.io", "uids", "", "", uid));
    }
    out
}

/// The user a request impersonating `imp` acts as (groups as kube-apiserver sets them:
/// [`impersonated_groups`]).
pub fn impersonated_user(imp: Impersonation) -> UserInfo {
    let groups = impersonated_groups(&imp.user, &imp.groups);
    UserInfo { name: imp.user, uid: imp.uid.unwrap_or_default(), groups, extra: imp.extra }
}

/// The `(api group, resource, name)` a check is about, for a 403 message.
pub fn check_target(a: &Attributes) -> (&str, &str, &str) {
    match &a.target {
        Target::Resource { api_group, resource, name, .. } => (api_group, resource, name),
        Target::NonResource { path } => ("", "", path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn every_header_read_here_has_the_prefix_the_early_return_looks_for() {
        for name in [USER_HEADER, GROUP_HEADER, UID_HEADER, EXTRA_HEADER_PREFIX] {
            assert!(name.starts_with(IMPERSONATE_PREFIX), "{name}");
        }
        assert_eq!(parse(&headers(&[("authorization", "Bearer x"), ("impersonat-user", "u")])).unwrap(), None);
        assert!(parse(&headers(&[("impersonate-uid", "1")])).is_err());
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut h = HeaderMap::new();
        for (k, v) in pairs {
            h.append(*k, HeaderValue::from_static(v));
        }
        h
    }

    #[test]
    fn headers_become_a_typed_request_and_its_checks() {
        assert_eq!(parse(&headers(&[])), Ok(None));
        let e = parse(&headers(&[("impersonate-group", "g")])).expect_err("no user");
        assert_eq!(e, ImpersonationError::WithoutUser(vec![Requested::Group("g".into())]));
        // kube-apiserver's text (checked against 1.32): Go's %v of each ObjectReference.
        let e = parse(&headers(&[
            ("impersonate-uid", "u"),
            ("impersonate-group", "g1"),
            ("impersonate-extra-scopes", "a"),
            ("impersonate-group", "g2"),
        ]))
        .expect_err("no user");
        assert_eq!(
            e.to_string(),
            "requested [{Group  g1    } {Group  g2    } {UserExtra  a  authentication.k8s.io/v1  scopes} \
             {UID  u  authentication.k8s.io/v1  }] without impersonating a user"
        );
        let imp = parse(&headers(&[
            ("impersonate-user", "system:serviceaccount:ns:sa"),
            ("impersonate-group", "a"),
            ("impersonate-group", "b"),
            ("impersonate-uid", "u-1"),
            ("impersonate-extra-Scopes%2FA", "read"),
        ]))
        .unwrap()
        .unwrap();
        assert_eq!(imp.groups, ["a", "b"]);
        assert_eq!(imp.extra.get("scopes/a").unwrap().to_vec(), ["read"]);
        let real = UserInfo { name: "admin".into(), ..UserInfo::default() };
        let checks = checks(&real, &imp);
        let targets: Vec<_> = checks.iter().map(check_target).collect();
        assert_eq!(
            targets,
            [
                ("", "serviceaccounts", "sa"),
                ("", "groups", "a"),
                ("", "groups", "b"),
                ("authentication.k8s.io", "userextras", "read"),
                ("authentication.k8s.io", "uids", "u-1"),
            ]
        );
        assert!(checks.iter().all(|c| c.verb == "impersonate" && c.user.name == "admin"));
        assert!(matches!(&checks[0].target, Target::Resource { namespace, .. } if namespace == "ns"));
        assert!(matches!(&checks[3].target, Target::Resource { subresource, .. } if subresource == "scopes/a"));
        let user = impersonated_user(imp);
        assert_eq!(user.groups, ["a", "b", "system:authenticated"]);
        assert_eq!(user.uid, "u-1");
        assert_eq!(extra_key("a%2"), "a%2");
    }
}
