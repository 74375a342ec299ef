//! The error that ends a `kauth` command, with its exit code (1: refused or unsound; 2: bad
//! input or usage).

/// An error that ends the command, with its exit code.
#[derive(Debug)]
pub struct Failure {
    code: u8,
    message: String,
}

impl Failure {
    /// The process exit code.
    pub fn code(&self) -> u8 {
        self.code
    }

    /// What to print after `kauth: `.
    pub fn message(&self) -> &str {
        &self.message
    }

    /// Exit 1: the subject is not sound, or the operation was refused.
    pub fn unsound(message: impl Into<String>) -> Self {
        Failure { code: 1, message: message.into() }
    }

    /// Exit 2: bad input or usage.
    pub fn bad_input(message: impl Into<String>) -> Self {
        Failure { code: 2, message: message.into() }
    }
}

impl From<kauth::pki::PkiError> for Failure {
    fn from(e: kauth::pki::PkiError) -> Self {
        use kauth::pki::PkiError as E;
        let code = match &e {
            E::Io { .. } | E::Malformed { .. } | E::Config { .. } | E::UnknownName { .. } => 2,
            E::KeyMismatch { .. } | E::Conflict { .. } | E::Crypto { .. } => 1,
        };
        Failure { code, message: e.to_string() }
    }
}
