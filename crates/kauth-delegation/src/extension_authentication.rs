//! `kube-system/extension-apiserver-authentication`: what kube-apiserver tells aggregated API
//! servers about its authentication. `client-ca-file` is the CA of client certificates it
//! accepts; `requestheader-client-ca-file` signs its front proxy's client certificate, whose CN
//! must be one of `requestheader-allowed-names` (any when empty), and the `requestheader-*`
//! lists (JSON arrays of strings) name the headers carrying the user.
//!
//! A key that is present must be well-formed: a list that is not a JSON array of strings, or a
//! CA without a certificate, is an error naming the key, never silently trust-nothing (or, worse,
//! trust-anyone).

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;
use kauth::authn::request_header::HeaderNames;

/// The ConfigMap's namespace.
pub const NAMESPACE: &str = "kube-system";
/// The ConfigMap's name.
pub const NAME: &str = "extension-apiserver-authentication";
/// Where to GET it.
pub const PATH: &str = "/api/v1/namespaces/kube-system/configmaps/extension-apiserver-authentication";

/// The list holding only the ConfigMap, to watch it
/// ([`crate::watched::Watched`]), as k8s.io/apiserver's controller for it watches.
pub const WATCH_LIST: &str =
    "/api/v1/namespaces/kube-system/configmaps?fieldSelector=metadata.name%3Dextension-apiserver-authentication";

/// What is wrong with the ConfigMap.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExtensionAuthenticationError {
    /// A list key is not a JSON array of strings.
    #[error("{NAMESPACE}/{NAME}: {key} is not a JSON array of strings: {problem}")]
    NotAList {
        /// The key.
        key: &'static str,
        /// What serde said.
        problem: String,
    },
    /// The ConfigMap has a request-header CA but names no username header: such a front proxy
    /// could name no one.
    #[error(
        "{NAMESPACE}/{NAME}: requestheader-client-ca-file is set but requestheader-username-headers names no header"
    )]
    NoUsernameHeaders,
}

/// The front proxy kube-apiserver uses, as the ConfigMap describes it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestHeaderTrust {
    /// The request-header CA bundle (PEM).
    pub ca_pem: String,
    /// CNs allowed to act as the front proxy (empty: any the CA signed).
    pub allowed_names: Vec<String>,
    /// Which headers carry the user.
    pub names: HeaderNames,
}

/// What the ConfigMap says.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ExtensionAuthentication {
    /// `client-ca-file`: the CA bundle (PEM) of accepted client certificates.
    pub client_ca_pem: Option<String>,
    /// The front proxy, when `requestheader-client-ca-file` is set.
    pub request_header: Option<RequestHeaderTrust>,
}

fn list(data: &BTreeMap<String, String>, key: &'static str) -> Result<Vec<String>, ExtensionAuthenticationError> {
    match data.get(key).map(|s| s.trim()).filter(|s| !s.is_empty()) {
        None => Ok(Vec::new()),
        Some(v) => {
            serde_json::from_str(v).map_err(|e| ExtensionAuthenticationError::NotAList { key, problem: e.to_string() })
        }
    }
}

impl ExtensionAuthentication {
    /// Reads the ConfigMap's data.
    pub fn from_config_map(cm: &ConfigMap) -> Result<Self, ExtensionAuthenticationError> {
        let empty = BTreeMap::new();
        let data = cm.data.as_ref().unwrap_or(&empty);
        let client_ca_pem = data.get("client-ca-file").filter(|s| !s.trim().is_empty()).cloned();
        let request_header = match data.get("requestheader-client-ca-file").filter(|s| !s.trim().is_empty()) {
            None => None,
            Some(ca) => {
                let names = HeaderNames {
                    username: list(data, "requestheader-username-headers")?,
                    uid: list(data, "requestheader-uid-headers")?,
                    group: list(data, "requestheader-group-headers")?,
                    extra_prefixes: list(data, "requestheader-extra-headers-prefix")?,
                };
                if names.username.is_empty() {
                    return Err(ExtensionAuthenticationError::NoUsernameHeaders);
                }
                Some(RequestHeaderTrust {
                    ca_pem: ca.clone(),
                    allowed_names: list(data, "requestheader-allowed-names")?,
                    names,
                })
            }
        };
        Ok(ExtensionAuthentication { client_ca_pem, request_header })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn cm(pairs: &[(&str, &str)]) -> ConfigMap {
        ConfigMap {
            data: Some(pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()),
            ..Default::default()
        }
    }

    #[test]
    fn reads_kube_apiservers_keys() {
        let got = ExtensionAuthentication::from_config_map(&cm(&[
            ("client-ca-file", "CLIENT"),
            ("requestheader-client-ca-file", "PROXY"),
            ("requestheader-allowed-names", r#"["front-proxy-client"]"#),
            ("requestheader-username-headers", r#"["X-Remote-User"]"#),
            ("requestheader-group-headers", r#"["X-Remote-Group"]"#),
            ("requestheader-extra-headers-prefix", r#"["X-Remote-Extra-"]"#),
        ]))
        .unwrap();
        assert_eq!(got.client_ca_pem.as_deref(), Some("CLIENT"));
        let rh = got.request_header.unwrap();
        assert_eq!(rh.allowed_names, vec!["front-proxy-client".to_owned()]);
        assert_eq!(rh.names.username, vec!["X-Remote-User".to_owned()]);
        assert!(rh.names.uid.is_empty());
    }

    #[test]
    fn without_a_request_header_ca_there_is_no_front_proxy() {
        let got = ExtensionAuthentication::from_config_map(&cm(&[("client-ca-file", "C")])).unwrap();
        assert_eq!(got.request_header, None);
    }

    #[test]
    fn malformed_lists_are_errors_naming_the_key() {
        let got = ExtensionAuthentication::from_config_map(&cm(&[
            ("requestheader-client-ca-file", "P"),
            ("requestheader-username-headers", r#"["X-Remote-User"]"#),
            ("requestheader-allowed-names", "front-proxy-client"),
        ]));
        assert!(
            matches!(got, Err(ExtensionAuthenticationError::NotAList { key: "requestheader-allowed-names", .. })),
            "{got:?}"
        );
        let got = ExtensionAuthentication::from_config_map(&cm(&[("requestheader-client-ca-file", "P")]));
        assert_eq!(got, Err(ExtensionAuthenticationError::NoUsernameHeaders));
    }
}
