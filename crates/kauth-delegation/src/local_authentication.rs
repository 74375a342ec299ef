//! Service-account tokens validated locally, with no TokenReview per token: the issuer and its
//! keys from the cluster's discovery (`/.well-known/openid-configuration`, `/openid/v1/jwks`),
//! and a relisted copy of the service accounts, pods and nodes that bound tokens depend on, so
//! a token of a deleted (or recreated) service account or pod is refused as kube-apiserver
//! refuses it, within one relist. The validation is the `kauth` library's
//! (`ServiceAccountAuthenticator`), the same code `kauth serve` validates with.
//!
//! Limits: legacy (Secret-based) tokens and tokens bound to a Secret are not accepted here
//! (Secrets are not copied: they hold credentials); other issuers (OIDC) are not recognised. A
//! copy older than the configured age authenticates nothing (the layer answers 503).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use kauth::authn::service_account::ServiceAccountAuthenticator;
use kauth::authn::{Authenticated, Rejection, TokenAuthenticator, WebhookRejection};
use kauth::token::jwks::{parse_jwks, OpenIdConfiguration};
use kauth::token::validate::{
    Lookup, LookupError, ObjectState, SecretState, StateRef, Validator, ValidatorConfig, DEFAULT_LEEWAY_SECONDS,
};
use time::{Duration, OffsetDateTime};

use crate::cluster::{Cluster, ClusterError};

/// The authenticator's name.
pub const NAME: &str = "local-service-account";

/// The objects bound tokens depend on, as last listed.
#[derive(Debug, Default)]
struct Objects {
    service_accounts: HashMap<(String, String), Arc<ObjectState>>,
    pods: HashMap<(String, String), Arc<ObjectState>>,
    nodes: HashMap<String, Arc<ObjectState>>,
}

/// The copy, shared between the authenticator's lookup and the relist.
#[derive(Debug, Clone, Default)]
struct SharedObjects(Arc<RwLock<Arc<Objects>>>);

impl SharedObjects {
    fn current(&self) -> Result<Arc<Objects>, LookupError> {
        self.0.read().map(|o| o.clone()).map_err(|_| LookupError("the local copy is poisoned".into()))
    }
}

fn key(ns: &str, name: &str) -> (String, String) {
    (ns.to_owned(), name.to_owned())
}

impl Lookup for SharedObjects {
    fn service_account(&self, namespace: &str, name: &str) -> Result<Option<StateRef<'_, ObjectState>>, LookupError> {
        Ok(self.current()?.service_accounts.get(&key(namespace, name)).cloned().map(StateRef::Shared))
    }
    fn pod(&self, namespace: &str, name: &str) -> Result<Option<StateRef<'_, ObjectState>>, LookupError> {
        Ok(self.current()?.pods.get(&key(namespace, name)).cloned().map(StateRef::Shared))
    }
    fn node(&self, name: &str) -> Result<Option<StateRef<'_, ObjectState>>, LookupError> {
        Ok(self.current()?.nodes.get(name).cloned().map(StateRef::Shared))
    }
    fn secret(&self, _namespace: &str, _name: &str) -> Result<Option<StateRef<'_, SecretState>>, LookupError> {
        Err(LookupError("Secrets are not copied locally: a token bound to a Secret needs a TokenReview".into()))
    }
}

/// Each item's (namespace, name) and state, from a list's JSON.
fn states(list: &serde_json::Value) -> impl Iterator<Item = (String, String, ObjectState)> + '_ {
    list.get("items").and_then(|i| i.as_array()).into_iter().flatten().filter_map(|item| {
        let m = item.get("metadata")?;
        let s = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or_default().to_owned();
        let deletion_timestamp = m
            .get("deletionTimestamp")
            .and_then(|v| v.as_str())
            .and_then(|t| OffsetDateTime::parse(t, &time::format_description::well_known::Rfc3339).ok())
            .map(|t| t.unix_timestamp());
        Some((s("namespace"), s("name"), ObjectState { uid: s("uid"), deletion_timestamp }))
    })
}

/// Validates service-account tokens locally.
pub struct LocalServiceAccounts {
    cluster: Cluster,
    audiences: Vec<String>,
    max_age: Duration,
    objects: SharedObjects,
    authenticator: RwLock<Option<Arc<ServiceAccountAuthenticator<SharedObjects>>>>,
    synced: Mutex<Option<OffsetDateTime>>,
}

impl std::fmt::Debug for LocalServiceAccounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalServiceAccounts({:?}, max age {})", self.cluster, self.max_age)
    }
}

impl LocalServiceAccounts {
    /// Validating tokens of `cluster`'s issuer for `audiences` (empty: the issuer, as
    /// kube-apiserver's default API audience), trusted for `max_age` after each relist.
    pub fn new(cluster: Cluster, audiences: Vec<String>, max_age: Duration) -> Self {
        LocalServiceAccounts {
            cluster,
            audiences,
            max_age,
            objects: SharedObjects::default(),
            authenticator: RwLock::new(None),
            synced: Mutex::new(None),
        }
    }

    /// Reads the issuer, its keys and the objects again; `now` is when it began.
    pub fn relist(&self, now: OffsetDateTime) -> Result<usize, ClusterError> {
        let discovery: OpenIdConfiguration = self.cluster.get("/.well-known/openid-configuration", "discovery")?;
        let jwks: serde_json::Value = self.cluster.get("/openid/v1/jwks", "JWKS")?;
        let url = format!("{}/openid/v1/jwks", self.cluster.server());
        let keys = parse_jwks(&url, jwks.to_string().as_bytes()).map_err(|e| ClusterError::Decode {
            url: url.clone(),
            kind: "JWKS",
            problem: e.to_string(),
        })?;
        let mut objects = Objects::default();
        let sas: serde_json::Value = self.cluster.get("/api/v1/serviceaccounts", "ServiceAccountList")?;
        objects.service_accounts = states(&sas).map(|(ns, n, s)| ((ns, n), Arc::new(s))).collect();
        let pods: serde_json::Value = self.cluster.get("/api/v1/pods", "PodList")?;
        objects.pods = states(&pods).map(|(ns, n, s)| ((ns, n), Arc::new(s))).collect();
        let nodes: serde_json::Value = self.cluster.get("/api/v1/nodes", "NodeList")?;
        objects.nodes = states(&nodes).map(|(_, n, s)| (n, Arc::new(s))).collect();
        let count = objects.service_accounts.len() + objects.pods.len() + objects.nodes.len();
        if let Ok(mut o) = self.objects.0.write() {
            *o = Arc::new(objects);
        }
        let validator = Validator::new(ValidatorConfig {
            issuers: vec![discovery.issuer],
            api_audiences: self.audiences.clone(),
            keys,
            leeway_seconds: DEFAULT_LEEWAY_SECONDS,
            accept_legacy: false,
        });
        if let Ok(mut a) = self.authenticator.write() {
            match a.as_ref() {
                Some(current) => current.replace_validator(validator),
                None => *a = Some(Arc::new(ServiceAccountAuthenticator::new(validator, self.objects.clone()))),
            }
        }
        if let Ok(mut s) = self.synced.lock() {
            *s = Some(now);
        }
        Ok(count)
    }

    /// How old the copy is at `now` (None: never listed).
    pub fn age(&self, now: OffsetDateTime) -> Option<Duration> {
        self.synced.lock().ok()?.map(|at| now - at)
    }
}

impl TokenAuthenticator for LocalServiceAccounts {
    fn name(&self) -> &'static str {
        NAME
    }

    fn authenticate_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        now: OffsetDateTime,
    ) -> Result<Option<Authenticated>, Rejection> {
        let unavailable = |problem: String| {
            Rejection::Webhook(WebhookRejection::Unavailable { cluster: self.cluster.server().to_owned(), problem })
        };
        match self.age(now) {
            None => return Err(unavailable("the local copy of the issuer's keys has never been listed".into())),
            Some(age) if age > self.max_age => {
                return Err(unavailable(format!(
                    "the local copy of the issuer's keys and objects was listed {} s ago, more than the allowed {} s",
                    age.whole_seconds(),
                    self.max_age.whole_seconds()
                )))
            }
            Some(_) => {}
        }
        let current = self.authenticator.read().ok().and_then(|a| a.clone());
        let Some(authenticator) = current else { return Err(unavailable("no validator yet".into())) };
        authenticator.authenticate_token(token, audiences, now)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_items_become_object_states() {
        let list = serde_json::json!({"items": [
            {"metadata": {"namespace": "ns", "name": "a", "uid": "1"}},
            {"metadata": {"namespace": "ns", "name": "b", "uid": "2", "deletionTimestamp": "2026-01-01T00:00:00Z"}},
        ]});
        let got: Vec<_> = states(&list).collect();
        assert_eq!(got[0], ("ns".into(), "a".into(), ObjectState { uid: "1".into(), deletion_timestamp: None }));
        assert_eq!(got[1].2.deletion_timestamp, Some(1_767_225_600));
    }

    #[test]
    fn nothing_is_authenticated_before_the_first_list() {
        let cluster = Cluster::new(crate::cluster::ClusterSettings {
            server: "https://127.0.0.1:1".into(),
            ca_pem: None,
            client_cert: None,
            bearer: None,
            bearer_file: None,
            timeout: std::time::Duration::from_secs(2),
        })
        .unwrap();
        let l = LocalServiceAccounts::new(cluster, vec![], Duration::seconds(60));
        let got = l.authenticate_token("x.y.z", None, OffsetDateTime::UNIX_EPOCH);
        assert!(got.as_ref().is_err_and(Rejection::only_unavailable), "{got:?}");
        assert!(SharedObjects::default().secret("ns", "s").is_err());
    }
}
