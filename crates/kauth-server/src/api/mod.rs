//! The HTTP API: request parsing, Kubernetes Status errors, handlers.

pub mod protobuf;
pub mod request;
pub mod status;
