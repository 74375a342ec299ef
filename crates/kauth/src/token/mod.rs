//! Service-account tokens: issue and validate exactly like Kubernetes, and explain every failure.

pub mod claims;
pub mod jws;
pub mod keyring;
pub mod keys;
mod rejection;

pub use rejection::{span, utc, ObjectKind, Rejection};
pub mod explain;
pub mod external;
pub mod issue;
pub mod jwks;
pub mod lookup;
pub mod refresh;
pub mod validate;
