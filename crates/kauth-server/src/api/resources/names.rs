//! Kubernetes' name rules: which names each resource accepts, and its texts for the others.

use crate::api::status::Cause;

/// How a resource's names are validated (the rule kube-apiserver's validation applies to it).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NameRule {
    /// RFC 1123 label (namespaces, StatefulSets).
    Label,
    /// RFC 1035 label (Services: their names become DNS labels that must start with a letter).
    Dns1035,
    /// RFC 1123 subdomain (most objects).
    Subdomain,
    /// Any path segment (RBAC objects).
    PathSegment,
}

const LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
const DNS1035_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";

fn is_label(s: &str) -> bool {
    let b = s.as_bytes();
    !b.is_empty()
        && b.iter().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || *c == b'-')
        && b[0] != b'-'
        && b[b.len() - 1] != b'-'
}

/// Kubernetes' name errors for `name` under `rule` (messages without the field).
pub fn name_errors(rule: NameRule, name: &str) -> Vec<String> {
    let mut errs = Vec::new();
    match rule {
        NameRule::Label => {
            if name.len() > 63 {
                errs.push("must be no more than 63 characters".to_owned());
            }
            if !is_label(name) {
                errs.push(LABEL_MSG.to_owned());
            }
        }
        NameRule::Dns1035 => {
            if name.len() > 63 {
                errs.push("must be no more than 63 characters".to_owned());
            }
            if !is_label(name) || !name.starts_with(|c: char| c.is_ascii_lowercase()) {
                errs.push(DNS1035_MSG.to_owned());
            }
        }
        NameRule::Subdomain => {
            if name.len() > 253 {
                errs.push("must be no more than 253 characters".to_owned());
            }
            if !name.split('.').all(is_label) {
                errs.push(SUBDOMAIN_MSG.to_owned());
            }
        }
        NameRule::PathSegment => {
            if name == "." || name == ".." {
                errs.push(format!("may not be '{name}'"));
            }
            for bad in ["/", "%"] {
                if name.contains(bad) {
                    errs.push(format!("may not contain '{bad}'"));
                }
            }
        }
    }
    errs
}

/// `metadata.name` causes for an invalid name.
pub fn name_causes(rule: NameRule, name: &str) -> Vec<Cause> {
    name_errors(rule, name)
        .into_iter()
        .map(|m| Cause {
            reason: "FieldValueInvalid",
            field: "metadata.name".into(),
            message: format!("Invalid value: {name:?}: {m}"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_follow_each_resources_rule() {
        assert!(name_errors(NameRule::Label, "team-a").is_empty());
        assert_eq!(name_errors(NameRule::Label, "Team"), [LABEL_MSG]);
        assert_eq!(name_errors(NameRule::Label, "a.b"), [LABEL_MSG]);
        assert!(name_errors(NameRule::Subdomain, "a.b-c").is_empty());
        assert_eq!(name_errors(NameRule::Subdomain, "a..b"), [SUBDOMAIN_MSG]);
        assert_eq!(name_errors(NameRule::Subdomain, &"a".repeat(254)).len(), 1);
        assert!(name_errors(NameRule::PathSegment, "system:node").is_empty());
        assert_eq!(name_errors(NameRule::PathSegment, "a/b"), ["may not contain '/'"]);
    }

    #[test]
    fn service_names_start_with_a_letter() {
        assert!(name_errors(NameRule::Dns1035, "web").is_empty());
        assert_eq!(name_errors(NameRule::Dns1035, "1web"), [DNS1035_MSG]);
    }
}
