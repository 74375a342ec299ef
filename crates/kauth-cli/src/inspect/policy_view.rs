//! The access view: a subject's access matrix (resources × verbs) from `kauth::rbac::matrix`,
//! each cell a link that explains itself with `RbacIndex::explain` (the binding that allows, or
//! the nearest rules, what they lack and the smallest grant: `kauth policy explain`), and
//! who-can (`kauth::rbac::who_can`) for a verb and resource. Subjects and resources are not
//! credentials, so these forms use GET and their answers can be linked to.

use std::fmt::Write as _;

use kauth::authz::Attributes;
use kauth::rbac::explain::explain_request;
use kauth::rbac::explanation::Explanation;
use kauth::rbac::matrix::{access_matrix, AccessMatrix};
use kauth::rbac::who_can::who_can;
use kauth::user::UserInfo;

use super::app::App;
use super::form::Form;
use super::html::{badge, error_box, esc, layout, pre, View};
use crate::rbac_cmd::{authorizer, impersonated_user, parse_what, target, Loaded};

const DEFAULT_VERBS: &str = "get list watch create update patch delete";

/// What the forms ask.
struct Asked {
    user: String,
    groups: Vec<String>,
    namespace: String,
    verbs: Vec<String>,
    cell: String,
    who_verb: String,
    who_resource: String,
    who_namespace: String,
}

impl Asked {
    fn from(q: &Form) -> Self {
        let verbs = q.list("verbs");
        let namespace =
            if q.get("namespace").is_empty() && q.get("as").is_empty() { "default" } else { q.get("namespace") };
        Asked {
            user: q.get("as").to_owned(),
            groups: q.list("groups"),
            namespace: namespace.to_owned(),
            verbs: if verbs.is_empty() { DEFAULT_VERBS.split(' ').map(str::to_owned).collect() } else { verbs },
            cell: q.get("cell").to_owned(),
            who_verb: q.get("verb").to_owned(),
            who_resource: q.get("resource").to_owned(),
            who_namespace: if q.get("wns").is_empty() && q.get("verb").is_empty() {
                "default".into()
            } else {
                q.get("wns").to_owned()
            },
        }
    }

    /// The query string of the matrix (for the cells' links).
    fn matrix_query(&self) -> String {
        form_urlencoded::Serializer::new(String::new())
            .append_pair("as", &self.user)
            .append_pair("groups", &self.groups.join(" "))
            .append_pair("namespace", &self.namespace)
            .append_pair("verbs", &self.verbs.join(" "))
            .finish()
    }
}

/// The page for query `q`.
pub fn page(app: &App, base: &str, q: &Form) -> String {
    let a = Asked::from(q);
    let mut body = forms(app, base, &a);
    if !a.user.is_empty() || !a.who_verb.is_empty() {
        match load(app) {
            Err(e) => body.push_str(&error_box(&e)),
            Ok(loaded) => {
                if !a.user.is_empty() {
                    body.push_str(&matrix_section(base, &a, &loaded));
                }
                if !a.who_verb.is_empty() {
                    body.push_str(&match who_can_section(&a, &loaded) {
                        Ok(html) => html,
                        Err(e) => error_box(&e),
                    });
                }
            }
        }
    }
    layout(base, View::Policy, "Access", &body)
}

fn load(app: &App) -> Result<Loaded, String> {
    match &app.sources.policy {
        Some(p) => p.load().map_err(|f| f.message().to_owned()),
        None => {
            Err("no RBAC policy: start kauth inspect with -f POLICY (files or directories) or --kubeconfig FILE".into())
        }
    }
}

fn forms(app: &App, base: &str, a: &Asked) -> String {
    let from = app.sources.policy.as_ref().map(|p| p.describe()).unwrap_or_else(|| "none given".into());
    format!(
        "<p>Policy: {}</p>\
<form class=\"panel\" method=\"get\" action=\"{base}/policy\"><h2>What may a subject do?</h2><div class=\"row\">\
<div><label for=\"as\">User <span class=\"hint\">(as kubectl --as; a service account is system:serviceaccount:NS:NAME)</span></label><input type=\"text\" id=\"as\" name=\"as\" value=\"{}\" required></div>\
<div><label for=\"groups\">Groups <span class=\"hint\">(--as-group; empty: impersonation's)</span></label><input type=\"text\" id=\"groups\" name=\"groups\" value=\"{}\"></div>\
<div><label for=\"namespace\">Namespace <span class=\"hint\">(empty: cluster scope)</span></label><input type=\"text\" id=\"namespace\" name=\"namespace\" value=\"{}\"></div>\
<div><label for=\"verbs\">Verbs</label><input type=\"text\" id=\"verbs\" name=\"verbs\" value=\"{}\"></div></div>\
<div><button type=\"submit\">Show the access matrix</button></div></form>\
<form class=\"panel\" method=\"get\" action=\"{base}/policy\"><h2>Who can?</h2><div class=\"row\">\
<div><label for=\"verb\">Verb</label><input type=\"text\" id=\"verb\" name=\"verb\" value=\"{}\" required></div>\
<div><label for=\"resource\">Resource <span class=\"hint\">(pods, deployments.apps, pods/log, /healthz)</span></label><input type=\"text\" id=\"resource\" name=\"resource\" value=\"{}\" required></div>\
<div><label for=\"wns\">Namespace <span class=\"hint\">(empty: cluster scope)</span></label><input type=\"text\" id=\"wns\" name=\"wns\" value=\"{}\"></div></div>\
<div><button type=\"submit\">Who can</button></div></form>",
        esc(&from),
        esc(&a.user),
        esc(&a.groups.join(" ")),
        esc(&a.namespace),
        esc(&a.verbs.join(" ")),
        esc(&a.who_verb),
        esc(&a.who_resource),
        esc(&a.who_namespace),
    )
}

fn matrix_section(base: &str, a: &Asked, loaded: &Loaded) -> String {
    let user = impersonated_user(&a.user, &a.groups);
    let matrix = access_matrix(&authorizer(loaded.index.clone()), &loaded.docs, &user, &a.namespace, &a.verbs);
    let mut out = String::new();
    let selected = a.cell.split_once(':').and_then(|(verb, name)| {
        let row = matrix.rows.iter().find(|r| r.name() == name)?;
        a.verbs
            .iter()
            .any(|v| v == verb)
            .then(|| (verb.to_owned(), name.to_owned(), row.attributes(&user, verb, &a.namespace)))
    });
    if let Some((verb, name, attrs)) = &selected {
        out.push_str(&explanation_section(verb, name, &explain_request(&loaded.index, attrs), attrs));
    } else if !a.cell.is_empty() {
        out.push_str(&error_box(&format!("cell {:?}: no such verb and resource in this matrix", a.cell)));
    }
    out.push_str(&matrix_table(base, a, &user, &matrix, selected.as_ref().map(|(v, n, _)| (v.as_str(), n.as_str()))));
    out
}

fn matrix_table(base: &str, a: &Asked, user: &UserInfo, m: &AccessMatrix, selected: Option<(&str, &str)>) -> String {
    let scope =
        if m.namespace.is_empty() { "at cluster scope".to_owned() } else { format!("in namespace {}", m.namespace) };
    let mut out = format!(
        "<h2 id=\"matrix-title\">Access of {} {}</h2><p>Groups: {}. Each cell explains itself: follow it.</p>\
<table class=\"matrix\" id=\"matrix\" aria-labelledby=\"matrix-title\"><thead><tr><th scope=\"col\">Resource</th>",
        esc(&user.name),
        esc(&scope),
        esc(&user.groups.join(", "))
    );
    for v in &m.verbs {
        let _ = write!(out, "<th scope=\"col\">{}</th>", esc(v));
    }
    out.push_str("</tr></thead><tbody>");
    let query = a.matrix_query();
    for row in &m.rows {
        let name = row.name();
        let _ = write!(out, "<tr><th scope=\"row\">{}</th>", esc(&name));
        for (verb, allowed) in m.verbs.iter().zip(&row.allowed) {
            let cell = format!("{verb}:{name}");
            let link = format!(
                "{base}/policy?{query}&{}#explanation",
                form_urlencoded::Serializer::new(String::new()).append_pair("cell", &cell).finish()
            );
            let (class, mark, word) = if *allowed { ("allow", "✔", "allowed") } else { ("deny", "✖", "denied") };
            let sel = if selected == Some((verb.as_str(), name.as_str())) { " selected" } else { "" };
            let _ = write!(
                out,
                "<td class=\"cell {class}{sel}\"><a href=\"{}\" data-cell=\"{}\" aria-label=\"{} {}: {word}; explain\">{mark}</a></td>",
                esc(&link),
                esc(&cell),
                esc(verb),
                esc(&name)
            );
        }
        out.push_str("</tr>");
    }
    out.push_str("</tbody></table>");
    out
}

fn explanation_section(verb: &str, name: &str, e: &Explanation, attrs: &Attributes) -> String {
    let mut out = format!(
        "<section class=\"explanation\" id=\"explanation\" tabindex=\"-1\" aria-labelledby=\"explanation-title\">\
<h2 id=\"explanation-title\">Why {} {}: {}</h2>",
        esc(verb),
        esc(name),
        if e.allowed { badge("ok", "ALLOWED") } else { badge("bad", "DENIED") }
    );
    let _ = write!(out, "<p><strong>Request:</strong> {}</p>", esc(&e.request));
    if !e.reason.is_empty() {
        let _ = write!(out, "<p><strong>Reason:</strong> {}</p>", esc(&e.reason));
    }
    if e.bindings.is_empty() {
        out.push_str("<p>No binding names this user, its service account or any of its groups.</p>");
    } else {
        out.push_str("<h3>Bindings naming this user or its groups</h3><ul>");
        for b in &e.bindings {
            let _ = write!(
                out,
                "<li>{}{}{}</li>",
                esc(&b.description),
                if b.applies { "" } else { " <em>(does not apply here)</em>" },
                b.role_error.as_ref().map(|r| format!(": role cannot be read: {}", esc(r))).unwrap_or_default()
            );
        }
        out.push_str("</ul>");
    }
    if !e.allowed && !e.nearest.is_empty() {
        out.push_str("<h3>Nearest rules and what they lack</h3><ul id=\"nearest\">");
        for n in &e.nearest {
            let misses: Vec<String> = n.misses.iter().map(|m| format!("<li>{}</li>", esc(&m.to_string()))).collect();
            let _ = write!(
                out,
                "<li><code>{}</code> from {}<ul>{}</ul></li>",
                esc(&n.rule),
                esc(&n.source),
                misses.concat()
            );
        }
        out.push_str("</ul>");
    }
    if let Some(g) = &e.grant {
        let _ = write!(
            out,
            "<h3>The smallest grant that allows it</h3><p>kubectl apply -f - with:</p>{}",
            pre(&g.to_yaml())
        );
    }
    let _ = write!(
        out,
        "<details><summary>As <code>kauth policy explain</code> prints it</summary>{}</details><p class=\"hint\">Asked as {}.</p></section>",
        pre(&e.to_string()),
        esc(&attrs.forbidden_message().replacen(" cannot ", " asks to ", 1))
    );
    out
}

fn who_can_section(a: &Asked, loaded: &Loaded) -> Result<String, String> {
    let what = parse_what(&a.who_resource, None, None).map_err(|f| f.message().to_owned())?;
    let attrs =
        Attributes { user: UserInfo::default(), verb: a.who_verb.clone(), target: target(&what, &a.who_namespace) };
    let answer = who_can(&loaded.index, &attrs);
    let request = attrs.forbidden_message().replacen("User \"\" cannot", "who can", 1);
    let mut out = format!(
        "<section id=\"who-can\" aria-labelledby=\"who-can-title\"><h2 id=\"who-can-title\">{}</h2>",
        esc(&request)
    );
    if answer.subjects.is_empty() {
        out.push_str("<p>No subject: RBAC allows this to nobody (system:masters aside).</p>");
    } else {
        out.push_str("<table><thead><tr><th scope=\"col\">Kind</th><th scope=\"col\">Subject</th><th scope=\"col\">Namespace</th><th scope=\"col\">Via</th></tr></thead><tbody>");
        for g in &answer.subjects {
            let _ = write!(
                out,
                "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
                esc(&g.kind.to_string()),
                esc(&g.name),
                esc(if g.namespace.is_empty() { "-" } else { &g.namespace }),
                esc(&g.via.to_string())
            );
        }
        out.push_str("</tbody></table>");
    }
    for u in &answer.unresolved {
        out.push_str(&error_box(&u.to_string()));
    }
    out.push_str("</section>");
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::inspect::key::UrlKey;
    use crate::inspect::sources::Sources;
    use crate::rbac_cmd::PolicySource;

    const POLICY: &str = r#"
apiVersion: rbac.authorization.k8s.io/v1
kind: Role
metadata: {name: pod-reader, namespace: team}
rules: [{apiGroups: [""], resources: [pods], verbs: [get]}]
---
apiVersion: rbac.authorization.k8s.io/v1
kind: RoleBinding
metadata: {name: ann-reads, namespace: team}
roleRef: {apiGroup: rbac.authorization.k8s.io, kind: Role, name: pod-reader}
subjects: [{kind: User, name: ann}]
"#;

    fn ask(policy: Option<PolicySource>, query: &str) -> String {
        let mut sources = Sources::empty(0);
        sources.policy = policy;
        let app = App { key: UrlKey::fixed("k"), sources, port: 1 };
        page(&app, "/k", &Form::parse(query.as_bytes()))
    }

    #[test]
    fn matrix_cells_link_to_their_explanation() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("policy.yaml");
        std::fs::write(&file, POLICY).unwrap();
        let policy = || Some(PolicySource::new(vec![file.clone()], None));
        let html = ask(policy(), "as=ann&namespace=team&verbs=get+delete");
        assert!(html.contains("<td class=\"cell allow\"><a href=\"/k/policy?as=ann&amp;groups=&amp;namespace=team&amp;verbs=get+delete&amp;cell=get%3Apods#explanation\" data-cell=\"get:pods\""), "{html}");
        assert!(html.contains("data-cell=\"delete:pods\" aria-label=\"delete pods: denied; explain\">✖</a>"));
        assert!(!html.contains("id=\"explanation\""));
        let html = ask(policy(), "as=ann&namespace=team&verbs=get+delete&cell=delete%3Apods");
        assert!(html.contains("Why delete pods: <span class=\"badge bad\">DENIED</span>"));
        assert!(html.contains("<td class=\"cell deny selected\">"));
        assert!(html.contains("verb &quot;delete&quot; not in [&quot;get&quot;]"), "{html}");
        let html = ask(policy(), "as=ann&namespace=team&cell=get%3Apods");
        assert!(html.contains("Why get pods: <span class=\"badge ok\">ALLOWED</span>"));
        assert!(html.contains("RBAC: allowed by RoleBinding &quot;ann-reads/team&quot; of Role &quot;pod-reader&quot; to User &quot;ann&quot;"), "{html}");
        let html = ask(policy(), "as=ann&cell=get%3Anothing");
        assert!(html.contains("cell &quot;get:nothing&quot;: no such verb and resource in this matrix"));
        let html = ask(policy(), "verb=get&resource=pods&wns=team");
        assert!(html.contains("<td>User</td><td>ann</td><td>-</td>"), "{html}");
        assert!(ask(policy(), "verb=get&resource=.bad&wns=team").contains("is not a resource"));
    }

    #[test]
    fn without_a_policy_the_page_says_how_to_give_one() {
        let html = ask(None, "as=ann");
        assert!(html.contains("no RBAC policy: start kauth inspect with -f POLICY"));
        assert!(!ask(None, "").contains("Cannot read this"), "the empty form asks nothing");
    }
}
