//! The agent's config file: which tokens to keep, where, for whom.
//!
//! ```yaml
//! kubeconfig: agent.kubeconfig      # optional; --kubeconfig wins; relative to this file
//! tokens:
//! - path: tokens/vault/token        # the file the workload reads; its directory is the agent's
//!   namespace: ci
//!   serviceAccount: runner
//!   audiences: [vault]              # optional: the API server's audiences
//!   expirationSeconds: 3600         # optional: the server's default; at least 600
//!   boundObjectRef: {kind: Pod, name: runner-0, uid: 4a1c...}   # optional; kind Pod, Secret or Node
//!   mode: 0600                      # optional: YAML octal (0600), octal text ("0600"), or decimal as in JSON (384)
//! ```
//!
//! Tokens may share a directory (as a projected volume holds several); each directory is
//! written whole by one atomic writer.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use serde::Deserialize;

/// The mode of a token file when the config names none: owner read/write only (a projected
/// volume's default is 0644; a token is a credential).
pub const DEFAULT_MODE: u32 = 0o600;

/// Kubernetes' shortest token lifetime (`spec.expirationSeconds`).
pub const MIN_EXPIRATION_SECONDS: i64 = 600;

/// The agent's configuration, checked.
#[derive(Debug, Clone, PartialEq)]
pub struct AgentConfig {
    /// The kubeconfig the file names, resolved against the file's directory.
    pub kubeconfig: Option<PathBuf>,
    /// The tokens, in the file's order.
    pub tokens: Vec<TokenSpec>,
}

/// One token to keep.
#[derive(Debug, Clone, PartialEq)]
pub struct TokenSpec {
    /// Its name in logs and metrics (the config's `name`, else its path).
    pub name: String,
    /// The directory the atomic writer owns.
    pub dir: PathBuf,
    /// The file name in it.
    pub file: String,
    /// The service account's namespace.
    pub namespace: String,
    /// The service account.
    pub service_account: String,
    /// Audiences; empty: the API server's own.
    pub audiences: Vec<String>,
    /// The lifetime to ask for; `None`: the server's default.
    pub expiration_seconds: Option<i64>,
    /// The object the token is bound to.
    pub bound: Option<BoundObject>,
    /// The file's mode.
    pub mode: u32,
}

/// What a token is bound to (TokenRequest's `boundObjectRef`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BoundObject {
    /// Its kind.
    pub kind: BoundKind,
    /// Its name (in the service account's namespace, but for a node).
    pub name: String,
    /// Its uid, when the config pins it (the server checks it).
    pub uid: Option<String>,
}

/// The kinds a token can be bound to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
pub enum BoundKind {
    /// A pod: the token dies with it.
    Pod,
    /// A secret.
    Secret,
    /// A node.
    Node,
}

impl BoundKind {
    /// The kind as the API spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            BoundKind::Pod => "Pod",
            BoundKind::Secret => "Secret",
            BoundKind::Node => "Node",
        }
    }
}

/// Why a config file was refused.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// It could not be read.
    #[error("{path}: {source}")]
    Read {
        /// The file.
        path: String,
        /// Why.
        source: std::io::Error,
    },
    /// It is not the expected YAML.
    #[error("{path}: {message}")]
    Yaml {
        /// The file.
        path: String,
        /// The parser's words.
        message: String,
    },
    /// A token's field is wrong.
    #[error("{path}: tokens[{index}].{field}: {message}")]
    Invalid {
        /// The file.
        path: String,
        /// The token's index.
        index: usize,
        /// The field.
        field: &'static str,
        /// What is wrong.
        message: String,
    },
    /// No token at all.
    #[error("{path}: no tokens: nothing to do")]
    Empty {
        /// The file.
        path: String,
    },
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawFile {
    #[serde(default)]
    kubeconfig: Option<PathBuf>,
    #[serde(default)]
    tokens: Vec<RawToken>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields, rename_all = "camelCase")]
struct RawToken {
    #[serde(default)]
    name: Option<String>,
    path: PathBuf,
    namespace: String,
    service_account: String,
    #[serde(default)]
    audiences: Vec<String>,
    #[serde(default)]
    expiration_seconds: Option<i64>,
    #[serde(default)]
    bound_object_ref: Option<RawRef>,
    #[serde(default)]
    mode: Option<RawMode>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawRef {
    kind: BoundKind,
    name: String,
    #[serde(default)]
    uid: Option<String>,
    /// Accepted for symmetry with the API (`v1`), not needed.
    #[serde(default, rename = "apiVersion")]
    _api_version: Option<String>,
}

#[derive(Deserialize)]
#[serde(untagged)]
enum RawMode {
    Number(i64),
    Text(String),
}

/// A Kubernetes object name: a DNS subdomain (lowercase alphanumerics, `-` and `.`).
fn is_object_name(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-' || b == b'.')
        && !s.starts_with(['-', '.'])
        && !s.ends_with(['-', '.'])
}

fn mode(raw: RawMode) -> Result<u32, String> {
    let value = match raw {
        RawMode::Number(n) => n,
        RawMode::Text(t) => i64::from_str_radix(t.trim().trim_start_matches("0o"), 8)
            .map_err(|_| format!("{t:?} is not an octal mode such as \"0600\""))?,
    };
    match u32::try_from(value) {
        Ok(m) if m <= 0o777 => Ok(m),
        _ => Err(format!(
            "{value} is not a file mode: write it as octal text (\"0600\") or as a decimal number up to 511 (0600 is 384)"
        )),
    }
}

impl AgentConfig {
    /// Reads and checks the config file at `path`.
    pub fn load(path: &Path) -> Result<AgentConfig, ConfigError> {
        let text =
            std::fs::read(path).map_err(|source| ConfigError::Read { path: path.display().to_string(), source })?;
        Self::parse(path, &text)
    }

    /// Checks a config's text; relative paths are taken from `path`'s directory.
    pub fn parse(path: &Path, text: &[u8]) -> Result<AgentConfig, ConfigError> {
        let what = path.display().to_string();
        let raw: RawFile = serde_norway::from_slice(text)
            .map_err(|e| ConfigError::Yaml { path: what.clone(), message: e.to_string() })?;
        if raw.tokens.is_empty() {
            return Err(ConfigError::Empty { path: what });
        }
        let base = path.parent().unwrap_or(Path::new("."));
        let mut seen = BTreeSet::new();
        let mut names = BTreeSet::new();
        let mut tokens = Vec::new();
        for (index, t) in raw.tokens.into_iter().enumerate() {
            let invalid = |field: &'static str, message: String| ConfigError::Invalid {
                path: what.clone(),
                index,
                field,
                message,
            };
            let full = base.join(&t.path);
            let file = match full.file_name().and_then(|f| f.to_str()) {
                Some(f) if !f.starts_with("..") => f.to_owned(),
                _ => {
                    return Err(invalid(
                        "path",
                        format!("{:?} does not end in a file name (not starting with \"..\")", t.path),
                    ))
                }
            };
            let dir = full.parent().map(Path::to_path_buf).unwrap_or_else(|| PathBuf::from("."));
            if !seen.insert(full.clone()) {
                return Err(invalid("path", format!("{} is already another token's", full.display())));
            }
            for (field, v) in [("namespace", &t.namespace), ("serviceAccount", &t.service_account)] {
                if !is_object_name(v) {
                    return Err(invalid(field, format!("{v:?} is not a Kubernetes object name")));
                }
            }
            if let Some(e) = t.expiration_seconds {
                if !(MIN_EXPIRATION_SECONDS..=1 << 32).contains(&e) {
                    return Err(invalid(
                        "expirationSeconds",
                        format!("{e}: Kubernetes takes 600 (10 minutes) to 2^32 seconds"),
                    ));
                }
            }
            if t.audiences.iter().any(|a| a.is_empty()) {
                return Err(invalid("audiences", "an audience is empty".into()));
            }
            let bound = match t.bound_object_ref {
                None => None,
                Some(r) => {
                    if !is_object_name(&r.name) {
                        return Err(invalid(
                            "boundObjectRef.name",
                            format!("{:?} is not a Kubernetes object name", r.name),
                        ));
                    }
                    Some(BoundObject { kind: r.kind, name: r.name, uid: r.uid.filter(|u| !u.is_empty()) })
                }
            };
            let mode = match t.mode {
                None => DEFAULT_MODE,
                Some(m) => mode(m).map_err(|m| invalid("mode", m))?,
            };
            let name = t.name.unwrap_or_else(|| full.display().to_string());
            if !names.insert(name.clone()) {
                return Err(invalid("name", format!("{name:?} is already another token's")));
            }
            tokens.push(TokenSpec {
                name,
                dir,
                file,
                namespace: t.namespace,
                service_account: t.service_account,
                audiences: t.audiences,
                expiration_seconds: t.expiration_seconds,
                bound,
                mode,
            });
        }
        Ok(AgentConfig { kubeconfig: raw.kubeconfig.map(|k| base.join(k)), tokens })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<AgentConfig, ConfigError> {
        AgentConfig::parse(Path::new("/etc/kauth/agent.yaml"), text.as_bytes())
    }

    #[test]
    fn a_full_config() {
        let c = parse(
            r#"
kubeconfig: agent.kubeconfig
tokens:
- name: vault
  path: /run/tokens/vault/token
  namespace: ci
  serviceAccount: runner
  audiences: [vault, "https://vault.example"]
  expirationSeconds: 3600
  boundObjectRef: {kind: Pod, name: runner-0, uid: 4a1c}
  mode: "0644"
- path: tokens/api
  namespace: ci
  serviceAccount: runner
  boundObjectRef: {apiVersion: v1, kind: Node, name: worker-1}
  mode: 420
"#,
        )
        .unwrap();
        assert_eq!(c.kubeconfig, Some(PathBuf::from("/etc/kauth/agent.kubeconfig")));
        let vault = &c.tokens[0];
        assert_eq!((vault.name.as_str(), vault.file.as_str()), ("vault", "token"));
        assert_eq!(vault.dir, PathBuf::from("/run/tokens/vault"));
        assert_eq!(vault.audiences, ["vault", "https://vault.example"]);
        assert_eq!(vault.expiration_seconds, Some(3600));
        assert_eq!(
            vault.bound,
            Some(BoundObject { kind: BoundKind::Pod, name: "runner-0".into(), uid: Some("4a1c".into()) })
        );
        assert_eq!(vault.mode, 0o644);
        let api = &c.tokens[1];
        assert_eq!(api.name, "/etc/kauth/tokens/api");
        assert_eq!(api.dir, PathBuf::from("/etc/kauth/tokens"));
        assert_eq!(api.mode, 0o644);
        assert_eq!(api.expiration_seconds, None);
        assert_eq!(api.bound.as_ref().unwrap().kind, BoundKind::Node);
    }

    #[test]
    fn defaults() {
        let c = parse("tokens: [{path: t/token, namespace: default, serviceAccount: default}]").unwrap();
        assert_eq!(c.tokens[0].mode, DEFAULT_MODE);
        assert!(c.tokens[0].audiences.is_empty() && c.tokens[0].bound.is_none());
        assert_eq!(c.kubeconfig, None);
    }

    fn field_of(text: &str) -> &'static str {
        match parse(text) {
            Err(ConfigError::Invalid { field, .. }) => field,
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn each_mistake_is_named_by_its_field() {
        let t = |rest: &str| format!("tokens: [{{path: t/token, namespace: ns, serviceAccount: sa, {rest}}}]");
        assert_eq!(field_of(&t("expirationSeconds: 60")), "expirationSeconds");
        assert_eq!(field_of(&t("mode: \"0999\"")), "mode");
        // 600 (decimal, no leading zero) is no mode: refused, with the way out in the message.
        assert_eq!(field_of(&t("mode: 600")), "mode");
        assert_eq!(field_of(&t("audiences: [\"\"]")), "audiences");
        assert_eq!(field_of(&t("boundObjectRef: {kind: Pod, name: \"../x\"}")), "boundObjectRef.name");
        assert_eq!(field_of("tokens: [{path: t/token, namespace: \"a/b\", serviceAccount: sa}]"), "namespace");
        assert_eq!(field_of("tokens: [{path: t/..data, namespace: a, serviceAccount: sa}]"), "path");
        assert_eq!(
            field_of("tokens: [{path: t/x, namespace: a, serviceAccount: sa}, {path: t/x, namespace: b, serviceAccount: sa}]"),
            "path"
        );
        assert_eq!(
            field_of("tokens: [{name: a, path: t/x, namespace: a, serviceAccount: sa}, {name: a, path: t/y, namespace: b, serviceAccount: sa}]"),
            "name"
        );
        assert!(matches!(parse(&t("kind: Pod")), Err(ConfigError::Yaml { .. })));
        assert!(matches!(parse(&t("boundObjectRef: {kind: Service, name: x}")), Err(ConfigError::Yaml { .. })));
        assert!(matches!(parse("tokens: []"), Err(ConfigError::Empty { .. })));
        assert!(matches!(parse("tokens: {"), Err(ConfigError::Yaml { .. })));
    }

    #[test]
    fn a_bare_octal_mode_is_octal_as_in_a_pod_spec() {
        // YAML 1.1's octal, as Kubernetes' YAML reader takes `defaultMode: 0600`.
        let c = parse("tokens: [{path: t/token, namespace: ns, serviceAccount: sa, mode: 0600}]").unwrap();
        assert_eq!(c.tokens[0].mode, 0o600);
    }

    #[test]
    fn the_message_names_file_token_and_field() {
        let e = parse("tokens: [{path: t/token, namespace: ns, serviceAccount: sa, mode: 600}]").unwrap_err();
        assert_eq!(
            e.to_string(),
            "/etc/kauth/agent.yaml: tokens[0].mode: 600 is not a file mode: write it as octal text (\"0600\") or as a decimal number up to 511 (0600 is 384)"
        );
    }
}
