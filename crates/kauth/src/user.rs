//! The authenticated user, as Kubernetes' `user.Info` carries it.

use std::borrow::Cow;
use std::fmt;
use std::ops::Range;

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

/// A user's extra attributes: Kubernetes' `map[string][]string`, keys sorted.
///
/// Every value lives in one string, one after another; the keys, in order, hold the spans of
/// their values. A user carries at most a handful of extras, and a service-account token's user
/// is built on every request: a pod-bound token's five extras cost two allocations (the keys and
/// the text, each sized up front), where a map of string vectors cost eleven and a search per
/// insert. Kubernetes' own keys are static strings.
#[derive(Clone, Default)]
pub struct Extra {
    /// Every value, one after another (a replaced value's bytes stay in it, never read again;
    /// replacing is rare: impersonation and SubjectAccessReview build extras once).
    text: String,
    /// Keys sorted, each with the spans of its values in `text`, in order.
    entries: Vec<Entry>,
}

#[derive(Clone)]
struct Entry {
    key: Cow<'static, str>,
    /// Nearly every key has exactly one value, kept inline.
    values: SmallVec<[Range<usize>; 1]>,
}

impl Extra {
    /// No extras.
    pub const fn new() -> Self {
        Extra { text: String::new(), entries: Vec::new() }
    }

    /// Room for `keys` keys whose values add up to `text_bytes` bytes.
    pub fn with_capacity(keys: usize, text_bytes: usize) -> Self {
        Extra { text: String::with_capacity(text_bytes), entries: Vec::with_capacity(keys) }
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
            Some(last) if last.key.as_ref() < key => Err(self.entries.len()),
            _ => self.entries.binary_search_by(|e| e.key.as_ref().cmp(key)),
        }
    }

    fn values_of<'a>(&'a self, entry: &'a Entry) -> Values<'a> {
        Values { text: &self.text, spans: entry.values.iter() }
    }

    /// The values of `key`.
    pub fn get(&self, key: &str) -> Option<Values<'_>> {
        self.position(key).ok().map(|i| self.values_of(&self.entries[i]))
    }

    /// True when `key` is present.
    pub fn contains_key(&self, key: &str) -> bool {
        self.position(key).is_ok()
    }

    fn append(&mut self, value: &str) -> Range<usize> {
        let start = self.text.len();
        self.text.push_str(value);
        start..self.text.len()
    }

    /// Sets the values of `key`, replacing any it had.
    pub fn insert<V: AsRef<str>>(&mut self, key: impl Into<Cow<'static, str>>, values: impl IntoIterator<Item = V>) {
        let spans = values.into_iter().map(|v| self.append(v.as_ref())).collect();
        let key = key.into();
        match self.position(&key) {
            Ok(i) => self.entries[i].values = spans,
            Err(i) => self.entries.insert(i, Entry { key, values: spans }),
        }
    }

    /// Adds one value to `key`, after the values it has.
    pub fn push(&mut self, key: impl Into<Cow<'static, str>>, value: &str) {
        self.push_concat(key, &[value]);
    }

    /// Adds one value made of `parts` to `key`, after the values it has (`JTI=` and a token's
    /// id, without a string of its own).
    pub(crate) fn push_concat(&mut self, key: impl Into<Cow<'static, str>>, parts: &[&str]) {
        let start = self.text.len();
        for p in parts {
            self.text.push_str(p);
        }
        let span = start..self.text.len();
        let key = key.into();
        match self.position(&key) {
            Ok(i) => self.entries[i].values.push(span),
            Err(i) => self.entries.insert(i, Entry { key, values: smallvec::smallvec![span] }),
        }
    }

    /// The keys and their values, keys sorted.
    pub fn iter(&self) -> impl ExactSizeIterator<Item = (&str, Values<'_>)> {
        self.entries.iter().map(|e| (e.key.as_ref(), self.values_of(e)))
    }
}

impl PartialEq for Extra {
    /// Equal when the keys and their values are (however the values are laid out).
    fn eq(&self, other: &Self) -> bool {
        self.len() == other.len() && self.iter().zip(other.iter()).all(|((k, v), (ok, ov))| k == ok && v.eq(ov))
    }
}

impl Eq for Extra {}

impl fmt::Debug for Extra {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.iter()).finish()
    }
}

impl<K: Into<Cow<'static, str>>, V: IntoIterator<Item = S>, S: AsRef<str>> FromIterator<(K, V)> for Extra {
    /// Keys given more than once keep the values given last, as a map would.
    fn from_iter<I: IntoIterator<Item = (K, V)>>(iter: I) -> Self {
        let mut extra = Extra::new();
        for (k, v) in iter {
            extra.insert(k, v);
        }
        extra
    }
}

impl Serialize for Extra {
    /// A JSON object of string arrays, as Kubernetes writes `extra`.
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_map(self.iter())
    }
}

/// The values of one extra key, in order.
#[derive(Clone)]
pub struct Values<'a> {
    text: &'a str,
    spans: std::slice::Iter<'a, Range<usize>>,
}

impl<'a> Values<'a> {
    /// The values as owned strings.
    pub fn to_vec(&self) -> Vec<String> {
        self.clone().map(str::to_owned).collect()
    }
}

impl<'a> Iterator for Values<'a> {
    type Item = &'a str;

    fn next(&mut self) -> Option<&'a str> {
        // Spans are made by `append` on this very text: always in bounds, on char boundaries.
        self.spans.next().map(|r| self.text.get(r.clone()).unwrap_or_default())
    }

    fn size_hint(&self) -> (usize, Option<usize>) {
        self.spans.size_hint()
    }
}

impl ExactSizeIterator for Values<'_> {}

impl DoubleEndedIterator for Values<'_> {
    fn next_back(&mut self) -> Option<Self::Item> {
        self.spans.next_back().map(|r| self.text.get(r.clone()).unwrap_or_default())
    }
}

impl fmt::Debug for Values<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.clone()).finish()
    }
}

impl Serialize for Values<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_seq(self.clone())
    }
}

impl<const N: usize> PartialEq<[&str; N]> for Values<'_> {
    fn eq(&self, other: &[&str; N]) -> bool {
        self.clone().eq(other.iter().copied())
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
    // With room for the `system:authenticated` the authentication chain adds to every request's
    // user: adding it then does not move the vector.
    let mut groups = Vec::with_capacity(3);
    groups.push(SERVICE_ACCOUNTS_GROUP.to_owned());
    groups.push(ns_group);
    groups
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn extra_keeps_keys_sorted_and_values_in_order() {
        let mut e = Extra::new();
        assert!(e.is_empty() && e.get("a").is_none());
        e.push("scopes", "read");
        e.push(EXTRA_POD_NAME, "p");
        e.push("scopes", "write");
        e.insert("acme.com/team", ["x"]);
        let keys: Vec<&str> = e.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["acme.com/team", EXTRA_POD_NAME, "scopes"]);
        assert_eq!(e.get("scopes").unwrap(), ["read", "write"]);
        assert_eq!(e.get("scopes").unwrap().rev().collect::<Vec<_>>(), ["write", "read"]);
        assert_eq!(e.get(EXTRA_POD_NAME).unwrap().to_vec(), ["p"]);
        assert_eq!(e.len(), 3);
        assert!(e.contains_key(EXTRA_POD_NAME) && !e.contains_key("authentication.kubernetes.io"));
        e.insert("scopes", [""; 0]);
        assert_eq!(e.get("scopes").unwrap().len(), 0, "a key may hold no values, as in Kubernetes");
        // Serialized as Kubernetes writes `extra`: an object of string arrays, keys sorted.
        assert_eq!(
            serde_json::to_string(&e).unwrap(),
            r#"{"acme.com/team":["x"],"authentication.kubernetes.io/pod-name":["p"],"scopes":[]}"#
        );
        assert_eq!(
            format!("{e:?}"),
            r#"{"acme.com/team": ["x"], "authentication.kubernetes.io/pod-name": ["p"], "scopes": []}"#
        );
        // Built from pairs, a repeated key keeps its last values, as a map would.
        let e: Extra = [("b", vec!["1"]), ("a", vec![]), ("b", vec!["2"])].into_iter().collect();
        assert_eq!(serde_json::to_string(&e).unwrap(), r#"{"a":[],"b":["2"]}"#);
    }

    #[test]
    fn extras_are_equal_by_content_not_layout() {
        let mut a = Extra::new();
        a.push("k", "1");
        a.push("j", "2");
        a.push("k", "3");
        let b: Extra = [("j", ["2"].as_slice()), ("k", ["1", "3"].as_slice())].into_iter().collect();
        assert_eq!(a, b);
        let mut c = b.clone();
        c.insert("k", ["1", "3"]);
        assert_eq!(b, c, "a replaced value with the same content");
        c.insert("k", ["1"]);
        assert_ne!(b, c);
        c.insert("k", ["1", "3", ""]);
        assert_ne!(b, c);
        let mut d = b.clone();
        d.push("l", "");
        assert_ne!(b, d);
    }

    #[test]
    fn service_account_names() {
        assert_eq!(service_account_username("ns", "sa"), "system:serviceaccount:ns:sa");
        assert_eq!(split_service_account_username("system:serviceaccount:ns:sa"), Some(("ns", "sa")));
        assert_eq!(split_service_account_username("system:serviceaccount:ns"), None);
        assert_eq!(split_service_account_username("system:serviceaccount:ns:a:b"), None);
        assert_eq!(service_account_groups("ns"), ["system:serviceaccounts", "system:serviceaccounts:ns"]);
        let mut groups = service_account_groups("ns");
        let before = groups.as_ptr();
        groups.push(AUTHENTICATED_GROUP.into());
        assert_eq!(groups.as_ptr(), before, "adding system:authenticated does not move the groups");
    }
}
