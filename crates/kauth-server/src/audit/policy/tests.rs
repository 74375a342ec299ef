//! The policy matched as kube-apiserver matches it (cases after its checker's tests).

use super::*;
use crate::api::request_info::parse;

const POLICY: &str = r#"
apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: [RequestReceived]
rules:
- level: None
  users: ["system:kube-proxy"]
  verbs: ["watch"]
- level: None
  nonResourceURLs: ["/healthz*", "/version"]
- level: Metadata
  resources:
  - group: ""
    resources: ["secrets", "configmaps"]
- level: Request
  userGroups: ["system:serviceaccounts"]
  omitStages: [ResponseStarted]
- level: RequestResponse
  resources:
  - group: "rbac.authorization.k8s.io"
  namespaces: ["team", ""]
- level: Request
  resources:
  - group: ""
    resources: ["pods/log", "*/status", "serviceaccounts/*"]
    resourceNames: ["app"]
- level: Metadata
  omitManagedFields: true
"#;

fn policy() -> Policy {
    Policy::parse("policy.yaml", POLICY).unwrap()
}

fn decide(user: Option<(&str, &[String])>, method: &str, path: &str) -> Decision {
    let info = parse(method, path, false);
    policy().evaluate(&Attributes { user, info: &info })
}

fn level(user: &str, groups: &[&str], method: &str, path: &str) -> Level {
    let groups: Vec<String> = groups.iter().map(|g| (*g).to_owned()).collect();
    decide(Some((user, &groups)), method, path).level
}

#[test]
fn the_first_matching_rule_decides() {
    let watch = parse("GET", "/api/v1/namespaces/default/pods", true);
    let groups: Vec<String> = vec![];
    let d = policy().evaluate(&Attributes { user: Some(("system:kube-proxy", &groups)), info: &watch });
    assert_eq!(d.level, Level::None);
    assert_eq!(level("system:kube-proxy", &[], "GET", "/api/v1/namespaces/default/pods"), Level::Metadata);
    assert_eq!(level("alice", &[], "GET", "/healthz"), Level::None);
    assert_eq!(level("alice", &[], "GET", "/healthz/ready"), Level::None, "a prefix*");
    assert_eq!(level("alice", &[], "GET", "/version"), Level::None);
    assert_eq!(level("alice", &[], "GET", "/versions"), Level::Metadata, "not a prefix without *");
    assert_eq!(level("sa", &["system:serviceaccounts"], "GET", "/api/v1/namespaces/x/secrets/s"), Level::Metadata);
    assert_eq!(level("sa", &["system:serviceaccounts"], "GET", "/api/v1/namespaces/x/pods"), Level::Request);
}

#[test]
fn resources_match_by_group_namespace_name_and_subresource() {
    let rbac = "/apis/rbac.authorization.k8s.io/v1";
    assert_eq!(level("alice", &[], "GET", &format!("{rbac}/namespaces/team/roles")), Level::RequestResponse);
    assert_eq!(
        level("alice", &[], "GET", &format!("{rbac}/clusterroles")),
        Level::RequestResponse,
        "\"\" is cluster scope"
    );
    assert_eq!(level("alice", &[], "GET", &format!("{rbac}/namespaces/other/roles")), Level::Metadata);
    assert_eq!(level("alice", &[], "GET", "/api/v1/namespaces/x/pods/app/log"), Level::Request);
    assert_eq!(level("alice", &[], "GET", "/api/v1/namespaces/x/pods/web/log"), Level::Metadata, "resourceNames");
    assert_eq!(level("alice", &[], "GET", "/api/v1/namespaces/x/pods/app/status"), Level::Request, "*/status");
    assert_eq!(level("alice", &[], "POST", "/api/v1/namespaces/x/serviceaccounts/app/token"), Level::Request, "res/*");
    // `res/*` matches the resource itself too (Kubernetes compares only the resource part).
    assert_eq!(level("alice", &[], "GET", "/api/v1/namespaces/x/serviceaccounts/app"), Level::Request);
    assert_eq!(level("alice", &[], "GET", "/api/v1/namespaces/x/configmaps/app"), Level::Metadata, "another resource");
}

#[test]
fn stages_and_managed_fields_combine_as_kubernetes_combines_them() {
    let groups = vec!["system:serviceaccounts".to_owned()];
    let d = decide(Some(("sa", &groups)), "GET", "/api/v1/namespaces/x/pods");
    assert_eq!(d.omit_stages, [Stage::RequestReceived, Stage::ResponseStarted]);
    assert!(!d.omit_managed_fields);
    let d = decide(Some(("alice", &[])), "GET", "/api/v1/nodes");
    assert_eq!(d.level, Level::Metadata);
    assert!(d.omit_managed_fields);
    assert_eq!(d.omit_stages, [Stage::RequestReceived]);
}

#[test]
fn without_a_user_only_rules_without_users_or_groups_match() {
    assert_eq!(decide(None, "GET", "/api/v1/namespaces/x/pods").level, Level::Metadata);
    let only_groups = Policy::parse(
        "p",
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Request\n  userGroups: [\"system:unauthenticated\"]\n",
    )
    .unwrap();
    let info = parse("GET", "/api", false);
    assert_eq!(only_groups.evaluate(&Attributes { user: None, info: &info }).level, Level::None, "nothing matched");
}

#[test]
fn bad_policies_are_refused_naming_the_file_and_the_problem() {
    let e = Policy::parse("p.yaml", "apiVersion: v1\nkind: ConfigMap\n").unwrap_err();
    assert_eq!(e.to_string(), "audit policy p.yaml: kind is \"ConfigMap\", expected \"Policy\"");
    let e = Policy::parse("p.yaml", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: Loud\n").unwrap_err();
    assert!(e.problem.contains("Loud"), "{e}");
    let e = Policy::parse("p.yaml", "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- levl: None\n").unwrap_err();
    assert!(e.problem.contains("levl"), "{e}");
    let e = Policy::parse(
        "p.yaml",
        "apiVersion: audit.k8s.io/v1\nkind: Policy\nrules:\n- level: None\n  nonResourceURLs: [/x]\n  resources: [{group: \"\"}]\n",
    )
    .unwrap_err();
    assert!(e.problem.contains("both regular resources and non-resource URLs"), "{e}");
    assert!(Policy::parse("p.yaml", "{{{").is_err());
}
