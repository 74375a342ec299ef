//! Tokens from external identity providers: the JWT issuers of an `AuthenticationConfiguration`
//! (KEP-3331) and the legacy `--oidc-*` flags, judged as kube-apiserver 1.32 judges them.
//!
//! The library does no I/O: an issuer's verification keys come from an [`IssuerKeys`], which
//! kauth serve implements by fetching the issuer's discovery document and JWKS over HTTPS, and
//! tests and `kauth token explain` implement with a fixed set ([`StaticKeys`]).
//!
//! The way in: [`AuthenticationConfiguration::load`] (decode strictly, validate, compile the
//! CEL) gives a [`ValidConfig`], or [`OidcFlags::to_config`] makes one of the flags;
//! [`JwtIssuers::from_config`] builds the authenticator from it with one [`IssuerKeys`] per
//! issuer. Files: `config.rs` the kind, `decode.rs` strict reading, `validation.rs` (with
//! `extra_key.rs`, `field_error.rs`) kube-apiserver's validation, CEL is
//! [`crate::cel`], `claims.rs` the payload, `authenticator.rs` one issuer's verification, `mapping.rs`
//! claims to user, `issuers.rs` the dispatch by `iss`, `rejection.rs` the typed failures,
//! `legacy.rs` the flags, `trace.rs` the checks for explaining.

mod authenticator;
mod claims;
pub mod config;
pub mod decode;
mod duplicates;
mod extra_key;
pub mod field_error;
mod issuer_validation;
mod issuers;
pub mod keys;
mod legacy;
mod load;
mod mapping;
mod oidc_text;
mod rejection;
mod trace;
pub mod validation;

pub use authenticator::{JwtAuthenticator, ALL_ALGORITHMS, NBF_LEEWAY};
pub use claims::untrusted_issuer;
pub use config::AuthenticationConfiguration;
pub use issuers::{Explanation, JwtIssuers, NAME};
pub use keys::{IssuerKeys, KeysUnavailable, StaticKeys};
pub use legacy::{OidcFlags, OidcFlagsError};
pub use load::{ConfigError, ValidConfig};
pub use mapping::CREDENTIAL_ID;
pub use oidc_text::go_time;
pub use rejection::{CelSite, ClaimUse, JwtRejection};
pub use trace::Step;
pub use validation::{CelMapper, ValidIssuer};

#[cfg(test)]
mod tests;
