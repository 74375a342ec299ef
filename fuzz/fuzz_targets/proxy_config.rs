//! `kauth proxy --config-file` (kube-rbac-proxy's authorization file) and its path patterns:
//! parsing, then reading a request through the configuration and matching its path, must return
//! a value or an error, never panic.
#![no_main]

use kauth::user::UserInfo;
use kauth_delegation::attributes::RequestAttributes;
use kauth_delegation::rbac_proxy::attributes::RbacProxyAttributes;
use kauth_delegation::rbac_proxy::config::ProxyConfig;
use kauth_delegation::rbac_proxy::path_pattern::PathPattern;
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else { return };
    // The first line is a path pattern and a path to match; the rest is the config file.
    let (first, rest) = text.split_once('\n').unwrap_or((text, ""));
    let (pattern, path) = first.split_once(' ').unwrap_or((first, "/metrics"));
    if let Ok(p) = PathPattern::parse(pattern) {
        let _ = p.matches(path);
    }
    let Ok(config) = ProxyConfig::parse("fuzz", rest) else { return };
    let reading = RbacProxyAttributes::new(config.authorization);
    let uri = format!("/m?namespace={}&namespace=x", path.replace(['#', ' '], ""));
    let Ok(request) = http::Request::builder().uri(uri).header("x-namespace", "a").body(()) else { return };
    let _ = reading.attributes(&request, &UserInfo::default());
});
