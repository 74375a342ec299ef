//! The lint's checks, one policy each, asserted on finding kinds.

use super::*;

fn rule(verbs: &[&str], groups: &[&str], res: &[&str]) -> PolicyRule {
    PolicyRule {
        verbs: verbs.iter().map(|s| s.to_string()).collect(),
        api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
        resources: Some(res.iter().map(|s| s.to_string()).collect()),
        ..PolicyRule::default()
    }
}

#[test]
fn risky_rules() {
    let codes = |r: PolicyRule| risks(&r).into_iter().map(Risk::code).collect::<Vec<_>>();
    assert_eq!(codes(rule(&["get"], &[""], &["pods"])), Vec::<&str>::new());
    assert_eq!(codes(rule(&["list"], &[""], &["secrets"])), ["secrets-read"]);
    assert_eq!(codes(rule(&["bind"], &["rbac.authorization.k8s.io"], &["clusterroles"])), ["bind"]);
    assert_eq!(codes(rule(&["impersonate"], &[""], &["serviceaccounts"])), ["impersonate"]);
    assert_eq!(codes(rule(&["impersonate"], &["authentication.k8s.io"], &["uids"])), ["impersonate"]);
    assert_eq!(codes(rule(&["create"], &[""], &["serviceaccounts/token"])), ["token-create"]);
    assert_eq!(
        codes(rule(&["*"], &["*"], &["*"])),
        ["wildcard-verbs", "wildcard-resources", "escalate", "bind", "impersonate", "secrets-read", "token-create"]
    );
}

const POLICY: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: dangling}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: gone}
subjects: [{kind: User, name: bob}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: secret-reader}
rules:
- {apiGroups: [""], resources: [secrets], verbs: [get]}
- {apiGroups: [""], resources: [secrets, configmaps], verbs: [list]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: auditors, namespace: prod}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: secret-reader}
subjects: [{kind: Group, name: auditors}, {kind: Group, name: system:masters}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: idle, namespace: prod}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: aggregated-part, labels: {part-of: parent}}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: parent}
aggregationRule: {clusterRoleSelectors: [{matchLabels: {part-of: parent}}]}
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: parent-users}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: parent}
subjects: [{kind: User, name: ann}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRole
metadata: {name: everything, labels: {kubernetes.io/bootstrapping: rbac-defaults}}
rules: [{apiGroups: ["*"], resources: ["*"], verbs: ["*"]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: ClusterRoleBinding
metadata: {name: default-missing, labels: {kubernetes.io/bootstrapping: rbac-defaults}}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: ClusterRole, name: absent}
subjects: [{kind: Group, name: system:masters}]
"#;

fn findings(defaults: Defaults) -> Vec<(FindingKind, String)> {
    let mut docs = PolicyDocuments::new();
    docs.parse("test", POLICY).expect("parses");
    docs.aggregate();
    lint(&docs, defaults).into_iter().map(|f| (f.kind, f.object.to_string())).collect()
}

#[test]
fn finds_missing_roles_masters_risks_and_unused_roles_in_report_order() {
    let secrets = FindingKind::Risk(Risk::SecretsRead);
    assert_eq!(
        findings(Defaults::Skip),
        [
            (FindingKind::MissingRole, r#"ClusterRoleBinding "dangling""#.to_owned()),
            (FindingKind::MissingRole, r#"ClusterRoleBinding "default-missing""#.to_owned()),
            (secrets, r#"ClusterRole "secret-reader""#.to_owned()),
            (FindingKind::SystemMasters, r#"RoleBinding "auditors/prod""#.to_owned()),
            (FindingKind::UnusedRole, r#"Role "idle/prod""#.to_owned()),
        ],
        "one secrets-read per role; aggregated-part is used by parent; defaults skipped but for missing roles"
    );
    let all = findings(Defaults::Include);
    assert!(all.contains(&(FindingKind::Risk(Risk::WildcardVerbs), r#"ClusterRole "everything""#.to_owned())));
    assert!(all.contains(&(FindingKind::SystemMasters, r#"ClusterRoleBinding "default-missing""#.to_owned())));
}

#[test]
fn a_finding_says_who_is_bound_and_serializes_as_text() {
    let mut docs = PolicyDocuments::new();
    docs.parse("test", POLICY).expect("parses");
    let found = lint(&docs, Defaults::Skip);
    let risk = found.iter().find(|f| matches!(f.kind, FindingKind::Risk(_))).expect("a risk");
    assert_eq!(risk.severity(), Severity::Warning);
    assert_eq!(
        serde_json::to_value(risk).ok(),
        Some(serde_json::json!({
            "severity": "warning",
            "code": "secrets-read",
            "object": "ClusterRole \"secret-reader\"",
            "message": "can read Secrets (service-account tokens, TLS keys, credentials); bound by RoleBinding \
                \"auditors/prod\" to Group \"auditors\", Group \"system:masters\"; rule {APIGroups:[\"\"], \
                Resources:[\"secrets\"], Verbs:[\"get\"]}",
        }))
    );
    let missing = &found[0];
    assert_eq!(missing.severity(), Severity::Error);
    assert!(
        missing.message.contains(r#"clusterrole.rbac.authorization.k8s.io "gone" not found"#),
        "{}",
        missing.message
    );
}
