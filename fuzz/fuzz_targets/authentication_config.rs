//! `--authentication-config`: any bytes through strict decoding, validation and CEL compilation
//! must give a configuration or an error, never panic.
#![no_main]

use kauth::authn::jwt::AuthenticationConfiguration;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(e) = AuthenticationConfiguration::load(data, "fuzz.yaml", &["https://kubernetes.default.svc".to_owned()]) {
        let _ = e.to_string();
    }
});
