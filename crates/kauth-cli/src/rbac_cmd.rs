//! RBAC from the command line: `kauth who-can`, `kauth access-matrix`, `kauth policy lint`
//! and `kauth policy explain`. Each reads the policy from files (manifests, directories,
//! `kubectl get ... -o yaml` output) or, without `-f`, from the API server of the kubeconfig's
//! current context (kauth serve or kube-apiserver), and decides with kauth's indexed RBAC
//! authorizer, exactly as kauth serve does.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::{Path, PathBuf};

use k8s_openapi::api::rbac::v1::{PolicyRule, Subject};
use kauth::authz::{Attributes, Authorizer, Chain, PrivilegedGroup, Target, SYSTEM_MASTERS};
use kauth::rbac::aggregate;
use kauth::rbac::index::Binding;
use kauth::rbac::load::PolicyDocuments;
use kauth::rbac::{rules, RbacIndex};
use kauth::user::{impersonated_groups, UserInfo};
use serde::Serialize;

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
struct Loaded {
    docs: PolicyDocuments,
    index: RbacIndex,
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
    fn load(&self) -> Result<Loaded, Failure> {
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

/// A resource kauth knows the scope of: (group, resource, namespaced, short names).
const RESOURCES: &[(&str, &str, bool, &[&str])] = &[
    ("", "pods", true, &["po", "pod"]),
    ("", "services", true, &["svc", "service"]),
    ("", "configmaps", true, &["cm", "configmap"]),
    ("", "secrets", true, &["secret"]),
    ("", "serviceaccounts", true, &["sa", "serviceaccount"]),
    ("", "persistentvolumeclaims", true, &["pvc"]),
    ("", "endpoints", true, &["ep"]),
    ("", "events", true, &["ev", "event"]),
    ("", "limitranges", true, &["limits"]),
    ("", "resourcequotas", true, &["quota"]),
    ("", "replicationcontrollers", true, &["rc"]),
    ("", "podtemplates", true, &[]),
    ("", "namespaces", false, &["ns", "namespace"]),
    ("", "nodes", false, &["no", "node"]),
    ("", "persistentvolumes", false, &["pv"]),
    ("apps", "deployments", true, &["deploy", "deployment"]),
    ("apps", "statefulsets", true, &["sts", "statefulset"]),
    ("apps", "daemonsets", true, &["ds", "daemonset"]),
    ("apps", "replicasets", true, &["rs", "replicaset"]),
    ("apps", "controllerrevisions", true, &[]),
    ("batch", "jobs", true, &["job"]),
    ("batch", "cronjobs", true, &["cj", "cronjob"]),
    ("autoscaling", "horizontalpodautoscalers", true, &["hpa"]),
    ("policy", "poddisruptionbudgets", true, &["pdb"]),
    ("networking.k8s.io", "ingresses", true, &["ing", "ingress"]),
    ("networking.k8s.io", "networkpolicies", true, &["netpol"]),
    ("networking.k8s.io", "ingressclasses", false, &[]),
    ("discovery.k8s.io", "endpointslices", true, &[]),
    ("coordination.k8s.io", "leases", true, &["lease"]),
    ("rbac.authorization.k8s.io", "roles", true, &["role"]),
    ("rbac.authorization.k8s.io", "rolebindings", true, &["rolebinding"]),
    ("rbac.authorization.k8s.io", "clusterroles", false, &["clusterrole"]),
    ("rbac.authorization.k8s.io", "clusterrolebindings", false, &["clusterrolebinding"]),
    ("storage.k8s.io", "storageclasses", false, &["sc"]),
    ("storage.k8s.io", "csidrivers", false, &[]),
    ("storage.k8s.io", "csinodes", false, &[]),
    ("storage.k8s.io", "volumeattachments", false, &[]),
    ("apiextensions.k8s.io", "customresourcedefinitions", false, &["crd", "crds"]),
    ("admissionregistration.k8s.io", "validatingwebhookconfigurations", false, &[]),
    ("admissionregistration.k8s.io", "mutatingwebhookconfigurations", false, &[]),
    ("apiregistration.k8s.io", "apiservices", false, &[]),
    ("certificates.k8s.io", "certificatesigningrequests", false, &["csr"]),
    ("scheduling.k8s.io", "priorityclasses", false, &["pc"]),
    ("node.k8s.io", "runtimeclasses", false, &[]),
    ("authentication.k8s.io", "tokenreviews", false, &[]),
    ("authorization.k8s.io", "subjectaccessreviews", false, &[]),
    ("authorization.k8s.io", "localsubjectaccessreviews", true, &[]),
];

/// What a command asks about: a resource (group, resource, subresource, name) or a path.
#[derive(Debug, Clone, PartialEq, Eq)]
enum What {
    Resource { group: String, resource: String, subresource: String, name: String, namespaced: bool },
    Path(String),
}

/// Parses kubectl's resource forms: `pods`, `po`, `deployments.apps`, `pods/log`,
/// `deployments.apps/scale`, or a `/path`. Unknown resources are taken as namespaced.
fn parse_what(spec: &str, name: Option<&str>, subresource: Option<&str>) -> Result<What, Failure> {
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
    let known = RESOURCES
        .iter()
        .find(|(g, r, _, short)| (*r == res || short.contains(&res)) && group.is_none_or(|want| want == *g));
    let (group, resource, namespaced) = match known {
        Some((g, r, ns, _)) => (g.to_string(), r.to_string(), *ns),
        None => (group.unwrap_or("").to_owned(), res.to_owned(), true),
    };
    Ok(What::Resource { group, resource, subresource: sub.to_owned(), name: name.unwrap_or("").to_owned(), namespaced })
}

fn target(what: &What, namespace: &str) -> Target {
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

fn authorizer(index: RbacIndex) -> Chain {
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
        UserInfo {
            name: self.user.clone(),
            groups: impersonated_groups(&self.user, &self.groups),
            ..UserInfo::default()
        }
    }
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

#[derive(Debug, Serialize, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
struct Grantee {
    kind: String,
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    namespace: String,
    via: String,
}

/// Runs `kauth who-can`.
pub fn who_can(a: WhoCanArgs) -> Result<u8, Failure> {
    let attrs = a.request.attributes(UserInfo::default(), &a.scope)?;
    let loaded = a.source.load()?;
    let request = rules::Request::new(&attrs);
    let ns = attrs.target.namespace().to_owned();
    let mut bindings: Vec<std::sync::Arc<Binding>> =
        loaded.index.bindings().into_iter().filter(|b| b.is_cluster()).collect();
    if !ns.is_empty() {
        bindings.extend(loaded.index.role_bindings_in(&ns));
    }
    let mut out = vec![Grantee {
        kind: "Group".into(),
        name: SYSTEM_MASTERS.into(),
        namespace: String::new(),
        via: "the system:masters group (allowed every request before RBAC)".into(),
    }];
    let mut errors = Vec::new();
    for b in bindings {
        match loaded.index.role_rules_of(&b.role_ref, &b.namespace) {
            Err(e) => errors.push(format!("{}: {e}", describe_binding(&b))),
            Ok(rules) if rules.iter().any(|r| request.allowed_by(r)) => {
                for s in &b.subjects {
                    if let Some(g) = grantee(s, &b) {
                        out.push(g);
                    }
                }
            }
            Ok(_) => {}
        }
    }
    out[1..].sort();
    out.dedup();
    if a.output == Output::Json {
        print_json(
            &serde_json::json!({"request": attrs.forbidden_message().replacen("User \"\" cannot", "who can", 1), "subjects": out, "errors": errors}),
        )?;
        return Ok(0);
    }
    let rows: Vec<[String; 4]> = out
        .iter()
        .map(|g| {
            [
                g.kind.clone(),
                g.name.clone(),
                if g.namespace.is_empty() { "-".into() } else { g.namespace.clone() },
                g.via.clone(),
            ]
        })
        .collect();
    emit(&table(&["KIND", "SUBJECT", "NAMESPACE", "VIA"], &rows));
    for e in errors {
        eprintln!("warning: {e}");
    }
    Ok(0)
}

fn describe_binding(b: &Binding) -> String {
    if b.is_cluster() {
        format!("ClusterRoleBinding {:?}", b.name)
    } else {
        format!("RoleBinding {:?}", format!("{}/{}", b.name, b.namespace))
    }
}

fn grantee(s: &Subject, b: &Binding) -> Option<Grantee> {
    let via = format!("{} of {} {:?}", describe_binding(b), b.role_ref.kind, b.role_ref.name);
    match s.kind.as_str() {
        "User" | "Group" => Some(Grantee { kind: s.kind.clone(), name: s.name.clone(), namespace: String::new(), via }),
        "ServiceAccount" => {
            let ns = s.namespace.as_deref().filter(|n| !n.is_empty()).unwrap_or(&b.namespace);
            // A ClusterRoleBinding's ServiceAccount without a namespace matches nobody.
            (!ns.is_empty()).then(|| Grantee {
                kind: s.kind.clone(),
                name: s.name.clone(),
                namespace: ns.to_owned(),
                via,
            })
        }
        _ => None,
    }
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
    let mut rows: BTreeMap<(String, String), bool> =
        RESOURCES.iter().map(|(g, r, ns, _)| ((g.to_string(), r.to_string()), *ns)).collect();
    let mut named = |rule: &PolicyRule| {
        for g in rule.api_groups.iter().flatten().filter(|g| *g != "*") {
            for r in rule.resources.iter().flatten().filter(|r| !r.starts_with('*')) {
                let namespaced = RESOURCES
                    .iter()
                    .find(|(kg, kr, _, _)| kg == g && r.split('/').next() == Some(kr))
                    .is_none_or(|(_, _, ns, _)| *ns);
                rows.entry((g.clone(), r.clone())).or_insert(namespaced);
            }
        }
    };
    loaded.docs.cluster_roles.iter().flat_map(|r| r.rules.iter().flatten()).for_each(&mut named);
    loaded.docs.roles.iter().flat_map(|r| r.rules.iter().flatten()).for_each(&mut named);
    let user = a.subject.user();
    let z = authorizer(loaded.index);
    let mut matrix = Vec::new();
    for ((group, res), namespaced) in &rows {
        let (resource, subresource) = res.split_once('/').unwrap_or((res, ""));
        let allowed: Vec<bool> = a
            .verbs
            .iter()
            .map(|verb| {
                let what = What::Resource {
                    group: group.clone(),
                    resource: resource.into(),
                    subresource: subresource.into(),
                    name: String::new(),
                    namespaced: *namespaced,
                };
                z.authorize(&Attributes {
                    user: user.clone(),
                    verb: verb.clone(),
                    target: target(&what, a.scope.namespace()),
                })
                .is_allowed()
            })
            .collect();
        let name = if group.is_empty() {
            res.clone()
        } else {
            format!("{resource}.{group}{}", res.strip_prefix(resource).unwrap_or(""))
        };
        matrix.push((name, *namespaced, allowed));
    }
    if a.output == Output::Json {
        let rows: Vec<serde_json::Value> = matrix
            .iter()
            .map(|(name, namespaced, allowed)| {
                let verbs: serde_json::Map<String, serde_json::Value> =
                    a.verbs.iter().zip(allowed).map(|(v, ok)| (v.clone(), (*ok).into())).collect();
                serde_json::json!({"resource": name, "namespaced": namespaced, "verbs": verbs})
            })
            .collect();
        print_json(
            &serde_json::json!({"user": user.name, "groups": user.groups, "namespace": a.scope.namespace(), "resources": rows}),
        )?;
        return Ok(0);
    }
    let mut header = vec!["NAME".to_string()];
    header.extend(a.verbs.iter().map(|v| v.to_uppercase()));
    let width = matrix.iter().map(|(n, _, _)| n.len()).max().unwrap_or(4).max(4);
    let mut line = format!("{:<width$}", header[0]);
    for h in &header[1..] {
        line.push_str(&format!("  {h:<w$}", w = h.len().max(3)));
    }
    let mut text = format!("{}\n", line.trim_end());
    for (name, _, allowed) in &matrix {
        let mut line = format!("{name:<width$}");
        for (h, ok) in header[1..].iter().zip(allowed) {
            line.push_str(&format!("  {:<w$}", if *ok { "✔" } else { "✖" }, w = h.len().max(3)));
        }
        text.push_str(line.trim_end());
        text.push('\n');
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
    let mut e = loaded.index.explain(&attrs);
    if attrs.user.groups.iter().any(|g| g == SYSTEM_MASTERS) {
        e.allowed = true;
        e.reason = "member of system:masters: allowed every request before RBAC".into();
        e.nearest.clear();
        e.grant = None;
    }
    if a.output == Output::Json {
        print_json(&e)?;
    } else {
        emit(&e.to_string());
    }
    Ok(if e.allowed { 0 } else { 1 })
}

#[derive(Debug, Serialize, Clone, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "camelCase")]
struct Finding {
    severity: Severity,
    code: &'static str,
    object: String,
    message: String,
}

#[derive(Debug, Serialize, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
#[serde(rename_all = "lowercase")]
enum Severity {
    Error,
    Warning,
    Info,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Info => "info",
        })
    }
}

const DEFAULTS_LABEL: &str = "kubernetes.io/bootstrapping";

fn is_default(m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta) -> bool {
    m.labels.as_ref().and_then(|l| l.get(DEFAULTS_LABEL)).is_some_and(|v| v == "rbac-defaults")
}

fn lists(l: &Option<Vec<String>>, any: &[&str]) -> bool {
    l.iter().flatten().any(|v| v == "*" || any.contains(&v.as_str()))
}

/// The risky grants of one rule: (code, what it allows).
fn risks(rule: &PolicyRule) -> Vec<(&'static str, &'static str)> {
    let mut out = Vec::new();
    let verb = |v: &[&str]| rule.verbs.iter().any(|x| x == "*" || v.contains(&x.as_str()));
    let group = |g: &[&str]| lists(&rule.api_groups, g);
    let resource = |r: &[&str]| lists(&rule.resources, r);
    if rule.verbs.iter().any(|v| v == "*") {
        out.push(("wildcard-verbs", "grants every verb (`*`), including verbs such as escalate, bind and impersonate"));
    }
    if rule.resources.iter().flatten().any(|r| r == "*") {
        out.push(("wildcard-resources", "grants every resource (`*`), including ones added later"));
    }
    let rbac = group(&["rbac.authorization.k8s.io"]) && resource(&["roles", "clusterroles"]);
    if rbac && verb(&["escalate"]) {
        out.push(("escalate", "can create or change roles to hold permissions it does not have (escalate)"));
    }
    if rbac && verb(&["bind"]) {
        out.push(("bind", "can bind any role, granting permissions it does not have (bind)"));
    }
    if verb(&["impersonate"])
        && (group(&[""]) && resource(&["users", "groups", "serviceaccounts"])
            || group(&["authentication.k8s.io"]) && resource(&["uids", "userextras"]))
    {
        out.push(("impersonate", "can act as other users, groups or service accounts (impersonate)"));
    }
    if group(&[""]) && resource(&["secrets"]) && verb(&["get", "list", "watch"]) {
        out.push(("secrets-read", "can read Secrets (service-account tokens, TLS keys, credentials)"));
    }
    if group(&[""]) && resource(&["serviceaccounts/token"]) && verb(&["create"]) {
        out.push(("token-create", "can mint tokens for service accounts (serviceaccounts/token create)"));
    }
    out
}

/// Runs `kauth policy lint`.
fn lint(a: LintArgs) -> Result<u8, Failure> {
    let loaded = a.source.load()?;
    let docs = &loaded.docs;
    let mut findings = Vec::new();
    let keep = |m: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta| a.include_defaults || !is_default(m);

    // Who is bound to which role: role key -> binding descriptions.
    let mut bound: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    let subjects = |s: &Option<Vec<Subject>>| {
        s.iter().flatten().map(|s| format!("{} {:?}", s.kind, s.name)).collect::<Vec<_>>().join(", ")
    };
    for b in &docs.cluster_role_bindings {
        let name = b.metadata.name.clone().unwrap_or_default();
        let object = format!("ClusterRoleBinding {name:?}");
        let key = (b.role_ref.kind.clone(), String::new(), b.role_ref.name.clone());
        check_binding(&loaded.index, &b.role_ref, "", &object, &mut findings);
        bound.entry(key).or_default().push(format!("{object} to {}", subjects(&b.subjects)));
        if keep(&b.metadata) {
            masters(&b.subjects, &object, &mut findings);
        }
    }
    for b in &docs.role_bindings {
        let ns = b.metadata.namespace.clone().unwrap_or_default();
        let object = format!("RoleBinding {:?}", format!("{}/{ns}", b.metadata.name.as_deref().unwrap_or_default()));
        let role_ns = if b.role_ref.kind == "Role" { ns.clone() } else { String::new() };
        check_binding(&loaded.index, &b.role_ref, &ns, &object, &mut findings);
        bound
            .entry((b.role_ref.kind.clone(), role_ns, b.role_ref.name.clone()))
            .or_default()
            .push(format!("{object} to {}", subjects(&b.subjects)));
        if keep(&b.metadata) {
            masters(&b.subjects, &object, &mut findings);
        }
    }
    let mut role_findings = |kind: &str,
                             ns: &str,
                             meta: &k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta,
                             rules: &[PolicyRule]| {
        let name = meta.name.clone().unwrap_or_default();
        let object =
            if ns.is_empty() { format!("{kind} {name:?}") } else { format!("{kind} {:?}", format!("{name}/{ns}")) };
        let users = bound.get(&(kind.to_owned(), ns.to_owned(), name.clone()));
        if !keep(meta) {
            return;
        }
        let aggregated_into =
            kind == "ClusterRole" && aggregate::is_aggregated(meta.labels.as_ref(), &docs.cluster_roles);
        if users.is_none() && !aggregated_into {
            findings.push(Finding {
                severity: Severity::Info,
                code: "unused-role",
                object: object.clone(),
                message: "no binding refers to it and no aggregation rule selects it".into(),
            });
        }
        let mut seen = Vec::new();
        for rule in rules {
            for (code, what) in risks(rule) {
                if seen.contains(&code) {
                    continue;
                }
                seen.push(code);
                let whom = match users {
                    Some(u) => format!("bound by {}", u.join("; ")),
                    None if aggregated_into => "aggregated into another ClusterRole".into(),
                    None => "not bound".into(),
                };
                findings.push(Finding {
                    severity: Severity::Warning,
                    code,
                    object: object.clone(),
                    message: format!("{what}; {whom}; rule {}", rules::compact(rule)),
                });
            }
        }
    };
    for r in &docs.cluster_roles {
        role_findings("ClusterRole", "", &r.metadata, r.rules.as_deref().unwrap_or_default());
    }
    for r in &docs.roles {
        role_findings(
            "Role",
            r.metadata.namespace.as_deref().unwrap_or_default(),
            &r.metadata,
            r.rules.as_deref().unwrap_or_default(),
        );
    }
    findings.sort();
    let count = |s: Severity| findings.iter().filter(|f| f.severity == s).count();
    let (errors, warnings, infos) = (count(Severity::Error), count(Severity::Warning), count(Severity::Info));
    if a.output == Output::Json {
        print_json(&serde_json::json!({"objects": docs.len(), "findings": findings}))?;
    } else {
        let rows: Vec<[String; 4]> = findings
            .iter()
            .map(|f| [f.severity.to_string(), f.code.to_string(), f.object.clone(), f.message.clone()])
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

fn check_binding(
    index: &RbacIndex,
    role_ref: &k8s_openapi::api::rbac::v1::RoleRef,
    ns: &str,
    object: &str,
    findings: &mut Vec<Finding>,
) {
    if let Err(e) = index.role_rules_of(role_ref, ns) {
        findings.push(Finding {
            severity: Severity::Error,
            code: "missing-role",
            object: object.to_owned(),
            message: format!(
                "refers to {} {:?}, which does not exist ({e}); it grants nothing",
                role_ref.kind, role_ref.name
            ),
        });
    }
}

fn masters(subjects: &Option<Vec<Subject>>, object: &str, findings: &mut Vec<Finding>) {
    if subjects.iter().flatten().any(|s| s.kind == "Group" && s.name == SYSTEM_MASTERS) {
        findings.push(Finding {
            severity: Severity::Warning,
            code: "system-masters",
            object: object.to_owned(),
            message: "binds the system:masters group, whose members bypass RBAC entirely and cannot be restricted; the binding is redundant and suggests system:masters credentials are in use".into(),
        });
    }
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

    #[test]
    fn risky_rules() {
        let rule = |verbs: &[&str], groups: &[&str], res: &[&str]| PolicyRule {
            verbs: verbs.iter().map(|s| s.to_string()).collect(),
            api_groups: Some(groups.iter().map(|s| s.to_string()).collect()),
            resources: Some(res.iter().map(|s| s.to_string()).collect()),
            ..PolicyRule::default()
        };
        let codes = |r: PolicyRule| risks(&r).into_iter().map(|(c, _)| c).collect::<Vec<_>>();
        assert_eq!(codes(rule(&["get"], &[""], &["pods"])), Vec::<&str>::new());
        assert_eq!(codes(rule(&["list"], &[""], &["secrets"])), ["secrets-read"]);
        assert_eq!(codes(rule(&["bind"], &["rbac.authorization.k8s.io"], &["clusterroles"])), ["bind"]);
        assert_eq!(codes(rule(&["impersonate"], &[""], &["serviceaccounts"])), ["impersonate"]);
        assert_eq!(
            codes(rule(&["*"], &["*"], &["*"])),
            ["wildcard-verbs", "wildcard-resources", "escalate", "bind", "impersonate", "secrets-read", "token-create"]
        );
    }
}
