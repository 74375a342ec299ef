//! kauth's server side: everything that does I/O on behalf of the pure `kauth` library, in
//! layers. Each layer uses only the layers listed before it (a test holds the module graph
//! acyclic):
//!
//! - [`api`]: the wire — Kubernetes Status errors, request info, the resource table, codecs,
//!   the request and response types.
//! - [`store`]: the storage trait shaped like etcd, on redb (embedded) or etcd.
//! - [`registry`]: the objects in memory, mirroring the store, with their change feed.
//! - [`audit`], [`metrics`], [`keyring`], [`replicas`], [`authentication`], [`jwks`],
//!   [`authentication_config`]: what the state holds.
//! - [`state`]: settings and shared state.
//! - [`controllers`]: what Kubernetes' controllers and admission do when objects change.
//! - [`handlers`]: CRUD, watch, discovery, reviews, TokenRequest.
//! - [`pipeline`]: the request's filters as tower layers, one file each (request info, audit,
//!   authentication, impersonation, authorization), over the handlers.
//! - [`transport`]: TLS and HTTP.
//! - [`bootstrap`]: start-up: the data directory, the chains, the seeded objects.
//! - [`options`] and [`run`]: what a server runs with, and the one entry.
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod api;
pub mod audit;
pub mod authentication;
pub mod authentication_config;
pub mod authorization;
pub mod bootstrap;
pub mod controllers;
pub mod front_proxy;
pub mod handlers;
pub mod jwks;
pub mod keyring;
pub mod metrics;
pub mod options;
pub mod pipeline;
pub mod refusals;
pub mod registry;
pub mod replicas;
mod run;
#[cfg(feature = "signer")]
pub mod signer;
pub mod state;
pub mod store;
pub mod transport;

pub use options::Options;
pub use run::{run, StartError};
pub use state::Clock;
