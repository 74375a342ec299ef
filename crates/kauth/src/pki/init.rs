//! `kauth pki init`: write a kubeadm-compatible PKI, keeping what is already there and valid.
//!
//! The run has two phases. First everything is planned in memory: existing files are read and
//! checked, missing keys generated, certificates signed. Any conflict (a key that does not match
//! its certificate, a certificate signed by another CA, missing SANs) stops the run *before* a
//! single file is written. Then every file is written atomically, keys before certificates and
//! CAs before what they sign, so a run interrupted in the middle leaves only complete files, and
//! the next run completes it (a key found without its certificate gets a certificate signed).

use std::collections::HashMap;
use std::path::PathBuf;

use serde::Serialize;
use time::OffsetDateTime;

use super::cert::CertInfo;
use super::fsio::{write_atomic, FileMode};
use super::kubeconfig::Kubeconfig;
use super::layout::{Layout, PairState};
use super::sign::{issue, Signer};
use super::spec::{CaId, PkiConfig, Profile};
use super::verify::{role_problems, Expectation, Severity};
use super::{pem, PkiError, PrivateKey};

/// What `init` did with one item.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Outcome {
    /// Generated a new key and certificate.
    Created,
    /// Found valid and kept as it was.
    Kept,
    /// Found a key without its certificate; signed a certificate for that key.
    Completed,
    /// Replaced because `--force` was given.
    Regenerated,
}

/// One line of the report.
#[derive(Debug, Clone, Serialize)]
pub struct InitEntry {
    /// kubeadm's name (`ca`, `apiserver`, `sa`, `admin.conf`, ...).
    pub name: String,
    /// The files, relative to the root.
    pub files: Vec<String>,
    /// What was done.
    pub outcome: Outcome,
}

/// Everything `init` did, in order.
#[derive(Debug, Clone, Default, Serialize)]
pub struct InitReport {
    /// One entry per CA, certificate, key pair and kubeconfig.
    pub entries: Vec<InitEntry>,
}

#[derive(Default)]
struct Plan {
    writes: Vec<(PathBuf, Vec<u8>, FileMode)>,
    report: InitReport,
}

/// Creates or completes the PKI under `layout` for `cfg` at `now`. With `force`, every file is
/// regenerated. Nothing is written unless the whole run can succeed.
pub fn init(layout: &Layout, cfg: &PkiConfig, force: bool, now: OffsetDateTime) -> Result<InitReport, PkiError> {
    let leaves = cfg.leaves()?;
    let kubeconfigs = cfg.kubeconfigs()?;
    for dir in [layout.root().to_path_buf(), layout.cert_dir().to_path_buf(), layout.cert_dir().join("etcd")] {
        super::fsio::ensure_writable_dir(&dir)?;
    }
    let mut plan = Plan::default();

    let mut cas: HashMap<CaId, (CertInfo, PrivateKey)> = HashMap::new();
    for ca in CaId::ALL {
        let profile = cfg.ca_profile(ca);
        let pair = ensure_pair(layout, &mut plan, ca.name(), ca.file_stem(), &profile, None, cfg, force, now)?;
        cas.insert(ca, pair);
    }
    for leaf in &leaves {
        let (ca_cert, ca_key) = &cas[&leaf.ca];
        let signer = Signer { cert: ca_cert, key: ca_key };
        ensure_pair(layout, &mut plan, leaf.name, leaf.file_stem, &leaf.profile, Some(signer), cfg, force, now)?;
    }
    ensure_service_account_keys(layout, &mut plan, cfg, force)?;
    let (ca_cert, ca_key) = &cas[&CaId::Cluster];
    let ca_pem = pem::encode("CERTIFICATE", &ca_cert.der);
    for kc in &kubeconfigs {
        let path = layout.kubeconfig_path(kc.file);
        let existing = if force { None } else { layout.load_kubeconfig(kc.file)? };
        let outcome = match existing {
            Some(loaded) => {
                let mut problems = Vec::new();
                if !loaded.key.matches_public_key(loaded.cert.raw_public_key()) {
                    problems.push("client-key-data does not match client-certificate-data".to_owned());
                }
                if loaded.server != kc.server {
                    problems.push(format!("points at {} instead of {}", loaded.server, kc.server));
                }
                if loaded.ca.as_ref().map(|c| &c.der) != Some(&ca_cert.der) {
                    problems.push("certificate-authority-data is not pki/ca.crt".to_owned());
                }
                if let Err(p) = loaded.cert.verify_issued_by(ca_cert) {
                    problems.push(format!("client certificate: {p}"));
                }
                problems.extend(profile_problems(&loaded.cert, &kc.profile, now));
                if !problems.is_empty() {
                    return Err(PkiError::Conflict { what: layout.show(&path), problem: problems.join("; ") });
                }
                Outcome::Kept
            }
            None => {
                let key = PrivateKey::generate(cfg.key_type)?;
                let cert = issue(
                    kc.file,
                    &kc.profile,
                    &key,
                    Some(Signer { cert: ca_cert, key: ca_key }),
                    now,
                    cfg.cert_validity,
                )?;
                let doc = Kubeconfig::with_client_cert(
                    &cfg.cluster_name,
                    &kc.server,
                    &ca_pem,
                    &kc.user,
                    &pem::encode("CERTIFICATE", &cert.der),
                    &key.to_pem()?,
                );
                plan.writes.push((path.clone(), doc.to_yaml()?.into_bytes(), FileMode::Secret));
                if force && path.exists() {
                    Outcome::Regenerated
                } else {
                    Outcome::Created
                }
            }
        };
        plan.report.entries.push(InitEntry { name: kc.file.to_owned(), files: vec![layout.show(&path)], outcome });
    }

    for (path, data, mode) in &plan.writes {
        write_atomic(path, data, *mode)?;
    }
    Ok(plan.report)
}

/// The problems that keep an existing certificate from standing in for `profile`.
fn profile_problems(cert: &CertInfo, profile: &Profile, now: OffsetDateTime) -> Vec<String> {
    let orgs: Vec<&str> = profile.organizations.iter().map(String::as_str).collect();
    let expect = Expectation {
        cn: None,
        orgs: &orgs,
        usage: profile.usage,
        dns_names: profile.dns_names.clone(),
        ip_addresses: profile.ip_addresses.clone(),
    };
    let mut out: Vec<String> = role_problems(cert, &expect, now)
        .into_iter()
        .filter(|(sev, _, _)| *sev == Severity::Error)
        .map(|(_, p, _)| p)
        .collect();
    if cert.common_name.as_deref() != Some(profile.common_name.as_str()) {
        out.push(format!(
            "subject CN={:?}, expected {:?}",
            cert.common_name.as_deref().unwrap_or(""),
            profile.common_name
        ));
    }
    out
}

#[allow(clippy::too_many_arguments)]
fn ensure_pair(
    layout: &Layout,
    plan: &mut Plan,
    name: &str,
    stem: &str,
    profile: &Profile,
    signer: Option<Signer<'_>>,
    cfg: &PkiConfig,
    force: bool,
    now: OffsetDateTime,
) -> Result<(CertInfo, PrivateKey), PkiError> {
    let cert_path = layout.cert_path(stem);
    let key_path = layout.key_path(stem);
    let files = vec![layout.show(&cert_path), layout.show(&key_path)];
    let validity = if profile.is_ca { cfg.ca_validity } else { cfg.cert_validity };
    let existed = cert_path.exists() || key_path.exists();
    let state = if force { PairState::Missing } else { layout.load_pair(stem)? };
    let (cert, key, outcome) = match state {
        PairState::Both(cert, key) => {
            if !key.matches_public_key(cert.raw_public_key()) {
                return Err(PkiError::KeyMismatch { key: layout.show(&key_path), cert: layout.show(&cert_path) });
            }
            let mut problems =
                if profile.is_ca { ca_problems(&cert, now) } else { profile_problems(&cert, profile, now) };
            match signer {
                Some(s) => {
                    if let Err(p) = cert.verify_issued_by(s.cert) {
                        problems.push(p.to_string());
                    }
                }
                None => {
                    if let Err(p) = cert.verify_issued_by(&cert) {
                        problems.push(format!("not a valid self-signed CA: {p}"));
                    }
                }
            }
            if !problems.is_empty() {
                return Err(PkiError::Conflict { what: layout.show(&cert_path), problem: problems.join("; ") });
            }
            (cert, key, Outcome::Kept)
        }
        PairState::KeyOnly(key) => {
            let cert = issue(name, profile, &key, signer, now, validity)?;
            plan.writes.push((cert_path.clone(), pem::encode("CERTIFICATE", &cert.der).into_bytes(), FileMode::Public));
            (cert, key, Outcome::Completed)
        }
        PairState::CertOnly(_) => {
            return Err(PkiError::Conflict {
                what: layout.show(&cert_path),
                problem: format!("exists without its private key {}", layout.show(&key_path)),
            });
        }
        PairState::Missing => {
            let key = PrivateKey::generate(cfg.key_type)?;
            let cert = issue(name, profile, &key, signer, now, validity)?;
            plan.writes.push((key_path.clone(), key.to_pem()?.into_bytes(), FileMode::Secret));
            plan.writes.push((cert_path.clone(), pem::encode("CERTIFICATE", &cert.der).into_bytes(), FileMode::Public));
            (cert, key, if force && existed { Outcome::Regenerated } else { Outcome::Created })
        }
    };
    plan.report.entries.push(InitEntry { name: name.to_owned(), files, outcome });
    Ok((cert, key))
}

fn ca_problems(cert: &CertInfo, now: OffsetDateTime) -> Vec<String> {
    let mut out = Vec::new();
    if !cert.can_sign_certificates() {
        out.push("is not a CA certificate (needs CA:TRUE and keyCertSign)".to_owned());
    }
    if now > cert.not_after {
        out.push(format!("CA expired at {}", super::verify::rfc3339(cert.not_after)));
    }
    out
}

fn ensure_service_account_keys(layout: &Layout, plan: &mut Plan, cfg: &PkiConfig, force: bool) -> Result<(), PkiError> {
    let key_path = layout.sa_key_path();
    let pub_path = layout.sa_pub_path();
    let files = vec![layout.show(&key_path), layout.show(&pub_path)];
    let existed = key_path.exists() || pub_path.exists();
    let existing = if force || !key_path.exists() {
        None
    } else {
        Some(PrivateKey::from_pem(&layout.show(&key_path), &super::fsio::read(&key_path)?)?)
    };
    let outcome = match existing {
        Some(key) => {
            if pub_path.exists() {
                let data = super::fsio::read(&pub_path)?;
                let public = pem::sections(&layout.show(&pub_path), &data)?
                    .into_iter()
                    .find(|s| s.kind == rustls_pki_types::pem::SectionKind::PublicKey)
                    .ok_or_else(|| PkiError::malformed(layout.show(&pub_path), "holds no PUBLIC KEY block"))?;
                if public.der != key.public_key_der() {
                    return Err(PkiError::KeyMismatch { key: layout.show(&key_path), cert: layout.show(&pub_path) });
                }
                Outcome::Kept
            } else {
                plan.writes.push((pub_path, key.public_key_pem().into_bytes(), FileMode::Public));
                Outcome::Completed
            }
        }
        None => {
            let key = PrivateKey::generate(cfg.key_type)?;
            plan.writes.push((key_path, key.to_pem()?.into_bytes(), FileMode::Secret));
            plan.writes.push((pub_path, key.public_key_pem().into_bytes(), FileMode::Public));
            if force && existed {
                Outcome::Regenerated
            } else {
                Outcome::Created
            }
        }
    };
    plan.report.entries.push(InitEntry { name: "sa".into(), files, outcome });
    Ok(())
}
