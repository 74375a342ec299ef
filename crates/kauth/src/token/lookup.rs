//! An in-memory [`Lookup`]: for tests, benchmarks and offline tools.

use std::collections::HashMap;

use super::validate::{Lookup, LookupError, ObjectState, SecretState};

/// Objects held in maps, keyed by `namespace/name` (nodes by name).
#[derive(Debug, Clone, Default)]
pub struct MemoryLookup {
    /// ServiceAccounts.
    pub service_accounts: HashMap<String, ObjectState>,
    /// Pods.
    pub pods: HashMap<String, ObjectState>,
    /// Nodes.
    pub nodes: HashMap<String, ObjectState>,
    /// Secrets.
    pub secrets: HashMap<String, SecretState>,
    /// When set, every lookup fails with this message (a store outage).
    pub failing: Option<String>,
}

impl MemoryLookup {
    /// Adds a service account.
    pub fn with_service_account(mut self, ns: &str, name: &str, uid: &str) -> Self {
        self.service_accounts.insert(format!("{ns}/{name}"), ObjectState { uid: uid.into(), deletion_timestamp: None });
        self
    }

    /// Adds a pod.
    pub fn with_pod(mut self, ns: &str, name: &str, uid: &str) -> Self {
        self.pods.insert(format!("{ns}/{name}"), ObjectState { uid: uid.into(), deletion_timestamp: None });
        self
    }

    /// Adds a node.
    pub fn with_node(mut self, name: &str, uid: &str) -> Self {
        self.nodes.insert(name.into(), ObjectState { uid: uid.into(), deletion_timestamp: None });
        self
    }

    /// Adds a secret, optionally holding a token.
    pub fn with_secret(mut self, ns: &str, name: &str, uid: &str, token: Option<&str>) -> Self {
        self.secrets.insert(
            format!("{ns}/{name}"),
            SecretState {
                object: ObjectState { uid: uid.into(), deletion_timestamp: None },
                token: token.map(|t| t.as_bytes().to_vec()),
                invalid_since: None,
            },
        );
        self
    }

    fn check(&self) -> Result<(), LookupError> {
        match &self.failing {
            Some(m) => Err(LookupError(m.clone())),
            None => Ok(()),
        }
    }
}

impl Lookup for MemoryLookup {
    fn service_account(&self, ns: &str, name: &str) -> Result<Option<ObjectState>, LookupError> {
        self.check()?;
        Ok(self.service_accounts.get(&format!("{ns}/{name}")).cloned())
    }
    fn pod(&self, ns: &str, name: &str) -> Result<Option<ObjectState>, LookupError> {
        self.check()?;
        Ok(self.pods.get(&format!("{ns}/{name}")).cloned())
    }
    fn node(&self, name: &str) -> Result<Option<ObjectState>, LookupError> {
        self.check()?;
        Ok(self.nodes.get(name).cloned())
    }
    fn secret(&self, ns: &str, name: &str) -> Result<Option<SecretState>, LookupError> {
        self.check()?;
        Ok(self.secrets.get(&format!("{ns}/{name}")).cloned())
    }
}
