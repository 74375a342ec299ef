//! A token webhook's configuration file, read as kube-apiserver reads
//! `--authentication-token-webhook-config-file` (k8s.io/apiserver's `webhook.LoadKubeconfig`,
//! client-go's `clientcmd` with an explicit path): a kubeconfig whose current context names the
//! webhook: the cluster's `server` is the full URL TokenReviews are POSTed to, its
//! `certificate-authority(-data)` the CA of the webhook's serving certificate; the user's
//! client certificate and key, or token, what kube-apiserver presents. Relative file names are
//! read from the kubeconfig's directory. Each call may take 30 s (kube-apiserver's
//! `defaultRequestTimeout`; a kubeconfig cannot set it).
//!
//! Errors are clientcmd's texts first (`stat F: no such file or directory`, `invalid
//! configuration: [...]`), then `; kauth: ` and what to fix.

use std::path::{Path, PathBuf};
use std::time::Duration;

use kauth::pki::kubeconfig::{decode_data, AuthInfo, Cluster as KubeCluster, Kubeconfig};

use crate::cluster::ClusterSettings;

/// kube-apiserver's timeout for one webhook request, the body included.
pub const DEFAULT_REQUEST_TIMEOUT: Duration = Duration::from_secs(30);

/// Why the webhook's kubeconfig cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kubernetes}; kauth: {reason}")]
pub struct WebhookConfigError {
    /// kube-apiserver's error for the same file.
    pub kubernetes: String,
    /// What is wrong, and what to do.
    pub reason: String,
}

fn error(kubernetes: impl Into<String>, reason: impl Into<String>) -> WebhookConfigError {
    WebhookConfigError { kubernetes: kubernetes.into(), reason: reason.into() }
}

/// Go's text for an I/O error (`no such file or directory`, `permission denied`).
fn go_io(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        std::io::ErrorKind::IsADirectory => "is a directory".into(),
        _ => e.to_string().to_lowercase(),
    }
}

/// clientcmd's `invalid configuration: ...` over its validation errors (Go's aggregate).
fn invalid(errors: &[String]) -> String {
    match errors {
        [one] => format!("invalid configuration: {one}"),
        many => format!("invalid configuration: [{}]", many.join(", ")),
    }
}

const EMPTY_CONFIG: &str = "no configuration has been provided, try setting KUBERNETES_MASTER environment variable";

/// Reads the webhook's kubeconfig at `path` into the settings of its client.
pub fn load(path: &Path) -> Result<ClusterSettings, WebhookConfigError> {
    let shown = path.display().to_string();
    let data = match std::fs::read(path) {
        Ok(d) => d,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(error(format!("stat {shown}: {}", go_io(&e)), "the webhook's kubeconfig does not exist"))
        }
        Err(e) => {
            return Err(error(
                format!("error loading config file \"{shown}\": read {shown}: {}", go_io(&e)),
                format!("the webhook's kubeconfig cannot be read: {e}"),
            ))
        }
    };
    let cfg = Kubeconfig::parse(&shown, &data).map_err(|e| {
        error(format!("error loading config file \"{shown}\": {e}"), "the webhook's kubeconfig is not a kubeconfig")
    })?;
    let dir = path.parent().unwrap_or(Path::new("."));
    settings(&cfg, dir)
}

/// The settings of `cfg`'s current context, its files read from `dir`.
pub fn settings(cfg: &Kubeconfig, dir: &Path) -> Result<ClusterSettings, WebhookConfigError> {
    let empty =
        cfg.clusters.is_empty() && cfg.contexts.is_empty() && cfg.users.is_empty() && cfg.current_context.is_empty();
    if empty {
        return Err(error(invalid(&[EMPTY_CONFIG.into()]), "the webhook's kubeconfig is empty"));
    }
    let context = cfg.contexts.iter().find(|c| c.name == cfg.current_context && !cfg.current_context.is_empty());
    let mut errors = Vec::new();
    if !cfg.current_context.is_empty() && context.is_none() {
        errors.push(format!("context was not found for specified context: {}", cfg.current_context));
    }
    let (cluster_name, user_name) = context.map_or(("", ""), |c| (c.context.cluster.as_str(), c.context.user.as_str()));
    let cluster = cfg.clusters.iter().find(|c| c.name == cluster_name).map(|c| &c.cluster);
    let user = cfg.users.iter().find(|u| u.name == user_name).map(|u| &u.user);
    let default_user = AuthInfo::default();
    let user = user.unwrap_or(&default_user);
    errors.extend(check_user(user_name, user, dir));
    let cluster_errors = check_cluster(cluster_name, cluster, dir);
    if errors.is_empty() && cluster_errors == [EMPTY_CLUSTER] {
        // clientcmd: a context that names no usable cluster is no configuration at all.
        let why = match context {
            None if cfg.current_context.is_empty() => "the webhook's kubeconfig has no current-context".to_owned(),
            _ => format!("the current context {:?} names no cluster with a server", cfg.current_context),
        };
        return Err(error(invalid(&[EMPTY_CONFIG.into()]), why));
    }
    errors.extend(cluster_errors);
    if !errors.is_empty() {
        return Err(error(invalid(&errors), "the webhook's kubeconfig is not usable as it is (see above)"));
    }
    let Some(cluster) = cluster else { return Err(error(invalid(&[EMPTY_CLUSTER.into()]), "no cluster")) };
    if cluster.insecure_skip_tls_verify == Some(true) {
        return Err(error(
            "insecure-skip-tls-verify",
            "kauth does not send tokens to a webhook it cannot verify: give certificate-authority(-data)",
        ));
    }
    let read = |p: &str| std::fs::read(dir.join(p)).map_err(|e| error(p.to_owned(), e.to_string()));
    let either = |data: &Option<String>, field: &str, file: &Option<String>| match (data, file) {
        (Some(d), _) => {
            decode_data(field, field, d).map(Some).map_err(|e| error(format!("{field}: {e}"), "not base64"))
        }
        (None, Some(p)) => read(p).map(Some),
        _ => Ok(None),
    };
    let ca_pem =
        either(&cluster.certificate_authority_data, "certificate-authority-data", &cluster.certificate_authority)?;
    if let Some(pem) = &ca_pem {
        check_ca(pem)?;
    }
    let cert = either(&user.client_certificate_data, "client-certificate-data", &user.client_certificate)?;
    let key = either(&user.client_key_data, "client-key-data", &user.client_key)?;
    Ok(ClusterSettings {
        server: cluster.server.clone(),
        ca_pem,
        client_cert: cert.zip(key),
        bearer: user.token.clone(),
        bearer_file: user.token_file.as_ref().map(|p| dir.join(p)),
        timeout: DEFAULT_REQUEST_TIMEOUT,
    })
}

/// client-go's check of the CA bundle (`rootCertPool`): at least one certificate, with its
/// error texts otherwise.
fn check_ca(pem: &[u8]) -> Result<(), WebhookConfigError> {
    use rustls_pki_types::pem::PemObject;
    let certs: Vec<_> = rustls_pki_types::CertificateDer::pem_slice_iter(pem).collect();
    if let Some(Err(e)) = certs.iter().find(|c| c.is_err()) {
        return Err(error("unable to parse bytes as PEM block", format!("the webhook's CA bundle: {e}")));
    }
    if certs.is_empty() {
        let kube = if pem.windows(11).any(|w| w == b"-----BEGIN ") {
            "no valid certificate authority data seen"
        } else {
            "unable to parse bytes as PEM block"
        };
        return Err(error(kube, "the webhook's certificate-authority holds no PEM certificate"));
    }
    Ok(())
}

const EMPTY_CLUSTER: &str = "cluster has no server defined";

fn absolute(dir: &Path, p: &str) -> PathBuf {
    dir.join(p)
}

/// clientcmd's `validateClusterInfo`.
fn check_cluster(name: &str, cluster: Option<&KubeCluster>, dir: &Path) -> Vec<String> {
    let Some(c) = cluster.filter(|c| **c != KubeCluster::default()) else { return vec![EMPTY_CLUSTER.into()] };
    let mut errors = Vec::new();
    if c.server.is_empty() {
        errors.push(if name.is_empty() {
            "default cluster has no server defined".to_owned()
        } else {
            format!("no server found for cluster {name:?}")
        });
    }
    if c.certificate_authority.is_some() && c.certificate_authority_data.is_some() {
        errors.push(format!(
            "certificate-authority-data and certificate-authority are both specified for {name}. certificate-authority-data will override."
        ));
    }
    if let Some(ca) = &c.certificate_authority {
        let p = absolute(dir, ca);
        if let Err(e) = std::fs::File::open(&p) {
            let p = p.display();
            errors.push(format!("unable to read certificate-authority {p} for {name} due to open {p}: {}", go_io(&e)));
        }
    }
    errors
}

/// clientcmd's `validateAuthInfo`, for what a webhook's user may hold.
fn check_user(name: &str, user: &AuthInfo, dir: &Path) -> Vec<String> {
    let mut errors = Vec::new();
    if user.client_certificate.is_some() || user.client_certificate_data.is_some() {
        if user.client_certificate.is_some() && user.client_certificate_data.is_some() {
            errors.push(format!(
                "client-cert-data and client-cert are both specified for {name}. client-cert-data will override."
            ));
        }
        if user.client_key.is_some() && user.client_key_data.is_some() {
            errors.push(format!(
                "client-key-data and client-key are both specified for {name}; client-key-data will override"
            ));
        }
        if user.client_key.is_none() && user.client_key_data.is_none() {
            errors.push(format!(
                "client-key-data or client-key must be specified for {name} to use the clientCert authentication method."
            ));
        }
        for (what, file) in [("client-cert", &user.client_certificate), ("client-key", &user.client_key)] {
            if let Some(f) = file {
                let p = absolute(dir, f);
                if let Err(e) = std::fs::File::open(&p) {
                    let p = p.display();
                    errors.push(format!("unable to read {what} {p} for {name} due to open {p}: {}", go_io(&e)));
                }
            }
        }
    }
    errors
}

#[cfg(test)]
#[path = "webhook_kubeconfig_tests.rs"]
mod tests;
