//! Bearer tokens judged by the cluster: a TokenReview per token, as kube-apiserver's webhook
//! token authenticator and k8s.io/apiserver's delegating authenticator send it. Wrap it in
//! `kauth::authn::cache::TokenCache` (HMAC-keyed successes for a TTL, 10 s by default) so a
//! client's repeated requests cost one review.
//!
//! Audiences as kube-apiserver's webhook authenticator treats them: the audiences asked for go
//! in `spec.audiences`; an answer naming none is taken as valid for them (the cluster checked
//! its own API audiences); an answer naming others, none of which was asked for, is refused.

use std::sync::Arc;

use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewSpec};
use kauth::authn::{Authenticated, Rejection, TokenAuthenticator, WebhookRejection};
use kauth::user::{Extra, UserInfo};
use time::OffsetDateTime;

use crate::cluster::Cluster;

/// The authenticator's name in logs and metrics.
pub const NAME: &str = "webhook";

/// The path TokenReviews are created at.
pub const TOKEN_REVIEWS: &str = "/apis/authentication.k8s.io/v1/tokenreviews";

/// Sends each token to the cluster's TokenReview.
#[derive(Debug, Clone)]
pub struct TokenReviewAuthenticator {
    cluster: Cluster,
    audiences: Arc<[String]>,
}

impl TokenReviewAuthenticator {
    /// Asking `cluster`; tokens must be valid for one of `audiences` (empty: the cluster's API
    /// audiences, whatever they are).
    pub fn new(cluster: Cluster, audiences: Vec<String>) -> Self {
        TokenReviewAuthenticator { cluster, audiences: audiences.into() }
    }
}

/// The user a TokenReview's `status.user` names.
pub fn user_of(user: k8s_openapi::api::authentication::v1::UserInfo) -> UserInfo {
    let mut extra = Extra::default();
    for (k, values) in user.extra.unwrap_or_default() {
        extra.insert(k, values);
    }
    UserInfo {
        name: user.username.unwrap_or_default(),
        uid: user.uid.unwrap_or_default(),
        groups: user.groups.unwrap_or_default(),
        extra,
    }
}

/// The audiences the answer is good for, or why it is good for none asked.
pub fn check_audiences(wanted: &[String], got: &[String]) -> Result<Arc<[String]>, WebhookRejection> {
    if wanted.is_empty() || got.is_empty() {
        return Ok(wanted.into());
    }
    let both: Vec<String> = wanted.iter().filter(|w| got.contains(w)).cloned().collect();
    if both.is_empty() {
        return Err(WebhookRejection::AudienceMismatch { wanted: wanted.to_vec(), got: got.to_vec() });
    }
    Ok(both.into())
}

impl TokenAuthenticator for TokenReviewAuthenticator {
    fn name(&self) -> &'static str {
        NAME
    }

    fn authenticate_token(
        &self,
        token: &str,
        audiences: Option<&[String]>,
        _now: OffsetDateTime,
    ) -> Result<Option<Authenticated>, Rejection> {
        let wanted = audiences.unwrap_or(&self.audiences);
        let review = TokenReview {
            spec: TokenReviewSpec {
                token: Some(token.to_owned()),
                audiences: (!wanted.is_empty()).then(|| wanted.to_vec()),
            },
            ..Default::default()
        };
        let answer = self.cluster.create(TOKEN_REVIEWS, &review, "TokenReview").map_err(|e| {
            let (cluster, problem) = (self.cluster.server().to_owned(), e.to_string());
            // Only an outage lets a cached answer stand in; a refusal of the review is final.
            Rejection::Webhook(if let crate::cluster::ClusterError::TimedOut { seconds, .. } = e {
                WebhookRejection::TimedOut { cluster, timeout_seconds: seconds }
            } else if e.is_unavailable() {
                WebhookRejection::Unavailable { cluster, problem }
            } else {
                WebhookRejection::Refused { cluster, problem }
            })
        })?;
        let status = answer.status.unwrap_or_default();
        if status.authenticated != Some(true) {
            return Err(Rejection::Webhook(WebhookRejection::Unauthenticated {
                cluster: self.cluster.server().to_owned(),
                error: status.error.unwrap_or_default(),
            }));
        }
        let audiences =
            check_audiences(wanted, status.audiences.as_deref().unwrap_or(&[])).map_err(Rejection::Webhook)?;
        let mut authenticated = Authenticated::new(NAME, user_of(status.user.unwrap_or_default()));
        authenticated.audiences = audiences;
        Ok(Some(authenticated))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| (*s).to_owned()).collect()
    }

    #[test]
    fn audiences_as_the_webhook_authenticator_checks_them() {
        assert_eq!(&*check_audiences(&[], &s(&["a"])).unwrap(), &[] as &[String]);
        assert_eq!(&*check_audiences(&s(&["a", "b"]), &[]).unwrap(), &s(&["a", "b"])[..]);
        assert_eq!(&*check_audiences(&s(&["a", "b"]), &s(&["b", "c"])).unwrap(), &s(&["b"])[..]);
        assert_eq!(
            check_audiences(&s(&["a"]), &s(&["c"])),
            Err(WebhookRejection::AudienceMismatch { wanted: s(&["a"]), got: s(&["c"]) })
        );
    }

    #[test]
    fn a_reviews_user_becomes_kauths() {
        let user = user_of(k8s_openapi::api::authentication::v1::UserInfo {
            username: Some("alice".into()),
            uid: Some("1".into()),
            groups: Some(s(&["dev"])),
            extra: Some([("scopes".to_owned(), s(&["x", "y"]))].into()),
        });
        assert_eq!(user.name, "alice");
        assert_eq!(user.groups, s(&["dev"]));
        assert!(user.extra.get("scopes").is_some_and(|v| v == ["x", "y"]));
    }

    #[test]
    fn an_unreachable_cluster_is_a_typed_rejection() {
        let cluster = Cluster::new(crate::cluster::ClusterSettings {
            server: "https://127.0.0.1:1".into(),
            ca_pem: None,
            client_cert: None,
            bearer: None,
            bearer_file: None,
            timeout: std::time::Duration::from_secs(2),
        })
        .unwrap();
        let got =
            TokenReviewAuthenticator::new(cluster, vec![]).authenticate_token("t", None, OffsetDateTime::UNIX_EPOCH);
        assert!(matches!(got, Err(Rejection::Webhook(WebhookRejection::Unavailable { .. }))), "{got:?}");
    }
}
