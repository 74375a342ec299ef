//! The wire: what Kubernetes clients send and receive, independent of how it is served.

pub mod body;
pub mod continue_token;
pub mod list_options;
pub mod meta;
pub mod protobuf;
mod protobuf_deployment;
mod protobuf_json;
pub mod request;
pub mod request_info;
pub mod resources;
pub mod response;
pub mod selector;
pub mod status;
pub mod unknown_fields;
