//! `kauth pki verify`: everything that is wrong with a cluster PKI, each with its fix.

use std::collections::HashMap;
use std::net::IpAddr;
use std::path::PathBuf;

use serde::Serialize;
use time::OffsetDateTime;

use super::cert::CertInfo;
use super::layout::{Layout, PairState};
use super::spec::{split_host_port, CaId, Cn, Usage, KUBECONFIG_ROLES, LEAF_ROLES};
use super::{fsio, pem, PkiError};

/// How bad a finding is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    /// Something will fail (a handshake, an authentication) or already fails.
    Error,
    /// Works today, but is fragile or will fail later.
    Warning,
}

/// One problem: which file, what is wrong, how to fix it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    /// The file, relative to the PKI root where possible.
    pub file: String,
    /// Error or warning.
    pub severity: Severity,
    /// What is wrong, in one line.
    pub problem: String,
    /// What to do about it.
    pub fix: String,
}

impl std::fmt::Display for Finding {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let tag = match self.severity {
            Severity::Error => "error",
            Severity::Warning => "warning",
        };
        write!(f, "{}: {tag}: {}; fix: {}", self.file, self.problem, self.fix)
    }
}

/// What a certificate must carry for its role.
#[derive(Debug, Clone)]
pub struct Expectation<'a> {
    /// The CommonName rule; `None` leaves the CN to the caller.
    pub cn: Option<Cn>,
    /// The exact Organization values.
    pub orgs: &'a [&'a str],
    /// The ExtendedKeyUsage purposes needed.
    pub usage: Usage,
    /// DNS SANs clients dial.
    pub dns_names: Vec<String>,
    /// IP SANs clients dial.
    pub ip_addresses: Vec<IpAddr>,
}

/// Role problems of one leaf or client certificate at `now`: (problem, fix) pairs.
pub fn role_problems(
    cert: &CertInfo,
    expect: &Expectation<'_>,
    now: OffsetDateTime,
) -> Vec<(Severity, String, String)> {
    let mut out = Vec::new();
    let renew = "renew it: kauth pki renew <name>";
    if now > cert.not_after {
        out.push((
            Severity::Error,
            format!("expired {} ago (notAfter {})", human(now - cert.not_after), rfc3339(cert.not_after)),
            renew.into(),
        ));
    } else if now < cert.not_before {
        out.push((
            Severity::Error,
            format!(
                "not valid for another {} (notBefore {}): this clock is behind the issuer's",
                human(cert.not_before - now),
                rfc3339(cert.not_before)
            ),
            "synchronize the clocks (NTP) or wait".into(),
        ));
    }
    if cert.is_ca == Some(true) {
        out.push((
            Severity::Error,
            "is a CA certificate, but is used as a leaf".into(),
            "issue a leaf certificate (CA:FALSE)".into(),
        ));
    }
    let cn = cert.common_name.as_deref().unwrap_or("");
    if let Some(rule) = expect.cn.filter(|rule| !rule.accepts(cn)) {
        out.push((
            Severity::Error,
            format!("subject CN={cn:?} but this role needs {}", rule.describe()),
            "re-issue it with the right subject (kauth pki init --force regenerates kauth-made certs)".into(),
        ));
    }
    let mut have: Vec<&str> = cert.organizations.iter().map(String::as_str).collect();
    let mut want: Vec<&str> = expect.orgs.to_vec();
    have.sort_unstable();
    want.sort_unstable();
    if have != want {
        out.push((
            Severity::Error,
            format!("subject O={have:?} (groups) but this role needs O={want:?}"),
            "re-issue it with the right organizations".into(),
        ));
    }
    if expect.usage.server && !cert.server_auth {
        out.push((
            Severity::Error,
            "no serverAuth in ExtendedKeyUsage: TLS clients reject it as a serving certificate (\"x509: certificate specifies an incompatible key usage\")".into(),
            "re-issue it with ExtendedKeyUsage serverAuth".into(),
        ));
    }
    if expect.usage.client && !cert.client_auth {
        out.push((
            Severity::Error,
            "no clientAuth in ExtendedKeyUsage: servers reject it as a client certificate".into(),
            "re-issue it with ExtendedKeyUsage clientAuth".into(),
        ));
    }
    let missing_dns: Vec<&String> = expect.dns_names.iter().filter(|d| !covers_dns(&cert.dns_names, d)).collect();
    let missing_ip: Vec<&IpAddr> = expect.ip_addresses.iter().filter(|i| !cert.ip_addresses.contains(i)).collect();
    if !missing_dns.is_empty() || !missing_ip.is_empty() {
        let names: Vec<String> = missing_dns
            .iter()
            .map(|d| format!("DNS:{d}"))
            .chain(missing_ip.iter().map(|i| format!("IP:{i}")))
            .collect();
        out.push((
            Severity::Error,
            format!(
                "missing SANs {} that clients dial (\"x509: certificate is valid for ..., not ...\")",
                names.join(", ")
            ),
            "re-issue it with those SANs (kauth pki init --apiserver-cert-extra-sans ... --force)".into(),
        ));
    }
    out
}

/// True when one of `sans` matches `name`, including a `*.` wildcard for one label.
pub fn covers_dns(sans: &[String], name: &str) -> bool {
    sans.iter().any(|san| {
        san.eq_ignore_ascii_case(name)
            || san
                .strip_prefix("*.")
                .is_some_and(|suffix| name.split_once('.').is_some_and(|(_, rest)| rest.eq_ignore_ascii_case(suffix)))
    })
}

/// Extra kube-apiserver flags whose combination `verify` should check.
#[derive(Debug, Clone, Default)]
pub struct ApiserverFlags {
    /// `--client-ca-file`.
    pub client_ca_file: Option<PathBuf>,
    /// `--requestheader-client-ca-file`.
    pub requestheader_client_ca_file: Option<PathBuf>,
}

/// Every finding for the PKI under `layout` at `now`. An empty list means the PKI is sound.
pub fn verify(layout: &Layout, flags: &ApiserverFlags, now: OffsetDateTime) -> Vec<Finding> {
    let mut v = Verifier { layout, now, findings: Vec::new() };
    let cas = v.cas();
    let kubeconfig_hosts = v.kubeconfigs(cas.get(&CaId::Cluster));
    v.leaves(&cas, &kubeconfig_hosts);
    v.service_account_keys();
    v.front_proxy_trap(&cas, flags);
    v.findings
}

struct Verifier<'a> {
    layout: &'a Layout,
    now: OffsetDateTime,
    findings: Vec<Finding>,
}

impl Verifier<'_> {
    fn push(
        &mut self,
        file: impl Into<String>,
        severity: Severity,
        problem: impl Into<String>,
        fix: impl Into<String>,
    ) {
        self.findings.push(Finding { file: file.into(), severity, problem: problem.into(), fix: fix.into() });
    }

    fn error_finding(&mut self, e: PkiError) {
        let (file, problem) = match &e {
            PkiError::Malformed { what, problem } => (what.clone(), problem.clone()),
            PkiError::Io { path, .. } => (self.layout.show(path), e.to_string()),
            _ => ("-".to_owned(), e.to_string()),
        };
        self.push(
            file,
            Severity::Error,
            problem,
            "replace the file with a valid one, or regenerate it (kauth pki init --force)",
        );
    }

    fn load_pair(&mut self, stem: &str) -> Option<PairState> {
        match self.layout.load_pair(stem) {
            Ok(s) => Some(s),
            Err(e) => {
                self.error_finding(e);
                None
            }
        }
    }

    fn cas(&mut self) -> HashMap<CaId, CertInfo> {
        let mut cas = HashMap::new();
        for ca in CaId::ALL {
            let crt = self.layout.show(&self.layout.cert_path(ca.file_stem()));
            let key = self.layout.show(&self.layout.key_path(ca.file_stem()));
            let Some(state) = self.load_pair(ca.file_stem()) else { continue };
            let cert = match state {
                PairState::Missing => {
                    self.push(crt, Severity::Error, format!("the {} CA is missing", ca.name()), "kauth pki init");
                    continue;
                }
                PairState::KeyOnly(_) => {
                    self.push(
                        crt,
                        Severity::Error,
                        format!("the {} CA certificate is missing beside its key", ca.name()),
                        "kauth pki init signs a new CA certificate for the existing key",
                    );
                    continue;
                }
                PairState::CertOnly(c) => {
                    self.push(
                        key,
                        Severity::Warning,
                        format!("the {} CA key is absent (an external CA)", ca.name()),
                        "keep the key where you can sign renewals, or provide it for kauth pki renew",
                    );
                    c
                }
                PairState::Both(c, k) => {
                    if !k.matches_public_key(c.raw_public_key()) {
                        self.push(
                            key,
                            Severity::Error,
                            format!("private key does not match {crt}"),
                            "restore the matching key, or regenerate the CA and everything it signed",
                        );
                    }
                    c
                }
            };
            if cert.is_ca != Some(true) || !cert.can_sign_certificates() {
                self.push(
                    crt.clone(),
                    Severity::Error,
                    "is not a CA certificate (needs CA:TRUE and keyCertSign)",
                    "regenerate the CA",
                );
            } else if cert.is_self_issued() {
                if let Err(p) = cert.verify_issued_by(&cert) {
                    self.push(crt.clone(), Severity::Error, format!("self-signature: {p}"), "regenerate the CA");
                }
            }
            if self.now > cert.not_after {
                self.push(
                    crt.clone(),
                    Severity::Error,
                    format!("CA expired {} ago", human(self.now - cert.not_after)),
                    "a new CA is needed, and every certificate it signed must be re-issued",
                );
            }
            cas.insert(ca, cert);
        }
        cas
    }

    fn leaves(&mut self, cas: &HashMap<CaId, CertInfo>, kubeconfig_hosts: &[(String, String)]) {
        for role in &LEAF_ROLES {
            let crt = self.layout.show(&self.layout.cert_path(role.file_stem));
            let key = self.layout.show(&self.layout.key_path(role.file_stem));
            let Some(state) = self.load_pair(role.file_stem) else { continue };
            let cert = match state {
                PairState::Missing | PairState::KeyOnly(_) => {
                    self.push(
                        crt,
                        Severity::Error,
                        format!("the {} certificate is missing", role.name),
                        "kauth pki init",
                    );
                    continue;
                }
                PairState::CertOnly(c) => {
                    self.push(
                        key,
                        Severity::Error,
                        format!("the {} key is missing", role.name),
                        "restore the key, or regenerate the pair (kauth pki init --force)",
                    );
                    c
                }
                PairState::Both(c, k) => {
                    if !k.matches_public_key(c.raw_public_key()) {
                        self.push(
                            key,
                            Severity::Error,
                            format!("private key does not match {crt}: TLS handshakes with this pair fail"),
                            "restore the matching key, or regenerate the pair (kauth pki init --force)",
                        );
                    }
                    c
                }
            };
            let mut expect = Expectation {
                cn: Some(role.cn),
                orgs: role.orgs,
                usage: role.usage,
                dns_names: Vec::new(),
                ip_addresses: Vec::new(),
            };
            match role.name {
                "apiserver" => {
                    expect.dns_names =
                        vec!["kubernetes".into(), "kubernetes.default".into(), "kubernetes.default.svc".into()];
                    for (_, host) in kubeconfig_hosts {
                        match host.parse::<IpAddr>() {
                            Ok(ip) => expect.ip_addresses.push(ip),
                            Err(_) => expect.dns_names.push(host.clone()),
                        }
                    }
                    expect.ip_addresses.dedup();
                    expect.dns_names.dedup();
                }
                "etcd-server" => {
                    expect.dns_names = vec!["localhost".into()];
                    expect.ip_addresses = vec![IpAddr::from([127, 0, 0, 1])];
                }
                _ => {}
            }
            for (sev, problem, fix) in role_problems(&cert, &expect, self.now) {
                let fix = fix.replace("<name>", role.name);
                self.push(crt.clone(), sev, problem, fix);
            }
            if role.name == "apiserver" && !cert.dns_names.iter().any(|d| d.starts_with("kubernetes.default.svc.")) {
                self.push(
                    crt.clone(),
                    Severity::Warning,
                    "no kubernetes.default.svc.<cluster domain> SAN: pods dialing the fully qualified name fail TLS",
                    "re-issue with --dns-domain set to the cluster's domain",
                );
            }
            if let Some(ca) = cas.get(&role.ca) {
                self.check_issuer(&crt, &cert, ca, role.ca, role.name);
            }
        }
    }

    fn check_issuer(&mut self, file: &str, cert: &CertInfo, ca: &CertInfo, ca_id: CaId, name: &str) {
        if let Err(p) = cert.verify_issued_by(ca) {
            self.push(
                file,
                Severity::Error,
                format!(
                    "not signed by the {} CA ({}): {p}",
                    ca_id.name(),
                    self.layout.show(&self.layout.cert_path(ca_id.file_stem()))
                ),
                format!("re-issue it with the current CA: kauth pki renew {name}"),
            );
        } else if cert.not_after > ca.not_after {
            self.push(
                file,
                Severity::Warning,
                format!(
                    "outlives its CA: valid until {}, the {} CA only until {}",
                    rfc3339(cert.not_after),
                    ca_id.name(),
                    rfc3339(ca.not_after)
                ),
                "renew the CA before it expires",
            );
        }
    }

    /// Checks each kubeconfig; returns (file, host) of the servers they dial.
    fn kubeconfigs(&mut self, cluster_ca: Option<&CertInfo>) -> Vec<(String, String)> {
        let mut hosts = Vec::new();
        for role in &KUBECONFIG_ROLES {
            let file = role.file.to_owned();
            let loaded = match self.layout.load_kubeconfig(role.file) {
                Ok(Some(l)) => l,
                Ok(None) => {
                    self.push(file, Severity::Error, "kubeconfig is missing", "kauth pki init");
                    continue;
                }
                Err(e) => {
                    self.error_finding(e);
                    continue;
                }
            };
            match url_host(&loaded.server) {
                Some(h) => hosts.push((file.clone(), h)),
                None => self.push(
                    file.clone(),
                    Severity::Error,
                    format!("server {:?} is not an https://HOST[:PORT] URL", loaded.server),
                    "set clusters[].cluster.server to the apiserver's URL",
                ),
            }
            if !loaded.key.matches_public_key(loaded.cert.raw_public_key()) {
                self.push(
                    file.clone(),
                    Severity::Error,
                    "client-key-data does not match client-certificate-data",
                    "kauth pki init --force regenerates it",
                );
            }
            let expect = Expectation {
                cn: Some(role.cn),
                orgs: role.orgs,
                usage: Usage::CLIENT,
                dns_names: vec![],
                ip_addresses: vec![],
            };
            for (sev, problem, fix) in role_problems(&loaded.cert, &expect, self.now) {
                self.push(
                    file.clone(),
                    sev,
                    format!("client certificate: {problem}"),
                    fix.replace("<name>", role.file),
                );
            }
            if let Some(ca) = cluster_ca {
                match &loaded.ca {
                    None => self.push(file.clone(), Severity::Warning, "no certificate-authority-data: kubectl will trust the system roots, not the cluster CA", "embed pki/ca.crt as certificate-authority-data"),
                    Some(kc_ca) if kc_ca.der != ca.der => self.push(file.clone(), Severity::Error, format!("certificate-authority-data is {:?} (SHA-256 {}), not pki/ca.crt: the apiserver's certificate will not verify", kc_ca.subject, &kc_ca.sha256_fingerprint[..23]), "embed the current pki/ca.crt (kauth pki renew rewrites it)"),
                    Some(_) => {}
                }
                self.check_issuer(&file, &loaded.cert, ca, CaId::Cluster, role.file);
            }
        }
        hosts
    }

    fn service_account_keys(&mut self) {
        let key_path = self.layout.sa_key_path();
        let pub_path = self.layout.sa_pub_path();
        let key = match std::fs::read(&key_path) {
            Ok(d) => match super::PrivateKey::from_pem(&self.layout.show(&key_path), &d) {
                Ok(k) => Some(k),
                Err(e) => {
                    self.error_finding(e);
                    None
                }
            },
            Err(_) => {
                self.push(
                    self.layout.show(&key_path),
                    Severity::Error,
                    "service-account signing key is missing",
                    "kauth pki init",
                );
                None
            }
        };
        let public = match fsio::read(&pub_path) {
            Ok(d) => match pem::sections(&self.layout.show(&pub_path), &d) {
                Ok(s) => s.into_iter().find(|s| s.kind == rustls_pki_types::pem::SectionKind::PublicKey).map(|s| s.der),
                Err(e) => {
                    self.error_finding(e);
                    return;
                }
            },
            Err(_) => {
                self.push(
                    self.layout.show(&pub_path),
                    Severity::Error,
                    "service-account public key is missing",
                    "kauth pki init writes it from sa.key",
                );
                return;
            }
        };
        match (key, public) {
            (Some(k), Some(p)) if k.public_key_der() != p => self.push(
                self.layout.show(&pub_path),
                Severity::Error,
                "does not match sa.key: tokens signed with sa.key fail verification (\"invalid bearer token\")",
                "regenerate sa.pub from sa.key, or give the apiserver both keys while tokens roll over",
            ),
            (Some(_), None) => self.push(
                self.layout.show(&pub_path),
                Severity::Error,
                "holds no PUBLIC KEY block",
                "regenerate sa.pub from sa.key",
            ),
            _ => {}
        }
    }

    fn front_proxy_trap(&mut self, cas: &HashMap<CaId, CertInfo>, flags: &ApiserverFlags) {
        if let (Some(ca), Some(fp)) = (cas.get(&CaId::Cluster), cas.get(&CaId::FrontProxy)) {
            if ca.raw_public_key() == fp.raw_public_key() {
                self.push(
                    self.layout.show(&self.layout.cert_path("front-proxy-ca")),
                    Severity::Error,
                    "the front-proxy CA is the cluster CA: every client certificate the cluster CA signs is also a front-proxy certificate, able to assert any user through X-Remote-User headers",
                    "give the front proxy its own CA (kauth pki init generates a separate front-proxy-ca)",
                );
            }
        }
        let (Some(client), Some(header)) = (&flags.client_ca_file, &flags.requestheader_client_ca_file) else { return };
        let load = |p: &PathBuf| -> Result<Vec<CertInfo>, PkiError> {
            let data = fsio::read(p)?;
            let what = p.display().to_string();
            pem::sections(&what, &data)?
                .iter()
                .filter(|s| s.kind == rustls_pki_types::pem::SectionKind::Certificate)
                .map(|s| CertInfo::from_der(&what, &s.der))
                .collect()
        };
        match (load(client), load(header)) {
            (Ok(a), Ok(b)) => {
                if let Some(shared) = a.iter().find(|x| b.iter().any(|y| y.raw_public_key() == x.raw_public_key())) {
                    self.push(
                        header.display().to_string(),
                        Severity::Error,
                        format!(
                            "--requestheader-client-ca-file and --client-ca-file share the CA {:?}: kube-apiserver tries every client certificate as a front-proxy certificate first; ordinary users fail the --requestheader-allowed-names check (\"x509: subject with cn=... is not in the allowed list\"), and with no allowed names any of them can impersonate anyone through X-Remote-User",
                            shared.subject
                        ),
                        "point --requestheader-client-ca-file at a CA used only for the front proxy (pki/front-proxy-ca.crt)",
                    );
                }
            }
            (Err(e), _) | (_, Err(e)) => self.error_finding(e),
        }
    }
}

/// The host of an `https://host[:port][/path]` URL.
pub fn url_host(url: &str) -> Option<String> {
    let rest = url.strip_prefix("https://")?;
    let authority = rest.split('/').next()?;
    split_host_port(authority).ok().map(|(h, _)| h).filter(|h| !h.is_empty())
}

/// A duration as people read it: `3d4h`, `52m`, `41s`.
pub fn human(d: time::Duration) -> String {
    let secs = d.whole_seconds().unsigned_abs();
    let (days, hours, mins) = (secs / 86_400, secs % 86_400 / 3_600, secs % 3_600 / 60);
    if days >= 365 {
        format!("{}y{}d", days / 365, days % 365)
    } else if days > 0 {
        format!("{days}d{hours}h")
    } else if hours > 0 {
        format!("{hours}h{mins}m")
    } else if mins > 0 {
        format!("{mins}m{}s", secs % 60)
    } else {
        format!("{secs}s")
    }
}

/// RFC 3339 in UTC (see [`crate::timestamp`]).
pub use crate::timestamp::rfc3339;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wildcards_cover_one_label() {
        let sans = vec!["*.example.com".to_owned(), "kubernetes".to_owned()];
        assert!(covers_dns(&sans, "api.example.com"));
        assert!(!covers_dns(&sans, "a.b.example.com"));
        assert!(covers_dns(&sans, "KUBERNETES"));
        assert!(!covers_dns(&sans, "example.com"));
    }

    #[test]
    fn url_hosts() {
        assert_eq!(url_host("https://10.0.0.1:6443").as_deref(), Some("10.0.0.1"));
        assert_eq!(url_host("https://[::1]:6443/x").as_deref(), Some("::1"));
        assert_eq!(url_host("https://lb.example.com").as_deref(), Some("lb.example.com"));
        assert_eq!(url_host("http://x"), None);
    }

    #[test]
    fn human_durations() {
        assert_eq!(human(time::Duration::seconds(41)), "41s");
        assert_eq!(human(time::Duration::seconds(52 * 60)), "52m0s");
        assert_eq!(human(time::Duration::days(400)), "1y35d");
        assert_eq!(human(time::Duration::seconds(-90)), "1m30s");
    }
}
