//! Where kubeadm keeps things: `<dir>/pki/<name>.crt|.key`, `<dir>/pki/sa.key|.pub`, `<dir>/<name>.conf`.

use std::path::{Path, PathBuf};

use super::cert::CertInfo;
use super::fsio;
use super::kubeconfig::{decode_data, Kubeconfig};
use super::{PkiError, PrivateKey};

/// The directory layout of a cluster's PKI (kubeadm's `/etc/kubernetes`).
#[derive(Debug, Clone)]
pub struct Layout {
    root: PathBuf,
    pki: PathBuf,
}

/// What exists on disk of a certificate/key pair.
#[derive(Debug)]
pub enum PairState {
    /// Neither file exists.
    Missing,
    /// Only the key exists (an interrupted run wrote it; the certificate can be signed for it).
    KeyOnly(PrivateKey),
    /// Only the certificate exists.
    CertOnly(CertInfo),
    /// Both exist (they may still not match).
    Both(CertInfo, PrivateKey),
}

/// A kubeconfig with its client credentials resolved.
#[derive(Debug)]
pub struct LoadedKubeconfig {
    /// The parsed document.
    pub config: Kubeconfig,
    /// The current context's server URL.
    pub server: String,
    /// The CA the kubeconfig trusts (first certificate of `certificate-authority[-data]`), if any.
    pub ca: Option<CertInfo>,
    /// The client certificate.
    pub cert: CertInfo,
    /// The client key.
    pub key: PrivateKey,
}

impl Layout {
    /// The layout under `root`, with certificates in `root/pki`.
    pub fn new(root: impl Into<PathBuf>) -> Self {
        let root = root.into();
        let pki = root.join("pki");
        Layout { root, pki }
    }

    /// The layout with certificates in another directory (kubeadm's `--cert-dir`).
    pub fn with_cert_dir(root: impl Into<PathBuf>, cert_dir: impl Into<PathBuf>) -> Self {
        Layout { root: root.into(), pki: cert_dir.into() }
    }

    /// The kubeconfig directory.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// The certificate directory.
    pub fn cert_dir(&self) -> &Path {
        &self.pki
    }

    /// `<pki>/<stem>.crt`.
    pub fn cert_path(&self, stem: &str) -> PathBuf {
        self.pki.join(format!("{stem}.crt"))
    }

    /// `<pki>/<stem>.key`.
    pub fn key_path(&self, stem: &str) -> PathBuf {
        self.pki.join(format!("{stem}.key"))
    }

    /// `<pki>/sa.key`: the service-account token signing key.
    pub fn sa_key_path(&self) -> PathBuf {
        self.pki.join("sa.key")
    }

    /// `<pki>/sa.pub`: its public half, for token verification.
    pub fn sa_pub_path(&self) -> PathBuf {
        self.pki.join("sa.pub")
    }

    /// `<root>/<file>`.
    pub fn kubeconfig_path(&self, file: &str) -> PathBuf {
        self.root.join(file)
    }

    /// A path as messages show it: relative to the root when below it.
    pub fn show(&self, path: &Path) -> String {
        path.strip_prefix(&self.root).unwrap_or(path).display().to_string()
    }

    /// Reads a certificate/key pair; a file that exists but cannot be parsed is an error.
    pub fn load_pair(&self, stem: &str) -> Result<PairState, PkiError> {
        let cert = self.load_cert(stem)?;
        let key_path = self.key_path(stem);
        let key = match read_optional(&key_path)? {
            Some(data) => Some(PrivateKey::from_pem(&self.show(&key_path), &data)?),
            None => None,
        };
        Ok(match (cert, key) {
            (None, None) => PairState::Missing,
            (None, Some(k)) => PairState::KeyOnly(k),
            (Some(c), None) => PairState::CertOnly(c),
            (Some(c), Some(k)) => PairState::Both(c, k),
        })
    }

    /// Reads `<pki>/<stem>.crt` if it exists.
    pub fn load_cert(&self, stem: &str) -> Result<Option<CertInfo>, PkiError> {
        let path = self.cert_path(stem);
        read_optional(&path)?.map(|data| CertInfo::from_pem(&self.show(&path), &data)).transpose()
    }

    /// Reads a kubeconfig and the credentials of its current context, if the file exists.
    pub fn load_kubeconfig(&self, file: &str) -> Result<Option<LoadedKubeconfig>, PkiError> {
        let path = self.kubeconfig_path(file);
        let Some(data) = read_optional(&path)? else { return Ok(None) };
        let what = self.show(&path);
        load_kubeconfig_data(&what, &data, path.parent()).map(Some)
    }
}

/// Resolves a kubeconfig's current context into server, CA, client cert and key. Relative file
/// references are resolved against `base_dir`, as kubectl does.
pub fn load_kubeconfig_data(what: &str, data: &[u8], base_dir: Option<&Path>) -> Result<LoadedKubeconfig, PkiError> {
    let config = Kubeconfig::parse(what, data)?;
    let (cluster, user, _) = config.current().ok_or_else(|| {
        PkiError::malformed(
            what,
            format!("current-context {:?} does not name a context with a cluster and a user", config.current_context),
        )
    })?;
    let resolve = |p: &str| match base_dir {
        Some(dir) if Path::new(p).is_relative() => dir.join(p),
        _ => PathBuf::from(p),
    };
    let material = |inline: &Option<String>, file: &Option<String>, field: &str| -> Result<Option<Vec<u8>>, PkiError> {
        match (inline, file) {
            (Some(d), _) => decode_data(what, field, d).map(Some),
            (None, Some(f)) => fsio::read(&resolve(f)).map(Some),
            (None, None) => Ok(None),
        }
    };
    let ca =
        material(&cluster.certificate_authority_data, &cluster.certificate_authority, "certificate-authority-data")?
            .map(|pem| CertInfo::from_pem(&format!("{what} (certificate-authority-data)"), &pem))
            .transpose()?;
    let cert_pem = material(&user.client_certificate_data, &user.client_certificate, "client-certificate-data")?
        .ok_or_else(|| PkiError::malformed(what, "the current user has no client certificate"))?;
    let key_pem = material(&user.client_key_data, &user.client_key, "client-key-data")?
        .ok_or_else(|| PkiError::malformed(what, "the current user has no client key"))?;
    let cert = CertInfo::from_pem(&format!("{what} (client-certificate-data)"), &cert_pem)?;
    let key = PrivateKey::from_pem(&format!("{what} (client-key-data)"), &key_pem)?;
    let server = cluster.server.clone();
    Ok(LoadedKubeconfig { config, server, ca, cert, key })
}

fn read_optional(path: &Path) -> Result<Option<Vec<u8>>, PkiError> {
    match std::fs::read(path) {
        Ok(d) => Ok(Some(d)),
        Err(e) if matches!(e.kind(), std::io::ErrorKind::NotFound | std::io::ErrorKind::NotADirectory) => Ok(None),
        Err(e) => Err(PkiError::io(path, "read", e)),
    }
}
