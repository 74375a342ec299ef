use kauth::authz::config::{load, ValidAuthorizer};
use kauth::authz::Target as AuthzTarget;
use serde_json::json;

use super::*;
use crate::cluster::ClusterSettings;

fn webhook(policy: &str, conditions: &str) -> kauth::authz::config::ValidWebhook {
    let yaml = format!(
        "apiVersion: apiserver.config.k8s.io/v1beta1
kind: AuthorizationConfiguration
authorizers:
- type: Webhook
  name: wh
  webhook:
    timeout: 2s
    subjectAccessReviewVersion: v1beta1
    matchConditionSubjectAccessReviewVersion: v1
    failurePolicy: {policy}
    connectionInfo:
      type: InClusterConfig
{conditions}"
    );
    let mut config = load(yaml.as_bytes(), &|_| Ok(true)).expect("valid");
    match config.authorizers.remove(0) {
        ValidAuthorizer::Webhook(w) => w,
        other => panic!("{other:?}"),
    }
}

/// A webhook nobody listens for: a refused connection, final at once.
fn unreachable(policy: &str, conditions: &str) -> WebhookAuthorizer {
    let cluster = Cluster::new(ClusterSettings {
        server: "https://127.0.0.1:1".into(),
        ca_pem: None,
        client_cert: None,
        bearer: None,
        bearer_file: None,
        timeout: std::time::Duration::from_secs(2),
    })
    .expect("cluster");
    WebhookAuthorizer::new(
        webhook(policy, conditions),
        Target { cluster, in_cluster: true },
        Arc::new(|| OffsetDateTime::UNIX_EPOCH),
    )
}

fn attrs(namespace: &str) -> Attributes {
    Attributes {
        user: UserInfo { name: "alice".into(), groups: vec!["dev".into()], ..Default::default() },
        verb: "get".into(),
        target: AuthzTarget::Resource {
            namespace: namespace.into(),
            api_group: String::new(),
            api_version: "v1".into(),
            resource: "pods".into(),
            subresource: String::new(),
            name: String::new(),
        },
    }
}

#[test]
fn a_failed_call_decides_by_the_failure_policy() {
    let deny = unreachable("Deny", "").authorize(&attrs("team"));
    assert!(
        matches!(&deny, Decision::Deny(Reason::Webhook { reason, error: Some(_), .. }) if reason.is_empty()),
        "{deny:?}"
    );
    assert_eq!(deny.reason().to_string(), "", "clients see an empty reason, as from kube-apiserver");
    assert!(deny.reason().detail().is_some_and(|d| d.contains("authorization webhook \"wh\" failed")));
    let no_opinion = unreachable("NoOpinion", "").authorize(&attrs("team"));
    assert!(matches!(no_opinion, Decision::NoOpinion(Reason::Webhook { error: Some(_), .. })), "{no_opinion:?}");
}

#[test]
fn a_false_match_condition_skips_the_webhook_without_asking() {
    let skip = "    matchConditions:\n    - expression: request.resourceAttributes.namespace != 'kube-system'\n";
    // The webhook is unreachable and the policy is Deny: only a skipped call gives no opinion.
    let a = unreachable("Deny", skip);
    assert_eq!(a.authorize(&attrs("kube-system")), Decision::NoOpinion(Reason::None));
    assert!(matches!(a.authorize(&attrs("team")), Decision::Deny(_)));
    // A condition that errors decides by the failure policy.
    let erring = "    matchConditions:\n    - expression: request.nonResourceAttributes.path == '/x'\n";
    let d = unreachable("Deny", erring).authorize(&attrs("team"));
    let detail = d.reason().detail().unwrap_or_default();
    assert!(matches!(d, Decision::Deny(_)) && detail.contains("cel evaluation error"), "{detail}");
}

#[test]
fn cached_answers_stand_for_their_ttl() {
    let a = unreachable("Deny", "");
    let spec = spec_of(&attrs("team"));
    let key = serde_json::to_string(&spec).expect("json");
    let allowed = SubjectAccessReviewStatus { allowed: true, reason: Some("ok".into()), ..Default::default() };
    a.store(key, OffsetDateTime::UNIX_EPOCH, &allowed);
    // No call is made (it would fail and deny): the cached allow answers.
    let d = a.authorize(&attrs("team"));
    assert!(d.is_allowed() && d.reason().to_string() == "ok", "{d:?}");
}

#[test]
fn reviews_and_answers_on_the_wire() {
    let spec = spec_of(&attrs("team"));
    let v1beta1 = review(ReviewVersion::V1beta1, &spec);
    assert_eq!(v1beta1["apiVersion"], "authorization.k8s.io/v1beta1");
    assert_eq!(v1beta1["kind"], "SubjectAccessReview");
    assert_eq!(v1beta1["spec"]["group"], json!(["dev"]));
    assert!(v1beta1["spec"].get("groups").is_none());
    assert_eq!(v1beta1["spec"]["resourceAttributes"]["namespace"], "team");
    let v1 = review(ReviewVersion::V1, &spec);
    assert_eq!(v1["spec"]["groups"], json!(["dev"]));
    let denied = json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview",
        "status": {"allowed": false, "denied": true, "reason": "no"}});
    let status = decode_answer(&denied).expect("answer");
    assert_eq!((status.allowed, status.denied, status.reason.as_deref()), (false, Some(true), Some("no")));
    assert!(decode_answer(&json!({"kind": "TokenReview"})).unwrap_err().contains("not \"SubjectAccessReview\""));
    assert!(decode_answer(
        &json!({"apiVersion": "authorization.k8s.io/v1", "kind": "SubjectAccessReview", "status": {"allowed": "yes"}})
    )
    .is_err());
}
