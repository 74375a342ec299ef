//! `loadgen`: drives an HTTPS endpoint with keep-alive HTTP/1.1 connections for a while and
//! prints one Markdown row: requests per second, p50 and p99 latency. Like wrk, but it can present
//! a client certificate (x509 and front-proxy authentication are measured with it) and it checks
//! every answer's status. TLS is rustls with aws-lc-rs, as kauth's.
//!
//! ```text
//! loadgen --url https://127.0.0.1:6443/api --cacert ca.crt [--cert c.crt --key c.key]
//!         [--header 'Authorization: Bearer T']... [--method POST --body-file b.json]
//!         [--connections 32] [--seconds 10 | --count N] [--threads 2] [--label NAME]
//! ```
//!
//! With `--count N` it sends exactly N requests in all (rather than running for `--seconds`), and
//! numbers them: `{n}` in the URL's path and in the body becomes the request's number (0 to
//! N-1), `{n%K}` that number's remainder by K. `scripts/bench-scale.sh` loads a cluster so.
//!
//! Exit 1 (after the row) when any answer was not 2xx or a connection failed.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use clap::Parser;
use http_body_util::{BodyExt, Full};
use hyper_util::rt::TokioIo;
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer, ServerName};

#[derive(Debug, Parser)]
struct Args {
    /// The URL (https only).
    #[arg(long)]
    url: String,
    /// The CA to verify the server with (PEM).
    #[arg(long)]
    cacert: PathBuf,
    /// A client certificate (PEM) to present.
    #[arg(long, requires = "key")]
    cert: Option<PathBuf>,
    /// Its key (PEM).
    #[arg(long)]
    key: Option<PathBuf>,
    /// A request header, `Name: value` (repeatable).
    #[arg(long = "header")]
    headers: Vec<String>,
    /// The method.
    #[arg(long, default_value = "GET")]
    method: String,
    /// The request body, from a file.
    #[arg(long)]
    body_file: Option<PathBuf>,
    /// Concurrent connections.
    #[arg(long, default_value_t = 32)]
    connections: usize,
    /// How long to run.
    #[arg(long, default_value_t = 10)]
    seconds: u64,
    /// Worker threads.
    #[arg(long, default_value_t = 2)]
    threads: usize,
    /// The row's label.
    #[arg(long, default_value = "")]
    label: String,
    /// Send exactly this many requests in all, numbered (`{n}`, `{n%K}` in path and body).
    #[arg(long)]
    count: Option<u64>,
}

/// `template` with `{n}` replaced by `n` and each `{n%K}` by `n % K`.
fn expand(template: &str, n: u64) -> Result<String, String> {
    let mut out = String::with_capacity(template.len() + 8);
    let mut rest = template;
    while let Some(i) = rest.find("{n") {
        out.push_str(&rest[..i]);
        let after = &rest[i + 2..];
        let end = after.find('}').ok_or_else(|| format!("unclosed {{n in {template:?}"))?;
        let value = match after[..end].strip_prefix('%') {
            None if end == 0 => n,
            Some(k) => n % k.parse::<u64>().ok().filter(|k| *k > 0).ok_or_else(|| format!("bad {{n%{k}}}"))?,
            None => return Err(format!("unknown placeholder {{n{}}} in {template:?}", &after[..end])),
        };
        out.push_str(&value.to_string());
        rest = &after[end + 1..];
    }
    out.push_str(rest);
    Ok(out)
}

struct Target {
    host: String,
    port: u16,
    path: String,
}

fn target(url: &str) -> Result<Target, String> {
    // A numbered URL's path keeps its placeholders (not valid in a URI) for `expand`.
    let uri: http::Uri = expand(url, 0)?.parse().map_err(|e| format!("--url {url:?}: {e}"))?;
    if uri.scheme_str() != Some("https") {
        return Err(format!("--url {url:?}: only https"));
    }
    let host = uri.host().ok_or_else(|| format!("--url {url:?}: no host"))?.trim_matches(['[', ']']).to_owned();
    let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
    let path = after_scheme.find('/').map_or("/", |i| &after_scheme[i..]).to_owned();
    Ok(Target { host, port: uri.port_u16().unwrap_or(443), path })
}

fn read(path: &PathBuf) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{}: {e}", path.display()))
}

fn tls(args: &Args) -> Result<Arc<rustls::ClientConfig>, String> {
    let mut roots = rustls::RootCertStore::empty();
    for c in CertificateDer::pem_slice_iter(&read(&args.cacert)?) {
        roots.add(c.map_err(|e| format!("--cacert: {e}"))?).map_err(|e| format!("--cacert: {e}"))?;
    }
    let provider = Arc::new(rustls::crypto::aws_lc_rs::default_provider());
    let builder = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| e.to_string())?
        .with_root_certificates(roots);
    let config = match (&args.cert, &args.key) {
        (Some(cert), Some(key)) => {
            let chain: Result<Vec<_>, _> = CertificateDer::pem_slice_iter(&read(cert)?).collect();
            let chain = chain.map_err(|e| format!("--cert: {e}"))?;
            let key = PrivateKeyDer::from_pem_slice(&read(key)?).map_err(|e| format!("--key: {e}"))?;
            builder.with_client_auth_cert(chain, key).map_err(|e| format!("--cert/--key: {e}"))?
        }
        _ => builder.with_no_client_auth(),
    };
    Ok(Arc::new(config))
}

fn request(args: &Args, t: &Target, body: &Bytes, n: Option<u64>) -> Result<http::Request<Full<Bytes>>, String> {
    let (path, body) = match n {
        None => (t.path.clone(), body.clone()),
        Some(n) => {
            let text = std::str::from_utf8(body).map_err(|_| "--count needs a UTF-8 body".to_owned())?;
            (expand(&t.path, n)?, Bytes::from(expand(text, n)?))
        }
    };
    let mut req = http::Request::builder()
        .method(args.method.as_str())
        .uri(path.as_str())
        .header(http::header::HOST, format!("{}:{}", t.host, t.port));
    for h in &args.headers {
        let (name, value) = h.split_once(':').ok_or_else(|| format!("--header {h:?}: expected `Name: value`"))?;
        req = req.header(name.trim(), value.trim());
    }
    req.body(Full::new(body)).map_err(|e| e.to_string())
}

/// Latencies in microseconds and the count of failed answers, from one connection.
async fn connection(
    args: Arc<Args>,
    t: Arc<Target>,
    tls: Arc<rustls::ClientConfig>,
    body: Bytes,
    until: Instant,
    next: Arc<std::sync::atomic::AtomicU64>,
) -> Result<(Vec<u32>, u64), String> {
    let tcp = tokio::net::TcpStream::connect((t.host.as_str(), t.port)).await.map_err(|e| e.to_string())?;
    tcp.set_nodelay(true).map_err(|e| e.to_string())?;
    let name = ServerName::try_from(t.host.clone()).map_err(|e| e.to_string())?;
    let stream = tokio_rustls::TlsConnector::from(tls).connect(name, tcp).await.map_err(|e| e.to_string())?;
    let (mut sender, conn) =
        hyper::client::conn::http1::handshake(TokioIo::new(stream)).await.map_err(|e| e.to_string())?;
    tokio::spawn(conn);
    let mut latencies = Vec::with_capacity(1 << 16);
    let mut failed = 0;
    loop {
        let n = match args.count {
            Some(count) => match next.fetch_add(1, std::sync::atomic::Ordering::Relaxed) {
                n if n < count => Some(n),
                _ => break,
            },
            None if Instant::now() < until => None,
            None => break,
        };
        let req = request(&args, &t, &body, n)?;
        let start = Instant::now();
        let resp = sender.send_request(req).await.map_err(|e| e.to_string())?;
        let ok = resp.status().is_success();
        resp.into_body().collect().await.map_err(|e| e.to_string())?;
        latencies.push(u32::try_from(start.elapsed().as_micros()).unwrap_or(u32::MAX));
        if !ok {
            failed += 1;
        }
    }
    Ok((latencies, failed))
}

fn percentile(sorted: &[u32], p: f64) -> String {
    if sorted.is_empty() {
        return "-".into();
    }
    // Nearest rank.
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let us = sorted[rank.clamp(1, sorted.len()) - 1];
    format!("{:.2}ms", f64::from(us) / 1000.0)
}

async fn run(args: Args) -> Result<bool, String> {
    let t = Arc::new(target(&args.url)?);
    let tls = tls(&args)?;
    let body = Bytes::from(match &args.body_file {
        Some(p) => read(p)?,
        None => Vec::new(),
    });
    request(&args, &t, &body, args.count.map(|_| 0))?;
    let args = Arc::new(args);
    let next = Arc::new(std::sync::atomic::AtomicU64::new(0));
    let start = Instant::now();
    let until = start + Duration::from_secs(args.seconds);
    let tasks: Vec<_> = (0..args.connections)
        .map(|_| tokio::spawn(connection(args.clone(), t.clone(), tls.clone(), body.clone(), until, next.clone())))
        .collect();
    let mut all = Vec::new();
    let (mut failed, mut broken) = (0u64, Vec::new());
    for task in tasks {
        match task.await {
            Ok(Ok((l, f))) => {
                all.extend(l);
                failed += f;
            }
            Ok(Err(e)) => broken.push(e),
            Err(e) => broken.push(e.to_string()),
        }
    }
    let elapsed = start.elapsed().as_secs_f64();
    all.sort_unstable();
    println!(
        "| {} | {:.0} | {} | {} |",
        args.label,
        all.len() as f64 / elapsed,
        percentile(&all, 50.0),
        percentile(&all, 99.0)
    );
    if failed > 0 {
        eprintln!("loadgen: {failed} of {} answers were not 2xx", all.len());
    }
    for e in &broken {
        eprintln!("loadgen: a connection failed: {e}");
    }
    Ok(failed == 0 && broken.is_empty())
}

fn main() -> std::process::ExitCode {
    let args = Args::parse();
    let runtime =
        match tokio::runtime::Builder::new_multi_thread().worker_threads(args.threads.max(1)).enable_all().build() {
            Ok(r) => r,
            Err(e) => {
                eprintln!("loadgen: {e}");
                return std::process::ExitCode::from(2);
            }
        };
    match runtime.block_on(run(args)) {
        Ok(true) => std::process::ExitCode::SUCCESS,
        Ok(false) => std::process::ExitCode::from(1),
        Err(e) => {
            eprintln!("loadgen: {e}");
            std::process::ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_number_requests() {
        assert_eq!(expand("/ns-{n%10}/sa/sa-{n}", 1234).unwrap(), "/ns-4/sa/sa-1234");
        assert_eq!(expand("no placeholder", 7).unwrap(), "no placeholder");
        assert!(expand("{n%0}", 1).is_err());
        assert!(expand("{n", 1).is_err());
        assert!(expand("{nope}", 1).is_err());
        let t = target("https://127.0.0.1:6443/api/v1/namespaces/ns-{n%10}/serviceaccounts").unwrap();
        assert_eq!((t.port, t.path.as_str()), (6443, "/api/v1/namespaces/ns-{n%10}/serviceaccounts"));
    }

    #[test]
    fn targets_and_percentiles() {
        let t = target("https://127.0.0.1:6443/api/v1?x=1").unwrap();
        assert_eq!((t.host.as_str(), t.port, t.path.as_str()), ("127.0.0.1", 6443, "/api/v1?x=1"));
        assert_eq!(target("https://[::1]:1/").unwrap().host, "::1");
        assert!(target("http://127.0.0.1/").is_err());
        let sorted: Vec<u32> = (1..=100).map(|i| i * 1000).collect();
        assert_eq!(percentile(&sorted, 50.0), "50.00ms");
        assert_eq!(percentile(&sorted, 99.0), "99.00ms");
        assert_eq!(percentile(&[], 99.0), "-");
    }
}
