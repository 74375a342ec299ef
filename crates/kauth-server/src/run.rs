//! The one entry: [`run`] starts a server from its [`Options`] and serves until `shutdown`.

use std::future::Future;
use std::io::Write;

use crate::bootstrap::prepare;
use crate::controllers::heartbeat;
use crate::options::Options;
use crate::state::Clock;
use crate::transport::http::serve;

/// Why a server did not start.
#[derive(Debug, thiserror::Error)]
pub enum StartError {
    /// The address could not be bound.
    #[error("listening on {address}: {source}")]
    Listen {
        /// `address:port`.
        address: String,
        /// Why.
        source: std::io::Error,
    },
    /// The data directory, a file or a flag is wrong (the message names which).
    #[error("{0}")]
    Prepare(String),
}

/// Binds, prepares the data directory and the state, starts the heartbeat on a shared store,
/// prints the ready line (`kauth serving on https://ADDRESS`, which supervisors and tests wait
/// for) with the admin kubeconfig on standard output, and serves until `shutdown` completes.
/// `clock` is read for every `now` (a fake one in tests); call it inside a tokio runtime.
pub async fn run(options: Options, clock: Clock, shutdown: impl Future<Output = ()>) -> Result<(), StartError> {
    let address = format!("{}:{}", options.bind_address, options.secure_port);
    let listener = tokio::net::TcpListener::bind((options.bind_address, options.secure_port))
        .await
        .map_err(|source| StartError::Listen { address: address.clone(), source })?;
    let bound = listener.local_addr().map_err(|source| StartError::Listen { address, source })?;
    let mut options = options;
    options.secure_port = bound.port();
    let reload_interval = options.authorization_config_reload_interval;
    let signer_options = (options.signer_socket.clone(), options.signer_socket_mode, options.signer_max_clock_skew);
    let prepared = tokio::task::spawn_blocking(move || prepare(&options, clock))
        .await
        .map_err(|e| StartError::Prepare(e.to_string()))?
        .map_err(StartError::Prepare)?;
    heartbeat::spawn(&prepared.state);
    let mut prepared = prepared;
    if let Some(reloader) = prepared.reloader.take() {
        reloader.spawn();
    }
    crate::controllers::token_cleaner::spawn(&prepared.state);
    if let Some(reload) = &prepared.state.authorization_reload {
        reload.clone().spawn(reload_interval);
    }
    // The signer stops when the HTTPS server does: it waits for this sender to go.
    let (stop, stopped) = tokio::sync::watch::channel(());
    let signer = start_signer(&signer_options, &prepared.state, stopped)?;
    // Whoever reads stdout may go away (a supervisor, a test): never die for that.
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "kauth serving on https://{bound}\n  export KUBECONFIG={}\n  kubectl get namespaces",
        prepared.admin_kubeconfig.display()
    );
    if let (Some(path), Some(_)) = (&signer_options.0, &signer) {
        let _ = writeln!(out, "  kube-apiserver's token signer: --service-account-signing-endpoint={}", path.display());
    }
    let _ = out.flush();
    serve(prepared.state, listener, prepared.tls, shutdown).await;
    drop(stop);
    if let Some(signer) = signer {
        let _ = signer.await;
    }
    Ok(())
}

type SignerOptions = (Option<std::path::PathBuf>, u32, std::time::Duration);

/// `--signer-socket`: binds the socket (before the ready line, so it is there once that is
/// printed) and serves kube-apiserver's external signer on it until `stopped` ends.
#[cfg(feature = "signer")]
fn start_signer(
    (socket, mode, skew): &SignerOptions,
    state: &std::sync::Arc<crate::state::State>,
    mut stopped: tokio::sync::watch::Receiver<()>,
) -> Result<Option<tokio::task::JoinHandle<()>>, StartError> {
    let Some(path) = socket.clone() else { return Ok(None) };
    let listener =
        crate::signer::bind(&path, *mode).map_err(|e| StartError::Prepare(format!("--signer-socket: {e}")))?;
    let signer = crate::signer::Signer::new(state.clone(), *skew);
    Ok(Some(tokio::spawn(async move {
        let shutdown = async move {
            let _ = stopped.changed().await;
        };
        if let Err(e) = crate::signer::serve(signer, listener, path, shutdown).await {
            tracing::error!("signer: {e}");
        }
    })))
}

#[cfg(not(feature = "signer"))]
fn start_signer(
    (socket, _, _): &SignerOptions,
    _: &std::sync::Arc<crate::state::State>,
    _: tokio::sync::watch::Receiver<()>,
) -> Result<Option<tokio::task::JoinHandle<()>>, StartError> {
    match socket {
        Some(_) => Err(StartError::Prepare("--signer-socket needs a build with --features signer".into())),
        None => Ok(None),
    }
}
