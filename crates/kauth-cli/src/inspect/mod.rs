//! `kauth inspect`: a page on 127.0.0.1 that shows a token, a certificate or a policy the way an
//! operator thinks about them, answered by the same library calls as `kauth token explain`,
//! `kauth cert inspect`, `kauth access-matrix`, `kauth policy explain` and `kauth who-can`.
//!
//! It listens on loopback only, on a random port unless `--port`, and every path starts with a
//! one-time random key ([`key`]) printed in the URL; it opens no browser. What is pasted is held
//! only while its request is answered: nothing is logged or written.
//!
//! One file per concern: [`server`] (hyper on loopback), [`app`] (the page's state), [`routes`] (the key, the host check,
//! the paths, the security headers), [`form`] (form bodies), [`html`] (escaping and the
//! layout), [`assets`] (the stylesheet and script inside the binary), the views [`token_view`]
//! (with [`timeline`], its SVG), [`cert_view`] and [`policy_view`], and [`sources`] (what the
//! command line gave: keys, issuers, the policy).

mod app;
mod assets;
mod cert_view;
mod form;
mod html;
mod key;
mod policy_view;
mod routes;
mod server;
mod sources;
mod timeline;
mod token_terms;
mod token_view;

use crate::failure::Failure;

/// `kauth inspect`.
#[derive(Debug, clap::Args)]
pub struct InspectArgs {
    #[command(flatten)]
    sources: sources::SourceArgs,
    /// The port on 127.0.0.1 (default: a free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
    /// Exit when standard input closes (for tests that own the process).
    #[arg(long, hide = true)]
    exit_on_stdin_close: bool,
}

/// Runs `kauth inspect` until interrupted.
pub fn run(a: InspectArgs) -> Result<u8, Failure> {
    let sources = sources::Sources::gather(&a.sources)?;
    for note in &sources.notes {
        eprintln!("kauth inspect: {note}");
    }
    let key = key::UrlKey::generate().map_err(Failure::unsound)?;
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .map_err(|e| Failure::unsound(format!("starting the runtime: {e}")))?;
    runtime.block_on(async move {
        let listener = tokio::net::TcpListener::bind(("127.0.0.1", a.port))
            .await
            .map_err(|e| Failure::bad_input(format!("listening on 127.0.0.1:{}: {e}", a.port)))?;
        let port = listener.local_addr().map_err(|e| Failure::unsound(e.to_string()))?.port();
        outln!("kauth inspect serving on http://127.0.0.1:{port}/{}/", key.as_str());
        outln!("  open it in a browser on this machine; Ctrl-C stops it (nothing is kept)");
        let app = std::sync::Arc::new(app::App { key, sources, port });
        let exit_on_stdin = a.exit_on_stdin_close;
        let stdin_closed = async move {
            if exit_on_stdin {
                use tokio::io::AsyncReadExt;
                let mut buf = [0u8; 64];
                let mut stdin = tokio::io::stdin();
                while matches!(stdin.read(&mut buf).await, Ok(n) if n > 0) {}
            } else {
                std::future::pending::<()>().await;
            }
        };
        let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
            .map_err(|e| Failure::unsound(format!("waiting for SIGTERM: {e}")))?;
        tokio::select! {
            () = server::serve(listener, app) => {}
            _ = tokio::signal::ctrl_c() => {}
            _ = term.recv() => {}
            () = stdin_closed => {}
        }
        Ok(0)
    })
}
