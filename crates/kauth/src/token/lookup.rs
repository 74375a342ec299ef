//! An in-memory [`Lookup`]: for tests, benchmarks and offline tools.
//!
//! Namespaced objects sit in maps of maps (`namespace -> name -> state`), so a lookup borrows its
//! keys and allocates nothing but the returned copy.

use std::sync::Arc;

// foldhash rather than SipHash: keys are names from the caller's own objects, and SipHash was a
// fifth of a lookup.
use foldhash::HashMap;

use super::validate::{Lookup, LookupError, ObjectState, SecretState};

type Namespaced<T> = HashMap<String, HashMap<String, Arc<T>>>;

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
            map.entry(ns.to_owned()).or_default().insert(name.to_owned(), Arc::new(v));
        }
        None => {
            if let Some(m) = map.get_mut(ns) {
                m.remove(name);
            }
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

fn get<T>(map: &Namespaced<T>, ns: &str, name: &str) -> Option<Arc<T>> {
    map.get(ns).and_then(|m| m.get(name)).cloned()
}

impl Lookup for MemoryLookup {
    fn service_account(&self, ns: &str, name: &str) -> Result<Option<Arc<ObjectState>>, LookupError> {
        self.check()?;
        Ok(get(&self.service_accounts, ns, name))
    }
    fn pod(&self, ns: &str, name: &str) -> Result<Option<Arc<ObjectState>>, LookupError> {
        self.check()?;
        Ok(get(&self.pods, ns, name))
    }
    fn node(&self, name: &str) -> Result<Option<Arc<ObjectState>>, LookupError> {
        self.check()?;
        Ok(self.nodes.get(name).cloned())
    }
    fn secret(&self, ns: &str, name: &str) -> Result<Option<Arc<SecretState>>, LookupError> {
        self.check()?;
        Ok(get(&self.secrets, ns, name))
    }
}
