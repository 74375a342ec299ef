//! RBAC from the command line: `kauth who-can`, `kauth access-matrix`, `kauth policy lint`
//! and `kauth policy explain`. Each reads the policy from files (manifests, directories,
//! `kubectl get ... -o yaml` output) or, without `-f`, from the API server of the kubeconfig's
//! current context (kauth serve or kube-apiserver), and decides with kauth's indexed RBAC
//! authorizer, exactly as kauth serve does. The answers are the library's
//! (`kauth::rbac::{who_can, matrix, lint}`, `RbacIndex::explain`); this module parses the flags,
//! reads the policy and renders text or JSON.

use std::io::Read;
use std::path::{Path, PathBuf};

use kauth::authz::node::{node_identity, NodeGraph};
use kauth::authz::{Attributes, Chain, PrivilegedGroup, Target, SYSTEM_MASTERS};
use kauth::rbac::explain::explain_request;
use kauth::rbac::lint::{lint as lint_policy, Defaults, Severity};
use kauth::rbac::load::PolicyDocuments;
use kauth::rbac::matrix::access_matrix as matrix_of;
use kauth::rbac::who_can::{node_grantees, who_can as who_can_of};
use kauth::rbac::{resources, RbacIndex};
use kauth::user::{impersonated_groups, UserInfo};

use crate::api_client::{kubeconfig_path, ApiClient};
use crate::args::{emit, print_json, Output};
use crate::failure::Failure;

/// Where the policy comes from.
#[derive(Debug, Clone, clap::Args)]
pub struct PolicySource {
    /// RBAC YAML or JSON: files, directories (their .yaml, .yml and .json files) or `-` for
    /// stdin. Without -f, the policy is read from the API server of the kubeconfig.
    #[arg(short = 'f', long = "filename", value_name = "PATH")]
    files: Vec<PathBuf>,
    /// The kubeconfig whose current context names the API server (default: $KUBECONFIG, then
    /// ~/.kube/config). Its user must be allowed to list roles and bindings.
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
}

/// The policy, read.
pub(crate) struct Loaded {
    pub(crate) docs: PolicyDocuments,
    pub(crate) index: RbacIndex,
}

fn read_path(path: &Path, docs: &mut PolicyDocuments) -> Result<(), Failure> {
    if path == Path::new("-") {
        let mut text = String::new();
        std::io::stdin().read_to_string(&mut text).map_err(|e| Failure::bad_input(format!("stdin: {e}")))?;
        return docs.parse("stdin", &text).map_err(|e| Failure::bad_input(e.to_string()));
    }
    let meta = std::fs::metadata(path).map_err(|e| Failure::bad_input(format!("{}: {e}", path.display())))?;
    if meta.is_dir() {
        let mut entries: Vec<PathBuf> = std::fs::read_dir(path)
            .map_err(|e| Failure::bad_input(format!("{}: {e}", path.display())))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| {
                p.is_file()
                    && p.extension().and_then(|x| x.to_str()).is_some_and(|x| matches!(x, "yaml" | "yml" | "json"))
            })
            .collect();
        entries.sort();
        for p in entries {
            read_path(&p, docs)?;
        }
        return Ok(());
    }
    let text = std::fs::read_to_string(path).map_err(|e| Failure::bad_input(format!("{}: {e}", path.display())))?;
    docs.parse(&path.display().to_string(), &text).map_err(|e| Failure::bad_input(e.to_string()))
}

impl PolicySource {
    /// The policy of `files`, or without files the server of `kubeconfig` (as `-f` and
    /// `--kubeconfig` say).
    pub(crate) fn new(files: Vec<PathBuf>, kubeconfig: Option<PathBuf>) -> Self {
        PolicySource { files, kubeconfig }
    }

    /// Where the policy comes from, in words.
    pub(crate) fn describe(&self) -> String {
        if self.files.is_empty() {
            match kubeconfig_path(self.kubeconfig.as_deref()) {
                Some(p) => format!("the API server of {}", p.display()),
                None => "no policy (give -f or --kubeconfig)".into(),
            }
        } else {
            let names: Vec<String> = self.files.iter().map(|f| f.display().to_string()).collect();
            names.join(", ")
        }
    }

    /// The Node authorizer's graph of the cluster the policy is read from; None for files
    /// (they carry no pods). A cluster that refuses the lists is a warning: the answer is RBAC's
    /// alone then.
    pub(crate) fn node_graph(&self) -> Option<NodeGraph> {
        if !self.files.is_empty() {
            return None;
        }
        let path = kubeconfig_path(self.kubeconfig.as_deref())?;
        match ApiClient::from_kubeconfig(&path).and_then(|c| crate::rbac_nodes::node_graph(&c)) {
            Ok(g) => Some(g),
            Err(e) => {
                eprintln!("warning: without the Node authorizer (its graph cannot be read: {})", e.message());
                None
            }
        }
    }

    /// Reads the policy (again: files edited since are read as they are now).
    pub(crate) fn load(&self) -> Result<Loaded, Failure> {
        let mut docs = PolicyDocuments::new();
        if self.files.is_empty() {
            let Some(path) = kubeconfig_path(self.kubeconfig.as_deref()) else {
                return Err(Failure::bad_input("no policy: give -f FILE|DIR, or --kubeconfig FILE"));
            };
            if self.kubeconfig.is_none() && !path.exists() {
                return Err(Failure::bad_input(format!(
                    "no policy: give -f FILE|DIR, or --kubeconfig FILE ({} does not exist)",
                    path.display()
                )));
            }
            let client = ApiClient::from_kubeconfig(&path)?;
            for resource in ["clusterroles", "clusterrolebindings", "roles", "rolebindings"] {
                let path = format!("/apis/rbac.authorization.k8s.io/v1/{resource}");
                let body = client.get(&path)?;
                docs.parse(&path, &body).map_err(|e| Failure::bad_input(e.to_string()))?;
            }
        } else {
            for f in &self.files {
                read_path(f, &mut docs)?;
            }
        }
        docs.aggregate();
        let index = docs.index();
        Ok(Loaded { docs, index })
    }
}

/// What a command asks about: a resource (group, resource, subresource, name) or a path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum What {
    Resource { group: String, resource: String, subresource: String, name: String, namespaced: bool },
    Path(String),
}

/// Parses kubectl's resource forms: `pods`, `po`, `deployments.apps`, `pods/log`,
/// `deployments.apps/scale`, or a `/path`. Unknown resources are taken as namespaced.
pub(crate) fn parse_what(spec: &str, name: Option<&str>, subresource: Option<&str>) -> Result<What, Failure> {
    if spec.starts_with('/') {
        if name.is_some() || subresource.is_some() {
            return Err(Failure::bad_input(format!("{spec:?} is a path: it takes no NAME or --subresource")));
        }
        return Ok(What::Path(spec.to_owned()));
    }
    let (res_group, sub) = match spec.split_once('/') {
        Some((r, s)) => (r, s),
        None => (spec, subresource.unwrap_or("")),
    };
    let (res, group) = match res_group.split_once('.') {
        Some((r, g)) => (r, Some(g)),
        None => (res_group, None),
    };
    if res.is_empty() || res.contains(char::is_whitespace) {
        return Err(Failure::bad_input(format!(
            "{spec:?} is not a resource (use pods, deployments.apps, pods/log or /healthz)"
        )));
    }
    let (group, resource, namespaced) = match resources::find(res, group) {
        Some(k) => (k.group.to_owned(), k.resource.to_owned(), k.namespaced),
        None => (group.unwrap_or("").to_owned(), res.to_owned(), true),
    };
    Ok(What::Resource { group, resource, subresource: sub.to_owned(), name: name.unwrap_or("").to_owned(), namespaced })
}

pub(crate) fn target(what: &What, namespace: &str) -> Target {
    match what {
        What::Path(p) => Target::NonResource { path: p.clone() },
        What::Resource { group, resource, subresource, name, namespaced } => Target::Resource {
            namespace: if *namespaced { namespace.to_owned() } else { String::new() },
            api_group: group.clone(),
            api_version: "*".into(),
            resource: resource.clone(),
            subresource: subresource.clone(),
            name: name.clone(),
        },
    }
}

pub(crate) fn authorizer(index: RbacIndex) -> Chain {
    Chain(vec![Box::new(PrivilegedGroup(SYSTEM_MASTERS.into())), Box::new(index)])
}

/// The namespace flags shared by the commands.
#[derive(Debug, Clone, clap::Args)]
pub struct Scope {
    /// The namespace of the request.
    #[arg(short = 'n', long, default_value = "default")]
    namespace: String,
    /// Ask at cluster scope (across all namespaces): only ClusterRoleBindings apply.
    #[arg(short = 'A', long)]
    all_namespaces: bool,
}

impl Scope {
    fn namespace(&self) -> &str {
        if self.all_namespaces {
            ""
        } else {
            &self.namespace
        }
    }
}

/// The request a command asks about.
#[derive(Debug, Clone, clap::Args)]
pub struct RequestArgs {
    /// The verb (get, list, watch, create, update, patch, delete, use, bind, impersonate, ...).
    verb: String,
    /// The resource (pods, deployments.apps, pods/log) or a non-resource path (/healthz).
    resource: String,
    /// The object's name.
    name: Option<String>,
    /// The subresource.
    #[arg(long)]
    subresource: Option<String>,
}

impl RequestArgs {
    /// The request's attributes for `user` in `scope`.
    fn attributes(&self, user: UserInfo, scope: &Scope) -> Result<Attributes, Failure> {
        let what = parse_what(&self.resource, self.name.as_deref(), self.subresource.as_deref())?;
        Ok(Attributes { user, verb: self.verb.clone(), target: target(&what, scope.namespace()) })
    }
}

/// Whom a command asks about, as `kubectl --as` names them.
#[derive(Debug, Clone, clap::Args)]
pub struct SubjectArgs {
    /// The user (a service account as system:serviceaccount:NS:NAME).
    #[arg(long = "as", value_name = "USER")]
    user: String,
    /// A group of the user (repeat for more); without it, the groups impersonation would give.
    #[arg(long = "as-group", value_name = "GROUP")]
    groups: Vec<String>,
}

impl SubjectArgs {
    /// The user kube-apiserver would see (impersonation's group rules).
    fn user(&self) -> UserInfo {
        impersonated_user(&self.user, &self.groups)
    }
}

/// The user kube-apiserver would see for `kubectl --as USER --as-group GROUP...`.
pub(crate) fn impersonated_user(user: &str, groups: &[String]) -> UserInfo {
    UserInfo { name: user.to_owned(), groups: impersonated_groups(user, groups), ..UserInfo::default() }
}

// ---------------------------------------------------------------------------------------------
// who-can

/// `kauth who-can`.
#[derive(Debug, clap::Args)]
pub struct WhoCanArgs {
    #[command(flatten)]
    request: RequestArgs,
    #[command(flatten)]
    scope: Scope,
    #[command(flatten)]
    source: PolicySource,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// Runs `kauth who-can`.
pub fn who_can(a: WhoCanArgs) -> Result<u8, Failure> {
    let attrs = a.request.attributes(UserInfo::default(), &a.scope)?;
    let loaded = a.source.load()?;
    let mut answer = who_can_of(&loaded.index, &attrs);
    if let Some(graph) = a.source.node_graph() {
        answer.subjects.extend(node_grantees(&graph, &attrs));
    }
    let errors: Vec<String> = answer.unresolved.iter().map(ToString::to_string).collect();
    if a.output == Output::Json {
        print_json(
            &serde_json::json!({"request": attrs.forbidden_message().replacen("User \"\" cannot", "who can", 1), "subjects": answer.subjects, "errors": errors}),
        )?;
        return Ok(0);
    }
    let rows: Vec<[String; 4]> = answer
        .subjects
        .iter()
        .map(|g| {
            [
                g.kind.to_string(),
                g.name.clone(),
                if g.namespace.is_empty() { "-".into() } else { g.namespace.clone() },
                g.via.to_string(),
            ]
        })
        .collect();
    emit(&table(&["KIND", "SUBJECT", "NAMESPACE", "VIA"], &rows));
    for e in errors {
        eprintln!("warning: {e}");
    }
    Ok(0)
}

fn table<const N: usize>(header: &[&str; N], rows: &[[String; N]]) -> String {
    let mut widths = header.map(str::len);
    for r in rows {
        for (w, c) in widths.iter_mut().zip(r) {
            *w = (*w).max(c.chars().count());
        }
    }
    let mut out = String::new();
    let mut line = |cells: Vec<&str>| {
        let mut s = String::new();
        for (i, c) in cells.iter().enumerate() {
            if i + 1 == cells.len() {
                s.push_str(c);
            } else {
                s.push_str(&format!("{c:<w$}   ", w = widths[i]));
            }
        }
        out.push_str(s.trim_end());
        out.push('\n');
    };
    line(header.to_vec());
    for r in rows {
        line(r.iter().map(String::as_str).collect());
    }
    out
}

// ---------------------------------------------------------------------------------------------
// access-matrix

/// `kauth access-matrix`.
#[derive(Debug, clap::Args)]
pub struct AccessMatrixArgs {
    #[command(flatten)]
    subject: SubjectArgs,
    #[command(flatten)]
    scope: Scope,
    /// The verbs, comma separated.
    #[arg(long, value_delimiter = ',', default_value = "get,list,watch,create,update,patch,delete")]
    verbs: Vec<String>,
    #[command(flatten)]
    source: PolicySource,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// Runs `kauth access-matrix`: every known resource (Kubernetes' built-in ones and any the
/// policy names) against each verb.
pub fn access_matrix(a: AccessMatrixArgs) -> Result<u8, Failure> {
    let loaded = a.source.load()?;
    let user = a.subject.user();
    let graph = if node_identity(&user).is_some() { a.source.node_graph() } else { None };
    let ns = a.scope.namespace();
    // The Node authorizer decides before RBAC; its grants are marked.
    let (matrix, by_node) = match graph {
        Some(graph) => {
            let by_node = matrix_of(&graph, &loaded.docs, &user, ns, &a.verbs);
            let chain =
                Chain(vec![Box::new(PrivilegedGroup(SYSTEM_MASTERS.into())), Box::new(graph), Box::new(loaded.index)]);
            (matrix_of(&chain, &loaded.docs, &user, ns, &a.verbs), Some(by_node))
        }
        None => (matrix_of(&authorizer(loaded.index), &loaded.docs, &user, ns, &a.verbs), None),
    };
    let node_allows = |row: usize, verb: usize| by_node.as_ref().is_some_and(|m| m.rows[row].allowed[verb]);
    if a.output == Output::Json {
        let rows: Vec<serde_json::Value> = matrix
            .rows
            .iter()
            .enumerate()
            .map(|(i, row)| {
                let verbs: serde_json::Map<String, serde_json::Value> =
                    a.verbs.iter().zip(&row.allowed).map(|(v, ok)| (v.clone(), (*ok).into())).collect();
                let mut out = serde_json::json!({"resource": row.name(), "namespaced": row.namespaced, "verbs": verbs});
                let node: Vec<&String> =
                    a.verbs.iter().enumerate().filter(|(j, _)| node_allows(i, *j)).map(|(_, v)| v).collect();
                if !node.is_empty() {
                    out["nodeAuthorizer"] = serde_json::json!(node);
                }
                out
            })
            .collect();
        print_json(
            &serde_json::json!({"user": user.name, "groups": user.groups, "namespace": a.scope.namespace(), "resources": rows}),
        )?;
        return Ok(0);
    }
    let names: Vec<String> = matrix.rows.iter().map(|row| row.name()).collect();
    let mut header = vec!["NAME".to_string()];
    header.extend(a.verbs.iter().map(|v| v.to_uppercase()));
    let width = names.iter().map(String::len).max().unwrap_or(4).max(4);
    let mut line = format!("{:<width$}", header[0]);
    for h in &header[1..] {
        line.push_str(&format!("  {h:<w$}", w = h.len().max(3)));
    }
    let mut text = format!("{}\n", line.trim_end());
    for (i, (name, row)) in names.iter().zip(&matrix.rows).enumerate() {
        let mut line = format!("{name:<width$}");
        for (j, (h, ok)) in header[1..].iter().zip(&row.allowed).enumerate() {
            let cell = match (*ok, node_allows(i, j)) {
                (true, true) => "✔N",
                (true, false) => "✔",
                (false, _) => "✖",
            };
            line.push_str(&format!("  {cell:<w$}", w = h.len().max(3)));
        }
        text.push_str(line.trim_end());
        text.push('\n');
    }
    if by_node.is_some() {
        text.push_str("✔N: allowed by the Node authorizer (before RBAC)\n");
    }
    emit(&text);
    Ok(0)
}

// ---------------------------------------------------------------------------------------------
// policy lint / explain

/// `kauth policy`.
#[derive(Debug, clap::Args)]
pub struct PolicyArgs {
    #[command(subcommand)]
    command: PolicyCommand,
}

#[derive(Debug, clap::Subcommand)]
enum PolicyCommand {
    /// Finds bindings to missing roles, unused roles and risky grants. Exit 1 when it finds an
    /// error or a warning.
    Lint(LintArgs),
    /// Explains RBAC's decision on one request: the user's bindings, the nearest rules and what
    /// they lack, and the smallest Role and RoleBinding that would allow it. Exit 0 allowed, 1 denied.
    Explain(ExplainArgs),
}

/// `kauth policy lint`.
#[derive(Debug, clap::Args)]
pub struct LintArgs {
    #[command(flatten)]
    source: PolicySource,
    /// Also lint Kubernetes' own default roles and bindings (labelled
    /// kubernetes.io/bootstrapping=rbac-defaults), which are skipped by default.
    #[arg(long)]
    include_defaults: bool,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// `kauth policy explain`.
#[derive(Debug, clap::Args)]
pub struct ExplainArgs {
    #[command(flatten)]
    request: RequestArgs,
    #[command(flatten)]
    subject: SubjectArgs,
    #[command(flatten)]
    scope: Scope,
    #[command(flatten)]
    source: PolicySource,
    /// Output format.
    #[arg(short = 'o', long, value_enum, default_value_t = Output::Text)]
    output: Output,
}

/// Runs `kauth policy`.
pub fn policy(a: PolicyArgs) -> Result<u8, Failure> {
    match a.command {
        PolicyCommand::Lint(a) => lint(a),
        PolicyCommand::Explain(a) => explain(a),
    }
}

fn explain(a: ExplainArgs) -> Result<u8, Failure> {
    let attrs = a.request.attributes(a.subject.user(), &a.scope)?;
    let loaded = a.source.load()?;
    let e = explain_request(&loaded.index, &attrs);
    if a.output == Output::Json {
        print_json(&e.report())?;
    } else {
        emit(&e.to_string());
    }
    Ok(if e.allowed { 0 } else { 1 })
}

/// Runs `kauth policy lint`.
fn lint(a: LintArgs) -> Result<u8, Failure> {
    let loaded = a.source.load()?;
    let docs = &loaded.docs;
    let findings = lint_policy(docs, if a.include_defaults { Defaults::Include } else { Defaults::Skip });
    let count = |s: Severity| findings.iter().filter(|f| f.severity() == s).count();
    let (errors, warnings, infos) = (count(Severity::Error), count(Severity::Warning), count(Severity::Info));
    if a.output == Output::Json {
        print_json(&serde_json::json!({"objects": docs.len(), "findings": findings}))?;
    } else {
        let rows: Vec<[String; 4]> = findings
            .iter()
            .map(|f| [f.severity().to_string(), f.kind.code().to_string(), f.object.to_string(), f.message.clone()])
            .collect();
        if !rows.is_empty() {
            emit(&table(&["SEVERITY", "CODE", "OBJECT", "FINDING"], &rows));
        }
        emit(&format!(
            "{} finding(s): {errors} error(s), {warnings} warning(s), {infos} info ({} RBAC objects read{})",
            findings.len(),
            docs.len(),
            if docs.skipped > 0 { format!(", {} other objects skipped", docs.skipped) } else { String::new() }
        ));
    }
    Ok(if errors + warnings > 0 { 1 } else { 0 })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resource_forms() {
        let w = parse_what("deploy", None, None).unwrap();
        assert_eq!(
            w,
            What::Resource {
                group: "apps".into(),
                resource: "deployments".into(),
                subresource: "".into(),
                name: "".into(),
                namespaced: true
            }
        );
        let w = parse_what("pods/log", Some("web"), None).unwrap();
        assert!(matches!(w, What::Resource { ref subresource, ref name, .. } if subresource == "log" && name == "web"));
        let w = parse_what("nodes", None, Some("proxy")).unwrap();
        assert!(matches!(w, What::Resource { namespaced: false, ref subresource, .. } if subresource == "proxy"));
        let w = parse_what("widgets.example.com", None, None).unwrap();
        assert!(matches!(w, What::Resource { ref group, namespaced: true, .. } if group == "example.com"));
        assert_eq!(parse_what("/healthz", None, None).unwrap(), What::Path("/healthz".into()));
        assert!(parse_what("/healthz", Some("x"), None).is_err());
        assert!(parse_what(".apps", None, None).is_err());
    }
}
