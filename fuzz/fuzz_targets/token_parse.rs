//! Bearer tokens from untrusted clients: parsing, explaining and full validation must return a
//! value or a rejection, never panic.
#![no_main]

use std::sync::OnceLock;

use kauth::token::explain::{explain, ExplainOptions};
use kauth::token::keys::{KeySet, SigningKey};
use kauth::token::lookup::MemoryLookup;
use kauth::token::validate::{Validator, ValidatorConfig};
use libfuzzer_sys::fuzz_target;

fn validator() -> &'static (Validator, KeySet) {
    static V: OnceLock<(Validator, KeySet)> = OnceLock::new();
    V.get_or_init(|| {
        let pem = kauth::pki::PrivateKey::generate(kauth::pki::KeyType::EcdsaP256).unwrap().to_pem().unwrap();
        let key = SigningKey::from_pem("fuzz", pem.as_bytes()).unwrap();
        let keys = KeySet::new(vec![key.verifying_key().clone()]);
        let v = Validator::new(ValidatorConfig {
            issuers: vec!["https://kubernetes.default.svc.cluster.local".into()],
            api_audiences: vec![],
            keys: keys.clone(),
            leeway_seconds: 60,
            accept_legacy: true,
        });
        (v, keys)
    })
}

fuzz_target!(|data: &[u8]| {
    let Ok(token) = std::str::from_utf8(data) else { return };
    let now = time::OffsetDateTime::UNIX_EPOCH + time::Duration::days(20_000);
    let (v, keys) = validator();
    let lookup = MemoryLookup::default().with_service_account("ns", "sa", "uid");
    let _ = v.validate(token, None, now, &lookup);
    let opts = ExplainOptions { keys: Some(keys.clone()), issuers: vec!["x".into()], audiences: vec!["y".into()], now, leeway: 60 };
    let _ = explain(token, &opts);
});
