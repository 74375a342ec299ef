//! A small client for a Kubernetes API (kauth serve, or any kube-apiserver), set up
//! from a kubeconfig's current context: server URL, CA, client certificate or bearer token.
//! HTTPS through ureq with rustls and kauth's aws-lc-rs provider.

use std::path::{Path, PathBuf};

use kauth::pki::kubeconfig::{decode_data, Kubeconfig};

use crate::failure::Failure;

/// A client for one API server.
pub struct ApiClient {
    agent: ureq::Agent,
    server: String,
    bearer: Option<String>,
}

impl std::fmt::Debug for ApiClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ApiClient")
            .field("server", &self.server)
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

fn read(path: &Path) -> Result<Vec<u8>, Failure> {
    std::fs::read(path).map_err(|e| Failure::bad_input(format!("{}: {e}", path.display())))
}

/// The kubeconfig to use: the flag, else `$KUBECONFIG`'s first entry, else `~/.kube/config`.
pub fn kubeconfig_path(flag: Option<&Path>) -> Option<PathBuf> {
    if let Some(p) = flag {
        return Some(p.to_owned());
    }
    if let Some(k) = std::env::var_os("KUBECONFIG").filter(|k| !k.is_empty()) {
        return std::env::split_paths(&k).next();
    }
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".kube").join("config"))
}

/// What a client needs to reach one API server.
pub struct Settings {
    /// The server URL (`https://host:port`).
    pub server: String,
    /// The CA bundle (PEM) to trust; `None`: the public web roots.
    pub ca_pem: Option<Vec<u8>>,
    /// The client certificate chain and key (PEM).
    pub client_cert: Option<(Vec<u8>, Vec<u8>)>,
    /// A bearer token.
    pub bearer: Option<String>,
    /// Skip verifying the server's certificate.
    pub insecure: bool,
    /// Use the environment's proxy (`HTTPS_PROXY`); otherwise dial the server directly.
    pub env_proxy: bool,
}

impl std::fmt::Debug for Settings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Settings")
            .field("server", &self.server)
            .field("client_cert", &self.client_cert.as_ref().map(|_| "<pem>"))
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .field("insecure", &self.insecure)
            .finish()
    }
}

/// An answer of any status.
#[derive(Debug)]
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The `Date` header, as sent.
    pub date: Option<String>,
    /// The body.
    pub body: String,
}

fn pem_certificates(pem: &[u8]) -> Vec<ureq::tls::Certificate<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect()
}

impl ApiClient {
    /// A client for the current context of the kubeconfig at `path`.
    pub fn from_kubeconfig(path: &Path) -> Result<Self, Failure> {
        let what = path.display().to_string();
        let cfg = Kubeconfig::parse(&what, &read(path)?)?;
        let Some((cluster, auth, _)) = cfg.current() else {
            return Err(Failure::bad_input(format!(
                "{what}: the current context {:?} is not complete",
                cfg.current_context
            )));
        };
        let relative = |p: &str| path.parent().unwrap_or(Path::new(".")).join(p);
        let ca_pem = match (&cluster.certificate_authority_data, &cluster.certificate_authority) {
            (Some(d), _) => Some(decode_data(&what, "certificate-authority-data", d)?),
            (None, Some(p)) => Some(read(&relative(p))?),
            _ => None,
        };
        let cert_pem = match (&auth.client_certificate_data, &auth.client_certificate) {
            (Some(d), _) => Some(decode_data(&what, "client-certificate-data", d)?),
            (None, Some(p)) => Some(read(&relative(p))?),
            _ => None,
        };
        let key_pem = match (&auth.client_key_data, &auth.client_key) {
            (Some(d), _) => Some(decode_data(&what, "client-key-data", d)?),
            (None, Some(p)) => Some(read(&relative(p))?),
            _ => None,
        };
        let client_cert = match (cert_pem, key_pem) {
            (Some(cert), Some(key)) => Some((cert, key)),
            (None, None) => None,
            _ => {
                return Err(Failure::bad_input(format!("{what}: a client certificate needs both certificate and key")))
            }
        };
        Self::new(
            &what,
            Settings {
                server: cluster.server.clone(),
                ca_pem,
                client_cert,
                bearer: auth.token.clone(),
                insecure: cluster.insecure_skip_tls_verify == Some(true),
                env_proxy: true,
            },
        )
    }

    /// A client with these settings; `what` names their source in errors.
    pub fn new(what: &str, settings: Settings) -> Result<Self, Failure> {
        let roots = match &settings.ca_pem {
            Some(pem) => {
                let certs = pem_certificates(pem);
                if certs.is_empty() {
                    return Err(Failure::bad_input(format!("{what}: the cluster's CA holds no PEM certificate")));
                }
                ureq::tls::RootCerts::new_with_certs(&certs)
            }
            None => ureq::tls::RootCerts::WebPki,
        };
        let client_cert = match &settings.client_cert {
            Some((cert, key)) => {
                let key = ureq::tls::PrivateKey::from_pem(key)
                    .map_err(|e| Failure::bad_input(format!("{what}: the client key: {e}")))?;
                Some(ureq::tls::ClientCert::new_with_certs(&pem_certificates(cert), key))
            }
            None => None,
        };
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(kauth_server::transport::tls::provider())
            .root_certs(roots)
            .client_cert(client_cert)
            .disable_verification(settings.insecure)
            .build();
        let mut config = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .timeout_global(Some(std::time::Duration::from_secs(30)));
        if !settings.env_proxy {
            config = config.proxy(None);
        }
        let agent: ureq::Agent = config.build().into();
        Ok(ApiClient { agent, server: settings.server.trim_end_matches('/').to_owned(), bearer: settings.bearer })
    }

    /// Sends a request (a JSON `body` makes it a POST) and returns the answer whatever its
    /// status; `Err` only when no answer came (connection, TLS, timeout), in words.
    pub fn call(&self, path: &str, body: Option<&str>) -> Result<Answer, String> {
        let url = format!("{}{path}", self.server);
        let resp = match body {
            Some(b) => {
                let mut req = self
                    .agent
                    .post(&url)
                    .header("Accept", "application/json")
                    .header("Content-Type", "application/json");
                if let Some(t) = &self.bearer {
                    req = req.header("Authorization", &format!("Bearer {t}"));
                }
                req.send(b)
            }
            None => {
                // JWKS documents are served as application/jwk-set+json.
                let mut req = self.agent.get(&url).header("Accept", "application/json, application/jwk-set+json");
                if let Some(t) = &self.bearer {
                    req = req.header("Authorization", &format!("Bearer {t}"));
                }
                req.call()
            }
        };
        let mut resp = resp.map_err(|e| e.to_string())?;
        let status = resp.status().as_u16();
        let date = resp.headers().get("date").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let body = resp.body_mut().with_config().limit(16 << 20).read_to_string().map_err(|e| e.to_string())?;
        Ok(Answer { status, date, body })
    }

    /// GETs `path` and returns the body; a non-2xx answer becomes an error carrying the
    /// Status message.
    pub fn get(&self, path: &str) -> Result<String, Failure> {
        let url = format!("{}{path}", self.server);
        let mut req = self.agent.get(&url).header("Accept", "application/json");
        if let Some(t) = &self.bearer {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        Self::answer(&url, req.call())
    }

    /// POSTs a JSON `body` to `path` and returns the answer's body, as [`ApiClient::get`].
    pub fn post(&self, path: &str, body: &str) -> Result<String, Failure> {
        let url = format!("{}{path}", self.server);
        let mut req =
            self.agent.post(&url).header("Accept", "application/json").header("Content-Type", "application/json");
        if let Some(t) = &self.bearer {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        Self::answer(&url, req.send(body))
    }

    /// DELETEs `path` and returns the answer's body, as [`ApiClient::get`].
    pub fn delete(&self, path: &str) -> Result<String, Failure> {
        let url = format!("{}{path}", self.server);
        let mut req = self.agent.delete(&url).header("Accept", "application/json");
        if let Some(t) = &self.bearer {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        Self::answer(&url, req.call())
    }

    /// The server's URL, as the kubeconfig names it.
    pub fn server(&self) -> &str {
        &self.server
    }

    fn answer(url: &str, resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>) -> Result<String, Failure> {
        let mut resp = resp.map_err(|e| Failure::bad_input(format!("{url}: {e}")))?;
        let status = resp.status().as_u16();
        let body = resp
            .body_mut()
            .with_config()
            .limit(256 << 20)
            .read_to_string()
            .map_err(|e| Failure::bad_input(format!("{url}: {e}")))?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
                .unwrap_or(body);
            return Err(Failure::unsound(format!("{url}: HTTP {status}: {message}")));
        }
        Ok(body)
    }
}
