//! kube-apiserver's webhook authorizer (k8s.io/apiserver `plugin/pkg/authorizer/webhook`), one
//! `Webhook` entry of an `AuthorizationConfiguration` (or `--authorization-mode=Webhook`):
//!
//! 1. The question is a SubjectAccessReview spec ([`crate::access_review::spec_of`]: user,
//!    uid, groups, extra, resource or non-resource attributes).
//! 2. Match conditions (CEL over `request`) run first: one false and the webhook has no
//!    opinion without being asked; an evaluation error decides by the failure policy.
//! 3. Answers are cached by the spec's JSON: allowed ones for `authorizedTTL`, the others for
//!    `unauthorizedTTL`; failures never.
//! 4. The review is POSTed (`authorization.k8s.io/v1` or `v1beta1`) to the kubeconfig's exact
//!    URL, or to the in-cluster API server's `subjectaccessreviews`, each call within the
//!    webhook's timeout, retried as kube's `DefaultShouldRetry` with its backoff.
//! 5. `status.denied` is a deny (the chain stops), `status.allowed` an allow, neither no
//!    opinion; `status.reason` is the reason. A failed call decides by the failure policy,
//!    `NoOpinion` or `Deny`, with an empty reason (kube-apiserver logs the error; kauth keeps it
//!    in the decision for the log and audit, [`Reason::Webhook`]).
//!
//! Calls block (ureq): the server runs a chain holding a webhook off its async workers.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use k8s_openapi::api::authorization::v1::{SubjectAccessReview, SubjectAccessReviewStatus};
use kauth::authz::config::validation::{FailurePolicy, ReviewVersion};
use kauth::authz::config::MatchConditions;
use kauth::authz::{Attributes, Authorizer, Decision, Reason, Rules};
use kauth::user::UserInfo;
use serde_json::Value;
use time::OffsetDateTime;

use crate::access_review::spec_of;
use crate::cluster::Cluster;
use crate::webhook_call::{Backoff, Sleep, WebhookCall, WebhookMetrics};

/// Entries kept at most; past it, expired entries are dropped, then the cache is cleared.
const MAX_ENTRIES: usize = 100_000;

/// A clock for the cache (the server's; a fake one in tests).
pub type Now = Arc<dyn Fn() -> OffsetDateTime + Send + Sync>;

/// One authorization webhook.
pub struct WebhookAuthorizer {
    name: String,
    call: WebhookCall,
    version: ReviewVersion,
    failure_policy: FailurePolicy,
    match_conditions: MatchConditions,
    authorized_ttl: time::Duration,
    unauthorized_ttl: time::Duration,
    cache: Mutex<HashMap<String, (OffsetDateTime, SubjectAccessReviewStatus)>>,
    now: Now,
}

impl std::fmt::Debug for WebhookAuthorizer {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookAuthorizer")
            .field("name", &self.name)
            .field("url", &self.call.server())
            .field("version", &self.version)
            .field("failure_policy", &self.failure_policy)
            .finish_non_exhaustive()
    }
}

/// How to reach a webhook: the cluster and whether it is an API server (`in_cluster`).
pub struct Target {
    /// The connection (its timeout is the webhook's).
    pub cluster: Cluster,
    /// True for `InClusterConfig`: POST to `/apis/authorization.k8s.io/<version>/subjectaccessreviews`.
    pub in_cluster: bool,
}

impl WebhookAuthorizer {
    /// The webhook `webhook` of a validated configuration, reached through `target`.
    pub fn new(webhook: kauth::authz::config::ValidWebhook, target: Target, now: Now) -> Self {
        let path = if target.in_cluster {
            let version = webhook.version.api_version().trim_start_matches("authorization.k8s.io/");
            format!("/apis/authorization.k8s.io/{version}/subjectaccessreviews")
        } else {
            String::new()
        };
        let ttl = |d: std::time::Duration| time::Duration::try_from(d).unwrap_or(time::Duration::ZERO);
        WebhookAuthorizer {
            name: webhook.name,
            call: WebhookCall::new(target.cluster, path, "SubjectAccessReview"),
            version: webhook.version,
            failure_policy: webhook.failure_policy,
            match_conditions: webhook.match_conditions,
            authorized_ttl: ttl(webhook.authorized_ttl),
            unauthorized_ttl: ttl(webhook.unauthorized_ttl),
            cache: Mutex::new(HashMap::new()),
            now,
        }
    }

    /// Retries with `backoff`, waiting through `sleep`.
    pub fn with_backoff(mut self, backoff: Backoff, sleep: Arc<dyn Sleep>) -> Self {
        self.call = self.call.with_backoff(backoff, sleep);
        self
    }

    /// Tells `metrics` of every call.
    pub fn with_metrics(mut self, metrics: Arc<dyn WebhookMetrics>) -> Self {
        self.call = self.call.with_metrics(metrics);
        self
    }

    /// The webhook's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn failed(&self, error: String) -> Decision {
        let reason = Reason::Webhook { webhook: self.name.clone(), reason: String::new(), error: Some(error) };
        match self.failure_policy {
            FailurePolicy::NoOpinion => Decision::NoOpinion(reason),
            FailurePolicy::Deny => Decision::Deny(reason),
        }
    }

    fn cached(&self, key: &str, now: OffsetDateTime) -> Option<SubjectAccessReviewStatus> {
        let cache = self.cache.lock().ok()?;
        cache.get(key).filter(|(expires, _)| now < *expires).map(|(_, s)| s.clone())
    }

    fn store(&self, key: String, now: OffsetDateTime, status: &SubjectAccessReviewStatus) {
        let ttl = if status.allowed { self.authorized_ttl } else { self.unauthorized_ttl };
        if ttl <= time::Duration::ZERO {
            return;
        }
        if let Ok(mut cache) = self.cache.lock() {
            if cache.len() >= MAX_ENTRIES {
                cache.retain(|_, (expires, _)| now < *expires);
                if cache.len() >= MAX_ENTRIES {
                    cache.clear();
                }
            }
            cache.insert(key, (now + ttl, status.clone()));
        }
    }
}

/// The review sent, in `version` (v1 and v1beta1 carry the same fields; v1beta1 names the
/// groups `group`).
pub fn review(version: ReviewVersion, spec: &k8s_openapi::api::authorization::v1::SubjectAccessReviewSpec) -> Value {
    let mut v =
        serde_json::to_value(SubjectAccessReview { spec: spec.clone(), ..Default::default() }).unwrap_or(Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.insert("apiVersion".into(), Value::String(version.api_version().into()));
        o.remove("status");
        if version == ReviewVersion::V1beta1 {
            if let Some(spec) = o.get_mut("spec").and_then(Value::as_object_mut) {
                if let Some(groups) = spec.remove("groups") {
                    spec.insert("group".into(), groups);
                }
            }
        }
    }
    v
}

/// The `status` of the webhook's answer: a SubjectAccessReview of either version. Untrusted
/// input: anything else is an error naming what is wrong.
pub fn decode_answer(body: &Value) -> Result<SubjectAccessReviewStatus, String> {
    let kind = body.get("kind").and_then(Value::as_str).unwrap_or("");
    if kind != "SubjectAccessReview" {
        return Err(format!("the answer's kind is {kind:?}, not \"SubjectAccessReview\""));
    }
    let api_version = body.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if api_version != ReviewVersion::V1.api_version() && api_version != ReviewVersion::V1beta1.api_version() {
        return Err(format!("the answer's apiVersion is {api_version:?}, not authorization.k8s.io/v1 or v1beta1"));
    }
    let status = body.get("status").cloned().unwrap_or(Value::Object(Default::default()));
    serde_json::from_value(status).map_err(|e| format!("the answer's status is not a SubjectAccessReviewStatus: {e}"))
}

impl Authorizer for WebhookAuthorizer {
    fn authorize(&self, a: &Attributes) -> Decision {
        let spec = spec_of(a);
        match self.match_conditions.matches(&spec) {
            Ok(true) => {}
            Ok(false) => return Decision::NoOpinion(Reason::None),
            Err(e) => return self.failed(e.to_string()),
        }
        let key = serde_json::to_string(&spec).unwrap_or_default();
        let now = (self.now)();
        let status = match self.cached(&key, now) {
            Some(status) => status,
            None => {
                let answer = match self.call.post(&review(self.version, &spec)) {
                    Ok(answer) => answer,
                    Err(e) => return self.failed(e.to_string()),
                };
                let status = match decode_answer(&answer) {
                    Ok(status) => status,
                    Err(e) => return self.failed(e),
                };
                self.store(key, now, &status);
                status
            }
        };
        let error = (status.allowed && status.denied == Some(true))
            .then(|| "webhook subject access review returned both allow and deny response".to_owned());
        let reason = Reason::Webhook { webhook: self.name.clone(), reason: status.reason.unwrap_or_default(), error };
        if status.denied == Some(true) {
            Decision::Deny(reason)
        } else if status.allowed {
            Decision::Allow(reason)
        } else {
            Decision::NoOpinion(reason)
        }
    }

    /// kube's webhook authorizer cannot list rules: incomplete, with its error.
    fn rules_for(&self, _user: &UserInfo, _namespace: &str) -> Rules {
        Rules {
            incomplete: true,
            evaluation_error: "webhook authorizer does not support user rule resolution".into(),
            ..Rules::default()
        }
    }
}

#[cfg(test)]
#[path = "authz_webhook_tests.rs"]
mod tests;
