//! A review's answer as its k8s-openapi status: who a token is (TokenReview), what the
//! authorizer decided (the SubjectAccessReview family). Both review paths answer through these:
//! the general one (`reviews.rs`) and the typed one (`typed_review.rs`).

use k8s_openapi::api::authentication::{self, v1::TokenReviewStatus};
use k8s_openapi::api::authorization::v1::SubjectAccessReviewStatus;
use kauth::authn::{Rejection, TokenAuthenticator};
use kauth::authz::{Attributes, Decision};
use kauth::user::UserInfo;

use crate::state::State;

/// A user as a review's `UserInfo`: uid, groups and extra only when set.
pub fn user_info(u: &UserInfo) -> authentication::v1::UserInfo {
    into_user_info(u.clone())
}

/// [`user_info`] of a user the caller owns: its name, uid and groups move into the answer.
pub fn into_user_info(u: UserInfo) -> authentication::v1::UserInfo {
    authentication::v1::UserInfo {
        extra: (!u.extra.is_empty()).then(|| u.extra.iter().map(|(k, v)| (k.to_owned(), v.to_vec())).collect()),
        username: Some(u.name),
        uid: (!u.uid.is_empty()).then_some(u.uid),
        groups: (!u.groups.is_empty()).then_some(u.groups),
    }
}

/// Who `token` is, as a TokenReview's status, for `audiences` (none: the server's own).
pub fn token_review_status(state: &State, token: &str, audiences: &[String]) -> TokenReviewStatus {
    let requested = if audiences.is_empty() { None } else { Some(audiences) };
    let start = std::time::Instant::now();
    // The rejection travels only on the refusal path, as everywhere in kauth::authn.
    #[allow(clippy::result_large_err)]
    let result = crate::authentication::off_workers(state.config.remote_authentication, || {
        state.tokens.authenticate_token(token, requested, state.now())
    });
    state.metrics.token_review(&result, start.elapsed());
    let refused = |error: String| TokenReviewStatus {
        user: Some(authentication::v1::UserInfo::default()),
        error: Some(error),
        ..Default::default()
    };
    match result {
        // The chain added `system:authenticated`.
        Ok(Some(a)) => {
            let auds = if a.audiences.is_empty() { state.config.api_audiences.clone() } else { a.audiences.to_vec() };
            TokenReviewStatus {
                authenticated: Some(true),
                user: Some(into_user_info(a.user)),
                audiences: Some(auds),
                error: None,
            }
        }
        Ok(None) => refused(Rejection::NotRecognised.explained()),
        Err(rejection) => {
            refused(crate::authentication::rejection_reason(&rejection, state.replicas.as_deref(), state.now()))
        }
    }
}

/// The authorizer's decision on `attrs`, as an access review's status: denied only when an
/// authorizer denied, the reason only when there is one (as kube-apiserver answers).
pub fn access_review_status(state: &State, attrs: &Attributes) -> SubjectAccessReviewStatus {
    let decision = state.authorize(attrs);
    let reason = decision.reason().text();
    SubjectAccessReviewStatus {
        allowed: matches!(decision, Decision::Allow(_)),
        denied: matches!(decision, Decision::Deny(_)).then_some(true),
        reason: (!reason.is_empty()).then_some(reason),
        evaluation_error: None,
    }
}
