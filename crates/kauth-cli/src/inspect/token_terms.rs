//! A token's header and claims in Kubernetes terms: who kube-apiserver would take it for, and
//! what each claim means to it (which flag or field it is checked against). Descriptive only;
//! the verdict is `kauth::token::explain`'s.

use std::fmt::Write as _;

use kauth::token::explain::Explanation;
use kauth::token::utc;
use kauth::user::service_account_groups;

use super::html::{dl, esc, pre};

/// What a claim is to Kubernetes.
fn meaning(claim: &str) -> &'static str {
    match claim {
        "iss" => "the issuer: must be one of kube-apiserver's --service-account-issuer values",
        "sub" => "the user name: system:serviceaccount:NAMESPACE:NAME",
        "aud" => "the audiences: one must be among --api-audiences (or a TokenReview's spec.audiences)",
        "exp" => "expires: refused after this plus the leeway",
        "nbf" => "not before: refused before this less the leeway",
        "iat" => "issued at: refused when later than now plus the leeway",
        "jti" => "the token's id: the user's extra authentication.kubernetes.io/credential-id is JTI=<this>",
        "kubernetes.io.namespace" => "the service account's namespace",
        "kubernetes.io.serviceaccount" => "the service account; its uid must match the stored one",
        "kubernetes.io.pod" => "bound to this pod: refused once the pod is gone or has another uid",
        "kubernetes.io.secret" => "bound to this secret: refused once it is gone or has another uid",
        "kubernetes.io.node" => "bound to (or the pod runs on) this node: extra authentication.kubernetes.io/node-name",
        "kubernetes.io.warnafter" => "stale after: an extended token still works, but its use is annotated as stale",
        "kubernetes.io/serviceaccount/namespace" => "a legacy token's namespace",
        "kubernetes.io/serviceaccount/secret.name" => {
            "a legacy token's Secret: valid while it exists and holds the token"
        }
        "kubernetes.io/serviceaccount/service-account.name" => "a legacy token's service account",
        "kubernetes.io/serviceaccount/service-account.uid" => "a legacy token's service account uid",
        _ => "",
    }
}

/// The "in Kubernetes terms" section.
pub fn section(e: &Explanation) -> String {
    let mut out = String::from("<h2>In Kubernetes terms</h2>");
    let sub = e.decoded.claims.get("sub").and_then(|s| s.as_str()).unwrap_or("");
    let mut facts = vec![("Kind", esc(&format!("{} service-account token", e.decoded.kind)))];
    if let Some(rest) = sub.strip_prefix("system:serviceaccount:") {
        let ns = rest.split(':').next().unwrap_or("");
        let mut groups = service_account_groups(ns);
        groups.push("system:authenticated".into());
        facts.push(("Authenticates as", format!("<code>{}</code>", esc(sub))));
        facts.push(("Groups", esc(&groups.join(", "))));
    } else if !sub.is_empty() {
        facts.push(("Subject", format!("<code>{}</code> (not a service account's name)", esc(sub))));
    }
    facts.push((
        "Signed with",
        esc(&format!("{}, key id {}", e.decoded.header.alg, e.decoded.header.kid.as_deref().unwrap_or("(none)"))),
    ));
    out.push_str(&dl(&facts));
    for n in &e.decoded.notes {
        let _ = write!(out, "<p>{}</p>", esc(n));
    }
    out.push_str("<table id=\"claims\"><thead><tr><th scope=\"col\">Claim</th><th scope=\"col\">Value</th><th scope=\"col\">To Kubernetes</th></tr></thead><tbody>");
    let mut rows: Vec<(String, &serde_json::Value)> = Vec::new();
    if let Some(obj) = e.decoded.claims.as_object() {
        for (k, v) in obj {
            match v.as_object() {
                Some(inner) if k == "kubernetes.io" => {
                    rows.extend(inner.iter().map(|(ik, iv)| (format!("{k}.{ik}"), iv)))
                }
                _ => rows.push((k.clone(), v)),
            }
        }
    }
    for (name, value) in rows {
        let mut shown = value.to_string();
        if let Some(t) =
            value.as_i64().filter(|_| matches!(name.as_str(), "exp" | "nbf" | "iat" | "kubernetes.io.warnafter"))
        {
            shown = format!("{t} ({})", utc(t));
        }
        let _ = write!(
            out,
            "<tr><th scope=\"row\"><code>{}</code></th><td><code>{}</code></td><td>{}</td></tr>",
            esc(&name),
            esc(&shown),
            esc(meaning(&name))
        );
    }
    out.push_str("</tbody></table>");
    let header = serde_json::to_string_pretty(&e.decoded.header).unwrap_or_default();
    let claims = serde_json::to_string_pretty(&e.decoded.claims).unwrap_or_default();
    let _ =
        write!(out, "<details><summary>Header and claims as JSON</summary>{}{}</details>", pre(&header), pre(&claims));
    out
}
