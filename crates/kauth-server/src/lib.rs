//! kauth's server side: everything that does I/O on behalf of the pure `kauth` library.
//!
//! - [`tls`]: rustls configuration from PEM files (serving certificate, optional client
//!   certificates verified against a client CA), on the aws-lc-rs provider only.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod events;
pub mod registry;
pub mod resources;
pub mod server;
pub mod store;
pub mod tls;
