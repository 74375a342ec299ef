//! The identity check: who the server says the credential is (SelfSubjectReview, the wire form
//! of `kubectl auth whoami`), and what it may do in the context's namespace
//! (SelfSubjectRulesReview, summarized; a warning when it can do nothing).

use k8s_openapi::api::authentication::v1::SelfSubjectReview;
use k8s_openapi::api::authorization::v1::{ResourceRule, SelfSubjectRulesReview};

use super::finding::{Check, Report};
use crate::api_client::ApiClient;

/// What the server said about the credential.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Identity {
    /// It authenticated the request as this user.
    Authenticated {
        /// The user name.
        user: String,
        /// The groups.
        groups: Vec<String>,
    },
    /// It refused it.
    Refused {
        /// The HTTP status (401).
        status: u16,
        /// The Status message.
        message: String,
    },
    /// The question could not be asked (no trusted connection, or no answer).
    Unknown(String),
}

fn message(body: &str) -> String {
    serde_json::from_str::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
        .unwrap_or_else(|| body.chars().take(200).collect())
}

/// Asks the server who the credential is.
pub fn whoami(api: &ApiClient) -> Identity {
    let body = r#"{"apiVersion":"authentication.k8s.io/v1","kind":"SelfSubjectReview"}"#;
    let answer = match api.call("/apis/authentication.k8s.io/v1/selfsubjectreviews", Some(body)) {
        Ok(a) => a,
        Err(e) => return Identity::Unknown(e),
    };
    if !(200..300).contains(&answer.status) {
        return Identity::Refused { status: answer.status, message: message(&answer.body) };
    }
    match serde_json::from_str::<SelfSubjectReview>(&answer.body) {
        Ok(r) => {
            let info = r.status.and_then(|s| s.user_info).unwrap_or_default();
            Identity::Authenticated { user: info.username.unwrap_or_default(), groups: info.groups.unwrap_or_default() }
        }
        Err(e) => Identity::Unknown(format!("the SelfSubjectReview answer is not one: {e}")),
    }
}

/// Records the identity, and a refusal unless `explained` (another check already found why).
pub fn report_identity(identity: &Identity, explained: bool, report: &mut Report) {
    match identity {
        Identity::Authenticated { user, groups } => {
            report.note(Check::Identity, format!("the server authenticates the credential as user {user:?}, groups {groups:?}"));
        }
        Identity::Refused { status: 401, message } if explained => {
            report.note(Check::Identity, format!("the server refuses the credential (401 {message}), as the findings above explain"));
        }
        Identity::Refused { status: 401, message } => report.error(
            Check::Identity,
            format!("the server refuses the credential: 401 {message}, and no check here found why"),
            "read the API server's log for \"Unable to authenticate the request\" at this time (kauth serve logs the precise reason, and its audit event carries it); a deleted service account, pod or Secret a token is bound to is refused this way",
        ),
        Identity::Refused { status, message } => report.error(
            Check::Identity,
            format!("SelfSubjectReview answered {status}: {message}"),
            "the server may predate authentication.k8s.io/v1 SelfSubjectReview (Kubernetes 1.28), or a proxy answers instead of it",
        ),
        Identity::Unknown(why) => report.note(Check::Identity, format!("who the credential is was not asked: {why}")),
    }
}

/// Resources every authenticated user may create (about itself): not permissions that matter.
const SELF_REVIEWS: [&str; 3] = ["selfsubjectaccessreviews", "selfsubjectrulesreviews", "selfsubjectreviews"];

fn meaningful(rule: &ResourceRule) -> bool {
    rule.resources.as_deref().unwrap_or_default().iter().any(|r| !SELF_REVIEWS.contains(&r.as_str()))
}

/// Summarizes what `user` may do in `namespace`; warns when it may do nothing.
pub fn permissions(api: &ApiClient, user: &str, namespace: &str, report: &mut Report) {
    let body = serde_json::json!({
        "apiVersion": "authorization.k8s.io/v1",
        "kind": "SelfSubjectRulesReview",
        "spec": {"namespace": namespace},
    })
    .to_string();
    let answer = match api.call("/apis/authorization.k8s.io/v1/selfsubjectrulesreviews", Some(&body)) {
        Ok(a) if (200..300).contains(&a.status) => a,
        Ok(a) => {
            report.note(
                Check::Identity,
                format!(
                    "what it may do was not asked: SelfSubjectRulesReview answered {} {}",
                    a.status,
                    message(&a.body)
                ),
            );
            return;
        }
        Err(e) => {
            report.note(Check::Identity, format!("what it may do was not asked: {e}"));
            return;
        }
    };
    let status = match serde_json::from_str::<SelfSubjectRulesReview>(&answer.body) {
        Ok(r) => r.status.unwrap_or_default(),
        Err(e) => {
            report.note(Check::Identity, format!("the SelfSubjectRulesReview answer is not one: {e}"));
            return;
        }
    };
    let rules: Vec<&ResourceRule> = status.resource_rules.iter().filter(|r| meaningful(r)).collect();
    if rules.is_empty() {
        let incomplete = if status.incomplete {
            " (the server says its list is incomplete: a webhook authorizer may still allow more)"
        } else {
            ""
        };
        report.warn(
            Check::Identity,
            format!("user {user:?} may do nothing in namespace {namespace:?} beyond what every authenticated user may (discovery, reviews about itself): no RoleBinding or ClusterRoleBinding names it or its groups{incomplete}"),
            format!("bind a role to it: kubectl create rolebinding {user}-view --clusterrole=view --user={user} -n {namespace} (or a ClusterRoleBinding, or bind one of its groups); kauth access-matrix --user {user} shows the result"),
        );
        return;
    }
    let everything = rules.iter().any(|r| {
        r.verbs.iter().any(|v| v == "*") && r.resources.as_deref().unwrap_or_default().iter().any(|x| x == "*")
    });
    if everything {
        report.note(
            Check::Identity,
            format!("it may do everything in namespace {namespace:?} (a rule with verbs * on resources *)"),
        );
        return;
    }
    let sample: Vec<String> = rules
        .iter()
        .take(3)
        .map(|r| format!("{} {}", r.verbs.join(","), r.resources.as_deref().unwrap_or_default().join(",")))
        .collect();
    report.note(
        Check::Identity,
        format!(
            "it may, in namespace {namespace:?}, by {} rule(s): {}{}",
            rules.len(),
            sample.join("; "),
            if rules.len() > 3 { "; ..." } else { "" }
        ),
    );
}
