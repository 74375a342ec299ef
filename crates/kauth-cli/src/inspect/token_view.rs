//! The token view: a pasted token decoded in Kubernetes terms, the verdict and every check of
//! `kauth::token::explain` (the function behind `kauth token explain`, whose text is shown too),
//! and its timeline. The validator's clock slider moves `now` by the skew and asks the server
//! again, so the same code decides at every position: seed 000's token, issued by a node 90 s
//! ahead, is INVALID on the lagging node and valid once its clock is moved 30 s or more ahead.

use std::fmt::Write as _;

use kauth::token::explain::{explain, ExplainOptions, Explanation, Status, Verdict};
use kauth::token::jwks::parse_jwks;
use kauth::token::utc;
use time::OffsetDateTime;

use super::app::App;
use super::form::Form;
use super::html::{badge, error_box, esc, layout, pre, View};
use super::timeline::{self, Marks};

/// How far the validator's clock slider goes each way, in seconds.
pub const MAX_SKEW: i64 = 600;

/// What the form asks.
struct Asked {
    token: String,
    jwks: String,
    issuers: Vec<String>,
    audiences: Vec<String>,
    leeway: i64,
    skew: i64,
    focus_skew: bool,
}

/// The page, with the evaluation of `form` when one was posted.
pub fn page(app: &App, base: &str, form: Option<&Form>) -> String {
    let s = &app.sources;
    let mut asked = Asked {
        token: String::new(),
        jwks: String::new(),
        issuers: s.issuers.clone(),
        audiences: s.audiences.clone(),
        leeway: s.leeway,
        skew: 0,
        focus_skew: false,
    };
    let mut result = String::new();
    if let Some(f) = form {
        asked.token = f.get("token").to_owned();
        asked.jwks = f.raw("jwks").to_owned();
        asked.issuers = f.list("issuer");
        asked.audiences = f.list("audience");
        asked.focus_skew = f.get("focus") == "skew";
        let numbers =
            f.int("leeway", s.leeway, 0, 86_400).and_then(|l| Ok((l, f.int("skew", 0, -MAX_SKEW, MAX_SKEW)?)));
        match numbers {
            Ok((leeway, skew)) => {
                asked.leeway = leeway;
                asked.skew = skew;
                result = match evaluate(app, &asked) {
                    Ok(html) => html,
                    Err(e) => error_box(&e),
                };
            }
            Err(e) => result = error_box(&e),
        }
    }
    let body = format!("{}{result}", form_html(app, base, &asked));
    layout(base, View::Token, "Token", &body)
}

fn form_html(app: &App, base: &str, a: &Asked) -> String {
    let keys = if app.sources.keys_from.is_empty() {
        "none given at start".to_owned()
    } else {
        format!("from {}", app.sources.keys_from.join(", "))
    };
    format!(
        "<form class=\"panel\" method=\"post\" action=\"{base}/token\">\
<div><label for=\"token\">Token <span class=\"hint\">(paste, or drop a file; a pod's token is /var/run/secrets/kubernetes.io/serviceaccount/token)</span></label>\
<textarea id=\"token\" name=\"token\" rows=\"5\" spellcheck=\"false\" autocomplete=\"off\" data-drop>{}</textarea>\
<input type=\"file\" id=\"token-file\" data-fill=\"token\" aria-label=\"Read the token from a file\"></div>\
<div><label for=\"jwks\">JWKS <span class=\"hint\">(optional: keys besides those {}; /openid/v1/jwks)</span></label>\
<textarea id=\"jwks\" name=\"jwks\" rows=\"2\" spellcheck=\"false\" data-drop>{}</textarea></div>\
<div class=\"row\"><div><label for=\"issuer\">Accepted issuers</label><input type=\"text\" id=\"issuer\" name=\"issuer\" value=\"{}\"></div>\
<div><label for=\"audience\">Accepted audiences</label><input type=\"text\" id=\"audience\" name=\"audience\" value=\"{}\"></div>\
<div><label for=\"leeway\">Leeway (s)</label><input type=\"number\" id=\"leeway\" name=\"leeway\" min=\"0\" max=\"86400\" value=\"{}\"></div></div>\
<div><label for=\"skew\">The validator's clock, in seconds from this machine's <span class=\"hint\">(where another node's clock puts the token)</span></label>\
<input type=\"range\" id=\"skew\" name=\"skew\" min=\"-{MAX_SKEW}\" max=\"{MAX_SKEW}\" step=\"1\" value=\"{}\" data-autosubmit{} aria-describedby=\"skew-out\">\
<p>The validator's clock is <output id=\"skew-out\" for=\"skew\">{}</output>.</p>\
<input type=\"hidden\" id=\"skew-focus\" name=\"focus\" value=\"\"></div>\
<div><button type=\"submit\">Explain</button></div></form>",
        esc(&a.token),
        esc(&keys),
        esc(&a.jwks),
        esc(&a.issuers.join(" ")),
        esc(&a.audiences.join(" ")),
        a.leeway,
        a.skew,
        if a.focus_skew { " autofocus" } else { "" },
        esc(&describe_skew(a.skew)),
    )
}

/// The slider's words (the script writes the same while it moves).
pub fn describe_skew(skew: i64) -> String {
    match skew {
        0 => "the same as this machine's".into(),
        s if s > 0 => format!("{s} s ahead of this machine's"),
        s => format!("{} s behind this machine's", -s),
    }
}

fn evaluate(app: &App, a: &Asked) -> Result<String, String> {
    let token = a.token.strip_prefix("Bearer ").unwrap_or(&a.token).trim();
    if token.is_empty() {
        return Err("the token is empty: paste a service-account token (a JWT)".into());
    }
    let mut keys = app.sources.keys.clone();
    if !a.jwks.trim().is_empty() {
        let pasted = parse_jwks("the pasted JWKS", a.jwks.trim().as_bytes()).map_err(|e| e.to_string())?;
        let set = keys.get_or_insert_with(Default::default);
        for k in pasted.keys() {
            set.push(k.clone());
        }
    }
    let machine_now = app.sources.now();
    let now = machine_now + time::Duration::seconds(a.skew);
    let opts =
        ExplainOptions { keys, issuers: a.issuers.clone(), audiences: a.audiences.clone(), now, leeway: a.leeway };
    let e = explain(token, &opts).map_err(|r| format!("not a readable JWT: {r}"))?;
    Ok(render(&e, &opts, machine_now, a.skew))
}

fn render(e: &Explanation, opts: &ExplainOptions, machine_now: OffsetDateTime, skew: i64) -> String {
    let (kind, word) = match e.verdict {
        Verdict::Valid => ("ok", "VALID"),
        Verdict::NoProblemFound => ("unknown", "NO PROBLEM FOUND"),
        Verdict::Invalid => ("bad", "INVALID"),
    };
    let verdict_word = match e.verdict {
        Verdict::Valid => "valid",
        Verdict::NoProblemFound => "no-problem-found",
        Verdict::Invalid => "invalid",
    };
    let mut out = format!(
        "<section aria-labelledby=\"result-title\"><h2 id=\"result-title\">Verdict</h2>\
<p class=\"verdict\" id=\"verdict\" data-verdict=\"{verdict_word}\" data-skew=\"{skew}\" role=\"status\">{} \
<span>at {} by the validator's clock ({}), leeway {}s</span></p>",
        badge(kind, word),
        esc(&utc(opts.now.unix_timestamp())),
        esc(&describe_skew(skew)),
        opts.leeway
    );
    if e.verdict == Verdict::NoProblemFound {
        let skipped: Vec<&str> =
            e.checks.iter().filter(|c| c.status == Status::NotChecked && c.name != "objects").map(|c| c.name).collect();
        let _ = write!(out, "<p>Not checked: {}.</p>", esc(&skipped.join(", ")));
    }
    if let Some(c) = &e.cause {
        let _ = write!(out, "<p class=\"cause\" id=\"cause\"><strong>Cause:</strong> {}</p>", esc(c));
    }
    if let Some(f) = &e.fix {
        let _ = write!(out, "<p class=\"fix\"><strong>Fix:</strong> {}</p>", esc(f));
    }
    out.push_str("<h2>Checks</h2><table id=\"checks\"><thead><tr><th scope=\"col\">Check</th><th scope=\"col\">Outcome</th><th scope=\"col\">What was compared</th></tr></thead><tbody>");
    for c in &e.checks {
        let (class, word) = match c.status {
            Status::Passed => ("passed", "ok"),
            Status::Failed => ("failed", "FAIL"),
            Status::Warning => ("warning", "warn"),
            Status::NotChecked => ("not-checked", "not checked"),
        };
        let _ = write!(
            out,
            "<tr data-check=\"{}\"><th scope=\"row\">{}</th><td class=\"{class}\">{word}</td><td>{}{}</td></tr>",
            esc(c.name),
            esc(c.name),
            esc(&c.detail),
            c.code.map(|code| format!(" <code>{}</code>", esc(code))).unwrap_or_default()
        );
    }
    out.push_str("</tbody></table>");
    let marks = marks_of(e, opts, machine_now);
    let _ = write!(out, "<h2>Timeline</h2><div class=\"timeline\">{}</div>", timeline::svg(&marks));
    out.push_str("<table><thead><tr><th scope=\"col\">When (UTC)</th><th scope=\"col\">What</th><th scope=\"col\">From the validator's now</th></tr></thead><tbody>");
    for m in &e.decoded.timeline {
        let _ = write!(out, "<tr><td>{}</td><td>{}</td><td>{}</td></tr>", esc(&m.utc), esc(&m.label), esc(&m.relative));
    }
    let (start, end) = marks.accepted();
    let _ = write!(
        out,
        "</tbody></table><p>Accepted from {} to {} (the later of nbf and iat less the leeway, to exp plus the leeway).</p>",
        esc(&start.map(utc).unwrap_or_else(|| "any time".into())),
        esc(&end.map(utc).unwrap_or_else(|| "forever".into()))
    );
    out.push_str(&super::token_terms::section(e));
    let _ = write!(
        out,
        "<details><summary>As <code>kauth token explain</code> prints it</summary>{}</details></section>",
        pre(&crate::token_cmd::render_explanation(e, opts.now, opts.leeway))
    );
    out
}

fn marks_of(e: &Explanation, opts: &ExplainOptions, machine_now: OffsetDateTime) -> Marks {
    let claim = |name: &str| e.decoded.claims.get(name).and_then(serde_json::Value::as_i64);
    Marks {
        iat: claim("iat"),
        nbf: claim("nbf"),
        warnafter: e
            .decoded
            .claims
            .get("kubernetes.io")
            .and_then(|k| k.get("warnafter"))
            .and_then(serde_json::Value::as_i64),
        exp: claim("exp"),
        validator_now: opts.now.unix_timestamp(),
        machine_now: machine_now.unix_timestamp(),
        leeway: opts.leeway,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::key::UrlKey;
    use crate::inspect::sources::Sources;

    /// Seed 000's token: issued (iat = nbf = 08:14:01) by a node 90 s ahead of this one.
    const SEED_000: &str = include_str!("../../tests/data/seed_000_token.txt");

    fn post(fields: &str) -> String {
        let app = App { key: UrlKey::fixed("k"), sources: Sources::empty(1_669_536_841 - 90), port: 1 };
        page(&app, "/k", Some(&Form::parse(fields.as_bytes())))
    }

    #[test]
    fn seed_000_on_the_lagging_node_and_with_the_validators_clock_moved() {
        let html = post(&format!("token={}&skew=0", SEED_000.trim()));
        assert!(html.contains("data-verdict=\"invalid\" data-skew=\"0\""), "{html}");
        assert!(html.contains(
            "token not valid yet: nbf 2022-11-27T08:14:01Z is 1m30s after this server&#39;s time 2022-11-27T08:12:31Z"
        ));
        assert!(html.contains("<strong>Cause:</strong> clock skew: the token starts at 2022-11-27T08:14:01Z"));
        assert!(html.contains("becomes acceptable 30s from now"));
        assert!(html.contains("<output id=\"skew-out\" for=\"skew\">the same as this machine&#39;s</output>"));
        // 29 s ahead is still a second short of the leeway; 30 s is enough. No key was given, so
        // the best verdict is "no problem found".
        let html = post(&format!("token={}&skew=29&focus=skew", SEED_000.trim()));
        assert!(html.contains("data-verdict=\"invalid\" data-skew=\"29\""));
        assert!(html.contains(" data-autosubmit autofocus"), "the slider keeps the focus");
        let html = post(&format!("token={}&skew=30", SEED_000.trim()));
        assert!(html.contains("data-verdict=\"no-problem-found\" data-skew=\"30\""), "{html}");
        assert!(html.contains("Not checked: signature, issuer, audience."));
        assert!(html.contains("<code>system:serviceaccount:argo-run:loofah</code>"));
        assert!(html.contains("system:serviceaccounts, system:serviceaccounts:argo-run, system:authenticated"));
    }

    #[test]
    fn bad_input_is_named_and_escaped() {
        let html = post("token=%3Cscript%3Ealert(1)%3C%2Fscript%3E");
        assert!(!html.contains("<script>alert"));
        assert!(html.contains(">&lt;script&gt;alert(1)&lt;/script&gt;</textarea>"));
        assert!(html.contains("<strong>Cannot read this:</strong> not a readable JWT: "));
        assert!(post("token=+").contains("the token is empty"));
        assert!(
            post(&format!("token={}&skew=601", SEED_000.trim())).contains("skew: 601 is out of range (-600 to 600)")
        );
        assert!(post(&format!("token={}&jwks=%7B%7D", SEED_000.trim())).contains("the pasted JWKS"));
    }

    #[test]
    fn the_slider_in_words() {
        assert_eq!(describe_skew(0), "the same as this machine's");
        assert_eq!(describe_skew(90), "90 s ahead of this machine's");
        assert_eq!(describe_skew(-5), "5 s behind this machine's");
    }
}
