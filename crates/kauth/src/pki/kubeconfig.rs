//! Kubeconfig files (`clientcmd/api/v1`), read and written as kubectl does.

use std::fmt;

use base64::Engine;
use serde::{Deserialize, Serialize};

use super::PkiError;

/// A kubeconfig document. Unknown fields are ignored when reading.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Kubeconfig {
    /// `v1`.
    #[serde(rename = "apiVersion", default)]
    pub api_version: String,
    /// `Config`.
    #[serde(default)]
    pub kind: String,
    /// Named clusters.
    #[serde(default)]
    pub clusters: Vec<NamedCluster>,
    /// Named contexts.
    #[serde(default)]
    pub contexts: Vec<NamedContext>,
    /// The context used by default.
    #[serde(default)]
    pub current_context: String,
    /// Preferences (always empty).
    #[serde(default)]
    pub preferences: serde_json::Map<String, serde_json::Value>,
    /// Named users (credentials).
    #[serde(default)]
    pub users: Vec<NamedUser>,
}

/// A cluster entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NamedCluster {
    /// Its name.
    pub name: String,
    /// Its connection data.
    pub cluster: Cluster,
}

/// How to reach and trust an apiserver.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct Cluster {
    /// The apiserver URL.
    #[serde(default)]
    pub server: String,
    /// Base64 of the PEM CA bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority_data: Option<String>,
    /// A path to the PEM CA bundle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate_authority: Option<String>,
    /// Skip server certificate verification.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub insecure_skip_tls_verify: Option<bool>,
    /// The name to verify the server certificate against, when not the URL's host.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_server_name: Option<String>,
    /// A proxy for this cluster (`http`, `https` or `socks5` URL), instead of the environment's.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy_url: Option<String>,
}

/// A context entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NamedContext {
    /// Its name.
    pub name: String,
    /// Cluster and user.
    pub context: Context,
}

/// A (cluster, user, namespace) triple.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct Context {
    /// The cluster's name.
    #[serde(default)]
    pub cluster: String,
    /// The user's name.
    #[serde(default)]
    pub user: String,
    /// The default namespace.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
}

/// A user entry.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct NamedUser {
    /// Its name.
    pub name: String,
    /// Its credentials.
    pub user: AuthInfo,
}

/// Credentials. `Debug` hides the key and token.
#[derive(Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "kebab-case")]
pub struct AuthInfo {
    /// Base64 of the PEM client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate_data: Option<String>,
    /// Base64 of the PEM client key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key_data: Option<String>,
    /// A path to the client certificate.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_certificate: Option<String>,
    /// A path to the client key.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_key: Option<String>,
    /// A bearer token.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub token: Option<String>,
    /// A file holding a bearer token (re-read by clients, as a projected token must be).
    #[serde(default, rename = "tokenFile", skip_serializing_if = "Option::is_none")]
    pub token_file: Option<String>,
    /// A credential plugin to run for credentials.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exec: Option<ExecConfig>,
}

/// An exec credential plugin (`client.authentication.k8s.io`): a command whose standard output
/// is an `ExecCredential` holding a token or a client certificate.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ExecConfig {
    /// The `ExecCredential` version the plugin speaks (`client.authentication.k8s.io/v1`).
    #[serde(default)]
    pub api_version: String,
    /// The command (a path, or a name looked up in `PATH`).
    #[serde(default)]
    pub command: String,
    /// Its arguments.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub args: Option<Vec<String>>,
    /// Extra environment variables.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub env: Option<Vec<ExecEnvVar>>,
    /// Whether the plugin may read standard input: `Never`, `IfAvailable` or `Always`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interactive_mode: Option<String>,
    /// Whether the cluster's data is passed in `KUBERNETES_EXEC_INFO`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub provide_cluster_info: Option<bool>,
    /// Printed when the command is missing.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub install_hint: Option<String>,
}

/// One environment variable of an exec plugin.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
pub struct ExecEnvVar {
    /// Its name.
    pub name: String,
    /// Its value.
    #[serde(default)]
    pub value: String,
}

impl fmt::Debug for AuthInfo {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let hidden = |o: &Option<String>| o.as_ref().map(|_| "<redacted>");
        f.debug_struct("AuthInfo")
            .field("client_certificate_data", &self.client_certificate_data.as_ref().map(|_| "<pem>"))
            .field("client_key_data", &hidden(&self.client_key_data))
            .field("client_certificate", &self.client_certificate)
            .field("client_key", &self.client_key)
            .field("token", &hidden(&self.token))
            .field("token_file", &self.token_file)
            .field("exec", &self.exec.as_ref().map(|e| &e.command))
            .finish()
    }
}

impl Kubeconfig {
    /// A kubeconfig with one cluster, one user with an embedded client cert and key, and one context,
    /// named as kubeadm names them (`<user>@<cluster>`).
    pub fn with_client_cert(
        cluster: &str,
        server: &str,
        ca_pem: &str,
        user: &str,
        cert_pem: &str,
        key_pem: &str,
    ) -> Self {
        let b64 = |s: &str| base64::engine::general_purpose::STANDARD.encode(s.as_bytes());
        let context = format!("{user}@{cluster}");
        Kubeconfig {
            api_version: "v1".into(),
            kind: "Config".into(),
            clusters: vec![NamedCluster {
                name: cluster.into(),
                cluster: Cluster {
                    server: server.into(),
                    certificate_authority_data: Some(b64(ca_pem)),
                    ..Cluster::default()
                },
            }],
            contexts: vec![NamedContext {
                name: context.clone(),
                context: Context { cluster: cluster.into(), user: user.into(), namespace: None },
            }],
            current_context: context,
            preferences: serde_json::Map::new(),
            users: vec![NamedUser {
                name: user.into(),
                user: AuthInfo {
                    client_certificate_data: Some(b64(cert_pem)),
                    client_key_data: Some(b64(key_pem)),
                    ..AuthInfo::default()
                },
            }],
        }
    }

    /// Parses YAML (or JSON, which is YAML). `what` names the file in errors.
    pub fn parse(what: &str, data: &[u8]) -> Result<Self, PkiError> {
        let text = std::str::from_utf8(data).map_err(|_| PkiError::malformed(what, "kubeconfig is not UTF-8 text"))?;
        let cfg: Kubeconfig = serde_norway::from_str(text)
            .map_err(|e| PkiError::malformed(what, format!("not a valid kubeconfig: {e}")))?;
        if cfg.kind != "Config" {
            return Err(PkiError::malformed(what, format!("kind is {:?}, expected \"Config\"", cfg.kind)));
        }
        Ok(cfg)
    }

    /// The YAML text.
    pub fn to_yaml(&self) -> Result<String, PkiError> {
        serde_norway::to_string(self).map_err(|e| PkiError::malformed("kubeconfig", e.to_string()))
    }

    /// The context named by `current-context`, its cluster and its user.
    pub fn current(&self) -> Option<(&Cluster, &AuthInfo, &str)> {
        self.context(&self.current_context)
    }

    /// The context named `name`, its cluster and its user (and the user's name).
    pub fn context(&self, name: &str) -> Option<(&Cluster, &AuthInfo, &str)> {
        let ctx = self.contexts.iter().find(|c| c.name == name)?;
        let cluster = self.clusters.iter().find(|c| c.name == ctx.context.cluster)?;
        let user = self.users.iter().find(|u| u.name == ctx.context.user)?;
        Some((&cluster.cluster, &user.user, user.name.as_str()))
    }
}

/// Decodes one of the `*-data` fields: base64 of PEM text.
pub fn decode_data(what: &str, field: &str, value: &str) -> Result<Vec<u8>, PkiError> {
    base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .map_err(|e| PkiError::malformed(what, format!("{field} is not valid base64: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_and_resolves_current_context() {
        let k = Kubeconfig::with_client_cert(
            "kubernetes",
            "https://127.0.0.1:6443",
            "CA",
            "kubernetes-admin",
            "CERT",
            "KEY",
        );
        let yaml = k.to_yaml().unwrap();
        assert!(yaml.contains("current-context: kubernetes-admin@kubernetes"), "{yaml}");
        assert!(yaml.contains("client-key-data:"), "{yaml}");
        let back = Kubeconfig::parse("admin.conf", yaml.as_bytes()).unwrap();
        assert_eq!(back, k);
        let (cluster, user, name) = back.current().unwrap();
        assert_eq!(cluster.server, "https://127.0.0.1:6443");
        assert_eq!(name, "kubernetes-admin");
        assert_eq!(decode_data("x", "client-key-data", user.client_key_data.as_deref().unwrap()).unwrap(), b"KEY");
        assert!(!format!("{user:?}").contains("S0VZ"));
    }

    #[test]
    fn reads_token_files_exec_plugins_and_tls_server_names() {
        let yaml = br#"
apiVersion: v1
kind: Config
current-context: ci
clusters:
- name: c
  cluster: {server: "https://10.0.0.1:6443", tls-server-name: kubernetes, proxy-url: "http://proxy:3128"}
contexts:
- name: ci
  context: {cluster: c, user: u}
users:
- name: u
  user:
    tokenFile: /var/run/secrets/token
    exec:
      apiVersion: client.authentication.k8s.io/v1
      command: get-token
      args: [--cluster, c]
      env: [{name: REGION, value: eu}]
      interactiveMode: Never
      provideClusterInfo: true
"#;
        let k = Kubeconfig::parse("ci.conf", yaml).unwrap();
        let (cluster, user, _) = k.context("ci").unwrap();
        assert_eq!(cluster.tls_server_name.as_deref(), Some("kubernetes"));
        assert_eq!(cluster.proxy_url.as_deref(), Some("http://proxy:3128"));
        assert_eq!(user.token_file.as_deref(), Some("/var/run/secrets/token"));
        let exec = user.exec.as_ref().unwrap();
        assert_eq!(exec.command, "get-token");
        assert_eq!(exec.env.as_ref().unwrap()[0].value, "eu");
        assert_eq!(exec.provide_cluster_info, Some(true));
        assert!(k.context("other").is_none());
    }

    #[test]
    fn wrong_kind_and_garbage_are_errors() {
        assert!(Kubeconfig::parse("x", b"kind: Pod\napiVersion: v1\n").is_err());
        assert!(Kubeconfig::parse("x", b"{{{{").is_err());
        assert!(Kubeconfig::parse("x", &[0xff, 0xfe]).is_err());
    }
}
