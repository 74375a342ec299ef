//! The cluster a delegating server asks: one API server, reached as a kubeconfig's current
//! context says (server URL, CA, client certificate or bearer token), over HTTPS through ureq
//! with rustls on aws-lc-rs. Calls block: the layer makes them on tokio's blocking pool.

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use kauth::pki::kubeconfig::{decode_data, Kubeconfig};

/// Why the cluster could not be set up or asked.
#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    /// The kubeconfig (or a file it names) could not be read or is not usable.
    #[error("{what}: {problem}")]
    Config {
        /// The file.
        what: String,
        /// What is wrong.
        problem: String,
    },
    /// No answer came (connection refused or reset, TLS).
    #[error("{url}: {problem}")]
    Unreachable {
        /// The URL asked.
        url: String,
        /// What went wrong.
        problem: String,
        /// The connection was reset (a transient failure kube-apiserver's webhooks retry).
        reset: bool,
    },
    /// No answer came within the call's timeout.
    #[error("{url}: no answer within {seconds}s")]
    TimedOut {
        /// The URL asked.
        url: String,
        /// The timeout.
        seconds: u64,
    },
    /// An answer came with a status other than 2xx.
    #[error("{url}: HTTP {status}: {message}")]
    Status {
        /// The URL asked.
        url: String,
        /// The HTTP status.
        status: u16,
        /// The Status message, or the body.
        message: String,
        /// The answer's `Retry-After` header, in seconds, when it has one.
        retry_after: Option<u64>,
    },
    /// A 2xx answer whose body is not the object expected.
    #[error("{url}: the answer is not a {kind}: {problem}")]
    Decode {
        /// The URL asked.
        url: String,
        /// The kind expected.
        kind: &'static str,
        /// What serde said.
        problem: String,
    },
}

impl ClusterError {
    /// Whether the cluster could not answer (no connection, or a 5xx or 429 status): the
    /// question was not judged, and a cached answer may stand in for a while.
    pub fn is_unavailable(&self) -> bool {
        match self {
            ClusterError::Unreachable { .. } | ClusterError::TimedOut { .. } => true,
            ClusterError::Status { status, .. } => *status >= 500 || *status == 429,
            ClusterError::Config { .. } | ClusterError::Decode { .. } => false,
        }
    }
}

/// How to reach one API server.
#[derive(Clone)]
pub struct ClusterSettings {
    /// The server URL (`https://host:port`).
    pub server: String,
    /// The CA bundle (PEM) that signs its serving certificate; `None`: the public web roots.
    pub ca_pem: Option<Vec<u8>>,
    /// The client certificate chain and key (PEM).
    pub client_cert: Option<(Vec<u8>, Vec<u8>)>,
    /// A bearer token.
    pub bearer: Option<String>,
    /// A file holding the bearer token, read at each call (the kubelet rotates projected
    /// service-account tokens in place).
    pub bearer_file: Option<std::path::PathBuf>,
    /// How long one call may take.
    pub timeout: Duration,
}

impl std::fmt::Debug for ClusterSettings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClusterSettings")
            .field("server", &self.server)
            .field("client_cert", &self.client_cert.as_ref().map(|_| "<pem>"))
            .field("bearer", &self.bearer.as_ref().map(|_| "<redacted>"))
            .finish()
    }
}

impl ClusterSettings {
    /// The settings of the current context of the kubeconfig at `path` (relative file names
    /// resolved from its directory, as kubectl does).
    pub fn from_kubeconfig(path: &Path) -> Result<Self, ClusterError> {
        let what = path.display().to_string();
        let config = |problem: String| ClusterError::Config { what: what.clone(), problem };
        let data = std::fs::read(path).map_err(|e| config(e.to_string()))?;
        let cfg = Kubeconfig::parse(&what, &data).map_err(|e| config(e.to_string()))?;
        let Some((cluster, auth, _)) = cfg.current() else {
            return Err(config(format!("the current context {:?} is not complete", cfg.current_context)));
        };
        let dir = path.parent().unwrap_or(Path::new("."));
        let read = |p: &str| std::fs::read(dir.join(p)).map_err(|e| config(format!("{p}: {e}")));
        let either = |data: &Option<String>, field: &str, file: &Option<String>| -> Result<_, ClusterError> {
            match (data, file) {
                (Some(d), _) => decode_data(&what, field, d).map(Some).map_err(|e| config(e.to_string())),
                (None, Some(p)) => read(p).map(Some),
                _ => Ok(None),
            }
        };
        let ca_pem =
            either(&cluster.certificate_authority_data, "certificate-authority-data", &cluster.certificate_authority)?;
        let cert = either(&auth.client_certificate_data, "client-certificate-data", &auth.client_certificate)?;
        let key = either(&auth.client_key_data, "client-key-data", &auth.client_key)?;
        let client_cert = match (cert, key) {
            (Some(c), Some(k)) => Some((c, k)),
            (None, None) => None,
            _ => return Err(config("a client certificate needs both certificate and key".into())),
        };
        Ok(ClusterSettings {
            server: cluster.server.clone(),
            ca_pem,
            client_cert,
            bearer: auth.token.clone(),
            bearer_file: auth.token_file.as_ref().map(|p| dir.join(p)),
            timeout: Duration::from_secs(10),
        })
    }

    /// The settings of a pod's service account (`KUBERNETES_SERVICE_HOST`, `_PORT`, and the
    /// token and CA mounted at `/var/run/secrets/kubernetes.io/serviceaccount`), as client-go's
    /// in-cluster configuration.
    pub fn in_cluster() -> Result<Self, ClusterError> {
        const DIR: &str = "/var/run/secrets/kubernetes.io/serviceaccount";
        let config = |problem: String| ClusterError::Config { what: "in-cluster configuration".into(), problem };
        let host = std::env::var("KUBERNETES_SERVICE_HOST")
            .map_err(|_| config("KUBERNETES_SERVICE_HOST is not set (not in a pod? give --kubeconfig)".into()))?;
        let port = std::env::var("KUBERNETES_SERVICE_PORT")
            .map_err(|_| config("KUBERNETES_SERVICE_PORT is not set".into()))?;
        let host = if host.contains(':') { format!("[{host}]") } else { host };
        let ca = std::fs::read(format!("{DIR}/ca.crt")).map_err(|e| config(format!("{DIR}/ca.crt: {e}")))?;
        Ok(ClusterSettings {
            server: format!("https://{host}:{port}"),
            ca_pem: Some(ca),
            client_cert: None,
            bearer: None,
            bearer_file: Some(format!("{DIR}/token").into()),
            timeout: Duration::from_secs(10),
        })
    }
}

/// A client for one API server: POSTs review objects and GETs objects as JSON.
#[derive(Clone)]
pub struct Cluster {
    agent: ureq::Agent,
    timeout: Duration,
    server: Arc<str>,
    bearer: Option<Arc<str>>,
    bearer_file: Option<Arc<std::path::Path>>,
}

impl std::fmt::Debug for Cluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Cluster({})", self.server)
    }
}

fn pem_certificates(pem: &[u8]) -> Vec<ureq::tls::Certificate<'static>> {
    ureq::tls::parse_pem(pem)
        .filter_map(|item| match item {
            Ok(ureq::tls::PemItem::Certificate(c)) => Some(c),
            _ => None,
        })
        .collect()
}

impl Cluster {
    /// A client with `settings`.
    pub fn new(settings: ClusterSettings) -> Result<Self, ClusterError> {
        let config = |problem: String| ClusterError::Config { what: settings.server.clone(), problem };
        let roots = match &settings.ca_pem {
            Some(pem) => {
                let certs = pem_certificates(pem);
                if certs.is_empty() {
                    return Err(config("the cluster's CA holds no PEM certificate".into()));
                }
                ureq::tls::RootCerts::new_with_certs(&certs)
            }
            None => ureq::tls::RootCerts::WebPki,
        };
        let client_cert = match &settings.client_cert {
            Some((cert, key)) => {
                let key = ureq::tls::PrivateKey::from_pem(key).map_err(|e| config(format!("the client key: {e}")))?;
                Some(ureq::tls::ClientCert::new_with_certs(&pem_certificates(cert), key))
            }
            None => None,
        };
        let tls = ureq::tls::TlsConfig::builder()
            .provider(ureq::tls::TlsProvider::Rustls)
            .unversioned_rustls_crypto_provider(Arc::new(rustls::crypto::aws_lc_rs::default_provider()))
            .root_certs(roots)
            .client_cert(client_cert)
            .build();
        let agent: ureq::Agent = ureq::Agent::config_builder()
            .tls_config(tls)
            .http_status_as_error(false)
            .proxy(None)
            .timeout_global(Some(settings.timeout))
            .build()
            .into();
        Ok(Cluster {
            agent,
            timeout: settings.timeout,
            server: settings.server.trim_end_matches('/').into(),
            bearer: settings.bearer.map(Into::into),
            bearer_file: settings.bearer_file.map(Into::into),
        })
    }

    /// The server's URL.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// How long one call may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// POSTs `object` to `path` and decodes the answer as `T` (a review comes back filled in).
    pub fn create<T: serde::Serialize + serde::de::DeserializeOwned>(
        &self,
        path: &str,
        object: &T,
        kind: &'static str,
    ) -> Result<T, ClusterError> {
        let url = format!("{}{path}", self.server);
        let body = serde_json::to_string(object).map_err(|e| ClusterError::Decode {
            url: url.clone(),
            kind,
            problem: e.to_string(),
        })?;
        let mut req =
            self.agent.post(&url).header("Accept", "application/json").header("Content-Type", "application/json");
        if let Some(t) = self.bearer(&url)? {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        self.decode(&url, kind, req.send(body.as_str()))
    }

    /// GETs `path` and decodes it as `T`.
    pub fn get<T: serde::de::DeserializeOwned>(&self, path: &str, kind: &'static str) -> Result<T, ClusterError> {
        let url = format!("{}{path}", self.server);
        // The JWKS is served as application/jwk-set+json (kube-apiserver answers 406 otherwise).
        let mut req = self.agent.get(&url).header("Accept", "application/json, application/jwk-set+json");
        if let Some(t) = self.bearer(&url)? {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        self.decode(&url, kind, req.call())
    }

    /// GETs `path` for a long answer read as it comes (a watch): the body's reader, after a
    /// 2xx status. The request's whole-call timeout is lifted; the body must be read within
    /// `read_within` (a watch asks the server to end it before then).
    pub fn stream(&self, path: &str, read_within: Duration) -> Result<impl std::io::Read + use<>, ClusterError> {
        let url = format!("{}{path}", self.server);
        let mut req = self.agent.get(&url).header("Accept", "application/json");
        if let Some(t) = self.bearer(&url)? {
            req = req.header("Authorization", &format!("Bearer {t}"));
        }
        let resp = req
            .config()
            .timeout_global(None)
            .timeout_recv_body(Some(read_within))
            .build()
            .call()
            .map_err(|e| self.failed(&url, e))?;
        let status = resp.status().as_u16();
        if !(200..300).contains(&status) {
            return Err(self
                .decode::<serde_json::Value>(&url, "watch", Ok(resp))
                .err()
                .unwrap_or(ClusterError::Status { url, status, message: String::new(), retry_after: None }));
        }
        Ok(resp.into_body().into_with_config().limit(u64::MAX).reader())
    }

    fn bearer(&self, url: &str) -> Result<Option<String>, ClusterError> {
        if let Some(path) = &self.bearer_file {
            let token = std::fs::read_to_string(path).map_err(|e| ClusterError::Unreachable {
                url: url.to_owned(),
                problem: format!("reading the token file {}: {e}", path.display()),
                reset: false,
            })?;
            return Ok(Some(token.trim().to_owned()));
        }
        Ok(self.bearer.as_deref().map(str::to_owned))
    }

    /// What a failed call's error means: a timeout, a reset connection, or no answer.
    fn failed(&self, url: &str, e: ureq::Error) -> ClusterError {
        match e {
            ureq::Error::Timeout(_) => ClusterError::TimedOut { url: url.to_owned(), seconds: self.timeout.as_secs() },
            ureq::Error::Io(io) if io.kind() == std::io::ErrorKind::TimedOut => {
                ClusterError::TimedOut { url: url.to_owned(), seconds: self.timeout.as_secs() }
            }
            ureq::Error::Io(io) => ClusterError::Unreachable {
                url: url.to_owned(),
                reset: io.kind() == std::io::ErrorKind::ConnectionReset,
                problem: io.to_string(),
            },
            other => ClusterError::Unreachable { url: url.to_owned(), problem: other.to_string(), reset: false },
        }
    }

    fn decode<T: serde::de::DeserializeOwned>(
        &self,
        url: &str,
        kind: &'static str,
        resp: Result<ureq::http::Response<ureq::Body>, ureq::Error>,
    ) -> Result<T, ClusterError> {
        let mut resp = resp.map_err(|e| self.failed(url, e))?;
        let status = resp.status().as_u16();
        let retry_after =
            resp.headers().get("Retry-After").and_then(|v| v.to_str().ok()).and_then(|v| v.trim().parse::<u64>().ok());
        let body = resp.body_mut().with_config().limit(16 << 20).read_to_string().map_err(|e| self.failed(url, e))?;
        if !(200..300).contains(&status) {
            let message = serde_json::from_str::<serde_json::Value>(&body)
                .ok()
                .and_then(|v| v.get("message").and_then(|m| m.as_str()).map(str::to_owned))
                .unwrap_or(body);
            return Err(ClusterError::Status { url: url.to_owned(), status, message, retry_after });
        }
        serde_json::from_str(&body).map_err(|e| ClusterError::Decode {
            url: url.to_owned(),
            kind,
            problem: e.to_string(),
        })
    }
}
