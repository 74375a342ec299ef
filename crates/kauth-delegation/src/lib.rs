//! Delegated authentication and authorization for Rust API servers, as k8s.io/apiserver's
//! `DelegatingAuthenticationOptions` and `DelegatingAuthorizationOptions` give Go servers:
//! an aggregated API server (or any HTTP service in a cluster) trusts kube-apiserver's front
//! proxy by its request-header CA and allowed names and reads its `X-Remote-*` headers,
//! verifies client certificates against the client CA, sends bearer tokens to the cluster's
//! TokenReview and decisions to its SubjectAccessReview, with kube-apiserver's caches (10 s),
//! and always allows `/healthz`, `/readyz` and `/livez`.
//!
//! Usable without `kauth-server`: the authenticators are the `kauth` library's; this crate adds
//! the cluster client ([`cluster`]), the reviews ([`token_review`], [`access_review`]), the
//! trust the cluster publishes ([`extension_authentication`]) and the tower layer ([`layer`]).
//!
//! ```no_run
//! # fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use kauth_delegation::{access_review, authentication, cluster, extension_authentication, layer, token_review};
//!
//! let cluster = cluster::Cluster::new(cluster::ClusterSettings::from_kubeconfig("kubeconfig".as_ref())?)?;
//! let config_map = cluster.get(extension_authentication::PATH, "ConfigMap")?;
//! let trust = extension_authentication::ExtensionAuthentication::from_config_map(&config_map)?;
//! let authenticator = authentication::DelegatingAuthenticator::new(authentication::AuthenticationOptions {
//!     trust,
//!     token_reviews: Some(token_review::TokenReviewAuthenticator::new(cluster.clone(), vec![])),
//!     ..Default::default()
//! })?;
//! let reviews = access_review::SubjectAccessReviewAuthorizer::new(
//!     cluster,
//!     access_review::DEFAULT_ALLOWED_TTL,
//!     access_review::DEFAULT_DENIED_TTL,
//! );
//! let layer = layer::DelegatingLayer::builder(authenticator, Arc::new(reviews)).build();
//! // tower::ServiceBuilder::new().layer(layer).service(your_service)
//! # Ok(()) }
//! ```
#![forbid(unsafe_code)]
#![warn(missing_docs)]
// Rejections carry the values they compared, as in the kauth library.
#![allow(clippy::result_large_err)]

pub mod access_review;
pub mod attributes;
pub mod authentication;
pub mod authz_webhook;
pub mod cluster;
pub mod decide;
pub mod extension_authentication;
pub mod layer;
pub mod local_authentication;
pub mod local_rbac;
pub mod rbac_proxy;
pub mod refusals;
pub mod tls;
pub mod token_review;
pub mod watched;
pub mod webhook;
pub mod webhook_call;
pub mod webhook_kubeconfig;
