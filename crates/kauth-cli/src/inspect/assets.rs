//! The stylesheet and script, compiled into the binary and served under the keyed path
//! (`/KEY/assets/...`): the page loads nothing from anywhere else, and the Content-Security-
//! Policy allows only these (`'self'`), never inline code.

/// The stylesheet.
const CSS: &str = include_str!("assets/inspect.css");
/// The script: the skew slider re-submits the token form, files dropped or chosen fill the
/// text areas. The page works without it (a button re-evaluates).
const JS: &str = include_str!("assets/inspect.js");

/// The asset at `path` (below the key): its content type and content.
pub fn find(path: &str) -> Option<(&'static str, &'static str)> {
    match path {
        "/assets/inspect.css" => Some(("text/css; charset=utf-8", CSS)),
        "/assets/inspect.js" => Some(("text/javascript; charset=utf-8", JS)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn assets_name_nothing_outside() {
        for (_, text) in [find("/assets/inspect.css"), find("/assets/inspect.js")].into_iter().flatten() {
            assert!(
                !text.contains("http:")
                    && !text.contains("https:")
                    && !text.contains("@import")
                    && !text.contains("url(")
            );
            assert!(!text.contains("eval(") && !text.contains("innerHTML"));
        }
        assert_eq!(find("/assets/other.js"), None);
    }
}
