//! `kauth cert inspect`: a certificate, chain, CSR or kubeconfig explained in Kubernetes terms.
//!
//! Accepts PEM (any number of blocks), DER (one certificate or CSR) or a kubeconfig. Private keys
//! found in the input are reported by type only; their material is never printed.

use std::fmt::Write as _;

use rustls_pki_types::pem::SectionKind;
use serde::Serialize;
use time::OffsetDateTime;
use x509_parser::certification_request::X509CertificationRequest;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::prelude::FromDer;

use super::cert::CertInfo;
use super::check::short_human;
use super::layout::load_kubeconfig_data;
use super::verify::rfc3339;
use super::{pem, PkiError, PrivateKey};

/// One thing found in the input.
#[derive(Debug, Clone, Serialize)]
#[serde(tag = "type", rename_all = "kebab-case")]
pub enum Item {
    /// An X.509 certificate.
    Certificate(Box<CertView>),
    /// A PKCS#10 certificate signing request.
    CertificateRequest(CsrView),
    /// A private key (type only).
    PrivateKey {
        /// The PEM label.
        label: String,
        /// `RSA`, `ECDSA`, or why it could not be read.
        algorithm: String,
    },
    /// A kubeconfig's current context.
    Kubeconfig(KubeconfigView),
}

/// A certificate and what it means to Kubernetes.
#[derive(Debug, Clone, Serialize)]
pub struct CertView {
    /// The parsed certificate.
    #[serde(flatten)]
    pub cert: CertInfo,
    /// `valid`, `expired` or `not-yet-valid` at the time of inspection.
    pub state: &'static str,
    /// Seconds until expiry (negative when expired).
    pub remaining_seconds: i64,
    /// The user and groups a Kubernetes apiserver assigns when this is a client cert.
    pub authenticates_as: Option<KubeUser>,
    /// The names and addresses this certificate can serve.
    pub serves: Vec<String>,
    /// Notes in Kubernetes terms (privileged groups, roles recognised).
    pub notes: Vec<String>,
    /// The chain check against `--ca` or the following certificate, if one was made.
    pub chain: Option<ChainCheck>,
}

/// A Kubernetes user as the x509 authenticator builds it (CN = user, O = groups).
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct KubeUser {
    /// The user name.
    pub user: String,
    /// The groups (`system:authenticated` is added by the apiserver on top).
    pub groups: Vec<String>,
}

/// The outcome of a chain check.
#[derive(Debug, Clone, Serialize)]
pub struct ChainCheck {
    /// True when a CA in the bundle (or the next cert in the input) signed it.
    pub verified: bool,
    /// The CA's subject that verified it, or what went wrong.
    pub detail: String,
}

/// A CSR and the identity it asks for.
#[derive(Debug, Clone, Serialize)]
pub struct CsrView {
    /// The requested subject.
    pub subject: String,
    /// The identity a signed certificate would carry.
    pub requests_identity: Option<KubeUser>,
    /// Requested DNS and IP SANs.
    pub requested_sans: Vec<String>,
    /// Whether the CSR's self-signature verifies.
    pub signature_valid: bool,
}

/// A kubeconfig's current context and its credentials.
#[derive(Debug, Clone, Serialize)]
pub struct KubeconfigView {
    /// The current context's server.
    pub server: String,
    /// The current context's name.
    pub context: String,
    /// Whether the client key matches the client certificate.
    pub key_matches: bool,
    /// Whether the embedded CA signed the client certificate (the usual kubeadm layout).
    pub client_cert_signed_by_embedded_ca: Option<bool>,
    /// The client certificate.
    pub client_certificate: Box<CertView>,
    /// The CA the kubeconfig trusts for the server.
    pub certificate_authority: Option<Box<CertView>>,
}

/// Inspects `data` (named `what` in errors) at `now`; `ca_bundle` verifies chains when given.
pub fn inspect(
    what: &str,
    data: &[u8],
    ca_bundle: Option<&[CertInfo]>,
    now: OffsetDateTime,
) -> Result<Vec<Item>, PkiError> {
    let text_like = data.windows(11).any(|w| w == b"-----BEGIN ");
    let mut items = if text_like {
        from_pem(what, data, now)?
    } else if pem::looks_like_der(data) {
        vec![from_der(what, data, now)?]
    } else if looks_like_kubeconfig(data) {
        let loaded = load_kubeconfig_data(what, data, None)?;
        let view = |c: &CertInfo| Box::new(cert_view(c.clone(), now));
        vec![Item::Kubeconfig(KubeconfigView {
            server: loaded.server.clone(),
            context: loaded.config.current_context.clone(),
            key_matches: loaded.key.matches_public_key(loaded.cert.raw_public_key()),
            client_cert_signed_by_embedded_ca: loaded.ca.as_ref().map(|ca| loaded.cert.verify_issued_by(ca).is_ok()),
            client_certificate: view(&loaded.cert),
            certificate_authority: loaded.ca.as_ref().map(view),
        })]
    } else {
        return Err(PkiError::malformed(what, "is neither PEM, DER nor a kubeconfig"));
    };
    let certs = items
        .iter()
        .filter(|i| matches!(i, Item::Certificate(_) | Item::CertificateRequest(_) | Item::Kubeconfig(_)))
        .count();
    if certs == 0 {
        let labels: Vec<String> = items
            .iter()
            .filter_map(|i| match i {
                Item::PrivateKey { label, .. } => Some(label.clone()),
                _ => None,
            })
            .collect();
        return Err(PkiError::malformed(
            what,
            format!("contains a private key ({}), not a certificate, CSR or kubeconfig", labels.join(", ")),
        ));
    }
    check_chains(&mut items, ca_bundle);
    Ok(items)
}

fn looks_like_kubeconfig(data: &[u8]) -> bool {
    std::str::from_utf8(data)
        .is_ok_and(|t| t.contains("clusters") || t.contains("kind: Config") || t.contains("\"Config\""))
}

fn from_pem(what: &str, data: &[u8], now: OffsetDateTime) -> Result<Vec<Item>, PkiError> {
    let mut items = Vec::new();
    for (i, s) in pem::sections(what, data)?.into_iter().enumerate() {
        let name = format!("{what} (PEM block {})", i + 1);
        match s.kind {
            SectionKind::Certificate => {
                items.push(Item::Certificate(Box::new(cert_view(CertInfo::from_der(&name, &s.der)?, now))))
            }
            SectionKind::Csr => items.push(Item::CertificateRequest(csr_view(&name, &s.der)?)),
            k if pem::is_private_key(k) => {
                let block = pem::encode(pem::label(k), &s.der);
                let algorithm = match PrivateKey::from_pem(&name, block.as_bytes()) {
                    Ok(key) => key.algorithm_name().to_owned(),
                    Err(e) => format!("unreadable: {e}"),
                };
                items.push(Item::PrivateKey { label: pem::label(k).to_owned(), algorithm });
            }
            _ => {}
        }
    }
    Ok(items)
}

fn from_der(what: &str, data: &[u8], now: OffsetDateTime) -> Result<Item, PkiError> {
    match CertInfo::from_der(what, data) {
        Ok(c) => Ok(Item::Certificate(Box::new(cert_view(c, now)))),
        Err(cert_err) => csr_view(what, data).map(Item::CertificateRequest).map_err(|_| cert_err),
    }
}

/// Builds the Kubernetes reading of a certificate.
pub fn cert_view(cert: CertInfo, now: OffsetDateTime) -> CertView {
    let state = if now > cert.not_after {
        "expired"
    } else if now < cert.not_before {
        "not-yet-valid"
    } else {
        "valid"
    };
    let authenticates_as = if cert.client_auth && cert.is_ca != Some(true) {
        cert.kubernetes_user().map(|(u, g)| KubeUser { user: u.to_owned(), groups: g.to_vec() })
    } else {
        None
    };
    let serves = if cert.server_auth {
        cert.dns_names.iter().cloned().chain(cert.ip_addresses.iter().map(|i| i.to_string())).collect()
    } else {
        Vec::new()
    };
    let mut notes = Vec::new();
    if cert.is_ca == Some(true) {
        notes.push(format!("a CA{}", if cert.is_self_issued() { " (self-signed root)" } else { "" }));
    }
    if cert.organizations.iter().any(|o| o == "system:masters") && cert.client_auth {
        notes.push("group system:masters: every request is allowed before RBAC runs, and no RoleBinding can revoke it; only the certificate's expiry does".into());
    }
    if cert.organizations.iter().any(|o| o == "kubeadm:cluster-admins") {
        notes.push("group kubeadm:cluster-admins: cluster-admin through the ClusterRoleBinding kubeadm:cluster-admins (revocable)".into());
    }
    if let Some(node) = cert.common_name.as_deref().and_then(|cn| cn.strip_prefix("system:node:")) {
        if cert.organizations.iter().any(|o| o == "system:nodes") {
            notes.push(format!("the kubelet identity of node {node:?} (Node authorizer, group system:nodes)"));
        } else {
            notes.push(
                "CN is a node identity but O=system:nodes is missing: the Node authorizer will not recognise it".into(),
            );
        }
    }
    if cert.server_auth && !cert.client_auth && cert.common_name.as_deref() == Some("kube-apiserver") {
        notes.push("the apiserver's serving certificate".into());
    }
    if cert.is_ca != Some(true) && !cert.server_auth && !cert.client_auth {
        notes.push("no serverAuth or clientAuth ExtendedKeyUsage: TLS will not accept it for either side".into());
    }
    let remaining_seconds = (cert.not_after - now).whole_seconds();
    CertView { cert, state, remaining_seconds, authenticates_as, serves, notes, chain: None }
}

fn csr_view(what: &str, der: &[u8]) -> Result<CsrView, PkiError> {
    let (_, csr) = X509CertificationRequest::from_der(der)
        .map_err(|e| PkiError::malformed(what, format!("not a valid certificate or CSR: {e}")))?;
    let info = &csr.certification_request_info;
    let cn = info.subject.iter_common_name().next().and_then(|a| a.as_str().ok()).map(str::to_owned);
    let groups: Vec<String> =
        info.subject.iter_organization().filter_map(|a| a.as_str().ok()).map(str::to_owned).collect();
    let mut requested_sans = Vec::new();
    if let Some(exts) = csr.requested_extensions() {
        for ext in exts {
            if let ParsedExtension::SubjectAlternativeName(san) = ext {
                for n in &san.general_names {
                    match n {
                        GeneralName::DNSName(d) => requested_sans.push(format!("DNS:{d}")),
                        GeneralName::IPAddress(b) if b.len() == 4 || b.len() == 16 => {
                            let ip = if b.len() == 4 {
                                <[u8; 4]>::try_from(*b).map(std::net::IpAddr::from).ok()
                            } else {
                                <[u8; 16]>::try_from(*b).map(std::net::IpAddr::from).ok()
                            };
                            requested_sans.extend(ip.map(|i| format!("IP:{i}")));
                        }
                        _ => {}
                    }
                }
            }
        }
    }
    Ok(CsrView {
        subject: info.subject.to_string(),
        requests_identity: cn.map(|user| KubeUser { user, groups }),
        requested_sans,
        signature_valid: csr.verify_signature().is_ok(),
    })
}

fn check_chains(items: &mut [Item], bundle: Option<&[CertInfo]>) {
    // Each certificate is checked against the certificate after it (a chain file lists leaf
    // first), then against the bundle; a certificate with no candidate gets no check.
    let certs: Vec<Option<CertInfo>> = items
        .iter()
        .map(|i| match i {
            Item::Certificate(v) => Some(v.cert.clone()),
            _ => None,
        })
        .collect();
    for (idx, item) in items.iter_mut().enumerate() {
        let view = match item {
            Item::Certificate(v) => v,
            Item::Kubeconfig(k) => &mut k.client_certificate,
            _ => continue,
        };
        let next = certs.get(idx + 1).and_then(|c| c.as_ref()).into_iter();
        let candidates: Vec<&CertInfo> = next.chain(bundle.unwrap_or(&[]).iter()).collect();
        if candidates.is_empty() {
            continue;
        }
        let mut last_problem = None;
        let mut verified_by = None;
        for ca in candidates {
            match view.cert.verify_issued_by(ca) {
                Ok(()) => {
                    verified_by = Some(ca.subject.clone());
                    break;
                }
                Err(p) => last_problem = Some(p.to_string()),
            }
        }
        view.chain = Some(match verified_by {
            Some(s) => ChainCheck { verified: true, detail: format!("signed by {s}") },
            None => ChainCheck { verified: false, detail: last_problem.unwrap_or_default() },
        });
    }
}

/// The human-readable report.
pub fn render_text(items: &[Item], now: OffsetDateTime) -> String {
    let mut out = String::new();
    for (i, item) in items.iter().enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match item {
            Item::Certificate(v) => render_cert(&mut out, v, now, ""),
            Item::CertificateRequest(c) => {
                let _ = writeln!(out, "Certificate signing request");
                let _ = writeln!(out, "  subject:      {}", c.subject);
                if let Some(u) = &c.requests_identity {
                    let _ = writeln!(
                        out,
                        "  would authenticate as user {:?} in groups {:?} once signed by the client CA",
                        u.user, u.groups
                    );
                }
                if !c.requested_sans.is_empty() {
                    let _ = writeln!(out, "  requests SANs: {}", c.requested_sans.join(", "));
                }
                let _ = writeln!(
                    out,
                    "  signature:    {}",
                    if c.signature_valid { "valid (the requester holds the key)" } else { "INVALID" }
                );
            }
            Item::PrivateKey { label, algorithm } => {
                let _ = writeln!(out, "Private key ({label}, {algorithm}): not shown");
            }
            Item::Kubeconfig(k) => {
                let _ = writeln!(out, "Kubeconfig, context {:?}, server {}", k.context, k.server);
                let _ = writeln!(
                    out,
                    "  client key:   {}",
                    if k.key_matches {
                        "matches the client certificate"
                    } else {
                        "DOES NOT MATCH the client certificate"
                    }
                );
                if let Some(ok) = k.client_cert_signed_by_embedded_ca {
                    let _ = writeln!(
                        out,
                        "  embedded CA {} the client certificate",
                        if ok { "signed" } else { "did NOT sign" }
                    );
                }
                let _ = writeln!(out, "  Client certificate:");
                render_cert(&mut out, &k.client_certificate, now, "  ");
                if let Some(ca) = &k.certificate_authority {
                    let _ = writeln!(out, "  Certificate authority (trusted for the server):");
                    render_cert(&mut out, ca, now, "  ");
                }
            }
        }
    }
    out
}

fn render_cert(out: &mut String, v: &CertView, now: OffsetDateTime, indent: &str) {
    let c = &v.cert;
    let _ = writeln!(out, "{indent}Certificate {}", c.subject);
    let line = |out: &mut String, k: &str, val: String| {
        let _ = writeln!(out, "{indent}  {k:<14}{val}");
    };
    if let Some(u) = &v.authenticates_as {
        line(
            out,
            "identity:",
            format!("authenticates as user {:?} in groups {:?} (plus system:authenticated)", u.user, u.groups),
        );
    }
    if !v.serves.is_empty() {
        line(out, "serves:", v.serves.join(", "));
    }
    let usable: Vec<&str> = [(c.client_auth, "client auth"), (c.server_auth, "server auth")]
        .iter()
        .filter(|(on, _)| *on)
        .map(|(_, n)| *n)
        .collect();
    line(
        out,
        "usable for:",
        if c.is_ca == Some(true) {
            "signing certificates (CA)".to_owned()
        } else if usable.is_empty() {
            "nothing (no TLS ExtendedKeyUsage)".to_owned()
        } else {
            usable.join(", ")
        },
    );
    let rel = match v.state {
        "expired" => format!("EXPIRED {} ago", short_human(now - c.not_after)),
        "not-yet-valid" => {
            format!("NOT VALID YET: starts in {} (this clock is behind the issuer's)", short_human(c.not_before - now))
        }
        _ => format!("{} left", short_human(c.not_after - now)),
    };
    line(out, "validity:", format!("{} to {} ({rel})", rfc3339(c.not_before), rfc3339(c.not_after)));
    line(out, "issuer:", c.issuer.clone());
    line(out, "key:", format!("{}, signed with {}", c.public_key, c.signature_algorithm));
    line(out, "key usage:", if c.key_usage.is_empty() { "-".into() } else { c.key_usage.join(", ") });
    line(out, "serial:", c.serial.clone());
    line(out, "sha256:", c.sha256_fingerprint.clone());
    if let Some(ski) = &c.subject_key_id {
        line(out, "subject key:", ski.clone());
    }
    if let Some(chain) = &v.chain {
        line(
            out,
            "chain:",
            if chain.verified {
                format!("verified, {}", chain.detail)
            } else {
                format!("NOT VERIFIED: {}", chain.detail)
            },
        );
    }
    for n in &v.notes {
        line(out, "note:", n.clone());
    }
}
