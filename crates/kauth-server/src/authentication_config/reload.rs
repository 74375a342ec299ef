//! The configuration file re-read when it changes, as kube-apiserver 1.32 does
//! (`authentication.go` `ApplyTo`, over `filesystem.WatchUntil`):
//!
//! 1. The file is read; unreadable: logged, counted as a failure, tried again next time.
//! 2. Unchanged bytes: nothing to do.
//! 3. Not a valid configuration, or its `anonymous` section differs from the one the server
//!    started with ("anonymous: Forbidden: changed from initial configuration file"): logged,
//!    counted, and these bytes are not tried again (they never will be valid).
//! 4. Its issuers are made and must all have keys within [`UPDATE_TIMEOUT`] (kube-apiserver's
//!    `UpdateAuthenticationConfigTimeout`); if not, they are dropped, the failure logged and
//!    counted, and the file tried again next time.
//! 5. Then they replace the issuers in use, at once and whole; "reloaded authentication config"
//!    is logged and the success counted.
//!
//! Metrics: kube-apiserver's `apiserver_authentication_config_controller_automatic_reloads_total`
//! and `..._automatic_reload_last_timestamp_seconds` by `status` and `apiserver_id_hash`.
//!
//! kube-apiserver is told of a change by fsnotify and also polls once a minute; kauth reads the
//! file every [`POLL`] (a few hundred bytes, compared with the bytes in use), which sees a
//! change as soon, up to that delay, without a file-watching dependency.

use std::path::PathBuf;
use std::sync::{Arc, Weak};
use std::time::Duration;

use kauth::authn::jwt::config::AnonymousAuthConfig;
use kauth::authn::jwt::AuthenticationConfiguration;

use super::build::{issuers, Context};
use super::source::SourceError;
use super::JwtAuthentication;
use crate::jwks::RemoteKeys;
use crate::metrics::ReloadMetrics;

/// How often the file is read.
pub const POLL: Duration = Duration::from_secs(5);

/// How long a new configuration's issuers have to get their keys.
pub const UPDATE_TIMEOUT: Duration = Duration::from_secs(60);

/// How often their progress is looked at meanwhile.
const READY_POLL: Duration = Duration::from_millis(250);

/// What one look at the file did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// The bytes in use, or ones already refused.
    Unchanged,
    /// The new configuration is in use.
    Reloaded,
    /// The new file was not put in use, and why.
    Failed(ReloadError),
}

/// Why a changed file was not put in use.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReloadError {
    /// Unreadable or invalid (kube-apiserver's texts, then kauth's).
    #[error("{0}")]
    Source(SourceError),
    /// Its `anonymous` section is not the one the server started with.
    #[error("anonymous: Forbidden: changed from initial configuration file; kauth: anonymous settings are read at start only, restart kauth serve to change them")]
    AnonymousChanged,
    /// An issuer's `certificateAuthority` holds no certificate.
    #[error("{0}")]
    Client(crate::jwks::ClientError),
    /// Some issuers had no keys in time.
    #[error("oidc: authenticator for issuer(s) {issuers:?} is not initialized; kauth: the new configuration's issuers had no keys within {seconds} s, the configuration in use stays")]
    NotReady {
        /// The issuers without keys.
        issuers: Vec<String>,
        /// The time they had.
        seconds: u64,
    },
}

/// The file, the bytes in use, and where a new configuration goes.
pub struct Reloader {
    path: PathBuf,
    tracked: Vec<u8>,
    anonymous: Option<AnonymousAuthConfig>,
    cx: Context,
    jwt: Weak<JwtAuthentication>,
    metrics: ReloadMetrics,
    ready_within: Duration,
}

impl std::fmt::Debug for Reloader {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Reloader({})", self.path.display())
    }
}

impl Reloader {
    /// Watches `path`, whose `data` (with `anonymous`) is in use in `jwt`.
    pub fn new(
        path: PathBuf,
        data: Vec<u8>,
        anonymous: Option<AnonymousAuthConfig>,
        cx: Context,
        jwt: &Arc<JwtAuthentication>,
        metrics: ReloadMetrics,
    ) -> Self {
        Reloader { path, tracked: data, anonymous, cx, jwt: Arc::downgrade(jwt), metrics, ready_within: UPDATE_TIMEOUT }
    }

    fn failed(&self, e: ReloadError) -> Outcome {
        tracing::error!("failed to reload authentication config {}: {e}", self.path.display());
        self.metrics.record(false, (self.cx.clock)().unix_timestamp());
        Outcome::Failed(e)
    }

    /// Looks at the file once (blocks while a new configuration's issuers get their keys).
    pub fn tick(&mut self) -> Outcome {
        let data = match std::fs::read(&self.path) {
            Ok(d) => d,
            Err(e) => {
                let problem = e.to_string();
                return self
                    .failed(ReloadError::Source(SourceError::Read { path: self.path.display().to_string(), problem }));
            }
        };
        if data == self.tracked {
            return Outcome::Unchanged;
        }
        let source = self.path.display().to_string();
        let config = match AuthenticationConfiguration::load(&data, &source, &self.cx.service_account_issuers) {
            Ok(c) => c,
            Err(e) => {
                self.tracked = data;
                return self.failed(ReloadError::Source(SourceError::Config(e)));
            }
        };
        if config.anonymous() != self.anonymous.as_ref() {
            self.tracked = data;
            return self.failed(ReloadError::AnonymousChanged);
        }
        let (set, keys) = match issuers(&config, &kauth::authn::jwt::ALL_ALGORITHMS, &self.cx) {
            Ok(made) => made,
            Err(e) => return self.failed(ReloadError::Client(e)),
        };
        if let Err(issuers) = self.wait_ready(&keys) {
            for k in &keys {
                k.stop();
            }
            return self.failed(ReloadError::NotReady { issuers, seconds: self.ready_within.as_secs() });
        }
        let Some(jwt) = self.jwt.upgrade() else { return Outcome::Unchanged };
        jwt.install(set, keys);
        self.tracked = data;
        tracing::info!("reloaded authentication config {}", self.path.display());
        self.metrics.record(true, (self.cx.clock)().unix_timestamp());
        Outcome::Reloaded
    }

    /// Waits (bounded) until every issuer has keys; the ones without, if time ran out.
    fn wait_ready(&self, keys: &[Arc<RemoteKeys>]) -> Result<(), Vec<String>> {
        let tries = (self.ready_within.as_millis() / READY_POLL.as_millis()).max(1);
        for _ in 0..tries {
            if keys.iter().all(|k| k.health().last_success.is_some()) {
                return Ok(());
            }
            std::thread::sleep(READY_POLL);
        }
        let missing: Vec<String> =
            keys.iter().filter(|k| k.health().last_success.is_none()).map(|k| k.issuer().to_owned()).collect();
        if missing.is_empty() {
            Ok(())
        } else {
            Err(missing)
        }
    }

    /// Reads the file every [`POLL`] on a thread of its own, until the server's JWT
    /// authentication is gone.
    pub fn spawn(mut self) {
        let spawned = std::thread::Builder::new().name("authentication-config-reload".into()).spawn(move || loop {
            std::thread::sleep(POLL);
            if self.jwt.strong_count() == 0 {
                return;
            }
            let _ = self.tick();
        });
        if let Err(e) = spawned {
            tracing::error!("watching the authentication config: {e}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metrics::Metrics;

    const FILE: &str = "apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\njwt:\n- issuer:\n    url: https://idp.example\n    audiences: [kauth]\n  claimMappings:\n    username:\n      claim: sub\n      prefix: \"\"\n";

    fn reloader(dir: &std::path::Path, jwt: &Arc<JwtAuthentication>, metrics: &Metrics) -> Reloader {
        let path = dir.join("authn.yaml");
        std::fs::write(&path, FILE).unwrap();
        let cx = Context {
            api_audiences: vec![],
            service_account_issuers: vec!["https://kubernetes.default.svc".into()],
            clock: Arc::new(|| time::OffsetDateTime::UNIX_EPOCH),
            metrics: metrics.jwks.clone(),
        };
        Reloader::new(path, FILE.as_bytes().to_vec(), None, cx, jwt, metrics.reload("kauth-test"))
    }

    #[test]
    fn a_bad_new_file_keeps_the_configuration_and_is_not_retried() {
        let dir = tempfile::tempdir().unwrap();
        let jwt = Arc::new(JwtAuthentication::default());
        let metrics = Metrics::new().unwrap();
        let mut r = reloader(dir.path(), &jwt, &metrics);
        assert_eq!(r.tick(), Outcome::Unchanged);
        std::fs::write(&r.path, FILE.replace("https://idp.example", "http://idp.example")).unwrap();
        let Outcome::Failed(ReloadError::Source(SourceError::Config(e))) = r.tick() else { panic!("not refused") };
        assert!(e.kubernetes_text().contains("jwt[0].issuer.url"), "{e}");
        assert_eq!(r.tick(), Outcome::Unchanged, "the same bad bytes are not tried again");
        std::fs::write(&r.path, format!("{FILE}anonymous:\n  enabled: true\n")).unwrap();
        assert_eq!(r.tick(), Outcome::Failed(ReloadError::AnonymousChanged));
        std::fs::remove_file(&r.path).unwrap();
        assert!(matches!(r.tick(), Outcome::Failed(ReloadError::Source(SourceError::Read { .. }))));
        let text = metrics.render(time::OffsetDateTime::UNIX_EPOCH, (0, 0), None);
        assert!(
            text.contains(
                "apiserver_authentication_config_controller_automatic_reloads_total{apiserver_id_hash=\"sha256:"
            ) && text.contains("status=\"failure\"} 3"),
            "{text}"
        );
        assert!(jwt.current().issuers().is_empty(), "nothing was installed");
    }

    #[test]
    fn issuers_without_keys_in_time_are_not_put_in_use() {
        let dir = tempfile::tempdir().unwrap();
        let jwt = Arc::new(JwtAuthentication::default());
        let metrics = Metrics::new().unwrap();
        let mut r = reloader(dir.path(), &jwt, &metrics);
        r.ready_within = Duration::from_millis(1);
        // 127.0.0.1:9 (discard) refuses connections: the new issuer never gets keys.
        std::fs::write(&r.path, FILE.replace("https://idp.example", "https://127.0.0.1:9")).unwrap();
        let outcome = r.tick();
        assert!(
            matches!(&outcome, Outcome::Failed(ReloadError::NotReady { issuers, .. }) if issuers == &["https://127.0.0.1:9"]),
            "{outcome:?}"
        );
        assert!(jwt.current().issuers().is_empty());
    }
}
