//! Handlers: synchronous functions of an authorized request that return a response.

pub mod crud;
pub mod discovery;
pub mod keys;
pub mod list_body;
pub mod patch;
mod review_status;
pub mod reviews;
pub mod subresources;
mod typed_review;
pub mod watch;
