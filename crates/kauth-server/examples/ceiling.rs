//! The HTTPS ceiling: kauth's transport (`transport::http::serve_connections`, the same rustls
//! configuration from `transport::tls::server_config`, the same hyper-util builder and limits,
//! the same runtime and allocator as `kauth serve`) answering every request with a fixed JSON
//! body, after reading the request body as `kauth serve` does. No pipeline, no handler.
//!
//! `scripts/bench-serve.sh` runs it beside `kauth serve` with the same wrk load, so each of
//! kauth's rows can be given as a share of what this stack can do at all on the machine.
//!
//! With `--typed-reviews sonic` it also does the JSON work no server answering reviews through
//! their k8s-openapi types can skip: a TokenReview or SubjectAccessReview body (by the path's
//! last segment) decoded into its type with sonic-rs, as kauth's typed review path does, given a
//! fixed status and written back (`serde-json`: the same with serde_json). No authentication, no
//! authorization, no pipeline: its rate is about the most any such server could reach here
//! (`scripts/bench-ceiling-typed.sh`).
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
use k8s_openapi::api::authentication::v1::{TokenReview, TokenReviewStatus, UserInfo};
use k8s_openapi::api::authorization::v1::{SubjectAccessReview, SubjectAccessReviewStatus};
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
    /// Decode review bodies into their k8s-openapi types and answer them typed (see above),
    /// with this JSON library.
    #[arg(long, value_enum)]
    typed_reviews: Option<Json>,
}

/// The JSON library of `--typed-reviews`: sonic-rs, as kauth's typed review path, or serde_json,
/// as the rest of kauth (to show the cost is the typed decoding, not one library's).
#[derive(Clone, Copy, clap::ValueEnum)]
enum Json {
    Sonic,
    SerdeJson,
}

impl Json {
    fn decode<T: serde::de::DeserializeOwned>(self, body: &[u8]) -> Option<T> {
        match self {
            Json::Sonic => sonic_rs::from_slice(body).ok(),
            Json::SerdeJson => serde_json::from_slice(body).ok(),
        }
    }

    fn encode(self, out: &mut Vec<u8>, value: &impl serde::Serialize) -> Option<()> {
        match self {
            Json::Sonic => sonic_rs::to_writer(out, value).ok(),
            Json::SerdeJson => serde_json::to_writer(out, value).ok(),
        }
    }
}

/// A review's answer as a server using its k8s-openapi type must at least make it: the body
/// decoded, a status set, the object written. `None` when the path names no review or the
/// body is not one (the fixed body answers then).
fn typed_answer(json: Json, path: &str, body: &[u8]) -> Option<Vec<u8>> {
    // Sized as kauth's typed path sizes its answers (sonic-rs sets aside six bytes per byte).
    let mut out = Vec::with_capacity(body.len().saturating_mul(6).saturating_add(1024).min(64 * 1024));
    if path.ends_with("/tokenreviews") {
        let mut review: TokenReview = json.decode(body)?;
        review.status = Some(TokenReviewStatus {
            authenticated: Some(true),
            user: Some(UserInfo {
                username: Some("system:serviceaccount:default:app".into()),
                uid: Some("0f0c0ba2-4a8e-4f5e-9d2c-2b7b1c1e3a11".into()),
                groups: Some(vec!["system:serviceaccounts".into(), "system:serviceaccounts:default".into()]),
                extra: None,
            }),
            audiences: Some(vec!["https://kubernetes.default.svc.cluster.local".into()]),
            error: None,
        });
        json.encode(&mut out, &review)?;
    } else if path.ends_with("/subjectaccessreviews") {
        let mut review: SubjectAccessReview = json.decode(body)?;
        review.status = Some(SubjectAccessReviewStatus {
            allowed: true,
            reason: Some(r#"RBAC: allowed by ClusterRoleBinding "app-view" of ClusterRole "view" to ServiceAccount "app/default""#.into()),
            ..Default::default()
        });
        json.encode(&mut out, &review)?;
    } else {
        return None;
    }
    Some(out)
}

// The example is an edge, like `kauth serve`: it reads the system clock for the `Date` header.
#[allow(clippy::disallowed_methods)]
fn main() -> Result<(), Box<dyn std::error::Error>> {
    let a = Args::parse();
    let (cert, key, ca) = (std::fs::read(&a.cert)?, std::fs::read(&a.key)?, std::fs::read(&a.client_ca)?);
    let client_certs = ClientCertificates::from_pem("client CA", &ca)?;
    let tls = Arc::new(server_config(("cert", &cert), ("key", &key), Some(&client_certs))?);
    let typed_reviews = a.typed_reviews;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(async move {
        let listener = TcpListener::bind(("127.0.0.1", a.port)).await?;
        println!("ceiling serving on https://{}", listener.local_addr()?);
        serve_connections(
            listener,
            tls,
            std::future::pending(),
            move |_connection, req: hyper::Request<hyper::body::Incoming>| async move {
                let (parts, body) = req.into_parts();
                let collected = Limited::new(body, MAX_BODY_BYTES).collect().await;
                let typed = match (typed_reviews, collected) {
                    (Some(json), Ok(body)) => typed_answer(json, parts.uri.path(), &body.to_bytes()),
                    _ => None,
                };
                let answer = typed.map_or_else(|| Bytes::from_static(BODY.as_bytes()), Bytes::from);
                let resp = hyper::Response::builder()
                    .header(http::header::CONTENT_TYPE, "application/json")
                    .header(http::header::DATE, httpdate::fmt_http_date(std::time::SystemTime::now()))
                    .body(Either::Left(Full::new(answer)));
                Ok::<_, std::convert::Infallible>(resp.expect("a fixed response's headers are valid"))
            },
        )
        .await;
        Ok(())
    })
}
