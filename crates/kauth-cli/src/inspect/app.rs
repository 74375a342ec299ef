//! The page's state, shared by every request: its key, its port, what the command line gave.

use super::key::UrlKey;
use super::sources::Sources;

/// The page's state.
pub struct App {
    /// The URL key.
    pub key: UrlKey,
    /// The settings.
    pub sources: Sources,
    /// The port it listens on (for the Host and Origin checks).
    pub port: u16,
}
