//! RBAC documents from files and API servers (`kauth who-can -f`, `policy lint`): parsing,
//! aggregation, indexing and explaining a request must return a value or an error, never panic.
#![no_main]

use kauth::authz::{Attributes, Authorizer, Target};
use kauth::rbac::load::PolicyDocuments;
use kauth::user::UserInfo;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    let mut docs = PolicyDocuments::new();
    if docs.parse("fuzz", text).is_err() {
        return;
    }
    docs.aggregate();
    let index = docs.index();
    let user = UserInfo { name: "system:serviceaccount:ns:sa".into(), groups: vec!["g".into()], ..UserInfo::default() };
    for target in [
        Target::Resource {
            namespace: "ns".into(),
            api_group: "".into(),
            api_version: "v1".into(),
            resource: "pods".into(),
            subresource: "log".into(),
            name: "p".into(),
        },
        Target::NonResource { path: "/healthz".into() },
    ] {
        let a = Attributes { user: user.clone(), verb: "get".into(), target };
        let _ = index.authorize(&a);
        let e = index.explain(&a);
        let _ = e.to_string();
        let _ = index.rules_for(&a.user, "ns");
    }
});
