//! The client certificate check: it parses and matches its key, its validity and time left, the
//! clientAuth EKU, the identity it carries (CN the user, each O a group; `system:masters`
//! warned), and whether its issuer is among the CAs the server names in its handshake.

use kauth::pki::cert::{distinguished_name, CertInfo};
use kauth::pki::PrivateKey;
use kauth::token::{span, utc};
use time::OffsetDateTime;

use super::finding::{Check, Report};
use super::kubeconfig::Target;
use super::server::Server;

/// A client certificate expiring sooner than this is a warning.
const EXPIRY_WARNING: i64 = 30 * 86_400;

const RENEW: &str = "get a new certificate: kubeadm kubeconfig user --client-name=NAME (or kubeadm certs renew admin.conf for kubeadm's own), kauth pki renew, or a CertificateSigningRequest approved by an admin; then replace client-certificate-data";

/// Checks the client certificate, if the context has one; returns it.
pub fn check(t: &Target, server: &Server, now: OffsetDateTime, report: &mut Report) -> Option<CertInfo> {
    let pem = t.client_cert.as_ref()?;
    let cert = match CertInfo::from_pem("the client certificate", pem) {
        Ok(c) => c,
        Err(e) => {
            report.error(
                Check::ClientCertificate,
                e.to_string(),
                "set client-certificate-data to base64 of the PEM certificate",
            );
            return None;
        }
    };
    if let Some(key) = &t.client_key {
        match PrivateKey::from_pem("the client key", key.expose().as_bytes()) {
            Ok(k) if !k.matches_public_key(cert.raw_public_key()) => report.error(
                Check::ClientCertificate,
                format!("the client key does not belong to the client certificate {} (the TLS handshake fails before any request)", cert.subject),
                "put the certificate's own key in client-key-data; a renewed certificate may have come with a new key",
            ),
            Ok(_) => {}
            // The key's text is never shown, only that it is unreadable.
            Err(_) => report.error(Check::ClientCertificate, "the client key is not a readable PEM private key", "set client-key-data to base64 of the PEM key"),
        }
    }
    let (user, groups) = cert.kubernetes_user().map(|(u, g)| (u.to_owned(), g.to_vec())).unwrap_or_default();
    report.note(
        Check::ClientCertificate,
        format!(
            "{}: user {user:?}, groups {groups:?} (CN is the user, each O a group), issued by {}",
            cert.subject, cert.issuer
        ),
    );
    let left = (cert.not_after - now).whole_seconds();
    if left < 0 {
        report.error(
            Check::ClientCertificate,
            format!(
                "the client certificate {} expired {} ago ({}); the API server answers only 401 Unauthorized (its log: x509: certificate has expired or is not yet valid)",
                cert.subject,
                span(-left),
                utc(cert.not_after.unix_timestamp())
            ),
            RENEW,
        );
    } else if cert.not_before > now {
        report.error(
            Check::ClientCertificate,
            format!(
                "the client certificate is not valid until {}, {} from now on this machine's clock",
                utc(cert.not_before.unix_timestamp()),
                span((cert.not_before - now).whole_seconds())
            ),
            "synchronize the clocks of the machine that signed it and of the API server (chronyc tracking)",
        );
    } else if left < EXPIRY_WARNING {
        report.warn(
            Check::ClientCertificate,
            format!("the client certificate expires in {} ({})", span(left), utc(cert.not_after.unix_timestamp())),
            RENEW,
        );
    } else {
        report.note(
            Check::ClientCertificate,
            format!("valid until {} ({} left)", utc(cert.not_after.unix_timestamp()), span(left)),
        );
    }
    if !cert.client_auth {
        report.error(
            Check::ClientCertificate,
            format!("the client certificate has no clientAuth extended key usage (EKU: {}): the API server refuses it as a client certificate", eku(&cert)),
            "re-issue it with ExtendedKeyUsage clientAuth",
        );
    }
    if groups.iter().any(|g| g == "system:masters") {
        report.warn(
            Check::ClientCertificate,
            "the certificate's group system:masters passes every authorization check before RBAC runs, and no RoleBinding can take it away; only its expiry or a new CA can",
            "use a certificate bound through RBAC for daily work (kubeadm's admin.conf carries kubeadm:cluster-admins since 1.29), and keep system:masters (super-admin.conf) for emergencies",
        );
    }
    issuer_check(&cert, server, report);
    Some(cert)
}

fn eku(cert: &CertInfo) -> String {
    let mut v: Vec<String> = Vec::new();
    if cert.server_auth {
        v.push("serverAuth".into());
    }
    v.extend(cert.other_eku.iter().cloned());
    if v.is_empty() {
        "none".into()
    } else {
        v.join(", ")
    }
}

fn issuer_check(cert: &CertInfo, server: &Server, report: &mut Report) {
    let Some(hints) = &server.acceptable_issuers else {
        if server.reachable {
            report.warn(
                Check::ClientCertificate,
                "the server did not ask for a client certificate in its handshake: it will not authenticate this one (a TLS-terminating load balancer in front of the API server does this)",
                "reach the API server directly, or have the load balancer pass TLS through",
            );
        }
        return;
    };
    let names: Vec<String> =
        hints.iter().map(|h| distinguished_name(h).unwrap_or_else(|| "<unreadable name>".into())).collect();
    if hints.is_empty() {
        report.note(Check::ClientCertificate, "the server asks for a client certificate from any CA");
        return;
    }
    if hints.iter().any(|h| h.as_slice() == cert.raw_issuer()) {
        let front_proxy = cert.issuer.to_ascii_lowercase().contains("front-proxy");
        report.note(
            Check::ClientCertificate,
            format!("its issuer {} is among the CAs the server asks for: {}", cert.issuer, names.join(", ")),
        );
        if front_proxy {
            report.error(
                Check::ClientCertificate,
                format!("the client certificate is issued by {}, a front-proxy (request-header) CA: the API server trusts it only for an aggregating proxy that names the user in X-Remote-User, not as a user's own certificate (seed 003: CA Reusage and Conflicts)", cert.issuer),
                "use a certificate from the cluster CA (--client-ca-file) for a user; keep front-proxy-client.crt for the aggregation layer, and never make the front-proxy CA and the client CA the same",
            );
        }
        return;
    }
    report.error(
        Check::ClientCertificate,
        format!(
            "the client certificate is issued by {}, which is not among the CAs the server asks for in its TLS handshake ({}): the server will not accept it (401; its log: x509: certificate signed by unknown authority)",
            cert.issuer,
            names.join(", ")
        ),
        "get a certificate signed by the server's client CA (kube-apiserver --client-ca-file; kubeadm: /etc/kubernetes/pki/ca.crt); a kubeconfig from before the CA was regenerated must be re-issued",
    );
}
