//! `kauth doctor`: one command that finds what is wrong with a cluster credential.
//!
//! It examines one kubeconfig context, check group by check group, each in its own file:
//! [`kubeconfig`] (parses, context, files, permissions), [`server`] over [`tls_probe`]
//! (reachable; the chain against the kubeconfig's CA, the SANs against the host dialled,
//! expiry), [`client_cert`] (expiry, EKU, identity, the CAs the server asks for), [`token`]
//! (through `kauth::token::explain`, against the server's issuer and JWKS), [`exec_plugin`],
//! [`clock`] (the server's `Date` against this machine, with the 60 s leeway), [`identity`]
//! (SelfSubjectReview and SelfSubjectRulesReview) and [`proxies`]. Each records [`Finding`]s
//! (severity, check, cause, fix) and notes in one [`Report`], printed by [`render`] or as JSON.
//!
//! Exit codes: 0 no findings; 1 findings; 2 bad input (no kubeconfig, one that does not parse,
//! a context that is missing or incomplete). Secrets are never printed: a token is described
//! by its kind and length ([`crate::secret::Secret`]), a key only as readable or not.

mod client_cert;
mod clock;
mod exec_plugin;
mod finding;
mod identity;
mod kubeconfig;
mod proxies;
mod render;
mod server;
mod tls_probe;
pub(crate) mod token;

use std::path::PathBuf;
use std::time::Duration;

use clap::Args;
use time::OffsetDateTime;

use crate::api_client::{kubeconfig_path, ApiClient, Settings};
use crate::args::{parse_duration, print_json, Output};
use crate::failure::Failure;
use finding::{Check, Report, Severity};
use identity::Identity;
use kubeconfig::TokenSource;

/// `kauth doctor`'s flags.
#[derive(Debug, Args)]
pub struct DoctorArgs {
    /// The kubeconfig (default: $KUBECONFIG's first file, else ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// The context to examine (default: the current context).
    #[arg(long)]
    context: Option<String>,
    /// How long to wait for the server, and for an exec plugin.
    #[arg(long, default_value = "10s", value_parser = parse_duration)]
    timeout: Duration,
    /// Output format.
    #[arg(short, long, value_enum, default_value = "text")]
    output: Output,
}

/// The clock, read here at the edge.
fn system_now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

/// Runs every check and prints the report; returns the exit code.
pub fn run(a: DoctorArgs) -> Result<u8, Failure> {
    let path = kubeconfig_path(a.kubeconfig.as_deref())
        .ok_or_else(|| Failure::bad_input("no kubeconfig: pass --kubeconfig, or set KUBECONFIG or HOME"))?;
    let (cfg, context) = kubeconfig::load(&path, a.context.as_deref())?;
    let report = examine(&path, &cfg, &context, a.timeout);
    if a.output == Output::Json {
        print_json(&report)?;
    } else {
        out!("{}", render::text(&report));
    }
    Ok(report.exit_code())
}

fn examine(
    path: &std::path::Path,
    cfg: &kauth::pki::kubeconfig::Kubeconfig,
    context: &str,
    timeout: Duration,
) -> Report {
    let now = system_now();
    let mut report = Report::new(path.display().to_string(), context.to_owned(), String::new());
    let mut target = kubeconfig::check(path, cfg, context, &mut report);
    report.server = target.cluster.server.clone();

    if let Some(exec) = target.auth.exec.clone() {
        if let Some(c) = exec_plugin::check(&exec, path, &target.cluster.server, timeout, now, &mut report) {
            if target.token.is_none() {
                target.token = c.token.map(|t| (t, TokenSource::ExecPlugin));
            }
            if target.client_cert.is_none() {
                target.client_cert = c.client_cert;
                target.client_key = c.client_key;
            }
        }
    }

    let server = server::check(&target, now, timeout, &mut report);
    client_cert::check(&target, &server, now, &mut report);
    if server.reachable {
        clock::check(&target.cluster.server, &system_now, &mut report);
    }

    let insecure = target.cluster.insecure_skip_tls_verify == Some(true);
    let settings = |with_credentials: bool| Settings {
        server: target.cluster.server.clone(),
        ca_pem: target.ca_pem.clone(),
        client_cert: match (&target.client_cert, &target.client_key) {
            (Some(c), Some(k)) if with_credentials => Some((c.clone(), k.expose().as_bytes().to_vec())),
            _ => None,
        },
        bearer: target.token.as_ref().filter(|_| with_credentials).map(|(t, _)| t.expose().to_owned()),
        insecure,
        env_proxy: false,
    };
    let api = if server.trusted { ApiClient::new("the kubeconfig", settings(true)).ok() } else { None };
    let identity = match &api {
        Some(api) => identity::whoami(api),
        None if server.reachable => {
            Identity::Unknown("the server is not trusted (see the server findings), so no credential was sent".into())
        }
        None => Identity::Unknown("the server was not reached".into()),
    };

    let mut explained = false;
    if let Some((token, from)) = &target.token {
        let discovery = match &api {
            Some(api) => token::discover(api, Some(settings(false))),
            None => {
                token::Discovery { problems: vec!["no trusted connection to the server".into()], ..Default::default() }
            }
        };
        explained |= token::check(token, from, &discovery, &identity, now, &mut report);
    }
    explained |= report.findings.iter().any(|f| {
        f.severity == Severity::Error
            && matches!(f.check, Check::Kubeconfig | Check::ClientCertificate | Check::ExecPlugin | Check::Clock)
    });
    identity::report_identity(&identity, explained, &mut report);
    if let (Some(api), Identity::Authenticated { user, .. }) = (&api, &identity) {
        identity::permissions(api, user, &target.namespace, &mut report);
    }
    if !server.host.is_empty() {
        proxies::check(target.cluster.proxy_url.as_deref(), &server.host, &proxies::ProxyEnv::from_env(), &mut report);
    }
    report.sort();
    report
}
