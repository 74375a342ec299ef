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
    let prepared = tokio::task::spawn_blocking(move || prepare(&options, clock))
        .await
        .map_err(|e| StartError::Prepare(e.to_string()))?
        .map_err(StartError::Prepare)?;
    heartbeat::spawn(&prepared.state);
    crate::controllers::token_cleaner::spawn(&prepared.state);
    // Whoever reads stdout may go away (a supervisor, a test): never die for that.
    let mut out = std::io::stdout();
    let _ = writeln!(
        out,
        "kauth serving on https://{bound}\n  export KUBECONFIG={}\n  kubectl get namespaces",
        prepared.admin_kubeconfig.display()
    );
    let _ = out.flush();
    serve(prepared.state, listener, prepared.tls, shutdown).await;
    Ok(())
}
