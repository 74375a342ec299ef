//! Which answer a request gets. A pure function of the request, so its tests need no socket:
//! first the Host header (only this loopback address: a DNS-rebinding page cannot reach it),
//! then the URL key (else 403), an `Origin` on a POST must be this page's, then the path. Every
//! answer carries [`SECURITY_HEADERS`].

use http::Method;

use super::app::App;
use super::form::Form;
use super::html::{layout, View};
use super::{assets, cert_view, policy_view, token_view};

/// Headers on every answer. The policy allows only this origin's stylesheet, script and forms
/// (no inline script or style, no frames, no other origin), and says not to cache or sniff, and
/// to send a referrer (the URL holds the key) to this origin only: `no-referrer` would make the
/// browser send `Origin: null` with the page's own forms.
pub const SECURITY_HEADERS: [(&str, &str); 7] = [
    (
        "content-security-policy",
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'",
    ),
    ("x-content-type-options", "nosniff"),
    ("referrer-policy", "same-origin"),
    ("cache-control", "no-store"),
    ("x-frame-options", "DENY"),
    ("cross-origin-opener-policy", "same-origin"),
    ("cross-origin-resource-policy", "same-origin"),
];

/// One request, as the router needs it.
pub struct Request<'a> {
    /// The method.
    pub method: &'a Method,
    /// The path, without the query.
    pub path: &'a str,
    /// The query string (without `?`).
    pub query: &'a str,
    /// The Host header.
    pub host: Option<&'a str>,
    /// The Origin header.
    pub origin: Option<&'a str>,
    /// The body (a form, for POST).
    pub body: &'a [u8],
}

/// An answer.
#[derive(Debug)]
pub struct Reply {
    /// The status code.
    pub status: u16,
    /// The content type.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
    /// For 405: the methods allowed.
    pub allow: Option<&'static str>,
}

const HTML: &str = "text/html; charset=utf-8";

impl Reply {
    fn html(body: String) -> Self {
        Reply { status: 200, content_type: HTML, body, allow: None }
    }

    fn plain(status: u16, body: &str) -> Self {
        Reply { status, content_type: "text/plain; charset=utf-8", body: format!("{body}\n"), allow: None }
    }
}

/// The answer to `req`.
pub fn route(app: &App, req: &Request<'_>) -> Reply {
    let local = [format!("127.0.0.1:{}", app.port), format!("localhost:{}", app.port)];
    if !req.host.is_some_and(|h| local.iter().any(|l| l == h)) {
        return Reply::plain(403, "Forbidden: kauth inspect answers only to http://127.0.0.1 on its own port");
    }
    let Some(path) = app.key.strip(req.path) else {
        return Reply::plain(403, "Forbidden: open the URL kauth inspect printed, with its key");
    };
    if *req.method == Method::POST {
        let origins = local.iter().map(|l| format!("http://{l}")).collect::<Vec<_>>();
        if req.origin.is_some_and(|o| !origins.iter().any(|l| l == o)) {
            return Reply::plain(403, "Forbidden: a form from another origin");
        }
    }
    let base = format!("/{}", app.key.as_str());
    let get = *req.method == Method::GET || *req.method == Method::HEAD;
    let post = *req.method == Method::POST;
    match path {
        "/" if get => Reply::html(home(app, &base)),
        "/token" if get => Reply::html(token_view::page(app, &base, None)),
        "/token" if post => Reply::html(token_view::page(app, &base, Some(&Form::parse(req.body)))),
        "/cert" if get => Reply::html(cert_view::page(app, &base, None)),
        "/cert" if post => Reply::html(cert_view::page(app, &base, Some(&Form::parse(req.body)))),
        "/policy" if get => Reply::html(policy_view::page(app, &base, &Form::parse(req.query.as_bytes()))),
        "/" | "/policy" => method_not_allowed("GET, HEAD"),
        "/token" | "/cert" => method_not_allowed("GET, HEAD, POST"),
        p => match assets::find(p) {
            Some((content_type, body)) if get => {
                Reply { status: 200, content_type, body: body.to_owned(), allow: None }
            }
            Some(_) => method_not_allowed("GET, HEAD"),
            None => Reply::plain(404, "Not Found"),
        },
    }
}

fn method_not_allowed(allow: &'static str) -> Reply {
    Reply { allow: Some(allow), ..Reply::plain(405, "Method Not Allowed") }
}

fn home(app: &App, base: &str) -> String {
    let s = &app.sources;
    let keys = if s.keys_from.is_empty() {
        "none given: paste a JWKS with the token, or start with --jwks, --key, --jwks-url or --kubeconfig".to_owned()
    } else {
        s.keys_from.join(", ")
    };
    let policy = s
        .policy
        .as_ref()
        .map(|p| p.describe())
        .unwrap_or_else(|| "none given (start with -f POLICY or --kubeconfig)".into());
    let mut notes = String::new();
    for n in &s.notes {
        notes.push_str(&super::html::error_box(n));
    }
    let body = format!(
        "<p>Three things, answered by the same code as the <code>kauth</code> commands named beside them.</p>\
<ul class=\"cards\">\
<li><a href=\"{base}/token\">A token</a>: decoded in Kubernetes terms, every check, when it is valid and where another clock puts it (<code>kauth token explain</code>).</li>\
<li><a href=\"{base}/cert\">A certificate, chain, CSR or kubeconfig</a>: who it authenticates as, what it serves, its chain and expiry (<code>kauth cert inspect</code>).</li>\
<li><a href=\"{base}/policy\">A subject's access</a>: resources × verbs, each cell explained; who can do a thing (<code>kauth access-matrix</code>, <code>policy explain</code>, <code>who-can</code>).</li>\
</ul>{notes}{}",
        super::html::dl(&[
            ("Token keys", super::html::esc(&keys)),
            ("Issuers", super::html::esc(&s.issuers.join(", "))),
            ("RBAC policy", super::html::esc(&policy)),
        ])
    );
    layout(base, View::Home, "kauth inspect", &body)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::key::UrlKey;
    use crate::inspect::sources::Sources;

    fn app() -> App {
        App { key: UrlKey::fixed("k3y"), sources: Sources::empty(1_700_000_000), port: 4321 }
    }

    fn ask(method: Method, path: &str, host: Option<&str>, origin: Option<&str>, body: &[u8]) -> Reply {
        let (path, query) = path.split_once('?').unwrap_or((path, ""));
        route(&app(), &Request { method: &method, path, query, host, origin, body })
    }

    const HOST: Option<&str> = Some("127.0.0.1:4321");

    #[test]
    fn without_the_key_every_path_is_forbidden() {
        for path in ["/", "/token", "/assets/inspect.js", "/k3", "/k3yy/token", "/K3Y/", "/favicon.ico"] {
            let r = ask(Method::GET, path, HOST, None, b"");
            assert_eq!(r.status, 403, "{path}");
            assert!(!r.body.contains("k3y"), "the key is never in a refusal");
        }
        assert_eq!(ask(Method::POST, "/token", HOST, None, b"token=x").status, 403);
    }

    #[test]
    fn with_the_key_the_views_and_assets_answer() {
        for path in ["/k3y", "/k3y/", "/k3y/token", "/k3y/cert", "/k3y/policy"] {
            let r = ask(Method::GET, path, HOST, None, b"");
            assert_eq!((r.status, r.content_type), (200, HTML), "{path}");
        }
        let r = ask(Method::GET, "/k3y/assets/inspect.js", HOST, None, b"");
        assert_eq!((r.status, r.content_type), (200, "text/javascript; charset=utf-8"));
        let r = ask(Method::GET, "/k3y/assets/inspect.css", HOST, None, b"");
        assert_eq!((r.status, r.content_type), (200, "text/css; charset=utf-8"));
        assert_eq!(ask(Method::GET, "/k3y/nothing", HOST, None, b"").status, 404);
        let r = ask(Method::DELETE, "/k3y/token", HOST, None, b"");
        assert_eq!((r.status, r.allow), (405, Some("GET, HEAD, POST")));
        assert_eq!(ask(Method::POST, "/k3y/policy", HOST, None, b"").status, 405);
    }

    #[test]
    fn other_hosts_and_origins_are_refused() {
        assert_eq!(ask(Method::GET, "/k3y/", Some("evil.example:4321"), None, b"").status, 403);
        assert_eq!(ask(Method::GET, "/k3y/", Some("127.0.0.1:80"), None, b"").status, 403);
        assert_eq!(ask(Method::GET, "/k3y/", None, None, b"").status, 403);
        assert_eq!(ask(Method::GET, "/k3y/", Some("localhost:4321"), None, b"").status, 200);
        let post = |origin| ask(Method::POST, "/k3y/token", HOST, origin, b"token=");
        assert_eq!(post(Some("http://evil.example")).status, 403);
        assert_eq!(post(Some("http://127.0.0.1:4321")).status, 200);
        assert_eq!(post(None).status, 200);
    }

    #[test]
    fn the_policy_allows_nothing_inline_and_nothing_foreign() {
        let csp = SECURITY_HEADERS.iter().find(|(n, _)| *n == "content-security-policy").unwrap().1;
        assert!(csp.starts_with("default-src 'none'"));
        assert!(!csp.contains("unsafe-inline") && !csp.contains("unsafe-eval") && !csp.contains("http"));
        assert!(csp.contains("frame-ancestors 'none'") && csp.contains("form-action 'self'"));
    }
}
