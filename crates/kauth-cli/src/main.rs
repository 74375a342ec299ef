//! `kauth`: the command-line front of the kauth library.
//!
//! Exit codes, the same for every subcommand: 0 success; 1 the thing examined is not sound (an
//! expired certificate, a verification finding, a refused conflict); 2 bad input or usage (an
//! unreadable file, a malformed certificate, an invalid option).
#![forbid(unsafe_code)]

/// `println!` that ends quietly on a closed pipe (see [`args::emit`]).
macro_rules! outln {
    () => {
        $crate::args::emit("\n")
    };
    ($($t:tt)*) => {
        $crate::args::emit(&format!("{}\n", format_args!($($t)*)))
    };
}

/// `print!` that ends quietly on a closed pipe.
macro_rules! out {
    ($($t:tt)*) => {
        $crate::args::emit(&format!($($t)*))
    };
}

mod agent;
mod api_client;
mod args;
mod bootstrap_token_cmd;
mod cert_cmd;
mod doctor;
mod failure;
mod inspect;
mod jwt_explain;
mod keys_cmd;
mod logging;
mod pki_cmd;
mod proxy;
mod rbac_cmd;
mod secret;
mod serve_cmd;
mod token_cmd;

use std::process::ExitCode;

use clap::{Parser, Subcommand};

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// Kubernetes authentication and authorization: cluster PKI, tokens, RBAC, and an auth server.
#[derive(Debug, Parser)]
#[command(name = "kauth", version, about, propagate_version = true)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// The kubeadm-compatible cluster PKI: init, check, verify, renew.
    Pki(pki_cmd::PkiArgs),
    /// Certificates, chains, CSRs and kubeconfigs, in Kubernetes terms.
    Cert(cert_cmd::CertArgs),
    /// Service-account tokens: create, decode, explain, verify, JWKS.
    Token(token_cmd::TokenArgs),
    /// The Kubernetes-compatible auth API server (kubectl and kube-apiserver webhooks use it).
    Serve(Box<serve_cmd::ServeArgs>),
    /// Who may do VERB on RESOURCE: every subject RBAC allows, with the binding that allows it.
    WhoCan(rbac_cmd::WhoCanArgs),
    /// What one user may do: resources x verbs, allowed or not.
    AccessMatrix(rbac_cmd::AccessMatrixArgs),
    /// RBAC policy: lint it, explain a decision.
    Policy(rbac_cmd::PolicyArgs),
    /// The service-account key ring of kauth serve: list, rotate.
    Keys(keys_cmd::KeysArgs),
    /// Find what is wrong with a kubeconfig's credential: every check, each finding's cause and fix.
    Doctor(doctor::DoctorArgs),
    /// Keep TokenRequest tokens fresh in files, as the kubelet keeps projected tokens.
    Agent(agent::AgentArgs),
    /// A page on 127.0.0.1 that shows a token, a certificate or a subject's access (prints its URL).
    Inspect(inspect::InspectArgs),
    /// Kubernetes authentication and RBAC in front of any HTTP service (kube-rbac-proxy's flags).
    Proxy(Box<proxy::ProxyArgs>),
}

pub use failure::Failure;

fn main() -> ExitCode {
    logging::init();
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Pki(a) => pki_cmd::run(a),
        Command::Cert(a) => cert_cmd::run(a),
        Command::Token(a) => token_cmd::run(a),
        Command::Serve(a) => serve_cmd::run(*a),
        Command::WhoCan(a) => rbac_cmd::who_can(a),
        Command::AccessMatrix(a) => rbac_cmd::access_matrix(a),
        Command::Policy(a) => rbac_cmd::policy(a),
        Command::Keys(a) => keys_cmd::run(a),
        Command::Doctor(a) => doctor::run(a),
        Command::Agent(a) => agent::run(a),
        Command::Inspect(a) => inspect::run(a),
        Command::Proxy(a) => proxy::run(*a),
    };
    match result {
        Ok(code) => ExitCode::from(code),
        Err(f) => {
            eprintln!("kauth: {}", f.message());
            ExitCode::from(f.code())
        }
    }
}
