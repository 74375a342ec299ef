//! The certificate view: a pasted (or dropped) certificate, chain, CSR or kubeconfig, read by
//! `kauth::pki::inspect::inspect` (the function behind `kauth cert inspect`, whose text is shown
//! too) and drawn as a chain of cards, each with its expiry bar.

use std::fmt::Write as _;

use kauth::pki::inspect::{inspect, render_text, CertView, ChainCheck, Item, KubeconfigView};
use kauth::token::{span, utc};
use time::OffsetDateTime;

use super::app::App;
use super::form::Form;
use super::html::{badge, dl, error_box, esc, layout, pre, View};

/// The page, with the reading of `form` when one was posted.
pub fn page(app: &App, base: &str, form: Option<&Form>) -> String {
    let (input, ca) = form.map(|f| (f.raw("input"), f.raw("ca"))).unwrap_or(("", ""));
    let mut body = format!(
        "<form class=\"panel\" method=\"post\" action=\"{base}/cert\">\
<div><label for=\"cert-input\">Certificate, chain, CSR or kubeconfig <span class=\"hint\">(PEM or a kubeconfig's YAML; paste, drop or choose a file)</span></label>\
<textarea id=\"cert-input\" name=\"input\" rows=\"8\" spellcheck=\"false\" autocomplete=\"off\" data-drop>{}</textarea>\
<input type=\"file\" id=\"cert-file\" data-fill=\"cert-input\" aria-label=\"Read the certificate or kubeconfig from a file\"></div>\
<div><label for=\"cert-ca\">CA bundle <span class=\"hint\">(optional, PEM: verify each certificate against it, as --ca)</span></label>\
<textarea id=\"cert-ca\" name=\"ca\" rows=\"2\" spellcheck=\"false\" data-drop>{}</textarea></div>\
<div><button type=\"submit\">Inspect</button></div></form>",
        esc(input),
        esc(ca)
    );
    if form.is_some() {
        body.push_str(&match evaluate(input, ca, app.sources.now()) {
            Ok(html) => html,
            Err(e) => error_box(&e),
        });
    }
    layout(base, View::Cert, "Certificates", &body)
}

fn evaluate(input: &str, ca: &str, now: OffsetDateTime) -> Result<String, String> {
    if input.trim().is_empty() {
        return Err("nothing to inspect: paste a certificate, chain, CSR or kubeconfig".into());
    }
    let bundle = if ca.trim().is_empty() {
        None
    } else {
        Some(crate::cert_cmd::ca_bundle("the CA bundle", ca.as_bytes()).map_err(|f| f.message().to_owned())?)
    };
    let items = inspect("the pasted input", input.as_bytes(), bundle.as_deref(), now).map_err(|e| e.to_string())?;
    let mut out = format!(
        "<section aria-labelledby=\"result-title\" id=\"cert-result\"><h2 id=\"result-title\">As of {}</h2>",
        esc(&utc(now.unix_timestamp()))
    );
    let certs = items.iter().filter(|i| matches!(i, Item::Certificate(_))).count();
    if certs > 1 {
        out.push_str("<p>A chain, leaf first: each certificate is checked against the one after it.</p>");
    }
    out.push_str("<ol class=\"chain\">");
    for (i, item) in items.iter().enumerate() {
        if i > 0 && matches!(item, Item::Certificate(_)) && matches!(items[i - 1], Item::Certificate(_)) {
            out.push_str("<li class=\"arrow\" aria-hidden=\"true\">↓ issued by</li>");
        }
        out.push_str("<li>");
        match item {
            Item::Certificate(v) => out.push_str(&card(v, now, "Certificate")),
            Item::CertificateRequest(c) => {
                let identity = c
                    .requests_identity
                    .as_ref()
                    .map(|u| format!("user <code>{}</code>, groups {}", esc(&u.user), esc(&u.groups.join(", "))))
                    .unwrap_or_else(|| "no common name: no Kubernetes user".into());
                let _ = write!(
                    out,
                    "<div class=\"card\"><h3>Certificate signing request {}</h3>{}</div>",
                    badge(
                        if c.signature_valid { "ok" } else { "bad" },
                        if c.signature_valid { "signature valid" } else { "signature INVALID" }
                    ),
                    dl(&[
                        ("Subject", esc(&c.subject)),
                        ("Asks to authenticate as", identity),
                        ("Asks to serve", esc(&c.requested_sans.join(", "))),
                    ])
                );
            }
            Item::PrivateKey { label, algorithm } => {
                let _ = write!(
                    out,
                    "<div class=\"card\"><h3>Private key</h3><p>{} ({}): its material is not shown.</p></div>",
                    esc(label),
                    esc(algorithm)
                );
            }
            Item::Kubeconfig(k) => out.push_str(&kubeconfig(k, now)),
        }
        out.push_str("</li>");
    }
    out.push_str("</ol>");
    let _ = write!(
        out,
        "<details><summary>As <code>kauth cert inspect</code> prints it</summary>{}</details></section>",
        pre(&render_text(&items, now))
    );
    Ok(out)
}

fn kubeconfig(k: &KubeconfigView, now: OffsetDateTime) -> String {
    let yes_no = |b: bool| if b { "yes" } else { "NO" };
    let mut out = format!(
        "<div class=\"card\" id=\"kubeconfig\"><h3>Kubeconfig, context {}</h3>{}</div>",
        esc(&k.context),
        dl(&[
            ("Server", format!("<code>{}</code>", esc(&k.server))),
            ("Client key matches the certificate", yes_no(k.key_matches).into()),
            (
                "Client certificate signed by the embedded CA",
                k.client_cert_signed_by_embedded_ca.map(yes_no).unwrap_or("no CA embedded").into(),
            ),
        ])
    );
    out.push_str("<ol class=\"chain\" aria-label=\"The kubeconfig's chain\">");
    if let Some(ca) = &k.certificate_authority {
        let _ = write!(out, "<li>{}</li>", card(ca, now, "Certificate authority (certificate-authority-data)"));
        let signed = k.client_cert_signed_by_embedded_ca == Some(true);
        let _ = write!(out, "<li class=\"arrow\">{}</li>", if signed { "↓ signed" } else { "↓ did NOT sign" });
    }
    let _ = write!(
        out,
        "<li>{}</li></ol>",
        card(&k.client_certificate, now, "Client certificate (client-certificate-data)")
    );
    out
}

/// One certificate as a card with its expiry bar.
fn card(v: &CertView, now: OffsetDateTime, role: &str) -> String {
    let c = &v.cert;
    let name = c.common_name.clone().unwrap_or_else(|| c.subject.clone());
    let (kind, word) = match v.state {
        "valid" if v.remaining_seconds < 30 * 86_400 => ("warn", "valid, expiring soon"),
        "valid" => ("ok", "valid"),
        "expired" => ("bad", "EXPIRED"),
        _ => ("bad", "NOT YET VALID"),
    };
    let life = (c.not_after - c.not_before).whole_seconds().max(1);
    let used = (now - c.not_before).whole_seconds().clamp(0, life);
    let step = ((used * 20 + life / 2) / life) * 5;
    let when = if v.remaining_seconds >= 0 {
        format!("expires {} (in {})", utc(c.not_after.unix_timestamp()), span(v.remaining_seconds))
    } else {
        format!("expired {} ({} ago)", utc(c.not_after.unix_timestamp()), span(-v.remaining_seconds))
    };
    let mut rows = vec![("Subject", esc(&c.subject)), ("Issuer", esc(&c.issuer))];
    rows.push((
        "Valid",
        esc(&format!("{} to {}", utc(c.not_before.unix_timestamp()), utc(c.not_after.unix_timestamp()))),
    ));
    if let Some(u) = &v.authenticates_as {
        rows.push((
            "Authenticates as",
            format!("user <code>{}</code>, groups {}", esc(&u.user), esc(&u.groups.join(", "))),
        ));
    }
    if !v.serves.is_empty() {
        rows.push(("Serves", esc(&v.serves.join(", "))));
    }
    let mut usage = c.key_usage.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    if c.server_auth {
        usage.push("serverAuth".into());
    }
    if c.client_auth {
        usage.push("clientAuth".into());
    }
    rows.push(("Usage", esc(&usage.join(", "))));
    rows.push(("Key", esc(&c.public_key)));
    rows.push(("SHA-256", format!("<code>{}</code>", esc(&c.sha256_fingerprint))));
    if let Some(ChainCheck { verified, detail }) = &v.chain {
        rows.push((
            "Chain",
            format!(
                "{} {}",
                badge(if *verified { "ok" } else { "bad" }, if *verified { "verified" } else { "NOT verified" }),
                esc(detail)
            ),
        ));
    }
    let mut notes = String::new();
    for n in &v.notes {
        let _ = write!(notes, "<li>{}</li>", esc(n));
    }
    format!(
        "<div class=\"card cert\"><h3>{}: {} {}</h3>\
<div class=\"bar {kind}\" role=\"img\" aria-label=\"{step}% of its life used; {}\"><span class=\"w{step}\"></span></div>\
<p>{}</p>{}{}</div>",
        esc(role),
        esc(&name),
        badge(kind, word),
        esc(&when),
        esc(&when),
        dl(&rows),
        if notes.is_empty() { String::new() } else { format!("<ul>{notes}</ul>") }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bad_input_is_named() {
        let now = OffsetDateTime::UNIX_EPOCH;
        assert_eq!(
            evaluate(" \n", "", now).unwrap_err(),
            "nothing to inspect: paste a certificate, chain, CSR or kubeconfig"
        );
        assert_eq!(evaluate("hello", "", now).unwrap_err(), "the pasted input: is neither PEM, DER nor a kubeconfig");
        let e = evaluate("hello", "not a bundle", now).unwrap_err();
        assert!(e.starts_with("the CA bundle: "), "{e}");
    }
}
