//! Where the JWT issuers come from, and the anonymous setting that goes with them, as
//! kube-apiserver 1.32 decides (`pkg/kubeapiserver/options/authentication.go`):
//!
//! - `--authentication-config FILE`: its `jwt` issuers, every signing algorithm accepted;
//!   with any `--oidc-*` flag set: "authentication-config file and oidc-* flags are mutually
//!   exclusive".
//! - else the `--oidc-*` flags as one issuer, with `--oidc-signing-algs`.
//! - the file's `anonymous` section replaces `--anonymous-auth`; both set is refused.

use std::path::{Path, PathBuf};

use kauth::authn::anonymous::Anonymous;

use kauth::authn::jwt::config::AnonymousAuthConfig;
use kauth::authn::jwt::{AuthenticationConfiguration, ConfigError, OidcFlagsError, ValidConfig, ALL_ALGORITHMS};
use kauth::token::keys::Algorithm;

use crate::options::Options;

/// The issuers' configuration and where it came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    /// The configuration, validated, its CEL compiled.
    pub config: ValidConfig,
    /// The accepted signing algorithms.
    pub algorithms: Vec<Algorithm>,
    /// The file and the bytes read from it (what a reload compares with); `None` for the flags.
    pub file: Option<(PathBuf, Vec<u8>)>,
}

/// Why the server cannot start with these flags or this file.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SourceError {
    /// `--authentication-config` and an `--oidc-*` flag.
    #[error("authentication-config file and oidc-* flags are mutually exclusive; kauth: move the --oidc-* settings into the file's jwt list, or drop --authentication-config")]
    MutuallyExclusive,
    /// `--anonymous-auth` and the file's `anonymous` section.
    #[error("anonymous: Forbidden: --anonynous-auth flag cannot be set when anonymous field is configured in authentication configuration file; kauth: drop --anonymous-auth or the file's anonymous section")]
    AnonymousTwice,
    /// The file could not be read.
    #[error("open {path}: {problem}")]
    Read {
        /// The file.
        path: String,
        /// The system's words.
        problem: String,
    },
    /// The file is not a valid configuration.
    #[error("{0}")]
    Config(ConfigError),
    /// The flags make no valid issuer.
    #[error("{0}")]
    Flags(OidcFlagsError),
}

/// Reads and loads `path` (the service-account issuers are not allowed as JWT issuers).
pub fn load_file(path: &Path, service_account_issuers: &[String]) -> Result<Loaded, SourceError> {
    let data = std::fs::read(path)
        .map_err(|e| SourceError::Read { path: path.display().to_string(), problem: e.to_string() })?;
    let config = AuthenticationConfiguration::load(&data, &path.display().to_string(), service_account_issuers)
        .map_err(SourceError::Config)?;
    Ok(Loaded { config, algorithms: ALL_ALGORITHMS.to_vec(), file: Some((path.to_owned(), data)) })
}

/// The JWT issuers the options configure (none: `None`), and the anonymous authenticator
/// (`--anonymous-auth`, or the file's `anonymous` with its path conditions).
pub fn initial(opts: &Options, service_account_issuers: &[String]) -> Result<(Option<Loaded>, Anonymous), SourceError> {
    let flags = opts.oidc_flags().map_err(|e| SourceError::Read { path: "--oidc-ca-file".into(), problem: e })?;
    let Some(path) = &opts.authentication_config else {
        let loaded = flags.to_config(service_account_issuers).map_err(SourceError::Flags)?;
        let loaded = loaded.map(|(config, algorithms)| Loaded { config, algorithms, file: None });
        return Ok((loaded, Anonymous::new(opts.anonymous_auth())));
    };
    if flags.any_set() {
        return Err(SourceError::MutuallyExclusive);
    }
    let loaded = load_file(path, service_account_issuers)?;
    let anonymous = match (loaded.config.anonymous(), opts.anonymous_auth) {
        (Some(_), Some(_)) => return Err(SourceError::AnonymousTwice),
        (Some(AnonymousAuthConfig { enabled: false, .. }), None) => Anonymous::new(false),
        (Some(AnonymousAuthConfig { conditions, .. }), None) => {
            Anonymous::on_paths(conditions.iter().map(|c| c.path.clone()).collect())
        }
        (None, _) => Anonymous::new(opts.anonymous_auth()),
    };
    Ok((Some(loaded), anonymous))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Flags {
        #[command(flatten)]
        options: Options,
    }

    fn opts(args: &[&str]) -> Options {
        Flags::try_parse_from(std::iter::once("kauth-serve").chain(args.iter().copied())).unwrap().options
    }

    const FILE: &str = "apiVersion: apiserver.config.k8s.io/v1beta1\nkind: AuthenticationConfiguration\njwt:\n- issuer:\n    url: https://idp.example\n    audiences: [kauth]\n  claimMappings:\n    username:\n      claim: sub\n      prefix: \"idp:\"\n";

    #[test]
    fn the_file_or_the_flags_never_both() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("authn.yaml");
        std::fs::write(&f, FILE).unwrap();
        let path = f.to_str().unwrap();
        let (loaded, anonymous) = initial(&opts(&["--authentication-config", path]), &[]).unwrap();
        let loaded = loaded.unwrap();
        assert_eq!(loaded.config.issuers.len(), 1);
        assert_eq!(loaded.algorithms.len(), 9, "a file accepts every algorithm");
        assert!(anonymous.enabled);
        let e = initial(&opts(&["--authentication-config", path, "--oidc-client-id=x"]), &[]).unwrap_err();
        assert_eq!(e, SourceError::MutuallyExclusive);
        assert!(e.to_string().starts_with("authentication-config file and oidc-* flags are mutually exclusive"));
        let (loaded, _) =
            initial(&opts(&["--oidc-issuer-url=https://idp.example", "--oidc-client-id=kauth"]), &[]).unwrap();
        assert_eq!(loaded.unwrap().algorithms, [Algorithm::RS256]);
        assert!(matches!(
            initial(&opts(&["--oidc-issuer-url=https://idp.example"]), &[]),
            Err(SourceError::Flags(OidcFlagsError::IncompleteIssuer))
        ));
        assert!(initial(&opts(&[]), &[]).unwrap().0.is_none());
    }

    #[test]
    fn anonymous_comes_from_the_file_or_the_flag() {
        let dir = tempfile::tempdir().unwrap();
        let f = dir.path().join("authn.yaml");
        std::fs::write(&f, format!("{FILE}anonymous:\n  enabled: false\n")).unwrap();
        let path = f.to_str().unwrap();
        assert_eq!(initial(&opts(&["--authentication-config", path]), &[]).unwrap().1, Anonymous::new(false));
        let e = initial(&opts(&["--authentication-config", path, "--anonymous-auth=false"]), &[]).unwrap_err();
        assert_eq!(e, SourceError::AnonymousTwice);
        std::fs::write(&f, format!("{FILE}anonymous:\n  enabled: true\n  conditions:\n  - path: /livez\n")).unwrap();
        assert_eq!(
            initial(&opts(&["--authentication-config", path]), &[]).unwrap().1,
            Anonymous::on_paths(vec!["/livez".into()])
        );
    }

    #[test]
    fn a_bad_file_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("none.yaml");
        assert!(matches!(load_file(&missing, &[]), Err(SourceError::Read { .. })));
        let f = dir.path().join("authn.yaml");
        std::fs::write(&f, "").unwrap();
        let e = load_file(&f, &[]).unwrap_err();
        assert!(e.to_string().starts_with("empty config data"), "{e}");
        std::fs::write(&f, FILE.replace("https://idp.example", "http://idp.example")).unwrap();
        assert!(matches!(load_file(&f, &[]), Err(SourceError::Config(ConfigError::Invalid { .. }))));
    }
}
