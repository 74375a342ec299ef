//! `kauth cert inspect`.

use std::io::Read;
use std::path::PathBuf;

use clap::{Args, Subcommand};
use kauth::pki::cert::CertInfo;
use kauth::pki::inspect::{inspect, render_text};
use kauth::pki::{fsio, pem};
use time::OffsetDateTime;

use crate::args::{now_or, parse_time, print_json, Output};
use crate::failure::Failure;

/// Certificates in Kubernetes terms.
#[derive(Debug, Args)]
pub struct CertArgs {
    #[command(subcommand)]
    command: CertCommand,
}

#[derive(Debug, Subcommand)]
enum CertCommand {
    /// Explain a certificate, chain, CSR or kubeconfig (PEM or DER; `-` reads standard input).
    Inspect(InspectArgs),
}

#[derive(Debug, Args)]
struct InspectArgs {
    /// The file, or `-` for standard input.
    file: String,
    /// A CA bundle (PEM) to verify each certificate against.
    #[arg(long)]
    ca: Option<PathBuf>,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "text")]
    output: Output,
    /// Evaluate validity at this time instead of now.
    #[arg(long, value_parser = parse_time)]
    at: Option<OffsetDateTime>,
}

/// At most this much input is read: no certificate, chain or kubeconfig is near it.
const MAX_INPUT: u64 = 16 << 20;

/// The certificates of a CA bundle (PEM) named `name`; an error when it holds none.
pub(crate) fn ca_bundle(name: &str, raw: &[u8]) -> Result<Vec<CertInfo>, Failure> {
    let certs: Vec<CertInfo> = pem::sections(name, raw)?
        .iter()
        .filter(|s| s.kind == kauth::pki::pem::SectionKind::Certificate)
        .map(|s| CertInfo::from_der(name, &s.der))
        .collect::<Result<_, _>>()?;
    if certs.is_empty() {
        return Err(Failure::bad_input(format!("{name}: holds no CERTIFICATE block")));
    }
    Ok(certs)
}

/// Runs a `cert` subcommand; returns the exit code.
pub fn run(args: CertArgs) -> Result<u8, Failure> {
    match args.command {
        CertCommand::Inspect(a) => run_inspect(a),
    }
}

fn run_inspect(a: InspectArgs) -> Result<u8, Failure> {
    let (what, data) = if a.file == "-" {
        let mut buf = Vec::new();
        std::io::stdin()
            .take(MAX_INPUT + 1)
            .read_to_end(&mut buf)
            .map_err(|e| Failure::bad_input(format!("-: read: {e}")))?;
        ("-".to_owned(), buf)
    } else {
        let path = PathBuf::from(&a.file);
        let meta = std::fs::metadata(&path).map_err(|e| Failure::bad_input(format!("{}: {e}", a.file)))?;
        if meta.is_dir() {
            return Err(Failure::bad_input(format!("{}: is a directory, not a certificate file", a.file)));
        }
        if meta.len() > MAX_INPUT {
            return Err(Failure::bad_input(format!(
                "{}: {} bytes is too large for a certificate file",
                a.file,
                meta.len()
            )));
        }
        (a.file.clone(), fsio::read(&path)?)
    };
    if data.len() as u64 > MAX_INPUT {
        return Err(Failure::bad_input(format!(
            "{what}: more than {MAX_INPUT} bytes is too large for a certificate file"
        )));
    }
    let bundle = match &a.ca {
        Some(p) => Some(ca_bundle(&p.display().to_string(), &fsio::read(p)?)?),
        None => None,
    };
    let now = now_or(a.at);
    let items = inspect(&what, &data, bundle.as_deref(), now)?;
    if a.output == Output::Json {
        print_json(&items)?;
    } else {
        out!("{}", render_text(&items, now));
    }
    // With --ca, a certificate that does not verify is a finding.
    let unverified = items.iter().any(|i| match i {
        kauth::pki::inspect::Item::Certificate(v) => v.chain.as_ref().is_some_and(|c| !c.verified),
        kauth::pki::inspect::Item::Kubeconfig(k) => k.client_certificate.chain.as_ref().is_some_and(|c| !c.verified),
        _ => false,
    });
    Ok(u8::from(a.ca.is_some() && unverified))
}
