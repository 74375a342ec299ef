//! `kauth proxy --config-file`: kube-rbac-proxy's configuration file, its `authorization`
//! section: `resourceAttributes` (ask about a resource instead of the request's path),
//! `rewrites` (take values for those attributes from a query parameter or a header, one
//! question per value), and `static` (requests allowed without asking the cluster).
//!
//! Stricter than kube-rbac-proxy where its leniency is a trap: an unknown key is an error (a
//! misspelt `resourceAttributes` would silently mean "authorize by path"), and a template may
//! only be `{{.Value}}` (Go's text/template would print other actions' errors as empty
//! attributes). Every error names the file and the field.

use std::path::Path;

use serde::Deserialize;

/// The file.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct ProxyConfig {
    /// The authorization settings.
    #[serde(default)]
    pub authorization: Authorization,
}

/// `authorization`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Authorization {
    /// Where values for the resource attributes' `{{.Value}}` come from.
    pub rewrites: Option<Rewrites>,
    /// The resource to ask about (instead of the path).
    pub resource_attributes: Option<ResourceAttributes>,
    /// Requests allowed without a SubjectAccessReview.
    #[serde(default, rename = "static")]
    pub static_rules: Vec<StaticRule>,
}

/// `rewrites`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct Rewrites {
    /// Values from a query parameter.
    pub by_query_parameter: Option<Named>,
    /// Values from a header.
    pub by_http_header: Option<Named>,
}

/// A parameter or header name.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct Named {
    /// The name.
    #[serde(default)]
    pub name: String,
}

/// `resourceAttributes`: each may hold `{{.Value}}`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct ResourceAttributes {
    /// The namespace.
    #[serde(default)]
    pub namespace: String,
    /// The API group.
    #[serde(default)]
    pub api_group: String,
    /// The API version.
    #[serde(default)]
    pub api_version: String,
    /// The resource.
    #[serde(default)]
    pub resource: String,
    /// The subresource.
    #[serde(default)]
    pub subresource: String,
    /// The object's name.
    #[serde(default)]
    pub name: String,
}

/// One `static` entry: an empty field matches anything.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
pub struct StaticRule {
    /// The user (only the name is compared, as kube-rbac-proxy does).
    #[serde(default)]
    pub user: StaticUser,
    /// The verb.
    #[serde(default)]
    pub verb: String,
    /// The namespace.
    #[serde(default)]
    pub namespace: String,
    /// The API group.
    #[serde(default)]
    pub api_group: String,
    /// The resource.
    #[serde(default)]
    pub resource: String,
    /// The subresource.
    #[serde(default)]
    pub subresource: String,
    /// The object's name.
    #[serde(default)]
    pub name: String,
    /// Whether it matches resource requests (then `path` must be empty) or non-resource ones.
    #[serde(default)]
    pub resource_request: bool,
    /// The path of a non-resource request.
    #[serde(default)]
    pub path: String,
}

/// `static[].user`.
#[derive(Debug, Clone, Default, Deserialize, PartialEq, Eq)]
#[serde(deny_unknown_fields)]
pub struct StaticUser {
    /// The user's name.
    #[serde(default)]
    pub name: String,
    /// Groups: accepted for kube-rbac-proxy's files, but never compared (nor by it).
    #[serde(default)]
    pub groups: Vec<String>,
}

/// Why the file is refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// It could not be read.
    #[error("{file}: {source}")]
    Read {
        /// The file.
        file: String,
        /// The error.
        source: std::io::Error,
    },
    /// It is not the YAML expected.
    #[error("{file}: {problem}")]
    Parse {
        /// The file.
        file: String,
        /// serde's words (with the field and position).
        problem: String,
    },
    /// A field holds a template other than `{{.Value}}`.
    #[error("{file}: authorization.resourceAttributes.{field}: only {{{{.Value}}}} may be templated, not {value:?}")]
    Template {
        /// The file.
        file: String,
        /// The field.
        field: &'static str,
        /// Its value.
        value: String,
    },
    /// A `static` entry mixes a resource request with a path (or neither).
    #[error("{file}: authorization.static[{index}]: a resource request must not have a path, and a non-resource request must have one")]
    StaticPath {
        /// The file.
        file: String,
        /// The entry.
        index: usize,
    },
    /// `rewrites` without `resourceAttributes` would never be used.
    #[error("{file}: authorization.rewrites needs authorization.resourceAttributes to put the values in")]
    RewritesAlone {
        /// The file.
        file: String,
    },
}

/// `{{.Value}}` with any inner spaces, as Go's template parser accepts it.
pub fn substitute(template: &str, value: &str) -> Option<String> {
    let mut out = String::with_capacity(template.len() + value.len());
    let mut rest = template;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let close = after.find("}}")?;
        if after[..close].trim() != ".Value" {
            return None;
        }
        out.push_str(value);
        rest = &after[close + 2..];
    }
    out.push_str(rest);
    Some(out)
}

impl ProxyConfig {
    /// Parses and checks the file's text; `file` names it in errors.
    pub fn parse(file: &str, text: &str) -> Result<Self, ConfigError> {
        let config: ProxyConfig = if text.trim().is_empty() {
            ProxyConfig::default()
        } else {
            serde_norway::from_str(text)
                .map_err(|e| ConfigError::Parse { file: file.to_owned(), problem: e.to_string() })?
        };
        let a = &config.authorization;
        if let Some(r) = &a.resource_attributes {
            for (field, value) in [
                ("namespace", &r.namespace),
                ("apiGroup", &r.api_group),
                ("apiVersion", &r.api_version),
                ("resource", &r.resource),
                ("subresource", &r.subresource),
                ("name", &r.name),
            ] {
                if substitute(value, "").is_none() {
                    return Err(ConfigError::Template { file: file.to_owned(), field, value: value.clone() });
                }
            }
        } else if a.rewrites.is_some() {
            return Err(ConfigError::RewritesAlone { file: file.to_owned() });
        }
        for (index, rule) in a.static_rules.iter().enumerate() {
            if rule.resource_request != rule.path.is_empty() {
                return Err(ConfigError::StaticPath { file: file.to_owned(), index });
            }
        }
        Ok(config)
    }

    /// Reads and checks the file at `path`.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        let file = path.display().to_string();
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { file: file.clone(), source })?;
        Self::parse(&file, &text)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_kube_rbac_proxys_example() {
        let c = ProxyConfig::parse(
            "f",
            r#"
authorization:
  rewrites:
    byQueryParameter:
      name: "namespace"
  resourceAttributes:
    resource: namespaces
    subresource: metrics
    name: "{{ .Value }}"
  static:
    - user:
        name: system:serviceaccount:monitoring:prometheus
      resourceRequest: false
      path: /metrics
      verb: get
"#,
        )
        .unwrap();
        let a = c.authorization;
        assert_eq!(a.rewrites.unwrap().by_query_parameter.unwrap().name, "namespace");
        assert_eq!(a.resource_attributes.unwrap().name, "{{ .Value }}");
        assert_eq!(a.static_rules[0].path, "/metrics");
    }

    #[test]
    fn templates_take_only_the_value() {
        assert_eq!(substitute("{{.Value}}", "ns").as_deref(), Some("ns"));
        assert_eq!(substitute("a-{{ .Value }}-b", "x").as_deref(), Some("a-x-b"));
        assert_eq!(substitute("plain", "x").as_deref(), Some("plain"));
        assert_eq!(substitute("{{.Other}}", "x"), None);
        assert_eq!(substitute("{{.Value", "x"), None);
    }

    #[test]
    fn mistakes_are_refused_by_name() {
        let e = ProxyConfig::parse("f", "authorization:\n  resourceAttribute:\n    resource: x\n").unwrap_err();
        assert!(matches!(e, ConfigError::Parse { .. }), "{e}");
        assert!(e.to_string().contains("resourceAttribute"), "{e}");
        let e = ProxyConfig::parse("f", "authorization:\n  resourceAttributes:\n    name: '{{.Name}}'\n").unwrap_err();
        assert!(matches!(e, ConfigError::Template { field: "name", .. }), "{e}");
        let e = ProxyConfig::parse("f", "authorization:\n  static:\n  - resourceRequest: true\n    path: /x\n")
            .unwrap_err();
        assert!(matches!(e, ConfigError::StaticPath { index: 0, .. }), "{e}");
        let e = ProxyConfig::parse("f", "authorization:\n  rewrites:\n    byHttpHeader:\n      name: x\n").unwrap_err();
        assert!(matches!(e, ConfigError::RewritesAlone { .. }), "{e}");
        assert_eq!(ProxyConfig::parse("f", "").unwrap(), ProxyConfig::default());
    }
}
