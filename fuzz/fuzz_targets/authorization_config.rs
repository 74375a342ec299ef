//! `--authorization-config`: any bytes through strict decoding, validation and match-condition
//! compilation must give a configuration or an error, never panic; a configuration's match
//! conditions are then evaluated on a fixed request.
#![no_main]

use k8s_openapi::api::authorization::v1::{ResourceAttributes, SubjectAccessReviewSpec};
use kauth::authz::config::{load, ValidAuthorizer};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    match load(data, &|_| Ok(true)) {
        Err(e) => {
            let _ = e.kubernetes_text();
        }
        Ok(config) => {
            let spec = SubjectAccessReviewSpec {
                user: Some("alice".into()),
                groups: Some(vec!["dev".into()]),
                resource_attributes: Some(ResourceAttributes {
                    namespace: Some("team".into()),
                    verb: Some("get".into()),
                    resource: Some("pods".into()),
                    ..Default::default()
                }),
                ..Default::default()
            };
            for a in &config.authorizers {
                if let ValidAuthorizer::Webhook(w) = a {
                    let _ = w.match_conditions.matches(&spec);
                }
            }
        }
    }
});
