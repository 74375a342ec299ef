//! Service-account tokens validated locally, with no TokenReview per token: the issuer and its
//! keys from the cluster's discovery (`/.well-known/openid-configuration`, `/openid/v1/jwks`,
//! read again every refresh period; the last good keys stay in use while that fails), and a
//! watched copy ([`crate::watched`]) of the service accounts, pods and nodes that bound tokens
//! depend on, so a token of a deleted (or recreated) service account or pod is refused as
//! kube-apiserver refuses it, as soon as the deletion's watch event arrives. The validation is
//! the `kauth` library's (`ServiceAccountAuthenticator`), the same code `kauth serve` validates
//! with.
//!
//! Limits: legacy (Secret-based) tokens and tokens bound to a Secret are not accepted here
//! (Secrets are not copied: they hold credentials); other issuers (OIDC) are not recognised. A
//! copy whose watches have failed for longer than the configured age authenticates nothing
//! (the layer answers 503).

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock, Weak};

use kauth::authn::service_account::ServiceAccountAuthenticator;
use kauth::authn::{Authenticated, Rejection, TokenAuthenticator, WebhookRejection};
use kauth::token::jwks::{parse_jwks, OpenIdConfiguration};
use kauth::token::validate::{
    Lookup, LookupError, ObjectState, SecretState, StateRef, Validator, ValidatorConfig, DEFAULT_LEEWAY_SECONDS,
};
use time::{Duration, OffsetDateTime};

use crate::cluster::{Cluster, ClusterError};
use crate::watched::{too_old, Watched};

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

/// The lists copied: service accounts, pods, nodes (in this order).
pub const OBJECT_LISTS: [&str; 3] = ["/api/v1/serviceaccounts", "/api/v1/pods", "/api/v1/nodes"];

/// Validates service-account tokens locally.
pub struct LocalServiceAccounts {
    watched: Arc<Watched>,
    audiences: Vec<String>,
    max_age: Duration,
    objects: SharedObjects,
    authenticator: RwLock<Option<Arc<ServiceAccountAuthenticator<SharedObjects>>>>,
    keys_read: Mutex<Option<OffsetDateTime>>,
}

impl std::fmt::Debug for LocalServiceAccounts {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "LocalServiceAccounts({:?}, max age {})", self.watched.cluster(), self.max_age)
    }
}

impl LocalServiceAccounts {
    /// Validating tokens of `cluster`'s issuer for `audiences` (empty: the issuer, as
    /// kube-apiserver's default API audience), trusted while the copy is current and for
    /// `max_age` after its watches fail.
    pub fn new(cluster: Cluster, audiences: Vec<String>, max_age: Duration) -> Self {
        LocalServiceAccounts {
            watched: Watched::new(cluster, OBJECT_LISTS.to_vec()),
            audiences,
            max_age,
            objects: SharedObjects::default(),
            authenticator: RwLock::new(None),
            keys_read: Mutex::new(None),
        }
    }

    /// Reads the issuer's keys and lists the objects now, then keeps the copy by watching them
    /// on background threads; how many objects were listed. When the first reads fail, the
    /// watch threads keep trying (nothing is authenticated until the keys and every list are
    /// read).
    pub fn start(self: &Arc<Self>, now: OffsetDateTime) -> Result<usize, ClusterError> {
        let listed = self.relist(now);
        let me: Weak<LocalServiceAccounts> = Arc::downgrade(self);
        self.watched.spawn(Arc::new(move || {
            if let Some(me) = me.upgrade() {
                me.rebuild();
            }
        }));
        listed
    }

    /// Reads the issuer, its keys and the objects again; `now` is when it began.
    pub fn relist(&self, now: OffsetDateTime) -> Result<usize, ClusterError> {
        self.refresh_keys(now)?;
        let count = self.watched.list_all()?;
        self.rebuild();
        Ok(count)
    }

    /// Reads the issuer and its keys again (they change when the cluster rotates its
    /// service-account keys); on failure the keys last read stay in use.
    pub fn refresh_keys(&self, now: OffsetDateTime) -> Result<(), ClusterError> {
        let cluster = self.watched.cluster();
        let discovery: OpenIdConfiguration = cluster.get("/.well-known/openid-configuration", "discovery")?;
        let jwks: serde_json::Value = cluster.get("/openid/v1/jwks", "JWKS")?;
        let url = format!("{}/openid/v1/jwks", cluster.server());
        let keys = parse_jwks(&url, jwks.to_string().as_bytes()).map_err(|e| ClusterError::Decode {
            url: url.clone(),
            kind: "JWKS",
            problem: e.to_string(),
        })?;
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
        if let Ok(mut k) = self.keys_read.lock() {
            *k = Some(now);
        }
        Ok(())
    }

    /// Builds the object states again from the copy.
    fn rebuild(&self) {
        let mut objects = Objects::default();
        let lists: Vec<serde_json::Value> = (0..OBJECT_LISTS.len()).map(|i| self.watched.list_object(i)).collect();
        objects.service_accounts = states(&lists[0]).map(|(ns, n, s)| ((ns, n), Arc::new(s))).collect();
        objects.pods = states(&lists[1]).map(|(ns, n, s)| ((ns, n), Arc::new(s))).collect();
        objects.nodes = states(&lists[2]).map(|(_, n, s)| (n, Arc::new(s))).collect();
        if let Ok(mut o) = self.objects.0.write() {
            *o = Arc::new(objects);
        }
    }

    /// How old the copy is at `now`: zero while every watch is open (None: the keys or some
    /// list never read).
    pub fn age(&self, now: OffsetDateTime) -> Option<Duration> {
        self.keys_read.lock().ok()?.as_ref()?;
        self.watched.age(now)
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
            Rejection::Webhook(WebhookRejection::Unavailable {
                cluster: self.watched.cluster().server().to_owned(),
                problem,
            })
        };
        let never = "the issuer's keys, or a list of the local copy, have never been read";
        if let Some(problem) = too_old(self.age(now), self.max_age, never, "the service accounts, pods and nodes") {
            return Err(unavailable(problem));
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
