//! The kubeconfig check: the file parses, the context exists and is complete, the files it
//! names exist and are readable, and credentials are not readable by others. What it loads (the
//! CA, client certificate and key, token) is the [`Target`] every later check examines.

use std::path::{Path, PathBuf};

use kauth::pki::kubeconfig::{decode_data, AuthInfo, Cluster, Kubeconfig};

use super::finding::{Check, Report};
use crate::failure::Failure;
use crate::secret::Secret;

/// Where a bearer token came from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSource {
    /// The kubeconfig's `token`.
    Inline,
    /// A `tokenFile`.
    File(PathBuf),
    /// An exec plugin's `ExecCredential`.
    ExecPlugin,
}

/// One context of a kubeconfig with what its fields point at.
#[derive(Debug)]
pub struct Target {
    /// The context's namespace (`default` when none).
    pub namespace: String,
    /// The cluster entry.
    pub cluster: Cluster,
    /// The user entry.
    pub auth: AuthInfo,
    /// The CA bundle (PEM) the kubeconfig trusts, when it names one and it could be read.
    pub ca_pem: Option<Vec<u8>>,
    /// The client certificate (PEM).
    pub client_cert: Option<Vec<u8>>,
    /// The client key (PEM).
    pub client_key: Option<Secret>,
    /// A bearer token, and where it came from.
    pub token: Option<(Secret, TokenSource)>,
}

fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::bad_input(format!("{}: {e}", path.display())))
}

/// Reads the kubeconfig and picks the context (`--context`, else `current-context`). A file
/// that cannot be read or parsed, or a context that is missing or incomplete, is bad input.
pub fn load(path: &Path, context: Option<&str>) -> Result<(Kubeconfig, String), Failure> {
    let what = path.display().to_string();
    let cfg = Kubeconfig::parse(&what, &read(path)?)?;
    let name = context.map(str::to_owned).unwrap_or_else(|| cfg.current_context.clone());
    if name.is_empty() {
        return Err(Failure::bad_input(format!("{what}: no current-context and no --context given")));
    }
    let Some(ctx) = cfg.contexts.iter().find(|c| c.name == name) else {
        let known: Vec<&str> = cfg.contexts.iter().map(|c| c.name.as_str()).collect();
        return Err(Failure::bad_input(format!("{what}: no context {name:?} (contexts: {known:?})")));
    };
    if !cfg.clusters.iter().any(|c| c.name == ctx.context.cluster) {
        return Err(Failure::bad_input(format!(
            "{what}: context {name:?} names cluster {:?}, which is not in the file",
            ctx.context.cluster
        )));
    }
    if !cfg.users.iter().any(|u| u.name == ctx.context.user) {
        return Err(Failure::bad_input(format!(
            "{what}: context {name:?} names user {:?}, which is not in the file",
            ctx.context.user
        )));
    }
    Ok((cfg, name))
}

/// Checks the context's fields and files, recording findings, and returns what they hold.
pub fn check(path: &Path, cfg: &Kubeconfig, context: &str, report: &mut Report) -> Target {
    let what = path.display().to_string();
    let ctx = cfg.contexts.iter().find(|c| c.name == context).map(|c| c.context.clone()).unwrap_or_default();
    let cluster = cfg.clusters.iter().find(|c| c.name == ctx.cluster).map(|c| c.cluster.clone()).unwrap_or_default();
    let auth = cfg.users.iter().find(|u| u.name == ctx.user).map(|u| u.user.clone()).unwrap_or_default();
    report.note(
        Check::Kubeconfig,
        format!("{what} parses; context {context:?} uses cluster {:?} and user {:?}", ctx.cluster, ctx.user),
    );
    let base = path.parent().unwrap_or(Path::new("."));
    let mut files = Files { base, report, credentials: false };

    let ca_pem = files.material(
        "certificate-authority",
        cluster.certificate_authority_data.as_deref(),
        cluster.certificate_authority.as_deref(),
        false,
        &what,
    );
    let client_cert = files.material(
        "client-certificate",
        auth.client_certificate_data.as_deref(),
        auth.client_certificate.as_deref(),
        false,
        &what,
    );
    let client_key = files
        .material("client-key", auth.client_key_data.as_deref(), auth.client_key.as_deref(), true, &what)
        .and_then(|k| String::from_utf8(k).ok())
        .map(Secret::new);
    let mut token = auth.token.as_deref().map(|t| (Secret::new(t), TokenSource::Inline));
    if let Some(f) = &auth.token_file {
        let p = base.join(f);
        if let Some(data) = files.file("tokenFile", &p, true) {
            if token.is_none() {
                token = Some((Secret::new(String::from_utf8_lossy(&data).into_owned()), TokenSource::File(p)));
            }
        }
    }
    files.credentials |= auth.token.is_some() || auth.client_key_data.is_some();
    let credentials = files.credentials;
    match (&client_cert, &client_key) {
        (Some(_), None) => report.error(
            Check::Kubeconfig,
            format!("user {:?} has a client certificate but no client key", ctx.user),
            "add client-key-data (or client-key) for the certificate's key",
        ),
        (None, Some(_)) => report.error(
            Check::Kubeconfig,
            format!("user {:?} has a client key but no client certificate", ctx.user),
            "add client-certificate-data (or client-certificate)",
        ),
        _ => {}
    }
    if client_cert.is_none() && token.is_none() && auth.exec.is_none() && auth.token_file.is_none() {
        report.warn(
            Check::Kubeconfig,
            format!("user {:?} has no credential (no client certificate, token, tokenFile or exec plugin): requests are anonymous", ctx.user),
            "add a credential to the user, or pick another context (--context)",
        );
    }
    if cluster.server.is_empty() {
        report.error(
            Check::Kubeconfig,
            format!("cluster {:?} has no server", ctx.cluster),
            "set it: kubectl config set-cluster NAME --server=https://HOST:6443",
        );
    }
    if cluster.insecure_skip_tls_verify == Some(true) {
        report.warn(
            Check::Kubeconfig,
            format!("cluster {:?} sets insecure-skip-tls-verify: any server, or anyone in between, can pose as it and receive the credential", ctx.cluster),
            "remove insecure-skip-tls-verify and set certificate-authority-data to the cluster's CA",
        );
    }
    if credentials {
        permissions(path, "the kubeconfig", report);
    }
    Target {
        namespace: ctx.namespace.clone().unwrap_or_else(|| "default".into()),
        cluster,
        auth,
        ca_pem,
        client_cert,
        client_key,
        token,
    }
}

struct Files<'a> {
    base: &'a Path,
    report: &'a mut Report,
    /// Whether the kubeconfig itself holds a secret (so its mode matters).
    credentials: bool,
}

impl Files<'_> {
    /// An inline `<field>-data` or the file `<field>` names.
    fn material(
        &mut self,
        field: &str,
        data: Option<&str>,
        file: Option<&str>,
        secret: bool,
        what: &str,
    ) -> Option<Vec<u8>> {
        if let Some(d) = data {
            return match decode_data(what, &format!("{field}-data"), d) {
                Ok(v) => Some(v),
                Err(e) => {
                    self.report.error(
                        Check::Kubeconfig,
                        e.to_string(),
                        format!("re-encode the PEM file: base64 -w0 FILE, into {field}-data"),
                    );
                    None
                }
            };
        }
        let p = self.base.join(file?);
        self.file(field, &p, secret)
    }

    fn file(&mut self, field: &str, p: &Path, secret: bool) -> Option<Vec<u8>> {
        match std::fs::read(p) {
            Ok(v) => {
                if secret {
                    permissions(p, field, self.report);
                }
                Some(v)
            }
            Err(e) => {
                self.report.error(
                    Check::Kubeconfig,
                    format!("{field} {}: {e}", p.display()),
                    format!("point {field} at a readable file (a relative path is relative to the kubeconfig's directory), or embed it as {field}-data"),
                );
                None
            }
        }
    }
}

/// A credential file readable by group or others is a warning.
fn permissions(p: &Path, what: &str, report: &mut Report) {
    use std::os::unix::fs::PermissionsExt;
    let Ok(meta) = std::fs::metadata(p) else { return };
    let mode = meta.permissions().mode() & 0o777;
    if mode & 0o077 != 0 {
        report.warn(
            Check::Kubeconfig,
            format!(
                "{what} {} holds a credential and is readable by {} (mode {mode:04o})",
                p.display(),
                if mode & 0o007 != 0 { "every local user" } else { "its group" }
            ),
            format!("chmod 600 {}", p.display()),
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn write(dir: &Path, name: &str, text: &str, mode: u32) -> PathBuf {
        let p = dir.join(name);
        std::fs::write(&p, text).unwrap();
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(mode)).unwrap();
        p
    }

    const CONFIG: &str = "apiVersion: v1\nkind: Config\ncurrent-context: c\nclusters:\n- name: k\n  cluster: {server: \"https://127.0.0.1:6443\", certificate-authority: ca.crt}\ncontexts:\n- name: c\n  context: {cluster: k, user: u}\nusers:\n- name: u\n  user: {token: abc}\n";

    #[test]
    fn missing_files_and_open_modes_are_findings() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "config", CONFIG, 0o644);
        let (cfg, ctx) = load(&p, None).unwrap();
        let mut r = Report::new(String::new(), ctx.clone(), String::new());
        let t = check(&p, &cfg, &ctx, &mut r);
        assert!(t.ca_pem.is_none());
        assert_eq!(t.token.as_ref().map(|(_, s)| s.clone()), Some(TokenSource::Inline));
        let causes: Vec<&str> = r.findings.iter().map(|f| f.cause.as_str()).collect();
        assert!(causes.iter().any(|c| c.starts_with("certificate-authority ") && c.contains("ca.crt")), "{causes:?}");
        assert!(causes.iter().any(|c| c.contains("readable by every local user (mode 0644)")), "{causes:?}");
    }

    #[test]
    fn bad_files_and_contexts_are_bad_input() {
        let dir = tempfile::tempdir().unwrap();
        let p = write(dir.path(), "config", CONFIG, 0o600);
        assert_eq!(load(&p, Some("nope")).unwrap_err().code(), 2);
        let garbage = write(dir.path(), "garbage", "clusters: [", 0o600);
        assert_eq!(load(&garbage, None).unwrap_err().code(), 2);
        assert_eq!(load(&dir.path().join("absent"), None).unwrap_err().code(), 2);
    }
}
