//! Transport: TLS (rustls on aws-lc-rs) and HTTP/1.1 + h2 (hyper), handing each request to the
//! pipeline.

pub mod http;
mod request_text;
pub mod tls;
