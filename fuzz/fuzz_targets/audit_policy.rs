//! Audit policy files (`--audit-policy-file`): any text is parsed without a panic, and a policy
//! that parses is evaluated against resource and non-resource requests, with and without a user,
//! without a panic; the level it gives is one of the policy's rules' or None.
#![no_main]

use kauth_server::api::request_info::parse;
use kauth_server::audit::policy::{Attributes, Level, Policy};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let text = String::from_utf8_lossy(data);
    let Ok(policy) = Policy::parse("fuzz.yaml", &text) else { return };
    let groups = vec!["system:authenticated".to_owned(), "dev".to_owned()];
    let requests = [
        parse("GET", "/api/v1/namespaces/default/pods/app/log", false),
        parse("POST", "/apis/rbac.authorization.k8s.io/v1/clusterroles", false),
        parse("GET", "/api/v1/pods", true),
        parse("GET", "/healthz/ready", false),
    ];
    for info in &requests {
        for user in [None, Some(("alice", groups.as_slice()))] {
            let decision = policy.evaluate(&Attributes { user, info });
            assert!(decision.level == Level::None || policy.rules.iter().any(|r| r.level == decision.level));
        }
    }
});
