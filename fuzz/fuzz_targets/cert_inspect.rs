//! Everything `kauth cert inspect` accepts from untrusted hands: PEM (certificates, CSRs, keys),
//! DER, kubeconfig YAML. It must return an item list or an error, never panic.
#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let now = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    if let Ok(items) = kauth::pki::inspect::inspect("fuzz", data, None, now) {
        let _ = kauth::pki::inspect::render_text(&items, now);
    }
});
