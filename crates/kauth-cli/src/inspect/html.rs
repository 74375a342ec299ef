//! The page's HTML: escaping, the common layout (stylesheet and script from the binary, under
//! the keyed path, so the Content-Security-Policy needs no `'unsafe-inline'`), and small
//! building blocks the views share. Everything a view puts into a page from input goes through
//! [`esc`].

use std::fmt::Write as _;

/// The views, for the navigation.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum View {
    /// The start page.
    Home,
    /// A token.
    Token,
    /// Certificates, CSRs, kubeconfigs.
    Cert,
    /// A subject's access matrix and who-can.
    Policy,
}

/// Escapes text for HTML element content and double-quoted attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A whole page: `base` is `/KEY`, the prefix of every link.
pub fn layout(base: &str, active: View, title: &str, body: &str) -> String {
    let mut nav = String::new();
    for (view, path, label) in [
        (View::Home, "/", "Start"),
        (View::Token, "/token", "Token"),
        (View::Cert, "/cert", "Certificates"),
        (View::Policy, "/policy", "Access"),
    ] {
        let current = if view == active { " aria-current=\"page\"" } else { "" };
        let _ = write!(nav, "<li><a href=\"{base}{path}\"{current}>{label}</a></li>");
    }
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<meta name=\"referrer\" content=\"same-origin\"><link rel=\"icon\" href=\"data:,\">\
<title>{} · kauth inspect</title>\
<link rel=\"stylesheet\" href=\"{base}/assets/inspect.css\">\
<script src=\"{base}/assets/inspect.js\" defer></script></head>\
<body><a class=\"skip\" href=\"#main\">Skip to the content</a><header><p class=\"brand\">kauth inspect</p><nav aria-label=\"Views\"><ul>{nav}</ul></nav>\
<p class=\"local\">Served from this machine only; nothing you paste leaves it or is kept.</p></header>\
<main id=\"main\"><h1>{}</h1>\n{body}\n</main></body></html>\n",
        esc(title),
        esc(title)
    )
}

/// A verdict badge: `kind` is a CSS class (`ok`, `bad`, `warn`, `unknown`).
pub fn badge(kind: &str, text: &str) -> String {
    format!("<span class=\"badge {kind}\">{}</span>", esc(text))
}

/// An error box for bad input, worded as the CLI words it.
pub fn error_box(message: &str) -> String {
    format!("<div class=\"error\" role=\"alert\"><strong>Cannot read this:</strong> {}</div>", esc(message))
}

/// A `<pre>` block of text.
pub fn pre(text: &str) -> String {
    format!("<pre>{}</pre>", esc(text))
}

/// A definition list of `(term, description HTML)` pairs; descriptions are HTML already.
pub fn dl(rows: &[(&str, String)]) -> String {
    let mut out = String::from("<dl class=\"facts\">");
    for (term, desc) in rows {
        let _ = write!(out, "<dt>{}</dt><dd>{desc}</dd>", esc(term));
    }
    out.push_str("</dl>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup_and_quotes() {
        assert_eq!(
            esc(r#"<script>alert("x")</script> & 'y'"#),
            "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt; &amp; &#39;y&#39;"
        );
        assert_eq!(esc("plain"), "plain");
    }

    #[test]
    fn layout_links_everything_under_the_key_and_nothing_outside() {
        let page = layout("/k3y", View::Token, "Token <1>", "<p>body</p>");
        assert!(page.contains("href=\"/k3y/assets/inspect.css\""));
        assert!(page.contains("src=\"/k3y/assets/inspect.js\""));
        assert!(page.contains("<a href=\"/k3y/token\" aria-current=\"page\">Token</a>"));
        assert!(page.contains("<title>Token &lt;1&gt; · kauth inspect</title>"));
        assert!(!page.contains("http://") && !page.contains("https://") && !page.contains("//cdn"));
        assert!(!page.contains("<script>"), "no inline script");
        assert!(!page.contains("style=\""), "no inline style");
    }
}
