//! The server check: the URL, reachability, and the TLS certificate the server presents: its
//! chain against the kubeconfig's CA (a regenerated CA of the same name is told apart from a
//! foreign one), its SANs against the host dialled (both listed), and its validity.

use std::net::IpAddr;
use std::time::Duration;

use kauth::pki::cert::CertInfo;
use kauth::pki::verify::covers_dns;
use kauth::token::{span, utc};
use rustls::pki_types::CertificateDer;
use time::OffsetDateTime;

use super::finding::{Check, Report};
use super::kubeconfig::Target;
use super::tls_probe::{probe, ProbeError};

/// A server certificate expiring sooner than this is a warning.
const EXPIRY_WARNING: i64 = 30 * 86_400;

/// The server as the handshake showed it.
#[derive(Debug, Default)]
pub struct Server {
    /// The URL's host (brackets removed from an IPv6 address).
    pub host: String,
    /// The server's chain, leaf first, when a handshake happened.
    pub chain: Vec<CertInfo>,
    /// The CAs the server named for client certificates (DER names); `None`: it asked for none
    /// (or there was no handshake).
    pub acceptable_issuers: Option<Vec<Vec<u8>>>,
    /// Whether a TLS handshake completed.
    pub reachable: bool,
    /// Whether clients verifying as kubectl does trust it (chain, name, validity; or the
    /// kubeconfig skips verification).
    pub trusted: bool,
}

/// Splits `https://host[:port][/path]`; `Err` says what is wrong with the URL.
pub fn split_url(url: &str) -> Result<(String, u16), String> {
    let uri: ureq::http::Uri = url.parse().map_err(|e| format!("{url:?} is not a URL: {e}"))?;
    match uri.scheme_str() {
        Some("https") => {}
        Some(other) => return Err(format!("{url:?} uses {other}://; the Kubernetes API is served over https://")),
        None => return Err(format!("{url:?} has no scheme; expected https://HOST:PORT")),
    }
    let host = uri.host().filter(|h| !h.is_empty()).ok_or_else(|| format!("{url:?} has no host"))?;
    Ok((host.trim_start_matches('[').trim_end_matches(']').to_owned(), uri.port_u16().unwrap_or(443)))
}

/// Connects, shakes hands and judges what the server presented.
pub fn check(t: &Target, now: OffsetDateTime, timeout: Duration, report: &mut Report) -> Server {
    let (host, port) = match split_url(&t.cluster.server) {
        Ok(hp) => hp,
        Err(e) => {
            report.error(
                Check::Server,
                e,
                "set the cluster's server to https://HOST:PORT (kubectl config set-cluster NAME --server=...)",
            );
            return Server::default();
        }
    };
    let dialled = t.cluster.tls_server_name.clone().unwrap_or_else(|| host.clone());
    let cas = kubeconfig_cas(t, report);
    let roots = cas.as_ref().map(|c| c.iter().map(|ca| CertificateDer::from(ca.der.clone())).collect());
    let url_host = if host.contains(':') { format!("[{host}]") } else { host.clone() };
    let captured = match probe(&url_host, port, &dialled, roots, timeout) {
        Ok(c) => c,
        Err(e) => {
            let fix = match &e {
                ProbeError::Resolve { .. } => "check the server's name (kubectl config view --minify) and DNS (getent hosts HOST)".to_owned(),
                ProbeError::Connect { .. } => format!("check that the API server runs and listens on {port} (on the node: ss -ltnp | grep {port}), and that no firewall or security group drops the connection"),
                ProbeError::Handshake { .. } => "the server does not speak TLS as an API server does: check the port, and any load balancer in front of it (it must pass TLS through)".to_owned(),
            };
            report.error(Check::Server, e.to_string(), fix);
            return Server { host, ..Server::default() };
        }
    };
    let chain: Vec<CertInfo> =
        captured.chain.iter().filter_map(|d| CertInfo::from_der("the server's certificate", d).ok()).collect();
    let mut server = Server {
        host: host.clone(),
        acceptable_issuers: captured.acceptable_issuers.clone(),
        reachable: true,
        trusted: false,
        chain,
    };
    report.note(
        Check::Server,
        format!("reachable: {url_host}:{port}, {}", captured.protocol.as_deref().unwrap_or("TLS")),
    );
    let Some(leaf) = server.chain.first().cloned() else {
        report.error(Check::Server, "the server presented no readable certificate", "check what listens on the port");
        return server;
    };
    let insecure = t.cluster.insecure_skip_tls_verify == Some(true);
    let chain_ok = match &cas {
        Some(cas) => chain_check(&server.chain, cas, insecure, report),
        None => {
            report.note(
                Check::Server,
                "the kubeconfig names no CA: the system's roots decide (not checked by kauth doctor)",
            );
            true
        }
    };
    let name_ok = name_check(&leaf, &dialled, &t.cluster.server, insecure, report);
    let time_ok = validity_check(&leaf, now, insecure, report);
    // rustls' verdict has the last word: a problem the checks above did not explain is shown as is.
    if let Some(Err(e)) = &captured.verdict {
        if chain_ok && name_ok && time_ok && !insecure {
            report.error(
                Check::Server,
                format!("TLS verification fails: {e}"),
                "inspect the server's chain: kauth cert inspect on it, with --ca set to the kubeconfig's CA",
            );
        }
    }
    server.trusted = insecure || (chain_ok && name_ok && time_ok && !matches!(captured.verdict, Some(Err(_))));
    server
}

/// The kubeconfig's CAs, parsed; `None` when it names none (or it could not be read, already
/// a finding of the kubeconfig check).
fn kubeconfig_cas(t: &Target, report: &mut Report) -> Option<Vec<CertInfo>> {
    let pem = t.ca_pem.as_ref()?;
    let what = "the kubeconfig's certificate-authority";
    let cas: Vec<CertInfo> = kauth::pki::pem::sections(what, pem)
        .map(|s| {
            s.iter()
                .filter(|s| s.kind == kauth::pki::pem::SectionKind::Certificate)
                .filter_map(|s| CertInfo::from_der(what, &s.der).ok())
                .collect()
        })
        .unwrap_or_default();
    if cas.is_empty() {
        report.error(
            Check::Kubeconfig,
            format!("{what} holds no readable PEM certificate"),
            "set certificate-authority-data to base64 of the cluster's ca.crt (PEM)",
        );
        return None;
    }
    Some(cas)
}

fn subjects(cas: &[CertInfo]) -> String {
    cas.iter()
        .map(|c| format!("{} (SKID {})", c.subject, c.subject_key_id.as_deref().unwrap_or("none")))
        .collect::<Vec<_>>()
        .join(", ")
}

/// Walks the chain up to a CA of the kubeconfig.
fn chain_check(chain: &[CertInfo], cas: &[CertInfo], insecure: bool, report: &mut Report) -> bool {
    let mut current = &chain[0];
    let mut path = vec![current.subject.clone()];
    for _ in 0..chain.len() {
        if let Some(ca) = cas.iter().find(|ca| current.verify_issued_by(ca).is_ok()) {
            path.push(format!("{} (the kubeconfig's CA)", ca.subject));
            report.note(Check::Server, format!("chain verified: {}", path.join(" <- ")));
            return true;
        }
        match chain.iter().skip(1).find(|c| current.verify_issued_by(c).is_ok()) {
            Some(next) if next.der != current.der => {
                current = next;
                path.push(current.subject.clone());
            }
            _ => break,
        }
    }
    let same_name = cas.iter().find(|ca| ca.raw_subject() == current.raw_issuer());
    let (cause, fix) = match same_name {
        Some(ca) => (
            format!(
                "CA mismatch: the server's certificate ({}, AKID {}) is issued by {}, and the kubeconfig's CA has that name but another key (SKID {}): the cluster's CA was regenerated (or this kubeconfig is from another cluster whose CA has the same name)",
                current.subject,
                current.authority_key_id.as_deref().unwrap_or("none"),
                current.issuer,
                ca.subject_key_id.as_deref().unwrap_or("none"),
            ),
            "take the cluster's current CA into the kubeconfig (kubectl config set-cluster NAME --certificate-authority=ca.crt --embed-certs; ca.crt from /etc/kubernetes/pki on a control-plane node, or kauth serve's <data-dir>/pki); after a CA is regenerated every kubeconfig, client certificate and service-account token made with the old CA or key must be re-issued, and pods restarted to mount new tokens",
        ),
        None => (
            format!(
                "CA mismatch: the server's certificate ({}) is issued by {} (AKID {}), but the kubeconfig trusts only {}: this kubeconfig was made for another cluster, or another server answers at this address",
                current.subject,
                current.issuer,
                current.authority_key_id.as_deref().unwrap_or("none"),
                subjects(cas)
            ),
            "set certificate-authority-data to the CA of the cluster this server belongs to (kubectl config set-cluster NAME --certificate-authority=ca.crt --embed-certs), or point server at the right cluster",
        ),
    };
    if insecure {
        report.warn(Check::Server, cause, format!("{fix}; insecure-skip-tls-verify hides this from kubectl"));
    } else {
        report.error(Check::Server, cause, fix);
    }
    false
}

fn sans(leaf: &CertInfo) -> Vec<String> {
    leaf.dns_names
        .iter()
        .map(|d| format!("DNS:{d}"))
        .chain(leaf.ip_addresses.iter().map(|i| format!("IP:{i}")))
        .collect()
}

fn name_check(leaf: &CertInfo, dialled: &str, server: &str, insecure: bool, report: &mut Report) -> bool {
    let covered = match dialled.parse::<IpAddr>() {
        Ok(ip) => leaf.ip_addresses.contains(&ip),
        Err(_) => covers_dns(&leaf.dns_names, dialled),
    };
    let sans = sans(leaf);
    if covered {
        report.note(
            Check::Server,
            format!("the certificate's SANs cover {dialled}, the host dialled: {}", sans.join(", ")),
        );
        return true;
    }
    let example = leaf
        .dns_names
        .first()
        .cloned()
        .or_else(|| leaf.ip_addresses.first().map(|i| i.to_string()))
        .unwrap_or_else(|| "NAME".into());
    let cause = format!(
        "the server's certificate does not cover the host dialled: {dialled} (from {server}) is not among its SANs [{}]; kubectl refuses it (x509: certificate is valid for ..., not {dialled})",
        sans.join(", ")
    );
    let fix = format!(
        "dial a name the certificate has (kubectl config set-cluster NAME --server=https://{example}:PORT, or tls-server-name: {example} in the cluster entry), or re-issue the serving certificate with {dialled} added (kubeadm init phase certs apiserver --apiserver-cert-extra-sans={dialled}; kauth pki init --apiserver-cert-extra-sans={dialled} --force)"
    );
    if insecure {
        report.warn(Check::Server, cause, fix);
    } else {
        report.error(Check::Server, cause, fix);
    }
    false
}

fn validity_check(leaf: &CertInfo, now: OffsetDateTime, insecure: bool, report: &mut Report) -> bool {
    let left = (leaf.not_after - now).whole_seconds();
    let fix = "renew the serving certificate (kubeadm certs renew apiserver; kauth pki renew apiserver) and restart the API server";
    if left < 0 {
        let cause =
            format!("the server's certificate expired {} ago ({})", span(-left), utc(leaf.not_after.unix_timestamp()));
        if insecure {
            report.warn(Check::Server, cause, fix)
        } else {
            report.error(Check::Server, cause, fix)
        }
        return false;
    }
    if leaf.not_before > now {
        let ahead = (leaf.not_before - now).whole_seconds();
        report.error(
            Check::Server,
            format!("the server's certificate is not valid until {}, {} from this machine's clock: this clock is behind, or the certificate was made on a machine whose clock is ahead", utc(leaf.not_before.unix_timestamp()), span(ahead)),
            "synchronize clocks (chronyc tracking; timedatectl), then re-check",
        );
        return false;
    }
    if left < EXPIRY_WARNING {
        report.warn(
            Check::Server,
            format!("the server's certificate expires in {} ({})", span(left), utc(leaf.not_after.unix_timestamp())),
            fix,
        );
    } else {
        report.note(
            Check::Server,
            format!(
                "the server's certificate {} is valid until {} ({} left)",
                leaf.subject,
                utc(leaf.not_after.unix_timestamp()),
                span(left)
            ),
        );
    }
    true
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_host_and_port() {
        assert_eq!(split_url("https://127.0.0.1:6443").unwrap(), ("127.0.0.1".into(), 6443));
        assert_eq!(split_url("https://[::1]:6443/").unwrap(), ("::1".into(), 6443));
        assert_eq!(split_url("https://api.example.com").unwrap(), ("api.example.com".into(), 443));
        assert!(split_url("http://x:8080").unwrap_err().contains("https://"));
        assert!(split_url("x").is_err());
    }
}
