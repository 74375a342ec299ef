//! An in-memory [`Lookup`]: for tests, benchmarks and offline tools.
//!
//! Namespaced objects sit in maps keyed by `(namespace, name)`, looked up with the borrowed pair
//! in a single probe: a lookup allocates nothing and shares the state it returns.

use std::sync::Arc;

// foldhash rather than SipHash: keys are names from the caller's own objects, and SipHash was a
// fifth of a lookup.
use foldhash::HashMap;
use hashbrown::Equivalent;

use super::validate::{Lookup, LookupError, ObjectState, SecretState, StateRef};

// hashbrown's map (with foldhash, its default hasher) takes a borrowed key through `Equivalent`.
type Namespaced<T> = hashbrown::HashMap<(String, String), Arc<T>>;

/// `(namespace, name)` borrowed: hashes exactly as the owned tuple does (field by field).
#[derive(Hash)]
struct Key<'a>(&'a str, &'a str);

impl Equivalent<(String, String)> for Key<'_> {
    fn equivalent(&self, key: &(String, String)) -> bool {
        self.0 == key.0 && self.1 == key.1
    }
}

/// Objects held in memory.
#[derive(Debug, Clone, Default)]
pub struct MemoryLookup {
    service_accounts: Namespaced<ObjectState>,
    pods: Namespaced<ObjectState>,
    secrets: Namespaced<SecretState>,
    nodes: HashMap<String, Arc<ObjectState>>,
    /// When set, every lookup fails with this message (a store outage).
    pub failing: Option<String>,
}

fn live(uid: &str) -> ObjectState {
    ObjectState { uid: uid.into(), deletion_timestamp: None }
}

fn put<T>(map: &mut Namespaced<T>, ns: &str, name: &str, value: Option<T>) {
    match value {
        Some(v) => {
            map.insert((ns.to_owned(), name.to_owned()), Arc::new(v));
        }
        None => {
            map.remove(&Key(ns, name));
        }
    }
}

impl MemoryLookup {
    /// Adds a service account.
    pub fn with_service_account(mut self, ns: &str, name: &str, uid: &str) -> Self {
        self.set_service_account(ns, name, Some(live(uid)));
        self
    }

    /// Adds a pod.
    pub fn with_pod(mut self, ns: &str, name: &str, uid: &str) -> Self {
        self.set_pod(ns, name, Some(live(uid)));
        self
    }

    /// Adds a node.
    pub fn with_node(mut self, name: &str, uid: &str) -> Self {
        self.set_node(name, Some(live(uid)));
        self
    }

    /// Adds a secret, optionally holding a token.
    pub fn with_secret(mut self, ns: &str, name: &str, uid: &str, token: Option<&str>) -> Self {
        let state = SecretState { object: live(uid), token: token.map(|t| t.as_bytes().to_vec()), invalid_since: None };
        self.set_secret(ns, name, Some(state));
        self
    }

    /// Sets (or with `None` removes) a service account.
    pub fn set_service_account(&mut self, ns: &str, name: &str, state: Option<ObjectState>) {
        put(&mut self.service_accounts, ns, name, state);
    }

    /// Sets (or removes) a pod.
    pub fn set_pod(&mut self, ns: &str, name: &str, state: Option<ObjectState>) {
        put(&mut self.pods, ns, name, state);
    }

    /// Sets (or removes) a secret.
    pub fn set_secret(&mut self, ns: &str, name: &str, state: Option<SecretState>) {
        put(&mut self.secrets, ns, name, state);
    }

    /// Sets (or removes) a node.
    pub fn set_node(&mut self, name: &str, state: Option<ObjectState>) {
        match state {
            Some(s) => {
                self.nodes.insert(name.to_owned(), Arc::new(s));
            }
            None => {
                self.nodes.remove(name);
            }
        }
    }

    fn check(&self) -> Result<(), LookupError> {
        match &self.failing {
            Some(m) => Err(LookupError(m.clone())),
            None => Ok(()),
        }
    }
}

fn get<'a, T>(map: &'a Namespaced<T>, ns: &str, name: &str) -> Option<StateRef<'a, T>> {
    map.get(&Key(ns, name)).map(|s| StateRef::Borrowed(&**s))
}

impl Lookup for MemoryLookup {
    fn service_account(&self, ns: &str, name: &str) -> Result<Option<StateRef<'_, ObjectState>>, LookupError> {
        self.check()?;
        Ok(get(&self.service_accounts, ns, name))
    }
    fn pod(&self, ns: &str, name: &str) -> Result<Option<StateRef<'_, ObjectState>>, LookupError> {
        self.check()?;
        Ok(get(&self.pods, ns, name))
    }
    fn node(&self, name: &str) -> Result<Option<StateRef<'_, ObjectState>>, LookupError> {
        self.check()?;
        Ok(self.nodes.get(name).map(|s| StateRef::Borrowed(&**s)))
    }
    fn secret(&self, ns: &str, name: &str) -> Result<Option<StateRef<'_, SecretState>>, LookupError> {
        self.check()?;
        Ok(get(&self.secrets, ns, name))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn borrowed_pairs_find_exactly_their_object() {
        let mut l = MemoryLookup::default()
            .with_service_account("a/b", "c", "1")
            .with_service_account("a", "b/c", "2")
            .with_pod("ns", "p", "3")
            .with_node("n", "4");
        let uid = |r: Result<Option<StateRef<'_, ObjectState>>, LookupError>| r.unwrap().map(|s| s.uid.clone());
        assert_eq!(uid(l.service_account("a/b", "c")), Some("1".into()));
        assert_eq!(uid(l.service_account("a", "b/c")), Some("2".into()));
        assert_eq!(uid(l.service_account("a", "b")), None);
        assert_eq!(uid(l.service_account("ns", "p")), None, "kinds are kept apart");
        assert_eq!(uid(l.pod("ns", "p")), Some("3".into()));
        assert_eq!(uid(l.node("n")), Some("4".into()));
        l.set_service_account("a/b", "c", None);
        assert_eq!(uid(l.service_account("a/b", "c")), None);
        assert_eq!(uid(l.service_account("a", "b/c")), Some("2".into()), "removal takes only its own key");
        l.failing = Some("store down".into());
        assert_eq!(l.pod("ns", "p").unwrap_err(), LookupError("store down".into()));
    }
}
