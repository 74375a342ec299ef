//! Everything kauth serve parses from an untrusted request before authorization decides
//! anything: paths, bearer headers (the library's parser), label selectors, JSON/protobuf bodies through the typed
//! decoders, and the three patch formats. The first byte picks the parser.
#![no_main]

use kauth::authn::bearer;
use kauth_server::api::resources::RESOURCES;
use kauth_server::api::{protobuf, request_info, selector};
use kauth_server::handlers::patch;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Some((&mode, rest)) = data.split_first() else { return };
    let text = String::from_utf8_lossy(rest);
    match mode % 6 {
        0 => {
            let _ = request_info::parse("GET", &text, false);
            let _ = request_info::parse("DELETE", &text, true);
        }
        1 => {
            let _ = bearer::bearer_token(rest);
        }
        2 => {
            let _ = selector::parse_label_selector(&text);
        }
        3 => {
            if let Ok(v) = protobuf::to_json(rest) {
                for rt in RESOURCES {
                    let _ = rt.decode(v.clone());
                }
            }
        }
        4 => {
            if let Ok(v) = serde_json::from_slice::<serde_json::Value>(rest) {
                for rt in RESOURCES {
                    let _ = rt.decode(v.clone());
                }
            }
        }
        _ => {
            let current = serde_json::json!({"metadata": {"name": "a", "labels": {"x": "1"}, "finalizers": ["f"]}, "secrets": [{"name": "s"}], "rules": [{"verbs": ["get"]}]});
            for kind in [patch::PatchKind::Json, patch::PatchKind::Merge, patch::PatchKind::Strategic] {
                let _ = patch::apply(kind, &current, rest);
            }
        }
    }
});
