//! `aggregated-server --tls-cert-file F --tls-private-key-file K [--kubeconfig C] [--listen A]`:
//! the example aggregated API server (see the library and the README).

use std::path::PathBuf;

fn main() -> std::process::ExitCode {
    let mut options = aggregated_server::Options {
        kubeconfig: None,
        tls_cert_file: PathBuf::new(),
        tls_private_key_file: PathBuf::new(),
        listen: std::net::SocketAddr::from(([0, 0, 0, 0], 8443)),
    };
    let mut args = std::env::args().skip(1);
    while let Some(flag) = args.next() {
        let Some(value) = args.next() else {
            eprintln!("aggregated-server: {flag} needs a value");
            return std::process::ExitCode::from(2);
        };
        match flag.as_str() {
            "--kubeconfig" => options.kubeconfig = Some(value.into()),
            "--tls-cert-file" => options.tls_cert_file = value.into(),
            "--tls-private-key-file" => options.tls_private_key_file = value.into(),
            "--listen" => match value.parse() {
                Ok(a) => options.listen = a,
                Err(e) => {
                    eprintln!("aggregated-server: --listen {value:?}: {e}");
                    return std::process::ExitCode::from(2);
                }
            },
            _ => {
                eprintln!("aggregated-server: unknown flag {flag}");
                return std::process::ExitCode::from(2);
            }
        }
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("aggregated-server: {e}");
            return std::process::ExitCode::FAILURE;
        }
    };
    let (ready, bound) = tokio::sync::oneshot::channel();
    let result = runtime.block_on(async {
        tokio::spawn(async move {
            if let Ok(addr) = bound.await {
                println!("serving on https://{addr}");
            }
        });
        aggregated_server::run(options, ready).await
    });
    match result {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("aggregated-server: {e}");
            std::process::ExitCode::FAILURE
        }
    }
}
