//! `kauth pki ...`.

use std::net::IpAddr;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use kauth::pki::check::{check, kubeadm_time, short_human, Status};
use kauth::pki::init::{init, Outcome};
use kauth::pki::layout::Layout;
use kauth::pki::renew::{renew, renewable_names};
use kauth::pki::spec::PkiConfig;
use kauth::pki::verify::{verify, ApiserverFlags, Severity};
use kauth::pki::KeyType;
use time::OffsetDateTime;

use crate::args::{now_or, parse_duration, parse_time, print_json, Output};
use crate::failure::Failure;

/// The cluster PKI.
#[derive(Debug, Args)]
pub struct PkiArgs {
    #[command(subcommand)]
    command: PkiCommand,
}

/// Where the PKI lives: kubeadm's `/etc/kubernetes` layout.
#[derive(Debug, Args)]
struct DirArgs {
    /// The directory holding the kubeconfigs; certificates go to <dir>/pki.
    #[arg(long, default_value = "/etc/kubernetes")]
    dir: PathBuf,
    /// Where the certificates are, if not <dir>/pki (kubeadm's --cert-dir).
    #[arg(long)]
    cert_dir: Option<PathBuf>,
}

impl DirArgs {
    fn layout(&self) -> Layout {
        match &self.cert_dir {
            Some(c) => Layout::with_cert_dir(&self.dir, c),
            None => Layout::new(&self.dir),
        }
    }
}

#[derive(Debug, Subcommand)]
enum PkiCommand {
    /// Create the cluster PKI (kubeadm's certs and kubeconfigs), keeping valid existing files.
    Init(InitArgs),
    /// List every certificate's expiry, like `kubeadm certs check-expiration`.
    Check(CheckArgs),
    /// Find everything wrong with the PKI: chains, keys, usages, SANs, identities, CA reuse.
    Verify(VerifyArgs),
    /// Re-sign certificates with their CA, keeping their keys (`all` for every one).
    Renew(RenewArgs),
}

#[derive(Debug, Args)]
struct InitArgs {
    #[command(flatten)]
    dir: DirArgs,
    /// The cluster's name in the kubeconfigs.
    #[arg(long, default_value = "kubernetes")]
    cluster_name: String,
    /// The control-plane node's name (default: this host's name).
    #[arg(long)]
    node_name: Option<String>,
    /// The IP address the apiserver advertises.
    #[arg(long, default_value = "127.0.0.1")]
    advertise_address: IpAddr,
    /// The apiserver's port.
    #[arg(long, default_value_t = 6443)]
    bind_port: u16,
    /// A stable HOST[:PORT] for the control plane (a load balancer), used by the kubeconfigs.
    #[arg(long)]
    control_plane_endpoint: Option<String>,
    /// Extra SANs for the apiserver certificate: DNS names or IPs, comma-separated.
    #[arg(long, value_delimiter = ',')]
    apiserver_cert_extra_sans: Vec<String>,
    /// The service CIDR; its first address is the `kubernetes` service IP (a SAN).
    #[arg(long, default_value = "10.96.0.0/12")]
    service_cidr: String,
    /// The cluster DNS domain.
    #[arg(long, default_value = "cluster.local")]
    service_dns_domain: String,
    /// The key type of every key.
    #[arg(long, default_value = "rsa-2048", value_parser = parse_key_type)]
    key_type: KeyType,
    /// How long the CAs are valid.
    #[arg(long, default_value = "10y", value_parser = parse_duration)]
    ca_validity: std::time::Duration,
    /// How long the other certificates are valid.
    #[arg(long, default_value = "1y", value_parser = parse_duration)]
    cert_validity: std::time::Duration,
    /// Regenerate every file, even valid ones.
    #[arg(long)]
    force: bool,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "text")]
    output: Output,
}

#[derive(Debug, Args)]
struct CheckArgs {
    #[command(flatten)]
    dir: DirArgs,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "text")]
    output: Output,
    /// Fail (exit 1) when something expires within this window.
    #[arg(long, default_value = "30d", value_parser = parse_duration)]
    warn_within: std::time::Duration,
    /// Evaluate at this time instead of now (RFC 3339 or @unix): "will it still be fine then?"
    #[arg(long, value_parser = parse_time)]
    at: Option<OffsetDateTime>,
}

#[derive(Debug, Args)]
struct VerifyArgs {
    #[command(flatten)]
    dir: DirArgs,
    /// Also check kube-apiserver's --client-ca-file against --requestheader-client-ca-file.
    #[arg(long)]
    client_ca_file: Option<PathBuf>,
    /// kube-apiserver's --requestheader-client-ca-file (the front-proxy CA).
    #[arg(long)]
    requestheader_client_ca_file: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "text")]
    output: Output,
    /// Evaluate at this time instead of now.
    #[arg(long, value_parser = parse_time)]
    at: Option<OffsetDateTime>,
}

#[derive(Debug, Args)]
struct RenewArgs {
    /// What to renew: `all`, or names such as apiserver, etcd-server, admin.conf.
    #[arg(required = true)]
    names: Vec<String>,
    #[command(flatten)]
    dir: DirArgs,
    /// Validity of the renewed certificates (capped at the CA's expiry).
    #[arg(long, default_value = "1y", value_parser = parse_duration)]
    validity: std::time::Duration,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "text")]
    output: Output,
}

fn parse_key_type(s: &str) -> Result<KeyType, String> {
    s.parse().map_err(|e: kauth::pki::PkiError| e.to_string())
}

/// Runs a `pki` subcommand; returns the exit code.
pub fn run(args: PkiArgs) -> Result<u8, Failure> {
    match args.command {
        PkiCommand::Init(a) => run_init(a),
        PkiCommand::Check(a) => run_check(a),
        PkiCommand::Verify(a) => run_verify(a),
        PkiCommand::Renew(a) => run_renew(a),
    }
}

fn run_init(a: InitArgs) -> Result<u8, Failure> {
    let layout = a.dir.layout();
    let cfg = PkiConfig {
        cluster_name: a.cluster_name,
        node_name: a.node_name.unwrap_or_else(kauth::pki::spec::host_node_name),
        advertise_address: a.advertise_address,
        bind_port: a.bind_port,
        control_plane_endpoint: a.control_plane_endpoint,
        apiserver_cert_sans: a.apiserver_cert_extra_sans,
        service_cidr: a.service_cidr,
        dns_domain: a.service_dns_domain,
        key_type: a.key_type,
        ca_validity: a.ca_validity,
        cert_validity: a.cert_validity,
    };
    let report = init(&layout, &cfg, a.force, OffsetDateTime::now_utc())?;
    if a.output == Output::Json {
        print_json(&report)?;
        return Ok(0);
    }
    for e in &report.entries {
        let kind = if e.name.ends_with(".conf") {
            "kubeconfig"
        } else if e.name == "sa" {
            "sa key pair"
        } else {
            "certificate and key"
        };
        let verb = match e.outcome {
            Outcome::Created => "Generated",
            Outcome::Kept => "Using existing",
            Outcome::Completed => "Completed (signed for the existing key)",
            Outcome::Regenerated => "Regenerated",
        };
        outln!("[pki] {verb} {:?} {kind}: {}", e.name, e.files.join(", "));
    }
    outln!(
        "[pki] The PKI is in {} (kubeconfigs) and {} (certificates)",
        layout.root().display(),
        layout.cert_dir().display()
    );
    Ok(0)
}

fn run_check(a: CheckArgs) -> Result<u8, Failure> {
    let layout = a.dir.layout();
    if !layout.cert_dir().is_dir() {
        return Err(Failure::bad_input(format!(
            "{}: no such directory (is --dir right?)",
            layout.cert_dir().display()
        )));
    }
    let now = now_or(a.at);
    let warn = time::Duration::try_from(a.warn_within).map_err(|e| Failure::bad_input(e.to_string()))?;
    let report = check(&layout, now, warn);
    let code = u8::from(report.failing());
    if a.output == Output::Json {
        print_json(&report)?;
        return Ok(code);
    }
    let yes_no = |b: bool| if b { "yes" } else { "no" };
    let residual = |r: &kauth::pki::check::ExpiryRow| match (r.status, r.residual_seconds) {
        (Status::Missing, _) => "!MISSING!".to_owned(),
        (_, Some(s)) => short_human(time::Duration::seconds(s)),
        _ => "-".to_owned(),
    };
    outln!(
        "{:<26} {:<25} {:<14} {:<22} {:<18} PROBLEM",
        "CERTIFICATE",
        "EXPIRES",
        "RESIDUAL TIME",
        "CERTIFICATE AUTHORITY",
        "EXTERNALLY MANAGED"
    );
    for r in &report.certificates {
        outln!(
            "{:<26} {:<25} {:<14} {:<22} {:<18} {}",
            r.name,
            r.expires.map(kubeadm_time).unwrap_or_else(|| "-".into()),
            residual(r),
            r.authority.as_deref().unwrap_or("-"),
            yes_no(r.externally_managed),
            r.problem.as_deref().unwrap_or(""),
        );
    }
    outln!();
    outln!(
        "{:<26} {:<25} {:<14} {:<18} PROBLEM",
        "CERTIFICATE AUTHORITY",
        "EXPIRES",
        "RESIDUAL TIME",
        "EXTERNALLY MANAGED"
    );
    for r in &report.authorities {
        outln!(
            "{:<26} {:<25} {:<14} {:<18} {}",
            r.name,
            r.expires.map(kubeadm_time).unwrap_or_else(|| "-".into()),
            residual(r),
            yes_no(r.externally_managed),
            r.problem.as_deref().unwrap_or(""),
        );
    }
    Ok(code)
}

fn run_verify(a: VerifyArgs) -> Result<u8, Failure> {
    let layout = a.dir.layout();
    if !layout.cert_dir().is_dir() {
        return Err(Failure::bad_input(format!(
            "{}: no such directory (is --dir right?)",
            layout.cert_dir().display()
        )));
    }
    let flags = ApiserverFlags {
        client_ca_file: a.client_ca_file,
        requestheader_client_ca_file: a.requestheader_client_ca_file,
    };
    let findings = verify(&layout, &flags, now_or(a.at));
    let code = u8::from(findings.iter().any(|f| f.severity == Severity::Error));
    if a.output == Output::Json {
        print_json(&findings)?;
        return Ok(code);
    }
    if findings.is_empty() {
        outln!(
            "PKI in {} verified: every chain, key, usage, SAN and identity is as Kubernetes needs it",
            layout.root().display()
        );
    }
    for f in &findings {
        outln!("{f}");
    }
    Ok(code)
}

fn run_renew(a: RenewArgs) -> Result<u8, Failure> {
    let layout = a.dir.layout();
    let entries = renew(&layout, &a.names, OffsetDateTime::now_utc(), a.validity).map_err(|e| {
        if matches!(e, kauth::pki::PkiError::UnknownName { .. }) {
            Failure::bad_input(format!("{e}"))
        } else {
            e.into()
        }
    })?;
    if a.output == Output::Json {
        print_json(&entries)?;
        return Ok(0);
    }
    for e in &entries {
        match e.new_not_after {
            Some(t) => outln!(
                "[renew] {} ({}): renewed, now valid until {}{}",
                e.name,
                e.file,
                kubeadm_time(t),
                e.note.as_ref().map(|n| format!(" ({n})")).unwrap_or_default()
            ),
            None => outln!("[renew] {} ({}): {}", e.name, e.file, e.note.as_deref().unwrap_or("skipped")),
        }
    }
    let _ = renewable_names;
    Ok(0)
}
