//! Tokens from external identity providers: the JWT issuers of an `AuthenticationConfiguration`
//! (KEP-3331) and the legacy `--oidc-*` flags, judged as kube-apiserver 1.32 judges them.
//!
//! The library does no I/O: an issuer's verification keys come from an [`IssuerKeys`], which
//! kauth serve implements by fetching the issuer's discovery document and JWKS over HTTPS, and
//! tests and `kauth token explain` implement with a fixed set ([`StaticKeys`]).

pub mod cel;
mod cel_check;
pub mod config;
pub mod decode;
mod extra_key;
pub mod field_error;
pub mod keys;
mod load;
pub mod validation;

pub use config::AuthenticationConfiguration;
pub use keys::{IssuerKeys, KeysUnavailable, StaticKeys};
pub use load::{ConfigError, ValidConfig};
pub use validation::{CelMapper, ValidIssuer};
