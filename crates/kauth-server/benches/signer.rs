//! Signatures per second for kube-apiserver: through the signer's Unix socket (gRPC `Sign`, as
//! kube-apiserver calls it) against the same signing in process (`kauth::token::external::sign`),
//! in one run, with the key `kauth serve` makes (`pki/sa.key`, RSA 2048). Through the socket,
//! one call at a time (a TokenRequest's wait) and many at once on one connection (kube-apiserver
//! keeps one). `cargo bench -p kauth-server --features signer --bench signer` (seconds per case
//! from `SECONDS`, default 5).
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use base64::Engine;
use kauth::token::external::{sign, SignPolicy};
use kauth_server::bootstrap::prepare;
use kauth_server::signer::{SignJwtRequest, SignJwtResponse};
use kauth_server::Options;
use time::OffsetDateTime;
use tonic::transport::{Channel, Endpoint, Uri};

fn claims(now: i64) -> String {
    let c = serde_json::json!({
        "aud": ["https://kubernetes.default.svc.cluster.local"], "exp": now + 3600, "iat": now,
        "iss": "https://kubernetes.default.svc.cluster.local", "nbf": now,
        "jti": "0d4c2c7e-3f0b-4a51-9b6c-1b0c8b8d2f11",
        "kubernetes.io": {"namespace": "default", "serviceaccount": {"name": "default", "uid": "0b7f3a3c-0000-4000-8000-000000000001"}},
        "sub": "system:serviceaccount:default:default"
    });
    base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(serde_json::to_vec(&c).unwrap())
}

async fn call(channel: Channel, claims: String) -> SignJwtResponse {
    let mut grpc = tonic::client::Grpc::new(channel);
    grpc.ready().await.unwrap();
    let path = http::uri::PathAndQuery::from_static("/v1alpha1.ExternalJWTSigner/Sign");
    let codec = tonic_prost::ProstCodec::<SignJwtRequest, SignJwtResponse>::default();
    grpc.unary(tonic::Request::new(SignJwtRequest { claims }), path, codec).await.unwrap().into_inner()
}

fn row(label: &str, n: u64, elapsed: Duration) {
    println!("| {label} | {n} | {:.0} |", n as f64 / elapsed.as_secs_f64());
}

fn main() {
    let seconds: u64 = std::env::var("SECONDS").ok().and_then(|v| v.parse().ok()).unwrap_or(5);
    let run_for = Duration::from_secs(seconds);
    let threads = std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1);
    let dir = tempfile::tempdir().unwrap();
    let options = Options { data_dir: dir.path().join("data"), secure_port: 0, ..Options::default() };
    let state = prepare(&options, Arc::new(OffsetDateTime::now_utc)).unwrap().state;
    let active = state.keys.active();
    let key = active.issuer.key();
    let policy = SignPolicy { max_clock_skew_seconds: 60, max_lifetime_seconds: 1 << 32 };
    let now = || OffsetDateTime::now_utc().unix_timestamp();
    println!("| signing ({}, {threads} cores) | signatures | per second |", key.algorithm().name());
    println!("|---|---:|---:|");

    // In process: the signer's work without gRPC, on one thread and on every core.
    let c = claims(now());
    let (mut n, start) = (0u64, Instant::now());
    while start.elapsed() < run_for {
        sign(key, &c, now(), &policy).unwrap();
        n += 1;
    }
    row("in process, 1 thread", n, start.elapsed());
    let total = Arc::new(AtomicU64::new(0));
    let start = Instant::now();
    std::thread::scope(|s| {
        for _ in 0..threads {
            let (total, c) = (total.clone(), c.clone());
            s.spawn(move || {
                let mut n = 0;
                while start.elapsed() < run_for {
                    sign(key, &c, now(), &policy).unwrap();
                    n += 1;
                }
                total.fetch_add(n, Ordering::Relaxed);
            });
        }
    });
    row(&format!("in process, {threads} threads"), total.load(Ordering::Relaxed), start.elapsed());

    // Through the socket.
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let socket = dir.path().join("signer.sock");
    let channel = rt.block_on(async {
        let listener = kauth_server::signer::bind(&socket, 0o600).unwrap();
        let signer = kauth_server::signer::Signer::new(state.clone(), Duration::from_secs(60));
        tokio::spawn(kauth_server::signer::serve(signer, listener, socket.clone(), std::future::pending()));
        let socket = socket.clone();
        Endpoint::try_from("http://localhost")
            .unwrap()
            .connect_with_connector(tower::service_fn(move |_: Uri| {
                let socket = socket.clone();
                async move { tokio::net::UnixStream::connect(socket).await.map(hyper_util::rt::TokioIo::new) }
            }))
            .await
            .unwrap()
    });
    for in_flight in [1usize, 4 * threads] {
        let (total, stop) = (Arc::new(AtomicU64::new(0)), Arc::new(AtomicBool::new(false)));
        let start = Instant::now();
        rt.block_on(async {
            let mut tasks = Vec::new();
            for _ in 0..in_flight {
                let (channel, total, stop) = (channel.clone(), total.clone(), stop.clone());
                tasks.push(tokio::spawn(async move {
                    while !stop.load(Ordering::Relaxed) {
                        let r = call(channel.clone(), claims(now())).await;
                        assert!(!r.signature.is_empty());
                        total.fetch_add(1, Ordering::Relaxed);
                    }
                }));
            }
            tokio::time::sleep(run_for).await;
            stop.store(true, Ordering::Relaxed);
            for t in tasks {
                t.await.unwrap();
            }
        });
        let label = if in_flight == 1 {
            "through the socket, 1 call at a time".to_owned()
        } else {
            format!("through the socket, {in_flight} calls in flight on one connection")
        };
        row(&label, total.load(Ordering::Relaxed), start.elapsed());
    }
}
