//! The JWT issuers' keys: each issuer's discovery document and JWKS fetched over HTTPS, cached,
//! refreshed on an unknown `kid` at most once per 10 s, the last good set kept while the issuer
//! is down. [`RemoteKeys`] is the server's [`kauth::authn::jwt::IssuerKeys`]; the library's JWT
//! authenticator asks it for keys and never does I/O itself.
//!
//! - `client.rs`: the HTTPS GET (ureq on rustls with aws-lc-rs; the configured CA alone, else
//!   the host's roots).
//! - `documents.rs`: the discovery document (issuer match, `jwks_uri`) and the JWK Set.
//! - `gate.rs`: when a fetch may run (rate limit, one fetch in flight).
//! - `remote.rs`: one issuer's keys, the start-up retries, health.
//! - `health.rs`: the issuers in use and their `/readyz` lines.
//! - `error.rs`: the typed failures, in go-oidc's words.

pub mod client;
pub mod documents;
pub mod error;
pub mod gate;
pub mod health;
pub mod remote;

pub use client::{Answer, ClientError, Fetch, HttpsClient};
pub use error::{Document, FetchError};
pub use health::JwtIssuers;
pub use remote::{IssuerHealth, IssuerSource, RemoteKeys};
