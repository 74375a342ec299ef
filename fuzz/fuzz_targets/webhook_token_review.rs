//! The token webhook's answer (`kauth serve --authentication-token-webhook-config-file`): the
//! body a webhook sends back is untrusted. Decoding it as a TokenReview of either version and
//! judging its status against the audiences asked for must return a verdict or an error, never
//! panic.
#![no_main]

use kauth_delegation::webhook::{decode_answer, judge};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(body) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let Ok(status) = decode_answer(&body) else { return };
    let api = ["https://kubernetes.default.svc.cluster.local".to_owned()];
    let wanted = ["vault".to_owned(), api[0].clone()];
    for asked in [&wanted[..], &api[..], &[][..]] {
        if let Err(rejection) = judge("https://webhook.example/authenticate", status.clone(), asked, &api) {
            let _ = rejection.explained();
            let _ = rejection.is_silent_failure();
        }
    }
});
