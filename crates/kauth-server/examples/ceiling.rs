//! The HTTPS ceiling: kauth's transport (`transport::http::serve_connections`, the same rustls
//! configuration from `transport::tls::server_config`, the same hyper-util builder and limits,
//! the same runtime and allocator as `kauth serve`) answering every request with a fixed JSON
//! body, after reading the request body as `kauth serve` does. No pipeline, no handler.
//!
//! `scripts/bench-serve.sh` runs it beside `kauth serve` with the same wrk load, so each of
//! kauth's rows can be given as a share of what this stack can do at all on the machine.
//!
//! ```text
//! cargo run --release -p kauth-server --example ceiling -- --cert apiserver.crt --key apiserver.key --client-ca ca.crt
//! ```
//! It prints `ceiling serving on https://127.0.0.1:<port>` and serves until it is killed.

use std::path::PathBuf;
use std::sync::Arc;

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Either, Full, Limited};
use kauth_server::api::request::MAX_BODY_BYTES;
use kauth_server::transport::http::serve_connections;
use kauth_server::transport::tls::{server_config, ClientCertificates};
use tokio::net::TcpListener;

#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

/// A TokenReview answer of the size `kauth serve` gives for a service-account token.
const BODY: &str = r#"{"kind":"TokenReview","apiVersion":"authentication.k8s.io/v1","metadata":{"creationTimestamp":null},"spec":{"token":"redacted"},"status":{"authenticated":true,"user":{"username":"system:serviceaccount:default:app","uid":"0f0c0ba2-4a8e-4f5e-9d2c-2b7b1c1e3a11","groups":["system:serviceaccounts","system:serviceaccounts:default","system:authenticated"],"extra":{"authentication.kubernetes.io/credential-id":["JTI=5b3c3f0e-8f4e-4a4b-a1c2-7d3e2f1a0b9c"]}},"audiences":["https://kubernetes.default.svc.cluster.local"]}}"#;

#[derive(Parser)]
struct Args {
    /// Serving certificate (PEM), as `kauth serve --tls-cert-file`.
    #[arg(long)]
    cert: PathBuf,
    /// Its key.
    #[arg(long)]
    key: PathBuf,
    /// Client CA: clients may present a certificate, as with `kauth serve`.
    #[arg(long)]
    client_ca: PathBuf,
    /// Port on 127.0.0.1 (0: any free one).
    #[arg(long, default_value_t = 0)]
    port: u16,
}

// The example is an edge, like `kauth serve`: it reads the system clock for the `Date` header.
#[allow(clippy::disallowed_methods)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Args::parse();
    let (cert, key, ca) = (std::fs::read(&a.cert)?, std::fs::read(&a.key)?, std::fs::read(&a.client_ca)?);
    let client_certs = ClientCertificates::from_pem("client CA", &ca)?;
    let tls = Arc::new(server_config(("cert", &cert), ("key", &key), Some(&client_certs))?);
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", a.port)).await?;
        println!("ceiling serving on https://{}", listener.local_addr()?);
        serve_connections(
            listener,
            tls,
            std::future::pending(),
            |_connection, req: hyper::Request<hyper::body::Incoming>| async move {
                let (_, body) = req.into_parts();
                let _ = Limited::new(body, MAX_BODY_BYTES).collect().await;
                let resp = hyper::Response::builder()
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .header(http::header::DATE, httpdate::fmt_http_date(std::time::SystemTime::now()))
                    .body(Either::Left(Full::new(Bytes::from_static(BODY.as_bytes()))));
                Ok::<_, std::convert::Infallible>(resp.expect("a fixed response's headers are valid"))
            },
        )
        .await;
        Ok(())
    })
}
