use std::path::Path;

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReviewSpec};

use super::validation::{Connection, FailurePolicy, ReviewVersion};
use super::*;

fn exists(p: &Path) -> Result<bool, String> {
    match p.to_str() {
        Some("/etc/kauth/webhook.conf") => Ok(true),
        Some("/etc") => Ok(false),
        _ => Err(format!("stat {}: no such file or directory", p.display())),
    }
}

fn text(yaml: &str) -> String {
    load(yaml.as_bytes(), &exists).map(|_| String::new()).unwrap_or_else(|e| e.kubernetes_text())
}

const HEAD: &str = "apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthorizationConfiguration\n";

fn webhook(fields: &str) -> String {
    format!("{HEAD}authorizers:\n- type: Webhook\n  name: wh\n  webhook:\n{fields}")
}

const GOOD: &str = "    timeout: 3s
    subjectAccessReviewVersion: v1
    matchConditionSubjectAccessReviewVersion: v1
    failurePolicy: Deny
    connectionInfo:
      type: KubeConfigFile
      kubeConfigFile: /etc/kauth/webhook.conf
    matchConditions:
    - expression: has(request.resourceAttributes)
    - expression: \"!(\\\"kube-system\\\" == request.resourceAttributes.namespace)\"
";

#[test]
fn a_documented_chain_loads_with_defaults() {
    let yaml = format!("{}- type: Node\n  name: node\n- type: RBAC\n  name: rbac\n", webhook(GOOD));
    let config = load(yaml.as_bytes(), &exists).expect("valid");
    assert_eq!(config.authorizers.len(), 3);
    let ValidAuthorizer::Webhook(w) = &config.authorizers[0] else { panic!("webhook first") };
    assert_eq!(w.name, "wh");
    assert_eq!(w.timeout.as_secs(), 3);
    assert_eq!((w.authorized_ttl.as_secs(), w.unauthorized_ttl.as_secs()), (300, 30));
    assert_eq!(w.version, ReviewVersion::V1);
    assert_eq!(w.failure_policy, FailurePolicy::Deny);
    assert_eq!(w.connection, Connection::KubeConfigFile("/etc/kauth/webhook.conf".into()));
    assert_eq!(w.match_conditions.len(), 2);
    assert!(matches!(config.authorizers[1], ValidAuthorizer::Node));
    assert!(matches!(config.authorizers[2], ValidAuthorizer::Rbac));
}

#[test]
fn field_errors_read_as_kube_apiservers() {
    assert_eq!(text(HEAD), "authorizers: Required value: at least one authorization mode must be defined");
    assert_eq!(
        text(&format!("{HEAD}authorizers:\n- type: Foo\n  name: foo\n")),
        "authorizers[0].type: Unsupported value: \"Foo\": supported values: \"ABAC\", \"AlwaysAllow\", \"AlwaysDeny\", \"Node\", \"RBAC\", \"Webhook\""
    );
    assert_eq!(
        text(&format!("{HEAD}authorizers:\n- type: RBAC\n  name: rbac\n- type: RBAC\n  name: rbac2\n")),
        "authorizers[1].type: Duplicate value: \"RBAC\""
    );
    assert_eq!(
        text(&format!("{HEAD}authorizers:\n- type: Webhook\n  name: w\n")),
        "authorizers[0].webhook: Required value: required when type=Webhook"
    );
    assert_eq!(
        text(&format!("{HEAD}authorizers:\n- type: RBAC\n  name: r\n")),
        "expected name rbac for authorizer RBAC instead of r"
    );
    assert!(text(&format!("{HEAD}authorizers:\n- type: RBAC\n  name: Bad_Name\n")).starts_with(
        "authorizers[0].name: Invalid value: \"Bad_Name\": authorizer name is invalid: a lowercase RFC 1123 subdomain"
    ));
    assert_eq!(
        text(&webhook("    timeout: 31s\n    subjectAccessReviewVersion: v2\n    failurePolicy: Allow\n    connectionInfo:\n      type: KubeConfigFile\n      kubeConfigFile: webhook.conf\n    matchConditions:\n    - expression: 'true'\n")),
        "[authorizers[0].timeout: Invalid value: \"31s\": must be > 0s and <= 30s, \
authorizers[0].subjectAccessReviewVersion: Unsupported value: \"v2\": supported values: \"v1\", \"v1beta1\", \
authorizers[0].matchConditionSubjectAccessReviewVersion: Required value: required if match conditions are specified, \
authorizers[0].failurePolicy: Unsupported value: \"Allow\": supported values: \"NoOpinion\", \"Deny\", \
authorizers[0].connectionInfo.kubeConfigFile: Invalid value: \"webhook.conf\": must be an absolute path]"
    );
    assert_eq!(
        text(&webhook("    subjectAccessReviewVersion: v1\n    failurePolicy: Deny\n    connectionInfo:\n      type: KubeConfigFile\n      kubeConfigFile: /nope\n")),
        "[authorizers[0].timeout: Required value, authorizers[0].connectionInfo.kubeConfigFile: Invalid value: \"/nope\": error loading file: stat /nope: no such file or directory]"
    );
    assert_eq!(
        text(&webhook("    timeout: 1s\n    subjectAccessReviewVersion: v1\n    failurePolicy: Deny\n    connectionInfo:\n      type: InClusterConfig\n      kubeConfigFile: /etc\n")),
        "authorizers[0].connectionInfo.kubeConfigFile: Invalid value: \"/etc\": can only be set when type=KubeConfigFile"
    );
    assert_eq!(
        text(&webhook("    timeout: 1s\n    authorizedTTL: -1s\n    subjectAccessReviewVersion: v1\n    failurePolicy: Deny\n    connectionInfo:\n      type: InClusterConfig\n")),
        "authorizers[0].authorizedTTL: Invalid value: \"-1s\": must be > 0s"
    );
}

#[test]
fn match_conditions_are_compiled_at_load() {
    let bad = text(&webhook(&GOOD.replace("has(request.resourceAttributes)", "request.namespace == 'x'")));
    assert!(
        bad.starts_with("authorizers[0].matchConditions[0].expression: Invalid value: \"request.namespace == 'x'\": compilation failed: ERROR: <input>:1:8: undefined field 'namespace'"),
        "{bad}"
    );
    let dup = text(&webhook(&GOOD.replace(
        "has(request.resourceAttributes)",
        "\"!(\\\"kube-system\\\" == request.resourceAttributes.namespace)\"",
    )));
    assert!(dup.starts_with("authorizers[0].matchConditions[1].expression: Duplicate value: "), "{dup}");
    let not_bool = text(&webhook(&GOOD.replace("has(request.resourceAttributes)", "request.user")));
    assert_eq!(
        not_bool,
        "authorizers[0].matchConditions[0].expression: Invalid value: \"request.user\": must evaluate to bool"
    );
}

#[test]
fn decoding_is_strict() {
    assert_eq!(
        text(&format!("{HEAD}authorizers:\n- type: RBAC\n  name: rbac\n  color: blue\n")),
        "failed to load AuthorizationConfiguration from file: strict decoding error: unknown field \"authorizers[0].color\""
    );
    assert!(text("apiVersion: apiserver.config.k8s.io/v2\nkind: AuthorizationConfiguration\n")
        .contains("no kind \"AuthorizationConfiguration\" is registered for version \"apiserver.config.k8s.io/v2\""));
    for version in VERSIONS {
        let yaml = format!("apiVersion: {GROUP}/{version}\nkind: {KIND}\nauthorizers:\n- type: RBAC\n  name: rbac\n");
        assert!(load(yaml.as_bytes(), &exists).is_ok(), "{version}");
    }
    assert!(matches!(load(b"", &exists), Err(ConfigError::Decode(_))));
    assert!(matches!(load(b"[1, 2", &exists), Err(ConfigError::Decode(_))));
}

fn spec(namespace: &str) -> SubjectAccessReviewSpec {
    SubjectAccessReviewSpec {
        user: Some("alice".into()),
        resource_attributes: Some(ResourceAttributes { namespace: Some(namespace.into()), ..Default::default() }),
        ..Default::default()
    }
}

#[test]
fn match_conditions_decide_whether_to_ask() {
    let config = load(webhook(GOOD).as_bytes(), &exists).expect("valid");
    let ValidAuthorizer::Webhook(w) = &config.authorizers[0] else { panic!("webhook") };
    assert_eq!(w.match_conditions.matches(&spec("team")), Ok(true));
    assert_eq!(w.match_conditions.matches(&spec("kube-system")), Ok(false));
    // A non-resource request: the first condition is false, so the second's error is not reported.
    let non_resource = SubjectAccessReviewSpec { user: Some("alice".into()), ..Default::default() };
    assert_eq!(w.match_conditions.matches(&non_resource), Ok(false));
    // An error without a false condition is the answer (the failure policy then decides).
    let erring =
        webhook(&GOOD.replace("has(request.resourceAttributes)", "request.nonResourceAttributes.path == '/x'"));
    let config = load(erring.as_bytes(), &exists).expect("valid");
    let ValidAuthorizer::Webhook(w) = &config.authorizers[0] else { panic!("webhook") };
    let err = w.match_conditions.matches(&spec("team")).unwrap_err();
    assert!(
        err.to_string().starts_with(
            "cel evaluation error: expression 'request.nonResourceAttributes.path == '/x'' resulted in error: "
        ),
        "{err}"
    );
}

#[test]
fn legacy_flags_become_a_configuration() {
    let flags = LegacyWebhookFlags {
        config_file: Some("/etc/kauth/webhook.conf".into()),
        version: "v1beta1".into(),
        authorized_ttl: std::time::Duration::from_secs(300),
        unauthorized_ttl: std::time::Duration::from_secs(30),
    };
    let modes = |m: &[&str]| m.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let config = from_modes(&modes(&["Node", "Webhook", "RBAC"]), &flags).expect("modes");
    let valid = validation::validate(&config, &exists).expect("valid");
    let ValidAuthorizer::Webhook(w) = &valid.authorizers[1] else { panic!("webhook second") };
    assert_eq!((w.name.as_str(), w.timeout.as_secs(), w.version), ("webhook", 30, ReviewVersion::V1beta1));
    assert_eq!(w.failure_policy, FailurePolicy::NoOpinion);
    let none = LegacyWebhookFlags { config_file: None, ..flags.clone() };
    assert_eq!(
        from_modes(&modes(&["Webhook"]), &none).unwrap_err(),
        "authorization-mode Webhook's authorization config file not passed"
    );
    assert_eq!(
        from_modes(&modes(&["RBAC"]), &flags).unwrap_err(),
        "cannot specify --authorization-webhook-config-file without mode Webhook"
    );
    assert_eq!(from_modes(&modes(&["Foo"]), &none).unwrap_err(), "authorization-mode \"Foo\" is not a valid mode");
}
