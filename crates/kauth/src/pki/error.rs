//! Errors of the PKI domain. Every variant names the file or object it is about.

use std::path::PathBuf;

/// Something in the cluster PKI is wrong, or could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum PkiError {
    /// A file could not be read or written.
    #[error("{path}: {action}: {source}")]
    Io {
        /// The file or directory.
        path: PathBuf,
        /// What was being done ("read", "write", "create directory", ...).
        action: &'static str,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// A file's content is not what it should be (bad PEM, a key where a cert is expected, ...).
    #[error("{what}: {problem}")]
    Malformed {
        /// The file name, or `-` for standard input.
        what: String,
        /// What is wrong, in one line.
        problem: String,
    },
    /// A private key does not belong to the certificate beside it.
    #[error("{key}: private key does not match the public key of {cert}")]
    KeyMismatch {
        /// The key file.
        key: String,
        /// The certificate file.
        cert: String,
    },
    /// An existing file conflicts with what `init` would write and `--force` was not given.
    #[error("{what}: {problem} (use --force to regenerate it, or fix the file)")]
    Conflict {
        /// The file.
        what: String,
        /// Why it cannot be kept.
        problem: String,
    },
    /// The configuration is invalid (a bad SAN, CIDR, duration, ...).
    #[error("invalid {field}: {problem}")]
    Config {
        /// The option.
        field: &'static str,
        /// What is wrong with it.
        problem: String,
    },
    /// Key generation or signing failed in the crypto library.
    #[error("{what}: {problem}")]
    Crypto {
        /// What was being made.
        what: String,
        /// The library's message.
        problem: String,
    },
    /// The name given to `renew` is not a certificate kauth manages.
    #[error("unknown certificate {name:?}; known: {known}")]
    UnknownName {
        /// The name given.
        name: String,
        /// The names kauth knows, comma-separated.
        known: String,
    },
}

impl PkiError {
    pub(crate) fn io(path: impl Into<PathBuf>, action: &'static str, source: std::io::Error) -> Self {
        PkiError::Io { path: path.into(), action, source }
    }

    pub(crate) fn malformed(what: impl Into<String>, problem: impl Into<String>) -> Self {
        PkiError::Malformed { what: what.into(), problem: problem.into() }
    }

    pub(crate) fn crypto(what: impl Into<String>, problem: impl std::fmt::Display) -> Self {
        PkiError::Crypto { what: what.into(), problem: problem.to_string() }
    }
}
