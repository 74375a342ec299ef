//! `kauth serve`: the Kubernetes-compatible auth API server.

use std::sync::Arc;

use clap::Args;
use kauth_server::{Clock, Options};
use time::OffsetDateTime;

use crate::args::parse_duration;
use crate::failure::Failure;

/// `kauth serve`: the server's own options, plus what only the command line decides.
#[derive(Debug, Args)]
pub struct ServeArgs {
    #[command(flatten)]
    options: Options,
    /// Shift this replica's clock (e.g. 90s or -90s): for tests that reproduce clock skew.
    #[arg(long, default_value = "0s", value_parser = parse_signed_duration, hide = true, allow_hyphen_values = true)]
    clock_offset: time::Duration,
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
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| Failure::bad_input(format!("starting the runtime: {e}")))?;
    let offset = a.clock_offset;
    // Without an offset the clock is the system's as it is: adding a zero duration to every
    // reading (twice per request) cost a third of reading the clock.
    let clock: Clock = if offset.is_zero() { Arc::new(system_now) } else { Arc::new(move || system_now() + offset) };
    let exit_on_stdin = a.exit_on_stdin_close;
    runtime.block_on(async move {
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
        kauth_server::run(a.options, clock, shutdown).await.map_err(|e| Failure::bad_input(e.to_string()))?;
        Ok(0)
    })
}
