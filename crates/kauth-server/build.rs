//! With the `signer` feature: compiles kauth's .proto of kube-apiserver's external JWT signer API
//! (server side only; protoc must be installed). Without it, nothing to do.

fn main() {
    println!("cargo:rerun-if-changed=proto/externaljwt_v1alpha1.proto");
    #[cfg(feature = "signer")]
    {
        let built = tonic_prost_build::configure()
            .build_client(false)
            .build_server(true)
            .compile_protos(&["proto/externaljwt_v1alpha1.proto"], &["proto"]);
        if let Err(e) = built {
            // A build script reports by failing; protoc missing is the usual cause.
            eprintln!(
                "compiling proto/externaljwt_v1alpha1.proto (is protoc installed? Debian: protobuf-compiler): {e}"
            );
            std::process::exit(1);
        }
    }
}
