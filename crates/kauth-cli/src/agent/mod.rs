//! `kauth agent`: keeps TokenRequest tokens in files outside the kubelet, as the kubelet keeps
//! projected service-account tokens: requested through a kubeconfig, written atomically
//! (`..data` swapped to a new timestamped directory), refreshed at 80% of their lifetime or
//! after 24 h with jitter, backing off on failure while the old token stays, with the issuer's
//! clock skew and the local clock's jumps detected, reported and handled (the schedule and its
//! reasons are the library's `kauth::token::refresh`).
//!
//! One file per concept: `config.rs` (the YAML file), `token_request.rs` (the request),
//! `atomic_writer.rs` (the files), `driver.rs` (the loop), `clock.rs`, `metrics.rs`,
//! `health.rs` (`/healthz`, `/metrics`), `random.rs` (jitter).

mod atomic_writer;
mod clock;
mod config;
mod driver;
mod health;
mod metrics;
mod random;
mod token_request;

use std::net::SocketAddr;
use std::path::PathBuf;

use clap::Args;
use kauth::token::refresh::Policy;

use crate::api_client::{kubeconfig_path, ApiClient};
use crate::failure::Failure;
use clock::SystemClock;
use config::AgentConfig;
use driver::Agent;
use token_request::ApiFetcher;

/// `kauth agent`.
#[derive(Debug, Args)]
pub struct AgentArgs {
    /// The config file: the tokens to keep (see the README).
    #[arg(long, short = 'c')]
    config: PathBuf,
    /// The kubeconfig to request tokens with (default: the config's, then $KUBECONFIG, then
    /// ~/.kube/config).
    #[arg(long)]
    kubeconfig: Option<PathBuf>,
    /// Fetch and write every token once, then exit: 0 when all were written, 1 otherwise (a
    /// token that could not be fetched leaves its file as it was).
    #[arg(long)]
    once: bool,
    /// Where /healthz and /metrics listen (port 0: any free port; the address is printed).
    #[arg(long, default_value = "127.0.0.1:9795")]
    health_address: SocketAddr,
}

/// Runs the agent until SIGTERM or SIGINT (or, with `--once`, one round).
pub fn run(a: AgentArgs) -> Result<u8, Failure> {
    let config = AgentConfig::load(&a.config).map_err(|e| Failure::bad_input(e.to_string()))?;
    let kubeconfig = a
        .kubeconfig
        .or(config.kubeconfig.clone())
        .or_else(|| kubeconfig_path(None))
        .ok_or_else(|| Failure::bad_input("no kubeconfig: give --kubeconfig"))?;
    let client = ApiClient::from_kubeconfig(&kubeconfig)?;
    let metrics = metrics::Metrics::new().map_err(|e| Failure::bad_input(format!("metrics: {e}")))?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::bad_input(format!("starting the runtime: {e}")))?;
    runtime.block_on(async move {
        let clock = SystemClock::new();
        let policy = Policy { hold_early_tokens: !a.once, ..Policy::default() };
        let mut agent = Agent::new(clock, ApiFetcher::new(client), config.tokens, policy, metrics);
        if a.once {
            agent.tick().await;
            let unwritten: Vec<String> = agent
                .status()
                .tokens()
                .into_iter()
                .filter(|(_, t)| t.expires_at_mono.is_none())
                .map(|(name, t)| format!("{name} ({})", t.last_error.unwrap_or_default()))
                .collect();
            if unwritten.is_empty() {
                return Ok(0);
            }
            return Err(Failure::unsound(format!(
                "not written, their files left as they were: {}",
                unwritten.join("; ")
            )));
        }
        let listener = tokio::net::TcpListener::bind(a.health_address)
            .await
            .map_err(|e| Failure::bad_input(format!("listening on {}: {e}", a.health_address)))?;
        let bound = listener.local_addr().map_err(|e| Failure::bad_input(e.to_string()))?;
        let health = tokio::spawn(health::serve(listener, agent.status(), clock));
        outln!("kauth agent: health on http://{bound}/healthz, metrics on http://{bound}/metrics");
        agent.run(shutdown()).await;
        health.abort();
        tracing::info!("stopped by signal; the token files stay as they are");
        Ok(0)
    })
}

/// Completes on SIGTERM or SIGINT.
async fn shutdown() {
    let Ok(mut term) = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) else {
        let _ = tokio::signal::ctrl_c().await;
        return;
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}
