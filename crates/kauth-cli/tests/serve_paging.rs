//! Paged lists on `kauth serve`, through the real kubectl: `kubectl get --chunk-size` (Tables
//! and plain lists, with selectors) over 10,000 objects, continue tokens that read the first
//! page's revision, and the 410 a client gets when that revision is gone.
#![allow(clippy::unwrap_used)]

mod common;

use common::server::Server;
use common::tools::{require, Tool};
use serde_json::Value;

const COUNT: usize = 10_000;

fn name(i: usize) -> String {
    format!("sa-{i:05}")
}

/// A token of the ServiceAccount `team:default`, bound to cluster-admin (for curl).
fn admin_token(s: &Server, namespace: &str) -> String {
    s.kubectl(&["create", "namespace", namespace]).ok();
    let binding = format!("{namespace}-admin");
    let subject = format!("--serviceaccount={namespace}:default");
    s.kubectl(&["create", "clusterrolebinding", &binding, "--clusterrole=cluster-admin", &subject]).ok();
    s.kubectl(&["-n", namespace, "create", "token", "default"]).ok().trim().to_owned()
}

/// Creates `COUNT` ServiceAccounts in namespace `bulk`, every other one labelled
/// `parity=odd`: one curl, 16 requests at a time (kubectl creates one by one, rate-limited).
fn load(s: &Server) {
    let token = admin_token(s, "bulk");
    let ca = s.dir.join("pki/ca.crt");
    let url = format!("{}/api/v1/namespaces/bulk/serviceaccounts", s.url);
    let mut blocks = Vec::with_capacity(COUNT);
    for i in 0..COUNT {
        let parity = if i % 2 == 1 { "odd" } else { "even" };
        let body = serde_json::json!({"apiVersion": "v1", "kind": "ServiceAccount",
            "metadata": {"name": name(i), "labels": {"parity": parity}}});
        let quoted = serde_json::to_string(&body.to_string()).unwrap();
        blocks.push(format!(
            "url = \"{url}\"\ncacert = \"{}\"\nheader = \"Authorization: Bearer {token}\"\nheader = \"Content-Type: application/json\"\ndata-binary = {quoted}\noutput = \"/dev/null\"\nwrite-out = \"%{{http_code}}\\n\"\n",
            ca.display()
        ));
    }
    let config = blocks.join("next\n");
    let file = s.dir.join("load.curl");
    std::fs::write(&file, config).unwrap();
    let out = std::process::Command::new("curl")
        .args(["-sS", "--parallel", "--parallel-max", "16", "-K"])
        .arg(&file)
        .output()
        .unwrap();
    let codes = String::from_utf8_lossy(&out.stdout);
    assert_eq!(codes.lines().filter(|c| *c == "201").count(), COUNT, "{}", String::from_utf8_lossy(&out.stderr));
}

fn get_json(s: &Server, path: &str) -> Value {
    let out = s.kubectl(&["get", "--raw", path]).ok();
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}

fn names(list: &Value) -> Vec<String> {
    list["items"].as_array().unwrap().iter().map(|o| o["metadata"]["name"].as_str().unwrap().to_owned()).collect()
}

/// How many list requests kubectl made (its `-v=6` log names each response's URL).
fn list_requests(stderr: &str) -> usize {
    stderr.lines().filter(|l| l.contains("round_trippers") && l.contains("/serviceaccounts?")).count()
}

#[test]
fn kubectl_chunk_size_pages_through_ten_thousand_objects_once_each_in_order() {
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    load(&s);
    let all: Vec<String> = get_json(&s, "/api/v1/namespaces/bulk/serviceaccounts")["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["metadata"]["name"].as_str().unwrap().to_owned())
        .collect();
    // Every object, plus the namespace's `default` ServiceAccount, in key order.
    assert_eq!(all.len(), COUNT + 1);
    assert!(all.windows(2).all(|w| w[0] < w[1]));

    // Unpaged, as a Table: one response, streamed row by row (more than 256 items).
    let out = s.kubectl(&["-n", "bulk", "get", "serviceaccounts", "--chunk-size=0", "--no-headers"]);
    let text = out.ok();
    let rows: Vec<&str> = text.lines().map(|l| l.split_whitespace().next().unwrap_or_default()).collect();
    assert_eq!(rows, all);

    // Tables (kubectl's default output), 100 rows a page.
    let out = s.kubectl(&["-v=6", "-n", "bulk", "get", "serviceaccounts", "--chunk-size=100", "--no-headers"]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let rows: Vec<String> = out.stdout.lines().map(|l| l.split_whitespace().next().unwrap().to_owned()).collect();
    assert_eq!(rows, all);
    assert_eq!(list_requests(&out.stderr), all.len().div_ceil(100), "{}", out.stderr);

    // Plain lists (`-o name`), filtered by a label selector: pages after filtering.
    let out = s.kubectl(&[
        "-v=6",
        "-n",
        "bulk",
        "get",
        "serviceaccounts",
        "--chunk-size=100",
        "-l",
        "parity=odd",
        "-o",
        "name",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    let odd: Vec<String> = (0..COUNT).filter(|i| i % 2 == 1).map(|i| format!("serviceaccount/{}", name(i))).collect();
    assert_eq!(out.stdout.lines().collect::<Vec<_>>(), odd);
    // 50 full pages; the last one ends at the last key, so it has no continue token.
    assert_eq!(list_requests(&out.stderr), odd.len() / 100, "{}", out.stderr);
    // Even ones: the last page ends at sa-09998 with one (unmatched) key after it, so kubectl
    // follows one more token to an empty page, as with kube-apiserver.
    let out = s.kubectl(&[
        "-v=6",
        "-n",
        "bulk",
        "get",
        "serviceaccounts",
        "--chunk-size=100",
        "-l",
        "parity=even",
        "-o",
        "name",
    ]);
    assert_eq!(out.code, 0, "{}", out.stderr);
    assert_eq!(out.stdout.lines().count(), COUNT / 2);
    assert_eq!(list_requests(&out.stderr), COUNT / 2 / 100 + 1, "{}", out.stderr);

    // Across namespaces, with a field selector. (kubectl paces its requests at 5 a second after
    // a burst: the page size keeps their number small.)
    let out = s.kubectl(&[
        "get",
        "serviceaccounts",
        "-A",
        "--chunk-size=333",
        "--field-selector=metadata.namespace=bulk",
        "-o",
        "name",
    ]);
    assert_eq!(out.ok().lines().count(), COUNT + 1);
}

#[test]
fn a_continued_list_reads_the_first_pages_revision_and_says_how_much_is_left() {
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let s = Server::start_in(&dir.path().join("data"), &[]);
    s.kubectl(&["create", "namespace", "team"]).ok();
    for i in 0..6 {
        s.kubectl(&["-n", "team", "create", "serviceaccount", &name(i)]).ok();
    }
    let first = get_json(&s, "/api/v1/namespaces/team/serviceaccounts?limit=3");
    assert_eq!(names(&first), ["default", "sa-00000", "sa-00001"]);
    let rv = first["metadata"]["resourceVersion"].as_str().unwrap().to_owned();
    assert_eq!(first["metadata"]["remainingItemCount"], 4);
    let token = first["metadata"]["continue"].as_str().unwrap().to_owned();

    // Changes after the first page do not show in the next ones.
    s.kubectl(&["-n", "team", "delete", "serviceaccount", "sa-00003"]).ok();
    s.kubectl(&["-n", "team", "label", "serviceaccount", "sa-00002", "changed=yes"]).ok();
    s.kubectl(&["-n", "team", "create", "serviceaccount", "sa-00002a"]).ok();
    let second = get_json(&s, &format!("/api/v1/namespaces/team/serviceaccounts?limit=3&continue={token}"));
    assert_eq!(names(&second), ["sa-00002", "sa-00003", "sa-00004"]);
    assert_eq!(second["metadata"]["resourceVersion"], rv.as_str());
    assert!(second["items"][0]["metadata"].get("labels").is_none(), "{second}");
    assert_eq!(second["metadata"]["remainingItemCount"], 1);
    let token = second["metadata"]["continue"].as_str().unwrap();
    let last = get_json(&s, &format!("/api/v1/namespaces/team/serviceaccounts?limit=3&continue={token}"));
    assert_eq!(names(&last), ["sa-00005"]);
    assert!(last["metadata"].get("continue").is_none() && last["metadata"].get("remainingItemCount").is_none());

    // The legacy exact read: resourceVersion with a limit reads that revision too.
    let exact = get_json(&s, &format!("/api/v1/namespaces/team/serviceaccounts?limit=10&resourceVersion={rv}"));
    assert_eq!(names(&exact).len(), 7);
    // resourceVersion=0 is served whole, limit or not (kube-apiserver's watch cache).
    let any = get_json(&s, "/api/v1/namespaces/team/serviceaccounts?limit=2&resourceVersion=0");
    assert_eq!(names(&any).len(), 7);
    assert!(any["metadata"].get("continue").is_none());
}

#[test]
fn bad_and_expired_continue_tokens_get_kube_apiservers_answers() {
    require!(Tool::Kubectl);
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("data");
    let s = Server::start_in(&data, &[]);
    s.kubectl(&["create", "namespace", "team"]).ok();
    for i in 0..4 {
        s.kubectl(&["-n", "team", "create", "serviceaccount", &name(i)]).ok();
    }
    let bad = s.kubectl(&["get", "--raw", "/api/v1/namespaces/team/serviceaccounts?limit=2&continue=abc$"]);
    assert_eq!(
        bad.stderr.trim(),
        "Error from server (BadRequest): invalid continue token: continue key is not valid: illegal base64 data at input byte 3"
    );
    // A token of a version kube-apiserver does not know: {"v":"meta.k8s.io/v2","rv":5,"start":"a"}.
    let foreign = "eyJ2IjoibWV0YS5rOHMuaW8vdjIiLCJydiI6NSwic3RhcnQiOiJhIn0";
    let bad = s.kubectl(&["get", "--raw", &format!("/api/v1/namespaces/team/serviceaccounts?continue={foreign}")]);
    assert!(bad.stderr.contains("server does not recognize this encoded version meta.k8s.io/v2"), "{}", bad.stderr);

    let first = get_json(&s, "/api/v1/namespaces/team/serviceaccounts?limit=2");
    let token = first["metadata"]["continue"].as_str().unwrap().to_owned();
    // A write after the first page, then a restart: the history of changes starts again, so the
    // first page's revision cannot be read any more.
    s.kubectl(&["-n", "team", "delete", "serviceaccount", "sa-00002"]).ok();
    drop(s);
    let s = Server::start_in(&data, &[]);
    let path = format!("/api/v1/namespaces/team/serviceaccounts?limit=2&continue={token}");
    let expired = s.kubectl(&["get", "--raw", &path]);
    assert!(expired.stderr.starts_with("Error from server (Expired): The provided continue parameter is too old to display a consistent list result. You can start a new list without the continue parameter, or use the continue token in this response"), "{}", expired.stderr);
    // The token in the 410 continues at the latest revision.
    let status = raw_status(&s, &path);
    assert_eq!((status["code"].as_u64(), status["reason"].as_str()), (Some(410), Some("Expired")));
    let fresh = status["metadata"]["continue"].as_str().unwrap();
    let rest = get_json(&s, &format!("/api/v1/namespaces/team/serviceaccounts?limit=2&continue={fresh}"));
    assert_eq!(names(&rest), ["sa-00001", "sa-00003"]);
}

/// The `Status` body of a failed GET (kubectl prints only its message), read with curl and a
/// token of a ServiceAccount bound to cluster-admin.
fn raw_status(s: &Server, path: &str) -> Value {
    s.kubectl(&[
        "create",
        "clusterrolebinding",
        "reader",
        "--clusterrole=cluster-admin",
        "--serviceaccount=team:default",
    ])
    .ok();
    let token = s.kubectl(&["-n", "team", "create", "token", "default"]).ok();
    let out = s.curl(&["-H", &format!("Authorization: Bearer {}", token.trim())], path).stdout;
    serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"))
}
