//! The front proxy's configuration (`--requestheader-*`): which CA signs front proxies, which
//! names they may have, which headers carry the user; the start-up warning when the client CA and
//! the request-header CA share a certificate; and what the server publishes of it in
//! `kube-system/extension-apiserver-authentication`.
//!
//! Defaults: kube-apiserver has none (no request-header CA, no headers). kauth serve, which makes
//! a kubeadm PKI of its own, defaults to what kubeadm configures: `pki/front-proxy-ca.crt`, the
//! allowed name `front-proxy-client`, and `X-Remote-User`, `X-Remote-Group`, `X-Remote-Extra-`,
//! so that `kauth pki`'s front-proxy-client certificate works out of the box. Given
//! `--requestheader-client-ca-file`, the flags are taken as they are, as kube-apiserver takes
//! them; `--requestheader-client-ca-file=""` turns front-proxy authentication off.

use std::collections::BTreeMap;
use std::path::Path;

use kauth::authn::rejection::CaRole;
use kauth::authn::request_header::{self, HeaderNames, RequestHeaderAuthenticator};
use kauth::authn::x509::X509Authenticator;
use kauth::pki::layout::Layout;

use crate::options::Options;

/// The ConfigMap in kube-system that tells aggregated API servers how to trust this server.
pub const CONFIGMAP: &str = "extension-apiserver-authentication";

/// kubeadm's allowed front-proxy name.
pub const KUBEADM_PROXY_NAME: &str = "front-proxy-client";

/// The front proxy's configuration as the server runs it.
#[derive(Debug, Clone)]
pub struct FrontProxy {
    /// The authenticator.
    pub authenticator: RequestHeaderAuthenticator,
    /// The request-header CA bundle (PEM).
    pub ca_pem: Vec<u8>,
    /// The allowed names.
    pub allowed_names: Vec<String>,
    /// The header names.
    pub names: HeaderNames,
}

/// The front proxy's configuration from the options, or `None` when it is off. Logs kube-apiserver's
/// warnings for header lists without the standard names, and the shared-CA trap.
pub fn configure(
    opts: &Options,
    layout: &Layout,
    client_ca_file: &Path,
    client_ca: &[u8],
) -> Result<Option<FrontProxy>, String> {
    let (file, names, allowed_names) = match &opts.requestheader_client_ca_file {
        Some(f) if f.as_os_str().is_empty() => return Ok(None),
        Some(f) => (
            f.clone(),
            HeaderNames {
                username: opts.requestheader_username_headers.clone(),
                uid: opts.requestheader_uid_headers.clone(),
                group: opts.requestheader_group_headers.clone(),
                extra_prefixes: opts.requestheader_extra_headers_prefix.clone(),
            },
            opts.requestheader_allowed_names.clone(),
        ),
        None => {
            let f = layout.cert_path("front-proxy-ca");
            if !f.exists() {
                return Ok(None);
            }
            (f, HeaderNames::kubeadm(), vec![KUBEADM_PROXY_NAME.to_owned()])
        }
    };
    for w in names.validate()? {
        tracing::warn!("{w}");
    }
    let what = file.display().to_string();
    let ca_pem = std::fs::read(&file).map_err(|e| format!("{what}: {e}"))?;
    let verifier =
        X509Authenticator::from_pem(&what, &ca_pem).map_err(|e| e.to_string())?.in_role(CaRole::RequestHeaderCa);
    let shared = request_header::shared_certificates(client_ca, &ca_pem);
    if !shared.is_empty() {
        let who = if allowed_names.is_empty() {
            "any client certificate it signed".to_owned()
        } else {
            format!("a client certificate with CN in {allowed_names:?}")
        };
        tracing::warn!(
            "the client CA ({}) and the request-header CA ({what}) share {shared:?}: every client certificate is tried as a front proxy's first, and {who} may name any user in {:?}; give the front proxy a CA of its own (kubeadm's front-proxy-ca) and set --requestheader-allowed-names",
            client_ca_file.display(),
            names.username,
        );
    }
    let authenticator = RequestHeaderAuthenticator::new(verifier, allowed_names.clone(), names.clone());
    Ok(Some(FrontProxy { authenticator, ca_pem, allowed_names, names }))
}

/// The data of `kube-system/extension-apiserver-authentication` as kube-apiserver writes it:
/// `client-ca-file`, and with a front proxy its CA and the lists as JSON arrays.
pub fn configmap_data(client_ca: &[u8], front_proxy: Option<&FrontProxy>) -> BTreeMap<String, String> {
    let mut data = BTreeMap::new();
    let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
    if !client_ca.is_empty() {
        data.insert("client-ca-file".to_owned(), text(client_ca));
    }
    let Some(p) = front_proxy else { return data };
    let json = |v: &[String]| serde_json::to_string(v).unwrap_or_else(|_| "[]".into());
    data.insert("requestheader-client-ca-file".into(), text(&p.ca_pem));
    data.insert("requestheader-allowed-names".into(), json(&p.allowed_names));
    data.insert("requestheader-username-headers".into(), json(&p.names.username));
    data.insert("requestheader-uid-headers".into(), json(&p.names.uid));
    data.insert("requestheader-group-headers".into(), json(&p.names.group));
    data.insert("requestheader-extra-headers-prefix".into(), json(&p.names.extra_prefixes));
    data
}
