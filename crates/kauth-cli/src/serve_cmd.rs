//! `kauth serve`: the Kubernetes-compatible auth API server.

use std::net::IpAddr;
use std::path::PathBuf;
use std::sync::Arc;

use clap::Args;
use kauth_server::server::audit::Level;
use kauth_server::server::bootstrap::{prepare, Options, DEFAULT_ISSUER};
use time::OffsetDateTime;

use crate::args::parse_duration;
use crate::Failure;

/// Flags use kube-apiserver's names where the concept is the same.
#[derive(Debug, Args)]
pub struct ServeArgs {
    /// The data directory: `pki/` (kauth pki's layout), the store, `admin.conf`. Created or reused.
    #[arg(long, default_value = "kauth-data")]
    data_dir: PathBuf,
    /// The address to listen on.
    #[arg(long, default_value = "127.0.0.1")]
    bind_address: IpAddr,
    /// The HTTPS port (0: any free port).
    #[arg(long, default_value_t = 6443)]
    secure_port: u16,
    /// Serving certificate (default: pki/apiserver.crt).
    #[arg(long)]
    tls_cert_file: Option<PathBuf>,
    /// Serving key (default: pki/apiserver.key).
    #[arg(long)]
    tls_private_key_file: Option<PathBuf>,
    /// CA for client certificates (default: pki/ca.crt).
    #[arg(long)]
    client_ca_file: Option<PathBuf>,
    /// Static tokens (kube-apiserver's CSV: token,user,uid,"group1,group2").
    #[arg(long)]
    token_auth_file: Option<PathBuf>,
    /// Service-account token issuer; repeat to accept more (the first signs).
    #[arg(long, default_value = DEFAULT_ISSUER)]
    service_account_issuer: Vec<String>,
    /// Extra service-account verification key files (public keys, certificates, private keys).
    #[arg(long)]
    service_account_key_file: Vec<PathBuf>,
    /// Service-account signing key (default: pki/sa.key).
    #[arg(long)]
    service_account_signing_key_file: Option<PathBuf>,
    /// Longest TokenRequest token (e.g. 24h); longer requests are shortened, with a warning.
    #[arg(long, value_parser = parse_duration)]
    service_account_max_token_expiration: Option<std::time::Duration>,
    /// Extend kubelet-style 3607 s pod tokens to one year, with warnafter.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    service_account_extend_token_expiration: bool,
    /// API audiences (default: the issuers), comma-separated.
    #[arg(long, value_delimiter = ',')]
    api_audiences: Vec<String>,
    /// Serve requests that present no credential as system:anonymous.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set)]
    anonymous_auth: bool,
    /// Audit log file (JSON lines, audit.k8s.io/v1 Events); `-` for stdout.
    #[arg(long)]
    audit_log_path: Option<PathBuf>,
    /// Audit level: None, Metadata, Request.
    #[arg(long, default_value = "Metadata")]
    audit_level: Level,
    /// Authorizers: RBAC (with system:masters first), or AlwaysAllow.
    #[arg(long, default_value = "RBAC", value_delimiter = ',')]
    authorization_mode: Vec<String>,
    /// This replica's name among others on etcd, in heartbeats and clock-skew reports
    /// (default: address:port).
    #[arg(long)]
    replica_name: Option<String>,
    /// Backdate iat/nbf of issued tokens by this much (e.g. 2m), so replicas whose clocks lag
    /// up to that far behind still accept them; exp is unchanged. Off by default (Kubernetes'
    /// behaviour); see the README for the trade-off.
    #[arg(long, default_value = "0s", value_parser = parse_duration)]
    service_account_token_backdate: std::time::Duration,
    /// Shift this replica's clock (e.g. 90s or -90s): for tests that reproduce clock skew.
    #[arg(long, default_value = "0s", value_parser = parse_signed_duration, hide = true, allow_hyphen_values = true)]
    clock_offset: time::Duration,
    /// etcd client URLs, comma-separated: store everything in etcd, shared with other replicas
    /// (default: the embedded store in the data directory). Needs a build with `--features etcd`.
    #[arg(long, value_delimiter = ',')]
    etcd_servers: Vec<String>,
    /// CA of etcd's serving certificates (default for https URLs: pki/etcd/ca.crt).
    #[arg(long)]
    etcd_cafile: Option<PathBuf>,
    /// Client certificate for etcd (default for https URLs: pki/apiserver-etcd-client.crt).
    #[arg(long)]
    etcd_certfile: Option<PathBuf>,
    /// Client key for etcd (default for https URLs: pki/apiserver-etcd-client.key).
    #[arg(long)]
    etcd_keyfile: Option<PathBuf>,
    /// How long successful token authentications are cached (0s: never; for measuring).
    #[arg(long, default_value = "10s", value_parser = parse_duration, hide = true)]
    token_cache_ttl: std::time::Duration,
    /// Exit when standard input closes (for supervisors and tests that own the process).
    #[arg(long, hide = true)]
    exit_on_stdin_close: bool,
}

fn system_now() -> OffsetDateTime {
    #[allow(clippy::disallowed_methods)] // the edge of the program: the one place the clock is read
    OffsetDateTime::now_utc()
}

/// A duration with an optional sign (`90s`, `-90s`).
fn parse_signed_duration(s: &str) -> Result<time::Duration, String> {
    let (negative, rest) = match s.trim().strip_prefix('-') {
        Some(r) => (true, r),
        None => (false, s.trim()),
    };
    let d = time::Duration::try_from(parse_duration(rest)?).map_err(|e| format!("{s:?}: {e}"))?;
    Ok(if negative { -d } else { d })
}

/// Runs the server until SIGINT/SIGTERM.
pub fn run(a: ServeArgs) -> Result<u8, Failure> {
    let opts = Options {
        data_dir: a.data_dir,
        bind_address: a.bind_address,
        secure_port: a.secure_port,
        tls_cert_file: a.tls_cert_file,
        tls_private_key_file: a.tls_private_key_file,
        client_ca_file: a.client_ca_file,
        token_auth_file: a.token_auth_file,
        service_account_issuer: a.service_account_issuer,
        service_account_key_file: a.service_account_key_file,
        service_account_signing_key_file: a.service_account_signing_key_file,
        service_account_max_token_expiration: a.service_account_max_token_expiration,
        service_account_extend_token_expiration: a.service_account_extend_token_expiration,
        api_audiences: a.api_audiences,
        anonymous_auth: a.anonymous_auth,
        audit_log_path: a.audit_log_path,
        audit_level: a.audit_level,
        authorization_mode: a.authorization_mode,
        token_cache_ttl: a.token_cache_ttl,
        replica_name: a.replica_name,
        service_account_token_backdate: a.service_account_token_backdate,
        etcd_servers: a.etcd_servers,
        etcd_cafile: a.etcd_cafile,
        etcd_certfile: a.etcd_certfile,
        etcd_keyfile: a.etcd_keyfile,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::bad_input(format!("starting the runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind((opts.bind_address, opts.secure_port))
            .await
            .map_err(|e| Failure::bad_input(format!("listening on {}:{}: {e}", opts.bind_address, opts.secure_port)))?;
        let addr = listener.local_addr().map_err(|e| Failure::bad_input(e.to_string()))?;
        let mut opts = opts;
        opts.secure_port = addr.port();
        let offset = a.clock_offset;
        let clock = Arc::new(move || system_now() + offset);
        let prepared = tokio::task::spawn_blocking(move || prepare(&opts, clock))
            .await
            .map_err(|e| Failure::bad_input(e.to_string()))?
            .map_err(Failure::bad_input)?;
        kauth_server::server::replicas::spawn_heartbeats(&prepared.state);
        // Whoever reads stdout may go away (a supervisor, a test): never die for that.
        use std::io::Write;
        let mut out = std::io::stdout();
        let _ = writeln!(
            out,
            "kauth serving on https://{addr}\n  export KUBECONFIG={}\n  kubectl get namespaces",
            prepared.admin_kubeconfig.display()
        );
        let _ = out.flush();
        let exit_on_stdin = a.exit_on_stdin_close;
        let shutdown = async move {
            let stdin_closed = async {
                if exit_on_stdin {
                    let mut buf = [0u8; 64];
                    let mut stdin = tokio::io::stdin();
                    use tokio::io::AsyncReadExt;
                    while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
                } else {
                    std::future::pending::<()>().await;
                }
            };
            let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
                Ok(s) => s,
                Err(_) => return,
            };
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
                _ = stdin_closed => {}
            }
        };
        kauth_server::server::http::serve(prepared.state, listener, prepared.tls, shutdown).await;
        Ok(0)
    })
}
