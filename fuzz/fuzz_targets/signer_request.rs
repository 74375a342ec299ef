//! kube-apiserver's requests to kauth's external signer, as bytes off the socket: protobuf
//! decoding of each request message, then the claims' checks and signing, must return a value
//! or a refusal, never panic.
#![no_main]

use std::sync::OnceLock;

use kauth::token::external::{sign, SignPolicy};
use kauth::token::keys::SigningKey;
use kauth_server::signer::{FetchKeysRequest, MetadataRequest, SignJwtRequest};
use libfuzzer_sys::fuzz_target;
use prost::Message;

fn key() -> &'static SigningKey {
    static K: OnceLock<SigningKey> = OnceLock::new();
    K.get_or_init(|| {
        let pem = kauth::pki::PrivateKey::generate(kauth::pki::KeyType::EcdsaP256).unwrap().to_pem().unwrap();
        SigningKey::from_pem("fuzz", pem.as_bytes()).unwrap()
    })
}

const POLICY: SignPolicy = SignPolicy { max_clock_skew_seconds: 60, max_lifetime_seconds: 1 << 32 };
const NOW: i64 = 1_800_000_000;

fuzz_target!(|data: &[u8]| {
    let _ = FetchKeysRequest::decode(data);
    let _ = MetadataRequest::decode(data);
    if let Ok(request) = SignJwtRequest::decode(data) {
        let _ = sign(key(), &request.claims, NOW, &POLICY);
    }
    // The claims field's content on its own, so the corpus reaches the JSON checks directly.
    if let Ok(claims) = std::str::from_utf8(data) {
        let _ = sign(key(), claims, NOW, &POLICY);
    }
});
