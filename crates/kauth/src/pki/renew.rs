//! `kauth pki renew`: re-sign certificates with their existing CA, keeping each key, as
//! `kubeadm certs renew` does. The existing certificate is the source of its subject, usages and
//! SANs, so a renewal never changes what a certificate is, only when it expires.
//!
//! A renewed certificate never outlives its CA: the new `notAfter` is capped at the CA's.

use serde::Serialize;
use serde_norway::Value;
use time::OffsetDateTime;

use super::cert::CertInfo;
use super::fsio::{self, write_atomic, FileMode};
use super::layout::{Layout, PairState};
use super::sign::{issue, Signer};
use super::spec::{CaId, Profile, KUBECONFIG_ROLES, LEAF_ROLES};
use super::{pem, PkiError, PrivateKey};

/// One renewed (or skipped) item.
#[derive(Debug, Clone, Serialize)]
pub struct RenewEntry {
    /// kubeadm's name.
    pub name: String,
    /// The file written.
    pub file: String,
    /// The old end of validity.
    #[serde(with = "time::serde::rfc3339::option")]
    pub old_not_after: Option<OffsetDateTime>,
    /// The new end of validity; `None` when skipped.
    #[serde(with = "time::serde::rfc3339::option")]
    pub new_not_after: Option<OffsetDateTime>,
    /// Why it was skipped, or a note (capped at the CA's expiry).
    pub note: Option<String>,
}

/// Every name `renew` accepts, in kubeadm's order.
pub fn renewable_names() -> Vec<&'static str> {
    let mut names: Vec<&str> =
        LEAF_ROLES.iter().map(|r| r.name).chain(KUBECONFIG_ROLES.iter().map(|r| r.file)).collect();
    names.sort_unstable();
    names
}

/// Renews `names` (or everything present, for `["all"]`). Nothing is written unless every
/// requested renewal can be done.
pub fn renew(
    layout: &Layout,
    names: &[String],
    now: OffsetDateTime,
    validity: std::time::Duration,
) -> Result<Vec<RenewEntry>, PkiError> {
    let all = names.iter().any(|n| n == "all");
    let known = renewable_names();
    for n in names {
        if n != "all" && !known.contains(&n.as_str()) {
            return Err(PkiError::UnknownName { name: n.clone(), known: format!("all, {}", known.join(", ")) });
        }
    }
    let wanted = |n: &str| all || names.iter().any(|x| x == n);

    let mut cas: Vec<(CaId, CertInfo, PrivateKey)> = Vec::new();

    let mut writes: Vec<(std::path::PathBuf, Vec<u8>, FileMode)> = Vec::new();
    let mut entries = Vec::new();
    for role in LEAF_ROLES.iter().filter(|r| wanted(r.name)) {
        let crt_path = layout.cert_path(role.file_stem);
        let file = layout.show(&crt_path);
        let (old, key) = match layout.load_pair(role.file_stem)? {
            PairState::Both(c, k) => (c, k),
            PairState::Missing if all => {
                entries.push(RenewEntry {
                    name: role.name.into(),
                    file,
                    old_not_after: None,
                    new_not_after: None,
                    note: Some("skipped: missing".into()),
                });
                continue;
            }
            _ => {
                return Err(PkiError::Conflict {
                    what: file,
                    problem: "needs both the certificate and its key to renew".into(),
                })
            }
        };
        if !key.matches_public_key(old.raw_public_key()) {
            return Err(PkiError::KeyMismatch { key: layout.show(&layout.key_path(role.file_stem)), cert: file });
        }
        let i = load_ca(layout, &mut cas, role.ca, now)?;
        let (new, note) = resign(role.name, &old, &key, &cas[i].1, &cas[i].2, now, validity)?;
        writes.push((crt_path, pem::encode("CERTIFICATE", &new.der).into_bytes(), FileMode::Public));
        entries.push(RenewEntry {
            name: role.name.into(),
            file,
            old_not_after: Some(old.not_after),
            new_not_after: Some(new.not_after),
            note,
        });
    }
    for role in KUBECONFIG_ROLES.iter().filter(|r| wanted(r.file)) {
        let path = layout.kubeconfig_path(role.file);
        let file = layout.show(&path);
        let Some(loaded) = layout.load_kubeconfig(role.file)? else {
            if all {
                entries.push(RenewEntry {
                    name: role.file.into(),
                    file,
                    old_not_after: None,
                    new_not_after: None,
                    note: Some("skipped: missing".into()),
                });
                continue;
            }
            return Err(PkiError::Conflict { what: file, problem: "the kubeconfig is missing".into() });
        };
        if !loaded.key.matches_public_key(loaded.cert.raw_public_key()) {
            return Err(PkiError::Conflict {
                what: file,
                problem: "client-key-data does not match client-certificate-data".into(),
            });
        }
        let i = load_ca(layout, &mut cas, CaId::Cluster, now)?;
        let (new, note) = resign(role.file, &loaded.cert, &loaded.key, &cas[i].1, &cas[i].2, now, validity)?;
        let text = rewrite_kubeconfig(
            &file,
            &fsio::read(&path)?,
            &pem::encode("CERTIFICATE", &new.der),
            &pem::encode("CERTIFICATE", &cas[i].1.der),
        )?;
        writes.push((path, text.into_bytes(), FileMode::Secret));
        entries.push(RenewEntry {
            name: role.file.into(),
            file,
            old_not_after: Some(loaded.cert.not_after),
            new_not_after: Some(new.not_after),
            note,
        });
    }
    for (path, data, mode) in &writes {
        write_atomic(path, data, *mode)?;
    }
    Ok(entries)
}

/// Loads a CA (once) with its key; refuses an expired CA or one without its key.
fn load_ca(
    layout: &Layout,
    cas: &mut Vec<(CaId, CertInfo, PrivateKey)>,
    id: CaId,
    now: OffsetDateTime,
) -> Result<usize, PkiError> {
    if let Some(i) = cas.iter().position(|(c, _, _)| *c == id) {
        return Ok(i);
    }
    let crt = layout.show(&layout.cert_path(id.file_stem()));
    match layout.load_pair(id.file_stem())? {
        PairState::Both(cert, key) => {
            if !key.matches_public_key(cert.raw_public_key()) {
                return Err(PkiError::KeyMismatch { key: layout.show(&layout.key_path(id.file_stem())), cert: crt });
            }
            if now > cert.not_after {
                return Err(PkiError::Conflict {
                    what: crt,
                    problem: "the CA has expired; certificates it signs would not verify".into(),
                });
            }
            cas.push((id, cert, key));
            Ok(cas.len() - 1)
        }
        PairState::CertOnly(_) => Err(PkiError::Conflict {
            what: crt,
            problem: "the CA key is absent (external CA): kauth cannot sign renewals".into(),
        }),
        _ => Err(PkiError::Conflict { what: crt, problem: "the CA is missing".into() }),
    }
}

fn resign(
    name: &str,
    old: &CertInfo,
    key: &PrivateKey,
    ca: &CertInfo,
    ca_key: &PrivateKey,
    now: OffsetDateTime,
    validity: std::time::Duration,
) -> Result<(CertInfo, Option<String>), PkiError> {
    let profile = Profile::from_cert(old);
    let ca_left = (ca.not_after - now).whole_seconds().max(0).unsigned_abs();
    let (validity, note) = if validity.as_secs() > ca_left {
        (
            std::time::Duration::from_secs(ca_left),
            Some(format!("capped at the CA's expiry {}", super::verify::rfc3339(ca.not_after))),
        )
    } else {
        (validity, None)
    };
    Ok((issue(name, &profile, key, Some(Signer { cert: ca, key: ca_key }), now, validity)?, note))
}

/// Replaces the current user's client certificate and the current cluster's CA in a kubeconfig,
/// keeping every other field as it was.
fn rewrite_kubeconfig(what: &str, data: &[u8], cert_pem: &str, ca_pem: &str) -> Result<String, PkiError> {
    use base64::Engine;
    let b64 = |s: &str| Value::String(base64::engine::general_purpose::STANDARD.encode(s));
    let bad = |p: &str| PkiError::malformed(what, p.to_owned());
    let text = std::str::from_utf8(data).map_err(|_| bad("not UTF-8"))?;
    let mut doc: Value = serde_norway::from_str(text).map_err(|e| bad(&e.to_string()))?;
    let current =
        doc.get("current-context").and_then(Value::as_str).ok_or_else(|| bad("no current-context"))?.to_owned();
    let ctx = find_named(&doc, "contexts", &current)
        .and_then(|c| c.get("context"))
        .ok_or_else(|| bad("current-context names no context"))?;
    let user = ctx.get("user").and_then(Value::as_str).ok_or_else(|| bad("context has no user"))?.to_owned();
    let cluster = ctx.get("cluster").and_then(Value::as_str).ok_or_else(|| bad("context has no cluster"))?.to_owned();
    let u = find_named_mut(&mut doc, "users", &user)
        .and_then(|u| u.get_mut("user"))
        .and_then(Value::as_mapping_mut)
        .ok_or_else(|| bad("user not found"))?;
    u.remove("client-certificate");
    u.insert(Value::String("client-certificate-data".into()), b64(cert_pem));
    let c = find_named_mut(&mut doc, "clusters", &cluster)
        .and_then(|c| c.get_mut("cluster"))
        .and_then(Value::as_mapping_mut)
        .ok_or_else(|| bad("cluster not found"))?;
    if c.contains_key("certificate-authority-data") || !c.contains_key("certificate-authority") {
        c.insert(Value::String("certificate-authority-data".into()), b64(ca_pem));
    }
    serde_norway::to_string(&doc).map_err(|e| bad(&e.to_string()))
}

fn find_named<'a>(doc: &'a Value, list: &str, name: &str) -> Option<&'a Value> {
    doc.get(list)?.as_sequence()?.iter().find(|e| e.get("name").and_then(Value::as_str) == Some(name))
}

fn find_named_mut<'a>(doc: &'a mut Value, list: &str, name: &str) -> Option<&'a mut Value> {
    doc.get_mut(list)?.as_sequence_mut()?.iter_mut().find(|e| e.get("name").and_then(Value::as_str) == Some(name))
}
