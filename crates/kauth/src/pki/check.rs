//! `kauth pki check`: expirations, like `kubeadm certs check-expiration`, plus any problem found.

use serde::Serialize;
use time::{Duration, OffsetDateTime};

use super::cert::CertInfo;
use super::layout::Layout;
use super::spec::{CaId, KUBECONFIG_ROLES, LEAF_ROLES};
use super::verify::rfc3339;

/// How an item stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Status {
    /// Valid beyond the warning window.
    Ok,
    /// Valid, but expires within the warning window.
    ExpiresSoon,
    /// Expired.
    Expired,
    /// Not valid yet (this clock is behind the issuer's).
    NotYetValid,
    /// The file does not exist.
    Missing,
    /// The file exists but could not be read or is inconsistent.
    Invalid,
}

/// One row of the report.
#[derive(Debug, Clone, Serialize)]
pub struct ExpiryRow {
    /// kubeadm's name (`apiserver`, `admin.conf`, `ca`, ...).
    pub name: String,
    /// The file, relative to the root.
    pub file: String,
    /// The end of validity, when known.
    #[serde(with = "time::serde::rfc3339::option")]
    pub expires: Option<OffsetDateTime>,
    /// Seconds until expiry (negative when expired).
    pub residual_seconds: Option<i64>,
    /// The issuing CA's kubeadm name (for certificates and kubeconfigs).
    pub authority: Option<String>,
    /// True when the CA key is absent, so kauth cannot renew it.
    pub externally_managed: bool,
    /// The status.
    pub status: Status,
    /// What is wrong, if anything.
    pub problem: Option<String>,
}

/// The whole report: certificates and kubeconfigs, then CAs.
#[derive(Debug, Clone, Serialize)]
pub struct CheckReport {
    /// Leaf certificates and kubeconfigs, sorted by name as kubeadm lists them.
    pub certificates: Vec<ExpiryRow>,
    /// The CAs.
    pub authorities: Vec<ExpiryRow>,
}

impl CheckReport {
    /// True when something has expired, expires within the window, or is not valid yet.
    pub fn failing(&self) -> bool {
        self.certificates
            .iter()
            .chain(&self.authorities)
            .any(|r| matches!(r.status, Status::Expired | Status::ExpiresSoon | Status::NotYetValid))
    }
}

/// Reads every certificate and kubeconfig under `layout` and rates it at `now`.
pub fn check(layout: &Layout, now: OffsetDateTime, warn_within: Duration) -> CheckReport {
    let mut authorities = Vec::new();
    let mut cas: Vec<(CaId, Option<CertInfo>, bool)> = Vec::new();
    for ca in CaId::ALL {
        let file = layout.show(&layout.cert_path(ca.file_stem()));
        let external = !layout.key_path(ca.file_stem()).exists();
        let (row, cert) = match layout.load_cert(ca.file_stem()) {
            Ok(Some(c)) => (rate(ca.name(), file, &c, None, external, now, warn_within), Some(c)),
            Ok(None) => (missing(ca.name(), file), None),
            Err(e) => (invalid(ca.name(), file, e.to_string()), None),
        };
        authorities.push(row);
        cas.push((ca, cert, external));
    }
    let ca_of = |id: CaId| cas.iter().find(|(c, _, _)| *c == id).map(|(_, cert, ext)| (cert.as_ref(), *ext));

    let mut certificates = Vec::new();
    for role in &LEAF_ROLES {
        let file = layout.show(&layout.cert_path(role.file_stem));
        let row = match layout.load_cert(role.file_stem) {
            Ok(Some(c)) => {
                let (ca, external) = ca_of(role.ca).unwrap_or((None, false));
                let mut row = rate(role.name, file, &c, Some(role.ca), external, now, warn_within);
                signed_by(&mut row, &c, ca, role.ca);
                row
            }
            Ok(None) => missing(role.name, file),
            Err(e) => invalid(role.name, file, e.to_string()),
        };
        certificates.push(row);
    }
    for role in &KUBECONFIG_ROLES {
        let file = layout.show(&layout.kubeconfig_path(role.file));
        let row = match layout.load_kubeconfig(role.file) {
            Ok(Some(k)) => {
                let (ca, external) = ca_of(CaId::Cluster).unwrap_or((None, false));
                let mut row = rate(role.file, file, &k.cert, Some(CaId::Cluster), external, now, warn_within);
                signed_by(&mut row, &k.cert, ca, CaId::Cluster);
                row
            }
            Ok(None) => missing(role.file, file),
            Err(e) => invalid(role.file, file, e.to_string()),
        };
        certificates.push(row);
    }
    certificates.sort_by(|a, b| a.name.cmp(&b.name));
    CheckReport { certificates, authorities }
}

fn signed_by(row: &mut ExpiryRow, cert: &CertInfo, ca: Option<&CertInfo>, id: CaId) {
    if let Some(ca) = ca {
        if let Err(p) = cert.verify_issued_by(ca) {
            row.problem = Some(format!("not signed by {}: {p}", id.name()));
            if row.status == Status::Ok {
                row.status = Status::Invalid;
            }
        }
    }
}

fn rate(
    name: &str,
    file: String,
    cert: &CertInfo,
    authority: Option<CaId>,
    externally_managed: bool,
    now: OffsetDateTime,
    warn_within: Duration,
) -> ExpiryRow {
    let residual = cert.not_after - now;
    let (status, problem) = if residual.is_negative() {
        (Status::Expired, Some(format!("expired at {}", rfc3339(cert.not_after))))
    } else if now < cert.not_before {
        (
            Status::NotYetValid,
            Some(format!("not valid before {} (this clock is behind the issuer's)", rfc3339(cert.not_before))),
        )
    } else if residual < warn_within {
        (Status::ExpiresSoon, Some(format!("expires within {}", short_human(warn_within))))
    } else {
        (Status::Ok, None)
    };
    ExpiryRow {
        name: name.to_owned(),
        file,
        expires: Some(cert.not_after),
        residual_seconds: Some(residual.whole_seconds()),
        authority: authority.map(|a| a.name().to_owned()),
        externally_managed,
        status,
        problem,
    }
}

fn missing(name: &str, file: String) -> ExpiryRow {
    ExpiryRow {
        name: name.to_owned(),
        file,
        expires: None,
        residual_seconds: None,
        authority: None,
        externally_managed: false,
        status: Status::Missing,
        problem: Some("missing".into()),
    }
}

fn invalid(name: &str, file: String, problem: String) -> ExpiryRow {
    ExpiryRow {
        name: name.to_owned(),
        file,
        expires: None,
        residual_seconds: None,
        authority: None,
        externally_managed: false,
        status: Status::Invalid,
        problem: Some(problem),
    }
}

/// Kubernetes' `duration.ShortHumanDuration`: `41s`, `52m`, `47h`, `364d`, `9y`; `<invalid>` when negative.
pub fn short_human(d: Duration) -> String {
    let s = d.whole_seconds();
    if s < -1 {
        "<invalid>".into()
    } else if s < 0 {
        "0s".into()
    } else if s < 60 {
        format!("{s}s")
    } else if s < 3600 {
        format!("{}m", s / 60)
    } else if s < 48 * 3600 {
        format!("{}h", s / 3600)
    } else if s < 2 * 365 * 86_400 {
        format!("{}d", s / 86_400)
    } else {
        format!("{}y", s / (365 * 86_400))
    }
}

/// kubeadm's EXPIRES column: `Nov 23, 2027 08:40 UTC`.
pub fn kubeadm_time(t: OffsetDateTime) -> String {
    let f = time::macros::format_description!("[month repr:short] [day], [year] [hour]:[minute] UTC");
    t.to_offset(time::UtcOffset::UTC).format(&f).unwrap_or_else(|_| rfc3339(t))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_human_matches_kubernetes() {
        assert_eq!(short_human(Duration::seconds(-5)), "<invalid>");
        assert_eq!(short_human(Duration::seconds(59)), "59s");
        assert_eq!(short_human(Duration::minutes(52)), "52m");
        assert_eq!(short_human(Duration::hours(47)), "47h");
        assert_eq!(short_human(Duration::days(364)), "364d");
        assert_eq!(short_human(Duration::days(3650)), "10y");
    }

    #[test]
    fn kubeadm_time_format() {
        let t = OffsetDateTime::from_unix_timestamp(1_826_000_000).unwrap();
        assert_eq!(kubeadm_time(t), "Nov 12, 2027 06:13 UTC");
    }
}
