//! Private keys and certificates read from PEM files a user points kauth at.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Ok(key) = kauth::pki::PrivateKey::from_pem("fuzz", data) {
        let _ = key.to_pem();
    }
    let _ = kauth::pki::cert::CertInfo::from_pem("fuzz", data);
    let _ = kauth::pki::kubeconfig::Kubeconfig::parse("fuzz", data);
});
