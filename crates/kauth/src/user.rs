//! The authenticated user, as Kubernetes' `user.Info` carries it.

use std::borrow::Cow;

use serde::Serialize;
use smallvec::SmallVec;

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
    /// Extra attributes, keys sorted.
    pub extra: Extra,
}

/// The values of one extra key. Nearly every key has exactly one value, which is kept inline.
pub type ExtraValues = SmallVec<[String; 1]>;

/// A user's extra attributes: Kubernetes' `map[string][]string`, keys sorted.
///
/// A sorted vector rather than a `BTreeMap`: a user carries at most a handful of extras, and a
/// service-account token's user is built for every request; with its single values inline, a
/// pod-bound token's five extras cost one allocation for the vector and one per value, where a
/// map of vectors cost eleven and a search per insert. Kubernetes' own keys are static strings.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Extra {
    entries: Vec<(Cow<'static, str>, ExtraValues)>,
}

impl Extra {
    /// No extras.
    pub const fn new() -> Self {
        Extra { entries: Vec::new() }
    }

    /// Room for `n` keys.
    pub fn with_capacity(n: usize) -> Self {
        Extra { entries: Vec::with_capacity(n) }
    }

    /// True without any key.
    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    /// How many keys.
    pub fn len(&self) -> usize {
        self.entries.len()
    }

    fn position(&self, key: &str) -> Result<usize, usize> {
        // Keys usually arrive in order: check the end before searching.
        match self.entries.last() {
            None => Err(0),
            Some((last, _)) if last.as_ref() < key => Err(self.entries.len()),
            _ => self.entries.binary_search_by(|(k, _)| k.as_ref().cmp(key)),
        }
    }

    /// The values of `key`.
    pub fn get(&self, key: &str) -> Option<&[String]> {
        self.position(key).ok().map(|i| self.entries[i].1.as_slice())
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    /// Sets the values of `key`, replacing any it had.
    pub fn insert(&mut self, key: impl Into<Cow<'static, str>>, values: ExtraValues) {
        let key = key.into();
        match self.position(&key) {
            Ok(i) => self.entries[i].1 = values,
            Err(i) => self.entries.insert(i, (key, values)),
        }
    }

    /// Adds one value to `key`, after the values it has.
    pub fn push(&mut self, key: impl Into<Cow<'static, str>>, value: String) {
        let key = key.into();
        match self.position(&key) {
            Ok(i) => self.entries[i].1.push(value),
            Err(i) => self.entries.insert(i, (key, smallvec::smallvec![value])),
        }
    }

    /// The keys and their values, keys sorted.
    pub fn iter(&self) -> impl Iterator<Item = (&str, &[String])> {
        self.entries.iter().map(|(k, v)| (k.as_ref(), v.as_slice()))
    }
}

impl std::ops::Index<&str> for Extra {
    type Output = [String];

    /// The values of `key`; panics when it is absent, like a map's index.
    fn index(&self, key: &str) -> &[String] {
        self.get(key).unwrap_or_else(|| panic!("no extra {key:?}"))
    }
}

impl<K: Into<Cow<'static, str>>, V: IntoIterator<Item = String>> FromIterator<(K, V)> for Extra {
    /// Keys given more than once keep the values given last, as a map would.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut extra = Extra::new();
        for (k, v) in iter {
            extra.insert(k, v.into_iter().collect());
        }
        extra
    }
}

impl IntoIterator for Extra {
    type Item = (Cow<'static, str>, ExtraValues);
    type IntoIter = std::vec::IntoIter<(Cow<'static, str>, ExtraValues)>;

    fn into_iter(self) -> Self::IntoIter {
        self.entries.into_iter()
    }
}

impl Serialize for Extra {
    /// A JSON object of string arrays, as Kubernetes writes `extra`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.entries.len()))?;
        for (k, v) in &self.entries {
            map.serialize_entry(k.as_ref(), v.as_slice())?;
        }
        map.end()
    }
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
    fn extra_keeps_keys_sorted_and_values_in_order() {
        let mut e = Extra::new();
        assert!(e.is_empty() && e.get("a").is_none());
        e.push("scopes", "read".to_owned());
        e.push(EXTRA_POD_NAME, "p".to_owned());
        e.push("scopes", "write".to_owned());
        e.insert("acme.com/team", smallvec::smallvec!["x".to_owned()]);
        let keys: Vec<&str> = e.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["acme.com/team", EXTRA_POD_NAME, "scopes"]);
        assert_eq!(e["scopes"], ["read", "write"]);
        assert_eq!(e.len(), 3);
        assert!(e.contains_key(EXTRA_POD_NAME) && !e.contains_key("authentication.kubernetes.io"));
        e.insert("scopes", ExtraValues::new());
        assert_eq!(e.get("scopes"), Some(&[][..]), "a key may hold no values, as in Kubernetes");
        // Serialized as Kubernetes writes `extra`: an object of string arrays, keys sorted.
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"acme.com/team":["x"],"authentication.kubernetes.io/pod-name":["p"],"scopes":[]}"#
        );
        // Built from pairs, a repeated key keeps its last values, as a map would.
        let e: Extra = [("b", vec!["1".to_owned()]), ("a", vec![]), ("b", vec!["2".to_owned()])].into_iter().collect();
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"a":[],"b":["2"]}"#);
    }

    #[test]
    fn service_account_names() {
        assert_eq!(service_account_username("ns", "sa"), "system:serviceaccount:ns:sa");
        assert_eq!(split_service_account_username("system:serviceaccount:ns:sa"), Some(("ns", "sa")));
        assert_eq!(split_service_account_username("system:serviceaccount:ns"), None);
        assert_eq!(split_service_account_username("system:serviceaccount:ns:a:b"), None);
        assert_eq!(service_account_groups("ns"), ["system:serviceaccounts", "system:serviceaccounts:ns"]);
    }
}
