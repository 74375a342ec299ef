//! What kauth logs, and where: a `tracing` subscriber on stderr, filtered by `KAUTH_LOG`
//! (`warn` when unset). The `log` records of libraries arrive through the same filter.
//!
//! rustls logs, at `warn`, benign client behaviour on every connection (a client that dials an
//! IP address and sends it as SNI: "Illegal SNI extension: ignoring IP address presented as
//! hostname"); one line per connection buries what matters. Its records are kept to `error`
//! unless `KAUTH_LOG` names rustls itself.

use tracing_subscriber::EnvFilter;

/// The filter when `KAUTH_LOG` is unset.
const DEFAULT: &str = "warn";

/// rustls' level unless asked otherwise.
const RUSTLS: &str = "rustls=error";

/// The filter for `KAUTH_LOG`'s value (`None`: unset).
pub fn filter(kauth_log: Option<&str>) -> EnvFilter {
    let base = kauth_log.filter(|s| !s.trim().is_empty()).unwrap_or(DEFAULT);
    let directives = if base.contains("rustls") { base.to_owned() } else { format!("{base},{RUSTLS}") };
    EnvFilter::try_new(&directives).unwrap_or_else(|e| {
        eprintln!("KAUTH_LOG={base:?} is not a log filter ({e}); logging at {DEFAULT}");
        EnvFilter::new(format!("{DEFAULT},{RUSTLS}"))
    })
}

/// Installs the subscriber (once, at start).
pub fn init() {
    let kauth_log = std::env::var("KAUTH_LOG").ok();
    tracing_subscriber::fmt().with_env_filter(filter(kauth_log.as_deref())).with_writer(std::io::stderr).init();
}

#[cfg(test)]
mod tests {
    use std::io::Write;
    use std::sync::{Arc, Mutex};

    use super::*;

    #[derive(Clone, Default)]
    struct Buffer(Arc<Mutex<Vec<u8>>>);

    impl Write for Buffer {
        fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> std::io::Result<()> {
            Ok(())
        }
    }

    /// What the subscriber for `kauth_log` prints of rustls' per-connection warning and of a
    /// warning of kauth's own.
    fn printed(kauth_log: Option<&str>) -> String {
        let buffer = Buffer::default();
        let writer = buffer.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_env_filter(filter(kauth_log))
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .finish();
        tracing::subscriber::with_default(subscriber, || {
            // The target rustls' `log` records carry through tracing-log.
            tracing::warn!(target: "rustls::msgs::handshake", "Illegal SNI extension: ignoring IP address presented as hostname");
            tracing::warn!(target: "kauth_server::run", "a warning of kauth's own");
        });
        let out = buffer.0.lock().unwrap().clone();
        String::from_utf8(out).unwrap()
    }

    #[test]
    fn rustls_per_connection_warnings_stay_quiet_unless_asked_for() {
        for setting in [None, Some("info"), Some("warn,kauth_server=debug"), Some("")] {
            let out = printed(setting);
            assert!(!out.contains("Illegal SNI"), "{setting:?}: {out}");
            assert!(out.contains("a warning of kauth's own"), "{setting:?}: {out}");
        }
        assert!(printed(Some("warn,rustls=warn")).contains("Illegal SNI"));
    }
}
