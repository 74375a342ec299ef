//! kauth: Kubernetes authentication and authorization, as a library.
//!
//! This crate holds the pure logic: no async runtime, no HTTP server, no clock reads deep inside.
//! Time is always an input (`now`), so every decision can be replayed and tested with a fake clock.
//!
//! - [`pki`]: the kubeadm-compatible cluster PKI (`kauth pki init|check|verify|renew`) and certificate
//!   inspection in Kubernetes terms (`kauth cert inspect`).
//! - [`token`]: service-account tokens, bound and legacy: issuing, validation with typed
//!   rejections, keys and JWKS, explanations.
//! - [`user`]: the authenticated user as Kubernetes builds it.
//! - [`authn`]: authentication: request and token authenticators (x509, bearer, static tokens,
//!   service accounts, anonymous), unions, the cache, the group adder, impersonation checks.
//! - [`authz`]: the authorizer trait, decisions, the privileged group and chains.
//! - [`cel`]: CEL as Kubernetes' configurations use it (authentication claims, authorization
//!   match conditions): compiled with positions, checked, cost-bounded.
//! - [`rbac`]: Kubernetes RBAC: rule matching, the policy source and the authorizers, the
//!   default policy, explanations, and who-can, access-matrix and lint as functions.
//! - [`duration`]: durations as flags take them (`90s`, `1h30m`, `30d`).
//! - [`timestamp`]: Kubernetes' RFC 3339 timestamps, the one formatter.
#![forbid(unsafe_code)]
#![warn(missing_docs)]
#![cfg_attr(not(test), warn(clippy::unwrap_used))]

pub mod authn;
pub mod authz;
pub mod cel;
pub mod clock;
pub mod duration;
pub mod pki;
pub mod rbac;
pub mod timestamp;
pub mod token;
pub mod user;
